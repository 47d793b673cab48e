//! [`Block`]: a 128-bit value, the unit of OT extension and AES.

use bytemuck::{Pod, Zeroable};
use core::ops::{BitAnd, BitAndAssign, BitOr, BitOrAssign, BitXor, BitXorAssign, Not};

/// A 128-bit block. Stored as a little-endian `u128`, 16-byte aligned.
///
/// Bit `i` is bit `i` of the `u128` (so byte `i / 8`, bit `i % 8` of the little-endian bytes).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Pod, Zeroable)]
#[repr(C, align(16))]
pub struct Block(pub u128);

impl Block {
    /// All bits clear.
    pub const ZERO: Block = Block(0);
    /// All bits set.
    pub const ONES: Block = Block(u128::MAX);

    /// The block holding `v`.
    #[inline(always)]
    pub const fn new(v: u128) -> Self {
        Block(v)
    }
    /// The block whose little-endian bytes are `b`.
    #[inline(always)]
    pub fn from_bytes(b: [u8; 16]) -> Self {
        Block(u128::from_le_bytes(b))
    }
    /// The 16 little-endian bytes of the block.
    #[inline(always)]
    pub fn to_bytes(self) -> [u8; 16] {
        self.0.to_le_bytes()
    }
    /// The block with low 64 bits `lo` and high 64 bits `hi`.
    #[inline(always)]
    pub fn from_u64s(lo: u64, hi: u64) -> Self {
        Block((lo as u128) | ((hi as u128) << 64))
    }
    /// Bits 0..64.
    #[inline(always)]
    pub fn lo(self) -> u64 {
        self.0 as u64
    }
    /// Bits 64..128.
    #[inline(always)]
    pub fn hi(self) -> u64 {
        (self.0 >> 64) as u64
    }
    /// Bit `i` (0 = least significant); `i < 128` (debug-asserted).
    #[inline(always)]
    pub fn bit(self, i: usize) -> bool {
        debug_assert!(i < 128);
        (self.0 >> i) & 1 == 1
    }
    /// Set bit `i` (0 = least significant) to `v`; `i < 128` (debug-asserted).
    #[inline(always)]
    pub fn set_bit(&mut self, i: usize, v: bool) {
        debug_assert!(i < 128);
        self.0 = (self.0 & !(1u128 << i)) | ((v as u128) << i);
    }
    /// Bit 0 (the choice/permute bit in OT and garbling).
    #[inline(always)]
    pub fn lsb(self) -> bool {
        self.0 & 1 == 1
    }
    /// All-ones if `b`, else zero.
    #[inline(always)]
    pub fn splat_bit(b: bool) -> Self {
        Block((b as u128).wrapping_neg())
    }
    /// `self & mask` where mask is all-ones when `b`.
    #[inline(always)]
    pub fn and_bit(self, b: bool) -> Self {
        self & Block::splat_bit(b)
    }
    /// View a slice of blocks as bytes.
    pub fn slice_as_bytes(s: &[Block]) -> &[u8] {
        bytemuck::cast_slice(s)
    }
    /// View a mutable slice of blocks as bytes (16 per block, little-endian).
    pub fn slice_as_bytes_mut(s: &mut [Block]) -> &mut [u8] {
        bytemuck::cast_slice_mut(s)
    }
}

impl core::fmt::Debug for Block {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Block({:032x})", self.0)
    }
}

impl From<u128> for Block {
    fn from(v: u128) -> Self {
        Block(v)
    }
}
impl From<Block> for u128 {
    fn from(b: Block) -> Self {
        b.0
    }
}
impl From<[u8; 16]> for Block {
    fn from(b: [u8; 16]) -> Self {
        Block::from_bytes(b)
    }
}

macro_rules! binop {
    ($tr:ident, $f:ident, $tra:ident, $fa:ident, $op:tt) => {
        impl $tr for Block {
            type Output = Block;
            #[inline(always)]
            fn $f(self, rhs: Block) -> Block {
                Block(self.0 $op rhs.0)
            }
        }
        impl $tra for Block {
            #[inline(always)]
            fn $fa(&mut self, rhs: Block) {
                self.0 = self.0 $op rhs.0;
            }
        }
    };
}
binop!(BitXor, bitxor, BitXorAssign, bitxor_assign, ^);
binop!(BitAnd, bitand, BitAndAssign, bitand_assign, &);
binop!(BitOr, bitor, BitOrAssign, bitor_assign, |);

impl Not for Block {
    type Output = Block;
    #[inline(always)]
    fn not(self) -> Block {
        Block(!self.0)
    }
}

/// XOR `src` into `dst` element-wise.
#[inline]
pub fn xor_in_place(dst: &mut [Block], src: &[Block]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= *s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn bits_and_bytes() {
        let mut b = Block::ZERO;
        b.set_bit(0, true);
        b.set_bit(127, true);
        assert!(b.bit(0) && b.bit(127) && !b.bit(64));
        assert_eq!(b.to_bytes()[0], 1);
        assert_eq!(b.to_bytes()[15], 0x80);
        assert_eq!(Block::from_bytes(b.to_bytes()), b);
        assert_eq!(Block::from_u64s(b.lo(), b.hi()), b);
        assert_eq!(b ^ b, Block::ZERO);
        assert_eq!(b.and_bit(false), Block::ZERO);
        assert_eq!(b.and_bit(true), b);
        assert_eq!(core::mem::align_of::<Block>(), 16);
        assert_eq!(Block::slice_as_bytes(&[b]).len(), 16);
    }
}
