//! Function errors never show a sensitive argument: a message that quotes one (or a piece of
//! one: `timeadd` quotes the unit it could not read) says `(sensitive value)` instead, as
//! Terraform's `redactIfSensitive` does.

use brick_provider_api::Value;
use brick_provider_api::value::Kind;

/// What `(sensitive value)` replaces: the text of every string and number that is sensitive
/// in `args`, at any depth.
pub(super) fn secret_texts(args: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for a in args {
        collect(a, false, &mut out);
    }
    out.retain(|s| !s.is_empty());
    out
}

fn collect(v: &Value, under_secret: bool, out: &mut Vec<String>) {
    let secret = under_secret || v.is_sensitive();
    match &v.kind {
        Kind::String(s) if secret => out.push(s.to_string()),
        Kind::Number(n) if secret => out.push(n.to_string()),
        Kind::Object(m) | Kind::Map(_, m) => m.values().for_each(|x| collect(x, secret, out)),
        Kind::List(_, xs) | Kind::Set(_, xs) | Kind::Tuple(xs) => {
            xs.iter().for_each(|x| collect(x, secret, out))
        }
        _ => {}
    }
}

/// `message` with every quoted span and every word that shows a piece of a secret (four
/// characters in a row of it, or all of a shorter one) replaced by `(sensitive value)`.
pub(super) fn redact(message: &str, secrets: &[String]) -> String {
    let leaks = |text: &str| secrets.iter().any(|s| shares_piece(text, s));
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(c) = rest.chars().next() {
        if c == '"' {
            // A quoted span, backslash escapes included, up to its closing quote.
            let mut end = None;
            let mut escaped = false;
            for (i, ch) in rest.char_indices().skip(1) {
                match ch {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end.map_or(rest.len(), |i| i + 1);
            let span = &rest[..end];
            out.push_str(if leaks(span) {
                "(sensitive value)"
            } else {
                span
            });
            rest = &rest[end..];
        } else if c.is_whitespace() {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        } else {
            let end = rest
                .find(|ch: char| ch.is_whitespace() || ch == '"')
                .unwrap_or(rest.len());
            let word = &rest[..end];
            if leaks(word) {
                // Keep the punctuation that ends a sentence or a clause.
                let core = word.trim_end_matches(['.', ',', ';', ':', ')']);
                out.push_str("(sensitive value)");
                out.push_str(&word[core.len()..]);
            } else {
                out.push_str(word);
            }
            rest = &rest[end..];
        }
    }
    out
}

/// Whether `text` holds a run of four characters of `secret`, or (a secret shorter than
/// that, which would match too much) is the secret, quoted or not.
fn shares_piece(text: &str, secret: &str) -> bool {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 4 {
        let bare = text
            .trim_end_matches(['.', ',', ';', ':', ')'])
            .trim_matches('"');
        return bare == secret;
    }
    chars.windows(4).any(|w| {
        let piece: String = w.iter().collect();
        text.contains(&piece)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_and_words_holding_a_piece_of_a_secret_are_redacted() {
        let secrets = vec!["5Sekr1t".to_string()];
        assert_eq!(
            redact(
                "Invalid value for \"duration\" parameter: time: unknown unit \"Sekr1t\" in duration \"5Sekr1t\".",
                &secrets
            ),
            "Invalid value for \"duration\" parameter: time: unknown unit (sensitive value) in duration (sensitive value)."
        );
        assert_eq!(
            redact("cannot convert 5Sekr1t, sorry", &secrets),
            "cannot convert (sensitive value), sorry"
        );
    }
}
