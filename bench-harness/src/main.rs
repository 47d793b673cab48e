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

use std::process::ExitCode;

/// Every allocation counted (live bytes and their peak), so that a run's memory can be
/// estimated from small probe runs before it starts (`bench_harness::memory`).
#[global_allocator]
static ALLOC: bench_harness::memory::CountingAlloc = bench_harness::memory::CountingAlloc;

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

/// clap's error as one line: its message, the arguments it lists and its tips, joined; the
/// usage block and the `--help` pointer after them are left out.
fn clap_one_line(e: &clap::Error) -> String {
    let msg = e.to_string();
    let parts: Vec<&str> = msg
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut line = String::new();
    for p in parts {
        if !line.is_empty() {
            line.push_str(if p.starts_with("tip:") { "; " } else { " " });
        }
        line.push_str(p);
    }
    let line = line.trim_start_matches("error: ").trim();
    if line.is_empty() {
        "invalid arguments (see --help)".to_string()
    } else {
        line.to_string()
    }
}

/// The command line, with negative numbers accepted as values everywhere (so `--n -1` reaches
/// the flag's own check and is reported against the flag, not as an unknown argument).
fn parse_cli() -> Result<cli::Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    fn negatives(c: clap::Command) -> clap::Command {
        c.mut_args(|a| {
            if a.get_action().takes_values() {
                a.allow_negative_numbers(true)
            } else {
                a
            }
        })
        .mut_subcommands(negatives)
    }
    let m = negatives(cli::Cli::command()).try_get_matches()?;
    cli::Cli::from_arg_matches(&m)
}

fn main() -> ExitCode {
    bench_harness::memory::mark_installed();
    tune_allocator();
    let cli = match parse_cli() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    let code = if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                        2
                    } else {
                        0
                    };
                    return ExitCode::from(code);
                }
                _ => {
                    eprintln!("{}", clap_one_line(&e));
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
