//! What MAAS can say about drift (`Provider::explain_drift`): a machine's owner and status
//! as MAAS records them. A machine released behind brick's back is no longer brick's
//! deployment (refresh reports it gone) but still there: it is reported as it now is (status
//! `Ready`, no owner), not as deleted. Changes that lose a deployment's data (its status, the
//! OS, the disks, the cloud-init) are `data-risk`.

use brick_provider_api::provider::{AttrPath, DriftExplanation, DriftNote, DriftRequest, PathStep};
use brick_provider_api::{Diagnostics, DriftSeverity};
use serde_json::Value as Json;

use crate::client::MaasError;
use crate::convert::{json_str, maas_diag, str_attr};
use crate::provider::Ctx;
use crate::resources::machine;

/// Attributes whose drift means the deployment brick made, and what it held, is gone or
/// going: a release, a redeploy, another OS, other disks.
const DATA_RISK: &[&str] = &[
    "status",
    "system_id",
    "hostname",
    "distro_series",
    "hwe_kernel",
    "user_data",
    "storage",
    "block_devices",
    "volume_paths",
];

fn attr(name: &str) -> AttrPath {
    vec![PathStep::Attr(name.to_string())]
}

/// Who holds the machine and what MAAS says of it, as one note's parts.
fn owner_and_status(m: &Json) -> (Option<String>, String) {
    let owner = m
        .get("owner")
        .and_then(Json::as_str)
        .filter(|o| !o.is_empty())
        .map(str::to_string);
    let status = json_str(m, "status_name");
    let message = json_str(m, "status_message");
    let mut detail = format!(
        "MAAS status {status}, owner {}",
        owner.as_deref().unwrap_or("none")
    );
    if !message.is_empty() && message != status {
        detail.push_str(&format!(" ({message})"));
    }
    (owner, detail)
}

pub async fn explain(ctx: &Ctx, req: &DriftRequest<'_>) -> Result<DriftExplanation, Diagnostics> {
    if req.type_name != machine::TYPE {
        // A tag: only its definition and comment are brick's; nothing more to say.
        return Ok(DriftExplanation::default());
    }
    let mut notes: Vec<DriftNote> = DATA_RISK
        .iter()
        .map(|a| DriftNote {
            path: attr(a),
            severity: Some(DriftSeverity::DataRisk),
            ..DriftNote::default()
        })
        .collect();
    let sid = str_attr(req.recorded, "system_id").unwrap_or("");
    let m = match ctx.client.machine(sid).await {
        Ok(m) => m,
        Err(MaasError::NotFound { .. }) => {
            return Ok(DriftExplanation {
                still_exists: None,
                notes: vec![DriftNote {
                    path: Vec::new(),
                    detail: Some(format!("MAAS has no machine {sid} any more")),
                    severity: Some(DriftSeverity::DataRisk),
                    ..DriftNote::default()
                }],
            });
        }
        Err(e) => {
            return Err(vec![maas_diag(
                "Cannot read machine",
                &format!("reading machine {sid}"),
                &e,
            )]);
        }
    };
    let (owner, detail) = owner_and_status(&m);
    let still_exists = req
        .live
        .is_none()
        .then(|| machine::state_from(&m, req.recorded));
    if still_exists.is_some() {
        // No longer brick's deployment: its status says why, its owner who holds it now (MAAS
        // does not record who released it, only that nobody holds it).
        notes[0].by = owner;
        notes[0].detail = Some(detail);
    } else {
        notes.push(DriftNote {
            path: Vec::new(),
            detail: Some(detail),
            ..DriftNote::default()
        });
    }
    Ok(DriftExplanation {
        still_exists,
        notes,
    })
}
