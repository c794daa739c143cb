//! `jwt-authn`: the filter's own checks on the command line, without Envoy, built on the same
//! pure core as the `.wasm` (the `jwt-authn-wasm` crate).
//!
//! `jwt-authn validate CONFIG.json` runs the configuration check the filter runs when Envoy
//! loads it ([`config::load`]): exit 0 and `CONFIG.json: ok`, or exit 1 and the very line the
//! filter would log, naming the field. Usable in a deployment pipeline before a bad
//! configuration reaches a proxy.
//!
//! `jwt-authn explain CONFIG.json --path /api/x ...` decides one request with the filter's own
//! decision routine (`authn::authenticate`, recording a trace from inside it) and prints why:
//! see `explain.rs` and docs/cli.md.

use std::process::ExitCode;

use jwt_authn_wasm::config;

mod explain;
mod fetch;

const USAGE: &str = "\
usage: jwt-authn validate CONFIG.json...
       jwt-authn explain CONFIG.json --path PATH [--method METHOD] [--header 'Name: value']...
                 [--route-name NAME] [--jwks PROVIDER=FILE]... [--fetch [--ca-file PEM]...]
                 [--now UNIX_SECONDS] [--json]

  validate   check each plugin configuration (the JSON the filter receives as its
             `configuration`) as the filter does when Envoy loads it; exit 0 when all pass,
             1 when one is refused (with the filter's own message, naming the field),
             2 on a usage error or a file that cannot be read
  explain    decide one request as the filter would, and show why: the rule matched, the
             requirement tree, the tokens found and where, the provider tried for each, every
             check in order, the keys tried; then the answer exactly as the filter gives it
             (status, body, www-authenticate, the request headers removed and added).
             --header     a request header (repeatable; `host` is `:authority`)
             --jwks       a remote provider's JWKS from a file
             --fetch      fetch remote JWKS (and OIDC discovery) over HTTP(S)
             --ca-file    with --fetch, more trusted CA certificates (PEM), added to the
                          webpki roots: a private CA, a TLS-inspecting proxy's
                          (without --jwks or --fetch a remote provider's keys are unavailable,
                          and the answer is the filter's when its keys cannot be fetched)
             --now        the clock, unix seconds (default: the system clock)
             --json       the same trace and answer as one JSON object
             exit 0 when the request continues (also when a rule in shadow mode would have
             refused it), 1 when it is refused, 2 on a usage error or an unreadable file
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.split_first() {
        Some((command, files)) if command == "validate" && !files.is_empty() => validate(files),
        Some((command, rest)) if command == "explain" => match explain::Args::parse(rest) {
            Ok(args) => explain::run(&args),
            Err(e) => {
                eprintln!("jwt-authn explain: {e}\n");
                eprint!("{USAGE}");
                ExitCode::from(2)
            }
        },
        Some((help, _)) if matches!(help.as_str(), "-h" | "--help" | "help") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprint!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn validate(files: &[String]) -> ExitCode {
    let mut status = ExitCode::SUCCESS;
    for file in files {
        let bytes = match std::fs::read(file) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("{file}: cannot read: {e}");
                return ExitCode::from(2);
            }
        };
        match config::load(&bytes) {
            Ok(_) => println!("{file}: ok"),
            Err(e) => {
                eprintln!("{file}: {}", e.refusal());
                status = ExitCode::from(1);
            }
        }
    }
    status
}
