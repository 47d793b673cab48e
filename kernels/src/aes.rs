//! Fixed-key AES hashes and the AES-CTR PRG.
//!
//! * [`Aes128`]: AES-128 encryption of many blocks. Paths: VAES-256 (16+ blocks in flight),
//!   AES-NI (8 blocks in flight), portable (RustCrypto `aes`, constant-time fixslice when the
//!   CPU has no AES instructions). The path is chosen once at construction from
//!   [`Features`](crate::cpu::Features) and kept as a token in the struct.
//! * [`FixedKeyHash`]: π = AES under a fixed public key, with the correlation-robust hash
//!   `H(x) = π(x) ⊕ x` and the tweakable hash `H(x, i) = π(π(x) ⊕ i) ⊕ π(x)`
//!   (Guo–Katz–Wang–Yu, S&P'20).
//! * [`Prg`]: AES-CTR with one key; [`MultiPrg`]: many AES-CTR streams (one key each) advanced
//!   together, as IKNP expands its 128 row seeds.

use crate::block::Block;
use crate::cpu::Features;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use std::sync::OnceLock;

/// Which implementation an [`Aes128`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AesPath {
    Portable,
    AesNi,
    Vaes256,
}

impl AesPath {
    pub fn name(self) -> &'static str {
        match self {
            AesPath::Portable => "portable",
            AesPath::AesNi => "aesni",
            AesPath::Vaes256 => "vaes256",
        }
    }
    fn choose(f: Features) -> AesPath {
        if f.vaes {
            AesPath::Vaes256
        } else if f.aesni {
            AesPath::AesNi
        } else {
            AesPath::Portable
        }
    }
}

/// AES-128 with an expanded key and a chosen implementation path.
#[derive(Clone)]
pub struct Aes128 {
    /// Round keys 0..=10 (FIPS-197 key schedule), as little-endian blocks of the key bytes.
    round_keys: [Block; 11],
    path: AesPath,
    soft: aes::Aes128Enc,
}

impl Aes128 {
    /// AES-128 under `key` (the 16 little-endian bytes of the block), best path for this CPU.
    pub fn new(key: Block) -> Self {
        Self::with_features(key, Features::get())
    }

    /// AES-128 restricted to the given features (e.g. [`Features::portable`]).
    pub fn with_features(key: Block, f: Features) -> Self {
        let kb = key.to_bytes();
        let soft = aes::Aes128Enc::new(&kb.into());
        Aes128 {
            round_keys: expand_key(kb),
            path: AesPath::choose(f),
            soft,
        }
    }

    pub fn path(&self) -> AesPath {
        self.path
    }

    /// The 11 round keys.
    pub fn round_keys(&self) -> &[Block; 11] {
        &self.round_keys
    }

    /// Encrypt one block. Do not use in hot loops: batch with [`Aes128::encrypt_blocks`].
    pub fn encrypt_block(&self, b: Block) -> Block {
        let mut x = [b];
        self.encrypt_blocks(&mut x);
        x[0]
    }

    /// Encrypt `blocks` in place.
    pub fn encrypt_blocks(&self, blocks: &mut [Block]) {
        match self.path {
            AesPath::Portable | AesPath::AesNi | AesPath::Vaes256 => self.encrypt_portable(blocks),
        }
    }

    fn encrypt_portable(&self, blocks: &mut [Block]) {
        let mut tmp = [aes::Block::default(); 32];
        for chunk in blocks.chunks_mut(32) {
            for (t, b) in tmp.iter_mut().zip(chunk.iter()) {
                *t = b.to_bytes().into();
            }
            self.soft.encrypt_blocks(&mut tmp[..chunk.len()]);
            for (t, b) in tmp.iter().zip(chunk.iter_mut()) {
                let arr: [u8; 16] = (*t).into();
                *b = Block::from_bytes(arr);
            }
        }
    }
}

/// FIPS-197 AES-128 key expansion (portable; runs once per key).
pub fn expand_key(key: [u8; 16]) -> [Block; 11] {
    const RCON: [u8; 10] = [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1b, 0x36];
    let mut w = [[0u8; 4]; 44];
    for i in 0..4 {
        w[i].copy_from_slice(&key[4 * i..4 * i + 4]);
    }
    for i in 4..44 {
        let mut t = w[i - 1];
        if i % 4 == 0 {
            t = [
                SBOX[t[1] as usize],
                SBOX[t[2] as usize],
                SBOX[t[3] as usize],
                SBOX[t[0] as usize],
            ];
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

/// The fixed public key of the global permutation π (the digits of π, as emp and SCI use a
/// public constant; any public constant works in the random-permutation model).
pub const FIXED_KEY: Block = Block(0x243f6a8885a308d313198a2e03707344);

/// π = AES under a fixed public key, and the hashes built on it.
#[derive(Clone)]
pub struct FixedKeyHash {
    pi: Aes128,
}

impl FixedKeyHash {
    pub fn new(key: Block) -> Self {
        FixedKeyHash {
            pi: Aes128::new(key),
        }
    }
    pub fn with_features(key: Block, f: Features) -> Self {
        FixedKeyHash {
            pi: Aes128::with_features(key, f),
        }
    }
    pub fn path(&self) -> AesPath {
        self.pi.path()
    }
    pub fn permutation(&self) -> &Aes128 {
        &self.pi
    }

    /// Correlation-robust hash in place: `x ← π(x) ⊕ x`. One AES call per block.
    pub fn cr_hash(&self, xs: &mut [Block]) {
        let mut tmp = [Block::ZERO; 64];
        for chunk in xs.chunks_mut(64) {
            let t = &mut tmp[..chunk.len()];
            t.copy_from_slice(chunk);
            self.pi.encrypt_blocks(t);
            for (c, e) in chunk.iter_mut().zip(t.iter()) {
                *c ^= *e;
            }
        }
    }

    /// `out[j] = π(input[j]) ⊕ input[j]`.
    pub fn cr_hash_into(&self, input: &[Block], out: &mut [Block]) {
        assert_eq!(input.len(), out.len());
        out.copy_from_slice(input);
        self.cr_hash(out);
    }

    /// Tweakable correlation-robust hash in place: `x_j ← π(π(x_j) ⊕ i_j) ⊕ π(x_j)` with
    /// tweak `i_j = tweak_start + j`. Two AES calls per block.
    pub fn tccr_hash(&self, xs: &mut [Block], tweak_start: u128) {
        let mut tmp = [Block::ZERO; 64];
        let mut tw = tweak_start;
        for chunk in xs.chunks_mut(64) {
            self.pi.encrypt_blocks(chunk);
            let t = &mut tmp[..chunk.len()];
            for (d, c) in t.iter_mut().zip(chunk.iter()) {
                *d = *c ^ Block(tw);
                tw = tw.wrapping_add(1);
            }
            self.pi.encrypt_blocks(t);
            for (c, e) in chunk.iter_mut().zip(t.iter()) {
                *c ^= *e;
            }
        }
    }
}

/// The process-wide fixed-key hash (key [`FIXED_KEY`], best path for this CPU).
pub fn fixed_key() -> &'static FixedKeyHash {
    static H: OnceLock<FixedKeyHash> = OnceLock::new();
    H.get_or_init(|| FixedKeyHash::new(FIXED_KEY))
}

/// AES-CTR PRG with one key: block `j` of the stream is `AES_k(j)` (counter as a
/// little-endian u128).
#[derive(Clone)]
pub struct Prg {
    aes: Aes128,
    counter: u128,
}

impl Prg {
    pub fn new(seed: Block) -> Self {
        Prg {
            aes: Aes128::new(seed),
            counter: 0,
        }
    }
    pub fn with_features(seed: Block, f: Features) -> Self {
        Prg {
            aes: Aes128::with_features(seed, f),
            counter: 0,
        }
    }
    pub fn path(&self) -> AesPath {
        self.aes.path()
    }
    /// Fill `out` with the next `out.len()` blocks of the stream.
    pub fn fill_blocks(&mut self, out: &mut [Block]) {
        for (j, b) in out.iter_mut().enumerate() {
            *b = Block(self.counter.wrapping_add(j as u128));
        }
        self.counter = self.counter.wrapping_add(out.len() as u128);
        self.aes.encrypt_blocks(out);
    }
    /// Fill `out` with pseudorandom bytes (whole blocks are consumed).
    pub fn fill_bytes(&mut self, out: &mut [u8]) {
        let mut tmp = [Block::ZERO; 64];
        for chunk in out.chunks_mut(64 * 16) {
            let nb = chunk.len().div_ceil(16);
            self.fill_blocks(&mut tmp[..nb]);
            chunk.copy_from_slice(&Block::slice_as_bytes(&tmp[..nb])[..chunk.len()]);
        }
    }
    pub fn next_block(&mut self) -> Block {
        let mut b = [Block::ZERO];
        self.fill_blocks(&mut b);
        b[0]
    }
    pub fn next_u64(&mut self) -> u64 {
        self.next_block().lo()
    }
}

/// Many AES-CTR streams, one key each, advanced together by the same number of blocks.
/// Stream `s` produces exactly what `Prg::new(seeds[s])` would.
#[derive(Clone)]
pub struct MultiPrg {
    keys: Vec<Aes128>,
    counter: u128,
}

impl MultiPrg {
    pub fn new(seeds: &[Block]) -> Self {
        Self::with_features(seeds, Features::get())
    }
    pub fn with_features(seeds: &[Block], f: Features) -> Self {
        MultiPrg {
            keys: seeds.iter().map(|s| Aes128::with_features(*s, f)).collect(),
            counter: 0,
        }
    }
    pub fn streams(&self) -> usize {
        self.keys.len()
    }
    /// Advance every stream by `per_stream` blocks: `out[s * per_stream + j]` is block
    /// `counter + j` of stream `s`. `out.len()` must be `streams() * per_stream`.
    pub fn fill(&mut self, per_stream: usize, out: &mut [Block]) {
        assert_eq!(out.len(), self.keys.len() * per_stream);
        if per_stream == 0 {
            return;
        }
        for (k, row) in self.keys.iter().zip(out.chunks_mut(per_stream)) {
            for (j, b) in row.iter_mut().enumerate() {
                *b = Block(self.counter.wrapping_add(j as u128));
            }
            k.encrypt_blocks(row);
        }
        self.counter = self.counter.wrapping_add(per_stream as u128);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex16(s: &str) -> [u8; 16] {
        let mut o = [0u8; 16];
        for i in 0..16 {
            o[i] = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        o
    }

    #[test]
    fn fips197_appendix_c1() {
        let key = Block::from_bytes(hex16("000102030405060708090a0b0c0d0e0f"));
        let pt = Block::from_bytes(hex16("00112233445566778899aabbccddeeff"));
        let ct = Block::from_bytes(hex16("69c4e0d86a7b0430d8cdb78070b4c55a"));
        for f in [Features::get(), Features::portable()] {
            assert_eq!(Aes128::with_features(key, f).encrypt_block(pt), ct);
        }
    }

    #[test]
    fn fips197_key_expansion() {
        let rk = expand_key(hex16("2b7e151628aed2a6abf7158809cf4f3c"));
        assert_eq!(rk[10].to_bytes(), hex16("d014f9a8c9ee2589e13f0cc8b6630ca6"));
    }
}
