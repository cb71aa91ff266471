//! Says a repeated problem once: diagnostics that differ only in the resource address their
//! detail starts with (a refused API key, an unreachable endpoint, met by every resource of a
//! provider) become one diagnostic naming every address.

use crate::diag::Diagnostic;

/// `diags` with each group of diagnostics that are equal but for their leading address merged
/// into the first of the group (`a, b and 2 more: …`), in first-seen order.
pub fn merge_repeated(diags: &[Diagnostic]) -> Vec<Diagnostic> {
    let mut out: Vec<(Diagnostic, Vec<String>)> = Vec::new();
    for d in diags {
        let (addr, rest) = split_address(&d.detail);
        let found = out.iter_mut().find(|(o, addrs)| {
            !addrs.is_empty()
                && o.severity == d.severity
                && o.code == d.code
                && o.summary == d.summary
                && o.help == d.help
                && o.span == d.span
                && o.label == d.label
                && split_address(&o.detail).1 == rest
        });
        match (found, addr) {
            (Some((_, addrs)), Some(a)) => addrs.push(a.to_string()),
            _ => out.push((
                d.clone(),
                addr.map(|a| vec![a.to_string()]).unwrap_or_default(),
            )),
        }
    }
    out.into_iter()
        .map(|(mut d, addrs)| {
            if addrs.len() > 1 {
                let rest = split_address(&d.detail).1.to_string();
                const SHOWN: usize = 5;
                let mut named = addrs[..addrs.len().min(SHOWN)].join(", ");
                if addrs.len() > SHOWN {
                    named.push_str(&format!(" and {} more", addrs.len() - SHOWN));
                }
                d.detail = format!("{named}: {rest}");
            }
            d
        })
        .collect()
}

/// A leading `ADDRESS: ` (a resource instance address) and the rest of the text.
fn split_address(detail: &str) -> (Option<&str>, &str) {
    if let Some((head, rest)) = detail.split_once(": ")
        && !head.contains(' ')
        && crate::addr::parse_target_str(head).is_ok()
    {
        return (Some(head), rest);
    }
    (None, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_error_for_several_resources_is_said_once_naming_them() {
        let d = |detail: &str| {
            Diagnostic::error(
                "brick::maas::unauthorized",
                "MAAS refused the API key",
                detail,
            )
        };
        let merged = merge_repeated(&[
            d("maas_tag.a: HTTP 401: bad key."),
            d("maas_machine.n[\"kvm4\"]: HTTP 401: bad key."),
            d("maas_tag.b: something else."),
            d("no address here"),
            d("no address here"),
        ]);
        let details: Vec<&str> = merged.iter().map(|d| d.detail.as_str()).collect();
        assert_eq!(
            details,
            [
                "maas_tag.a, maas_machine.n[\"kvm4\"]: HTTP 401: bad key.",
                "maas_tag.b: something else.",
                "no address here",
                "no address here",
            ]
        );
    }
}
