//! A standalone MAAS lab until `brick lab serve` is wired: starts the simulator seeded like the
//! garage, prints the export lines, and serves until interrupted.
//!
//! `cargo run -p brick-provider-maas --example lab -- [ADDR] [TIME_SCALE] [ERROR_RATE] [FAIL_DEPLOY]`
//! e.g. `… --example lab -- 127.0.0.1:5240 demo 0.1 kvm5` (FAIL_DEPLOY: comma-separated hostnames)

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = args
        .first()
        .map_or("127.0.0.1:5240", String::as_str)
        .parse()
        .expect("ADDR like 127.0.0.1:5240");
    let scale = args.get(1).map_or("demo", String::as_str);
    let errors: f64 = args
        .get(2)
        .map_or(Ok(0.0), |e| e.parse())
        .expect("ERROR_RATE like 0.1");
    let fail: Vec<String> = args
        .get(3)
        .map(|f| f.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let opts = match brick_provider_maas::lab::options(scale, errors, 0, &fail) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let sim = match brick_provider_maas::lab::serve(addr, opts).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot start the MAAS lab on {addr}: {e}");
            std::process::exit(1);
        }
    };
    print!("{}", brick_provider_maas::lab::exports(&sim));
    eprintln!(
        "MAAS lab serving on {} (time scale {scale}); Ctrl-C stops it.",
        sim.addr()
    );
    let _ = tokio::signal::ctrl_c().await;
    sim.shutdown().await;
}
