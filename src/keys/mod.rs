//! Key sources: a JWKS and its JWKs, X.509 certificates and PEM keys, and the remote-JWKS record
//! shared by all workers (freshness, fetch lease, back-off, OIDC discovery).

mod der;
pub mod jwks;
pub mod remote;
pub mod x509;
