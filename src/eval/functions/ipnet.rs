//! IP network functions: cidrhost cidrnetmask cidrsubnet cidrsubnets, for IPv4 and IPv6.
//!
//! Addresses are handled as 128-bit integers with the prefix's address width (32 or 128).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use brick_provider_api::{Type, Value};

use super::{FunctionError, Registry, Result, elements, func, integer, number, p, text};
use crate::eval::Environment;

type Env<'a> = &'a dyn Environment;

pub(super) fn register(r: &mut Registry) {
    r.insert(
        "cidrhost",
        func(
            vec![p("prefix", Type::String), p("hostnum", Type::Number)],
            Type::String,
            cidrhost,
        ),
    );
    r.insert(
        "cidrnetmask",
        func(vec![p("prefix", Type::String)], Type::String, cidrnetmask),
    );
    r.insert(
        "cidrsubnet",
        func(
            vec![
                p("prefix", Type::String),
                p("newbits", Type::Number),
                p("netnum", Type::Number),
            ],
            Type::String,
            cidrsubnet,
        ),
    );
    r.insert(
        "cidrsubnets",
        func(
            vec![p("prefix", Type::String)],
            Type::list(Type::String),
            cidrsubnets,
        )
        .variadic(p("newbits", Type::Number)),
    );
}

/// A parsed prefix: the network address (host bits cleared), its length and address width.
#[derive(Clone, Copy)]
struct Net {
    addr: u128,
    len: u32,
    bits: u32,
}

fn parse_cidr(s: &str) -> Result<Net> {
    let bad = || {
        FunctionError::call(format!(
            "invalid CIDR expression: invalid CIDR address: {s}."
        ))
    };
    let (ip, len) = s.split_once('/').ok_or_else(bad)?;
    let ip: IpAddr = ip.parse().map_err(|_| bad())?;
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) || len.len() > 3 {
        return Err(bad());
    }
    let len: u32 = len.parse().map_err(|_| bad())?;
    let (addr, bits) = match ip {
        IpAddr::V4(v4) => (u32::from(v4) as u128, 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    };
    if len > bits {
        return Err(bad());
    }
    Ok(Net {
        addr: addr & mask(len, bits),
        len,
        bits,
    })
}

fn mask(len: u32, bits: u32) -> u128 {
    if len == 0 {
        return 0;
    }
    let all = if bits == 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    let host = bits - len;
    let host_mask = if host >= 128 {
        u128::MAX
    } else {
        (1u128 << host) - 1
    };
    all & !host_mask
}

fn show(addr: u128, bits: u32) -> String {
    if bits == 32 {
        Ipv4Addr::from(addr as u32).to_string()
    } else {
        Ipv6Addr::from(addr).to_string()
    }
}

fn host_count(net: &Net) -> Option<u128> {
    let host_bits = net.bits - net.len;
    (host_bits < 128).then(|| 1u128 << host_bits)
}

/// A host or network number: Terraform asks for a whole number, and reports one beyond any
/// prefix with `too_big`.
fn whole(v: &Value, too_big: impl FnOnce() -> String) -> Result<i64> {
    let n = number(v);
    if !n.is_integer() {
        return Err(FunctionError::call("value must be a whole number."));
    }
    n.to_i64().ok_or_else(|| FunctionError::call(too_big()))
}

fn cidrhost(a: &[Value], _: Env) -> Result<Value> {
    let net = parse_cidr(text(&a[0]))?;
    let n = whole(&a[1], || {
        format!(
            "prefix of {} does not accommodate a host numbered {}.",
            net.len,
            number(&a[1])
        )
    })?;
    let count = host_count(&net);
    let fail = || {
        // Terraform reports a negative number counted back from the end.
        let shown = match count {
            Some(c) if n < 0 => n + c.min(i64::MAX as u128) as i64,
            _ => n,
        };
        FunctionError::call(format!(
            "prefix of {} does not accommodate a host numbered {shown}.",
            net.len
        ))
    };
    let offset: u128 = if n >= 0 {
        let n = n as u128;
        if count.is_some_and(|c| n >= c) {
            return Err(fail());
        }
        n
    } else {
        let back = n.unsigned_abs() as u128;
        match count {
            Some(c) if back > c => return Err(fail()),
            Some(c) => c - back,
            None => u128::MAX - back + 1,
        }
    };
    Ok(Value::string(show(net.addr | offset, net.bits)))
}

fn cidrnetmask(a: &[Value], _: Env) -> Result<Value> {
    let s = text(&a[0]);
    let net = parse_cidr(s)?;
    if net.bits != 32 {
        return Err(FunctionError::call(format!(
            "IPv6 addresses cannot have a netmask: {s}."
        )));
    }
    Ok(Value::string(show(mask(net.len, 32), 32)))
}

fn subnet(net: &Net, newbits: i64, netnum: i64, arg: usize) -> Result<Net> {
    if newbits < 0 {
        return Err(FunctionError::arg(
            arg,
            "Invalid value for \"newbits\" parameter: must not be negative.",
        ));
    }
    let new_len = net.len as i64 + newbits;
    if new_len > net.bits as i64 {
        return Err(FunctionError::call(format!(
            "insufficient address space to extend prefix of {} by {newbits}.",
            net.len
        )));
    }
    let new_len = new_len as u32;
    if netnum < 0 || (newbits < 64 && netnum as u128 >= 1u128 << newbits) {
        return Err(FunctionError::call(format!(
            "prefix extension of {newbits} does not accommodate a subnet numbered {netnum}."
        )));
    }
    let shift = net.bits - new_len;
    let add = if shift >= 128 {
        0
    } else {
        (netnum as u128) << shift
    };
    Ok(Net {
        addr: net.addr | add,
        len: new_len,
        bits: net.bits,
    })
}

fn cidrsubnet(a: &[Value], _: Env) -> Result<Value> {
    let net = parse_cidr(text(&a[0]))?;
    let newbits = integer(&a[1]).map_err(|e| FunctionError::call(format!("{e}.")))?;
    let netnum = whole(&a[2], || {
        format!(
            "prefix extension of {newbits} does not accommodate a subnet numbered {}.",
            number(&a[2])
        )
    })?;
    let s = subnet(&net, newbits, netnum, 1)?;
    Ok(Value::string(format!("{}/{}", show(s.addr, s.bits), s.len)))
}

fn cidrsubnets(a: &[Value], _: Env) -> Result<Value> {
    let net = parse_cidr(text(&a[0]))?;
    let mut out = Vec::new();
    // The next free address, as an offset within the base prefix.
    let mut next: u128 = 0;
    // Set once a /0 IPv6 prefix has been used up to its very last address.
    let mut exhausted_all = false;
    let span = |len: u32| -> u128 {
        let host = net.bits - len;
        if host >= 128 {
            u128::MAX
        } else {
            1u128 << host
        }
    };
    for (i, v) in a[1..].iter().enumerate() {
        let newbits = integer(v).map_err(|e| {
            FunctionError::arg(
                i + 1,
                format!("Invalid value for \"newbits\" parameter: {e}."),
            )
        })?;
        if newbits > 32 {
            return Err(FunctionError::arg(
                i + 1,
                "Invalid value for \"newbits\" parameter: may not extend prefix by more than 32 bits.",
            ));
        }
        if newbits < 1 {
            return Err(FunctionError::arg(
                i + 1,
                "Invalid value for \"newbits\" parameter: must extend prefix by at least one bit.",
            ));
        }
        let new_len = net.len as i64 + newbits;
        if new_len > net.bits as i64 {
            let family = if net.bits == 32 { "IPv4" } else { "IPv6" };
            return Err(FunctionError::arg(
                i + 1,
                format!(
                    "Invalid value for \"newbits\" parameter: would extend prefix to {new_len} bits, which is too long for an {family} address."
                ),
            ));
        }
        let size = span(new_len as u32);
        // Align the next address up to this subnet's size.
        let start = next.div_ceil(size).checked_mul(size);
        let total = span(net.len);
        let exhausted = match start {
            None => true,
            Some(s) => (net.len > 0 && s >= total) || (net.len == 0 && exhausted_all),
        };
        let start = start.unwrap_or(0);
        if exhausted {
            return Err(FunctionError::arg(
                i + 1,
                format!(
                    "Invalid value for \"newbits\" parameter: not enough remaining address space for a subnet with a prefix of {new_len} bits after {}.",
                    out.last()
                        .map(|v: &Value| text(v).to_string())
                        .unwrap_or_default()
                ),
            ));
        }
        out.push(Value::string(format!(
            "{}/{}",
            show(net.addr | start, net.bits),
            new_len
        )));
        match start.checked_add(size) {
            Some(n) => next = n,
            None => exhausted_all = true,
        }
    }
    let _ = elements;
    Ok(Value::list(Type::String, out))
}
