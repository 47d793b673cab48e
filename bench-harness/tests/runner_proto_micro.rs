//! Every protocol through the micro runner: both parties on two threads over a real channel,
//! reconstructed output == plaintext reference, measured bytes == cost function.

use bench_harness::runners::micro::{MicroParams, MicroReport, run_micro};
use pq_netsim::Transport;
use pq_proto::sirnn::matmul::MultMode;

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

/// Millionaires', millionaires-with-equality and equality at every width class (1, the
/// 4-bit block edges 4/5, 8/9, 12/13, 16/17, 31..33, 63, 64) and batch sizes 1, 9 (odd, one
/// partial block) and 100 (several blocks).
///
/// Each (op, width) runs one batch size in rotation, so every op meets every size and every
/// width meets every size over the three ops; the edge widths 1 and 64 run every size for
/// every op. (Every size for every pair tripled the two-party runs, each with its own base
/// OTs, to about a minute; the protocols' code paths depend on n only through the packing
/// and the block count, which the rotation still reaches at every width class.)
#[test]
fn comparisons() {
    let widths = [1u32, 2, 3, 4, 5, 8, 9, 12, 13, 16, 17, 31, 32, 33, 63, 64];
    rotated(&["mill", "milleq", "eq"], &widths, [1, 9, 100]);
}

/// Every op at every width, each (op, width) at one of the three batch sizes in rotation;
/// the edge widths 1 and 64 at every size for every op.
fn rotated(ops: &[&str], widths: &[u32], sizes: [usize; 3]) {
    for (li, &l) in widths.iter().enumerate() {
        for (oi, &op) in ops.iter().enumerate() {
            let ns: &[usize] = if matches!(l, 1 | 64) {
                &sizes
            } else {
                &sizes[(li + oi) % 3..][..1]
            };
            for &n in ns {
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
}

/// wrap, msb, msb-to-wrap, B2A and MUX at widths 1, 2, 5, 16, 32, 63, 64 and batch sizes 0
/// (empty), 1 and 33 (odd, past a 32-bit word); AND on 0, 1, 2 and 35.
///
/// Each (op, width) runs one batch size in rotation, so every op meets every size (the empty
/// batch included) over the widths; the edge widths 1 and 64 run every size for every op.
/// (Every size for every pair tripled the two-party runs, to about a minute.)
#[test]
fn aux() {
    rotated(
        &["wrap", "msb", "msb2wrap", "b2a", "mux"],
        &[1, 2, 5, 16, 32, 63, 64],
        [0, 1, 33],
    );
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
    assert!(e.unwrap_or_default().contains("`s`"));
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
    assert!(e.unwrap_or_default().contains("`l`"));
    let e = run_micro("nope", &base(4), Transport::Mem, Some(1))
        .err()
        .map(|e| e.to_string());
    assert!(e.unwrap_or_default().contains("`op`"));
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
    dense_profile_on(pq_proto::OtKind::Iknp);
}

/// Every protocol on SoftSpoken and on Ferret (`micro --profile privquant --ot …`): exact
/// outputs, and measured bytes equal the cost function plus the LPN rounds the step's
/// reservation charges.
#[test]
fn dense_profile_on_silent_sources() {
    dense_profile_on(pq_proto::OtKind::SoftSpoken(3));
    dense_profile_on(pq_proto::OtKind::Ferret);
}

fn dense_profile_on(ot: pq_proto::OtKind) {
    let pq = pq_proto::Profile::PrivQuant.with_ot(ot);
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
