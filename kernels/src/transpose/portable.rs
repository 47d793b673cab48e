//! Portable 128×128 tile: Eklundh block swaps on 64-bit words.
//!
//! Row `r` is the two words `w[2r]` (columns 0..64) and `w[2r + 1]` (columns 64..128).
//! Level 64 swaps `w[2r + 1]` with `w[2(r + 64)]`; levels 32..1 swap inside each word
//! with shift-xor-mask.

/// Masks of the columns whose bit `s` is clear, for s = 1, 2, 4, 8, 16, 32.
const MASKS: [(u32, u64); 6] = [
    (1, 0x5555_5555_5555_5555),
    (2, 0x3333_3333_3333_3333),
    (4, 0x0f0f_0f0f_0f0f_0f0f),
    (8, 0x00ff_00ff_00ff_00ff),
    (16, 0x0000_ffff_0000_ffff),
    (32, 0x0000_0000_ffff_ffff),
];

/// Transpose a tile held as 256 words in place (see the module docs for the layout).
#[inline]
pub(super) fn transpose_words(w: &mut [u64; 256]) {
    for r in 0..64 {
        w.swap(2 * r + 1, 2 * (r + 64));
    }
    for (s, m) in MASKS {
        let s = s as usize;
        for i in (0..128).filter(|i| i & s == 0) {
            for h in 0..2 {
                let (a, b) = (w[2 * i + h], w[2 * (i + s) + h]);
                let t = ((a >> s) ^ b) & m;
                w[2 * (i + s) + h] = b ^ t;
                w[2 * i + h] = a ^ (t << s);
            }
        }
    }
}

/// Load a tile: row `r` is `src[off + r * stride..][..16]`.
#[inline]
pub(super) fn load(src: &[u8], off: usize, stride: usize) -> [u64; 256] {
    let mut w = [0u64; 256];
    for r in 0..128 {
        let p = off + r * stride;
        let mut b = [0u8; 16];
        b.copy_from_slice(&src[p..p + 16]);
        let v = u128::from_le_bytes(b);
        w[2 * r] = v as u64;
        w[2 * r + 1] = (v >> 64) as u64;
    }
    w
}

/// Store a tile: block `c` goes to `dst[off + c * stride..][..16]`.
#[inline]
pub(super) fn store(w: &[u64; 256], dst: &mut [u8], off: usize, stride: usize) {
    for c in 0..128 {
        let v = (w[2 * c] as u128) | ((w[2 * c + 1] as u128) << 64);
        let p = off + c * stride;
        dst[p..p + 16].copy_from_slice(&v.to_le_bytes());
    }
}
