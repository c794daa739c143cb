//! `--fetch`: a remote provider's JWKS (through its OIDC discovery document when the provider
//! has `discovery`) over HTTP(S), with `ureq` and rustls (the webpki roots). The documents are
//! read with the filter's own parsers (`remote::discovery_jwks_uri`, `jwks::parse_jwks`).

use std::time::Duration;

use jwt_authn_wasm::keys::jwks::{self, KeySet};
use jwt_authn_wasm::keys::remote::{self, RemoteJwks};

/// Longest document read (a JWKS or a discovery document).
const MAX_BODY_BYTES: u64 = 1 << 20;

/// What `--fetch` brought for one provider: the JWKS URI fetched and the keys.
pub struct Fetched {
    pub jwks_uri: String,
    pub keys: KeySet,
}

/// Fetches the provider's keys; `issuer` is the provider's, which a discovery document must
/// name (OpenID Connect Discovery 1.0 §4.3). The error says which step failed.
pub fn keys(remote: &RemoteJwks, issuer: Option<&str>) -> Result<Fetched, String> {
    let timeout = Duration::from_millis(remote.timeout_ms.max(1000));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .build()
        .into();
    let jwks_uri = if remote.discovery {
        let body = get(&agent, &remote.uri)?;
        // The filter's check of the document (issuer, an absolute http(s) `jwks_uri`) first.
        remote::discovery_jwks_uri(body.as_bytes(), issuer)
            .map_err(|e| format!("{}: {e}", remote.uri))?;
        let doc: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("{}: {e}", remote.uri))?;
        doc.get("jwks_uri")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string()
    } else {
        remote.uri.clone()
    };
    let body = get(&agent, &jwks_uri)?;
    let keys = jwks::parse_jwks(&body).map_err(|e| format!("{jwks_uri}: {}", e.message))?;
    Ok(Fetched { jwks_uri, keys })
}

fn get(agent: &ureq::Agent, uri: &str) -> Result<String, String> {
    let mut response = agent.get(uri).call().map_err(|e| format!("{uri}: {e}"))?;
    response
        .body_mut()
        .with_config()
        .limit(MAX_BODY_BYTES)
        .read_to_string()
        .map_err(|e| format!("{uri}: {e}"))
}
