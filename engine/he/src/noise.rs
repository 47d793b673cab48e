//! The noise analysis of one HE linear layer: how much flooding noise the server may add, how
//! many low-order bits of a response can be dropped, and the statistical distance between
//! the response and one computed without the weights. `docs/he-linear.md` walks through the
//! terms.
//!
//! Phase noise at modulus Q of one output coefficient, before the modulus switch:
//!
//! | term | bound |
//! | --- | --- |
//! | the product W·(e + ε): fresh error η plus the encodings' rounding (½ for the client's share, ½ for the server's) times the L1 norm of the weights in that coefficient's sum | B_E = ‖W‖₁·(η + ½ + ½), worst case |
//! | the mask encoding ⌊Q·R/t⌉ | ½ |
//! | flooding, uniform on [−F, F) | F = 2^flood_bits |
//!
//! The switch Q → q0 divides by q1 and adds at most ½ + H(½) (rounding of b and of a·s); the
//! re-randomisation modulo q0 that follows adds u·e_pk + e0 + e1·s (u, s ternary) ≤
//! H(η) + η + H(η);
//! dropping d_a bits of a adds at most H(2^(d_a−1)), dropping d_b bits of b at most 2^(d_b−1).
//!
//! H(B) bounds a sum Σ_j c_j·s_j of N terms with |c_j| ≤ B and s_j independent uniform
//! ternary, independent of the c_j (the client's secret s, or the server's fresh u; a, e1 and
//! the rounding residues do not depend on them): by Hoeffding's inequality it exceeds
//! H(B) = B·√(2N·ln(2/δ)) with probability at most δ = 2^[`LOG2_DELTA`]. Four such events per
//! coefficient: a coefficient decrypts wrongly with probability at most 2^(LOG2_DELTA + 2) =
//! 2^−70, so an inference of up to 2^30 output values fails with probability at most 2^−40.
//! (The worst case ‖s‖₁ ≤ N would cost 2.7 more bits in every coefficient of a.)
//!
//! Decryption ⌊t·phase/q0⌉ is exact when the sum stays below q0/(2t). The dropped bits of a
//! and of b each get a share of that budget and the flooding takes what is left; [`plan`]
//! tries a few splits and keeps the one of fewest bits sent. The flooded
//! response is within statistical distance n·B_E/(2F) of a response computed with W = 0 (n
//! output coefficients sent): the layer is refused unless that is at most 2^−40.
//!
//! The client may drop d_in low bits of each coefficient of its ciphertexts' b (rounding, a
//! public post-processing of a ciphertext): that adds 2^(d_in−1) to each input coefficient's
//! error, so B_E grows to ‖W‖₁·(η + 1 + 2^(d_in−1)).

use crate::params::{ETA, Params};
use crate::rlwe::Shrink;

/// The statistical security of one layer's response: log2 of the largest statistical distance
/// allowed.
pub const LOG2_SD_MAX: f64 = -40.0;

/// log2 of the failure probability of each Hoeffding bound (four per coefficient).
pub const LOG2_DELTA: f64 = -72.0;

/// H(B): the bound a sum of N terms c_j·s_j (|c_j| ≤ B, s_j uniform ternary, independent)
/// exceeds with probability at most 2^LOG2_DELTA.
fn hoeffding(b: f64, n: f64) -> f64 {
    let ln = (1.0 - LOG2_DELTA) * std::f64::consts::LN_2; // ln(2/δ)
    b * (2.0 * n * ln).sqrt()
}

/// The analysis of one layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerNoise {
    /// What the server does to each response.
    pub shrink: Shrink,
    /// B_E: the bound on the weight-dependent noise (at modulus Q).
    pub b_e: f64,
    /// The bound on the total phase noise at modulus Q, flooding included.
    pub total_q: f64,
    /// The bound on the error at decryption (modulus q0), which must stay below q0/(2t).
    pub total_q0: f64,
    /// q0/(2t).
    pub limit_q0: f64,
    /// log2 of the statistical distance of the layer's response from one without W.
    pub log2_sd: f64,
    /// Low-order bits the client drops from each coefficient of its ciphertexts' b.
    pub drop_in: u32,
}

/// Plan layer parameters: plaintext width `l`, `w_l1` the largest L1 norm of the weights
/// entering one output coefficient (over all accumulated products), `clear` when the client
/// holds the input in clear (no server share is encoded), `n_sent` the output coefficients
/// of b the layer sends and `a_sent` the coefficients of a (N per output polynomial). The
/// split of the decryption budget between a's dropped bits, b's dropped bits and the flooding
/// is the one of fewest bits sent (ties: more flooding). `drop_in` low bits of the client's
/// ciphertexts are dropped. `None` when no split floods enough for statistical distance
/// ≤ 2^[`LOG2_SD_MAX`].
pub fn plan(
    p: &Params,
    l: u32,
    w_l1: u64,
    clear: bool,
    n_sent: u64,
    a_sent: u64,
    drop_in: u32,
) -> Option<LayerNoise> {
    pick(
        &splits(p, l, w_l1, clear, n_sent, drop_in),
        p,
        n_sent,
        a_sent,
    )
}

/// Every feasible split of the decryption budget (a's dropped bits, b's, flooding) for the
/// layer; [`pick`] chooses among them by the bits sent. Independent of how many coefficients
/// of a are sent, so a planner can compute it once per kernel norm.
pub fn splits(
    p: &Params,
    l: u32,
    w_l1: u64,
    clear: bool,
    n_sent: u64,
    drop_in: u32,
) -> Vec<LayerNoise> {
    if l == 0 || l > crate::params::MAX_L {
        return Vec::new();
    }
    let mut out = Vec::new();
    for fa in [1u32, 2, 3, 4, 5, 6] {
        for fb in [1u32, 2, 4] {
            // eighths of the budget for a, sixteenths for b
            let split = (fa as f64 / 8.0, fb as f64 / 16.0);
            if let Some(nz) = plan_split(p, l, w_l1, clear, n_sent, split, drop_in) {
                out.push(nz);
            }
        }
    }
    out
}

/// The split of fewest bits sent (`n_sent` coefficients of b, `a_sent` of a); ties: more
/// flooding.
pub fn pick(splits: &[LayerNoise], p: &Params, n_sent: u64, a_sent: u64) -> Option<LayerNoise> {
    let mut best: Option<(LayerNoise, u64)> = None;
    for nz in splits {
        let bits = a_sent * nz.shrink.bits_a(p) as u64 + n_sent * nz.shrink.bits_b(p) as u64;
        let better = match &best {
            None => true,
            Some((b, bb)) => bits < *bb || (bits == *bb && nz.log2_sd < b.log2_sd),
        };
        if better {
            best = Some((*nz, bits));
        }
    }
    best.map(|(nz, _)| nz)
}

/// One split: a's dropped bits get at most `fa` of the budget, b's at most `fb`.
fn plan_split(
    p: &Params,
    l: u32,
    w_l1: u64,
    clear: bool,
    n_sent: u64,
    (fa, fb): (f64, f64),
    drop_in: u32,
) -> Option<LayerNoise> {
    if drop_in >= p.q_bits() - 1 {
        return None;
    }
    let n = p.n as f64;
    let (q0, q1) = (p.q0 as f64, p.q1 as f64);
    let t = (l as f64).exp2();
    let eta = ETA as f64;
    let rounding = if drop_in == 0 {
        0.0
    } else {
        ((drop_in - 1) as f64).exp2()
    };
    let e_in = eta + 0.5 + if clear { 0.0 } else { 0.5 } + rounding;
    let b_e = (w_l1.max(1)) as f64 * e_in;
    // the re-randomisation, at modulus q0
    let b_pk = 2.0 * hoeffding(eta, n) + eta;
    let limit = q0 / (2.0 * t);
    // a's dropped bits enter through a·s (Hoeffding), b's directly
    let h1 = hoeffding(1.0, n);
    // largest d with 2^(d−1)·scale ≤ share (d = 0: nothing dropped)
    let drop = |scale: f64, share: f64| -> u32 {
        let mut d = 0u32;
        while d + 1 < p.q0_bits() && ((d as f64).exp2() * scale) <= share {
            d += 1;
        }
        d
    };
    let drop_a = drop(h1, fa * limit);
    let drop_b = drop(1.0, fb * limit);
    let trunc = |d: u32, scale: f64| {
        if d == 0 {
            0.0
        } else {
            ((d - 1) as f64).exp2() * scale
        }
    };
    let room = (limit - trunc(drop_a, h1) - trunc(drop_b, 1.0)) * (1.0 - 1e-6);
    let fixed = 0.5 + hoeffding(0.5, n) + b_pk;
    // largest flood_bits with (B_E + ½ + 2^fb)/q1 + ½ + H(½) + B_pk < room
    let flood_room = (room - fixed) * q1 - b_e - 0.5;
    if flood_room < 1.0 {
        return None;
    }
    let flood_bits = flood_room.log2().floor().min(118.0) as u32;
    let f = (flood_bits as f64).exp2();
    let log2_sd = (n_sent.max(1) as f64 * b_e).log2() - (flood_bits as f64 + 1.0);
    if log2_sd > LOG2_SD_MAX {
        return None;
    }
    let total_q = b_e + 0.5 + f;
    let total_q0 = total_q / q1 + fixed + trunc(drop_a, h1) + trunc(drop_b, 1.0);
    Some(LayerNoise {
        shrink: Shrink {
            l,
            flood_bits,
            drop_a,
            drop_b,
        },
        b_e,
        total_q,
        total_q0,
        limit_q0: limit,
        log2_sd,
        drop_in,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_holds_and_bits_shrink_with_l() {
        let p = Params::STD;
        let a =
            plan(&p, 20, 4608 * 2, false, 1 << 20, 256 << 12, 0).expect("resnet-sized layer fits");
        assert!(a.total_q0 < a.limit_q0);
        assert!(a.log2_sd <= LOG2_SD_MAX);
        // a is sent in about l + 1 + log2 H(1) ≈ l + 10 bits, b in about l + 4
        assert!((20 + 9..=20 + 12).contains(&a.shrink.bits_a(&p)), "{a:?}");
        assert!((20 + 2..=20 + 5).contains(&a.shrink.bits_b(&p)), "{a:?}");
        // a smaller q1 leaves less room for flooding
        let small = Params::family(0).expect("family");
        assert!(plan(&small, 20, 4608 * 2, false, 1 << 20, 256 << 12, 0).is_none());
        let b = plan(&p, 12, 4608 * 2, false, 1 << 20, 256 << 12, 0).expect("fits");
        assert!(b.shrink.bits_a(&p) < a.shrink.bits_a(&p));
        assert!(b.shrink.flood_bits > a.shrink.flood_bits);
    }

    #[test]
    fn too_wide_layers_are_refused() {
        let p = Params::STD;
        assert!(plan(&p, 40, 1 << 30, false, 1 << 20, 1 << 20, 0).is_none());
        assert!(plan(&p, 0, 1, false, 1, 1, 0).is_none());
    }
}
