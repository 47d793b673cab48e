//! Π_Linear's HE option: the exact accumulator W·X computed on RLWE ciphertexts (Cheetah's
//! HomConv/HomFC, Huang et al., USENIX Security 2022), at our quantized widths.
//!
//! (Being written: the stub below has the final signatures.)

use super::linear::LinearParams;
use crate::party::Party;
use crate::{Cost, ProtoResult, param};

/// Exact cost of the HE option with the output in `l` bits, the extension of ⟨X⟩ to `l`
/// bits included; `None` when no HE parameters fit the layer (the option is then not
/// offered).
pub fn cost_at(lp: &LinearParams, l: u32) -> ProtoResult<Option<Cost>> {
    let _ = (lp, l);
    Ok(None)
}

/// Estimated compute time of the HE option (both parties, ns), from the calibrated kernel
/// model; `None` when the option is not offered.
pub fn compute_ns(lp: &LinearParams, l: u32) -> Option<u64> {
    let _ = (lp, l);
    None
}

/// Run the HE option: the server passes W (d1×d2), the client `&[]`; both pass their lx-bit
/// share of X (pre-im2col; in `Clear` mode the client's share is X). Returns `l`-bit shares
/// of W·X (d1×d3).
pub fn run_at(
    p: &mut Party,
    lp: &LinearParams,
    l: u32,
    w: &[i64],
    x: &[u64],
) -> ProtoResult<Vec<u64>> {
    let _ = (p, lp, l, w, x);
    Err(param("option", "the HE option is not available"))
}
