//! The privquant micro runners (`conv`, `micro requant|residual`, the max-pool tree) on every
//! COT source: exact outputs, and measured bytes equal to the cost function plus the LPN
//! rounds that the step's reservation charges (`pq_proto::party::run_step`).

use bench_harness::runners::pq_micro::{
    PoolParams, RequantParams, run_conv_pq_with, run_maxpool_tree, run_requant, run_residual,
};
use pq_netsim::Transport;
use pq_proto::OtKind;
use pq_proto::privquant::linear::{Menu, Objective};
use pq_proto::privquant::residual::ResidualParams;
use pq_proto::sirnn::conv::ConvParams;

const SOURCES: [OtKind; 3] = [OtKind::Iknp, OtKind::SoftSpoken(4), OtKind::Ferret];

fn check(what: &str, ot: OtKind, r: &bench_harness::runners::micro::MicroReport) {
    assert!(r.correct, "{what} on {}: wrong output", ot.name());
    assert!(
        r.cost_matches,
        "{what} on {}: measured {} B, cost {} B",
        ot.name(),
        r.bytes_total,
        r.cost_bytes
    );
    assert_eq!(r.ot, ot.name());
}

#[test]
fn conv_on_every_source() {
    for ot in SOURCES {
        for (hw, cin, cout, k, wbits, abits, signed) in [
            (6usize, 8usize, 4usize, 3usize, 2u32, 4u32, false),
            (5, 3, 5, 1, 4, 8, true),
            (4, 2, 2, 3, 1, 1, false),
        ] {
            let c = ConvParams {
                hw,
                cin,
                cout,
                k,
                stride: 1,
                wbits,
                abits,
                signed_input: signed,
                sci_threads: 1,
                profile: pq_proto::Profile::PrivQuant.with_ot(ot),
            };
            let r = run_conv_pq_with(&c, Transport::Mem, Some(3), Objective::Bytes, Menu::OT, ot)
                .unwrap();
            check(&format!("conv {c:?}"), ot, &r);
        }
    }
}

#[test]
fn requant_residual_pool_on_every_source() {
    for ot in SOURCES {
        for (l1, s1, l2, s2, msb_known, n) in [
            (16u32, 4i32, 8u32, 0i32, false, 101usize),
            (12, 3, 6, 1, true, 0),
            (64, 10, 8, 0, false, 7),
        ] {
            let rp = RequantParams {
                n,
                l1,
                s1,
                l2,
                s2,
                msb_known,
            };
            let r = run_requant(&rp, Transport::Mem, Some(5), ot).unwrap();
            check(&format!("requant {rp:?}"), ot, &r);
        }
        let rp = ResidualParams {
            c: 4,
            cin: 4,
            hw: 3,
            k: 3,
            wbits: 2,
            abits: 6,
            rbits: 8,
        };
        let r = run_residual(&rp, Transport::Mem, Some(1), ot).unwrap();
        check("residual", ot, &r.report);
        let pp = PoolParams {
            c: 2,
            hw: 5,
            k: 3,
            stride: 2,
            pad: 1,
            l: 8,
        };
        let r = run_maxpool_tree(&pp, Transport::Mem, Some(2), ot).unwrap();
        check("maxpool", ot, &r);
    }
}
