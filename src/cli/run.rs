//! The commands that plan and apply: `init`, `validate`, `plan`, `apply`, `destroy`, `show`,
//! `graph`, `import`, `drift`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use brick_provider_api::Value;
use brick_state as st;

use super::PlanArgs;
use super::common::{
    Context, LockedState, SystemClock, decode_vars, load_readonly, lock_and_load, prior_of,
};
use super::interrupts::Interrupts;
use crate::apply::{ApplyInput, ApplyOptions, Cancel, Recorded};
use crate::diag::Diagnostic;
use crate::eval::{Reference, Scope};
use crate::event::{Event, EventSink, NoEvents};
use crate::plan::address::{InstanceAddr, Target};
use crate::plan::model::{Plan, PlanMode, PriorState};
use crate::plan::{Options, plan};
use crate::statefile::{JournalSink, addr_to_state, object_to_state, provider_addr};
use crate::view::lines::{JsonView, LineView, LiveView};

fn parse_targets(ctx: &Context, flag: &str, texts: &[String]) -> Option<Vec<Target>> {
    let mut out = Vec::new();
    for t in texts {
        match t.parse::<Target>() {
            Ok(a) => out.push(a),
            Err(e) => {
                ctx.ui.diagnostics(
                    &[Diagnostic::error("brick::cli::invalid_address", "Invalid address", format!("The {flag} value is not a resource address: {e}."))
                        .help("Write addresses like brick_data.x, brick_data.x[0] or brick_data.x[\"key\"].")],
                    &[],
                );
                return None;
            }
        }
    }
    Some(out)
}

fn options(ctx: &Context, args: &PlanArgs) -> Option<Options> {
    if args.destroy && args.refresh_only {
        ctx.ui.diagnostics(
            &[Diagnostic::error(
                "brick::cli::incompatible_options",
                "Incompatible plan options",
                "--destroy and --refresh-only cannot be used together.",
            )],
            &[],
        );
        return None;
    }
    if args.parallelism == 0 {
        ctx.ui.diagnostics(
            &[Diagnostic::error(
                "brick::cli::invalid_parallelism",
                "Invalid parallelism",
                "--parallelism must be at least 1.",
            )],
            &[],
        );
        return None;
    }
    Some(Options {
        mode: if args.destroy {
            PlanMode::Destroy
        } else if args.refresh_only {
            PlanMode::RefreshOnly
        } else {
            PlanMode::Normal
        },
        refresh: args.refresh,
        targets: parse_targets(ctx, "--target", &args.target)?,
        excludes: parse_targets(ctx, "--exclude", &args.exclude)?,
        replace: parse_targets(ctx, "--replace", &args.replace)?,
        parallelism: args.parallelism,
    })
}

/// The view for refresh lines while planning (and the context's observer).
fn plan_events(ctx: &Context, json: bool) -> Box<dyn EventSink> {
    let view: Box<dyn EventSink> = if json {
        Box::new(NoEvents)
    } else {
        Box::new(LineView::new(std::io::stdout(), None))
    };
    match &ctx.observer {
        Some(o) => Box::new(crate::event::Tee(view, o.clone())),
        None => view,
    }
}

/// `provider` blocks, in every module, of providers this build does not have: each an
/// error at its block, with the nearest provider this build has when one is close.
fn unknown_provider_blocks(m: &crate::config::Module, diags: &mut Vec<Diagnostic>) {
    let available = crate::registry::available();
    for p in m.providers.values() {
        if available.contains(&p.name.as_str()) || p.name == "terraform" {
            continue;
        }
        let mut d = Diagnostic::error(
            "brick::init::unknown_provider",
            "Provider not available",
            format!(
                "The configuration has a provider \"{}\" block, but this build of brick has no provider of that name.",
                p.name
            ),
        )
        .at(p.span);
        d = match crate::diag::did_you_mean(&p.name, available.iter().copied()) {
            Some(near) => d.help(format!(
                "Did you mean \"{near}\"? Providers in this build: {}.",
                available.join(", ")
            )),
            None => d.help(format!(
                "Providers in this build: {}.",
                available.join(", ")
            )),
        };
        diags.push(d);
    }
    for call in m.module_calls.values() {
        if let Some(child) = &call.module {
            unknown_provider_blocks(child, diags);
        }
    }
}

pub fn init(ctx: &Context, migrate_state: bool, reconfigure: bool) -> u8 {
    let Some(mut loaded) = ctx.load_unresolved_with_syntax() else {
        return 1;
    };
    let backend = loaded
        .config
        .root
        .settings
        .as_ref()
        .and_then(|s| s.backend.clone());
    if !super::backend::init_backend(ctx, backend.as_ref(), migrate_state, reconfigure) {
        return 1;
    }
    let mut unknown = Vec::new();
    unknown_provider_blocks(&loaded.config.root, &mut unknown);
    // In source order, each pointing at its block's first line.
    for d in &mut unknown {
        if let Some(span) = &mut d.span
            && let Some(f) = loaded.config.files.get(span.file)
            && let Some(nl) = f.text.get(span.start..span.end).and_then(|t| t.find('\n'))
        {
            span.end = span.start + nl;
        }
    }
    unknown.sort_by_key(|d| d.span.map(|s| (s.file, s.start)));
    loaded.config.root = crate::config::Module::default();
    ctx.ui.out("\nInitializing provider plugins...\n");
    if ctx.ui.diagnostics(&unknown, &loaded.config.files) {
        return 1;
    }
    let mut missing = Vec::new();
    let mut names: Vec<&str> = loaded
        .engine
        .resources
        .iter()
        .map(|r| r.provider.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    for n in names {
        if loaded.providers.get(n).is_some() {
            ctx.ui.out(&format!("- Using built-in provider {n}\n"));
        } else {
            missing.push(n.to_string());
        }
    }
    if !missing.is_empty() {
        let diags: Vec<_> = missing
            .iter()
            .map(|n| Diagnostic::error("brick::init::unknown_provider", "Provider not available", format!("The configuration needs the provider {n:?}, which this build of brick does not include."))
                .help(format!("Providers in this build: {}.", crate::registry::available().join(", "))))
            .collect();
        ctx.ui.diagnostics(&diags, &loaded.config.files);
        return 1;
    }
    ctx.ui.out(&format!(
        "\n{}\n",
        ctx.ui.style().green(
            &ctx.ui
                .style()
                .bold("brick has been successfully initialized!")
        )
    ));
    0
}

pub fn validate(ctx: &Context, json: bool) -> u8 {
    let (config, mut diags) = crate::config::load(
        &crate::config::RealFs,
        &crate::eval::Constants,
        std::path::Path::new("."),
    );
    if let Some(config) = &config
        && !crate::diag::has_errors(&diags)
    {
        diags.extend(crate::validate::check_offline(
            config,
            &ctx.ids,
            &*ctx.env(),
        ));
    }
    let files = config.as_ref().map(|c| c.files.clone()).unwrap_or_default();
    let errors = diags.iter().filter(|d| d.is_error()).count();
    if json {
        // Terraform's `validate -json` document, so tools written for it read ours.
        let list: Vec<_> = diags.iter().map(|d| d.to_json(&files)).collect();
        ctx.ui.out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({"format_version": "1.0", "valid": errors == 0, "error_count": errors, "warning_count": diags.len() - errors, "diagnostics": list})).unwrap_or_default()
        ));
    } else {
        ctx.ui.diagnostics(&diags, &files);
        if errors == 0 {
            ctx.ui.out(&format!(
                "{} The configuration is valid.\n",
                ctx.ui.style().green(&ctx.ui.style().bold("Success!"))
            ));
        }
    }
    u8::from(errors > 0)
}

pub fn console(ctx: &Context) -> u8 {
    let Some(loaded) = ctx.load_with_syntax() else {
        return 1;
    };
    let Ok(state) = load_readonly(ctx) else {
        return 1;
    };
    let prior = state
        .map(|s| prior_of(&s, &loaded.providers))
        .unwrap_or_default();
    // Values as recorded, shaped as references see them (module outputs included).
    let working = crate::plan::scope::values_from_state(&loaded.engine, &prior);
    let env = ctx.env();
    let lookup = move |r: &Reference| -> Option<Value> {
        match r {
            Reference::Resource { .. } | Reference::Data { .. } => working.get(r),
            Reference::Module(n) => working.module_value("", n),
            _ => None,
        }
    };
    let console = super::console::Console::new(
        &loaded.config,
        &*env,
        loaded.engine.variables.clone(),
        Box::new(lookup),
    );
    let stdin = std::io::stdin();
    let prompt = std::io::IsTerminal::is_terminal(&stdin);
    let code = super::console::run_with_prompt(
        &console,
        &mut stdin.lock(),
        &mut std::io::stdout(),
        prompt,
    );
    if code == std::process::ExitCode::SUCCESS {
        0
    } else {
        1
    }
}

/// Loads the configuration and, under the lock, the state (side by side), then plans; returns
/// the configuration, the plan, the locked state and whether the state is new. With
/// `for_apply` false (a plan that is only shown), the recorded state document is freed before
/// planning, on a thread of its own: the plan needs the engine's view of it alone (`prior`,
/// returned for the JSON view), and holding both was about 2.4 KB per object at the peak.
/// The returned [`LockedState`]'s state is then empty; `managed` counts its managed objects.
async fn make_plan(
    ctx: &Context,
    args: &PlanArgs,
    operation: &str,
    for_apply: bool,
) -> Option<MadePlan> {
    let opts = options(ctx, args)?;
    let fresh = !ctx.state_path.exists();
    let (loaded, mut locked) = super::common::load_and_lock(ctx, operation, || ctx.load()).await?;
    let mut prior = locked
        .prior
        .take()
        .unwrap_or_else(|| prior_of(&locked.state, &loaded.providers));
    if fresh && locked.state.serial == 0 {
        prior.lineage = None;
        prior.serial = None;
    }
    let tainted_reasons = crate::statefile::tainted_reasons(&locked.state);
    let managed = locked
        .state
        .resources
        .iter()
        .filter(|(a, _)| a.mode == st::Mode::Managed)
        .map(|(_, r)| r.instances.len())
        .sum::<usize>();
    if !for_apply {
        let recorded = std::mem::replace(
            &mut locked.state,
            st::State::with_lineage(String::new(), String::new()),
        );
        std::thread::spawn(move || drop(recorded));
    }
    let events = plan_events(ctx, args.json);
    // Planning changes nothing real: on Ctrl-C it stops at once and releases the lock.
    let mut interrupts = Interrupts::install();
    let planned = tokio::select! {
        p = plan(&loaded.engine, &prior, &loaded.providers, &opts, &*events) => Some(p),
        _ = interrupts.next() => None,
    };
    let Some(mut p) = planned else {
        ctx.ui.error_line(&format!(
            "\nInterrupt received. Stopped planning; nothing was changed.\n\nError: {} interrupted",
            if operation == "plan" {
                "Plan"
            } else {
                "Operation"
            }
        ));
        let _ = locked.lock.release();
        return None;
    };
    p.tainted_reasons = tainted_reasons;
    p.timestamp = Some(crate::view::lines::Clock::now_rfc3339(&SystemClock));
    // An apply keeps the engine's view of the state for its steps, rather than making it
    // again; a plan only shown keeps it for its JSON view.
    let prior = if for_apply {
        prior.lineage = Some(locked.state.lineage.clone());
        prior.serial = Some(locked.state.serial);
        locked.prior = Some(prior);
        None
    } else if args.json {
        Some(prior)
    } else {
        drop(prior);
        None
    };
    Some(MadePlan {
        loaded,
        plan: p,
        locked,
        prior,
        managed,
    })
}

/// What [`make_plan`] returns.
struct MadePlan {
    loaded: super::common::Loaded,
    plan: Plan,
    locked: LockedState,
    /// The engine's view of the recorded state, kept for a JSON view of a plan only shown.
    prior: Option<PriorState>,
    /// The managed objects the state recorded.
    managed: usize,
}

/// A plan ready to show: made under the lock (then released), its problems reported (`None`
/// when they stop the command), with the prior state a JSON view needs and the number of
/// managed objects the state recorded.
async fn plan_to_show(
    ctx: &Context,
    args: &PlanArgs,
    operation: &str,
) -> Option<(super::common::Loaded, Plan, PriorState, usize)> {
    let MadePlan {
        loaded,
        plan: p,
        locked,
        prior,
        managed,
    } = make_plan(ctx, args, operation, false).await?;
    let prior = prior.unwrap_or_default();
    let _ = locked.lock.release();
    if ctx.ui.diagnostics(&p.diagnostics, &loaded.config.files) || p.errored {
        // As Terraform: what was planned before the error, or "Planning failed."
        if !args.json && p.errored {
            ctx.ui
                .out(&crate::view::text::render_plan(&p, ctx.ui.style()));
        }
        return None;
    }
    Some((loaded, p, prior, managed))
}

pub async fn plan_cmd(ctx: &Context, args: &PlanArgs, out: Option<PathBuf>, detailed: bool) -> u8 {
    // Refused before planning: a plan written over the state (or through a link) destroys
    // what it lands on.
    if let Some(path) = &out
        && let Some(why) = super::files::refuse_plan_path(path, &ctx.store())
    {
        ctx.ui.diagnostics(
            &[Diagnostic::error(
                "brick::cli::plan_out_refused",
                "Refusing to write the plan there",
                why,
            )
            .help("Save the plan to a file of its own, e.g. `brick plan --out brick.plan`.")],
            &[],
        );
        return 1;
    }
    let Some((loaded, p, prior, _)) = plan_to_show(ctx, args, "plan").await else {
        return 1;
    };
    if args.json {
        let j = crate::view::json::plan_json_masked(&p, &prior, &loaded.engine);
        drop(prior);
        ctx.ui.out_document(&j);
    } else {
        ctx.ui
            .out(&crate::view::text::render_plan(&p, ctx.ui.style()));
    }
    if let Some(path) = out {
        // Streamed into the file: the encoded plan is never held whole in memory.
        if let Err(e) = write_plan_file(&path, &p, ctx.seal.as_deref()) {
            ctx.ui.error_line(&format!(
                "Error: cannot write the plan to {}: {e}",
                path.display()
            ));
            return 1;
        }
        if !args.json {
            ctx.ui.out(&format!(
                "\n─────────────────────────────────────────────────────────────────────────────\n\nSaved the plan to: {}\n\nTo perform exactly these actions, run the following command to apply:\n    brick apply {:?}\n",
                path.display(),
                path.display().to_string()
            ));
        }
    } else if !args.json && p.has_changes() {
        ctx.ui.out("\n─────────────────────────────────────────────────────────────────────────────\n\nNote: You didn't use the --out option to save this plan, so brick can't\nguarantee to take exactly these actions if you run \"brick apply\" now.\n");
    }
    // A refresh-only plan changes something when it records drift or new output values.
    // Deferred changes count as changes (as Terraform's exit 2 for "changes present"): the
    // configuration is not yet what exists, and a later run will change something.
    let changed = p.has_changes() || p.has_deferred();
    // brick exits next: freeing a large plan and configuration piece by piece would only
    // cost time (about 5 % of a 5,000-resource plan); the process's end releases them
    // (`lab demo` plans twice in one process: a small configuration, a small leak).
    std::mem::forget(p);
    std::mem::forget(loaded);
    if detailed && changed { 2 } else { 0 }
}

/// How `brick drift` prints its report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DriftFormat {
    /// Per object, attribute by attribute, with who changed it.
    Text,
    /// The versioned JSON document (`schemas/drift-report.schema.json`), pretty-printed.
    Json,
    /// A summary, a table and details, for a pull-request comment or a job summary.
    Markdown,
}

/// `brick drift`: refreshes every recorded object and reports what changed outside of brick
/// (the engine's [`crate::drift`] model, rendered by `view/drift.rs`), and separately whether
/// the configuration has pending changes (a plan without refresh). Never takes the state's
/// lock and never writes: the state is read as it is (an unfinished journal replayed in
/// memory), so it can run while someone else applies. Exit 2 when drift counts (or pending
/// changes, with `count_pending`), 0 otherwise, 1 on error.
pub async fn drift_cmd(
    ctx: &Context,
    args: &PlanArgs,
    format: DriftFormat,
    count_pending: bool,
) -> u8 {
    let Some(opts) = options(ctx, args) else {
        return 1;
    };
    let Some(mut loaded) = ctx.load_with_syntax() else {
        return 1;
    };
    let ignores = std::mem::take(&mut loaded.config.root.drift_ignores);
    loaded.config.root = crate::config::Module::default();
    let Ok(state) = super::common::load_readonly(ctx) else {
        return 1;
    };
    let state = state.unwrap_or_else(|| st::State::new(env!("CARGO_PKG_VERSION")));
    let recorded = || {
        state
            .resources
            .values()
            .map(|r| crate::statefile::provider_name(&r.provider))
    };
    crate::registry::add_missing(&mut loaded.providers, recorded(), &ctx.ids);
    let prior = prior_of(&state, &loaded.providers);
    let checked = (args.target.is_empty() && args.exclude.is_empty()).then(|| {
        state
            .resources
            .iter()
            .filter(|(a, _)| a.mode == st::Mode::Managed)
            .map(|(_, r)| r.instances.len())
            .sum::<usize>()
    });
    let events = plan_events(ctx, format != DriftFormat::Text);
    let mut interrupts = Interrupts::install();
    let planned = tokio::select! {
        p = plan(&loaded.engine, &prior, &loaded.providers, &opts, &*events) => Some(p),
        _ = interrupts.next() => None,
    };
    let Some(p) = planned else {
        ctx.ui.error_line("\nInterrupt received. Stopped checking; nothing was changed.\n\nError: Operation interrupted");
        return 1;
    };
    if ctx.ui.diagnostics(&p.diagnostics, &loaded.config.files) || p.errored {
        return 1;
    }
    // Pending changes: the configuration against the recorded state, without refresh, with
    // providers of their own (each provider is configured once per set).
    let names: Vec<String> = loaded.providers.names().cloned().collect();
    let mut pending_providers =
        crate::registry::provider_set(names.iter().map(String::as_str), &ctx.ids);
    crate::registry::add_missing(&mut pending_providers, recorded(), &ctx.ids);
    let pending_opts = Options {
        mode: PlanMode::Normal,
        refresh: false,
        ..opts
    };
    let pending_plan = tokio::select! {
        p = plan(&loaded.engine, &prior, &pending_providers, &pending_opts, &NoEvents) => Some(p),
        _ = interrupts.next() => None,
    };
    let Some(pending_plan) = pending_plan else {
        ctx.ui.error_line("\nInterrupt received. Stopped checking; nothing was changed.\n\nError: Operation interrupted");
        return 1;
    };
    let (pending, pending_outputs) = if pending_plan.errored {
        ctx.ui.diagnostics(
            &[Diagnostic::warning(
                "brick::drift::pending_unknown",
                "Pending changes unknown",
                "Planning the configuration against the state failed, so brick cannot tell whether changes are pending; `brick plan` shows why.",
            )],
            &[],
        );
        (None, 0)
    } else {
        let (c, o) = crate::drift::pending_of(&pending_plan);
        (Some(c), o)
    };
    let (objects, mut diags) = crate::drift::drifted_objects(&p, &loaded.providers, &ignores).await;
    diags.extend(crate::drift::unmatched_ignores(&ignores, &loaded.engine));
    ctx.ui.diagnostics(&diags, &loaded.config.files);
    let report = crate::drift::DriftReport {
        brick_version: env!("CARGO_PKG_VERSION").to_string(),
        timestamp: Some(crate::view::lines::Clock::now_rfc3339(&SystemClock)),
        checked,
        objects,
        pending,
        pending_outputs,
        count_pending,
    };
    match format {
        DriftFormat::Text => ctx.ui.out(&crate::view::drift::render_text(&report)),
        DriftFormat::Markdown => ctx.ui.out(&crate::view::drift::render_markdown(&report)),
        DriftFormat::Json => ctx.ui.out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&crate::view::drift::render_json(&report))
                .unwrap_or_default()
        )),
    }
    std::mem::forget(p);
    std::mem::forget(pending_plan);
    std::mem::forget(loaded);
    report.exit_code()
}

/// Writes a saved plan: its JSON encoding and a newline, readable by its owner only (it
/// holds the variables' values, secrets included), atomically and never through a link.
/// With encryption on, the file is the sealed JSON instead (the state's envelope).
fn write_plan_file(
    path: &Path,
    p: &Plan,
    seal: Option<&dyn brick_state::Seal>,
) -> std::io::Result<()> {
    super::files::write_private(path, |w| match seal {
        None => {
            serde_json::to_writer(&mut *w, p).map_err(std::io::Error::other)?;
            w.write_all(b"\n")
        }
        Some(seal) => {
            let plain = serde_json::to_vec(p).map_err(std::io::Error::other)?;
            let sealed = seal.seal(&plain).map_err(std::io::Error::other)?;
            w.write_all(&sealed)?;
            w.write_all(b"\n")
        }
    })
}

pub(super) fn read_plan_file(ctx: &Context, path: &Path) -> Option<Plan> {
    let bytes = match super::files::read_bounded(path, super::files::MAX_DOCUMENT_BYTES) {
        Ok(b) if b.starts_with(b"{\"brick_encryption\":") => match &ctx.seal {
            Some(seal) => seal.open(&b).map_err(|detail| (true, detail)),
            None => Err((
                true,
                "it is encrypted, and no key is configured".to_string(),
            )),
        },
        Ok(b) => Ok(b),
        Err(e) => Err((false, e.to_string())),
    };
    let bytes = match bytes {
        Ok(b) => Ok(b),
        Err((true, detail)) => {
            ctx.ui.diagnostics(
                &[Diagnostic::error(
                    "brick::cli::plan_decrypt",
                    "The plan file cannot be decrypted",
                    format!("{} cannot be decrypted: {detail}.", path.display()),
                )
                .help("Set the key the plan was saved with (BRICK_STATE_PASSPHRASE, BRICK_STATE_KEY or BRICK_STATE_KEY_FILE).")],
                &[],
            );
            return None;
        }
        Err((false, detail)) => Err(std::io::Error::other(detail)),
    };
    let text = match bytes.and_then(|b| String::from_utf8(b).map_err(std::io::Error::other)) {
        Ok(t) => t,
        Err(e) => {
            ctx.ui.error_line(&format!(
                "\nError: Failed to read the plan file\n\nCannot read {}: {e}.",
                path.display()
            ));
            return None;
        }
    };
    match serde_json::from_str::<Plan>(&text) {
        Ok(p) if p.format_version == crate::plan::model::PLAN_FORMAT_VERSION => Some(p),
        Ok(p) => {
            ctx.ui.error_line(&format!("\nError: Unsupported plan file\n\n{} has plan format {}, this brick reads format {}.", path.display(), p.format_version, crate::plan::model::PLAN_FORMAT_VERSION));
            None
        }
        Err(e) => {
            ctx.ui.error_line(&format!(
                "\nError: Invalid plan file\n\n{} is not a brick plan: {e}.",
                path.display()
            ));
            None
        }
    }
}

/// The variable values a saved plan recorded; a value that cannot be decoded makes the plan
/// file invalid (reported here) rather than falling back to the variable's default.
fn plan_vars(
    ctx: &Context,
    path: &Path,
    p: &Plan,
) -> Option<std::collections::BTreeMap<String, Value>> {
    match decode_vars(&p.variables) {
        Ok(v) => Some(v),
        Err(name) => {
            ctx.ui.diagnostics(
                &[Diagnostic::error(
                    "brick::cli::invalid_plan_file",
                    "Invalid plan file",
                    format!(
                        "{} records a value for var.{name} that cannot be read; the plan file is damaged or was not written by brick.",
                        path.display()
                    ),
                )
                .help("Run `brick plan --out FILE` again and use the new plan file.")],
                &[],
            );
            None
        }
    }
}

pub async fn apply_cmd(
    ctx: &Context,
    args: &PlanArgs,
    auto_approve: bool,
    plan_file: Option<PathBuf>,
) -> u8 {
    let destroy = args.destroy;
    if args.json && !auto_approve && plan_file.is_none() {
        ctx.ui.diagnostics(
            &[Diagnostic::error(
                "brick::cli::json_needs_auto_approve",
                "Plan file or auto-approve required",
                "brick cannot ask for interactive approval when --json is set. You can either apply a saved plan file, or enable the --auto-approve option.",
            )],
            &[],
        );
        return 1;
    }
    let (p, loaded, locked) = if let Some(path) = &plan_file {
        let Some(p) = read_plan_file(ctx, path) else {
            return 1;
        };
        if !args.vars.is_empty() || !args.var_files.is_empty() {
            ctx.ui.diagnostics(
                &[Diagnostic::error(
                    "brick::cli::vars_with_saved_plan",
                    "Can't set variables when applying a saved plan",
                    "The plan file records the variable values it was made with; --var and --var-file cannot change them.",
                )
                .help("Make a new plan with these variables (`brick plan --var ... --out FILE`), or apply without a plan file.")],
                &[],
            );
            return 1;
        }
        let planning: Vec<&str> = [
            ("--target", !args.target.is_empty()),
            ("--exclude", !args.exclude.is_empty()),
            ("--replace", !args.replace.is_empty()),
            ("--destroy", args.destroy),
            ("--refresh-only", args.refresh_only),
            ("--refresh=false", !args.refresh),
        ]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect();
        if !planning.is_empty() {
            ctx.ui.diagnostics(
                &[Diagnostic::error(
                    "brick::cli::planning_options_with_saved_plan",
                    "Can't use planning options when applying a saved plan",
                    format!(
                        "The plan file already decided what to do; {} would change the plan, which a saved plan cannot.",
                        planning.join(", ")
                    ),
                )
                .help("Make a new plan with these options (`brick plan ... --out FILE`), or apply without a plan file.")],
                &[],
            );
            return 1;
        }
        let Some(vars) = plan_vars(ctx, path, &p) else {
            return 1;
        };
        let Some(loaded) = ctx.load_with_values(vars) else {
            return 1;
        };
        let fresh = !ctx.state_path.exists();
        let Some(locked) = lock_and_load(ctx, "apply", &loaded).await else {
            return 1;
        };
        let (lineage, serial) = if fresh && locked.state.serial == 0 {
            (None, None)
        } else {
            (
                Some(locked.state.lineage.clone()),
                Some(locked.state.serial),
            )
        };
        let mut stale = Vec::new();
        if loaded.engine.hash != p.config_hash {
            stale.push("the configuration changed since the plan was made".to_string());
        }
        if p.state_lineage.is_none() && lineage.is_some() {
            stale.push(
                "the state changed since the plan was made (it did not exist then)".to_string(),
            );
        } else if lineage != p.state_lineage {
            stale.push("the state belongs to another lineage".to_string());
        } else if serial != p.state_serial {
            stale.push(format!(
                "the state changed since the plan was made (serial {} then, {} now)",
                p.state_serial
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "none".into()),
                serial
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "none".into())
            ));
        }
        if !stale.is_empty() {
            ctx.ui.diagnostics(
                &[Diagnostic::error(
                    "brick::apply::stale_plan",
                    "Saved plan is stale",
                    format!(
                        "The plan in {} can no longer be applied: {}.",
                        path.display(),
                        stale.join("; ")
                    ),
                )
                .help("Run `brick plan --out FILE` again and apply the new plan.")],
                &loaded.config.files,
            );
            return 1;
        }
        if p.errored {
            ctx.ui.error_line("\nError: Saved plan has errors\n\nThis plan was made with errors and cannot be applied.");
            return 1;
        }
        (p, loaded, locked)
    } else {
        let op = if destroy { "destroy" } else { "apply" };
        let Some(MadePlan {
            loaded,
            plan: p,
            locked,
            ..
        }) = make_plan(ctx, args, op, true).await
        else {
            return 1;
        };
        if ctx.ui.diagnostics(&p.diagnostics, &loaded.config.files) || p.errored {
            return 1;
        }
        if args.json {
            let made;
            let prior = match &locked.prior {
                Some(p) => p,
                None => {
                    made = prior_of(&locked.state, &loaded.providers);
                    &made
                }
            };
            let j = crate::view::json::plan_json_masked(&p, prior, &loaded.engine);
            ctx.ui.out(&format!("{}\n", serde_json::json!({"@level": "info", "@message": "Plan", "type": "planned_changes", "plan": j})));
        } else {
            ctx.ui
                .out(&crate::view::text::render_plan(&p, ctx.ui.style()));
        }
        if p.has_changes() && !auto_approve {
            let (q, e) = if destroy {
                (
                    "Do you really want to destroy all resources?",
                    "brick will destroy all your managed infrastructure, as shown above.\n  There is no undo.",
                )
            } else if p.mode == PlanMode::RefreshOnly {
                (
                    "Would you like to update the brick state to reflect these detected changes?",
                    "brick will write these changes to the state without modifying any real infrastructure.",
                )
            } else {
                (
                    "Do you want to perform these actions?",
                    "brick will perform the actions described above.",
                )
            };
            // The answer is read on a blocking thread so that Ctrl-C at the prompt cancels.
            let ui = ctx.ui;
            let (q2, e2) = (q.to_string(), e.to_string());
            let mut interrupts = Interrupts::install();
            let answer = tokio::select! {
                a = tokio::task::spawn_blocking(move || ui.confirm(&q2, &e2)) => {
                    a.unwrap_or_else(|e| Err(e.to_string()))
                }
                _ = interrupts.next() => Ok(false),
            };
            match answer {
                Ok(true) => {}
                Ok(false) => {
                    let _ = locked.lock.release();
                    ctx.ui.error_line(&format!(
                        "\nError: {} cancelled.",
                        if destroy { "Destroy" } else { "Apply" }
                    ));
                    return 1;
                }
                Err(msg) => {
                    ctx.ui.diagnostics(
                        &[Diagnostic::error(
                            "brick::apply::no_confirmation",
                            "Cannot ask for confirmation",
                            msg,
                        )
                        .help("Pass --auto-approve to apply without asking.")],
                        &[],
                    );
                    return 1;
                }
            }
        }
        (p, loaded, locked)
    };
    run_apply(ctx, &p, &loaded, locked, args).await
}

/// A shared sink as a boxed one.
struct ArcSink(Arc<dyn EventSink>);
impl EventSink for ArcSink {
    fn emit(&self, e: Event) {
        self.0.emit(e);
    }
}

/// Forwards events and keeps the operations that started and have not finished.
struct Tracker {
    inner: Arc<dyn EventSink>,
    #[allow(clippy::type_complexity)]
    running: std::sync::Mutex<
        std::collections::BTreeMap<
            String,
            (
                InstanceAddr,
                crate::plan::model::Action,
                bool,
                std::time::Instant,
            ),
        >,
    >,
}

impl EventSink for Tracker {
    fn emit(&self, e: Event) {
        match &e {
            Event::ApplyStart {
                addr,
                action,
                destroying,
                ..
            } => {
                self.running.lock().unwrap().insert(
                    format!("{addr}{destroying}"),
                    (
                        addr.clone(),
                        *action,
                        *destroying,
                        std::time::Instant::now(),
                    ),
                );
            }
            Event::ApplyDone {
                addr, destroying, ..
            }
            | Event::ApplyFailed {
                addr, destroying, ..
            } => {
                self.running
                    .lock()
                    .unwrap()
                    .remove(&format!("{addr}{destroying}"));
            }
            _ => {}
        }
        self.inner.emit(e);
    }
}

/// `BRICK_PROGRESS_INTERVAL` (a duration such as `2s`) overrides how often a running operation
/// reports "Still creating..." (10 s, as Terraform). For CI logs and brick's own tests.
fn progress_interval_from_env() -> Option<std::time::Duration> {
    let text = std::env::var("BRICK_PROGRESS_INTERVAL").ok()?;
    crate::builtin::sleep::parse_duration(&text)
        .ok()
        .filter(|d| !d.is_zero())
}

async fn run_apply(
    ctx: &Context,
    p: &Plan,
    loaded: &super::common::Loaded,
    mut locked: LockedState,
    args: &PlanArgs,
) -> u8 {
    let prior = locked
        .prior
        .take()
        .unwrap_or_else(|| prior_of(&locked.state, &loaded.providers));
    let store = ctx.store();
    let base_serial = locked.state.serial;
    let journal = match store.begin_apply(&locked.lock, locked.state) {
        Ok(j) => j,
        Err(e) => {
            ctx.state_error(&e);
            return 1;
        }
    };
    if let Some(remote) = &ctx.remote
        && p.has_changes()
    {
        super::backend::announce(ctx, remote, base_serial, p);
    }
    let live: Option<Arc<LiveView<std::io::Stdout>>> =
        (!args.json && ctx.ui.stdout_tty).then(|| {
            let width = terminal_size::terminal_size().map(|(w, _)| w.0 as usize);
            Arc::new(LiveView::new(std::io::stdout()).with_width(width))
        });
    let events: Arc<dyn EventSink> = if args.json {
        Arc::new(JsonView::new(std::io::stdout(), Box::new(SystemClock)))
    } else if let Some(l) = &live {
        l.clone()
    } else {
        Arc::new(LineView::new(
            std::io::stdout(),
            Some(Box::new(SystemClock)),
        ))
    };
    if !args.json && p.has_changes() {
        ctx.ui.out("\n");
    }
    // Remembers what is running, to name what a second Ctrl-C abandons.
    let events: Arc<dyn EventSink> = match &ctx.observer {
        Some(o) => Arc::new(crate::event::Tee(Box::new(ArcSink(events)), o.clone())),
        None => events,
    };
    let tracker = Arc::new(Tracker {
        inner: events,
        running: Default::default(),
    });
    let events: Arc<dyn EventSink> = tracker.clone();
    let aborted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cancel = Cancel::new();
    let c2 = cancel.clone();
    let ev2 = events.clone();
    let aborted2 = aborted.clone();
    // The handler is installed before any operation starts, so no Ctrl-C during the apply
    // falls through to the default action (ending the process without recording anything).
    let mut interrupts = Interrupts::install();
    let signals = tokio::spawn(async move {
        let mut seen = 0u32;
        while interrupts.next().await {
            // Said (and noted) before the executor learns of it, so that every line about
            // the interruption precedes what it causes.
            seen += 1;
            if seen == 1 {
                ev2.emit(Event::Interrupted);
            } else {
                aborted2.store(true, std::sync::atomic::Ordering::SeqCst);
                ev2.emit(Event::Diagnostic(Diagnostic::warning(
                    "brick::apply::cancelled",
                    "Two interrupts received",
                    "Cancelling the operations still running; the next run reconciles what they left unfinished.",
                )));
            }
            c2.interrupt();
        }
    });
    let ticker = live.clone().map(|l| {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                l.tick();
            }
        })
    });
    let mut sink = JournalSink::new(&journal, &loaded.providers);
    let mut opts = ApplyOptions {
        parallelism: args.parallelism.max(1),
        ..Default::default()
    };
    if let Some(d) = progress_interval_from_env() {
        opts.progress_interval = d;
    }
    let outcome = crate::apply::apply(ApplyInput {
        plan: p,
        config: &loaded.engine,
        prior: &prior,
        providers: &loaded.providers,
        sink: &mut sink,
        events: events.clone(),
        options: opts,
        cancel: &cancel,
    })
    .await;
    drop(sink);
    signals.abort();
    if aborted.load(std::sync::atomic::Ordering::SeqCst) {
        let left: Vec<_> = std::mem::take(&mut *tracker.running.lock().unwrap())
            .into_values()
            .collect();
        for (addr, action, destroying, started) in left {
            tracker.inner.emit(Event::Cancelled {
                addr,
                action,
                destroying,
                elapsed: started.elapsed(),
            });
        }
    }
    if let Some(t) = ticker {
        t.abort();
    }
    if let Some(l) = &live {
        l.finish();
    }
    let finished = journal.finish();
    let _ = locked.lock.release();
    let mut code = 0;
    if let Err(e) = &finished {
        ctx.state_error(e);
        code = 1;
    }
    if ctx
        .ui
        .diagnostics(&outcome.diagnostics, &loaded.config.files)
    {
        code = 1;
    }
    if args.json {
        // As Terraform: a failed apply ends with its diagnostics, never "Apply complete!".
        if code == 0 {
            ctx.ui.out(&format!("{}\n", serde_json::json!({"@level": "info", "@message": format!("Apply complete! Resources: {} added, {} changed, {} destroyed.", outcome.added, outcome.changed, outcome.destroyed), "type": "change_summary", "changes": {"add": outcome.added, "change": outcome.changed, "remove": outcome.destroyed, "operation": if p.mode == PlanMode::Destroy {"destroy"} else {"apply"}}})));
        }
    } else if code == 0 {
        ctx.ui.out(&format!(
            "\n{}\n",
            crate::view::text::apply_summary(
                outcome.added,
                outcome.changed,
                outcome.destroyed,
                p.mode == PlanMode::Destroy,
                ctx.ui.style()
            )
        ));
        if p.has_deferred() {
            ctx.ui.out(&format!(
                "\n{} change(s) deferred to the next run (their provider's configuration was known only during apply): run `brick plan` again.\n",
                p.deferred.len()
            ));
        }
        if !outcome.outputs.is_empty() {
            ctx.ui.out(&format!(
                "\n{}\n\n{}",
                ctx.ui.style().green(&ctx.ui.style().bold("Outputs:")),
                crate::view::text::render_outputs(&outcome.outputs)
            ));
        }
    }
    code
}

pub async fn show(ctx: &Context, json: bool, plan_file: Option<PathBuf>) -> u8 {
    let ids = ctx.ids.clone();
    if let Some(path) = plan_file {
        let Some(p) = read_plan_file(ctx, &path) else {
            return 1;
        };
        if json {
            // The configuration's values are the ones the plan recorded (as `apply FILE`).
            let Some(vars) = plan_vars(ctx, &path, &p) else {
                return 1;
            };
            let Some(loaded) = ctx.load_with_values(vars) else {
                return 1;
            };
            let Ok(state) = load_readonly(ctx) else {
                return 1;
            };
            let prior = state
                .map(|s| prior_of(&s, &loaded.providers))
                .unwrap_or_default();
            let j = crate::view::json::plan_json(&p, &prior, &loaded.engine);
            ctx.ui.out_document(&j);
        } else {
            ctx.ui
                .out(&crate::view::text::render_plan(&p, ctx.ui.style()));
        }
        return 0;
    }
    let Ok(state) = load_readonly(ctx) else {
        return 1;
    };
    let names: Vec<String> = state
        .iter()
        .flat_map(|s| {
            s.resources
                .values()
                .map(|r| crate::statefile::provider_name(&r.provider))
        })
        .collect();
    let providers = crate::registry::provider_set(names.iter().map(String::as_str), &ids);
    let prior = state.map(|s| prior_of(&s, &providers)).unwrap_or_default();
    if json {
        ctx.ui.out_document(&crate::view::json::state_json(&prior));
    } else if prior.instances.is_empty() && prior.outputs.is_empty() {
        ctx.ui.out("No state.\n");
    } else {
        ctx.ui.out(&crate::view::text::render_state(&prior));
    }
    0
}

pub fn graph(ctx: &Context, format: &str) -> u8 {
    use crate::graph::GraphFormat;
    let format = match GraphFormat::parse(format) {
        Ok(f) => f,
        Err(d) => {
            ctx.ui.diagnostics(&[d], &[]);
            return 1;
        }
    };
    let Some(loaded) = ctx.load_unresolved() else {
        return 1;
    };
    let g = crate::graph::ConfigGraph::build(&loaded.engine);
    let text = match format {
        GraphFormat::Dot => g.to_dot(&loaded.engine),
        GraphFormat::Mermaid => g.to_mermaid(&loaded.engine),
        GraphFormat::Text => match g.to_text(&loaded.engine) {
            Ok(t) => t,
            Err(d) => {
                ctx.ui.diagnostics(&[d], &loaded.config.files);
                return 1;
            }
        },
    };
    ctx.ui.out(&text);
    0
}

pub async fn import(ctx: &Context, addr: &str, id: &str) -> u8 {
    let Some(loaded) = ctx.load() else {
        return 1;
    };
    let Some(targets) = parse_targets(ctx, "import", &[addr.to_string()]) else {
        return 1;
    };
    let inst: InstanceAddr = match &targets[0] {
        Target::Instance(i) => i.clone(),
        Target::Resource(r) => r.instance(crate::plan::address::InstanceKey::None),
        Target::Module(m) => {
            ctx.ui.diagnostics(
                &[Diagnostic::error(
                    "brick::import::module_address",
                    "Import needs a resource address",
                    format!("{m} names a module; import needs one resource instance, such as {m}.brick_data.x."),
                )],
                &loaded.config.files,
            );
            return 1;
        }
    };
    let Some(rc) = loaded
        .engine
        .resources
        .iter()
        .find(|r| r.addr == inst.resource.config_addr())
    else {
        ctx.ui.diagnostics(
            &[Diagnostic::error("brick::import::no_config", "Import to non-existent resource address", format!("Before importing this resource, please create its configuration in the root module: {} is not declared.", inst.resource))
                .help(format!("Add a block like: resource \"{}\" \"{}\" {{ … }}", inst.resource.type_name, inst.resource.name))],
            &loaded.config.files,
        );
        return 1;
    };
    let schema = match loaded
        .providers
        .resource_schema(&rc.provider, &inst.resource)
    {
        Ok(s) => s.clone(),
        Err(d) => {
            ctx.ui.diagnostics(&[d], &loaded.config.files);
            return 1;
        }
    };
    let Some(provider) = loaded.providers.get(&rc.provider).cloned() else {
        return 1;
    };
    let Some(locked) = lock_and_load(ctx, "import", &loaded).await else {
        return 1;
    };
    if locked.state.object(&addr_to_state(&inst)).is_some() {
        ctx.ui.diagnostics(
            &[Diagnostic::error("brick::import::already_managed", "Resource already managed by brick", format!("brick is already managing a remote object for {inst}. To import to this address you must first remove the existing object from the state."))
                .help(format!("Run `brick state rm {inst}` first if this is intended."))],
            &[],
        );
        return 1;
    }
    // The provider as the configuration sets it up (its block may read variables and what
    // the state records), as a plan would.
    let values = crate::plan::scope::values_from_state(
        &loaded.engine,
        &prior_of(&locked.state, &loaded.providers),
    );
    // The instance must be one the configuration makes (Terraform: "Configuration for import
    // target does not exist"), or the next plan would destroy what was just imported. Checked
    // in the root module, where what count/for_each read is known from variables and state.
    if inst.resource.module.is_empty()
        && let Ok((_, keys)) = crate::plan::planner::expand_with(
            &rc.expansion,
            &values.view(""),
            &inst.resource.to_string(),
        )
        && !keys.iter().any(|(k, _)| *k == inst.key)
    {
        let declared: Vec<String> = keys
            .iter()
            .take(10)
            .map(|(k, _)| inst.resource.instance(k.clone()).to_string())
            .collect();
        ctx.ui.diagnostics(
            &[Diagnostic::error(
                "brick::import::no_instance",
                "Configuration for import target does not exist",
                format!(
                    "The configuration for the given import target {inst} does not exist. All target instances must have an associated configuration to be imported ({}).",
                    if declared.is_empty() {
                        "the configuration makes no instance of it now".to_string()
                    } else {
                        format!("it makes {}", declared.join(", "))
                    }
                ),
            )
            .help("Import into an instance the configuration declares: change count or for_each (or the key) first.")],
            &loaded.config.files,
        );
        let _ = locked.lock.release();
        return 1;
    }
    let diags = crate::statefile::configure_provider(
        &loaded.engine,
        &values,
        &loaded.providers,
        &rc.provider,
    )
    .await;
    if ctx.ui.diagnostics(&diags, &loaded.config.files) {
        let _ = locked.lock.release();
        return 1;
    }
    ctx.ui
        .out(&format!("{inst}: Importing from ID {id:?}...\n"));
    let found = match provider.import_resource(&inst.resource.type_name, id).await {
        Ok(f) => f,
        Err(ds) => {
            ctx.ui.diagnostics(
                &ds.into_iter().map(Diagnostic::from).collect::<Vec<_>>(),
                &[],
            );
            return 1;
        }
    };
    let Some(obj) = found
        .into_iter()
        .find(|f| f.type_name == inst.resource.type_name)
    else {
        ctx.ui
            .error_line("\nError: Import returned no object of the resource's type.");
        return 1;
    };
    let read = provider
        .read_resource(brick_provider_api::provider::ReadRequest {
            type_name: &inst.resource.type_name,
            current: &obj.state,
        })
        .await;
    let value = match read {
        Ok(Some(v)) => crate::plan::marks::mark_sensitive(&v, &schema.block),
        Ok(None) => {
            ctx.ui.diagnostics(
                &[Diagnostic::error("brick::import::missing", "Cannot import non-existent remote object", format!("While attempting to import an existing object to {inst}, the provider detected that no object exists with the given id."))
                    .help("Check the id and that the object exists.")],
                &[],
            );
            return 1;
        }
        Err(ds) => {
            ctx.ui.diagnostics(
                &ds.into_iter().map(Diagnostic::from).collect::<Vec<_>>(),
                &[],
            );
            return 1;
        }
    };
    let rec = Recorded {
        provider: rc.provider.clone(),
        value,
        depends_on: Vec::new(),
        schema_version: schema.version,
        tainted: false,
        create_before_destroy: false,
    };
    let mut state = locked.state;
    state.apply(&st::Change::Set {
        intent: None,
        addr: addr_to_state(&inst),
        deposed: None,
        provider: provider_addr(&rc.provider),
        object: object_to_state(&rec, &schema.block.value_type()),
    });
    state.serial += 1;
    if let Err(e) = ctx.store().save(&locked.lock, &state) {
        ctx.state_error(&e);
        return 1;
    }
    let _ = locked.lock.release();
    ctx.ui.out(&format!("{inst}: Import prepared!\n\n{}\n\nThe resources that were imported are shown above. These resources are now in\nyour brick state and will henceforth be managed by brick.\n", ctx.ui.style().green(&ctx.ui.style().bold("Import successful!"))));
    0
}
