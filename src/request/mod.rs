//! The request side: where tokens are found (headers, parameters, cookies) and which rule a
//! request matches.

pub mod extract;
pub mod matcher;
pub mod regex;
