//! `brick state list|show|mv|rm|pull|push`, `brick output` and `brick force-unlock`.

use brick_state as st;

use super::StateCommand;
use super::common::{Context, load_readonly, prior_of};
use crate::diag::Diagnostic;
use crate::plan::address::Target;
use crate::statefile::{addr_from_state, provider_name};

fn providers_for(ctx: &Context, state: &st::State) -> crate::plan::providers::ProviderSet {
    let names: Vec<String> = state
        .resources
        .values()
        .map(|r| provider_name(&r.provider))
        .collect();
    crate::registry::provider_set(names.iter().map(String::as_str), &ctx.ids)
}

fn parse(ctx: &Context, text: &str) -> Option<Target> {
    match text.parse() {
        Ok(t) => Some(t),
        Err(e) => {
            ctx.ui.diagnostics(
                &[Diagnostic::error(
                    "brick::cli::invalid_address",
                    "Invalid address",
                    format!("{e}."),
                )],
                &[],
            );
            None
        }
    }
}

pub fn output(ctx: &Context, name: Option<String>, json: bool, raw: bool) -> u8 {
    let Ok(state) = load_readonly(ctx) else {
        return 1;
    };
    let state = state.unwrap_or_else(|| st::State::new(env!("CARGO_PKG_VERSION")));
    let prior = prior_of(&state, &providers_for(ctx, &state));
    match name {
        None => {
            if json {
                ctx.ui.out(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&crate::view::json::outputs_json(&prior.outputs))
                        .unwrap_or_default()
                ));
            } else if prior.outputs.is_empty() {
                ctx.ui.diagnostics(
                    &[Diagnostic::warning("brick::output::none", "No outputs found", "The state file either has no outputs defined, or all the defined outputs are empty.")],
                    &[],
                );
            } else {
                ctx.ui
                    .out(&crate::view::text::render_outputs(&prior.outputs));
            }
            0
        }
        Some(n) => {
            let Some((v, _)) = prior.outputs.get(&n) else {
                ctx.ui.diagnostics(
                    &[Diagnostic::error("brick::output::not_found", "Output value not found", format!("The output variable requested could not be found in the state file: {n:?}."))
                        .help("Run `brick output` to list the outputs.")],
                    &[],
                );
                return 1;
            };
            let plain = v.unmark_deep().0;
            if json {
                ctx.ui.out_document(&crate::plan::codec::to_json(&plain));
            } else if raw {
                match plain.as_str() {
                    Some(s) => ctx.ui.out(s),
                    None if plain.ty().is_primitive() => {
                        ctx.ui.out(&crate::view::text::render_plain_value(&plain))
                    }
                    None => {
                        ctx.ui.error_line("\nError: Unsupported value for raw output\n\nThe -raw option only supports strings, numbers, and boolean values.");
                        return 1;
                    }
                }
            } else {
                ctx.ui.out(&format!(
                    "{}\n",
                    crate::view::text::render_plain_value(&plain)
                ));
            }
            0
        }
    }
}

/// The checks of `brick force-unlock ID` before a lock (local or remote) goes: the lock of a
/// brick still running on this host is refused unless `even_if_running`, and removing the
/// lock asks first unless `force` (Terraform's `-force`). A lock of another id is left for the
/// removal to refuse. Whether to go on.
pub(super) fn may_unlock(
    ctx: &Context,
    holder: Option<&st::LockInfo>,
    id: &str,
    force: bool,
    even_if_running: bool,
) -> bool {
    // Only a lock with this id is worth asking about; otherwise the removal says why.
    let Some(h) = holder.filter(|h| h.id == id) else {
        return true;
    };
    if h.is_alive_here() {
        let detail = format!(
            "The lock is held by process {} on this host ({} by {}, since {}), which is still running. Removing its lock lets another brick change the state while it works: objects it is creating may be created twice, and what it records may not reach the state.",
            h.pid, h.operation, h.user, h.created
        );
        if !even_if_running {
            ctx.ui.diagnostics(
                &[Diagnostic::error(
                    "brick::state::lock_holder_running",
                    "The lock holder is still running",
                    detail,
                )
                .help(format!(
                    "Let it finish, or stop it (kill {}) and run `brick force-unlock --force {id}` if its lock remains. To remove the lock of the running process anyway, add --even-if-running.",
                    h.pid
                ))],
                &[],
            );
            return false;
        }
        ctx.ui.diagnostics(
            &[Diagnostic::warning(
                "brick::state::lock_holder_running",
                "Removing the lock of a running brick",
                format!(
                    "{detail} Its apply journal stays protected: no other brick folds it while process {} runs.",
                    h.pid
                ),
            )],
            &[],
        );
    }
    force || confirm_unlock(ctx)
}

/// Asks whether to remove the lock; `false` (with the reason said) unless answered `yes`.
fn confirm_unlock(ctx: &Context) -> bool {
    if !ctx.ui.stdin_tty {
        ctx.ui.diagnostics(
            &[Diagnostic::error(
                "brick::cli::no_confirmation",
                "Cannot ask for confirmation",
                "There is no terminal to ask on whether to remove the lock.",
            )
            .help("Pass --force to remove the lock without asking.")],
            &[],
        );
        return false;
    }
    match ctx.ui.ask(
        "Do you really want to force-unlock?",
        "brick will remove the lock on the state.\n  This will allow local brick commands to modify this state, even though it\n  may still be in use. Only 'yes' will be accepted to confirm.",
    ) {
        Ok(true) => true,
        Ok(false) => {
            ctx.ui.error_line("\nError: force-unlock cancelled.");
            false
        }
        Err(e) => {
            ctx.ui
                .error_line(&format!("\nError: cannot read the answer: {e}"));
            false
        }
    }
}

/// `brick force-unlock ID`: asks first (as Terraform), unless `--force`; without a terminal
/// to ask on, refuses unless `--force`. A lock whose holder still runs on this host is
/// refused outright, unless `--even-if-running` says to break it anyway (and then loudly).
pub fn force_unlock(ctx: &Context, id: &str, force: bool, even_if_running: bool) -> u8 {
    let store = ctx.store();
    let holder = match store.lock_status() {
        Ok(status) => status.map(|s| s.holder),
        Err(e) => {
            ctx.state_error(&e);
            return 1;
        }
    };
    if !may_unlock(ctx, holder.as_ref(), id, force, even_if_running) {
        return 1;
    }
    match store.force_unlock(id) {
        Ok(holder) => {
            ctx.ui.out(&format!(
                "{}\nThe lock held by {}@{} (pid {}, {}) was removed.\n",
                ctx.ui.style().green(
                    &ctx.ui
                        .style()
                        .bold("brick state has been successfully unlocked!")
                ),
                holder.user,
                holder.host,
                holder.pid,
                holder.operation
            ));
            0
        }
        Err(e) => {
            ctx.state_error(&e);
            1
        }
    }
}

pub fn state(ctx: &Context, cmd: StateCommand) -> u8 {
    match cmd {
        StateCommand::List { addrs } => {
            let Ok(state) = load_readonly(ctx) else {
                return 1;
            };
            let filters: Vec<Target> = match addrs
                .iter()
                .map(|a| parse(ctx, a))
                .collect::<Option<Vec<_>>>()
            {
                Some(f) => f,
                None => return 1,
            };
            // stdout lists addresses only, as `terraform state list` does (scripts feed them
            // to other commands); what the next apply will replace is said on stderr.
            let mut out = String::new();
            let mut notes = String::new();
            for (a, inst) in state.iter().flat_map(|s| s.instances()) {
                let ia = addr_from_state(&a);
                if !(filters.is_empty() || filters.iter().any(|f| f.matches(&ia))) {
                    continue;
                }
                if let Some(cur) = &inst.current {
                    out.push_str(&format!("{ia}\n"));
                    if cur.tainted {
                        notes.push_str(&format!(
                            "{ia}: tainted ({}); the next apply replaces it\n",
                            cur.tainted_reason
                                .as_deref()
                                .unwrap_or("its create or its provisioners failed")
                        ));
                    }
                }
                for key in inst.deposed.keys() {
                    notes.push_str(&format!(
                        "{ia}: deposed object {key} (left by a create-before-destroy replacement); the next apply destroys it\n"
                    ));
                }
            }
            ctx.ui.out(&out);
            if !notes.is_empty() {
                ctx.ui.error_line(notes.trim_end());
            }
            0
        }
        StateCommand::Show { addr } => {
            let Some(t) = parse(ctx, &addr) else { return 1 };
            let Ok(Some(state)) = load_readonly(ctx) else {
                ctx.ui.error_line("\nError: No state file was found!");
                return 1;
            };
            let prior = prior_of(&state, &providers_for(ctx, &state));
            let mut only = crate::plan::model::PriorState::default();
            for (a, i) in &prior.instances {
                if t.matches(a) {
                    only.instances.insert(a.clone(), i.clone());
                }
            }
            if only.instances.is_empty() {
                ctx.ui.diagnostics(
                    &[Diagnostic::error(
                        "brick::state::no_instance",
                        "No instance found for the given address",
                        format!("{addr} is not in the state."),
                    )
                    .help("Run `brick state list` to see the addresses.")],
                    &[],
                );
                return 1;
            }
            ctx.ui.out(&crate::view::text::render_state(&only));
            0
        }
        StateCommand::Mv {
            source,
            destination,
        } => {
            let (Some(from), Some(to)) = (parse(ctx, &source), parse(ctx, &destination)) else {
                return 1;
            };
            mutate(ctx, "state mv", |state| {
                let moving: Vec<st::InstanceAddr> = state
                    .instances()
                    .filter(|(a, i)| i.current.is_some() && from.matches(&addr_from_state(a)))
                    .map(|(a, _)| a)
                    .collect();
                if moving.is_empty() {
                    return Err(format!("no instance matches {source}"));
                }
                let mut moved = Vec::new();
                for a in moving {
                    let ia = addr_from_state(&a);
                    let dest = match (&from, &to) {
                        (Target::Module(m1), Target::Module(m2)) => {
                            match crate::plan::address::moved_module(&ia.resource.module, m1, m2) {
                                Some(m) => ia.resource.in_module(&m).instance(ia.key.clone()),
                                None => return Err(format!("cannot move {ia} to {destination}")),
                            }
                        }
                        (Target::Resource(_), Target::Resource(r)) => r.instance(ia.key.clone()),
                        (_, Target::Instance(i)) => i.clone(),
                        (Target::Instance(_), Target::Resource(r)) => {
                            r.instance(crate::plan::address::InstanceKey::None)
                        }
                        _ => {
                            return Err(format!(
                                "cannot move {source} to {destination}: a module moves only to a module, a resource only to a resource"
                            ));
                        }
                    };
                    // The object keeps its provider and schema: only its address changes.
                    if dest.resource.mode != ia.resource.mode {
                        return Err(format!(
                            "cannot move {ia} to {dest}: a managed resource moves only to a managed resource address, a data resource only to a data resource address"
                        ));
                    }
                    if dest.resource.type_name != ia.resource.type_name {
                        return Err(format!(
                            "cannot move {ia} to {dest}: resource types don't match"
                        ));
                    }
                    let sdest = crate::statefile::addr_to_state(&dest);
                    if state.object(&sdest).is_some() {
                        return Err(format!("{dest} already exists in the state"));
                    }
                    let provider = state.resources[&a.resource].provider.clone();
                    let obj = state.object(&a).cloned().expect("listed above");
                    state.apply(&st::Change::Remove {
                        intent: None,
                        addr: a.clone(),
                        deposed: None,
                    });
                    state.apply(&st::Change::Set {
                        intent: None,
                        addr: sdest,
                        deposed: None,
                        provider,
                        object: obj,
                    });
                    moved.push(format!(
                        "Move {:?} to {:?}",
                        ia.to_string(),
                        dest.to_string()
                    ));
                }
                Ok(format!(
                    "{}\nSuccessfully moved {} object(s).\n",
                    moved.join("\n"),
                    moved.len()
                ))
            })
        }
        StateCommand::Rm { addrs } => {
            let Some(targets) = addrs
                .iter()
                .map(|a| parse(ctx, a))
                .collect::<Option<Vec<_>>>()
            else {
                return 1;
            };
            mutate(ctx, "state rm", |state| {
                let gone: Vec<st::InstanceAddr> = state
                    .instances()
                    .filter(|(a, _)| targets.iter().any(|t| t.matches(&addr_from_state(a))))
                    .map(|(a, _)| a)
                    .collect();
                if gone.is_empty() {
                    return Err("no instance matches the given addresses".into());
                }
                let mut lines = Vec::new();
                for a in &gone {
                    state.apply(&st::Change::Remove {
                        intent: None,
                        addr: a.clone(),
                        deposed: None,
                    });
                    lines.push(format!("Removed {}", addr_from_state(a)));
                }
                Ok(format!(
                    "{}\nSuccessfully removed {} resource instance(s).\n",
                    lines.join("\n"),
                    gone.len()
                ))
            })
        }
        StateCommand::Pull => {
            let Ok(state) = load_readonly(ctx) else {
                return 1;
            };
            if let Some(s) = state {
                ctx.ui.out(&String::from_utf8_lossy(&st::to_bytes(&s)));
            }
            0
        }
        StateCommand::Push { file, force } => {
            let bytes = match super::files::read_bounded(&file, super::files::MAX_DOCUMENT_BYTES) {
                Ok(b) => b,
                Err(e) => {
                    ctx.ui
                        .error_line(&format!("\nError: cannot read {}: {e}", file.display()));
                    return 1;
                }
            };
            let mut new = match st::from_bytes(&bytes, &file) {
                Ok(s) => s,
                Err(e) => {
                    ctx.state_error(&e);
                    return 1;
                }
            };
            let store = ctx.store();
            let Some(lock) = ctx.lock_state(&store, "state push") else {
                return 1;
            };
            // The current state includes what an interrupted apply's journal recorded: it is
            // folded in first, so the checks below compare with the real state and the
            // journal is never silently dropped as stale.
            let cur = match store.load_locked(&lock) {
                Ok(l) => l.map(|l| l.state),
                Err(e) => {
                    ctx.state_error(&e);
                    return 1;
                }
            };
            if let Some(cur) = &cur
                && !cur.pending.is_empty()
            {
                let _ = lock.release();
                let list: Vec<String> = cur
                    .pending
                    .values()
                    .map(|i| addr_from_state(&i.addr).to_string())
                    .collect();
                ctx.ui.diagnostics(
                    &[Diagnostic::error(
                        "brick::state::pending_changes",
                        "The state has unsettled changes of an interrupted apply",
                        format!(
                            "An interrupted apply left {} operation(s) whose outcome is not known yet ({}); replacing the state now would forget objects that may exist.",
                            list.len(),
                            list.join(", ")
                        ),
                    )
                    .help("Run `brick plan` first: it settles them by asking the providers. Then push again.")],
                    &[],
                );
                return 1;
            }
            if let Some(cur) = &cur
                && force
            {
                new.lineage = cur.lineage.clone();
                new.serial = new.serial.max(cur.serial + 1);
            }
            match store.save(&lock, &new) {
                Ok(()) => {
                    let _ = lock.release();
                    0
                }
                Err(e) => {
                    ctx.state_error(&e);
                    1
                }
            }
        }
    }
}

/// Runs `f` on the locked state and saves the result with the next serial.
fn mutate(ctx: &Context, op: &str, f: impl FnOnce(&mut st::State) -> Result<String, String>) -> u8 {
    let store = ctx.store();
    let Some(lock) = ctx.lock_state(&store, op) else {
        return 1;
    };
    let mut state = match store.load_locked(&lock) {
        Ok(Some(l)) => l.state,
        Ok(None) => {
            ctx.ui.error_line("\nError: No state file was found!");
            return 1;
        }
        Err(e) => {
            ctx.state_error(&e);
            return 1;
        }
    };
    match f(&mut state) {
        Ok(msg) => {
            state.serial += 1;
            if let Err(e) = store.save(&lock, &state) {
                ctx.state_error(&e);
                return 1;
            }
            let _ = lock.release();
            ctx.ui.out(&msg);
            0
        }
        Err(msg) => {
            ctx.ui.diagnostics(
                &[Diagnostic::error(
                    "brick::state::invalid_target",
                    "Invalid target address",
                    format!("Cannot {op}: {msg}."),
                )],
                &[],
            );
            1
        }
    }
}
