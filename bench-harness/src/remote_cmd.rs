//! `bench-harness serve --listen ADDR SUBCOMMAND ...` and `bench-harness connect ADDR
//! SUBCOMMAND ...`: the two parties in two processes over TCP.
//!
//! Both processes must be given the same subcommand and flags: after the hello each sends its
//! public descriptor (the flags, and per model the public architecture hash: never secrets),
//! and a mismatch is refused naming every field that differs. Each process runs its own party, then the
//! two exchange what the correctness check needs (after the measured section, and not counted
//! in the protocol bytes) so both print the same report.
//!
//! What it sends: the channel's handshake ([`crate::net_cmd`]: encrypted by default), the
//! hello (a session tag), the descriptors (at most [`crate::net_cmd::MAX_DESCRIPTOR`] bytes
//! each, counted as channel overhead), the protocol's messages, then (micro only) one report
//! message per party of at most [`micro_report_bound`] bytes. Every flag is checked, and
//! every model lowered, before the server listens or the client connects.

use crate::micro_cmd::{MicroArgs, ot_op_of};
use crate::net_cmd::{Bounds, ClientNetFlags, Served, ServerNetFlags, is_stray};
use crate::util::{print_json_line, usage};
use anyhow::Context;
use bench_harness::runners::ot::{SideRun, report, run_side};
use clap::{Args, Subcommand};
use pq_netsim::channel::{Hello, Role};
use pq_netsim::{Channel, ChannelError, TcpChannel};
use std::net::TcpListener;

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
    #[command(flatten)]
    pub net: ServerNetFlags,
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
    #[command(flatten)]
    pub net: ClientNetFlags,
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

/// The hello's tag: the session kind and its version (the descriptor carries the rest).
fn session_tag() -> [u8; 32] {
    *blake3::hash(b"pq-rs remote session v2").as_bytes()
}

/// The public run configuration, field by field, that both parties must share: the
/// subcommand and its flags (output-only flags excluded), and for `e2e` each (model,
/// configuration)'s public hash (architecture, widths, scales, protocol version:
/// `pq_nn::public::public_hash_with`, never the weights). Exchanged after the hello, so a
/// refusal names every field that differs.
fn descriptor(cmd: &RemoteCmd) -> anyhow::Result<serde_json::Value> {
    let mut d = serde_json::Map::new();
    match cmd {
        RemoteCmd::Micro(m) => {
            d.insert("subcommand".into(), "micro".into());
            let v = serde_json::to_value(m)?;
            for (k, v) in v.as_object().into_iter().flatten() {
                if k == "json" || k == "transport" || k == "max_mem" {
                    continue;
                }
                let flag = if k == "big_n" {
                    "--N".to_string()
                } else {
                    format!("--{}", k.replace('_', "-"))
                };
                d.insert(flag, v.clone());
            }
        }
        RemoteCmd::E2e(a) => {
            d.insert("subcommand".into(), "e2e".into());
            d.insert("--net".into(), a.net.clone().into());
            d.insert("--seed".into(), a.seed.into());
            d.insert("--tokens".into(), a.tokens.into());
            d.insert("--full".into(), a.full.into());
            d.insert("--max-exec-gb".into(), a.max_exec_gb.into());
            let lo = crate::e2e_cmd::lower_options(a)?;
            let mut runs = Vec::new();
            for (_, m, cfg) in crate::e2e_cmd::pairs(a)? {
                let lo = crate::e2e_cmd::lower_options_for(a, &lo, cfg)?;
                let h = pq_nn::public::public_hash_with(&m, cfg, &lo);
                let hex: String = h[..8].iter().map(|b| format!("{b:02x}")).collect();
                runs.push(format!("{} / {}", m.name, cfg.name()));
                d.insert(
                    format!(
                        "{} / {} (architecture, widths, options)",
                        m.name,
                        cfg.name()
                    ),
                    hex.into(),
                );
            }
            d.insert(
                "runs (--models × --protocols)".into(),
                runs.join(", ").into(),
            );
        }
        RemoteCmd::Infer(_) => anyhow::bail!("infer runs its own session"),
    }
    Ok(serde_json::Value::Object(d))
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

/// Largest report message a party of `micro` sends (40 bytes of figures and 8 bytes per
/// checked word; the most words any OT op checks is n·max(4, N, 2·msgs) + 2).
pub fn micro_report_bound(m: &MicroArgs) -> u64 {
    let per = 4u64.max(m.big_n as u64).max(2 * m.msgs as u64);
    40 + 8 * (m.n as u64 * per + 16)
}

/// The hello; its failures come back as channel errors so the server can tell a stray
/// connection from a mismatched client.
fn hello(role: Role, ch: &mut TcpChannel) -> Result<(), ChannelError> {
    ch.handshake(&Hello::new(role, session_tag())).map(|_| ())
}

/// After the hello: both descriptors, compared field by field; an error naming every field
/// that differs.
fn same_configuration(
    role: Role,
    ch: &mut TcpChannel,
    desc: &serde_json::Value,
) -> anyhow::Result<Result<(), String>> {
    let diff = crate::net_cmd::exchange_descriptors(ch, role, desc)?;
    Ok(if diff.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the parties run different configurations: {}",
            diff.join("; ")
        ))
    })
}

fn run_party(
    role: Role,
    mut ch: TcpChannel,
    cmd: &RemoteCmd,
    desc: &serde_json::Value,
    bounds: &Bounds,
) -> anyhow::Result<()> {
    hello(role, &mut ch).context("handshake")?;
    if let Err(why) = same_configuration(role, &mut ch, desc)? {
        anyhow::bail!("handshake: {why}");
    }
    run_after_hello(role, ch, cmd, bounds)
}

fn run_micro(
    role: Role,
    mut ch: TcpChannel,
    cmd: &RemoteCmd,
    bounds: &Bounds,
) -> anyhow::Result<()> {
    let RemoteCmd::Micro(m) = cmd else {
        anyhow::bail!("not a micro run");
    };
    let (op, opts) = ot_op_of(m)?;
    let mine = run_side(op, role == Role::Server, m.n, opts, &mut ch)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // Exchange the check data (after the measured call).
    ch.push_tag("verify");
    ch.send_vec(encode(&mine))?;
    ch.flush()?;
    let theirs = decode(&ch.recv_vec(bounds.max_message as usize)?)?;
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
    // this end's transport overhead, both directions: frame headers, AEAD tags, handshake
    let t = ch.meter().total();
    let framing = t.framing_sent + t.framing_recv;
    if m.json {
        print_json_line(&serde_json::json!({
            "op": m.op, "party": role.name(), "profile": m.profile, "transport": "tcp-2proc",
            "params": {"n": m.n, "l": m.l, "N": m.big_n, "msgs": m.msgs},
            "bytes_total": total, "bytes_server_to_client": b.bytes_server_to_client,
            "bytes_client_to_server": b.bytes_client_to_server, "setup_bytes": b.setup_bytes,
            "rounds": 1, "wall_s": b.wall_s, "ots_per_s": b.ots_per_s,
            "correct": b.correct, "cost_matches": b.bytes_match_cost,
            "framing_bytes": framing, "encrypted": ch.is_encrypted(),
        }));
    }
    anyhow::ensure!(b.correct, "outputs violate the OT relation");
    anyhow::ensure!(
        b.bytes_match_cost,
        "measured bytes differ from the cost function"
    );
    Ok(())
}

/// Check every flag of a two-process run before any socket exists; returns the transport
/// bounds the run derives from its configuration.
fn check_supported(cmd: &RemoteCmd) -> anyhow::Result<Bounds> {
    let m = match cmd {
        RemoteCmd::Micro(m) => m,
        RemoteCmd::E2e(a) => return check_e2e(a),
        RemoteCmd::Infer(_) => return usage("infer runs its own session"),
    };
    if !matches!(m.op.as_str(), "cot" | "got" | "kkot" | "bcot") {
        return usage(format!(
            "serve/connect run `micro cot|got|kkot|bcot`; got `micro {}`",
            m.op
        ));
    }
    if m.transport != "mem" {
        return usage(format!(
            "--transport {}: serve/connect run over the network between the two processes; \
             --transport chooses the in-process channel and does not apply (the channel's \
             mode is --insecure or keys before the subcommand)",
            m.transport
        ));
    }
    ot_op_of(m)?;
    crate::micro_cmd::guard_remote_micro_memory(m)?;
    let report = micro_report_bound(m);
    Ok(Bounds::new(report, report))
}

/// e2e flags over two processes: what they cannot honour is refused, the rest validated
/// (links, objective, models and their lowering) before listening.
fn check_e2e(a: &crate::e2e_cmd::E2eArgs) -> anyhow::Result<Bounds> {
    let d = crate::e2e_cmd::E2eArgs::default();
    if a.threads != 1 {
        return usage(format!(
            "--threads {}: serve/connect run one compute thread per party",
            a.threads
        ));
    }
    if a.transport != d.transport {
        return usage(format!(
            "--transport {}: serve/connect run over the network; --transport is for \
             in-process runs (the channel's mode is --insecure or keys before the subcommand)",
            a.transport
        ));
    }
    if a.emulate {
        return usage(
            "--emulate: serve/connect simulate the --net links in virtual time; to emulate a \
             link in real time put `netsim proxy` between them",
        );
    }
    if a.out != d.out {
        return usage(format!(
            "--out {}: serve/connect write no result files (use --json)",
            a.out
        ));
    }
    if a.breakdown {
        return usage("--breakdown: not available over two processes (use the in-process e2e)");
    }
    if !(a.max_exec_gb.is_finite() && a.max_exec_gb >= 0.0) {
        return usage(format!(
            "--max-exec-gb {}: expected a non-negative number",
            a.max_exec_gb
        ));
    }
    pq_netsim::parse_links(&a.net).or_else(|e| usage(format!("--net: {e}")))?;
    let lo = crate::e2e_cmd::lower_options(a)?;
    let mut progs = vec![];
    for (mname, model, cfg) in crate::e2e_cmd::pairs(a)? {
        let p = pq_nn::lower::lower_with(
            &model,
            cfg,
            &crate::e2e_cmd::lower_options_for(a, &lo, cfg)?,
        )
        .or_else(|e| usage(format!("{mname} / {}: {e}", cfg.name())))?;
        let c = pq_nn::secure::program_cost(&p)
            .or_else(|e| usage(format!("{mname} / {}: {e}", cfg.name())))?;
        let execute = crate::e2e_cmd::executes(a, &c);
        eprintln!(
            "{mname} / {}: {:.3} GB by the cost model: {}",
            cfg.name(),
            c.total() as f64 / 1e9,
            if execute {
                "will execute"
            } else {
                "will be modeled (above --max-exec-gb; --full executes it)"
            }
        );
        if execute {
            progs.push(p);
        }
    }
    Bounds::of_programs(progs.iter())
}

pub fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let net = a.net.resolve()?;
    let cmd = or_default(a.cmd, a.e2e);
    if let RemoteCmd::Infer(i) = cmd {
        return crate::infer_cmd::serve(&a.listen, &net, i);
    }
    let bounds = check_supported(&cmd)?;
    let desc = descriptor(&cmd)?;
    let l = TcpListener::bind(&a.listen)
        .with_context(|| format!("--listen {}: cannot bind", a.listen))?;
    eprintln!("server: listening on {}", l.local_addr()?);
    // One session: stray connections (not a PrivQuant-RS peer, a refused key, a timeout)
    // are logged and the next is awaited; a client that reached the hello ends the server.
    crate::net_cmd::serve_loop(l, &net, &bounds, true, |mut ch| {
        match hello(Role::Server, &mut ch) {
            Err(e) if is_stray(&e) => return Ok(Served::Stray(e.to_string())),
            Err(e) => return Err(anyhow::Error::new(e).context("handshake")),
            Ok(()) => {}
        }
        // a client with another configuration is refused before any protocol traffic, and
        // the server waits for the next
        if let Err(why) = same_configuration(Role::Server, &mut ch, &desc)? {
            return Ok(Served::Stray(format!("refused the client: {why}")));
        }
        run_after_hello(Role::Server, ch, &cmd, &bounds)?;
        Ok(Served::Ok("session complete".into()))
    })
}

fn run_after_hello(
    role: Role,
    ch: TcpChannel,
    cmd: &RemoteCmd,
    bounds: &Bounds,
) -> anyhow::Result<()> {
    eprintln!("[{}] handshake done: same configuration", role.name());
    match cmd {
        RemoteCmd::E2e(a) => crate::e2e_cmd::run_remote(role, ch, a),
        _ => run_micro(role, ch, cmd, bounds),
    }
}

pub fn connect(a: ConnectArgs) -> anyhow::Result<()> {
    let net = a.net.resolve()?;
    let cmd = or_default(a.cmd, a.e2e);
    if let RemoteCmd::Infer(i) = cmd {
        return crate::infer_cmd::connect(&a.addr, &net, i);
    }
    let bounds = check_supported(&cmd)?;
    let desc = descriptor(&cmd)?;
    let ch = crate::net_cmd::connect(&a.addr, &net, &bounds)?;
    run_party(Role::Client, ch, &cmd, &desc, &bounds)
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
