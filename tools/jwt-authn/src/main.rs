//! `jwt-authn`: the filter's own checks on the command line, without Envoy, built on the same
//! pure core as the `.wasm` (the `jwt-authn-wasm` crate).
//!
//! `jwt-authn validate CONFIG.json` runs the configuration check the filter runs when Envoy
//! loads it ([`config::load`]): exit 0 and `CONFIG.json: ok`, or exit 1 and the very line the
//! filter would log, naming the field. Usable in a deployment pipeline before a bad
//! configuration reaches a proxy.

use std::process::ExitCode;

use jwt_authn_wasm::config;

const USAGE: &str = "\
usage: jwt-authn validate CONFIG.json...

  validate   check each plugin configuration (the JSON the filter receives as its
             `configuration`) as the filter does when Envoy loads it; exit 0 when all pass,
             1 when one is refused (with the filter's own message, naming the field),
             2 on a usage error or a file that cannot be read
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.split_first() {
        Some((command, files)) if command == "validate" && !files.is_empty() => validate(files),
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
