//! API errors as the API server returns them: a `Status` object with reason, message,
//! details and the HTTP code.

use serde_json::{Value, json};

/// A failed request, rendered as a `metav1.Status`.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: String,
    pub message: String,
    pub details: Option<Box<Value>>,
}

impl ApiError {
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason: reason.into(),
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = Some(Box::new(details));
        self
    }

    /// `configmaps "x" not found`.
    pub fn not_found(resource: &str, group: &str, name: &str) -> ApiError {
        let q = qualified(resource, group);
        ApiError::new(404, "NotFound", format!("{q} \"{name}\" not found"))
            .with_details(name_details(name, group, resource))
    }

    pub fn already_exists(resource: &str, group: &str, name: &str) -> ApiError {
        let q = qualified(resource, group);
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{q} \"{name}\" already exists"),
        )
        .with_details(name_details(name, group, resource))
    }

    /// The optimistic-concurrency conflict of an update with a stale resourceVersion.
    pub fn conflict(resource: &str, group: &str, name: &str, why: &str) -> ApiError {
        let q = qualified(resource, group);
        ApiError::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {q} \"{name}\": {why}"),
        )
        .with_details(name_details(name, group, resource))
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    /// `Kind.group "name" is invalid: field: message` with one cause per field error.
    pub fn invalid(kind: &str, group: &str, name: &str, causes: Vec<Cause>) -> ApiError {
        let kq = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let texts: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        let joined = if texts.len() == 1 {
            texts[0].clone()
        } else {
            format!("[{}]", texts.join(", "))
        };
        let mut d = json!({"name": name, "kind": kind});
        if !group.is_empty() {
            d["group"] = json!(group);
        }
        d["causes"] = Value::Array(causes.iter().map(Cause::to_json).collect());
        ApiError::new(
            422,
            "Invalid",
            format!("{kq} \"{name}\" is invalid: {joined}"),
        )
        .with_details(d)
    }

    pub fn status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        });
        if let Some(d) = &self.details {
            s["details"] = (**d).clone();
        }
        s["code"] = json!(self.code);
        s
    }
}

/// One field error of an `Invalid` or `Conflict` status.
#[derive(Clone, Debug)]
pub struct Cause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

impl Cause {
    pub fn new(reason: &str, field: impl Into<String>, message: impl Into<String>) -> Cause {
        Cause {
            reason: reason.into(),
            message: message.into(),
            field: field.into(),
        }
    }
    fn to_json(&self) -> Value {
        json!({"reason": self.reason, "message": format!("{}", self.message), "field": self.field})
    }
}

fn qualified(resource: &str, group: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

fn name_details(name: &str, group: &str, resource: &str) -> Value {
    let mut d = json!({"name": name});
    if !group.is_empty() {
        d["group"] = json!(group);
    }
    d["kind"] = json!(resource);
    d
}
