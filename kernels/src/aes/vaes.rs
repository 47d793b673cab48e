//! VAES-256 kernels (`vaesenc ymm`): two blocks per register, [`Y`] = 8 registers = [`B`] = 16
//! independent blocks in flight per batch, round keys broadcast to both lanes once per call
//! (rounds 1..=7 held in registers, the rest as memory operands; see `ni` for why the ladder
//! is inline assembly).
//!
//! On Zen 3, 8 ymm in flight measured as the sweet spot (820–940 M blocks/s; 12 is no better
//! and 16 spills). Block `2t` sits in the low lane of register `t`, block
//! `2t + 1` in the high lane, so plain 256-bit loads and stores move consecutive blocks.
//!
//! The entry points take slices ([`InOut`] for in-place or out-of-place work) and check their
//! lengths, so they are memory-safe; they are `#[target_feature]` functions, so calling them
//! is `unsafe` and the caller guarantees the CPU has VAES, AVX2 and AES-NI (the
//! [`AesPath`](super::AesPath) token was chosen from detected features). The per-batch
//! helpers below them work on raw pointers valid for one batch.

use super::ni::batched;
use super::{InOut, Tweaks};
use crate::block::Block;
use core::arch::x86_64::*;

/// Registers in flight per batch.
const Y: usize = 8;
/// Blocks in flight per batch.
pub(super) const B: usize = 2 * Y;

#[inline(always)]
unsafe fn ld1(p: *const Block) -> __m128i {
    // SAFETY: the caller guarantees `p` is valid for one block.
    unsafe { _mm_loadu_si128(p.cast()) }
}

#[inline(always)]
unsafe fn ld2(p: *const Block) -> __m256i {
    // SAFETY: the caller guarantees `p` is valid for two blocks.
    unsafe { _mm256_loadu_si256(p.cast()) }
}

#[inline(always)]
unsafe fn st2(p: *mut Block, v: __m256i) {
    // SAFETY: the caller guarantees `p` is valid for writing two blocks.
    unsafe { _mm256_storeu_si256(p.cast(), v) }
}

/// Store the low lane to `lo` and the high lane to `hi`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn st_lanes(lo: *mut Block, hi: *mut Block, v: __m256i) {
    // SAFETY: the caller guarantees both pointers are valid for one block.
    unsafe {
        _mm_storeu_si128(lo.cast(), _mm256_castsi256_si128(v));
        _mm_storeu_si128(hi.cast(), _mm256_extracti128_si256::<1>(v));
    }
}

/// The 11 round keys broadcast to both lanes.
#[inline]
#[target_feature(enable = "vaes,avx2,aes")]
fn keys(rk: &[Block; 11]) -> [__m256i; 11] {
    let mut k = [_mm256_setzero_si256(); 11];
    for (kr, r) in k.iter_mut().zip(rk.iter()) {
        // SAFETY: `r` is a reference to a block.
        *kr = _mm256_broadcastsi128_si256(unsafe { ld1(r) });
    }
    k
}

// The AES-128 round ladder is inline assembly, round-major over the 8 registers of a batch.
// Left to itself, LLVM's scheduler (under register pressure: 8 data registers + 11 round keys
// > 16 ymm registers) reorders the ladder block-major, leaving about one dependent `aesenc`
// chain in flight and halving throughput. Round keys 1..=7 of a one-key ladder sit in
// registers; the others are memory operands (round `r` at byte offset `32 r`).

/// One AES step on the 8 registers `{x0}`..`{x7}` with the same round-key operand `$key`.
#[rustfmt::skip]
macro_rules! step8k {
    ($op:literal, $key:literal) => {
        concat!(
            $op, " {x0}, {x0}, ", $key, "\n",
            $op, " {x1}, {x1}, ", $key, "\n",
            $op, " {x2}, {x2}, ", $key, "\n",
            $op, " {x3}, {x3}, ", $key, "\n",
            $op, " {x4}, {x4}, ", $key, "\n",
            $op, " {x5}, {x5}, ", $key, "\n",
            $op, " {x6}, {x6}, ", $key, "\n",
            $op, " {x7}, {x7}, ", $key, "\n",
        )
    };
}

/// One AES step on the 8 registers `{x0}`..`{x7}`, register `t` with the round key at
/// `[{kt} + $off]` (one key schedule per register).
#[rustfmt::skip]
macro_rules! step8m {
    ($op:literal, $off:literal) => {
        concat!(
            $op, " {x0}, {x0}, ymmword ptr [{k0} + ", $off, "]\n",
            $op, " {x1}, {x1}, ymmword ptr [{k1} + ", $off, "]\n",
            $op, " {x2}, {x2}, ymmword ptr [{k2} + ", $off, "]\n",
            $op, " {x3}, {x3}, ymmword ptr [{k3} + ", $off, "]\n",
            $op, " {x4}, {x4}, ymmword ptr [{k4} + ", $off, "]\n",
            $op, " {x5}, {x5}, ymmword ptr [{k5} + ", $off, "]\n",
            $op, " {x6}, {x6}, ymmword ptr [{k6} + ", $off, "]\n",
            $op, " {x7}, {x7}, ymmword ptr [{k7} + ", $off, "]\n",
        )
    };
}

/// The ladder with one key schedule per register.
#[rustfmt::skip]
macro_rules! ladder8_multi {
    () => {
        concat!(
            step8m!("vpxor", 0),
            step8m!("vaesenc", 32),
            step8m!("vaesenc", 64),
            step8m!("vaesenc", 96),
            step8m!("vaesenc", 128),
            step8m!("vaesenc", 160),
            step8m!("vaesenc", 192),
            step8m!("vaesenc", 224),
            step8m!("vaesenc", 256),
            step8m!("vaesenc", 288),
            step8m!("vaesenclast", 320),
        )
    };
}

/// Encrypt the 8 registers (16 blocks) of a batch under one (broadcast) key.
#[inline]
#[target_feature(enable = "vaes,avx2,aes")]
fn enc(k: &[__m256i; 11], x: &mut [__m256i; Y]) {
    let [x0, x1, x2, x3, x4, x5, x6, x7] = x;
    // SAFETY: reads the 11 round keys behind `k` only; VAES and AVX2 are enabled.
    unsafe {
        core::arch::asm!(
            step8k!("vpxor", "ymmword ptr [{k}]"),
            step8k!("vaesenc", "{r1}"),
            step8k!("vaesenc", "{r2}"),
            step8k!("vaesenc", "{r3}"),
            step8k!("vaesenc", "{r4}"),
            step8k!("vaesenc", "{r5}"),
            step8k!("vaesenc", "{r6}"),
            step8k!("vaesenc", "{r7}"),
            step8k!("vaesenc", "ymmword ptr [{k} + 256]"),
            step8k!("vaesenc", "ymmword ptr [{k} + 288]"),
            step8k!("vaesenclast", "ymmword ptr [{k} + 320]"),
            k = in(reg) k.as_ptr(),
            r1 = in(ymm_reg) k[1],
            r2 = in(ymm_reg) k[2],
            r3 = in(ymm_reg) k[3],
            r4 = in(ymm_reg) k[4],
            r5 = in(ymm_reg) k[5],
            r6 = in(ymm_reg) k[6],
            r7 = in(ymm_reg) k[7],
            x0 = inout(ymm_reg) *x0, x1 = inout(ymm_reg) *x1,
            x2 = inout(ymm_reg) *x2, x3 = inout(ymm_reg) *x3,
            x4 = inout(ymm_reg) *x4, x5 = inout(ymm_reg) *x5,
            x6 = inout(ymm_reg) *x6, x7 = inout(ymm_reg) *x7,
            options(nostack, readonly, preserves_flags, pure),
        );
    }
}

/// Encrypt register `t` of a batch under the two-lane key schedule `kp[t]`.
#[inline]
#[target_feature(enable = "vaes,avx2,aes")]
fn enc_multi(kp: &[&PairKeys; Y], x: &mut [__m256i; Y]) {
    let [x0, x1, x2, x3, x4, x5, x6, x7] = x;
    // SAFETY: reads the 22 blocks behind each `kp[t]` only.
    unsafe {
        core::arch::asm!(
            ladder8_multi!(),
            k0 = in(reg) kp[0].as_ptr(), k1 = in(reg) kp[1].as_ptr(),
            k2 = in(reg) kp[2].as_ptr(), k3 = in(reg) kp[3].as_ptr(),
            k4 = in(reg) kp[4].as_ptr(), k5 = in(reg) kp[5].as_ptr(),
            k6 = in(reg) kp[6].as_ptr(), k7 = in(reg) kp[7].as_ptr(),
            x0 = inout(ymm_reg) *x0, x1 = inout(ymm_reg) *x1,
            x2 = inout(ymm_reg) *x2, x3 = inout(ymm_reg) *x3,
            x4 = inout(ymm_reg) *x4, x5 = inout(ymm_reg) *x5,
            x6 = inout(ymm_reg) *x6, x7 = inout(ymm_reg) *x7,
            options(nostack, readonly, preserves_flags, pure),
        );
    }
}

/// Counters `c + 2t` (low lane) and `c + 2t + 1` (high lane) for `t < N`.
#[inline]
#[target_feature(enable = "avx2")]
fn ctrs<const N: usize>(c: u128) -> [__m256i; N] {
    let mut out = [_mm256_setzero_si256(); N];
    let lo = c as u64;
    let hi = (c >> 64) as i64;
    if lo.checked_add(2 * N as u64 - 1).is_some() {
        let base = _mm256_set_epi64x(hi, lo.wrapping_add(1) as i64, hi, lo as i64);
        for (i, o) in out.iter_mut().enumerate() {
            let s = 2 * i as i64;
            *o = _mm256_add_epi64(base, _mm256_set_epi64x(0, s, 0, s));
        }
    } else {
        for (i, o) in out.iter_mut().enumerate() {
            let a = c.wrapping_add(2 * i as u128);
            let b = a.wrapping_add(1);
            *o = _mm256_set_epi64x((b >> 64) as i64, b as i64, (a >> 64) as i64, a as i64);
        }
    }
    out
}

/// Counters `c + t` broadcast to both lanes, for `t < N`.
#[inline]
#[target_feature(enable = "avx2")]
fn ctrs_bcast<const N: usize>(c: u128) -> [__m256i; N] {
    let mut out = [_mm256_setzero_si256(); N];
    let lo = c as u64;
    if lo.checked_add(N as u64 - 1).is_some() {
        let hi = (c >> 64) as i64;
        let base = _mm256_set_epi64x(hi, lo as i64, hi, lo as i64);
        for (i, o) in out.iter_mut().enumerate() {
            *o = _mm256_add_epi64(base, _mm256_set_epi64x(0, i as i64, 0, i as i64));
        }
    } else {
        for (i, o) in out.iter_mut().enumerate() {
            let v = c.wrapping_add(i as u128);
            let (l, h) = (v as i64, (v >> 64) as i64);
            *o = _mm256_set_epi64x(h, l, h, l);
        }
    }
    out
}

/// Tweaks for one batch of `B` blocks starting at offset `off` of the tweak source.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn tweaks(tw: Tweaks<'_>, off: usize) -> [__m256i; Y] {
    match tw {
        Tweaks::Counter(c) => ctrs::<Y>(c.wrapping_add(off as u128)),
        Tweaks::Slice(p) => {
            let mut out = [_mm256_setzero_si256(); Y];
            for (i, o) in out.iter_mut().enumerate() {
                // SAFETY: the caller guarantees the slice covers this batch.
                *o = unsafe { ld2(p.as_ptr().add(off + 2 * i)) };
            }
            out
        }
    }
}

#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load_batch(src: *const Block) -> [__m256i; Y] {
    let mut x = [_mm256_setzero_si256(); Y];
    for (t, v) in x.iter_mut().enumerate() {
        // SAFETY: caller: `src` valid for `B` blocks.
        *v = unsafe { ld2(src.add(2 * t)) };
    }
    x
}

#[inline]
#[target_feature(enable = "avx2")]
unsafe fn store_batch(dst: *mut Block, x: &[__m256i; Y]) {
    for (t, v) in x.iter().enumerate() {
        // SAFETY: caller: `dst` valid for `B` blocks.
        unsafe { st2(dst.add(2 * t), *v) };
    }
}

/// Copy `r < B` blocks into a zero-padded stack batch.
#[inline]
unsafe fn pad(src: *const Block, r: usize) -> [Block; B] {
    let mut buf = [Block::ZERO; B];
    // SAFETY: caller: `src` valid for `r` blocks.
    buf[..r].copy_from_slice(unsafe { core::slice::from_raw_parts(src, r) });
    buf
}

/// `dst[j] = AES_k(src[j])`.
#[target_feature(enable = "vaes,avx2,aes")]
pub(super) fn encrypt(rk: &[Block; 11], io: InOut<'_>) {
    let (src, dst, n) = io.raw();
    let k = keys(rk);
    // SAFETY: `raw` gives pointers valid for `n` blocks, equal or disjoint; tails use stack
    // buffers.
    unsafe {
        batched!(
            n,
            B,
            |i| {
                let mut x = load_batch(src.add(i));
                enc(&k, &mut x);
                store_batch(dst.add(i), &x);
            },
            |i, r| {
                let mut buf = pad(src.add(i), r);
                let mut x = load_batch(buf.as_ptr());
                enc(&k, &mut x);
                store_batch(buf.as_mut_ptr(), &x);
                core::ptr::copy_nonoverlapping(buf.as_ptr(), dst.add(i), r);
            }
        );
    }
}

/// One CR batch: `dst[t] = π(src[t]) ⊕ src[t]` for `t < B`.
#[inline]
#[target_feature(enable = "vaes,avx2,aes")]
unsafe fn cr_batch(k: &[__m256i; 11], src: *const Block, dst: *mut Block) {
    // SAFETY: caller: both pointers valid for `B` blocks.
    unsafe {
        let x0 = load_batch(src);
        let mut x = x0;
        enc(k, &mut x);
        for t in 0..Y {
            x[t] = _mm256_xor_si256(x[t], x0[t]);
        }
        store_batch(dst, &x);
    }
}

/// `dst[j] = π(src[j]) ⊕ src[j]`.
#[target_feature(enable = "vaes,avx2,aes")]
pub(super) fn cr_hash(rk: &[Block; 11], io: InOut<'_>) {
    let (src, dst, n) = io.raw();
    let k = keys(rk);
    // SAFETY: `raw` gives pointers valid for `n` blocks, equal or disjoint; tails use stack
    // buffers.
    unsafe {
        batched!(
            n,
            B,
            |i| { cr_batch(&k, src.add(i), dst.add(i)) },
            |i, r| {
                let mut buf = pad(src.add(i), r);
                cr_batch(&k, buf.as_ptr(), buf.as_mut_ptr());
                core::ptr::copy_nonoverlapping(buf.as_ptr(), dst.add(i), r);
            }
        );
    }
}

/// One TCCR batch: `dst[t] = π(π(src[t]) ⊕ tw[t]) ⊕ π(src[t])`.
#[inline]
#[target_feature(enable = "vaes,avx2,aes")]
unsafe fn tccr_batch(k: &[__m256i; 11], src: *const Block, dst: *mut Block, tw: [__m256i; Y]) {
    // SAFETY: caller: both pointers valid for `B` blocks.
    let mut y = unsafe { load_batch(src) };
    enc(k, &mut y);
    let mut z = [_mm256_setzero_si256(); Y];
    for t in 0..Y {
        z[t] = _mm256_xor_si256(y[t], tw[t]);
    }
    enc(k, &mut z);
    for t in 0..Y {
        z[t] = _mm256_xor_si256(z[t], y[t]);
    }
    // SAFETY: as above.
    unsafe { store_batch(dst, &z) };
}

/// `dst[j] = π(π(src[j]) ⊕ i_j) ⊕ π(src[j])`, tweaks from `tw`.
///
/// # Panics
/// If a tweak slice does not hold exactly one tweak per block.
#[target_feature(enable = "vaes,avx2,aes")]
pub(super) fn tccr_hash(rk: &[Block; 11], io: InOut<'_>, tw: Tweaks<'_>) {
    let (src, dst, n) = io.raw();
    tw.check(n);
    let k = keys(rk);
    // SAFETY: `raw` gives pointers valid for `n` blocks, equal or disjoint, and a tweak slice
    // holds `n` blocks (checked); tails use stack buffers.
    unsafe {
        batched!(
            n,
            B,
            |i| { tccr_batch(&k, src.add(i), dst.add(i), tweaks(tw, i)) },
            |i, r| {
                let mut buf = pad(src.add(i), r);
                let t = match tw {
                    Tweaks::Counter(_) => tweaks(tw, i),
                    Tweaks::Slice(p) => {
                        let tb = pad(p[i..i + r].as_ptr(), r);
                        tweaks(Tweaks::Slice(&tb), 0)
                    }
                };
                tccr_batch(&k, buf.as_ptr(), buf.as_mut_ptr(), t);
                core::ptr::copy_nonoverlapping(buf.as_ptr(), dst.add(i), r);
            }
        );
    }
}

/// One pair batch over `Y` inputs: register `t` holds `x_t` (low) and `x_t ⊕ Δ` (high); then
/// `out0[t] = H(x_t)`, `out1[t] = H(x_t ⊕ Δ)` with `H` = CR (`tw = None`) or TCCR.
#[inline]
#[target_feature(enable = "vaes,avx2,aes")]
unsafe fn pairs_batch(
    k: &[__m256i; 11],
    src: *const Block,
    dmask: __m256i,
    out0: *mut Block,
    out1: *mut Block,
    tw: Option<[__m256i; Y]>,
) {
    let mut x = [_mm256_setzero_si256(); Y];
    for (t, v) in x.iter_mut().enumerate() {
        // SAFETY: caller: `src` valid for `Y` blocks.
        *v = _mm256_xor_si256(
            _mm256_broadcastsi128_si256(unsafe { ld1(src.add(t)) }),
            dmask,
        );
    }
    let h = match tw {
        None => {
            let x0 = x;
            enc(k, &mut x);
            for t in 0..Y {
                x[t] = _mm256_xor_si256(x[t], x0[t]);
            }
            x
        }
        Some(tw) => {
            enc(k, &mut x);
            let mut z = [_mm256_setzero_si256(); Y];
            for t in 0..Y {
                z[t] = _mm256_xor_si256(x[t], tw[t]);
            }
            enc(k, &mut z);
            for t in 0..Y {
                z[t] = _mm256_xor_si256(z[t], x[t]);
            }
            z
        }
    };
    for (t, v) in h.iter().enumerate() {
        // SAFETY: caller: outputs valid for `Y` blocks.
        unsafe { st_lanes(out0.add(t), out1.add(t), *v) };
    }
}

/// `out0[j] = H(src[j])`, `out1[j] = H(src[j] ⊕ Δ)`: CR hash when `tweak` is `None`, else
/// TCCR with tweak `tweak + j` for both.
///
/// # Panics
/// If the three lengths differ.
#[target_feature(enable = "vaes,avx2,aes")]
pub(super) fn hash_pairs(
    rk: &[Block; 11],
    src: &[Block],
    delta: Block,
    out0: &mut [Block],
    out1: &mut [Block],
    tweak: Option<u128>,
) {
    let n = src.len();
    assert!(
        out0.len() == n && out1.len() == n,
        "hash_pairs: length mismatch"
    );
    let (src, out0, out1) = (src.as_ptr(), out0.as_mut_ptr(), out1.as_mut_ptr());
    let k = keys(rk);
    // SAFETY: `delta` is a block.
    let dmask = _mm256_set_m128i(unsafe { ld1(&delta) }, _mm_setzero_si128());
    // SAFETY: the three slices hold `n` blocks (checked) and are disjoint (borrow rules);
    // tails use stack buffers.
    unsafe {
        batched!(
            n,
            Y,
            |i| {
                let tw = tweak.map(|c| ctrs_bcast::<Y>(c.wrapping_add(i as u128)));
                pairs_batch(&k, src.add(i), dmask, out0.add(i), out1.add(i), tw)
            },
            |i, r| {
                let tw = tweak.map(|c| ctrs_bcast::<Y>(c.wrapping_add(i as u128)));
                let buf = pad(src.add(i), r);
                let (mut o0, mut o1) = ([Block::ZERO; Y], [Block::ZERO; Y]);
                pairs_batch(
                    &k,
                    buf.as_ptr(),
                    dmask,
                    o0.as_mut_ptr(),
                    o1.as_mut_ptr(),
                    tw,
                );
                core::ptr::copy_nonoverlapping(o0.as_ptr(), out0.add(i), r);
                core::ptr::copy_nonoverlapping(o1.as_ptr(), out1.add(i), r);
            }
        );
    }
}

/// CTR mode: block `j` of `dst` (bytes `16 j..16 j + 16`, unaligned) is
/// `AES_k(counter + j)`. `dst.len()` must be a multiple of 16 (debug-asserted; trailing bytes
/// are left alone).
#[target_feature(enable = "vaes,avx2,aes")]
pub(super) fn ctr(rk: &[Block; 11], counter: u128, dst: &mut [u8]) {
    debug_assert_eq!(dst.len() % 16, 0, "ctr: partial block");
    let (n, dst) = (dst.len() / 16, dst.as_mut_ptr());
    let k = keys(rk);
    // SAFETY: `dst` is valid for `16 n` bytes; tails use a stack buffer.
    unsafe {
        batched!(
            n,
            B,
            |i| {
                let mut x = ctrs::<Y>(counter.wrapping_add(i as u128));
                enc(&k, &mut x);
                for (t, v) in x.iter().enumerate() {
                    _mm256_storeu_si256(dst.add(16 * (i + 2 * t)).cast(), *v);
                }
            },
            |i, r| {
                let mut x = ctrs::<Y>(counter.wrapping_add(i as u128));
                enc(&k, &mut x);
                let mut buf = [Block::ZERO; B];
                store_batch(buf.as_mut_ptr(), &x);
                core::ptr::copy_nonoverlapping(buf.as_ptr().cast::<u8>(), dst.add(16 * i), 16 * r);
            }
        );
    }
}

/// Round keys of two streams side by side: element `2r` is round key `r` of the first stream,
/// `2r + 1` of the second, so one 256-bit load gives a two-key round key.
pub(super) type PairKeys = [Block; 22];

/// Interleave the round keys of streams `a` and `b`.
pub(super) fn pair_keys(a: &[Block; 11], b: &[Block; 11]) -> PairKeys {
    let mut p = [Block::ZERO; 22];
    for r in 0..11 {
        p[2 * r] = a[r];
        p[2 * r + 1] = b[r];
    }
    p
}

/// The shape checks of the multi-stream kernels: one key pair per two streams, and
/// `streams * per` output blocks.
fn check_multi(pairs: &[PairKeys], streams: usize, per: usize, dst: &[Block]) {
    assert_eq!(pairs.len(), streams.div_ceil(2), "multi_ctr: key pairs");
    assert_eq!(
        Some(dst.len()),
        streams.checked_mul(per),
        "multi_ctr: length mismatch"
    );
}

/// Many CTR streams, two per register (different keys in the two lanes of every round key),
/// `Y` registers = 16 streams in flight per counter value. `pairs[p]` holds streams `2p` and
/// `2p + 1` (the last pair repeats its stream when `streams` is odd).
/// `dst[s * per + j] = AES_{key s}(counter + j)`.
///
/// # Panics
/// If `pairs.len() != streams.div_ceil(2)` or `dst.len() != streams * per`.
#[target_feature(enable = "vaes,avx2,aes")]
pub(super) fn multi_ctr(
    pairs: &[PairKeys],
    streams: usize,
    counter: u128,
    per: usize,
    dst: &mut [Block],
) {
    check_multi(pairs, streams, per, dst);
    let dst = dst.as_mut_ptr();
    let np = pairs.len();
    let mut g = 0;
    while g < np {
        let live = (np - g).min(Y);
        // Pad a short last group by repeating its last pair (computed, never stored).
        let kp: [&PairKeys; Y] = core::array::from_fn(|t| &pairs[g + t.min(live - 1)]);
        for j in 0..per {
            let c = ctrs_bcast::<1>(counter.wrapping_add(j as u128))[0];
            let mut x = [c; Y];
            enc_multi(&kp, &mut x);
            for (t, v) in x.iter().enumerate().take(live) {
                let s = 2 * (g + t);
                // SAFETY: `dst` holds `streams * per` blocks and `s <= 2 (np - 1) < streams`
                // (checked); `j < per`.
                unsafe {
                    if s + 1 < streams {
                        st_lanes(dst.add(s * per + j), dst.add((s + 1) * per + j), *v);
                    } else {
                        _mm_storeu_si128(dst.add(s * per + j).cast(), _mm256_castsi256_si128(*v));
                    }
                }
            }
        }
        g += Y;
    }
}

/// Many CTR streams, pair by pair: register `t` holds counter `counter + j + t` in both lanes
/// and is encrypted under the pair's two-lane key schedule (kept in registers), so one batch
/// gives blocks `j..j+8` of both streams. For 8 ≤ `per` < 16, where the single-stream kernel
/// would waste part of its 16-block batch and the interleaved one is load-bound.
/// `dst[s * per + j] = AES_{key s}(counter + j)`.
///
/// # Panics
/// As [`multi_ctr`].
#[target_feature(enable = "vaes,avx2,aes")]
pub(super) fn multi_ctr_pair_major(
    pairs: &[PairKeys],
    streams: usize,
    counter: u128,
    per: usize,
    dst: &mut [Block],
) {
    check_multi(pairs, streams, per, dst);
    let dst = dst.as_mut_ptr();
    for (p, pk) in pairs.iter().enumerate() {
        let mut k = [_mm256_setzero_si256(); 11];
        for (r, kr) in k.iter_mut().enumerate() {
            // SAFETY: `pk` holds 22 blocks.
            *kr = unsafe { ld2(&pk[2 * r]) };
        }
        let s = 2 * p;
        let mut j = 0;
        while j < per {
            let mut x = ctrs_bcast::<Y>(counter.wrapping_add(j as u128));
            enc(&k, &mut x);
            for (t, v) in x.iter().enumerate().take(per - j) {
                // SAFETY: `dst` holds `streams * per` blocks and `s < streams` (checked);
                // `j + t < per`.
                unsafe {
                    if s + 1 < streams {
                        st_lanes(dst.add(s * per + j + t), dst.add((s + 1) * per + j + t), *v);
                    } else {
                        _mm_storeu_si128(
                            dst.add(s * per + j + t).cast(),
                            _mm256_castsi256_si128(*v),
                        );
                    }
                }
            }
            j += Y;
        }
    }
}
