//! The chaos run: a real Envoy with several workers, clients sending valid, tampered, expired
//! and random-`kid` tokens all along, and a JWKS server switched through faults while they do
//! (stable keys, a rotation, 503 at once, 200 with a broken body, hanging past the callout
//! timeout, recovery with the old key retired). Every answer is recorded with its latency and
//! the phase it was sent in, every fetch with its time; then checked against what the fault
//! table of docs/remote-jwks.md promises, and printed as a latency table per phase.
//!
//! `tests/envoy/lifecycle.rs` runs [`Script::short`] (seconds per phase, asserting);
//! `bench/chaos.rs` (`make chaos`) runs [`Script::long`], the issue's run of minutes, side by
//! side with native `jwt_authn` (same providers, same faults at the same moments, its own JWKS
//! server so each filter's fetches are counted apart). A module of the harness, which the bench
//! includes with `#[path]`; it uses the harness as `crate::support`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use jwt_mint::{jwks, Alg, Key};
use serde_json::{json, Value};

use crate::support::{
    body, flip_signature_bit, http_get, now, EnvoyBuilder, JwksStub, Proxy, Upstream,
};

/// The filter's worker tick (`src/filter/root.rs`): a fetch that is due starts on the next
/// one, and every worker sees a fetch's outcome by its next one.
pub const TICK: Duration = Duration::from_millis(100);

const ISS: &str = "https://issuer.chaos.example";
const AUD: &str = "api.chaos.example";
const PATH: &str = "/api/chaos";

/// The identity provider's two keys: `Old` signs from the start and is retired at the end,
/// `New` comes with the rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyName {
    Old,
    New,
}

/// What the JWKS server does during a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// 200 with these keys.
    Keys(&'static [KeyName]),
    /// 503 at once.
    Unavailable,
    /// 200 with a body that is not JSON.
    BrokenBody,
    /// Holds every request until the phase ends (past the callout timeout).
    Hang,
}

pub struct Phase {
    pub name: &'static str,
    pub served: Served,
    pub length: Duration,
    /// Ends early, once keys were fetched (a fetch came and a tick passed): a repair between
    /// two faults, so each fault starts from a healthy record and its own back-off.
    pub until_fetched: bool,
}

impl Phase {
    fn new(name: &'static str, served: Served, secs: f64) -> Phase {
        Phase {
            name,
            served,
            length: Duration::from_secs_f64(secs),
            until_fetched: false,
        }
    }

    fn repair(secs: f64) -> Phase {
        Phase {
            until_fetched: true,
            ..Phase::new(
                "repaired",
                Served::Keys(&[KeyName::Old, KeyName::New]),
                secs,
            )
        }
    }
}

/// The remote JWKS settings of the run (both filters get them; native ignores none of its own).
pub struct Timing {
    pub cache: Duration,
    pub min_cache: Duration,
    pub interval: Duration,
    pub timeout: Duration,
    pub failed_refetch: Duration,
}

pub struct Script {
    pub concurrency: u32,
    pub clients: usize,
    /// Each client's pause between two requests.
    pub pause: Duration,
    pub timing: Timing,
    pub phases: Vec<Phase>,
    /// Allowance over each bound for a loaded machine (scheduling, connection set-up).
    pub slack: Duration,
}

impl Script {
    /// About 25 s: each fault long enough for a few failed fetches, a repair between faults.
    pub fn short() -> Script {
        use KeyName::*;
        Script {
            concurrency: 4,
            clients: 6,
            pause: Duration::from_millis(20),
            timing: Timing {
                cache: Duration::from_secs(2),
                min_cache: Duration::from_secs(1),
                interval: Duration::from_secs(1),
                timeout: Duration::from_secs(1),
                // The issue's: back-off soon spaces retries wider than a refetch interval, so
                // refetches are asked for that it holds back.
                failed_refetch: Duration::from_millis(500),
            },
            phases: vec![
                Phase::new("keys served", Served::Keys(&[Old]), 2.5),
                Phase::new("rotation: new key added", Served::Keys(&[Old, New]), 3.0),
                Phase::new("503 at once", Served::Unavailable, 2.5),
                Phase::repair(5.0),
                Phase::new("200, broken body", Served::BrokenBody, 2.5),
                Phase::repair(5.0),
                Phase::new("hangs past the timeout", Served::Hang, 3.0),
                Phase::new("recovered, old key retired", Served::Keys(&[New]), 3.0),
            ],
            slack: Duration::from_millis(400),
        }
    }

    /// The issue's run (about 2 minutes): its settings, its fault lengths, no repairs.
    #[allow(dead_code)] // bench/chaos.rs (`make chaos`) only
    pub fn long() -> Script {
        use KeyName::*;
        Script {
            concurrency: 4,
            clients: 6,
            pause: Duration::from_millis(20),
            timing: Timing {
                cache: Duration::from_secs(3),
                min_cache: Duration::from_secs(1),
                interval: Duration::from_secs(2),
                timeout: Duration::from_secs(2),
                failed_refetch: Duration::from_millis(500),
            },
            phases: vec![
                Phase::new("keys served", Served::Keys(&[Old]), 15.0),
                Phase::new("rotation: new key added", Served::Keys(&[Old, New]), 15.0),
                Phase::new("503 at once", Served::Unavailable, 25.0),
                Phase::new("200, broken body", Served::BrokenBody, 15.0),
                Phase::new("hangs past the timeout", Served::Hang, 15.0),
                Phase::new("recovered, old key retired", Served::Keys(&[New]), 20.0),
            ],
            slack: Duration::from_millis(400),
        }
    }

    /// The longest a request sent during a phase serving `served` may be held, as docs/remote-jwks.md
    /// states it: a tick for a due fetch to start and one for every worker to see it end; with
    /// a server that answers, a tick more for a refetch owed after a fetch already under way;
    /// with one that hangs, the callout timeout of the fetch waited for.
    pub fn hold_bound(&self, served: Served) -> Duration {
        let ticks = match served {
            Served::Keys(_) => 3,
            Served::Unavailable | Served::BrokenBody | Served::Hang => 2,
        };
        let fetch = if served == Served::Hang {
            self.timing.timeout
        } else {
            Duration::ZERO
        };
        TICK * ticks + fetch
    }

    /// The most fetches a phase of `length` serving `served` may cause (4 workers together):
    /// while keys are served, a refresh per 80% of `cache_duration` and a refetch per
    /// `unknown_kid_refetch_interval`; while failing, the retries back-off allows (starting
    /// from no failure, so the gaps are the shortest, less the 25% jitter).
    pub fn fetch_bound(&self, served: Served, length: Duration) -> usize {
        let t = &self.timing;
        let secs = length.as_secs_f64();
        if let Served::Keys(_) = served {
            let refreshes = secs / (t.cache.as_secs_f64() * 0.8);
            let refetches = secs / t.interval.as_secs_f64();
            return (refreshes + refetches).ceil() as usize + 2;
        }
        let busy = if served == Served::Hang {
            t.timeout.as_secs_f64()
        } else {
            0.0
        };
        let (mut at, mut n, mut gap) = (busy, 1, t.failed_refetch.as_secs_f64());
        while at + gap * 0.75 < secs {
            at += gap * 0.75 + busy;
            n += 1;
            gap = (gap * 2.0).min(30.0);
        }
        n + 1
    }

    /// How long after a key appears in the JWKS a token signed with it may still be refused
    /// as unknown: the unknown-`kid` refetch may have been spent (on random kids) up to an
    /// interval before, then the refetch and a tick for every worker.
    fn publication_grace(&self) -> Duration {
        self.timing.interval + self.timing.timeout + TICK * 2 + self.slack
    }

    fn remote(&self, native: bool) -> Value {
        let t = &self.timing;
        let mut remote = json!({
            "http_uri": {"uri": "http://jwks.test/jwks.json", "cluster": "jwks", "timeout": proto(t.timeout)},
            "cache_duration": proto(t.cache),
            "async_fetch": {"failed_refetch_duration": proto(t.failed_refetch)}
        });
        if !native {
            remote["min_cache_duration"] = json!(proto(t.min_cache));
            remote["unknown_kid_refetch_interval"] = json!(proto(t.interval));
        }
        remote
    }

    /// The `JwtAuthentication` both filters get; native's without the filter's extensions.
    fn authn_config(&self, native: bool) -> Value {
        let mut config = json!({
            "providers": {"idp": {"issuer": ISS, "audiences": [AUD], "remote_jwks": self.remote(native)}},
            "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "idp"}}]
        });
        if native {
            config["@type"] = json!(
                "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"
            );
        }
        config
    }
}

/// A proto3 JSON duration.
fn proto(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    Wasm,
    #[allow(dead_code)] // bench/chaos.rs (`make chaos`) only
    Native,
}

impl Filter {
    pub fn name(self) -> &'static str {
        match self {
            Filter::Wasm => "wasm filter",
            Filter::Native => "native jwt_authn",
        }
    }
}

/// What a request carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Signed by a key the JWKS publishes.
    Valid(KeyName),
    /// A published key's token with one signature bit flipped.
    Tampered,
    Expired,
    /// Signed by the old key under a `kid` never published, a new one on every request.
    RandomKid,
    /// Signed by a key the JWKS no longer publishes.
    Retired,
}

impl Class {
    fn label(self) -> &'static str {
        match self {
            Class::Valid(_) => "valid",
            Class::Tampered => "tampered",
            Class::Expired => "expired",
            Class::RandomKid => "random kid",
            Class::Retired => "retired key",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Sample {
    pub phase: usize,
    pub class: Class,
    pub sent: Instant,
    pub took: Duration,
    /// 0 for a transport error (then `body` holds it).
    pub status: u16,
    pub body: String,
}

/// The tokens the clients send during a phase.
#[derive(Clone)]
struct Deck {
    phase: usize,
    valid: Vec<(KeyName, String)>,
    retired: Vec<String>,
    tampered: String,
    expired: String,
}

pub struct PhaseRun {
    pub name: &'static str,
    pub served: Served,
    pub start: Instant,
    pub end: Instant,
}

/// One filter's part of the run. Holding the proxy keeps Envoy up for the caller's checks
/// (and prints its log if one of them fails).
pub struct Target {
    pub filter: Filter,
    pub proxy: Proxy,
    pub stub: JwksStub,
    pub samples: Vec<Sample>,
}

pub struct Run {
    pub phases: Vec<PhaseRun>,
    pub targets: Vec<Target>,
    keys: Arc<Keys>,
    /// When each key not served from the start was first served.
    published: Vec<(KeyName, Instant)>,
}

struct Keys {
    old: Key,
    new: Key,
}

impl Keys {
    fn get(&self, name: KeyName) -> &Key {
        match name {
            KeyName::Old => &self.old,
            KeyName::New => &self.new,
        }
    }
}

fn claims() -> Value {
    let t = now();
    json!({"iss": ISS, "aud": AUD, "sub": "chaos", "iat": t, "exp": t + 3600})
}

/// Runs `script` against each of `filters`, all at once.
pub fn run(script: &Script, filters: &[Filter], upstream: &Upstream) -> Run {
    let keys = Arc::new(Keys {
        old: Key::from_seed(Alg::ES256, "chaos-old", 11),
        new: Key::from_seed(Alg::ES256, "chaos-new", 12),
    });
    let first = match script.phases.first().map(|p| p.served) {
        Some(Served::Keys(names)) => names,
        _ => panic!("a chaos script starts with keys served"),
    };
    let mut targets: Vec<(Filter, Proxy, JwksStub)> = filters
        .iter()
        .map(|&filter| {
            let stub = JwksStub::start(200, jwks_body(&keys, first));
            let builder = EnvoyBuilder::new(upstream)
                .jwks_cluster("jwks", stub.port())
                .concurrency(script.concurrency);
            let builder = match filter {
                Filter::Wasm => builder.plugin(script.authn_config(false)),
                Filter::Native => builder.http_filter_yaml(&format!(
                    "name: envoy.filters.http.jwt_authn\ntyped_config: {}",
                    script.authn_config(true)
                )),
            };
            (filter, builder.start(), stub)
        })
        .collect();

    let deck = Arc::new(RwLock::new(deck_for(&keys, 0, first, &[])));
    let stop = Arc::new(AtomicBool::new(false));
    let recorded: Vec<Arc<Mutex<Vec<Sample>>>> = targets
        .iter()
        .map(|_| Arc::new(Mutex::new(Vec::new())))
        .collect();
    let clients: Vec<JoinHandle<()>> = targets
        .iter()
        .zip(&recorded)
        .flat_map(|((_, proxy, _), samples)| {
            let port = proxy.port();
            (0..script.clients)
                .map(|id| {
                    let client = Client {
                        id,
                        port,
                        pause: script.pause,
                        keys: Arc::clone(&keys),
                        deck: Arc::clone(&deck),
                        stop: Arc::clone(&stop),
                        samples: Arc::clone(samples),
                    };
                    thread::spawn(move || client.run())
                })
                .collect::<Vec<_>>()
        })
        .collect();

    let mut phases = Vec::new();
    let mut published: Vec<(KeyName, Instant)> = Vec::new();
    let mut serving: &[KeyName] = first;
    let mut retired: Vec<KeyName> = Vec::new();
    for (index, phase) in script.phases.iter().enumerate() {
        let start = Instant::now();
        if let Served::Keys(names) = phase.served {
            // The first keys are there from the start; later ones get the grace.
            for name in names.iter().filter(|n| !first.contains(n)) {
                if !published.iter().any(|(n, _)| n == name) {
                    published.push((*name, start));
                }
            }
            retired.extend(serving.iter().filter(|n| !names.contains(n)));
            retired.retain(|n| !names.contains(n));
            serving = names;
        }
        *deck.write().unwrap() = deck_for(&keys, index, serving, &retired);
        for (_, _, stub) in &targets {
            serve(stub, &keys, phase.served);
        }
        eprintln!(
            "chaos: +{:.1}s {} ({:?})",
            phases
                .first()
                .map_or(0.0, |p: &PhaseRun| (start - p.start).as_secs_f64()),
            phase.name,
            phase.served
        );
        let end = start + phase.length;
        if phase.until_fetched {
            let fetched = |stub: &JwksStub| stub.fetch_times().iter().any(|t| *t > start);
            while Instant::now() < end && !targets.iter().all(|(_, _, s)| fetched(s)) {
                thread::sleep(Duration::from_millis(10));
            }
            thread::sleep(TICK * 3);
        } else {
            thread::sleep(end.saturating_duration_since(Instant::now()));
        }
        phases.push(PhaseRun {
            name: phase.name,
            served: phase.served,
            start,
            end: Instant::now(),
        });
    }
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        let _ = c.join();
    }
    let targets = targets
        .drain(..)
        .zip(recorded)
        .map(|((filter, proxy, stub), samples)| {
            let mut samples = samples.lock().unwrap().clone();
            samples.sort_by_key(|s| s.sent);
            Target {
                filter,
                proxy,
                stub,
                samples,
            }
        })
        .collect();
    Run {
        phases,
        targets,
        keys,
        published,
    }
}

fn jwks_body(keys: &Keys, names: &[KeyName]) -> String {
    let set: Vec<&Key> = names.iter().map(|n| keys.get(*n)).collect();
    jwks(&set).to_string()
}

/// Switches the JWKS server to `served`; a request it holds (a hang ending) gets the new answer.
fn serve(stub: &JwksStub, keys: &Keys, served: Served) {
    match served {
        Served::Keys(names) => {
            stub.set_status(200);
            stub.set_body(jwks_body(keys, names));
        }
        Served::Unavailable => {
            stub.set_status(503);
            stub.set_body("");
        }
        Served::BrokenBody => {
            stub.set_status(200);
            stub.set_body(r#"{"keys": [{"kty": "EC", "crv": "#);
        }
        Served::Hang => {}
    }
    stub.set_hang(served == Served::Hang);
}

fn deck_for(keys: &Keys, phase: usize, serving: &[KeyName], retired: &[KeyName]) -> Deck {
    let valid: Vec<(KeyName, String)> = serving
        .iter()
        .map(|n| (*n, keys.get(*n).token(&claims())))
        .collect();
    let t = now();
    Deck {
        phase,
        tampered: flip_signature_bit(&valid[0].1),
        expired: keys.old.token(
            &json!({"iss": ISS, "aud": AUD, "sub": "chaos", "iat": t - 7200, "exp": t - 3600}),
        ),
        retired: retired
            .iter()
            .map(|n| keys.get(*n).token(&claims()))
            .collect(),
        valid,
    }
}

struct Client {
    id: usize,
    port: u16,
    pause: Duration,
    keys: Arc<Keys>,
    deck: Arc<RwLock<Deck>>,
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
}

impl Client {
    /// Cycles through the classes, each request on a fresh connection (so it may land on any
    /// worker), until told to stop.
    fn run(self) {
        let header = self.keys.old.header();
        for seq in 0u64.. {
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            let deck = self.deck.read().unwrap().clone();
            let turn = seq as usize + self.id;
            let (class, token) = match turn % 5 {
                4 if !deck.retired.is_empty() => (Class::Retired, deck.retired[0].clone()),
                0 | 4 => {
                    let (name, token) = &deck.valid[(turn / 5) % deck.valid.len()];
                    (Class::Valid(*name), token.clone())
                }
                1 => (Class::Tampered, deck.tampered.clone()),
                2 => (Class::Expired, deck.expired.clone()),
                _ => {
                    let mut h = header.clone();
                    h["kid"] = json!(format!("rand-{}-{}-{seq}", now(), self.id));
                    (Class::RandomKid, self.keys.old.sign(&h, &claims()))
                }
            };
            let auth = format!("Bearer {token}");
            let sent = Instant::now();
            let r = http_get(
                self.port,
                PATH,
                &[("authorization", &auth)],
                Duration::from_secs(15),
            );
            let took = sent.elapsed();
            let (status, body) = match r {
                Ok(r) => (r.status, r.body),
                Err(e) => (0, e),
            };
            self.samples.lock().unwrap().push(Sample {
                phase: deck.phase,
                class,
                sent,
                took,
                status,
                body,
            });
            thread::sleep(self.pause);
        }
    }
}

impl Run {
    /// A valid token signed with key `name`, for checks after the run.
    pub fn token(&self, name: KeyName) -> String {
        self.keys.get(name).token(&claims())
    }

    /// Fetches `target` made during phase `index` (the JWKS server saw them arrive then).
    pub fn fetches(&self, target: &Target, index: usize) -> usize {
        let p = &self.phases[index];
        target
            .stub
            .fetch_times()
            .iter()
            .filter(|t| **t >= p.start && **t < p.end)
            .count()
    }

    /// The bound on how long `s` may be held: its phase's, or the next phase's when that began
    /// before the request could have been answered (a fetch it waited for may start there).
    /// The slack for a loaded machine is added here.
    fn bound(&self, script: &Script, s: &Sample) -> Duration {
        let own = script.hold_bound(self.phases[s.phase].served);
        let bound = match self.phases.get(s.phase + 1) {
            Some(next) if next.start < s.sent + TICK * 2 => own.max(script.hold_bound(next.served)),
            _ => own,
        };
        bound + script.slack
    }

    /// What the fault table of docs/remote-jwks.md promises, checked on `target`'s answers: every request
    /// answered (no 5xx, no transport error) within its phase's bound; no invalid token let
    /// through; no valid token refused once its key has been published for the grace; fetches
    /// bounded in every phase; no VM failure.
    pub fn problems(&self, script: &Script, target: &Target) -> Vec<String> {
        let origin = self.phases[0].start;
        let grace = script.publication_grace();
        let mut problems = Vec::new();
        for s in &target.samples {
            let at = s.sent.saturating_duration_since(origin).as_secs_f64();
            let what = format!(
                "{} token sent at +{at:.3}s in phase {:?}",
                s.class.label(),
                self.phases[s.phase].name
            );
            let refusal = |body: &str| s.status == 401 && s.body == body;
            let ok = match s.class {
                Class::Valid(name) => {
                    let new_key = self
                        .published
                        .iter()
                        .any(|(n, at)| *n == name && s.sent < *at + grace);
                    s.status == 200 || (new_key && refusal(body::KID_ALG))
                }
                Class::Tampered => refusal(body::VERIFICATION),
                Class::Expired => refusal(body::EXPIRED),
                Class::RandomKid => refusal(body::KID_ALG),
                Class::Retired => s.status == 200 || refusal(body::KID_ALG),
            };
            if !ok {
                problems.push(format!(
                    "{what}: got {} {:?}",
                    s.status,
                    s.body.chars().take(200).collect::<String>()
                ));
            }
            let bound = self.bound(script, s);
            if s.took > bound {
                problems.push(format!(
                    "{what}: held {} ms, over the {} ms bound",
                    s.took.as_millis(),
                    bound.as_millis()
                ));
            }
        }
        for (i, p) in self.phases.iter().enumerate() {
            let n = self.fetches(target, i);
            let bound = script.fetch_bound(p.served, p.end - p.start);
            if n > bound {
                problems.push(format!(
                    "phase {:?}: {n} fetches, over the bound of {bound}",
                    p.name
                ));
            }
        }
        problems.extend(
            target
                .proxy
                .vm_trouble()
                .into_iter()
                .map(|l| format!("VM failure: {l}")),
        );
        problems
    }

    /// The latency table: per phase and filter, p50 / max per class, and the fetches.
    pub fn table(&self, script: &Script) -> String {
        let classes = [
            Class::RandomKid,
            Class::Valid(KeyName::Old),
            Class::Tampered,
            Class::Expired,
        ];
        let mut out = format!(
            "Envoy --concurrency {}, {} clients; latency p50 / max in ms; the hold bound is the \
             docs/remote-jwks.md (checks allow {} ms more):\n\n\
             | phase | length | filter | requests | random kid | valid | tampered | expired | fetches | hold bound |\n\
             |---|---|---|---|---|---|---|---|---|---|\n",
            script.concurrency,
            script.clients,
            script.slack.as_millis()
        );
        for (i, p) in self.phases.iter().enumerate() {
            for target in &self.targets {
                let phase: Vec<&Sample> = target.samples.iter().filter(|s| s.phase == i).collect();
                let cells: Vec<String> = classes
                    .iter()
                    .map(|c| {
                        let mut took: Vec<Duration> = phase
                            .iter()
                            .filter(|s| s.class.label() == c.label())
                            .map(|s| s.took)
                            .collect();
                        took.sort();
                        match (took.get(took.len() / 2), took.last()) {
                            (Some(p50), Some(max)) => {
                                format!("{} / {}", p50.as_millis(), max.as_millis())
                            }
                            _ => "-".to_owned(),
                        }
                    })
                    .collect();
                let _ = writeln!(
                    out,
                    "| {} | {:.1} s | {} | {} | {} | {} | {:.1} s |",
                    p.name,
                    (p.end - p.start).as_secs_f64(),
                    target.filter.name(),
                    phase.len(),
                    cells.join(" | "),
                    self.fetches(target, i),
                    script.hold_bound(p.served).as_secs_f64()
                );
            }
        }
        out
    }
}
