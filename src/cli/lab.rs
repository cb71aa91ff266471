//! `brick lab`: the embedded MAAS lab. `brick lab serve` runs the MAAS simulator (seeded like
//! the garage) on a loopback address and prints the settings to point brick at it;
//! `brick lab demo` runs brick's main job end to end on it: it plans and applies
//! `examples/garage` (embedded in the binary) in a fresh work directory, then adds a fourth PC
//! and plans and applies that change, with the same plan and apply code as `brick plan` and
//! `brick apply`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::registry::maas_lab as lab;
use clap::{Args, Subcommand};

use super::PlanArgs;
use super::common::{Context, Ui};

/// The garage example, embedded so that `brick lab demo` works from any directory.
const GARAGE: &[(&str, &str)] = &[
    (
        "machines.hcl",
        include_str!("../../examples/garage/machines.hcl"),
    ),
    (
        "cloud-init.tftpl",
        include_str!("../../examples/garage/cloud-init.tftpl"),
    ),
    (
        "cluster.hcl",
        include_str!("../../examples/garage/cluster.hcl"),
    ),
    (
        "storage.hcl",
        include_str!("../../examples/garage/storage.hcl"),
    ),
    ("kafka.hcl", include_str!("../../examples/garage/kafka.hcl")),
    ("README.md", include_str!("../../examples/garage/README.md")),
];

/// The commented entry of the `nodes` map that adds the fourth PC, and that entry uncommented.
const SPARE_COMMENTED: &str =
    "    # spare1 = { control_plane = false } # a fourth PC that has just PXE-booted: uncomment it";
const SPARE_LINE: &str = "    spare1 = { control_plane = false }";

#[derive(Subcommand, Debug)]
pub enum LabCommand {
    /// Run the MAAS simulator on 127.0.0.1 until interrupted; first prints the
    /// `export MAAS_API_URL=… MAAS_API_KEY=…` lines to use with brick or the MAAS CLI.
    Serve {
        /// The loopback address and port to listen on (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:5240", value_name = "ADDR")]
        listen: SocketAddr,
        #[command(flatten)]
        sim: SimArgs,
    },
    /// Plan and apply examples/garage on an in-process MAAS lab, then add a fourth PC.
    Demo {
        /// The work directory to create (default: a new directory under the system's temp dir).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        #[command(flatten)]
        sim: SimArgs,
    },
}

/// The simulator's pace and faults.
#[derive(Args, Debug)]
pub struct SimArgs {
    /// How fast MAAS moves: realistic (a deploy takes about 10 minutes), demo (seconds), fast
    /// (for tests) or a factor such as 0.01.
    #[arg(long = "time-scale", default_value = "demo", value_name = "SCALE")]
    time_scale: String,
    /// The share of API answers that fail with 503 or 504 (0 to 1).
    #[arg(long = "error-rate", default_value_t = 0.0, value_name = "R")]
    error_rate: f64,
    /// Latency added to every answer, in milliseconds.
    #[arg(long = "latency-ms", default_value_t = 0, value_name = "MS")]
    latency_ms: u64,
    /// Machines (by hostname) whose deployments fail (repeatable).
    #[arg(long = "fail-deploy", value_name = "HOST", num_args = 1..)]
    fail_deploy: Vec<String>,
    /// The API key the lab accepts (consumer:token:secret); default: a new random one on
    /// every start, so that no other local user can drive the lab.
    #[arg(
        long = "api-key",
        env = "BRICK_LAB_API_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    api_key: Option<String>,
}

/// A fresh `consumer:token:secret` key (122 random bits in the secret alone).
fn random_api_key() -> String {
    let hex = || uuid::Uuid::new_v4().simple().to_string();
    format!("{}:{}:{}", &hex()[..18], &hex()[..18], hex())
}

impl SimArgs {
    fn options(&self, ui: &Ui) -> Option<lab::SimOptions> {
        match lab::options(
            &self.time_scale,
            self.error_rate,
            self.latency_ms,
            &self.fail_deploy,
        ) {
            Ok(mut o) => {
                let key = self.api_key.clone().unwrap_or_else(random_api_key);
                let parts: Vec<&str> = key.split(':').collect();
                if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
                    ui.error_line("\nError: Invalid lab option\n\nThe API key given with --api-key (or BRICK_LAB_API_KEY) does not have the form consumer:token:secret.\n");
                    return None;
                }
                o.api_key = Some(key);
                Some(o)
            }
            Err(e) => {
                ui.error_line(&format!("\nError: Invalid lab option\n\n{e}\n"));
                None
            }
        }
    }
}

pub async fn run(ctx: &Context, command: LabCommand) -> u8 {
    match command {
        LabCommand::Serve { listen, sim } => serve(&ctx.ui, listen, &sim).await,
        LabCommand::Demo { dir, sim } => demo(ctx.ui, dir, &sim).await,
    }
}

async fn start(ui: &Ui, addr: SocketAddr, sim: &SimArgs) -> Option<lab::Simulator> {
    let mut opts = sim.options(ui)?;
    crate::lab::with_clusters(&mut opts);
    match lab::serve(addr, opts).await {
        Ok(s) => Some(s),
        Err(e) => {
            ui.error_line(&format!(
                "\nError: Cannot start the MAAS lab\n\nListening on {addr} failed: {e}.\n\nHelp: the lab listens on loopback addresses only; pick another port with --listen 127.0.0.1:PORT (0 picks a free one).\n"
            ));
            None
        }
    }
}

async fn serve(ui: &Ui, addr: SocketAddr, sim: &SimArgs) -> u8 {
    let Some(s) = start(ui, addr, sim).await else {
        return 1;
    };
    ui.out(&lab::exports(&s));
    ui.error_line(&format!(
        "MAAS lab serving on {} (time scale {}): maas, kvm4 and kvm5 are Ready, spare1-3 are New. Ctrl-C stops it.",
        s.addr(),
        sim.time_scale
    ));
    interrupted().await;
    s.shutdown().await;
    0
}

/// Waits for Ctrl-C (or, on Unix, SIGTERM).
async fn interrupted() {
    let mut interrupts = super::interrupts::Interrupts::install();
    if !interrupts.next().await {
        // No handler could be installed: Ctrl-C keeps its default action and ends the process.
        std::future::pending::<()>().await;
    }
}

/// Creates the work directory: `dir` (which must be absent or empty) or a new one under the
/// temp dir; returns its absolute path.
fn work_dir(dir: Option<PathBuf>) -> Result<PathBuf, String> {
    let dir = match dir {
        Some(d) => {
            if d.exists()
                && std::fs::read_dir(&d)
                    .map_err(|e| format!("Cannot read {}: {e}.", d.display()))?
                    .next()
                    .is_some()
            {
                return Err(format!(
                    "The directory {} is not empty; the demo needs a fresh one.",
                    d.display()
                ));
            }
            d
        }
        None => {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis();
            std::env::temp_dir().join(format!("brick-lab-demo-{}-{stamp}", std::process::id()))
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("Cannot create {}: {e}.", dir.display()))?;
    for (name, text) in GARAGE {
        std::fs::write(dir.join(name), text)
            .map_err(|e| format!("Cannot write {}: {e}.", dir.join(name).display()))?;
    }
    dir.canonicalize()
        .map_err(|e| format!("Cannot resolve {}: {e}.", dir.display()))
}

/// Swaps the commented `nodes` line in for the three-node one: the one-line change that adds
/// `spare1`.
fn add_spare(dir: &Path) -> Result<(), String> {
    let f = dir.join("machines.hcl");
    let text =
        std::fs::read_to_string(&f).map_err(|e| format!("Cannot read {}: {e}.", f.display()))?;
    if !text.contains(SPARE_COMMENTED) {
        return Err(format!(
            "{} no longer has the `nodes` lines the demo edits.",
            f.display()
        ));
    }
    let text = text.replacen(SPARE_COMMENTED, SPARE_LINE, 1);
    std::fs::write(&f, text).map_err(|e| format!("Cannot write {}: {e}.", f.display()))
}

fn heading(ui: &Ui, text: &str) {
    let style = ui.style();
    ui.out(&format!("\n{}\n", style.bold(&format!("==> {text}"))));
}

/// `brick plan --out=PLAN` then `brick apply PLAN`, as the CLI runs them.
async fn plan_and_apply(ctx: &Context, args: &PlanArgs, plan_file: &Path) -> u8 {
    heading(&ctx.ui, "brick plan -out=garage.plan");
    let code = super::run::plan_cmd(ctx, args, Some(plan_file.to_path_buf()), false).await;
    if code != 0 {
        return code;
    }
    heading(&ctx.ui, "brick apply garage.plan");
    // A saved plan carries its variables; like the CLI, apply takes none of its own.
    let apply_args = PlanArgs {
        vars: Vec::new(),
        var_files: Vec::new(),
        ..args.clone()
    };
    super::run::apply_cmd(ctx, &apply_args, true, Some(plan_file.to_path_buf())).await
}

async fn demo(ui: Ui, dir: Option<PathBuf>, sim: &SimArgs) -> u8 {
    let started = Instant::now();
    let dir = match work_dir(dir) {
        Ok(d) => d,
        Err(e) => {
            ui.error_line(&format!(
                "\nError: Cannot prepare the demo's work directory\n\n{e}\n"
            ));
            return 1;
        }
    };
    let Some(s) = start(&ui, "127.0.0.1:0".parse().expect("loopback address"), sim).await else {
        return 1;
    };
    if let Err(e) = std::env::set_current_dir(&dir) {
        ui.error_line(&format!("\nError: cannot switch to {}: {e}", dir.display()));
        return 1;
    }
    let mut ctx = Context::new(None, ui);
    ui.out(&format!(
        "brick lab demo: a MAAS simulator on {} (time scale {}) with maas, kvm4, kvm5 Ready and spare1-3 New.\nWork directory: {} (examples/garage)\n",
        s.url(),
        sim.time_scale,
        dir.display()
    ));
    let vars = vec![
        format!("maas_api_url={}", s.url()),
        format!("maas_api_key={}", s.api_key()),
    ];
    // What `--var` gives the CLI: the configuration loads them from the context.
    ctx.cli_vars = vars.iter().cloned().map(crate::eval::CliVar::Var).collect();
    let args = PlanArgs {
        refresh: true,
        parallelism: 10,
        vars,
        ..Default::default()
    };
    let plan_file = dir.join("garage.plan");

    heading(&ui, "Deploying the garage: maas, kvm4 and kvm5");
    let code = plan_and_apply(&ctx, &args, &plan_file).await;
    if code != 0 {
        return finish_failed(&ui, &dir, s).await;
    }

    heading(
        &ui,
        "A fourth PC has PXE-booted (spare1, New in MAAS); adding it to machines.hcl:",
    );
    if let Err(e) = add_spare(&dir) {
        ui.error_line(&format!("\nError: Cannot edit the configuration\n\n{e}\n"));
        return finish_failed(&ui, &dir, s).await;
    }
    ui.out(&format!("-{SPARE_COMMENTED}\n+{SPARE_LINE}\n"));
    let code = plan_and_apply(&ctx, &args, &plan_file).await;
    let _ = std::fs::remove_file(&plan_file);
    if code != 0 {
        return finish_failed(&ui, &dir, s).await;
    }

    heading(&ui, "Summary");
    ui.out(&summary(&ctx));
    ui.out(&format!(
        "\nDone in {:.1}s. The configuration and state are in {}.\nThe lab stopped with this command; to keep one running, use `brick lab serve`.\n",
        started.elapsed().as_secs_f64(),
        dir.display()
    ));
    s.shutdown().await;
    0
}

async fn finish_failed(ui: &Ui, dir: &Path, s: lab::Simulator) -> u8 {
    ui.error_line(&format!(
        "\nThe demo stopped. Its configuration and state are in {}.",
        dir.display()
    ));
    s.shutdown().await;
    1
}

/// The deployed machines in the state, with their addresses and volume paths.
fn summary(ctx: &Context) -> String {
    let state = match super::common::load_readonly(ctx) {
        Ok(Some(s)) => s,
        _ => return "  (no state)\n".into(),
    };
    let mut rows: Vec<[String; 5]> = Vec::new();
    let mut deployed = 0;
    for (addr, r) in &state.resources {
        if addr.type_name != "maas_machine" {
            continue;
        }
        for (key, inst) in &r.instances {
            let Some(obj) = &inst.current else { continue };
            let a = &obj.attributes;
            let s = |k: &str| a.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_string();
            if s("status") == "Deployed" {
                deployed += 1;
            }
            let ips: Vec<&str> = a
                .get("ip_addresses")
                .and_then(|v| v.as_array())
                .map(|v| v.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            let vols: Vec<String> = a
                .get("volume_paths")
                .and_then(|v| v.as_object())
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("?")))
                        .collect()
                })
                .unwrap_or_default();
            rows.push([
                format!("{addr}{key}"),
                s("status"),
                s("system_id"),
                ips.join(","),
                vols.join(" "),
            ]);
        }
    }
    let widths: Vec<usize> = (0..4)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        out.push_str("  ");
        for (i, w) in widths.iter().enumerate() {
            out.push_str(&format!("{:<w$}  ", r[i], w = *w));
        }
        out.push_str(&format!("{}\n", r[4]));
    }
    format!("{deployed} machine(s) deployed:\n{out}")
}
