//! The provider's configuration: terraform-provider-kubernetes' arguments (`config_path`,
//! `config_context`, `host`, `cluster_ca_certificate`, `client_certificate`, `client_key`,
//! `token`, `insecure`) plus `kubeconfig`, a kubeconfig document as a string, turned into a
//! `kube` client configuration. With no arguments: `KUBECONFIG`, then `~/.kube/config`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use brick_provider_api::schema::{Attribute, Block};
use brick_provider_api::{Diagnostic, Type, Value};
use kube::Config;
use kube::config::{
    AuthInfo, Cluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster,
    NamedContext,
};

use crate::client::{CONNECT_TIMEOUT, READ_TIMEOUT};
use crate::convert::{bool_attr, str_attr};

pub fn block() -> Block {
    Block::default()
        .attr(
            "config_path",
            Attribute::optional(Type::String)
                .describe("A kubeconfig file. Default: KUBECONFIG, then ~/.kube/config."),
        )
        .attr(
            "config_context",
            Attribute::optional(Type::String)
                .describe("The kubeconfig context to use. Default: its current context."),
        )
        .attr(
            "kubeconfig",
            Attribute::optional(Type::String).sensitive().describe(
                "A kubeconfig document as a string (e.g. from the resource that made the cluster).",
            ),
        )
        .attr(
            "host",
            Attribute::optional(Type::String).describe(
                "The API server's URL, e.g. https://10.0.0.1:16443 (overrides the kubeconfig's).",
            ),
        )
        .attr(
            "cluster_ca_certificate",
            Attribute::optional(Type::String)
                .describe("PEM certificate authority that signed the API server's certificate."),
        )
        .attr(
            "client_certificate",
            Attribute::optional(Type::String).describe("PEM client certificate."),
        )
        .attr(
            "client_key",
            Attribute::optional(Type::String)
                .sensitive()
                .describe("PEM key of the client certificate."),
        )
        .attr(
            "token",
            Attribute::optional(Type::String)
                .sensitive()
                .describe("A bearer token."),
        )
        .attr(
            "insecure",
            Attribute::optional(Type::Bool)
                .describe("Skip checking the API server's certificate (tests only)."),
        )
}

fn config_error(detail: impl Into<String>) -> Diagnostic {
    Diagnostic::error(
        "brick::k8s::config",
        "Invalid Kubernetes provider configuration",
        detail,
    )
}

/// The client configuration the provider block asks for.
pub async fn client_config(config: &Value) -> Result<Config, Diagnostic> {
    // An argument only apply knows is not an unset one: the environment's cluster is never
    // taken in its place (terraform-provider-kubernetes #1479). The engine configures the
    // provider once the value is known; this holds for any other caller too.
    if !config.is_wholly_known() {
        return Err(config_error(
            "The provider configuration holds values that are not known yet; brick never falls back to KUBECONFIG or ~/.kube/config in their place.",
        )
        .with_help("Configure the provider once its values are known (brick does so during apply)."));
    }
    let overrides = Overrides::from(config);
    let context = str_attr(config, "config_context").map(str::to_string);
    let kubeconfig = if let Some(doc) = str_attr(config, "kubeconfig") {
        Some(Kubeconfig::from_yaml(doc).map_err(|e| {
            config_error(format!("`kubeconfig` is not a kubeconfig document: {e}."))
                .at(["kubeconfig"])
        })?)
    } else if let Some(path) = str_attr(config, "config_path") {
        let path = expand_home(path);
        Some(Kubeconfig::read_from(&path).map_err(|e| {
            config_error(format!("The kubeconfig file {path} cannot be read: {e}."))
                .at(["config_path"])
        })?)
    } else if overrides.host.is_some() {
        None
    } else {
        Some(Kubeconfig::read().map_err(|e| {
            config_error(format!(
                "No cluster is configured and no kubeconfig was found (KUBECONFIG, then ~/.kube/config): {e}."
            ))
            .with_help("Set `config_path`, `kubeconfig` or `host` in the provider \"k8s\" block.")
        })?)
    };
    let (kubeconfig, context) = match kubeconfig {
        Some(mut k) => {
            let ctx_name = context
                .clone()
                .or_else(|| k.current_context.clone())
                .ok_or_else(|| {
                    config_error("The kubeconfig names no current context: set `config_context`.")
                })?;
            overrides.apply(&mut k, &ctx_name)?;
            (k, ctx_name)
        }
        None => (overrides.standalone(), "brick".to_string()),
    };
    let options = KubeConfigOptions {
        context: Some(context),
        ..Default::default()
    };
    let mut cfg = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| config_error(format!("The kubeconfig cannot be used: {e}.")))?;
    cfg.connect_timeout = Some(CONNECT_TIMEOUT);
    cfg.read_timeout = Some(READ_TIMEOUT);
    Ok(cfg)
}

fn expand_home(path: &str) -> String {
    match (path.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => path.to_string(),
    }
}

/// The arguments that override (or replace) the kubeconfig's cluster and user.
struct Overrides {
    host: Option<String>,
    ca: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    token: Option<String>,
    insecure: Option<bool>,
}

impl Overrides {
    fn from(config: &Value) -> Overrides {
        let s = |k: &str| str_attr(config, k).map(str::to_string);
        Overrides {
            host: s("host"),
            ca: s("cluster_ca_certificate"),
            cert: s("client_certificate"),
            key: s("client_key"),
            token: s("token"),
            insecure: bool_attr(config, "insecure"),
        }
    }

    fn cluster(&self, c: &mut Cluster) {
        if let Some(h) = &self.host {
            c.server = Some(h.clone());
        }
        if let Some(ca) = &self.ca {
            c.certificate_authority = None;
            c.certificate_authority_data = Some(STANDARD.encode(ca));
        }
        if let Some(i) = self.insecure {
            c.insecure_skip_tls_verify = Some(i);
        }
    }

    fn user(&self, u: &mut AuthInfo) {
        if let Some(c) = &self.cert {
            u.client_certificate = None;
            u.client_certificate_data = Some(STANDARD.encode(c));
        }
        if let Some(k) = &self.key {
            u.client_key = None;
            u.client_key_data = Some(STANDARD.encode(k).into());
        }
        if let Some(t) = &self.token {
            u.token_file = None;
            u.token = Some(t.clone().into());
        }
    }

    fn apply(&self, k: &mut Kubeconfig, context: &str) -> Result<(), Diagnostic> {
        let ctx = k
            .contexts
            .iter()
            .find(|c| c.name == context)
            .and_then(|c| c.context.clone())
            .ok_or_else(|| {
                config_error(format!("The kubeconfig has no context named `{context}`."))
                    .at(["config_context"])
            })?;
        if let Some(c) = k.clusters.iter_mut().find(|c| c.name == ctx.cluster) {
            self.cluster(c.cluster.get_or_insert_with(Default::default));
        }
        if let Some(user) = &ctx.user
            && let Some(u) = k.auth_infos.iter_mut().find(|u| &u.name == user)
        {
            self.user(u.auth_info.get_or_insert_with(Default::default));
        }
        Ok(())
    }

    /// A kubeconfig of the arguments alone (no file).
    fn standalone(&self) -> Kubeconfig {
        let mut cluster = Cluster::default();
        self.cluster(&mut cluster);
        let mut user = AuthInfo::default();
        self.user(&mut user);
        Kubeconfig {
            clusters: vec![NamedCluster {
                name: "brick".into(),
                cluster: Some(cluster),
                ..Default::default()
            }],
            auth_infos: vec![NamedAuthInfo {
                name: "brick".into(),
                auth_info: Some(user),
                ..Default::default()
            }],
            contexts: vec![NamedContext {
                name: "brick".into(),
                context: Some(Context {
                    cluster: "brick".into(),
                    user: Some("brick".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            current_context: Some("brick".into()),
            ..Default::default()
        }
    }
}
