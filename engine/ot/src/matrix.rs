//! The extension core shared by IKNP (128 rows) and KKOT (256 rows).
//!
//! Receiver, per chunk of `c ≤ CHUNK` OTs (`cb = ceil(c/128)` blocks per row):
//! `t_i = G0_i`, `u_i = G0_i ⊕ G1_i ⊕ d_i` where `d_i` is row `i` of the choice matrix
//! (IKNP: the choice bits in every row; KKOT: row `i` of the codewords). It sends the `rows`
//! rows of `c` bits each as one bit stream (`rows·c/8` bytes), then transposes `t`.
//!
//! Sender, per chunk: `q_i = G_{s_i,i} ⊕ s_i·u_i`, transposed. Per OT `j`:
//! `q_j = t_j ⊕ (d_j ∧ s)`.
//!
//! With `sci_padding` the receiver then sends `rows/8·(pad(n) − n)` further bytes (fresh
//! randomness from its own PRG, indistinguishable from real columns), which the sender
//! receives and discards; the base-OT PRG streams do not advance for them.

use super::pack::{pack_rows, unpack_rows};
use super::{OtOpts, OtResult};
use crate::bytes::sci_pad;
use pq_kernels::Block;
use pq_kernels::aes::{MultiPrg, Prg};
use pq_kernels::transpose::transpose_128xn;
use pq_netsim::Channel;

/// OTs per extension chunk (a multiple of 2048 so SCI's payload batches never straddle
/// chunks in a way that matters; any multiple of 128 works).
pub const CHUNK: usize = 4096;
/// OTs per column message (a multiple of [`CHUNK`]): fewer, larger messages keep the
/// channel's allocations few.
pub const MSG_OTS: usize = 8 * CHUNK;
const CB: usize = CHUNK / 128;

fn transpose_groups(rows_buf: &[Block], rows: usize, cb: usize, out: &mut [Block]) {
    for g in 0..rows / 128 {
        let src = &rows_buf[g * 128 * cb..(g + 1) * 128 * cb];
        transpose_128xn(
            Block::slice_as_bytes(src),
            cb * 128,
            &mut out[g * CHUNK..g * CHUNK + cb * 128],
        );
    }
}

fn send_padding<C: Channel + ?Sized>(
    ch: &mut C,
    rows: usize,
    n: usize,
    opts: OtOpts,
    prg: &mut Prg,
    buf: &mut Vec<u8>,
) -> OtResult<()> {
    if !opts.sci_padding {
        return Ok(());
    }
    let mut extra = (sci_pad(n as u64) - n as u64) as usize * rows / 8;
    while extra > 0 {
        let m = extra.min(CHUNK * rows / 8);
        buf.clear();
        buf.resize(m, 0);
        prg.fill_bytes(buf);
        ch.send(buf)?;
        extra -= m;
    }
    Ok(())
}

fn recv_padding<C: Channel + ?Sized>(
    ch: &mut C,
    rows: usize,
    n: usize,
    opts: OtOpts,
    buf: &mut Vec<u8>,
) -> OtResult<()> {
    if !opts.sci_padding {
        return Ok(());
    }
    let mut extra = (sci_pad(n as u64) - n as u64) as usize * rows / 8;
    while extra > 0 {
        let m = extra.min(CHUNK * rows / 8);
        buf.clear();
        buf.resize(m, 0);
        ch.recv(buf)?;
        extra -= m;
    }
    Ok(())
}

/// The OT sender's side of the extension (it was the base-OT receiver).
pub struct ExtSender {
    rows: usize,
    g: MultiPrg,
    /// Row masks: all-ones where `s_i = 1`.
    smask: Vec<u128>,
    q_rows: Vec<Block>,
    u_rows: Vec<Block>,
    msg: Vec<u8>,
    qt: Vec<Block>,
}

impl ExtSender {
    /// An extension sender with `rows` rows (128 for IKNP, 256 for KKOT): `keys[i]` is the
    /// base-OT key it received for its secret bit `s[i]` (`keys.len() == s.len() == rows`).
    pub fn new(rows: usize, keys: &[Block], s: &[bool]) -> Self {
        debug_assert_eq!(keys.len(), rows);
        ExtSender {
            rows,
            g: MultiPrg::new(keys),
            smask: s.iter().map(|&b| 0u128.wrapping_sub(b as u128)).collect(),
            q_rows: vec![Block::ZERO; rows * CB],
            u_rows: vec![Block::ZERO; rows * CB],
            msg: Vec::with_capacity(rows * CHUNK / 8),
            qt: vec![Block::ZERO; rows / 128 * CHUNK],
        }
    }

    /// Receive the columns of `n` OTs; for every chunk call `f(start, c, qt)` where
    /// `qt[g*CHUNK + j]` is the 128-bit group `g` of `q_{start+j}`.
    pub fn run<C, F>(&mut self, ch: &mut C, n: usize, opts: OtOpts, f: F) -> OtResult<()>
    where
        C: Channel + ?Sized,
        F: FnMut(usize, usize, &[Block]) -> OtResult<()>,
    {
        self.run_impl(ch, n, opts, f, None)
    }

    /// Receive the columns of `n` OTs and write `q_j` to `out[j]` (128-row instances only),
    /// transposing straight into `out` for whole chunks.
    pub fn run_into<C>(
        &mut self,
        ch: &mut C,
        n: usize,
        opts: OtOpts,
        out: &mut [Block],
    ) -> OtResult<()>
    where
        C: Channel + ?Sized,
    {
        debug_assert_eq!(self.rows, 128);
        self.run_impl(ch, n, opts, |_, _, _| Ok(()), Some(out))
    }

    fn run_impl<C, F>(
        &mut self,
        ch: &mut C,
        n: usize,
        opts: OtOpts,
        mut f: F,
        mut direct: Option<&mut [Block]>,
    ) -> OtResult<()>
    where
        C: Channel + ?Sized,
        F: FnMut(usize, usize, &[Block]) -> OtResult<()>,
    {
        let rows = self.rows;
        let mut start = 0;
        let mut whole = Vec::new();
        let mut moff = 0;
        while start < n {
            let c = CHUNK.min(n - start);
            let cb = c.div_ceil(128);
            if start % MSG_OTS == 0 {
                whole = ch.recv_exact_vec(rows * MSG_OTS.min(n - start) / 8)?;
                moff = 0;
            }
            let msg = &whole[moff..moff + rows * c / 8];
            moff += rows * c / 8;
            let q = &mut self.q_rows[..rows * cb];
            self.g.fill(cb, q);
            if c.is_multiple_of(128) {
                // Rows are whole blocks: XOR straight from the message.
                for (i, (qrow, urow)) in q
                    .chunks_exact_mut(cb)
                    .zip(msg.chunks_exact(cb * 16))
                    .enumerate()
                {
                    let m = self.smask[i];
                    for (a, b) in qrow.iter_mut().zip(urow.chunks_exact(16)) {
                        let mut w = [0u8; 16];
                        w.copy_from_slice(b);
                        a.0 ^= u128::from_le_bytes(w) & m;
                    }
                }
            } else {
                unpack_rows(msg, rows, cb, c, &mut self.u_rows[..rows * cb])?;
                for (i, (qrow, urow)) in q
                    .chunks_exact_mut(cb)
                    .zip(self.u_rows.chunks_exact(cb))
                    .enumerate()
                {
                    let m = self.smask[i];
                    for (a, b) in qrow.iter_mut().zip(urow) {
                        a.0 ^= b.0 & m;
                    }
                }
            }
            match direct.as_deref_mut() {
                Some(out) if c.is_multiple_of(128) => {
                    transpose_128xn(
                        Block::slice_as_bytes(&self.q_rows[..rows * cb]),
                        c,
                        &mut out[start..start + c],
                    );
                }
                Some(out) => {
                    transpose_groups(&self.q_rows, rows, cb, &mut self.qt);
                    out[start..start + c].copy_from_slice(&self.qt[..c]);
                }
                None => {
                    transpose_groups(&self.q_rows, rows, cb, &mut self.qt);
                    f(start, c, &self.qt)?;
                }
            }
            start += c;
        }
        recv_padding(ch, rows, n, opts, &mut self.msg)
    }
}

/// The OT receiver's side of the extension (it was the base-OT sender).
pub struct ExtReceiver {
    rows: usize,
    g0: MultiPrg,
    g1: MultiPrg,
    /// The receiver's own randomness (random choices, padding).
    pub own: Prg,
    t_rows: Vec<Block>,
    u_rows: Vec<Block>,
    msg: Vec<u8>,
    tt: Vec<Block>,
}

impl ExtReceiver {
    /// An extension receiver with `rows` rows (128 for IKNP, 256 for KKOT): `k0[i]`, `k1[i]`
    /// are the two base-OT keys it sent for row `i`; `own` is its private PRG (random choices
    /// and SCI padding columns).
    pub fn new(rows: usize, k0: &[Block], k1: &[Block], own: Prg) -> Self {
        ExtReceiver {
            rows,
            g0: MultiPrg::new(k0),
            g1: MultiPrg::new(k1),
            own,
            t_rows: vec![Block::ZERO; rows * CB],
            u_rows: vec![Block::ZERO; rows * CB],
            msg: Vec::with_capacity(rows * CHUNK / 8),
            tt: vec![Block::ZERO; rows / 128 * CHUNK],
        }
    }

    /// Send the columns of `n` OTs. For every chunk, `d(start, c, cb, u_rows, own_prg)` must
    /// XOR the choice matrix rows into `u_rows` (`rows × cb` blocks); then
    /// `f(start, c, tt)` gets the transposed `t` (group `g` of `t_{start+j}` at
    /// `tt[g*CHUNK + j]`).
    pub fn run<C, D, F>(&mut self, ch: &mut C, n: usize, opts: OtOpts, d: D, f: F) -> OtResult<()>
    where
        C: Channel + ?Sized,
        D: FnMut(usize, usize, usize, &mut [Block], &mut Prg) -> OtResult<()>,
        F: FnMut(usize, usize, &[Block]) -> OtResult<()>,
    {
        self.run_impl(ch, n, opts, d, f, None)
    }

    /// Like [`run`](Self::run) but writes `t_j` to `out[j]` (128-row instances only).
    pub fn run_into<C, D>(
        &mut self,
        ch: &mut C,
        n: usize,
        opts: OtOpts,
        d: D,
        out: &mut [Block],
    ) -> OtResult<()>
    where
        C: Channel + ?Sized,
        D: FnMut(usize, usize, usize, &mut [Block], &mut Prg) -> OtResult<()>,
    {
        debug_assert_eq!(self.rows, 128);
        self.run_impl(ch, n, opts, d, |_, _, _| Ok(()), Some(out))
    }

    fn run_impl<C, D, F>(
        &mut self,
        ch: &mut C,
        n: usize,
        opts: OtOpts,
        mut d: D,
        mut f: F,
        mut direct: Option<&mut [Block]>,
    ) -> OtResult<()>
    where
        C: Channel + ?Sized,
        D: FnMut(usize, usize, usize, &mut [Block], &mut Prg) -> OtResult<()>,
        F: FnMut(usize, usize, &[Block]) -> OtResult<()>,
    {
        let rows = self.rows;
        let mut start = 0;
        let mut msg = Vec::new();
        while start < n {
            let c = CHUNK.min(n - start);
            let cb = c.div_ceil(128);
            if start % MSG_OTS == 0 {
                msg = Vec::with_capacity(rows * MSG_OTS.min(n - start) / 8);
            }
            let t = &mut self.t_rows[..rows * cb];
            self.g0.fill(cb, t);
            // Whole chunks: compute U in place in the outgoing message (its rows are whole
            // blocks); otherwise in scratch, then bit-pack.
            let off = msg.len();
            let mut in_place = false;
            if c.is_multiple_of(128) {
                msg.resize(off + rows * c / 8, 0);
                if let Ok(u) = bytemuck::try_cast_slice_mut::<u8, Block>(&mut msg[off..]) {
                    self.g1.fill(cb, u);
                    for (a, b) in u.iter_mut().zip(t.iter()) {
                        a.0 ^= b.0;
                    }
                    d(start, c, cb, u, &mut self.own)?;
                    in_place = true;
                } else {
                    msg.truncate(off);
                }
            }
            if !in_place {
                let u = &mut self.u_rows[..rows * cb];
                self.g1.fill(cb, u);
                for (a, b) in u.iter_mut().zip(t.iter()) {
                    a.0 ^= b.0;
                }
                d(start, c, cb, u, &mut self.own)?;
                pack_rows(u, rows, cb, c, &mut msg);
            }
            if (start + c).is_multiple_of(MSG_OTS) || start + c == n {
                ch.send_vec(std::mem::take(&mut msg))?;
            }
            match direct.as_deref_mut() {
                Some(out) if c.is_multiple_of(128) => {
                    transpose_128xn(
                        Block::slice_as_bytes(&self.t_rows[..rows * cb]),
                        c,
                        &mut out[start..start + c],
                    );
                }
                Some(out) => {
                    transpose_groups(&self.t_rows, rows, cb, &mut self.tt);
                    out[start..start + c].copy_from_slice(&self.tt[..c]);
                }
                None => {
                    transpose_groups(&self.t_rows, rows, cb, &mut self.tt);
                    f(start, c, &self.tt)?;
                }
            }
            start += c;
        }
        send_padding(ch, rows, n, opts, &mut self.own, &mut self.msg)
    }
}

/// Bits of 8 bytes that are each 0 or 1 (byte k → bit k).
#[inline(always)]
pub fn bytes01_to_bits(x: u64) -> u8 {
    ((x & 0x0101_0101_0101_0101).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8
}

/// Byte k of the result is bit k of `b`. Shifts and masks, no table: the bits are secret
/// choice bits, and a table indexed by them would make the cache lines touched depend on them.
#[inline(always)]
pub fn bits_to_bytes01(b: u8) -> u64 {
    let x = b as u64;
    // Spread the nibbles to 32-bit lanes, the bit pairs to 16-bit lanes, the bits to bytes.
    let x = (x | (x << 28)) & 0x0000_000F_0000_000F;
    let x = (x | (x << 14)) & 0x0003_0003_0003_0003;
    (x | (x << 7)) & 0x0101_0101_0101_0101
}

/// Pack `choices` (bytes, bit 0 used) into `out` blocks (bit j of the stream = choice j).
pub fn pack_choice_bits(choices: &[u8], out: &mut [Block]) {
    let bytes = Block::slice_as_bytes_mut(out);
    bytes.fill(0);
    let mut chunks = choices.chunks_exact(8);
    let mut i = 0;
    for ch8 in &mut chunks {
        let mut b = [0u8; 8];
        b.copy_from_slice(ch8);
        bytes[i] = bytes01_to_bits(u64::from_le_bytes(b));
        i += 1;
    }
    let rem = chunks.remainder();
    if !rem.is_empty() {
        let mut b = [0u8; 8];
        b[..rem.len()].copy_from_slice(rem);
        bytes[i] = bytes01_to_bits(u64::from_le_bytes(b));
    }
}

/// Unpack bits into 0/1 bytes (`out.len()` bits).
pub fn unpack_choice_bits(bits: &[Block], out: &mut [u8]) {
    let bytes = Block::slice_as_bytes(bits);
    let mut chunks = out.chunks_exact_mut(8);
    let mut i = 0;
    for o in &mut chunks {
        o.copy_from_slice(&bits_to_bytes01(bytes[i]).to_le_bytes());
        i += 1;
    }
    let rem = chunks.into_remainder();
    if !rem.is_empty() {
        let v = bits_to_bytes01(bytes[i]).to_le_bytes();
        let k = rem.len();
        rem.copy_from_slice(&v[..k]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_spreading_round_trips() {
        for b in 0..=255u8 {
            let v = bits_to_bytes01(b);
            for k in 0..8 {
                assert_eq!((v >> (8 * k)) & 0xFF, ((b >> k) & 1) as u64, "b={b} k={k}");
            }
            assert_eq!(bytes01_to_bits(v), b);
        }
    }
}
