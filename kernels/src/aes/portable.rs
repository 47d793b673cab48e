//! Portable AES: the FIPS-197 key schedule (constant time, with a computed S-box; the
//! portable path's, the AES-NI paths have their own) and the RustCrypto `aes` cipher for
//! [`AesPath::Portable`](super::AesPath::Portable) (constant-time fixslice without AES-NI).
//!
//! The fused hashes on this path go through a small stack buffer; they are the reference the
//! hardware paths are tested against, not a hot path.

use crate::block::Block;
use aes::cipher::BlockCipherEncrypt;

/// Blocks per call into the RustCrypto cipher (its AES-NI backend pipelines 8, VAES 30).
const CHUNK: usize = 64;

thread_local! {
    /// Key schedules run by [`expand_key`] on this thread (see [`portable_key_schedules`]).
    static SCHEDULES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many portable key schedules ([`expand_key`]) this thread has run. Tests use it to state
/// that the AES-NI path never runs the portable schedule.
pub fn portable_key_schedules() -> u64 {
    SCHEDULES.with(|c| c.get())
}

/// FIPS-197 AES-128 key expansion, portable and constant time (runs once per key; the paths
/// with AES-NI use `aeskeygenassist` instead, see [`expand_key_for`](super::expand_key_for)).
///
/// Round key `r` is words `w[4r..4r+4]` of FIPS-197 §5.2, as the little-endian block of their
/// 16 bytes (so round key 0 is the key itself). The S-box is computed ([`sbox`]), not looked
/// up, so neither the branches nor the memory addresses depend on the key.
pub fn expand_key(key: [u8; 16]) -> [Block; 11] {
    SCHEDULES.with(|c| c.set(c.get() + 1));
    const RCON: [u8; 10] = [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1b, 0x36];
    let mut w = [[0u8; 4]; 44];
    for (i, wi) in w.iter_mut().take(4).enumerate() {
        wi.copy_from_slice(&key[4 * i..4 * i + 4]);
    }
    for i in 4..44 {
        let mut t = w[i - 1];
        if i % 4 == 0 {
            // RotWord, SubWord, Rcon (i is public: this branch is the schedule's shape).
            t = [sbox(t[1]), sbox(t[2]), sbox(t[3]), sbox(t[0])];
            t[0] ^= RCON[i / 4 - 1];
        }
        for j in 0..4 {
            w[i][j] = w[i - 4][j] ^ t[j];
        }
    }
    let mut rk = [Block::ZERO; 11];
    for (r, k) in rk.iter_mut().enumerate() {
        let mut b = [0u8; 16];
        for j in 0..4 {
            b[4 * j..4 * j + 4].copy_from_slice(&w[4 * r + j]);
        }
        *k = Block::from_bytes(b);
    }
    rk
}

/// `a · b` in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1, with masks instead of branches.
fn gf_mul(mut a: u8, mut b: u8) -> u8 {
    let mut p = 0u8;
    for _ in 0..8 {
        p ^= a & 0u8.wrapping_sub(b & 1);
        let carry = 0u8.wrapping_sub(a >> 7);
        a = (a << 1) ^ (0x1b & carry);
        b >>= 1;
    }
    p
}

/// The AES S-box, computed: the inverse `x^254` in GF(2^8) (0 ↦ 0), then the affine map
/// `b ⊕ (b ⋘ 1) ⊕ (b ⋘ 2) ⊕ (b ⋘ 3) ⊕ (b ⋘ 4) ⊕ 0x63` (FIPS-197 §5.1.1).
fn sbox(x: u8) -> u8 {
    let x2 = gf_mul(x, x);
    let x3 = gf_mul(x2, x);
    let x6 = gf_mul(x3, x3);
    let x12 = gf_mul(x6, x6);
    let x15 = gf_mul(x12, x3);
    let x30 = gf_mul(x15, x15);
    let x60 = gf_mul(x30, x30);
    let x120 = gf_mul(x60, x60);
    let x240 = gf_mul(x120, x120);
    let x252 = gf_mul(x240, x12);
    let b = gf_mul(x252, x2);
    b ^ b.rotate_left(1) ^ b.rotate_left(2) ^ b.rotate_left(3) ^ b.rotate_left(4) ^ 0x63
}

/// `blocks ← AES_k(blocks)` with the RustCrypto cipher.
pub(super) fn encrypt(soft: &aes::Aes128Enc, blocks: &mut [Block]) {
    let mut tmp = [aes::Block::default(); CHUNK];
    for chunk in blocks.chunks_mut(CHUNK) {
        for (t, b) in tmp.iter_mut().zip(chunk.iter()) {
            *t = b.to_bytes().into();
        }
        soft.encrypt_blocks(&mut tmp[..chunk.len()]);
        for (t, b) in tmp.iter().zip(chunk.iter_mut()) {
            let arr: [u8; 16] = (*t).into();
            *b = Block::from_bytes(arr);
        }
    }
}

/// `x ← π(x) ⊕ x`.
pub(super) fn cr_hash(soft: &aes::Aes128Enc, xs: &mut [Block]) {
    let mut tmp = [Block::ZERO; CHUNK];
    for chunk in xs.chunks_mut(CHUNK) {
        let t = &mut tmp[..chunk.len()];
        t.copy_from_slice(chunk);
        encrypt(soft, t);
        for (c, e) in chunk.iter_mut().zip(t.iter()) {
            *c ^= *e;
        }
    }
}

/// `x_j ← π(π(x_j) ⊕ tweak(j)) ⊕ π(x_j)`.
pub(super) fn tccr_hash(soft: &aes::Aes128Enc, xs: &mut [Block], tweak: impl Fn(usize) -> Block) {
    let mut tmp = [Block::ZERO; CHUNK];
    for (ci, chunk) in xs.chunks_mut(CHUNK).enumerate() {
        encrypt(soft, chunk);
        let t = &mut tmp[..chunk.len()];
        for (j, (d, c)) in t.iter_mut().zip(chunk.iter()).enumerate() {
            *d = *c ^ tweak(ci * CHUNK + j);
        }
        encrypt(soft, t);
        for (c, e) in chunk.iter_mut().zip(t.iter()) {
            *c ^= *e;
        }
    }
}

/// `out[j] = AES_k(counter + j)`.
pub(super) fn ctr(soft: &aes::Aes128Enc, counter: u128, out: &mut [Block]) {
    for (j, b) in out.iter_mut().enumerate() {
        *b = Block(counter.wrapping_add(j as u128));
    }
    encrypt(soft, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FIPS-197 Figure 7, the reference the computed S-box is checked against.
    #[rustfmt::skip]
    const SBOX: [u8; 256] = [
        0x63,0x7c,0x77,0x7b,0xf2,0x6b,0x6f,0xc5,0x30,0x01,0x67,0x2b,0xfe,0xd7,0xab,0x76,
        0xca,0x82,0xc9,0x7d,0xfa,0x59,0x47,0xf0,0xad,0xd4,0xa2,0xaf,0x9c,0xa4,0x72,0xc0,
        0xb7,0xfd,0x93,0x26,0x36,0x3f,0xf7,0xcc,0x34,0xa5,0xe5,0xf1,0x71,0xd8,0x31,0x15,
        0x04,0xc7,0x23,0xc3,0x18,0x96,0x05,0x9a,0x07,0x12,0x80,0xe2,0xeb,0x27,0xb2,0x75,
        0x09,0x83,0x2c,0x1a,0x1b,0x6e,0x5a,0xa0,0x52,0x3b,0xd6,0xb3,0x29,0xe3,0x2f,0x84,
        0x53,0xd1,0x00,0xed,0x20,0xfc,0xb1,0x5b,0x6a,0xcb,0xbe,0x39,0x4a,0x4c,0x58,0xcf,
        0xd0,0xef,0xaa,0xfb,0x43,0x4d,0x33,0x85,0x45,0xf9,0x02,0x7f,0x50,0x3c,0x9f,0xa8,
        0x51,0xa3,0x40,0x8f,0x92,0x9d,0x38,0xf5,0xbc,0xb6,0xda,0x21,0x10,0xff,0xf3,0xd2,
        0xcd,0x0c,0x13,0xec,0x5f,0x97,0x44,0x17,0xc4,0xa7,0x7e,0x3d,0x64,0x5d,0x19,0x73,
        0x60,0x81,0x4f,0xdc,0x22,0x2a,0x90,0x88,0x46,0xee,0xb8,0x14,0xde,0x5e,0x0b,0xdb,
        0xe0,0x32,0x3a,0x0a,0x49,0x06,0x24,0x5c,0xc2,0xd3,0xac,0x62,0x91,0x95,0xe4,0x79,
        0xe7,0xc8,0x37,0x6d,0x8d,0xd5,0x4e,0xa9,0x6c,0x56,0xf4,0xea,0x65,0x7a,0xae,0x08,
        0xba,0x78,0x25,0x2e,0x1c,0xa6,0xb4,0xc6,0xe8,0xdd,0x74,0x1f,0x4b,0xbd,0x8b,0x8a,
        0x70,0x3e,0xb5,0x66,0x48,0x03,0xf6,0x0e,0x61,0x35,0x57,0xb9,0x86,0xc1,0x1d,0x9e,
        0xe1,0xf8,0x98,0x11,0x69,0xd9,0x8e,0x94,0x9b,0x1e,0x87,0xe9,0xce,0x55,0x28,0xdf,
        0x8c,0xa1,0x89,0x0d,0xbf,0xe6,0x42,0x68,0x41,0x99,0x2d,0x0f,0xb0,0x54,0xbb,0x16,
    ];

    #[test]
    fn computed_sbox_equals_fips197_table() {
        for x in 0..=255u8 {
            assert_eq!(sbox(x), SBOX[x as usize], "x = {x:#04x}");
        }
    }

    #[test]
    fn schedules_are_counted_per_thread() {
        let before = portable_key_schedules();
        let _ = expand_key([7; 16]);
        assert_eq!(portable_key_schedules(), before + 1);
    }
}
