//! `bench-harness`: the PrivQuant-RS command line.
//!
//! Commands follow ../shared/spec/interfaces.md. Bad input exits with status 2 and a one-line
//! message naming the flag; other failures exit with status 1.

mod cli;
mod e2e_cmd;
mod kernels_cmd;
mod micro_cmd;
mod netsim_cmd;
mod remote_cmd;
mod table_cmd;
mod util;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = e.print();
                    return ExitCode::SUCCESS;
                }
                _ => {
                    let msg = e.to_string();
                    let first = msg
                        .lines()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("invalid arguments");
                    eprintln!("{}", first.trim_start_matches("error: ").trim());
                    return ExitCode::from(2);
                }
            }
        }
    };
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(u) = e.downcast_ref::<util::UsageError>() {
                eprintln!("{u}");
                ExitCode::from(2)
            } else {
                eprintln!("error: {e:#}");
                ExitCode::from(1)
            }
        }
    }
}
