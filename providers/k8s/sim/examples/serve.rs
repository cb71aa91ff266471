//! Runs the simulated API server with a throwaway CA and writes a kubeconfig for it:
//! `cargo run -p brick-k8s-sim --example serve -- /tmp/lab-kubeconfig [nodes...]`.

use brick_k8s_sim::pki::TestPki;
use brick_k8s_sim::{NodeSpec, SimOptions, SimServer};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "lab-kubeconfig".into());
    let pki = TestPki::generate().expect("pki");
    let server = SimServer::start(SimOptions {
        tls: Some(pki.serving.clone()),
        client_ca_pem: Some(pki.ca_cert_pem.clone()),
        time_scale: 0.01,
        ..SimOptions::default()
    })
    .await
    .expect("start");
    for n in args {
        server.add_node(&NodeSpec::new(&n)).expect("node");
    }
    std::fs::write(&path, pki.kubeconfig(&server.url())).expect("kubeconfig");
    println!("serving {} (kubeconfig {path})", server.url());
    let _ = tokio::signal::ctrl_c().await;
}
