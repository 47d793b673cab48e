//! Argument parsing and dispatch.

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "bench-harness",
    version,
    about = "PrivQuant-RS: private inference benchmarks"
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
    /// With no subcommand: `e2e` with these flags.
    #[command(flatten)]
    pub e2e: crate::e2e_cmd::E2eArgs,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Networks end to end: bytes, rounds, compute and latency per model and protocol.
    E2e(crate::e2e_cmd::E2eArgs),
    /// One model in 2PC against the plaintext reference, every tensor.
    Verify(crate::e2e_cmd::VerifyArgs),
    /// Throughput of every hot kernel (AES hashes, PRG, transpose, packing).
    Kernels(crate::kernels_cmd::KernelsArgs),
    /// One protocol with random inputs, both parties in this process.
    Micro(crate::micro_cmd::MicroArgs),
    /// One convolution as a profile runs it inside a network.
    Conv(crate::micro_cmd::ConvArgs),
    /// The paper's single-convolution table and the residual table, both profiles.
    ConvTable(crate::table_cmd::ConvTableArgs),
    /// Communication-aware mixed precision: per-layer weight widths under a budget.
    Plan(crate::plan_cmd::PlanArgs),
    /// A trained model on one input, both parties in this process, beside the plaintext
    /// reference.
    Infer(crate::infer_cmd::InferArgs),
    /// A trained model on a labelled test split, in 2PC and in plaintext.
    Accuracy(crate::infer_cmd::AccuracyArgs),
    /// The server party of a two-process run (listens).
    Serve(crate::remote_cmd::ServeArgs),
    /// The client party of a two-process run (connects).
    Connect(crate::remote_cmd::ConnectArgs),
    /// A long-term key pair for the encrypted channel: DIR/key (secret) and DIR/key.pub.
    Keygen(crate::net_cmd::KeygenArgs),
    /// The network layer: shaping proxy and link-emulation benchmarks.
    Netsim(crate::netsim_cmd::NetsimArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Some(Cmd::Kernels(a)) => crate::kernels_cmd::run(a),
        Some(Cmd::Netsim(a)) => crate::netsim_cmd::run(a),
        Some(Cmd::ConvTable(a)) => crate::table_cmd::run(a),
        Some(Cmd::Plan(a)) => crate::plan_cmd::run(a),
        Some(Cmd::Keygen(a)) => crate::net_cmd::keygen(a),
        Some(Cmd::Serve(a)) => crate::remote_cmd::serve(a),
        Some(Cmd::Connect(a)) => crate::remote_cmd::connect(a),
        Some(Cmd::Micro(a)) => crate::micro_cmd::run_micro_cmd(a),
        Some(Cmd::Conv(a)) => crate::micro_cmd::run_conv_cmd(a),
        Some(Cmd::E2e(a)) => crate::e2e_cmd::run(a),
        Some(Cmd::Verify(a)) => crate::e2e_cmd::verify(a),
        Some(Cmd::Infer(a)) => crate::infer_cmd::infer(a),
        Some(Cmd::Accuracy(a)) => crate::infer_cmd::accuracy(a),
        None => crate::e2e_cmd::run(cli.e2e),
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every subcommand and every flag, at every depth, says what it is in `--help`.
    #[test]
    fn every_flag_and_subcommand_has_a_description() {
        fn walk(c: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in c.get_arguments() {
                let id = a.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} --{}", a.get_long().unwrap_or(id)));
                }
            }
            for s in c.get_subcommands() {
                let p = format!("{path} {}", s.get_name());
                if s.get_name() != "help" && s.get_about().is_none() {
                    missing.push(p.clone());
                }
                walk(s, &p, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "bench-harness", &mut missing);
        assert!(missing.is_empty(), "no description in --help: {missing:#?}");
    }
}
