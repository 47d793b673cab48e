//! The HE option of Π_Linear: bit-exact against the plaintext reference over a real channel,
//! measured bytes and flights equal to its cost, on random shapes (1×1, 3×3, 5×5 and 7×7
//! kernels, stride 2, padding, odd sizes, channel counts above one ciphertext, matmuls) and
//! inputs at the edges of their ranges.

use pq_kernels::ring::{mask, to_signed};
use pq_netsim::Transport;
use pq_proto::Profile;
use pq_proto::party::run_parties;
use pq_proto::privquant::he_linear;
use pq_proto::privquant::linear::{self, ConvShape, InputKind, LinearParams};
use proptest::prelude::*;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[derive(Clone, Copy, Debug)]
enum Fill {
    Random,
    /// W at its most negative value, X at the extreme of its range.
    Extreme,
}

/// Run the HE option at width `l` (default: the tightest accumulator) and check exactness,
/// bytes and flights.
fn case(lp: &LinearParams, l: Option<u32>, fill: Fill, transport: Transport, seed: u64) {
    let l = l.unwrap_or_else(|| lp.acc_bits().unwrap());
    let c = he_linear::cost_at(lp, l, pq_proto::Profile::PrivQuant)
        .unwrap()
        .unwrap_or_else(|| panic!("HE does not fit {lp:?} at {l} bits"));
    let mut r = Rng(seed | 1);
    let (lw, lx) = (lp.lw, lp.lx);
    let nonneg = matches!(
        lp.input,
        InputKind::NonNeg | InputKind::Clear { nonneg: true }
    );
    let extreme = matches!(fill, Fill::Extreme);
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
        transport,
        Profile::PrivQuant,
        None,
        move |p| he_linear::run_at(p, &l1, l, &wc, &xa),
        move |p| he_linear::run_at(p, &l2, l, &[], &xb),
    )
    .unwrap();
    let want = linear::reference(lp, &w, &x);
    assert_eq!(out.server.len(), want.len());
    assert_eq!(out.client.len(), want.len());
    for (i, ((a, b), r)) in out.server.iter().zip(&out.client).zip(&want).enumerate() {
        assert_eq!(
            a.wrapping_add(*b) & mask(l),
            *r as u64 & mask(l),
            "{lp:?} l={l} i={i}"
        );
    }
    assert_eq!(
        out.bytes_server_to_client(),
        c.server_to_client,
        "{lp:?} l={l}"
    );
    assert_eq!(
        out.bytes_client_to_server(),
        c.client_to_server,
        "{lp:?} l={l}"
    );
    assert_eq!(out.flights(), c.rounds, "{lp:?} l={l}");
}

/// A conv layer of shape (hw, cin, cout, k, stride).
fn conv(
    shape: (usize, usize, usize, usize, usize),
    lw: u32,
    lx: u32,
    input: InputKind,
) -> LinearParams {
    let (hw, cin, cout, k, s) = shape;
    LinearParams::conv(ConvShape::new(hw, cin, cout, k, s), lw, lx, input)
}

#[test]
fn kernels_strides_and_inputs() {
    let cases = [
        conv((9, 3, 5, 3, 1), 2, 4, InputKind::NonNeg),
        conv((7, 4, 3, 1, 1), 8, 6, InputKind::Signed),
        conv((11, 2, 4, 5, 2), 4, 5, InputKind::Signed),
        conv((13, 3, 4, 7, 2), 8, 9, InputKind::Clear { nonneg: true }),
        conv((8, 5, 6, 1, 2), 2, 6, InputKind::NonNeg),
        conv((10, 6, 7, 3, 2), 2, 6, InputKind::NonNeg),
        LinearParams::matmul(10, 64, 1, 8, 4, InputKind::NonNeg),
        LinearParams::matmul(7, 33, 3, 3, 5, InputKind::Signed),
    ];
    for (i, lp) in cases.iter().enumerate() {
        case(lp, None, Fill::Random, Transport::Mem, 10 + i as u64);
        case(lp, None, Fill::Extreme, Transport::Mem, 20 + i as u64);
    }
}

#[test]
fn polyphase_stem() {
    // a stem-like 7×7 stride-2 conv: the polyphase layout wins (and is exact)
    let lp = conv((64, 3, 4, 7, 2), 8, 8, InputKind::Clear { nonneg: true });
    let l = lp.acc_bits().unwrap();
    let hp = he_linear::plan(&lp, l).unwrap();
    assert_eq!(hp.layout, he_linear::Layout::Polyphase { s: 2 });
    case(&lp, None, Fill::Random, Transport::Mem, 8);
    let lp = conv((90, 2, 2, 3, 2), 2, 6, InputKind::NonNeg);
    assert_eq!(
        he_linear::plan(&lp, lp.acc_bits().unwrap()).unwrap().layout,
        he_linear::Layout::Polyphase { s: 2 }
    );
    case(&lp, None, Fill::Extreme, Transport::Mem, 9);
}

#[test]
fn more_channels_than_one_ciphertext_and_tcp() {
    // 3×3 on 16×16×64: more than one input block per tile; odd sizes
    case(
        &conv((16, 64, 16, 3, 1), 2, 6, InputKind::NonNeg),
        None,
        Fill::Random,
        Transport::Tcp,
        3,
    );
    case(
        &conv((15, 37, 5, 3, 1), 4, 4, InputKind::Signed),
        None,
        Fill::Extreme,
        Transport::Mem,
        4,
    );
}

#[test]
fn widths_one_and_wide() {
    let lp = conv((6, 2, 3, 3, 1), 2, 4, InputKind::NonNeg);
    case(&lp, Some(1), Fill::Random, Transport::Mem, 5);
    case(
        &lp,
        Some(lp.acc_bits().unwrap() + 7),
        Fill::Extreme,
        Transport::Mem,
        6,
    );
    // l below lx: the shares are reduced, no extension
    let lp = conv((6, 2, 3, 1, 1), 2, 8, InputKind::Signed);
    case(&lp, Some(5), Fill::Random, Transport::Mem, 7);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]
    #[test]
    fn random_convs(hw in 1usize..12, cin in 1usize..9, cout in 1usize..9, k in prop::sample::select(vec![1usize, 3, 5]),
                    s in 1usize..3, lw in 1u32..9, lx in 2u32..9, kind in 0u8..3, seed in any::<u64>()) {
        prop_assume!(hw + 2 * (k / 2) >= k);
        let input = match kind { 0 => InputKind::NonNeg, 1 => InputKind::Signed, _ => InputKind::Clear { nonneg: false } };
        let lp = conv((hw, cin, cout, k, s), lw, lx, input);
        case(&lp, None, Fill::Random, Transport::Mem, seed);
    }
}
