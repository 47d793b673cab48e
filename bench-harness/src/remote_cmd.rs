//! `bench-harness serve --listen ADDR SUBCOMMAND ...` and `bench-harness connect ADDR
//! SUBCOMMAND ...`: the two parties in two processes over TCP.
//!
//! Both processes must be given the same subcommand and flags: the handshake compares a hash of
//! them (never of secrets) and refuses a mismatch. Each process runs its own party, then the
//! two exchange what the correctness check needs (after the measured section, and not counted
//! in the protocol bytes) so both print the same report.

use crate::micro_cmd::{MicroArgs, ot_op_of};
use crate::util::{print_json_line, usage};
use anyhow::Context;
use bench_harness::runners::ot::{SideRun, report, run_side};
use clap::{Args, Subcommand};
use pq_netsim::channel::{Hello, Role};
use pq_netsim::{Channel, TcpChannel, TcpOptions};
use std::net::TcpListener;
use std::time::Duration;

#[derive(Subcommand, Debug, Clone)]
pub enum RemoteCmd {
    /// An OT throughput benchmark (`cot`, `got`, `kkot`, `bcot`) as one party.
    Micro(MicroArgs),
    /// Networks end to end as one party (the default subcommand).
    E2e(crate::e2e_cmd::E2eArgs),
    /// Private inference of a trained model: the server holds the weights, the client the
    /// input. `serve` keeps serving connections (one after another) unless `--once`.
    Infer(crate::infer_cmd::RemoteInferArgs),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:7000.
    #[arg(long)]
    pub listen: String,
    #[command(subcommand)]
    pub cmd: Option<RemoteCmd>,
    /// With no subcommand: `e2e` with these flags.
    #[command(flatten)]
    pub e2e: crate::e2e_cmd::E2eArgs,
}

#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// The server's address.
    pub addr: String,
    #[command(subcommand)]
    pub cmd: Option<RemoteCmd>,
    /// With no subcommand: `e2e` with these flags.
    #[command(flatten)]
    pub e2e: crate::e2e_cmd::E2eArgs,
}

/// No subcommand means `e2e` with the flags that followed the address.
fn or_default(c: Option<RemoteCmd>, e2e: crate::e2e_cmd::E2eArgs) -> RemoteCmd {
    c.unwrap_or(RemoteCmd::E2e(e2e))
}

/// Hash of the public run configuration: the subcommand and its flags (output-only flags
/// excluded).
fn config_hash(cmd: &RemoteCmd) -> anyhow::Result<[u8; 32]> {
    match cmd {
        RemoteCmd::Micro(m) => {
            let mut m = m.clone();
            m.json = false;
            m.transport = String::new();
            Ok(*blake3::hash(format!("pq-rs remote micro {m:?}").as_bytes()).as_bytes())
        }
        RemoteCmd::E2e(a) => {
            // The public parts only: per (model, configuration) the architecture, widths,
            // scales and protocol version (public::public_hash, never the weights), plus the
            // run's public flags.
            let mut h = blake3::Hasher::new();
            h.update(
                format!(
                    "pq-rs remote e2e net={} seed={} tokens={}",
                    a.net, a.seed, a.tokens
                )
                .as_bytes(),
            );
            let lo = crate::e2e_cmd::lower_options(a)?;
            for (_, m, cfg) in crate::e2e_cmd::pairs(a)? {
                let lo = crate::e2e_cmd::lower_options_for(a, &lo, cfg)?;
                h.update(&pq_nn::public::public_hash_with(&m, cfg, &lo));
            }
            Ok(*h.finalize().as_bytes())
        }
        RemoteCmd::Infer(_) => anyhow::bail!("infer runs its own session"),
    }
}

/// The report a party sends its peer after the measured call: wall seconds, bytes, flights,
/// setup bytes and the check data. Its CPU time stays local: no CPU-time value goes on the wire
/// between processes (`docs/constant-time.md`).
fn encode(s: &SideRun) -> Vec<u8> {
    let mut v = Vec::with_capacity(REPORT_HEAD + 8 * s.check.len());
    for x in [s.secs.to_bits(), s.sent, s.flights, s.setup] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    for x in &s.check {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v
}

/// Bytes of [`encode`]'s fixed fields.
const REPORT_HEAD: usize = 32;

fn decode(b: &[u8]) -> anyhow::Result<SideRun> {
    anyhow::ensure!(
        b.len() >= REPORT_HEAD && b.len().is_multiple_of(8),
        "peer sent a malformed report ({} bytes)",
        b.len()
    );
    let w: Vec<u64> = b
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect();
    Ok(SideRun {
        secs: f64::from_bits(w[0]),
        // not sent (see `encode`)
        cpu: f64::NAN,
        sent: w[1],
        flights: w[2],
        setup: w[3],
        // the warm-up bytes are not part of the remote report (bits_per_ot counts the timed
        // call and the setup only across processes)
        warm: 0,
        check: w[REPORT_HEAD / 8..].to_vec(),
    })
}

fn run_party(role: Role, mut ch: TcpChannel, cmd: &RemoteCmd) -> anyhow::Result<()> {
    ch.handshake(&Hello::new(role, config_hash(cmd)?))
        .context("handshake")?;
    let m = match cmd {
        RemoteCmd::Micro(m) => m,
        RemoteCmd::E2e(a) => return crate::e2e_cmd::run_remote(role, ch, a),
        RemoteCmd::Infer(_) => anyhow::bail!("infer runs its own session"),
    };
    let (op, opts) = ot_op_of(m)?;
    let mine = run_side(op, role == Role::Server, m.n, opts, &mut ch)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // Exchange the check data (after the measured call).
    ch.push_tag("verify");
    ch.send_vec(encode(&mine))?;
    ch.flush()?;
    let theirs = decode(&ch.recv_vec(usize::MAX)?)?;
    ch.pop_tag();
    let (s, c) = if role == Role::Server {
        (&mine, &theirs)
    } else {
        (&theirs, &mine)
    };
    let b = report(op, m.n, opts, s, c);
    let total = b.bytes_server_to_client + b.bytes_client_to_server;
    eprintln!(
        "[{}] {} n={} over TCP (two processes): {:.2} M OT/s, {:.3} s, {} B total ({} s->c, {} c->s), correct: {}, bytes = cost: {}",
        role.name(),
        m.op,
        m.n,
        b.ots_per_s / 1e6,
        b.wall_s,
        total,
        b.bytes_server_to_client,
        b.bytes_client_to_server,
        b.correct,
        b.bytes_match_cost
    );
    if m.json {
        print_json_line(&serde_json::json!({
            "op": m.op, "party": role.name(), "profile": m.profile, "transport": "tcp-2proc",
            "params": {"n": m.n, "l": m.l, "N": m.big_n, "msgs": m.msgs},
            "bytes_total": total, "bytes_server_to_client": b.bytes_server_to_client,
            "bytes_client_to_server": b.bytes_client_to_server, "setup_bytes": b.setup_bytes,
            "rounds": 1, "wall_s": b.wall_s, "ots_per_s": b.ots_per_s,
            "correct": b.correct, "cost_matches": b.bytes_match_cost,
        }));
    }
    anyhow::ensure!(b.correct, "outputs violate the OT relation");
    anyhow::ensure!(
        b.bytes_match_cost,
        "measured bytes differ from the cost function"
    );
    Ok(())
}

fn check_supported(cmd: &RemoteCmd) -> anyhow::Result<()> {
    let m = match cmd {
        RemoteCmd::Micro(m) => m,
        RemoteCmd::E2e(a) => return crate::e2e_cmd::pairs(a).map(|_| ()),
        RemoteCmd::Infer(_) => return Ok(()),
    };
    if !matches!(m.op.as_str(), "cot" | "got" | "kkot" | "bcot") {
        return usage(format!(
            "serve/connect run `micro cot|got|kkot|bcot`; got `micro {}`",
            m.op
        ));
    }
    ot_op_of(m).map(|_| ())
}

pub fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let cmd = or_default(a.cmd, a.e2e);
    if let RemoteCmd::Infer(i) = cmd {
        return crate::infer_cmd::serve(&a.listen, i);
    }
    check_supported(&cmd)?;
    let l = TcpListener::bind(&a.listen)
        .with_context(|| format!("--listen {}: cannot bind", a.listen))?;
    eprintln!("server: listening on {}", l.local_addr()?);
    let ch = TcpChannel::accept(&l, TcpOptions::default()).context("accept")?;
    run_party(Role::Server, ch, &cmd)
}

pub fn connect(a: ConnectArgs) -> anyhow::Result<()> {
    let cmd = or_default(a.cmd, a.e2e);
    if let RemoteCmd::Infer(i) = cmd {
        return crate::infer_cmd::connect(&a.addr, i);
    }
    check_supported(&cmd)?;
    let ch = TcpChannel::connect(
        a.addr.as_str(),
        TcpOptions::default(),
        Duration::from_secs(30),
    )
    .with_context(|| format!("cannot connect to {}", a.addr))?;
    run_party(Role::Client, ch, &cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report a remote micro party sends its peer carries no CPU time.
    #[test]
    fn remote_report_carries_no_cpu_time() {
        let cpu = 1234.5678f64;
        let mine = SideRun {
            secs: 0.25,
            cpu,
            sent: 7,
            flights: 2,
            setup: 99,
            warm: 0,
            check: vec![5, 6, 7],
        };
        let wire = encode(&mine);
        assert_eq!(wire.len(), REPORT_HEAD + 8 * mine.check.len());
        assert!(
            !wire.windows(8).any(|w| w == cpu.to_bits().to_le_bytes()),
            "the CPU time is on the wire"
        );
        let back = decode(&wire).expect("decode");
        assert!(back.cpu.is_nan());
        assert_eq!(
            (back.secs, back.sent, back.flights, back.setup),
            (0.25, 7, 2, 99)
        );
        assert_eq!(back.check, mine.check);
    }
}
