//! The MAAS lab with MicroK8s clusters, for end-to-end tests of the `brick` binary: a
//! simulator whose deployed machines form clusters (`brick::lab`), on a loopback network of
//! its own so that labs side by side never answer for each other, and a configuration
//! directory to run brick in against it.

use std::path::Path;
use std::process::Output;

use brick::registry::maas_lab::{self, SimOptions, Simulator};

/// A running lab and its configuration directory.
pub struct ClusterLab {
    pub sim: Simulator,
    /// The lab's clusters (their Nodes, datastore members).
    pub labs: brick::lab::Labs,
    /// The lab's loopback network: the first three octets of its machines' addresses
    /// (`<net>.<10 + index>`: maas, kvm4, kvm5, spare1…).
    pub net: String,
    dir: tempfile::TempDir,
}

impl ClusterLab {
    /// Starts a lab that runs 500 times faster than MAAS.
    pub async fn start() -> ClusterLab {
        let mut opts = SimOptions {
            time_scale: 0.002,
            ..SimOptions::fast()
        };
        let net = brick::lab::free_loopback_network();
        opts.network = Some(net.clone());
        let labs = brick::lab::with_clusters(&mut opts);
        let sim = maas_lab::serve("127.0.0.1:0".parse().unwrap(), opts)
            .await
            .unwrap();
        ClusterLab {
            sim,
            labs,
            net,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The configuration directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes the configuration's `main.hcl`, whose addresses are written `127.0.10.N`: this
    /// lab's network takes the place of `127.0.10`.
    pub fn write(&self, main_hcl: &str) {
        std::fs::write(
            self.path().join("main.hcl"),
            main_hcl.replace("127.0.10", &self.net),
        )
        .unwrap();
    }

    /// Runs `brick args…` to the end in the configuration directory against the lab (no
    /// colour, no ambient kubeconfig).
    pub async fn brick(&self, args: &[&str]) -> Output {
        let (dir, url, key) = (
            self.path().to_path_buf(),
            self.sim.url().to_string(),
            self.sim.api_key(),
        );
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_brick"))
                .args(&args)
                .current_dir(dir)
                .env("MAAS_API_URL", url)
                .env("MAAS_API_KEY", key)
                .env("NO_COLOR", "1")
                .env_remove("KUBECONFIG")
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    }
}
