//! A simulator of the MAAS 2.0 REST API, faithful enough to develop and test brick's MAAS
//! provider without hardware, and the engine of `brick lab`.
//!
//! It serves, on 127.0.0.1, the part of the API a machine provider uses, with MAAS's semantics:
//! OAuth 1.0 PLAINTEXT checking, `op=` dispatch, the machine status machine with MAAS's status
//! numbers and legal transitions, storage layouts and the finer storage endpoints, tags, and a
//! `describe/` document generated from its own handler table (python-libmaas builds its client
//! from it). Long operations take time, scaled by [`SimOptions::time_scale`]; faults can be
//! injected (a rate of 503/504 answers, added latency, machines whose deployments fail).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use brick_provider_maas::sim::{Simulator, SimOptions};
//! let sim = Simulator::start(SimOptions::fast()).await?;
//! println!("export MAAS_API_URL={} MAAS_API_KEY={}", sim.url(), sim.api_key());
//! # Ok(()) }
//! ```

pub mod api;
pub mod params;
pub mod storage;
pub mod world;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::Method;
use tokio::sync::oneshot;

use storage::IdGen;
use world::{Durations, Hardware, World};

/// What the lab learns of a machine that finished deploying: the user_data it was deployed
/// with and the facts its OS would see.
#[derive(Clone, Debug)]
pub struct DeployedMachine {
    pub hostname: String,
    pub system_id: String,
    /// The user_data as given to `op=deploy` (decoded from base64); empty when none.
    pub user_data: Vec<u8>,
    pub cpu_count: u32,
    pub memory_mib: u64,
    /// Each disk's size in bytes.
    pub disks: Vec<u64>,
    /// Each logical volume: its path as the machine reports it (`/dev/disk/by-dname/vgroot-ceph`)
    /// and its size in bytes.
    pub volumes: Vec<(String, u64)>,
    /// The machine's IPv4 addresses, boot interface first.
    pub addresses: Vec<String>,
}

/// Something the lab runs beside the simulator (what the deployed OS would do with its
/// user_data). Called while the simulator holds its state: return at once (hand the work to a
/// task).
pub trait MachineHook: Send + Sync {
    fn deployed(&self, machine: &DeployedMachine);
    /// The machine was released (its OS is gone).
    fn released(&self, _hostname: &str) {}
}

/// A [`MachineHook`] in [`SimOptions`].
#[derive(Clone)]
pub struct Hook(pub Arc<dyn MachineHook>);

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hook(..)")
    }
}

/// How the simulator behaves.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Multiplies MAAS's realistic durations (a deploy takes about 10 minutes at 1.0).
    pub time_scale: f64,
    /// The realistic durations before scaling.
    pub durations: Durations,
    /// The share of requests (0.0–1.0) answered 503 (with `Retry-After`) or 504 (after the
    /// work is done, as a gateway that gave up while MAAS carried on).
    pub error_rate: f64,
    /// The share of requests (0.0–1.0) answered 409 with `Retry-After: 5` before any work, as
    /// MAAS does when a database transaction conflicts.
    pub conflict_rate: f64,
    /// Added to every answer.
    pub latency: Duration,
    /// Hostnames whose deployments end in `Failed deployment`.
    pub fail_deploy: Vec<String>,
    /// Seeds ids, keys and fault rolls: the same seed gives the same simulator.
    pub seed: u64,
    /// The API key (`consumer:token:secret`); derived from the seed when `None`.
    pub api_key: Option<String>,
    /// Seed the garage's machines (`maas`, `kvm4`, `kvm5` Ready; `spare1..3` New).
    pub garage: bool,
    /// Told when a machine is deployed or released (the lab forms clusters from it).
    pub machine_hook: Option<Hook>,
    /// Give machines loopback addresses (`127.0.10.N`) instead of `10.0.0.N`, so that what the
    /// lab runs "on" a machine can listen on the machine's own address on this host.
    pub loopback_network: bool,
    /// The first three octets of the machines' addresses when `loopback_network` is on
    /// (default `127.0.10`). Labs that run side by side on one host (tests in parallel) each
    /// take their own, e.g. from `brick::lab::free_loopback_network()`, so that their API
    /// servers never answer for each other.
    pub network: Option<String>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions::realistic()
    }
}

impl SimOptions {
    /// MAAS's own pace: commissioning about 7 minutes, deploying 10.
    pub fn realistic() -> SimOptions {
        SimOptions {
            time_scale: 1.0,
            durations: Durations::default(),
            error_rate: 0.0,
            conflict_rate: 0.0,
            latency: Duration::ZERO,
            fail_deploy: Vec::new(),
            seed: 5240,
            api_key: None,
            garage: true,
            machine_hook: None,
            loopback_network: false,
            network: None,
        }
    }
    /// A few seconds for a whole deploy (1/300 of the real pace).
    pub fn demo() -> SimOptions {
        SimOptions {
            time_scale: 1.0 / 300.0,
            ..SimOptions::realistic()
        }
    }
    /// For tests: a deploy takes 60 ms.
    pub fn fast() -> SimOptions {
        SimOptions {
            time_scale: 0.0001,
            ..SimOptions::realistic()
        }
    }
}

/// A MAAS API key: `consumer_key:token_key:token_secret`.
#[derive(Clone, Debug)]
pub struct ApiKey {
    pub consumer: String,
    pub token: String,
    pub secret: String,
}

impl ApiKey {
    pub fn parse(s: &str) -> Option<ApiKey> {
        let mut it = s.trim().split(':');
        let (c, t, k) = (it.next()?, it.next()?, it.next()?);
        if it.next().is_some() || c.is_empty() || t.is_empty() || k.is_empty() {
            return None;
        }
        Some(ApiKey {
            consumer: c.into(),
            token: t.into(),
            secret: k.into(),
        })
    }
    fn generate(ids: &mut IdGen) -> ApiKey {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
        let mut word = |n: usize| -> String {
            (0..n)
                .map(|_| ALPHABET[(ids.random() % ALPHABET.len() as u64) as usize] as char)
                .collect()
        };
        ApiKey {
            consumer: word(18),
            token: word(18),
            secret: word(32),
        }
    }
}

impl std::fmt::Display for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.consumer, self.token, self.secret)
    }
}

/// One request the simulator received (for tests that count calls).
#[derive(Clone, Debug, PartialEq)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub op: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Faults {
    pub error_rate: f64,
    pub conflict_rate: f64,
    pub latency: Duration,
    /// The next this many POST/PUT/DELETE requests answer 504 after doing their work.
    pub lose_answers: u32,
    /// Only requests with this `op` count towards [`Faults::lose_answers`] (any, when `None`).
    pub lose_answers_to: Option<String>,
}

/// State shared by the server's tasks.
pub struct Shared {
    pub world: Mutex<World>,
    pub key: ApiKey,
    pub username: String,
    pub addr: SocketAddr,
    faults: Mutex<Faults>,
    rng: Mutex<IdGen>,
    log: Mutex<Vec<RequestRecord>>,
    injected: std::sync::atomic::AtomicU64,
    time_scale: f64,
}

impl Shared {
    pub fn faults(&self) -> Faults {
        self.faults.lock().expect("faults lock").clone()
    }
    /// Whether this mutating request's answer is to be lost (see [`Simulator::lose_answers`]).
    pub fn take_lost_answer(&self, op: Option<&str>) -> bool {
        let mut f = self.faults.lock().expect("faults lock");
        if f.lose_answers > 0 && f.lose_answers_to.as_deref().is_none_or(|o| op == Some(o)) {
            f.lose_answers -= 1;
            self.injected
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            true
        } else {
            false
        }
    }
    /// `Some(503)`, `Some(504)`, `Some(409)` or `None`, at the configured rates.
    pub fn roll_fault(&self) -> Option<u16> {
        let Faults {
            error_rate: rate,
            conflict_rate,
            ..
        } = self.faults();
        if rate <= 0.0 && conflict_rate <= 0.0 {
            return None;
        }
        let mut rng = self.rng.lock().expect("rng lock");
        if conflict_rate > 0.0 && rng.unit() < conflict_rate {
            self.injected
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Some(409);
        }
        if rng.unit() < rate {
            self.injected
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Some(if rng.random().is_multiple_of(2) {
                503
            } else {
                504
            })
        } else {
            None
        }
    }
    /// MAAS says `Retry-After: 10` on 503 (5 on a conflicting transaction); scaled with the
    /// time scale (whole seconds, at least 0).
    pub fn retry_after(&self, real_seconds: f64) -> u64 {
        (real_seconds * self.time_scale).round().max(0.0) as u64
    }
    pub fn record(&self, method: &Method, path: &str, query: &str) {
        let op = params::Params::from_urlencoded(query.as_bytes())
            .get("op")
            .map(str::to_string);
        self.log.lock().expect("log lock").push(RequestRecord {
            method: method.to_string(),
            path: path.to_string(),
            op,
        });
    }
}

/// A running simulator. Dropping it stops the server.
pub struct Simulator {
    shared: Arc<Shared>,
    url: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Seeds the garage: `maas`, `kvm4`, `kvm5` Ready (50 cores, 80 GiB of memory and 3 TB of disk
/// between them) and three new PCs `spare1..3` that have PXE-booted and wait in New.
pub fn seed_garage(w: &mut World) {
    let tb = 1_000_000_000_000u64;
    let gb = 1_000_000_000u64;
    let ready: [(&str, u32, u64, u64, &str, &str); 3] = [
        (
            "maas",
            10,
            16 * 1024,
            tb,
            "Samsung SSD 870",
            "52:54:00:6d:61:01",
        ),
        (
            "kvm4",
            20,
            32 * 1024,
            tb,
            "WDC WD10EZEX",
            "52:54:00:6b:34:01",
        ),
        (
            "kvm5",
            20,
            32 * 1024,
            tb,
            "WDC WD10EZEX",
            "52:54:00:6b:35:01",
        ),
    ];
    for (name, cpu, mem, disk, model, mac) in ready {
        w.add_machine(
            name,
            Hardware {
                cpu_count: cpu,
                memory_mib: mem,
                disks: vec![("sda".into(), disk, model.into())],
            },
            &[mac],
            true,
        );
    }
    let spares: [(&str, u64, &str); 3] = [
        ("spare1", 500 * gb, "52:54:00:73:70:01"),
        ("spare2", 480 * gb, "52:54:00:73:70:02"),
        ("spare3", 320 * gb, "52:54:00:73:70:03"),
    ];
    for (name, disk, mac) in spares {
        w.add_machine(
            name,
            Hardware {
                cpu_count: 4,
                memory_mib: 8 * 1024,
                disks: vec![("sda".into(), disk, "ST500DM002".into())],
            },
            &[mac],
            false,
        );
    }
}

impl Simulator {
    /// Starts on 127.0.0.1 with a free port.
    pub async fn start(opts: SimOptions) -> std::io::Result<Simulator> {
        Simulator::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), opts).await
    }

    /// Starts on the given address (which must be a loopback address).
    pub async fn start_on(addr: SocketAddr, opts: SimOptions) -> std::io::Result<Simulator> {
        if !addr.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("the MAAS simulator binds to loopback addresses only, not {addr}"),
            ));
        }
        let mut ids = IdGen::new(opts.seed);
        let key = match &opts.api_key {
            Some(k) => ApiKey::parse(k).ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "an API key has the form consumer:token:secret",
                )
            })?,
            None => ApiKey::generate(&mut ids),
        };
        let mut world = World::new(opts.seed, opts.durations.clone(), opts.time_scale);
        world.hook = opts.machine_hook.clone();
        if opts.loopback_network {
            world.network = opts.network.clone().unwrap_or_else(|| "127.0.10".into());
        }
        if opts.garage {
            seed_garage(&mut world);
        }
        for m in &mut world.machines {
            m.fails_deploy = opts.fail_deploy.contains(&m.hostname);
        }
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let shared = Arc::new(Shared {
            username: world.username.clone(),
            world: Mutex::new(world),
            key,
            addr: local,
            faults: Mutex::new(Faults {
                error_rate: opts.error_rate,
                conflict_rate: opts.conflict_rate,
                latency: opts.latency,
                lose_answers: 0,
                lose_answers_to: None,
            }),
            rng: Mutex::new(IdGen::new(opts.seed.wrapping_add(1))),
            log: Mutex::new(Vec::new()),
            injected: std::sync::atomic::AtomicU64::new(0),
            time_scale: opts.time_scale,
        });
        let app = Router::new()
            .fallback(api::handle)
            .with_state(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Simulator {
            shared,
            url: format!("http://{local}/MAAS/"),
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// The MAAS URL (`http://127.0.0.1:PORT/MAAS/`), as users give it to the MAAS CLI.
    pub fn url(&self) -> &str {
        &self.url
    }
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }
    /// The API key (`consumer:token:secret`).
    pub fn api_key(&self) -> String {
        self.shared.key.to_string()
    }

    /// Runs `f` on the world, brought up to date first. For tests and the lab's scripted
    /// events ("someone released kvm5 behind brick's back").
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let mut w: MutexGuard<'_, World> = self.shared.world.lock().expect("world lock");
        w.advance(Instant::now());
        f(&mut w)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.log.lock().expect("log lock").clone()
    }
    pub fn clear_requests(&self) {
        self.shared.log.lock().expect("log lock").clear();
    }

    /// How many 503/504 faults were injected so far.
    pub fn faults_injected(&self) -> u64 {
        self.shared
            .injected
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn set_error_rate(&self, rate: f64) {
        self.shared.faults.lock().expect("faults lock").error_rate = rate;
    }
    pub fn set_conflict_rate(&self, rate: f64) {
        self.shared
            .faults
            .lock()
            .expect("faults lock")
            .conflict_rate = rate;
    }
    /// The next `n` POST, PUT or DELETE requests do their work and then answer 504, as a
    /// gateway that gave up while MAAS carried on (deterministic, unlike the error rate).
    pub fn lose_answers(&self, n: u32) {
        let mut f = self.shared.faults.lock().expect("faults lock");
        f.lose_answers = n;
        f.lose_answers_to = None;
    }
    /// Like [`Simulator::lose_answers`], for the next `n` requests with `op=OP` only (others
    /// are answered): one storage operation's answer lost in the middle of a deployment.
    pub fn lose_answers_to(&self, op: &str, n: u32) {
        let mut f = self.shared.faults.lock().expect("faults lock");
        f.lose_answers = n;
        f.lose_answers_to = Some(op.to_string());
    }
    pub fn set_latency(&self, latency: Duration) {
        self.shared.faults.lock().expect("faults lock").latency = latency;
    }
    /// Makes the deployments of `hostname` fail (or succeed again).
    pub fn set_fail_deploy(&self, hostname: &str, fail: bool) {
        self.with_world(|w| {
            for m in w.machines.iter_mut().filter(|m| m.hostname == hostname) {
                m.fails_deploy = fail;
            }
        });
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
