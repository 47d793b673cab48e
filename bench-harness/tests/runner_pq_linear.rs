//! privquant profile: known-MSB extension and the exact-accumulator linear layer. Every run
//! reconstructs to the plaintext reference and its measured bytes equal the cost function.

use bench_harness::runners::pq_micro::{Fill, RESNET50_CONVS, conv_table, run_linear};
use pq_kernels::ring::{mask, to_signed};
use pq_netsim::LinkSpec;
use pq_netsim::Transport;
use pq_proto::Profile;
use pq_proto::party::run_parties;
use pq_proto::privquant::he_linear;
use pq_proto::privquant::linear::{
    self, ConvShape, Geom, InputKind, LinOption, LinearParams, Menu, Objective,
};
use pq_proto::sirnn::extension;
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
        move |p| extension::nonneg_extend(p, &a, l1, l2),
        move |p| extension::nonneg_extend(p, &b, l1, l2),
    )
    .unwrap();
    for i in 0..n {
        assert_eq!(
            out.server[i].wrapping_add(out.client[i]) & mask(l2),
            x[i],
            "l1={l1} l2={l2} i={i}"
        );
    }
    let c = extension::cost_nonneg(n as u64, l1, l2, Profile::PrivQuant);
    assert_eq!(out.bytes_server_to_client(), c.server_to_client);
    assert_eq!(out.bytes_client_to_server(), c.client_to_server);
}

/// Every input width l1 in 1..=63, each with one of the three output classes (l1 + 1,
/// l1 + 7, 64) in rotation, so every class meets l1 values across the whole range; the edges
/// (l1 = 1, 2, 62, 63) with all three. (Each case is its own two-party run with base OTs; the
/// full product, three times as many runs, proved nothing the rotation does not: the protocol
/// has no code path that depends on the pair beyond l1 = 1, l2 − l1 and l2 = 64.)
#[test]
fn ext_all_widths() {
    for l1 in 1..=63u32 {
        let classes = [l1 + 1, (l1 + 7).min(64), 64];
        let l2s: &[u32] = if matches!(l1, 1 | 2 | 62 | 63) {
            &classes
        } else {
            &classes[l1 as usize % 3..][..1]
        };
        for &l2 in l2s {
            ext_case(l1, l2, 37, l1 as u64 * 1000 + l2 as u64);
        }
    }
    ext_case(64, 64, 5, 1);
    ext_case(8, 20, 0, 2);
}

/// One option on one layer: bit-exact, cost = measured bytes, rounds = measured flights.
fn opt_case(lp: &LinearParams, opt: LinOption, fill: Fill, seed: u64) {
    let r = run_linear(
        lp,
        Some(opt),
        fill,
        Transport::Mem,
        Some(seed),
        pq_proto::OtKind::Iknp,
    )
    .unwrap();
    assert!(r.correct, "{lp:?} {opt:?} {fill:?}: wrong output");
    assert!(
        r.cost_matches,
        "{lp:?} {opt:?}: bytes {} vs cost {}",
        r.bytes_total, r.cost_bytes
    );
    assert_eq!(r.measured_flights, r.rounds, "{lp:?} {opt:?}");
}

fn lin_case(lp: &LinearParams, fill: Fill, seed: u64) {
    for opt in LinOption::ALL {
        opt_case(lp, opt, fill, seed);
    }
    planner_is_min(lp);
}

fn lat() -> Objective {
    Objective::Latency(LinkSpec::new(200_000_000, 13_000_000).unwrap())
}

/// The planner's choice is the minimum of the enumerated costs, under both objectives, and
/// every option is enumerated exactly once.
fn planner_is_min(lp: &LinearParams) {
    let all = linear::options(lp, Profile::PrivQuant, Menu::OT).unwrap();
    assert_eq!(all.len(), LinOption::ALL.len());
    for (o, c) in &all {
        assert_eq!(*c, linear::cost(lp, *o, Profile::PrivQuant).unwrap());
    }
    for obj in [Objective::Bytes, lat()] {
        let (o, best) = linear::choose(lp, obj, Profile::PrivQuant, Menu::OT).unwrap();
        let min = all.iter().map(|(_, c)| obj.of(c)).min().unwrap();
        if let LinOption::Duplex { .. } = o {
            // only under the latency objective, and only when strictly better
            assert!(matches!(obj, Objective::Latency(_)), "{lp:?}");
            assert!(obj.of(&best) < min, "{lp:?}");
            assert_eq!(best, linear::cost(lp, o, Profile::PrivQuant).unwrap());
            continue;
        }
        assert_eq!(obj.of(&best), min, "{lp:?} {obj:?}");
        // ties go to the first option in ALL
        let first = all.iter().find(|(_, c)| obj.of(c) == min).unwrap().0;
        assert_eq!(o, first, "{lp:?} {obj:?}");
    }
}

const KINDS: [InputKind; 4] = [
    InputKind::NonNeg,
    InputKind::Signed,
    InputKind::Clear { nonneg: true },
    InputKind::Clear { nonneg: false },
];

/// Every option on four layouts (matmul, 3×3 conv, strided conv, 1×1 conv), four input kinds
/// and four width pairs (including the 1-bit (1, 1) and the 16-bit (16, 16)), each run
/// bit-exact and byte- and flight-exact against its cost.
///
/// One two-party run (each with its own base OTs) per (kind, layout, option), the width pair
/// and the fill in rotation: every option meets every width pair and every fill over the
/// kinds and layouts, and every (kind, layout, width pair) is run by two options. The full
/// product (four times as many runs, about 4 min of CPU) repeated the same paths; the planner
/// check, which only costs, still runs on every width pair.
#[test]
fn linear_small_fixed() {
    const WIDTHS: [(u32, u32); 4] = [(2, 4), (1, 1), (3, 2), (16, 16)];
    for (ki, &kind) in KINDS.iter().enumerate() {
        let layouts = |(lw, lx): (u32, u32)| {
            [
                LinearParams::matmul(3, 7, 5, lw, lx, kind),
                LinearParams::conv(ConvShape::new(5, 3, 4, 3, 1), lw, lx, kind),
                LinearParams::conv(ConvShape::new(6, 2, 3, 3, 2), lw, lx, kind),
                LinearParams::conv(ConvShape::new(4, 5, 2, 1, 1), lw, lx, kind),
            ]
        };
        for i in 0..4 {
            for (oi, opt) in LinOption::ALL.into_iter().enumerate() {
                let (lw, lx) = WIDTHS[(oi + i + ki) % 4];
                let lp = layouts((lw, lx))[i];
                let seed = (ki * 100 + i * 10) as u64 + lw as u64 * lx as u64;
                let fill = [Fill::Random, Fill::ExtremeLow, Fill::ExtremeHigh][(oi + i) % 3];
                opt_case(&lp, opt, fill, seed);
            }
        }
        for w in WIDTHS {
            for lp in layouts(w) {
                planner_is_min(&lp);
            }
        }
    }
}

#[test]
fn linear_wide_accumulator() {
    // L close to 64: 31-bit weights, 32-bit activations, d2 = 2 → 63..64 bits
    for (ki, kind) in KINDS.into_iter().enumerate() {
        let lp = LinearParams::matmul(2, 2, 3, 31, 32, kind);
        assert!(lp.acc_bits().unwrap() >= 62);
        // one fill per (kind, option), in rotation: every option meets every fill over the
        // four kinds (the full product ran three times as many two-party runs)
        for (oi, opt) in LinOption::ALL.into_iter().enumerate() {
            let fill = [Fill::Random, Fill::ExtremeLow, Fill::ExtremeHigh][(oi + ki) % 3];
            opt_case(&lp, opt, fill, 7);
        }
        planner_is_min(&lp);
    }
    let too_big = LinearParams::matmul(1, 4, 1, 32, 33, InputKind::Signed);
    assert!(too_big.acc_bits().is_err());
    // hand-built layouts that disagree with themselves, or products past 2^40, are errors
    let mut cv = LinearParams::conv(ConvShape::new(5, 3, 4, 3, 1), 2, 4, InputKind::NonNeg);
    cv.d3 += 1;
    assert!(cv.acc_bits().is_err());
    let huge = LinearParams::matmul(1 << 30, 1 << 30, 1, 2, 4, InputKind::NonNeg);
    assert!(huge.acc_bits().is_err());
    let wide = LinearParams::conv(ConvShape::new(1 << 21, 1, 1, 1, 1), 2, 4, InputKind::NonNeg);
    assert!(wide.acc_bits().is_err());
    let none = LinearParams::matmul(2, 2, 2, 2, 4, InputKind::NonNeg).with_call_values(0);
    assert!(none.acc_bits().is_err());
}

#[test]
fn acc_bits_tight() {
    // W2 (w ∈ [−2, 1]), A4 ReLU output (x ∈ [0, 7]), d2 = 576: sum ∈ [−8064, 4032] → 14 bits
    let lp = LinearParams::conv(ConvShape::new(56, 64, 64, 3, 1), 2, 4, InputKind::NonNeg);
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
    assert_eq!(rows.len(), 45);
    for trio in rows.chunks(3) {
        let (s, p, h) = (&trio[0], &trio[1], &trio[2]);
        assert_eq!(
            (s.profile.as_str(), p.profile.as_str(), h.profile.as_str()),
            ("sirnn", "privquant", "privquant-he")
        );
        assert!(p.bytes * 17 <= s.bytes * 10, "{p:?} vs {s:?}");
        // a larger menu never costs more bytes; the HE column differs only by taking `he`
        assert!(h.bytes <= p.bytes, "{h:?} vs {p:?}");
        assert!(h.option == p.option || h.option == "he", "{h:?} vs {p:?}");
    }
}

proptest! {
    // 12 random geometries × every option per run (each a two-party run with its own base
    // OTs); proptest draws a fresh seed every run, so CI keeps exploring new shapes, and the
    // fixed tests above hold the edge cases (1-bit and 16-bit widths, extreme fills, every
    // layout). 24 cases took about 1.5 min of CPU.
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn linear_random(d1 in 1usize..5, d2 in 1usize..12, d3 in 1usize..6, lw in 1u32..10,
                     lx in 1u32..12, kind in 0usize..4, conv: bool, seed: u64) {
        let kind = KINDS[kind];
        let lp = if conv {
            let k = [1usize, 3][d2 % 2];
            LinearParams::conv(ConvShape::new(d3 + 2, d2.div_ceil(3), d1, k, 1 + d3 % 2), lw, lx, kind)
        } else {
            LinearParams::matmul(d1, d2, d3, lw, lx, kind)
        };
        for opt in LinOption::ALL {
            let r = run_linear(&lp, Some(opt), Fill::Random, Transport::Mem, Some(seed), pq_proto::OtKind::Iknp).unwrap();
            prop_assert!(r.correct, "{:?} {:?}", lp, opt);
            prop_assert!(r.cost_matches, "{:?} {:?}", lp, opt);
        }
    }
}

#[test]
fn planner_latency_objective() {
    let lat = lat();
    for kind in KINDS {
        for (d1, d2, d3, lw, lx) in [
            (64, 576, 3136, 2, 4),
            (1, 300, 1, 8, 8),
            (1000, 4, 2, 2, 6),
            (3, 9, 4, 4, 16),
        ] {
            let lp = LinearParams::matmul(d1, d2, d3, lw, lx, kind);
            let (o, c) = linear::choose(&lp, lat, Profile::PrivQuant, Menu::OT).unwrap();
            for (o2, c2) in linear::options(&lp, Profile::PrivQuant, Menu::OT).unwrap() {
                assert!(lat.of(&c) <= lat.of(&c2), "{lp:?}: {o:?} vs {o2:?}");
            }
        }
    }
    // many outputs per input element (d1 ≫ d3): decomposing X needs far fewer OTs
    let wide = LinearParams::matmul(1000, 4, 2, 2, 6, InputKind::NonNeg);
    assert_eq!(
        linear::choose(&wide, Objective::Bytes, Profile::PrivQuant, Menu::OT)
            .unwrap()
            .0,
        LinOption::DecompX
    );
    // a ResNet conv (d3 ≫ d1, 2-bit weights): decomposing W after extending X
    let cv = LinearParams::conv(ConvShape::new(56, 64, 64, 3, 1), 2, 4, InputKind::NonNeg);
    assert_eq!(
        linear::choose(&cv, Objective::Bytes, Profile::PrivQuant, Menu::OT)
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

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Random W and X in their ranges (`extreme`: W at its minimum and X at its extreme), shared
/// (or held in clear by the client), run `opt` at output width `l` with [`linear::run_at`]:
/// the output reconstructs to W·X mod 2^l, the measured bytes per direction equal
/// [`linear::cost_at`], and the measured flights equal its rounds.
fn at_case(lp: &LinearParams, opt: LinOption, l: u32, extreme: bool, seed: u64) {
    at_case_with(lp, opt, l, extreme, seed, true);
}

/// [`at_case`], the measured flights compared with the cost's rounds only when `flights`.
fn at_case_with(
    lp: &LinearParams,
    opt: LinOption,
    l: u32,
    extreme: bool,
    seed: u64,
    flights: bool,
) {
    let mut r = Rng(seed | 1);
    let (lw, lx) = (lp.lw, lp.lx);
    let nonneg = matches!(
        lp.input,
        InputKind::NonNeg | InputKind::Clear { nonneg: true }
    );
    let w: Vec<i64> = (0..lp.d1 * lp.d2)
        .map(|_| {
            if extreme {
                -(1i64 << (lw - 1))
            } else {
                to_signed(r.next() & mask(lw), lw)
            }
        })
        .collect();
    let x: Vec<i64> = (0..lp.n_in())
        .map(|_| match (nonneg, extreme) {
            (true, true) => (mask(lx) >> 1) as i64,
            (true, false) => (r.next() & (mask(lx) >> 1)) as i64,
            (false, true) => -(1i64 << (lx - 1)),
            (false, false) => to_signed(r.next() & mask(lx), lx),
        })
        .collect();
    let xu: Vec<u64> = x.iter().map(|&v| v as u64 & mask(lx)).collect();
    let (xa, xb): (Vec<u64>, Vec<u64>) = if matches!(lp.input, InputKind::Clear { .. }) {
        (Vec::new(), xu)
    } else {
        let a: Vec<u64> = xu.iter().map(|_| r.next() & mask(lx)).collect();
        let b = xu
            .iter()
            .zip(&a)
            .map(|(v, s)| v.wrapping_sub(*s) & mask(lx))
            .collect();
        (a, b)
    };
    let (l1, l2) = (*lp, *lp);
    let wc = w.clone();
    let out = run_parties(
        Transport::Mem,
        Profile::PrivQuant,
        Some(seed),
        move |p| linear::run_at(p, &l1, opt, l, &wc, &xa),
        move |p| linear::run_at(p, &l2, opt, l, &[], &xb),
    )
    .unwrap();
    let want = linear::reference(lp, &w, &x);
    assert_eq!(out.server.len(), want.len());
    for (i, ((a, b), r)) in out.server.iter().zip(&out.client).zip(&want).enumerate() {
        assert_eq!(
            a.wrapping_add(*b) & mask(l),
            *r as u64 & mask(l),
            "{lp:?} {opt:?} l={l} i={i}"
        );
    }
    let c = linear::cost_at(lp, opt, l, Profile::PrivQuant).unwrap();
    assert_eq!(
        out.bytes_server_to_client(),
        c.server_to_client,
        "{lp:?} {opt:?} l={l}"
    );
    assert_eq!(
        out.bytes_client_to_server(),
        c.client_to_server,
        "{lp:?} {opt:?} l={l}"
    );
    if flights {
        assert_eq!(out.flights(), c.rounds, "{lp:?} {opt:?} l={l}");
    }
}

/// Every option at output widths below lx, just below acc_bits and above it (random
/// operands), and at acc_bits on extreme operands, for every input kind, two layouts and three
/// width pairs.
///
/// One two-party run per (kind, width pair, layout, option), alternating between the random
/// run at the rotated width class and the extreme run at acc_bits: every (kind, layout,
/// option) still gets both kinds of run (one of the three width pairs has each parity), and
/// every option meets every width class. Running both for every combination (twice the runs,
/// about 1.5 min of CPU) repeated the same paths.
#[test]
fn run_at_every_option_below_and_above_acc_bits() {
    for (ki, &kind) in KINDS.iter().enumerate() {
        for (wi, (lw, lx)) in [(1, 1), (4, 1), (3, 6)].into_iter().enumerate() {
            let mm = LinearParams::matmul(3, 5, 3, lw, lx, kind);
            let cv = LinearParams::conv(ConvShape::new(5, 2, 2, 3, 2), lw, lx, kind);
            for (gi, lp) in [mm, cv].iter().enumerate() {
                let acc = lp.acc_bits().unwrap();
                // below lx (no wrap / no extension), just below acc_bits, above it
                let ls = [
                    lx.saturating_sub(1).max(1),
                    acc.saturating_sub(1).max(1),
                    acc + 5,
                ];
                for (oi, opt) in LinOption::ALL.into_iter().enumerate() {
                    let seed = (ki * 1000 + gi * 100) as u64 + lw as u64 * 10 + lx as u64;
                    // each option meets every width class over the kinds and layouts
                    let l = ls[(oi + ki + gi) % 3];
                    if (oi + ki + gi + wi) % 2 == 0 {
                        at_case(lp, opt, l, false, seed + l as u64);
                    } else {
                        at_case(lp, opt, acc, true, seed);
                    }
                }
            }
        }
    }
}

#[test]
fn accumulator_exactly_64_bits() {
    // signed 32 × signed 32, d2 = 1: (−2^31)² = 2^62 → 64 bits; nonneg 33-bit X: −2^31·(2^32−1)
    let cases = [
        LinearParams::matmul(2, 1, 3, 32, 32, InputKind::Signed),
        LinearParams::matmul(2, 1, 3, 32, 33, InputKind::NonNeg),
        LinearParams::matmul(2, 1, 2, 32, 32, InputKind::Clear { nonneg: false }),
        LinearParams::matmul(1, 1, 2, 32, 33, InputKind::Clear { nonneg: true }),
        LinearParams::conv(ConvShape::new(2, 1, 2, 1, 1), 32, 32, InputKind::Signed),
        LinearParams::conv(ConvShape::new(2, 1, 2, 1, 2), 32, 33, InputKind::NonNeg),
    ];
    for (i, lp) in cases.iter().enumerate() {
        assert_eq!(lp.acc_bits().unwrap(), 64, "{lp:?}");
        for (oi, opt) in LinOption::ALL.into_iter().enumerate() {
            // one fill per (case, option), in rotation: every option meets every fill over the
            // six cases and every case every fill over the options; the extreme operands at
            // 64 bits and random ones at 63 run for every pair below (all three fills for
            // every pair tripled these runs)
            let fill = [Fill::Random, Fill::ExtremeLow, Fill::ExtremeHigh][(oi + i) % 3];
            opt_case(lp, opt, fill, i as u64);
            at_case(lp, opt, 64, true, 5 + i as u64);
            at_case(lp, opt, 63, false, 6 + i as u64);
        }
        planner_is_min(lp);
    }
    // the wrap of 33-bit shares lands at bit 33 < 64; lx = 64 needs no wrap at all
    let lp = LinearParams::matmul(2, 1, 2, 1, 64, InputKind::NonNeg);
    assert_eq!(lp.acc_bits().unwrap(), 64);
    for opt in LinOption::ALL {
        at_case(&lp, opt, 64, false, 9);
    }
}

#[test]
fn paper_options_and_names() {
    let mut names: Vec<&str> = LinOption::ALL.iter().map(|o| o.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), LinOption::ALL.len());
    for n in 1..=4u8 {
        assert!(LinOption::ALL.iter().any(|o| o.paper_option() == n));
    }
    assert_eq!(LinOption::DecompX.paper_option(), 1);
    assert_eq!(LinOption::DecompW.paper_option(), 2);
    assert_eq!(LinOption::DecompXExt.paper_option(), 3);
    assert_eq!(LinOption::DecompXExtCols.paper_option(), 3);
    assert_eq!(LinOption::ExtendX.paper_option(), 4);
    assert_eq!(LinOption::ExtendXCols.paper_option(), 4);
    assert_eq!(LinOption::DecompXMux.paper_option(), 1);
    assert_eq!(LinOption::DecompWMux.paper_option(), 2);
    // the HE option: not in Table 4, not an OT option
    assert_eq!(LinOption::He.name(), "he");
    assert_eq!(LinOption::He.paper_option(), 0);
    assert!(!LinOption::ALL.contains(&LinOption::He));
    assert!(!names.contains(&"he"));
}

/// The wrap COT (correlation W column·f, one message set) against the paper-literal
/// both-message OT MUX (two message sets): the MUX costs exactly one more set of
/// d1·(L − lx)-bit messages per im2col element, and the same when there is no wrap.
#[test]
fn mux_wrap_costs_more() {
    let pr = Profile::PrivQuant;
    for kind in KINDS {
        for lp in [
            LinearParams::matmul(7, 30, 5, 2, 4, kind),
            LinearParams::conv(ConvShape::new(6, 3, 5, 3, 1), 3, 5, kind),
            LinearParams::conv(ConvShape::new(56, 64, 64, 3, 1), 2, 4, kind),
        ] {
            let l = lp.acc_bits().unwrap();
            for (cot, mux) in [
                (LinOption::DecompX, LinOption::DecompXMux),
                (LinOption::DecompW, LinOption::DecompWMux),
            ] {
                let a = linear::cost(&lp, cot, pr).unwrap();
                let b = linear::cost(&lp, mux, pr).unwrap();
                let ne = (lp.d2 * lp.d3) as u64;
                if matches!(kind, InputKind::Clear { .. }) {
                    assert_eq!(a, b);
                    continue;
                }
                assert_eq!(a.client_to_server, b.client_to_server, "{lp:?}");
                let extra = b.server_to_client - a.server_to_client;
                let bits = ne * lp.d1 as u64 * (l - lp.lx) as u64;
                // per-call byte rounding: within one byte per call of the extra message set
                assert!(
                    extra.abs_diff(bits / 8) <= b.rounds,
                    "{lp:?} {extra} vs {bits}"
                );
                assert!(b.rounds >= a.rounds);
            }
        }
    }
}

#[test]
fn extension_placement() {
    let pr = Profile::PrivQuant;
    let pairs = [
        (LinOption::ExtendX, LinOption::ExtendXCols),
        (LinOption::DecompXExt, LinOption::DecompXExtCols),
    ];
    for kind in [InputKind::NonNeg, InputKind::Signed] {
        // matmul: im2col is the identity, both placements cost the same
        let mm = LinearParams::matmul(4, 30, 7, 2, 4, kind);
        // 3×3 conv, stride 1: the im2col elements are 9× the input (minus nothing: the
        // padding is part of the columns), so the paper's placement extends ~9× more
        let cv = LinearParams::conv(ConvShape::new(8, 4, 4, 3, 1), 2, 4, kind);
        for (t, c) in pairs {
            assert_eq!(
                linear::cost(&mm, t, pr).unwrap(),
                linear::cost(&mm, c, pr).unwrap()
            );
            let (a, b) = (
                linear::cost(&cv, t, pr).unwrap(),
                linear::cost(&cv, c, pr).unwrap(),
            );
            assert!(a.total() < b.total(), "{t:?} {a:?} vs {c:?} {b:?}");
        }
        // the planner never prefers the column placement when the tensor one ties or wins
        for lp in [mm, cv] {
            let (o, _) = linear::choose(&lp, Objective::Bytes, pr, Menu::OT).unwrap();
            assert!(!matches!(
                o,
                LinOption::ExtendXCols | LinOption::DecompXExtCols
            ));
        }
    }
    // clear input: the extension is local, the placements cost the same
    let cl = LinearParams::conv(
        ConvShape::new(8, 4, 4, 3, 1),
        2,
        4,
        InputKind::Clear { nonneg: false },
    );
    for (t, c) in pairs {
        assert_eq!(
            linear::cost(&cl, t, pr).unwrap(),
            linear::cost(&cl, c, pr).unwrap()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    /// Every option at a random output width (below, at, above acc_bits), random geometry.
    #[test]
    fn linear_random_at(d1 in 1usize..4, cin in 1usize..3, hw in 1usize..5, k3: bool,
                        stride in 1usize..3, conv: bool, lw in 1u32..9, lx in 1u32..10,
                        kind in 0usize..4, dl in -3i32..12, seed: u64) {
        let kind = KINDS[kind];
        let lp = if conv {
            LinearParams::conv(ConvShape::new(hw, cin, d1, if k3 { 3 } else { 1 }, stride), lw, lx, kind)
        } else {
            LinearParams::matmul(d1, cin * 3, hw, lw, lx, kind)
        };
        prop_assume!(lp.d3 > 0);
        let l = (lp.acc_bits().unwrap() as i32 + dl).clamp(1, 64) as u32;
        for opt in LinOption::ALL {
            at_case(&lp, opt, l, false, seed);
        }
        planner_is_min(&lp);
    }
}

#[test]
fn chunked_into_several_calls() {
    // calls of at most 2^12 values, d3 = 2^10 + 3: the W-bit OTs carry d3 values each, three
    // per call (two calls for the six OTs); the X-bit OTs (one value each) need
    // ⌈3·d3·bits / 2^12⌉ calls. Run and cost split identically. The default limit (2^24)
    // splits the same way on layers 2^12 times larger.
    let d3 = (1 << 10) + 3;
    for (i, kind) in [InputKind::NonNeg, InputKind::Clear { nonneg: false }]
        .into_iter()
        .enumerate()
    {
        let lp = LinearParams::matmul(1, 3, d3, 2, 2, kind).with_call_values(1 << 12);
        let l = lp.acc_bits().unwrap();
        let c = linear::cost(&lp, LinOption::ExtendX, Profile::PrivQuant).unwrap();
        assert!(c.rounds >= 2);
        for opt in LinOption::ALL {
            at_case(&lp, opt, l, false, 11 + i as u64);
        }
    }
}

/// The five ResNet50 convs at W2A4 (cost only): every option's bytes and rounds, printed
/// with `--nocapture`; the planner takes the minimum.
#[test]
fn resnet50_options_table() {
    let pr = Profile::PrivQuant;
    for kind in [InputKind::NonNeg, InputKind::Signed] {
        for &(hw, ch, k) in RESNET50_CONVS.iter() {
            let lp = LinearParams::conv(ConvShape::new(hw, ch, ch, k, 1), 2, 4, kind);
            let l = lp.acc_bits().unwrap();
            let (best, _) = linear::choose(&lp, Objective::Bytes, pr, Menu::OT).unwrap();
            let (lat, _) = linear::choose(&lp, lat(), pr, Menu::OT).unwrap();
            let row: Vec<String> = linear::options(&lp, pr, Menu::OT)
                .unwrap()
                .iter()
                .map(|(o, c)| {
                    format!(
                        "{}(#{}) {:.3} GB/{}r",
                        o.name(),
                        o.paper_option(),
                        c.total() as f64 / 1e9,
                        c.rounds
                    )
                })
                .collect();
            eprintln!(
                "{kind:?} hw={hw} ch={ch} k={k} L={l}: bytes→{} latency→{} | {}",
                best.name(),
                lat.name(),
                row.join(", ")
            );
            planner_is_min(&lp);
        }
    }
}

/// The duplex split (option 4 on some output rows, option 1 on the rest, calls paired so both
/// directions carry payload in each round trip): bit-exact for every input kind and layout,
/// cost = measured bytes, and each paired round trip is at most two flights per party.
#[test]
fn duplex_split_exact_and_metered() {
    for (ki, &kind) in KINDS.iter().enumerate() {
        for (lw, lx) in [(2, 4), (1, 1), (3, 6)] {
            let mm = LinearParams::matmul(5, 7, 3, lw, lx, kind);
            let cv = LinearParams::conv(ConvShape::new(5, 3, 4, 3, 1), lw, lx, kind);
            let cs = LinearParams::conv(ConvShape::new(6, 2, 3, 3, 2), lw, lx, kind);
            for (gi, lp) in [mm, cv, cs].iter().enumerate() {
                for rows_x in 1..lp.d1 as u32 {
                    let opt = LinOption::Duplex { rows_x };
                    let fill = [Fill::Random, Fill::ExtremeLow, Fill::ExtremeHigh]
                        [(rows_x as usize + gi + ki) % 3];
                    let seed = (ki * 100 + gi * 10) as u64 + rows_x as u64;
                    let r = run_linear(
                        lp,
                        Some(opt),
                        fill,
                        Transport::Mem,
                        Some(seed),
                        pq_proto::OtKind::Iknp,
                    )
                    .unwrap();
                    assert!(r.correct, "{lp:?} {opt:?} {fill:?}");
                    assert!(r.cost_matches, "{lp:?} {opt:?}");
                    assert!(r.measured_flights <= 2 * r.rounds, "{lp:?} {opt:?}");
                }
                // rows_x outside 1..d1 is a typed error
                for rows_x in [0, lp.d1 as u32] {
                    let opt = LinOption::Duplex { rows_x };
                    assert!(linear::cost(lp, opt, Profile::PrivQuant).is_err());
                }
            }
        }
    }
    // many uneven paired calls: tiny call limits give each side several calls of different
    // counts (the shorter sequence padded with empty calls)
    for (cv, rows_x) in [(64u64, 1u32), (64, 5), (200, 8), (7, 3)] {
        for kind in KINDS {
            let lp = LinearParams::matmul(9, 6, 10, 2, 4, kind).with_call_values(cv);
            let opt = LinOption::Duplex { rows_x };
            let c = linear::cost(&lp, opt, Profile::PrivQuant).unwrap();
            assert!(c.rounds >= 3, "{cv} {rows_x}: {}", c.rounds);
            let r = run_linear(
                &lp,
                Some(opt),
                Fill::Random,
                Transport::Mem,
                Some(cv),
                pq_proto::OtKind::Iknp,
            )
            .unwrap();
            assert!(r.correct && r.cost_matches, "{lp:?} {opt:?}");
            assert!(r.measured_flights <= 2 * r.rounds, "{lp:?} {opt:?}");
        }
    }
    // a bigger layer (each side's calls of at most 2^24 values, paired one to one)
    let big = LinearParams::matmul(64, 600, 300, 2, 4, InputKind::NonNeg);
    let r = run_linear(
        &big,
        Some(LinOption::Duplex { rows_x: 40 }),
        Fill::Random,
        Transport::Mem,
        Some(3),
        pq_proto::OtKind::Iknp,
    )
    .unwrap();
    assert!(r.correct && r.cost_matches);
    assert!(r.rounds >= 3, "{}", r.rounds);
}

/// Under the latency objective the planner splits big layers across both directions;
/// under the bytes objective it never does.
#[test]
fn duplex_only_for_latency_and_balanced() {
    let obj = lat();
    // the paper's five ResNet50 convs at W2A4: the bytes objective never splits; under the
    // latency objective the deep layers (few pixels, many channels: option 1's columns are
    // cheap) do
    let shapes = [
        (56, 64, 3),
        (28, 128, 3),
        (14, 256, 3),
        (7, 512, 3),
        (7, 512, 1),
    ];
    let mut split = vec![];
    for (hw, c, k) in shapes {
        let lp = LinearParams::conv(ConvShape::new(hw, c, c, k, 1), 2, 4, InputKind::NonNeg);
        let (ob, _) = linear::choose(&lp, Objective::Bytes, Profile::PrivQuant, Menu::OT).unwrap();
        assert!(!matches!(ob, LinOption::Duplex { .. }));
        let (o, _) = linear::choose(&lp, obj, Profile::PrivQuant, Menu::OT).unwrap();
        eprintln!("({hw}, {c}, {k}): {o:?}");
        if matches!(o, LinOption::Duplex { .. }) {
            split.push(lp);
        }
    }
    let lp = *split.last().expect("at least one conv splits");
    let (o, c) = linear::choose(&lp, obj, Profile::PrivQuant, Menu::OT).unwrap();
    let LinOption::Duplex { rows_x } = o else {
        panic!("expected a duplex split, got {o:?}")
    };
    assert!(rows_x > 0 && (rows_x as usize) < lp.d1);
    let best_fixed = linear::options(&lp, Profile::PrivQuant, Menu::OT)
        .unwrap()
        .iter()
        .map(|(_, c)| obj.of(c))
        .min()
        .unwrap();
    assert!(obj.of(&c) < best_fixed);
    // the busier direction carries less than under the bytes objective: the server now sends
    // payload too
    let (_, cb) = linear::choose(&lp, Objective::Bytes, Profile::PrivQuant, Menu::OT).unwrap();
    assert!(c.client_to_server < cb.client_to_server);
    assert!(c.server_to_client > 2 * cb.server_to_client);
    assert!(c.total() > cb.total());
    // a small layer with many rounds per byte keeps a fixed option
    let small = LinearParams::conv(ConvShape::new(4, 4, 4, 3, 1), 2, 4, InputKind::NonNeg);
    let (os, _) = linear::choose(&small, obj, Profile::PrivQuant, Menu::OT).unwrap();
    assert!(!matches!(os, LinOption::Duplex { .. }), "{os:?}");
}

/// The layers the HE-option tests use: small matmuls and convs (FC-like, wide, strided).
fn he_layers(kind: InputKind) -> [LinearParams; 5] {
    [
        LinearParams::matmul(7, 30, 5, 2, 4, kind),
        LinearParams::matmul(10, 64, 1, 8, 6, kind),
        LinearParams::conv(ConvShape::new(8, 16, 16, 3, 1), 2, 6, kind),
        LinearParams::conv(ConvShape::new(6, 3, 5, 3, 2), 3, 5, kind),
        LinearParams::conv(ConvShape::new(56, 64, 64, 3, 1), 2, 4, kind),
    ]
}

/// The HE option on the menu: offered exactly where `he_linear::cost_at` has parameters
/// (after the OT options, which are listed as with the HE option off), costed by it, and
/// chosen consistently: the chooser never takes it unless it scores strictly below every
/// fixed OT option, takes it (bytes objective) whenever it sends strictly fewer bytes than all
/// of them, and otherwise chooses exactly as without it. Holds for the stub (never offered)
/// and for the real implementation alike.
#[test]
fn he_menu_offers_and_chooses_consistently() {
    let pr = Profile::PrivQuant;
    for kind in KINDS {
        for lp in he_layers(kind) {
            let tight = lp.acc_bits().unwrap();
            for l in [tight, tight + 3] {
                let he = he_linear::cost_at(&lp, l, Profile::PrivQuant).unwrap();
                let ot = linear::options_at(&lp, l, pr, Menu::OT).unwrap();
                let all = linear::options_at(&lp, l, pr, Menu::WITH_HE).unwrap();
                assert_eq!(ot.len(), LinOption::ALL.len());
                assert_eq!(&all[..ot.len()], &ot[..], "{lp:?} l={l}");
                assert_eq!(all.get(ot.len()), he.map(|c| (LinOption::He, c)).as_ref());
                assert_eq!(all.len(), ot.len() + usize::from(he.is_some()));
                match he {
                    Some(c) => {
                        assert_eq!(linear::cost_at(&lp, LinOption::He, l, pr).unwrap(), c)
                    }
                    None => assert!(linear::cost_at(&lp, LinOption::He, l, pr).is_err()),
                }
                for obj in [Objective::Bytes, lat()] {
                    let (oo, co) = linear::choose_at(&lp, obj, l, pr, Menu::OT).unwrap();
                    let (oh, ch) = linear::choose_at(&lp, obj, l, pr, Menu::WITH_HE).unwrap();
                    assert_ne!(oo, LinOption::He);
                    // the OT options' best fixed score
                    let best_ot = ot
                        .iter()
                        .map(|(o, c)| linear::score(&lp, *o, l, c, obj))
                        .min()
                        .unwrap();
                    // an OT option's score is its objective value
                    for (o, c) in &ot {
                        assert_eq!(linear::score(&lp, *o, l, c, obj), obj.of(c));
                    }
                    match he {
                        None => assert_eq!((oh, ch), (oo, co), "{lp:?} l={l} {obj:?}"),
                        Some(hc) => {
                            let hs = linear::score(&lp, LinOption::He, l, &hc, obj);
                            assert!(hs >= obj.of(&hc));
                            if oh == LinOption::He {
                                assert_eq!(ch, hc);
                                assert!(hs < best_ot, "{lp:?} l={l} {obj:?}");
                            } else {
                                assert_eq!((oh, ch), (oo, co), "{lp:?} l={l} {obj:?}");
                            }
                            if obj == Objective::Bytes && hc.total() < best_ot {
                                assert_eq!(oh, LinOption::He, "{lp:?} l={l}");
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Where the HE option is offered it runs like every option: bit-exact at the tightest width,
/// below it and above it, on random and extreme operands, its measured bytes equal to its
/// cost. Where it is not offered, asking for it is a typed error before any traffic.
#[test]
fn he_option_exact_where_offered() {
    for (ki, &kind) in KINDS.iter().enumerate() {
        for (li, lp) in he_layers(kind).iter().take(4).enumerate() {
            let tight = lp.acc_bits().unwrap();
            let seed = (ki * 10 + li) as u64;
            if he_linear::cost_at(lp, tight, Profile::PrivQuant)
                .unwrap()
                .is_none()
            {
                let r = run_linear(
                    lp,
                    Some(LinOption::He),
                    Fill::Random,
                    Transport::Mem,
                    None,
                    pq_proto::OtKind::Iknp,
                );
                assert!(
                    matches!(r, Err(pq_proto::ProtoError::Param { name: "option", .. })),
                    "{lp:?}: {r:?}"
                );
                continue;
            }
            for fill in [Fill::Random, Fill::ExtremeLow, Fill::ExtremeHigh] {
                let r = run_linear(
                    lp,
                    Some(LinOption::He),
                    fill,
                    Transport::Mem,
                    Some(seed),
                    pq_proto::OtKind::Iknp,
                )
                .unwrap();
                assert!(r.correct, "{lp:?} {fill:?}: wrong output");
                assert!(
                    r.cost_matches,
                    "{lp:?} {fill:?}: bytes differ from the cost"
                );
            }
            for l in [tight.saturating_sub(2).max(1), tight + 5] {
                if he_linear::cost_at(lp, l, Profile::PrivQuant)
                    .unwrap()
                    .is_some()
                {
                    at_case_with(lp, LinOption::He, l, false, seed, false);
                }
            }
        }
    }
}
