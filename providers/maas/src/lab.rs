//! The embedded lab behind `brick lab serve` and `brick lab demo`: the MAAS simulator seeded
//! like the garage, started on a loopback address, with the settings a user needs.
//!
//! ```no_run
//! # async fn demo() -> Result<(), String> {
//! use brick_provider_maas::lab;
//! let opts = lab::options("demo", 0.0, 0, &[])?;
//! let sim = lab::serve("127.0.0.1:5240".parse().unwrap(), opts).await.map_err(|e| e.to_string())?;
//! print!("{}", lab::exports(&sim)); // export MAAS_API_URL=… / export MAAS_API_KEY=…
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::time::Duration;

pub use crate::sim::{DeployedMachine, Hook, MachineHook, SimOptions, Simulator};

/// Starts the simulator on `addr` (a loopback address; port 0 picks a free one). The returned
/// [`Simulator`] serves until dropped or [`Simulator::shutdown`]; its [`Simulator::url`] and
/// [`Simulator::api_key`] are what the provider's `api_url` and `api_key` want.
pub async fn serve(addr: SocketAddr, options: SimOptions) -> std::io::Result<Simulator> {
    Simulator::start_on(addr, options).await
}

/// The lines `brick lab serve` prints first, for `eval "$(brick lab serve …)"`-style use.
pub fn exports(sim: &Simulator) -> String {
    format!(
        "export MAAS_API_URL={}\nexport MAAS_API_KEY={}\n",
        sim.url(),
        sim.api_key()
    )
}

/// Parses a time scale: `realistic` (MAAS's own pace, a deploy takes about 10 minutes),
/// `demo` (a deploy takes 2 seconds), `fast` (for tests), or a factor such as `0.01`.
pub fn parse_time_scale(text: &str) -> Result<f64, String> {
    match text.trim() {
        "realistic" => Ok(SimOptions::realistic().time_scale),
        "demo" => Ok(SimOptions::demo().time_scale),
        "fast" => Ok(SimOptions::fast().time_scale),
        other => match other.parse::<f64>() {
            Ok(f) if f.is_finite() && f >= 0.0 => Ok(f),
            _ => Err(format!(
                "The time scale \"{other}\" is not realistic, demo, fast or a non-negative factor like 0.01."
            )),
        },
    }
}

/// Simulator options from `brick lab`'s flags: a time scale (see [`parse_time_scale`]), the
/// share of answers failing with 503/504, added latency, and hostnames whose deploys fail.
pub fn options(
    time_scale: &str,
    error_rate: f64,
    latency_ms: u64,
    fail_deploy: &[String],
) -> Result<SimOptions, String> {
    if !(0.0..=1.0).contains(&error_rate) {
        return Err(format!(
            "The error rate {error_rate} is not a share between 0 and 1."
        ));
    }
    Ok(SimOptions {
        time_scale: parse_time_scale(time_scale)?,
        error_rate,
        latency: Duration::from_millis(latency_ms),
        fail_deploy: fail_deploy.to_vec(),
        ..SimOptions::realistic()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_scales_have_names_and_factors() {
        assert_eq!(parse_time_scale("realistic"), Ok(1.0));
        assert_eq!(parse_time_scale("0.5"), Ok(0.5));
        assert!(parse_time_scale("-1").is_err());
        assert!(parse_time_scale("quick").unwrap_err().contains("quick"));
        assert!(options("demo", 1.5, 0, &[]).is_err());
    }

    #[tokio::test]
    async fn the_lab_serves_on_loopback_only_and_prints_its_settings() {
        let sim = serve(
            "127.0.0.1:0".parse().unwrap(),
            options("fast", 0.0, 0, &[]).unwrap(),
        )
        .await
        .unwrap();
        let text = exports(&sim);
        assert!(text.starts_with(&format!(
            "export MAAS_API_URL=http://{}/MAAS/\n",
            sim.addr()
        )));
        assert!(text.contains(&format!("export MAAS_API_KEY={}\n", sim.api_key())));
        assert_eq!(sim.api_key().split(':').count(), 3);
        let err = serve("0.0.0.0:0".parse().unwrap(), SimOptions::fast())
            .await
            .err()
            .unwrap();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }
}

/// A machine's hardware as MAAS knows it once the machine has enlisted: MAAS's default
/// (`enlist_commissioning`) runs the built-in commissioning scripts during enlistment, so a New
/// PC's CPUs, memory and disks are known before brick commissions it.
#[derive(Clone, Debug, PartialEq)]
pub struct Hardware {
    pub cpu_count: u32,
    pub memory_mib: u64,
    /// The sizes of its physical disks, in bytes.
    pub disks: Vec<u64>,
}

/// `host`'s hardware in the lab's MAAS (see [`Hardware`]), or None when no machine has that
/// hostname.
pub fn hardware(sim: &Simulator, host: &str) -> Option<Hardware> {
    sim.with_world(|w| {
        w.by_hostname(host).map(|m| Hardware {
            cpu_count: m.hardware.cpu_count,
            memory_mib: m.hardware.memory_mib,
            disks: m.hardware.disks.iter().map(|d| d.1).collect(),
        })
    })
}

/// A `storage.volume.size` of a `maas_machine` in bytes, on a disk of `whole` bytes: bytes,
/// K/M/G/T (powers of 1000, as MAAS), KiB…TiB, or a percentage; None for "rest" or a typo.
pub fn volume_bytes(size: &str, whole: u64) -> Option<u64> {
    crate::sim::storage::parse_size(size, whole)
}
