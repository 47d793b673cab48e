//! privquant profile: known-MSB extension and the exact-accumulator linear layer. Every run
//! reconstructs to the plaintext reference and its measured bytes equal the cost function.

use pq_engine::Profile;
use pq_engine::party::run_parties;
use pq_engine::proto::pq_ext;
use pq_engine::proto::pq_linear::{self, Geom, InputKind, LinOption, LinearParams, Objective};
use pq_engine::proto::pq_micro::{Fill, conv_table, run_linear};
use pq_kernels::ring::mask;
use pq_netsim::Transport;
use proptest::prelude::*;

#[allow(clippy::needless_range_loop)]
fn ext_case(l1: u32, l2: u32, n: usize, seed: u64) {
    let mut s = seed | 1;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let x: Vec<u64> = (0..n)
        .map(|_| if l1 == 1 { 0 } else { next() & mask(l1 - 1) })
        .collect();
    let a: Vec<u64> = (0..n).map(|_| next() & mask(l1)).collect();
    let b: Vec<u64> = x
        .iter()
        .zip(&a)
        .map(|(v, r)| v.wrapping_sub(*r) & mask(l1))
        .collect();
    let out = run_parties(
        Transport::Mem,
        Profile::PrivQuant,
        Some(seed),
        move |p| pq_ext::run(p, &a, l1, l2),
        move |p| pq_ext::run(p, &b, l1, l2),
    )
    .unwrap();
    for i in 0..n {
        assert_eq!(
            out.server[i].wrapping_add(out.client[i]) & mask(l2),
            x[i],
            "l1={l1} l2={l2} i={i}"
        );
    }
    let c = pq_ext::cost(n as u64, l1, l2, Profile::PrivQuant);
    assert_eq!(out.bytes_server_to_client(), c.server_to_client);
    assert_eq!(out.bytes_client_to_server(), c.client_to_server);
}

#[test]
fn ext_all_widths() {
    for l1 in 1..=63u32 {
        for l2 in [l1 + 1, (l1 + 7).min(64), 64] {
            ext_case(l1, l2, 37, l1 as u64 * 1000 + l2 as u64);
        }
    }
    ext_case(64, 64, 5, 1);
    ext_case(8, 20, 0, 2);
}

fn lin_case(lp: &LinearParams, fill: Fill, seed: u64) {
    for opt in LinOption::ALL {
        let r = run_linear(lp, Some(opt), fill, Transport::Mem, Some(seed)).unwrap();
        assert!(r.correct, "{lp:?} {opt:?} {fill:?}: wrong output");
        assert!(
            r.cost_matches,
            "{lp:?} {opt:?}: bytes {} vs cost {}",
            r.bytes_total, r.cost_bytes
        );
    }
    // the planner's choice is the minimum of the enumerated costs
    let (_, best) = pq_linear::plan(lp, Objective::Bytes, Profile::PrivQuant).unwrap();
    for (_, c) in pq_linear::options(lp, Profile::PrivQuant).unwrap() {
        assert!(best.total() <= c.total());
    }
}

const KINDS: [InputKind; 4] = [
    InputKind::NonNeg,
    InputKind::Signed,
    InputKind::Clear { nonneg: true },
    InputKind::Clear { nonneg: false },
];

#[test]
fn linear_small_fixed() {
    for (ki, &kind) in KINDS.iter().enumerate() {
        for (lw, lx) in [(2, 4), (1, 1), (8, 8), (3, 2), (16, 16)] {
            let mm = LinearParams::matmul(3, 7, 5, lw, lx, kind);
            let cv = LinearParams::conv(5, 3, 4, 3, 1, lw, lx, kind);
            let cs = LinearParams::conv(6, 2, 3, 3, 2, lw, lx, kind);
            let c1 = LinearParams::conv(4, 5, 2, 1, 1, lw, lx, kind);
            for (i, lp) in [mm, cv, cs, c1].iter().enumerate() {
                for fill in [Fill::Random, Fill::ExtremeLow, Fill::ExtremeHigh] {
                    lin_case(lp, fill, (ki * 100 + i * 10) as u64 + lw as u64 * lx as u64);
                }
            }
        }
    }
}

#[test]
fn linear_wide_accumulator() {
    // L close to 64: 31-bit weights, 32-bit activations, d2 = 2 → 63..64 bits
    for kind in KINDS {
        let lp = LinearParams::matmul(2, 2, 3, 31, 32, kind);
        assert!(lp.acc_bits().unwrap() >= 62);
        for fill in [Fill::Random, Fill::ExtremeLow, Fill::ExtremeHigh] {
            lin_case(&lp, fill, 7);
        }
    }
    let too_big = LinearParams::matmul(1, 4, 1, 32, 33, InputKind::Signed);
    assert!(too_big.acc_bits().is_err());
}

#[test]
fn acc_bits_tight() {
    // W2 (w ∈ [−2, 1]), A4 ReLU output (x ∈ [0, 7]), d2 = 576: sum ∈ [−8064, 4032] → 14 bits
    let lp = LinearParams::conv(56, 64, 64, 3, 1, 2, 4, InputKind::NonNeg);
    assert_eq!(lp.acc_bits().unwrap(), 14);
    // d2 = 585 → −8190 still fits 14 bits; 586 → −8204 needs 15
    let a = LinearParams::matmul(1, 585, 1, 2, 4, InputKind::NonNeg);
    assert_eq!(a.acc_bits().unwrap(), 14);
    let b = LinearParams::matmul(1, 586, 1, 2, 4, InputKind::NonNeg);
    assert_eq!(b.acc_bits().unwrap(), 15);
    for lp in [a, b] {
        lin_case(&lp, Fill::ExtremeLow, 3);
    }
    assert_eq!(
        lp.geom,
        Geom::Conv {
            hw: 56,
            cin: 64,
            k: 3,
            stride: 1
        }
    );
}

#[test]
fn conv_table_privquant_beats_sirnn() {
    let rows = conv_table().unwrap();
    assert_eq!(rows.len(), 30);
    for pair in rows.chunks(2) {
        let (s, p) = (&pair[0], &pair[1]);
        assert_eq!(s.profile, "sirnn");
        assert!(p.bytes * 17 <= s.bytes * 10, "{p:?} vs {s:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn linear_random(d1 in 1usize..5, d2 in 1usize..12, d3 in 1usize..6, lw in 1u32..10,
                     lx in 1u32..12, kind in 0usize..4, conv: bool, seed: u64) {
        let kind = KINDS[kind];
        let lp = if conv {
            let k = [1usize, 3][d2 % 2];
            LinearParams::conv(d3 + 2, d2.div_ceil(3), d1, k, 1 + d3 % 2, lw, lx, kind)
        } else {
            LinearParams::matmul(d1, d2, d3, lw, lx, kind)
        };
        for opt in LinOption::ALL {
            let r = run_linear(&lp, Some(opt), Fill::Random, Transport::Mem, Some(seed)).unwrap();
            prop_assert!(r.correct, "{:?} {:?}", lp, opt);
            prop_assert!(r.cost_matches, "{:?} {:?}", lp, opt);
        }
    }
}

#[test]
fn planner_latency_objective() {
    let lat = Objective::Latency {
        bits_per_s: 200e6,
        rtt_s: 0.013,
    };
    for kind in KINDS {
        for (d1, d2, d3, lw, lx) in [
            (64, 576, 3136, 2, 4),
            (1, 300, 1, 8, 8),
            (1000, 4, 2, 2, 6),
            (3, 9, 4, 4, 16),
        ] {
            let lp = LinearParams::matmul(d1, d2, d3, lw, lx, kind);
            let (o, c) = pq_linear::plan(&lp, lat, Profile::PrivQuant).unwrap();
            for (o2, c2) in pq_linear::options(&lp, Profile::PrivQuant).unwrap() {
                assert!(lat.score(&c) <= lat.score(&c2), "{lp:?}: {o:?} vs {o2:?}");
            }
        }
    }
    // many outputs per input element (d1 ≫ d3): decomposing X needs far fewer OTs
    let wide = LinearParams::matmul(1000, 4, 2, 2, 6, InputKind::NonNeg);
    assert_eq!(
        pq_linear::plan(&wide, Objective::Bytes, Profile::PrivQuant)
            .unwrap()
            .0,
        LinOption::DecompX
    );
    // a ResNet conv (d3 ≫ d1, 2-bit weights): decomposing W after extending X
    let cv = LinearParams::conv(56, 64, 64, 3, 1, 2, 4, InputKind::NonNeg);
    assert_eq!(
        pq_linear::plan(&cv, Objective::Bytes, Profile::PrivQuant)
            .unwrap()
            .0,
        LinOption::ExtendX
    );
}

#[test]
fn extreme_widths_rejected_not_panicking() {
    let lp = LinearParams::matmul(1, 1 << 30, 1, 64, 64, InputKind::Signed);
    assert!(lp.acc_bits().is_err());
    let lp = LinearParams::matmul(1, 1, 1, 64, 1, InputKind::NonNeg);
    assert_eq!(lp.acc_bits().unwrap(), 1);
    let lp = LinearParams::matmul(0, 1, 1, 2, 2, InputKind::NonNeg);
    assert!(lp.acc_bits().is_err());
}
