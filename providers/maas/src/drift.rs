//! What MAAS can say about drift (`Provider::explain_drift`): a machine's owner and status
//! as MAAS records them. A machine released behind brick's back is no longer brick's
//! deployment (refresh reports it gone) but still there: it is reported as it now is (status
//! `Ready`, no owner), not as deleted. A machine released and deployed again outside brick,
//! by anyone, even with the same OS, shows as a new `deployment_id` (MAAS's record of the
//! current installation). Changes that lose a deployment's data (its status, a redeploy, the
//! OS, the disks, the cloud-init) are `data-risk`. Tags — a machine's, a tag's comment — are
//! `cosmetic`: like Kubernetes labels, they change nothing the machine runs now (they steer
//! later allocations, and a tag's kernel options the next deployment).

use brick_provider_api::provider::{AttrPath, DriftExplanation, DriftNote, DriftRequest, PathStep};
use brick_provider_api::{Diagnostics, DriftSeverity};
use serde_json::Value as Json;

use crate::client::MaasError;
use crate::convert::{json_str, maas_diag, str_attr};
use crate::provider::Ctx;
use crate::resources::{machine, tag};

/// Attributes whose drift means the deployment brick made, and what it held, is gone or
/// going: a release, a redeploy, another OS, other disks.
const DATA_RISK: &[&str] = &[
    "status",
    "deployment_id",
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

/// The `deployment_id` note when MAAS's installation record is not the one brick recorded:
/// the machine was deployed again since, by its owner now.
fn redeployed(
    recorded: &brick_provider_api::Value,
    m: &Json,
    owner: Option<&str>,
) -> Option<DriftNote> {
    let was = recorded.get("deployment_id")?.as_number()?.to_i64()?;
    let now = m
        .get("current_installation_result_id")
        .and_then(Json::as_i64)?;
    (now != was).then(|| DriftNote {
        path: attr("deployment_id"),
        severity: Some(DriftSeverity::DataRisk),
        by: owner.map(str::to_string),
        detail: Some(format!(
            "deployed again outside brick: MAAS installation {now}, brick's was {was}"
        )),
        ..DriftNote::default()
    })
}

/// Attributes whose drift changes nothing a deployed machine runs.
const COSMETIC: &[&str] = &["tags"];

/// A `maas_tag`'s attributes whose drift changes nothing running.
const TAG_COSMETIC: &[&str] = &["comment"];

/// One note per attribute of `attrs`, at `severity`.
fn severity_notes(attrs: &[&str], severity: DriftSeverity) -> impl Iterator<Item = DriftNote> {
    attrs.iter().map(move |a| DriftNote {
        path: attr(a),
        severity: Some(severity),
        ..DriftNote::default()
    })
}

pub async fn explain(ctx: &Ctx, req: &DriftRequest<'_>) -> Result<DriftExplanation, Diagnostics> {
    if req.type_name == tag::TYPE {
        return Ok(DriftExplanation {
            still_exists: None,
            notes: severity_notes(TAG_COSMETIC, DriftSeverity::Cosmetic).collect(),
        });
    }
    if req.type_name != machine::TYPE {
        return Ok(DriftExplanation::default());
    }
    let mut notes: Vec<DriftNote> = severity_notes(DATA_RISK, DriftSeverity::DataRisk)
        .chain(severity_notes(COSMETIC, DriftSeverity::Cosmetic))
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
    if let Some(note) = redeployed(req.recorded, &m, owner.as_deref()) {
        notes.retain(|n| n.path != note.path);
        notes.push(note);
    }
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
