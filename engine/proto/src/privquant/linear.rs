//! Π_Linear: the DNN-aware linear layer of PrivQuant (Zhang et al., ICCAD 2024; Table 4's
//! options), with an exact accumulator (privquant profile).
//!
//! Y = W·X computed exactly in L bits, W the server's plaintext (d1×d2, signed lw-bit), X secret
//! shared (d2×d3, lx bits) or a conv input tensor (cin×hw×hw) lowered by im2col. L is the
//! tightest width that provably holds every Σ w·x given W's range and X's proven range
//! ([`LinearParams::acc_bits`]).
//!
//! The paper's Table 4 crosses two choices: extend W (free, W is plaintext: the lx-bit shares
//! of X are used as they are and their wrap must be corrected) or extend ⟨X⟩ to L bits first
//! (no wrap), and who is the OT sender: the server (the client bit-decomposes its share of X,
//! every OT carries a column of W, d1 values) or the client (the server bit-decomposes W,
//! every OT carries a row of the client's X share, d3 values). Every option here is exact,
//! with an exact cost function; [`choose`] picks the cheapest.
//!
//! | # | option | extended | decomposes | OT sender | each OT carries |
//! |---|---|---|---|---|---|
//! | 1 | [`DecompX`](LinOption::DecompX) | W (nothing) | client: its lx-bit X share | server | d1 values W col, L − i bits; +1 wrap OT: W col·f, L − lx bits |
//! | 2 | [`DecompW`](LinOption::DecompW) | W (nothing) | server: W (lw bits) | client | d3 values X row, L − j bits; before them a wrap COT (server sender): W col·f, L − lx bits |
//! | 3 | [`DecompXExt`](LinOption::DecompXExt) | ⟨X⟩ on the tensor | client: its L-bit X share | server | d1 values W col, L − i bits |
//! | 3 | [`DecompXExtCols`](LinOption::DecompXExtCols) | ⟨X⟩ after im2col | client: its L-bit X share | server | as above |
//! | 4 | [`ExtendX`](LinOption::ExtendX) | ⟨X⟩ on the tensor | server: W (lw bits) | client | d3 values X row, L − j bits |
//! | 4 | [`ExtendXCols`](LinOption::ExtendXCols) | ⟨X⟩ after im2col | server: W (lw bits) | client | as above |
//! | 1 | [`DecompXMux`](LinOption::DecompXMux) | W (nothing) | as option 1 | server | as option 1; the wrap by a both-message OT MUX (2 × d1 values, L − lx bits) |
//! | 2 | [`DecompWMux`](LinOption::DecompWMux) | W (nothing) | as option 2 | client | as option 2; the wrap by a both-message OT MUX (2 × d1 values, L − lx bits) |
//!
//! * Extension of ⟨X⟩ (options 3, 4) from lx to L bits: the known-MSB [`extension::nonneg_extend`] when X is
//!   non-negative, SCI's s_extend otherwise, local when the client holds X in clear, nothing
//!   when L ≤ lx. The tensor variants extend the cin·hw² input elements before im2col; the
//!   `*Cols` variants are the paper-literal placement on the d2·d3 im2col elements (k²/stride²
//!   times more for a conv). For [`Geom::Matmul`] im2col is the identity and the `*Cols`
//!   variants equal the tensor ones (same cost and messages); they stay in the enumeration and
//!   lose ties to the tensor variants (listed first in [`LinOption::ALL`]).
//! * Server decomposes W (options 2, 4): one batched COT per bit j of every weight (top bit of
//!   weight −2^(lw−1)), the server's bit the choice, the client the sender with its share of
//!   the X row (d3 messages of L − j bits): d1·d2·min(lw, L) OTs, client → server payload.
//! * Client decomposes X (options 1, 3): one batched COT per bit i of its share of every
//!   im2col element (lx bits for option 1, L bits for option 3), the server the sender with
//!   the W column (d1 messages of L − i bits): d2·d3·bits OTs, server → client payload.
//! * Wrap (options 1, 2, when L > lx and X is shared): X = x0 + x1 − 2^lx·wrap. Non-negative
//!   X: wrap = msb(x0) OR msb(x1) (no comparison); signed X is offset by 2^(lx−1) and the
//!   XOR-shared wrap comes from Π_Mill(lx) on the tensor before im2col. The correction
//!   −2^lx·W·wrap costs one COT per im2col element with the server the sender (d1 messages of
//!   L − lx bits, correlation W column·f, the client's wrap bit the choice): inside option 1's
//!   batched COT, its own batched COT before the main ones for option 2 (whose main OTs go
//!   the other way; in this order the server's last wrap payload and its first W-bit OT
//!   columns share a flight, so the measured flights equal the cost's rounds). No
//!   both-message OT, no MUX. The `*Mux` variants are the paper-literal SCI-style wrap & MUX
//!   (one chosen-message OT per element, the server sending W column·wrap(u, b) − r for both
//!   b, its own call after option 1's bit OTs): never cheaper, enumerated to show the saving.
//!
//! Big layers are sent as several batched-COT calls of at most 2^24 message values each
//! (each call one round trip; about 200 MB of buffers per party at that size, so a ResNet50
//! layer takes a few round trips instead of dozens); the cost functions use the same split.
//!
//! **The HE option** ([`LinOption::He`], `he`) is not one of Table 4's options and not an OT
//! option: W·X is computed on RLWE ciphertexts (Cheetah-style HomConv/HomFC, Huang et al.,
//! USENIX Security 2022) by [`he_linear`], ⟨X⟩ extended to the output width first, with the
//! same contract as every option here (exact l-bit shares of W·X for any l). It is not in
//! [`LinOption::ALL`]: the chooser offers it only when the caller puts it on the [`Menu`]
//! ([`Menu::he`], the `privquant-he` configuration) and [`he_linear::cost_at`] finds HE
//! parameters for the layer; it is listed after the OT options, so it loses ties to them.
//! Under [`Objective::Latency`] its score adds its estimated compute time
//! ([`he_linear::compute_ns`]); the OT options' compute is not modelled yet (their score is
//! their traffic alone, see [`score`]).

use super::he_linear;
use crate::party::Party;
use crate::sirnn::conv::{ConvParams, im2col};
use crate::sirnn::{extension, wrap};
use crate::tensor::matmul_i64_u64;
use crate::{Cost, Profile, Role};
use crate::{ProtoResult, ot_calls, param};
use pq_kernels::ring::mask;

/// Message values per batched-COT call (memory per call against round trips per layer).
const MAX_VALS: u64 = 1 << 24;

/// What is known about the secret operand X.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum InputKind {
    /// Shared, proven non-negative (MSB 0): x ∈ [0, 2^(lx−1)).
    NonNeg,
    /// Shared, signed lx-bit.
    Signed,
    /// The client holds X in clear (the server's share is 0).
    Clear {
        /// Whether X is proven non-negative (as for [`InputKind::NonNeg`]).
        nonneg: bool,
    },
}

impl InputKind {
    pub(crate) fn nonneg(self) -> bool {
        matches!(self, InputKind::NonNeg | InputKind::Clear { nonneg: true })
    }
    pub(crate) fn clear(self) -> bool {
        matches!(self, InputKind::Clear { .. })
    }
}

/// Layout of X.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Geom {
    /// X is given as the d2×d3 matrix.
    Matmul,
    /// X is a cin×hw×hw tensor; d2 = k²·cin, d3 = hw_out², zero padding k/2.
    Conv {
        /// Input height and width (square).
        hw: usize,
        /// Input channels.
        cin: usize,
        /// Kernel size (k × k).
        k: usize,
        /// Stride (≥ 1).
        stride: usize,
    },
}

/// The shape of a square convolution: `cout` filters of k×k×cin with `stride` on a
/// cin×hw×hw input (zero padding k/2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ConvShape {
    /// Input height and width (square).
    pub hw: usize,
    /// Input channels.
    pub cin: usize,
    /// Output channels (filters).
    pub cout: usize,
    /// Kernel size (k × k).
    pub k: usize,
    /// Stride (≥ 1).
    pub stride: usize,
}

impl ConvShape {
    /// The shape `(hw, cin, cout, k, stride)`.
    pub const fn new(hw: usize, cin: usize, cout: usize, k: usize, stride: usize) -> Self {
        ConvShape {
            hw,
            cin,
            cout,
            k,
            stride,
        }
    }
}

/// One exact linear layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct LinearParams {
    /// Rows of W and of the output (output channels of a conv).
    pub d1: usize,
    /// The reduction length: columns of W, rows of X (k²·cin for a conv).
    pub d2: usize,
    /// Columns of X and of the output (output pixels hw_out² of a conv).
    pub d3: usize,
    /// Bit-width of the signed weights W (the server's plaintext).
    pub lw: u32,
    /// Bit-width of X's values and shares.
    pub lx: u32,
    /// What is known about X (shared or clear, proven non-negative or signed).
    pub input: InputKind,
    /// Whether X is given as the d2×d3 matrix or as a conv input tensor.
    pub geom: Geom,
    /// Message values per batched-COT call (default 2^24, `MAX_VALS`): fewer trade round
    /// trips for memory.
    pub call_values: u64,
}

/// The protocol options (see the module table; `paper_option` gives Table 4's number).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum LinOption {
    /// Option 4: extend ⟨X⟩ on the tensor, server decomposes W, client sends.
    ExtendX,
    /// Option 1: no extension, client decomposes its lx-bit X share, server sends; wrap COT
    /// in the same batch.
    DecompX,
    /// Option 2: no extension, server decomposes W, client sends; wrap COT (server sender)
    /// as its own batch.
    DecompW,
    /// Option 3: extend ⟨X⟩ on the tensor, client decomposes its L-bit share, server sends.
    DecompXExt,
    /// Option 4 with the paper's placement: extend ⟨X⟩ after im2col.
    ExtendXCols,
    /// Option 3 with the paper's placement: extend ⟨X⟩ after im2col.
    DecompXExtCols,
    /// Option 1 with the paper-literal (SCI-style) wrap: a both-message OT MUX of W column·wrap
    /// (two messages per OT) instead of the wrap COT; never cheaper, kept to show the saving.
    DecompXMux,
    /// Option 2 with the both-message OT MUX wrap (as [`LinOption::DecompXMux`]).
    DecompWMux,
    /// Ours, for the latency objective: output rows `0..rows_x` by option 4 (the client
    /// sends) and the rest by option 1 (the server sends), their calls paired so both
    /// directions of the full-duplex link carry payload in every round trip. Never fewer bytes
    /// than the better of the two; the option chooser considers it under
    /// [`Objective::Latency`] only, choosing `rows_x` to balance the directions.
    Duplex {
        /// Output rows (of d1) computed by option 4; the rest go by option 1.
        rows_x: u32,
    },
    /// Not one of Table 4's options: W·X on RLWE ciphertexts ([`he_linear`], Cheetah's
    /// HomConv/HomFC at our widths), ⟨X⟩ extended to the output width first. Offered by the
    /// chooser only when it is on the [`Menu`] and [`he_linear::cost_at`] has parameters for
    /// the layer; not in [`LinOption::ALL`] (the OT options).
    He,
}

impl LinOption {
    /// The eight fixed OT options, in the chooser's tie-break order (tensor variants before
    /// their `*Cols` twins). [`LinOption::Duplex`] is not listed: it carries a parameter and
    /// the chooser builds it itself. [`LinOption::He`] is not listed either: it is no OT
    /// option, and the chooser offers it only when the [`Menu`] says so.
    pub const ALL: [LinOption; 8] = [
        LinOption::ExtendX,
        LinOption::DecompX,
        LinOption::DecompW,
        LinOption::DecompXExt,
        LinOption::ExtendXCols,
        LinOption::DecompXExtCols,
        LinOption::DecompXMux,
        LinOption::DecompWMux,
    ];
    /// The option's name in reports and on the command line (e.g. `decomp-x`).
    pub fn name(self) -> &'static str {
        match self {
            LinOption::ExtendX => "extend-x",
            LinOption::DecompX => "decomp-x",
            LinOption::DecompW => "decomp-w",
            LinOption::DecompXExt => "decomp-x-ext",
            LinOption::ExtendXCols => "extend-x-cols",
            LinOption::DecompXExtCols => "decomp-x-ext-cols",
            LinOption::DecompXMux => "decomp-x-mux",
            LinOption::DecompWMux => "decomp-w-mux",
            LinOption::Duplex { .. } => "duplex",
            LinOption::He => "he",
        }
    }
    /// The option's number in the paper's Table 4 (1..=4). 0 for the options that are not in
    /// the table: [`LinOption::Duplex`] (which combines options 4 and 1) and [`LinOption::He`]
    /// (homomorphic encryption instead of OT).
    pub fn paper_option(self) -> u8 {
        match self {
            LinOption::Duplex { .. } | LinOption::He => 0,
            LinOption::DecompX | LinOption::DecompXMux => 1,
            LinOption::DecompW | LinOption::DecompWMux => 2,
            LinOption::DecompXExt | LinOption::DecompXExtCols => 3,
            LinOption::ExtendX | LinOption::ExtendXCols => 4,
        }
    }
    /// Where ⟨X⟩ is extended to L bits: `None` (options 1, 2), before im2col (`Some(false)`)
    /// or after it (`Some(true)`). ([`LinOption::He`] extends inside [`he_linear`]; the cost
    /// and run functions hand it over before asking.)
    fn extension(self) -> Option<bool> {
        match self {
            LinOption::DecompX
            | LinOption::DecompW
            | LinOption::DecompXMux
            | LinOption::DecompWMux => None,
            LinOption::ExtendX
            | LinOption::DecompXExt
            | LinOption::Duplex { .. }
            | LinOption::He => Some(false),
            LinOption::ExtendXCols | LinOption::DecompXExtCols => Some(true),
        }
    }
    /// True when the server bit-decomposes W (the client is the main OT sender).
    fn decomposes_w(self) -> bool {
        matches!(
            self,
            LinOption::ExtendX
                | LinOption::ExtendXCols
                | LinOption::DecompW
                | LinOption::DecompWMux
        )
    }
    /// True for the both-message OT MUX wrap (options 1, 2 only).
    fn mux(self) -> bool {
        matches!(self, LinOption::DecompXMux | LinOption::DecompWMux)
    }
}

/// What the option chooser minimises (the crate's one objective: bytes, or latency on a link).
pub use crate::Objective;

/// Which options the chooser ([`options_at`], [`choose_at`] and their `acc_bits` forms
/// [`options`], [`choose`]) may take. The OT options ([`LinOption::ALL`], and
/// [`LinOption::Duplex`] under [`Objective::Latency`]) are always on it; the rest is switched
/// here. The default, [`Menu::OT`], is the OT options alone: what `sirnn-quant`'s ablation
/// rows, `privquant` and `privquant-w4` run, unchanged by the HE option's existence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Menu {
    /// Offer [`LinOption::He`] where [`he_linear::cost_at`] has parameters for the layer
    /// (the `privquant-he` configuration).
    pub he: bool,
}

impl Menu {
    /// The OT options only (the default).
    pub const OT: Menu = Menu { he: false };
    /// The OT options and the HE option.
    pub const WITH_HE: Menu = Menu { he: true };
}

impl LinearParams {
    /// A matmul W (d1×d2) · X (d2×d3).
    pub fn matmul(d1: usize, d2: usize, d3: usize, lw: u32, lx: u32, input: InputKind) -> Self {
        LinearParams {
            d1,
            d2,
            d3,
            lw,
            lx,
            input,
            geom: Geom::Matmul,
            call_values: MAX_VALS,
        }
    }

    /// The same layer with at most `v` message values per batched-COT call.
    pub fn with_call_values(self, v: u64) -> Self {
        LinearParams {
            call_values: v,
            ..self
        }
    }

    /// A conv of shape `c` (zero padding k/2) with `lw`-bit weights on an `lx`-bit input.
    pub fn conv(c: ConvShape, lw: u32, lx: u32, input: InputKind) -> Self {
        let ConvShape {
            hw,
            cin,
            cout,
            k,
            stride,
        } = c;
        let pad = k / 2;
        let ho = if stride == 0 || hw + 2 * pad < k {
            0
        } else {
            (hw + 2 * pad - k) / stride + 1
        };
        LinearParams {
            d1: cout,
            d2: k * k * cin,
            d3: ho * ho,
            lw,
            lx,
            input,
            geom: Geom::Conv { hw, cin, k, stride },
            call_values: MAX_VALS,
        }
    }

    /// Number of input elements (before im2col).
    pub fn n_in(&self) -> usize {
        match self.geom {
            Geom::Matmul => self.d2 * self.d3,
            Geom::Conv { hw, cin, .. } => cin * hw * hw,
        }
    }

    /// Range of one product w·x (signed).
    fn ranges(&self) -> (i128, i128, i128, i128) {
        let wmin = -(1i128 << (self.lw - 1));
        let wmax = (1i128 << (self.lw - 1)) - 1;
        let xmax = (1i128 << (self.lx - 1)) - 1;
        let xmin = if self.input.nonneg() {
            0
        } else {
            -(1i128 << (self.lx - 1))
        };
        (wmin, wmax, xmin, xmax)
    }

    /// The tightest accumulator width: the smallest L such that every Σ_k w·x over d2 terms
    /// lies in [−2^(L−1), 2^(L−1)).
    pub fn acc_bits(&self) -> ProtoResult<u32> {
        self.check_basic()?;
        let (wmin, wmax, xmin, xmax) = self.ranges();
        let c = [wmin * xmin, wmin * xmax, wmax * xmin, wmax * xmax];
        let big = || {
            param(
                "abits",
                format!(
                    "W{}A{} over {} terms: the exact accumulator needs more than 64 bits (lower the weight or activation width)",
                    self.lw, self.lx, self.d2
                ),
            )
        };
        let lo = (c.iter().copied().min().unwrap_or(0))
            .checked_mul(self.d2 as i128)
            .ok_or_else(big)?;
        let hi = (c.iter().copied().max().unwrap_or(0))
            .checked_mul(self.d2 as i128)
            .ok_or_else(big)?;
        let mut l = 1u32;
        while l <= 64 && !(-(1i128 << (l - 1)) <= lo && hi < (1i128 << (l - 1))) {
            l += 1;
        }
        if l > 64 {
            return Err(big());
        }
        Ok(l)
    }

    fn check_basic(&self) -> ProtoResult<()> {
        crate::check_bw("wbits", self.lw)?;
        crate::check_bw("abits", self.lx)?;
        for (n, v) in [("d1", self.d1), ("d2", self.d2), ("d3", self.d3)] {
            if v == 0 || v > (1 << 30) {
                return Err(param(n, format!("dimension {v} out of range 1..=2^30")));
            }
        }
        if !(1..=1 << 30).contains(&self.call_values) {
            return Err(param("call_values", "values per call must be in 1..=2^30"));
        }
        // every product the protocols index or count with stays far from overflow
        const CAP: u128 = 1 << 40;
        let (d1, d2, d3) = (self.d1 as u128, self.d2 as u128, self.d3 as u128);
        if d1 * d2 > CAP || d2 * d3 > CAP || d1 * d3 > CAP {
            return Err(param(
                "dims",
                "d1·d2, d2·d3 and d1·d3 must each be at most 2^40",
            ));
        }
        if let Geom::Conv { hw, cin, k, stride } = self.geom {
            if hw == 0 || cin == 0 || k == 0 || stride == 0 {
                return Err(param("conv", "hw, cin, k, stride must be at least 1"));
            }
            if hw > (1 << 20) || k > hw + 2 * (k / 2) {
                return Err(param(
                    "conv",
                    "hw must be at most 2^20 and k fit the padded input",
                ));
            }
            if (cin as u128) * (hw as u128) * (hw as u128) > CAP {
                return Err(param("conv", "cin·hw² must be at most 2^40"));
            }
            if (k as u128) * (k as u128) * (cin as u128) != d2 {
                return Err(param("conv", "d2 must be k²·cin"));
            }
            let ho = (hw + 2 * (k / 2) - k) / stride + 1;
            if ho * ho != self.d3 {
                return Err(param("conv", "d3 must be the number of output pixels"));
            }
        }
        Ok(())
    }

    /// Validate, returning L.
    pub fn check(&self) -> ProtoResult<u32> {
        self.acc_bits()
    }

    fn conv_params(&self) -> Option<ConvParams> {
        match self.geom {
            Geom::Matmul => None,
            Geom::Conv { hw, cin, k, stride } => Some(ConvParams {
                hw,
                cin,
                cout: self.d1,
                k,
                stride,
                wbits: self.lw,
                abits: self.lx,
                signed_input: !self.input.nonneg(),
                sci_threads: 1,
                profile: Profile::PrivQuant,
            }),
        }
    }

    /// im2col of a share (identity for a matmul).
    pub fn cols(&self, x: &[u64]) -> Vec<u64> {
        match self.conv_params() {
            None => x.to_vec(),
            Some(c) => im2col(&c, x),
        }
    }
}

/// The OT groups of OTs s..e of a t-major OT list (blocks of `blk` OTs, block t with
/// message length `len(t)`): (count, length) per block the range touches.
fn groups(s: u64, e: u64, blk: u64, len: impl Fn(u32) -> u32) -> Vec<(u64, u32)> {
    let mut g = Vec::new();
    let mut a = s;
    while a < e {
        let t = (a / blk) as u32;
        let b = ((t as u64 + 1) * blk).min(e);
        g.push((b - a, len(t)));
        a = b;
    }
    g
}

/// The call boundaries of a job of `total` OTs run alone: calls of `pc` OTs, the last one
/// shorter.
fn fixed(total: u64, pc: u64) -> impl Iterator<Item = (u64, u64)> {
    let pc = pc.max(1);
    (0..total.div_ceil(pc)).map(move |i| (i * pc, ((i + 1) * pc).min(total)))
}

/// OTs per call for OTs of `msgs` values each.
fn per_call(lp: &LinearParams, msgs: usize) -> u64 {
    (lp.call_values / msgs.max(1) as u64).max(1)
}

/// Cost of one option.
pub fn cost(lp: &LinearParams, opt: LinOption, pr: Profile) -> ProtoResult<Cost> {
    cost_at(lp, opt, lp.acc_bits()?, pr)
}

/// A caller-chosen output width `l` (1..=64): every option computes W·X exactly modulo 2^l
/// for any l, so a consumer that needs a different width than the tightest
/// [`LinearParams::acc_bits`] (wider for a later add, narrower when its own range proof is
/// tighter) runs the layer at its width directly.
fn check_l(lp: &LinearParams, l: u32) -> ProtoResult<()> {
    lp.check_basic()?;
    if !(1..=64).contains(&l) {
        return Err(param(
            "acc",
            format!("output width {l} out of range 1..=64"),
        ));
    }
    Ok(())
}

/// True when the lx-bit shares' wrap must be corrected (options 1, 2).
fn wrap_needed(lp: &LinearParams, l: u32) -> bool {
    !lp.input.clear() && l > lp.lx
}

/// Extension of `n` shared lx-bit values to `l` bits.
pub(crate) fn ext_cost(lp: &LinearParams, n: u64, l: u32, pr: Profile) -> Cost {
    if l <= lp.lx || lp.input.clear() {
        Cost::ZERO
    } else {
        extension::ext_cost(n, lp.lx, l, lp.input.nonneg(), pr)
    }
}

/// Π_Mill-based wrap of signed shared X (on the tensor).
fn mill_cost(lp: &LinearParams, l: u32, pr: Profile) -> Cost {
    if wrap_needed(lp, l) && !lp.input.nonneg() {
        wrap::cost(lp.n_in() as u64, lp.lx, pr)
    } else {
        Cost::ZERO
    }
}

/// One call (OTs s..e) of the server decomposing W: client sender, d3 messages of l − j bits.
fn rows_call(lp: &LinearParams, l: u32, s: u64, e: u64, pr: Profile) -> Cost {
    let g = groups(s, e, (lp.d1 * lp.d2) as u64, |j| l - j);
    ot_calls::batched_cot(Role::Client, &g, lp.d3 as u64, pr)
}

/// One call (OTs s..e) of the client decomposing `nb` bits of its share of every im2col
/// element, then the wrap COTs: server sender, d1 messages of l − i (wrap: l − lx) bits.
fn cols_call(lp: &LinearParams, l: u32, nb: u32, s: u64, e: u64, pr: Profile) -> Cost {
    let lx = lp.lx;
    let g = groups(s, e, (lp.d2 * lp.d3) as u64, |t| {
        if t < nb { l - t } else { l - lx }
    });
    ot_calls::batched_cot(Role::Server, &g, lp.d1 as u64, pr)
}

/// The server decomposes W: min(lw, l) blocks of d1·d2 COTs, client sender, d3 messages of
/// l − j bits.
fn rows_cost(lp: &LinearParams, l: u32, pr: Profile) -> Cost {
    let total = lp.lw.min(l) as u64 * (lp.d1 * lp.d2) as u64;
    fixed(total, per_call(lp, lp.d3))
        .map(|(s, e)| rows_call(lp, l, s, e, pr))
        .fold(Cost::ZERO, Cost::then)
}

/// The client decomposes `nb` bits of its share of every im2col element, plus (`wrap`) one
/// wrap COT per element: server sender, d1 messages of l − i (wrap: l − lx) bits.
fn cols_cost(lp: &LinearParams, l: u32, nb: u32, wrap: bool, pr: Profile) -> Cost {
    let total = (nb + wrap as u32) as u64 * (lp.d2 * lp.d3) as u64;
    fixed(total, per_call(lp, lp.d1))
        .map(|(s, e)| cols_call(lp, l, nb, s, e, pr))
        .fold(Cost::ZERO, Cost::then)
}

/// The layer restricted to output rows r0..r1.
fn sub_rows(lp: &LinearParams, r0: usize, r1: usize) -> LinearParams {
    LinearParams { d1: r1 - r0, ..*lp }
}

/// [`LinOption::Duplex`] with rows 0..r by option 4 and r..d1 by option 1: the extension of
/// ⟨X⟩ and (signed X) Π_Mill, then the two jobs paired in K calls each (K the larger of their
/// call counts alone), each pair one round trip ([`run_jobs`]). Also returns the latency of
/// the pairs on `link` (ns), honest about what a pair can overlap: each party sends its
/// columns first and its payload only once the peer's columns have all arrived, so each
/// direction finishes after max(U_rows, U_cols) plus its own payload. (The fixed options are
/// scored by [`Objective::of`], which assumes full overlap within a call, so this comparison
/// favours them: a split is taken only when it clearly wins.)
fn duplex_cost(
    lp: &LinearParams,
    l: u32,
    r: usize,
    pr: Profile,
    link: Option<&pq_netsim::LinkSpec>,
) -> (Cost, u64) {
    let (la, lb) = (sub_rows(lp, 0, r), sub_rows(lp, r, lp.d1));
    let nb = lp.lx.min(l);
    let wrap = wrap_needed(lp, l);
    let ta = lp.lw.min(l) as u64 * (r * lp.d2) as u64;
    let tb = (nb + wrap as u32) as u64 * (lp.d2 * lp.d3) as u64;
    let k = n_calls(ta, per_call(lp, lp.d3)).max(n_calls(tb, per_call(lp, lb.d1)));
    let pre = ext_cost(lp, lp.n_in() as u64, l, pr).then(mill_cost(lp, l, pr));
    let ns = |bytes: u64, l: &pq_netsim::LinkSpec| {
        (bytes as u128 * 8 * 1_000_000_000 / l.bandwidth_bps.max(1) as u128) as u64
    };
    let mut lat = link.map_or(0, |l| Objective::Latency(*l).of(&pre));
    let mut c = pre;
    for ((sa, ea), (sb, eb)) in split(ta, k).zip(split(tb, k)) {
        let a = if sa < ea {
            rows_call(&la, l, sa, ea, pr)
        } else {
            Cost::ZERO
        };
        let b = if sb < eb {
            cols_call(&lb, l, nb, sb, eb, pr)
        } else {
            Cost::ZERO
        };
        if let Some(lk) = link {
            // rows job: client sends the payload, server the columns; cols job: the reverse
            let (ua, pa, ub, pb) = (
                a.server_to_client,
                a.client_to_server,
                b.client_to_server,
                b.server_to_client,
            );
            // each payload waits for all of the peer's columns of its job
            let c2s = ua.max(ub) + pa;
            let s2c = ua.max(ub) + pb;
            lat = lat
                .saturating_add(ns(c2s.max(s2c), lk))
                .saturating_add(a.rounds.max(b.rounds).saturating_mul(lk.rtt_ns));
        }
        c = c.then(a.par(b));
    }
    (c, lat)
}

/// The best [`LinOption::Duplex`] split on `link` by the honest pair latency of
/// [`duplex_cost`]: a coarse scan of rows_x over 1..d1, then every value around the best
/// coarse point. Returns (rows_x, cost, latency ns).
fn best_duplex(
    lp: &LinearParams,
    l: u32,
    link: &pq_netsim::LinkSpec,
    pr: Profile,
) -> Option<(u32, Cost, u64)> {
    let d1 = lp.d1;
    if d1 < 2 {
        return None;
    }
    let eval = |r: usize| (duplex_cost(lp, l, r, pr, Some(link)).1, r);
    let step = (d1 / 64).max(1);
    let (_, rc) = (1..d1).step_by(step).map(eval).min()?;
    // fine scan around the coarse best, at most 129 points
    let fine = step.min(64);
    let lo = rc.saturating_sub(fine).max(1);
    let hi = (rc + fine).min(d1 - 1);
    let (_, r) = (lo..=hi).map(eval).min()?;
    let (c, t) = duplex_cost(lp, l, r, pr, Some(link));
    Some((r as u32, c, t))
}

/// The both-message OT MUX wrap: one chosen-message OT per im2col element, server sender,
/// two sets of d1 messages of l − lx bits, in calls of at most `call_values` values.
fn mux_cost(lp: &LinearParams, l: u32, pr: Profile) -> Cost {
    if !wrap_needed(lp, l) {
        return Cost::ZERO;
    }
    let total = (lp.d2 as u64) * (lp.d3 as u64);
    let pc = per_call(lp, lp.d1);
    let mut c = Cost::ZERO;
    let mut s = 0u64;
    while s < total {
        let e = (s + pc).min(total);
        c = c.then(ot_calls::batched_got(
            Role::Server,
            e - s,
            lp.d1 as u64,
            l - lp.lx,
            pr,
        ));
        s = e;
    }
    c
}

/// Cost of one option with the output in `l` bits (see [`run_at`]). For [`LinOption::He`],
/// [`he_linear::cost_at`] (the extension of ⟨X⟩ included, on `pr`'s COT source), or an
/// [`ProtoError::Param`](crate::ProtoError::Param) naming `option` when no HE parameters fit
/// the layer.
pub fn cost_at(lp: &LinearParams, opt: LinOption, l: u32, pr: Profile) -> ProtoResult<Cost> {
    check_l(lp, l)?;
    if opt == LinOption::He {
        return he_linear::cost_at(lp, l, pr)?.ok_or_else(he_unavailable);
    }
    if let LinOption::Duplex { rows_x } = opt {
        return Ok(duplex_cost(lp, l, check_rows_x(lp, rows_x)?, pr, None).0);
    }
    let n_cols = (lp.d2 as u64) * (lp.d3 as u64);
    let c = match opt.extension() {
        Some(after) => {
            let n = if after { n_cols } else { lp.n_in() as u64 };
            let ext = ext_cost(lp, n, l, pr);
            if opt.decomposes_w() {
                ext.then(rows_cost(lp, l, pr))
            } else {
                ext.then(cols_cost(lp, l, l, false, pr))
            }
        }
        None => {
            let wrap = wrap_needed(lp, l);
            let mill = mill_cost(lp, l, pr);
            let (cot_wrap, mux) = if opt.mux() {
                (false, mux_cost(lp, l, pr))
            } else {
                (wrap, Cost::ZERO)
            };
            if opt.decomposes_w() {
                mill.then(mux)
                    .then(cols_cost(lp, l, 0, cot_wrap, pr))
                    .then(rows_cost(lp, l, pr))
            } else {
                mill.then(cols_cost(lp, l, lp.lx.min(l), cot_wrap, pr))
                    .then(mux)
            }
        }
    };
    Ok(c)
}

/// The error of asking for [`LinOption::He`] where it is not available.
fn he_unavailable() -> crate::ProtoError {
    param("option", "the HE option is not available for this layer")
}

/// Every option on `menu` with its cost, output in the tightest width
/// ([`LinearParams::acc_bits`]); see [`options_at`].
pub fn options(lp: &LinearParams, pr: Profile, menu: Menu) -> ProtoResult<Vec<(LinOption, Cost)>> {
    options_at(lp, lp.acc_bits()?, pr, menu)
}

/// Every option on `menu` with its cost, output in `l` bits: the OT options of
/// [`LinOption::ALL`] in that order, then [`LinOption::He`] when `menu.he` and
/// [`he_linear::cost_at`] offers it for this layer. ([`LinOption::Duplex`] is built by the
/// chooser under the latency objective and not listed.)
pub fn options_at(
    lp: &LinearParams,
    l: u32,
    pr: Profile,
    menu: Menu,
) -> ProtoResult<Vec<(LinOption, Cost)>> {
    let mut v = LinOption::ALL
        .iter()
        .map(|&o| Ok((o, cost_at(lp, o, l, pr)?)))
        .collect::<ProtoResult<Vec<_>>>()?;
    if menu.he
        && let Some(c) = he_linear::cost_at(lp, l, pr)?
    {
        v.push((LinOption::He, c));
    }
    Ok(v)
}

/// The chooser's score of option `opt` with cost `c` (output in `l` bits) under `obj`:
/// [`Objective::of`] the cost (total bytes, or the busier direction over the bandwidth plus
/// rounds × RTT), plus, for [`LinOption::He`] under [`Objective::Latency`], its estimated
/// compute time ([`he_linear::compute_ns`]; an HE option without an estimate scores
/// `u64::MAX` there and is never taken). The OT options' compute is not modelled yet: under
/// the latency objective they are scored by their traffic alone, which favours them over
/// the HE option by their (small, AES-bound) compute time. [`choose_at`] scores
/// [`LinOption::Duplex`] by its honest pair latency instead; this function gives
/// `obj.of(c)` for it, as for every OT option.
pub fn score(lp: &LinearParams, opt: LinOption, l: u32, c: &Cost, obj: Objective) -> u64 {
    let s = obj.of(c);
    match (opt, obj) {
        (LinOption::He, Objective::Latency(_)) => {
            s.saturating_add(he_linear::compute_ns(lp, l).unwrap_or(u64::MAX))
        }
        _ => s,
    }
}

/// The option chooser for the tightest width ([`LinearParams::acc_bits`]); see [`choose_at`].
pub fn choose(
    lp: &LinearParams,
    obj: Objective,
    pr: Profile,
    menu: Menu,
) -> ProtoResult<(LinOption, Cost)> {
    choose_at(lp, obj, lp.acc_bits()?, pr, menu)
}

/// The option chooser for output width `l` (see [`run_at`]): the option on `menu` of minimum
/// [`score`] under `obj` (ties: the first in [`options_at`]'s order, so the OT options of
/// [`LinOption::ALL`] before [`LinOption::He`]); under [`Objective::Latency`] also the best
/// [`LinOption::Duplex`] split, taken only when its honest pair latency (`duplex_cost`) is
/// strictly below the best option's score. With [`Menu::OT`] this is the OT options'
/// chooser, unchanged by the HE option.
pub fn choose_at(
    lp: &LinearParams,
    obj: Objective,
    l: u32,
    pr: Profile,
    menu: Menu,
) -> ProtoResult<(LinOption, Cost)> {
    let mut best: Option<(LinOption, Cost, u64)> = None;
    for (o, c) in options_at(lp, l, pr, menu)? {
        let s = score(lp, o, l, &c, obj);
        if best.is_none_or(|(_, _, b)| s < b) {
            best = Some((o, c, s));
        }
    }
    if let Objective::Latency(link) = obj
        && let Some((rows_x, c, t)) = best_duplex(lp, l, &link, pr)
        && best.is_none_or(|(_, _, b)| t < b)
    {
        best = Some((LinOption::Duplex { rows_x }, c, t));
    }
    best.map(|(o, c, _)| (o, c))
        .ok_or_else(|| param("option", "no option"))
}

/// Plaintext reference: Y = W·X as exact integers (i128), W d1×d2, X given pre-im2col as
/// signed values.
pub fn reference(lp: &LinearParams, w: &[i64], x: &[i64]) -> Vec<i128> {
    let xu: Vec<u64> = x.iter().map(|&v| v as u64).collect();
    let cols = lp.cols(&xu);
    let (d1, d2, d3) = (lp.d1, lp.d2, lp.d3);
    let mut y = vec![0i128; d1 * d3];
    for i in 0..d1 {
        for k in 0..d2 {
            let a = w[i * d2 + k] as i128;
            for j in 0..d3 {
                y[i * d3 + j] += a * cols[k * d3 + j] as i64 as i128;
            }
        }
    }
    y
}

/// Run one option. The server passes W (d1×d2, signed values in lw bits), the client `&[]`.
/// Both pass their share of X (pre-im2col, lx bits; in `Clear` mode the client's share is X
/// itself and the server's is ignored, it may be empty). Returns L-bit shares of W·X (d1×d3).
pub fn run(
    p: &mut Party,
    lp: &LinearParams,
    opt: LinOption,
    w: &[i64],
    x: &[u64],
) -> ProtoResult<Vec<u64>> {
    run_at(p, lp, opt, lp.acc_bits()?, w, x)
}

/// [`run`] with the output in a caller-chosen width `l` (1..=64): shares of W·X mod 2^l,
/// exact for every l (options 3, 4 extend X to l bits when l > lx; options 1, 2 correct the
/// wrap when l > lx; below lx all work modulo 2^l). [`LinOption::He`] runs
/// [`he_linear::run_at`] on the checked operands (the lx-bit shares of X; the server's are
/// zeros when the client holds X in clear), which fails where [`he_linear::cost_at`] offers
/// no parameters.
pub fn run_at(
    p: &mut Party,
    lp: &LinearParams,
    opt: LinOption,
    l: u32,
    w: &[i64],
    x: &[u64],
) -> ProtoResult<Vec<u64>> {
    check_l(lp, l)?;
    let alice = p.is_alice();
    let server_clear = alice && lp.input.clear();
    if x.len() != lp.n_in() && !server_clear {
        return Err(param("x", "input share has the wrong length"));
    }
    if alice && w.len() != lp.d1 * lp.d2 {
        return Err(param("w", "weights must be d1 × d2"));
    }
    if alice {
        let (wmin, wmax) = (-(1i128 << (lp.lw - 1)), (1i128 << (lp.lw - 1)) - 1);
        if w.iter().any(|&v| (v as i128) < wmin || (v as i128) > wmax) {
            return Err(param(
                "w",
                format!("a weight is outside signed {} bits", lp.lw),
            ));
        }
    }
    let mx = mask(lp.lx);
    let xs: Vec<u64> = if server_clear {
        vec![0; lp.n_in()]
    } else {
        x.iter().map(|v| v & mx).collect()
    };
    let (d1, d2, d3) = (lp.d1, lp.d2, lp.d3);
    if opt == LinOption::He {
        let mut y = he_linear::run_at(p, lp, l, w, &xs)?;
        if y.len() != d1 * d3 {
            return Err(param(
                "option",
                "the HE option returned the wrong number of outputs",
            ));
        }
        let ml = mask(l);
        for v in y.iter_mut() {
            *v &= ml;
        }
        return Ok(y);
    }
    if let LinOption::Duplex { rows_x } = opt {
        let r = check_rows_x(lp, rows_x)?;
        let mut y = run_duplex(p, lp, l, r, w, &xs)?;
        let ml = mask(l);
        for v in y.iter_mut() {
            *v &= ml;
        }
        return Ok(y);
    }
    let mut y = match opt.extension() {
        Some(after) => {
            // options 3, 4: l-bit shares of X (no wrap); the server's local term W·⟨X⟩_0
            let cols = if after {
                extend(p, lp, l, &lp.cols(&xs))?
            } else {
                lp.cols(&extend(p, lp, l, &xs)?)
            };
            let mut y = if alice {
                matmul_i64_u64(w, &cols, d1, d2, d3)
            } else {
                vec![0u64; d1 * d3]
            };
            if opt.decomposes_w() {
                run_jobs(
                    p,
                    (
                        &RowsJob {
                            lp,
                            l,
                            w,
                            cols: &cols,
                        },
                        &mut y,
                    ),
                    None,
                )?;
            } else {
                let job = ColsJob::new(alice, lp, l, w, &cols, l, None);
                run_jobs(p, (&job, &mut y), None)?;
            }
            y
        }
        None => {
            // options 1, 2: lx-bit shares of X and their wrap
            let mux = opt.mux();
            let pre = prep_lx(p, lp, l, w, &xs, mux)?;
            let mut y = pre.local;
            let cot_wrap = if mux { None } else { pre.wrap.as_ref() };
            if opt.decomposes_w() {
                if let (true, Some(ws)) = (mux, &pre.wrap) {
                    wrap_mux(p, lp, l, w, ws, &mut y)?;
                }
                let wrap_job = ColsJob::new(alice, lp, l, w, &pre.cols, 0, cot_wrap);
                run_jobs(p, (&wrap_job, &mut y), None)?;
                let rows = RowsJob {
                    lp,
                    l,
                    w,
                    cols: &pre.cols,
                };
                run_jobs(p, (&rows, &mut y), None)?;
            } else {
                let nb = lp.lx.min(l);
                let job = ColsJob::new(alice, lp, l, w, &pre.cols, nb, cot_wrap);
                run_jobs(p, (&job, &mut y), None)?;
                if let (true, Some(ws)) = (mux, &pre.wrap) {
                    wrap_mux(p, lp, l, w, ws, &mut y)?;
                }
            }
            y
        }
    };
    let ml = mask(l);
    for v in y.iter_mut() {
        *v &= ml;
    }
    Ok(y)
}

fn check_rows_x(lp: &LinearParams, rows_x: u32) -> ProtoResult<usize> {
    let r = rows_x as usize;
    if r == 0 || r >= lp.d1 {
        return Err(param(
            "rows_x",
            format!("a duplex split needs 1 ≤ rows_x < d1 = {}", lp.d1),
        ));
    }
    Ok(r)
}

/// [`LinOption::Duplex`]: rows 0..r by option 4 (⟨X⟩ extended on the tensor, the server
/// decomposes W), rows r..d1 by option 1 (the client decomposes its lx-bit share, the wrap
/// COT folded in), their batched COTs paired call by call.
fn run_duplex(
    p: &mut Party,
    lp: &LinearParams,
    l: u32,
    r: usize,
    w: &[i64],
    xs: &[u64],
) -> ProtoResult<Vec<u64>> {
    let alice = p.is_alice();
    let (la, lb) = (sub_rows(lp, 0, r), sub_rows(lp, r, lp.d1));
    let (wa, wb) = if alice {
        w.split_at(r * lp.d2)
    } else {
        (&[][..], &[][..])
    };
    let cols = lp.cols(&extend(p, lp, l, xs)?);
    let pre = prep_lx(p, &lb, l, wb, xs, false)?;
    let mut ya = if alice {
        matmul_i64_u64(wa, &cols, r, lp.d2, lp.d3)
    } else {
        vec![0u64; r * lp.d3]
    };
    let mut yb = pre.local;
    let rows = RowsJob {
        lp: &la,
        l,
        w: wa,
        cols: &cols,
    };
    let colsj = ColsJob::new(
        alice,
        &lb,
        l,
        wb,
        &pre.cols,
        lp.lx.min(l),
        pre.wrap.as_ref(),
    );
    run_jobs(p, (&rows, &mut ya), Some((&colsj, &mut yb)))?;
    ya.extend_from_slice(&yb);
    Ok(ya)
}

/// Shares of the lx-bit values `x` (masked) extended to `l` bits (masked to l when l ≤ lx):
/// the known-non-negative [`extension::ext`] for non-negative X, s_extend for signed X, local
/// when the client holds X.
pub(crate) fn extend(p: &mut Party, lp: &LinearParams, l: u32, x: &[u64]) -> ProtoResult<Vec<u64>> {
    let ml = mask(l);
    let lx = lp.lx;
    Ok(if l <= lx {
        x.iter().map(|v| v & ml).collect()
    } else if lp.input.clear() {
        if p.is_alice() {
            vec![0; x.len()]
        } else {
            x.iter()
                .map(|&v| {
                    let s = if lp.input.nonneg() {
                        v as i64
                    } else {
                        pq_kernels::ring::to_signed(v, lx)
                    };
                    s as u64 & ml
                })
                .collect()
        }
    } else {
        extension::ext(p, x, lx, l, lp.input.nonneg())?
    })
}

/// The wrap of the lx-bit shares of one im2col element, as the two parties hold it:
/// wrap = u + c·f (mod 2^l) with the server's u and f, the client's choice bit c.
struct WrapShares {
    /// server: its part u (0/1) per im2col element
    u: Vec<u64>,
    /// server: the factor f (1 − u for OR, 1 − 2u for XOR) per element
    f: Vec<u64>,
    /// client: its bit c per element
    c: Vec<u8>,
    /// wrap = u XOR c (signed X, from Π_Mill) rather than u OR c (non-negative X)
    xor: bool,
}

/// Options 1, 2 before the OTs.
struct LxPrep {
    /// This party's lx-bit share of every im2col element (the offset 2^(lx−1) added by its
    /// holder for signed X).
    cols: Vec<u64>,
    /// The server's local terms: W·cols_0 − off·rowsum(W) − 2^lx·W·u (the u term only for
    /// the wrap COT; the MUX carries the whole wrap); zero for the client.
    local: Vec<u64>,
    wrap: Option<WrapShares>,
}

/// Offset signed X by 2^(lx−1) (the server, or the client when it holds X in clear), find
/// the wrap's shares (msb OR for non-negative X, Π_Mill on the tensor for signed X) when
/// l > lx and X is shared, and compute the server's local terms.
fn prep_lx(
    p: &mut Party,
    lp: &LinearParams,
    l: u32,
    w: &[i64],
    x: &[u64],
    mux: bool,
) -> ProtoResult<LxPrep> {
    let alice = p.is_alice();
    let lx = lp.lx;
    let mx = mask(lx);
    let (d1, d2, d3) = (lp.d1, lp.d2, lp.d3);
    let clear = lp.input.clear();
    let signed = !lp.input.nonneg();
    let off = if signed { 1u64 << (lx - 1) } else { 0 };
    let holder = alice != clear;
    let need = wrap_needed(lp, l);
    // XOR wrap shares for signed shared X (Mill on the tensor before im2col)
    let wbits: Option<Vec<u64>> = if need && signed {
        let pre: Vec<u64> = if holder {
            x.iter().map(|v| v.wrapping_add(off) & mx).collect()
        } else {
            x.to_vec()
        };
        let wb = wrap::run(p, &pre, lx)?;
        Some(lp.cols(&wb.iter().map(|&b| (b & 1) as u64).collect::<Vec<_>>()))
    } else {
        None
    };
    let mut cols = lp.cols(x);
    if holder && off != 0 {
        for v in cols.iter_mut() {
            *v = v.wrapping_add(off) & mx;
        }
    }
    let wrap = if !need {
        None
    } else if alice {
        Some(match wbits {
            Some(wb) => WrapShares {
                f: wb.iter().map(|&b| 1u64.wrapping_sub(2 * b)).collect(),
                u: wb,
                c: Vec::new(),
                xor: true,
            },
            None => {
                let u: Vec<u64> = cols.iter().map(|v| (v >> (lx - 1)) & 1).collect();
                WrapShares {
                    f: u.iter().map(|&a| 1 - a).collect(),
                    u,
                    c: Vec::new(),
                    xor: false,
                }
            }
        })
    } else {
        let c = match &wbits {
            Some(wb) => wb.iter().map(|&b| b as u8).collect(),
            None => cols.iter().map(|v| ((v >> (lx - 1)) & 1) as u8).collect(),
        };
        Some(WrapShares {
            u: Vec::new(),
            f: Vec::new(),
            c,
            xor: signed,
        })
    };
    let mut local = vec![0u64; d1 * d3];
    if alice {
        if !clear {
            local = matmul_i64_u64(w, &cols, d1, d2, d3);
        }
        if off != 0 {
            for i in 0..d1 {
                let rs: u64 = w[i * d2..(i + 1) * d2]
                    .iter()
                    .fold(0u64, |a, &b| a.wrapping_add(b as u64));
                let corr = rs.wrapping_mul(off);
                for v in &mut local[i * d3..(i + 1) * d3] {
                    *v = v.wrapping_sub(corr);
                }
            }
        }
        if let (false, Some(ws)) = (mux, &wrap) {
            let wu = matmul_i64_u64(w, &ws.u, d1, d2, d3);
            for (a, b) in local.iter_mut().zip(&wu) {
                *a = a.wrapping_sub(b << lx);
            }
        }
    }
    Ok(LxPrep { cols, local, wrap })
}

/// One batched-COT job of a linear layer: `total` OTs in blocks of `blk` (block t = bit t),
/// each OT carrying `msgs` values. The two kinds are the server bit-decomposing W
/// ([`RowsJob`], the client the sender) and the client bit-decomposing its X share
/// ([`ColsJob`], the server the sender). A job runs alone in calls of at most `pc` OTs
/// ([`run_jobs`]), or paired call by call with a job of the other direction so both share
/// each round trip (the duplex option).
trait CotJob {
    fn total(&self) -> u64;
    fn msgs(&self) -> usize;
    /// OTs per call when the job runs alone.
    fn per_call(&self) -> u64;
    /// Whether the server is this job's COT receiver.
    fn server_receives(&self) -> bool;
    /// Message lengths of OTs s..e.
    fn lens(&self, s: u64, e: u64, out: &mut Vec<u32>);
    /// The receiver's choice bits of OTs s..e.
    fn choices(&self, s: u64, e: u64, out: &mut Vec<u8>);
    /// The sender's correlations of OTs s..e (`msgs` per OT).
    fn corrs(&self, s: u64, e: u64, out: &mut Vec<u64>);
    /// OT t's correlations as a slice this job already holds (unreduced), when every OT of
    /// the job has one: the sender then passes them without copying.
    fn row(&self, _t: u64) -> Option<&[u64]> {
        None
    }
    /// Add this party's shares of OTs s..e (COT outputs `out`) into `y`.
    fn absorb(&self, alice: bool, s: u64, e: u64, out: &[u64], y: &mut [u64]);
}

/// The server bit-decomposes W (options 2, 4): shares of W·cols_1 mod 2^l, where cols_1 is
/// the client's share of every im2col element. One COT per bit j < min(lw, l) of every
/// weight, the client the sender with its X row masked to l − j bits, the weight bit
/// (top bit of weight −2^(lw−1)) the choice ([`rows_cost`]).
struct RowsJob<'a> {
    lp: &'a LinearParams,
    l: u32,
    w: &'a [i64],
    cols: &'a [u64],
}

impl RowsJob<'_> {
    /// OT t's correlations: the client's share of the X row of weight (i, k), unreduced (the
    /// sender reduces corr + pad modulo 2^(l − j) itself).
    fn row_of(&self, t: u64) -> &[u64] {
        let (d2, d3) = (self.lp.d2, self.lp.d3);
        let blk = (self.lp.d1 * d2) as u64;
        let k = ((t % blk) as usize) % d2;
        &self.cols[k * d3..(k + 1) * d3]
    }
}

impl CotJob for RowsJob<'_> {
    fn total(&self) -> u64 {
        self.lp.lw.min(self.l) as u64 * (self.lp.d1 * self.lp.d2) as u64
    }
    fn msgs(&self) -> usize {
        self.lp.d3
    }
    fn per_call(&self) -> u64 {
        per_call(self.lp, self.lp.d3)
    }
    fn server_receives(&self) -> bool {
        true
    }
    fn lens(&self, s: u64, e: u64, out: &mut Vec<u32>) {
        let blk = (self.lp.d1 * self.lp.d2) as u64;
        out.clear();
        out.extend((s..e).map(|t| self.l - (t / blk) as u32));
    }
    fn choices(&self, s: u64, e: u64, out: &mut Vec<u8>) {
        let blk = (self.lp.d1 * self.lp.d2) as u64;
        out.clear();
        out.extend((s..e).map(|t| {
            let j = (t / blk) as u32;
            ((self.w[(t % blk) as usize] as u64 >> j) & 1) as u8
        }));
    }
    fn corrs(&self, s: u64, e: u64, out: &mut Vec<u64>) {
        out.clear();
        for t in s..e {
            out.extend_from_slice(self.row_of(t));
        }
    }
    fn row(&self, t: u64) -> Option<&[u64]> {
        Some(self.row_of(t))
    }
    fn absorb(&self, alice: bool, s: u64, e: u64, out: &[u64], y: &mut [u64]) {
        let (d2, d3) = (self.lp.d2, self.lp.d3);
        let blk = (self.lp.d1 * d2) as u64;
        for (q, t) in (s..e).enumerate() {
            let j = (t / blk) as u32;
            let i = ((t % blk) as usize) / d2;
            // weight ±2^j: the top bit of W is negative, and the client subtracts
            let neg = (j == self.lp.lw - 1) == alice;
            add_shifted(
                &mut y[i * d3..(i + 1) * d3],
                &out[q * d3..(q + 1) * d3],
                j,
                neg,
            );
        }
    }
}

/// The client bit-decomposes its share (options 1, 3, and option 2's wrap): shares of
/// W·(Σ_{i<nb} 2^i·bit_i(cols_1)) − 2^lx·W·(c·f) mod 2^l. One COT per bit i < nb of every
/// im2col element (server the sender with the W column masked to l − i bits) followed, when
/// `wrap` is given, by one COT per element with correlation W column·f (l − lx bits) and the
/// client's wrap bit c the choice ([`cols_cost`]).
struct ColsJob<'a> {
    lp: &'a LinearParams,
    l: u32,
    /// The server's W columns (d2 × d1); empty for the client.
    wt_cols: Vec<u64>,
    cols: &'a [u64],
    nb: u32,
    wrap: Option<&'a WrapShares>,
}

impl<'a> ColsJob<'a> {
    fn new(
        alice: bool,
        lp: &'a LinearParams,
        l: u32,
        w: &[i64],
        cols: &'a [u64],
        nb: u32,
        wrap: Option<&'a WrapShares>,
    ) -> Self {
        let (d1, d2) = (lp.d1, lp.d2);
        let mut wt_cols = Vec::new();
        if alice {
            wt_cols = vec![0u64; d2 * d1];
            for i in 0..d1 {
                for k in 0..d2 {
                    wt_cols[k * d1 + i] = w[i * d2 + k] as u64;
                }
            }
        }
        ColsJob {
            lp,
            l,
            wt_cols,
            cols,
            nb,
            wrap,
        }
    }
    fn len_of(&self, t: u32) -> u32 {
        if t < self.nb {
            self.l - t
        } else {
            self.l - self.lp.lx
        }
    }
}

impl CotJob for ColsJob<'_> {
    fn total(&self) -> u64 {
        (self.nb + self.wrap.is_some() as u32) as u64 * (self.lp.d2 * self.lp.d3) as u64
    }
    fn msgs(&self) -> usize {
        self.lp.d1
    }
    fn per_call(&self) -> u64 {
        per_call(self.lp, self.lp.d1)
    }
    fn server_receives(&self) -> bool {
        false
    }
    fn lens(&self, s: u64, e: u64, out: &mut Vec<u32>) {
        let blk = (self.lp.d2 * self.lp.d3) as u64;
        out.clear();
        out.extend((s..e).map(|t| self.len_of((t / blk) as u32)));
    }
    fn choices(&self, s: u64, e: u64, out: &mut Vec<u8>) {
        let blk = (self.lp.d2 * self.lp.d3) as u64;
        out.clear();
        out.extend((s..e).map(|t| {
            let tt = (t / blk) as u32;
            let el = (t % blk) as usize;
            match self.wrap {
                Some(ws) if tt >= self.nb => ws.c[el],
                _ => ((self.cols[el] >> tt) & 1) as u8,
            }
        }));
    }
    fn corrs(&self, s: u64, e: u64, out: &mut Vec<u64>) {
        let (d1, d3) = (self.lp.d1, self.lp.d3);
        let blk = (self.lp.d2 * d3) as u64;
        out.clear();
        out.reserve((e - s) as usize * d1);
        for t in s..e {
            let tt = (t / blk) as u32;
            let el = (t % blk) as usize;
            let k = el / d3;
            let m = mask(self.len_of(tt));
            let col = &self.wt_cols[k * d1..(k + 1) * d1];
            match self.wrap {
                Some(ws) if tt >= self.nb => {
                    let f = ws.f[el];
                    out.extend(col.iter().map(|v| v.wrapping_mul(f) & m));
                }
                _ => out.extend(col.iter().map(|v| v & m)),
            }
        }
    }
    fn absorb(&self, alice: bool, s: u64, e: u64, out: &[u64], y: &mut [u64]) {
        let (d1, d3) = (self.lp.d1, self.lp.d3);
        let blk = (self.lp.d2 * d3) as u64;
        for (q, t) in (s..e).enumerate() {
            let tt = (t / blk) as u32;
            let col = (t % blk) as usize % d3;
            // weight 2^tt for a bit of the share, −2^lx for the wrap; the server subtracts
            let (sh, neg) = if tt < self.nb {
                (tt, alice)
            } else {
                (self.lp.lx, !alice)
            };
            for (i, v) in out[q * d1..(q + 1) * d1].iter().enumerate() {
                let a = &mut y[i * d3 + col];
                let d = v.wrapping_shl(sh);
                *a = if neg {
                    a.wrapping_sub(d)
                } else {
                    a.wrapping_add(d)
                };
            }
        }
    }
}

/// y ± (x << j), element-wise (vectorizes: 64-bit shifts and adds, no 64-bit multiply).
fn add_shifted(y: &mut [u64], x: &[u64], j: u32, neg: bool) {
    if neg {
        for (a, b) in y.iter_mut().zip(x) {
            *a = a.wrapping_sub(b << j);
        }
    } else {
        for (a, b) in y.iter_mut().zip(x) {
            *a = a.wrapping_add(b << j);
        }
    }
}

/// Scratch of one job's call.
#[derive(Default)]
struct CallBufs {
    lens: Vec<u32>,
    choice: Vec<u8>,
    corr: Vec<u64>,
    out: Vec<u64>,
}

/// OTs s..e of `job` as one batched-COT call, this party's half: the receiver's columns and
/// result, or the sender's answer. `half`: for the receiver, 0 = everything, 1 = only send
/// the columns, 2 = only receive the payload (see [`IknpReceiver::recv_batched_cot_columns`]).
///
/// [`IknpReceiver::recv_batched_cot_columns`]: pq_ot::iknp::IknpReceiver::recv_batched_cot_columns
fn job_call(
    p: &mut Party,
    job: &dyn CotJob,
    s: u64,
    e: u64,
    half: u8,
    b: &mut CallBufs,
) -> ProtoResult<()> {
    let alice = p.is_alice();
    let opts = p.opts();
    let msgs = job.msgs();
    if half != 2 {
        job.lens(s, e, &mut b.lens);
        // every value is overwritten by the OT: only newly grown space is zeroed
        b.out.resize((e - s) as usize * msgs, 0);
    }
    if alice == job.server_receives() {
        if half != 2 {
            job.choices(s, e, &mut b.choice);
        }
        let (ch, r) = (&mut *p.ch, &mut p.ot.iknp_recv);
        match half {
            1 => r.recv_batched_cot_columns(ch, &b.choice, msgs, &b.lens, opts, &mut b.out)?,
            2 => r.recv_batched_cot_finish(ch, &b.choice, msgs, &b.lens, opts, &mut b.out)?,
            _ => r.recv_batched_cot(ch, &b.choice, msgs, &b.lens, opts, &mut b.out)?,
        }
    } else if job.row(s).is_some() {
        let row = |g: usize| job.row(s + g as u64).unwrap_or(&[]);
        p.ot.iknp_send
            .send_batched_cot_rows(&mut *p.ch, row, msgs, &b.lens, opts, &mut b.out)?;
    } else {
        job.corrs(s, e, &mut b.corr);
        p.ot.iknp_send
            .send_batched_cot(&mut *p.ch, &b.corr, msgs, &b.lens, opts, &mut b.out)?;
    }
    Ok(())
}

/// The call boundaries of a job of `total` OTs in `k` calls of near-equal size.
fn split(total: u64, k: u64) -> impl Iterator<Item = (u64, u64)> {
    let pc = total.div_ceil(k.max(1)).max(1);
    (0..k).map(move |i| ((i * pc).min(total), ((i + 1) * pc).min(total)))
}

/// Number of calls of a job alone (`pc` OTs per call).
fn n_calls(total: u64, pc: u64) -> u64 {
    total.div_ceil(pc.max(1))
}

/// Run `a` alone (calls of at most `call_values` values), or `a` and `b` (jobs of opposite
/// directions) paired call by call in the same number of calls: in each paired call every
/// party first sends the columns of the job it receives, then answers the other job, then
/// reads its payload, so both directions share one round trip ([`duplex_calls`]).
fn run_jobs(
    p: &mut Party,
    a: (&dyn CotJob, &mut [u64]),
    b: Option<(&dyn CotJob, &mut [u64])>,
) -> ProtoResult<()> {
    let alice = p.is_alice();
    let (ja, ya) = a;
    let mut ba = CallBufs::default();
    let Some((jb, yb)) = b else {
        let pc = ja.per_call();
        let mut s = 0;
        while s < ja.total() {
            let e = (s + pc).min(ja.total());
            job_call(p, ja, s, e, 0, &mut ba)?;
            ja.absorb(alice, s, e, &ba.out, ya);
            s = e;
        }
        return Ok(());
    };
    if ja.server_receives() == jb.server_receives() {
        return Err(param(
            "duplex",
            "paired jobs must go in opposite directions",
        ));
    }
    let mut bb = CallBufs::default();
    let k = n_calls(ja.total(), ja.per_call()).max(n_calls(jb.total(), jb.per_call()));
    for ((sa, ea), (sb, eb)) in split(ja.total(), k).zip(split(jb.total(), k)) {
        // this party receives in `rj`, sends in `sj`
        let a_recv = alice == ja.server_receives();
        let ((rj, rr, rbuf), (sj, sr, sbuf)) = if a_recv {
            ((ja, (sa, ea), &mut ba), (jb, (sb, eb), &mut bb))
        } else {
            ((jb, (sb, eb), &mut bb), (ja, (sa, ea), &mut ba))
        };
        let (r_on, s_on) = (rr.0 < rr.1, sr.0 < sr.1);
        if r_on {
            job_call(p, rj, rr.0, rr.1, if s_on { 1 } else { 0 }, rbuf)?;
        }
        if s_on {
            job_call(p, sj, sr.0, sr.1, 0, sbuf)?;
        }
        if r_on && s_on {
            job_call(p, rj, rr.0, rr.1, 2, rbuf)?;
        }
        if sa < ea {
            ja.absorb(alice, sa, ea, &ba.out, ya);
        }
        if sb < eb {
            jb.absorb(alice, sb, eb, &bb.out, yb);
        }
    }
    Ok(())
}

/// The paper-literal (SCI-style) wrap & MUX for options 1, 2: adds shares of −2^lx·W·wrap
/// mod 2^l to `y` with one chosen-message OT per im2col element, the server the sender of
/// the two sets of d1 messages (W column·wrap(u, b) − r, l − lx bits, r the server's random
/// share), the client's wrap bit the choice; calls of at most `call_values` values
/// ([`mux_cost`]). Twice the wrap COT's payload.
fn wrap_mux(
    p: &mut Party,
    lp: &LinearParams,
    l: u32,
    w: &[i64],
    ws: &WrapShares,
    y: &mut [u64],
) -> ProtoResult<()> {
    let alice = p.is_alice();
    let lx = lp.lx;
    let lm = l - lx;
    let m = mask(lm);
    let (d1, d2, d3) = (lp.d1, lp.d2, lp.d3);
    let total = d2 * d3;
    let pc = per_call(lp, d1) as usize;
    let opts = p.opts();
    let wt = (1u64 << lx).wrapping_neg();
    let mut m0: Vec<u64> = Vec::new();
    let mut m1: Vec<u64> = Vec::new();
    let mut out: Vec<u64> = Vec::new();
    let mut choice: Vec<u8> = Vec::new();
    let mut s = 0usize;
    while s < total {
        let e = (s + pc).min(total);
        let n = e - s;
        out.clear();
        out.resize(n * d1, 0);
        if alice {
            p.prg.fill_bytes(bytemuck::cast_slice_mut(&mut out[..]));
            m0.clear();
            m1.clear();
            for (q, el) in (s..e).enumerate() {
                let k = el / d3;
                let u = ws.u[el];
                // wrap(u, 0) = u; wrap(u, 1) = 1 − u (XOR) or 1 (OR)
                let g1 = if ws.xor { 1 - u } else { 1 };
                for i in 0..d1 {
                    let r = &mut out[q * d1 + i];
                    *r &= m;
                    let wv = w[i * d2 + k] as u64;
                    m0.push(wv.wrapping_mul(u).wrapping_sub(*r) & m);
                    m1.push(wv.wrapping_mul(g1).wrapping_sub(*r) & m);
                }
            }
            p.ot.iknp_send
                .send_batched_got(&mut *p.ch, &m0, &m1, d1, lm, opts)?;
        } else {
            choice.clear();
            choice.extend_from_slice(&ws.c[s..e]);
            p.ot.iknp_recv
                .recv_batched_got(&mut *p.ch, &choice, d1, lm, opts, &mut out)?;
        }
        for (q, el) in (s..e).enumerate() {
            let col = el % d3;
            for (i, v) in out[q * d1..(q + 1) * d1].iter().enumerate() {
                let a = &mut y[i * d3 + col];
                *a = a.wrapping_add(wt.wrapping_mul(*v));
            }
        }
        s = e;
    }
    Ok(())
}
