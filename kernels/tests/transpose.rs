//! Transpose kernels against a naive bit-by-bit reference, on every available path.

use pq_kernels::Block;
use pq_kernels::cpu::Features;
use pq_kernels::transpose::{
    Kernel, row_bytes, transpose_128x128_inplace_with, transpose_128xn_with, transpose_256xn_with,
    transpose_with,
};
use proptest::prelude::*;

/// Deterministic bytes (SplitMix64).
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut s = seed;
    (0..len)
        .map(|_| {
            s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) as u8
        })
        .collect()
}

fn get_bit(m: &[u8], rb: usize, r: usize, c: usize) -> bool {
    (m[r * rb + c / 8] >> (c % 8)) & 1 == 1
}

/// Naive `rows × cols` -> `cols × rows`.
fn naive(input: &[u8], rows: usize, cols: usize) -> Vec<u8> {
    let (irb, orb) = (row_bytes(cols), row_bytes(rows));
    let mut out = vec![0u8; cols * orb];
    for r in 0..rows {
        for c in 0..cols {
            if get_bit(input, irb, r, c) {
                out[c * orb + r / 8] |= 1 << (r % 8);
            }
        }
    }
    out
}

/// Every path this CPU can run: (name, features).
fn paths() -> Vec<(&'static str, Features)> {
    let hw = Features::detect_hw();
    let mut v = vec![("portable", Features::portable())];
    if hw.sse2 {
        v.push((
            "sse2",
            Features {
                avx2: false,
                vaes: false,
                ..hw
            },
        ));
    }
    if hw.avx2 {
        v.push(("avx2", hw));
    }
    for (name, f) in &v {
        let want = match *name {
            "portable" => Kernel::Portable,
            "sse2" => Kernel::Sse2,
            _ => Kernel::Avx2,
        };
        assert_eq!(Kernel::select(*f), want, "{name}");
    }
    v
}

/// Sizes from the brief, plus 3 full tiles and one with rows >= 2 KiB apart and an odd tile
/// count (the AVX2 two-tile strip, a single trailing tile and a partial tail).
const NS: [usize; 14] = [
    0,
    1,
    7,
    8,
    127,
    128,
    129,
    255,
    256,
    1000,
    2048,
    4096 + 3,
    384,
    16384 + 3 * 128 + 77,
];

#[test]
fn t128xn_all_paths() {
    for (name, f) in paths() {
        for (i, &n) in NS.iter().enumerate() {
            let input = bytes(i as u64 + 1, 128 * row_bytes(n));
            let want = naive(&input, 128, n);
            // Output longer than n: the extra blocks must stay untouched.
            let sentinel = Block(0xdead_beef);
            let mut out = vec![sentinel; n + 3];
            transpose_128xn_with(f, &input, n, &mut out);
            for c in 0..n {
                assert_eq!(
                    out[c].to_bytes()[..],
                    want[c * 16..c * 16 + 16],
                    "{name} n={n} c={c}"
                );
            }
            assert!(
                out[n..].iter().all(|b| *b == sentinel),
                "{name} n={n}: wrote past n"
            );
        }
    }
}

#[test]
fn t128xn_ignores_padding_bits() {
    for (name, f) in paths() {
        for n in [1usize, 7, 13, 129, 1001] {
            let rb = row_bytes(n);
            let input = bytes(n as u64, 128 * rb);
            let mut clean = input.clone();
            if !n.is_multiple_of(8) {
                for r in 0..128 {
                    clean[r * rb + rb - 1] &= (1u8 << (n % 8)) - 1;
                }
            }
            let (mut a, mut b) = (vec![Block::ZERO; n], vec![Block::ZERO; n]);
            transpose_128xn_with(f, &input, n, &mut a);
            transpose_128xn_with(f, &clean, n, &mut b);
            assert_eq!(a, b, "{name} n={n}");
        }
    }
}

#[test]
fn t128x128_inplace_all_paths() {
    for (name, f) in paths() {
        for seed in 0..4u64 {
            let input = bytes(100 + seed, 2048);
            let want = naive(&input, 128, 128);
            let mut t = [Block::ZERO; 128];
            Block::slice_as_bytes_mut(&mut t).copy_from_slice(&input);
            transpose_128x128_inplace_with(f, &mut t);
            assert_eq!(Block::slice_as_bytes(&t), &want[..], "{name}");
            // An involution: twice gives back the input.
            transpose_128x128_inplace_with(f, &mut t);
            assert_eq!(Block::slice_as_bytes(&t), &input[..], "{name}");
        }
    }
}

#[test]
fn t128x128_single_bits() {
    for (name, f) in paths() {
        for (r, c) in [
            (0, 0),
            (0, 127),
            (127, 0),
            (5, 77),
            (64, 63),
            (63, 64),
            (127, 127),
        ] {
            let mut t = [Block::ZERO; 128];
            t[r].set_bit(c, true);
            transpose_128x128_inplace_with(f, &mut t);
            for (i, b) in t.iter().enumerate() {
                let want = if i == c {
                    Block(1u128 << r)
                } else {
                    Block::ZERO
                };
                assert_eq!(*b, want, "{name} r={r} c={c} i={i}");
            }
        }
    }
}

#[test]
fn t256xn_all_paths() {
    for (name, f) in paths() {
        for (i, &n) in NS.iter().enumerate() {
            let input = bytes(1000 + i as u64, 256 * row_bytes(n));
            let want = naive(&input, 256, n);
            let mut out = vec![[Block::ZERO; 2]; n];
            transpose_256xn_with(f, &input, n, &mut out);
            let got: &[u8] = bytemuck::cast_slice(&out);
            assert_eq!(got, &want[..], "{name} n={n}");
        }
    }
}

#[test]
fn general_fixed_shapes() {
    let shapes = [
        (0, 0),
        (0, 5),
        (5, 0),
        (1, 1),
        (3, 5),
        (8, 8),
        (128, 128),
        (130, 7),
        (7, 130),
        (256, 384),
        (129, 257),
        (200, 1000),
        (1000, 200),
        (64, 4099),
        (300, 16384 + 300),
    ];
    for (name, f) in paths() {
        for (i, &(rows, cols)) in shapes.iter().enumerate() {
            let input = bytes(7 * i as u64, rows * row_bytes(cols));
            let mut out = vec![0xa5u8; cols * row_bytes(rows)];
            transpose_with(f, &input, rows, cols, &mut out);
            assert_eq!(out, naive(&input, rows, cols), "{name} {rows}x{cols}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn general_random_shapes(rows in 0usize..400, cols in 0usize..400, seed in any::<u64>()) {
        let input = bytes(seed, rows * row_bytes(cols));
        let want = naive(&input, rows, cols);
        for (name, f) in paths() {
            let mut out = vec![0xffu8; cols * row_bytes(rows)];
            transpose_with(f, &input, rows, cols, &mut out);
            prop_assert_eq!(&out, &want, "{} {}x{}", name, rows, cols);
        }
    }

    #[test]
    fn t128xn_random(n in 0usize..1200, seed in any::<u64>()) {
        let input = bytes(seed, 128 * row_bytes(n));
        let want = naive(&input, 128, n);
        for (name, f) in paths() {
            let mut out = vec![Block::ZERO; n];
            transpose_128xn_with(f, &input, n, &mut out);
            prop_assert_eq!(Block::slice_as_bytes(&out), &want[..], "{} n={}", name, n);
        }
    }
}
