//! `--fetch`: a remote provider's JWKS (through its OIDC discovery document when the provider
//! has `discovery`) over HTTP(S), with `ureq` and rustls (the webpki roots). The documents are
//! read with the filter's own parsers (`remote::discovery_jwks_uri`, `jwks::parse_jwks`).
//! `--ca-file` adds trust anchors (a private CA, a corporate proxy's) to the webpki roots.

use std::time::Duration;

use jwt_authn_wasm::keys::jwks::{self, KeySet};
use jwt_authn_wasm::keys::remote::{self, RemoteJwks};
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

/// Longest document read (a JWKS or a discovery document).
const MAX_BODY_BYTES: u64 = 1 << 20;

/// What `--fetch` brought for one provider: the JWKS URI fetched and the keys.
pub struct Fetched {
    pub jwks_uri: String,
    pub keys: KeySet,
}

/// The certificates `--fetch` trusts: the webpki roots (Mozilla's), and the anchors of each
/// `--ca-file`.
pub struct Trust(RootCerts);

impl Trust {
    /// The webpki roots and the certificates of `ca_files` (PEM). A file that cannot be read,
    /// that holds no certificate, or a certificate rustls cannot take as a trust anchor is an
    /// error naming the file: `ureq` would skip such a certificate silently.
    pub fn new(ca_files: &[String]) -> Result<Trust, String> {
        if ca_files.is_empty() {
            return Ok(Trust(RootCerts::WebPki));
        }
        let mut roots: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|der| Certificate::from_der(der.as_ref()))
            .collect();
        for file in ca_files {
            roots.extend(read_anchors(file)?);
        }
        Ok(Trust(RootCerts::new_with_certs(&roots)))
    }
}

/// The certificates of one `--ca-file`, each checked as rustls checks a root.
fn read_anchors(file: &str) -> Result<Vec<Certificate<'static>>, String> {
    let pem = std::fs::read(file).map_err(|e| format!("--ca-file {file}: cannot read: {e}"))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        // A private key beside the certificates is no trust anchor; it is not used.
        if let PemItem::Certificate(cert) =
            item.map_err(|e| format!("--ca-file {file}: not PEM: {e}"))?
        {
            certs.push(cert);
        }
    }
    if certs.is_empty() {
        return Err(format!(
            "--ca-file {file}: no certificate (expected PEM \"-----BEGIN CERTIFICATE-----\" blocks)"
        ));
    }
    for (n, cert) in certs.iter().enumerate() {
        let der = rustls::pki_types::CertificateDer::from(cert.der());
        rustls::RootCertStore::empty().add(der).map_err(|e| {
            let why = match e {
                rustls::Error::InvalidCertificate(why) => format!("{why:?}"),
                other => other.to_string(),
            };
            format!(
                "--ca-file {file}: certificate {} is not a usable trust anchor ({why})",
                n + 1
            )
        })?;
    }
    Ok(certs)
}

/// Fetches the provider's keys; `issuer` is the provider's, which a discovery document must
/// name (OpenID Connect Discovery 1.0 §4.3). The error says which step failed.
pub fn keys(remote: &RemoteJwks, issuer: Option<&str>, trust: &Trust) -> Result<Fetched, String> {
    let timeout = Duration::from_millis(remote.timeout_ms.max(1000));
    let tls = TlsConfig::builder().root_certs(trust.0.clone()).build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .tls_config(tls)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    /// `--ca-file` adds to the Mozilla roots: every one of them stays, and the file's come after.
    #[test]
    fn a_ca_file_is_added_to_the_webpki_roots() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = params.self_signed(&key).unwrap();
        let dir = std::env::temp_dir().join(format!("jwt-authn-fetch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ca.pem");
        // Twice, and a key beside them: two anchors, the key ignored.
        std::fs::write(&file, ca.pem() + &ca.pem() + &key.serialize_pem()).unwrap();
        let trust = Trust::new(&[file.to_str().unwrap().to_string()]).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let RootCerts::Specific(roots) = trust.0 else {
            panic!("not the webpki roots and the file's")
        };
        let mozilla = webpki_root_certs::TLS_SERVER_ROOT_CERTS;
        assert_eq!(roots.len(), mozilla.len() + 2);
        for (root, mozilla) in roots.iter().zip(mozilla) {
            assert_eq!(root.der(), mozilla.as_ref());
        }
        assert!(roots
            .iter()
            .skip(mozilla.len())
            .all(|r| r.der() == ca.der().as_ref()));
    }

    #[test]
    fn without_a_ca_file_the_webpki_roots_alone() {
        assert!(matches!(Trust::new(&[]).unwrap().0, RootCerts::WebPki));
    }
}
