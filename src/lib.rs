//! JWT authentication for Envoy as a proxy-wasm HTTP filter.
//!
//! Everything but `filter/` is plain Rust with no proxy-wasm dependency, so it is tested
//! natively; `filter/` only translates between the host and [`authn::authenticate`].

pub mod alg;
pub mod authn;
pub mod b64;
pub mod claims;
pub mod config;
pub mod crypto;
pub mod duration;
pub mod ec_verify;
pub mod error;
pub mod extract;
pub mod jwks;
pub mod jwks_cache;
pub mod jwt;
pub mod k256_verify;
pub mod matcher;
pub mod p256_verify;
pub mod p384_verify;
pub mod p521_verify;
pub mod policy;
pub mod response;
pub mod rsa_verify;
pub mod token_cache;
pub mod x509;

#[cfg(target_arch = "wasm32")]
mod filter;
