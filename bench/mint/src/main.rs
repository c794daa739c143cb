//! `bench-mint --key FILE --count N --out FILE [--bad-sig] [--iss S] [--aud S] [--exp-in SECS]`
//! `bench-mint --gen-key ALG[-BITS] --out FILE`
//!
//! The second form writes the private JWK of the benchmark's key for ALG (kid `bench-<alg>`,
//! lower case; RSA keys `BITS` bits, 2048 by default), generated from a fixed seed so that every
//! machine benchmarks the same key: `ES384`, `EdDSA`, `PS512`, `RS256-4096`, ...
//!
//! Writes N distinct tokens, one per line, signed with the private JWK in FILE. Tokens differ by
//! `sub` and `jti`, so no two share a cache entry. With `--bad-sig` the last byte of every
//! signature is flipped: the token stays well formed (valid base64url, right length, known
//! `kid`), so a verifier must do the full signature check to refuse it.

use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use jwt_mint::{b64url, b64url_decode, Alg, Family, Key, DEFAULT_RSA_BITS};
use serde_json::json;

fn main() {
    if let Err(e) = run() {
        eprintln!("bench-mint: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut key_file, mut count, mut out, mut bad) = (None, 1usize, None, false);
    let (mut iss, mut aud, mut exp_in) = ("https://demo.example".to_string(), "demo-api".to_string(), 86_400i64);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--key" => key_file = Some(value()?),
            "--count" => count = value()?.parse().map_err(|e| format!("--count: {e}"))?,
            "--out" => out = Some(value()?),
            "--iss" => iss = value()?,
            "--aud" => aud = value()?,
            "--exp-in" => exp_in = value()?.parse().map_err(|e| format!("--exp-in: {e}"))?,
            "--bad-sig" => bad = true,
            "--gen-key" => {
                let name = value()?;
                let out = args.next().filter(|f| f == "--out").and(args.next()).ok_or("--gen-key ALG --out FILE")?;
                return gen_key(&name, &out);
            }
            _ => return Err(format!("unknown flag {flag:?}")),
        }
    }
    let key_file = key_file.ok_or("--key FILE is required")?;
    let out = out.ok_or("--out FILE is required")?;
    let text = std::fs::read_to_string(&key_file).map_err(|e| format!("{key_file}: {e}"))?;
    let jwk: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{key_file}: {e}"))?;
    let key = Key::from_jwk(&jwk)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);

    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).max(1);
    let chunk = count.div_ceil(threads).max(1);
    let mut parts: Vec<Vec<String>> = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..count)
            .step_by(chunk)
            .map(|start| {
                let (key, iss, aud) = (key.clone(), iss.clone(), aud.clone());
                s.spawn(move || {
                    (start..(start + chunk).min(count))
                        .map(|i| {
                            let claims = json!({
                                "iss": iss, "aud": aud, "sub": format!("bench-user-{i}"),
                                "jti": format!("bench-{i}"), "iat": now, "exp": now + exp_in,
                            });
                            let token = key.token(&claims);
                            if bad { corrupt(&token) } else { token }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            parts.push(h.join().unwrap_or_default());
        }
    });
    let tokens: Vec<String> = parts.into_iter().flatten().collect();
    if tokens.len() != count {
        return Err(format!("minted {} tokens, wanted {count}", tokens.len()));
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(&out).map_err(|e| format!("{out}: {e}"))?);
    for t in &tokens {
        writeln!(f, "{t}").map_err(|e| format!("{out}: {e}"))?;
    }
    f.flush().map_err(|e| format!("{out}: {e}"))
}

/// The benchmark key `name` (`ALG` or `ALG-BITS`), from a seed fixed per name, as a private JWK.
fn gen_key(name: &str, out: &str) -> Result<(), String> {
    let (alg_name, bits) = match name.split_once('-') {
        Some((a, b)) => (a, b.parse::<usize>().map_err(|e| format!("{name}: bits: {e}"))?),
        None => (name, DEFAULT_RSA_BITS),
    };
    let alg: Alg = alg_name.parse()?;
    let kid = format!("bench-{}", name.to_lowercase());
    // One seed per name: FNV-1a of the name.
    let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let key = match alg.family() {
        Family::Rsa => Key::from_seed_rsa(bits, &kid, seed).with_alg(alg)?,
        _ if bits != DEFAULT_RSA_BITS => return Err(format!("{name}: only RSA keys take a size")),
        _ => Key::from_seed(alg, &kid, seed),
    };
    let text = serde_json::to_string_pretty(&key.private_jwk()).map_err(|e| e.to_string())?;
    std::fs::write(out, text + "\n").map_err(|e| format!("{out}: {e}"))
}

/// The same token with the last signature byte flipped.
fn corrupt(token: &str) -> String {
    let (input, sig) = token.rsplit_once('.').unwrap_or((token, ""));
    let mut bytes = b64url_decode(sig).unwrap_or_default();
    if let Some(last) = bytes.last_mut() {
        *last ^= 0x01;
    }
    format!("{input}.{}", b64url(&bytes))
}
