//! The command line: the only module that reads argv, the environment or prints.

use std::process::ExitCode;

pub mod console;
pub mod fmt;
pub mod validate;

pub fn main() -> ExitCode {
    println!("brick {}", env!("CARGO_PKG_VERSION"));
    ExitCode::SUCCESS
}
