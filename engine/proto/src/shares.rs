//! Secret shares: additive in Z_2^l (one `u64` per element, reduced to `bits`), and XOR
//! shares of bits (one `u8` per element, 0 or 1).

use pq_kernels::ring;

/// One party's additive shares of a vector in Z_2^bits. The width travels with the data, so a
/// protocol cannot mix widths silently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shares {
    /// The ring width l (1..=64): shares live in Z_2^l.
    pub bits: u32,
    /// This party's share of each element, reduced to `bits` bits.
    pub data: Vec<u64>,
}

impl Shares {
    /// Wrap `data` as `bits`-bit shares. Panics if `bits` is outside 1..=64; in debug builds
    /// also if an element is not reduced to `bits` bits.
    pub fn new(bits: u32, data: Vec<u64>) -> Self {
        assert!((1..=64).contains(&bits), "bit-width {bits} out of 1..=64");
        debug_assert!(
            data.iter().all(|&x| x & !ring::mask(bits) == 0),
            "share not reduced to {bits} bits"
        );
        Shares { bits, data }
    }
    /// `n` zero shares of width `bits` (a valid sharing of zeros when both parties use it).
    pub fn zeros(bits: u32, n: usize) -> Self {
        Shares::new(bits, vec![0; n])
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }
    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    /// Combine two parties' shares into the plaintext values (mod 2^bits).
    pub fn reconstruct(a: &Shares, b: &Shares) -> Vec<u64> {
        assert_eq!(a.bits, b.bits);
        assert_eq!(a.len(), b.len());
        let m = ring::mask(a.bits);
        a.data
            .iter()
            .zip(&b.data)
            .map(|(x, y)| x.wrapping_add(*y) & m)
            .collect()
    }
    /// Combine two parties' shares into signed plaintext values.
    pub fn reconstruct_signed(a: &Shares, b: &Shares) -> Vec<i64> {
        Shares::reconstruct(a, b)
            .into_iter()
            .map(|v| ring::to_signed(v, a.bits))
            .collect()
    }
}

/// One party's XOR shares of a bit vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitShares {
    /// This party's share of each bit (0 or 1).
    pub data: Vec<u8>,
}

impl BitShares {
    /// Combine two parties' XOR shares into the plaintext bits.
    pub fn reconstruct(a: &BitShares, b: &BitShares) -> Vec<u8> {
        a.data.iter().zip(&b.data).map(|(x, y)| x ^ y).collect()
    }
}
