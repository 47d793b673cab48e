//! 1-of-N OT (N = 2..=256, messages of l ≤ 64 bits) as SCI builds it (EzPC
//! `SCI/src/OT/split-kkot.h`): Kolesnikov–Kumaresan (KK13, CRYPTO 2013) with the 256-bit
//! Walsh–Hadamard code, on 256 base OTs.
//!
//! Code: `C(x)_i = parity(x ∧ i)` for `x, i ∈ [0, 256)` (distance 128: for `x ≠ x'`,
//! `C(x) ⊕ C(x')` has weight exactly 128).
//!
//! Wire per call of `n` OTs:
//! * receiver → sender: 256 bits per OT (rows `u_i = G0_i ⊕ G1_i ⊕ C(r)_i`; with
//!   `sci_padding` charged on `sci_pad(n)` OTs);
//! * sender → receiver: the N masked messages `m_{j,x} ⊕ P_{j,x}`, l bits each (SCI's uint8
//!   path for l ≤ 8 and uint64 path otherwise, per 2048-OT batch, with `sci_padding`).
//!
//! After the extension the sender holds `q_j = t_j ⊕ (C(r_j) ∧ s)`; the pad for index `x` is
//! `P_{j,x} = H(q_j ⊕ (C(x) ∧ s); j, x)` and the receiver can compute exactly
//! `P_{j,r_j} = H(t_j; j, r_j)`.

use super::base::{base_ot_recv, base_ot_send};
use super::pack::{BitWriter, read_bits_at, recv_payload, send_payload};
use super::{OtError, OtOpts, OtResult, check_l, check_len};
use crate::bytes::{self as cost, SCI_KKOT_BATCH, sci_word};
use crate::matrix::{CHUNK, ExtReceiver, ExtSender, bytes01_to_bits};
use pq_kernels::aes::{Prg, fixed_key};
use pq_kernels::ring::mask;
use pq_kernels::{Block, ct};
use pq_netsim::Channel;

/// Pads computed per hash batch.
const PAD_BATCH: usize = 4096;

/// Domain-separation bit of the KKOT tweak (bit 127).
const KKOT_DOMAIN: u128 = 1u128 << 127;

/// Codeword `C(x)` as (bits 0..128, bits 128..256).
fn codeword(x: usize) -> (Block, Block) {
    let mut lo = 0u128;
    let mut hi = 0u128;
    for i in 0..128usize {
        lo |= (((x & i).count_ones() & 1) as u128) << i;
        hi |= (((x & (i + 128)).count_ones() & 1) as u128) << i;
    }
    (Block(lo), Block(hi))
}

/// The tweak of pad `(j, x)`.
#[inline(always)]
fn tweak(j: u64, x: usize) -> Block {
    Block(KKOT_DOMAIN | ((j as u128) << 8) | x as u128)
}

// ---------------------------------------------------------------------------------------------
// The pad hash H(u; j, x) for a 256-bit row u = (u_lo, u_hi).
//
//   a  = u_lo ⊕ T(j, x)          (T injective in (j, x), domain bit set)
//   h1 = π(a) ⊕ a                 (fixed-key MMO)
//   w  = h1 ⊕ u_hi
//   P  = π(w) ⊕ w                 (fixed-key MMO)
//
// Both halves of u enter the permutation call that produces P: u_hi directly, u_lo through h1.
// Security (random-permutation model for π; the receiver is the adversary). For x ≠ r_j the
// receiver knows u = t_j ⊕ δ with δ = (C(x) ⊕ C(r_j)) ∧ s, where s is uniform and unknown and
// C(x) ⊕ C(r_j) has weight exactly 128: δ carries k_lo unknown bits in the low half and
// k_hi = 128 − k_lo in the high half (for the Walsh–Hadamard code k_lo ∈ {0, 64}).
// To learn anything about P the adversary must query π at w (MMO output on an unqueried point
// is uniform). Two cases:
//   * π was never queried at a: then h1 is uniform and independent of the view, so w is
//     uniform over 2^128 values and each query hits it with probability ≤ 1/(2^128 − q).
//   * π was queried at a: this needs the k_lo unknown low bits, i.e. probability ≤ q/2^k_lo
//     over all queries. Given that, w still has the k_hi unknown high bits of δ; a query
//     hits w only if it equals h1(g) ⊕ u_hi for a correct low guess g and the right k_hi
//     bits. Each query of π at a candidate w fixes at most one candidate per queried a, and
//     only candidates consistent with the k_hi-dimensional high mask count: for random h1
//     values a query is consistent with ≈ q·2^(k_hi−128) + 1 of them, so it succeeds with
//     probability ≈ 2^−(k_lo + k_hi) = 2^−128 each.
// Summed over all n·N pads (union bound) the advantage is O(n·N·q / 2^128), the same order as
// IKNP with a global Δ. The tweak T(j, x) makes pads of different OTs / indices use distinct
// π inputs even when rows coincide, so no fixed XOR relation links pads across (j, x).
// Why this shape: docs/sci-protocols.md §KKOT pad hash (SCI itself uses AES-256 keyed by the
// row, EzPC `SCI/src/utils/ccrf.h`; hashing one half, XOR-folding the halves or XOR-ing
// per-half hashes would all be insecure, so both halves are absorbed sequentially here).
// ---------------------------------------------------------------------------------------------

/// The KKOT sender (base-OT receiver with 256 random choice bits `s`).
pub struct KkotSender {
    ext: ExtSender,
    /// `C(x) ∧ s` for every x, low and high halves.
    cs_lo: Vec<Block>,
    cs_hi: Vec<Block>,
    hbuf: Vec<Block>,
    payload: Vec<u8>,
    counter: u64,
}

/// The KKOT receiver (base-OT sender).
pub struct KkotReceiver {
    ext: ExtReceiver,
    planes: Vec<Block>,
    acc: Vec<Block>,
    hbuf: Vec<Block>,
    payload: Vec<u8>,
    counter: u64,
}

pub(crate) fn check_n_choices(n_choices: usize) -> OtResult<()> {
    if (2..=256).contains(&n_choices) {
        Ok(())
    } else {
        Err(OtError::InvalidArgument(format!(
            "1-of-N OT needs N in 2..=256, got {n_choices}"
        )))
    }
}

/// Every choice of a 1-of-N OT is below N.
pub(crate) fn check_choices(choices: &[u8], n_choices: usize) -> OtResult<()> {
    match choices
        .iter()
        .enumerate()
        .find(|(_, c)| **c as usize >= n_choices)
    {
        Some((index, &value)) => Err(OtError::InvalidChoice {
            index,
            value,
            n_choices,
        }),
        None => Ok(()),
    }
}

impl KkotSender {
    /// 256 base OTs as the receiver, with random choice bits `s`.
    pub fn setup<C: Channel + ?Sized>(ch: &mut C, prg: &mut Prg) -> OtResult<Self> {
        let s_lo = prg.next_block();
        let s_hi = prg.next_block();
        let s: Vec<bool> = (0..256)
            .map(|i| {
                if i < 128 {
                    s_lo.bit(i)
                } else {
                    s_hi.bit(i - 128)
                }
            })
            .collect();
        let keys = base_ot_recv(ch, &s, prg)?;
        let mut cs_lo = Vec::with_capacity(256);
        let mut cs_hi = Vec::with_capacity(256);
        for x in 0..256 {
            let (lo, hi) = codeword(x);
            cs_lo.push(lo & s_lo);
            cs_hi.push(hi & s_hi);
        }
        Ok(KkotSender {
            ext: ExtSender::new(256, &keys, &s),
            cs_lo,
            cs_hi,
            hbuf: vec![Block::ZERO; PAD_BATCH],
            payload: Vec::new(),
            counter: 0,
        })
    }

    /// Send `n = msgs.len() / n_choices` 1-of-N OTs; `msgs[j*N + x]` is message `x` of OT `j`
    /// (low `l` bits used).
    pub fn send<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        msgs: &[u64],
        n_choices: usize,
        l: u32,
        opts: OtOpts,
    ) -> OtResult<()> {
        check_l(l)?;
        check_n_choices(n_choices)?;
        let nn = n_choices;
        let n = msgs.len() / nn;
        check_len("msgs", n * nn, msgs.len())?;
        let sci = opts.sci_padding;
        let word = sci_word(l) as usize;
        let base = self.counter;
        let KkotSender {
            ext,
            cs_lo,
            cs_hi,
            hbuf,
            payload,
            ..
        } = self;
        payload.clear();
        payload.reserve(cost::kkot_payload(n as u64, nn as u64, l, opts) as usize);
        let mut w = BitWriter::new(payload);
        let per_batch = (PAD_BATCH / nn).max(1);
        let per_word = (64 / l) as usize;
        let mk = mask(l);
        ext.run(ch, n, opts, |start, c, qt| {
            let (q_lo, q_hi) = (&qt[..CHUNK], &qt[CHUNK..]);
            for g0 in (0..c).step_by(per_batch) {
                let g1 = (g0 + per_batch).min(c);
                let h = &mut hbuf[..(g1 - g0) * nn];
                for (jj, hrow) in (g0..g1).zip(h.chunks_exact_mut(nn)) {
                    let jg = base + (start + jj) as u64;
                    let ql = q_lo[jj];
                    for (x, o) in hrow.iter_mut().enumerate() {
                        *o = ql ^ cs_lo[x] ^ tweak(jg, x);
                    }
                }
                fixed_key().cr_hash(h);
                for (jj, hrow) in (g0..g1).zip(h.chunks_exact_mut(nn)) {
                    let qh = q_hi[jj];
                    for (x, o) in hrow.iter_mut().enumerate() {
                        *o ^= qh ^ cs_hi[x];
                    }
                }
                fixed_key().cr_hash(h);
                for (jj, hrow) in (g0..g1).zip(h.chunks_exact(nn)) {
                    let g = start + jj;
                    let ms = &msgs[g * nn..(g + 1) * nn];
                    // Gather up to 64 bits of masked messages per write.
                    for (mc, pc) in ms.chunks(per_word).zip(hrow.chunks(per_word)) {
                        let mut acc = 0u64;
                        for (k, (m, p)) in mc.iter().zip(pc).enumerate() {
                            acc |= ((m ^ p.lo()) & mk) << (k as u32 * l);
                        }
                        w.put(acc, mc.len() as u32 * l);
                    }
                    if sci && (g + 1) % SCI_KKOT_BATCH as usize == 0 {
                        w.align(word);
                    }
                }
            }
            Ok(())
        })?;
        if sci {
            w.align(word)
        } else {
            w.finish()
        }
        debug_assert_eq!(
            payload.len() as u64,
            cost::kkot_payload(n as u64, nn as u64, l, opts)
        );
        send_payload(ch, payload)?;
        self.counter += n as u64;
        Ok(())
    }
}

impl KkotReceiver {
    /// 256 base OTs as the sender.
    pub fn setup<C: Channel + ?Sized>(ch: &mut C, prg: &mut Prg) -> OtResult<Self> {
        let pairs = base_ot_send(ch, 256, prg)?;
        let k0: Vec<Block> = pairs.iter().map(|p| p.0).collect();
        let k1: Vec<Block> = pairs.iter().map(|p| p.1).collect();
        let own = Prg::new(prg.next_block());
        Ok(KkotReceiver {
            ext: ExtReceiver::new(256, &k0, &k1, own),
            planes: vec![Block::ZERO; 8 * (CHUNK / 128)],
            acc: vec![Block::ZERO; CHUNK / 128],
            hbuf: vec![Block::ZERO; CHUNK],
            payload: Vec::new(),
            counter: 0,
        })
    }

    /// Receive `out[j] = msgs[j*N + choices[j]]` (l bits). Every choice must be `< n_choices`.
    pub fn recv<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        choices: &[u8],
        n_choices: usize,
        l: u32,
        opts: OtOpts,
        out: &mut [u64],
    ) -> OtResult<()> {
        check_l(l)?;
        check_n_choices(n_choices)?;
        let n = choices.len();
        check_len("out", n, out.len())?;
        check_choices(choices, n_choices)?;
        let nn = n_choices;
        let m = mask(l);
        let base = self.counter;
        let KkotReceiver {
            ext,
            planes,
            acc,
            hbuf,
            payload,
            ..
        } = self;
        ext.run(
            ch,
            n,
            opts,
            |start, c, cb, u, _| {
                // Bit-planes of the choices: plane k has bit j = bit k of r_j.
                let pl = &mut planes[..8 * cb];
                pl.fill(Block::ZERO);
                {
                    let pb = Block::slice_as_bytes_mut(pl);
                    let row = cb * 16;
                    for (g, ch8) in choices[start..start + c].chunks(8).enumerate() {
                        let mut w = [0u8; 8];
                        w[..ch8.len()].copy_from_slice(ch8);
                        let x = u64::from_le_bytes(w);
                        for k in 0..8 {
                            pb[k * row + g] = bytes01_to_bits(x >> k);
                        }
                    }
                }
                // Row i of the codeword matrix is ⊕_{k ∈ bits(i)} plane_k; walk i in Gray-code
                // order so each row costs one XOR into a running accumulator.
                let a = &mut acc[..cb];
                a.fill(Block::ZERO);
                for step in 1..256usize {
                    let k = step.trailing_zeros() as usize;
                    for (x, p) in a.iter_mut().zip(&pl[k * cb..(k + 1) * cb]) {
                        x.0 ^= p.0;
                    }
                    let i = step ^ (step >> 1);
                    for (x, y) in u[i * cb..(i + 1) * cb].iter_mut().zip(a.iter()) {
                        x.0 ^= y.0;
                    }
                }
                Ok(())
            },
            |start, c, tt| {
                let (t_lo, t_hi) = (&tt[..CHUNK], &tt[CHUNK..]);
                let h = &mut hbuf[..c];
                for (j, o) in h.iter_mut().enumerate() {
                    let g = start + j;
                    *o = t_lo[j] ^ tweak(base + g as u64, choices[g] as usize);
                }
                fixed_key().cr_hash(h);
                for (o, th) in h.iter_mut().zip(&t_hi[..c]) {
                    *o ^= *th;
                }
                fixed_key().cr_hash(h);
                for (o, p) in out[start..start + c].iter_mut().zip(h.iter()) {
                    *o = p.lo() & m;
                }
                Ok(())
            },
        )?;
        recv_payload(
            ch,
            cost::kkot_payload(n as u64, nn as u64, l, opts) as usize,
            payload,
        )?;
        // Read all N messages of every OT and keep the chosen one under a mask: the offsets
        // read do not depend on the choice.
        let lz = l as usize;
        let batch = SCI_KKOT_BATCH as usize;
        let batch_bits = 8 * cost::kkot_payload(SCI_KKOT_BATCH, nn as u64, l, opts) as usize;
        let per = (64 / lz).max(1);
        for (j, (o, &c)) in out.iter_mut().zip(choices).enumerate() {
            let off0 = if opts.sci_padding {
                (j / batch) * batch_bits + (j % batch) * nn * lz
            } else {
                j * nn * lz
            };
            // The N messages are contiguous: read them a word at a time (`per` per word) and
            // keep, by mask, the word holding message c, shifted by c's (secret) position
            // in it (a shift by a register amount takes the same time for every amount).
            let mut v = 0;
            for y0 in (0..nn).step_by(per) {
                let cnt = per.min(nn - y0);
                let word = read_bits_at(payload, off0 + y0 * lz, (cnt * lz) as u32);
                // rel = c − y0 in [−256, 256); in this word iff 0 ≤ rel ≤ cnt − 1.
                let rel = c as i64 - y0 as i64;
                let outside = (rel | (cnt as i64 - 1 - rel)) >> 63;
                let keep = ct::barrier(!outside as u64);
                let sh = (rel as u64).wrapping_mul(lz as u64) & 63;
                v |= (word >> sh) & m & keep;
            }
            *o ^= v;
        }
        self.counter += n as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walsh_hadamard_distance() {
        let words: Vec<(Block, Block)> = (0..256).map(codeword).collect();
        for x in 0..256 {
            for y in 0..x {
                let d = (words[x].0 ^ words[y].0).0.count_ones()
                    + (words[x].1 ^ words[y].1).0.count_ones();
                assert_eq!(d, 128, "x={x} y={y}");
            }
        }
    }
}
