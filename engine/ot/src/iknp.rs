//! Semi-honest IKNP OT extension with a global Δ (Ishai–Kilian–Nissim–Petrank, CRYPTO 2003), as
//! SCI's `SplitIKNP` runs it (EzPC `SCI/src/OT/split-iknp.h`; wire rules in
//! `docs/sci-protocols.md` §IKNP).
//!
//! Setup: the IKNP sender picks Δ and runs 128 base OTs as the *receiver* with the bits of Δ
//! as choices; the IKNP receiver is the base-OT sender. Every call then sends:
//! * receiver → sender: 128 bits per OT (the U matrix, processed in chunks of
//!   [`CHUNK`] OTs and sent in messages of
//!   [`MSG_OTS`](crate::matrix::MSG_OTS) OTs; with `sci_padding`, charged on `sci_pad(n)` OTs);
//! * sender → receiver (after it has received every column): the payload, if the variant has
//!   one, in messages of at most [`PAYLOAD_MSG`](super::pack::PAYLOAD_MSG) bytes.
//!
//! After the extension, `q_j = t_j ⊕ b_j·Δ` for the receiver's choice `b_j`.
//!
//! Hashes: SCI's COT/GOT/batched variants use the fixed-key MMO hash `H(x) = π(x) ⊕ x`
//! (correlation robust in the random-permutation model, Guo–Katz–Wang–Yu 2020; enough for
//! semi-honest IKNP since every `q_j` is a fresh pseudorandom value), truncated to `l ≤ 64`
//! bits; multi-block pads hash `q ⊕ h` for block `h`. `send_rot`/`recv_rot` output full
//! 128-bit messages and use the tweakable TCCR hash with the session's running OT index as
//! tweak.

use super::base::{base_ot_recv, base_ot_send};
use super::pack::{BitReader, BitWriter, read_bits, recv_payload, send_payload};
use super::{OtError, OtOpts, OtResult, check_l, check_len};
use crate::bytes::{self as cost, SCI_COT_BATCH, SCI_GOT_BATCH, sci_word};
use crate::ferret::{FerretReceiver, FerretSender, RoundCost};
use crate::matrix::{CHUNK, ExtReceiver, ExtSender, pack_choice_bits};
use crate::softspoken::{SoftReceiver, SoftSender};
use crate::source::{OtKind, RecvCore, SendCore};
use pq_kernels::aes::{Prg, fixed_key};
use pq_kernels::ring::{self, mask};
use pq_kernels::{Block, ct};
use pq_netsim::Channel;

/// Blocks hashed per group in the batched variants.
const HASH_GROUP: usize = 8192;

/// Append `vals` (l-bit each) XORed with the pad stream `pad` to the payload: whole bytes at
/// once when the stream is byte-aligned (and SCI pads every OT to a byte, or the OT is a whole
/// number of bytes), value by value otherwise; then SCI's per-OT byte alignment.
fn put_padded(
    w: &mut BitWriter<'_>,
    vals: &[u64],
    l: u32,
    pad: &[Block],
    sci: bool,
    btmp: &mut Vec<u8>,
) {
    let bits = vals.len() * l as usize;
    if w.byte_aligned() && (sci || bits.is_multiple_of(8)) {
        btmp.resize(bits.div_ceil(8), 0);
        ring::pack(vals, l, btmp);
        for (y, p) in btmp.iter_mut().zip(Block::slice_as_bytes(pad)) {
            *y ^= *p;
        }
        w.put_bytes(btmp);
    } else {
        for (k, v) in vals.iter().enumerate() {
            w.put(v ^ read_bits(pad, k * l as usize, l), l);
        }
    }
    if sci {
        w.align(1);
    }
}

/// The IKNP sender: holds Δ and one PRG stream per base OT.
pub struct IknpSender {
    delta: Block,
    s: Vec<bool>,
    keys: Vec<Block>,
    pub(crate) ext: SendCore,
    hbuf: Vec<Block>,
    payload: Vec<u8>,
    vtmp: Vec<u64>,
    btmp: Vec<u8>,
    /// OTs extended so far (tweak base of `send_rot`).
    pub(crate) counter: u64,
    /// Splits made so far (see `lanes`).
    pub(crate) lane_epoch: u64,
}

/// The IKNP receiver: holds two PRG streams per base OT.
pub struct IknpReceiver {
    k0: Vec<Block>,
    k1: Vec<Block>,
    pub(crate) ext: RecvCore,
    hbuf: Vec<Block>,
    payload: Vec<u8>,
    vtmp: Vec<u64>,
    pub(crate) counter: u64,
    pub(crate) lane_epoch: u64,
}

/// The packed choice bits of OTs `start..start + c` (`cb = ⌈c/128⌉` blocks).
fn choice_row(choices: &[u8], start: usize, c: usize, cb: usize, row: &mut [Block]) {
    pack_choice_bits(&choices[start..start + c], &mut row[..cb]);
}

impl IknpSender {
    /// Base-OT receiver with choices = the bits of a fresh random Δ.
    pub fn setup<C: Channel + ?Sized>(ch: &mut C, prg: &mut Prg) -> OtResult<Self> {
        let delta = prg.next_block();
        let s: Vec<bool> = (0..128).map(|i| delta.bit(i)).collect();
        let keys = base_ot_recv(ch, &s, prg)?;
        Ok(Self::from_keys(delta, keys))
    }

    pub(crate) fn from_keys(delta: Block, keys: Vec<Block>) -> Self {
        let s: Vec<bool> = (0..128).map(|i| delta.bit(i)).collect();
        IknpSender {
            delta,
            ext: SendCore::Iknp(ExtSender::new(128, &keys, &s)),
            s,
            keys,
            hbuf: vec![Block::ZERO; 2 * CHUNK],
            payload: Vec::new(),
            vtmp: Vec::new(),
            btmp: Vec::new(),
            counter: 0,
            lane_epoch: 0,
        }
    }

    pub(crate) fn base_keys(&self) -> (&[bool], &[Block]) {
        (&self.s, &self.keys)
    }

    /// The global correlation Δ.
    pub fn delta(&self) -> Block {
        self.delta
    }

    /// The COT source this session draws from.
    pub fn kind(&self) -> OtKind {
        self.ext.kind()
    }

    /// Switch this session's COT source from IKNP to `kind` (pairs with
    /// [`IknpReceiver::upgrade`]). SoftSpoken receives the receiver's tree messages; Ferret
    /// bootstraps its first LPN round from [`bootstrap_cots`](crate::ferret::bootstrap_cots)
    /// IKNP random COTs. Call it at most once, before any other call.
    pub fn upgrade<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        kind: OtKind,
        prg: &mut Prg,
    ) -> OtResult<()> {
        if self.kind() != OtKind::Iknp {
            return Err(OtError::InvalidArgument(
                "the OT source was already chosen".into(),
            ));
        }
        match kind {
            OtKind::Iknp => {}
            OtKind::SoftSpoken(k) => {
                self.ext = SendCore::Soft(SoftSender::setup(ch, k as u32, self.delta, &self.keys)?);
            }
            OtKind::Ferret => {
                let m = crate::ferret::bootstrap_cots();
                let mut q = vec![Block::ZERO; m];
                self.send_rcot(ch, m, &mut q)?;
                let f = FerretSender::new(self.delta, q, Prg::new(prg.next_block()))?;
                self.ext = SendCore::Ferret {
                    f: Box::new(f),
                    delta: self.delta,
                    q: Vec::new(),
                };
            }
        }
        Ok(())
    }

    /// Make `n` COTs available so that no later call blocks on a refill (Ferret runs and
    /// sends its LPN rounds here; other sources do nothing). Pairs with
    /// [`IknpReceiver::reserve`].
    pub fn reserve<C: Channel + ?Sized>(&mut self, ch: &mut C, n: usize) -> OtResult<RoundCost> {
        self.ext.reserve(ch, n)
    }

    /// Correlated OT with global Δ: `q[j]` such that the receiver holds `t_j = q_j ⊕ b_j·Δ`.
    /// Sends nothing (λ bits per OT from the receiver).
    pub fn send_cot_blocks<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        n: usize,
        q: &mut [Block],
    ) -> OtResult<()> {
        self.send_cot_blocks_opts(ch, n, OtOpts::default(), q)
    }

    /// [`send_cot_blocks`](Self::send_cot_blocks) with explicit options (`sci_padding`
    /// pads the columns).
    pub fn send_cot_blocks_opts<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        n: usize,
        opts: OtOpts,
        q: &mut [Block],
    ) -> OtResult<()> {
        check_len("q", n, q.len())?;
        self.ext.run_into(ch, n, opts, q)?;
        self.counter += n as u64;
        Ok(())
    }

    /// Random-choice correlated OT (pairs with [`IknpReceiver::recv_rcot`]); identical to
    /// [`send_cot_blocks`](Self::send_cot_blocks) on the sender's side.
    pub fn send_rcot<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        n: usize,
        q: &mut [Block],
    ) -> OtResult<()> {
        self.send_rcot_opts(ch, n, OtOpts::default(), q)
    }

    /// [`send_rcot`](Self::send_rcot) with explicit options (pairs with
    /// [`IknpReceiver::recv_rcot_opts`]).
    pub fn send_rcot_opts<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        n: usize,
        opts: OtOpts,
        q: &mut [Block],
    ) -> OtResult<()> {
        check_len("q", n, q.len())?;
        self.ext.rcot_into(ch, n, opts, q)?;
        self.counter += n as u64;
        Ok(())
    }

    /// Random OT: `m0[j] = H(q_j, i)`, `m1[j] = H(q_j ⊕ Δ, i)` (TCCR, tweak = running OT
    /// index `i`). Sends nothing.
    pub fn send_rot<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        n: usize,
        m0: &mut [Block],
        m1: &mut [Block],
    ) -> OtResult<()> {
        check_len("m0", n, m0.len())?;
        check_len("m1", n, m1.len())?;
        let delta = self.delta;
        let base = self.counter as u128;
        self.ext.run(ch, n, OtOpts::default(), |start, c, qt| {
            fixed_key().tccr_hash_pairs(
                &qt[..c],
                delta,
                base + start as u128,
                &mut m0[start..start + c],
                &mut m1[start..start + c],
            );
            Ok(())
        })?;
        self.counter += n as u64;
        Ok(())
    }

    /// SCI's l-bit COT: `out0[j]` = low l bits of `H(q_j)`; sends
    /// `(corr[j] + out0[j] + H(q_j ⊕ Δ)) mod 2^l`. The receiver gets
    /// `out0[j] + b_j·corr[j] mod 2^l`. λ + l bits per OT.
    pub fn send_cot<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        corr: &[u64],
        l: u32,
        opts: OtOpts,
        out0: &mut [u64],
    ) -> OtResult<()> {
        check_l(l)?;
        let n = corr.len();
        check_len("out0", n, out0.len())?;
        let m = mask(l);
        let delta = self.delta;
        let sci = opts.sci_padding;
        let IknpSender {
            ext, hbuf, payload, ..
        } = self;
        payload.clear();
        payload.reserve(cost::cot_payload(n as u64, l, opts) as usize);
        let mut w = BitWriter::new(payload);
        ext.run(ch, n, opts, |start, c, qt| {
            let (h0, h1) = hbuf[..2 * c].split_at_mut(c);
            fixed_key().cr_hash_pairs(&qt[..c], delta, h0, h1);
            for j in 0..c {
                let p0 = h0[j].lo() & m;
                let p1 = h1[j].lo();
                let g = start + j;
                out0[g] = p0;
                w.put(corr[g].wrapping_add(p0).wrapping_add(p1), l);
                if sci && (g + 1) % SCI_COT_BATCH as usize == 0 {
                    w.align(8);
                }
            }
            Ok(())
        })?;
        if sci {
            w.align(8)
        } else {
            w.finish()
        }
        debug_assert_eq!(payload.len() as u64, cost::cot_payload(n as u64, l, opts));
        send_payload(ch, payload)?;
        self.counter += n as u64;
        Ok(())
    }

    /// Chosen-message 1-of-2 OT with l-bit messages: sends `m0 ⊕ H(q_j)` and
    /// `m1 ⊕ H(q_j ⊕ Δ)` (low l bits). λ + 2l bits per OT.
    pub fn send_got<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        m0: &[u64],
        m1: &[u64],
        l: u32,
        opts: OtOpts,
    ) -> OtResult<()> {
        check_l(l)?;
        let n = m0.len();
        check_len("m1", n, m1.len())?;
        let delta = self.delta;
        let sci = opts.sci_padding;
        let word = sci_word(l) as usize;
        let IknpSender {
            ext, hbuf, payload, ..
        } = self;
        payload.clear();
        payload.reserve(cost::got_payload(n as u64, l, opts) as usize);
        let mut w = BitWriter::new(payload);
        ext.run(ch, n, opts, |start, c, qt| {
            let (h0, h1) = hbuf[..2 * c].split_at_mut(c);
            fixed_key().cr_hash_pairs(&qt[..c], delta, h0, h1);
            for j in 0..c {
                let g = start + j;
                w.put(m0[g] ^ h0[j].lo(), l);
                w.put(m1[g] ^ h1[j].lo(), l);
                if sci && (g + 1) % SCI_GOT_BATCH as usize == 0 {
                    w.align(word);
                }
            }
            Ok(())
        })?;
        if sci {
            w.align(word)
        } else {
            w.finish()
        }
        debug_assert_eq!(payload.len() as u64, cost::got_payload(n as u64, l, opts));
        send_payload(ch, payload)?;
        self.counter += n as u64;
        Ok(())
    }

    /// Batched COT (SiRNN matmul): `n = lens.len()` OTs; OT `j` carries `msgs` values of
    /// `lens[j]` bits. `out0[j*msgs + k]` is bits `[k·l, (k+1)·l)` of the pad stream
    /// `H(q_j ⊕ 0) ‖ H(q_j ⊕ 1) ‖ …`; the sender sends
    /// `((corr + out0) mod 2^l) ⊕ p1_k` where `p1` is the pad stream of `q_j ⊕ Δ`. The
    /// receiver gets `out0 + b_j·corr mod 2^l`.
    pub fn send_batched_cot<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        corr: &[u64],
        msgs: usize,
        lens: &[u32],
        opts: OtOpts,
        out0: &mut [u64],
    ) -> OtResult<()> {
        check_len("corr", lens.len() * msgs, corr.len())?;
        self.send_batched_cot_rows(
            ch,
            |g| &corr[g * msgs..(g + 1) * msgs],
            msgs,
            lens,
            opts,
            out0,
        )
    }

    /// [`send_batched_cot`](Self::send_batched_cot) with OT `g`'s `msgs` correlations given
    /// by `row(g)` (unreduced: each is taken modulo `2^lens[g]`), so a caller whose
    /// correlations are rows of a matrix it already holds passes them without copying.
    pub fn send_batched_cot_rows<'r, C: Channel + ?Sized, R: Fn(usize) -> &'r [u64]>(
        &mut self,
        ch: &mut C,
        row: R,
        msgs: usize,
        lens: &[u32],
        opts: OtOpts,
        out0: &mut [u64],
    ) -> OtResult<()> {
        let n = lens.len();
        check_len("out0", n * msgs, out0.len())?;
        let mut max_hb = 0;
        for &l in lens {
            check_l(l)?;
            max_hb = max_hb.max((msgs * l as usize).div_ceil(128));
        }
        let delta = self.delta;
        let sci = opts.sci_padding;
        let IknpSender {
            ext,
            hbuf,
            payload,
            vtmp,
            btmp,
            ..
        } = self;
        let cap = HASH_GROUP.max(2 * max_hb);
        if hbuf.len() < cap {
            hbuf.resize(cap, Block::ZERO);
        }
        payload.clear();
        payload.reserve(cost::batched_cot_payload(lens, msgs as u64, opts) as usize);
        let mut w = BitWriter::new(payload);
        ext.run(ch, n, opts, |start, c, qt| {
            let mut j = 0;
            while j < c {
                let g0 = j;
                let mut used = 0;
                while j < c {
                    let hb = (msgs * lens[start + j] as usize).div_ceil(128);
                    if used + 2 * hb > cap {
                        break;
                    }
                    let q = qt[j];
                    for h in 0..hb {
                        hbuf[used + h] = q ^ Block(h as u128);
                        hbuf[used + hb + h] = q ^ delta ^ Block(h as u128);
                    }
                    used += 2 * hb;
                    j += 1;
                }
                fixed_key().cr_hash(&mut hbuf[..used]);
                let mut off = 0;
                for jj in g0..j {
                    let g = start + jj;
                    let l = lens[g];
                    let m = mask(l);
                    let bits = msgs * l as usize;
                    let hb = bits.div_ceil(128);
                    let nb = bits.div_ceil(8);
                    let p0s = &hbuf[off..off + hb];
                    let p1s = &hbuf[off + hb..off + 2 * hb];
                    let o0 = &mut out0[g * msgs..(g + 1) * msgs];
                    let cr = row(g);
                    check_len("corr row", msgs, cr.len())?;
                    ring::unpack(&Block::slice_as_bytes(p0s)[..nb], l, o0);
                    vtmp.clear();
                    vtmp.extend(
                        cr.iter()
                            .zip(o0.iter())
                            .map(|(c, p)| c.wrapping_add(*p) & m),
                    );
                    put_padded(&mut w, vtmp, l, p1s, sci, btmp);
                    off += 2 * hb;
                }
            }
            Ok(())
        })?;
        w.finish();
        debug_assert_eq!(
            payload.len() as u64,
            cost::batched_cot_payload(lens, msgs as u64, opts)
        );
        send_payload(ch, payload)?;
        self.counter += n as u64;
        Ok(())
    }

    /// Batched chosen-message OT: OT `j` carries `msgs` pairs `(m0[j*msgs+k], m1[j*msgs+k])`
    /// of `l` bits, masked with the pad streams of `q_j` and `q_j ⊕ Δ`.
    pub fn send_batched_got<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        m0: &[u64],
        m1: &[u64],
        msgs: usize,
        l: u32,
        opts: OtOpts,
    ) -> OtResult<()> {
        check_l(l)?;
        if msgs == 0 {
            return Err(OtError::InvalidArgument(
                "batched GOT needs msgs >= 1".into(),
            ));
        }
        let n = m0.len() / msgs;
        check_len("m0", n * msgs, m0.len())?;
        check_len("m1", n * msgs, m1.len())?;
        let hb = (msgs * l as usize).div_ceil(128);
        let delta = self.delta;
        let sci = opts.sci_padding;
        let IknpSender {
            ext,
            hbuf,
            payload,
            btmp,
            ..
        } = self;
        let cap = HASH_GROUP.max(2 * hb);
        if hbuf.len() < cap {
            hbuf.resize(cap, Block::ZERO);
        }
        let per_group = cap / (2 * hb);
        payload.clear();
        payload.reserve(cost::batched_got_payload(n as u64, msgs as u64, l, opts) as usize);
        let mut w = BitWriter::new(payload);
        ext.run(ch, n, opts, |start, c, qt| {
            for g0 in (0..c).step_by(per_group) {
                let g1 = (g0 + per_group).min(c);
                let mut used = 0;
                for q in &qt[g0..g1] {
                    for h in 0..hb {
                        hbuf[used + h] = *q ^ Block(h as u128);
                        hbuf[used + hb + h] = *q ^ delta ^ Block(h as u128);
                    }
                    used += 2 * hb;
                }
                fixed_key().cr_hash(&mut hbuf[..used]);
                for jj in g0..g1 {
                    let off = (jj - g0) * 2 * hb;
                    let base = (start + jj) * msgs;
                    for (ms, ps) in [
                        (m0, &hbuf[off..off + hb]),
                        (m1, &hbuf[off + hb..off + 2 * hb]),
                    ] {
                        put_padded(&mut w, &ms[base..base + msgs], l, ps, sci, btmp);
                    }
                }
            }
            Ok(())
        })?;
        w.finish();
        debug_assert_eq!(
            payload.len() as u64,
            cost::batched_got_payload(n as u64, msgs as u64, l, opts)
        );
        send_payload(ch, payload)?;
        self.counter += n as u64;
        Ok(())
    }
}

impl IknpReceiver {
    /// Base-OT sender: 128 pairs of seeds.
    pub fn setup<C: Channel + ?Sized>(ch: &mut C, prg: &mut Prg) -> OtResult<Self> {
        let pairs = base_ot_send(ch, 128, prg)?;
        let k0: Vec<Block> = pairs.iter().map(|p| p.0).collect();
        let k1: Vec<Block> = pairs.iter().map(|p| p.1).collect();
        let own = Prg::new(prg.next_block());
        Ok(Self::from_keys(k0, k1, own))
    }

    pub(crate) fn from_keys(k0: Vec<Block>, k1: Vec<Block>, own: Prg) -> Self {
        IknpReceiver {
            ext: RecvCore::Iknp(ExtReceiver::new(128, &k0, &k1, own)),
            k0,
            k1,
            hbuf: vec![Block::ZERO; 2 * CHUNK],
            payload: Vec::new(),
            vtmp: Vec::new(),
            counter: 0,
            lane_epoch: 0,
        }
    }

    pub(crate) fn base_keys(&self) -> (&[Block], &[Block]) {
        (&self.k0, &self.k1)
    }

    /// The COT source this session draws from.
    pub fn kind(&self) -> OtKind {
        self.ext.kind()
    }

    /// Switch this session's COT source from IKNP to `kind` (pairs with
    /// [`IknpSender::upgrade`]).
    pub fn upgrade<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        kind: OtKind,
        prg: &mut Prg,
    ) -> OtResult<()> {
        if self.kind() != OtKind::Iknp {
            return Err(OtError::InvalidArgument(
                "the OT source was already chosen".into(),
            ));
        }
        match kind {
            OtKind::Iknp => {}
            OtKind::SoftSpoken(k) => {
                let s = SoftReceiver::setup(ch, k as u32, &self.k0, &self.k1, prg)?;
                self.ext = RecvCore::Soft {
                    s,
                    own: Prg::new(prg.next_block()),
                };
            }
            OtKind::Ferret => {
                let m = crate::ferret::bootstrap_cots();
                let mut t = vec![Block::ZERO; m];
                let mut ch01 = vec![0u8; m];
                self.recv_rcot(ch, m, &mut ch01, &mut t)?;
                let mut r = vec![0u64; m.div_ceil(64)];
                for (j, b) in ch01.iter().enumerate() {
                    r[j >> 6] |= ((b & 1) as u64) << (j & 63);
                }
                let f = FerretReceiver::new(t, r)?;
                self.ext = RecvCore::Ferret {
                    f: Box::new(f),
                    own: Prg::new(prg.next_block()),
                    t: Vec::new(),
                    r: Vec::new(),
                    row: Vec::new(),
                };
            }
        }
        Ok(())
    }

    /// Make `n` COTs available so that no later call blocks on a refill (pairs with
    /// [`IknpSender::reserve`]).
    pub fn reserve<C: Channel + ?Sized>(&mut self, ch: &mut C, n: usize) -> OtResult<RoundCost> {
        self.ext.reserve(ch, n)
    }

    pub(crate) fn own_prg(&mut self) -> &mut Prg {
        self.ext.own()
    }

    /// Correlated OT with chosen choices (`choices[j] & 1`): `t[j] = q_j ⊕ b_j·Δ`.
    pub fn recv_cot_blocks<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        choices: &[u8],
        t: &mut [Block],
    ) -> OtResult<()> {
        self.recv_cot_blocks_opts(ch, choices, OtOpts::default(), t)
    }

    /// [`recv_cot_blocks`](Self::recv_cot_blocks) with explicit options.
    pub fn recv_cot_blocks_opts<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        choices: &[u8],
        opts: OtOpts,
        t: &mut [Block],
    ) -> OtResult<()> {
        let n = choices.len();
        check_len("t", n, t.len())?;
        let IknpReceiver { ext, .. } = self;
        ext.run_into(
            ch,
            n,
            opts,
            |start, c, cb, u, _| {
                choice_row(choices, start, c, cb, u);
                Ok(())
            },
            t,
        )?;
        self.counter += n as u64;
        Ok(())
    }

    /// Random-choice correlated OT: the choices are drawn from this party's own PRG and
    /// written to `choices_out` (0 or 1); `t[j] = q_j ⊕ b_j·Δ`.
    pub fn recv_rcot<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        n: usize,
        choices_out: &mut [u8],
        t: &mut [Block],
    ) -> OtResult<()> {
        self.recv_rcot_opts(ch, n, OtOpts::default(), choices_out, t)
    }

    /// [`recv_rcot`](Self::recv_rcot) with explicit options.
    pub fn recv_rcot_opts<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        n: usize,
        opts: OtOpts,
        choices_out: &mut [u8],
        t: &mut [Block],
    ) -> OtResult<()> {
        check_len("choices_out", n, choices_out.len())?;
        check_len("t", n, t.len())?;
        self.ext.rcot_into(ch, n, opts, choices_out, t)?;
        self.counter += n as u64;
        Ok(())
    }

    /// Random OT with chosen choices: `out[j] = H(t_j, i)` = the sender's `m_{b_j}[j]`.
    pub fn recv_rot<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        choices: &[u8],
        out: &mut [Block],
    ) -> OtResult<()> {
        let n = choices.len();
        check_len("out", n, out.len())?;
        let base = self.counter as u128;
        let IknpReceiver { ext, .. } = self;
        ext.run(
            ch,
            n,
            OtOpts::default(),
            |start, c, cb, u, _| {
                choice_row(choices, start, c, cb, u);
                Ok(())
            },
            |start, c, tt| {
                fixed_key().tccr_hash_into(
                    &tt[..c],
                    &mut out[start..start + c],
                    base + start as u128,
                );
                Ok(())
            },
        )?;
        self.counter += n as u64;
        Ok(())
    }

    /// SCI's l-bit COT receiver: `out[j] = out0[j] + b_j·corr[j] mod 2^l`. One round trip:
    /// [`recv_cot_columns`](Self::recv_cot_columns) then
    /// [`recv_cot_finish`](Self::recv_cot_finish).
    pub fn recv_cot<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        choices: &[u8],
        l: u32,
        opts: OtOpts,
        out: &mut [u64],
    ) -> OtResult<()> {
        self.recv_cot_columns(ch, choices, l, opts, out)?;
        self.recv_cot_finish(ch, choices, l, opts, out)
    }

    /// The first half of [`recv_cot`](Self::recv_cot): extend and SEND the columns (it receives
    /// nothing), leaving the pads in `out`. A party that is also a sender in the same round
    /// runs its send between the two halves, so both directions share one round trip.
    pub fn recv_cot_columns<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        choices: &[u8],
        l: u32,
        opts: OtOpts,
        out: &mut [u64],
    ) -> OtResult<()> {
        check_l(l)?;
        let n = choices.len();
        check_len("out", n, out.len())?;
        let m = mask(l);
        let IknpReceiver { ext, hbuf, .. } = self;
        ext.run(
            ch,
            n,
            opts,
            |start, c, cb, u, _| {
                choice_row(choices, start, c, cb, u);
                Ok(())
            },
            |start, c, tt| {
                let h = &mut hbuf[..c];
                fixed_key().cr_hash_into(&tt[..c], h);
                for (o, x) in out[start..start + c].iter_mut().zip(h.iter()) {
                    *o = x.lo() & m;
                }
                Ok(())
            },
        )?;
        // the OTs are used up here (the finishing half only reads the payload)
        self.counter += n as u64;
        Ok(())
    }

    /// The second half of [`recv_cot`](Self::recv_cot): receive the payload and finish `out`.
    pub fn recv_cot_finish<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        choices: &[u8],
        l: u32,
        opts: OtOpts,
        out: &mut [u64],
    ) -> OtResult<()> {
        check_l(l)?;
        let n = choices.len();
        check_len("out", n, out.len())?;
        let m = mask(l);
        let payload = &mut self.payload;
        recv_payload(ch, cost::cot_payload(n as u64, l, opts) as usize, payload)?;
        let mut r = BitReader::new(payload);
        for j in 0..n {
            let y = r.get(l);
            out[j] = ct::select_u64(choices[j], out[j], y.wrapping_sub(out[j])) & m;
            if opts.sci_padding && (j + 1) % SCI_COT_BATCH as usize == 0 {
                r.align(8);
            }
        }
        Ok(())
    }

    /// Chosen-message 1-of-2 OT receiver: `out[j] = m_{b_j}[j]`.
    pub fn recv_got<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        choices: &[u8],
        l: u32,
        opts: OtOpts,
        out: &mut [u64],
    ) -> OtResult<()> {
        check_l(l)?;
        let n = choices.len();
        check_len("out", n, out.len())?;
        let m = mask(l);
        let word = sci_word(l) as usize;
        let IknpReceiver {
            ext, hbuf, payload, ..
        } = self;
        ext.run(
            ch,
            n,
            opts,
            |start, c, cb, u, _| {
                choice_row(choices, start, c, cb, u);
                Ok(())
            },
            |start, c, tt| {
                let h = &mut hbuf[..c];
                fixed_key().cr_hash_into(&tt[..c], h);
                for (o, x) in out[start..start + c].iter_mut().zip(h.iter()) {
                    *o = x.lo() & m;
                }
                Ok(())
            },
        )?;
        recv_payload(ch, cost::got_payload(n as u64, l, opts) as usize, payload)?;
        let mut r = BitReader::new(payload);
        for j in 0..n {
            let y0 = r.get(l);
            let y1 = r.get(l);
            out[j] ^= ct::select_u64(choices[j], y0, y1);
            if opts.sci_padding && (j + 1) % SCI_GOT_BATCH as usize == 0 {
                r.align(word);
            }
        }
        self.counter += n as u64;
        Ok(())
    }

    /// Batched COT receiver (see [`IknpSender::send_batched_cot`]). One round trip:
    /// [`recv_batched_cot_columns`](Self::recv_batched_cot_columns) then
    /// [`recv_batched_cot_finish`](Self::recv_batched_cot_finish).
    pub fn recv_batched_cot<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        choices: &[u8],
        msgs: usize,
        lens: &[u32],
        opts: OtOpts,
        out: &mut [u64],
    ) -> OtResult<()> {
        self.recv_batched_cot_columns(ch, choices, msgs, lens, opts, out)?;
        self.recv_batched_cot_finish(ch, choices, msgs, lens, opts, out)
    }

    /// The first half of [`recv_batched_cot`](Self::recv_batched_cot): extend and SEND the
    /// columns (it receives nothing), leaving the pads in `out` (see
    /// [`recv_cot_columns`](Self::recv_cot_columns)).
    pub fn recv_batched_cot_columns<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        choices: &[u8],
        msgs: usize,
        lens: &[u32],
        opts: OtOpts,
        out: &mut [u64],
    ) -> OtResult<()> {
        let n = choices.len();
        check_len("lens", n, lens.len())?;
        check_len("out", n * msgs, out.len())?;
        let mut max_hb = 0;
        for &l in lens {
            check_l(l)?;
            max_hb = max_hb.max((msgs * l as usize).div_ceil(128));
        }
        let cap = HASH_GROUP.max(max_hb);
        let IknpReceiver { ext, hbuf, .. } = self;
        if hbuf.len() < cap {
            hbuf.resize(cap, Block::ZERO);
        }
        ext.run(
            ch,
            n,
            opts,
            |start, c, cb, u, _| {
                choice_row(choices, start, c, cb, u);
                Ok(())
            },
            |start, c, tt| {
                let mut j = 0;
                while j < c {
                    let g0 = j;
                    let mut used = 0;
                    while j < c {
                        let hb = (msgs * lens[start + j] as usize).div_ceil(128);
                        if used + hb > cap {
                            break;
                        }
                        for h in 0..hb {
                            hbuf[used + h] = tt[j] ^ Block(h as u128);
                        }
                        used += hb;
                        j += 1;
                    }
                    fixed_key().cr_hash(&mut hbuf[..used]);
                    let mut off = 0;
                    for jj in g0..j {
                        let g = start + jj;
                        let l = lens[g];
                        let bits = msgs * l as usize;
                        let hb = bits.div_ceil(128);
                        let ps = &hbuf[off..off + hb];
                        ring::unpack(
                            &Block::slice_as_bytes(ps)[..bits.div_ceil(8)],
                            l,
                            &mut out[g * msgs..(g + 1) * msgs],
                        );
                        off += hb;
                    }
                }
                Ok(())
            },
        )?;
        self.counter += n as u64;
        Ok(())
    }

    /// The second half of [`recv_batched_cot`](Self::recv_batched_cot): receive the payload
    /// and finish `out`.
    pub fn recv_batched_cot_finish<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        choices: &[u8],
        msgs: usize,
        lens: &[u32],
        opts: OtOpts,
        out: &mut [u64],
    ) -> OtResult<()> {
        let n = choices.len();
        check_len("lens", n, lens.len())?;
        check_len("out", n * msgs, out.len())?;
        let IknpReceiver { payload, vtmp, .. } = self;
        recv_payload(
            ch,
            cost::batched_cot_payload(lens, msgs as u64, opts) as usize,
            payload,
        )?;
        let mut r = BitReader::new(payload);
        vtmp.resize(msgs, 0);
        for j in 0..n {
            let l = lens[j];
            let bits = msgs * l as usize;
            let o = &mut out[j * msgs..(j + 1) * msgs];
            // Unpack every row and XOR it in under the choice's mask: the same work for
            // either choice.
            let keep = ct::mask(choices[j]);
            if r.byte_aligned() && (opts.sci_padding || bits.is_multiple_of(8)) {
                let y = r.take_bytes(bits.div_ceil(8));
                ring::unpack(y, l, vtmp);
                ct::xor_masked(o, vtmp, keep);
            } else {
                for a in o.iter_mut() {
                    *a ^= r.get(l) & keep;
                }
            }
            if opts.sci_padding {
                r.align(1);
            }
        }
        Ok(())
    }

    /// Batched chosen-message OT receiver: `out[j*msgs + k] = m_{b_j}[j*msgs + k]`.
    pub fn recv_batched_got<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        choices: &[u8],
        msgs: usize,
        l: u32,
        opts: OtOpts,
        out: &mut [u64],
    ) -> OtResult<()> {
        check_l(l)?;
        if msgs == 0 {
            return Err(OtError::InvalidArgument(
                "batched GOT needs msgs >= 1".into(),
            ));
        }
        let n = choices.len();
        check_len("out", n * msgs, out.len())?;
        let hb = (msgs * l as usize).div_ceil(128);
        let cap = HASH_GROUP.max(hb);
        let per_group = cap / hb;
        let IknpReceiver {
            ext,
            hbuf,
            payload,
            vtmp,
            ..
        } = self;
        if hbuf.len() < cap {
            hbuf.resize(cap, Block::ZERO);
        }
        ext.run(
            ch,
            n,
            opts,
            |start, c, cb, u, _| {
                choice_row(choices, start, c, cb, u);
                Ok(())
            },
            |start, c, tt| {
                for g0 in (0..c).step_by(per_group) {
                    let g1 = (g0 + per_group).min(c);
                    let mut used = 0;
                    for t in &tt[g0..g1] {
                        for h in 0..hb {
                            hbuf[used + h] = *t ^ Block(h as u128);
                        }
                        used += hb;
                    }
                    fixed_key().cr_hash(&mut hbuf[..used]);
                    for jj in g0..g1 {
                        let ps = &hbuf[(jj - g0) * hb..(jj - g0 + 1) * hb];
                        let base = (start + jj) * msgs;
                        ring::unpack(
                            &Block::slice_as_bytes(ps)[..(msgs * l as usize).div_ceil(8)],
                            l,
                            &mut out[base..base + msgs],
                        );
                    }
                }
                Ok(())
            },
        )?;
        recv_payload(
            ch,
            cost::batched_got_payload(n as u64, msgs as u64, l, opts) as usize,
            payload,
        )?;
        let mut r = BitReader::new(payload);
        let bits = msgs * l as usize;
        let nb = bits.div_ceil(8);
        vtmp.resize(msgs, 0);
        for j in 0..n {
            let o = &mut out[j * msgs..(j + 1) * msgs];
            for side in 0..2u8 {
                // Both rows are unpacked; the chosen one is XORed in under the mask
                // (side = b exactly when b ⊕ side ⊕ 1 = 1).
                let keep = ct::mask(choices[j] ^ side ^ 1);
                if r.byte_aligned() && (opts.sci_padding || bits.is_multiple_of(8)) {
                    let y = r.take_bytes(nb);
                    ring::unpack(y, l, vtmp);
                    ct::xor_masked(o, vtmp, keep);
                } else {
                    for a in o.iter_mut() {
                        *a ^= r.get(l) & keep;
                    }
                }
                if opts.sci_padding {
                    r.align(1);
                }
            }
        }
        self.counter += n as u64;
        Ok(())
    }
}
