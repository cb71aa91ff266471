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
use crate::plan::from_config::from_config;
use crate::plan::input::Configuration;
use crate::plan::model::PriorState;
use crate::plan::providers::ProviderSet;
use crate::view::lines::Clock;

/// The terminal.
#[derive(Clone, Copy)]
pub struct Ui {
    pub color: bool,
    pub stdout_tty: bool,
    pub stdin_tty: bool,
}

impl Ui {
    pub fn new(no_color: bool) -> Ui {
        let stdout_tty = std::io::stdout().is_terminal();
        Ui {
            color: !no_color && stdout_tty && std::env::var_os("NO_COLOR").is_none(),
            stdout_tty,
            stdin_tty: std::io::stdin().is_terminal(),
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

    /// Renders diagnostics on stderr, Terraform-style, with the source line; returns whether
    /// any is an error.
    pub fn diagnostics(&self, diags: &[Diagnostic], files: &[SourceFile]) -> bool {
        let style = self.style();
        let mut err = std::io::stderr().lock();
        for d in diags {
            let _ = writeln!(err, "{}", render_diagnostic(d, files, style));
        }
        crate::diag::has_errors(diags)
    }

    /// Asks for confirmation. Without a terminal, refuses with an error.
    pub fn confirm(&self, question: &str, explain: &str) -> Result<bool, String> {
        if !self.stdin_tty {
            return Err("No terminal to ask for confirmation on. Run with --auto-approve to apply without asking.".into());
        }
        self.out(&format!(
            "\n{}\n  {explain}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ",
            crate::view::text::Style { color: self.color }.bold(question)
        ));
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        Ok(line.trim() == "yes")
    }
}

/// Files, clock and randomness as functions see them.
pub struct RealEnvironment {
    pub cwd: PathBuf,
}

impl Environment for RealEnvironment {
    fn read_file(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.cwd.join(path))
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
}

/// Where [`Context::load_inner`] gets the root module's variables.
enum Variables<'a> {
    /// From `--var`, `--var-file`, the automatic variable files and the environment.
    Resolve(&'a [String], &'a [PathBuf]),
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
        }
    }

    pub fn env(&self) -> Arc<dyn Environment> {
        Arc::new(RealEnvironment {
            cwd: self.dir.clone(),
        })
    }

    pub fn store(&self) -> st::StateStore {
        st::StateStore::new(&self.state_path, env!("CARGO_PKG_VERSION"))
    }

    /// Loads and evaluates the configuration's inputs; diagnostics are rendered here.
    pub fn load(&self, vars: &[String], var_files: &[PathBuf]) -> Option<Loaded> {
        let mut loaded = self.load_with_syntax(vars, var_files)?;
        // The engine's `Configuration` holds its own copy of every expression; the syntax
        // tree is only needed by `console`. Dropping it here frees about a sixth of a large
        // plan's peak memory (3.7 KiB per resource) before the state is read and planned.
        loaded.config.root = crate::config::Module::default();
        Some(loaded)
    }

    /// [`Context::load`] keeping the configuration's syntax tree (`loaded.config.root`),
    /// for commands that evaluate new expressions against it (`console`).
    pub fn load_with_syntax(&self, vars: &[String], var_files: &[PathBuf]) -> Option<Loaded> {
        self.load_inner(Variables::Resolve(vars, var_files))
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

    fn load_inner(&self, variables: Variables<'_>) -> Option<Loaded> {
        let (config, diags) = crate::config::load(&RealFs, Path::new("."));
        let files = config.as_ref().map(|c| c.files.clone()).unwrap_or_default();
        if self.ui.diagnostics(&diags, &files) {
            return None;
        }
        let config = config?;
        let env = self.env();
        let (vars, var_files) = match variables {
            Variables::Resolve(vars, var_files) => (vars, var_files),
            Variables::Recorded(values) => {
                let (engine, diags) = from_config(&config, values, env);
                return self.finish(config, engine, diags);
            }
        };
        let mut inputs = eval::env_inputs(&std::env::vars().collect::<Vec<_>>());
        let mut diags = Vec::new();
        let mut auto: Vec<PathBuf> = Vec::new();
        if Path::new("brick.vars.hcl").is_file() {
            auto.push(PathBuf::from("brick.vars.hcl"));
        }
        if let Ok(rd) = std::fs::read_dir(".") {
            let mut more: Vec<PathBuf> = rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with(".auto.vars.hcl"))
                .collect();
            more.sort();
            auto.extend(more);
        }
        for (i, f) in auto.iter().chain(var_files).enumerate() {
            match std::fs::read_to_string(f) {
                Ok(text) => {
                    let (ins, d) =
                        eval::parse_vars_file(&text, config.files.len() + i, &f.to_string_lossy());
                    inputs.extend(ins);
                    diags.extend(d);
                }
                Err(e) => diags.push(Diagnostic::error(
                    "brick::cli::var_file",
                    "Failed to read variables file",
                    format!("Cannot read {}: {e}.", f.display()),
                )),
            }
        }
        for v in vars {
            match eval::parse_var_flag(v) {
                Ok(i) => inputs.push(i),
                Err(d) => diags.push(d),
            }
        }
        let (values, d) = eval::resolve_variables(&config.root.variables, &inputs, &*env);
        diags.extend(d);
        let (engine, d) = from_config(&config, values, env);
        diags.extend(d);
        self.finish(config, engine, diags)
    }

    fn finish(
        &self,
        config: crate::config::Config,
        engine: crate::plan::input::Configuration,
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

    /// Reports a state error on stderr.
    pub fn state_error(&self, e: &st::StateError) {
        use miette::Diagnostic as _;
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
}

/// Takes the lock and loads the state (a new empty one when there is none), settling any
/// intents an interrupted apply left behind.
pub async fn lock_and_load(
    ctx: &Context,
    operation: &str,
    providers: &ProviderSet,
) -> Option<LockedState> {
    // From here on an interruption is counted instead of ending brick while it holds the lock.
    let _ = super::interrupts::Interrupts::install();
    let store = ctx.store();
    let lock = match store.lock(operation) {
        Ok(l) => l,
        Err(e) => {
            ctx.state_error(&e);
            return None;
        }
    };
    let state = match store.load_locked(&lock) {
        Ok(Some(l)) => {
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
            ctx.state_error(&e);
            return None;
        }
    };
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
            let settle = super::statefile::reconcile_pending(&journal, providers);
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
    Some(LockedState { lock, state })
}

/// The state without a lock, for read-only commands (journal replayed in memory).
pub fn load_readonly(ctx: &Context) -> Result<Option<st::State>, ()> {
    match ctx.store().load() {
        Ok(l) => Ok(l.map(|l| l.state)),
        Err(e) => {
            ctx.state_error(&e);
            Err(())
        }
    }
}

pub fn prior_of(state: &st::State, providers: &ProviderSet) -> PriorState {
    super::statefile::prior_from_state(state, providers)
}

/// Variables as recorded in a saved plan.
pub fn decode_vars(
    v: &BTreeMap<String, serde_json::Value>,
) -> BTreeMap<String, brick_provider_api::Value> {
    v.iter()
        .filter_map(|(k, j)| crate::plan::codec::decode_exact(j).map(|x| (k.clone(), x)))
        .collect()
}

/// One diagnostic as text: `Error: summary`, the source line, the detail, the help line and
/// the code.
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
        let (line, _) = crate::diag::line_col(&f.text, span.start);
        let text = f.text.lines().nth(line - 1).unwrap_or("");
        out.push_str(&format!(
            "\n  on {} line {line}:\n  {line:>3}: {text}\n",
            f.path.display()
        ));
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
