//! The JOSE layer: base64url and the compact JWS serialization.

pub mod b64;
pub mod jws;
