//! The RLWE parameters: ring degree N = 4096, ciphertext modulus Q = q0·q1 (two NTT-friendly
//! primes, Q < 2^109), a uniform ternary secret and centred-binomial errors with η = 21
//! (σ ≈ 3.24). `docs/he-linear.md` gives the security argument.
//!
//! | | value |
//! | --- | --- |
//! | N | 4096 |
//! | q0 | 25476206690025473 = 2^54.5 − …, ≡ 1 mod 2N |
//! | q1 | 25476206689853441, ≡ 1 mod 2N |
//! | log2 Q | 108.99999999998 (< 109: 128-bit classical security for a ternary secret at N = 4096 by the HomomorphicEncryption.org standard's table) |
//! | secret | uniform over {−1, 0, 1}^N |
//! | error | centred binomial CB(21): Σ of 21 bits − Σ of 21 bits, |e| ≤ 21, variance 10.5 |
//! | plaintext | t = 2^l, 1 ≤ l ≤ [`MAX_L`], coefficient encoding m ↦ ⌊Q·m/t⌉ |

/// The largest plaintext width l (t = 2^l) the encoding supports.
pub const MAX_L: u32 = 40;

/// Bound on a centred-binomial error coefficient: |e| ≤ η.
pub const ETA: u32 = 21;

/// One RLWE parameter set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// Ring degree N (a power of two): the ring is Z_Q[x]/(x^N + 1).
    pub n: usize,
    /// The first prime of Q, kept by the modulus switch of a response.
    pub q0: u64,
    /// The second prime of Q, dropped by the modulus switch of a response.
    pub q1: u64,
}

impl Params {
    /// The parameter set of the HE linear option.
    pub const STD: Params = Params {
        n: 4096,
        q0: 25_476_206_690_025_473,
        q1: 25_476_206_689_853_441,
    };

    /// The second primes a layer may use, smallest Q first (each ≡ 1 mod 2N, the largest
    /// below 2^k for k = 28, 30, …, 54, then [`Params::STD`]'s). A smaller q1 means a smaller
    /// upload (⌈log2 Q⌉ bits per coefficient) and less room for flooding; the planner takes the
    /// smallest that fits each layer. Every Q is below 2^109.
    pub const Q1: [u64; 15] = [
        268_369_921,
        1_073_692_673,
        4_294_828_033,
        17_179_754_497,
        68_719_403_009,
        274_877_816_833,
        1_099_511_480_321,
        4_398_046_486_529,
        17_592_186_028_033,
        70_368_743_669_761,
        281_474_976_694_273,
        1_125_899_906_826_241,
        4_503_599_627_149_313,
        18_014_398_509_309_953,
        25_476_206_689_853_441,
    ];

    /// [`Params::STD`] with the second prime `Q1[i]`.
    pub fn family(i: usize) -> Option<Params> {
        Params::Q1.get(i).map(|&q1| Params { q1, ..Params::STD })
    }

    /// Q = q0·q1.
    pub fn q(&self) -> u128 {
        self.q0 as u128 * self.q1 as u128
    }
    /// Bits of one coefficient mod Q on the wire: ⌈log2 Q⌉.
    pub fn q_bits(&self) -> u32 {
        128 - (self.q() - 1).leading_zeros()
    }
    /// Bits of one coefficient mod q0: ⌈log2 q0⌉.
    pub fn q0_bits(&self) -> u32 {
        64 - (self.q0 - 1).leading_zeros()
    }
    /// log2 of the ring degree.
    pub fn log_n(&self) -> u32 {
        self.n.trailing_zeros()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_prime(n: u64) -> bool {
        if n < 2 {
            return false;
        }
        let mul = |a: u64, b: u64| ((a as u128 * b as u128) % n as u128) as u64;
        let pow = |mut a: u64, mut e: u64| {
            let mut r = 1u64;
            while e > 0 {
                if e & 1 == 1 {
                    r = mul(r, a);
                }
                a = mul(a, a);
                e >>= 1;
            }
            r
        };
        for p in [2u64, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37] {
            if n.is_multiple_of(p) {
                return n == p;
            }
        }
        let (mut d, mut s) = (n - 1, 0);
        while d % 2 == 0 {
            d /= 2;
            s += 1;
        }
        'witness: for a in [2u64, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37] {
            let mut x = pow(a, d);
            if x == 1 || x == n - 1 {
                continue;
            }
            for _ in 1..s {
                x = mul(x, x);
                if x == n - 1 {
                    continue 'witness;
                }
            }
            return false;
        }
        true
    }

    #[test]
    fn primes_are_ntt_friendly_and_q_is_below_2_109() {
        let p = Params::STD;
        for q in [p.q0, p.q1] {
            assert!(is_prime(q));
            assert_eq!(q % (2 * p.n as u64), 1);
        }
        assert!(p.q() < 1u128 << 109);
        assert_eq!(p.q_bits(), 109);
        assert_eq!(p.q0_bits(), 55);
        assert_eq!(p.log_n(), 12);
        for i in 0..Params::Q1.len() {
            let f = Params::family(i).expect("in range");
            assert!(is_prime(f.q1) && f.q1 % (2 * f.n as u64) == 1 && f.q1 != f.q0);
            assert!(f.q() < 1u128 << 109);
        }
        assert_eq!(Params::family(Params::Q1.len() - 1), Some(Params::STD));
        assert!(Params::family(Params::Q1.len()).is_none());
    }
}
