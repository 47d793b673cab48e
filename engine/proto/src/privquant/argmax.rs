//! Π_Argmax: the position of the maximum of each of `batch` additively shared vectors of `k`
//! signed l-bit values, ties going to the lowest position, revealed to one party only
//! ([`run`]) or kept as additive shares ([`run_shared`]). Plaintext meaning: [`reference()`].
//!
//! # Construction
//!
//! A tournament over (value, index) pairs. At every level the candidates of a vector are
//! paired neighbour with neighbour (the left one holds the lower indices) and an odd last
//! candidate goes up unchanged; a level is one batch over every pair of every vector, so the
//! depth is ⌈log2 k⌉ levels. For a pair, c = 1{right > left} is strict, so a tie keeps the
//! left candidate and the lowest index wins overall. The winner is selected without branching on
//! anything secret: value' = left + c·(right − left), index' = left_idx + c·(right_idx −
//! left_idx), both products by the multiplexer of SiRNN (Rathee et al., IEEE S&P 2021).
//! Indices live in Z_2^b, b = max(1, ⌈log2 k⌉) ([`ArgmaxParams::index_bits`]); they start
//! public (ALICE holds j, BOB 0), and each winner equals one of its two inputs, so nothing
//! wraps there.
//!
//! The comparison works where the difference cannot wrap:
//! * l < 64: all inputs are first sign-extended to l + 1 bits (SiRNN's Π_Ext, which rests on
//!   the millionaires' comparison of CrypTFlow2, Rathee et al., CCS 2020); in l + 1 bits
//!   d = left − right is exact and c = MSB(d) (Π_MSB on l + 1 bits). Winners are selected in
//!   l + 1 bits, so they stay extended and the extension is paid once per input.
//! * l = 64: there is no wider ring. With d = left − right mod 2^64 and the signs s_l, s_r:
//!   equal signs cannot overflow, so c = MSB(d); different signs make the negative one the
//!   smaller, so c = s_l. Together c = MSB(d) ⊕ ((s_l ⊕ s_r) ∧ (MSB(d) ⊕ s_l)), one AND. The
//!   inputs' signs come from the first level's Π_MSB call (one batch with the differences),
//!   and the winner's sign is s_l ∧ s_r (the larger one is negative only if both are),
//!   computed in the same Π_AND call as the correction.
//!
//! Value and index share their selector c, so each direction of the multiplexer is ONE
//! batched correlated OT carrying two messages of w = max(value width, b) bits (correlation
//! x_i·(1 − 2c_i), the peer's share of c the choice), in place of two Π_MUX calls. At the
//! last level only the index is needed: Π_MUX on b bits.
//!
//! # What it sends
//!
//! Let n = batch·k, m_0 = k, m_{t+1} = ⌈m_t / 2⌉, and P_t = batch·⌊m_t / 2⌋ the pairs of level
//! t = 0, 1, …, ⌈log2 k⌉ − 1 (one call per sub-protocol per level, over all P_t pairs); λ =
//! 128, lv = l + 1 for l < 64 and 64 for l = 64, w = max(lv, b). Nothing at all when k = 1 or
//! batch = 0 (every index is then 0, or there is none). In order:
//! * l < 64: Π_Ext(l → l + 1) on the n inputs, [`extension::cost`]: Mill(l) per input (its
//!   B2A to 1 bit is free). Then per level: Π_MSB on the P_t differences in l + 1 bits,
//!   [`msb::cost`]: Mill(l) each.
//! * l = 64: per level Π_MSB(64) = Mill(63) on the P_t differences, at level 0 on P_0 + n
//!   values (the inputs' signs ride along); then Π_AND ([`and::cost`]) on 2·P_t bit pairs, P_t
//!   at the last level, whose winner's sign is not needed.
//! * Per level, the multiplexer: before the last level one batched COT each way
//!   ([`ot_calls::batched_cot`]) of P_t OTs with two w-bit messages, λ + 2w bits per pair each
//!   way, one round trip; at the last level Π_MUX on b bits ([`mux::cost`]), λ + b bits per
//!   pair each way.
//! * [`run`] only: the party other than `reveal_to` sends its index shares, b bits each,
//!   packed: ⌈batch·b / 8⌉ bytes one way, one round.
//!
//! The sub-protocol costs include their padding (Π_Mill pads its batch to a multiple of 8;
//! the `sirnn` profile adds SCI's OT padding). [`cost_shared`] and [`cost`] add exactly these,
//! rounds by the convention of `docs/sci-protocols.md` §Round counts (the multiplexer's two
//! directions share one round trip). The channel counts one more flight per level than that:
//! each party sends its OT columns and then, once the peer's columns are in, its payload, as
//! [`mux`] does. Example (`privquant` profile): batch 1, k = 10, l = 16 sends 1,382 bytes
//! server → client and 9,445 bytes client → server in 25 rounds, revealed to the client.
//!
//! Security (semi-honest): every sub-protocol is secure against a semi-honest party and leaves
//! fresh XOR or additive shares, so nothing about the values is learnt before the reveal; the
//! reveal hands `reveal_to` the peer's index shares, from which it learns the indices and
//! nothing more. The other party receives nothing after the sub-protocols.

use crate::party::Party;
use crate::sirnn::{and, extension, msb, mux};
use crate::util::clog2;
use crate::{Cost, Profile, ProtoError, ProtoResult, Role, Shares, ot_calls, param};
use pq_kernels::ring::{mask, pack, packed_len, unpack};

/// The shape of one argmax call: `batch` vectors of `k` values of `l` bits, row-major.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgmaxParams {
    /// Number of vectors (may be 0).
    pub batch: usize,
    /// Values per vector (at least 1).
    pub k: usize,
    /// Bit-width of the values (1..=64), read as signed.
    pub l: u32,
}

impl ArgmaxParams {
    /// Check the parameters: k ≥ 1, l in 1..=64, batch·k representable.
    pub fn check(&self) -> ProtoResult<()> {
        crate::check_bw("l", self.l)?;
        if self.k == 0 {
            return Err(param("k", "a vector needs at least one value"));
        }
        if self.batch.checked_mul(self.k).is_none() {
            return Err(param("batch", "batch·k overflows usize"));
        }
        Ok(())
    }
    /// Number of input shares: batch·k.
    pub fn n(&self) -> usize {
        self.batch.saturating_mul(self.k)
    }
    /// Bit-width b of the index shares: max(1, ⌈log2 k⌉).
    pub fn index_bits(&self) -> u32 {
        clog2(self.k as u64).max(1)
    }
    /// Pairs per vector at each level of the tournament (empty for k = 1).
    fn pairs_per_level(&self) -> Vec<usize> {
        let mut m = self.k;
        let mut out = Vec::new();
        while m > 1 {
            out.push(m / 2);
            m = m.div_ceil(2);
        }
        out
    }
    /// Width of the compared values: l + 1 (extended) below 64 bits, 64 otherwise.
    fn value_bits(&self) -> u32 {
        if self.l < 64 { self.l + 1 } else { 64 }
    }
}

/// Cost of the two-message multiplexer on `pairs` selectors with `w`-bit messages: one
/// batched COT each way, both in the same round trip.
fn mux2_cost(pairs: u64, w: u32, pr: Profile) -> Cost {
    ot_calls::batched_cot(Role::Server, &[(pairs, w)], 2, pr).par(ot_calls::batched_cot(
        Role::Client,
        &[(pairs, w)],
        2,
        pr,
    ))
}

/// Cost of [`run_shared`]: the tournament without the reveal.
pub fn cost_shared(ap: &ArgmaxParams, pr: Profile) -> ProtoResult<Cost> {
    ap.check()?;
    if ap.k < 2 || ap.batch == 0 {
        return Ok(Cost::ZERO);
    }
    let (n, b, lv) = (ap.n() as u64, ap.index_bits(), ap.value_bits());
    let levels = ap.pairs_per_level();
    let mut c = if ap.l < 64 {
        extension::cost(n, ap.l, lv, false, pr)
    } else {
        Cost::ZERO
    };
    for (t, &per_row) in levels.iter().enumerate() {
        let pairs = (ap.batch * per_row) as u64;
        let last = t + 1 == levels.len();
        if ap.l < 64 {
            c = c.then(msb::cost(pairs, lv, pr));
        } else {
            let signs = if t == 0 { n } else { 0 };
            let ands = if last { pairs } else { 2 * pairs };
            c = c
                .then(msb::cost(pairs + signs, 64, pr))
                .then(and::cost(ands, pr));
        }
        c = c.then(if last {
            mux::cost(pairs, b, pr)
        } else {
            mux2_cost(pairs, lv.max(b), pr)
        });
    }
    Ok(c)
}

/// Cost of [`run`]: [`cost_shared`], then the reveal to `reveal_to` (⌈batch·b / 8⌉ bytes
/// from the other party, one round; nothing when k = 1 or batch = 0).
pub fn cost(ap: &ArgmaxParams, reveal_to: Role, pr: Profile) -> ProtoResult<Cost> {
    let c = cost_shared(ap, pr)?;
    if ap.k < 2 || ap.batch == 0 {
        return Ok(c);
    }
    let bytes = packed_len(ap.batch, ap.index_bits()) as u64;
    Ok(c.then(Cost::one_way(reveal_to.other(), bytes, 1)))
}

/// Plaintext reference: for each row of `k` values (`values.len()` a multiple of `k`), the
/// position of its maximum, the lowest position among equal maxima. Panics if `k` is 0 or
/// does not divide `values.len()` (it is the tests' oracle, not a protocol step).
pub fn reference(values: &[i64], k: usize) -> Vec<usize> {
    assert!(k >= 1, "k must be at least 1");
    assert!(
        values.len().is_multiple_of(k),
        "values.len() must be a multiple of k"
    );
    values
        .chunks_exact(k)
        .map(|row| {
            let mut best = 0;
            for (j, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = j;
                }
            }
            best
        })
        .collect()
}

/// Shares of sel·x for `msgs` values per selector (`x` is sel.len() × msgs, reduced to `w`
/// bits): the multiplexer with one batched COT per direction, both in one round trip.
fn mux_multi(p: &mut Party, sel: &[u8], x: &[u64], msgs: usize, w: u32) -> ProtoResult<Vec<u64>> {
    let n = sel.len();
    debug_assert_eq!(x.len(), n * msgs);
    if n == 0 {
        return Ok(Vec::new());
    }
    let m = mask(w);
    let opts = p.opts();
    let ch: Vec<u8> = sel.iter().map(|s| s & 1).collect();
    // x·(1 − 2·sel), branch-free
    let corr: Vec<u64> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| v.wrapping_mul(1u64.wrapping_sub(2 * ch[i / msgs] as u64)) & m)
        .collect();
    let lens = vec![w; n];
    let mut r = vec![0u64; n * msgs];
    let mut o = vec![0u64; n * msgs];
    p.ot.iknp_recv
        .recv_batched_cot_columns(&mut *p.ch, &ch, msgs, &lens, opts, &mut o)?;
    p.ot.iknp_send
        .send_batched_cot(&mut *p.ch, &corr, msgs, &lens, opts, &mut r)?;
    p.ot.iknp_recv
        .recv_batched_cot_finish(&mut *p.ch, &ch, msgs, &lens, opts, &mut o)?;
    Ok(x.iter()
        .enumerate()
        .map(|(i, &v)| {
            (ch[i / msgs] as u64)
                .wrapping_mul(v)
                .wrapping_sub(r[i])
                .wrapping_add(o[i])
                & m
        })
        .collect())
}

/// Check the parameters and the share length.
fn check_input(ap: &ArgmaxParams, x: &[u64]) -> ProtoResult<()> {
    ap.check()?;
    if x.len() != ap.n() {
        return Err(param(
            "x",
            format!(
                "{} shares given, batch·k = {}·{} = {} expected",
                x.len(),
                ap.batch,
                ap.k,
                ap.n()
            ),
        ));
    }
    Ok(())
}

/// Additive shares (mod 2^b, b = [`ArgmaxParams::index_bits`]) of the position of each row's
/// maximum; `x` holds this party's l-bit shares of the batch × k values, row-major. Both
/// parties call it with the same parameters.
pub fn run_shared(p: &mut Party, ap: &ArgmaxParams, x: &[u64]) -> ProtoResult<Shares> {
    check_input(ap, x)?;
    let (batch, k, l) = (ap.batch, ap.k, ap.l);
    let b = ap.index_bits();
    let alice = p.is_alice();
    // the public initial indices: ALICE holds j, BOB 0
    let mut idx: Vec<u64> = (0..x.len())
        .map(|i| if alice { (i % k) as u64 } else { 0 })
        .collect();
    if k < 2 || batch == 0 {
        return Ok(Shares::new(b, idx));
    }
    let wide = l < 64;
    let lv = ap.value_bits();
    let (mv, mb) = (mask(lv), mask(b));
    let xl: Vec<u64> = x.iter().map(|v| v & mask(l)).collect();
    let mut val = if wide {
        extension::s_extend(p, &xl, l, lv, None)?
    } else {
        xl
    };
    // l = 64 only: XOR shares of each candidate's sign
    let mut sign: Vec<u8> = Vec::new();
    let levels = ap.pairs_per_level();
    let mut m = k;
    for (t, &half) in levels.iter().enumerate() {
        let last = t + 1 == levels.len();
        let next = m.div_ceil(2);
        let pairs = batch * half;
        // pair q of row r compares candidates r·m + 2q (left) and r·m + 2q + 1 (right)
        let at = |q: usize| (q / half) * m + 2 * (q % half);
        let mut d = Vec::with_capacity(pairs + if t == 0 && !wide { val.len() } else { 0 });
        d.extend((0..pairs).map(|q| val[at(q)].wrapping_sub(val[at(q) + 1]) & mv));
        let (c, win_sign): (Vec<u8>, Vec<u8>) = if wide {
            (msb::run(p, &d, lv)?, Vec::new())
        } else {
            if t == 0 {
                d.extend_from_slice(&val);
            }
            let mut s = msb::run(p, &d, 64)?;
            if t == 0 {
                sign = s.split_off(pairs);
            }
            let ands = if last { pairs } else { 2 * pairs };
            let mut ax = Vec::with_capacity(ands);
            let mut ay = Vec::with_capacity(ands);
            for (q, &sd) in s.iter().enumerate() {
                let (sl, sr) = (sign[at(q)], sign[at(q) + 1]);
                ax.push(sl ^ sr);
                ay.push(sd ^ sl);
            }
            if !last {
                for q in 0..pairs {
                    ax.push(sign[at(q)]);
                    ay.push(sign[at(q) + 1]);
                }
            }
            let z = and::run(p, &ax, &ay)?;
            let c = s.iter().zip(&z).map(|(sd, f)| sd ^ f).collect();
            (
                c,
                if last {
                    Vec::new()
                } else {
                    z[pairs..].to_vec()
                },
            )
        };
        // the multiplexer: shares of c·(right − left) for the index, and the value before
        // the last level
        let didx = |q: usize| idx[at(q) + 1].wrapping_sub(idx[at(q)]) & mb;
        let (dv, di): (Vec<u64>, Vec<u64>) = if last {
            let di: Vec<u64> = (0..pairs).map(didx).collect();
            (Vec::new(), mux::run(p, &c, &di, b)?)
        } else {
            let w = lv.max(b);
            let mut xs = Vec::with_capacity(2 * pairs);
            for q in 0..pairs {
                xs.push(val[at(q) + 1].wrapping_sub(val[at(q)]) & mv);
                xs.push(didx(q));
            }
            let o = mux_multi(p, &c, &xs, 2, w)?;
            (
                o.iter().step_by(2).map(|v| v & mv).collect(),
                o.iter().skip(1).step_by(2).map(|v| v & mb).collect(),
            )
        };
        // the next level's candidates: winners, then an odd last one unchanged
        let mut nval = Vec::with_capacity(if last { 0 } else { batch * next });
        let mut nidx = Vec::with_capacity(batch * next);
        let mut nsign = Vec::with_capacity(if last { 0 } else { win_sign.len() + batch });
        for r in 0..batch {
            for j in 0..half {
                let q = r * half + j;
                let i = at(q);
                nidx.push(idx[i].wrapping_add(di[q]) & mb);
                if !last {
                    nval.push(val[i].wrapping_add(dv[q]) & mv);
                    if !wide {
                        nsign.push(win_sign[q]);
                    }
                }
            }
            if m % 2 == 1 {
                let i = r * m + m - 1;
                nidx.push(idx[i]);
                if !last {
                    nval.push(val[i]);
                    if !wide {
                        nsign.push(sign[i]);
                    }
                }
            }
        }
        idx = nidx;
        val = nval;
        sign = nsign;
        m = next;
    }
    Ok(Shares::new(b, idx))
}

/// The position of each row's maximum (ties: the lowest position), revealed to `reveal_to`
/// only: it gets `Some(indices)` (one per row, each below k), the other party `None`. `x`
/// holds this party's l-bit shares of the batch × k values, row-major; both parties pass the
/// same `ap` and `reveal_to`. What it sends: [`cost`].
pub fn run(
    p: &mut Party,
    ap: &ArgmaxParams,
    x: &[u64],
    reveal_to: Role,
) -> ProtoResult<Option<Vec<usize>>> {
    let sh = run_shared(p, ap, x)?;
    let gets = p.role == reveal_to;
    if ap.k < 2 || ap.batch == 0 {
        // every index is 0 (k = 1) or there is none: public, nothing to send
        return Ok(gets.then(|| vec![0; ap.batch]));
    }
    let b = sh.bits;
    let len = packed_len(sh.len(), b);
    if !gets {
        let mut msg = vec![0u8; len];
        pack(&sh.data, b, &mut msg);
        p.ch.send_vec(msg)?;
        return Ok(None);
    }
    let got = p.ch.recv_exact_vec(len)?;
    let mut peer = vec![0u64; sh.len()];
    unpack(&got, b, &mut peer);
    let mb = mask(b);
    sh.data
        .iter()
        .zip(&peer)
        .map(|(&a, &o)| {
            let i = a.wrapping_add(o) & mb;
            usize::try_from(i)
                .ok()
                .filter(|&i| i < ap.k)
                .ok_or_else(|| ProtoError::Peer(format!("revealed index {i} is not below k")))
        })
        .collect::<ProtoResult<Vec<usize>>>()
        .map(Some)
}
