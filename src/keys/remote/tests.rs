use super::*;

fn remote() -> RemoteJwks {
    RemoteJwks {
        uri: "http://idp/jwks".into(),
        cluster: "idp".into(),
        authority: "idp".into(),
        path: "/jwks".into(),
        timeout_ms: 1_000,
        cache_duration_ms: 10_000,
        failed_refetch_ms: 1_000,
        min_cache_duration_ms: 2_000,
        max_cache_duration_ms: 60_000,
        max_stale_ms: 100_000,
        unknown_kid_refetch_interval_ms: 30_000,
        first_fetch_wait_ms: 5_000,
        discovery: false,
        jwks_cluster: None,
    }
}

#[test]
fn round_trips_and_refuses_garbage() {
    let m = Meta {
        generation: 3,
        fetched_at_ms: 10,
        fresh_until_ms: 11,
        failures: 2,
        failed_at_ms: 20,
        retry_at_ms: 21,
        lease_until_ms: 30,
        refetch_wanted: true,
        refetch_asked_at_ms: 40,
    };
    assert_eq!(Meta::decode(&m.encode()), Some(m));
    for bad in [
        &b""[..],
        b"v1 1 2 3 4 5",
        b"v2 1 2 3 4 5 6 7 8",
        b"v2 a 2 3 4 5 6 7 8 9",
        b"v2 1 2 3 99999999999 5 6 7 8 9",
        b"v2 1 2 3 4 5 6 7 8 9 10",
    ] {
        assert_eq!(Meta::decode(bad), None);
    }
}

#[test]
fn cold_start_fetches_once() {
    let r = remote();
    let empty = Meta::default();
    assert!(empty.fetch_due(1_000));
    let leased = empty.leased(&r, 1_000);
    assert!(!leased.fetch_due(1_500), "one fetch at a time");
    assert!(leased.fetch_due(3_001), "an abandoned lease expires");
}

#[test]
fn refresh_before_expiry_and_stale_bound() {
    let r = remote();
    let ok = Meta::default().succeeded(0, 10_000);
    assert!(ok.has_keys());
    assert!(!ok.fetch_due(7_999));
    assert!(ok.fetch_due(8_000));
    assert!(ok.keys_usable(&r, 109_999));
    assert!(!ok.keys_usable(&r, 110_000), "fail closed after max_stale");
}

#[test]
fn failures_back_off_with_jitter_and_keep_keys() {
    let r = remote();
    let ok = Meta::default().succeeded(0, 10_000);
    let failed = ok.failed(&r, 8_000, 0);
    assert_eq!(failed.generation, ok.generation, "last good keys stay");
    assert!(!failed.fetch_due(8_999));
    assert!(failed.fetch_due(9_000));
    let twice = failed.failed(&r, 9_000, 0);
    assert!(!twice.fetch_due(10_999));
    assert!(twice.fetch_due(11_000));
    let jittered = failed.failed(&r, 9_000, 499);
    assert_eq!(jittered.retry_at_ms, 9_000 + 2_000 - 499);
    assert_eq!(retry_backoff_ms(&r, 40), MAX_RETRY_BACKOFF_MS);
}

#[test]
fn unknown_kid_refetch_is_rate_limited() {
    let r = remote();
    let ok = Meta::default().succeeded(0, 10_000);
    assert!(ok.may_refetch_for_unknown_kid(&r, 1_000));
    let asked = ok.with_refetch_asked(1_000);
    assert!(asked.fetch_due(1_000), "asked: fetch at once");
    let fetching = asked.leased(&r, 1_000);
    assert!(!fetching.may_refetch_for_unknown_kid(&r, 2_000));
    let done = fetching.succeeded(1_500, 10_000);
    assert!(!done.fetch_due(1_600));
    assert!(
        !done.may_refetch_for_unknown_kid(&r, 30_999),
        "a flood of kids costs one fetch per window"
    );
    let asked_mid_fetch = fetching.with_refetch_asked(1_200).succeeded(1_500, 10_000);
    assert!(
        asked_mid_fetch.fetch_due(1_600),
        "an ask during a fetch is served by the next one"
    );
    assert!(done.may_refetch_for_unknown_kid(&r, 31_000));
}

#[test]
fn settled_since() {
    let r = remote();
    let start = Meta::default().leased(&r, 0);
    assert!(!start.settled_since(&start));
    assert!(start.succeeded(5, 1).settled_since(&start));
    assert!(start.failed(&r, 5, 0).settled_since(&start));
}

const TICK: u64 = 100;
const NO_LIMIT: u64 = u64::MAX;

#[test]
fn next_fetch_follows_need_freshness_and_back_off() {
    let r = remote();
    assert_eq!(Meta::default().next_fetch_ms(), 0, "no keys: at once");
    let ok = Meta::default().succeeded(1_000, 10_000);
    assert_eq!(ok.next_fetch_ms(), 9_000, "80% of the freshness");
    assert_eq!(ok.with_refetch_asked(2_000).next_fetch_ms(), 0);
    let failed = ok.with_refetch_asked(2_000).failed(&r, 2_500, 0);
    assert_eq!(
        failed.next_fetch_ms(),
        3_500,
        "an asked refetch waits for the retry time"
    );
    let long_ago = Meta::default().succeeded(0, 10_000).failed(&r, 20_000, 0);
    assert_eq!(long_ago.next_fetch_ms(), 21_000);
}

#[test]
fn waits_for_a_due_fetch_until_it_must_be_over() {
    let r = remote();
    // No keys, nothing under way: a worker starts the fetch on its next tick, and it is
    // over within the timeout; every worker sees the outcome a tick later.
    let cold = Meta::default();
    assert_eq!(
        cold.wait_for_fetch(&r, 5_000, TICK, NO_LIMIT, None),
        Some(5_000 + TICK + 1_000 + TICK)
    );
    assert_eq!(
        cold.wait_for_fetch(&r, 5_000, TICK, 5_300, None),
        Some(5_300),
        "the request's own limit comes first"
    );
    assert_eq!(cold.wait_for_fetch(&r, 5_000, TICK, 5_000, None), None);
    let mut discovery = r.clone();
    discovery.discovery = true;
    assert_eq!(
        cold.wait_for_fetch(&discovery, 5_000, TICK, NO_LIMIT, None),
        Some(5_000 + TICK + 2_000 + TICK),
        "discovery makes two callouts"
    );
}

#[test]
fn waits_for_a_fetch_under_way_until_its_timeout() {
    let r = remote();
    let fetching = Meta::default().leased(&r, 5_000);
    assert_eq!(
        fetching.wait_for_fetch(&r, 5_400, TICK, NO_LIMIT, None),
        Some(5_000 + 1_000 + TICK),
        "the fetch started at 5 s is over by 6 s, whatever the lease's slack"
    );
    // An unknown kid during a fetch that may predate the rotation: that fetch, then the
    // refetch, which starts on the tick after it.
    let asked = fetching.with_refetch_asked(5_400);
    assert_eq!(
        asked.wait_for_fetch(&r, 5_400, TICK, NO_LIMIT, None),
        Some(6_000 + TICK + 1_000 + TICK)
    );
}

#[test]
fn never_waits_for_a_retry_back_off_holds_back() {
    let r = remote();
    let ok = Meta::default().succeeded(0, 10_000);
    let failed = ok.failed(&r, 2_000, 0);
    // Asked while backing off: the refetch starts at the retry time (3 s), within what a
    // request used to wait; the request is answered at once all the same.
    let asked = failed.with_refetch_asked(2_100);
    assert_eq!(asked.next_fetch_ms(), 3_000);
    assert_eq!(asked.wait_for_fetch(&r, 2_100, TICK, NO_LIMIT, None), None);
    assert_eq!(asked.wait_for_fetch(&r, 2_999, TICK, NO_LIMIT, None), None);
    assert_eq!(
        asked.wait_for_fetch(&r, 3_000, TICK, NO_LIMIT, None),
        Some(3_000 + TICK + 1_000 + TICK),
        "from the retry time on, the fetch is due"
    );
    // First keys while failing: the same, whatever `first_fetch_wait` allows.
    let cold_failed = Meta::default().failed(&r, 2_000, 0);
    assert_eq!(
        cold_failed.wait_for_fetch(&r, 2_100, TICK, 7_100, None),
        None
    );
    // Keys fresh, no refetch asked (rate-limited): nothing to wait for until the refresh.
    assert_eq!(ok.wait_for_fetch(&r, 1_000, TICK, NO_LIMIT, None), None);
    assert!(ok.wait_for_fetch(&r, 8_000, TICK, NO_LIMIT, None).is_some());
}

#[test]
fn a_failure_ends_the_wait_a_success_may_not() {
    let r = remote();
    let ok = Meta::default().succeeded(0, 10_000);
    // A fetch under way when the unknown kid came: the request asked for a refetch.
    let waited = ok.leased(&r, 1_000).with_refetch_asked(1_200);
    // That fetch failed: answered at once, even when the retry is already due.
    let failed = waited.failed(&r, 1_500, 0);
    assert!(failed.settled_since(&waited));
    assert_eq!(
        failed.wait_for_fetch(&r, 1_500, TICK, NO_LIMIT, Some(&waited)),
        None
    );
    assert_eq!(
        failed.wait_for_fetch(&r, 9_000, TICK, NO_LIMIT, Some(&waited)),
        None
    );
    // It succeeded without the kid: the refetch asked for is still owed and due now.
    let done = waited.succeeded(1_500, 10_000);
    assert!(done.settled_since(&waited));
    assert_eq!(
        done.wait_for_fetch(&r, 1_500, TICK, NO_LIMIT, Some(&waited)),
        Some(1_500 + TICK + 1_000 + TICK)
    );
    // The refetch succeeded too: nothing more can answer the request.
    let refetching = done.leased(&r, 1_550);
    let refetched = refetching.succeeded(1_600, 10_000);
    assert_eq!(
        refetched.wait_for_fetch(&r, 1_600, TICK, NO_LIMIT, Some(&refetching)),
        None
    );
}

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn lifetime_from_cache_headers() {
    let r = remote();
    assert_eq!(
        lifetime_ms(&r, &h(&[]), 0),
        10_000,
        "cache_duration is the fallback"
    );
    assert_eq!(
        lifetime_ms(&r, &h(&[("cache-control", "public, max-age=30")]), 0),
        30_000
    );
    assert_eq!(
        lifetime_ms(&r, &h(&[("Cache-Control", "max-age=1")]), 0),
        2_000,
        "clamped up"
    );
    assert_eq!(
        lifetime_ms(&r, &h(&[("cache-control", "max-age=86400")]), 0),
        60_000,
        "clamped down"
    );
    assert_eq!(
        lifetime_ms(&r, &h(&[("cache-control", "no-store")]), 0),
        2_000
    );
    let date = "Sun, 06 Nov 1994 08:49:37 GMT";
    let expires = "Sun, 06 Nov 1994 08:50:17 GMT";
    assert_eq!(
        lifetime_ms(&r, &h(&[("date", date), ("expires", expires)]), 0),
        40_000
    );
    assert_eq!(lifetime_ms(&r, &h(&[("expires", "garbage")]), 0), 10_000);
}

#[test]
fn http_dates() {
    assert_eq!(
        http_date_ms("Sun, 06 Nov 1994 08:49:37 GMT"),
        Some(784_111_777_000)
    );
    assert_eq!(http_date_ms("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
    assert_eq!(http_date_ms("Sun, 06 Nov 1994 08:49:37 PST"), None);
    assert_eq!(http_date_ms("06 Nov 1994"), None);
}

#[test]
fn discovery_documents() {
    let doc = br#"{"issuer":"https://idp.example","jwks_uri":"https://idp.example/keys?v=1"}"#;
    assert_eq!(
        discovery_jwks_uri(doc, Some("https://idp.example")),
        Ok(("idp.example".to_string(), "/keys?v=1".to_string()))
    );
    let wrong = discovery_jwks_uri(doc, Some("https://other.example")).unwrap_err();
    assert!(
        wrong.contains("names issuer \"https://idp.example\""),
        "{wrong}"
    );
    assert!(
        discovery_jwks_uri(doc, None).is_err(),
        "a provider without issuer"
    );
    for bad in [
        &b"not json"[..],
        br#"{"jwks_uri":"https://idp.example/keys"}"#,
        br#"{"issuer":"https://idp.example"}"#,
        br#"{"issuer":"https://idp.example","jwks_uri":"/relative"}"#,
        br#"{"issuer":"https://idp.example","jwks_uri":7}"#,
    ] {
        assert!(discovery_jwks_uri(bad, Some("https://idp.example")).is_err());
    }
    let long = format!(r#"{{"issuer":"{}","jwks_uri":"x"}}"#, "i".repeat(10_000));
    let e = discovery_jwks_uri(long.as_bytes(), Some("https://idp.example")).unwrap_err();
    assert!(
        e.len() < 600,
        "IdP values are cut short in errors: {} bytes",
        e.len()
    );
}
