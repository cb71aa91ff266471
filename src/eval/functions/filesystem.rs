//! Filesystem functions: abspath basename dirname file filebase64 fileexists fileset
//! filesha256 (and its siblings filemd5 filesha1 filesha512 filebase64sha256
//! filebase64sha512) pathexpand.
//!
//! Path functions follow Go's `path/filepath` rules on Unix. Everything that touches the
//! filesystem, the working directory or the home directory goes through the
//! [`Environment`]; nothing here does I/O itself.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use brick_provider_api::{Type, Value};

use super::crypto::hash_bytes;
use super::{FunctionError, Registry, Result, func, p, text};
use crate::eval::Environment;

type Env<'a> = &'a dyn Environment;

pub(super) fn register(r: &mut Registry) {
    let path = || p("path", Type::String);
    r.insert("abspath", func(vec![path()], Type::String, abspath));
    r.insert("basename", func(vec![path()], Type::String, basename));
    r.insert("dirname", func(vec![path()], Type::String, dirname));
    r.insert("pathexpand", func(vec![path()], Type::String, pathexpand));
    r.insert("file", func(vec![path()], Type::String, file));
    r.insert("filebase64", func(vec![path()], Type::String, filebase64));
    r.insert("fileexists", func(vec![path()], Type::Bool, fileexists));
    r.insert(
        "fileset",
        func(
            vec![path(), p("pattern", Type::String)],
            Type::set(Type::String),
            fileset,
        ),
    );
    r.insert(
        "filemd5",
        func(vec![path()], Type::String, |a, e| {
            file_hash(a, e, "md5", false)
        }),
    );
    r.insert(
        "filesha1",
        func(vec![path()], Type::String, |a, e| {
            file_hash(a, e, "sha1", false)
        }),
    );
    r.insert(
        "filesha256",
        func(vec![path()], Type::String, |a, e| {
            file_hash(a, e, "sha256", false)
        }),
    );
    r.insert(
        "filesha512",
        func(vec![path()], Type::String, |a, e| {
            file_hash(a, e, "sha512", false)
        }),
    );
    r.insert(
        "filebase64sha256",
        func(vec![path()], Type::String, |a, e| {
            file_hash(a, e, "sha256", true)
        }),
    );
    r.insert(
        "filebase64sha512",
        func(vec![path()], Type::String, |a, e| {
            file_hash(a, e, "sha512", true)
        }),
    );
}

/// Go's `filepath.Clean`: the shortest equivalent path, lexically.
pub(crate) fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn base(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

fn dir(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => clean(&path[..=i]),
        None => ".".into(),
    }
}

/// `~` and `~/…` become the home directory.
fn expand(path: &str, env: Env) -> Result<String> {
    if !path.starts_with('~') {
        return Ok(path.to_string());
    }
    if path != "~" && !path.starts_with("~/") {
        return Err(FunctionError::call("cannot expand user-specific home dir."));
    }
    let home = env
        .home_dir()
        .ok_or_else(|| FunctionError::call("cannot determine the home directory."))?;
    let rest = path
        .strip_prefix('~')
        .unwrap_or_default()
        .trim_start_matches('/');
    let full = if rest.is_empty() {
        home
    } else {
        home.join(rest)
    };
    Ok(full.to_string_lossy().into_owned())
}

fn abspath(a: &[Value], env: Env) -> Result<Value> {
    let path = text(&a[0]);
    let full = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{}/{path}", env.cwd().to_string_lossy())
    };
    Ok(Value::string(clean(&full)))
}

fn basename(a: &[Value], _: Env) -> Result<Value> {
    Ok(Value::string(base(text(&a[0]))))
}

fn dirname(a: &[Value], _: Env) -> Result<Value> {
    Ok(Value::string(dir(text(&a[0]))))
}

fn pathexpand(a: &[Value], env: Env) -> Result<Value> {
    expand(text(&a[0]), env).map(Value::string)
}

/// The file a function's `path` argument names: `~` expanded as `pathexpand` does, then
/// relative to the working directory (as Terraform's file functions open it).
pub(crate) fn resolve(path: &str, env: Env) -> Result<PathBuf> {
    let expanded = expand(path, env)?;
    let p = Path::new(&expanded);
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        env.cwd().join(p)
    })
}

fn read(path: &str, env: Env) -> Result<Vec<u8>> {
    let full = resolve(path, env)?;
    env.read_file(&full).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            FunctionError::arg(
                0,
                format!(
                    "Invalid value for \"path\" parameter: no file exists at {path:?}; this function works only with files that are distributed as part of the configuration source code, so if this file will be created by a resource in this configuration you must instead obtain this result from an attribute of that resource."
                ),
            )
        } else {
            FunctionError::arg(
                0,
                format!("Invalid value for \"path\" parameter: failed to read {path:?}: {e}."),
            )
        }
    })
}

fn file(a: &[Value], env: Env) -> Result<Value> {
    let path = text(&a[0]);
    let bytes = read(path, env)?;
    String::from_utf8(bytes).map(Value::string).map_err(|_| {
        FunctionError::call(
            format!(
                                "contents of {path:?} are not valid UTF-8; use the filebase64 function to obtain the Base64 encoded contents or the other file functions (e.g. filemd5, filesha256) to obtain file hashing results instead."
            ),
        )
    })
}

fn filebase64(a: &[Value], env: Env) -> Result<Value> {
    Ok(Value::string(STANDARD.encode(read(text(&a[0]), env)?)))
}

fn fileexists(a: &[Value], env: Env) -> Result<Value> {
    let full = resolve(text(&a[0]), env)?;
    Ok(Value::bool(env.file_exists(&full)))
}

fn fileset(a: &[Value], env: Env) -> Result<Value> {
    let base_dir = resolve(text(&a[0]), env)?;
    let pattern = text(&a[1]);
    fileset_matcher(pattern)
        .map_err(|e| FunctionError::call(format!("failed to glob pattern {pattern:?}: {e}.")))?;
    let found = env
        .glob(&base_dir, pattern)
        .map_err(|e| FunctionError::call(format!("failed to glob pattern {pattern:?}: {e}.")))?;
    Ok(Value::set(
        Type::String,
        found.into_iter().map(Value::string).collect(),
    ))
}

/// Compiles a `fileset` pattern with Terraform's (doublestar's) rules into a matcher for
/// slash-separated paths relative to the base directory: `*` and `?` stay within one path
/// segment, a `**` segment matches any number of directories, `[a-z]`/`[^a]` are character
/// classes, `{a,b}` alternatives, and `\` escapes. A leading `./` is ignored. Implementations
/// of [`Environment::glob`] can use it to filter the files below `base`.
pub fn fileset_matcher(pattern: &str) -> std::result::Result<regex::Regex, String> {
    let syntax = || "syntax error in pattern".to_string();
    let cleaned = clean(pattern);
    if cleaned.starts_with('/') {
        // Paths are relative to the base directory, so an absolute pattern matches nothing.
        return regex::Regex::new("$.^").map_err(|e| e.to_string());
    }
    let segments: Vec<&str> = cleaned.split('/').collect();
    let mut re = String::from("^");
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        if *seg == "**" {
            re.push_str(if last { ".*" } else { "(?:[^/]+/)*" });
            continue;
        }
        translate_segment(seg, &mut re).ok_or_else(syntax)?;
        if !last {
            re.push('/');
        }
    }
    re.push('$');
    regex::Regex::new(&re).map_err(|_| syntax())
}

/// Appends the regex for one path segment of a glob; `None` for a malformed pattern.
fn translate_segment(seg: &str, re: &mut String) -> Option<()> {
    let chars: Vec<char> = seg.chars().collect();
    let mut i = 0;
    let mut alternatives = 0usize;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '\\' => {
                i += 1;
                re.push_str(&regex::escape(&chars.get(i)?.to_string()));
            }
            '[' => {
                let close = chars[i + 1..].iter().position(|c| *c == ']')? + i + 1;
                let body: String = chars[i + 1..close].iter().collect();
                if body.is_empty() {
                    return None;
                }
                let (neg, body) = match body.strip_prefix('^') {
                    Some(rest) => ("^", rest.to_string()),
                    None => ("", body),
                };
                re.push('[');
                re.push_str(neg);
                for ch in body.chars() {
                    if matches!(ch, '[' | ']' | '\\' | '&' | '~' | '|') {
                        re.push('\\');
                    }
                    re.push(ch);
                }
                re.push(']');
                i = close;
            }
            '{' => {
                alternatives += 1;
                re.push_str("(?:");
            }
            ',' if alternatives > 0 => re.push('|'),
            '}' if alternatives > 0 => {
                alternatives -= 1;
                re.push(')');
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    (alternatives == 0).then_some(())
}

fn file_hash(a: &[Value], env: Env, kind: &str, base64: bool) -> Result<Value> {
    // Terraform's hashing functions open the file themselves and report Go's error: the
    // whole call fails with "open PATH: no such file or directory".
    let path = text(&a[0]);
    let full = resolve(path, env)?;
    let bytes = env.read_file(&full).map_err(|e| {
        let shown = clean(&expand(path, env).unwrap_or_else(|_| path.to_string()));
        match e.kind() {
            std::io::ErrorKind::NotFound => {
                FunctionError::call(format!("open {shown}: no such file or directory."))
            }
            std::io::ErrorKind::IsADirectory => {
                FunctionError::call(format!("read {shown}: is a directory."))
            }
            _ => FunctionError::call(format!("open {shown}: {e}.")),
        }
    })?;
    let digest = hash_bytes(kind, &bytes);
    Ok(Value::string(if base64 {
        STANDARD.encode(digest)
    } else {
        hex::encode(digest)
    }))
}
