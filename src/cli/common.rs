//! What every subcommand shares: the terminal (colour, prompts, rendering diagnostics), the
//! real environment and clock, and loading configuration, variables, providers and state.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use brick_state as st;

use crate::builtin::IdSource;
use crate::config::{Config, RealFs, SourceFile};
use crate::diag::Diagnostic;
use crate::eval::{self, Environment};
use crate::input::Configuration;
use crate::plan::from_config::from_config;
use crate::plan::model::PriorState;
use crate::plan::providers::ProviderSet;
use crate::view::lines::Clock;

/// The terminal.
#[derive(Clone, Copy)]
pub struct Ui {
    pub color: bool,
    pub stdout_tty: bool,
    pub stdin_tty: bool,
    /// Machine-readable output (`--json` of plan, apply, destroy, drift): diagnostics are
    /// JSON lines, as Terraform's `-json` UI prints them.
    pub json: JsonDiagnostics,
}

/// Where diagnostics go as JSON lines, if they do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonDiagnostics {
    /// Text on stderr.
    Off,
    /// On stdout, among the other lines of a streamed JSON UI (`apply --json`).
    Stdout,
    /// On stderr, when stdout holds one JSON document (`plan --json`, `drift --json`) that
    /// must stay parseable as a whole.
    Stderr,
}

impl Ui {
    pub fn new(no_color: bool) -> Ui {
        let stdout_tty = std::io::stdout().is_terminal();
        Ui {
            color: !no_color && stdout_tty && std::env::var_os("NO_COLOR").is_none(),
            stdout_tty,
            stdin_tty: std::io::stdin().is_terminal(),
            json: JsonDiagnostics::Off,
        }
    }
    pub fn style(&self) -> crate::view::text::Style {
        crate::view::text::Style { color: self.color }
    }
    pub fn error_line(&self, s: &str) {
        let _ = writeln!(std::io::stderr(), "{s}");
    }
    pub fn out(&self, s: &str) {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(s.as_bytes());
        let _ = o.flush();
    }

    /// Writes `v` on stdout as one line of compact JSON, streamed through a buffer: a large
    /// document (the JSON plan of thousands of instances) is never held as one string.
    pub fn out_json<T: serde::Serialize + ?Sized>(&self, v: &T) {
        let mut o = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
        let _ = serde_json::to_writer(&mut o, v);
        let _ = o.write_all(b"\n");
        let _ = o.flush();
    }

    /// Writes one JSON document that tools read in Terraform's shape (`plan --json`,
    /// `show --json`, `providers schema --json`, `output --json NAME`): pretty-printed when
    /// stdout is a terminal, where a person reads it; one line, as Terraform prints it, when
    /// piped or redirected. Streamed through a buffer like `out_json`.
    pub fn out_document<T: serde::Serialize + ?Sized>(&self, v: &T) {
        if !self.stdout_tty {
            return self.out_json(v);
        }
        let mut o = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
        let _ = serde_json::to_writer_pretty(&mut o, v);
        let _ = o.write_all(b"\n");
        let _ = o.flush();
    }

    /// Renders diagnostics on stderr, Terraform-style, with the source line (one problem met by
    /// several resources once, naming them); returns whether any is an error.
    pub fn diagnostics(&self, diags: &[Diagnostic], files: &[SourceFile]) -> bool {
        let merged = super::dedup::merge_repeated(diags);
        let diags = &merged[..];
        if self.json != JsonDiagnostics::Off {
            let now = SystemClock.now_rfc3339();
            for d in diags {
                let line = diagnostic_json(d, files, &now);
                if self.json == JsonDiagnostics::Stdout {
                    self.out_json(&line);
                } else {
                    let _ = writeln!(std::io::stderr(), "{line}");
                }
            }
            return crate::diag::has_errors(diags);
        }
        let style = self.style();
        let mut err = std::io::stderr().lock();
        for d in diags {
            let _ = writeln!(err, "{}", render_diagnostic(d, files, style));
        }
        crate::diag::has_errors(diags)
    }

    /// Asks for confirmation and reads the answer from stdin, a terminal or a pipe (`echo yes |
    /// brick apply`, as Terraform reads it); only `yes` approves. Stdin that ends without a
    /// line is an error unless it is a terminal (there, Ctrl-D cancels).
    pub fn confirm(&self, question: &str, explain: &str) -> Result<bool, String> {
        let answer = self.ask_line(
            question,
            &format!("{explain}\n  Only 'yes' will be accepted to approve."),
        )?;
        match answer {
            Some(line) => Ok(line.trim() == "yes"),
            None if self.stdin_tty => Ok(false),
            None => Err("No terminal to ask for confirmation on, and standard input ended without an answer. Run with --auto-approve to apply without asking, or give the answer on standard input (echo yes | brick apply).".into()),
        }
    }

    /// Prints `question` and `explain` and reads one line: whether it is `yes`.
    pub fn ask(&self, question: &str, explain: &str) -> Result<bool, String> {
        Ok(self
            .ask_line(question, explain)?
            .is_some_and(|l| l.trim() == "yes"))
    }

    /// Prints `question` and `explain` and reads one line; `None` when stdin ended first.
    fn ask_line(&self, question: &str, explain: &str) -> Result<Option<String>, String> {
        self.out(&format!(
            "\n{}\n  {explain}\n\n  Enter a value: ",
            crate::view::text::Style { color: self.color }.bold(question)
        ));
        let mut line = String::new();
        // One short line is an answer; a stream without newlines (/dev/zero) is not read on.
        let n = std::io::BufRead::read_line(
            &mut std::io::Read::take(std::io::stdin().lock(), 4096),
            &mut line,
        )
        .map_err(|e| e.to_string())?;
        if !self.stdin_tty {
            // The answer is not echoed by a terminal: end the prompt's line.
            self.out("\n");
        }
        Ok((n > 0).then_some(line))
    }
}

/// Files, clock and randomness as functions see them.
pub struct RealEnvironment {
    pub cwd: PathBuf,
}

impl Environment for RealEnvironment {
    /// Bounded: `file("/dev/zero")` is refused, not read until memory runs out.
    fn read_file(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        super::files::read_bounded(&self.cwd.join(path), super::files::MAX_FUNCTION_FILE_BYTES)
    }
    fn file_exists(&self, path: &Path) -> bool {
        self.cwd.join(path).is_file()
    }
    fn glob(&self, base: &Path, pattern: &str) -> std::io::Result<Vec<String>> {
        let base = self.cwd.join(base);
        let full = base.join(pattern);
        let mut out = Vec::new();
        for p in glob::glob(&full.to_string_lossy())
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .flatten()
        {
            if p.is_file()
                && let Ok(rel) = p.strip_prefix(&base)
            {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
        out.sort();
        Ok(out)
    }
    fn now(&self) -> (i64, u32) {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        (d.as_secs() as i64, d.subsec_nanos())
    }
    fn random_uuid(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }
    fn cwd(&self) -> PathBuf {
        self.cwd.clone()
    }
    fn home_dir(&self) -> Option<PathBuf> {
        std::env::var_os("HOME").map(PathBuf::from)
    }
}

pub struct SystemClock;
impl Clock for SystemClock {
    fn now_rfc3339(&self) -> String {
        time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default()
    }
}

/// What a command runs against.
pub struct Context {
    pub dir: PathBuf,
    pub state_path: PathBuf,
    pub ui: Ui,
    pub ids: IdSource,
    /// The command line's `--var` and `--var-file` options, in the order given.
    pub cli_vars: Vec<eval::CliVar>,
    /// The remote backend `brick init` recorded (`None`: the local state file); when set,
    /// `state_path` is its local working copy.
    pub remote: Option<Arc<brick_state_backends::Remote>>,
    /// The backend `brick init` recorded, once [`Context::attach_backend`] read it: loading
    /// refuses a configuration whose backend block differs (run `brick init` first).
    recorded_backend: Option<Option<brick_state_backends::BackendConfig>>,
    /// Told once loading has read every input file (configuration and variable files), so
    /// that [`load_and_lock`] takes the lock only then: an input that cannot be read (or
    /// never ends) is reported without a lock ever having been taken.
    inputs_read: std::sync::Mutex<Option<std::sync::mpsc::Sender<()>>>,
    /// Also receives the events of plans and applies (besides the command's view).
    pub observer: Option<Arc<dyn crate::event::EventSink>>,
    /// Encryption at rest of the state file (local, or a backend's working copy), its
    /// backup and journal, when the environment sets a key ([`super::backend::encryption`]).
    pub seal: Option<Arc<dyn st::Seal>>,
}

/// Where [`Context::load_inner`] gets the root module's variables.
enum Variables {
    /// From the command line's `--var`/`--var-file` ([`Context::cli_vars`]), the automatic
    /// variable files and the environment.
    Resolve,
    /// As [`Variables::Resolve`] without the command line, and a required variable that has
    /// no value is unknown instead of an error: for commands that need the configuration's
    /// shape, never its values (`init`, `graph`), as Terraform asks for no values there.
    Unresolved,
    /// The values a saved plan recorded.
    Recorded(BTreeMap<String, brick_provider_api::Value>),
}

/// A loaded configuration ready to plan.
pub struct Loaded {
    pub config: Config,
    pub engine: Configuration,
    pub providers: ProviderSet,
}

impl Context {
    pub fn new(state: Option<PathBuf>, ui: Ui) -> Context {
        let dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Context {
            state_path: state.unwrap_or_else(|| dir.join(st::DEFAULT_STATE_FILE)),
            dir,
            ui,
            ids: Arc::new(|| uuid::Uuid::new_v4().to_string()),
            cli_vars: Vec::new(),
            remote: None,
            recorded_backend: None,
            inputs_read: std::sync::Mutex::new(None),
            observer: None,
            seal: None,
        }
    }

    /// Points the state at the backend and workspace `brick init` and `brick workspace`
    /// recorded (unless `--state` names a file): a remote backend's working copy, or the
    /// local workspace's file. `false` after reporting why not.
    pub fn attach_backend(&mut self, explicit_state: bool) -> bool {
        match super::backend::encryption() {
            Ok(e) => self.seal = e.map(|e| Arc::new(e) as Arc<dyn st::Seal>),
            Err(e) => {
                super::backend::report(self, &e);
                return false;
            }
        }
        if explicit_state {
            return true;
        }
        let workspace = super::backend::workspace(&self.dir);
        let recorded = super::backend::recorded(&self.dir);
        if let Ok(r) = &recorded {
            self.recorded_backend = Some(r.clone());
        }
        match recorded {
            Ok(None) => {
                self.state_path = super::backend::local_state_path(&self.dir, &workspace);
                true
            }
            Ok(Some(config)) => match super::backend::remote(&self.dir, &config, &workspace) {
                Ok(remote) => {
                    self.state_path = remote.state_path();
                    self.remote = Some(Arc::new(remote));
                    true
                }
                Err(e) => {
                    super::backend::report(self, &e);
                    false
                }
            },
            Err(e) => {
                self.ui.error_line(&format!("\nError: {e}"));
                false
            }
        }
    }

    /// Says that every input file has been read (see [`Context::inputs_read`]).
    fn inputs_are_read(&self) {
        if let Some(tx) = self.inputs_read.lock().ok().and_then(|mut t| t.take()) {
            let _ = tx.send(());
        }
    }

    pub fn env(&self) -> Arc<dyn Environment> {
        Arc::new(RealEnvironment {
            cwd: self.dir.clone(),
        })
    }

    pub fn store(&self) -> st::StateStore {
        st::StateStore::new(&self.state_path, env!("CARGO_PKG_VERSION"))
            .with_seal(self.seal.clone())
    }

    /// Loads and evaluates the configuration's inputs (variables from the command line, the
    /// variable files and the environment); diagnostics are rendered here.
    pub fn load(&self) -> Option<Loaded> {
        let mut loaded = self.load_with_syntax()?;
        // The engine's `Configuration` holds its own copy of every expression; the syntax
        // tree is only needed by `console`. Dropping it here frees about a sixth of a large
        // plan's peak memory (3.7 KiB per resource) before the state is read and planned.
        loaded.config.root = crate::config::Module::default();
        Some(loaded)
    }

    /// [`Context::load`] keeping the configuration's syntax tree (`loaded.config.root`),
    /// for commands that evaluate new expressions against it (`console`).
    pub fn load_with_syntax(&self) -> Option<Loaded> {
        self.load_inner(Variables::Resolve)
    }

    /// [`Context::load`] for commands that need no variable values (`init`, `graph`): a
    /// required variable without a value is unknown rather than an error.
    pub fn load_unresolved(&self) -> Option<Loaded> {
        let mut loaded = self.load_inner(Variables::Unresolved)?;
        loaded.config.root = crate::config::Module::default();
        Some(loaded)
    }

    /// [`Context::load_unresolved`] keeping the configuration's syntax tree (`init` reads
    /// its provider blocks).
    pub fn load_unresolved_with_syntax(&self) -> Option<Loaded> {
        self.load_inner(Variables::Unresolved)
    }

    /// [`Context::load`] for applying a saved plan: the root variables are the values the plan
    /// recorded, so nothing is read from `--var`, variable files or the environment (as
    /// Terraform, which uses a saved plan's variables and takes no others).
    pub fn load_with_values(
        &self,
        values: BTreeMap<String, brick_provider_api::Value>,
    ) -> Option<Loaded> {
        let mut loaded = self.load_inner(Variables::Recorded(values))?;
        loaded.config.root = crate::config::Module::default();
        Some(loaded)
    }

    /// [`Context::load`] for `plan --generate-config-out`: an import block whose target has
    /// no resource block is not an error (its configuration is what gets generated).
    pub fn load_generating(&self) -> Option<Loaded> {
        let mut loaded = self.load_inner_with(Variables::Resolve, true)?;
        loaded.config.root = crate::config::Module::default();
        Some(loaded)
    }

    fn load_inner(&self, variables: Variables) -> Option<Loaded> {
        self.load_inner_with(variables, false)
    }

    fn load_inner_with(&self, variables: Variables, generating: bool) -> Option<Loaded> {
        let (config, mut diags) =
            crate::config::load(&RealFs, &crate::eval::Constants, Path::new("."));
        let lenient = matches!(variables, Variables::Unresolved);
        if lenient && let Some(c) = &config {
            // The offline checks below hold this for the other commands.
            diags.extend(crate::validate::version_problems(c));
        }
        if let (Some(c), Some(recorded)) = (&config, &self.recorded_backend) {
            diags.extend(super::backend::check_recorded(c, recorded.as_ref()));
        }
        let files = config.as_ref().map(|c| c.files.clone()).unwrap_or_default();
        if self.ui.diagnostics(&diags, &files) {
            return None;
        }
        let mut config = config?;
        // What `brick validate` finds stops the commands that plan, as Terraform validates
        // before it plans (an undeclared name gets its "did you mean", a required_version
        // the running brick does not satisfy is refused). `init` and `graph` only need the
        // configuration's shape, as in Terraform. The checks only read the configuration,
        // so they run beside the building of planning's input.
        let (checked, (engine, diags, files)) = std::thread::scope(|s| {
            let checks = (!lenient).then(|| {
                s.spawn(|| crate::validate::check_offline(&config, &self.ids, &*self.env()))
            });
            let built = self.engine_input(&config, variables);
            let checked = checks
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .unwrap_or_default();
            (checked, built)
        });
        let mut checked = checked;
        if generating {
            checked.retain(|d| d.summary != "Import block target does not exist");
        }
        if self.ui.diagnostics(&checked, &config.files) {
            return None;
        }
        config.files = files;
        self.finish(config, engine, diags)
    }

    /// Planning's input from the configuration and the root module's variables (as
    /// `variables` says), with its diagnostics and the source files to show them with
    /// (variable files come after the configuration's own).
    fn engine_input(
        &self,
        config: &crate::config::Config,
        variables: Variables,
    ) -> (
        crate::input::Configuration,
        Vec<Diagnostic>,
        Vec<SourceFile>,
    ) {
        let env = self.env();
        let lenient = matches!(variables, Variables::Unresolved);
        let cli: &[eval::CliVar] = match variables {
            Variables::Resolve => &self.cli_vars,
            Variables::Unresolved => &[],
            Variables::Recorded(values) => {
                let (engine, diags) = from_config(config, values, env);
                return (engine, diags, config.files.clone());
            }
        };
        // Variable files are numbered after the configuration's files, so diagnostics can
        // point into them; they join `config.files` only after planning's input is built
        // (the configuration's digest covers the configuration alone).
        let mut files = config.files.clone();
        let environment = std::env::vars().collect::<Vec<_>>();
        let (inputs, mut diags) =
            eval::gather_inputs(&RealFs, Path::new("."), &environment, cli, &mut files);
        diags.extend(eval::terraform_source_warnings(
            &RealFs,
            Path::new("."),
            &environment,
            config.root.variables.keys().map(String::as_str),
        ));
        self.inputs_are_read();
        let (mut values, d) = eval::resolve_variables(&config.root.variables, &inputs, &*env);
        if lenient {
            for (name, var) in &config.root.variables {
                values.entry(name.clone()).or_insert_with(|| {
                    brick_provider_api::Value::unknown(var.constraint().to_type())
                });
            }
            diags.extend(d.into_iter().filter(|d| d.code != "brick::vars::missing"));
        } else {
            diags.extend(d);
        }
        let (engine, d) = from_config(config, values, env);
        diags.extend(d);
        (engine, diags, files)
    }

    fn finish(
        &self,
        config: crate::config::Config,
        engine: crate::input::Configuration,
        diags: Vec<Diagnostic>,
    ) -> Option<Loaded> {
        if self.ui.diagnostics(&diags, &config.files) {
            return None;
        }
        let names: Vec<String> = engine
            .resources
            .iter()
            .map(|r| r.provider.clone())
            .chain(engine.providers.iter().map(|p| p.name.clone()))
            .collect();
        let providers = crate::registry::provider_set(names.iter().map(String::as_str), &self.ids);
        Some(Loaded {
            config,
            engine,
            providers,
        })
    }

    /// Takes the state's lock for `operation`, reporting why not; says so when it took over
    /// the stale lock of a process of this host that no longer runs (kill -9, a crash).
    pub fn lock_state(&self, store: &st::StateStore, operation: &str) -> Option<st::StateLock> {
        if let Some(remote) = &self.remote {
            return super::backend::lock_remote(self, remote, store, operation);
        }
        match store.lock(operation) {
            Ok(lock) => {
                if let Some(old) = lock.taken_over() {
                    self.ui.diagnostics(
                        &[Diagnostic::warning(
                            "brick::state::stale_lock_taken_over",
                            "Took over a stale lock",
                            format!(
                                "The state was locked by process {} on this host ({} by {}, since {}), which no longer runs; brick took the lock over. What an interrupted apply recorded in its journal is settled now.",
                                old.pid, old.operation, old.user, old.created
                            ),
                        )],
                        &[],
                    );
                }
                Some(lock)
            }
            Err(e) => {
                self.state_error(&e);
                None
            }
        }
    }

    /// Reports a state error on stderr.
    pub fn state_error(&self, e: &st::StateError) {
        use miette::Diagnostic as _;
        if self.ui.json != JsonDiagnostics::Off {
            let code = e
                .code()
                .map_or_else(|| "brick::state::error".to_string(), |c| c.to_string());
            let mut d = Diagnostic::error(code, "State error", e.to_string());
            if let Some(h) = e.help() {
                d = d.help(h.to_string());
            }
            self.ui.diagnostics(&[d], &[]);
            return;
        }
        let style = self.ui.style();
        let mut out = format!("\n{} {e}\n", style.red(&style.bold("Error:")));
        if let Some(h) = e.help() {
            out.push_str(&format!("\nHelp: {h}\n"));
        }
        if let Some(c) = e.code() {
            out.push_str(&format!("({c})\n"));
        }
        self.ui.error_line(out.trim_end_matches('\n'));
    }
}

/// The state under lock, with interrupted applies reconciled.
pub struct LockedState {
    pub lock: st::StateLock,
    pub state: st::State,
    /// The engine's view of `state`, when it was made while the configuration loaded
    /// (see [`load_and_lock`]); take it rather than converting `state` again.
    pub prior: Option<PriorState>,
}

/// Takes the lock and loads the state (a new empty one when there is none), settling any
/// intents an interrupted apply left behind.
pub async fn lock_and_load(ctx: &Context, operation: &str, loaded: &Loaded) -> Option<LockedState> {
    // From here on an interruption is counted instead of ending brick while it holds the lock.
    let _ = super::interrupts::Interrupts::install();
    let (lock, state) = lock_and_read(ctx, operation)?;
    settle(ctx, operation, lock, state, loaded).await
}

/// Loads the configuration (with `load`) and reads the state, side by side: reading and
/// converting a large state does not depend on the configuration, so on two cores it costs
/// no time of its own. A local state is read from the start, before the lock, and kept under
/// the lock only if its file did not change meanwhile (else read again); the lock is taken
/// once the inputs are read. Then settles an interrupted apply's journal as
/// [`lock_and_load`] does. Either failing releases the lock and reports it.
pub async fn load_and_lock(
    ctx: &Context,
    operation: &str,
    load: impl FnOnce() -> Option<Loaded> + Send,
) -> Option<(Loaded, LockedState)> {
    let _ = super::interrupts::Interrupts::install();
    let (tx, inputs_read) = std::sync::mpsc::channel();
    if let Ok(mut slot) = ctx.inputs_read.lock() {
        *slot = Some(tx);
    }
    let (loaded, read, early_prior) = std::thread::scope(|s| {
        let loading = s.spawn(|| {
            let loaded = load();
            ctx.inputs_are_read();
            loaded
        });
        // The snapshot is parsed and converted beside the configuration's parsing, before the
        // lock (a local state only); used under the lock only if the file did not change.
        let early = ctx.remote.is_none().then(|| s.spawn(|| preread(ctx)));
        // The lock is taken once the inputs are read (or loading ended early), never while
        // an input is still being read: evaluating them overlaps reading the state.
        let _ = inputs_read.recv();
        let early = early.and_then(|e| e.join().ok().flatten());
        let (pre, prior) = match early {
            Some((pre, prior)) => (Some(pre), Some(prior)),
            None => (None, None),
        };
        let read = lock_and_read_preread(ctx, operation, pre);
        let loaded = loading
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        let prior = match &read {
            Some((_, _, true)) => prior,
            _ => None,
        };
        (loaded, read, prior)
    });
    let (lock, state, _) = read?;
    let Some(mut loaded) = loaded else {
        let _ = lock.release();
        return None;
    };
    // Objects left only in state (their blocks removed) are destroyed by their provider even
    // when the configuration no longer names it, as Terraform does.
    let recorded = state
        .resources
        .values()
        .map(|r| crate::statefile::provider_name(&r.provider));
    crate::registry::add_missing(&mut loaded.providers, recorded, &ctx.ids);
    // Settling an interrupted apply's intents changes the state: the early prior is then
    // made again from what was settled.
    let early_prior = early_prior.filter(|_| state.pending.is_empty());
    let mut locked = settle(ctx, operation, lock, state, &loaded).await?;
    locked.prior = early_prior;
    Some((loaded, locked))
}

/// The local snapshot read without the lock and its engine view (made with the providers
/// its objects name, whose schemas are those of the configuration's providers of the same
/// names), for [`load_and_lock`].
fn preread(ctx: &Context) -> Option<(st::Preread, PriorState)> {
    let pre = ctx.store().preread()?;
    let names: Vec<String> = pre
        .state
        .resources
        .values()
        .map(|r| crate::statefile::provider_name(&r.provider))
        .collect();
    let providers = crate::registry::provider_set(names.iter().map(String::as_str), &ctx.ids);
    let prior = prior_of(&pre.state, &providers);
    Some((pre, prior))
}

/// Takes the state's lock and reads the state (a new empty one when there is none), saying
/// when an interrupted apply's journal was replayed.
fn lock_and_read(ctx: &Context, operation: &str) -> Option<(st::StateLock, st::State)> {
    lock_and_read_preread(ctx, operation, None).map(|(lock, state, _)| (lock, state))
}

/// [`lock_and_read`] with a snapshot read before the lock; true when it was used.
fn lock_and_read_preread(
    ctx: &Context,
    operation: &str,
    pre: Option<st::Preread>,
) -> Option<(st::StateLock, st::State, bool)> {
    let store = ctx.store();
    if let Some(parent) = ctx.state_path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let lock = ctx.lock_state(&store, operation)?;
    let mut used = false;
    let state = match store.load_locked_preread(&lock, pre) {
        Ok(Some(l)) => {
            used = l.from_preread;
            if let Some(r) = &l.replay
                && r.records > 0
            {
                ctx.ui.error_line(&format!(
                    "Recovered {} change(s) from an interrupted apply.",
                    r.records
                ));
            }
            l.state
        }
        Ok(None) => st::State::new(env!("CARGO_PKG_VERSION")),
        Err(e) => {
            let _ = lock.release();
            ctx.state_error(&e);
            return None;
        }
    };
    Some((lock, state, used))
}

/// Settles the intents an interrupted apply left in the journal of `state` (read under
/// `lock`), asking the configuration's providers.
async fn settle(
    ctx: &Context,
    operation: &str,
    lock: st::StateLock,
    state: st::State,
    loaded: &Loaded,
) -> Option<LockedState> {
    let providers = &loaded.providers;
    let store = ctx.store();
    let state = if state.pending.is_empty() {
        state
    } else {
        let journal = match store.begin_apply(&lock, state) {
            Ok(j) => j,
            Err(e) => {
                ctx.state_error(&e);
                return None;
            }
        };
        // Ctrl-C while settling must not kill brick half-way (the default action): the first
        // one lets the settling finish and then stops; a second stops asking providers at
        // once. Either way what was settled is folded into the state, the rest stays in the
        // journal for the next run, and the lock is released.
        let mut interrupts = super::interrupts::Interrupts::install();
        let mut can_interrupt = true;
        let mut interrupted = false;
        let notes = {
            let settle = crate::statefile::reconcile_pending(&journal, providers, &loaded.engine);
            tokio::pin!(settle);
            loop {
                tokio::select! {
                    notes = &mut settle => break Some(notes),
                    got = interrupts.next(), if can_interrupt => {
                        if !got {
                            can_interrupt = false;
                        } else if interrupted {
                            ctx.ui.error_line(
                                "Second interrupt: stopped settling; the unsettled changes stay in the journal for the next run.",
                            );
                            break None;
                        } else {
                            interrupted = true;
                            ctx.ui.error_line(
                                "Interrupt received: settling the interrupted apply's changes first, then stopping. Interrupt again to stop at once.",
                            );
                        }
                    }
                }
            }
        };
        for note in notes.iter().flatten() {
            ctx.ui.error_line(note);
        }
        let state = match journal.finish() {
            Ok(s) => s,
            Err(e) => {
                ctx.state_error(&e);
                return None;
            }
        };
        if interrupted {
            let _ = lock.release();
            ctx.ui.error_line(&format!(
                "\nError: {operation} interrupted; nothing was started."
            ));
            return None;
        }
        state
    };
    Some(LockedState {
        lock,
        state,
        prior: None,
    })
}

/// The state without a lock, for read-only commands (journal replayed in memory).
pub fn load_readonly(ctx: &Context) -> Result<Option<st::State>, ()> {
    if let Some(remote) = &ctx.remote {
        return super::backend::load_remote(ctx, remote);
    }
    match ctx.store().load() {
        Ok(l) => Ok(l.map(|l| l.state)),
        Err(e) => {
            ctx.state_error(&e);
            Err(())
        }
    }
}

pub fn prior_of(state: &st::State, providers: &ProviderSet) -> PriorState {
    crate::statefile::prior_from_state(state, providers)
}

/// Variables as recorded in a saved plan; `Err` names the first that cannot be decoded (the
/// plan file is then invalid: a variable must never silently fall back to its default).
pub fn decode_vars(
    v: &BTreeMap<String, serde_json::Value>,
) -> Result<BTreeMap<String, brick_provider_api::Value>, String> {
    v.iter()
        .map(|(k, j)| {
            crate::plan::codec::decode_exact(j)
                .map(|x| (k.clone(), x))
                .ok_or_else(|| k.clone())
        })
        .collect()
}

/// One diagnostic as a line of Terraform's machine-readable UI (`type: diagnostic`), with the
/// source range when it has one.
pub fn diagnostic_json(d: &Diagnostic, files: &[SourceFile], timestamp: &str) -> serde_json::Value {
    let (level, word) = if d.is_error() {
        ("error", "Error")
    } else {
        ("warn", "Warning")
    };
    let diag = d.to_json(files);
    serde_json::json!({
        "@level": level,
        "@message": format!("{word}: {}", d.summary),
        "@module": "brick.ui",
        "@timestamp": timestamp,
        "diagnostic": diag,
        "type": "diagnostic",
    })
}

/// Where a diagnostic is, as Terraform shows it: `on main.hcl line 5, in resource "brick_data"
/// "a":` and the source lines of its range, numbered, the range underlined on a colour
/// terminal; under them, when the diagnostic has a label, carets under the range and the label.
fn source_snippet(
    d: &Diagnostic,
    span: crate::config::Span,
    f: &SourceFile,
    style: crate::view::text::Style,
) -> String {
    let text: &str = &f.text;
    let start = span.start.min(text.len());
    let end = span.end.min(text.len()).max(start);
    let (first, col) = crate::diag::line_col(text, start);
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let context = crate::diag::block_context(text, line_start)
        .map(|c| format!(", in {c}"))
        .unwrap_or_default();
    let mut out = format!(
        "\n  on {} line {first}{context}:\n",
        crate::diag::display_name(f)
    );
    // Every line the range touches (its last byte is `end - 1`), up to five; the label's
    // carets go under the first.
    let last = end.saturating_sub(1).max(start);
    let mut offset = line_start;
    for (n, line) in text[line_start..].split('\n').enumerate().take(5) {
        let line_end = offset + line.len();
        let (a, b) = (start.max(offset), end.min(line_end));
        let shown = if style.color && a < b {
            format!(
                "{}\x1b[4m{}\x1b[0m{}",
                &line[..a - offset],
                &line[a - offset..b - offset],
                &line[b - offset..]
            )
        } else {
            line.to_string()
        };
        out.push_str(&format!("  {:>3}: {shown}\n", first + n));
        if n == 0
            && let Some(label) = &d.label
        {
            let width = text[start..end.min(line_end).max(start)]
                .chars()
                .count()
                .max(1);
            out.push_str(&format!(
                "  {}{} {label}\n",
                " ".repeat(5 + col - 1),
                "^".repeat(width)
            ));
        }
        if line_end >= last {
            break;
        }
        offset = line_end + 1;
    }
    out
}

/// One diagnostic as text: `Error: summary`, where it is, the detail, the help line and the
/// code.
pub fn render_diagnostic(
    d: &Diagnostic,
    files: &[SourceFile],
    style: crate::view::text::Style,
) -> String {
    let mut out = String::new();
    let head = if d.is_error() {
        style.red(&style.bold("Error:"))
    } else {
        style.yellow(&style.bold("Warning:"))
    };
    out.push_str(&format!("\n{head} {}\n", style.bold(&d.summary)));
    if let Some(span) = d.span
        && let Some(f) = files.get(span.file)
    {
        out.push_str(&source_snippet(d, span, f, style));
    }
    if !d.detail.is_empty() {
        out.push_str(&format!("\n{}\n", d.detail));
    }
    if let Some(h) = &d.help {
        out.push_str(&format!("\nHelp: {h}\n"));
    }
    out.push_str(&format!("({})\n", d.code));
    out
}

/// Renders diagnostics to stderr as every command does (`common::render_diagnostic`), in
/// colour when stderr is a terminal and `NO_COLOR` is not set: for `console` and `fmt`, which
/// run without a command context.
pub fn render(diags: &[Diagnostic], files: &[crate::config::SourceFile]) {
    use std::io::IsTerminal;
    let style = crate::view::text::Style {
        color: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    for d in diags {
        eprint!("{}", render_diagnostic(d, files, style));
    }
}
