//! Names a syntax error as Terraform's parser (hclsyntax) names it: "Unclosed configuration
//! block" at the brace that was opened, "Missing newline after argument", "Argument or block
//! definition required", "Invalid expression", "Invalid multi-line string", "Invalid
//! character"… hcl-edit only says where it stopped and what it expected; a light scan of the
//! text (strings, comments, heredocs and brackets, nothing more) finds what went wrong.
//! `tests/lang/syntax_errors.txt` holds Terraform's answers for the common typos.

/// A syntax error as Terraform states it: summary, detail, and the byte range it points at.
pub(crate) struct Named {
    pub summary: &'static str,
    pub detail: String,
    pub start: usize,
    pub end: usize,
}

fn named(summary: &'static str, detail: impl Into<String>, start: usize, end: usize) -> Named {
    Named {
        summary,
        detail: detail.into(),
        start,
        end,
    }
}

/// What is open at a point of the scan.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Open {
    /// A block's body: `resource "a" "b" {`.
    Block,
    /// An object constructor `{`.
    Object,
    /// `[`
    Tuple,
    /// `(` of a function call.
    Call,
    /// `(` around an expression.
    Paren,
    /// A quoted string.
    Quoted,
    /// `${` or `%{` inside a quoted string.
    Interp,
}

/// The first problem the scan meets.
enum Problem {
    /// A quoted string that a newline (`Some(offset)`) or the end of the file (`None`) ends.
    Unterminated {
        start: usize,
        newline: Option<usize>,
    },
    /// A heredoc without its closing line.
    UnterminatedHeredoc,
    /// A character the language does not use.
    Character { at: usize, ch: char },
}

/// The state of the scan when it stopped: what is open (innermost last, with where) and the
/// first problem met.
struct Scan {
    open: Vec<(Open, usize)>,
    problem: Option<Problem>,
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c >= 0x80
}

/// Whether the text of the line before a `{` is a block header: a name, then labels (quoted
/// or bare names).
fn is_block_header(line: &str) -> bool {
    let mut rest = line.trim();
    let mut first = true;
    while !rest.is_empty() {
        if let Some(q) = rest.strip_prefix('"') {
            if first {
                return false;
            }
            let Some(end) = q.find('"') else {
                return false;
            };
            rest = q[end + 1..].trim_start();
        } else {
            let n = rest.bytes().take_while(|b| is_ident_char(*b)).count();
            if n == 0 || rest.as_bytes()[0].is_ascii_digit() {
                return false;
            }
            rest = rest[n..].trim_start();
        }
        first = false;
    }
    !first
}

/// Scans `text` up to `stop` (or its end).
fn scan(text: &str, stop: usize) -> Scan {
    let b = text.as_bytes();
    let stop = stop.min(b.len());
    let mut open: Vec<(Open, usize)> = Vec::new();
    let mut i = 0;
    while i < stop {
        let c = b[i];
        if open.last().map(|o| o.0) == Some(Open::Quoted) {
            match c {
                b'\\' => i += 1,
                b'"' => {
                    open.pop();
                }
                b'\n' => {
                    let start = open.last().map_or(i, |o| o.1);
                    return Scan {
                        open,
                        problem: Some(Problem::Unterminated {
                            start,
                            newline: Some(i),
                        }),
                    };
                }
                b'$' | b'%' if b.get(i + 1) == Some(&c) && b.get(i + 2) == Some(&b'{') => i += 2,
                b'$' | b'%' if b.get(i + 1) == Some(&b'{') => {
                    open.push((Open::Interp, i));
                    i += 1;
                }
                _ => {}
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => open.push((Open::Quoted, i)),
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = text[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
                continue;
            }
            b'<' if b.get(i + 1) == Some(&b'<') => {
                let mut j = i + 2;
                if b.get(j) == Some(&b'-') {
                    j += 1;
                }
                let n = b[j.min(b.len())..]
                    .iter()
                    .take_while(|c| is_ident_char(**c))
                    .count();
                let line_end = text[j..].find('\n').map(|e| j + e);
                if n > 0 && line_end.is_some_and(|e| text[j + n..e].trim().is_empty()) {
                    let delim = &text[j..j + n];
                    let mut k = line_end.unwrap_or(b.len()) + 1;
                    let mut closed = false;
                    while k <= b.len() {
                        let e = text[k.min(b.len())..].find('\n').map_or(b.len(), |e| k + e);
                        if text[k.min(b.len())..e].trim() == delim {
                            closed = true;
                            i = e;
                            break;
                        }
                        k = e + 1;
                    }
                    if !closed {
                        return Scan {
                            open,
                            problem: Some(Problem::UnterminatedHeredoc),
                        };
                    }
                    continue;
                }
                i += 2;
                continue;
            }
            b'{' => {
                let line_start = text[..i].rfind('\n').map_or(0, |s| s + 1);
                let in_body = matches!(open.last(), None | Some((Open::Block, _)));
                let kind = if in_body && is_block_header(&text[line_start..i]) {
                    Open::Block
                } else {
                    Open::Object
                };
                open.push((kind, i));
            }
            b'[' => open.push((Open::Tuple, i)),
            b'(' => {
                let before = text[..i].trim_end();
                let call = before.bytes().last().is_some_and(is_ident_char);
                open.push((if call { Open::Call } else { Open::Paren }, i));
            }
            b'}' | b']' | b')' => {
                let fits = match (open.last().map(|o| o.0), c) {
                    (Some(Open::Block | Open::Object | Open::Interp), b'}') => true,
                    (Some(Open::Tuple), b']') => true,
                    (Some(Open::Call | Open::Paren), b')') => true,
                    _ => false,
                };
                if !fits {
                    // A closer that closes nothing here: hcl-edit stops at it too.
                    return Scan {
                        open,
                        problem: None,
                    };
                }
                open.pop();
            }
            b'~' if b.get(i + 1) == Some(&b'}') => {}
            b'&' if b.get(i + 1) == Some(&b'&') => i += 1,
            b'|' if b.get(i + 1) == Some(&b'|') => i += 1,
            b'$' if b.get(i + 1) == Some(&b'{') => {}
            b';' | b'\'' | b'`' | b'@' | b'\\' | b'$' | b'^' | b'&' | b'|' | b'~' => {
                return Scan {
                    open,
                    problem: Some(Problem::Character {
                        at: i,
                        ch: c as char,
                    }),
                };
            }
            _ => {}
        }
        i += 1;
    }
    let problem = match open.last() {
        Some(&(Open::Quoted, start)) if stop == b.len() => Some(Problem::Unterminated {
            start,
            newline: None,
        }),
        _ => None,
    };
    Scan { open, problem }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count()
}

fn char_end(text: &str, start: usize) -> usize {
    text[start.min(text.len())..]
        .chars()
        .next()
        .map_or(start, |c| start + c.len_utf8())
}

const MULTI_LINE: &str = "Quoted strings may not be split over multiple lines. To produce a multi-line string, either use the \\n escape to represent a newline character or use the \"heredoc\" multi-line template syntax.";

/// Terraform's name for a scan problem.
fn name_problem(text: &str, p: &Problem) -> Named {
    match *p {
        Problem::Unterminated {
            start,
            newline: Some(nl),
        } => named("Invalid multi-line string", MULTI_LINE, start, nl + 1),
        Problem::Unterminated {
            start,
            newline: None,
        } => named(
            "Unterminated template string",
            "No closing marker was found for the string.",
            start,
            text.len(),
        ),
        Problem::UnterminatedHeredoc => named(
            "Unterminated template string",
            "No closing marker was found for the string.",
            text.len(),
            text.len(),
        ),
        Problem::Character { at, ch } => {
            let end = at + 1;
            let bitwise = "Bitwise operators are not supported.";
            match ch {
                '&' => named(
                    "Unsupported operator",
                    format!("{bitwise} Did you mean boolean AND (\"&&\")?"),
                    at,
                    end,
                ),
                '|' => named(
                    "Unsupported operator",
                    format!("{bitwise} Did you mean boolean OR (\"||\")?"),
                    at,
                    end,
                ),
                '~' => named(
                    "Unsupported operator",
                    format!("{bitwise} Did you mean boolean NOT (\"!\")?"),
                    at,
                    end,
                ),
                '^' => named("Unsupported operator", bitwise, at, end),
                ';' => named(
                    "Invalid character",
                    "The \";\" character is not valid. Use newlines to separate arguments and blocks, and commas to separate items in collection values.",
                    at,
                    end,
                ),
                '\'' => named(
                    "Invalid character",
                    "Single quotes are not valid. Use double quotes (\") to enclose strings.",
                    at,
                    end,
                ),
                '`' => named(
                    "Invalid character",
                    "The \"`\" character is not valid. To create a multi-line string, use the \"heredoc\" syntax, like \"<<EOT\".",
                    at,
                    end,
                ),
                _ => named(
                    "Invalid character",
                    "This character is not used within the language.",
                    at,
                    end,
                ),
            }
        }
    }
}

/// Names the error hcl-edit reported at byte `offset` of `text` with `message`; `None` when
/// the scan cannot tell (the caller keeps hcl-edit's own words).
pub(crate) fn name(text: &str, offset: usize, message: &str) -> Option<Named> {
    let offset = offset.min(text.len());
    let whole = scan(text, text.len());
    // A bad string, heredoc or character at or before the line hcl-edit stopped on came first
    // (hcl-edit often stops at the start of the attribute that holds it).
    if let Some(p) = &whole.problem {
        let at = match *p {
            Problem::Unterminated { start, .. } => start,
            Problem::UnterminatedHeredoc => offset,
            Problem::Character { at, .. } => at,
        };
        if line_of(text, at) <= line_of(text, offset) {
            return Some(name_problem(text, p));
        }
    }
    // Only trivia after the error: something opened was never closed.
    let rest_is_trivia = {
        let rest = text[offset..].trim();
        rest.is_empty() || rest.starts_with('#') || rest.starts_with("//")
    };
    if rest_is_trivia
        && whole.problem.is_none()
        && let Some(&(Open::Block, at)) = whole.open.last()
    {
        return Some(named(
            "Unclosed configuration block",
            "There is no closing brace for this block before the end of the file. This may be caused by incorrect brace nesting elsewhere in this file.",
            at,
            at + 1,
        ));
    }
    if message.contains("redefined attribute") {
        let n = text.as_bytes()[offset..]
            .iter()
            .take_while(|c| is_ident_char(**c))
            .count();
        let name = &text[offset..offset + n];
        return Some(named(
            "Attribute redefined",
            format!(
                "The argument \"{name}\" was already set earlier in this block. Each argument may be set only once."
            ),
            offset,
            offset + n.max(1),
        ));
    }
    let here = scan(text, offset);
    let inner = here.open.last().map(|o| o.0);
    let ch = text[offset..].chars().next();
    let end = char_end(text, offset);
    let in_body = matches!(inner, None | Some(Open::Block));
    if in_body && ch == Some('}') && inner.is_none() {
        return Some(named(
            "Argument or block definition required",
            "An argument or block definition is required here.",
            offset,
            end,
        ));
    }
    if message.starts_with("expected newline or eof") {
        return Some(if ch == Some(',') {
            named(
                "Unexpected comma after argument",
                "Argument definitions must be separated by newlines, not commas. An argument definition must end with a newline.",
                offset,
                end,
            )
        } else {
            named(
                "Missing newline after argument",
                "An argument definition must end with a newline.",
                offset,
                end,
            )
        });
    }
    if message.starts_with("invalid expression") {
        return Some(named(
            "Invalid expression",
            "Expected the start of an expression, but found an invalid expression token.",
            offset,
            end,
        ));
    }
    if message.starts_with("invalid structure") && in_body {
        // `name value`: Terraform points at the name that lacks its `=`.
        let line_start = text[..offset].rfind('\n').map_or(0, |s| s + 1);
        let first = line_start
            + (text[line_start..offset].len() - text[line_start..offset].trim_start().len());
        let n = text.as_bytes()[first..offset]
            .iter()
            .take_while(|c| is_ident_char(**c))
            .count();
        if n > 0 {
            return Some(named(
                "Argument or block definition required",
                "An argument or block definition is required here. To set an argument, use the equals sign \"=\" to introduce the argument value.",
                first,
                first + n,
            ));
        }
    }
    if message.starts_with("invalid block body") && in_body {
        return Some(named(
            "Argument or block definition required",
            "An argument or block definition is required here.",
            offset,
            end,
        ));
    }
    if message.starts_with("expected `{`") && in_body {
        return Some(named(
            "Invalid block definition",
            "A block definition must have block content delimited by \"{\" and \"}\", starting on the same line as the block header.",
            offset,
            end,
        ));
    }
    match inner {
        Some(Open::Tuple) => Some(named(
            "Missing item separator",
            "Expected a comma to mark the beginning of the next item.",
            offset,
            end,
        )),
        Some(Open::Call) => Some(named(
            "Missing argument separator",
            "A comma is required to separate each function argument from the next.",
            offset,
            end,
        )),
        Some(Open::Paren) => Some(named(
            "Unbalanced parentheses",
            "Expected a closing parenthesis to terminate the expression.",
            offset,
            end,
        )),
        Some(Open::Object) => Some(named(
            "Missing attribute separator",
            "Expected a newline or comma to mark the beginning of the next attribute.",
            offset,
            end,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::is_block_header;

    #[test]
    fn block_headers_are_a_name_and_labels() {
        assert!(is_block_header("resource \"a\" \"b\" "));
        assert!(is_block_header("  lifecycle "));
        assert!(is_block_header("dynamic disk "));
        assert!(!is_block_header("  a = "));
        assert!(!is_block_header("  a = foo("));
        assert!(!is_block_header(""));
        assert!(!is_block_header("\"a\""));
    }
}
