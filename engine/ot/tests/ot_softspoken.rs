//! SoftSpoken OT extension: both parties over a real channel on two threads.

#![allow(clippy::needless_range_loop)]

use pq_kernels::Block;
use pq_kernels::aes::Prg;
use pq_netsim::clock::thread_cpu_ns;
use pq_netsim::{Channel, Transport, run_pair};
use pq_ot::softspoken::{SoftReceiver, SoftSender, column_bytes, setup_bytes};
use pq_ot::{IknpReceiver, IknpSender, OtError, base_ot_recv, base_ot_send, seeded_prg};
use proptest::prelude::*;

/// The IKNP sender's base OTs (as `IknpSender::setup` runs them): a random Δ and the keys
/// for its bits.
fn base_s(ch: &mut dyn Channel, prg: &mut Prg) -> (Block, Vec<Block>) {
    let delta = prg.next_block();
    let s: Vec<bool> = (0..128).map(|i| delta.bit(i)).collect();
    let keys = base_ot_recv(ch, &s, prg).unwrap();
    (delta, keys)
}

/// The IKNP receiver's base OTs: both keys of every base OT.
fn base_r(ch: &mut dyn Channel, prg: &mut Prg) -> (Vec<Block>, Vec<Block>) {
    base_ot_send(ch, 128, prg).unwrap().into_iter().unzip()
}

fn random_choices(prg: &mut Prg, n: usize) -> Vec<u8> {
    (0..n).map(|_| (prg.next_u64() & 1) as u8).collect()
}

struct SenderOut {
    delta: Block,
    qs: Vec<Vec<Block>>,
    setup_recv: u64,
    sent: u64,
}

struct ReceiverOut {
    bs: Vec<Vec<u8>>,
    ts: Vec<Vec<Block>>,
    setup_sent: u64,
    call_sent: Vec<u64>,
}

/// Run one SoftSpoken instance with parameter `k` for the calls `ns` (consecutively, on the
/// same instance), with random choices (or `choices` if given).
fn run_calls(
    k: u32,
    ns: &[usize],
    choices: Option<Vec<u8>>,
    seed: u64,
) -> (SenderOut, ReceiverOut) {
    let ns_s = ns.to_vec();
    let ns_r = ns.to_vec();
    let out = run_pair(
        Transport::Mem,
        move |ch| {
            let mut prg = seeded_prg(seed);
            let (delta, keys) = base_s(ch, &mut prg);
            let r0 = ch.meter().total().bytes_recv;
            let mut s = SoftSender::setup(ch, k, delta, &keys).unwrap();
            assert_eq!(s.k(), k);
            assert_eq!(s.delta(), delta);
            let setup_recv = ch.meter().total().bytes_recv - r0;
            let s0 = ch.meter().total().bytes_sent;
            let mut qs = Vec::new();
            for &n in &ns_s {
                let mut q = vec![Block::ZERO; n];
                s.send_cot(ch, n, &mut q).unwrap();
                qs.push(q);
            }
            SenderOut {
                delta,
                qs,
                setup_recv,
                sent: ch.meter().total().bytes_sent - s0,
            }
        },
        move |ch| {
            let mut prg = seeded_prg(!seed);
            let (k0, k1) = base_r(ch, &mut prg);
            let s0 = ch.meter().total().bytes_sent;
            let mut r = SoftReceiver::setup(ch, k, &k0, &k1, &mut prg).unwrap();
            assert_eq!(r.k(), k);
            let setup_sent = ch.meter().total().bytes_sent - s0;
            let (mut bs, mut ts, mut call_sent) = (Vec::new(), Vec::new(), Vec::new());
            for &n in &ns_r {
                let b = match &choices {
                    Some(c) => c.clone(),
                    None => random_choices(&mut prg, n),
                };
                let mut t = vec![Block::ZERO; n];
                let before = ch.meter().total().bytes_sent;
                r.recv_cot(ch, &b, &mut t).unwrap();
                call_sent.push(ch.meter().total().bytes_sent - before);
                bs.push(b);
                ts.push(t);
            }
            ReceiverOut {
                bs,
                ts,
                setup_sent,
                call_sent,
            }
        },
    )
    .unwrap();
    (out.server, out.client)
}

fn check_correlation(s: &SenderOut, r: &ReceiverOut, k: u32) {
    for (call, (q, (t, b))) in s.qs.iter().zip(r.ts.iter().zip(&r.bs)).enumerate() {
        assert_eq!(q.len(), t.len());
        for j in 0..q.len() {
            assert_eq!(
                q[j],
                t[j] ^ s.delta.and_bit(b[j] == 1),
                "k={k} call={call} j={j}"
            );
        }
    }
}

const NS: [usize; 7] = [0, 1, 127, 128, 4095, 4097, 100_000];

#[test]
fn correlation_all_k() {
    for k in 1..=8u32 {
        let (s, r) = run_calls(k, &NS, None, 100 + k as u64);
        check_correlation(&s, &r, k);
        // the streams advance: consecutive calls give unrelated pads
        assert_ne!(s.qs[1][0], s.qs[2][0]);
        assert_ne!(r.ts[5][..100], r.ts[6][..100]);
        // bytes: exactly the setup message and the columns, nothing from the sender
        assert_eq!(s.setup_recv, setup_bytes(k));
        assert_eq!(r.setup_sent, setup_bytes(k));
        assert_eq!(s.sent, 0);
        for (i, &n) in NS.iter().enumerate() {
            assert_eq!(r.call_sent[i], column_bytes(k, n as u64), "k={k} n={n}");
        }
    }
}

#[test]
fn edge_choices() {
    // all-zero and all-one choice vectors
    for k in [1u32, 3, 4, 8] {
        for v in [0u8, 1] {
            let n = 5000;
            let (s, r) = run_calls(k, &[n, n], Some(vec![v; n]), 7);
            check_correlation(&s, &r, k);
        }
    }
}

#[test]
fn message_sizes() {
    assert_eq!(setup_bytes(1), 0);
    assert_eq!(setup_bytes(2), 32 * 64);
    assert_eq!(setup_bytes(3), 32 * (128 - 43));
    assert_eq!(setup_bytes(4), 32 * 96);
    assert_eq!(setup_bytes(8), 32 * 112);
    assert_eq!(column_bytes(1, 1000), 16_000);
    assert_eq!(column_bytes(4, 1000), 4000);
    assert_eq!(column_bytes(3, 1), 6); // 43 bits
    assert_eq!(column_bytes(5, 8), 26); // 26 VOLEs × 8 bits
    assert_eq!(column_bytes(8, 0), 0);
}

#[test]
fn k1_sends_exactly_iknp_bytes() {
    for n in [1usize, 127, 4097, 70_000] {
        let out = run_pair(
            Transport::Mem,
            move |ch| {
                let mut prg = seeded_prg(5);
                let mut s = IknpSender::setup(ch, &mut prg).unwrap();
                let mut q = vec![Block::ZERO; n];
                let r0 = ch.meter().total().bytes_recv;
                s.send_cot_blocks(ch, n, &mut q).unwrap();
                ch.meter().total().bytes_recv - r0
            },
            move |ch| {
                let mut prg = seeded_prg(6);
                let mut r = IknpReceiver::setup(ch, &mut prg).unwrap();
                let b = random_choices(&mut prg, n);
                let mut t = vec![Block::ZERO; n];
                let s0 = ch.meter().total().bytes_sent;
                r.recv_cot_blocks(ch, &b, &mut t).unwrap();
                ch.meter().total().bytes_sent - s0
            },
        )
        .unwrap();
        assert_eq!(out.server, out.client);
        assert_eq!(out.client, 16 * n as u64);
        let (s, r) = run_calls(1, &[n], None, 9);
        check_correlation(&s, &r, 1);
        assert_eq!(r.setup_sent, 0);
        assert_eq!(r.call_sent[0], out.client);
    }
}

#[test]
fn sessions_are_independent() {
    let out = run_pair(
        Transport::Mem,
        |ch| {
            let mut prg = seeded_prg(11);
            let (delta, keys) = base_s(ch, &mut prg);
            let mut q = [vec![Block::ZERO; 300], vec![Block::ZERO; 300]];
            for (sid, q) in q.iter_mut().enumerate() {
                let mut s = SoftSender::setup_session(ch, 4, delta, &keys, sid as u64).unwrap();
                s.send_cot(ch, 300, q).unwrap();
            }
            (delta, q)
        },
        |ch| {
            let mut prg = seeded_prg(12);
            let (k0, k1) = base_r(ch, &mut prg);
            let b = random_choices(&mut prg, 300);
            let mut t = [vec![Block::ZERO; 300], vec![Block::ZERO; 300]];
            for (sid, t) in t.iter_mut().enumerate() {
                let mut r =
                    SoftReceiver::setup_session(ch, 4, &k0, &k1, &mut prg, sid as u64).unwrap();
                r.recv_cot(ch, &b, t).unwrap();
            }
            (b, t)
        },
    )
    .unwrap();
    let (delta, q) = out.server;
    let (b, t) = out.client;
    for s in 0..2 {
        for j in 0..300 {
            assert_eq!(q[s][j], t[s][j] ^ delta.and_bit(b[j] == 1));
        }
    }
    assert_ne!(q[0][..10], q[1][..10]);
}

#[test]
fn callbacks_see_chunks_in_order() {
    let n = 3 * 4096 + 5;
    let out = run_pair(
        Transport::Mem,
        move |ch| {
            let mut prg = seeded_prg(21);
            let (delta, keys) = base_s(ch, &mut prg);
            let mut s = SoftSender::setup(ch, 2, delta, &keys).unwrap();
            let mut seen = Vec::new();
            s.run(ch, n, |start, c, q| {
                assert_eq!(q.len(), c);
                seen.push((start, c));
                Ok(())
            })
            .unwrap();
            assert_eq!(s.counter(), n as u64);
            seen
        },
        move |ch| {
            let mut prg = seeded_prg(22);
            let (k0, k1) = base_r(ch, &mut prg);
            let mut r = SoftReceiver::setup(ch, 2, &k0, &k1, &mut prg).unwrap();
            let seen = std::cell::RefCell::new(Vec::new());
            r.run(
                ch,
                n,
                |start, c, row| {
                    assert_eq!(row.len(), c.div_ceil(128));
                    assert!(row.iter().all(|b| *b == Block::ZERO));
                    seen.borrow_mut().push((start, c));
                    Ok(())
                },
                |start, c, t| {
                    assert_eq!(t.len(), c);
                    assert_eq!(seen.borrow().last(), Some(&(start, c)));
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(r.counter(), n as u64);
            seen.into_inner()
        },
    )
    .unwrap();
    let want = vec![(0, 4096), (4096, 4096), (8192, 4096), (12288, 5)];
    assert_eq!(out.server, want);
    assert_eq!(out.client, want);
}

#[test]
fn callback_errors_propagate() {
    let out = run_pair(
        Transport::Mem,
        |ch| {
            let mut prg = seeded_prg(31);
            let (delta, keys) = base_s(ch, &mut prg);
            let mut s = SoftSender::setup(ch, 4, delta, &keys).unwrap();
            s.run(ch, 100, |_, _, _| {
                Err(OtError::InvalidArgument("stop".into()))
            })
            .is_err()
        },
        |ch| {
            let mut prg = seeded_prg(32);
            let (k0, k1) = base_r(ch, &mut prg);
            let mut r = SoftReceiver::setup(ch, 4, &k0, &k1, &mut prg).unwrap();
            r.run(
                ch,
                100,
                |_, _, _| Err(OtError::InvalidArgument("stop".into())),
                |_, _, _| Ok(()),
            )
            .is_err()
        },
    )
    .unwrap();
    assert!(out.server && out.client);
}

#[test]
fn bad_parameters_are_errors() {
    let out = run_pair(
        Transport::Mem,
        |ch| {
            let keys = vec![Block::ZERO; 128];
            let mut errs = Vec::new();
            for k in [0u32, 9, 100] {
                errs.push(matches!(
                    SoftSender::setup(ch, k, Block::ZERO, &keys),
                    Err(OtError::InvalidArgument(_))
                ));
            }
            errs.push(matches!(
                SoftSender::setup(ch, 4, Block::ZERO, &keys[..127]),
                Err(OtError::InvalidLength { .. })
            ));
            errs
        },
        |ch| {
            let keys = vec![Block::ZERO; 128];
            let mut prg = seeded_prg(1);
            let mut errs = Vec::new();
            for k in [0u32, 9, 100] {
                errs.push(matches!(
                    SoftReceiver::setup(ch, k, &keys, &keys, &mut prg),
                    Err(OtError::InvalidArgument(_))
                ));
            }
            errs.push(matches!(
                SoftReceiver::setup(ch, 4, &keys, &keys[..1], &mut prg),
                Err(OtError::InvalidLength { .. })
            ));
            // wrong output lengths
            let mut r = SoftReceiver::setup(ch, 1, &keys, &keys, &mut prg).unwrap();
            let mut t = vec![Block::ZERO; 3];
            errs.push(matches!(
                r.recv_cot(ch, &[0u8; 4], &mut t),
                Err(OtError::InvalidLength { .. })
            ));
            errs
        },
    )
    .unwrap();
    assert!(out.server.iter().all(|&e| e), "{:?}", out.server);
    assert!(out.client.iter().all(|&e| e), "{:?}", out.client);
}

/// What the misbehaving receiver sends after a correct setup.
#[derive(Clone, Copy, Debug)]
enum Bad {
    /// The column message one byte short.
    Short,
    /// The column message one byte long.
    Long,
    /// Random bytes of the right length.
    Garbage,
    /// Nothing (the receiver hangs up).
    Nothing,
}

#[test]
fn truncated_or_garbage_columns_are_errors_not_panics() {
    for k in [1u32, 3, 8] {
        for bad in [Bad::Short, Bad::Long, Bad::Garbage, Bad::Nothing] {
            let n = 5000;
            let out = run_pair(
                Transport::Mem,
                move |ch| {
                    let mut prg = seeded_prg(41);
                    let (delta, keys) = base_s(ch, &mut prg);
                    let mut s = SoftSender::setup(ch, k, delta, &keys).unwrap();
                    let mut q = vec![Block::ZERO; n];
                    s.send_cot(ch, n, &mut q).map(|_| ())
                },
                move |ch| {
                    let mut prg = seeded_prg(42);
                    let (k0, k1) = base_r(ch, &mut prg);
                    let _r = SoftReceiver::setup(ch, k, &k0, &k1, &mut prg).unwrap();
                    let len = column_bytes(k, n as u64) as usize;
                    let mut m = vec![0u8; len + 1];
                    prg.fill_bytes(&mut m);
                    match bad {
                        Bad::Short => ch.send(&m[..len - 1]).unwrap(),
                        Bad::Long => ch.send(&m).unwrap(),
                        Bad::Garbage => ch.send(&m[..len]).unwrap(),
                        Bad::Nothing => {}
                    }
                    ch.flush().unwrap();
                },
            )
            .unwrap();
            match bad {
                Bad::Garbage => assert!(out.server.is_ok(), "k={k}"),
                _ => assert!(
                    matches!(out.server, Err(OtError::Channel(_))),
                    "k={k} {bad:?}: {:?}",
                    out.server
                ),
            }
        }
    }
}

#[test]
fn truncated_setup_message_is_an_error() {
    let out = run_pair(
        Transport::Mem,
        |ch| {
            let mut prg = seeded_prg(51);
            let (delta, keys) = base_s(ch, &mut prg);
            SoftSender::setup(ch, 4, delta, &keys).map(|_| ())
        },
        |ch| {
            let mut prg = seeded_prg(52);
            let _ = base_r(ch, &mut prg);
            ch.send(&vec![0u8; setup_bytes(4) as usize - 16]).unwrap();
            ch.flush().unwrap();
        },
    )
    .unwrap();
    assert!(matches!(out.server, Err(OtError::Channel(_))));
}

#[test]
fn over_tcp() {
    let out = run_pair(
        Transport::Tcp,
        |ch| {
            let mut prg = seeded_prg(61);
            let (delta, keys) = base_s(ch, &mut prg);
            let mut s = SoftSender::setup(ch, 4, delta, &keys).unwrap();
            let mut q = vec![Block::ZERO; 70_001];
            s.send_cot(ch, q.len(), &mut q).unwrap();
            (delta, q)
        },
        |ch| {
            let mut prg = seeded_prg(62);
            let (k0, k1) = base_r(ch, &mut prg);
            let mut r = SoftReceiver::setup(ch, 4, &k0, &k1, &mut prg).unwrap();
            let b = random_choices(&mut prg, 70_001);
            let mut t = vec![Block::ZERO; b.len()];
            r.recv_cot(ch, &b, &mut t).unwrap();
            ch.flush().unwrap();
            (b, t)
        },
    )
    .unwrap();
    let (delta, q) = out.server;
    let (b, t) = out.client;
    for j in 0..q.len() {
        assert_eq!(q[j], t[j] ^ delta.and_bit(b[j] == 1));
    }
    assert_eq!(
        out.client_meter.total().bytes_sent,
        // the base-OT sender's point, the setup message, the columns
        32 + setup_bytes(4) + column_bytes(4, 70_001)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn prop_correlation(
        k in 1u32..=8,
        choices in proptest::collection::vec(0u8..=1, 0..9000),
        split in 0usize..9000,
        seed: u64,
    ) {
        let n = choices.len();
        let a = split.min(n);
        let out = run_pair(
            Transport::Mem,
            move |ch| {
                let mut prg = seeded_prg(seed);
                let (delta, keys) = base_s(ch, &mut prg);
                let mut s = SoftSender::setup(ch, k, delta, &keys).unwrap();
                let mut q = vec![Block::ZERO; n];
                // two calls on the same instance
                s.send_cot(ch, a, &mut q[..a]).unwrap();
                s.send_cot(ch, n - a, &mut q[a..]).unwrap();
                (delta, q)
            },
            move |ch| {
                let mut prg = seeded_prg(!seed);
                let (k0, k1) = base_r(ch, &mut prg);
                let s0 = ch.meter().total().bytes_sent;
                let mut r = SoftReceiver::setup(ch, k, &k0, &k1, &mut prg).unwrap();
                let mut t = vec![Block::ZERO; n];
                r.recv_cot(ch, &choices[..a], &mut t[..a]).unwrap();
                r.recv_cot(ch, &choices[a..], &mut t[a..]).unwrap();
                (choices, t, ch.meter().total().bytes_sent - s0)
            },
        )
        .unwrap();
        let (delta, q) = out.server;
        let (b, t, sent) = out.client;
        for j in 0..n {
            prop_assert_eq!(q[j], t[j] ^ delta.and_bit(b[j] == 1));
        }
        prop_assert_eq!(
            sent,
            setup_bytes(k) + column_bytes(k, a as u64) + column_bytes(k, (n - a) as u64)
        );
    }
}

/// Throughput: `cargo test -p pq-ot --release --test ot_softspoken -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput() {
    for transport in [Transport::Mem, Transport::Tcp] {
        for k in [1u32, 2, 4, 8] {
            let calls = 20;
            let n = 1 << 20;
            let out = run_pair(
                transport,
                move |ch| {
                    let mut prg = seeded_prg(71);
                    let (delta, keys) = base_s(ch, &mut prg);
                    let mut s = SoftSender::setup(ch, k, delta, &keys).unwrap();
                    let c0 = thread_cpu_ns();
                    let t0 = std::time::Instant::now();
                    let mut acc = Block::ZERO;
                    for _ in 0..calls {
                        s.run(ch, n, |_, c, q| {
                            acc ^= q[c - 1];
                            Ok(())
                        })
                        .unwrap();
                    }
                    std::hint::black_box(acc);
                    (t0.elapsed(), thread_cpu_ns() - c0)
                },
                move |ch| {
                    let mut prg = seeded_prg(72);
                    let (k0, k1) = base_r(ch, &mut prg);
                    let mut r = SoftReceiver::setup(ch, k, &k0, &k1, &mut prg).unwrap();
                    let bits: Vec<Block> = (0..32).map(|_| prg.next_block()).collect();
                    let c0 = thread_cpu_ns();
                    let t0 = std::time::Instant::now();
                    let mut acc = Block::ZERO;
                    for _ in 0..calls {
                        r.run(
                            ch,
                            n,
                            |_, c, row| {
                                row.copy_from_slice(&bits[..c.div_ceil(128)]);
                                Ok(())
                            },
                            |_, c, t| {
                                acc ^= t[c - 1];
                                Ok(())
                            },
                        )
                        .unwrap();
                    }
                    ch.flush().unwrap();
                    std::hint::black_box(acc);
                    (t0.elapsed(), thread_cpu_ns() - c0)
                },
            )
            .unwrap();
            let ots = (calls * n) as f64;
            let secs = out.server.0.max(out.client.0).as_secs_f64();
            println!(
                "{transport:?} k={k}: {:.1} M OT/s wall; per-party CPU: sender {:.1}, receiver {:.1} M OT/s",
                ots / secs / 1e6,
                ots / out.server.1 as f64 * 1e3,
                ots / out.client.1 as f64 * 1e3,
            );
        }
    }
}
