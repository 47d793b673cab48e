//! Ferret as a COT source: correlations across LPN rounds and refills, chosen-choice and
//! payload variants on top of it, and exact bytes (both parties over a real channel).

#![allow(clippy::needless_range_loop)]

use pq_kernels::Block;
use pq_netsim::{Channel, Transport, run_pair};
use pq_ot::ferret::{FerretMeter, LpnParams, bootstrap_cots, round_params, usable};
use pq_ot::{IknpReceiver, IknpSender, OtKind, OtOpts, os_prg};

fn sent<C: Channel + ?Sized>(ch: &C) -> u64 {
    ch.meter().total().bytes_sent
}

/// Random COTs in several requests that cross the first round boundary: q = t ⊕ r·Δ, with
/// fresh OS randomness, and the sender's bytes equal the rounds the meter predicts.
#[test]
fn rcot_across_rounds() {
    let sizes = [0usize, 1, 1000, usable(0) as usize - 2000, 4096, 5];
    let out = run_pair(
        Transport::Mem,
        move |ch| {
            let mut prg = os_prg();
            let mut s = IknpSender::setup(ch, &mut prg).unwrap();
            let b0 = sent(ch);
            s.upgrade(ch, OtKind::Ferret, &mut prg).unwrap();
            let boot = sent(ch) - b0;
            let mut qs = Vec::new();
            let mut bytes = Vec::new();
            for &n in &sizes {
                let b = sent(ch);
                let mut q = vec![Block::ZERO; n];
                s.send_rcot(ch, n, &mut q).unwrap();
                bytes.push(sent(ch) - b);
                qs.push(q);
            }
            (qs, bytes, boot, s.delta())
        },
        move |ch| {
            let mut prg = os_prg();
            let mut r = IknpReceiver::setup(ch, &mut prg).unwrap();
            let b0 = sent(ch);
            r.upgrade(ch, OtKind::Ferret, &mut prg).unwrap();
            let boot = sent(ch) - b0;
            let mut out = Vec::new();
            for &n in &sizes {
                let b = sent(ch);
                let mut t = vec![Block::ZERO; n];
                let mut c = vec![0u8; n];
                r.recv_rcot(ch, n, &mut c, &mut t).unwrap();
                assert_eq!(sent(ch), b, "random COTs send nothing from the receiver");
                out.push((c, t));
            }
            (out, boot)
        },
    )
    .unwrap();
    let (qs, bytes, boot_s, delta) = out.server;
    let (rs, boot_r) = out.client;
    assert_eq!(boot_s, 0, "the IKNP sender sends nothing in the bootstrap");
    assert_eq!(
        boot_r,
        16 * bootstrap_cots() as u64,
        "IKNP columns of the bootstrap"
    );
    let mut meter = FerretMeter::default();
    let mut ones = 0usize;
    let mut total = 0usize;
    for (i, &n) in sizes.iter().enumerate() {
        assert_eq!(bytes[i], meter.take(n as u64).bytes, "request {i}");
        let (c, t) = &rs[i];
        for j in 0..n {
            assert!(c[j] <= 1);
            assert_eq!(
                t[j],
                qs[i][j] ^ delta.and_bit(c[j] == 1),
                "request {i}, COT {j}"
            );
        }
        ones += c.iter().filter(|&&b| b == 1).count();
        total += n;
    }
    assert_eq!(meter.rounds, 2);
    // Random choice bits: the count of ones is within 6 standard deviations of n/2.
    let sd = (total as f64 / 4.0).sqrt();
    assert!(
        ((ones as f64) - total as f64 / 2.0).abs() < 6.0 * sd,
        "{ones} of {total}"
    );
}

/// Chosen-choice COTs, SCI's l-bit COT and chosen-message OT on every non-IKNP source: right
/// outputs, and the source's column bytes (Ferret: one correction bit per OT) beside the
/// unchanged payloads.
#[test]
fn chosen_calls_on_every_source() {
    for (kind, n) in [
        (OtKind::Ferret, 1usize),
        (OtKind::Ferret, 7),
        (OtKind::Ferret, 4096),
        (OtKind::Ferret, 4097),
        (OtKind::Ferret, 70_001),
        (OtKind::SoftSpoken(1), 4097),
        (OtKind::SoftSpoken(3), 1000),
        (OtKind::SoftSpoken(4), 70_001),
        (OtKind::SoftSpoken(8), 129),
    ] {
        let choices: Vec<u8> = (0..n).map(|j| ((j * 7 + j / 3) % 5 == 0) as u8).collect();
        let ch2 = choices.clone();
        let out = run_pair(
            Transport::Mem,
            move |ch| {
                let mut prg = os_prg();
                let mut s = IknpSender::setup(ch, &mut prg).unwrap();
                s.upgrade(ch, kind, &mut prg).unwrap();
                s.reserve(ch, 3 * n).unwrap();
                let mut q = vec![Block::ZERO; n];
                s.send_cot_blocks(ch, n, &mut q).unwrap();
                let corr: Vec<u64> = (0..n as u64).map(|j| j * 3 + 1).collect();
                let mut out0 = vec![0u64; n];
                let b = sent(ch);
                s.send_cot(ch, &corr, 13, OtOpts::DENSE, &mut out0).unwrap();
                let cot_bytes = sent(ch) - b;
                let m0: Vec<u64> = (0..n as u64).map(|j| (j ^ 0x55) & 0xff).collect();
                let m1: Vec<u64> = (0..n as u64).map(|j| j.wrapping_mul(77) & 0xff).collect();
                s.send_got(ch, &m0, &m1, 8, OtOpts::DENSE).unwrap();
                (q, s.delta(), corr, out0, m0, m1, cot_bytes)
            },
            move |ch| {
                let mut prg = os_prg();
                let mut r = IknpReceiver::setup(ch, &mut prg).unwrap();
                r.upgrade(ch, kind, &mut prg).unwrap();
                r.reserve(ch, 3 * n).unwrap();
                let mut t = vec![Block::ZERO; n];
                let b = sent(ch);
                r.recv_cot_blocks(ch, &ch2, &mut t).unwrap();
                let col = sent(ch) - b;
                let mut out = vec![0u64; n];
                r.recv_cot(ch, &ch2, 13, OtOpts::DENSE, &mut out).unwrap();
                let mut got = vec![0u64; n];
                r.recv_got(ch, &ch2, 8, OtOpts::DENSE, &mut got).unwrap();
                (t, col, out, got)
            },
        )
        .unwrap();
        let (q, delta, corr, out0, m0, m1, cot_bytes) = out.server;
        let (t, col, outc, got) = out.client;
        assert_eq!(col, kind.column_bytes(n as u64), "{kind}");
        let l13 = (1u64 << 13) - 1;
        assert_eq!(
            cot_bytes,
            pq_ot::bytes::cot_payload(n as u64, 13, OtOpts::DENSE)
        );
        for j in 0..n {
            let b = choices[j] == 1;
            assert_eq!(q[j], t[j] ^ delta.and_bit(b), "{kind} n={n} j={j}");
            let want = (out0[j] + if b { corr[j] } else { 0 }) & l13;
            assert_eq!(outc[j], want, "cot n={n} j={j}");
            assert_eq!(got[j], if b { m1[j] } else { m0[j] }, "got n={n} j={j}");
        }
    }
}

#[test]
fn parameters_are_emp_ots() {
    assert_eq!(LpnParams::B10.n(), 870_400);
    assert_eq!(LpnParams::B12.n(), 6_225_920);
    assert_eq!(LpnParams::B13.n(), 15_564_800);
    assert_eq!(round_params(0), LpnParams::B10);
    assert_eq!(round_params(7), LpnParams::B12);
    // Steady state: under 0.4 bits per OT.
    let bits = LpnParams::B12.round_bytes() as f64 * 8.0 / usable(5) as f64;
    assert!(bits < 0.4, "{bits}");
}

/// 1-of-N OT from COTs on every source: the chosen message, and bytes equal to
/// `cot_1ofn_bytes` (the source's columns of n·⌈log2 N⌉ COTs, then KKOT's dense payload).
#[test]
fn one_of_n_from_cots() {
    use pq_ot::bytes::cot_1ofn_bytes;
    for (kind, nn, l, n) in [
        (OtKind::Iknp, 16usize, 2u32, 1000usize),
        (OtKind::Iknp, 3, 7, 33),
        (OtKind::SoftSpoken(4), 16, 2, 4097),
        (OtKind::SoftSpoken(2), 256, 1, 20),
        (OtKind::Ferret, 16, 2, 10_001),
        (OtKind::Ferret, 2, 64, 5),
        (OtKind::Ferret, 5, 3, 0),
        (OtKind::Ferret, 256, 8, 300),
    ] {
        let msgs: Vec<u64> = (0..(n * nn) as u64)
            .map(|k| k.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - l))
            .collect();
        let choices: Vec<u8> = (0..n).map(|j| ((j * 31 + 7) % nn) as u8).collect();
        let (m2, c2) = (msgs.clone(), choices.clone());
        let opts = OtOpts {
            sci_padding: false,
            source: kind,
        };
        let out = run_pair(
            Transport::Mem,
            move |ch| {
                let mut prg = os_prg();
                let mut s = IknpSender::setup(ch, &mut prg).unwrap();
                s.upgrade(ch, kind, &mut prg).unwrap();
                s.reserve(ch, n * 8).unwrap();
                let b = sent(ch);
                s.send_1ofn(ch, &m2, nn, l, opts).unwrap();
                sent(ch) - b
            },
            move |ch| {
                let mut prg = os_prg();
                let mut r = IknpReceiver::setup(ch, &mut prg).unwrap();
                r.upgrade(ch, kind, &mut prg).unwrap();
                r.reserve(ch, n * 8).unwrap();
                let b = sent(ch);
                let mut out = vec![0u64; n];
                r.recv_1ofn(ch, &c2, nn, l, opts, &mut out).unwrap();
                let col = sent(ch) - b;
                if nn < 256 {
                    // an out-of-range choice is refused before anything is sent
                    let bad = r.recv_1ofn(ch, &[nn as u8], nn, l, opts, &mut [0]);
                    assert!(bad.is_err(), "choice {nn} of 1-of-{nn}");
                }
                (out, col)
            },
        )
        .unwrap();
        let want = cot_1ofn_bytes(n as u64, nn as u64, l, opts);
        assert_eq!(out.server, want.send_to_recv, "{kind} N={nn}");
        let (got, col) = out.client;
        assert_eq!(col, want.recv_to_send, "{kind} N={nn}");
        for j in 0..n {
            assert_eq!(
                got[j],
                msgs[j * nn + choices[j] as usize],
                "{kind} N={nn} j={j}"
            );
        }
    }
}

/// Four rounds (b10, then three b12 rounds), taken in pieces that end inside rounds: from the
/// third round on, each round's buffers are ones that earlier rounds handed out, so a round
/// that read a stale buffer instead of overwriting it would break the correlation here.
#[test]
fn rcot_reused_round_buffers() {
    let per_round = usable(1) as usize;
    let sizes = [usable(0) as usize + 5, per_round, per_round, 1000];
    let out = run_pair(
        Transport::Mem,
        move |ch| {
            let mut prg = os_prg();
            let mut s = IknpSender::setup(ch, &mut prg).unwrap();
            s.upgrade(ch, OtKind::Ferret, &mut prg).unwrap();
            let mut qs = Vec::new();
            for &n in &sizes {
                let mut q = vec![Block::ZERO; n];
                s.send_rcot(ch, n, &mut q).unwrap();
                qs.push(q);
            }
            (qs, s.delta())
        },
        move |ch| {
            let mut prg = os_prg();
            let mut r = IknpReceiver::setup(ch, &mut prg).unwrap();
            r.upgrade(ch, OtKind::Ferret, &mut prg).unwrap();
            let mut out = Vec::new();
            for &n in &sizes {
                let mut t = vec![Block::ZERO; n];
                let mut c = vec![0u8; n];
                r.recv_rcot(ch, n, &mut c, &mut t).unwrap();
                out.push((c, t));
            }
            out
        },
    )
    .unwrap();
    let (qs, delta) = out.server;
    let mut meter = FerretMeter::default();
    for (i, (c, t)) in out.client.iter().enumerate() {
        meter.take(sizes[i] as u64);
        let bad = (0..sizes[i])
            .filter(|&j| t[j] != qs[i][j] ^ delta.and_bit(c[j] == 1))
            .count();
        assert_eq!(bad, 0, "request {i}: {bad} of {} COTs wrong", sizes[i]);
    }
    assert_eq!(meter.rounds, 4);
}
