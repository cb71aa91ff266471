//! The k8s provider's retry policy (`brick_provider_k8s::retry`) on the real kube-apiserver of
//! tests/peers: a connection reset on the way to the server is retried and the request
//! succeeds; an unreachable server (nothing listening, a name that does not resolve) fails
//! within seconds with a diagnostic naming the host and a hint. The reset comes from a TCP
//! relay in front of the real server that drops its first connection with a RST.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use brick_provider_api::Value;
use brick_provider_k8s::client::Ctx;
use brick_provider_k8s::machinery::{Cluster, Ident};

fn default_configmap() -> Ident {
    Ident {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: Some("default".into()),
        name: "kube-root-ca.crt-brick-retry-absent".into(),
    }
}

/// A relay to `upstream` that resets its first `resets` connections and forwards the rest
/// byte for byte (TLS passes through untouched). Returns its port and the connection count.
async fn resetting_relay(upstream: String, resets: usize) -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let n = count.fetch_add(1, Ordering::SeqCst);
            if n < resets {
                // Read what the client sent first, so the reset hits a request in flight.
                let mut buf = [0u8; 512];
                let _ = tokio::time::timeout(
                    Duration::from_millis(500),
                    tokio::io::AsyncReadExt::read(&mut conn, &mut buf),
                )
                .await;
                conn.set_zero_linger().unwrap();
                drop(conn);
                continue;
            }
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Ok(mut up) = tokio::net::TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut conn, &mut up).await;
                }
            });
        }
    });
    (port, seen)
}

/// The peer's kubeconfig with its server moved to the relay, and the server's host:port.
fn kubeconfig_through(port_of_relay: impl Fn(&str) -> String) -> Option<(String, String)> {
    let Some(path) = std::env::var_os("BRICK_PEERS_KUBECONFIG") else {
        brick_provider_api::testing::skip("no Kubernetes API — run tests/peers/up.sh k8s");
        return None;
    };
    let doc = std::fs::read_to_string(path).expect("the peer's kubeconfig");
    let line = doc
        .lines()
        .find(|l| l.trim_start().starts_with("server:"))
        .expect("a server line");
    let url = line.trim_start().trim_start_matches("server:").trim();
    let upstream = url.trim_start_matches("https://").trim_end_matches('/');
    let moved = doc.replace(url, &port_of_relay(upstream));
    Some((moved, upstream.to_string()))
}

#[tokio::test]
async fn a_reset_connection_is_retried_on_the_real_server() {
    let Some((_, upstream)) = kubeconfig_through(|u| u.to_string()) else {
        return;
    };
    let (port, seen) = resetting_relay(upstream, 1).await;
    let (doc, _) = kubeconfig_through(|_| format!("https://127.0.0.1:{port}")).unwrap();

    // brick's policy: the first connection is reset, the second reaches the real server,
    // which answers that the ConfigMap does not exist.
    let c = Cluster::from_kubeconfig(&doc).await.unwrap();
    let t = Instant::now();
    let got = c
        .get(&default_configmap())
        .await
        .expect("retried past the reset");
    assert!(got.is_none());
    assert!(seen.load(Ordering::SeqCst) >= 2, "the relay saw the retry");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());

    // With retries off (as a drain asks), the same reset is an error naming the server.
    let (port, _) = resetting_relay(doc_upstream(&doc), 1).await;
    let doc = doc.replace(&doc_upstream(&doc), &format!("127.0.0.1:{port}"));
    let cfg = Value::object_from([("kubeconfig", Value::string(doc))]);
    let mut config = brick_provider_k8s::config::client_config(&cfg)
        .await
        .unwrap();
    config.default_retry = false;
    let c = Cluster::from_ctx(Arc::new(Ctx::new(config).unwrap()));
    let d = c.get(&default_configmap()).await.expect_err("no retry");
    assert_eq!(d.code, "brick::k8s::unreachable");
    assert!(
        d.detail.contains(&format!("127.0.0.1:{port}")),
        "{}",
        d.detail
    );
}

fn doc_upstream(doc: &str) -> String {
    let line = doc
        .lines()
        .find(|l| l.trim_start().starts_with("server:"))
        .unwrap();
    line.trim_start()
        .trim_start_matches("server:")
        .trim()
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string()
}

#[tokio::test]
async fn an_unreachable_server_fails_within_seconds_naming_the_host_with_a_hint() {
    // No peer needed: a closed port and a name that does not resolve.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for (host, says) in [
        (format!("https://127.0.0.1:{closed}"), "refused"),
        (
            "https://brick-no-such-host.invalid:6443".to_string(),
            "resolve",
        ),
    ] {
        let c = Cluster::connect(&Value::object_from([
            ("host", Value::string(host.clone())),
            ("insecure", Value::bool(true)),
        ]))
        .await
        .unwrap();
        let t = Instant::now();
        let d = c.get(&default_configmap()).await.expect_err("unreachable");
        assert!(
            t.elapsed() < Duration::from_secs(6),
            "{host}: {:?}",
            t.elapsed()
        );
        assert_eq!(d.code, "brick::k8s::unreachable");
        let host_port = host.trim_start_matches("https://");
        assert!(d.detail.contains(host_port), "{}", d.detail);
        assert!(d.detail.contains(says), "{host}: {}", d.detail);
        assert!(d.help.as_deref().is_some_and(|h| !h.is_empty()));
    }
}
