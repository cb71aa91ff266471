//! The embedded lab behind `brick lab serve` and `brick lab demo`: the MAAS simulator seeded
//! like the garage, started on a loopback address, with the settings a user needs.

use std::net::SocketAddr;

pub use crate::sim::{SimOptions, Simulator};

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
