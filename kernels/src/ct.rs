//! Constant-time selection: the one place where a secret bit or a secret small index picks
//! between values.
//!
//! Every helper turns the secret into an all-ones / all-zero mask and combines the candidates
//! with AND / XOR, so the instructions executed and the memory touched do not depend on the
//! secret. The mask goes through [`barrier`] first: without it LLVM recognises
//! `(0 − b) & x` as `select b, x, 0` and its x86 cmov-to-branch pass may emit a branch again.
//!
//! Used by the OT receivers (choice bits), the base OT (choice bits), SoftSpoken's and
//! Ferret's secret bits, and the protocols that select on a share bit (`docs/constant-time.md`).

use crate::block::Block;

/// Hide `x` from the optimizer: the result equals `x`, but the compiler cannot see where it
/// came from (an empty inline-assembly statement on x86_64 and aarch64, which costs nothing;
/// [`core::hint::black_box`] elsewhere).
#[inline(always)]
pub fn barrier(x: u64) -> u64 {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        let mut y = x;
        // SAFETY: an empty assembly statement that takes and returns one register: it reads
        // and writes no memory, has no side effects and leaves `y` unchanged.
        unsafe {
            core::arch::asm!("/* {0} */", inout(reg) y, options(pure, nomem, nostack, preserves_flags));
        }
        y
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        core::hint::black_box(x)
    }
}

/// All ones when bit 0 of `bit` is set, else zero (the other bits of `bit` are ignored).
#[inline(always)]
pub fn mask(bit: u8) -> u64 {
    barrier(0u64.wrapping_sub((bit & 1) as u64))
}

/// All ones when `a == b`, else zero, without a comparison instruction the optimizer could turn
/// into a branch.
#[inline(always)]
pub fn eq_mask(a: u64, b: u64) -> u64 {
    let d = barrier(a ^ b);
    // (d | −d) has its top bit set exactly when d ≠ 0.
    ((d | d.wrapping_neg()) >> 63).wrapping_sub(1)
}

/// A 64-bit mask (all ones or all zero) widened to a block.
#[inline(always)]
pub fn widen(m: u64) -> Block {
    let m = m as u128;
    Block(m | (m << 64))
}

/// The 128-bit mask of [`mask`].
#[inline(always)]
pub fn mask_block(bit: u8) -> Block {
    widen(mask(bit))
}

/// `b` when bit 0 of `bit` is set, else `a`.
#[inline(always)]
pub fn select_u64(bit: u8, a: u64, b: u64) -> u64 {
    a ^ (mask(bit) & (a ^ b))
}

/// `b` when bit 0 of `bit` is set, else `a`.
#[inline(always)]
pub fn select_block(bit: u8, a: Block, b: Block) -> Block {
    a ^ (mask_block(bit) & (a ^ b))
}

/// `dst[k] ^= src[k] & m` for every k (`m` from [`mask`] or [`eq_mask`]): XOR a row in or not.
///
/// # Panics
/// If the lengths differ.
#[inline]
pub fn xor_masked(dst: &mut [u64], src: &[u64], m: u64) {
    assert_eq!(dst.len(), src.len(), "xor_masked: length mismatch");
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= s & m;
    }
}

/// `dst[k] ^= src[k] & m` for blocks.
///
/// # Panics
/// If the lengths differ.
#[inline]
pub fn xor_masked_blocks(dst: &mut [Block], src: &[Block], m: Block) {
    assert_eq!(dst.len(), src.len(), "xor_masked_blocks: length mismatch");
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= *s & m;
    }
}

/// `out[k] = bit ? b[k] : a[k]` for byte strings (all three of one length).
///
/// # Panics
/// If the lengths differ.
pub fn select_bytes(bit: u8, a: &[u8], b: &[u8], out: &mut [u8]) {
    assert!(
        a.len() == b.len() && a.len() == out.len(),
        "select_bytes: length mismatch"
    );
    let m = mask(bit) as u8;
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        *o = x ^ (m & (x ^ y));
    }
}

/// `table[idx]`, reading every entry (for small tables indexed by a secret). An `idx` past the
/// end gives 0.
#[inline]
pub fn lookup(table: &[u64], idx: usize) -> u64 {
    let mut v = 0;
    for (k, t) in table.iter().enumerate() {
        v |= t & eq_mask(k as u64, idx as u64);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_selections() {
        assert_eq!(mask(0), 0);
        assert_eq!(mask(1), u64::MAX);
        assert_eq!(mask(2), 0, "only bit 0 counts");
        assert_eq!(mask(3), u64::MAX);
        assert_eq!(mask_block(1), Block::ONES);
        assert_eq!(mask_block(0), Block::ZERO);
        for (a, b) in [
            (0u64, 0u64),
            (5, 5),
            (5, 6),
            (0, u64::MAX),
            (u64::MAX, 1 << 63),
        ] {
            assert_eq!(eq_mask(a, b), if a == b { u64::MAX } else { 0 }, "{a} {b}");
            assert_eq!(select_u64(0, a, b), a);
            assert_eq!(select_u64(1, a, b), b);
        }
        let (x, y) = (Block(3 << 100 | 7), Block(!0 >> 3));
        assert_eq!(select_block(0, x, y), x);
        assert_eq!(select_block(1, x, y), y);
        let mut o = [0u8; 3];
        select_bytes(1, &[1, 2, 3], &[4, 5, 6], &mut o);
        assert_eq!(o, [4, 5, 6]);
        select_bytes(0, &[1, 2, 3], &[4, 5, 6], &mut o);
        assert_eq!(o, [1, 2, 3]);
        let mut d = [1u64, 2];
        xor_masked(&mut d, &[3, 3], mask(0));
        assert_eq!(d, [1, 2]);
        xor_masked(&mut d, &[3, 3], mask(1));
        assert_eq!(d, [2, 1]);
        let mut db = [Block(1)];
        xor_masked_blocks(&mut db, &[Block(3)], mask_block(1));
        assert_eq!(db, [Block(2)]);
        let t: Vec<u64> = (0..16).map(|k| 100 + k).collect();
        for i in 0..20 {
            assert_eq!(lookup(&t, i), if i < 16 { 100 + i as u64 } else { 0 });
        }
    }
}
