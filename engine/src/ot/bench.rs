//! OT micro-benchmarks for the harness (`bench-harness micro cot|got|kkot`) and the
//! `--ignored` bench tests.
//!
//! Each function runs both parties in this process (server = OT sender, client = OT
//! receiver) on two pinned threads over `transport`, with OS-seeded randomness. Setup (base
//! OTs) is excluded from the timing and from the byte counts (reported as `setup_bytes`).
//! `wall_s` is the slower party's time for the call; `correct` compares the outputs with the
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

struct Timed<T> {
    out: T,
    secs: f64,
    sent: u64,
    setup: u64,
}

fn timed<S: Send, T: Send>(
    ch: &mut dyn Channel,
    setup: impl FnOnce(&mut dyn Channel) -> OtResult<S>,
    call: impl FnOnce(&mut dyn Channel, &mut S) -> OtResult<T>,
) -> OtResult<Timed<T>> {
    let b0 = ch.meter().total();
    let mut st = setup(ch)?;
    ch.flush()?;
    let b1 = ch.meter().total();
    let t = Instant::now();
    let out = call(ch, &mut st)?;
    ch.flush()?;
    let secs = t.elapsed().as_secs_f64();
    let d = ch.meter().total().since(&b1);
    let s = b1.since(&b0);
    Ok(Timed {
        out,
        secs,
        sent: d.bytes_sent,
        setup: s.bytes_sent + s.bytes_recv,
    })
}

#[allow(clippy::too_many_arguments)]
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
        ots_per_s: if wall > 0.0 { n as f64 / wall } else { 0.0 },
        bytes_server_to_client: s.sent,
        bytes_client_to_server: c.sent,
        setup_bytes: s.setup,
        bytes_match_cost: s.sent == want.send_to_recv && c.sent == want.recv_to_send,
        correct: check(&s.out, &c.out),
    })
}

fn pair_opts() -> PairOptions {
    PairOptions { pin: true }
}

fn touch<T: Copy>(v: &mut [T], x: T) {
    v.fill(x);
}

/// Random COT with a global Δ (`send_rcot`/`recv_rcot`): the IKNP throughput benchmark.
pub fn bench_rcot(n: usize, transport: Transport) -> OtResult<OtBench> {
    let out = run_pair_with(
        transport,
        &pair_opts(),
        |ch| {
            timed(
                ch,
                |ch| IknpSender::setup(ch, &mut os_prg()),
                |ch, s| {
                    let mut q = vec![Block::ZERO; n];
                    touch(&mut q, Block(1));
                    s.send_rcot(ch, n, &mut q)?;
                    Ok((q, s.delta()))
                },
            )
        },
        |ch| {
            timed(
                ch,
                |ch| IknpReceiver::setup(ch, &mut os_prg()),
                |ch, r| {
                    let mut t = vec![Block::ZERO; n];
                    let mut b = vec![0u8; n];
                    touch(&mut t, Block(1));
                    touch(&mut b, 1);
                    r.recv_rcot(ch, n, &mut b, &mut t)?;
                    Ok((b, t))
                },
            )
        },
    )?;
    finish(
        "cot".into(),
        n,
        out.server,
        out.client,
        cost::cot_blocks_bytes(n as u64, OtOpts::DENSE),
        |(q, d), (b, t)| {
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
            let corr: Vec<u64> = (0..n).map(|_| prg.next_u64() & mask(l)).collect();
            timed(
                ch,
                |ch| IknpSender::setup(ch, &mut prg),
                |ch, s| {
                    let mut out0 = vec![1u64; n];
                    s.send_cot(ch, &corr, l, opts, &mut out0)?;
                    Ok((corr, out0))
                },
            )
        },
        |ch| {
            let mut prg = os_prg();
            let b: Vec<u8> = (0..n).map(|_| (prg.next_u64() & 1) as u8).collect();
            timed(
                ch,
                |ch| IknpReceiver::setup(ch, &mut prg),
                |ch, r| {
                    let mut out = vec![1u64; n];
                    r.recv_cot(ch, &b, l, opts, &mut out)?;
                    Ok((b, out))
                },
            )
        },
    )?;
    finish(
        format!("cot(l={l})"),
        n,
        out.server,
        out.client,
        cost::cot_bytes(n as u64, l, opts),
        |(corr, o0), (b, o)| {
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
            let m0: Vec<u64> = (0..n).map(|_| prg.next_u64() & mask(l)).collect();
            let m1: Vec<u64> = (0..n).map(|_| prg.next_u64() & mask(l)).collect();
            timed(
                ch,
                |ch| IknpSender::setup(ch, &mut prg),
                |ch, s| {
                    s.send_got(ch, &m0, &m1, l, opts)?;
                    Ok((m0, m1))
                },
            )
        },
        |ch| {
            let mut prg = os_prg();
            let b: Vec<u8> = (0..n).map(|_| (prg.next_u64() & 1) as u8).collect();
            timed(
                ch,
                |ch| IknpReceiver::setup(ch, &mut prg),
                |ch, r| {
                    let mut out = vec![1u64; n];
                    r.recv_got(ch, &b, l, opts, &mut out)?;
                    Ok((b, out))
                },
            )
        },
    )?;
    finish(
        format!("got(l={l})"),
        n,
        out.server,
        out.client,
        cost::got_bytes(n as u64, l, opts),
        |(m0, m1), (b, o)| (0..n).all(|j| o[j] == if b[j] == 1 { m1[j] } else { m0[j] }),
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
            let msgs: Vec<u64> = (0..n * n_choices)
                .map(|_| prg.next_u64() & mask(l))
                .collect();
            timed(
                ch,
                |ch| KkotSender::setup(ch, &mut prg),
                |ch, s| {
                    s.send(ch, &msgs, n_choices, l, opts)?;
                    Ok(msgs)
                },
            )
        },
        |ch| {
            let mut prg = os_prg();
            let r: Vec<u8> = (0..n)
                .map(|_| (prg.next_u64() % n_choices as u64) as u8)
                .collect();
            timed(
                ch,
                |ch| KkotReceiver::setup(ch, &mut prg),
                |ch, rv| {
                    let mut out = vec![1u64; n];
                    rv.recv(ch, &r, n_choices, l, opts, &mut out)?;
                    Ok((r, out))
                },
            )
        },
    )?;
    finish(
        format!("kkot(N={n_choices},l={l})"),
        n,
        out.server,
        out.client,
        cost::kkot_bytes(n as u64, n_choices as u64, l, opts),
        |msgs, (r, o)| (0..n).all(|j| o[j] == msgs[j * n_choices + r[j] as usize]),
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
    let lens2 = lens.clone();
    let out = run_pair_with(
        transport,
        &pair_opts(),
        |ch| {
            let mut prg = os_prg();
            let corr: Vec<u64> = (0..n * msgs).map(|_| prg.next_u64() & mask(l)).collect();
            timed(
                ch,
                |ch| IknpSender::setup(ch, &mut prg),
                |ch, s| {
                    let mut out0 = vec![1u64; n * msgs];
                    s.send_batched_cot(ch, &corr, msgs, &lens, opts, &mut out0)?;
                    Ok((corr, out0))
                },
            )
        },
        |ch| {
            let mut prg = os_prg();
            let b: Vec<u8> = (0..n).map(|_| (prg.next_u64() & 1) as u8).collect();
            timed(
                ch,
                |ch| IknpReceiver::setup(ch, &mut prg),
                |ch, r| {
                    let mut out = vec![1u64; n * msgs];
                    r.recv_batched_cot(ch, &b, msgs, &lens2, opts, &mut out)?;
                    Ok((b, out))
                },
            )
        },
    )?;
    finish(
        format!("batched_cot(msgs={msgs},l={l})"),
        n,
        out.server,
        out.client,
        cost::batched_cot_bytes(&vec![l; n], msgs as u64, opts),
        |(corr, o0), (b, o)| {
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
