//! Packed Z_2^l arithmetic against naive references, for every l in 1..=64.

use pq_kernels::ring::*;
use proptest::prelude::*;

/// Bit-by-bit reference packer: value i occupies stream bits [i*l, (i+1)*l), LSB first.
fn ref_pack(vals: &[u64], l: u32) -> Vec<u8> {
    let mut out = vec![0u8; (vals.len() * l as usize).div_ceil(8)];
    for (i, &v) in vals.iter().enumerate() {
        for b in 0..l as usize {
            if (v >> b) & 1 == 1 {
                let k = i * l as usize + b;
                out[k / 8] |= 1 << (k % 8);
            }
        }
    }
    out
}

fn ref_mask(l: u32) -> u128 {
    (1u128 << l) - 1
}

/// Reference signed value of an l-bit pattern, via i128.
fn ref_signed(x: u64, l: u32) -> i128 {
    let x = x as u128 & ref_mask(l);
    if x >> (l - 1) & 1 == 1 {
        x as i128 - (1i128 << l)
    } else {
        x as i128
    }
}

fn splitmix(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Random values, NOT reduced, with the edge values 0, 2^l - 1, the most negative and
/// all-ones mixed in.
fn values(seed: u64, n: usize, l: u32) -> Vec<u64> {
    let mut s = seed;
    (0..n)
        .map(|i| match i % 7 {
            0 => 0,
            1 => mask(l),
            2 => 1u64 << (l - 1),
            3 => u64::MAX,
            _ => splitmix(&mut s),
        })
        .collect()
}

const NS: [usize; 12] = [0, 1, 7, 8, 9, 63, 64, 65, 127, 128, 200, 1031];

#[test]
fn pack_layout_and_roundtrip_every_l() {
    for l in 1..=64u32 {
        for (j, &n) in NS.iter().enumerate() {
            let vals = values(l as u64 * 1000 + j as u64, n, l);
            let want = ref_pack(&vals, l);
            let got = pack_vec(&vals, l);
            assert_eq!(got.len(), packed_len(n, l));
            assert_eq!(got, want, "layout l={l} n={n}");
            // Stale bytes in the output buffer must not leak into the result.
            let mut dirty = vec![0xffu8; packed_len(n, l)];
            pack(&vals, l, &mut dirty);
            assert_eq!(dirty, want, "dirty buffer l={l} n={n}");
            let mut back = vec![0xdeadu64; n];
            unpack(&got, l, &mut back);
            let reduced: Vec<u64> = vals.iter().map(|&v| v & mask(l)).collect();
            assert_eq!(back, reduced, "roundtrip l={l} n={n}");
            assert_eq!(unpack_vec(&got, l, n), reduced);
        }
    }
}

#[test]
fn unpack_ignores_padding_bits() {
    for l in 1..=64u32 {
        for n in [1usize, 3, 5, 65, 67] {
            let vals = values(l as u64, n, l);
            let mut p = pack_vec(&vals, l);
            let used = n * l as usize;
            if !used.is_multiple_of(8) {
                *p.last_mut().unwrap() |= 0xffu8 << (used % 8);
            }
            let back = unpack_vec(&p, l, n);
            assert!(
                back.iter().zip(&vals).all(|(a, b)| *a == b & mask(l)),
                "l={l} n={n}"
            );
        }
    }
}

#[test]
fn unpack_range_every_l() {
    for l in 1..=64u32 {
        let n = 300;
        let vals = values(l as u64 + 77, n, l);
        let p = pack_vec(&vals, l);
        for (start, len) in [
            (0, 0),
            (0, 300),
            (1, 0),
            (1, 299),
            (63, 130),
            (64, 64),
            (65, 200),
            (130, 5),
            (299, 1),
            (250, 50),
        ] {
            let mut out = vec![0u64; len];
            unpack_range(&p, l, start, &mut out);
            for (k, o) in out.iter().enumerate() {
                assert_eq!(*o, vals[start + k] & mask(l), "l={l} start={start} k={k}");
            }
        }
    }
}

#[test]
fn bits_pack_unpack() {
    for n in [0usize, 1, 7, 8, 9, 15, 16, 17, 64, 100, 1001] {
        let mut s = n as u64;
        let bits: Vec<u8> = (0..n).map(|_| splitmix(&mut s) as u8).collect();
        let as_u64: Vec<u64> = bits.iter().map(|&b| b as u64).collect();
        let mut p = vec![0xaau8; n.div_ceil(8)];
        pack_bits(&bits, &mut p);
        assert_eq!(p, ref_pack(&as_u64, 1), "n={n}");
        let mut back = vec![9u8; n];
        unpack_bits(&p, &mut back);
        assert!(back.iter().zip(&bits).all(|(a, b)| *a == b & 1), "n={n}");
    }
}

#[test]
fn scalar_helpers_every_l() {
    for l in 1..=64u32 {
        assert_eq!(mask(l) as u128, ref_mask(l));
        for &x in &values(l as u64, 50, l) {
            let r = reduce(x, l);
            assert_eq!(r as u128, x as u128 & ref_mask(l));
            assert_eq!(msb(r, l), (r >> (l - 1)) & 1 == 1);
            assert_eq!(to_signed(r, l) as i128, ref_signed(r, l), "l={l} x={x:#x}");
            assert_eq!(from_signed(to_signed(r, l), l), r);
        }
        // Edge values.
        assert_eq!(to_signed(1u64 << (l - 1), l) as i128, -(1i128 << (l - 1)));
        assert_eq!(to_signed(mask(l), l), -1);
        assert_eq!(from_signed(-1, l), mask(l));
        assert_eq!(from_signed(i64::MIN, l), if l == 64 { 1 << 63 } else { 0 });
    }
}

#[test]
fn vector_ops_every_l() {
    for l in 1..=64u32 {
        let m = ref_mask(l);
        let a: Vec<u64> = values(l as u64, 97, l)
            .iter()
            .map(|&v| reduce(v, l))
            .collect();
        let b: Vec<u64> = values(l as u64 + 500, 97, l)
            .iter()
            .map(|&v| reduce(v, l))
            .rev()
            .collect();
        let s = values(l as u64 + 900, 1, l)[0] ^ 0x1234_5678;

        let mut x = a.clone();
        add_assign(&mut x, &b, l);
        let want: Vec<u64> = a
            .iter()
            .zip(&b)
            .map(|(&p, &q)| ((p as u128 + q as u128) & m) as u64)
            .collect();
        assert_eq!(x, want, "add l={l}");

        let mut x = a.clone();
        sub_assign(&mut x, &b, l);
        let want: Vec<u64> = a
            .iter()
            .zip(&b)
            .map(|(&p, &q)| ((p as u128 + (1u128 << l) - q as u128) & m) as u64)
            .collect();
        assert_eq!(x, want, "sub l={l}");

        let mut x = a.clone();
        neg_assign(&mut x, l);
        let want: Vec<u64> = a
            .iter()
            .map(|&p| (((1u128 << l) - p as u128) & m) as u64)
            .collect();
        assert_eq!(x, want, "neg l={l}");

        let mut x = a.clone();
        mul_scalar_assign(&mut x, s, l);
        let want: Vec<u64> = a
            .iter()
            .map(|&p| ((p as u128 * s as u128) & m) as u64)
            .collect();
        assert_eq!(x, want, "mul l={l}");

        let mut x = a.clone();
        mul_assign(&mut x, &b, l);
        let want: Vec<u64> = a
            .iter()
            .zip(&b)
            .map(|(&p, &q)| ((p as u128 * q as u128) & m) as u64)
            .collect();
        assert_eq!(x, want, "mul_assign l={l}");

        for sh in [0u32, 1, 5, l - 1, l, 63].into_iter().filter(|&s| s < 64) {
            let mut x = a.clone();
            shl_assign(&mut x, sh, l);
            let want: Vec<u64> = a
                .iter()
                .map(|&p| (((p as u128) << sh) & m) as u64)
                .collect();
            assert_eq!(x, want, "shl l={l} s={sh}");

            let mut x = a.clone();
            lshr_assign(&mut x, sh, l);
            let want: Vec<u64> = a.iter().map(|&p| ((p as u128) >> sh) as u64).collect();
            assert_eq!(x, want, "lshr l={l} s={sh}");

            let mut x = a.clone();
            ashr_assign(&mut x, sh, l);
            let want: Vec<u64> = a
                .iter()
                .map(|&p| ((ref_signed(p, l) >> sh) as u128 & m) as u64)
                .collect();
            assert_eq!(x, want, "ashr l={l} s={sh}");
        }

        for l2 in l..=64 {
            let mut x = a.clone();
            sign_extend_assign(&mut x, l, l2);
            let want: Vec<u64> = a
                .iter()
                .map(|&p| (ref_signed(p, l) as u128 & ref_mask(l2)) as u64)
                .collect();
            assert_eq!(x, want, "sext l={l} l2={l2}");
        }
    }
}

#[test]
fn ring_struct() {
    assert!(Ring::new(0).is_none());
    assert!(Ring::new(65).is_none());
    for l in 1..=64u32 {
        let r = Ring::new(l).unwrap();
        assert_eq!(r.bits(), l);
        let top = r.min_signed();
        assert_eq!(r.to_signed(top) as i128, -(1i128 << (l - 1)));
        assert_eq!(r.add(r.mask(), 1), 0);
        assert_eq!(r.sub(0, 1), r.mask());
        assert_eq!(r.neg(top), top);
        assert_eq!(r.mul(r.mask(), r.mask()), 1 & r.mask());
        assert_eq!(r.from_signed(-1), r.mask());
        let vals = values(l as u64, 70, l);
        let p = r.pack_vec(&vals);
        assert_eq!(p.len(), r.packed_len(70));
        let mut back = vec![0; 70];
        r.unpack(&p, &mut back);
        assert!(back.iter().zip(&vals).all(|(a, b)| *a == r.reduce(*b)));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn pack_matches_reference(l in 1u32..=64, vals in proptest::collection::vec(any::<u64>(), 0..300)) {
        let p = pack_vec(&vals, l);
        prop_assert_eq!(&p, &ref_pack(&vals, l));
        let back = unpack_vec(&p, l, vals.len());
        for (a, b) in back.iter().zip(&vals) {
            prop_assert_eq!(*a, b & mask(l));
        }
    }

    #[test]
    fn add_sub_inverse(l in 1u32..=64, seed in any::<u64>(), n in 0usize..200) {
        let a: Vec<u64> = values(seed, n, l).iter().map(|&v| reduce(v, l)).collect();
        let b: Vec<u64> = values(!seed, n, l).iter().map(|&v| reduce(v, l)).collect();
        let mut x = a.clone();
        add_assign(&mut x, &b, l);
        sub_assign(&mut x, &b, l);
        prop_assert_eq!(x, a);
    }
}
