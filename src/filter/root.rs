//! The root context: loads the configuration, drives the background JWKS work on a tick, and
//! receives the callout replies (discovery documents and JWKS).

use std::rc::Rc;
use std::time::Duration;

use proxy_wasm_abi::{HttpContext, LogLevel, RootContext};

use crate::authn::model;
use crate::config;
use crate::crypto;
use crate::keys::jwks;
use crate::keys::remote::{self, MAX_JWKS_BODY_BYTES};

use super::host;
use super::http::Http;
use super::replay;
use super::worker::{self, CalloutKind, Fetched, Shared, Worker};

/// How often each worker looks at the shared JWKS records and its waiting requests, and hands
/// its counters to the host. Short, because a request waiting for keys in another worker is
/// resumed on this tick, and `/stats` lags the requests by at most this much.
pub(super) const TICK: Duration = Duration::from_millis(100);

pub struct Root {
    shared: Shared,
    /// Whether this root has asked for its tick.
    ticking: bool,
}

impl Root {
    pub fn new() -> Root {
        Root {
            shared: Rc::new(std::cell::RefCell::new(Worker::default())),
            ticking: false,
        }
    }

    /// A 200 response body within the size cap, or why not.
    fn response_body(body_size: usize) -> Result<Vec<u8>, String> {
        match host::callout_status() {
            None => Err("no response (timeout or connection failure)".to_string()),
            Some(200) if body_size > MAX_JWKS_BODY_BYTES => Err(format!(
                "body of {body_size} bytes is over the {MAX_JWKS_BODY_BYTES}-byte limit"
            )),
            Some(200) => Ok(host::callout_body(body_size).unwrap_or_default()),
            Some(status) => Err(format!("HTTP status {status}")),
        }
    }

    /// A discovery document arrived: check its issuer, then fetch its `jwks_uri`.
    fn on_discovery(&self, index: usize, body_size: usize, now_ms: u64) -> Result<(), String> {
        let Some((name, issuer, remote)) = self
            .shared
            .borrow()
            .remotes
            .get(index)
            .and_then(Option::as_ref)
            .map(|r| (r.name.clone(), r.issuer.clone(), r.jwks.clone()))
        else {
            return Ok(());
        };
        let body = Self::response_body(body_size)?;
        let (authority, path) = remote::discovery_jwks_uri(&body, issuer.as_deref())?;
        let cluster = remote.jwks_cluster.as_deref().unwrap_or(&remote.cluster);
        worker::dispatch(
            &self.shared,
            index,
            &name,
            cluster,
            &authority,
            &path,
            remote.timeout_ms,
            CalloutKind::Jwks,
            now_ms,
        );
        Ok(())
    }

    /// A JWKS arrived: validate it and store it for all workers.
    fn on_jwks(&self, index: usize, body_size: usize, now_ms: u64) -> Result<(), String> {
        let Some((name, remote)) = self
            .shared
            .borrow()
            .remotes
            .get(index)
            .and_then(Option::as_ref)
            .map(|r| (r.name.clone(), r.jwks.clone()))
        else {
            return Ok(());
        };
        let body = Self::response_body(body_size)?;
        let text = std::str::from_utf8(&body).map_err(|_| "body is not UTF-8".to_string())?;
        let (keys, skipped) =
            jwks::parse_jwks_report(text).map_err(|e| format!("{}: {}", e.status, e.message))?;
        // The identity provider controls these: at most a few lines, each value cut short.
        const SKIPPED_LOGGED: usize = 10;
        for s in skipped.iter().take(SKIPPED_LOGGED) {
            host::log(
                LogLevel::Warn,
                &format!("provider {name}: skipped JWKS {s}"),
            );
        }
        if skipped.len() > SKIPPED_LOGGED {
            host::log(
                LogLevel::Warn,
                &format!(
                    "provider {name}: {} more JWKS keys skipped",
                    skipped.len() - SKIPPED_LOGGED
                ),
            );
        }
        let lifetime_ms = remote::lifetime_ms(&remote, &host::callout_headers(), now_ms);
        host::log(
            LogLevel::Info,
            &format!(
                "provider {name}: fetched JWKS with {} usable keys, fresh for {} ms",
                keys.len(),
                lifetime_ms
            ),
        );
        worker::record_outcome(
            &self.shared,
            index,
            Some(Fetched {
                body: &body,
                keys: Rc::new(keys),
                lifetime_ms,
            }),
            now_ms,
            0,
        );
        Ok(())
    }
}

impl RootContext for Root {
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        _num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        let Some(callout) = ({
            let mut w = self.shared.borrow_mut();
            let found = w.callouts.iter().position(|c| c.token == token_id);
            found.map(|i| w.callouts.swap_remove(i))
        }) else {
            return;
        };
        // Without the host's clock, the tick's (at most one tick behind).
        let tick_clock_ms = self.shared.borrow().tick_clock_ms;
        let now_ms = host::now_ms().or(tick_clock_ms).unwrap_or_default();
        let result = match callout.kind {
            CalloutKind::Discovery => self.on_discovery(callout.provider, body_size, now_ms),
            CalloutKind::Jwks => self.on_jwks(callout.provider, body_size, now_ms),
        };
        if let Err(reason) = result {
            let name = self.shared.borrow().provider_name(callout.provider);
            host::log(
                LogLevel::Warn,
                &format!(
                    "provider {name}: JWKS fetch failed, keeping the last good keys: {reason}"
                ),
            );
            // Jitter entropy: the clock's low bits and the callout token differ per worker.
            let entropy =
                now_ms.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(token_id).rotate_left(29);
            worker::record_outcome(&self.shared, callout.provider, None, now_ms, entropy >> 7);
        }
        worker::wake_waiters(&self.shared, now_ms);
    }

    /// The plugin is going away: counts not yet flushed still reach the host.
    fn on_done(&mut self) -> bool {
        self.shared.borrow_mut().metrics.flush();
        true
    }

    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let bytes = host::plugin_configuration().unwrap_or_default();
        let config = match config::load(&bytes) {
            Ok(config) => config,
            Err(e) => {
                host::log(LogLevel::Critical, &e.refusal());
                return false;
            }
        };
        host::set_log_floor(log_level(config.log_level));
        {
            let mut worker = self.shared.borrow_mut();
            worker.configure(config);
            worker.metrics.report_vm_memory(true);
        }
        worker::create_records(&self.shared);
        if let Some(config) = self.shared.borrow().config.clone() {
            replay::create_sets(&config);
        }
        host::log(LogLevel::Info, crypto::engine_description());
        // Once per root: Kong's host traps on a second non-zero period.
        if !self.ticking {
            if host::set_tick_period(TICK).is_err() {
                host::log(
                    LogLevel::Critical,
                    "cannot set a tick period; remote JWKS would never be fetched nor counters reported",
                );
                return false;
            }
            self.ticking = true;
        }
        true
    }

    fn on_tick(&mut self) {
        let Some(now_ms) = host::now_ms() else {
            return;
        };
        self.shared.borrow_mut().tick_clock_ms = Some(now_ms);
        worker::start_due_fetches(&self.shared, now_ms);
        worker::wake_waiters(&self.shared, now_ms);
        let mut worker = self.shared.borrow_mut();
        worker.metrics.flush();
        worker.metrics.report_vm_memory(true);
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Http::new(context_id, self.shared.clone())))
    }
}

/// The configuration's log level as the ABI's.
fn log_level(level: model::LogLevel) -> LogLevel {
    match level {
        model::LogLevel::Trace => LogLevel::Trace,
        model::LogLevel::Debug => LogLevel::Debug,
        model::LogLevel::Info => LogLevel::Info,
        model::LogLevel::Warn => LogLevel::Warn,
        model::LogLevel::Error => LogLevel::Error,
        model::LogLevel::Critical => LogLevel::Critical,
    }
}
