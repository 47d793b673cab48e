//! [`Interval`]: a closed range of signed integers, the value domain of the range analysis
//! ([`crate::signs`]) and of every tensor's metadata ([`crate::program::TensorMeta`]).

/// A closed interval of signed integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Interval {
    /// Smallest value (inclusive).
    pub lo: i128,
    /// Largest value (inclusive).
    pub hi: i128,
}

impl Interval {
    /// The interval `[lo, hi]` (not checked: callers pass `lo <= hi`).
    pub const fn new(lo: i128, hi: i128) -> Self {
        Interval { lo, hi }
    }
    /// The whole signed range of `bits` bits.
    pub const fn full(bits: u32) -> Self {
        Interval {
            lo: -(1i128 << (bits - 1)),
            hi: (1i128 << (bits - 1)) - 1,
        }
    }
    /// Whether `v` lies in the interval.
    pub fn contains(&self, v: i128) -> bool {
        self.lo <= v && v <= self.hi
    }
    /// Whether every value of the interval is representable as a signed `bits`-bit integer.
    pub fn fits(&self, bits: u32) -> bool {
        let f = Interval::full(bits);
        self.lo >= f.lo && self.hi <= f.hi
    }
    /// The interval if it fits in `bits`, else the full range (a possible wrap).
    pub fn or_full(self, bits: u32) -> Self {
        if self.fits(bits) {
            self
        } else {
            Interval::full(bits)
        }
    }
    /// Known non-negative in a `bits`-bit width: in [0, 2^(bits−1) − 1].
    pub fn nonneg(&self, bits: u32) -> bool {
        self.lo >= 0 && self.fits(bits)
    }
    /// Floor division by 2^s.
    pub fn floor_shr(self, s: u32) -> Self {
        Interval::new(self.lo >> s, self.hi >> s)
    }
    /// Division by 2^s rounding towards zero.
    pub fn trunc_div(self, s: u32) -> Self {
        let d = 1i128 << s;
        Interval::new(self.lo / d, self.hi / d)
    }
    /// The range of `a + b` for `a` in `self`, `b` in `o` (ends saturate at the i128 range).
    pub fn plus(self, o: Self) -> Self {
        Interval::new(self.lo.saturating_add(o.lo), self.hi.saturating_add(o.hi))
    }
    /// Both ends times `n` (saturating); `n` must be non-negative or the ends swap.
    pub fn scale(self, n: i128) -> Self {
        Interval::new(self.lo.saturating_mul(n), self.hi.saturating_mul(n))
    }
    /// The smallest interval containing both.
    pub fn hull(self, o: Self) -> Self {
        Interval::new(self.lo.min(o.lo), self.hi.max(o.hi))
    }
}

/// The smallest signed width (1..=64, saturating at 64) that holds every value of `iv`.
pub fn bits_for(iv: Interval) -> u32 {
    (1..=64).find(|&b| iv.fits(b)).unwrap_or(64)
}
