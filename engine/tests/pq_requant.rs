//! privquant profile: Π_Requant (Algorithm 1, exact form) matches nn::reference::requant bit
//! for bit and its measured bytes equal the cost function.

use pq_engine::Profile;
use pq_engine::proto::pq_micro::{RequantParams, run_requant};
use pq_engine::proto::requant::{self, RequantPlan};
use pq_netsim::Transport;
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
    let r = run_requant(&rp, Transport::Mem, Some(seed)).unwrap();
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
        requant::plan(14, 9, 6, 0).unwrap(),
        RequantPlan::TrExt { d: 9 }
    );
    for mk in [false, true] {
        let f = requant::cost(1000, 14, 9, 6, 0, mk, pr).unwrap();
        let t = pq_engine::proto::trunc::cost(1000, 14, 9, mk, pr);
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
        let r = run_requant(&rp, Transport::Mem, Some(seed)).unwrap();
        prop_assert!(r.correct, "{:?}", rp);
        prop_assert!(r.cost_matches, "{:?}", rp);
    }
}
