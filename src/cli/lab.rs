//! `brick lab`: the embedded MAAS lab. `brick lab serve` runs the MAAS simulator (seeded like
//! the garage) on a loopback address and prints the settings to point brick at it;
//! `brick lab demo` runs brick's main job end to end on it: it plans and applies
//! `examples/garage` (embedded in the binary) in a fresh work directory, then adds a fourth PC
//! and plans and applies that change, with the same plan and apply code as `brick plan` and
//! `brick apply`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use brick_provider_api::Value;

use crate::registry::maas_lab as lab;
use clap::{Args, Subcommand};

use crate::event::{Event, EventSink};
use crate::plan::model::{Action, Plan, ResourceChange};
use crate::timing::TimeReport;

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

/// The machine the demo adds with a one-line change: the configuration carries its line
/// commented out.
const SPARE: &str = "spare1";

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
    /// Measures adding PCs to the garage (issue 17): sets the garage up at the demo's pace
    /// (or --time-scale's, when faster), then switches the lab to --time-scale and times
    /// `brick apply` of the one-line change adding N PCs, until their nodes are Ready and their
    /// OSDs up and in (what the apply waits for). Prints the wall time, the critical path of
    /// waits, brick's own time, and when each apply step started and ended (`STEP` lines).
    #[command(hide = true)]
    Bench {
        /// How many PCs to add at once (spare1, spare2, spare3).
        #[arg(long, default_value_t = 1, value_name = "N")]
        pcs: usize,
        /// The new PCs were commissioned before (Ready in MAAS, as after plugging a PC in and
        /// commissioning it once): the apply allocates and deploys them. Without it they are
        /// New and the apply commissions them first.
        #[arg(long)]
        commissioned: bool,
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
    /// The share of API answers that fail (0 to 1): MAAS answers 503 or 504, the clusters'
    /// Kubernetes APIs 429, 500 or 503, each asking to retry.
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
        LabCommand::Bench {
            pcs,
            commissioned,
            dir,
            sim,
        } => bench(ctx.ui, pcs, commissioned, dir, &sim).await,
    }
}

async fn start(
    ui: &Ui,
    addr: SocketAddr,
    sim: &SimArgs,
) -> Option<(lab::Simulator, crate::lab::Labs, String)> {
    let mut opts = sim.options(ui)?;
    // Other labs may run on this host (other users' demos): this one takes its own addresses.
    let network = crate::lab::free_loopback_network();
    opts.network = Some(network.clone());
    let labs = crate::lab::with_clusters(&mut opts);
    match lab::serve(addr, opts).await {
        Ok(s) => Some((s, labs, network)),
        Err(e) => {
            ui.error_line(&format!(
                "\nError: Cannot start the MAAS lab\n\nListening on {addr} failed: {e}.\n\nHelp: the lab listens on loopback addresses only; pick another port with --listen 127.0.0.1:PORT (0 picks a free one).\n"
            ));
            None
        }
    }
}

async fn serve(ui: &Ui, addr: SocketAddr, sim: &SimArgs) -> u8 {
    let Some((s, _labs, _)) = start(ui, addr, sim).await else {
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

/// The one-line change that adds PCs: the configuration carries the line that adds `spare1`
/// commented out. Either it replaces a line that sets the same name (`nodes = toset([...])`
/// becomes the list with `spare1`), or it is an entry of its own (a map entry), uncommented in
/// place. With `count` above one, `spare2`… are added the same way (to the list, or as copies
/// of the entry). Returns the change as diff lines.
fn add_pcs(dir: &Path, count: usize) -> Result<String, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("Cannot read {}: {e}.", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "hcl"))
        .collect();
    files.sort();
    let quoted = format!("\"{SPARE}\"");
    for f in files {
        let text = std::fs::read_to_string(&f)
            .map_err(|e| format!("Cannot read {}: {e}.", f.display()))?;
        let lines: Vec<&str> = text.lines().collect();
        let Some(i) = lines.iter().position(|l| {
            let t = l.trim_start();
            t.starts_with('#') && t.contains(SPARE)
        }) else {
            continue;
        };
        let commented = lines[i];
        let indent = &commented[..commented.len() - commented.trim_start().len()];
        let body = commented.trim_start().trim_start_matches('#').trim_start();
        // A comment after the entry is about the commented line: not carried over.
        let body = body.split(" # ").next().unwrap_or(body).trim_end();
        let line = format!("{indent}{body}");
        let name = body.split('=').next().unwrap_or("").trim();
        let replaced = (!name.is_empty() && body.contains('=') && body.contains(&quoted))
            .then(|| {
                lines.iter().position(|l| {
                    let t = l.trim_start();
                    !t.starts_with('#')
                        && t.split('=').next().is_some_and(|n| n.trim() == name)
                        && t.contains('=')
                })
            })
            .flatten();
        let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        let mut diff = format!(
            "--- {0}\n+++ {0}\n",
            f.file_name().unwrap_or_default().to_string_lossy()
        );
        match replaced {
            Some(j) => {
                let mut new = line.clone();
                let more: Vec<String> = (2..=count).map(|k| format!("\"spare{k}\"")).collect();
                if !more.is_empty() {
                    new = new.replacen(&quoted, &format!("{quoted}, {}", more.join(", ")), 1);
                }
                diff.push_str(&format!("-{}\n+{new}\n", lines[j]));
                out[j] = new;
                out.remove(i);
            }
            None => {
                let mut added = vec![line.clone()];
                for k in 2..=count {
                    added.push(line.replace(SPARE, &format!("spare{k}")));
                }
                diff.push_str(&format!("-{commented}\n"));
                for a in &added {
                    diff.push_str(&format!("+{a}\n"));
                }
                out.splice(i..=i, added);
            }
        }
        let mut new_text = out.join("\n");
        if text.ends_with('\n') {
            new_text.push('\n');
        }
        std::fs::write(&f, new_text).map_err(|e| format!("Cannot write {}: {e}.", f.display()))?;
        return Ok(diff);
    }
    Err(format!(
        "No configuration file in {} has the commented line that adds {SPARE}.",
        dir.display()
    ))
}

fn heading(ui: &Ui, text: &str) {
    let style = ui.style();
    ui.out(&format!("\n{}\n", style.bold(&format!("==> {text}"))));
}

/// Keeps the engine's time reports of the commands the demo runs, the apply steps that
/// finished (address, time in the provider call), and when each step started and ended (as the
/// engine's events arrived).
#[derive(Default)]
struct Reports(
    Mutex<Vec<TimeReport>>,
    Mutex<Vec<(String, std::time::Duration)>>,
    Mutex<Vec<Step>>,
);

/// One apply step as the engine's events told it: started, then done (or not).
struct Step {
    addr: String,
    started: Instant,
    ended: Option<Instant>,
}

impl EventSink for Reports {
    fn emit(&self, event: Event) {
        match event {
            Event::Timing(r) => self.0.lock().expect("reports").push(r),
            Event::ApplyStart { addr, .. } => self.2.lock().expect("reports").push(Step {
                addr: addr.to_string(),
                started: Instant::now(),
                ended: None,
            }),
            Event::ApplyDone { addr, elapsed, .. } => {
                let addr = addr.to_string();
                if let Some(s) = self
                    .2
                    .lock()
                    .expect("reports")
                    .iter_mut()
                    .rev()
                    .find(|s| s.addr == addr && s.ended.is_none())
                {
                    s.ended = Some(Instant::now());
                }
                self.1.lock().expect("reports").push((addr, elapsed));
            }
            _ => {}
        }
    }
}

impl Reports {
    fn since(&self, n: usize) -> Vec<TimeReport> {
        self.0.lock().expect("reports")[n..].to_vec()
    }
}

/// `brick plan --out=PLAN` then `brick apply PLAN`, as the CLI runs them; the plan is
/// described (from its data, and the hardware the lab's MAAS knows) between the two when
/// `narrate` gives the lab.
async fn plan_and_apply(
    ctx: &Context,
    args: &PlanArgs,
    plan_file: &Path,
    narrate: Option<&lab::Simulator>,
) -> u8 {
    heading(&ctx.ui, "brick plan -out=garage.plan");
    let code = super::run::plan_cmd(ctx, args, Some(plan_file.to_path_buf()), false).await;
    if code != 0 {
        return code;
    }
    if let Some(s) = narrate
        && let Some(p) = super::run::read_plan_file(ctx, plan_file)
    {
        heading(
            &ctx.ui,
            "What this plan does, layer by layer (from the plan's data)",
        );
        ctx.ui
            .out(&describe_plan(&p, &|host| lab::hardware(s, host)));
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

/// A number at `key` of an object value.
fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key)
        .filter(|x| x.is_known())
        .and_then(|x| x.as_number())
        .map(|n| n.to_f64())
}

fn action_word(a: Action) -> &'static str {
    match a {
        Action::Create => "create",
        Action::Update => "update",
        Action::Delete => "destroy",
        Action::Forget => "forget",
        a if a.is_replace() => "replace",
        _ => "keep",
    }
}

fn text_of(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .filter(|x| x.is_known() && !x.is_sensitive())
        .and_then(|x| x.as_str())
        .map(str::to_string)
}

/// The changes of a plan grouped by provider, with what each does in words the operator
/// knows: machines commissioned and deployed, nodes joining, OSDs added, then what the new
/// machines bring (see [`describe_gain`]).
fn describe_plan(p: &Plan, hardware: &dyn Fn(&str) -> Option<lab::Hardware>) -> String {
    let mut by: BTreeMap<&str, Vec<&ResourceChange>> = BTreeMap::new();
    for c in &p.changes {
        if c.action != Action::NoOp && c.action != Action::Read {
            by.entry(c.provider.as_str()).or_default().push(c);
        }
    }
    let mut out = String::new();
    for (provider, changes) in by {
        out.push_str(&format!("  {provider}:\n"));
        for c in changes {
            out.push_str(&format!("    {} {}", action_word(c.action), c.addr));
            let mut notes: Vec<String> = Vec::new();
            if let Some(h) = text_of(&c.after, "hostname") {
                notes.push(format!("host {h}"));
            }
            for key in [
                "osds",
                "devices",
                "nodes",
                "replicas",
                "partitions",
                "storage_size",
            ] {
                let (b, a) = (c.before.get(key), c.after.get(key));
                if let Some(a) = a.filter(|a| a.is_known())
                    && b != Some(a)
                {
                    let size = |v: &Value| -> Option<usize> {
                        v.as_sequence()
                            .map(|l| l.len())
                            .or_else(|| v.as_mapping().map(|m| m.len()))
                    };
                    match (b.and_then(size), size(a)) {
                        (Some(x), Some(y)) if x != y => notes.push(format!("{key}: {x} -> {y}")),
                        (None, Some(y)) => notes.push(format!("{key}: {y}")),
                        _ => {}
                    }
                }
            }
            if let (Some(b), Some(a)) = (
                num(&c.before, "capacity_bytes"),
                num(&c.after, "capacity_bytes"),
            ) {
                notes.push(format!("capacity {:.0} GiB -> {:.0} GiB", b / GIB, a / GIB));
            }
            if !notes.is_empty() {
                out.push_str(&format!(" ({})", notes.join(", ")));
            }
            out.push('\n');
        }
    }
    if out.is_empty() {
        out.push_str("  nothing to change\n");
    }
    out.push_str(&describe_gain(p, hardware));
    out
}

/// What the machines a plan creates bring to Kafka: their CPUs and memory (`hardware`: what
/// MAAS learned of each host when it enlisted), the Ceph volume of each (its planned layout on
/// that disk: "rest" is the disk less the other volumes), the Ceph capacity before and after,
/// and what that is for Kafka's volumes at the pool's number of copies. Empty when the plan
/// adds no machine with a `ceph` volume.
fn describe_gain(p: &Plan, hardware: &dyn Fn(&str) -> Option<lab::Hardware>) -> String {
    let of_type = |t: &'static str| {
        p.changes
            .iter()
            .filter(move |c| c.addr.resource.type_name == t)
    };
    let mut lines = Vec::new();
    let (mut cpus, mut mib, mut raw) = (0u64, 0u64, 0u64);
    for c in of_type("maas_machine").filter(|c| c.action == Action::Create) {
        let Some(host) = text_of(&c.after, "hostname") else {
            continue;
        };
        let volumes = c
            .after
            .get("storage")
            .and_then(|s| s.get("volume"))
            .and_then(Value::as_mapping);
        let Some(volumes) = volumes.filter(|v| v.contains_key("ceph")) else {
            continue;
        };
        let Some(hw) = hardware(&host) else {
            lines.push(format!("    {host}: not known to MAAS yet\n"));
            continue;
        };
        let disk = hw.disks.first().copied().unwrap_or(0);
        let size_of = |name: &str| -> Option<String> {
            volumes
                .get(name)
                .and_then(|v| v.get("size"))
                .filter(|x| x.is_known())
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let others: u64 = volumes
            .keys()
            .filter(|k| *k != "ceph")
            .filter_map(|k| size_of(k).and_then(|t| lab::volume_bytes(&t, disk)))
            .sum();
        let ceph = match size_of("ceph").as_deref() {
            Some("rest") | None => disk.saturating_sub(others),
            Some(t) => lab::volume_bytes(t, disk).unwrap_or(0),
        };
        cpus += u64::from(hw.cpu_count);
        mib += hw.memory_mib;
        raw += ceph;
        lines.push(format!(
            "    {host}: {} CPUs, {:.0} GiB of memory, a {:.0} GB Ceph volume (of its {:.0} GB disk)\n",
            hw.cpu_count,
            hw.memory_mib as f64 / 1024.0,
            ceph as f64 / 1e9,
            disk as f64 / 1e9
        ));
    }
    if lines.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "  What Kafka gains (each new PC's hardware as MAAS learned it when the PC enlisted; its Ceph volume from the planned layout):\n",
    );
    out.extend(lines);
    let copies = of_type("rook_block_pool")
        .find_map(|c| num(&c.after, "size"))
        .unwrap_or(1.0)
        .max(1.0);
    let before = of_type("rook_cluster").find_map(|c| num(&c.before, "capacity_bytes"));
    out.push_str(&format!(
        "    in all: +{cpus} CPUs and +{:.0} GiB of memory for pods (Kafka's brokers among them); Ceph raw capacity {}+{:.0} GB, +{:.0} GB for volumes of rook-ceph-block at {copies:.0} copies (Kafka's)\n",
        mib as f64 / 1024.0,
        before.map_or_else(String::new, |b| format!("{:.0} GB ", b / 1e9)),
        raw as f64 / 1e9,
        raw as f64 / 1e9 / copies,
    ));
    out
}

const GIB: f64 = (1u64 << 30) as f64;

#[allow(clippy::too_many_lines)]
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
    let Some((s, labs, network)) =
        start(&ui, "127.0.0.1:0".parse().expect("loopback address"), sim).await
    else {
        return 1;
    };
    if let Err(e) = std::env::set_current_dir(&dir) {
        ui.error_line(&format!("\nError: cannot switch to {}: {e}", dir.display()));
        return 1;
    }
    let reports = Arc::new(Reports::default());
    let mut ctx = Context::new(None, ui);
    ctx.observer = Some(reports.clone());
    ui.out(&format!(
        "brick lab demo: a MAAS simulator on {} (time scale {}) with maas, kvm4, kvm5 Ready and spare1-3 New;\nmachines deployed with MicroK8s form a cluster whose Kubernetes API runs simulated Rook and Strimzi operators.\nWork directory: {} (examples/garage)\n",
        s.url(),
        sim.time_scale,
        dir.display()
    ));
    let vars = vec![
        format!("maas_api_url={}", s.url()),
        format!("maas_api_key={}", s.api_key()),
        // The lab's address of `maas` (machines get `<network>.10`, `.11`… in order).
        format!("api_address={network}.10"),
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

    heading(&ui, "1. The garage from nothing: maas, kvm4 and kvm5");
    let code = plan_and_apply(&ctx, &args, &plan_file, None).await;
    if code != 0 {
        return finish_failed(&ui, &dir, s).await;
    }
    ui.out("\n");
    ui.out(&summary(&ctx));

    heading(
        &ui,
        "2. The chain, in the order brick applies it (brick graph --format text; `--format mermaid` draws it, as in the README):",
    );
    super::run::graph(&ctx, "text");

    heading(
        &ui,
        "3. A fourth PC has PXE-booted (spare1, New in MAAS); the one-line change that adds it:",
    );
    match add_pcs(&dir, 1) {
        Ok(diff) => ui.out(&diff),
        Err(e) => {
            ui.error_line(&format!("\nError: Cannot edit the configuration\n\n{e}\n"));
            return finish_failed(&ui, &dir, s).await;
        }
    }
    let code = plan_and_apply(&ctx, &args, &plan_file, Some(&s)).await;
    let _ = std::fs::remove_file(&plan_file);
    if code != 0 {
        return finish_failed(&ui, &dir, s).await;
    }
    ui.out("\n");
    ui.out(&summary(&ctx));

    heading(
        &ui,
        "4. Someone releases kvm5 in MAAS behind brick's back; brick drift:",
    );
    let released = s.with_world(|w| {
        let id = w.by_hostname("kvm5")?.system_id.clone();
        let i = w.index(&id).ok()?;
        w.release(i, &Default::default(), std::time::Instant::now())
            .ok()
    });
    if released.is_none() {
        ui.error_line("\nError: the lab could not release kvm5.");
        return finish_failed(&ui, &dir, s).await;
    }
    // Let MAAS finish releasing (Releasing, then Ready), then kvm5's kubelet is silent for
    // the node monitor's grace: its Node goes NotReady, its OSD down, Ceph warns.
    wait_released(&s, "kvm5").await;
    wait_ceph_health(&labs, "HEALTH_WARN").await;
    let drift = super::run::drift_cmd(&ctx, &args, super::run::DriftFormat::Text, false).await;
    ui.out(&format!(
        "\n`brick drift` exited {drift} (2: drift found; 0: none; 1: error). `brick apply` would redeploy kvm5.\n"
    ));

    heading(&ui, "Summary: where the time went, per layer");
    ui.out(&crate::view::timing::render_table(reports.since(0).iter()));
    ui.out(&format!(
        "\nDone in {:.1}s. The configuration and state are in {}.\nThe lab stopped with this command; to keep one running, use `brick lab serve`.\n",
        started.elapsed().as_secs_f64(),
        dir.display()
    ));
    s.shutdown().await;
    if drift == 2 { 0 } else { 1 }
}

/// Waits (bounded) until MAAS has finished releasing `host`.
async fn wait_released(s: &lab::Simulator, host: &str) {
    for _ in 0..600 {
        let done = s.with_world(|w| {
            w.advance(std::time::Instant::now());
            w.by_hostname(host)
                .is_none_or(|m| !matches!(m.status.name(), "Releasing" | "Disk erasing"))
        });
        if done {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Waits (bounded) until the lab's CephCluster reports `health`.
async fn wait_ceph_health(labs: &crate::lab::Labs, health: &str) {
    for _ in 0..600 {
        let seen = labs
            .object("ceph.rook.io/v1", "CephCluster", "rook-ceph", "rook-ceph")
            .is_some_and(|c| {
                c.pointer("/status/ceph/health")
                    .is_some_and(|h| h == health)
            });
        if seen {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn finish_failed(ui: &Ui, dir: &Path, s: lab::Simulator) -> u8 {
    ui.error_line(&format!(
        "\nThe demo stopped. Its configuration and state are in {}.",
        dir.display()
    ));
    s.shutdown().await;
    1
}

/// What the state holds after an apply, from its data: the machines (status, addresses,
/// volumes), then every other object by type with what it reports (nodes, OSDs, capacity,
/// brokers, topics).
fn summary(ctx: &Context) -> String {
    let state = match super::common::load_readonly(ctx) {
        Ok(Some(s)) => s,
        _ => return "  (no state)\n".into(),
    };
    let mut rows: Vec<[String; 5]> = Vec::new();
    let mut deployed = 0;
    let mut others: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (addr, r) in &state.resources {
        for (key, inst) in &r.instances {
            let Some(obj) = &inst.current else { continue };
            let a = obj.attributes.value();
            let s = |k: &str| a.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_string();
            if addr.type_name != "maas_machine" {
                let mut facts: Vec<String> = Vec::new();
                for k in [
                    "osds",
                    "health",
                    "phase",
                    "capacity_bytes",
                    "ready",
                    "replicas",
                    "partitions",
                    "status",
                ] {
                    match a.get(k) {
                        Some(serde_json::Value::Number(n)) if k == "capacity_bytes" => {
                            facts.push(format!(
                                "capacity {:.0} GiB",
                                n.as_f64().unwrap_or(0.0) / GIB
                            ));
                        }
                        Some(serde_json::Value::Number(n)) => facts.push(format!("{k} {n}")),
                        Some(serde_json::Value::String(v)) if !v.is_empty() => {
                            facts.push(format!("{k} {v}"))
                        }
                        Some(serde_json::Value::Bool(b)) => facts.push(format!("{k} {b}")),
                        _ => {}
                    }
                }
                let line = if facts.is_empty() {
                    format!("{addr}{key}")
                } else {
                    format!("{addr}{key}: {}", facts.join(", "))
                };
                others.entry(addr.type_name.clone()).or_default().push(line);
                continue;
            }
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
    let mut text = format!("{deployed} machine(s) deployed:\n{out}");
    for (ty, lines) in others {
        text.push_str(&format!("{} {ty}:\n", lines.len()));
        for l in lines {
            text.push_str(&format!("  {l}\n"));
        }
    }
    text
}

/// `brick lab bench`: see [`LabCommand::Bench`].
#[allow(clippy::too_many_lines)]
async fn bench(ui: Ui, pcs: usize, commissioned: bool, dir: Option<PathBuf>, sim: &SimArgs) -> u8 {
    let scale = match lab::parse_time_scale(&sim.time_scale) {
        Ok(x) => x,
        Err(e) => {
            ui.error_line(&format!("\nError: Invalid lab option\n\n{e}\n"));
            return 1;
        }
    };
    let dir = match work_dir(dir) {
        Ok(d) => d,
        Err(e) => {
            ui.error_line(&format!(
                "\nError: Cannot prepare the work directory\n\n{e}\n"
            ));
            return 1;
        }
    };
    // The setup runs at the demo's pace, or at the measured one when that is faster (tests).
    let demo_scale = lab::parse_time_scale("demo").unwrap_or(1.0 / 300.0);
    let setup = SimArgs {
        time_scale: if scale < demo_scale {
            sim.time_scale.clone()
        } else {
            "demo".into()
        },
        error_rate: sim.error_rate,
        latency_ms: sim.latency_ms,
        fail_deploy: sim.fail_deploy.clone(),
        api_key: sim.api_key.clone(),
    };
    let Some((s, labs, network)) = start(
        &ui,
        "127.0.0.1:0".parse().expect("loopback address"),
        &setup,
    )
    .await
    else {
        return 1;
    };
    if let Err(e) = std::env::set_current_dir(&dir) {
        ui.error_line(&format!("\nError: cannot switch to {}: {e}", dir.display()));
        return 1;
    }
    let reports = Arc::new(Reports::default());
    let mut ctx = Context::new(None, ui);
    ctx.observer = Some(reports.clone());
    let vars = vec![
        format!("maas_api_url={}", s.url()),
        format!("maas_api_key={}", s.api_key()),
        format!("api_address={network}.10"),
    ];
    ctx.cli_vars = vars.iter().cloned().map(crate::eval::CliVar::Var).collect();
    let args = PlanArgs {
        refresh: true,
        parallelism: 10,
        vars: vars.clone(),
        ..Default::default()
    };
    heading(&ui, "Setting the garage up at the demo's pace");
    if super::run::apply_cmd(&ctx, &args, true, None).await != 0 {
        return finish_failed(&ui, &dir, s).await;
    }
    let spares: Vec<String> = (1..=pcs).map(|k| format!("spare{k}")).collect();
    if commissioned {
        heading(
            &ui,
            "Commissioning the new PCs beforehand (MAAS: New -> Commissioning -> Testing -> Ready)",
        );
        for host in &spares {
            let started = s.with_world(|w| {
                let id = w.by_hostname(host)?.system_id.clone();
                let i = w.index(&id).ok()?;
                w.commission(i, &Default::default(), Instant::now()).ok()
            });
            if started.is_none() {
                ui.error_line(&format!("\nError: the lab could not commission {host}."));
                return finish_failed(&ui, &dir, s).await;
            }
        }
        for host in &spares {
            if !wait_status(&s, host, "Ready").await {
                ui.error_line(&format!("\nError: {host} did not become Ready."));
                return finish_failed(&ui, &dir, s).await;
            }
        }
    }
    // From here on, the real systems' pace.
    s.with_world(|w| w.time_scale = scale);
    labs.set_time_scale(scale);
    heading(
        &ui,
        &format!("Adding {pcs} PC(s) at time scale {}", sim.time_scale),
    );
    match add_pcs(&dir, pcs) {
        Ok(diff) => ui.out(&diff),
        Err(e) => {
            ui.error_line(&format!("\nError: Cannot edit the configuration\n\n{e}\n"));
            return finish_failed(&ui, &dir, s).await;
        }
    }
    let first = reports.0.lock().expect("reports").len();
    reports.1.lock().expect("reports").clear();
    reports.2.lock().expect("reports").clear();
    let t0 = Instant::now();
    let code = super::run::apply_cmd(&ctx, &args, true, None).await;
    let wall = t0.elapsed();
    if code != 0 {
        return finish_failed(&ui, &dir, s).await;
    }
    let runs = reports.since(first);
    let plan_wait: std::time::Duration = runs
        .iter()
        .filter(|r| r.phase == crate::timing::Phase::Plan)
        .map(|r| r.waited)
        .sum();
    let chain: std::time::Duration = runs.iter().filter_map(|r| r.critical_path).sum();
    let critical = plan_wait + chain;
    let own: std::time::Duration = runs.iter().map(|r| r.own).sum();
    heading(&ui, "Result");
    ui.out(&summary(&ctx));
    let secs = crate::view::timing::secs;
    let mut steps = reports.1.lock().expect("reports").clone();
    steps.retain(|(_, d)| *d >= std::time::Duration::from_millis(100));
    ui.out(&format!(
        "\nBENCH pcs={pcs} new_pcs={} scale={} wall={:.1}s critical_path={:.1}s over={:+.2}% own={:.3}s\n",
        if commissioned { "Ready" } else { "New" },
        sim.time_scale,
        wall.as_secs_f64(),
        critical.as_secs_f64(),
        (wall.as_secs_f64() / critical.as_secs_f64().max(1e-9) - 1.0) * 100.0,
        own.as_secs_f64(),
    ));
    ui.out(&format!(
        "  critical path: refresh {} + the longest chain of dependent applies {}; steps: {}\n",
        secs(plan_wait),
        secs(chain),
        steps
            .iter()
            .map(|(a, d)| format!("{a} {}", secs(*d)))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    ui.out(&crate::view::timing::render_table(runs.iter()));
    // When each step ran, from the engine's events (seconds since the apply started): the new
    // PCs' deploys overlap when nothing serializes them.
    for step in reports.2.lock().expect("reports").iter() {
        let at = |i: Instant| i.saturating_duration_since(t0).as_secs_f64();
        ui.out(&format!(
            "STEP {} start={:.3}s end={}\n",
            step.addr,
            at(step.started),
            step.ended
                .map_or_else(|| "-".to_string(), |e| format!("{:.3}s", at(e)))
        ));
    }
    s.shutdown().await;
    0
}

/// Waits (an hour at most: commissioning and testing take 7 minutes at the realistic pace)
/// until `host`'s status in MAAS is `status`.
async fn wait_status(s: &lab::Simulator, host: &str, status: &str) -> bool {
    let deadline = Instant::now() + std::time::Duration::from_secs(60 * 60);
    while Instant::now() < deadline {
        let seen = s.with_world(|w| {
            w.advance(Instant::now());
            w.by_hostname(host)
                .is_some_and(|m| m.status.name() == status)
        });
        if seen {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}
