//! `bench-harness micro OP ...` and `bench-harness conv ...`: one protocol (or one
//! convolution) with random inputs, both parties in this process, checked against the
//! plaintext reference; bytes, rounds and time reported as the CLI contract in README.md
//! specifies.

use crate::util::{print_json_line, usage};
use bench_harness::memory::{self, Footprint};
use bench_harness::runners::micro::{MicroParams, MicroReport, run_conv, run_micro};
use clap::Args;
use pq_netsim::Transport;
use pq_proto::Profile;
use pq_proto::ProtoError;
use pq_proto::privquant::linear::Menu;
use pq_proto::sirnn::conv::ConvParams;
use pq_proto::sirnn::matmul::MultMode;

/// The ops `micro` accepts (the CLI contract in README.md).
pub const OPS: &[&str] = &[
    "cot", "got", "kkot", "1ofn", "bcot", "baseot", "mill", "milleq", "eq", "wrap", "msb",
    "msb2wrap", "b2a", "mux", "and", "zext", "sext", "trunc", "tr", "divpow2", "relu", "matmul",
    "requant", "residual",
];

/// `--ot`: the COT source (`iknp`, `softspoken:K`, `ferret`).
pub fn parse_ot(s: &str) -> anyhow::Result<pq_proto::OtKind> {
    s.parse::<pq_proto::OtKind>()
        .or_else(|e| usage(format!("--ot: {e}")))
}

/// The OT options of an OT benchmark: the source of `--ot`, SCI's padding only for IKNP
/// under the sirnn profile.
fn ot_bench_opts(profile: Profile, ot: &Option<String>) -> anyhow::Result<pq_ot::OtOpts> {
    let source = match ot {
        Some(o) => parse_ot(o)?,
        None => pq_proto::OtKind::Iknp,
    };
    Ok(pq_ot::OtOpts {
        sci_padding: profile.sci_padding() && source == pq_proto::OtKind::Iknp,
        source,
    })
}

/// The profile a protocol op runs under with `--ot` (default `default`): the sirnn profile
/// stays on IKNP, byte-exact with SCI, and refuses another source.
fn with_ot_flag(
    profile: Profile,
    ot: &Option<String>,
    default: pq_proto::OtKind,
) -> anyhow::Result<Profile> {
    let k = match ot {
        Some(o) => parse_ot(o)?,
        None => default,
    };
    if profile.is_sirnn() && k != pq_proto::OtKind::Iknp {
        return usage(format!(
            "--ot {}: the sirnn profile runs IKNP only (byte-exact with SCI); use --profile privquant",
            k.name()
        ));
    }
    Ok(profile.with_ot(k))
}

fn parse_profile(s: &str) -> anyhow::Result<Profile> {
    s.parse::<Profile>()
        .or_else(|e| usage(format!("--profile: {e}")))
}

/// `conv --profile`: the protocol profile, and whether the HE option is on the linear-layer
/// planner's menu (`privquant-he`: the privquant profile with the HE option, as the
/// `privquant-he` configuration runs a conv).
fn parse_conv_profile(s: &str) -> anyhow::Result<(Profile, Menu)> {
    if s == "privquant-he" {
        return Ok((Profile::PrivQuant, Menu::WITH_HE));
    }
    match s.parse::<Profile>() {
        Ok(p) => Ok((p, Menu::OT)),
        Err(_) => usage(format!(
            "--profile: unknown profile '{s}' (accepted: sirnn, privquant, privquant-he)"
        )),
    }
}

fn parse_transport(s: &str) -> anyhow::Result<Transport> {
    s.parse::<Transport>()
        .or_else(|e| usage(format!("--transport: {e}")))
}

#[derive(Args, Debug, Clone, serde::Serialize)]
pub struct MicroArgs {
    /// The protocol: OT benchmarks cot, got, kkot, 1ofn, bcot, baseot; comparisons mill,
    /// milleq, eq; wrap, msb, msb2wrap; b2a, mux, and; zext, sext, trunc, tr, divpow2, relu;
    /// matmul; requant, residual (privquant).
    pub op: String,
    /// Elements (or OTs) per run.
    #[arg(long, default_value_t = 65536)]
    pub n: usize,
    /// Bit-width of the values or OT messages. Default: 32 (got, bcot, comparisons, wrap,
    /// msb, msb2wrap, b2a, mux, relu), 2 (kkot, 1ofn: the millionaire's leaves); `cot`
    /// without --l is the random COT.
    #[arg(long)]
    pub l: Option<u32>,
    /// zext/sext: input width.
    #[arg(long, default_value_t = 16)]
    pub from: u32,
    /// zext/sext: output width.
    #[arg(long, default_value_t = 32)]
    pub to: u32,
    /// trunc/tr/divpow2: input width.
    #[arg(long, default_value_t = 32)]
    pub bw: u32,
    /// trunc/tr/divpow2: shift.
    #[arg(long, default_value_t = 12)]
    pub s: u32,
    /// zext/sext/trunc: the input's MSB is known to be 0 (non-negative input).
    #[arg(long)]
    pub msb_known: bool,
    /// matmul: A is d1×d2, B is d2×d3.
    #[arg(long, default_value_t = 1)]
    pub d1: usize,
    /// matmul: inner dimension.
    #[arg(long, default_value_t = 100)]
    pub d2: usize,
    /// matmul: columns of B.
    #[arg(long, default_value_t = 35)]
    pub d3: usize,
    /// matmul: width of A.
    #[arg(long, default_value_t = 8)]
    pub bwa: u32,
    /// matmul: width of B.
    #[arg(long, default_value_t = 8)]
    pub bwb: u32,
    /// matmul: output width (default bwa + bwb).
    #[arg(long)]
    pub bwc: Option<u32>,
    /// matmul: who holds what (alice-has-a, alice-has-b, none: both shared).
    #[arg(long, default_value = "alice-has-a")]
    pub mode: String,
    /// `requant`: input width.
    #[arg(long, default_value_t = 16)]
    pub l1: u32,
    /// `requant`: input scale (value = integer / 2^s1).
    #[arg(long, default_value_t = 8)]
    pub s1: i32,
    /// `requant`: output width.
    #[arg(long, default_value_t = 6)]
    pub l2: u32,
    /// `requant`: output scale.
    #[arg(long, default_value_t = 2)]
    pub s2: i32,
    /// `residual`: channels of the block.
    #[arg(long, default_value_t = 64)]
    pub c: usize,
    /// `residual`: height = width of the feature map.
    #[arg(long, default_value_t = 8)]
    pub hw: usize,
    /// `residual`: input channels of the conv that joins the shortcut (default: --c).
    #[arg(long)]
    pub cin: Option<usize>,
    /// `residual`: the conv's kernel side.
    #[arg(long, default_value_t = 3)]
    pub k: usize,
    /// `residual`: weight width.
    #[arg(long, default_value_t = 2)]
    pub wbits: u32,
    /// `residual`: activation width.
    #[arg(long, default_value_t = 6)]
    pub abits: u32,
    /// `residual`: width of the residual add.
    #[arg(long, default_value_t = 8)]
    pub rbits: u32,
    /// Messages per OT of a batched COT (`bcot`).
    #[arg(long, default_value_t = 64)]
    pub msgs: usize,
    /// N of a 1-of-N OT.
    #[arg(long = "N", default_value_t = 16)]
    pub big_n: usize,
    /// Protocol profile: sirnn (byte-exact with SCI) or privquant.
    #[arg(long, default_value = "sirnn")]
    pub profile: String,
    /// The correlated-OT source: `iknp`, `softspoken:K` (K in 1..=8) or `ferret` (default
    /// iknp; the sirnn profile's protocols always run IKNP, the OT benchmarks then run
    /// without SCI's padding).
    #[arg(long)]
    pub ot: Option<String>,
    /// The channel between the two in-process parties: mem or tcp (loopback).
    #[arg(long, default_value = "mem")]
    pub transport: String,
    /// Seed for the random inputs (protocol randomness always comes from the OS).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Also print the report as one JSON line on stdout.
    #[arg(long)]
    pub json: bool,
    /// The memory this run may use (e.g. 8G, 512MiB; `none`: no check). Default: what the
    /// machine has available. A run estimated to need more is refused before it starts.
    #[arg(long)]
    pub max_mem: Option<String>,
}

impl MicroArgs {
    /// `--l`, or the op's default when it is absent (see `--l`'s help).
    pub fn l_or_default(&self) -> Option<u32> {
        self.l.or(match self.op.as_str() {
            "kkot" | "1ofn" => Some(2),
            "got" | "bcot" | "mill" | "milleq" | "eq" | "wrap" | "msb" | "msb2wrap" | "b2a"
            | "mux" | "relu" => Some(32),
            _ => None,
        })
    }
}

fn map_err<T>(r: Result<T, ProtoError>) -> anyhow::Result<T> {
    match r {
        Ok(v) => Ok(v),
        Err(ProtoError::Param { name, msg }) => usage(format!("--{name}: {msg}")),
        Err(e) => Err(e.into()),
    }
}

fn emit(r: &MicroReport, json: bool, ots: Option<usize>, print: bool) -> anyhow::Result<()> {
    if print {
        eprintln!(
            "{} [{}, {}]: {} B total ({} s->c, {} c->s), setup {} B, {} rounds (flights {}), {:.3} s, correct: {}, cost matches: {}",
            r.op,
            r.profile,
            r.ot,
            r.bytes_total,
            r.bytes_server_to_client,
            r.bytes_client_to_server,
            r.setup_bytes,
            r.rounds,
            r.measured_flights,
            r.wall_s,
            r.correct,
            r.cost_matches
        );
    }
    let mut v = serde_json::to_value(r)?;
    if let (Some(n), Some(obj)) = (ots, v.as_object_mut()) {
        let rate = if r.wall_s > 0.0 {
            n as f64 / r.wall_s
        } else {
            0.0
        };
        if print {
            eprintln!("throughput: {:.2} M OT/s", rate / 1e6);
        }
        obj.insert("ots_per_s".into(), rate.into());
    }
    if json && print {
        if let Some(o) = v.as_object_mut() {
            o.insert("peak_rss_bytes".into(), memory::peak_rss().into());
            o.insert(
                "memory_estimate_bytes".into(),
                memory::last_estimate().into(),
            );
        }
        print_json_line(&v);
    }
    anyhow::ensure!(
        r.correct,
        "{}: the reconstructed output differs from the plaintext reference",
        r.op
    );
    anyhow::ensure!(
        r.cost_matches,
        "{}: measured bytes differ from the cost function ({} B)",
        r.op,
        r.cost_bytes
    );
    Ok(())
}

pub fn run_micro_cmd(a: MicroArgs) -> anyhow::Result<()> {
    if !OPS.contains(&a.op.as_str()) {
        return usage(format!(
            "unknown op '{}' (accepted: {})",
            a.op,
            OPS.join(", ")
        ));
    }
    guard_micro_memory(&a, micro_what(&a))?;
    run_micro_once(&a, true)
}

/// A two-process micro run's memory guard (`serve`/`connect … micro`): the floor from its
/// shapes only (one party per process; the probes run both parties in one process).
pub fn guard_remote_micro_memory(a: &MicroArgs) -> anyhow::Result<()> {
    let b = memory::budget(a.max_mem.as_deref())?;
    let (what, lower) = micro_what(a);
    let floor = micro_floor(a, a.n as u64);
    memory::check(&what, &floor.estimate("its inputs and outputs"), &b, lower)?;
    Ok(())
}

/// `netsim vt-check`'s memory guard: its run holds what `micro cot --l 32 --n N` holds, so
/// the same floor and probes decide, reported against `what`.
pub fn guard_cot_memory(what: String, n: usize, max_mem: Option<&str>) -> anyhow::Result<()> {
    #[derive(clap::Parser)]
    struct Wrap {
        #[command(flatten)]
        m: MicroArgs,
    }
    use clap::Parser;
    let mut w = Wrap::try_parse_from(["micro", "cot", "--l", "32"])?;
    w.m.n = n;
    w.m.max_mem = max_mem.map(str::to_string);
    guard_micro_memory(&w.m, (what, "--n"))
}

/// The OTs and protocol ops whose buffers grow with `--n`.
fn grows_with_n(op: &str) -> bool {
    !matches!(op, "matmul" | "residual")
}

/// The floor of a micro op's memory from its shapes: each party's inputs and outputs as
/// 64-bit words (a batched COT's and a 1-of-N OT's messages per element), both parties.
fn micro_floor(a: &MicroArgs, n: u64) -> Footprint {
    let (d1, d2, d3) = (a.d1 as u64, a.d2 as u64, a.d3 as u64);
    match a.op.as_str() {
        "matmul" => Footprint::words(&[&[4, d1, d2], &[4, d2, d3], &[4, d1, d3]]),
        "residual" => {
            let (c, cin, hw, k) = (
                a.c as u64,
                a.cin.unwrap_or(a.c) as u64,
                a.hw as u64,
                a.k as u64,
            );
            Footprint::words(&[&[4, cin, k, k, hw, hw], &[8, c, hw, hw]])
        }
        "bcot" => Footprint::words(&[&[4, n, a.msgs as u64]]),
        "kkot" | "1ofn" => Footprint::words(&[&[4, n, a.big_n as u64]]),
        _ => Footprint::words(&[&[4, n]]),
    }
}

/// The command line's size flags, for the refusal message.
fn micro_what(a: &MicroArgs) -> (String, &'static str) {
    match a.op.as_str() {
        "matmul" => (
            format!("micro matmul --d1 {} --d2 {} --d3 {}", a.d1, a.d2, a.d3),
            "--d1, --d2 or --d3",
        ),
        "residual" => (
            format!("micro residual --c {} --hw {}", a.c, a.hw),
            "--c, --cin or --hw",
        ),
        "bcot" => (
            format!("micro bcot --n {} --msgs {}", a.n, a.msgs),
            "--n or --msgs",
        ),
        op => (format!("micro {op} --n {}", a.n), "--n"),
    }
}

/// Refuse a micro run that will not fit, before it allocates: the floor from the shapes
/// first, then (for a large run) two small probe runs of the same op, extrapolated
/// (`bench_harness::memory`).
fn guard_micro_memory(a: &MicroArgs, (what, lower): (String, &str)) -> anyhow::Result<()> {
    let b = memory::budget(a.max_mem.as_deref())?;
    let Some(limit) = b.bytes else {
        return Ok(());
    };
    let floor = micro_floor(a, a.n as u64);
    memory::check(&what, &floor.estimate("its inputs and outputs"), &b, lower)?;
    // shape-scaled runs probe only when they could come near the budget: their probes are
    // slower, and the largest measured peak is 12 times the floor plus half a GB of buffers
    // (a 128×128 conv); the probes of `--n` runs take milliseconds and always run
    if !grows_with_n(&a.op) && floor.bytes().saturating_mul(32).saturating_add(2 << 30) <= limit {
        return Ok(());
    }
    let quiet = |m: MicroArgs| run_micro_once(&m, false);
    let est = if grows_with_n(&a.op) {
        let (n1, n2) = (PROBE_N, 2 * PROBE_N);
        if (a.n as u64) <= n2 {
            return Ok(());
        }
        memory::probe_linear(a.n as u64, n1, n2, "n", |m| {
            quiet(MicroArgs {
                n: m as usize,
                json: false,
                ..a.clone()
            })
        })?
    } else if a.op == "matmul" {
        // linear in each side for fixed other sides: probe along the largest
        let dims = [a.d1, a.d2, a.d3];
        let (i, &big) = dims
            .iter()
            .enumerate()
            .max_by_key(|(_, d)| **d)
            .unwrap_or((2, &a.d3));
        if big <= 64 {
            return Ok(());
        }
        let with = |d: u64| {
            let mut m = a.clone();
            match i {
                0 => m.d1 = d as usize,
                1 => m.d2 = d as usize,
                _ => m.d3 = d as usize,
            }
            m.json = false;
            m
        };
        let side = ["d1", "d2", "d3"][i];
        memory::probe_linear(big as u64, 32, 64, side, |d| quiet(with(d)))?
    } else {
        // residual: linear in the pixel count
        let h1 = a.k.max(16) as u64;
        let h2 = 2 * h1;
        if a.hw as u64 <= h2 {
            return Ok(());
        }
        memory::probe_linear(
            (a.hw as u64).saturating_pow(2),
            h1 * h1,
            h2 * h2,
            "pixel",
            |px| {
                quiet(MicroArgs {
                    hw: if px == h1 * h1 { h1 } else { h2 } as usize,
                    json: false,
                    ..a.clone()
                })
            },
        )?
    };
    let ferret = match &a.ot {
        Some(o) => parse_ot(o)? == pq_proto::OtKind::Ferret,
        None => false,
    };
    // an OT benchmark streams its call: the sender may queue all of it before the receiver
    // reads (the cost function gives its bytes)
    let in_flight = if is_ot_bench(&a.op) && a.op != "baseot" {
        let (op, opts) = ot_op_of(a)?;
        op.expected(a.n, opts).total()
    } else {
        0
    };
    memory::check_probed(&what, est, ferret, in_flight, &b, lower)?;
    Ok(())
}

/// The OT benchmarks among the micro ops (the OT engine's bench path).
fn is_ot_bench(op: &str) -> bool {
    matches!(op, "cot" | "got" | "kkot" | "1ofn" | "bcot" | "baseot")
}

/// The probe runs' `n` (and twice it).
const PROBE_N: u64 = 4096;

fn run_micro_once(a: &MicroArgs, print: bool) -> anyhow::Result<()> {
    let mode: MultMode = a
        .mode
        .parse()
        .or_else(|e: String| usage(format!("--mode: {e}")))?;
    let p = MicroParams {
        n: a.n,
        l: a.l_or_default(),
        from: a.from,
        to: a.to,
        bw: a.bw,
        s: a.s,
        msb_known: a.msb_known,
        d1: a.d1,
        d2: a.d2,
        d3: a.d3,
        bwa: a.bwa,
        bwb: a.bwb,
        bwc: a.bwc,
        mode,
        nn: a.big_n,
        profile: if is_ot_bench(&a.op) {
            parse_profile(&a.profile)?
        } else {
            with_ot_flag(parse_profile(&a.profile)?, &a.ot, pq_proto::OtKind::Iknp)?
        },
    };
    let t = parse_transport(&a.transport)?;
    if is_ot_bench(&a.op) {
        return run_ot_bench(a, &p, t, print);
    }
    if a.op == "requant" {
        use bench_harness::runners::pq_micro::{RequantParams, run_requant};
        let rp = RequantParams {
            n: a.n,
            l1: a.l1,
            s1: a.s1,
            l2: a.l2,
            s2: a.s2,
            msb_known: a.msb_known,
        };
        let r = map_err(run_requant(&rp, t, a.seed, p.profile.ot))?;
        return emit(&r, a.json, None, print);
    }
    if a.op == "residual" {
        use pq_proto::privquant::residual::ResidualParams;
        let rp = ResidualParams {
            c: a.c,
            cin: a.cin.unwrap_or(a.c),
            hw: a.hw,
            k: a.k,
            wbits: a.wbits,
            abits: a.abits,
            rbits: a.rbits,
        };
        let r = map_err(bench_harness::runners::pq_micro::run_residual(
            &rp,
            t,
            a.seed,
            p.profile.ot,
        ))?;
        if print {
            eprintln!(
                "residual vs sirnn-quant: {} B vs {} B ({:.2}x fewer; target >= 2.6x)",
                r.report.bytes_total, r.sirnn_quant_bytes, r.ratio
            );
        }
        if a.json && print {
            let v = serde_json::to_value(&r)?;
            emit(&r.report, false, None, print)?;
            print_json_line(&v);
            return Ok(());
        }
        return emit(&r.report, false, None, print);
    }
    let r = map_err(run_micro(&a.op, &p, t, a.seed))?;
    emit(&r, a.json, None, print)
}

/// The OT benchmark an `micro` invocation names, with its options.
pub fn ot_op_of(
    a: &MicroArgs,
) -> anyhow::Result<(bench_harness::runners::ot::OtOp, pq_ot::OtOpts)> {
    use bench_harness::runners::ot::OtOp;
    let profile = parse_profile(&a.profile)?;
    let opts = ot_bench_opts(profile, &a.ot)?;
    let need_l = || -> anyhow::Result<u32> {
        match a.l_or_default() {
            Some(l) if (1..=64).contains(&l) => Ok(l),
            Some(l) => usage(format!(
                "--l: bit-width {l} is out of range (accepted: 1..=64)"
            )),
            None => usage(format!("--l: `micro {}` needs a message bit-width", a.op)),
        }
    };
    let op = match a.op.as_str() {
        "cot" => match a.l {
            None => OtOp::Rcot,
            Some(_) => OtOp::Cot { l: need_l()? },
        },
        "got" => OtOp::Got { l: need_l()? },
        "1ofn" => OtOp::OneOfN {
            n_choices: a.big_n,
            l: need_l()?,
        },
        "kkot" => {
            if !(2..=256).contains(&a.big_n) {
                return usage(format!(
                    "--N: {} is out of range (accepted: 2..=256)",
                    a.big_n
                ));
            }
            OtOp::Kkot {
                n_choices: a.big_n,
                l: need_l()?,
            }
        }
        "bcot" => {
            if a.msgs == 0 {
                return usage("--msgs: expected at least 1 message per OT");
            }
            OtOp::BatchedCot {
                msgs: a.msgs,
                l: need_l()?,
            }
        }
        other => return usage(format!("`{other}` is not an OT benchmark")),
    };
    Ok((op, opts))
}

/// The OT throughput benchmarks: the OT engine's own bench path (pinned threads, output
/// buffers touched before timing, the second of two identical calls timed), which also checks
/// the OT relation and that measured bytes equal the cost function.
fn run_ot_bench(a: &MicroArgs, p: &MicroParams, t: Transport, print: bool) -> anyhow::Result<()> {
    use bench_harness::runners::ot as bench;
    use pq_ot::{OtError, OtOpts};
    let opts: OtOpts = ot_bench_opts(p.profile, &a.ot)?;
    let need_l = || -> anyhow::Result<u32> {
        match a.l_or_default() {
            Some(l) if (1..=64).contains(&l) => Ok(l),
            Some(l) => usage(format!(
                "--l: bit-width {l} is out of range (accepted: 1..=64)"
            )),
            None => usage(format!("--l: `micro {}` needs a message bit-width", a.op)),
        }
    };
    let ot = |r: Result<bench::OtBench, OtError>| -> anyhow::Result<bench::OtBench> {
        r.map_err(|e| anyhow::anyhow!("{} failed: {e}", a.op))
    };
    if a.op == "baseot" {
        let secs =
            bench::bench_base_ot(a.n, t).map_err(|e| anyhow::anyhow!("base OT failed: {e}"))?;
        if print {
            eprintln!(
                "{} base OTs (Chou–Orlandi, Ristretto255): {:.2} ms",
                a.n,
                secs * 1e3
            );
        }
        if a.json && print {
            print_json_line(&serde_json::json!({ "op": "baseot", "n": a.n, "wall_s": secs }));
        }
        return Ok(());
    }
    let b = match a.op.as_str() {
        "cot" => match a.l {
            None => ot(bench::bench_rcot(
                a.n,
                OtOpts {
                    sci_padding: false,
                    ..opts
                },
                t,
            ))?,
            Some(_) => ot(bench::bench_cot(a.n, need_l()?, opts, t))?,
        },
        "got" => ot(bench::bench_got(a.n, need_l()?, opts, t))?,
        "kkot" => {
            if !(2..=256).contains(&a.big_n) {
                return usage(format!(
                    "--N: {} is out of range (accepted: 2..=256)",
                    a.big_n
                ));
            }
            ot(bench::bench_kkot(a.n, a.big_n, need_l()?, opts, t))?
        }
        "1ofn" => {
            if !(2..=256).contains(&a.big_n) {
                return usage(format!(
                    "--N: {} is out of range (accepted: 2..=256)",
                    a.big_n
                ));
            }
            if opts.sci_padding {
                return usage(
                    "micro 1ofn: the 1-of-N OT from COTs has no SCI padding rule (use --profile privquant or --ot)",
                );
            }
            ot(bench::bench(
                bench::OtOp::OneOfN {
                    n_choices: a.big_n,
                    l: need_l()?,
                },
                a.n,
                opts,
                t,
            ))?
        }
        _ => ot(bench::bench_batched_cot(a.n, a.msgs, need_l()?, opts, t))?,
    };
    let total = b.bytes_server_to_client + b.bytes_client_to_server;
    if print {
        eprintln!(
            "{} [{}, {}] n={} over {}: {:.2} M OT/s, {:.3} bits/OT ({:.3} without the setup), {:.3} s wall (server {:.3} s / {:.3} s CPU, client {:.3} s / {:.3} s CPU), {} B total, correct: {}, bytes = cost: {}",
            a.op,
            p.profile.name(),
            opts.source,
            a.n,
            a.transport,
            b.ots_per_s / 1e6,
            b.bits_per_ot,
            b.bits_per_ot_no_setup,
            b.wall_s,
            b.server_s,
            b.server_cpu_s,
            b.client_s,
            b.client_cpu_s,
            total,
            b.correct,
            b.bytes_match_cost
        );
    }
    if a.json && print {
        let mut v = serde_json::json!({
            "op": a.op, "profile": p.profile.name(),
            "params": {"n": a.n, "l": a.l_or_default(), "N": a.big_n, "msgs": a.msgs, "transport": a.transport, "profile": p.profile.name()},
            "bytes_total": total,
            "bytes_server_to_client": b.bytes_server_to_client,
            "bytes_client_to_server": b.bytes_client_to_server,
            "setup_bytes": b.setup_bytes, "rounds": 1, "wall_s": b.wall_s,
            "correct": b.correct, "cost_matches": b.bytes_match_cost, "ots_per_s": b.ots_per_s,
            "ot": opts.source.name(), "bits_per_ot": b.bits_per_ot,
            "bits_per_ot_no_setup": b.bits_per_ot_no_setup,
            "server_cpu_s": b.server_cpu_s, "client_cpu_s": b.client_cpu_s,
            "peak_rss_bytes": memory::peak_rss(),
            "memory_estimate_bytes": memory::last_estimate(),
        });
        if a.op == "bcot"
            && let Some(o) = v.as_object_mut()
        {
            let rate = if b.wall_s > 0.0 {
                b.bytes_server_to_client as f64 / b.wall_s
            } else {
                0.0
            };
            o.insert("correction_bytes_per_s".into(), rate.into());
        }
        print_json_line(&v);
    }
    anyhow::ensure!(b.correct, "{}: outputs violate the OT relation", a.op);
    anyhow::ensure!(
        b.bytes_match_cost,
        "{}: measured bytes differ from the cost function",
        a.op
    );
    Ok(())
}

#[derive(Args, Debug, Clone)]
pub struct ConvArgs {
    /// Input height = width.
    #[arg(long)]
    pub hw: usize,
    /// Input channels.
    #[arg(long)]
    pub cin: usize,
    /// Output channels.
    #[arg(long)]
    pub cout: usize,
    /// Kernel side.
    #[arg(long)]
    pub k: usize,
    /// Stride (zero padding k/2 on each border).
    #[arg(long, default_value_t = 1)]
    pub stride: usize,
    /// Weight width in bits.
    #[arg(long)]
    pub wbits: u32,
    /// Activation (input) width in bits.
    #[arg(long)]
    pub abits: u32,
    /// The input is signed (default: non-negative, as after a ReLU).
    #[arg(long)]
    pub signed_input: bool,
    /// Replicate the image-side work per thread as SCI's default 4-thread run does
    /// (informative; every ratio uses the one-thread figure).
    #[arg(long, default_value_t = 1)]
    pub sci_threads: usize,
    /// `sirnn` (SCI's matmul), `privquant` (the planner's option among the OT options) or
    /// `privquant-he` (the HE option on the planner's menu too).
    #[arg(long, default_value = "sirnn")]
    pub profile: String,
    /// privquant: what the option planner minimises, `bytes` or `latency` (on --net).
    #[arg(long, default_value = "bytes")]
    pub objective: String,
    /// The link of `--objective latency` (BANDWIDTH,RTT).
    #[arg(long)]
    pub net: Option<String>,
    /// The correlated-OT source of the privquant profiles: `iknp`, `softspoken:K` or
    /// `ferret` (default iknp; ferret for privquant-he; sirnn runs IKNP only).
    #[arg(long)]
    pub ot: Option<String>,
    /// The channel between the two in-process parties: mem or tcp (loopback).
    #[arg(long, default_value = "mem")]
    pub transport: String,
    /// Seed for the random inputs (protocol randomness always comes from the OS).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Also print the report as one JSON line on stdout.
    #[arg(long)]
    pub json: bool,
    /// The memory this run may use (e.g. 8G, 512MiB; `none`: no check). Default: what the
    /// machine has available. A run estimated to need more is refused before it starts.
    #[arg(long)]
    pub max_mem: Option<String>,
}

pub fn run_conv_cmd(a: ConvArgs) -> anyhow::Result<()> {
    guard_conv_memory(&a)?;
    run_conv_once(&a, true)
}

/// Refuse a conv that will not fit, before it allocates: the floor from its shapes (the
/// input, the im2col patches and the output as 64-bit words, both parties), then two probe
/// convs at small sides, extrapolated along the pixel count.
fn guard_conv_memory(a: &ConvArgs) -> anyhow::Result<()> {
    let b = memory::budget(a.max_mem.as_deref())?;
    let Some(limit) = b.bytes else {
        return Ok(());
    };
    let what = format!(
        "conv --hw {} --cin {} --cout {} --k {}",
        a.hw, a.cin, a.cout, a.k
    );
    let lower = "--hw, --cin, --cout or --k";
    let (hw, cin, cout, k) = (a.hw as u64, a.cin as u64, a.cout as u64, a.k as u64);
    let floor = Footprint::words(&[
        &[2, cin, hw, hw],
        &[2, cin, k, k, hw, hw],
        &[2, cout, hw, hw],
    ]);
    memory::check(
        &what,
        &floor.estimate("its input, patches and output"),
        &b,
        lower,
    )?;
    // the probes take seconds: only when the run could come near the budget (see
    // `guard_micro_memory`)
    let h1 = (a.k.max(16) as u64).max(a.stride as u64);
    let h2 = 2 * h1;
    if floor.bytes().saturating_mul(32).saturating_add(2 << 30) <= limit || hw <= h2 {
        return Ok(());
    }
    let est = memory::probe_linear(hw.saturating_mul(hw), h1 * h1, h2 * h2, "pixel", |px| {
        run_conv_once(
            &ConvArgs {
                hw: if px == h1 * h1 { h1 } else { h2 } as usize,
                json: false,
                ..a.clone()
            },
            false,
        )
    })?;
    let ferret = conv_profile(a)?.0.ot == pq_proto::OtKind::Ferret;
    memory::check_probed(&what, est, ferret, 0, &b, lower)?;
    Ok(())
}

/// The profile a conv runs under, on its COT source (`--ot`, else Ferret for
/// `privquant-he` as that configuration runs a conv, IKNP otherwise), and the planner's menu.
fn conv_profile(a: &ConvArgs) -> anyhow::Result<(Profile, Menu)> {
    let (profile, menu) = parse_conv_profile(&a.profile)?;
    let default_ot = if menu.he {
        pq_proto::OtKind::Ferret
    } else {
        pq_proto::OtKind::Iknp
    };
    Ok((with_ot_flag(profile, &a.ot, default_ot)?, menu))
}

fn run_conv_once(a: &ConvArgs, print: bool) -> anyhow::Result<()> {
    let (profile, menu) = conv_profile(a)?;
    let c = ConvParams {
        hw: a.hw,
        cin: a.cin,
        cout: a.cout,
        k: a.k,
        stride: a.stride,
        wbits: a.wbits,
        abits: a.abits,
        signed_input: a.signed_input,
        sci_threads: a.sci_threads,
        profile,
    };
    let t = parse_transport(&a.transport)?;
    let link = match &a.net {
        Some(n) => Some(
            pq_netsim::LinkSpec::parse(n).or_else(|e| crate::util::usage(format!("--net: {e}")))?,
        ),
        None => None,
    };
    let obj = pq_proto::Objective::parse(&a.objective, link).or_else(crate::util::usage)?;
    let r = if c.profile.is_sirnn() {
        map_err(run_conv(&c, t, a.seed))?
    } else {
        map_err(bench_harness::runners::pq_micro::run_conv_pq_with(
            &c, t, a.seed, obj, menu, profile.ot,
        ))?
    };
    emit(&r, a.json, None, print)
}
