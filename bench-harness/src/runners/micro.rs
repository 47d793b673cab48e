//! Micro-benchmark runners for the CLI (`bench-harness micro OP`, `bench-harness conv`):
//! random inputs, both parties on two threads over a real channel, the output reconstructed
//! and compared with the plaintext reference, measured bytes compared with the cost function.

use pq_kernels::Block;
use pq_kernels::aes::Prg;
use pq_kernels::ring::{mask, to_signed};
use pq_netsim::Transport;
use pq_proto::party::{PartiesOutput, Party, run_parties, run_step};
use pq_proto::sirnn::conv::im2col;
pub use pq_proto::sirnn::conv::{ConvParams, conv_cost};
use pq_proto::sirnn::matmul::{MatmulParams, MultMode};
use pq_proto::sirnn::*;
use pq_proto::{Cost, Profile, Role};
use pq_proto::{ProtoResult, check_bw, ot_calls, param};
use serde::Serialize;

/// Parameters of one micro run (the CLI's flags; unused ones are ignored but echoed).
#[derive(Clone, Debug, Serialize)]
pub struct MicroParams {
    pub n: usize,
    /// Bit-width; `None` only for `cot` (random COTs with a global Δ).
    pub l: Option<u32>,
    pub from: u32,
    pub to: u32,
    pub bw: u32,
    pub s: u32,
    pub msb_known: bool,
    pub d1: usize,
    pub d2: usize,
    pub d3: usize,
    pub bwa: u32,
    pub bwb: u32,
    /// Defaults to bwa + bwb.
    pub bwc: Option<u32>,
    pub mode: MultMode,
    #[serde(rename = "N")]
    pub nn: usize,
    pub profile: Profile,
}

impl Default for MicroParams {
    fn default() -> Self {
        MicroParams {
            n: 65536,
            l: None,
            from: 16,
            to: 32,
            bw: 32,
            s: 12,
            msb_known: false,
            d1: 1,
            d2: 100,
            d3: 35,
            bwa: 8,
            bwb: 8,
            bwc: None,
            mode: MultMode::AliceHasA,
            nn: 16,
            profile: Profile::Sirnn,
        }
    }
}

/// What a micro or conv run reports (the JSON fields of the CLI contract in README.md).
#[derive(Clone, Debug, Serialize)]
pub struct MicroReport {
    pub op: String,
    pub profile: String,
    /// The correlated-OT source the protocol drew its COTs from (`iknp`, `softspoken:K`,
    /// `ferret`).
    pub ot: String,
    pub params: serde_json::Value,
    pub bytes_total: u64,
    pub bytes_server_to_client: u64,
    pub bytes_client_to_server: u64,
    pub setup_bytes: u64,
    /// Round trips on the critical path, from the cost function.
    pub rounds: u64,
    /// Flights of the busier party, as measured.
    pub measured_flights: u64,
    pub wall_s: f64,
    pub correct: bool,
    /// Measured bytes (both directions) equal the cost function's.
    pub cost_matches: bool,
    /// Bytes of the cost function.
    pub cost_bytes: u64,
    /// Informative: SCI's per-thread replication (conv with `sci_threads` > 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_sci_threads: Option<u64>,
    /// OT throughput (`cot`, `got`, `kkot`): n / wall_s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ots_per_s: Option<f64>,
}

/// `conv` reports the same fields as `micro`.
pub type ConvReport = MicroReport;

/// Shares of one party.
type Out = ProtoResult<Vec<u64>>;
/// Both parties' shares, with the traffic.
type Shares = PartiesOutput<Vec<u64>, Vec<u64>>;

fn input_prg(seed: Option<u64>) -> ProtoResult<Prg> {
    Ok(match seed {
        Some(s) => Prg::new(Block::from_u64s(s, 0x1234_5678_9abc_def0)),
        None => pq_ot::try_os_prg()?,
    })
}

fn rv(prg: &mut Prg, n: usize, l: u32) -> Vec<u64> {
    let m = mask(l);
    (0..n).map(|_| prg.next_u64() & m).collect()
}

fn rb(prg: &mut Prg, n: usize) -> Vec<u8> {
    (0..n).map(|_| (prg.next_u64() & 1) as u8).collect()
}

fn need_l(p: &MicroParams) -> ProtoResult<u32> {
    let l = p.l.ok_or_else(|| param("l", "this op needs --l"))?;
    check_bw("l", l)?;
    Ok(l)
}

fn report(
    op: &str,
    p: &MicroParams,
    out: &PartiesOutput<Vec<u64>, Vec<u64>>,
    cost: Cost,
    correct: bool,
    params: serde_json::Value,
) -> MicroReport {
    crate::runners::pq_micro::report(op, p.profile, out, cost, correct, params)
}

fn bits_u64(v: Vec<u8>) -> Vec<u64> {
    v.into_iter().map(|b| b as u64).collect()
}

/// Both parties of one op that costs `cost` (COTs reserved first); the cost the channel
/// should then measure comes back with the output.
fn pair<FS, FC>(
    t: Transport,
    pr: Profile,
    cost: Cost,
    fs: FS,
    fc: FC,
) -> ProtoResult<(Shares, Cost)>
where
    FS: FnOnce(&mut Party) -> Out + Send,
    FC: FnOnce(&mut Party) -> Out + Send,
{
    run_step(t, pr, super::PROTOCOL_RANDOMNESS, cost, fs, fc)
}

/// `cot`, `got` and `kkot` through the one OT runner ([`crate::runners::ot`]), reported
/// with the protocol layer's cost function ([`ot_calls`]).
fn run_ot(
    op: &str,
    p: &MicroParams,
    transport: Transport,
    params: serde_json::Value,
) -> ProtoResult<MicroReport> {
    use crate::runners::ot::{OtOp, bench};
    let pr = p.profile;
    let n = p.n as u64;
    let opts = pr.ot_opts();
    let (ot_op, cost) = match (op, p.l) {
        ("cot", None) => {
            let b = OtOp::Rcot.expected(p.n, opts);
            let c = if n == 0 {
                Cost::ZERO
            } else {
                Cost::one_way(Role::Client, b.recv_to_send, 1)
            };
            (OtOp::Rcot, c)
        }
        ("cot", Some(l)) => {
            check_bw("l", l)?;
            (OtOp::Cot { l }, ot_calls::cot(Role::Server, n, l, pr))
        }
        ("got", _) => {
            let l = need_l(p)?;
            (OtOp::Got { l }, ot_calls::got(Role::Server, n, l, pr))
        }
        _ => {
            let l = need_l(p)?;
            if !(2..=256).contains(&p.nn) {
                return Err(param(
                    "N",
                    format!("{} is out of range (accepted: 2..=256)", p.nn),
                ));
            }
            let c = ot_calls::kkot(Role::Server, n, p.nn as u64, l, pr);
            (OtOp::Kkot { n_choices: p.nn, l }, c)
        }
    };
    let b = bench(ot_op, p.n, opts, transport)?;
    let total = b.bytes_server_to_client + b.bytes_client_to_server;
    Ok(MicroReport {
        op: op.to_string(),
        profile: pr.name().to_string(),
        ot: opts.source.name(),
        params,
        bytes_total: total,
        bytes_server_to_client: b.bytes_server_to_client,
        bytes_client_to_server: b.bytes_client_to_server,
        setup_bytes: b.setup_bytes,
        rounds: cost.rounds,
        measured_flights: b.measured_flights,
        wall_s: b.wall_s,
        correct: b.correct,
        cost_matches: b.bytes_server_to_client == cost.server_to_client
            && b.bytes_client_to_server == cost.client_to_server,
        cost_bytes: cost.total(),
        bytes_sci_threads: None,
        ots_per_s: Some(b.ots_per_s),
    })
}

/// Run one micro op (names as in the CLI contract in README.md) with random inputs.
pub fn run_micro(
    op: &str,
    p: &MicroParams,
    transport: Transport,
    seed: Option<u64>,
) -> ProtoResult<MicroReport> {
    let mut prg = input_prg(seed)?;
    let n = p.n;
    let pr = p.profile;
    let params = serde_json::to_value(p).unwrap_or(serde_json::Value::Null);
    let xor = |o: &PartiesOutput<Vec<u64>, Vec<u64>>| -> Vec<u64> {
        o.server
            .iter()
            .zip(&o.client)
            .map(|(a, b)| (a ^ b) & 1)
            .collect()
    };
    let add = |o: &PartiesOutput<Vec<u64>, Vec<u64>>, l: u32| -> Vec<u64> {
        o.server
            .iter()
            .zip(&o.client)
            .map(|(a, b)| a.wrapping_add(*b) & mask(l))
            .collect()
    };
    match op {
        "cot" | "got" | "kkot" => run_ot(op, p, transport, params),
        "mill" | "milleq" | "eq" => {
            let l = need_l(p)?;
            let x = rv(&mut prg, n, l);
            let mut y = rv(&mut prg, n, l);
            if op != "mill" {
                // make equality interesting: a third of the pairs are equal
                for i in (0..n).step_by(3) {
                    y[i] = x[i];
                }
            }
            let (x2, y2) = (x.clone(), y.clone());
            let op2 = op.to_string();
            let op3 = op.to_string();
            let run = move |pa: &mut Party, d: &[u64], op: &str| -> Out {
                match op {
                    "mill" => Ok(bits_u64(millionaire::run(pa, d, l)?)),
                    "milleq" => {
                        let (g, e) = millionaire_eq::run(pa, d, l)?;
                        Ok(g.iter()
                            .zip(&e)
                            .map(|(g, e)| (*g as u64) | ((*e as u64) << 1))
                            .collect())
                    }
                    _ => Ok(bits_u64(equality::run(pa, d, l)?)),
                }
            };
            let c = match op {
                "mill" => millionaire::cost(n as u64, l, pr),
                "milleq" => millionaire_eq::cost(n as u64, l, pr),
                _ => equality::cost(n as u64, l, pr),
            };
            let (o, c) = pair(
                transport,
                pr,
                c,
                move |pa| run(pa, &x2, &op2),
                move |pa| run(pa, &y2, &op3),
            )?;
            let got: Vec<u64> = o.server.iter().zip(&o.client).map(|(a, b)| a ^ b).collect();
            let ok = (0..n).all(|i| {
                let g = (x[i] > y[i]) as u64;
                let e = (x[i] == y[i]) as u64;
                got[i]
                    == match op {
                        "mill" => g,
                        "milleq" => g | (e << 1),
                        _ => e,
                    }
            });
            Ok(report(op, p, &o, c, ok, params))
        }
        "wrap" | "msb" | "msb2wrap" => {
            let l = need_l(p)?;
            let xa = rv(&mut prg, n, l);
            let xb = rv(&mut prg, n, l);
            let x: Vec<u64> = xa
                .iter()
                .zip(&xb)
                .map(|(a, b)| a.wrapping_add(*b) & mask(l))
                .collect();
            let msb: Vec<u8> = x.iter().map(|v| ((v >> (l - 1)) & 1) as u8).collect();
            let ma = rb(&mut prg, n);
            let mb: Vec<u8> = ma.iter().zip(&msb).map(|(a, m)| a ^ m).collect();
            let (opa, opb) = (op.to_string(), op.to_string());
            let f = move |pa: &mut Party, x: Vec<u64>, m: Vec<u8>, op: String| -> Out {
                Ok(bits_u64(match op.as_str() {
                    "wrap" => wrap::run(pa, &x, l)?,
                    "msb" => msb::run(pa, &x, l)?,
                    _ => msb_to_wrap::run(pa, &x, &m, l)?,
                }))
            };
            let (xa2, xb2) = (xa.clone(), xb.clone());
            let c = match op {
                "wrap" => wrap::cost(n as u64, l, pr),
                "msb" => msb::cost(n as u64, l, pr),
                _ => msb_to_wrap::cost(n as u64, pr),
            };
            let (o, c) = pair(
                transport,
                pr,
                c,
                move |pa| f(pa, xa2, ma, opa),
                move |pa| f(pa, xb2, mb, opb),
            )?;
            let got = xor(&o);
            let ok = (0..n).all(|i| {
                let w = ((xa[i] as u128 + xb[i] as u128) >> l) as u64;
                got[i] == if op == "msb" { msb[i] as u64 } else { w }
            });
            Ok(report(op, p, &o, c, ok, params))
        }
        "b2a" | "mux" | "and" => {
            let l = if op == "and" { 1 } else { need_l(p)? };
            let sa = rb(&mut prg, n);
            let sb = rb(&mut prg, n);
            let xa = rv(&mut prg, n, l);
            let xb = rv(&mut prg, n, l);
            let ya = rb(&mut prg, n);
            let yb = rb(&mut prg, n);
            let (opa, opb) = (op.to_string(), op.to_string());
            let f = move |pa: &mut Party, s: Vec<u8>, x: Vec<u64>, y: Vec<u8>, op: String| -> Out {
                match op.as_str() {
                    "b2a" => b2a::run(pa, &s, l),
                    "mux" => mux::run(pa, &s, &x, l),
                    _ => Ok(bits_u64(and::run(pa, &s, &y)?)),
                }
            };
            let (sa2, sb2, xa2, xb2, ya2, yb2) = (
                sa.clone(),
                sb.clone(),
                xa.clone(),
                xb.clone(),
                ya.clone(),
                yb.clone(),
            );
            let c = match op {
                "b2a" => b2a::cost(n as u64, l, pr),
                "mux" => mux::cost(n as u64, l, pr),
                _ => and::cost(n as u64, pr),
            };
            let (o, c) = pair(
                transport,
                pr,
                c,
                move |pa| f(pa, sa2, xa2, ya2, opa),
                move |pa| f(pa, sb2, xb2, yb2, opb),
            )?;
            let ok = match op {
                "and" => {
                    let g = xor(&o);
                    (0..n).all(|i| g[i] == ((sa[i] ^ sb[i]) & (ya[i] ^ yb[i])) as u64)
                }
                _ => {
                    let g = add(&o, l);
                    (0..n).all(|i| {
                        let s = (sa[i] ^ sb[i]) as u64;
                        g[i] == if op == "b2a" {
                            s
                        } else {
                            s * (xa[i].wrapping_add(xb[i]) & mask(l))
                        }
                    })
                }
            };
            Ok(report(op, p, &o, c, ok, params))
        }
        "zext" | "sext" | "trunc" | "tr" | "divpow2" | "relu" => {
            let (lin, lout) = match op {
                "zext" | "sext" => {
                    check_bw("from", p.from)?;
                    check_bw("to", p.to)?;
                    if p.to < p.from {
                        return Err(param(
                            "to",
                            format!("--to {} is below --from {}", p.to, p.from),
                        ));
                    }
                    (p.from, p.to)
                }
                "relu" => {
                    let l = need_l(p)?;
                    (l, l)
                }
                _ => {
                    check_bw("bw", p.bw)?;
                    if p.s >= p.bw {
                        return Err(param(
                            "s",
                            format!("shift {} must be below --bw {}", p.s, p.bw),
                        ));
                    }
                    (p.bw, if op == "tr" { p.bw - p.s } else { p.bw })
                }
            };
            let xa = rv(&mut prg, n, lin);
            let mut xb = rv(&mut prg, n, lin);
            // include the most negative value and zero
            if n > 0 {
                xb[0] = (1u64 << (lin - 1)).wrapping_sub(xa[0]) & mask(lin);
            }
            if n > 1 {
                xb[1] = xa[1].wrapping_neg() & mask(lin);
            }
            let x: Vec<u64> = xa
                .iter()
                .zip(&xb)
                .map(|(a, b)| a.wrapping_add(*b) & mask(lin))
                .collect();
            let msb: Vec<u8> = x.iter().map(|v| ((v >> (lin - 1)) & 1) as u8).collect();
            let ma = rb(&mut prg, n);
            let mb: Vec<u8> = ma.iter().zip(&msb).map(|(a, m)| a ^ m).collect();
            let (op_a, op_b) = (op.to_string(), op.to_string());
            let (from, to, bw, s, mk) = (p.from, p.to, p.bw, p.s, p.msb_known);
            let f = move |pa: &mut Party, x: Vec<u64>, m: Vec<u8>, op: String| -> Out {
                let mo = if mk { Some(m.as_slice()) } else { None };
                match op.as_str() {
                    "zext" => extension::z_extend(pa, &x, from, to, mo),
                    "sext" => extension::s_extend(pa, &x, from, to, mo),
                    "trunc" => trunc::run(pa, &x, bw, s, true, mo),
                    "tr" => tr::run(pa, &x, bw, s),
                    "divpow2" => divpow2::run(pa, &x, bw, s),
                    _ => relu::run(pa, &x, lin),
                }
            };
            let (xa2, xb2) = (xa.clone(), xb.clone());
            let nn = n as u64;
            let c = match op {
                "zext" | "sext" => extension::cost(nn, from, to, mk, pr),
                "trunc" => trunc::cost(nn, bw, s, mk, pr),
                "tr" => tr::cost(nn, bw, s, pr),
                "divpow2" => divpow2::cost(nn, bw, s, pr),
                _ => relu::cost(nn, lin, pr),
            };
            let (o, c) = pair(
                transport,
                pr,
                c,
                move |pa| f(pa, xa2, ma, op_a),
                move |pa| f(pa, xb2, mb, op_b),
            )?;
            let g = add(&o, lout);
            let reference = |v: u64| -> u64 {
                let sv = to_signed(v, lin);
                let r: i64 = match op {
                    "zext" => v as i64,
                    "sext" => sv,
                    "trunc" => sv >> s,
                    "tr" => (v >> s) as i64,
                    "divpow2" => (sv as i128 / (1i128 << s)) as i64,
                    _ => sv.max(0),
                };
                (r as u64) & mask(lout)
            };
            let ok = (0..n).all(|i| g[i] == reference(x[i]));
            Ok(report(op, p, &o, c, ok, params))
        }
        "matmul" => {
            let mp = MatmulParams {
                d1: p.d1,
                d2: p.d2,
                d3: p.d3,
                bwa: p.bwa,
                bwb: p.bwb,
                bwc: p.bwc.unwrap_or(p.bwa + p.bwb),
                mode: p.mode,
            };
            mp.check()?;
            let a = rv(&mut prg, mp.d1 * mp.d2, mp.bwa);
            let b = rv(&mut prg, mp.d2 * mp.d3, mp.bwb);
            let (o, c, ok) = run_matmul(&mp, &a, &b, &mut prg, transport, pr)?;
            Ok(report(op, p, &o, c, ok, params))
        }
        _ => Err(param(
            "op",
            format!(
                "unknown op '{op}' (accepted: cot, got, kkot, mill, milleq, eq, wrap, msb, msb2wrap, b2a, mux, and, zext, sext, trunc, tr, divpow2, relu, matmul)"
            ),
        )),
    }
}

type PairRun = (Shares, Cost, bool);

/// Share A and B per mode, run the matmul, reconstruct and compare with the reference.
fn run_matmul(
    mp: &MatmulParams,
    a: &[u64],
    b: &[u64],
    prg: &mut Prg,
    transport: Transport,
    pr: Profile,
) -> ProtoResult<PairRun> {
    let split = |prg: &mut Prg, v: &[u64], l: u32| -> (Vec<u64>, Vec<u64>) {
        let r = rv(prg, v.len(), l);
        let other = v
            .iter()
            .zip(&r)
            .map(|(x, r)| x.wrapping_sub(*r) & mask(l))
            .collect();
        (r, other)
    };
    let (aa, ab) = if mp.mode == MultMode::AliceHasA {
        (a.to_vec(), Vec::new())
    } else {
        split(prg, a, mp.bwa)
    };
    let (ba, bb) = if mp.mode == MultMode::AliceHasB {
        (b.to_vec(), Vec::new())
    } else {
        split(prg, b, mp.bwb)
    };
    let (m1, m2) = (*mp, *mp);
    let (o, cost) = run_step(
        transport,
        pr,
        super::PROTOCOL_RANDOMNESS,
        matmul::cost(mp, pr),
        move |pa| matmul::run(pa, &m1, &aa, &ba),
        move |pa| matmul::run(pa, &m2, &ab, &bb),
    )?;
    let ai: Vec<i64> = a.iter().map(|&v| to_signed(v, mp.bwa)).collect();
    let bi: Vec<i64> = b.iter().map(|&v| to_signed(v, mp.bwb)).collect();
    let want = matmul::reference(mp, &ai, &bi);
    let got: Vec<u64> = o
        .server
        .iter()
        .zip(&o.client)
        .map(|(x, y)| x.wrapping_add(*y) & mask(mp.bwc))
        .collect();
    let ok = got == want;
    Ok((o, cost, ok))
}

/// Run one conv as `sirnn` does: (W·X) >> e in wbits + abits bits, W ALICE's plaintext, X
/// secret shared (a ReLU output in [0, 2^(abits−1)) unless `signed_input`).
pub fn run_conv(
    c: &ConvParams,
    transport: Transport,
    seed: Option<u64>,
) -> ProtoResult<MicroReport> {
    c.check()?;
    let mut prg = input_prg(seed)?;
    let mp = c.matmul();
    let w = rv(&mut prg, mp.d1 * mp.d2, c.wbits);
    let nx = c.cin * c.hw * c.hw;
    let xl = if c.signed_input { c.abits } else { c.abits - 1 };
    let x: Vec<u64> = if xl == 0 {
        vec![0; nx]
    } else {
        rv(&mut prg, nx, xl)
    };
    let xa = rv(&mut prg, nx, c.abits);
    let xb: Vec<u64> = x
        .iter()
        .zip(&xa)
        .map(|(v, r)| v.wrapping_sub(*r) & mask(c.abits))
        .collect();
    let (ia, ib) = (im2col(c, &xa), im2col(c, &xb));
    let ix = im2col(c, &x);
    let wref: Vec<i64> = w.iter().map(|&v| to_signed(v, c.wbits)).collect();
    let (m1, m2) = (mp, mp);
    let o = run_parties(
        transport,
        c.profile,
        super::PROTOCOL_RANDOMNESS,
        move |pa| matmul::run(pa, &m1, &w, &ia),
        move |pa| matmul::run(pa, &m2, &[], &ib),
    )?;
    let cost = conv_cost(c);
    let got: Vec<u64> = o
        .server
        .iter()
        .zip(&o.client)
        .map(|(a, b)| a.wrapping_add(*b) & mask(mp.bwc))
        .collect();
    let xref: Vec<i64> = ix.iter().map(|&v| to_signed(v, c.abits)).collect();
    let correct = got == matmul::reference(&mp, &wref, &xref);
    let params = serde_json::to_value(c).unwrap_or(serde_json::Value::Null);
    let fake = MicroParams {
        profile: c.profile,
        ..MicroParams::default()
    };
    let mut r = report("conv", &fake, &o, cost, correct, params);
    if c.sci_threads > 1 {
        r.bytes_sci_threads = Some(c.cost_sci_threads().total());
    }
    Ok(r)
}
