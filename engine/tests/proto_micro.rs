//! Every protocol through the micro runner: both parties on two threads over a real channel,
//! reconstructed output == plaintext reference, measured bytes == cost function.

use pq_engine::proto::matmul::MultMode;
use pq_engine::proto::micro::{MicroParams, MicroReport, run_micro};
use pq_netsim::Transport;

fn go(op: &str, p: &MicroParams) -> MicroReport {
    let r = run_micro(op, p, Transport::Mem, Some(7)).unwrap_or_else(|e| panic!("{op}: {e}"));
    assert!(r.correct, "{op} {p:?}: wrong output");
    assert!(
        r.cost_matches,
        "{op} {p:?}: measured {}/{} vs cost {}",
        r.bytes_server_to_client, r.bytes_client_to_server, r.cost_bytes
    );
    r
}

fn base(n: usize) -> MicroParams {
    MicroParams {
        n,
        ..MicroParams::default()
    }
}

#[test]
fn ot_ops() {
    for n in [0usize, 1, 7, 1000] {
        go(
            "cot",
            &MicroParams {
                l: Some(13),
                ..base(n)
            },
        );
        go("cot", &MicroParams { l: None, ..base(n) });
        go(
            "got",
            &MicroParams {
                l: Some(8),
                ..base(n)
            },
        );
        go(
            "kkot",
            &MicroParams {
                l: Some(2),
                nn: 16,
                ..base(n)
            },
        );
    }
}

#[test]
fn comparisons() {
    for l in [1u32, 2, 3, 4, 5, 8, 9, 12, 13, 16, 17, 31, 32, 33, 63, 64] {
        for n in [1usize, 9, 100] {
            go(
                "mill",
                &MicroParams {
                    l: Some(l),
                    ..base(n)
                },
            );
            go(
                "milleq",
                &MicroParams {
                    l: Some(l),
                    ..base(n)
                },
            );
            go(
                "eq",
                &MicroParams {
                    l: Some(l),
                    ..base(n)
                },
            );
        }
    }
}

#[test]
fn aux() {
    for l in [1u32, 2, 5, 16, 32, 63, 64] {
        for n in [0usize, 1, 33] {
            for op in ["wrap", "msb", "msb2wrap", "b2a", "mux"] {
                go(
                    op,
                    &MicroParams {
                        l: Some(l),
                        ..base(n)
                    },
                );
            }
        }
    }
    for n in [0usize, 1, 2, 35] {
        go("and", &base(n));
    }
}

#[test]
fn extension_truncation() {
    for (from, to) in [(1u32, 2u32), (4, 4), (8, 9), (16, 32), (32, 64), (63, 64)] {
        for mk in [false, true] {
            go(
                "zext",
                &MicroParams {
                    from,
                    to,
                    msb_known: mk,
                    ..base(37)
                },
            );
            go(
                "sext",
                &MicroParams {
                    from,
                    to,
                    msb_known: mk,
                    ..base(37)
                },
            );
        }
    }
    for (bw, s) in [
        (2u32, 1u32),
        (16, 0),
        (16, 7),
        (16, 15),
        (32, 12),
        (64, 1),
        (64, 63),
        (5, 4),
    ] {
        for mk in [false, true] {
            go(
                "trunc",
                &MicroParams {
                    bw,
                    s,
                    msb_known: mk,
                    ..base(35)
                },
            );
        }
        go("tr", &MicroParams { bw, s, ..base(35) });
        go("divpow2", &MicroParams { bw, s, ..base(35) });
    }
    for l in [1u32, 2, 16, 32, 64] {
        go(
            "relu",
            &MicroParams {
                l: Some(l),
                ..base(35)
            },
        );
    }
}

#[test]
fn matmul_modes() {
    for mode in [MultMode::AliceHasA, MultMode::AliceHasB, MultMode::None] {
        for (d1, d2, d3, a, b) in [
            (1usize, 100usize, 35usize, 8u32, 8u32),
            (4, 9, 5, 2, 4),
            (3, 1, 2, 4, 6),
            (2, 17, 3, 16, 16),
        ] {
            let p = MicroParams {
                d1,
                d2,
                d3,
                bwa: a,
                bwb: b,
                mode,
                ..base(0)
            };
            go("matmul", &p);
            // narrower output width (SCI allows max(bwa, bwb) <= bwc <= bwa + bwb)
            go(
                "matmul",
                &MicroParams {
                    bwc: Some(a.max(b)),
                    ..p.clone()
                },
            );
        }
    }
}

#[test]
fn invalid_params_are_typed_errors() {
    let e = run_micro(
        "tr",
        &MicroParams {
            bw: 16,
            s: 16,
            ..base(4)
        },
        Transport::Mem,
        Some(1),
    )
    .err()
    .map(|e| e.to_string());
    assert!(e.unwrap_or_default().contains("--s"));
    let e = run_micro(
        "mill",
        &MicroParams {
            l: Some(65),
            ..base(4)
        },
        Transport::Mem,
        Some(1),
    )
    .err()
    .map(|e| e.to_string());
    assert!(e.unwrap_or_default().contains("--l"));
    let e = run_micro("nope", &base(4), Transport::Mem, Some(1))
        .err()
        .map(|e| e.to_string());
    assert!(e.unwrap_or_default().contains("--op"));
}

/// Rounds (cost function) against measured flights (the busier party) per op.
#[test]
fn rounds_vs_flights() {
    let cases: Vec<(&str, MicroParams)> = vec![
        (
            "cot",
            MicroParams {
                l: Some(16),
                ..base(100)
            },
        ),
        (
            "got",
            MicroParams {
                l: Some(8),
                ..base(100)
            },
        ),
        (
            "kkot",
            MicroParams {
                l: Some(2),
                ..base(100)
            },
        ),
        (
            "mill",
            MicroParams {
                l: Some(4),
                ..base(100)
            },
        ),
        (
            "mill",
            MicroParams {
                l: Some(32),
                ..base(100)
            },
        ),
        (
            "milleq",
            MicroParams {
                l: Some(16),
                ..base(100)
            },
        ),
        (
            "milleq",
            MicroParams {
                l: Some(18),
                ..base(100)
            },
        ),
        (
            "eq",
            MicroParams {
                l: Some(32),
                ..base(100)
            },
        ),
        (
            "wrap",
            MicroParams {
                l: Some(32),
                ..base(100)
            },
        ),
        (
            "msb",
            MicroParams {
                l: Some(32),
                ..base(100)
            },
        ),
        (
            "msb2wrap",
            MicroParams {
                l: Some(32),
                ..base(100)
            },
        ),
        (
            "b2a",
            MicroParams {
                l: Some(16),
                ..base(100)
            },
        ),
        (
            "mux",
            MicroParams {
                l: Some(16),
                ..base(100)
            },
        ),
        ("and", base(100)),
        (
            "zext",
            MicroParams {
                from: 16,
                to: 32,
                ..base(100)
            },
        ),
        (
            "zext",
            MicroParams {
                from: 16,
                to: 32,
                msb_known: true,
                ..base(100)
            },
        ),
        (
            "tr",
            MicroParams {
                bw: 32,
                s: 12,
                ..base(100)
            },
        ),
        (
            "trunc",
            MicroParams {
                bw: 32,
                s: 12,
                ..base(100)
            },
        ),
        (
            "divpow2",
            MicroParams {
                bw: 32,
                s: 12,
                ..base(100)
            },
        ),
        (
            "relu",
            MicroParams {
                l: Some(32),
                ..base(100)
            },
        ),
        (
            "matmul",
            MicroParams {
                d1: 4,
                d2: 9,
                d3: 5,
                bwa: 2,
                bwb: 4,
                mode: MultMode::AliceHasA,
                ..base(0)
            },
        ),
    ];
    for (op, p) in cases {
        let r = go(op, &p);
        eprintln!(
            "{op:9} rounds {:3} flights {:3}",
            r.rounds, r.measured_flights
        );
        // sequential protocols: one flight per round trip. Exception: the MUX runs its two
        // COT directions in one round trip (as SCI does), and then each party sends twice
        // in it (its columns, then its payload), one flight more than the round trips.
        let extra = u64::from(op == "mux" || op == "relu");
        assert_eq!(r.measured_flights, r.rounds + extra, "{op}");
    }
}

#[test]
fn over_tcp() {
    for (op, p) in [
        (
            "mill",
            MicroParams {
                l: Some(32),
                ..base(1000)
            },
        ),
        (
            "divpow2",
            MicroParams {
                bw: 16,
                s: 7,
                ..base(35)
            },
        ),
    ] {
        let r = run_micro(op, &p, Transport::Tcp, None).expect("tcp run");
        assert!(r.correct && r.cost_matches, "{op} over tcp");
    }
}

mod pools {
    use pq_engine::Profile;
    use pq_engine::party::run_parties;
    use pq_engine::proto::{avgpool, lut, maxpool};
    use pq_kernels::ring::{mask, to_signed};
    use pq_netsim::Transport;

    fn split(v: &[u64], l: u32, salt: u64) -> (Vec<u64>, Vec<u64>) {
        let r: Vec<u64> = (0..v.len() as u64)
            .map(|i| {
                (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt).wrapping_mul(0xbf58_476d_1ce4_e5b9)
                    & mask(l)
            })
            .collect();
        let o = v
            .iter()
            .zip(&r)
            .map(|(x, r)| x.wrapping_sub(*r) & mask(l))
            .collect();
        (r, o)
    }

    #[test]
    fn maxpool_and_avgpool() {
        for (rows, k2, l) in [
            (5usize, 4usize, 16u32),
            (3, 9, 32),
            (4, 1, 8),
            (0, 4, 16),
            (2, 4, 64),
        ] {
            // values with differences that fit in l bits: |x| < 2^(l-2)
            let x: Vec<u64> = (0..rows * k2)
                .map(|i| {
                    let v = ((i as i64 * 7919) % 97 - 48) << (l.min(12) - 7);
                    (v as u64) & mask(l)
                })
                .collect();
            let (xa, xb) = split(&x, l, 11);
            let o = run_parties(
                Transport::Mem,
                Profile::Sirnn,
                Some(2),
                |p| maxpool::run(p, &xa, rows, k2, l),
                |p| maxpool::run(p, &xb, rows, k2, l),
            )
            .expect("maxpool");
            let c = maxpool::cost(rows as u64, k2 as u64, l, Profile::Sirnn);
            assert_eq!(o.bytes_server_to_client(), c.server_to_client);
            assert_eq!(o.bytes_client_to_server(), c.client_to_server);
            for r in 0..rows {
                let want = (0..k2)
                    .map(|j| to_signed(x[r * k2 + j], l))
                    .max()
                    .unwrap_or(0);
                assert_eq!(
                    o.server[r].wrapping_add(o.client[r]) & mask(l),
                    (want as u64) & mask(l)
                );
            }
            let shift = (k2 as f64).log2().floor() as u32;
            let o = run_parties(
                Transport::Mem,
                Profile::Sirnn,
                Some(3),
                |p| avgpool::run(p, &xa, rows, k2, l, shift),
                |p| avgpool::run(p, &xb, rows, k2, l, shift),
            )
            .expect("avgpool");
            let c = avgpool::cost(rows as u64, l, shift, Profile::Sirnn);
            assert_eq!(
                o.bytes_server_to_client() + o.bytes_client_to_server(),
                c.total()
            );
            for r in 0..rows {
                let s: i64 = (0..k2).map(|j| to_signed(x[r * k2 + j], l)).sum();
                let want = s / (1i64 << shift);
                assert_eq!(
                    o.server[r].wrapping_add(o.client[r]) & mask(l),
                    (want as u64) & mask(l)
                );
            }
        }
    }

    #[test]
    fn lookup_table() {
        for (n, bx, by) in [
            (10usize, 2u32, 1u32),
            (7, 4, 8),
            (3, 1, 13),
            (5, 8, 64),
            (0, 3, 3),
        ] {
            let nn = 1usize << bx;
            let table: Vec<u64> = (0..n * nn)
                .map(|i| (i as u64).wrapping_mul(0x1234_5677) & mask(by))
                .collect();
            let idx: Vec<u8> = (0..n).map(|i| ((i * 5 + 3) % nn) as u8).collect();
            let (t2, i2) = (table.clone(), idx.clone());
            let o = run_parties(
                Transport::Mem,
                Profile::Sirnn,
                Some(4),
                move |p| lut::run(p, &t2, &[], n, bx, by),
                move |p| lut::run(p, &[], &i2, n, bx, by),
            )
            .expect("lut");
            let c = lut::cost(n as u64, bx, by, Profile::Sirnn);
            assert_eq!(
                o.bytes_server_to_client() + o.bytes_client_to_server(),
                c.total()
            );
            for i in 0..n {
                assert_eq!(o.server[i] ^ o.client[i], table[i * nn + idx[i] as usize]);
            }
        }
    }
}

/// Every golden count of sci-baseline.md §8, measured on the wire (n = 65536 unless stated).
#[test]
fn golden_bytes_measured() {
    let n = 65536;
    let cases: Vec<(&str, MicroParams, u64)> = vec![
        (
            "cot",
            MicroParams {
                l: Some(16),
                ..base(100_000)
            },
            2_035_008,
        ),
        (
            "cot",
            MicroParams {
                l: Some(32),
                ..base(n)
            },
            1_310_720,
        ),
        (
            "got",
            MicroParams {
                l: Some(8),
                ..base(n)
            },
            1_179_648,
        ),
        (
            "kkot",
            MicroParams {
                l: Some(2),
                nn: 16,
                ..base(n)
            },
            2_359_296,
        ),
        (
            "mill",
            MicroParams {
                l: Some(8),
                ..base(n)
            },
            5_931_008,
        ),
        (
            "mill",
            MicroParams {
                l: Some(16),
                ..base(n)
            },
            14_286_848,
        ),
        (
            "mill",
            MicroParams {
                l: Some(32),
                ..base(n)
            },
            32_210_944,
        ),
        (
            "milleq",
            MicroParams {
                l: Some(16),
                ..base(n)
            },
            16_515_072,
        ),
        (
            "msb2wrap",
            MicroParams {
                l: Some(32),
                ..base(n)
            },
            2_129_920,
        ),
        (
            "mux",
            MicroParams {
                l: Some(16),
                ..base(n)
            },
            2_359_296,
        ),
        (
            "b2a",
            MicroParams {
                l: Some(16),
                ..base(n)
            },
            1_179_648,
        ),
        ("and", base(n), 1_179_648),
        (
            "zext",
            MicroParams {
                from: 16,
                to: 32,
                ..base(n)
            },
            15_466_496,
        ),
        (
            "trunc",
            MicroParams {
                bw: 32,
                s: 12,
                ..base(n)
            },
            34_373_632,
        ),
        (
            "tr",
            MicroParams {
                bw: 32,
                s: 12,
                ..base(n)
            },
            10_715_136,
        ),
        (
            "relu",
            MicroParams {
                l: Some(16),
                ..base(n)
            },
            16_646_144,
        ),
        (
            "relu",
            MicroParams {
                l: Some(32),
                ..base(n)
            },
            34_832_384,
        ),
        (
            "matmul",
            MicroParams {
                d1: 1,
                d2: 512,
                d3: 100,
                bwa: 8,
                bwb: 8,
                mode: MultMode::AliceHasB,
                ..base(0)
            },
            8_169_456,
        ),
    ];
    for (op, p, want) in cases {
        let r = go(op, &p);
        assert_eq!(r.bytes_total, want, "{op} {p:?}");
    }
}

/// The same protocols without SCI's padding (dense packing) still match their cost functions.
#[test]
fn dense_profile() {
    let pq = pq_engine::Profile::PrivQuant;
    for op in [
        "mill", "milleq", "eq", "wrap", "msb", "msb2wrap", "b2a", "mux", "and", "relu",
    ] {
        go(
            op,
            &MicroParams {
                l: Some(13),
                profile: pq,
                ..base(77)
            },
        );
    }
    for op in ["trunc", "tr", "divpow2"] {
        go(
            op,
            &MicroParams {
                bw: 16,
                s: 5,
                profile: pq,
                ..base(77)
            },
        );
    }
    go(
        "sext",
        &MicroParams {
            from: 8,
            to: 20,
            profile: pq,
            ..base(77)
        },
    );
    for mode in [MultMode::AliceHasA, MultMode::AliceHasB, MultMode::None] {
        go(
            "matmul",
            &MicroParams {
                d1: 3,
                d2: 10,
                d3: 4,
                bwa: 4,
                bwb: 6,
                mode,
                profile: pq,
                ..base(0)
            },
        );
    }
}

#[test]
fn fc_layer() {
    use pq_engine::party::run_parties;
    use pq_engine::proto::{fc, matmul};
    use pq_kernels::ring::{mask, to_signed};
    let (batch, inp, out, bwa, bwb) = (2usize, 37usize, 5usize, 6u32, 4u32);
    let a: Vec<u64> = (0..batch * inp)
        .map(|i| (i as u64 * 2654435761) & mask(bwa))
        .collect();
    let w: Vec<u64> = (0..inp * out)
        .map(|i| (i as u64 * 40503 + 7) & mask(bwb))
        .collect();
    let ra: Vec<u64> = (0..batch * inp)
        .map(|i| (i as u64 * 97 + 3) & mask(bwa))
        .collect();
    let aa = ra.clone();
    let ab: Vec<u64> = a
        .iter()
        .zip(&ra)
        .map(|(x, r)| x.wrapping_sub(*r) & mask(bwa))
        .collect();
    let w2 = w.clone();
    let o = run_parties(
        Transport::Mem,
        pq_engine::Profile::Sirnn,
        Some(9),
        move |p| fc::run(p, batch, inp, out, bwa, bwb, &aa, &w2),
        move |p| fc::run(p, batch, inp, out, bwa, bwb, &ab, &[]),
    )
    .expect("fc");
    let mp = fc::params(batch, inp, out, bwa, bwb);
    let ai: Vec<i64> = a.iter().map(|&v| to_signed(v, bwa)).collect();
    let wi: Vec<i64> = w.iter().map(|&v| to_signed(v, bwb)).collect();
    let want = matmul::reference(&mp, &ai, &wi);
    let got: Vec<u64> = o
        .server
        .iter()
        .zip(&o.client)
        .map(|(x, y)| x.wrapping_add(*y) & mask(bwa + bwb))
        .collect();
    assert_eq!(got, want);
    let c = fc::cost(batch, inp, out, bwa, bwb, pq_engine::Profile::Sirnn);
    assert_eq!(o.bytes_server_to_client(), c.server_to_client);
    assert_eq!(o.bytes_client_to_server(), c.client_to_server);
}

/// Π_Trunc, logical variant (x unsigned), with and without known MSB.
#[test]
fn trunc_logical() {
    use pq_engine::party::run_parties;
    use pq_engine::proto::trunc;
    use pq_kernels::ring::mask;
    for (bw, s) in [(16u32, 7u32), (8, 1), (64, 13), (33, 32)] {
        for mk in [false, true] {
            let n = 41usize;
            let x: Vec<u64> = (0..n as u64)
                .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) & mask(bw))
                .collect();
            let xa: Vec<u64> = (0..n as u64)
                .map(|i| i.wrapping_mul(0xdead_beef_1234_5679) & mask(bw))
                .collect();
            let xb: Vec<u64> = x
                .iter()
                .zip(&xa)
                .map(|(v, r)| v.wrapping_sub(*r) & mask(bw))
                .collect();
            let msb: Vec<u8> = x.iter().map(|v| ((v >> (bw - 1)) & 1) as u8).collect();
            let ma: Vec<u8> = (0..n).map(|i| (i % 3 == 0) as u8).collect();
            let mb: Vec<u8> = ma.iter().zip(&msb).map(|(a, m)| a ^ m).collect();
            let o = run_parties(
                Transport::Mem,
                pq_engine::Profile::Sirnn,
                Some(12),
                move |p| trunc::run(p, &xa, bw, s, false, if mk { Some(&ma) } else { None }),
                move |p| trunc::run(p, &xb, bw, s, false, if mk { Some(&mb) } else { None }),
            )
            .expect("trunc");
            for ((a, b), v) in o.server.iter().zip(&o.client).zip(&x) {
                assert_eq!(
                    a.wrapping_add(*b) & mask(bw),
                    v >> s,
                    "bw {bw} s {s} mk {mk}"
                );
            }
            let c = trunc::cost(n as u64, bw, s, mk, pq_engine::Profile::Sirnn);
            assert_eq!(
                o.bytes_server_to_client() + o.bytes_client_to_server(),
                c.total()
            );
        }
    }
}
