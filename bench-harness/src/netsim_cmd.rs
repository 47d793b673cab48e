//! `bench-harness netsim ...`: the shaping proxy and the link-emulation benchmarks.

use crate::util::{print_json_line, usage};
use anyhow::Context;
use clap::{Args, Subcommand};
use pq_netsim::{LinkOptions, LinkSpec, PairOptions, Transport, run_pair_linked};
use pq_ot::{IknpReceiver, IknpSender, OtOpts, os_prg};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct NetsimArgs {
    #[command(subcommand)]
    pub cmd: NetsimCmd,
}

#[derive(Subcommand, Debug)]
pub enum NetsimCmd {
    /// Shape TCP connections in both directions: accept on --listen, connect each to --to.
    /// Serves connections (each shaped by its own link) until stopped; logs how each ended.
    Proxy {
        /// Address to accept connections on, e.g. 127.0.0.1:7001.
        #[arg(long)]
        listen: String,
        /// Address each accepted connection is forwarded to, e.g. 127.0.0.1:7000.
        #[arg(long)]
        to: String,
        /// LINK as BANDWIDTH,RTT, e.g. 200mbps,13ms
        #[arg(long)]
        net: String,
        /// Serve one connection, then exit: status 1 if it failed (the upstream could not be
        /// reached, or a side vanished mid-connection).
        #[arg(long)]
        once: bool,
        /// Seconds to keep trying to reach --to for each connection (default 10).
        #[arg(long, default_value_t = 10.0)]
        connect_timeout: f64,
    },
    /// Real-time shaping accuracy, shaper CPU overhead and virtual-time overhead (about 20 s).
    Accuracy {
        /// Also write the Markdown report here.
        #[arg(long)]
        out: Option<String>,
        /// Also print the report as one JSON line on stdout.
        #[arg(long)]
        json: bool,
    },
    /// A real protocol run (n COTs with 32-bit correlations) in virtual time and in emulated
    /// real time on the same link; reports both latencies and their ratio.
    VtCheck {
        /// LINK as BANDWIDTH,RTT, e.g. 200mbps,13ms.
        #[arg(long, default_value = "200mbps,13ms")]
        net: String,
        /// Number of COTs in the run.
        #[arg(long, default_value_t = 1 << 20)]
        n: usize,
        /// Also print both latencies and their ratio as one JSON line on stdout.
        #[arg(long)]
        json: bool,
        /// The memory this run may use (e.g. 8G; `none`: no check). Default: what the
        /// machine has available. A run estimated to need more is refused before it starts.
        #[arg(long)]
        max_mem: Option<String>,
    },
}

fn parse_link(s: &str) -> anyhow::Result<LinkSpec> {
    match LinkSpec::parse(s) {
        Ok(l) => Ok(l),
        Err(e) => usage(format!("--net: {e}")),
    }
}

pub fn run(a: NetsimArgs) -> anyhow::Result<()> {
    match a.cmd {
        NetsimCmd::Proxy {
            listen,
            to,
            net,
            once,
            connect_timeout,
        } => {
            let link = parse_link(&net)?;
            if !(connect_timeout.is_finite() && connect_timeout > 0.0 && connect_timeout <= 3600.0)
            {
                return usage(format!(
                    "--connect-timeout {connect_timeout}: expected seconds in (0, 3600]"
                ));
            }
            let proxy = pq_netsim::Proxy::bind(listen.as_str(), to.as_str(), link)
                .with_context(|| format!("--listen {listen} / --to {to}"))?
                .with_connect_retry(Duration::from_secs_f64(connect_timeout));
            eprintln!(
                "proxy: listening on {}, forwarding to {to} shaped as {link}, {}",
                proxy.local_addr()?,
                if once {
                    "one connection (--once)"
                } else {
                    "until stopped"
                }
            );
            let n = proxy
                .serve(Arc::new(AtomicBool::new(false)), once, |r| {
                    let s = r.stats;
                    match &r.error {
                        None => eprintln!(
                            "proxy: connection {} from {}: closed by the {} after {:.3} s, {} B \
                             client->server, {} B server->client",
                            r.id,
                            r.peer,
                            s.closed_first
                                .map_or("shutdown".to_string(), |e| e.to_string()),
                            r.elapsed.as_secs_f64(),
                            s.bytes_forward,
                            s.bytes_backward
                        ),
                        Some(e) => eprintln!(
                            "proxy: connection {} from {}: failed after {:.3} s: {e}",
                            r.id,
                            r.peer,
                            r.elapsed.as_secs_f64()
                        ),
                    }
                })
                .with_context(|| {
                    if once {
                        "proxy --once: the connection failed"
                    } else {
                        "proxy: serving failed"
                    }
                })?;
            eprintln!("proxy: stopped after {n} connection(s)");
            Ok(())
        }
        NetsimCmd::Accuracy { out, json } => {
            let r = bench_harness::runners::netsim::accuracy_report();
            let md = r.to_markdown();
            eprintln!("{md}");
            if let Some(p) = out {
                std::fs::write(&p, &md).with_context(|| format!("writing {p}"))?;
            }
            if json {
                print_json_line(&serde_json::to_value(&r)?);
            }
            Ok(())
        }
        NetsimCmd::VtCheck {
            net,
            n,
            json,
            max_mem,
        } => {
            let link = parse_link(&net)?;
            if n == 0 {
                return usage("--n: expected at least 1 OT");
            }
            crate::micro_cmd::guard_cot_memory(
                format!("netsim vt-check --n {n}"),
                n,
                max_mem.as_deref(),
            )?;
            let run = |opts: LinkOptions| -> anyhow::Result<(f64, f64)> {
                let corr: Vec<u64> = (0..n as u64)
                    .map(|i| i.wrapping_mul(0x9e37_79b9) & 0xffff_ffff)
                    .collect();
                let out = run_pair_linked(
                    Transport::Mem,
                    &PairOptions { pin: true },
                    &opts,
                    |ch| -> anyhow::Result<()> {
                        let mut prg = os_prg();
                        let mut s = IknpSender::setup(ch, &mut prg)?;
                        let mut out0 = vec![0u64; n];
                        s.send_cot(ch, &corr, 32, OtOpts::default(), &mut out0)?;
                        Ok(())
                    },
                    |ch| -> anyhow::Result<()> {
                        let mut prg = os_prg();
                        let mut r = IknpReceiver::setup(ch, &mut prg)?;
                        let choices: Vec<u8> = (0..n).map(|i| (i & 1) as u8).collect();
                        let mut out = vec![0u64; n];
                        r.recv_cot(ch, &choices, 32, OtOpts::default(), &mut out)?;
                        Ok(())
                    },
                )?;
                out.server?;
                out.client?;
                let sim = out.simulated.first().map(|s| s.latency_s).unwrap_or(0.0);
                Ok((sim, out.wall.as_secs_f64()))
            };
            let (virt, virt_wall) = run(LinkOptions {
                simulate: vec![link],
                ..Default::default()
            })?;
            let (_, emulated) = run(LinkOptions {
                emulate: Some(link),
                ..Default::default()
            })?;
            let ratio = virt / emulated;
            eprintln!(
                "{n} COTs (l = 32) at {link}: virtual time {virt:.3} s (run took {virt_wall:.3} s), emulated wall {emulated:.3} s, ratio {ratio:.3} (target within 10 %)"
            );
            if json {
                print_json_line(&json!({
                    "op": "vt-check", "link": link.to_string(), "n": n,
                    "virtual_s": virt, "virtual_run_wall_s": virt_wall, "emulated_s": emulated,
                    "ratio": ratio, "within_10pct": (ratio - 1.0).abs() <= 0.10,
                }));
            }
            Ok(())
        }
    }
}
