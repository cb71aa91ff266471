//! The configuration side of `provisioner` blocks: the loader's blocks become evaluators
//! ([`ProvisionerConfig`]) that the executor runs (`apply::provisioner`), and what create-time
//! provisioners read joins their resource's references.

use std::sync::Arc;

use crate::diag::Diagnostic;
use crate::eval::{Environment, Reference};
use crate::input::ProvisionerConfig;

/// The evaluators of a resource's provisioner blocks. What create-time ones read (but `self`)
/// joins the resource's references, so it is applied first; a destroy-time one that reads
/// anything but `self`, `count.index` and `each` is refused, as Terraform refuses it.
pub fn configs(
    blocks: &[crate::config::Provisioner],
    env: &Arc<dyn Environment>,
    refs: &mut Vec<Reference>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<ProvisionerConfig> {
    let mut out = Vec::new();
    for p in blocks {
        let read = crate::eval::body_references(&p.body);
        if p.when_destroy {
            let mut bad = false;
            for (r, span) in &read {
                if !matches!(
                    r,
                    Reference::SelfObject
                        | Reference::CountIndex
                        | Reference::EachKey
                        | Reference::EachValue
                ) {
                    bad = true;
                    diags.push(
                        Diagnostic::error(
                            "brick::config::destroy_provisioner_reference",
                            "Invalid reference from destroy provisioner",
                            "Destroy-time provisioners may only reference attributes of the related resource, via 'self', 'count.index', or 'each.key'. References to other resources during the destroy phase can cause dependency cycles and interact poorly with create_before_destroy.",
                        )
                        .at(*span),
                    );
                }
            }
            if bad {
                continue;
            }
        } else {
            refs.extend(
                read.into_iter()
                    .map(|(r, _)| r)
                    .filter(|r| *r != Reference::SelfObject),
            );
        }
        let body = p.body.clone();
        let env = env.clone();
        out.push(ProvisionerConfig {
            when_destroy: p.when_destroy,
            on_failure_continue: p.on_failure_continue,
            args: Arc::new(move |scope, block| {
                let (v, d) = crate::eval::evaluate_body(&body, block, scope, &*env);
                if crate::diag::has_errors(&d) {
                    Err(d)
                } else {
                    Ok(v)
                }
            }),
            span: p.span,
        });
    }
    out
}
