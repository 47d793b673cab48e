//! The packing against a direct convolution: encode, multiply negacyclically (mod 2^64), sum
//! over channel groups, read through the output map.

use pq_he::pack::{ConvGeom, PackError, Packing, Tiling};
use proptest::prelude::*;

/// A small deterministic generator (splitmix64) for tensor values.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Direct convolution, wrapping (mod 2^64).
fn reference(g: &ConvGeom, x: &[u64], w: &[i64]) -> Vec<u64> {
    let (ho, wo, k) = (g.ho(), g.wo(), g.k);
    let mut y = vec![0u64; g.output_len()];
    for m in 0..g.m {
        for oi in 0..ho {
            for oj in 0..wo {
                let mut acc = 0u64;
                for c in 0..g.c {
                    for u in 0..k {
                        for v in 0..k {
                            let (pr, pc) = (oi * g.stride + u, oj * g.stride + v);
                            if pr < g.pad || pc < g.pad || pr - g.pad >= g.h || pc - g.pad >= g.w {
                                continue;
                            }
                            let xv = x[(c * g.h + pr - g.pad) * g.w + pc - g.pad];
                            let wv = w[((m * g.c + c) * k + u) * k + v] as u64;
                            acc = acc.wrapping_add(xv.wrapping_mul(wv));
                        }
                    }
                }
                y[(m * ho + oi) * wo + oj] = acc;
            }
        }
    }
    y
}

/// `acc += a · b` in Z_{2^64}[x]/(x^n+1), `b` sparse (sign-extended i64).
fn negacyclic_mul_add(acc: &mut [u64], a: &[u64], b: &[i64]) {
    let n = a.len();
    for (q, &bq) in b.iter().enumerate() {
        if bq == 0 {
            continue;
        }
        let bq = bq as u64;
        for (p, &ap) in a.iter().enumerate() {
            let t = ap.wrapping_mul(bq);
            let d = p + q;
            if d < n {
                acc[d] = acc[d].wrapping_add(t);
            } else {
                acc[d - n] = acc[d - n].wrapping_sub(t);
            }
        }
    }
}

/// Runs the packed convolution and checks the maps (sorted, in range, each Y index once).
fn packed(p: &Packing, x: &[u64], w: &[i64]) -> Vec<u64> {
    let n = p.n();
    let cg = p.channel_groups();
    let og = p.output_groups();
    let kernels: Vec<Vec<i64>> = (0..p.kernel_polys())
        .map(|i| {
            let mut out = vec![0i64; n];
            p.encode_kernel(w, i, &mut out).expect("kernel encodes");
            out
        })
        .collect();
    let mut y = vec![0u64; p.total_outputs()];
    let mut seen = vec![0u32; p.total_outputs()];
    let mut total = 0;
    let mut inp = vec![0u64; n];
    for tile in 0..p.spatial_tiles() {
        let mut outs = vec![vec![0u64; n]; og];
        for g in 0..cg {
            p.encode_input(x, tile * cg + g, &mut inp)
                .expect("input encodes");
            for (mg, acc) in outs.iter_mut().enumerate() {
                negacyclic_mul_add(acc, &inp, &kernels[mg * cg + g]);
            }
        }
        for (mg, poly) in outs.iter().enumerate() {
            let idx = tile * og + mg;
            let map = p.outputs(idx).expect("output index in range");
            assert_eq!(p.used_coeffs(idx), Some(map.len()));
            assert!(map.windows(2).all(|s| s[0].0 < s[1].0), "sorted, distinct");
            for &(coeff, yi) in map {
                assert!((coeff as usize) < n);
                seen[yi as usize] += 1;
            }
            total += map.len();
            p.decode_output(poly, idx, &mut y).expect("decodes");
        }
    }
    assert_eq!(total, p.total_outputs());
    assert!(seen.iter().all(|&s| s == 1), "every Y index exactly once");
    assert_eq!(p.outputs(p.output_polys()), None);
    y
}

fn random_tensors(g: &ConvGeom, seed: u64) -> (Vec<u64>, Vec<i64>) {
    let mut r = Rng(seed);
    let x = (0..g.input_len()).map(|_| r.next()).collect();
    let w = (0..g.kernel_len()).map(|_| r.next() as i64).collect();
    (x, w)
}

fn check(p: &Packing, seed: u64) {
    let (x, w) = random_tensors(p.geom(), seed);
    assert_eq!(
        packed(p, &x, &w),
        reference(p.geom(), &x, &w),
        "{:?} n={} {:?}",
        p.geom(),
        p.n(),
        p.tiling()
    );
}

/// The largest tile extent `new` accepts: the virtual-input extent any wanted output reads.
fn need(g: &ConvGeom) -> (usize, usize) {
    let s = if g.k == 1 { 1 } else { g.stride };
    ((g.ho() - 1) * s + g.k, (g.wo() - 1) * s + g.k)
}

/// Maps four random words to a tiling `new` must accept.
fn pick_tiling(g: &ConvGeom, n: usize, r: [u32; 4]) -> Tiling {
    let (hn, wn) = need(g);
    let pick = |lo: usize, hi: usize, r: u32| lo + r as usize % (hi - lo + 1);
    let ht = pick(g.k, hn.min(n / g.k), r[0]);
    let wt = pick(g.k, wn.min(n / ht), r[1]);
    let ct = pick(1, g.c.min(n / (ht * wt)), r[2]);
    let mt = pick(1, g.m.min(n / (ct * ht * wt)), r[3]);
    Tiling { ct, mt, ht, wt }
}

/// A `best` score.
type Score<'a> = dyn Fn(&Packing) -> Option<u64> + 'a;

fn conv_geom() -> impl Strategy<Value = ConvGeom> {
    (
        1usize..=7,
        1usize..=11,
        1usize..=11,
        1usize..=7,
        prop::sample::select(vec![1usize, 3, 5, 7]),
        1usize..=3,
        any::<bool>(),
    )
        .prop_map(|(c, h, w, m, k, stride, padded)| {
            let pad = if padded { k / 2 } else { 0 };
            ConvGeom::conv(c, h, w, m, k, stride, pad)
                .or_else(|| ConvGeom::conv(c, h, w, m, k, stride, k / 2))
                .expect("k odd and pad k/2 is always valid")
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn conv_matches_reference(
        g in conv_geom(),
        nexp in 6u32..=9,
        r in any::<[u32; 4]>(),
        seed in any::<u64>(),
    ) {
        let n = 1usize << nexp;
        let t = pick_tiling(&g, n, r);
        let p = Packing::new(g, n, t);
        prop_assert!(p.is_some(), "{g:?} n={n} {t:?} rejected");
        if let Some(p) = p {
            check(&p, seed);
        }
    }

    #[test]
    fn matmul_matches_reference(
        d1 in 1usize..=20,
        d2 in 1usize..=40,
        d3 in 1usize..=6,
        nexp in 6u32..=8,
        r in any::<[u32; 4]>(),
        seed in any::<u64>(),
    ) {
        let n = 1usize << nexp;
        let g = ConvGeom::matmul(d1, d2, d3).expect("valid matmul");
        prop_assert_eq!((g.ho(), g.wo(), g.output_len()), (1, d3, d1 * d3));
        let t = pick_tiling(&g, n, r);
        let p = Packing::new(g, n, t);
        prop_assert!(p.is_some());
        if let Some(p) = p {
            check(&p, seed);
        }
    }

    #[test]
    fn best_matches_brute_force(
        g in conv_geom(),
        nexp in 6u32..=8,
        l1_cap in 1usize..=400,
    ) {
        let n = 1usize << nexp;
        let (hn, wn) = need(&g);
        // Two scores: the polynomial count, and a byte proxy with a cap on the kernel L1
        // (which makes large Mt infeasible).
        let scores: [&Score<'_>; 2] = [
            &|p| Some((p.input_polys() + p.output_polys()) as u64),
            &|p| (p.max_kernel_l1() <= l1_cap)
                .then(|| (14 * p.input_polys() + 5 * p.output_polys()) as u64),
        ];
        for score in scores {
            let mut brute: Option<u64> = None;
            for ht in 1..=hn + 1 {
                for wt in 1..=wn + 1 {
                    for ct in 1..=g.c + 1 {
                        for mt in 1..=g.m + 1 {
                            let t = Tiling { ct, mt, ht, wt };
                            let valid = ht >= g.k && ht <= hn && wt >= g.k && wt <= wn
                                && ct <= g.c && mt <= g.m && mt * ct * ht * wt <= n;
                            let p = Packing::new(g, n, t);
                            prop_assert_eq!(p.is_some(), valid, "{:?} {:?}", g, t);
                            if let Some(s) = p.as_ref().and_then(score) {
                                brute = Some(brute.map_or(s, |b| b.min(s)));
                            }
                        }
                    }
                }
            }
            let best = Packing::best(g, n, score);
            prop_assert_eq!(best.as_ref().map(|b| b.1), brute);
            if let Some((p, s)) = best {
                let again = Packing::new(g, n, p.tiling());
                prop_assert!(again.is_some());
                if let Some(q) = again {
                    prop_assert_eq!(score(&q), Some(s));
                    prop_assert_eq!(q.input_polys(), p.input_polys());
                    prop_assert_eq!(q.output_polys(), p.output_polys());
                }
            }
        }
    }
}

/// More channels than fit one polynomial (several channel groups), N = 4096.
#[test]
fn many_channels_n4096() {
    let g = ConvGeom::conv(70, 8, 8, 5, 3, 1, 1).expect("valid");
    let n = 4096;
    let (p, _) = Packing::best(g, n, |p| Some((p.input_polys() + p.output_polys()) as u64))
        .expect("feasible");
    assert!(p.channel_groups() > 1, "{:?}", p.tiling());
    check(&p, 1);
    // A hand-picked tiling that splits spatially and in channels.
    let t = Tiling {
        ct: 16,
        mt: 2,
        ht: 6,
        wt: 10,
    };
    let p = Packing::new(g, n, t).expect("accepted");
    assert_eq!(
        (p.tiles_per_dir(), p.channel_groups(), p.output_groups()),
        ((2, 1), 5, 3)
    );
    check(&p, 2);
}

/// A ResNet-like stem: k = 7, stride 2, pad 3, and a 1×1 stride-2 downsample with padding.
#[test]
fn strided_stems() {
    for (g, n) in [
        (ConvGeom::conv(3, 30, 27, 4, 7, 2, 3), 1024),
        (ConvGeom::conv(6, 13, 14, 5, 1, 2, 0), 256),
        (ConvGeom::conv(6, 13, 14, 5, 1, 3, 1), 128),
        (ConvGeom::conv(4, 17, 9, 3, 3, 2, 1), 128),
    ] {
        let g = g.expect("valid");
        let (p, _) = Packing::best(g, n, |p| Some((p.input_polys() + p.output_polys()) as u64))
            .expect("feasible");
        check(&p, 3);
    }
}

#[test]
fn matmul_shapes() {
    for (d1, d2, d3, n) in [(10, 64, 1, 4096), (100, 300, 1, 1024), (7, 9, 13, 64)] {
        let g = ConvGeom::matmul(d1, d2, d3).expect("valid");
        let (p, _) = Packing::best(g, n, |p| {
            Some((14 * p.input_polys() + 5 * p.output_polys()) as u64)
        })
        .expect("feasible");
        check(&p, 4);
    }
}

#[test]
fn rejects_bad_inputs() {
    assert_eq!(ConvGeom::conv(1, 2, 2, 1, 3, 1, 0), None);
    assert_eq!(ConvGeom::conv(0, 2, 2, 1, 1, 1, 0), None);
    assert_eq!(ConvGeom::conv(1, 2, 2, 1, 1, 0, 0), None);
    assert_eq!(ConvGeom::matmul(0, 1, 1), None);
    assert_eq!(ConvGeom::conv(usize::MAX, 2, 2, 1, 1, 1, 0), None);
    let g = ConvGeom::conv(2, 4, 4, 2, 3, 1, 1).expect("valid");
    let t = Tiling {
        ct: 1,
        mt: 1,
        ht: 3,
        wt: 3,
    };
    assert!(Packing::new(g, 64, t).is_some());
    assert!(Packing::new(g, 63, t).is_none());
    assert!(Packing::new(g, 8, t).is_none());
    let bad_geom = ConvGeom { k: 7, ..g };
    assert!(Packing::new(bad_geom, 64, t).is_none());
    assert!(Packing::best(bad_geom, 64, |_| Some(0)).is_none());
    assert!(Packing::new(g, 64, Tiling { ct: 3, ..t }).is_none());
    assert!(Packing::new(g, 64, Tiling { mt: 0, ..t }).is_none());
    assert!(Packing::new(g, 64, Tiling { ht: 2, ..t }).is_none());
    assert!(Packing::new(g, 64, Tiling { wt: 7, ..t }).is_none());
    assert!(Packing::best(g, 64, |_| None).is_none());

    let p = Packing::new(g, 64, t).expect("valid");
    let (x, w) = random_tensors(&g, 5);
    let mut out = vec![0u64; 64];
    let mut kout = vec![0i64; 64];
    assert!(matches!(
        p.encode_input(&x, p.input_polys(), &mut out),
        Err(PackError::Index { .. })
    ));
    assert!(matches!(
        p.encode_input(&x[1..], 0, &mut out),
        Err(PackError::Length { .. })
    ));
    assert!(matches!(
        p.encode_input(&x, 0, &mut out[1..]),
        Err(PackError::Length { .. })
    ));
    assert!(matches!(
        p.encode_kernel(&w, p.kernel_polys(), &mut kout),
        Err(PackError::Index { .. })
    ));
    assert!(matches!(
        p.encode_kernel(&w[1..], 0, &mut kout),
        Err(PackError::Length { .. })
    ));
    let mut y = vec![0u64; p.total_outputs()];
    assert!(p.decode_output(&out, p.output_polys(), &mut y).is_err());
    assert!(p.decode_output(&out, 0, &mut y[1..]).is_err());
    assert_eq!(p.used_coeffs(p.output_polys()), None);
}

/// The picks for the report: `cargo test -p pq-he --release --test pack -- --ignored
/// --nocapture`.
#[test]
#[ignore]
fn report_picks() {
    let n = 4096;
    let cases = [
        (
            "conv 64->64 56x56 k3 s1 p1",
            ConvGeom::conv(64, 56, 56, 64, 3, 1, 1),
        ),
        (
            "conv 256->64 56x56 k1",
            ConvGeom::conv(256, 56, 56, 64, 1, 1, 0),
        ),
        (
            "conv 512->2048 7x7 k1",
            ConvGeom::conv(512, 7, 7, 2048, 1, 1, 0),
        ),
        (
            "conv 512->512 7x7 k3 p1",
            ConvGeom::conv(512, 7, 7, 512, 3, 1, 1),
        ),
        (
            "conv 3->64 224x224 k7 s2 p3",
            ConvGeom::conv(3, 224, 224, 64, 7, 2, 3),
        ),
        (
            "conv 1024->2048 14x14 k1 s2",
            ConvGeom::conv(1024, 14, 14, 2048, 1, 2, 0),
        ),
        ("matmul 1000x2048x1", ConvGeom::matmul(1000, 2048, 1)),
    ];
    for (name, g) in cases {
        let g = g.expect("valid");
        let score =
            |p: &Packing| Some((14 * p.input_polys() * n + 5 * p.output_polys() * n) as u64);
        let reps = 200;
        let mut calls = 0u64;
        let t0 = std::time::Instant::now();
        let mut pick = None;
        for _ in 0..reps {
            pick = Packing::best(g, n, |p| {
                calls += 1;
                score(p)
            });
        }
        let dt = t0.elapsed() / reps;
        let (p, s) = pick.expect("feasible");
        let t1 = std::time::Instant::now();
        let used: usize = (0..p.output_polys()).filter_map(|i| p.used_coeffs(i)).sum();
        let maps = t1.elapsed();
        println!(
            "{name}: {:?} tiles {:?} in {} out {} ker {} score {s} best {:?} ({} cands) maps {:?} used {used}",
            p.tiling(),
            p.tiles_per_dir(),
            p.input_polys(),
            p.output_polys(),
            p.kernel_polys(),
            dt,
            calls / reps as u64,
            maps,
        );
    }
}

/// Blocks filling the polynomial exactly (`Mt·Ct·Ht·Wt = N`): the last output channel's
/// targets sit just below `N` and nothing wraps onto them.
#[test]
fn full_polynomial() {
    for (g, t, n) in [
        (ConvGeom::conv(4, 6, 6, 4, 3, 1, 1), (2, 2, 8, 8), 256),
        (ConvGeom::conv(4, 5, 7, 3, 5, 1, 2), (4, 1, 8, 8), 256),
        (ConvGeom::conv(8, 9, 9, 8, 3, 2, 0), (2, 4, 4, 4), 128),
        (ConvGeom::matmul(8, 16, 4), (4, 4, 1, 4), 64),
    ] {
        let (ct, mt, ht, wt) = t;
        let p = Packing::new(g.expect("valid"), n, Tiling { ct, mt, ht, wt }).expect("accepted");
        assert_eq!(ct * mt * ht * wt, n);
        check(&p, 6);
    }
}
