//! `jwt-mint`: the command-line face of the library (see `USAGE`). Arguments are parsed by hand;
//! the tool has three verbs and a dozen flags, not enough to need a parser crate.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use jwt_mint::{jwks, Alg, Key, DEFAULT_RSA_BITS};
use serde_json::{Map, Value};

const USAGE: &str = "\
jwt-mint: mint signed JWTs from test keys (never production keys)

USAGE:
  jwt-mint [token] --key FILE [--iss S] [--sub S] [--aud S]... [--exp-in SECS | --no-exp]
                   [--iat N | --no-iat] [--nbf-in SECS] [--kid S] [--claim K=V]...
      Prints a compact JWS signed with the private JWK in FILE. The header is
      {\"alg\", \"typ\": \"JWT\", \"kid\"}. --exp-in defaults to 3600 and may be negative
      (an already expired token). --aud once gives a string, repeated an array.
      --claim values are parsed as JSON when they parse (42, true, [\"a\"], {..}),
      else taken as strings. --claim exp=/iat= win over --exp-in/--iat; --aud wins
      over --claim aud=; otherwise a later flag wins over an earlier one.
  jwt-mint gen --alg ALG [--kid S] [--seed N] [--bits N]
      Prints a new private JWK (random, or reproducible from --seed).
      ALG: RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES256K ES384 ES512 HS256 HS384 HS512 EdDSA
  jwt-mint jwks FILE...
      Prints the public JWKS {\"keys\": [...]} of the private JWK files, in order.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None | Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some("gen") => gen(args.get(1..).unwrap_or_default()),
        Some("jwks") => jwks_cmd(args.get(1..).unwrap_or_default()),
        Some("token") => token(args.get(1..).unwrap_or_default()),
        Some(_) => token(&args),
    };
    match result {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("jwt-mint: {e}\n(run `jwt-mint --help` for usage)");
            ExitCode::from(2)
        }
    }
}

fn token(args: &[String]) -> Result<String, String> {
    let mut key_file = None;
    let mut kid = None;
    let mut claims = Map::new();
    let mut auds = Vec::new();
    let now = now();
    let mut iat = Some(now);
    let mut exp_in = Some(3600i64);
    let mut flags = Flags::new(args);
    while let Some(flag) = flags.next_flag()? {
        match flag {
            "--key" => key_file = Some(flags.value(flag)?),
            "--kid" => kid = Some(flags.value(flag)?),
            "--iss" | "--sub" => {
                let name = flag.trim_start_matches("--");
                claims.insert(name.to_owned(), flags.value(flag)?.into());
            }
            "--aud" => auds.push(flags.value(flag)?),
            "--exp-in" => exp_in = Some(parse_num(flag, &flags.value(flag)?)?),
            "--no-exp" => exp_in = None,
            "--iat" => iat = Some(parse_num(flag, &flags.value(flag)?)?),
            "--no-iat" => iat = None,
            "--nbf-in" => {
                let secs: i64 = parse_num(flag, &flags.value(flag)?)?;
                claims.insert("nbf".into(), now.saturating_add(secs).into());
            }
            "--claim" => {
                let kv = flags.value(flag)?;
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| format!("--claim wants K=V, got {kv:?}"))?;
                let v = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_owned()));
                claims.insert(k.to_owned(), v);
            }
            _ => return Err(format!("unknown flag {flag:?}")),
        }
    }
    let key_file = key_file.ok_or("--key FILE is required")?;
    let mut key = load(&key_file)?;
    if let Some(kid) = kid {
        key = key.with_kid(&kid);
    }
    match auds.len() {
        0 => {}
        1 => {
            claims.insert("aud".into(), auds.swap_remove(0).into());
        }
        _ => {
            claims.insert("aud".into(), auds.into());
        }
    }
    if let Some(iat) = iat {
        claims.entry("iat").or_insert(iat.into());
    }
    if let Some(secs) = exp_in {
        claims
            .entry("exp")
            .or_insert(now.saturating_add(secs).into());
    }
    Ok(key.token(&Value::Object(claims)))
}

fn gen(args: &[String]) -> Result<String, String> {
    let (mut alg, mut kid, mut seed, mut bits) = (None, None, None, DEFAULT_RSA_BITS);
    let mut flags = Flags::new(args);
    while let Some(flag) = flags.next_flag()? {
        match flag {
            "--alg" => alg = Some(flags.value(flag)?.parse::<Alg>()?),
            "--kid" => kid = Some(flags.value(flag)?),
            "--seed" => seed = Some(parse_num::<u64>(flag, &flags.value(flag)?)?),
            "--bits" => bits = parse_num(flag, &flags.value(flag)?)?,
            _ => return Err(format!("unknown flag {flag:?}")),
        }
    }
    let alg = alg.ok_or("gen needs --alg ALG")?;
    let kid = kid.unwrap_or_else(|| alg.name().to_lowercase());
    if !(1024..=8192).contains(&bits) {
        return Err(format!("--bits must be in 1024..=8192, got {bits}"));
    }
    let key = match (seed, alg.family()) {
        (Some(seed), jwt_mint::Family::Rsa) => {
            Key::from_seed_rsa(bits, &kid, seed).with_alg(alg)?
        }
        (None, jwt_mint::Family::Rsa) => Key::generate_rsa(bits, &kid).with_alg(alg)?,
        (Some(seed), _) => Key::from_seed(alg, &kid, seed),
        (None, _) => Key::generate(alg, &kid),
    };
    pretty(&key.private_jwk())
}

fn jwks_cmd(files: &[String]) -> Result<String, String> {
    if files.is_empty() {
        return Err("jwks needs at least one private JWK FILE".into());
    }
    let keys = files
        .iter()
        .map(|f| load(f))
        .collect::<Result<Vec<_>, _>>()?;
    pretty(&jwks(&keys.iter().collect::<Vec<_>>()))
}

fn load(path: &str) -> Result<Key, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let jwk: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: not JSON: {e}"))?;
    Key::from_jwk(&jwk).map_err(|e| format!("{path}: {e}"))
}

fn pretty(v: &Value) -> Result<String, String> {
    serde_json::to_string_pretty(v).map_err(|e| e.to_string())
}

fn parse_num<T: std::str::FromStr>(flag: &str, s: &str) -> Result<T, String> {
    s.parse()
        .map_err(|_| format!("{flag} wants a number, got {s:?}"))
}

fn now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// `--flag VALUE` pairs; values are taken verbatim, so `--exp-in -60` works.
struct Flags<'a> {
    args: std::slice::Iter<'a, String>,
}

impl<'a> Flags<'a> {
    fn new(args: &'a [String]) -> Self {
        Flags { args: args.iter() }
    }

    fn next_flag(&mut self) -> Result<Option<&'a str>, String> {
        match self.args.next() {
            None => Ok(None),
            Some(a) if a.starts_with("--") => Ok(Some(a)),
            Some(a) => Err(format!("unexpected argument {a:?}")),
        }
    }

    fn value(&mut self, flag: &str) -> Result<String, String> {
        self.args
            .next()
            .cloned()
            .ok_or_else(|| format!("{flag} needs a value"))
    }
}
