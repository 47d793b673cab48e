//! `bench-harness`: the PrivQuant-RS command line.
//!
//! Commands follow the CLI contract in README.md. Bad input exits with status 2 and a one-line
//! message naming the flag; other failures exit with status 1.

mod cli;
mod e2e_cmd;
mod e2e_out;
mod e2e_report;
mod infer_cmd;
mod kernels_cmd;
mod micro_cmd;
mod net_cmd;
mod netsim_cmd;
mod plan_cmd;
mod progress;
mod remote_cmd;
mod table_cmd;
mod util;

use clap::Parser;
use std::process::ExitCode;

/// Keep large freed buffers in the heap instead of returning them to the OS: protocols
/// allocate and free multi-megabyte message buffers per call, and glibc's default (mmap above
/// a dynamic threshold, trim on free) turns every call into fresh page faults.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator parameters; called before any threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

fn main() -> ExitCode {
    tune_allocator();
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
