//! `providers.<name>.replay_protection` (extension): the bounds of the provider's seen set of
//! `jti`s, checked into an [`authn::replay::ReplayProtection`](crate::authn::replay).

use crate::authn::replay::{
    ReplayProtection, DEFAULT_MAX_ENTRIES, DEFAULT_MAX_TOKEN_LIFETIME_S, MAX_ENTRIES,
    MAX_TOKEN_LIFETIME_S,
};
use crate::config::fields::{decimal, Fields};
use crate::config::fields::Refused;

/// `{"max_entries": N, "max_token_lifetime": "300s"}`, both optional; `None` when absent.
#[inline(never)]
pub(super) fn parse_replay_protection(
    provider: &Fields,
) -> Result<Option<ReplayProtection>, Refused> {
    let Some(f) = provider.object("replay_protection")? else {
        return Ok(None);
    };
    f.refuse_unknown(&["max_entries", "max_token_lifetime"], &[])?;
    let max_entries = match f.uint32("max_entries")? {
        None => DEFAULT_MAX_ENTRIES,
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    if !(1..=MAX_ENTRIES).contains(&max_entries) {
        return Err(f.err_parts(
            "max_entries",
            &["must be between 1 and ", &decimal(MAX_ENTRIES as u64)],
        ));
    }
    let max_token_lifetime_s = match f.duration_ms("max_token_lifetime")? {
        None => DEFAULT_MAX_TOKEN_LIFETIME_S,
        // Whole seconds: token times are whole seconds.
        Some(ms) if ms % 1000 == 0 && (1..=MAX_TOKEN_LIFETIME_S).contains(&(ms / 1000)) => {
            ms / 1000
        }
        Some(_) => {
            return Err(f.err_parts(
                "max_token_lifetime",
                &[
                    "must be a whole number of seconds between 1s and ",
                    &decimal(MAX_TOKEN_LIFETIME_S),
                    "s",
                ],
            ))
        }
    };
    Ok(Some(ReplayProtection {
        max_entries,
        max_token_lifetime_s,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::authn::model::Config;
    use crate::authn::replay::ReplayProtection;
    use crate::error::ConfigError;

    fn parse(replay: serde_json::Value) -> Result<Option<ReplayProtection>, ConfigError> {
        let text = json!({"providers": {"p": {
            "local_jwks": {"inline_string": ""},
            "replay_protection": replay,
        }}})
        .to_string();
        Config::parse(&text).map(|mut c| c.providers.remove(0).replay_protection)
    }

    #[test]
    fn defaults_and_values() {
        assert_eq!(
            parse(json!({})),
            Ok(Some(ReplayProtection {
                max_entries: 100_000,
                max_token_lifetime_s: 300,
            }))
        );
        assert_eq!(
            parse(json!({"maxEntries": "5", "max_token_lifetime": "60s"})),
            Ok(Some(ReplayProtection {
                max_entries: 5,
                max_token_lifetime_s: 60,
            }))
        );
        let text = json!({"providers": {"p": {"local_jwks": {"inline_string": ""}}}}).to_string();
        assert_eq!(
            Config::parse(&text).map(|c| c.providers[0].replay_protection.clone()),
            Ok(None),
            "off by default"
        );
    }

    #[test]
    fn misconfigurations_name_the_field() {
        let field = |replay| parse(replay).map_err(|e| e.field);
        let base = "providers.p.replay_protection";
        for (replay, member) in [
            (json!({"max_entries": 0}), "max_entries"),
            (json!({"max_entries": 1_000_001}), "max_entries"),
            (json!({"max_entries": -1}), "max_entries"),
            (json!({"max_token_lifetime": "0s"}), "max_token_lifetime"),
            (json!({"max_token_lifetime": "1.5s"}), "max_token_lifetime"),
            (
                json!({"max_token_lifetime": "86401s"}),
                "max_token_lifetime",
            ),
            (json!({"max_token_lifetime": 300}), "max_token_lifetime"),
            (json!({"size": 3}), "size"),
        ] {
            assert_eq!(
                field(replay.clone()),
                Err(format!("{base}.{member}")),
                "{replay}"
            );
        }
        assert_eq!(field(json!(true)), Err(base.to_string()));
    }
}
