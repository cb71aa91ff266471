//! What a plan does to one instance ([`Action`]): the ground-floor vocabulary that the planner
//! decides, the executor carries out and the engine's events report.

use serde::{Deserialize, Serialize};

/// What happens to one instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    NoOp,
    Create,
    Read,
    Update,
    DeleteThenCreate,
    CreateThenDelete,
    Delete,
    /// Removed from state without destroying (`removed { lifecycle { destroy = false } }`).
    Forget,
}

impl Action {
    /// Terraform's `actions` list.
    pub fn terraform_actions(self) -> &'static [&'static str] {
        match self {
            Action::NoOp => &["no-op"],
            Action::Create => &["create"],
            Action::Read => &["read"],
            Action::Update => &["update"],
            Action::DeleteThenCreate => &["delete", "create"],
            Action::CreateThenDelete => &["create", "delete"],
            Action::Delete => &["delete"],
            Action::Forget => &["forget"],
        }
    }
    pub fn is_replace(self) -> bool {
        matches!(self, Action::DeleteThenCreate | Action::CreateThenDelete)
    }
    pub fn creates(self) -> bool {
        matches!(self, Action::Create) || self.is_replace()
    }
    pub fn deletes(self) -> bool {
        matches!(self, Action::Delete) || self.is_replace()
    }
}
