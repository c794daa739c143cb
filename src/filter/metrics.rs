//! Counters and gauges through proxy-wasm metrics, visible in Envoy's `/stats` and
//! `/stats/prometheus`. Defined lazily by name (Envoy shares one stat per name across the
//! worker VMs), ids cached per worker.

use std::collections::HashMap;

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;

#[derive(Default)]
pub struct Metrics {
    ids: HashMap<String, u32>,
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
        let id = hostcalls::define_metric(kind, &safe).ok()?;
        self.ids.insert(name.to_string(), id);
        Some(id)
    }

    pub fn inc(&mut self, name: &str) {
        if let Some(id) = self.id(name, MetricType::Counter) {
            let _ = hostcalls::increment_metric(id, 1);
        }
    }

    pub fn set(&mut self, name: &str, value: u64) {
        if let Some(id) = self.id(name, MetricType::Gauge) {
            let _ = hostcalls::record_metric(id, value);
        }
    }
}
