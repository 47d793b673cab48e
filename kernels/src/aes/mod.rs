//! Fixed-key AES hashes and the AES-CTR PRG.
//!
//! * [`Aes128`]: AES-128 encryption of many blocks. Paths: VAES-256 (16 blocks in flight),
//!   AES-NI (8 blocks in flight), portable (RustCrypto `aes`, constant-time fixslice when the
//!   CPU has no AES instructions). The path is chosen once at construction from
//!   [`Features`] and kept as a token in the struct.
//! * [`FixedKeyHash`]: π = AES under a fixed public key, with the correlation-robust hash
//!   `H(x) = π(x) ⊕ x` and the tweakable hash `H(x, i) = π(π(x) ⊕ i) ⊕ π(x)`
//!   (Guo–Katz–Wang–Yu, S&P'20). The hardware paths compute both hashes in registers, one
//!   batch at a time, with the tweaks generated in registers.
//! * [`Prg`]: AES-CTR with one key, counters generated in registers; [`MultiPrg`]: many
//!   AES-CTR streams (one key each) advanced together, as IKNP expands its 128 row seeds.
//!
//! Every path computes exactly the same function; `kernels/tests/aes.rs` checks each hardware
//! path against the portable one and against references built from [`Aes128::encrypt_block`].

#![cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]

use crate::block::Block;
use crate::cpu::Features;
use aes::cipher::KeyInit;
use std::sync::OnceLock;

#[cfg(target_arch = "x86_64")]
mod ni;
mod portable;
#[cfg(target_arch = "x86_64")]
mod vaes;

pub use portable::{expand_key, portable_key_schedules};

/// Which key schedule made an [`Aes128`]'s round keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySchedule {
    /// `aeskeygenassist` (every path of a CPU with AES-NI).
    AesNi,
    /// The portable, constant-time schedule ([`expand_key`]).
    Portable,
}

impl KeySchedule {
    /// The schedule an [`AesPath`] uses: the hardware one wherever the path has AES-NI.
    pub fn of(path: AesPath) -> Self {
        match path {
            AesPath::AesNi | AesPath::Vaes256 if cfg!(target_arch = "x86_64") => KeySchedule::AesNi,
            _ => KeySchedule::Portable,
        }
    }
}

/// The FIPS-197 round keys of `key`, by the schedule of the path `f` selects (AES-NI's
/// `aeskeygenassist` when the CPU has it, the portable one otherwise). Every schedule gives
/// the same round keys.
pub fn expand_key_for(key: [u8; 16], f: Features) -> [Block; 11] {
    schedule(key, AesPath::choose(f))
}

/// The round keys of `key` for `path` (see [`KeySchedule::of`]).
fn schedule(key: [u8; 16], path: AesPath) -> [Block; 11] {
    match KeySchedule::of(path) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the path is AES-NI or VAES, chosen only when the CPU has AES-NI and SSE2
        // (`AesPath::choose` intersects with the detected features).
        KeySchedule::AesNi => unsafe { ni::expand_key(key) },
        _ => expand_key(key),
    }
}

/// Which implementation an [`Aes128`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AesPath {
    /// RustCrypto `aes` (its own AES-NI backend when available, else constant-time fixslice).
    Portable,
    /// AES-NI on 128-bit registers, 8 blocks in flight.
    AesNi,
    /// VAES on 256-bit registers, 16 blocks in flight.
    Vaes256,
}

impl AesPath {
    /// Short lowercase name for reports: `portable`, `aesni` or `vaes256`.
    pub fn name(self) -> &'static str {
        match self {
            AesPath::Portable => "portable",
            AesPath::AesNi => "aesni",
            AesPath::Vaes256 => "vaes256",
        }
    }

    /// The fastest path allowed by `f` *and* present on this CPU. Intersecting with the
    /// detected features keeps the safe API sound even when a caller builds a `Features`
    /// value by hand that claims more than the CPU has.
    fn choose(f: Features) -> AesPath {
        let hw = Features::detect_hw();
        if f.vaes && hw.vaes {
            AesPath::Vaes256
        } else if f.aesni && hw.aesni {
            AesPath::AesNi
        } else {
            AesPath::Portable
        }
    }
}

/// Where the tweaks of a TCCR hash come from.
#[derive(Clone, Copy)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
enum Tweaks<'a> {
    /// `i_j = start + j` (wrapping u128).
    Counter(u128),
    /// `i_j = s[j]`, one tweak per hashed block.
    Slice(&'a [Block]),
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
impl Tweaks<'_> {
    /// Check that a tweak slice covers `n` blocks.
    ///
    /// # Panics
    /// If the slice holds other than `n` tweaks.
    fn check(self, n: usize) {
        if let Tweaks::Slice(s) = self {
            assert_eq!(s.len(), n, "tweaks: length mismatch");
        }
    }
}

/// The blocks a hardware kernel reads and writes: one slice in place, or a source and a
/// destination of the same length.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
enum InOut<'a> {
    /// Read and overwrite the same blocks.
    InPlace(&'a mut [Block]),
    /// Read the first slice, write the second.
    Split(&'a [Block], &'a mut [Block]),
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
impl InOut<'_> {
    /// Source pointer, destination pointer and block count `n`: both pointers are valid for
    /// `n` blocks (for as long as the borrow this was built from) and are either equal or
    /// point to disjoint memory.
    ///
    /// # Panics
    /// If the two slices of [`InOut::Split`] differ in length.
    fn raw(self) -> (*const Block, *mut Block, usize) {
        match self {
            InOut::InPlace(s) => {
                let n = s.len();
                let p = s.as_mut_ptr();
                (p.cast_const(), p, n)
            }
            InOut::Split(src, dst) => {
                let n = src.len();
                assert_eq!(n, dst.len(), "kernel: length mismatch");
                (src.as_ptr(), dst.as_mut_ptr(), n)
            }
        }
    }
}

/// Dispatch on an [`AesPath`]: `vaes`/`ni` arms run hardware kernels (in an `unsafe` block:
/// they are `#[target_feature]` functions, and the path token is only ever chosen when
/// [`Features::detect_hw`] reports the instructions; the kernels take slices and check their
/// lengths), `soft` is the portable arm (also taken on non-x86_64 targets).
macro_rules! by_path {
    ($path:expr, vaes => $v:expr, ni => $n:expr, soft => $s:expr $(,)?) => {
        match $path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: see the macro doc: the CPU has the instructions this path needs.
            AesPath::Vaes256 => unsafe { $v },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            AesPath::AesNi => unsafe { $n },
            #[cfg(not(target_arch = "x86_64"))]
            AesPath::Vaes256 | AesPath::AesNi => $s,
            AesPath::Portable => $s,
        }
    };
}

/// The RustCrypto cipher for `path`: on the portable path (and on targets where every path
/// falls back to it), none elsewhere.
fn soft_for(path: AesPath, key: [u8; 16]) -> Option<aes::Aes128Enc> {
    (path == AesPath::Portable || !cfg!(target_arch = "x86_64"))
        .then(|| aes::Aes128Enc::new(&key.into()))
}

/// AES-128 with an expanded key and a chosen implementation path.
#[derive(Clone)]
pub struct Aes128 {
    /// Round keys 0..=10 (FIPS-197 key schedule), as little-endian blocks of the key bytes.
    round_keys: [Block; 11],
    path: AesPath,
    /// The RustCrypto cipher: built on the portable path only.
    soft: Option<aes::Aes128Enc>,
}

impl Aes128 {
    /// AES-128 under `key` (the 16 little-endian bytes of the block), best path for this CPU.
    pub fn new(key: Block) -> Self {
        Self::with_features(key, Features::get())
    }

    /// AES-128 restricted to the given features (e.g. [`Features::portable`]).
    pub fn with_features(key: Block, f: Features) -> Self {
        let kb = key.to_bytes();
        let path = AesPath::choose(f);
        Aes128 {
            round_keys: schedule(kb, path),
            path,
            soft: soft_for(path, kb),
        }
    }

    /// The implementation this cipher runs.
    pub fn path(&self) -> AesPath {
        self.path
    }

    /// The key schedule that made the round keys.
    pub fn key_schedule(&self) -> KeySchedule {
        KeySchedule::of(self.path)
    }

    /// The RustCrypto cipher of the portable arm of `by_path!` (built whenever that arm can be
    /// taken, see [`soft_for`]).
    fn soft(&self) -> &aes::Aes128Enc {
        self.soft
            .as_ref()
            .expect("the portable arm runs only with a RustCrypto cipher")
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
        by_path!(self.path,
            vaes => vaes::encrypt(&self.round_keys, InOut::InPlace(blocks)),
            ni => ni::encrypt(&self.round_keys, InOut::InPlace(blocks)),
            soft => portable::encrypt(self.soft(), blocks),
        )
    }

    /// `out[j] = AES_k(input[j])`.
    ///
    /// # Panics
    /// If the lengths differ.
    pub fn encrypt_blocks_into(&self, input: &[Block], out: &mut [Block]) {
        assert_eq!(
            input.len(),
            out.len(),
            "encrypt_blocks_into: length mismatch"
        );
        by_path!(self.path,
            vaes => vaes::encrypt(&self.round_keys, InOut::Split(input, out)),
            ni => ni::encrypt(&self.round_keys, InOut::Split(input, out)),
            soft => {
                out.copy_from_slice(input);
                portable::encrypt(self.soft(), out)
            },
        )
    }

    /// CTR mode into bytes: block `j` of `out` (16 bytes each, `out.len() == 16 n`) is
    /// `AES_k(counter + j)`, counter as a little-endian u128 (wrapping).
    fn ctr_bytes(&self, counter: u128, out: &mut [u8]) {
        debug_assert_eq!(out.len() % 16, 0);
        by_path!(self.path,
            vaes => vaes::ctr(&self.round_keys, counter, out),
            ni => ni::ctr(&self.round_keys, counter, out),
            soft => {
                let mut tmp = [Block::ZERO; 64];
                for (ci, chunk) in out.chunks_mut(64 * 16).enumerate() {
                    let t = &mut tmp[..chunk.len() / 16];
                    portable::ctr(self.soft(), counter.wrapping_add((ci * 64) as u128), t);
                    chunk.copy_from_slice(Block::slice_as_bytes(t));
                }
            },
        )
    }

    /// CTR mode into blocks: `out[j] = AES_k(counter + j)`.
    fn ctr_blocks(&self, counter: u128, out: &mut [Block]) {
        match self.path {
            AesPath::Portable => portable::ctr(self.soft(), counter, out),
            _ => self.ctr_bytes(counter, Block::slice_as_bytes_mut(out)),
        }
    }
}

/// The fixed public key of the global permutation π (the digits of π, as emp and SCI use a
/// public constant; any public constant works in the random-permutation model).
pub const FIXED_KEY: Block = Block(0x243f6a8885a308d313198a2e03707344);

/// π = AES under a fixed public key, and the hashes built on it.
#[derive(Clone)]
pub struct FixedKeyHash {
    pi: Aes128,
}

impl FixedKeyHash {
    /// π = AES-128 under `key` (normally [`FIXED_KEY`]), best path for this CPU.
    pub fn new(key: Block) -> Self {
        FixedKeyHash {
            pi: Aes128::new(key),
        }
    }
    /// As [`FixedKeyHash::new`], restricted to the given features.
    pub fn with_features(key: Block, f: Features) -> Self {
        FixedKeyHash {
            pi: Aes128::with_features(key, f),
        }
    }
    /// The implementation π runs.
    pub fn path(&self) -> AesPath {
        self.pi.path()
    }
    /// The permutation π itself.
    pub fn permutation(&self) -> &Aes128 {
        &self.pi
    }

    /// Correlation-robust hash in place: `x ← π(x) ⊕ x`. One AES call per block.
    pub fn cr_hash(&self, xs: &mut [Block]) {
        let rk = self.pi.round_keys();
        by_path!(self.pi.path,
            vaes => vaes::cr_hash(rk, InOut::InPlace(xs)),
            ni => ni::cr_hash(rk, InOut::InPlace(xs)),
            soft => portable::cr_hash(self.pi.soft(), xs),
        )
    }

    /// `out[j] = π(input[j]) ⊕ input[j]`.
    ///
    /// # Panics
    /// If the lengths differ.
    pub fn cr_hash_into(&self, input: &[Block], out: &mut [Block]) {
        assert_eq!(input.len(), out.len(), "cr_hash_into: length mismatch");
        let rk = self.pi.round_keys();
        by_path!(self.pi.path,
            vaes => vaes::cr_hash(rk, InOut::Split(input, out)),
            ni => ni::cr_hash(rk, InOut::Split(input, out)),
            soft => {
                out.copy_from_slice(input);
                portable::cr_hash(self.pi.soft(), out)
            },
        )
    }

    /// CR hashes of both messages of each correlated pair, as the IKNP sender needs:
    /// `out0[j] = H(x_j)`, `out1[j] = H(x_j ⊕ Δ)` with `H(x) = π(x) ⊕ x`.
    ///
    /// # Panics
    /// If the lengths differ.
    pub fn cr_hash_pairs(
        &self,
        xs: &[Block],
        delta: Block,
        out0: &mut [Block],
        out1: &mut [Block],
    ) {
        self.hash_pairs(xs, delta, out0, out1, None)
    }

    /// TCCR hashes of both messages of each correlated pair, with the same tweak for both:
    /// `out0[j] = H(x_j, i_j)`, `out1[j] = H(x_j ⊕ Δ, i_j)`, `i_j = tweak_start + j`.
    ///
    /// # Panics
    /// If the lengths differ.
    pub fn tccr_hash_pairs(
        &self,
        xs: &[Block],
        delta: Block,
        tweak_start: u128,
        out0: &mut [Block],
        out1: &mut [Block],
    ) {
        self.hash_pairs(xs, delta, out0, out1, Some(tweak_start))
    }

    fn hash_pairs(
        &self,
        xs: &[Block],
        delta: Block,
        out0: &mut [Block],
        out1: &mut [Block],
        tweak: Option<u128>,
    ) {
        assert!(
            xs.len() == out0.len() && xs.len() == out1.len(),
            "hash_pairs: length mismatch"
        );
        let rk = self.pi.round_keys();
        by_path!(self.pi.path,
            vaes => vaes::hash_pairs(rk, xs, delta, out0, out1, tweak),
            ni => ni::hash_pairs(rk, xs, delta, out0, out1, tweak),
            soft => {
                out0.copy_from_slice(xs);
                for (o, x) in out1.iter_mut().zip(xs) {
                    *o = *x ^ delta;
                }
                match tweak {
                    None => {
                        portable::cr_hash(self.pi.soft(), out0);
                        portable::cr_hash(self.pi.soft(), out1);
                    }
                    Some(t) => {
                        let tw = |j: usize| Block(t.wrapping_add(j as u128));
                        portable::tccr_hash(self.pi.soft(), out0, tw);
                        portable::tccr_hash(self.pi.soft(), out1, tw);
                    }
                }
            },
        )
    }

    /// Tweakable correlation-robust hash in place: `x_j ← π(π(x_j) ⊕ i_j) ⊕ π(x_j)` with
    /// tweak `i_j = tweak_start + j`. Two AES calls per block.
    pub fn tccr_hash(&self, xs: &mut [Block], tweak_start: u128) {
        let (rk, tw) = (self.pi.round_keys(), Tweaks::Counter(tweak_start));
        by_path!(self.pi.path,
            vaes => vaes::tccr_hash(rk, InOut::InPlace(xs), tw),
            ni => ni::tccr_hash(rk, InOut::InPlace(xs), tw),
            soft => portable::tccr_hash(self.pi.soft(), xs, |j| {
                Block(tweak_start.wrapping_add(j as u128))
            }),
        )
    }

    /// `out[j] = π(π(input[j]) ⊕ i_j) ⊕ π(input[j])`, `i_j = tweak_start + j`.
    ///
    /// # Panics
    /// If the lengths differ.
    pub fn tccr_hash_into(&self, input: &[Block], out: &mut [Block], tweak_start: u128) {
        assert_eq!(input.len(), out.len(), "tccr_hash_into: length mismatch");
        let (rk, tw) = (self.pi.round_keys(), Tweaks::Counter(tweak_start));
        by_path!(self.pi.path,
            vaes => vaes::tccr_hash(rk, InOut::Split(input, out), tw),
            ni => ni::tccr_hash(rk, InOut::Split(input, out), tw),
            soft => {
                out.copy_from_slice(input);
                portable::tccr_hash(self.pi.soft(), out, |j| {
                    Block(tweak_start.wrapping_add(j as u128))
                })
            },
        )
    }

    /// TCCR hash in place with explicit tweaks: `x_j ← π(π(x_j) ⊕ tweaks[j]) ⊕ π(x_j)`.
    ///
    /// # Panics
    /// If the lengths differ.
    pub fn tccr_hash_with_tweaks(&self, xs: &mut [Block], tweaks: &[Block]) {
        assert_eq!(
            xs.len(),
            tweaks.len(),
            "tccr_hash_with_tweaks: length mismatch"
        );
        let (rk, tw) = (self.pi.round_keys(), Tweaks::Slice(tweaks));
        by_path!(self.pi.path,
            vaes => vaes::tccr_hash(rk, InOut::InPlace(xs), tw),
            ni => ni::tccr_hash(rk, InOut::InPlace(xs), tw),
            soft => portable::tccr_hash(self.pi.soft(), xs, |j| tweaks[j]),
        )
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
    /// The stream keyed by `seed`, at block 0, best path for this CPU.
    pub fn new(seed: Block) -> Self {
        Prg {
            aes: Aes128::new(seed),
            counter: 0,
        }
    }
    /// As [`Prg::new`], restricted to the given features.
    pub fn with_features(seed: Block, f: Features) -> Self {
        Prg {
            aes: Aes128::with_features(seed, f),
            counter: 0,
        }
    }
    /// The implementation the stream runs.
    pub fn path(&self) -> AesPath {
        self.aes.path()
    }
    /// Index of the next block of the stream.
    pub fn counter(&self) -> u128 {
        self.counter
    }
    /// Jump to block `counter` of the stream.
    pub fn set_counter(&mut self, counter: u128) {
        self.counter = counter;
    }
    /// Fill `out` with the next `out.len()` blocks of the stream.
    pub fn fill_blocks(&mut self, out: &mut [Block]) {
        self.aes.ctr_blocks(self.counter, out);
        self.counter = self.counter.wrapping_add(out.len() as u128);
    }
    /// Fill `out` with pseudorandom bytes: the next `⌈out.len() / 16⌉` blocks of the stream
    /// (whole blocks are consumed; the last one may be cut), written straight into `out`.
    pub fn fill_bytes(&mut self, out: &mut [u8]) {
        let whole = out.len() / 16 * 16;
        let (head, tail) = out.split_at_mut(whole);
        self.aes.ctr_bytes(self.counter, head);
        self.counter = self.counter.wrapping_add((whole / 16) as u128);
        if !tail.is_empty() {
            let b = self.next_block().to_bytes();
            tail.copy_from_slice(&b[..tail.len()]);
        }
    }
    /// The next block of the stream.
    pub fn next_block(&mut self) -> Block {
        let mut b = [Block::ZERO];
        self.fill_blocks(&mut b);
        b[0]
    }
    /// The low 64 bits of the next block (the whole block is consumed).
    pub fn next_u64(&mut self) -> u64 {
        self.next_block().lo()
    }
}

/// Many AES-CTR streams, one key each, advanced together by the same number of blocks.
/// Stream `s` produces exactly what `Prg::new(seeds[s])` would.
///
/// Hardware layouts, by blocks per stream: with at least one full batch (16 VAES / 8 AES-NI)
/// each stream is filled by the single-key CTR kernel (contiguous output, round keys in
/// registers). Below that, VAES with ≥ 8 puts two streams' keys in the two lanes of each
/// round key and runs 8 counters of one stream pair per batch; with fewer, 8 stream pairs
/// (VAES, 16 streams) or 8 streams (AES-NI) go through one batch, one key per register.
#[derive(Clone)]
pub struct MultiPrg {
    path: AesPath,
    /// Per-stream round keys (hardware paths).
    keys: Vec<[Block; 11]>,
    /// Two-stream round keys for VAES (`pairs[p]` = streams `2p`, `2p + 1`).
    #[cfg(target_arch = "x86_64")]
    pairs: Vec<vaes::PairKeys>,
    /// RustCrypto ciphers (portable path only).
    soft: Vec<aes::Aes128Enc>,
    counter: u128,
}

impl MultiPrg {
    /// One stream per seed, all at block 0, best path for this CPU.
    pub fn new(seeds: &[Block]) -> Self {
        Self::with_features(seeds, Features::get())
    }
    /// As [`MultiPrg::new`], restricted to the given features.
    pub fn with_features(seeds: &[Block], f: Features) -> Self {
        let path = AesPath::choose(f);
        let keys: Vec<[Block; 11]> = seeds.iter().map(|s| schedule(s.to_bytes(), path)).collect();
        let soft = seeds
            .iter()
            .filter_map(|s| soft_for(path, s.to_bytes()))
            .collect();
        #[cfg(target_arch = "x86_64")]
        let pairs = match path {
            AesPath::Vaes256 => keys
                .chunks(2)
                .map(|c| vaes::pair_keys(&c[0], &c[c.len() - 1]))
                .collect(),
            _ => Vec::new(),
        };
        MultiPrg {
            path,
            keys,
            #[cfg(target_arch = "x86_64")]
            pairs,
            soft,
            counter: 0,
        }
    }
    /// Number of streams (seeds).
    pub fn streams(&self) -> usize {
        self.keys.len()
    }
    /// The implementation the streams run.
    pub fn path(&self) -> AesPath {
        self.path
    }
    /// Index of the next block of every stream.
    pub fn counter(&self) -> u128 {
        self.counter
    }
    /// Jump every stream to block `counter`.
    pub fn set_counter(&mut self, counter: u128) {
        self.counter = counter;
    }
    /// Advance every stream by `per_stream` blocks: `out[s * per_stream + j]` is block
    /// `counter + j` of stream `s`.
    ///
    /// # Panics
    /// If `out.len() != streams() * per_stream`.
    pub fn fill(&mut self, per_stream: usize, out: &mut [Block]) {
        assert_eq!(
            out.len(),
            self.keys.len() * per_stream,
            "MultiPrg::fill: length mismatch"
        );
        if per_stream == 0 {
            return;
        }
        let c = self.counter;
        by_path!(self.path,
            vaes => if per_stream >= vaes::B {
                for (k, row) in self.keys.iter().zip(out.chunks_mut(per_stream)) {
                    vaes::ctr(k, c, Block::slice_as_bytes_mut(row));
                }
            } else if per_stream >= vaes::B / 2 {
                vaes::multi_ctr_pair_major(&self.pairs, self.keys.len(), c, per_stream, out);
            } else {
                vaes::multi_ctr(&self.pairs, self.keys.len(), c, per_stream, out);
            },
            ni => if per_stream >= ni::B {
                for (k, row) in self.keys.iter().zip(out.chunks_mut(per_stream)) {
                    ni::ctr(k, c, Block::slice_as_bytes_mut(row));
                }
            } else {
                ni::multi_ctr(&self.keys, c, per_stream, out);
            },
            soft => {
                for (k, row) in self.soft.iter().zip(out.chunks_mut(per_stream)) {
                    portable::ctr(k, c, row);
                }
            },
        );
        self.counter = c.wrapping_add(per_stream as u128);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex16(s: &str) -> [u8; 16] {
        let mut o = [0u8; 16];
        for (i, b) in o.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        o
    }

    fn all_features() -> Vec<Features> {
        let hw = Features::detect_hw();
        let ni_only = Features { vaes: false, ..hw };
        vec![Features::portable(), ni_only, hw]
    }

    #[test]
    fn fips197_appendix_c1() {
        let key = Block::from_bytes(hex16("000102030405060708090a0b0c0d0e0f"));
        let pt = Block::from_bytes(hex16("00112233445566778899aabbccddeeff"));
        let ct = Block::from_bytes(hex16("69c4e0d86a7b0430d8cdb78070b4c55a"));
        for f in all_features() {
            assert_eq!(Aes128::with_features(key, f).encrypt_block(pt), ct);
        }
    }

    #[test]
    fn fips197_key_expansion() {
        let rk = expand_key(hex16("2b7e151628aed2a6abf7158809cf4f3c"));
        assert_eq!(rk[10].to_bytes(), hex16("d014f9a8c9ee2589e13f0cc8b6630ca6"));
    }

    #[test]
    fn claimed_features_are_checked_against_the_cpu() {
        let hw = Features::detect_hw();
        let all = Features {
            sse2: true,
            ssse3: true,
            aesni: true,
            avx2: true,
            vaes: true,
        };
        let p = Aes128::with_features(Block::ZERO, all).path();
        assert_eq!(p == AesPath::Vaes256, hw.vaes);
        assert_eq!(p == AesPath::Portable, !hw.aesni);
    }

    /// Counter and tweak generation across the 2^64 carry and the 2^128 wrap, on every path
    /// (the vector-add fast path must hand over to the carrying slow path).
    #[test]
    fn counters_carry_across_64_and_128_bits() {
        let key = Block(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210);
        let starts = [(1u128 << 64) - 5, u128::MAX - 6, (1u128 << 64) - 17, 0];
        for f in all_features() {
            let aes = Aes128::with_features(key, f);
            let h = FixedKeyHash::with_features(key, f);
            for &s in &starts {
                let mut prg = Prg::with_features(key, f);
                prg.set_counter(s);
                let mut got = vec![Block::ZERO; 37];
                prg.fill_blocks(&mut got);
                for (j, g) in got.iter().enumerate() {
                    assert_eq!(
                        *g,
                        aes.encrypt_block(Block(s.wrapping_add(j as u128))),
                        "{f:?} {s:x} {j}"
                    );
                }
                let xs: Vec<Block> = (0..37u128).map(|j| Block(j * 0x9e37_79b9)).collect();
                let mut t = xs.clone();
                h.tccr_hash(&mut t, s);
                for (j, (x, g)) in xs.iter().zip(&t).enumerate() {
                    let p = aes.encrypt_block(*x);
                    let want = aes.encrypt_block(p ^ Block(s.wrapping_add(j as u128))) ^ p;
                    assert_eq!(*g, want, "{f:?} {s:x} {j}");
                }
            }
        }
    }
}
