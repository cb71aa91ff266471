//! What one run of the provider knows about the objects it plans and applies, for the implicit
//! order of a configuration: custom resources after the CRD that defines their kind (applied in
//! the same run), namespaced objects after their namespace, and a namespace deleted after the
//! objects brick deletes in it. Planning only notes what it saw (its answers never depend on
//! it); applies wait on it.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use brick_provider_api::Value;
use brick_provider_api::provider::Progress;

use crate::convert::str_attr;
use crate::resources::manifest::Ident;

#[derive(Default)]
pub struct Run {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// (group, kind) of the CRDs this run plans or applies.
    kinds: HashSet<(String, String)>,
    /// Namespaces this run plans or applies.
    namespaces: HashSet<String>,
    /// Deletes in progress, by namespace.
    deleting: HashMap<String, usize>,
}

impl Run {
    fn note(&self, manifest: &Value) {
        let Some(id) = Ident::of(manifest) else {
            return;
        };
        let mut inner = self.inner.lock().expect("run lock");
        match (id.group(), id.kind.as_str()) {
            ("apiextensions.k8s.io", "CustomResourceDefinition") => {
                if let Some(spec) = manifest.get("spec")
                    && let (Some(group), Some(kind)) = (
                        str_attr(spec, "group"),
                        spec.get("names").and_then(|n| str_attr(n, "kind")),
                    )
                {
                    inner.kinds.insert((group.to_string(), kind.to_string()));
                }
            }
            ("", "Namespace") => {
                inner.namespaces.insert(id.name.clone());
            }
            _ => {}
        }
    }

    pub fn note_planned(&self, manifest: &Value) {
        self.note(manifest);
    }

    pub fn note_applied(&self, manifest: &Value) {
        self.note(manifest);
    }

    pub fn defines_kind(&self, group: &str, kind: &str) -> bool {
        let inner = self.inner.lock().expect("run lock");
        inner.kinds.contains(&(group.to_string(), kind.to_string()))
    }

    pub fn defines_namespace(&self, ns: &str) -> bool {
        self.inner.lock().expect("run lock").namespaces.contains(ns)
    }

    /// Counts a delete in progress until the guard drops.
    pub fn deleting(&self, id: &Ident) -> DeleteGuard<'_> {
        let ns = id.namespace.clone();
        if let Some(ns) = &ns {
            *self
                .inner
                .lock()
                .expect("run lock")
                .deleting
                .entry(ns.clone())
                .or_default() += 1;
        }
        DeleteGuard { run: self, ns }
    }

    /// Waits (a moment for deletes about to start, then while any run) until brick deletes
    /// nothing more in namespace `ns`.
    pub async fn wait_namespace_empty(&self, ns: &str, deadline: Instant, progress: &dyn Progress) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        loop {
            let n = self
                .inner
                .lock()
                .expect("run lock")
                .deleting
                .get(ns)
                .copied()
                .unwrap_or(0);
            if n == 0 || Instant::now() >= deadline {
                return;
            }
            progress.report(&format!(
                "waiting for {n} object(s) in namespace {ns} to be deleted first"
            ));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

pub struct DeleteGuard<'a> {
    run: &'a Run,
    ns: Option<String>,
}

impl Drop for DeleteGuard<'_> {
    fn drop(&mut self) {
        if let Some(ns) = &self.ns
            && let Some(n) = self
                .run
                .inner
                .lock()
                .expect("run lock")
                .deleting
                .get_mut(ns)
        {
            *n = n.saturating_sub(1);
        }
    }
}
