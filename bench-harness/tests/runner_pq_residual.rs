//! privquant profile: simplified residual add and the max-pool comparison tree, exact against
//! the plaintext reference, measured bytes equal to the cost functions.

use bench_harness::runners::pq_micro::{PoolParams, run_maxpool_tree, run_residual};
use pq_netsim::Transport;
use pq_proto::privquant::residual::{self, ResidualParams};

fn rp(c: usize, hw: usize, wbits: u32, abits: u32, rbits: u32) -> ResidualParams {
    ResidualParams {
        c,
        cin: c,
        hw,
        k: 3,
        wbits,
        abits,
        rbits,
    }
}

#[test]
fn residual_exact_and_cost() {
    for (i, p) in [
        rp(4, 3, 2, 6, 8),
        rp(16, 4, 2, 6, 8),
        rp(3, 2, 2, 4, 8),
        rp(8, 3, 4, 6, 8),
        rp(2, 5, 8, 8, 8),
        rp(5, 1, 1, 2, 3),
        rp(64, 2, 2, 6, 8),
    ]
    .iter()
    .enumerate()
    {
        let r = run_residual(p, Transport::Mem, Some(i as u64), pq_proto::OtKind::Iknp).unwrap();
        assert!(r.report.correct, "{p:?}: wrong output");
        assert!(
            r.report.cost_matches,
            "{p:?}: bytes {} vs cost {}",
            r.report.bytes_total, r.report.cost_bytes
        );
        eprintln!(
            "{p:?}: privquant {} B, sirnn-quant {} B ({} with TR), ratio {:.2}",
            r.report.cost_bytes, r.sirnn_quant_bytes, r.sirnn_quant_bytes_with_tr, r.ratio
        );
    }
}

#[test]
fn residual_ratio_resnet() {
    // ResNet32 stage 3 (8×8×64) and ResNet50-like shapes at W2A6R8
    for p in [
        rp(64, 8, 2, 6, 8),
        rp(16, 32, 2, 6, 8),
        rp(256, 14, 2, 6, 8),
    ] {
        let pq = residual::cost(&p, pq_proto::Profile::PrivQuant)
            .unwrap()
            .total();
        let sq = residual::sirnn_quant_cost(&p, false).unwrap().total();
        eprintln!(
            "{p:?}: privquant {pq} B, sirnn-quant {sq} B, ratio {:.2}",
            sq as f64 / pq as f64
        );
        assert!(sq as f64 >= 2.6 * pq as f64, "{p:?}: {sq} vs {pq}");
    }
}

#[test]
fn maxpool_tree_exact_and_cost() {
    for (i, &(c, hw, k, stride, pad, l)) in [
        (2usize, 6usize, 3usize, 2usize, 1usize, 6u32),
        (1, 5, 2, 2, 0, 4),
        (3, 4, 3, 1, 1, 8),
        (1, 3, 3, 1, 0, 1),
        (2, 7, 3, 2, 1, 64),
    ]
    .iter()
    .enumerate()
    {
        let pp = PoolParams {
            c,
            hw,
            k,
            stride,
            pad,
            l,
        };
        let r =
            run_maxpool_tree(&pp, Transport::Mem, Some(i as u64), pq_proto::OtKind::Iknp).unwrap();
        assert!(r.correct, "{c} {hw} {k} {stride} {pad} {l}");
        assert!(
            r.cost_matches,
            "{c} {hw} {k}: {} vs {}",
            r.bytes_total, r.cost_bytes
        );
    }
}
