//! Counters and gauges through proxy-wasm metrics, visible in Envoy's `/stats` and
//! `/stats/prometheus`. Defined lazily by name (Envoy shares one stat per name across the
//! worker VMs), ids cached per worker.
//!
//! Per-request counters ([`Metrics::count_id`]) are added up in the VM and handed to the host on
//! the worker's tick ([`Metrics::flush`], every 100 ms): priced with the benchmark's no-op
//! filter, each `increment_metric` call added about 2 µs per request in Envoy's V8, more than
//! any other host call a cache hit makes, so a request makes none.

use std::collections::HashMap;

use proxy_wasm_abi::{LogLevel, MetricType};

use super::host;

/// The longest metric name defined; a longer one (a very long provider name) is not defined,
/// and what it would count is not counted. Kong's host traps on a name over its
/// `max_metric_name_length` (256 by default, its `pw:<filter>:` prefix included), and a trap
/// cannot be caught: this leaves room for a filter name of up to 60 bytes.
const MAX_METRIC_NAME_BYTES: usize = 192;

/// This VM's linear memory as the last write of any VM left it: a gauge is one stat shared by
/// every VM of the plugin (main thread and each worker), so it is last-writer-wins.
const VM_MEMORY: &str = "jwt_authn.vm_memory_bytes";
/// The largest linear memory of any of the plugin's VMs (a high-water mark: wasm memory never
/// shrinks), i.e. the per-VM figure to watch with several workers.
const VM_MEMORY_MAX: &str = "jwt_authn.vm_memory_bytes_max";

/// This VM's wasm linear memory in bytes (`memory.size` pages of 64 KiB); 0 natively.
pub fn vm_memory_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        let pages = core::arch::wasm32::memory_size::<0>();
        u64::try_from(pages)
            .unwrap_or(u64::MAX)
            .saturating_mul(65_536)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}

#[derive(Default)]
pub struct Metrics {
    ids: HashMap<String, u32>,
    /// Counter increments not yet handed to the host: (metric id, count), one entry per id.
    pending: Vec<(u32, u64)>,
    /// This VM's linear memory when it was last reported (0: never).
    vm_memory: u64,
}

impl Metrics {
    fn id(&mut self, name: &str, kind: MetricType) -> Option<u32> {
        if let Some(id) = self.ids.get(name) {
            return Some(*id);
        }
        // Provider names come from the configuration: keep stat names to safe characters.
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if safe.len() > MAX_METRIC_NAME_BYTES {
            return None;
        }
        let id = host::define_metric(kind, &safe)?;
        self.ids.insert(name.to_string(), id);
        Some(id)
    }

    /// Counts one `name` now: for rare events (fetches, refetches).
    pub fn inc(&mut self, name: &str) {
        if let Some(id) = self.id(name, MetricType::Counter) {
            host::increment_metric(id, 1);
        }
    }

    /// The id of counter `name`, defined now if it was not: for counters a hot path counts by
    /// id ([`Metrics::count_id`]).
    pub fn counter(&mut self, name: &str) -> Option<u32> {
        self.id(name, MetricType::Counter)
    }

    /// Counts one for a request on counter `id` (from [`Metrics::counter`]; `None`, a counter
    /// the host did not define, counts nothing); the host sees it at the next
    /// [`Metrics::flush`].
    pub fn count_id(&mut self, id: Option<u32>) {
        let Some(id) = id else { return };
        match self.pending.iter_mut().find(|(pending, _)| *pending == id) {
            Some((_, count)) => *count = count.saturating_add(1),
            None => self.pending.push((id, 1)),
        }
    }

    /// Hands the counts made since the last flush to the host: one call per counter that moved.
    pub fn flush(&mut self) {
        for (id, count) in self.pending.drain(..) {
            host::increment_metric(id, i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    pub fn set(&mut self, name: &str, value: u64) {
        if let Some(id) = self.id(name, MetricType::Gauge) {
            host::record_metric(id, value);
        }
    }

    /// Reports this VM's linear memory: `vm_memory_bytes` when it changed since this VM last
    /// reported it (one `memory.size` instruction otherwise, cheap enough for every request),
    /// with an info log line (once at start, then on each growth: a handful per VM, and the
    /// per-VM figure the shared gauge cannot give); `vm_memory_bytes_max` raised to it when it
    /// changed or when `check_max` (the tick: it repairs a max lost to two VMs racing on
    /// read-then-write).
    pub fn report_vm_memory(&mut self, check_max: bool) {
        let bytes = vm_memory_bytes();
        if bytes == 0 {
            return; // not wasm: nothing to report
        }
        let previous = self.vm_memory;
        let changed = bytes != previous;
        if changed {
            self.vm_memory = bytes;
            self.set(VM_MEMORY, bytes);
            let message = if previous == 0 {
                format!("wasm memory of this VM: {bytes} bytes")
            } else {
                format!("wasm memory of this VM grew from {previous} to {bytes} bytes")
            };
            host::log(LogLevel::Info, &message);
        }
        if changed || check_max {
            if let Some(id) = self.id(VM_MEMORY_MAX, MetricType::Gauge) {
                if host::metric(id).is_none_or(|max| max < bytes) {
                    host::record_metric(id, bytes);
                }
            }
        }
    }
}
