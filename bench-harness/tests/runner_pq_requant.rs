//! privquant profile: Π_Requant (Algorithm 1, exact form) matches
//! `pq_proto::privquant::requant::reference` bit for bit and its measured bytes equal the cost
//! function.

use bench_harness::runners::pq_micro::{RequantParams, run_requant};
use pq_netsim::Transport;
use pq_proto::Profile;
use pq_proto::privquant::requant::{self, RequantCase};
use proptest::prelude::*;

fn case(l1: u32, s1: i32, l2: u32, s2: i32, msb_known: bool, n: usize, seed: u64) {
    let rp = RequantParams {
        n,
        l1,
        s1,
        l2,
        s2,
        msb_known,
    };
    let r = run_requant(&rp, Transport::Mem, Some(seed), pq_proto::OtKind::Iknp).unwrap();
    assert!(r.correct, "{rp:?}: wrong output");
    assert!(
        r.cost_matches,
        "{rp:?}: bytes {} vs cost {}",
        r.bytes_total, r.cost_bytes
    );
}

#[test]
fn every_branch() {
    for mk in [false, true] {
        // l1 >= l2, s1 <= s2
        case(8, 0, 4, 1, mk, 20, 1);
        case(16, 3, 16, 3, mk, 20, 2);
        // TR then reduce
        case(16, 10, 8, 8, mk, 20, 3);
        case(16, 2, 4, 0, mk, 20, 4);
        case(16, 15, 1, 0, mk, 20, 5);
        case(64, 20, 32, 0, mk, 20, 6);
        // Trunc then reduce (fused Ext∘TR), incl. d >= l1
        case(8, 7, 6, 0, mk, 20, 7);
        case(8, 7, 8, 0, mk, 20, 8);
        case(8, 12, 6, 0, mk, 20, 9);
        case(14, 9, 6, 0, mk, 30, 10);
        case(1, 3, 1, 0, mk, 10, 11);
        // l1 < l2, s1 > s2: TR then Ext
        case(8, 3, 16, 0, mk, 20, 12);
        case(8, 7, 16, 0, mk, 20, 13);
        case(20, 5, 64, 0, mk, 20, 14);
        // l1 < l2, s1 <= s2: shift then Ext or reduce
        case(4, 0, 8, 2, mk, 20, 15);
        case(4, 0, 5, 2, mk, 20, 16);
        case(4, 0, 5, 1, mk, 20, 17);
        case(1, 0, 64, 0, mk, 20, 18);
        case(63, 0, 64, 0, mk, 20, 19);
    }
    case(14, 9, 6, 0, true, 0, 20);
}

#[test]
fn fused_is_cheaper_than_trunc() {
    // Prop 4.1: Ext∘TR beats a direct Π_Trunc (known MSB and not)
    let pr = Profile::PrivQuant;
    assert_eq!(
        requant::case(14, 9, 6, 0).unwrap(),
        RequantCase::TrExt { d: 9 }
    );
    for mk in [false, true] {
        let f = requant::cost(1000, 14, 9, 6, 0, mk, pr).unwrap();
        let t = pq_proto::sirnn::trunc::cost(1000, 14, 9, mk, pr);
        assert!(
            f.total() < t.total(),
            "{mk}: {} vs {}",
            f.total(),
            t.total()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn random(l1 in 1u32..=64, l2 in 1u32..=64, s1 in -8i32..40, s2 in -8i32..40, mk: bool,
              n in 0usize..24, seed: u64) {
        prop_assume!(!(l1 < l2 && s1 > s2 && (s1 - s2) as u32 >= l1));
        let rp = RequantParams { n, l1, s1, l2, s2, msb_known: mk };
        let r = run_requant(&rp, Transport::Mem, Some(seed), pq_proto::OtKind::Iknp).unwrap();
        prop_assert!(r.correct, "{:?}", rp);
        prop_assert!(r.cost_matches, "{:?}", rp);
    }
}

mod fused_ext {
    use pq_kernels::ring::{mask, to_signed};
    use pq_netsim::Transport;
    use pq_proto::Profile;
    use pq_proto::party::run_parties;
    use pq_proto::privquant::requant::{self, ExtendedOutput};
    use proptest::prelude::*;

    /// One fused requant-and-extend case: (l1, s1) → `target`, the input's MSB known when `mk`.
    #[allow(clippy::needless_range_loop)]
    fn case(
        l1: u32,
        s1: i32,
        target: ExtendedOutput,
        mk: bool,
        n: usize,
        seed: u64,
    ) -> Result<(), TestCaseError> {
        let ExtendedOutput { l2, s2, l3 } = target;
        let mut st = seed | 1;
        let mut next = || {
            st ^= st << 13;
            st ^= st >> 7;
            st ^= st << 17;
            st
        };
        let x: Vec<u64> = (0..n)
            .map(|_| {
                if mk {
                    if l1 == 1 { 0 } else { next() & mask(l1 - 1) }
                } else {
                    next() & mask(l1)
                }
            })
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
            move |p| requant::run_ext(p, &a, l1, s1, target, mk),
            move |p| requant::run_ext(p, &b, l1, s1, target, mk),
        )
        .unwrap();
        for i in 0..n {
            let want = pq_nn::reference::requant(to_signed(x[i], l1), l1, s1, l2, s2);
            let got = to_signed(out.server[i].wrapping_add(out.client[i]) & mask(l3), l3);
            prop_assert_eq!(got, want, "i={}", i);
        }
        let c = requant::cost_ext(n as u64, l1, s1, target, mk, Profile::PrivQuant).unwrap();
        prop_assert_eq!(out.bytes_server_to_client(), c.server_to_client);
        prop_assert_eq!(out.bytes_client_to_server(), c.client_to_server);
        // the fused form never costs more than requant, then a separate extension
        let sep = requant::cost(n as u64, l1, s1, l2, s2, mk, Profile::PrivQuant)
            .unwrap()
            .then(pq_proto::sirnn::extension::cost(
                n as u64,
                l2,
                l3,
                false,
                Profile::PrivQuant,
            ));
        prop_assert!(c.total() <= sep.total());
        Ok(())
    }

    #[test]
    fn fixed() {
        for mk in [false, true] {
            case(
                16,
                9,
                ExtendedOutput {
                    l2: 10,
                    s2: 0,
                    l3: 20,
                },
                mk,
                30,
                1,
            )
            .unwrap();
            case(
                8,
                3,
                ExtendedOutput {
                    l2: 16,
                    s2: 0,
                    l3: 32,
                },
                mk,
                30,
                2,
            )
            .unwrap();
            case(
                4,
                0,
                ExtendedOutput {
                    l2: 8,
                    s2: 2,
                    l3: 16,
                },
                mk,
                30,
                3,
            )
            .unwrap();
            case(
                16,
                10,
                ExtendedOutput {
                    l2: 8,
                    s2: 8,
                    l3: 12,
                },
                mk,
                30,
                4,
            )
            .unwrap();
            case(
                8,
                0,
                ExtendedOutput {
                    l2: 4,
                    s2: 1,
                    l3: 8,
                },
                mk,
                30,
                5,
            )
            .unwrap();
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn random(l1 in 1u32..=48, l2 in 1u32..=48, extra in 0u32..16, s1 in -4i32..30, s2 in -4i32..30,
                  mk: bool, n in 0usize..20, seed: u64) {
            prop_assume!(!(l1 < l2 && s1 > s2 && (s1 - s2) as u32 >= l1));
            case(l1, s1, ExtendedOutput { l2, s2, l3: (l2 + extra).min(64) }, mk, n, seed)?;
        }
    }
}
