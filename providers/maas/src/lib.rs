//! The MAAS provider: machines deployed from bare metal, and a simulator of the MAAS 2.0 API.
//!
//! - [`sim`]: the MAAS simulator (an HTTP server on 127.0.0.1) and [`lab`], its `brick lab` face;
//! - [`client`]: a small MAAS API client (OAuth PLAINTEXT, retries, clear errors).

#![recursion_limit = "256"]

pub mod lab;
pub mod sim;
