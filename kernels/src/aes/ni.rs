//! AES-NI kernels (128-bit `aesenc`): [`B`] = 8 independent blocks in flight per batch, the
//! round ladder unrolled round-major in inline assembly, round keys loaded once per call
//! (rounds 1..=7 held in registers, the rest as memory operands).
//!
//! Zen 3 has two AES pipes with 4-cycle latency, so 8 blocks keep both busy (measured on
//! Zen 3: 1/2/4/8 blocks in flight give 75/150/305/515 M blocks/s).
//!
//! The entry points take slices ([`InOut`] for in-place or out-of-place work) and check their
//! lengths, so they are memory-safe; they are `#[target_feature]` functions, so calling them
//! is `unsafe` and the caller guarantees the CPU has AES-NI and SSE2 (the
//! [`AesPath`](super::AesPath) token was chosen from detected features). The per-batch
//! helpers below them work on raw pointers valid for one batch.

use super::{InOut, Tweaks};
use crate::block::Block;
use core::arch::x86_64::*;

/// Blocks in flight per batch.
pub(super) const B: usize = 8;

#[inline(always)]
unsafe fn ld(p: *const Block) -> __m128i {
    // SAFETY: the caller guarantees `p` is valid for one block; loadu has no alignment need.
    unsafe { _mm_loadu_si128(p.cast()) }
}

#[inline(always)]
unsafe fn st(p: *mut Block, v: __m128i) {
    // SAFETY: the caller guarantees `p` is valid for writing one block.
    unsafe { _mm_storeu_si128(p.cast(), v) }
}

/// The 11 round keys as vectors.
#[inline]
#[target_feature(enable = "aes,sse2")]
fn keys(rk: &[Block; 11]) -> [__m128i; 11] {
    let mut k = [_mm_setzero_si128(); 11];
    for (kr, r) in k.iter_mut().zip(rk.iter()) {
        // SAFETY: `r` is a reference to a block.
        *kr = unsafe { ld(r) };
    }
    k
}

// The AES-128 round ladder is inline assembly, round-major over the 8 registers of a batch.
// Left to itself, LLVM's scheduler (under register pressure: 8 data registers + 11 round keys
// > 16 xmm registers) reorders the ladder block-major, leaving about one dependent `aesenc`
// chain in flight and halving throughput. Round keys 1..=7 of a one-key ladder sit in
// registers; the others are memory operands (round `r` at byte offset `16 r`).

/// One AES step on the 8 registers `{x0}`..`{x7}` with the same round-key operand `$key`.
#[rustfmt::skip]
macro_rules! step8k {
    ($op:literal, $key:literal) => {
        concat!(
            $op, " {x0}, ", $key, "\n",
            $op, " {x1}, ", $key, "\n",
            $op, " {x2}, ", $key, "\n",
            $op, " {x3}, ", $key, "\n",
            $op, " {x4}, ", $key, "\n",
            $op, " {x5}, ", $key, "\n",
            $op, " {x6}, ", $key, "\n",
            $op, " {x7}, ", $key, "\n",
        )
    };
}

/// One AES step on the 8 registers `{x0}`..`{x7}`, register `t` with the round key at
/// `[{kt} + $off]` (one key schedule per register).
#[rustfmt::skip]
macro_rules! step8m {
    ($op:literal, $off:literal) => {
        concat!(
            $op, " {x0}, xmmword ptr [{k0} + ", $off, "]\n",
            $op, " {x1}, xmmword ptr [{k1} + ", $off, "]\n",
            $op, " {x2}, xmmword ptr [{k2} + ", $off, "]\n",
            $op, " {x3}, xmmword ptr [{k3} + ", $off, "]\n",
            $op, " {x4}, xmmword ptr [{k4} + ", $off, "]\n",
            $op, " {x5}, xmmword ptr [{k5} + ", $off, "]\n",
            $op, " {x6}, xmmword ptr [{k6} + ", $off, "]\n",
            $op, " {x7}, xmmword ptr [{k7} + ", $off, "]\n",
        )
    };
}

/// The ladder with one key schedule per register.
#[rustfmt::skip]
macro_rules! ladder8_multi {
    () => {
        concat!(
            step8m!("pxor", 0),
            step8m!("aesenc", 16),
            step8m!("aesenc", 32),
            step8m!("aesenc", 48),
            step8m!("aesenc", 64),
            step8m!("aesenc", 80),
            step8m!("aesenc", 96),
            step8m!("aesenc", 112),
            step8m!("aesenc", 128),
            step8m!("aesenc", 144),
            step8m!("aesenclast", 160),
        )
    };
}

/// Encrypt the 8 blocks of a batch under one key.
#[inline]
#[target_feature(enable = "aes,sse2")]
fn enc(k: &[__m128i; 11], x: &mut [__m128i; B]) {
    let [x0, x1, x2, x3, x4, x5, x6, x7] = x;
    // SAFETY: reads the 11 aligned round keys behind `k` only; AES-NI is enabled.
    unsafe {
        core::arch::asm!(
            step8k!("pxor", "xmmword ptr [{k}]"),
            step8k!("aesenc", "{r1}"),
            step8k!("aesenc", "{r2}"),
            step8k!("aesenc", "{r3}"),
            step8k!("aesenc", "{r4}"),
            step8k!("aesenc", "{r5}"),
            step8k!("aesenc", "{r6}"),
            step8k!("aesenc", "{r7}"),
            step8k!("aesenc", "xmmword ptr [{k} + 128]"),
            step8k!("aesenc", "xmmword ptr [{k} + 144]"),
            step8k!("aesenclast", "xmmword ptr [{k} + 160]"),
            k = in(reg) k.as_ptr(),
            r1 = in(xmm_reg) k[1],
            r2 = in(xmm_reg) k[2],
            r3 = in(xmm_reg) k[3],
            r4 = in(xmm_reg) k[4],
            r5 = in(xmm_reg) k[5],
            r6 = in(xmm_reg) k[6],
            r7 = in(xmm_reg) k[7],
            x0 = inout(xmm_reg) *x0, x1 = inout(xmm_reg) *x1,
            x2 = inout(xmm_reg) *x2, x3 = inout(xmm_reg) *x3,
            x4 = inout(xmm_reg) *x4, x5 = inout(xmm_reg) *x5,
            x6 = inout(xmm_reg) *x6, x7 = inout(xmm_reg) *x7,
            options(nostack, readonly, preserves_flags, pure),
        );
    }
}

/// Encrypt block `t` of a batch under the key schedule `kp[t]` (8 different keys).
#[inline]
#[target_feature(enable = "aes,sse2")]
fn enc_multi(kp: &[&[Block; 11]; B], x: &mut [__m128i; B]) {
    let [x0, x1, x2, x3, x4, x5, x6, x7] = x;
    // SAFETY: reads the 11 round keys behind each `kp[t]` (Block is 16-byte aligned) only.
    unsafe {
        core::arch::asm!(
            ladder8_multi!(),
            k0 = in(reg) kp[0].as_ptr(), k1 = in(reg) kp[1].as_ptr(),
            k2 = in(reg) kp[2].as_ptr(), k3 = in(reg) kp[3].as_ptr(),
            k4 = in(reg) kp[4].as_ptr(), k5 = in(reg) kp[5].as_ptr(),
            k6 = in(reg) kp[6].as_ptr(), k7 = in(reg) kp[7].as_ptr(),
            x0 = inout(xmm_reg) *x0, x1 = inout(xmm_reg) *x1,
            x2 = inout(xmm_reg) *x2, x3 = inout(xmm_reg) *x3,
            x4 = inout(xmm_reg) *x4, x5 = inout(xmm_reg) *x5,
            x6 = inout(xmm_reg) *x6, x7 = inout(xmm_reg) *x7,
            options(nostack, readonly, preserves_flags, pure),
        );
    }
}

/// `N` consecutive counters `c, c+1, …` (little-endian u128). Built with one 64-bit vector add
/// per block unless the low half wraps inside the batch.
#[inline]
#[target_feature(enable = "sse2")]
fn ctrs<const N: usize>(c: u128) -> [__m128i; N] {
    let mut out = [_mm_setzero_si128(); N];
    let lo = c as u64;
    if lo.checked_add(N as u64 - 1).is_some() {
        let base = _mm_set_epi64x((c >> 64) as i64, lo as i64);
        for (i, o) in out.iter_mut().enumerate() {
            *o = _mm_add_epi64(base, _mm_set_epi64x(0, i as i64));
        }
    } else {
        for (i, o) in out.iter_mut().enumerate() {
            let v = c.wrapping_add(i as u128);
            *o = _mm_set_epi64x((v >> 64) as i64, v as i64);
        }
    }
    out
}

/// Tweaks for one batch of `N` blocks starting at offset `off` of the tweak source.
#[inline]
#[target_feature(enable = "sse2")]
unsafe fn tweaks<const N: usize>(tw: Tweaks<'_>, off: usize) -> [__m128i; N] {
    match tw {
        Tweaks::Counter(c) => ctrs::<N>(c.wrapping_add(off as u128)),
        Tweaks::Slice(p) => {
            let mut out = [_mm_setzero_si128(); N];
            for (i, o) in out.iter_mut().enumerate() {
                // SAFETY: the caller guarantees the slice covers this batch.
                *o = unsafe { ld(p.as_ptr().add(off + i)) };
            }
            out
        }
    }
}

/// Run `batch(src_offset, dst, n_in_batch)` over `n` blocks in batches of `bs`; the last partial
/// batch goes through stack copies so the batch body always touches `bs` blocks.
macro_rules! batched {
    ($n:expr, $bs:expr, |$off:ident| $full:block, |$roff:ident, $r:ident| $tail:block) => {{
        let n: usize = $n;
        let full = n / $bs * $bs;
        let mut $off = 0usize;
        while $off < full {
            $full
            $off += $bs;
        }
        let $r = n - full;
        if $r > 0 {
            let $roff = full;
            $tail
        }
    }};
}
pub(super) use batched;

/// One batch: `dst[t] = AES_k(src[t])` for `t < B`.
#[inline]
#[target_feature(enable = "aes,sse2")]
unsafe fn encrypt_batch(k: &[__m128i; 11], src: *const Block, dst: *mut Block) {
    let mut x = [_mm_setzero_si128(); B];
    for (t, v) in x.iter_mut().enumerate() {
        // SAFETY: caller: `src` valid for `B` blocks.
        *v = unsafe { ld(src.add(t)) };
    }
    enc(k, &mut x);
    for (t, v) in x.iter().enumerate() {
        // SAFETY: caller: `dst` valid for `B` blocks.
        unsafe { st(dst.add(t), *v) };
    }
}

/// `dst[j] = AES_k(src[j])`.
#[target_feature(enable = "aes,sse2")]
pub(super) fn encrypt(rk: &[Block; 11], io: InOut<'_>) {
    let (src, dst, n) = io.raw();
    let k = keys(rk);
    // SAFETY: `raw` gives pointers valid for `n` blocks, equal or disjoint; tails use stack
    // buffers.
    unsafe {
        batched!(
            n,
            B,
            |i| { encrypt_batch(&k, src.add(i), dst.add(i)) },
            |i, r| {
                let mut buf = [Block::ZERO; B];
                buf[..r].copy_from_slice(core::slice::from_raw_parts(src.add(i), r));
                encrypt_batch(&k, buf.as_ptr(), buf.as_mut_ptr());
                core::ptr::copy_nonoverlapping(buf.as_ptr(), dst.add(i), r);
            }
        );
    }
}

/// One CR batch: `dst[t] = π(src[t]) ⊕ src[t]` for `t < B`.
#[inline]
#[target_feature(enable = "aes,sse2")]
unsafe fn cr_batch(k: &[__m128i; 11], src: *const Block, dst: *mut Block) {
    let mut x = [_mm_setzero_si128(); B];
    for (t, v) in x.iter_mut().enumerate() {
        // SAFETY: caller: `src` valid for `B` blocks.
        *v = unsafe { ld(src.add(t)) };
    }
    let x0 = x;
    enc(k, &mut x);
    for t in 0..B {
        // SAFETY: caller: `dst` valid for `B` blocks.
        unsafe { st(dst.add(t), _mm_xor_si128(x[t], x0[t])) };
    }
}

/// `dst[j] = π(src[j]) ⊕ src[j]`.
#[target_feature(enable = "aes,sse2")]
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
                let mut buf = [Block::ZERO; B];
                buf[..r].copy_from_slice(core::slice::from_raw_parts(src.add(i), r));
                cr_batch(&k, buf.as_ptr(), buf.as_mut_ptr());
                core::ptr::copy_nonoverlapping(buf.as_ptr(), dst.add(i), r);
            }
        );
    }
}

/// One TCCR batch: `dst[t] = π(π(src[t]) ⊕ tw[t]) ⊕ π(src[t])`.
#[inline]
#[target_feature(enable = "aes,sse2")]
unsafe fn tccr_batch(k: &[__m128i; 11], src: *const Block, dst: *mut Block, tw: [__m128i; B]) {
    let mut y = [_mm_setzero_si128(); B];
    for (t, v) in y.iter_mut().enumerate() {
        // SAFETY: caller: `src` valid for `B` blocks.
        *v = unsafe { ld(src.add(t)) };
    }
    enc(k, &mut y);
    let mut z = [_mm_setzero_si128(); B];
    for t in 0..B {
        z[t] = _mm_xor_si128(y[t], tw[t]);
    }
    enc(k, &mut z);
    for t in 0..B {
        // SAFETY: caller: `dst` valid for `B` blocks.
        unsafe { st(dst.add(t), _mm_xor_si128(z[t], y[t])) };
    }
}

/// `dst[j] = π(π(src[j]) ⊕ i_j) ⊕ π(src[j])`, tweaks from `tw`.
///
/// # Panics
/// If a tweak slice does not hold exactly one tweak per block.
#[target_feature(enable = "aes,sse2")]
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
            |i| { tccr_batch(&k, src.add(i), dst.add(i), tweaks::<B>(tw, i)) },
            |i, r| {
                let mut buf = [Block::ZERO; B];
                buf[..r].copy_from_slice(core::slice::from_raw_parts(src.add(i), r));
                let t = match tw {
                    Tweaks::Counter(_) => tweaks::<B>(tw, i),
                    Tweaks::Slice(p) => {
                        let mut tb = [Block::ZERO; B];
                        tb[..r].copy_from_slice(&p[i..i + r]);
                        tweaks::<B>(Tweaks::Slice(&tb), 0)
                    }
                };
                tccr_batch(&k, buf.as_ptr(), buf.as_mut_ptr(), t);
                core::ptr::copy_nonoverlapping(buf.as_ptr(), dst.add(i), r);
            }
        );
    }
}

/// One pair batch over `B / 2` inputs: blocks `x_t` and `x_t ⊕ Δ` side by side, then
/// `out0[t] = H(x_t)`, `out1[t] = H(x_t ⊕ Δ)` with `H` = CR (`tw = None`) or TCCR.
#[inline]
#[target_feature(enable = "aes,sse2")]
unsafe fn pairs_batch(
    k: &[__m128i; 11],
    src: *const Block,
    d: __m128i,
    out0: *mut Block,
    out1: *mut Block,
    tw: Option<[__m128i; B / 2]>,
) {
    let mut x = [_mm_setzero_si128(); B];
    for t in 0..B / 2 {
        // SAFETY: caller: `src` valid for `B / 2` blocks.
        let v = unsafe { ld(src.add(t)) };
        x[2 * t] = v;
        x[2 * t + 1] = _mm_xor_si128(v, d);
    }
    let h = match tw {
        None => {
            let x0 = x;
            enc(k, &mut x);
            for t in 0..B {
                x[t] = _mm_xor_si128(x[t], x0[t]);
            }
            x
        }
        Some(tw) => {
            enc(k, &mut x);
            let mut z = [_mm_setzero_si128(); B];
            for t in 0..B {
                z[t] = _mm_xor_si128(x[t], tw[t / 2]);
            }
            enc(k, &mut z);
            for t in 0..B {
                z[t] = _mm_xor_si128(z[t], x[t]);
            }
            z
        }
    };
    for t in 0..B / 2 {
        // SAFETY: caller: outputs valid for `B / 2` blocks.
        unsafe {
            st(out0.add(t), h[2 * t]);
            st(out1.add(t), h[2 * t + 1]);
        }
    }
}

/// `out0[j] = H(src[j])`, `out1[j] = H(src[j] ⊕ Δ)`: CR hash when `tweak` is `None`, else
/// TCCR with tweak `tweak + j` for both.
///
/// # Panics
/// If the three lengths differ.
#[target_feature(enable = "aes,sse2")]
pub(super) fn hash_pairs(
    rk: &[Block; 11],
    src: &[Block],
    delta: Block,
    out0: &mut [Block],
    out1: &mut [Block],
    tweak: Option<u128>,
) {
    const H: usize = B / 2;
    let n = src.len();
    assert!(
        out0.len() == n && out1.len() == n,
        "hash_pairs: length mismatch"
    );
    let (src, out0, out1) = (src.as_ptr(), out0.as_mut_ptr(), out1.as_mut_ptr());
    let k = keys(rk);
    // SAFETY: `delta` is a block.
    let d = unsafe { ld(&delta) };
    let tw = |i: usize| tweak.map(|c| ctrs::<H>(c.wrapping_add(i as u128)));
    // SAFETY: the three slices hold `n` blocks (checked) and are disjoint (borrow rules);
    // tails use stack buffers.
    unsafe {
        batched!(
            n,
            H,
            |i| { pairs_batch(&k, src.add(i), d, out0.add(i), out1.add(i), tw(i)) },
            |i, r| {
                let mut buf = [Block::ZERO; H];
                buf[..r].copy_from_slice(core::slice::from_raw_parts(src.add(i), r));
                let (mut o0, mut o1) = ([Block::ZERO; H], [Block::ZERO; H]);
                pairs_batch(&k, buf.as_ptr(), d, o0.as_mut_ptr(), o1.as_mut_ptr(), tw(i));
                core::ptr::copy_nonoverlapping(o0.as_ptr(), out0.add(i), r);
                core::ptr::copy_nonoverlapping(o1.as_ptr(), out1.add(i), r);
            }
        );
    }
}

/// CTR mode: block `j` of `dst` (bytes `16 j..16 j + 16`, unaligned) is
/// `AES_k(counter + j)`. `dst.len()` must be a multiple of 16 (debug-asserted; trailing bytes
/// are left alone).
#[target_feature(enable = "aes,sse2")]
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
                let mut x = ctrs::<B>(counter.wrapping_add(i as u128));
                enc(&k, &mut x);
                for (t, v) in x.iter().enumerate() {
                    _mm_storeu_si128(dst.add(16 * (i + t)).cast(), *v);
                }
            },
            |i, r| {
                let mut x = ctrs::<B>(counter.wrapping_add(i as u128));
                enc(&k, &mut x);
                let mut buf = [Block::ZERO; B];
                for (t, v) in x.iter().enumerate() {
                    st(buf.as_mut_ptr().add(t), *v);
                }
                core::ptr::copy_nonoverlapping(buf.as_ptr().cast::<u8>(), dst.add(16 * i), 16 * r);
            }
        );
    }
}

/// Many CTR streams with one key each, `B` streams interleaved (each block under a different
/// key; round keys are read from memory as `aesenc` operands).
/// `dst[s * per + j] = AES_{keys[s]}(counter + j)`.
///
/// # Panics
/// If `dst.len() != keys.len() * per`.
#[target_feature(enable = "aes,sse2")]
pub(super) fn multi_ctr(keys: &[[Block; 11]], counter: u128, per: usize, dst: &mut [Block]) {
    let s_total = keys.len();
    assert_eq!(dst.len(), s_total * per, "multi_ctr: length mismatch");
    let dst = dst.as_mut_ptr();
    let mut g = 0;
    while g < s_total {
        let live = (s_total - g).min(B);
        // Pad a short last group by repeating its last stream (computed, never stored).
        let kp: [&[Block; 11]; B] = core::array::from_fn(|t| &keys[g + t.min(live - 1)]);
        for j in 0..per {
            let c = ctrs::<1>(counter.wrapping_add(j as u128))[0];
            let mut x = [c; B];
            enc_multi(&kp, &mut x);
            for (t, v) in x.iter().enumerate().take(live) {
                // SAFETY: `dst` holds `keys.len() * per` blocks (asserted); `g + t < s_total`
                // and `j < per`.
                unsafe { st(dst.add((g + t) * per + j), *v) };
            }
        }
        g += B;
    }
}

/// One step of the AES-128 key schedule: `w ⊕ (w ≪ 32) ⊕ (w ≪ 64) ⊕ (w ≪ 96)` (the running
/// XOR of the previous round key's words) XORed with word 3 of `aeskeygenassist`'s output
/// (`SubWord(RotWord(w_3)) ⊕ Rcon`), broadcast.
#[inline]
#[target_feature(enable = "aes,sse2")]
fn schedule_step(prev: __m128i, assist: __m128i) -> __m128i {
    let t = _mm_shuffle_epi32::<0xff>(assist);
    let mut k = prev;
    k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
    k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
    k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
    _mm_xor_si128(k, t)
}

/// The FIPS-197 AES-128 key schedule with `aeskeygenassist`: the same round keys as
/// [`portable::expand_key`](super::portable::expand_key), with no table lookup (the S-box runs
/// in the AES unit, in constant time).
#[target_feature(enable = "aes,sse2")]
pub(super) fn expand_key(key: [u8; 16]) -> [Block; 11] {
    let mut k = [_mm_setzero_si128(); 11];
    // SAFETY: `key` is 16 readable bytes; loadu has no alignment need.
    k[0] = unsafe { _mm_loadu_si128(key.as_ptr().cast()) };
    macro_rules! round {
        ($r:literal, $rcon:literal) => {
            k[$r] = schedule_step(k[$r - 1], _mm_aeskeygenassist_si128::<$rcon>(k[$r - 1]));
        };
    }
    round!(1, 0x01);
    round!(2, 0x02);
    round!(3, 0x04);
    round!(4, 0x08);
    round!(5, 0x10);
    round!(6, 0x20);
    round!(7, 0x40);
    round!(8, 0x80);
    round!(9, 0x1b);
    round!(10, 0x36);
    let mut rk = [Block::ZERO; 11];
    for (r, v) in rk.iter_mut().zip(k) {
        // SAFETY: `r` is a reference to one writable block.
        unsafe { st(r, v) };
    }
    rk
}
