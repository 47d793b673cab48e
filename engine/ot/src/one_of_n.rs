//! 1-of-N OT from correlated OTs (the Naor–Pinkas reduction, as Cheetah's millionaire uses it
//! with silent OT): an alternative to KKOT ([`crate::kkot`]) for configurations that need not
//! match SCI's bytes.
//!
//! For OT `j` with choice `x < N` and `m = ⌈log2 N⌉`, the receiver takes `m` chosen-choice
//! COTs from the session's source with choice bits `x_0 … x_{m−1}` (bit 0 first). The
//! sender's keys are `k_i^0 = q_{j,i}` and `k_i^1 = q_{j,i} ⊕ Δ`; the pad of message `y` is
//! `⊕_i H(k_i^{y_i}, τ_{j,i})` with the TCCR hash and a tweak `τ` unique to the COT (the
//! session's running OT index), so each key is hashed on its own (XORing keys first would let
//! equal-parity indices collide). The sender sends the `N` masked messages; the receiver
//! unmasks message `x` with `⊕_i H(t_{j,i}, τ_{j,i})`.
//!
//! What it sends: the source's columns for `n·m` chosen-choice COTs from the receiver (Ferret:
//! `n·m` bits; IKNP: `128·n·m` bits), then `n·N·l` bits of messages from the sender (KKOT's
//! dense payload). KKOT sends 256 bits per OT instead of the columns; the cost functions pick
//! the cheaper ([`crate::bytes::cot_1ofn_bytes`]).

use crate::bytes as cost;
use crate::iknp::{IknpReceiver, IknpSender};
use crate::kkot::{check_choices, check_n_choices};
use crate::matrix::pack_choice_bits;
use crate::pack::{BitReader, BitWriter, recv_payload, send_payload};
use crate::{OtError, OtOpts, OtResult, check_l, check_len};
use pq_kernels::aes::fixed_key;
use pq_kernels::ring::mask;
use pq_kernels::{Block, ct};
use pq_netsim::Channel;

/// COTs per 1-of-N OT: ⌈log2 N⌉.
pub fn cots_per_ot(n_choices: usize) -> usize {
    (usize::BITS - (n_choices.max(2) - 1).leading_zeros()) as usize
}

fn check(n_choices: usize, l: u32, opts: OtOpts) -> OtResult<()> {
    check_l(l)?;
    check_n_choices(n_choices)?;
    if opts.sci_padding {
        return Err(OtError::InvalidArgument(
            "1-of-N OT from COTs has no SCI padding rule (use KKOT)".into(),
        ));
    }
    Ok(())
}

impl IknpSender {
    /// Send `n = msgs.len() / N` 1-of-N OTs from `n·⌈log2 N⌉` COTs; `msgs[j*N + y]` is
    /// message `y` of OT `j` (low `l` bits). Pairs with [`IknpReceiver::recv_1ofn`].
    pub fn send_1ofn<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        msgs: &[u64],
        n_choices: usize,
        l: u32,
        opts: OtOpts,
    ) -> OtResult<()> {
        check(n_choices, l, opts)?;
        let nn = n_choices;
        let n = msgs.len() / nn;
        check_len("msgs", n * nn, msgs.len())?;
        let m = cots_per_ot(nn);
        let total = n * m;
        let mut h0 = vec![0u64; total];
        let mut h1 = vec![0u64; total];
        let delta = self.delta();
        let base = self.counter as u128;
        let mut a = vec![Block::ZERO; crate::matrix::CHUNK];
        let mut b = vec![Block::ZERO; crate::matrix::CHUNK];
        self.ext.run(ch, total, opts, |start, c, qt| {
            fixed_key().tccr_hash_pairs(
                &qt[..c],
                delta,
                base + start as u128,
                &mut a[..c],
                &mut b[..c],
            );
            for k in 0..c {
                h0[start + k] = a[k].lo();
                h1[start + k] = b[k].lo();
            }
            Ok(())
        })?;
        let mk = mask(l);
        let mut payload =
            Vec::with_capacity(cost::kkot_payload(n as u64, nn as u64, l, opts) as usize);
        let mut w = BitWriter::new(&mut payload);
        let mut pads = vec![0u64; nn];
        for j in 0..n {
            let (k0, k1) = (&h0[j * m..(j + 1) * m], &h1[j * m..(j + 1) * m]);
            // pads[y] = ⊕_i (bit i of y ? k1 : k0)[i], built bit by bit.
            pads[0] = k0.iter().fold(0, |s, v| s ^ v);
            for i in 0..m {
                let d = k0[i] ^ k1[i];
                let half = 1usize << i;
                for y in half..(2 * half).min(nn) {
                    pads[y] = pads[y - half] ^ d;
                }
            }
            for (y, p) in pads.iter().enumerate() {
                w.put((msgs[j * nn + y] ^ p) & mk, l);
            }
        }
        w.finish();
        debug_assert_eq!(
            payload.len() as u64,
            cost::kkot_payload(n as u64, nn as u64, l, opts)
        );
        send_payload(ch, &payload)?;
        self.counter += total as u64;
        Ok(())
    }
}

impl IknpReceiver {
    /// Receive 1-of-N OTs: `out[j]` = message `choices[j]` of OT `j` (pairs with
    /// [`IknpSender::send_1ofn`]).
    pub fn recv_1ofn<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        choices: &[u8],
        n_choices: usize,
        l: u32,
        opts: OtOpts,
        out: &mut [u64],
    ) -> OtResult<()> {
        check(n_choices, l, opts)?;
        let nn = n_choices;
        let n = choices.len();
        check_len("out", n, out.len())?;
        check_choices(choices, nn)?;
        let m = cots_per_ot(nn);
        let total = n * m;
        let base = self.counter as u128;
        let mut hr = vec![0u64; total];
        let mut bits = vec![0u8; crate::matrix::CHUNK];
        let mut hb = vec![Block::ZERO; crate::matrix::CHUNK];
        self.ext.run(
            ch,
            total,
            opts,
            |start, c, cb, row, _| {
                for (k, b) in bits[..c].iter_mut().enumerate() {
                    let g = start + k;
                    *b = (choices[g / m] >> (g % m)) & 1;
                }
                pack_choice_bits(&bits[..c], &mut row[..cb]);
                Ok(())
            },
            |start, c, tt| {
                fixed_key().tccr_hash_into(&tt[..c], &mut hb[..c], base + start as u128);
                for k in 0..c {
                    hr[start + k] = hb[k].lo();
                }
                Ok(())
            },
        )?;
        self.counter += total as u64;
        let mut payload = Vec::new();
        recv_payload(
            ch,
            cost::kkot_payload(n as u64, nn as u64, l, opts) as usize,
            &mut payload,
        )?;
        let mk = mask(l);
        let mut r = BitReader::new(&payload);
        for j in 0..n {
            let pad = hr[j * m..(j + 1) * m].iter().fold(0, |s, v| s ^ v);
            let x = choices[j] as u64;
            // Read every message; keep message x without branching on the choice.
            let mut v = 0;
            for y in 0..nn {
                let e = r.get(l);
                v |= e & ct::eq_mask(y as u64, x);
            }
            out[j] = (v ^ pad) & mk;
        }
        Ok(())
    }
}
