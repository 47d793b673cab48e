//! Π_Requant: re-quantization, Algorithm 1 of PrivQuant (Zhang et al., ICCAD 2024) in exact form
//! (plaintext semantics: [`reference()`]).
//!
//! Re-quantize a signed l1-bit value of scale s1 to l2 bits of scale s2, with the fusions of the
//! paper's Props. 4.1–4.3 and the known-MSB variants (x proven non-negative). "Exact form": as
//! printed, the paper's l1 < l2, s1 ≤ s2 branch shifts left inside l1 bits, which can overflow;
//! here the shift goes into l1 + d bits instead (last branch below).
//!
//! The branches and what each sends (d = |s1 − s2|):
//! * l1 ≥ l2, s1 ≤ s2: local shift left by d, keep the low l2 bits. Free.
//! * l1 ≥ l2, s1 > s2, l1 − l2 ≥ d: Π_TR by d, keep the low l2 bits. Only the low d + l2 bits
//!   of the shares matter, so this is Π_TR^{d+l2, d}: Mill(d) + λ + l2 bits.
//! * l1 ≥ l2, s1 > s2, l1 − l2 < d (a Trunc, then keep the low l2 bits), and l1 < l2, s1 > s2:
//!   both are Π_Ext^{l1−d, l2} ∘ Π_TR^{l1, d} (Props. 4.1 and 4.3): Mill(d) + λ + (l1 − d),
//!   then the extension: known-MSB ([`extension::nonneg_extend`], λ + (l2 − l1 + d)) or SCI's s_extend. In the
//!   first case d ≥ l1 gives −MSB(x), computed as the d = l1 − 1 case.
//! * l1 < l2, s1 ≤ s2: local shift into l1 + d bits (the low bits are zero, no overflow), then
//!   Π_Ext^{l1+d, l2} (known-MSB or s_extend), or a local reduce if l1 + d ≥ l2.

use crate::party::Party;
use crate::sirnn::{extension, tr};
use crate::{Cost, Profile};
use crate::{ProtoResult, param};
use pq_kernels::ring::mask;

/// The branch a requant takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequantCase {
    /// Shift left by `d` (mod 2^64 shift, as the reference), keep `l2` bits. Free.
    ShiftReduce {
        /// Left shift in bits, s2 − s1.
        d: u32,
    },
    /// Π_TR^{d+l2, d} on the low d + l2 bits.
    TrReduce {
        /// Right shift in bits, s1 − s2.
        d: u32,
    },
    /// Π_Ext^{l1−d, l2} ∘ Π_TR^{l1, d}.
    TrExt {
        /// Right shift in bits, s1 − s2 (capped at l1 − 1 when it reaches l1).
        d: u32,
    },
    /// Shift into l1 + d bits, then Π_Ext^{l1+d, l2}.
    ShiftExt {
        /// Left shift in bits, s2 − s1.
        d: u32,
    },
}

/// The plan for (l1, s1) → (l2, s2).
pub fn case(l1: u32, s1: i32, l2: u32, s2: i32) -> ProtoResult<RequantCase> {
    crate::check_bw("l1", l1)?;
    crate::check_bw("l2", l2)?;
    let dd = (s1 as i64 - s2 as i64).unsigned_abs();
    if s1 > s2 && dd > 63 {
        return Err(param("s1", "a right shift must be at most 63"));
    }
    let d = dd.min(u32::MAX as u64) as u32;
    Ok(if l1 >= l2 {
        if s1 <= s2 {
            RequantCase::ShiftReduce { d }
        } else if l1 - l2 >= d {
            RequantCase::TrReduce { d }
        } else {
            RequantCase::TrExt { d: d.min(l1 - 1) }
        }
    } else if s1 > s2 {
        if d >= l1 {
            return Err(param(
                "s1",
                format!("l1 < l2 needs s1 − s2 < l1 (got {d} ≥ {l1})"),
            ));
        }
        RequantCase::TrExt { d }
    } else if (l1 as u64 + d as u64) >= l2 as u64 {
        RequantCase::ShiftReduce { d }
    } else {
        RequantCase::ShiftExt { d }
    })
}

/// Cost of requantizing n elements.
pub fn cost(
    n: u64,
    l1: u32,
    s1: i32,
    l2: u32,
    s2: i32,
    msb_known: bool,
    pr: Profile,
) -> ProtoResult<Cost> {
    Ok(match case(l1, s1, l2, s2)? {
        RequantCase::ShiftReduce { .. } => Cost::ZERO,
        RequantCase::TrReduce { d } => tr::cost(n, d + l2, d, pr),
        RequantCase::TrExt { d } => {
            tr::cost(n, l1, d, pr).then(extension::ext_cost(n, l1 - d, l2, msb_known, pr))
        }
        RequantCase::ShiftExt { d } => extension::ext_cost(n, l1 + d, l2, msb_known, pr),
    })
}

/// Requantize l1-bit shares `x` (scale s1) to l2-bit shares (scale s2). `msb_known`: x is
/// proven non-negative.
pub fn run(
    p: &mut Party,
    x: &[u64],
    l1: u32,
    s1: i32,
    l2: u32,
    s2: i32,
    msb_known: bool,
) -> ProtoResult<Vec<u64>> {
    let m1 = mask(l1);
    let m2 = mask(l2);
    let xs: Vec<u64> = x.iter().map(|v| v & m1).collect();
    match case(l1, s1, l2, s2)? {
        RequantCase::ShiftReduce { d } => Ok(xs.iter().map(|v| v.wrapping_shl(d) & m2).collect()),
        RequantCase::TrReduce { d } => {
            let low: Vec<u64> = xs.iter().map(|v| v & mask(d + l2)).collect();
            tr::run(p, &low, d + l2, d)
        }
        RequantCase::TrExt { d } => {
            let t = tr::run(p, &xs, l1, d)?;
            extension::ext(p, &t, l1 - d, l2, msb_known)
        }
        RequantCase::ShiftExt { d } => {
            let sh: Vec<u64> = xs.iter().map(|v| v << d).collect();
            extension::ext(p, &sh, l1 + d, l2, msb_known)
        }
    }
}

/// The output of a fused Π_Requant and extension: the requantization's format (`l2` bits,
/// scale `s2`), then the same value extended to `l3 ≥ l2` bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtendedOutput {
    /// Bit-width of the requantized value.
    pub l2: u32,
    /// Scale of the requantized value.
    pub s2: i32,
    /// Bit-width after the extension.
    pub l3: u32,
}

/// Cost of Π_Requant followed by an extension of its l2-bit output to l3 ≥ l2 bits, fused by
/// Prop. 4.2 (Ext∘Ext = Ext) when the requant ends with an extension, and by Prop. 4.3 when
/// it ends with a TR (the extension starts from l1 − d bits). Otherwise the requant, then an
/// s_extend (its output may have wrapped, so no MSB is known).
pub fn cost_ext(
    n: u64,
    l1: u32,
    s1: i32,
    out: ExtendedOutput,
    msb_known: bool,
    pr: Profile,
) -> ProtoResult<Cost> {
    let ExtendedOutput { l2, s2, l3 } = out;
    check_l3(l2, l3)?;
    Ok(match case(l1, s1, l2, s2)? {
        RequantCase::TrExt { d } => {
            tr::cost(n, l1, d, pr).then(extension::ext_cost(n, l1 - d, l3, msb_known, pr))
        }
        RequantCase::ShiftExt { d } => extension::ext_cost(n, l1 + d, l3, msb_known, pr),
        _ => {
            cost(n, l1, s1, l2, s2, msb_known, pr)?.then(extension::ext_cost(n, l2, l3, false, pr))
        }
    })
}

fn check_l3(l2: u32, l3: u32) -> ProtoResult<()> {
    crate::check_bw("l3", l3)?;
    if l3 < l2 {
        return Err(param("l3", "the extension target is below l2"));
    }
    Ok(())
}

/// Π_Requant to (l2, s2), its result extended to l3 bits (same value), fused as
/// [`cost_ext`] describes.
pub fn run_ext(
    p: &mut Party,
    x: &[u64],
    l1: u32,
    s1: i32,
    out: ExtendedOutput,
    msb_known: bool,
) -> ProtoResult<Vec<u64>> {
    let ExtendedOutput { l2, s2, l3 } = out;
    check_l3(l2, l3)?;
    let xs: Vec<u64> = x.iter().map(|v| v & mask(l1)).collect();
    match case(l1, s1, l2, s2)? {
        RequantCase::TrExt { d } => {
            let t = tr::run(p, &xs, l1, d)?;
            extension::ext(p, &t, l1 - d, l3, msb_known)
        }
        RequantCase::ShiftExt { d } => {
            let sh: Vec<u64> = xs.iter().map(|v| v << d).collect();
            extension::ext(p, &sh, l1 + d, l3, msb_known)
        }
        _ => {
            let y = run(p, &xs, l1, s1, l2, s2, msb_known)?;
            extension::ext(p, &y, l2, l3, false)
        }
    }
}

/// Plaintext reference of Algorithm 1 (exact form): (l1, s1) → (l2, s2) on a signed l1-bit
/// value.
pub fn reference(x: i64, l1: u32, s1: i32, l2: u32, s2: i32) -> i64 {
    use crate::sirnn::{tr, trunc};
    use crate::util::reduce_signed as wrap;
    if l1 >= l2 {
        if s1 <= s2 {
            // local left shift, keep the low l2 bits
            wrap(x.wrapping_shl((s2 - s1) as u32), l2)
        } else {
            let d = (s1 - s2) as u32;
            if l1 - l2 >= d {
                wrap(tr::reference(x, l1, d), l2)
            } else {
                wrap(trunc::reference(x, d), l2)
            }
        }
    } else if s1 > s2 {
        // TR into l1 − d bits, then Π_Ext to l2 (the value is kept)
        tr::reference(x, l1, (s1 - s2) as u32)
    } else {
        // shift into l1 + d bits (never wraps), then Ext to l2 or reduce
        let d = (s2 - s1) as u32;
        wrap(x.wrapping_shl(d), l2)
    }
}
