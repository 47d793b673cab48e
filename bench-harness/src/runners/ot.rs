//! OT micro-benchmarks for the harness (`bench-harness micro cot|got|kkot`) and the
//! `--ignored` bench tests.
//!
//! Each function runs both parties in this process (server = OT sender, client = OT
//! receiver) on two pinned threads over `transport`, with OS-seeded randomness. Setup (base
//! OTs) is excluded from the timing and from the byte counts (reported as `setup_bytes`).
//! `wall_s` is the slower party's time for the call (the second of two identical calls:
//! the first warms buffers and page mappings, as a long-running engine would have them); `correct` compares the outputs with the
//! plaintext relation.

use pq_kernels::Block;
use pq_kernels::ring::mask;
use pq_netsim::{Channel, PairOptions, Transport, run_pair_with};
use pq_ot::bytes::{self, OtBytes};
use pq_ot::{
    IknpReceiver, IknpSender, KkotReceiver, KkotSender, OtError, OtOpts, OtResult, os_prg,
};
use serde::Serialize;
use std::time::Instant;

/// One benchmark result.
#[derive(Clone, Debug, Serialize)]
pub struct OtBench {
    pub op: String,
    pub n: usize,
    pub wall_s: f64,
    /// Seconds of the OT sender (server) and receiver (client) for the call.
    pub server_s: f64,
    pub client_s: f64,
    /// On-CPU seconds of each party's thread during the call (Linux schedstat; 0 if
    /// unavailable). Unlike the wall times, these do not grow when other processes share the
    /// cores.
    pub server_cpu_s: f64,
    pub client_cpu_s: f64,
    pub ots_per_s: f64,
    /// OT sender → receiver (server → client) bytes of the call.
    pub bytes_server_to_client: u64,
    /// OT receiver → sender (client → server) bytes of the call.
    pub bytes_client_to_server: u64,
    /// Both directions of the setup (base OTs, and SoftSpoken's trees or Ferret's IKNP
    /// bootstrap).
    pub setup_bytes: u64,
    /// Bits on the wire per OT, amortised over the warm-up and timed calls (2n OTs), with the
    /// setup included.
    pub bits_per_ot: f64,
    /// The same without the setup.
    pub bits_per_ot_no_setup: f64,
    /// Flights of the busier party in the timed call (one round trip is one flight each).
    pub measured_flights: u64,
    /// The measured bytes equal the cost function.
    pub bytes_match_cost: bool,
    /// Outputs satisfy the OT relation.
    pub correct: bool,
}

/// On-CPU nanoseconds of the calling thread (first field of `/proc/thread-self/schedstat`).
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

struct Timed<S> {
    st: S,
    secs: f64,
    cpu: f64,
    sent: u64,
    flights: u64,
    setup: u64,
    warm: u64,
}

/// Run `setup`, then `call` twice (warm-up, then measured).
fn timed<S: Send>(
    ch: &mut dyn Channel,
    setup: impl FnOnce(&mut dyn Channel) -> OtResult<S>,
    mut call: impl FnMut(&mut dyn Channel, &mut S) -> OtResult<()>,
) -> OtResult<Timed<S>> {
    let b0 = ch.meter().total();
    let mut st = setup(ch)?;
    ch.flush()?;
    let b1 = ch.meter().total();
    call(ch, &mut st)?;
    ch.flush()?;
    let b2 = ch.meter().total();
    let c0 = thread_cpu_ns();
    let t = Instant::now();
    call(ch, &mut st)?;
    ch.flush()?;
    let secs = t.elapsed().as_secs_f64();
    let cpu = match (c0, thread_cpu_ns()) {
        (Some(a), Some(b)) => (b.saturating_sub(a)) as f64 * 1e-9,
        _ => 0.0,
    };
    let d = ch.meter().total().since(&b2);
    let s = b1.since(&b0);
    Ok(Timed {
        st,
        secs,
        cpu,
        sent: d.bytes_sent,
        flights: d.flights,
        setup: s.bytes_sent + s.bytes_recv,
        warm: b2.since(&b1).bytes_sent,
    })
}

/// An OT throughput benchmark: which OT, and its message shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtOp {
    /// Random COT with a global Δ (the IKNP throughput benchmark).
    Rcot,
    /// SCI's COT with `l`-bit random correlations.
    Cot { l: u32 },
    /// Chosen-message 1-of-2 OT with `l`-bit messages.
    Got { l: u32 },
    /// 1-of-N OT with `l`-bit messages.
    Kkot { n_choices: usize, l: u32 },
    /// 1-of-N OT from ⌈log2 N⌉ COTs of the session's source ([`pq_ot::one_of_n`]).
    OneOfN { n_choices: usize, l: u32 },
    /// Batched COT (matmul payload shape): `msgs` values of `l` bits per OT.
    BatchedCot { msgs: usize, l: u32 },
}

impl OtOp {
    pub fn name(&self) -> String {
        match *self {
            OtOp::Rcot => "cot".into(),
            OtOp::Cot { l } => format!("cot(l={l})"),
            OtOp::Got { l } => format!("got(l={l})"),
            OtOp::Kkot { n_choices, l } => format!("kkot(N={n_choices},l={l})"),
            OtOp::OneOfN { n_choices, l } => format!("1ofn(N={n_choices},l={l})"),
            OtOp::BatchedCot { msgs, l } => format!("batched_cot(msgs={msgs},l={l})"),
        }
    }
    fn check_args(&self) -> OtResult<()> {
        match *self {
            OtOp::Rcot => Ok(()),
            OtOp::Cot { l } | OtOp::Got { l } | OtOp::BatchedCot { l, .. } => pq_ot::check_l(l),
            OtOp::Kkot { n_choices, l } | OtOp::OneOfN { n_choices, l } => {
                pq_ot::check_l(l)?;
                if !(2..=256).contains(&n_choices) {
                    return Err(OtError::InvalidArgument(format!(
                        "N must be in 2..=256, got {n_choices}"
                    )));
                }
                Ok(())
            }
        }
    }
    /// The cost function of one call of `n` OTs.
    pub fn expected(&self, n: usize, opts: OtOpts) -> OtBytes {
        let n64 = n as u64;
        match *self {
            // the random-COT call is not one of SCI's calls and never pads to SCI's batches
            OtOp::Rcot => bytes::rcot_bytes(
                n64,
                OtOpts {
                    sci_padding: false,
                    ..opts
                },
            ),
            OtOp::Cot { l } => bytes::cot_bytes(n64, l, opts),
            OtOp::Got { l } => bytes::got_bytes(n64, l, opts),
            OtOp::Kkot { n_choices, l } => bytes::kkot_bytes(n64, n_choices as u64, l, opts),
            OtOp::OneOfN { n_choices, l } => bytes::cot_1ofn_bytes(n64, n_choices as u64, l, opts),
            OtOp::BatchedCot { msgs, l } => {
                bytes::batched_cot_bytes(&vec![l; n], msgs as u64, opts)
            }
        }
    }
}

/// One party's view of a benchmark call.
#[derive(Clone, Debug)]
pub struct SideRun {
    /// Seconds and on-CPU seconds of the timed call.
    pub secs: f64,
    pub cpu: f64,
    /// Payload bytes this party sent in the timed call.
    pub sent: u64,
    /// Flights (message bursts) this party sent in the timed call.
    pub flights: u64,
    /// Both directions of the setup, as seen on this party's channel.
    pub setup: u64,
    /// Payload bytes this party sent in the warm-up call.
    pub warm: u64,
    /// What the checker needs from this party (inputs and outputs of the call, flattened).
    pub check: Vec<u64>,
}

fn blocks_to_u64(b: &[Block]) -> impl Iterator<Item = u64> + '_ {
    b.iter().flat_map(|x| [x.lo(), x.hi()])
}

fn side_of<S: Send>(t: OtResult<Timed<S>>, data: impl FnOnce(S) -> Vec<u64>) -> OtResult<SideRun> {
    let t = t?;
    Ok(SideRun {
        secs: t.secs,
        cpu: t.cpu,
        sent: t.sent,
        flights: t.flights,
        setup: t.setup,
        warm: t.warm,
        check: data(t.st),
    })
}

/// An IKNP-style sender session on `opts.source` (setup and source switch).
fn iknp_sender(
    ch: &mut dyn Channel,
    prg: &mut pq_kernels::aes::Prg,
    opts: OtOpts,
) -> OtResult<IknpSender> {
    let mut s = IknpSender::setup(ch, prg)?;
    s.upgrade(ch, opts.source, prg)?;
    Ok(s)
}

/// The receiver's side of [`iknp_sender`].
fn iknp_receiver(
    ch: &mut dyn Channel,
    prg: &mut pq_kernels::aes::Prg,
    opts: OtOpts,
) -> OtResult<IknpReceiver> {
    let mut r = IknpReceiver::setup(ch, prg)?;
    r.upgrade(ch, opts.source, prg)?;
    Ok(r)
}

/// Run one party of `op` over `ch`: base-OT setup, a warm-up call, then the timed call of `n`
/// OTs. The server is the OT sender, the client the receiver.
pub fn run_side(
    op: OtOp,
    server: bool,
    n: usize,
    opts: OtOpts,
    ch: &mut dyn Channel,
) -> OtResult<SideRun> {
    op.check_args()?;
    let mut prg = os_prg();
    match (op, server) {
        (OtOp::Rcot, true) => side_of(
            timed(
                ch,
                |ch| Ok((iknp_sender(ch, &mut prg, opts)?, vec![Block::ZERO; n])),
                |ch, (s, q)| s.send_rcot(ch, n, q),
            ),
            |(s, q)| {
                let d = s.delta();
                blocks_to_u64(&q).chain([d.lo(), d.hi()]).collect()
            },
        ),
        (OtOp::Rcot, false) => side_of(
            timed(
                ch,
                |ch| {
                    Ok((
                        iknp_receiver(ch, &mut prg, opts)?,
                        vec![0u8; n],
                        vec![Block::ZERO; n],
                    ))
                },
                |ch, (r, b, t)| r.recv_rcot(ch, n, b, t),
            ),
            |(_, b, t)| {
                b.iter()
                    .map(|&x| x as u64)
                    .chain(blocks_to_u64(&t))
                    .collect()
            },
        ),
        (OtOp::Cot { l }, true) => {
            let corr = rand_vals(&mut prg, n, l);
            side_of(
                timed(
                    ch,
                    |ch| Ok((iknp_sender(ch, &mut prg, opts)?, corr, vec![0u64; n])),
                    |ch, (s, c, o)| s.send_cot(ch, c, l, opts, o),
                ),
                |(_, c, o)| c.into_iter().chain(o).collect(),
            )
        }
        (OtOp::Cot { l }, false) | (OtOp::Got { l }, false) => {
            let b = rand_below(&mut prg, n, 2);
            let got = matches!(op, OtOp::Got { .. });
            side_of(
                timed(
                    ch,
                    |ch| Ok((iknp_receiver(ch, &mut prg, opts)?, b, vec![0u64; n])),
                    |ch, (r, b, o)| {
                        if got {
                            r.recv_got(ch, b, l, opts, o)
                        } else {
                            r.recv_cot(ch, b, l, opts, o)
                        }
                    },
                ),
                |(_, b, o)| b.iter().map(|&x| x as u64).chain(o).collect(),
            )
        }
        (OtOp::Got { l }, true) => {
            let m0 = rand_vals(&mut prg, n, l);
            let m1 = rand_vals(&mut prg, n, l);
            side_of(
                timed(
                    ch,
                    |ch| Ok((iknp_sender(ch, &mut prg, opts)?, m0, m1)),
                    |ch, (s, m0, m1)| s.send_got(ch, m0, m1, l, opts),
                ),
                |(_, m0, m1)| m0.into_iter().chain(m1).collect(),
            )
        }
        (OtOp::Kkot { n_choices, l }, true) => {
            let msgs = rand_vals(&mut prg, n * n_choices, l);
            side_of(
                timed(
                    ch,
                    |ch| Ok((KkotSender::setup(ch, &mut prg)?, msgs)),
                    |ch, (s, m)| s.send(ch, m, n_choices, l, opts),
                ),
                |(_, m)| m,
            )
        }
        (OtOp::Kkot { n_choices, l }, false) => {
            let r = rand_below(&mut prg, n, n_choices as u64);
            side_of(
                timed(
                    ch,
                    |ch| Ok((KkotReceiver::setup(ch, &mut prg)?, r, vec![0u64; n])),
                    |ch, (rv, r, o)| rv.recv(ch, r, n_choices, l, opts, o),
                ),
                |(_, r, o)| r.iter().map(|&x| x as u64).chain(o).collect(),
            )
        }
        (OtOp::OneOfN { n_choices, l }, true) => {
            let msgs = rand_vals(&mut prg, n * n_choices, l);
            side_of(
                timed(
                    ch,
                    |ch| Ok((iknp_sender(ch, &mut prg, opts)?, msgs)),
                    |ch, (s, m)| s.send_1ofn(ch, m, n_choices, l, opts),
                ),
                |(_, m)| m,
            )
        }
        (OtOp::OneOfN { n_choices, l }, false) => {
            let r = rand_below(&mut prg, n, n_choices as u64);
            side_of(
                timed(
                    ch,
                    |ch| Ok((iknp_receiver(ch, &mut prg, opts)?, r, vec![0u64; n])),
                    |ch, (rv, r, o)| rv.recv_1ofn(ch, r, n_choices, l, opts, o),
                ),
                |(_, r, o)| r.iter().map(|&x| x as u64).chain(o).collect(),
            )
        }
        (OtOp::BatchedCot { msgs, l }, true) => {
            let lens = vec![l; n];
            let corr = rand_vals(&mut prg, n * msgs, l);
            side_of(
                timed(
                    ch,
                    |ch| Ok((iknp_sender(ch, &mut prg, opts)?, corr, vec![0u64; n * msgs])),
                    |ch, (s, c, o)| s.send_batched_cot(ch, c, msgs, &lens, opts, o),
                ),
                |(_, c, o)| c.into_iter().chain(o).collect(),
            )
        }
        (OtOp::BatchedCot { msgs, l }, false) => {
            let lens = vec![l; n];
            let b = rand_below(&mut prg, n, 2);
            side_of(
                timed(
                    ch,
                    |ch| Ok((iknp_receiver(ch, &mut prg, opts)?, b, vec![0u64; n * msgs])),
                    |ch, (r, b, o)| r.recv_batched_cot(ch, b, msgs, &lens, opts, o),
                ),
                |(_, b, o)| b.iter().map(|&x| x as u64).chain(o).collect(),
            )
        }
    }
}

/// Check the OT relation from both parties' [`SideRun::check`] data.
pub fn check(op: OtOp, n: usize, s: &[u64], c: &[u64]) -> bool {
    let cot_ok = |l: u32, corr: &[u64], o0: &[u64], b: &[u64], o: &[u64], msgs: usize| {
        (0..n * msgs).all(|i| {
            o[i] == if b[i / msgs] == 1 {
                o0[i].wrapping_add(corr[i]) & mask(l)
            } else {
                o0[i]
            }
        })
    };
    match op {
        OtOp::Rcot => {
            if s.len() != 2 * n + 2 || c.len() != 3 * n {
                return false;
            }
            let d = Block::from_u64s(s[2 * n], s[2 * n + 1]);
            (0..n).all(|j| {
                let q = Block::from_u64s(s[2 * j], s[2 * j + 1]);
                let t = Block::from_u64s(c[n + 2 * j], c[n + 2 * j + 1]);
                t == q ^ d.and_bit(c[j] == 1)
            })
        }
        OtOp::Cot { l } => {
            s.len() == 2 * n && c.len() == 2 * n && cot_ok(l, &s[..n], &s[n..], &c[..n], &c[n..], 1)
        }
        OtOp::BatchedCot { msgs, l } => {
            let m = n * msgs;
            s.len() == 2 * m
                && c.len() == n + m
                && cot_ok(l, &s[..m], &s[m..], &c[..n], &c[n..], msgs)
        }
        OtOp::Got { .. } => {
            s.len() == 2 * n
                && c.len() == 2 * n
                && (0..n).all(|j| c[n + j] == if c[j] == 1 { s[n + j] } else { s[j] })
        }
        OtOp::Kkot { n_choices, .. } | OtOp::OneOfN { n_choices, .. } => {
            s.len() == n * n_choices
                && c.len() == 2 * n
                && (0..n).all(|j| {
                    c[j] < n_choices as u64 && c[n + j] == s[j * n_choices + c[j] as usize]
                })
        }
    }
}

/// Assemble the report from both sides.
pub fn report(op: OtOp, n: usize, opts: OtOpts, s: &SideRun, c: &SideRun) -> OtBench {
    let mut want = op.expected(n, opts);
    let cots = match op {
        OtOp::Kkot { .. } => 0,
        OtOp::OneOfN { n_choices, .. } => (n * pq_ot::one_of_n::cots_per_ot(n_choices)) as u64,
        _ => n as u64,
    };
    if opts.source.has_rounds() {
        // The warm-up call drew its COTs first; the timed call pays the rounds it triggers.
        let mut m = pq_ot::ferret::FerretMeter::default();
        m.take(cots);
        want.send_to_recv += m.take(cots).bytes;
    }
    let calls = (s.warm + c.warm + s.sent + c.sent) as f64 * 8.0;
    let per = |b: f64| if n > 0 { b / (2.0 * n as f64) } else { 0.0 };
    let wall = s.secs.max(c.secs);
    OtBench {
        op: op.name(),
        n,
        wall_s: wall,
        server_s: s.secs,
        client_s: c.secs,
        server_cpu_s: s.cpu,
        client_cpu_s: c.cpu,
        ots_per_s: if wall > 0.0 { n as f64 / wall } else { 0.0 },
        bytes_server_to_client: s.sent,
        bytes_client_to_server: c.sent,
        setup_bytes: s.setup,
        bits_per_ot: per(calls + 8.0 * s.setup as f64),
        bits_per_ot_no_setup: per(calls),
        measured_flights: s.flights.max(c.flights),
        bytes_match_cost: s.sent == want.send_to_recv && c.sent == want.recv_to_send,
        correct: check(op, n, &s.check, &c.check),
    }
}

/// Both parties of `op` in this process (one pinned thread each).
pub fn bench(op: OtOp, n: usize, opts: OtOpts, transport: Transport) -> OtResult<OtBench> {
    op.check_args()?;
    let out = run_pair_with(
        transport,
        &pair_opts(),
        |ch| run_side(op, true, n, opts, ch),
        |ch| run_side(op, false, n, opts, ch),
    )?;
    let (s, c) = (out.server?, out.client?);
    Ok(report(op, n, opts, &s, &c))
}

/// `n` random values of `l` bits (bulk PRG output).
fn rand_vals(prg: &mut pq_kernels::aes::Prg, n: usize, l: u32) -> Vec<u64> {
    let mut v = vec![0u64; n];
    prg.fill_bytes(bytemuck::cast_slice_mut(&mut v));
    for x in v.iter_mut() {
        *x &= mask(l);
    }
    v
}

/// `n` random values below `m`.
fn rand_below(prg: &mut pq_kernels::aes::Prg, n: usize, m: u64) -> Vec<u8> {
    rand_vals(prg, n, 64)
        .into_iter()
        .map(|x| (x % m) as u8)
        .collect()
}

fn pair_opts() -> PairOptions {
    PairOptions { pin: true }
}

/// Random COT with a global Δ (`send_rcot`/`recv_rcot`): the IKNP throughput benchmark.
pub fn bench_rcot(n: usize, opts: OtOpts, transport: Transport) -> OtResult<OtBench> {
    bench(OtOp::Rcot, n, opts, transport)
}

/// SCI's l-bit COT with random correlations.
pub fn bench_cot(n: usize, l: u32, opts: OtOpts, transport: Transport) -> OtResult<OtBench> {
    bench(OtOp::Cot { l }, n, opts, transport)
}

/// Chosen-message 1-of-2 OT with l-bit messages.
pub fn bench_got(n: usize, l: u32, opts: OtOpts, transport: Transport) -> OtResult<OtBench> {
    bench(OtOp::Got { l }, n, opts, transport)
}

/// 1-of-N OT with l-bit messages.
pub fn bench_kkot(
    n: usize,
    n_choices: usize,
    l: u32,
    opts: OtOpts,
    transport: Transport,
) -> OtResult<OtBench> {
    bench(OtOp::Kkot { n_choices, l }, n, opts, transport)
}

/// Batched COT (matmul shape): `n` OTs of `msgs` values of `l` bits.
pub fn bench_batched_cot(
    n: usize,
    msgs: usize,
    l: u32,
    opts: OtOpts,
    transport: Transport,
) -> OtResult<OtBench> {
    bench(OtOp::BatchedCot { msgs, l }, n, opts, transport)
}

/// Seconds for `n` base OTs (both parties, this process).
pub fn bench_base_ot(n: usize, transport: Transport) -> OtResult<f64> {
    let out = run_pair_with(
        transport,
        &pair_opts(),
        |ch| {
            let t = Instant::now();
            pq_ot::base_ot_send(ch, n, &mut os_prg())?;
            Ok::<f64, OtError>(t.elapsed().as_secs_f64())
        },
        |ch| {
            let t = Instant::now();
            let c: Vec<bool> = (0..n).map(|i| i % 2 == 0).collect();
            pq_ot::base_ot_recv(ch, &c, &mut os_prg())?;
            Ok::<f64, OtError>(t.elapsed().as_secs_f64())
        },
    )?;
    Ok(out.server?.max(out.client?))
}
