//! Argument parsing and dispatch.

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "bench-harness",
    version,
    about = "PrivQuant-RS: private inference benchmarks"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Throughput of every hot kernel (AES hashes, PRG, transpose, packing).
    Kernels(crate::kernels_cmd::KernelsArgs),
    /// The network layer: shaping proxy and link-emulation benchmarks.
    Netsim(crate::netsim_cmd::NetsimArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Some(Cmd::Kernels(a)) => crate::kernels_cmd::run(a),
        Some(Cmd::Netsim(a)) => crate::netsim_cmd::run(a),
        None => crate::kernels_cmd::run(crate::kernels_cmd::KernelsArgs::default()),
    }
}
