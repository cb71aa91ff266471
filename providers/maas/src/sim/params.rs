//! Request parameters as MAAS's Django/Piston stack sees them: an ordered list of name/value
//! pairs from the query string and the body, where a repeated name is a list.
//!
//! Bodies come either form-encoded (`application/x-www-form-urlencoded`, what Canonical's Go
//! client and brick send) or as `multipart/form-data` whose parts may be base64-encoded (what
//! python-libmaas sends); both are decoded here.

use base64::Engine;

/// Ordered name/value pairs.
#[derive(Clone, Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn new() -> Params {
        Params::default()
    }

    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.pairs.push((name.into(), value.into()));
    }

    /// Parses a query string or a form-encoded body.
    pub fn from_urlencoded(bytes: &[u8]) -> Params {
        let mut p = Params::new();
        p.extend_urlencoded(bytes);
        p
    }

    pub fn extend_urlencoded(&mut self, bytes: &[u8]) {
        for (k, v) in form_urlencoded::parse(bytes) {
            self.pairs.push((k.into_owned(), v.into_owned()));
        }
    }

    pub fn extend(&mut self, other: Params) {
        self.pairs.extend(other.pairs);
    }

    /// The last value given for `name` (Django's `QueryDict.get`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value given for `name`, in order (Django's `QueryDict.getlist`).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Every value for `name`, with comma-separated values split (MAAS accepts both
    /// `tags=a&tags=b` and `tags=a,b`).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.all(name)
            .iter()
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// Every pair, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// A boolean parameter as MAAS reads it: `true`, `1`, `on`, `yes` (any case) are true.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| {
            matches!(
                v.to_ascii_lowercase().as_str(),
                "true" | "1" | "on" | "yes" | "t"
            )
        })
    }
}

/// Decodes a body according to its content type. Unknown types give no parameters.
pub fn parse_body(content_type: Option<&str>, body: &[u8]) -> Result<Params, String> {
    let Some(ct) = content_type else {
        return Ok(Params::from_urlencoded(body));
    };
    let lower = ct.to_ascii_lowercase();
    if lower.starts_with("multipart/form-data") {
        let boundary = ct
            .split(';')
            .map(str::trim)
            .find_map(|p| {
                p.strip_prefix("boundary=")
                    .or_else(|| p.strip_prefix("BOUNDARY="))
            })
            .map(|b| b.trim_matches('"').to_string())
            .ok_or_else(|| "multipart body without a boundary".to_string())?;
        parse_multipart(body, &boundary)
    } else if lower.starts_with("application/x-www-form-urlencoded") || body.is_empty() {
        Ok(Params::from_urlencoded(body))
    } else {
        Ok(Params::new())
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

fn parse_multipart(body: &[u8], boundary: &str) -> Result<Params, String> {
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    let mut params = Params::new();
    let mut pos = match find(body, delim, 0) {
        Some(p) => p + delim.len(),
        None => return Ok(params),
    };
    loop {
        if body[pos..].starts_with(b"--") {
            break;
        }
        // Skip the line ending after the delimiter.
        if body[pos..].starts_with(b"\r\n") {
            pos += 2;
        } else if body[pos..].starts_with(b"\n") {
            pos += 1;
        }
        let next = find(body, delim, pos).ok_or("unterminated multipart body")?;
        let mut part = &body[pos..next];
        // Strip the line ending that precedes the next delimiter.
        if part.ends_with(b"\r\n") {
            part = &part[..part.len() - 2];
        } else if part.ends_with(b"\n") {
            part = &part[..part.len() - 1];
        }
        let (head, content) = match find(part, b"\r\n\r\n", 0) {
            Some(i) => (&part[..i], &part[i + 4..]),
            None => match find(part, b"\n\n", 0) {
                Some(i) => (&part[..i], &part[i + 2..]),
                None => (part, &b""[..]),
            },
        };
        let head = String::from_utf8_lossy(head);
        let mut name = None;
        let mut base64_encoded = false;
        for line in head.lines() {
            let Some((hname, hval)) = line.split_once(':') else {
                continue;
            };
            match hname.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    for attr in hval.split(';').map(str::trim) {
                        if let Some(n) = attr.strip_prefix("name=") {
                            name = Some(n.trim_matches('"').to_string());
                        }
                    }
                }
                "content-transfer-encoding" => {
                    base64_encoded = hval.trim().eq_ignore_ascii_case("base64");
                }
                _ => {}
            }
        }
        let value = if base64_encoded {
            let compact: Vec<u8> = content
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map_err(|e| format!("bad base64 part: {e}"))?
        } else {
            content.to_vec()
        };
        if let Some(n) = name {
            params.push(n, String::from_utf8_lossy(&value).into_owned());
        }
        pos = next + delim.len();
        if pos >= body.len() {
            break;
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_form_keys_are_a_list_and_get_returns_the_last() {
        let p = Params::from_urlencoded(b"tags=a&tags=b%2Cc&name=x");
        assert_eq!(p.all("tags"), ["a", "b,c"]);
        assert_eq!(p.list("tags"), ["a", "b", "c"]);
        assert_eq!(p.get("name"), Some("x"));
    }

    #[test]
    fn multipart_parts_with_base64_transfer_encoding_are_decoded() {
        let body = b"--XyZ\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: form-data; name=\"distro_series\"\r\n\r\namFtbXk=\r\n--XyZ\r\nContent-Disposition: form-data; name=\"erase\"\r\n\r\ntrue\r\n--XyZ--";
        let p = parse_body(Some("multipart/form-data; boundary=\"XyZ\""), body).unwrap();
        assert_eq!(p.get("distro_series"), Some("jammy"));
        assert!(p.flag("erase"));
    }
}
