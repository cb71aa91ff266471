//! The command line: the only module that reads argv, the environment or prints.
//!
//! Each subcommand loads what it needs (configuration, state, providers), calls the engine,
//! and hands the result to a view. Exit codes: 0 success, 1 error, 2 changes present (with
//! `--detailed-exitcode`).

mod backend;
mod common;
pub mod console;
mod dedup;
mod files;
pub mod fmt;
mod genconfig;
mod interrupts;
pub mod lab;
pub mod providers_cmd;
mod run;
mod state_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::eval::CliVar;

pub use common::{JsonDiagnostics, Ui};

#[derive(Parser, Debug)]
#[command(
    name = "brick",
    version,
    about = "A declarative desired-state engine for small on-prem clusters"
)]
pub struct Cli {
    /// Switch to DIR before doing anything else.
    #[arg(short = 'C', long = "chdir", global = true, value_name = "DIR")]
    pub chdir: Option<PathBuf>,
    /// The state file (default: brick.state.json beside the configuration).
    #[arg(long, global = true, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// Do not use colour in the output.
    #[arg(long = "no-color", global = true)]
    pub no_color: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone, Default)]
pub struct PlanArgs {
    /// Plan to destroy every object in the state.
    #[arg(long)]
    pub destroy: bool,
    /// Refresh objects before planning (`--refresh=false` skips it).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub refresh: bool,
    /// Only record what changed outside of brick; change nothing real.
    #[arg(long = "refresh-only")]
    pub refresh_only: bool,
    /// Limit the plan to ADDR and what it depends on (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub target: Vec<String>,
    /// Leave ADDR and what depends on it out of the plan (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub exclude: Vec<String>,
    /// Replace ADDR even if nothing about it changed (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub replace: Vec<String>,
    // Loading reads `--var` and `--var-file` from `Context::cli_vars`, which keeps their
    // command-line order; these two fields only say whether any was given.
    /// Set a variable: NAME=VALUE (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Read variables from FILE (repeatable).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
    /// How many operations may run at once (an operation is a request: creates a provider
    /// sends together as one request count once).
    #[arg(long, default_value_t = 10)]
    pub parallelism: usize,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Prepare the working directory: check the configuration and the providers it needs,
    /// and configure the state's backend (proving a remote store honours conditional writes).
    Init {
        /// Copy the state of every workspace from the previous backend to the configured one
        /// (serial and lineage kept; refused when the target holds another lineage).
        #[arg(long = "migrate-state")]
        migrate_state: bool,
        /// Use the configured backend without copying any state to it.
        #[arg(long)]
        reconfigure: bool,
    },
    /// Workspaces: several states of one configuration (`list`, `show`, `new NAME`,
    /// `select NAME`, `delete NAME`).
    Workspace {
        #[arg(value_parser = ["list", "show", "new", "select", "delete"])]
        action: String,
        name: Option<String>,
    },
    /// Check the configuration without touching state or real objects.
    Validate {
        #[arg(long)]
        json: bool,
    },
    /// Rewrite configuration files in the canonical style.
    Fmt {
        /// Files or directories (default: the current directory).
        paths: Vec<PathBuf>,
        /// Only check; exit 3 when a file would change.
        #[arg(long)]
        check: bool,
        /// Show the changes as a diff.
        #[arg(long)]
        diff: bool,
    },
    /// Evaluate expressions interactively against the configuration and state.
    Console {
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        #[arg(long = "var-file", value_name = "FILE")]
        var_files: Vec<PathBuf>,
    },
    /// Show what apply would change.
    Plan {
        #[command(flatten)]
        args: PlanArgs,
        /// Save the plan to FILE for `brick apply FILE`.
        #[arg(long = "out", value_name = "FILE")]
        out: Option<PathBuf>,
        /// Exit 2 when there are changes, deferred ones included (for --refresh-only: when drift
        /// was found).
        #[arg(long = "detailed-exitcode")]
        detailed_exitcode: bool,
        /// Write `resource` blocks for import blocks without one into FILE (a new file), then
        /// plan with them.
        #[arg(long = "generate-config-out", value_name = "FILE")]
        generate_config_out: Option<PathBuf>,
    },
    /// Check whether real objects changed outside of brick (for CI): refreshes every object
    /// and compares it with the state, changing nothing, not even the state, and without the
    /// state's lock. Says separately whether the configuration has pending changes. Exit 0:
    /// no drift; 2: drift (or pending changes, with --count-pending); 1: error.
    Drift {
        /// Only check ADDR and what it depends on (repeatable).
        #[arg(long, value_name = "ADDR")]
        target: Vec<String>,
        /// Leave ADDR and what depends on it out of the check (repeatable).
        #[arg(long, value_name = "ADDR")]
        exclude: Vec<String>,
        /// Set a variable: NAME=VALUE (repeatable).
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// Read variables from FILE (repeatable).
        #[arg(long = "var-file", value_name = "FILE")]
        var_files: Vec<PathBuf>,
        /// How many objects may be refreshed at once.
        #[arg(long, default_value_t = 10)]
        parallelism: usize,
        /// The report's format: text, json (versioned, see schemas/drift-report.schema.json)
        /// or markdown (for a pull-request comment or $GITHUB_STEP_SUMMARY).
        #[arg(long, value_enum, default_value = "text", conflicts_with = "json")]
        format: run::DriftFormat,
        /// Same as --format json.
        #[arg(long)]
        json: bool,
        /// Pending configuration changes make the exit code 2 too (by default only drift does).
        #[arg(long = "count-pending")]
        count_pending: bool,
    },
    /// Make the real objects match the configuration (or apply a saved plan).
    Apply {
        #[command(flatten)]
        args: PlanArgs,
        /// Skip the confirmation.
        #[arg(long = "auto-approve")]
        auto_approve: bool,
        /// A plan saved by `brick plan --out`.
        plan_file: Option<PathBuf>,
    },
    /// Destroy every object brick manages here.
    Destroy {
        #[command(flatten)]
        args: PlanArgs,
        #[arg(long = "auto-approve")]
        auto_approve: bool,
    },
    /// Show the state, or a saved plan.
    Show {
        #[arg(long)]
        json: bool,
        plan_file: Option<PathBuf>,
    },
    /// Show output values.
    Output {
        name: Option<String>,
        #[arg(long)]
        json: bool,
        /// Print a string value without quotes.
        #[arg(long)]
        raw: bool,
    },
    /// Print the dependency graph: DOT (default), Mermaid or text.
    Graph {
        /// dot (Graphviz, as `terraform graph`), mermaid (a flowchart GitHub renders in
        /// Markdown) or text (the order of application, with what each object reads).
        #[arg(long, default_value = "dot")]
        format: String,
    },
    /// Inspect or change the state.
    #[command(subcommand)]
    State(StateCommand),
    /// Bring an existing object under brick's management.
    Import {
        addr: String,
        id: String,
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        #[arg(long = "var-file", value_name = "FILE")]
        var_files: Vec<PathBuf>,
    },
    /// Remove a lock left behind by a brick that no longer runs.
    #[command(name = "force-unlock")]
    ForceUnlock {
        id: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        force: bool,
        /// Remove the lock even though its holder still runs on this host (that brick then
        /// works on a state others may change under it).
        #[arg(long = "even-if-running")]
        even_if_running: bool,
    },
    /// Print the version.
    Version {
        #[arg(long)]
        json: bool,
    },
    /// Print shell completions.
    Completions { shell: clap_complete::Shell },
    /// The embedded MAAS lab: `serve` a simulator, or run the garage `demo` on one.
    #[command(subcommand)]
    Lab(lab::LabCommand),
    /// The providers' schemas: `schema --json` (Terraform's format) or Markdown `docs`.
    #[command(subcommand)]
    Providers(providers_cmd::ProvidersCommand),
}

#[derive(Subcommand, Debug)]
pub enum StateCommand {
    /// List the resource instances in the state.
    List { addrs: Vec<String> },
    /// Show one instance.
    Show { addr: String },
    /// Move an instance or resource to another address.
    Mv { source: String, destination: String },
    /// Forget instances (the real objects stay).
    Rm {
        #[arg(required = true)]
        addrs: Vec<String>,
    },
    /// Print the state file.
    Pull,
    /// Replace the state with FILE.
    Push {
        file: PathBuf,
        #[arg(long)]
        force: bool,
    },
}

/// Parses argv. Help and version are printed and exit 0; any other usage error is printed and
/// exits 1 (as Terraform: exit 2 means "changes present" with `--detailed-exitcode`, so a
/// typo must never look like it).
fn parse_args() -> Result<(Cli, Vec<CliVar>), u8> {
    let command = Cli::command();
    let argv = terraform_spellings(std::env::args_os().collect(), &command);
    let parsed = command
        .try_get_matches_from(argv)
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    match parsed {
        Ok((cli, m)) => {
            let vars = m
                .subcommand()
                .map(|(_, sub)| cli_vars_in_order(sub))
                .unwrap_or_default();
            Ok((cli, vars))
        }
        Err(e) => {
            let _ = e.print();
            Err(if e.use_stderr() { 1 } else { 0 })
        }
    }
}

/// Terraform's single-dash spellings of long options (`-auto-approve`, `-out=FILE`,
/// `-var 'a=b'`, `-chdir=DIR`) become brick's double-dash ones. Only an argument that names a
/// long option brick has is rewritten, never the value of an option given as the next
/// argument (`--var -x=1` keeps `-x=1`), and nothing after `--`.
pub fn terraform_spellings(
    argv: Vec<std::ffi::OsString>,
    command: &clap::Command,
) -> Vec<std::ffi::OsString> {
    // Every long option of every subcommand, and whether it takes its value as the next
    // argument.
    fn collect(c: &clap::Command, out: &mut std::collections::BTreeMap<String, bool>) {
        for a in c.get_arguments() {
            if let Some(long) = a.get_long() {
                let separate = a.get_action().takes_values()
                    && !a.is_require_equals_set()
                    && a.get_num_args().is_none_or(|n| n.min_values() > 0);
                out.insert(long.to_string(), separate);
            }
        }
        for sub in c.get_subcommands() {
            collect(sub, out);
        }
    }
    let mut longs = std::collections::BTreeMap::new();
    collect(command, &mut longs);
    longs.insert("help".into(), false);
    longs.insert("version".into(), false);
    let mut out = Vec::with_capacity(argv.len());
    let mut value_next = false;
    let mut rest = false;
    for (i, arg) in argv.into_iter().enumerate() {
        if i == 0 || rest || std::mem::take(&mut value_next) {
            out.push(arg);
            continue;
        }
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            rest = true;
            out.push(arg);
            continue;
        }
        let long = text
            .strip_prefix("--")
            .or_else(|| text.strip_prefix('-'))
            .filter(|_| text.starts_with('-'));
        let Some(long) = long else {
            out.push(arg);
            continue;
        };
        let (name, has_value) = match long.split_once('=') {
            Some((n, _)) => (n, true),
            None => (long, false),
        };
        match longs.get(name) {
            Some(&separate) if name.len() > 1 => {
                value_next = separate && !has_value;
                if text.starts_with("--") {
                    out.push(arg);
                } else {
                    out.push(format!("-{text}").into());
                }
            }
            _ => out.push(arg),
        }
    }
    out
}

/// Every `--var` and `--var-file` of a subcommand, in the order they were given: a later one
/// overrides an earlier one (Terraform's rule), whichever kind each is.
fn cli_vars_in_order(m: &ArgMatches) -> Vec<CliVar> {
    let present = |id: &str| m.ids().any(|i| i.as_str() == id);
    let mut all: Vec<(usize, CliVar)> = Vec::new();
    if present("vars")
        && let (Some(ix), Ok(Some(vals))) = (m.indices_of("vars"), m.try_get_many::<String>("vars"))
    {
        all.extend(ix.zip(vals.map(|v| CliVar::Var(v.clone()))));
    }
    if present("var_files")
        && let (Some(ix), Ok(Some(vals))) = (
            m.indices_of("var_files"),
            m.try_get_many::<PathBuf>("var_files"),
        )
    {
        all.extend(ix.zip(vals.map(|v| CliVar::File(v.clone()))));
    }
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, v)| v).collect()
}

pub fn main() -> ExitCode {
    let (cli, cli_vars) = match parse_args() {
        Ok(x) => x,
        Err(code) => return ExitCode::from(code),
    };
    let mut ui = Ui::new(cli.no_color);
    ui.json = match &cli.command {
        Command::Apply { args, .. } | Command::Destroy { args, .. } if args.json => {
            JsonDiagnostics::Stdout
        }
        Command::Plan { args, .. } if args.json => JsonDiagnostics::Stderr,
        Command::Drift { json: true, .. }
        | Command::Drift {
            format: run::DriftFormat::Json,
            ..
        } => JsonDiagnostics::Stderr,
        _ => JsonDiagnostics::Off,
    };
    if let Some(dir) = &cli.chdir
        && let Err(e) = std::env::set_current_dir(dir)
    {
        ui.error_line(&format!("Error: cannot switch to {}: {e}", dir.display()));
        return ExitCode::from(1);
    }
    let code = match cli.command {
        Command::Version { json } => {
            if json {
                // Pretty, as Terraform's `version -json`: a person reads it.
                ui.out(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&serde_json::json!({"brick_version": env!("CARGO_PKG_VERSION"), "provider_selections": crate::registry::available()})).unwrap_or_default()
                ));
            } else {
                ui.out(&format!("brick v{}\n", env!("CARGO_PKG_VERSION")));
            }
            0
        }
        Command::Fmt { paths, check, diff } => {
            return fmt::run(&paths, check, diff);
        }
        Command::Providers(command) => providers_cmd::run(&ui, command),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            // Into memory first: a closed pipe (`| head`) must not make us panic.
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, "brick", &mut buf);
            ui.out(&String::from_utf8_lossy(&buf));
            0
        }
        command => {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    ui.error_line(&format!("Error: cannot start the runtime: {e}"));
                    return ExitCode::from(1);
                }
            };
            // Providers' notices (an endpoint still being retried) go to stderr as they come.
            brick_provider_api::notice::set_sink(std::sync::Arc::new(
                |provider: &str, message: &str| {
                    use std::io::Write;
                    let _ = writeln!(std::io::stderr(), "provider {provider}: {message}");
                },
            ));
            let mut ctx = common::Context::new(cli.state.clone(), ui);
            ctx.cli_vars = cli_vars;
            if !matches!(command, Command::Init { .. } | Command::Workspace { .. })
                && !ctx.attach_backend(cli.state.is_some())
            {
                rt.shutdown_background();
                return ExitCode::from(1);
            }
            let mut code = rt.block_on(dispatch(ctx, command));
            if backend::PUSH_FAILED.load(std::sync::atomic::Ordering::SeqCst) {
                code = code.max(1);
            }
            // A thread may still be blocked reading the terminal (Ctrl-C at the confirmation
            // prompt answers it); dropping the runtime would wait for that read forever.
            rt.shutdown_background();
            code
        }
    };
    ExitCode::from(code)
}

async fn dispatch(ctx: common::Context, command: Command) -> u8 {
    match command {
        Command::Init {
            migrate_state,
            reconfigure,
        } => run::init(&ctx, migrate_state, reconfigure),
        Command::Workspace { action, name } => {
            backend::workspace_cmd(&ctx, &action, name.as_deref())
        }
        Command::Validate { json } => run::validate(&ctx, json),
        Command::Console { .. } => run::console(&ctx),
        Command::Plan {
            args,
            out,
            detailed_exitcode,
            generate_config_out,
        } => {
            if let Some(path) = &generate_config_out
                && !genconfig::generate(&ctx, path).await
            {
                return 1;
            }
            run::plan_cmd(&ctx, &args, out, detailed_exitcode).await
        }
        Command::Drift {
            target,
            exclude,
            vars,
            var_files,
            parallelism,
            format,
            json,
            count_pending,
        } => {
            let format = if json { run::DriftFormat::Json } else { format };
            let args = PlanArgs {
                destroy: false,
                refresh: true,
                refresh_only: true,
                target,
                exclude,
                replace: Vec::new(),
                vars,
                var_files,
                parallelism,
                json: format == run::DriftFormat::Json,
            };
            run::drift_cmd(&ctx, &args, format, count_pending).await
        }
        Command::Apply {
            args,
            auto_approve,
            plan_file,
        } => run::apply_cmd(&ctx, &args, auto_approve, plan_file).await,
        Command::Destroy {
            mut args,
            auto_approve,
        } => {
            args.destroy = true;
            run::apply_cmd(&ctx, &args, auto_approve, None).await
        }
        Command::Show { json, plan_file } => run::show(&ctx, json, plan_file).await,
        Command::Output { name, json, raw } => state_cmd::output(&ctx, name, json, raw),
        Command::Graph { format } => run::graph(&ctx, &format),
        Command::State(sc) => state_cmd::state(&ctx, sc),
        Command::Import { addr, id, .. } => run::import(&ctx, &addr, &id).await,
        Command::ForceUnlock {
            id,
            force,
            even_if_running,
        } => match &ctx.remote {
            Some(remote) => backend::force_unlock(&ctx, remote, &id, force, even_if_running),
            None => state_cmd::force_unlock(&ctx, &id, force, even_if_running),
        },
        Command::Lab(lc) => lab::run(&ctx, lc).await,
        Command::Version { .. }
        | Command::Completions { .. }
        | Command::Fmt { .. }
        | Command::Providers(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spelled(args: &[&str]) -> Vec<String> {
        let argv = std::iter::once("brick")
            .chain(args.iter().copied())
            .map(std::ffi::OsString::from)
            .collect();
        terraform_spellings(argv, &Cli::command())
            .into_iter()
            .skip(1)
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn only_known_long_options_are_respelled_and_never_a_value() {
        assert_eq!(
            spelled(&[
                "-chdir=x",
                "apply",
                "-auto-approve",
                "-var",
                "-a=b",
                "-out=p"
            ]),
            [
                "--chdir=x",
                "apply",
                "--auto-approve",
                "--var",
                "-a=b",
                "--out=p"
            ]
        );
        assert_eq!(
            spelled(&[
                "plan",
                "-refresh=false",
                "-unknown",
                "-C",
                "d",
                "--json",
                "-h"
            ]),
            [
                "plan",
                "--refresh=false",
                "-unknown",
                "-C",
                "d",
                "--json",
                "-h"
            ]
        );
        assert_eq!(
            spelled(&["console", "--", "-json"]),
            ["console", "--", "-json"]
        );
    }
}
