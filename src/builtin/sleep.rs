//! `brick_sleep`: Terraform's `time_sleep` (hashicorp/time) as a built-in resource. Creating it
//! waits `create_duration`, destroying it waits `destroy_duration`; a change of `triggers`
//! replaces it (and so waits again). Users put it between resources that need time to settle
//! (a MAAS deploy that must boot before MicroK8s joins); brick's own tests use it for applies
//! whose operations take real time.

use std::time::Duration;

use brick_provider_api::provider::{
    ApplyRequest, ApplyResponse, PathStep, PlanRequest, PlanResponse,
};
use brick_provider_api::schema::{Attribute, Block};
use brick_provider_api::{Diagnostic, Diagnostics, Type, Value};

use super::IdSource;

pub const BRICK_SLEEP: &str = "brick_sleep";

pub fn block() -> Block {
    Block::default()
        .attr(
            "create_duration",
            Attribute::optional(Type::String)
                .describe("How long creating waits, as a Go duration: `30s`, `1m30s`, `500ms`."),
        )
        .attr(
            "destroy_duration",
            Attribute::optional(Type::String)
                .describe("How long destroying waits, as a Go duration."),
        )
        .attr(
            "triggers",
            Attribute::optional(Type::Map(Box::new(Type::String)))
                .forces_replacement()
                .describe("Arbitrary values whose change replaces the resource (and waits again)."),
        )
        .attr(
            "id",
            Attribute::computed(Type::String).describe("A unique id chosen at creation."),
        )
}

/// Go's duration syntax, shared with `timeouts` blocks (see [`crate::config::parse_duration`]).
pub use crate::config::parse_duration;

fn duration_of(v: &Value, name: &str) -> Result<Duration, String> {
    match v.get(name).and_then(Value::as_str) {
        Some(s) => parse_duration(s),
        None => Ok(Duration::ZERO),
    }
}

fn bad_duration(name: &str, why: &str) -> Diagnostic {
    Diagnostic::error(
        "brick::builtin::invalid_duration",
        "Invalid duration",
        format!("The value of {name} is not a duration: {why}."),
    )
    .with_help("Write durations like \"30s\", \"1m30s\" or \"500ms\".")
    .at([name])
}

pub fn validate(config: &Value) -> Diagnostics {
    let mut out = Vec::new();
    for name in ["create_duration", "destroy_duration"] {
        if let Some(s) = config.get(name).and_then(Value::as_str)
            && let Err(e) = parse_duration(s)
        {
            out.push(bad_duration(name, &e));
        }
    }
    out
}

pub fn plan(req: PlanRequest<'_>) -> PlanResponse {
    let mut resp = PlanResponse {
        planned: req.proposed.clone(),
        requires_replace: Vec::new(),
        diagnostics: Vec::new(),
    };
    if req.proposed.is_null() || !req.proposed.is_known() {
        return resp;
    }
    resp.diagnostics = validate(req.proposed);
    let mut planned = req.proposed.as_mapping().cloned().unwrap_or_default();
    let triggers = |v: &Value| {
        v.get("triggers")
            .cloned()
            .unwrap_or_else(Value::null_dynamic)
    };
    if req.prior.is_null() {
        planned.insert("id".into(), Value::unknown(Type::String));
    } else if !brick_provider_api::lifecycle::same(&triggers(req.prior), &triggers(req.proposed)) {
        resp.requires_replace
            .push(vec![PathStep::Attr("triggers".into())]);
        planned.insert("id".into(), Value::unknown(Type::String));
    }
    resp.planned = Value::object(planned);
    resp
}

pub async fn apply(req: ApplyRequest<'_>, ids: &IdSource) -> ApplyResponse {
    let fail = |name: &str, e: String, state: Value| ApplyResponse {
        new_state: state,
        diagnostics: vec![bad_duration(name, &e)],
    };
    if req.planned.is_null() {
        // Destroy: wait, then the object is gone.
        match duration_of(req.prior, "destroy_duration") {
            Ok(d) => tokio::time::sleep(d).await,
            Err(e) => return fail("destroy_duration", e, req.prior.clone()),
        }
        return ApplyResponse {
            new_state: req.planned.clone(),
            diagnostics: Vec::new(),
        };
    }
    let mut state = req.planned.as_mapping().cloned().unwrap_or_default();
    if req.prior.is_null() {
        match duration_of(req.planned, "create_duration") {
            Ok(d) => tokio::time::sleep(d).await,
            Err(e) => return fail("create_duration", e, req.prior.clone()),
        }
    }
    if state.get("id").is_none_or(|v| !v.is_known() || v.is_null()) {
        state.insert("id".into(), Value::string(ids()));
    }
    ApplyResponse {
        new_state: Value::object(state).unmark_deep().0,
        diagnostics: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_as_terraform_reads_them() {
        let ok = [
            ("0", 0.0),
            ("30s", 30.0),
            ("1m30s", 90.0),
            ("500ms", 0.5),
            ("1.5h", 5400.0),
            ("2h45m", 9900.0),
            ("10us", 0.00001),
        ];
        for (text, secs) in ok {
            let d = parse_duration(text).unwrap();
            assert!(
                (d.as_secs_f64() - secs).abs() < 1e-9,
                "{text}: {d:?} is not {secs}s"
            );
        }
        for bad in ["", "30", "s", "-1s", "1x", "1.2.3s", "1e400h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
