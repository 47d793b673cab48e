//! OT micro-benchmarks for the harness (`bench-harness micro cot|got|kkot`) and the
//! `--ignored` bench tests.
//!
//! Each function runs both parties in this process (server = OT sender, client = OT
//! receiver) on two pinned threads over `transport`, with OS-seeded randomness. Setup (base
//! OTs) is excluded from the timing and from the byte counts (reported as `setup_bytes`).
//! `wall_s` is the slower party's time for the call (the second of two identical calls:
//! the first warms buffers and page mappings, as a long-running engine would have them); `correct` compares the outputs with the
//! plaintext relation.

use super::cost::{self, OtBytes};
use super::{
    IknpReceiver, IknpSender, KkotReceiver, KkotSender, OtError, OtOpts, OtResult, os_prg,
};
use pq_kernels::Block;
use pq_kernels::ring::mask;
use pq_netsim::{Channel, PairOptions, Transport, run_pair_with};
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
    /// Both directions of the base-OT setup.
    pub setup_bytes: u64,
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
    setup: u64,
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
        setup: s.bytes_sent + s.bytes_recv,
    })
}

fn finish<A, B>(
    op: String,
    n: usize,
    s: OtResult<Timed<A>>,
    c: OtResult<Timed<B>>,
    want: OtBytes,
    check: impl FnOnce(&A, &B) -> bool,
) -> OtResult<OtBench> {
    let (s, c) = (s?, c?);
    let wall = s.secs.max(c.secs);
    Ok(OtBench {
        op,
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
        bytes_match_cost: s.sent == want.send_to_recv && c.sent == want.recv_to_send,
        correct: check(&s.st, &c.st),
    })
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
pub fn bench_rcot(n: usize, transport: Transport) -> OtResult<OtBench> {
    let out = run_pair_with(
        transport,
        &pair_opts(),
        |ch| {
            timed(
                ch,
                |ch| Ok((IknpSender::setup(ch, &mut os_prg())?, vec![Block::ZERO; n])),
                |ch, (s, q)| s.send_rcot(ch, n, q),
            )
        },
        |ch| {
            timed(
                ch,
                |ch| {
                    Ok((
                        IknpReceiver::setup(ch, &mut os_prg())?,
                        vec![0u8; n],
                        vec![Block::ZERO; n],
                    ))
                },
                |ch, (r, b, t)| r.recv_rcot(ch, n, b, t),
            )
        },
    )?;
    finish(
        "cot".into(),
        n,
        out.server,
        out.client,
        cost::cot_blocks_bytes(n as u64, OtOpts::DENSE),
        |(s, q), (_, b, t)| {
            let d = s.delta();
            q.iter()
                .zip(b)
                .zip(t)
                .all(|((q, b), t)| *t == *q ^ d.and_bit(*b == 1))
        },
    )
}

/// SCI's l-bit COT with random correlations.
pub fn bench_cot(n: usize, l: u32, opts: OtOpts, transport: Transport) -> OtResult<OtBench> {
    super::check_l(l)?;
    let out = run_pair_with(
        transport,
        &pair_opts(),
        |ch| {
            let mut prg = os_prg();
            let corr = rand_vals(&mut prg, n, l);
            timed(
                ch,
                |ch| Ok((IknpSender::setup(ch, &mut prg)?, corr, vec![0u64; n])),
                |ch, (s, corr, out0)| s.send_cot(ch, corr, l, opts, out0),
            )
        },
        |ch| {
            let mut prg = os_prg();
            let b = rand_below(&mut prg, n, 2);
            timed(
                ch,
                |ch| Ok((IknpReceiver::setup(ch, &mut prg)?, b, vec![0u64; n])),
                |ch, (r, b, out)| r.recv_cot(ch, b, l, opts, out),
            )
        },
    )?;
    finish(
        format!("cot(l={l})"),
        n,
        out.server,
        out.client,
        cost::cot_bytes(n as u64, l, opts),
        |(_, corr, o0), (_, b, o)| {
            (0..n).all(|j| {
                o[j] == if b[j] == 1 {
                    o0[j].wrapping_add(corr[j]) & mask(l)
                } else {
                    o0[j]
                }
            })
        },
    )
}

/// Chosen-message 1-of-2 OT with l-bit messages.
pub fn bench_got(n: usize, l: u32, opts: OtOpts, transport: Transport) -> OtResult<OtBench> {
    super::check_l(l)?;
    let out = run_pair_with(
        transport,
        &pair_opts(),
        |ch| {
            let mut prg = os_prg();
            let m0 = rand_vals(&mut prg, n, l);
            let m1 = rand_vals(&mut prg, n, l);
            timed(
                ch,
                |ch| Ok((IknpSender::setup(ch, &mut prg)?, m0, m1)),
                |ch, (s, m0, m1)| s.send_got(ch, m0, m1, l, opts),
            )
        },
        |ch| {
            let mut prg = os_prg();
            let b = rand_below(&mut prg, n, 2);
            timed(
                ch,
                |ch| Ok((IknpReceiver::setup(ch, &mut prg)?, b, vec![0u64; n])),
                |ch, (r, b, out)| r.recv_got(ch, b, l, opts, out),
            )
        },
    )?;
    finish(
        format!("got(l={l})"),
        n,
        out.server,
        out.client,
        cost::got_bytes(n as u64, l, opts),
        |(_, m0, m1), (_, b, o)| (0..n).all(|j| o[j] == if b[j] == 1 { m1[j] } else { m0[j] }),
    )
}

/// 1-of-N OT with l-bit messages.
pub fn bench_kkot(
    n: usize,
    n_choices: usize,
    l: u32,
    opts: OtOpts,
    transport: Transport,
) -> OtResult<OtBench> {
    super::check_l(l)?;
    if !(2..=256).contains(&n_choices) {
        return Err(OtError::InvalidArgument(format!(
            "N must be in 2..=256, got {n_choices}"
        )));
    }
    let out = run_pair_with(
        transport,
        &pair_opts(),
        |ch| {
            let mut prg = os_prg();
            let msgs = rand_vals(&mut prg, n * n_choices, l);
            timed(
                ch,
                |ch| Ok((KkotSender::setup(ch, &mut prg)?, msgs)),
                |ch, (s, msgs)| s.send(ch, msgs, n_choices, l, opts),
            )
        },
        |ch| {
            let mut prg = os_prg();
            let r = rand_below(&mut prg, n, n_choices as u64);
            timed(
                ch,
                |ch| Ok((KkotReceiver::setup(ch, &mut prg)?, r, vec![0u64; n])),
                |ch, (rv, r, out)| rv.recv(ch, r, n_choices, l, opts, out),
            )
        },
    )?;
    finish(
        format!("kkot(N={n_choices},l={l})"),
        n,
        out.server,
        out.client,
        cost::kkot_bytes(n as u64, n_choices as u64, l, opts),
        |(_, msgs), (_, r, o)| (0..n).all(|j| o[j] == msgs[j * n_choices + r[j] as usize]),
    )
}

/// Batched COT (matmul shape): `n` OTs of `msgs` values of `l` bits.
pub fn bench_batched_cot(
    n: usize,
    msgs: usize,
    l: u32,
    opts: OtOpts,
    transport: Transport,
) -> OtResult<OtBench> {
    super::check_l(l)?;
    let lens = vec![l; n];
    let out = run_pair_with(
        transport,
        &pair_opts(),
        |ch| {
            let mut prg = os_prg();
            let corr = rand_vals(&mut prg, n * msgs, l);
            timed(
                ch,
                |ch| Ok((IknpSender::setup(ch, &mut prg)?, corr, vec![0u64; n * msgs])),
                |ch, (s, corr, out0)| s.send_batched_cot(ch, corr, msgs, &lens, opts, out0),
            )
        },
        |ch| {
            let mut prg = os_prg();
            let b = rand_below(&mut prg, n, 2);
            timed(
                ch,
                |ch| Ok((IknpReceiver::setup(ch, &mut prg)?, b, vec![0u64; n * msgs])),
                |ch, (r, b, out)| r.recv_batched_cot(ch, b, msgs, &lens, opts, out),
            )
        },
    )?;
    finish(
        format!("batched_cot(msgs={msgs},l={l})"),
        n,
        out.server,
        out.client,
        cost::batched_cot_bytes(&lens, msgs as u64, opts),
        |(_, corr, o0), (_, b, o)| {
            (0..n * msgs).all(|i| {
                o[i] == if b[i / msgs] == 1 {
                    o0[i].wrapping_add(corr[i]) & mask(l)
                } else {
                    o0[i]
                }
            })
        },
    )
}

/// Seconds for `n` base OTs (both parties, this process).
pub fn bench_base_ot(n: usize, transport: Transport) -> OtResult<f64> {
    let out = run_pair_with(
        transport,
        &pair_opts(),
        |ch| {
            let t = Instant::now();
            super::base_ot_send(ch, n, &mut os_prg())?;
            Ok::<f64, OtError>(t.elapsed().as_secs_f64())
        },
        |ch| {
            let t = Instant::now();
            let c: Vec<bool> = (0..n).map(|i| i % 2 == 0).collect();
            super::base_ot_recv(ch, &c, &mut os_prg())?;
            Ok::<f64, OtError>(t.elapsed().as_secs_f64())
        },
    )?;
    Ok(out.server?.max(out.client?))
}
