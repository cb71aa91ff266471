//! Hash and crypto functions: base64sha256 base64sha512 md5 sha1 sha256 sha512 uuid uuidv5.
//!
//! Hashes are of the string's UTF-8 bytes. `uuid` takes its randomness from the
//! [`Environment`], so evaluation stays free of I/O.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use brick_provider_api::{Type, Value};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use super::{FunctionError, Registry, Result, func, p, text};
use crate::eval::Environment;

type Env<'a> = &'a dyn Environment;

pub(super) fn register(r: &mut Registry) {
    let s = || p("str", Type::String);
    r.insert("base64sha256", func(vec![s()], Type::String, base64sha256));
    r.insert("base64sha512", func(vec![s()], Type::String, base64sha512));
    r.insert("md5", func(vec![s()], Type::String, md5));
    r.insert("sha1", func(vec![s()], Type::String, sha1));
    r.insert("sha256", func(vec![s()], Type::String, sha256));
    r.insert("sha512", func(vec![s()], Type::String, sha512));
    r.insert("uuid", func(vec![], Type::String, uuid));
    r.insert(
        "uuidv5",
        func(
            vec![p("namespace", Type::String), p("name", Type::String)],
            Type::String,
            uuidv5,
        ),
    );
}

fn digest<D: Digest>(s: &str) -> Vec<u8> {
    D::digest(s.as_bytes()).to_vec()
}

fn base64sha256(a: &[Value], _: Env) -> Result<Value> {
    Ok(Value::string(
        STANDARD.encode(digest::<Sha256>(text(&a[0]))),
    ))
}
fn base64sha512(a: &[Value], _: Env) -> Result<Value> {
    Ok(Value::string(
        STANDARD.encode(digest::<Sha512>(text(&a[0]))),
    ))
}
fn md5(a: &[Value], _: Env) -> Result<Value> {
    Ok(Value::string(hex::encode(digest::<Md5>(text(&a[0])))))
}
fn sha1(a: &[Value], _: Env) -> Result<Value> {
    Ok(Value::string(hex::encode(digest::<Sha1>(text(&a[0])))))
}
fn sha256(a: &[Value], _: Env) -> Result<Value> {
    Ok(Value::string(hex::encode(digest::<Sha256>(text(&a[0])))))
}
fn sha512(a: &[Value], _: Env) -> Result<Value> {
    Ok(Value::string(hex::encode(digest::<Sha512>(text(&a[0])))))
}

fn uuid(_: &[Value], env: Env) -> Result<Value> {
    Ok(Value::string(env.random_uuid()))
}

/// The file-hash helpers use the same digests.
pub(crate) fn hash_bytes(kind: &str, bytes: &[u8]) -> Vec<u8> {
    match kind {
        "md5" => Md5::digest(bytes).to_vec(),
        "sha1" => Sha1::digest(bytes).to_vec(),
        "sha512" => Sha512::digest(bytes).to_vec(),
        _ => Sha256::digest(bytes).to_vec(),
    }
}

fn uuidv5(a: &[Value], _: Env) -> Result<Value> {
    let ns_text = text(&a[0]);
    let ns = match ns_text {
        "dns" => uuid::Uuid::NAMESPACE_DNS,
        "url" => uuid::Uuid::NAMESPACE_URL,
        "oid" => uuid::Uuid::NAMESPACE_OID,
        "x500" => uuid::Uuid::NAMESPACE_X500,
        other => uuid::Uuid::parse_str(other).map_err(|_| {
            FunctionError::call(format!(
                "uuidv5() doesn't support namespace {other} (invalid UUID length: {}).",
                other.len()
            ))
        })?,
    };
    Ok(Value::string(
        uuid::Uuid::new_v5(&ns, text(&a[1]).as_bytes()).to_string(),
    ))
}
