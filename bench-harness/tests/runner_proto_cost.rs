//! Cost functions against every golden count: `docs/sci-protocols.md` §Golden byte totals,
//! and SCI's measured bytes for the ResNet50 (56, 64, 3) conv at W2 A4 (one thread and four).

use bench_harness::runners::micro::{ConvParams, conv_cost};
use pq_proto::Profile;
use pq_proto::sirnn::matmul::{self, MatmulParams, MultMode};
use pq_proto::sirnn::*;

const S: Profile = Profile::Sirnn;
const N: u64 = 65536;

/// bits per instance at n = 65536 (no padding effects)
fn bits(c: pq_proto::Cost) -> f64 {
    c.total() as f64 * 8.0 / N as f64
}

#[test]
fn cheat_sheet_bits() {
    assert_eq!(bits(millionaire::cost(N, 4, S)), 272.0);
    assert_eq!(bits(millionaire::cost(N, 8, S)), 724.0);
    for l in 10..=12 {
        assert_eq!(bits(millionaire::cost(N, l, S)), 1160.0, "Mill({l})");
    }
    assert_eq!(bits(millionaire::cost(N, 16, S)), 1744.0);
    assert_eq!(bits(millionaire::cost(N, 32, S)), 3932.0);
    assert_eq!(bits(millionaire::cost(N, 63, S)), 8456.0);
    assert_eq!(bits(millionaire::cost(N, 64, S)), 8456.0);
    assert_eq!(bits(millionaire::cost(N, 1, S)), 130.0);
    for l in 2..=4u32 {
        assert_eq!(bits(millionaire::cost(N, l, S)), 256.0 + (1u64 << l) as f64);
    }
    for l in 5..=64u32 {
        let q = l.div_ceil(4) as f64;
        let t = 2.0 * q - 2.0 - (q.log2().ceil());
        assert_eq!(
            bits(millionaire::cost(N, l, S)),
            288.0 * q + 148.0 * t,
            "Mill({l})"
        );
    }
    assert_eq!(bits(millionaire_eq::cost(N, 8, S)), 864.0);
    assert_eq!(bits(millionaire_eq::cost(N, 16, S)), 2016.0);
    assert_eq!(bits(millionaire_eq::cost(N, 32, S)), 4320.0);
    assert_eq!(bits(equality::cost(N, 8, S)), 696.0);
    assert_eq!(bits(equality::cost(N, 12, S)), 1120.0);
    assert_eq!(bits(equality::cost(N, 16, S)), 1544.0);
    assert_eq!(bits(equality::cost(N, 32, S)), 3240.0);
    assert_eq!(bits(msb_to_wrap::cost(N, S)), 260.0);
    assert_eq!(bits(and::cost(N, S)), 144.0);
    assert_eq!(bits(b2a::cost(N, 16, S)), 144.0);
    assert_eq!(bits(b2a::cost(N, 1, S)), 0.0);
    assert_eq!(bits(mux::cost(N, 16, S)), 288.0);
    assert_eq!(
        bits(relu::cost(N, 16, S)),
        bits(millionaire::cost(N, 15, S)) + 2.0 * (128.0 + 16.0)
    );
    assert_eq!(
        bits(relu::cost_ring(N, 16, S)),
        bits(millionaire::cost(N, 15, S)) + 2.0 * (128.0 + 32.0)
    );
    assert_eq!(bits(lut::cost(N, 4, 8, S)), 256.0 + 16.0 * 8.0);
    // extension / truncation formulas
    let m = |l| bits(millionaire::cost(N, l, S));
    let me = |l| bits(millionaire_eq::cost(N, l, S));
    let eq = |l| bits(equality::cost(N, l, S));
    assert_eq!(
        bits(extension::cost(N, 16, 32, false, S)),
        m(16) + 128.0 + 16.0
    );
    assert_eq!(
        bits(extension::cost(N, 16, 32, true, S)),
        260.0 + 128.0 + 16.0
    );
    assert_eq!(bits(tr::cost(N, 32, 12, S)), m(12) + 128.0 + 20.0);
    assert_eq!(
        bits(trunc::cost(N, 32, 12, false, S)),
        m(12) + me(20) + 144.0 + 140.0 + 160.0
    );
    assert_eq!(
        bits(trunc::cost(N, 32, 12, true, S)),
        m(12) + 260.0 + 140.0 + 160.0
    );
    assert_eq!(
        bits(divpow2::cost(N, 32, 12, S)),
        m(12) + eq(12) + me(19) + 288.0 + 260.0 + 140.0 + 2.0 * 160.0
    );
}

#[test]
fn golden_bytes_section8() {
    use pq_proto::Role;
    use pq_proto::ot_calls;
    assert_eq!(
        ot_calls::cot(Role::Server, 100_000, 16, S).total(),
        2_035_008
    );
    assert_eq!(ot_calls::cot(Role::Server, N, 32, S).total(), 1_310_720);
    assert_eq!(ot_calls::got(Role::Server, N, 8, S).total(), 1_179_648);
    assert_eq!(ot_calls::kkot(Role::Server, N, 16, 2, S).total(), 2_359_296);
    assert_eq!(millionaire::cost(N, 8, S).total(), 5_931_008);
    assert_eq!(millionaire::cost(N, 16, S).total(), 14_286_848);
    assert_eq!(millionaire::cost(N, 32, S).total(), 32_210_944);
    assert_eq!(millionaire_eq::cost(N, 16, S).total(), 16_515_072);
    assert_eq!(msb_to_wrap::cost(N, S).total(), 2_129_920);
    assert_eq!(mux::cost(N, 16, S).total(), 2_359_296);
    assert_eq!(b2a::cost(N, 16, S).total(), 1_179_648);
    assert_eq!(and::cost(N, S).total(), 1_179_648);
    assert_eq!(extension::cost(N, 16, 32, false, S).total(), 15_466_496);
    assert_eq!(trunc::cost(N, 32, 12, false, S).total(), 34_373_632);
    assert_eq!(tr::cost(N, 32, 12, S).total(), 10_715_136);
    assert_eq!(relu::cost(N, 16, S).total(), 16_646_144);
    assert_eq!(relu::cost(N, 32, S).total(), 34_832_384);
    let mp = MatmulParams {
        d1: 1,
        d2: 512,
        d3: 100,
        bwa: 8,
        bwb: 8,
        bwc: 16,
        mode: MultMode::AliceHasB,
    };
    assert_eq!(matmul::cost(&mp, S).total(), 8_169_456);
    // the OT layer's own cost module agrees
    let o = pq_ot::OtOpts::SCI;
    assert_eq!(pq_ot::bytes::cot_bytes(100_000, 16, o).total(), 2_035_008);
    assert_eq!(
        pq_ot::bytes::kkot_bytes(4321, 16, 2, o).total(),
        ot_calls::kkot(Role::Server, 4321, 16, 2, S).total()
    );
    assert_eq!(
        pq_ot::bytes::got_bytes(4321, 13, o).total(),
        ot_calls::got(Role::Server, 4321, 13, S).total()
    );
    assert_eq!(
        pq_ot::bytes::cot_bytes(4321, 13, o).total(),
        ot_calls::cot(Role::Server, 4321, 13, S).total()
    );
}

fn conv56() -> ConvParams {
    ConvParams {
        hw: 56,
        cin: 64,
        cout: 64,
        k: 3,
        stride: 1,
        wbits: 2,
        abits: 4,
        signed_input: false,
        sci_threads: 1,
        profile: S,
    }
}

#[test]
fn golden_conv_section10() {
    let c = conv56();
    let mp = c.matmul();
    assert_eq!((mp.d1, mp.d2, mp.d3), (64, 576, 3136));
    let total = conv_cost(&c);
    assert_eq!(total.total(), 1_425_439_744);
    // components
    use pq_proto::Role;
    use pq_proto::ot_calls;
    let dd = 1_806_336u64;
    assert_eq!(ot_calls::sci_pad(dd), 1_818_624);
    let cross: u64 = (0..4u32)
        .map(|i| ot_calls::batched_cot(Role::Server, &[(dd, 16 - i)], 64, S).total())
        .sum();
    assert_eq!(cross, 116_391_936 + 838_139_904);
    assert_eq!(millionaire::cost(dd, 4, S).total(), 61_808_640);
    assert_eq!(
        ot_calls::batched_got(Role::Server, dd, 64, 12, S).total(),
        375_914_496
    );
    assert_eq!(tr::cost(64 * 3136, 16, 10, S).total(), 33_184_768);
    // `docs/sci-protocols.md` §Round counts: about 11 round trips (4 cross batches, wrap 1,
    // MUX 1, TR 2 + 2 + 1)
    assert_eq!(total.rounds, 11);
    // SCI's 4-thread replication (`docs/sci-protocols.md` §Conv and FC in the SiRNN library),
    // 16 × 576 × 3136 per thread measured at 512,816,896 bytes
    let t = MatmulParams { d1: 16, ..mp };
    assert_eq!(matmul::cost(&t, S).total(), 512_816_896);
}

/// The full 56×56×64 W2A4 conv (big: run with `--ignored`).
#[test]
#[ignore]
fn conv56_measured() {
    let r = bench_harness::runners::micro::run_conv(&conv56(), pq_netsim::Transport::Mem, Some(3))
        .expect("conv");
    eprintln!(
        "conv56: bytes {} (s2c {}, c2s {}), rounds {}, flights {}, wall {:.2} s, correct {}",
        r.bytes_total,
        r.bytes_server_to_client,
        r.bytes_client_to_server,
        r.rounds,
        r.measured_flights,
        r.wall_s,
        r.correct
    );
    assert!(r.correct);
    assert!(r.cost_matches);
    assert_eq!(r.bytes_total, 1_425_439_744);
}

/// A small conv end to end (im2col, AliceHasA, TR).
#[test]
fn conv_small_measured() {
    for (hw, cin, cout, k, stride, signed) in [
        (6usize, 3usize, 4usize, 3usize, 1usize, false),
        (5, 2, 3, 1, 1, true),
        (7, 2, 2, 3, 2, true),
    ] {
        let c = ConvParams {
            hw,
            cin,
            cout,
            k,
            stride,
            wbits: 2,
            abits: 4,
            signed_input: signed,
            sci_threads: 4,
            profile: S,
        };
        let r = bench_harness::runners::micro::run_conv(&c, pq_netsim::Transport::Mem, Some(5))
            .expect("conv");
        assert!(r.correct && r.cost_matches, "{c:?}");
        assert!(r.bytes_sci_threads.is_some());
    }
}

#[test]
fn offline_split_is_consistent() {
    let c = millionaire::cost(N, 32, S);
    // leaf columns (minus 4 derandomisation bits per OT) + the whole triple KKOT are offline
    let leaves = 8 * N * 32 - 8 * N * 4 / 8;
    let triples = 11 * N / 2 * 36;
    assert_eq!(c.offline_bytes, leaves + triples);
    assert!(c.online_bytes() > 0);
    let r = relu::cost(N, 32, S);
    assert!(r.offline_bytes < r.total());
}
