//! Exact-accumulator linear layer (privquant profile): Y = W·X computed exactly in L bits,
//! W the server's plaintext (d1×d2, signed lw-bit), X secret shared (d2×d3, lx bits) or a conv
//! input tensor (cin×hw×hw) lowered by im2col. L is the tightest width that provably holds
//! every Σ w·x given W's range and X's proven range ([`LinearParams::acc_bits`]).
//!
//! Options (each with an exact cost function; [`plan`] picks the cheapest):
//! * [`LinOption::ExtendX`]: extend ⟨X⟩ from lx to L bits on the tensor BEFORE im2col (the
//!   known-MSB [`pq_ext`] when X is non-negative, SCI's s_extend otherwise, nothing when the
//!   client holds X in clear), then the server bit-decomposes W: one batched COT per bit j of
//!   every weight, the client the sender with its share of the X row (d3 messages of L − j
//!   bits), the server's weight bit the choice. Sends: the extension, then d1·d2·lw OTs of
//!   λ + d3·(L − j) bits (client → server payload). No wrap, no MUX.
//! * [`LinOption::DecompX`]: SiRNN-style, the client bit-decomposes its lx-bit share of
//!   im2col(X): one batched COT per bit i (server the sender with the W column, d1 messages of
//!   L − i bits). The wrap of the two shares is corrected in the SAME batched COT by one more
//!   OT per element (d1 messages of L − lx bits, correlation W column·f, choice the client's
//!   bit): for non-negative X the wrap is msb(x_0) OR msb(x_1) (no comparison at all); for
//!   signed X (offset by 2^(lx−1)) the XOR-shared wrap comes from Π_Mill(lx) on the tensor
//!   before im2col. No both-message OT. Sends: [Mill(lx) on cin·hw² elements], then
//!   d2·d3·(lx + 1) OTs, server → client payload.
//!
//! Big layers are sent as several batched-COT calls of at most 2^22 message values each
//! (each call one round trip); the cost functions use the same split.

use super::conv::{ConvParams, im2col};
use super::{ProtoResult, extension, otcost, param, pq_ext, wrap};
use crate::nn::tensor::matmul_i64_u64;
use crate::party::Party;
use crate::{Cost, Profile, Role};
use pq_kernels::ring::mask;

/// Message values per batched-COT call.
const MAX_VALS: u64 = 1 << 22;

/// What is known about the secret operand X.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum InputKind {
    /// Shared, proven non-negative (MSB 0): x ∈ [0, 2^(lx−1)).
    NonNeg,
    /// Shared, signed lx-bit.
    Signed,
    /// The client holds X in clear (the server's share is 0); `nonneg` as above.
    Clear { nonneg: bool },
}

impl InputKind {
    fn nonneg(self) -> bool {
        matches!(self, InputKind::NonNeg | InputKind::Clear { nonneg: true })
    }
    fn clear(self) -> bool {
        matches!(self, InputKind::Clear { .. })
    }
}

/// Layout of X.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Geom {
    /// X is given as the d2×d3 matrix.
    Matmul,
    /// X is a cin×hw×hw tensor; d2 = k²·cin, d3 = hw_out², zero padding k/2.
    Conv {
        hw: usize,
        cin: usize,
        k: usize,
        stride: usize,
    },
}

/// One exact linear layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LinearParams {
    pub d1: usize,
    pub d2: usize,
    pub d3: usize,
    pub lw: u32,
    pub lx: u32,
    pub input: InputKind,
    pub geom: Geom,
}

/// The protocol options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum LinOption {
    ExtendX,
    DecompX,
}

impl LinOption {
    pub const ALL: [LinOption; 2] = [LinOption::ExtendX, LinOption::DecompX];
    pub fn name(self) -> &'static str {
        match self {
            LinOption::ExtendX => "extend-x",
            LinOption::DecompX => "decomp-x",
        }
    }
}

/// What the planner minimises.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Objective {
    /// Total bytes, both directions.
    Bytes,
    /// max(s2c, c2s)·8 / bandwidth + rounds·RTT.
    Latency { bits_per_s: f64, rtt_s: f64 },
}

impl Objective {
    pub fn score(&self, c: &Cost) -> f64 {
        match *self {
            Objective::Bytes => c.total() as f64,
            Objective::Latency { bits_per_s, rtt_s } => {
                c.server_to_client.max(c.client_to_server) as f64 * 8.0 / bits_per_s
                    + c.rounds as f64 * rtt_s
            }
        }
    }
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
        }
    }

    /// A conv (cout filters of k×k×cin, stride, zero padding k/2) on a cin×hw×hw input.
    #[allow(clippy::too_many_arguments)]
    pub fn conv(
        hw: usize,
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        lw: u32,
        lx: u32,
        input: InputKind,
    ) -> Self {
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
        let big = || param("acc", "the accumulator needs more than 64 bits");
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
            return Err(param("acc", "the accumulator needs more than 64 bits"));
        }
        Ok(l)
    }

    fn check_basic(&self) -> ProtoResult<()> {
        super::check_bw("wbits", self.lw)?;
        super::check_bw("abits", self.lx)?;
        for (n, v) in [("d1", self.d1), ("d2", self.d2), ("d3", self.d3)] {
            if v == 0 || v > (1 << 30) {
                return Err(param(n, format!("dimension {v} out of range 1..=2^30")));
            }
        }
        if let Geom::Conv { hw, cin, k, stride } = self.geom {
            if hw == 0 || cin == 0 || k == 0 || stride == 0 {
                return Err(param("conv", "hw, cin, k, stride must be at least 1"));
            }
            if k * k * cin != self.d2 {
                return Err(param("conv", "d2 must be k²·cin"));
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

/// Per-call OT groups of a t-major OT list: `nt` blocks of `blk` OTs, block t with message
/// length `len(t)`, split into calls of at most `per_call` OTs.
fn calls(nt: u32, blk: u64, per_call: u64, len: impl Fn(u32) -> u32) -> Vec<Vec<(u64, u32)>> {
    let total = nt as u64 * blk;
    let mut out = Vec::new();
    let mut s = 0u64;
    while s < total {
        let e = (s + per_call).min(total);
        let mut g = Vec::new();
        let mut a = s;
        while a < e {
            let t = (a / blk) as u32;
            let b = ((t as u64 + 1) * blk).min(e);
            g.push((b - a, len(t)));
            a = b;
        }
        out.push(g);
        s = e;
    }
    out
}

fn per_call(msgs: usize) -> u64 {
    (MAX_VALS / msgs.max(1) as u64).max(1)
}

/// Cost of one option.
pub fn cost(lp: &LinearParams, opt: LinOption, pr: Profile) -> ProtoResult<Cost> {
    cost_at(lp, opt, lp.acc_bits()?, pr)
}

/// A caller-chosen output width `l` (1..=64): both options compute W·X exactly modulo 2^l for
/// any l, so a consumer that needs a different width than the tightest
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

/// Cost of one option with the output in `l` bits (see [`run_at`]).
pub fn cost_at(lp: &LinearParams, opt: LinOption, l: u32, pr: Profile) -> ProtoResult<Cost> {
    check_l(lp, l)?;
    let (d1, d2, d3) = (lp.d1 as u64, lp.d2 as u64, lp.d3 as u64);
    let n_in = lp.n_in() as u64;
    let mut c = Cost::ZERO;
    match opt {
        LinOption::ExtendX => {
            if l > lp.lx && !lp.input.clear() {
                c = c.then(if lp.input.nonneg() {
                    pq_ext::cost(n_in, lp.lx, l, pr)
                } else {
                    extension::cost(n_in, lp.lx, l, false, pr)
                });
            }
            let jmax = lp.lw.min(l);
            for g in calls(jmax, d1 * d2, per_call(lp.d3), |j| l - j) {
                c = c.then(otcost::batched_cot(Role::Client, &g, d3, pr));
            }
        }
        LinOption::DecompX => {
            let imax = lp.lx.min(l);
            let wrap_ot = !lp.input.clear() && l > lp.lx;
            if wrap_ot && !lp.input.nonneg() {
                c = c.then(wrap::cost(n_in, lp.lx, pr));
            }
            let nt = imax + wrap_ot as u32;
            let lx = lp.lx;
            for g in calls(nt, d2 * d3, per_call(lp.d1), |t| {
                if t < imax { l - t } else { l - lx }
            }) {
                c = c.then(otcost::batched_cot(Role::Server, &g, d1, pr));
            }
        }
    }
    Ok(c)
}

/// Every option with its cost.
pub fn options(lp: &LinearParams, pr: Profile) -> ProtoResult<Vec<(LinOption, Cost)>> {
    options_at(lp, lp.acc_bits()?, pr)
}

/// Every option with its cost, output in `l` bits.
pub fn options_at(lp: &LinearParams, l: u32, pr: Profile) -> ProtoResult<Vec<(LinOption, Cost)>> {
    LinOption::ALL
        .iter()
        .map(|&o| Ok((o, cost_at(lp, o, l, pr)?)))
        .collect()
}

/// The planner: the option of minimum `obj` score (ties: the first in [`LinOption::ALL`]).
pub fn plan(lp: &LinearParams, obj: Objective, pr: Profile) -> ProtoResult<(LinOption, Cost)> {
    plan_at(lp, obj, lp.acc_bits()?, pr)
}

/// The planner for output width `l` (see [`run_at`]).
pub fn plan_at(
    lp: &LinearParams,
    obj: Objective,
    l: u32,
    pr: Profile,
) -> ProtoResult<(LinOption, Cost)> {
    let mut best: Option<(LinOption, Cost)> = None;
    for (o, c) in options_at(lp, l, pr)? {
        if best.is_none_or(|(_, b)| obj.score(&c) < obj.score(&b)) {
            best = Some((o, c));
        }
    }
    best.ok_or_else(|| param("option", "no option"))
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
/// exact for every l (ExtendX extends X to l bits when l > lx; DecompX corrects the wrap
/// when l > lx; below lx both work modulo 2^l).
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
    match opt {
        LinOption::ExtendX => run_extend_x(p, lp, l, w, &xs),
        LinOption::DecompX => run_decomp_x(p, lp, l, w, &xs),
    }
}

fn run_extend_x(
    p: &mut Party,
    lp: &LinearParams,
    l: u32,
    w: &[i64],
    x: &[u64],
) -> ProtoResult<Vec<u64>> {
    let alice = p.is_alice();
    let ml = mask(l);
    let (d1, d2, d3) = (lp.d1, lp.d2, lp.d3);
    // 1. extension to L bits (before im2col)
    let xl: Vec<u64> = if l <= lp.lx {
        x.iter().map(|v| v & ml).collect()
    } else if lp.input.clear() {
        if alice {
            vec![0; x.len()]
        } else {
            let lx = lp.lx;
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
    } else if lp.input.nonneg() {
        pq_ext::run(p, x, lp.lx, l)?
    } else {
        extension::s_extend(p, x, lp.lx, l, None)?
    };
    let cols = lp.cols(&xl);
    // 2. local term and the cross term over W's bits
    let mut y = if alice {
        matmul_i64_u64(w, &cols, d1, d2, d3)
    } else {
        vec![0u64; d1 * d3]
    };
    let jmax = lp.lw.min(l);
    let blk = (d1 * d2) as u64;
    let pc = per_call(d3);
    let opts = p.opts();
    let total = jmax as u64 * blk;
    let mut s = 0u64;
    let mut buf: Vec<u64> = Vec::new();
    let mut out: Vec<u64> = Vec::new();
    let mut lens: Vec<u32> = Vec::new();
    let mut choice: Vec<u8> = Vec::new();
    while s < total {
        let e = (s + pc).min(total);
        let n = (e - s) as usize;
        lens.clear();
        lens.extend((s..e).map(|t| l - (t / blk) as u32));
        out.clear();
        out.resize(n * d3, 0);
        if alice {
            choice.clear();
            choice.extend((s..e).map(|t| {
                let j = (t / blk) as u32;
                let r = (t % blk) as usize;
                ((w[r] as u64 >> j) & 1) as u8
            }));
            p.ot.iknp_recv
                .recv_batched_cot(&mut *p.ch, &choice, d3, &lens, opts, &mut out)?;
        } else {
            buf.clear();
            buf.reserve(n * d3);
            for t in s..e {
                let j = (t / blk) as u32;
                let k = ((t % blk) as usize) % d2;
                let m = mask(l - j);
                buf.extend(cols[k * d3..(k + 1) * d3].iter().map(|v| v & m));
            }
            p.ot.iknp_send
                .send_batched_cot(&mut *p.ch, &buf, d3, &lens, opts, &mut out)?;
        }
        for (q, t) in (s..e).enumerate() {
            let j = (t / blk) as u32;
            let i = ((t % blk) as usize) / d2;
            let mut wt = 1u64 << j;
            if j == lp.lw - 1 {
                wt = wt.wrapping_neg();
            }
            if !alice {
                wt = wt.wrapping_neg();
            }
            let row = &mut y[i * d3..(i + 1) * d3];
            for (a, b) in row.iter_mut().zip(&out[q * d3..(q + 1) * d3]) {
                *a = a.wrapping_add(wt.wrapping_mul(*b));
            }
        }
        s = e;
    }
    for v in y.iter_mut() {
        *v &= ml;
    }
    Ok(y)
}

fn run_decomp_x(
    p: &mut Party,
    lp: &LinearParams,
    l: u32,
    w: &[i64],
    x: &[u64],
) -> ProtoResult<Vec<u64>> {
    let alice = p.is_alice();
    let ml = mask(l);
    let lx = lp.lx;
    let mx = mask(lx);
    let (d1, d2, d3) = (lp.d1, lp.d2, lp.d3);
    let clear = lp.input.clear();
    let signed = !lp.input.nonneg();
    let off = if signed { 1u64 << (lx - 1) } else { 0 };
    // the offset holder: the server, or the client when it holds X in clear
    let holder = alice != clear;
    let imax = lx.min(l);
    let wrap_ot = !clear && l > lx;
    // XOR wrap shares for signed shared X (Mill on the tensor before im2col)
    let wbits: Option<Vec<u64>> = if wrap_ot && signed {
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
    let ne = d2 * d3;
    // server's bit u (local term W·u) and factor f; client's choice bit c, per element
    let (ubits, fvals, cbits): (Vec<u64>, Vec<u64>, Vec<u8>) = if !wrap_ot {
        (Vec::new(), Vec::new(), Vec::new())
    } else if alice {
        match &wbits {
            Some(wb) => (
                wb.clone(),
                wb.iter().map(|&b| 1u64.wrapping_sub(2 * b)).collect(),
                Vec::new(),
            ),
            None => {
                let a: Vec<u64> = cols.iter().map(|v| (v >> (lx - 1)) & 1).collect();
                let f = a.iter().map(|&a| 1 - a).collect();
                (a, f, Vec::new())
            }
        }
    } else {
        let c = match &wbits {
            Some(wb) => wb.iter().map(|&b| b as u8).collect(),
            None => cols.iter().map(|v| ((v >> (lx - 1)) & 1) as u8).collect(),
        };
        (Vec::new(), Vec::new(), c)
    };
    // local terms (server)
    let mut y = vec![0u64; d1 * d3];
    if alice {
        if !clear {
            y = matmul_i64_u64(w, &cols, d1, d2, d3);
        }
        if off != 0 {
            for i in 0..d1 {
                let rs: u64 = w[i * d2..(i + 1) * d2]
                    .iter()
                    .fold(0u64, |a, &b| a.wrapping_add(b as u64));
                let corr = rs.wrapping_mul(off);
                for v in &mut y[i * d3..(i + 1) * d3] {
                    *v = v.wrapping_sub(corr);
                }
            }
        }
        if wrap_ot {
            let wu = matmul_i64_u64(w, &ubits, d1, d2, d3);
            for (a, b) in y.iter_mut().zip(&wu) {
                *a = a.wrapping_sub(b << lx);
            }
        }
    }
    // W columns (d2 × d1) for the server's correlations
    let wt_cols: Vec<u64> = if alice {
        let mut v = vec![0u64; d2 * d1];
        for i in 0..d1 {
            for k in 0..d2 {
                v[k * d1 + i] = w[i * d2 + k] as u64;
            }
        }
        v
    } else {
        Vec::new()
    };
    let nt = imax + wrap_ot as u32;
    let blk = ne as u64;
    let pc = per_call(d1);
    let opts = p.opts();
    let total = nt as u64 * blk;
    let len_of = |t: u32| if t < imax { l - t } else { l - lx };
    let mut s = 0u64;
    let mut buf: Vec<u64> = Vec::new();
    let mut out: Vec<u64> = Vec::new();
    let mut lens: Vec<u32> = Vec::new();
    let mut choice: Vec<u8> = Vec::new();
    while s < total {
        let e = (s + pc).min(total);
        let n = (e - s) as usize;
        lens.clear();
        lens.extend((s..e).map(|t| len_of((t / blk) as u32)));
        out.clear();
        out.resize(n * d1, 0);
        if alice {
            buf.clear();
            buf.reserve(n * d1);
            for t in s..e {
                let tt = (t / blk) as u32;
                let el = (t % blk) as usize;
                let k = el / d3;
                let m = mask(len_of(tt));
                let col = &wt_cols[k * d1..(k + 1) * d1];
                if tt < imax {
                    buf.extend(col.iter().map(|v| v & m));
                } else {
                    let f = fvals[el];
                    buf.extend(col.iter().map(|v| v.wrapping_mul(f) & m));
                }
            }
            p.ot.iknp_send
                .send_batched_cot(&mut *p.ch, &buf, d1, &lens, opts, &mut out)?;
        } else {
            choice.clear();
            choice.extend((s..e).map(|t| {
                let tt = (t / blk) as u32;
                let el = (t % blk) as usize;
                if tt < imax {
                    ((cols[el] >> tt) & 1) as u8
                } else {
                    cbits[el]
                }
            }));
            p.ot.iknp_recv
                .recv_batched_cot(&mut *p.ch, &choice, d1, &lens, opts, &mut out)?;
        }
        for (q, t) in (s..e).enumerate() {
            let tt = (t / blk) as u32;
            let el = (t % blk) as usize;
            let col = el % d3;
            let mut wt = if tt < imax {
                1u64 << tt
            } else {
                (1u64 << lx).wrapping_neg()
            };
            if alice {
                wt = wt.wrapping_neg();
            }
            for (i, v) in out[q * d1..(q + 1) * d1].iter().enumerate() {
                let a = &mut y[i * d3 + col];
                *a = a.wrapping_add(wt.wrapping_mul(*v));
            }
        }
        s = e;
    }
    for v in y.iter_mut() {
        *v &= ml;
    }
    Ok(y)
}
