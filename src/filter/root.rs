//! The root context: loads the configuration, drives the background JWKS work on a tick, and
//! receives the callout replies.

use std::rc::Rc;
use std::time::Duration;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel};

use crate::config::Config;
use crate::jwks;
use crate::jwks_cache::MAX_JWKS_BODY_BYTES;

use super::host;
use super::http::Http;
use super::worker::{self, Shared, Worker};

/// How often each worker looks at the shared JWKS records and its waiting requests. Short,
/// because a request waiting for its first keys in another worker is resumed on this tick.
const TICK: Duration = Duration::from_millis(100);

pub struct Root {
    shared: Shared,
}

impl Root {
    pub fn new() -> Root {
        Root { shared: Rc::new(std::cell::RefCell::new(Worker::default())) }
    }
}

impl Context for Root {
    fn on_http_call_response(&mut self, token_id: u32, _num_headers: usize, body_size: usize, _num_trailers: usize) {
        let Some(index) = ({
            let mut w = self.shared.borrow_mut();
            let found = w.callouts.iter().position(|(t, _)| *t == token_id);
            found.map(|i| w.callouts.swap_remove(i).1)
        }) else {
            return;
        };
        let now_ms = host::now_ms().unwrap_or_default();
        let name = self.shared.borrow().remotes.get(index).and_then(Option::as_ref).map(|r| r.name.clone()).unwrap_or_default();
        let outcome = match host::callout_status() {
            None => Err("no response (timeout or connection failure)".to_string()),
            Some(200) if body_size > MAX_JWKS_BODY_BYTES => Err(format!("body of {body_size} bytes is over the {MAX_JWKS_BODY_BYTES}-byte limit")),
            Some(200) => {
                let body = host::callout_body(body_size).unwrap_or_default();
                match std::str::from_utf8(&body).map_err(|_| "body is not UTF-8".to_string()).and_then(|t| jwks::parse_jwks_report(t).map_err(|e| format!("{}: {}", e.status, e.message))) {
                    Ok((keys, skipped)) => {
                        for s in skipped {
                            host::log(LogLevel::Warn, &format!("provider {name}: JWKS key #{} (kid {:?}) skipped: {}", s.index, s.kid, s.reason));
                        }
                        Ok((body, Rc::new(keys)))
                    }
                    Err(e) => Err(e),
                }
            }
            Some(status) => Err(format!("HTTP status {status}")),
        };
        match outcome {
            Ok((body, keys)) => {
                host::log(LogLevel::Info, &format!("provider {name}: fetched JWKS with {} usable keys", keys.len()));
                worker::record_outcome(&self.shared, index, Some((&body, keys)), now_ms);
            }
            Err(reason) => {
                host::log(LogLevel::Warn, &format!("provider {name}: JWKS fetch failed, keeping the last good keys: {reason}"));
                worker::record_outcome(&self.shared, index, None, now_ms);
            }
        }
        worker::wake_waiters(&self.shared, now_ms);
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let bytes = host::plugin_configuration().unwrap_or_default();
        let text = match std::str::from_utf8(&bytes) {
            Ok(t) => t,
            Err(_) => {
                host::log(LogLevel::Critical, "invalid plugin configuration: not UTF-8");
                return false;
            }
        };
        let config = match Config::parse(text) {
            Ok(config) => config,
            Err(e) => {
                host::log(LogLevel::Critical, &format!("invalid plugin configuration: {e}"));
                return false;
            }
        };
        let has_remote = config.providers.iter().any(|p| p.remote().is_some());
        self.shared.borrow_mut().configure(config);
        if has_remote && proxy_wasm::hostcalls::set_tick_period(TICK).is_err() {
            host::log(LogLevel::Critical, "cannot set a tick period; remote JWKS would never be fetched");
            return false;
        }
        true
    }

    fn on_tick(&mut self) {
        let Some(now_ms) = host::now_ms() else {
            return;
        };
        worker::start_due_fetches(&self.shared, now_ms);
        worker::wake_waiters(&self.shared, now_ms);
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Http::new(context_id, self.shared.clone())))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
