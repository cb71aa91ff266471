//! Runs the simulated API server with a throwaway CA and writes a kubeconfig for it:
//! `cargo run -p brick-k8s-sim --example serve -- /tmp/lab-kubeconfig [nodes...]` (time scale
//! from `TIME_SCALE`, default 0.01).

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
        time_scale: std::env::var("TIME_SCALE")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0.01),
        ..SimOptions::default()
    })
    .await
    .expect("start");
    // Nodes as NAME or NAME:CPUS:MEMORY_GIB.
    for n in args {
        let parts: Vec<&str> = n.split(':').collect();
        let mut spec = NodeSpec::new(parts[0]);
        if let [_, cpu, mem] = parts.as_slice() {
            spec.cpu = cpu.parse().expect("cpus");
            spec.memory_mib = mem.parse::<u64>().expect("memory GiB") * 1024;
        }
        server.add_node(&spec).expect("node");
    }
    std::fs::write(&path, pki.kubeconfig(&server.url())).expect("kubeconfig");
    println!("serving {} (kubeconfig {path})", server.url());
    let _ = tokio::signal::ctrl_c().await;
}
