//! Property tests: random sizes, widths, shifts and seeds; every protocol reconstructs to the
//! plaintext reference and its measured bytes equal its cost function.

use bench_harness::runners::micro::{MicroParams, run_micro};
use pq_netsim::Transport;
use pq_proto::sirnn::matmul::MultMode;
use proptest::prelude::*;

fn check(op: &str, p: MicroParams, seed: u64) -> Result<(), TestCaseError> {
    let r = run_micro(op, &p, Transport::Mem, Some(seed))
        .map_err(|e| TestCaseError::fail(format!("{op}: {e}")))?;
    prop_assert!(r.correct, "{} {:?}: wrong output", op, p);
    prop_assert!(r.cost_matches, "{} {:?}: bytes differ from cost", op, p);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn comparisons(l in 1u32..=64, n in 0usize..50, seed: u64, op in 0usize..3) {
        let op = ["mill", "milleq", "eq"][op];
        check(op, MicroParams { n, l: Some(l), ..MicroParams::default() }, seed)?;
    }

    #[test]
    fn aux(l in 1u32..=64, n in 0usize..50, seed: u64, op in 0usize..6) {
        let op = ["wrap", "msb", "msb2wrap", "b2a", "mux", "and"][op];
        check(op, MicroParams { n, l: Some(l), ..MicroParams::default() }, seed)?;
    }

    #[test]
    fn extension(from in 1u32..=64, extra in 0u32..20, mk: bool, n in 0usize..40, seed: u64, signed: bool) {
        let to = (from + extra).min(64);
        check(if signed { "sext" } else { "zext" }, MicroParams { n, from, to, msb_known: mk, ..MicroParams::default() }, seed)?;
    }

    #[test]
    fn truncations(bw in 2u32..=64, s_frac in 0.0f64..1.0, mk: bool, n in 0usize..40, seed: u64, op in 0usize..3) {
        let s = ((bw - 1) as f64 * s_frac) as u32;
        let op = ["trunc", "tr", "divpow2"][op];
        check(op, MicroParams { n, bw, s, msb_known: mk, ..MicroParams::default() }, seed)?;
    }

    #[test]
    fn relu(l in 1u32..=64, n in 0usize..40, seed: u64) {
        check("relu", MicroParams { n, l: Some(l), ..MicroParams::default() }, seed)?;
    }

    #[test]
    fn matmul(d1 in 1usize..5, d2 in 1usize..20, d3 in 1usize..5, bwa in 1u32..17, bwb in 1u32..17, mode in 0usize..3, seed: u64) {
        let mode = [MultMode::AliceHasA, MultMode::AliceHasB, MultMode::None][mode];
        check("matmul", MicroParams { d1, d2, d3, bwa, bwb, mode, ..MicroParams::default() }, seed)?;
    }
}
