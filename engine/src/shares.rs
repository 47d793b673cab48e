//! Secret shares: additive in Z_2^l (one `u64` per element, reduced to `bits`), and XOR
//! shares of bits (one `u8` per element, 0 or 1).

use pq_kernels::ring;

/// One party's additive shares of a vector in Z_2^bits. The width travels with the data, so a
/// protocol cannot mix widths silently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shares {
    pub bits: u32,
    pub data: Vec<u64>,
}

impl Shares {
    pub fn new(bits: u32, data: Vec<u64>) -> Self {
        assert!((1..=64).contains(&bits), "bit-width {bits} out of 1..=64");
        debug_assert!(
            data.iter().all(|&x| x & !ring::mask(bits) == 0),
            "share not reduced to {bits} bits"
        );
        Shares { bits, data }
    }
    pub fn zeros(bits: u32, n: usize) -> Self {
        Shares::new(bits, vec![0; n])
    }
    pub fn len(&self) -> usize {
        self.data.len()
    }
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
    pub data: Vec<u8>,
}

impl BitShares {
    pub fn reconstruct(a: &BitShares, b: &BitShares) -> Vec<u8> {
        a.data.iter().zip(&b.data).map(|(x, y)| x ^ y).collect()
    }
}
