//! JWT authentication for Envoy as a proxy-wasm HTTP filter.
//!
//! The folders are the layers, lowest first; a module imports only from its own layer or lower
//! ones (`tests/layers.rs` checks it):
//!
//! - [`error`]: the refusal statuses, one per native `jwt_authn` status, and configuration errors.
//! - [`crypto`]: signature verification for the JWS algorithms (no JOSE, no JSON).
//! - [`token`]: the JOSE layer: base64url and the compact JWS (header, payload, signature).
//! - [`keys`]: key sources: JWKS and one JWK, X.509/PEM, the shared remote-JWKS record and OIDC
//!   discovery.
//! - [`request`]: where tokens are found in a request, and route matching.
//! - [`authn`]: the decision: the validated configuration it reads, requirement trees, one token
//!   against one provider, claims, authorization, the verified-token cache and the reply.
//! - [`config`]: the plugin configuration (proto3 JSON, Envoy's `jwt_authn` shape) parsed and
//!   checked into the types the layers below own.
//! - `filter` (wasm32 only): the proxy-wasm adapter, the only code that talks to the host.
//!
//! Everything but `filter/` is plain Rust with no proxy-wasm dependency, so it is tested
//! natively; `filter/` only translates between the host and [`authn`].

pub mod error;

pub mod crypto;

pub mod token;

pub mod keys;

pub mod request;

pub mod authn;

pub mod config;

#[cfg(target_arch = "wasm32")]
mod filter;
