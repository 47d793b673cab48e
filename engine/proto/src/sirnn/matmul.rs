//! Π_MatMul: mixed bit-width matrix multiplication by OT (SiRNN, Rathee et al., IEEE S&P 2021),
//! as SCI's `LinearOT::matrix_multiplication` (EzPC `SCI/src/LinearOT/linear-ot.cpp`) runs it.
//!
//! Signed, accumulate on: C = (A·B) >> e in bwC bits, e = ⌈log2 d2⌉, A (d1×d2, bwA bits), B
//! (d2×d3, bwB bits), accumulator L = bwC + e.
//!
//! What it sends, in order (`docs/sci-protocols.md` §Matmul, §Matmul cross-term batching):
//! 1. extension of the "sender" operand S by e bits: local when S is public to ALICE
//!    (`AliceHasA`), otherwise s_extend (`AliceHasB`: A; `None`: the operand with the larger SCI
//!    `extension_cost`);
//! 2. cross terms: the other operand R is bit-decomposed; bit i of a party's R share is the
//!    choice of one batched COT carrying `msgs` messages of L − i bits (the peer's S share),
//!    batched by SCI's MAX_NUM_OT = 2^24 single-precision rule, each batch its own IKNP call;
//!    `AliceHasA`: ALICE sends (R = B, msgs = d1); `AliceHasB`: BOB sends (R = B, ALICE's
//!    plaintext weight bits choose, msgs = d1); `None`: both directions, R chosen by SCI's
//!    `cross_term_cost`;
//! 3. local terms (no traffic);
//! 4. wrap correction for each secret operand X with L > bw(X): Wrap(X) by Π_Mill, then a
//!    batched chosen-message OT carrying both messages (SCI `matmul_multiplexer`) of L − bw(X)
//!    bits, one direction when the other operand is public to ALICE, both in `None` mode;
//! 5. Π_TR by e to bwC bits.
//!
//! Implementation note: in the `sirnn` profile a batch larger than 2^24/msgs OTs is sent as
//! several IKNP calls whose sizes keep SCI's padding exact (every call but the last a multiple
//! of 16384, none ≤ 16384), to bound memory; the bytes are SCI's, the flights are more than
//! the cost's round count. `None` mode runs its two directions one after the other.

use crate::party::Party;
use crate::sirnn::{extension, tr, wrap};
use crate::util::clog2;
use crate::{Cost, Profile, Role};
use crate::{ProtoResult, ot_calls};
use pq_kernels::ct;
use pq_kernels::ring::mask;

/// Which operand is ALICE's plaintext.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum MultMode {
    /// A (the filter of a conv) is ALICE's plaintext; BOB's A share is ignored.
    AliceHasA,
    /// B (the weights of an FC layer) is ALICE's plaintext; BOB's B share is ignored.
    AliceHasB,
    /// Both operands are secret shared.
    None,
}

impl std::str::FromStr for MultMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "alice-has-a" => Ok(MultMode::AliceHasA),
            "alice-has-b" => Ok(MultMode::AliceHasB),
            "none" => Ok(MultMode::None),
            _ => Err(format!(
                "unknown mode '{s}' (accepted: alice-has-a, alice-has-b, none)"
            )),
        }
    }
}

/// Shape and widths of one matmul.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulParams {
    /// Rows of A and C.
    pub d1: usize,
    /// The reduction length: columns of A, rows of B (e = ⌈log2 d2⌉ guard bits).
    pub d2: usize,
    /// Columns of B and C.
    pub d3: usize,
    /// Bit-width of A (signed).
    pub bwa: u32,
    /// Bit-width of B (signed).
    pub bwb: u32,
    /// Bit-width of the output C = (A·B) >> e; max(bwa, bwb) ≤ bwc ≤ bwa + bwb and
    /// bwc + e ≤ 64.
    pub bwc: u32,
    /// Which operand, if any, is ALICE's plaintext.
    pub mode: MultMode,
}

/// SCI's MAX_NUM_OT.
const MAX_NUM_OT: i32 = 1 << 24;

/// Which side SCI extends and batches for given parameters (shared by `cost` and `run`).
#[derive(Clone, Copy, Debug)]
struct Sides {
    e: u32,
    sender_a: bool,
    bwa: u32,
    bwb: u32,
    l: u32,
    /// R = A (row batching) instead of R = B.
    r_is_a: bool,
    straight: bool,
    reversed: bool,
}

fn extension_cost(d1: usize, d2: usize, m: u32, n: u32) -> u64 {
    // SCI's model (no MSB): dim1·dim2·(2·128 − m + n + 2), evaluated in double
    ((d1 as i32).wrapping_mul(d2 as i32) as f64 * (128.0 * 2.0 - m as f64 + n as f64 + 2.0)) as u64
}

fn cross_term_cost(d1: usize, d2: usize, d3: usize, m: u32, l: u32) -> f64 {
    let (m, l) = (m as f64, l as f64);
    (d1 as i32).wrapping_mul(d2 as i32) as f64
        * (m * 128.0 + d3 as f64 * (m * (l - m) + (m * m + m) / 2.0))
}

impl MatmulParams {
    /// Validate (SCI: bwC ≤ bwA + bwB, bwC ≥ bwA, bwB, bwC + e ≤ 64).
    pub fn check(&self) -> ProtoResult<()> {
        crate::check_bw("bwa", self.bwa)?;
        crate::check_bw("bwb", self.bwb)?;
        crate::check_bw("bwc", self.bwc)?;
        for (n, v) in [("d1", self.d1), ("d2", self.d2), ("d3", self.d3)] {
            if v == 0 || v > (1 << 30) {
                return Err(crate::param(
                    n,
                    format!("dimension {v} is out of range (accepted: 1..=2^30)"),
                ));
            }
        }
        if self.bwc > self.bwa + self.bwb || self.bwc < self.bwa || self.bwc < self.bwb {
            return Err(crate::param(
                "bwc",
                format!("needs max(bwa, bwb) <= bwc <= bwa + bwb, got {}", self.bwc),
            ));
        }
        let e = clog2(self.d2 as u64);
        if self.bwc + e > 64 {
            return Err(crate::param(
                "bwc",
                format!("bwc + ceil(log2 d2) = {} exceeds 64", self.bwc + e),
            ));
        }
        Ok(())
    }

    fn sides(&self) -> Sides {
        let e = clog2(self.d2 as u64);
        let sender_a = match self.mode {
            MultMode::AliceHasA | MultMode::AliceHasB => true,
            MultMode::None => {
                extension_cost(self.d1, self.d2, self.bwa, self.bwa + e)
                    > extension_cost(self.d2, self.d3, self.bwb, self.bwb + e)
            }
        };
        let (bwa, bwb) = if sender_a {
            (self.bwa + e, self.bwb)
        } else {
            (self.bwa, self.bwb + e)
        };
        let l = self.bwc + e;
        let (r_is_a, straight, reversed) = match self.mode {
            MultMode::AliceHasA => (false, true, false),
            MultMode::AliceHasB => (false, false, true),
            MultMode::None => {
                let ca = cross_term_cost(self.d1, self.d2, self.d3, bwa, l);
                let cb = cross_term_cost(self.d3, self.d2, self.d1, bwb, l);
                let rb = !matches!(ca.partial_cmp(&cb), Some(std::cmp::Ordering::Greater));
                (rb, true, true)
            }
        };
        Sides {
            e,
            sender_a,
            bwa,
            bwb,
            l,
            r_is_a,
            straight,
            reversed,
        }
    }
}

/// The cross-term batches: (number of OTs, list of (count, msg length)) per IKNP call.
fn cross_batches(dim: usize, bw_r: u32, msgs: usize, l: u32) -> Vec<(u32, u32)> {
    // SCI: max_num_ot = ceil(float(2^24) / float(dim·msgs)) · dim (int32 arithmetic)
    let prod = (dim as i32).wrapping_mul(msgs as i32);
    let k = (MAX_NUM_OT as f32 / prod as f32).ceil() as i32;
    let bits_per_batch = (k.max(1) as u32).min(bw_r);
    let mut v = Vec::new();
    let mut b = 0;
    while b < bw_r {
        let e = (b + bits_per_batch).min(bw_r);
        v.push((b, e));
        b = e;
    }
    let _ = l;
    v
}

/// Cost of one matmul.
pub fn cost(mp: &MatmulParams, pr: Profile) -> Cost {
    let pl = mp.sides();
    let (d1, d2, d3) = (mp.d1 as u64, mp.d2 as u64, mp.d3 as u64);
    let mut c = Cost::ZERO;
    // 1. extension
    if pl.e > 0 {
        if pl.sender_a && mp.mode != MultMode::AliceHasA {
            c = c.then(extension::cost(d1 * d2, mp.bwa, mp.bwa + pl.e, false, pr));
        } else if !pl.sender_a {
            c = c.then(extension::cost(d2 * d3, mp.bwb, mp.bwb + pl.e, false, pr));
        }
    }
    // 2. cross terms
    let (dim, bw_r, msgs) = if pl.r_is_a {
        (d1 * d2, pl.bwa, d3)
    } else {
        (d2 * d3, pl.bwb, d1)
    };
    for (b0, b1) in cross_batches(dim as usize, bw_r, msgs as usize, pl.l) {
        let groups: Vec<(u64, u32)> = (b0..b1).map(|i| (dim, pl.l - i)).collect();
        let s = if pl.straight {
            ot_calls::batched_cot(Role::Server, &groups, msgs, pr)
        } else {
            Cost::ZERO
        };
        let r = if pl.reversed {
            ot_calls::batched_cot(Role::Client, &groups, msgs, pr)
        } else {
            Cost::ZERO
        };
        c = c.then(s.par(r));
    }
    // 4. wrap corrections
    if pl.l > pl.bwa && mp.mode != MultMode::AliceHasA {
        c = c.then(wrap::cost(d1 * d2, pl.bwa, pr));
        let s = ot_calls::batched_got(Role::Server, d1 * d2, d3, pl.l - pl.bwa, pr);
        let r = if mp.mode == MultMode::None {
            ot_calls::batched_got(Role::Client, d1 * d2, d3, pl.l - pl.bwa, pr)
        } else {
            Cost::ZERO
        };
        c = c.then(s.par(r));
    }
    if pl.l > pl.bwb && mp.mode != MultMode::AliceHasB {
        c = c.then(wrap::cost(d2 * d3, pl.bwb, pr));
        let s = ot_calls::batched_got(Role::Server, d2 * d3, d1, pl.l - pl.bwb, pr);
        let r = if mp.mode == MultMode::None {
            ot_calls::batched_got(Role::Client, d2 * d3, d1, pl.l - pl.bwb, pr)
        } else {
            Cost::ZERO
        };
        c = c.then(s.par(r));
    }
    // 5. TR
    c.then(tr::cost(d1 * d3, pl.l, pl.e, pr))
}

/// Plaintext reference: floor(A·B / 2^e) reduced to bwC bits (A, B signed).
pub fn reference(mp: &MatmulParams, a: &[i64], b: &[i64]) -> Vec<u64> {
    let e = clog2(mp.d2 as u64);
    let mut out = vec![0u64; mp.d1 * mp.d3];
    for r in 0..mp.d1 {
        for c in 0..mp.d3 {
            let mut s: i128 = 0;
            for h in 0..mp.d2 {
                s += a[r * mp.d2 + h] as i128 * b[h * mp.d3 + c] as i128;
            }
            out[r * mp.d3 + c] = ((s >> e) as u64) & mask(mp.bwc);
        }
    }
    out
}

/// Split `n` OTs into IKNP calls that keep SCI's padding exact (see the module doc).
fn chunks(n: usize, msgs: usize, pr: Profile) -> Vec<(usize, usize)> {
    if !pr.sci_padding() || n <= 16384 {
        return vec![(0, n)];
    }
    let per = ((1usize << 24) / msgs.max(1) / 16384).max(2) * 16384;
    let mut v = Vec::new();
    let mut s = 0;
    while s < n {
        let mut e = (s + per).min(n);
        if n - e <= 16384 {
            e = n;
        }
        v.push((s, e));
        s = e;
    }
    v
}

/// Where R element `el` takes its S row and puts its output row: R = B elements are (h, c)
/// with S row h (of Aᵀ) and output row c (of Cᵀ); R = A elements are (r, h) with S row h (of
/// B) and output row r (of C).
#[derive(Clone, Copy)]
struct Layout {
    /// R elements are (outer, inner) = el / div, el % div
    div: usize,
    /// S row is el / div (true) or el % div (false)
    s_is_outer: bool,
}

impl Layout {
    #[inline(always)]
    fn rows(&self, el: usize) -> (usize, usize) {
        let (o, i) = (el / self.div, el % self.div);
        if self.s_is_outer { (o, i) } else { (i, o) }
    }
}

/// One direction's S side: the S share matrix (`msgs` values per row, rows found through
/// `lay`) and the accumulator rows the products are added into (mod 2^L).
struct Sink<'a> {
    s_mat: &'a [u64],
    msgs: usize,
    lay: Layout,
    acc: &'a mut [u64],
}

/// Cross terms in one direction. `sender`: this party sends the COTs (its S share rows from
/// `sink.s_mat`), otherwise its R share bits are the choices. Accumulates `±v << i` into
/// `sink.acc` rows (mod 2^L).
fn cross_dir(
    p: &mut Party,
    sender: bool,
    dim: usize,
    bw_r: u32,
    l: u32,
    r_share: &[u64],
    sink: &mut Sink<'_>,
) -> ProtoResult<()> {
    let (msgs, lay) = (sink.msgs, sink.lay);
    let s_mat = sink.s_mat;
    let acc = &mut *sink.acc;
    let opts = p.opts();
    let pr = p.profile;
    let mut buf = Vec::new();
    let mut corr = Vec::new();
    let mut t_ot = std::time::Duration::ZERO;
    let t_all = std::time::Instant::now();
    for (b0, b1) in cross_batches(dim, bw_r, msgs, l) {
        let n = (b1 - b0) as usize * dim;
        for (c0, c1) in chunks(n, msgs, pr) {
            let cnt = c1 - c0;
            let lens: Vec<u32> = (c0..c1).map(|g| l - (b0 + (g / dim) as u32)).collect();
            buf.clear();
            buf.resize(cnt * msgs, 0u64);
            if sender {
                corr.clear();
                corr.resize(cnt * msgs, 0u64);
                for (t, g) in (c0..c1).enumerate() {
                    let i = b0 + (g / dim) as u32;
                    let (sr, _) = lay.rows(g % dim);
                    let m = mask(l - i);
                    let src = &s_mat[sr * msgs..(sr + 1) * msgs];
                    for (v, &s) in corr[t * msgs..(t + 1) * msgs].iter_mut().zip(src) {
                        *v = s & m;
                    }
                }
                let t = std::time::Instant::now();
                p.ot.iknp_send
                    .send_batched_cot(&mut *p.ch, &corr, msgs, &lens, opts, &mut buf)?;
                t_ot += t.elapsed();
            } else {
                let ch: Vec<u8> = (c0..c1)
                    .map(|g| {
                        let i = b0 + (g / dim) as u32;
                        ((r_share[g % dim] >> i) & 1) as u8
                    })
                    .collect();
                let t = std::time::Instant::now();
                p.ot.iknp_recv
                    .recv_batched_cot(&mut *p.ch, &ch, msgs, &lens, opts, &mut buf)?;
                t_ot += t.elapsed();
            }
            for (t, g) in (c0..c1).enumerate() {
                let i = b0 + (g / dim) as u32;
                let (_, orow) = lay.rows(g % dim);
                let dst = &mut acc[orow * msgs..(orow + 1) * msgs];
                let src = &buf[t * msgs..(t + 1) * msgs];
                if sender {
                    for (d, &v) in dst.iter_mut().zip(src) {
                        *d = d.wrapping_sub(v << i);
                    }
                } else {
                    for (d, &v) in dst.iter_mut().zip(src) {
                        *d = d.wrapping_add(v << i);
                    }
                }
            }
        }
    }
    if std::env::var_os("PQ_PROTO_TIMING").is_some() {
        eprintln!(
            "[{}] cross_dir: total {:.2}s, in OT calls {:.2}s",
            if sender { "S" } else { "R" },
            t_all.elapsed().as_secs_f64(),
            t_ot.as_secs_f64()
        );
    }
    Ok(())
}

/// Wrap-MUX in one direction (SCI `matmul_multiplexer`): shares of w·s with w an XOR-shared
/// bit per R element and s the sender's S share row (from `sink`); both messages sent.
fn mux_dir(p: &mut Party, sender: bool, w: &[u8], bw: u32, sink: &mut Sink<'_>) -> ProtoResult<()> {
    let (msgs, lay) = (sink.msgs, sink.lay);
    let s_mat = sink.s_mat;
    let acc = &mut *sink.acc;
    let dim = w.len();
    let opts = p.opts();
    let pr = p.profile;
    let m = mask(bw);
    let (mut buf, mut m0, mut m1) = (Vec::new(), Vec::new(), Vec::new());
    for (c0, c1) in chunks(dim, msgs, pr) {
        let cnt = c1 - c0;
        buf.clear();
        buf.resize(cnt * msgs, 0u64);
        if sender {
            p.prg.fill_bytes(bytemuck::cast_slice_mut(&mut buf[..]));
            m0.clear();
            m0.resize(cnt * msgs, 0u64);
            m1.clear();
            m1.resize(cnt * msgs, 0u64);
            for (t, el) in (c0..c1).enumerate() {
                let (sr, _) = lay.rows(el);
                let src = &s_mat[sr * msgs..(sr + 1) * msgs];
                let r = &buf[t * msgs..(t + 1) * msgs];
                let (x0, x1) = (
                    &mut m0[t * msgs..(t + 1) * msgs],
                    &mut m1[t * msgs..(t + 1) * msgs],
                );
                // w[el] is a secret share bit: mask, do not branch.
                let wm = ct::mask(w[el]);
                for k in 0..msgs {
                    x0[k] = r[k].wrapping_add(src[k] & wm) & m;
                    x1[k] = r[k].wrapping_add(src[k] & !wm) & m;
                }
            }
            p.ot.iknp_send
                .send_batched_got(&mut *p.ch, &m0, &m1, msgs, bw, opts)?;
        } else {
            let ch: Vec<u8> = w[c0..c1].iter().map(|b| b & 1).collect();
            p.ot.iknp_recv
                .recv_batched_got(&mut *p.ch, &ch, msgs, bw, opts, &mut buf)?;
        }
        for (t, el) in (c0..c1).enumerate() {
            let (_, orow) = lay.rows(el);
            let dst = &mut acc[orow * msgs..(orow + 1) * msgs];
            let src = &buf[t * msgs..(t + 1) * msgs];
            if sender {
                for (d, &v) in dst.iter_mut().zip(src) {
                    *d = d.wrapping_sub(v);
                }
            } else {
                for (d, &v) in dst.iter_mut().zip(src) {
                    *d = d.wrapping_add(v);
                }
            }
        }
    }
    Ok(())
}

/// Transpose a rows × cols row-major matrix.
fn transpose(m: &[u64], rows: usize, cols: usize) -> Vec<u64> {
    let mut t = vec![0u64; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = m[r * cols + c];
        }
    }
    t
}

/// The matmul. `a` (d1×d2) and `b` (d2×d3) are this party's shares (row-major, bwA / bwB
/// bits); in `AliceHasA` ALICE's `a` is the plaintext A (two's complement in bwA bits) and
/// BOB's `a` is ignored (pass an empty slice); likewise `b` in `AliceHasB`. Returns shares of
/// (A·B) >> e in bwC bits (d1×d3, row-major).
pub fn run(p: &mut Party, mp: &MatmulParams, a: &[u64], b: &[u64]) -> ProtoResult<Vec<u64>> {
    run_biased(p, mp, a, b, &[])
}

/// [`run`] with a bias: shares of (A·B + bias) >> e in bwC bits. `bias` (d1×d3, row-major,
/// two's complement mod 2^64) is ALICE's plaintext, added to her share of the accumulator
/// before the final Π_TR, so it costs nothing; BOB passes an empty slice, and so does ALICE
/// for no bias. The caller makes sure A·B + bias fits the accumulator (bwC + e bits).
pub fn run_biased(
    p: &mut Party,
    mp: &MatmulParams,
    a: &[u64],
    b: &[u64],
    bias: &[u64],
) -> ProtoResult<Vec<u64>> {
    mp.check()?;
    if !bias.is_empty() && (!p.is_alice() || bias.len() != mp.d1 * mp.d3) {
        return Err(crate::param(
            "bias",
            format!(
                "{} values, expected {} (ALICE) or none",
                bias.len(),
                mp.d1 * mp.d3
            ),
        ));
    }
    let pl = mp.sides();
    let (d1, d2, d3) = (mp.d1, mp.d2, mp.d3);
    let alice = p.is_alice();
    let a_pub = mp.mode == MultMode::AliceHasA;
    let b_pub = mp.mode == MultMode::AliceHasB;
    let zeros_a;
    let a: &[u64] = if a_pub && !alice {
        zeros_a = vec![0u64; d1 * d2];
        &zeros_a
    } else {
        a
    };
    let zeros_b;
    let b: &[u64] = if b_pub && !alice {
        zeros_b = vec![0u64; d2 * d3];
        &zeros_b
    } else {
        b
    };
    if a.len() != d1 * d2 {
        return Err(crate::param(
            "a",
            format!("A must have d1·d2 = {} elements", d1 * d2),
        ));
    }
    if b.len() != d2 * d3 {
        return Err(crate::param(
            "b",
            format!("B must have d2·d3 = {} elements", d2 * d3),
        ));
    }
    let l = pl.l;
    let ml = mask(l);
    let t0 = std::time::Instant::now();
    let tm = |what: &str| {
        if std::env::var_os("PQ_PROTO_TIMING").is_some() {
            eprintln!(
                "[{}] {what}: {:.2}s",
                if alice { "A" } else { "B" },
                t0.elapsed().as_secs_f64()
            );
        }
    };
    // 1. extension + offsets to unsigned
    let sext_local = |v: u64, from: u32, to: u32| -> u64 {
        let s = pq_kernels::ring::to_signed(v & mask(from), from);
        (s as u64) & mask(to)
    };
    let mut ta: Vec<u64>;
    let mut tb: Vec<u64>;
    if pl.sender_a {
        ta = if a_pub {
            a.iter()
                .map(|&v| {
                    if alice {
                        sext_local(v, mp.bwa, pl.bwa)
                    } else {
                        0
                    }
                })
                .collect()
        } else {
            extension::s_extend(p, a, mp.bwa, pl.bwa, None)?
        };
        tb = b.iter().map(|&v| v & mask(mp.bwb)).collect();
    } else {
        tb = extension::s_extend(p, b, mp.bwb, pl.bwb, None)?;
        ta = a.iter().map(|&v| v & mask(mp.bwa)).collect();
    }
    let (ha, hb) = (1u64 << (pl.bwa - 1), 1u64 << (pl.bwb - 1));
    let (ma, mb) = (mask(pl.bwa), mask(pl.bwb));
    let add_a = if a_pub { alice } else { !alice };
    let add_b = if b_pub { alice } else { !alice };
    for v in ta.iter_mut() {
        *v = if add_a {
            v.wrapping_add(ha) & ma
        } else {
            *v & ma
        };
    }
    for v in tb.iter_mut() {
        *v = if add_b {
            v.wrapping_add(hb) & mb
        } else {
            *v & mb
        };
    }
    // 2. cross terms
    let mut acc_t = vec![0u64; d1 * d3]; // C^T (d3 × d1) when R = B, C (d1 × d3) when R = A
    {
        let (dim, bw_r, msgs) = if pl.r_is_a {
            (d1 * d2, pl.bwa, d3)
        } else {
            (d2 * d3, pl.bwb, d1)
        };
        let (r_share, s_share): (&[u64], &[u64]) = if pl.r_is_a { (&ta, &tb) } else { (&tb, &ta) };
        let lay = if pl.r_is_a {
            Layout {
                div: d2,
                s_is_outer: false,
            }
        } else {
            Layout {
                div: d3,
                s_is_outer: true,
            }
        };
        let s_t;
        let s_mat: &[u64] = if pl.r_is_a {
            s_share
        } else {
            s_t = transpose(s_share, d1, d2);
            &s_t
        };
        // straight: ALICE sends; reversed: BOB sends
        let mut sink = Sink {
            s_mat,
            msgs,
            lay,
            acc: &mut acc_t,
        };
        if pl.straight {
            cross_dir(p, alice, dim, bw_r, l, r_share, &mut sink)?;
        }
        if pl.reversed {
            cross_dir(p, !alice, dim, bw_r, l, r_share, &mut sink)?;
        }
    }
    tm("cross");
    let mut c: Vec<u64> = if pl.r_is_a {
        acc_t
    } else {
        let mut c = vec![0u64; d1 * d3];
        for col in 0..d3 {
            for r in 0..d1 {
                c[r * d3 + col] = acc_t[col * d1 + r];
            }
        }
        c
    };
    // 3. local terms (every term, zero or not: skipping zero weights would let the time
    // reveal the weights' sparsity; SCI skips them)
    let local = mp.mode == MultMode::None || alice;
    if local {
        for r in 0..d1 {
            let crow = &mut c[r * d3..(r + 1) * d3];
            for h in 0..d2 {
                let av = ta[r * d2 + h];
                let brow = &tb[h * d3..(h + 1) * d3];
                for (cv, &bv) in crow.iter_mut().zip(brow) {
                    *cv = cv.wrapping_add(av.wrapping_mul(bv));
                }
            }
        }
    }
    tm("local");
    // 4. wrap corrections
    let mut wa = vec![0u8; d1 * d2];
    let mut wb = vec![0u8; d2 * d3];
    if l > pl.bwa && !a_pub {
        wa = wrap::run(p, &ta, pl.bwa)?;
        let mut acc = vec![0u64; d1 * d3];
        let lay = Layout {
            div: d2,
            s_is_outer: false,
        };
        let mut sink = Sink {
            s_mat: &tb,
            msgs: d3,
            lay,
            acc: &mut acc,
        };
        mux_dir(p, alice, &wa, l - pl.bwa, &mut sink)?;
        if mp.mode == MultMode::None {
            mux_dir(p, !alice, &wa, l - pl.bwa, &mut sink)?;
        }
        for (cv, av) in c.iter_mut().zip(&acc) {
            *cv = cv.wrapping_sub(av << pl.bwa);
        }
    }
    if l > pl.bwb && !b_pub {
        wb = wrap::run(p, &tb, pl.bwb)?;
        let mut acc = vec![0u64; d3 * d1];
        let lay = Layout {
            div: d3,
            s_is_outer: true,
        };
        let ta_t = transpose(&ta, d1, d2);
        let mut sink = Sink {
            s_mat: &ta_t,
            msgs: d1,
            lay,
            acc: &mut acc,
        };
        mux_dir(p, alice, &wb, l - pl.bwb, &mut sink)?;
        if mp.mode == MultMode::None {
            mux_dir(p, !alice, &wb, l - pl.bwb, &mut sink)?;
        }
        for r in 0..d1 {
            for col in 0..d3 {
                let i = r * d3 + col;
                c[i] = c[i].wrapping_sub(acc[col * d1 + r] << pl.bwb);
            }
        }
    }
    tm("wrap+mux");
    // signed correction: − 2^(a−1)·Σ_h (tB − 2^b·wB) − 2^(b−1)·Σ_h (tA − 2^a·wA) (+ d2·2^(a+b−2) at BOB)
    let colsum: Vec<u64> = (0..d3)
        .map(|col| {
            (0..d2).fold(0u64, |s, h| {
                s.wrapping_add(tb[h * d3 + col])
                    .wrapping_sub((wb[h * d3 + col] as u64) << pl.bwb)
            })
        })
        .collect();
    let rowsum: Vec<u64> = (0..d1)
        .map(|r| {
            (0..d2).fold(0u64, |s, h| {
                s.wrapping_add(ta[r * d2 + h])
                    .wrapping_sub((wa[r * d2 + h] as u64) << pl.bwa)
            })
        })
        .collect();
    let bob_const = if alice {
        0
    } else {
        (d2 as u64).wrapping_mul(ha.wrapping_mul(hb))
    };
    for (crow, &rs) in c.chunks_mut(d3).zip(&rowsum) {
        let k = bob_const.wrapping_sub(hb.wrapping_mul(rs));
        for (cv, &cs) in crow.iter_mut().zip(&colsum) {
            *cv = cv.wrapping_sub(ha.wrapping_mul(cs)).wrapping_add(k) & ml;
        }
    }
    for (cv, &bv) in c.iter_mut().zip(bias) {
        *cv = cv.wrapping_add(bv) & ml;
    }
    // 5. TR by e
    let r = tr::run(p, &c, l, pl.e);
    tm("tr");
    r
}
