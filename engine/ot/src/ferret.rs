//! Ferret: silent random correlated OT from primal LPN with regular noise (Yang, Weng, Lan,
//! Zhang, Wang, CCS 2020), semi-honest, with the half-tree single-point COT (Guo, Yang, Wang,
//! Zhang, Xie, Liu, Weng, EUROCRYPT 2023).
//!
//! Each LPN round with parameters `(t, k = 2^logk, d)` turns `M = k + t·d` base COTs (with
//! the global Δ of the IKNP sender) into `N = t·2^d` fresh COTs with the same Δ, keeps
//! `M'` of them as the next round's base and hands the rest out:
//! 1. **MPCOT with regular noise.** For every block `j < t` of `2^d` outputs the sender grows
//!    a correlated GGM tree: level 1 is `(s_j, s_j ⊕ Δ)` for a fresh random `s_j`, every node
//!    `x` has children `H(x)` and `x ⊕ H(x)` with the circular-correlation-robust hash
//!    `H(x) = π(σ(x)) ⊕ σ(x)` (π = fixed-key AES, σ a linear orthomorphism). Every level
//!    then XORs to Δ. For level `ℓ` the sender **sends one block**, `K⁰_ℓ ⊕ q_{j,ℓ}`, the XOR
//!    of that level's left children masked with one base COT. The receiver, whose base choice
//!    bit is `r_{j,ℓ}`, unmasks `K^{r}_ℓ` (since `K¹ = K⁰ ⊕ Δ`), so it learns every node off
//!    the path `α_j` with `α_{j,ℓ} = 1 − r_{j,ℓ}`: the noise position is random because the
//!    base choice bits are. At the leaves it sets `w_α = ⊕_{x ≠ α} w_x = v_α ⊕ Δ`.
//! 2. **Primal LPN.** Output `o` adds `lpn_d = 10` base values at indices drawn from a public
//!    PRG: the sender `q_o = v_o ⊕ ⊕ q_base[i]`, the receiver `t_o = w_o ⊕ ⊕ t_base[i]` and
//!    choice `r_o = e_o ⊕ ⊕ r_base[i]`, so `q_o = t_o ⊕ r_o·Δ`.
//!
//! Wire per round: `t·d` blocks from the sender, nothing from the receiver.
//!
//! **Order of work in a round.** The sender grows its trees (writing the leaves into the
//! round's output buffer), sends the level messages, then XORs the LPN code into the leaves.
//! The receiver's LPN code needs only the previous round's outputs, so it encodes first,
//! while the sender is still growing its trees, then reads the message, grows each tree in a
//! scratch of `2^d` blocks (in L2) and XORs its leaves into the encoded outputs. Both orders
//! give the same outputs (XOR commutes) and the same bytes; the receiver, the busier party,
//! never idles waiting for the sender's trees.
//!
//! **Parameters** (emp-ot `emp-ot/tuning.h`, chosen there for about 128-bit security against
//! the published regular-LPN attacks per the LPN estimator; see `docs/silent-ot.md`):
//! b10 = (850, 16, 10), b12 = (1520, 18, 12) (b11 and b13 are defined too). A session's
//! rounds run b10, then b12 for ever ([`round_params`]), so a session that needs a handful of
//! OTs pays one small round (136 KB), and a long session pays 0.39 bits per OT.
//!
//! **Bootstrap.** The first round's `M = 74,036` base COTs come from IKNP (one-time setup,
//! [`bootstrap_cots`]); every later round uses the previous round's output.
//!
//! **Refills** happen when a caller asks for more COTs than the buffer holds, in
//! [`FerretSender::reserve`] / [`FerretReceiver::reserve`]: the sender sends a round's
//! message, the receiver receives it. Both parties count the same way ([`FerretMeter`]), so
//! they refill at the same points and the cost functions know which request pays for a round.

use crate::{OtError, OtResult, check_len};
use pq_kernels::aes::{Prg, fixed_key};
use pq_kernels::{Block, ct};
use pq_netsim::Channel;

/// XOR positions per LPN output (the `d` of LPN(N, k, d)).
pub const LPN_D: usize = 10;

/// One primal-LPN parameter set: `t` noise blocks of `2^depth` outputs over a secret of
/// `2^log_k` base COTs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LpnParams {
    /// Number of GGM trees (noise weight).
    pub t: usize,
    /// log2 of the LPN secret length k.
    pub log_k: u32,
    /// Depth of each GGM tree (2^depth outputs per tree).
    pub depth: u32,
}

impl LpnParams {
    /// emp-ot's `ferret_b10`: N = 870,400.
    pub const B10: LpnParams = LpnParams {
        t: 850,
        log_k: 16,
        depth: 10,
    };
    /// emp-ot's `ferret_b11`: N = 2,396,160.
    pub const B11: LpnParams = LpnParams {
        t: 1170,
        log_k: 17,
        depth: 11,
    };
    /// emp-ot's `ferret_b12`: N = 6,225,920.
    pub const B12: LpnParams = LpnParams {
        t: 1520,
        log_k: 18,
        depth: 12,
    };
    /// emp-ot's `ferret_b13`: N = 15,564,800.
    pub const B13: LpnParams = LpnParams {
        t: 1900,
        log_k: 19,
        depth: 13,
    };
    /// LPN secret length k.
    pub const fn k(&self) -> usize {
        1 << self.log_k
    }
    /// Outputs per round, N = t·2^depth.
    pub const fn n(&self) -> usize {
        self.t << self.depth
    }
    /// Base COTs a round consumes, M = k + t·depth.
    pub const fn m(&self) -> usize {
        self.k() + self.t * self.depth as usize
    }
    /// Bytes the sender sends per round: one block per tree level.
    pub const fn round_bytes(&self) -> u64 {
        (self.t * self.depth as usize * 16) as u64
    }
}

/// The parameters of round `i` of a session: b10, then b12 for ever. (b13 sends 0.21 bits per
/// OT against b12's 0.39, but its 8 MiB LPN table, one per party, overflows this class of
/// machine's 8 MiB L3 and halves the throughput: at 200 Mbps the 0.18 bits per OT it saves
/// are worth far less than the time it costs.)
pub const fn round_params(i: u64) -> LpnParams {
    match i {
        0 => LpnParams::B10,
        _ => LpnParams::B12,
    }
}

/// COTs round `i` hands out (its outputs minus the next round's base).
pub const fn usable(i: u64) -> u64 {
    (round_params(i).n() - round_params(i + 1).m()) as u64
}

/// IKNP COTs of the one-time bootstrap (the first round's base).
pub const fn bootstrap_cots() -> usize {
    round_params(0).m()
}

/// Round accounting shared by both parties and the cost functions: how many rounds have run
/// and how many COTs are buffered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FerretMeter {
    /// Rounds run so far.
    pub rounds: u64,
    /// COTs buffered and not yet handed out.
    pub avail: u64,
}

/// What a [`FerretMeter::reserve`] costs: LPN rounds run and the sender's bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoundCost {
    /// LPN rounds run (each is one flight from the COT sender).
    pub rounds: u64,
    /// Bytes the COT sender sends.
    pub bytes: u64,
}

impl FerretMeter {
    /// Make at least `n` COTs available; returns the rounds this runs.
    pub fn reserve(&mut self, n: u64) -> RoundCost {
        let mut c = RoundCost::default();
        while self.avail < n {
            c.bytes += round_params(self.rounds).round_bytes();
            self.avail += usable(self.rounds);
            self.rounds += 1;
            c.rounds += 1;
        }
        c
    }
    /// Hand out `n` COTs (after [`reserve`](Self::reserve)); returns the rounds it needed.
    pub fn take(&mut self, n: u64) -> RoundCost {
        let c = self.reserve(n);
        self.avail -= n;
        c
    }
}

/// σ(x_L ‖ x_R) = (x_L ⊕ x_R ‖ x_L): a linear orthomorphism, so `π(σ(x)) ⊕ σ(x)` is
/// circular correlation robust (Guo–Katz–Wang–Yu 2020).
#[inline(always)]
fn sigma(x: Block) -> Block {
    Block::from_u64s(x.hi(), x.hi() ^ x.lo())
}

/// `tmp[i] = H(nodes[i])`, then expand in place: `nodes[2i] = tmp[i]`,
/// `nodes[2i+1] = nodes[i] ⊕ tmp[i]` for `i < m` (backwards, so nothing is overwritten
/// before it is read). Returns the XOR of the left children and of the right children.
fn expand_level(nodes: &mut [Block], m: usize, tmp: &mut [Block]) -> (Block, Block) {
    let tmp = &mut tmp[..m];
    for (t, x) in tmp.iter_mut().zip(nodes[..m].iter()) {
        *t = sigma(*x);
    }
    fixed_key().cr_hash(tmp);
    let (mut l, mut r) = (0u128, 0u128);
    for i in (0..m).rev() {
        let x = nodes[i].0;
        let h = tmp[i].0;
        nodes[2 * i] = Block(h);
        nodes[2 * i + 1] = Block(x ^ h);
        l ^= h;
        r ^= x ^ h;
    }
    (Block(l), Block(r))
}

/// Outputs whose LPN indices are generated at a time.
const LPN_CHUNK: usize = 1536;
/// How many outputs ahead the gathers are prefetched: far enough to cover an L3 miss, near
/// enough that the hints fit the core's outstanding-miss slots (a whole batch of hints at
/// once overflows them and most are dropped, worst when both parties share the L3).
const LPN_AHEAD: usize = 12;
/// Bits per index field: each 64-bit word of the stream gives three fields, so that an
/// output's ten indices cost 5/3 AES blocks rather than 5/2; `k ≤ 2^LPN_FIELD`.
const LPN_FIELD: u32 = 21;

/// The public index stream of round `round`: AES-CTR under a round-derived public key, each
/// 64-bit little-endian word cut into three 21-bit fields (low first), each field masked to
/// `log_k` bits. Output `o` of the round takes fields `o·LPN_D .. (o+1)·LPN_D`.
struct LpnStream {
    prg: Prg,
    words: Vec<Block>,
    mask: u32,
}

impl LpnStream {
    fn new(round: u64, p: LpnParams) -> Self {
        debug_assert!(p.log_k <= LPN_FIELD);
        LpnStream {
            prg: Prg::new(Block::from_u64s(round, 0x4665_7272_6574_4c50)),
            words: Vec::new(),
            mask: (p.k() - 1) as u32,
        }
    }
    /// The next `out.len()` fields (a multiple of six: whole blocks).
    fn fill(&mut self, out: &mut [u32]) {
        debug_assert_eq!(out.len() % 6, 0);
        self.words.resize(out.len() / 6, Block::ZERO);
        self.prg.fill_blocks(&mut self.words);
        let m = self.mask as u64;
        for (b, o) in self.words.iter().zip(out.chunks_exact_mut(6)) {
            let (lo, hi) = (b.lo(), b.hi());
            o[0] = (lo & m) as u32;
            o[1] = ((lo >> LPN_FIELD) & m) as u32;
            o[2] = ((lo >> (2 * LPN_FIELD)) & m) as u32;
            o[3] = (hi & m) as u32;
            o[4] = ((hi >> LPN_FIELD) & m) as u32;
            o[5] = ((hi >> (2 * LPN_FIELD)) & m) as u32;
        }
    }
}

/// Walk the public LPN matrix of round `round` ([`LpnStream`]): call `row(o, indices)` for
/// each output `o < n`, after prefetching `base` at the indices of output `o + ahead`
/// (`ahead` is a multiple of 3, so that the chunks of generated indices stay whole AES
/// blocks; the rounds use [`LPN_AHEAD`]).
fn lpn_rows_ahead<T>(
    round: u64,
    p: LpnParams,
    n: usize,
    base: &[T],
    ahead: usize,
    mut row: impl FnMut(usize, &[u32; LPN_D]),
) {
    const { assert!((LPN_CHUNK * LPN_D).is_multiple_of(6) && (LPN_AHEAD * LPN_D).is_multiple_of(6)) };
    debug_assert!((ahead * LPN_D).is_multiple_of(6));
    let mut stream = LpnStream::new(round, p);
    // Indices of outputs [start, start + LPN_CHUNK + ahead).
    let mut idx = vec![[0u32; LPN_D]; LPN_CHUNK + ahead];
    stream.fill(idx.as_flattened_mut());
    let mut start = 0;
    while start < n {
        for (j, next) in (start..n.min(start + LPN_CHUNK)).zip(&idx[ahead..]) {
            for &i in next {
                prefetch(base, i as usize);
            }
            row(j, &idx[j - start]);
        }
        start += LPN_CHUNK;
        if start < n {
            idx.copy_within(LPN_CHUNK.., 0);
            stream.fill(idx[ahead..].as_flattened_mut());
        }
    }
}

/// Hint the cache to load `base[i]` (no effect on other targets).
#[inline(always)]
fn prefetch<T>(base: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = base.get(i) {
        // SAFETY: prefetching is a hint; the address is in bounds of `base`.
        unsafe {
            core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                (x as *const T).cast::<i8>(),
            )
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (base, i);
}

/// `out[o] ^= ⊕_i base[idx(o, i)]` for every output `o`.
fn lpn_blocks(round: u64, p: LpnParams, base: &[Block], out: &mut [Block]) {
    lpn_blocks_ahead(round, p, base, out, LPN_AHEAD)
}

/// [`lpn_blocks`] with the prefetch distance `ahead`.
fn lpn_blocks_ahead(round: u64, p: LpnParams, base: &[Block], out: &mut [Block], ahead: usize) {
    lpn_rows_ahead(round, p, out.len(), base, ahead, |o, id| {
        let mut acc = out[o].0;
        for &i in id {
            acc ^= base[i as usize].0;
        }
        out[o] = Block(acc);
    });
}

/// `out[o] = ⊕_i base[idx(o, i)]` (overwriting `out`: the receiver encodes before its
/// trees' leaves are XORed in, into a buffer that may hold COTs already handed out) and
/// `bits[o] ^= ⊕_i rbase[idx(o, i)]` (`rbase` and `bits`: packed bits, 64 per word; the
/// base's bits are 32 KiB at most and stay in L1).
fn lpn_blocks_bits(
    round: u64,
    p: LpnParams,
    base: &[Block],
    rbase: &[u64],
    out: &mut [Block],
    bits: &mut [u64],
) {
    lpn_blocks_bits_ahead(round, p, base, rbase, out, bits, LPN_AHEAD)
}

/// [`lpn_blocks_bits`] with the prefetch distance `ahead`.
fn lpn_blocks_bits_ahead(
    round: u64,
    p: LpnParams,
    base: &[Block],
    rbase: &[u64],
    out: &mut [Block],
    bits: &mut [u64],
    ahead: usize,
) {
    let mut word = 0u64;
    let n = out.len();
    lpn_rows_ahead(round, p, n, base, ahead, |o, id| {
        let mut acc = 0u128;
        let mut b = 0u64;
        for &i in id {
            acc ^= base[i as usize].0;
            b ^= get_bit(rbase, i as usize);
        }
        out[o] = Block(acc);
        word |= b << (o & 63);
        if o & 63 == 63 || o + 1 == n {
            bits[o >> 6] ^= word;
            word = 0;
        }
    });
}

/// Ask the kernel to back `v` with transparent huge pages: the LPN gathers touch a table of
/// up to 8 MiB at random, and with 4 KiB pages nearly every gather misses the TLB.
fn huge_pages<T>(v: &[T]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let a = v.as_ptr() as usize;
        let len = std::mem::size_of_val(v);
        let start = a.next_multiple_of(HUGE);
        let end = (a + len) & !(HUGE - 1);
        if end > start {
            // SAFETY: madvise only advises on pages inside `v`'s allocation; it changes no
            // contents. Failure is harmless and ignored.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

/// Give `v` room for `n` blocks, on huge pages when it has to grow (contents kept).
fn reserve_huge(v: &mut Vec<Block>, n: usize) {
    if v.capacity() < n {
        let mut nv: Vec<Block> = Vec::with_capacity(n);
        huge_pages(nv.spare_capacity_mut());
        nv.extend_from_slice(v);
        *v = nv;
    }
}

/// Bit `i` of a packed bit vector.
#[inline(always)]
fn get_bit(v: &[u64], i: usize) -> u64 {
    (v[i >> 6] >> (i & 63)) & 1
}

/// The 64 bits of `src` from bit `pos` (bits past the end read as 0).
#[inline(always)]
fn word_at(src: &[u64], pos: usize) -> u64 {
    let (w, sh) = (pos >> 6, pos & 63);
    let lo = src.get(w).copied().unwrap_or(0) >> sh;
    if sh == 0 {
        lo
    } else {
        lo | src.get(w + 1).copied().unwrap_or(0) << (64 - sh)
    }
}

/// OR bits `src[from..from + n]` into `dst[at..at + n]` (those bits of `dst` must be clear).
fn or_bits(src: &[u64], from: usize, n: usize, dst: &mut [u64], at: usize) {
    let sh = at & 63;
    let mut k = 0;
    while k < n {
        let m = (n - k).min(64);
        let mut w = word_at(src, from + k);
        if m < 64 {
            w &= (1u64 << m) - 1;
        }
        let d = (at + k) >> 6;
        dst[d] |= w << sh;
        if sh + m > 64 {
            dst[d + 1] |= w >> (64 - sh);
        }
        k += m;
    }
}

/// Copy bits `src[from..from + n]` to `dst[0..n]` (dst words past `n` bits are cleared).
pub fn copy_bits(src: &[u64], from: usize, n: usize, dst: &mut [u64]) {
    dst.fill(0);
    or_bits(src, from, n, dst, 0);
}

/// Append bits `src[0..n]` to the bit vector `dst` that holds `len` bits.
fn append_bits(dst: &mut Vec<u64>, len: usize, src: &[u64], n: usize) {
    dst.truncate(len.div_ceil(64));
    if let Some(last) = dst.last_mut().filter(|_| !len.is_multiple_of(64)) {
        *last &= (1u64 << (len % 64)) - 1;
    }
    dst.resize((len + n).div_ceil(64).max(1), 0);
    or_bits(src, 0, n, dst, len);
}

/// The rounds a take has reserved ran out before the buffer held enough: the meter and the
/// buffer disagree (a bug, reported rather than looped on or papered over with extra rounds).
fn meter_mismatch() -> OtError {
    OtError::InvalidArgument("ferret: the round meter and the COT buffer disagree".into())
}

/// The COT sender's side of Ferret (holds Δ).
pub struct FerretSender {
    delta: Block,
    prg: Prg,
    meter: FerretMeter,
    /// The next round's base COTs.
    base: Vec<Block>,
    /// Buffered outputs `buf[pos..]`.
    buf: Vec<Block>,
    pos: usize,
    round_out: Vec<Block>,
    tmp: Vec<Block>,
    msg: Vec<u8>,
}

impl FerretSender {
    /// A sender from `bootstrap_cots()` base COTs `q` with correlation `delta` (from IKNP).
    pub fn new(delta: Block, base: Vec<Block>, prg: Prg) -> OtResult<Self> {
        check_len("ferret base", bootstrap_cots(), base.len())?;
        Ok(FerretSender {
            delta,
            prg,
            meter: FerretMeter::default(),
            base,
            buf: Vec::new(),
            pos: 0,
            round_out: Vec::new(),
            tmp: Vec::new(),
            msg: Vec::new(),
        })
    }

    /// The round accounting (rounds run, COTs buffered).
    pub fn meter(&self) -> FerretMeter {
        self.meter
    }

    /// Make at least `n` COTs available, running (and sending) LPN rounds as needed.
    pub fn reserve<C: Channel + ?Sized>(&mut self, ch: &mut C, n: usize) -> OtResult<RoundCost> {
        let first = self.meter.rounds;
        let c = self.meter.reserve(n as u64);
        for r in first..first + c.rounds {
            self.round(ch, r)?;
        }
        Ok(c)
    }

    /// Hand out `out.len()` COTs `q`. The rounds a refill needs run one at a time as the
    /// buffer empties (the same rounds, in the same order, as [`Self::reserve`] would run
    /// first), so a long take holds at most one round's outputs beyond what it hands out.
    pub fn take<C: Channel + ?Sized>(&mut self, ch: &mut C, out: &mut [Block]) -> OtResult<()> {
        let n = out.len();
        let first = self.meter.rounds;
        let end = first + self.meter.reserve(n as u64).rounds;
        let (mut next, mut done) = (first, 0);
        while done < n {
            if self.pos == self.buf.len() {
                if next == end {
                    return Err(meter_mismatch());
                }
                self.round(ch, next)?;
                next += 1;
            }
            let m = (self.buf.len() - self.pos).min(n - done);
            out[done..done + m].copy_from_slice(&self.buf[self.pos..self.pos + m]);
            self.pos += m;
            done += m;
        }
        if next != end {
            return Err(meter_mismatch());
        }
        self.meter.avail -= n as u64;
        Ok(())
    }

    /// Run one round: grow the trees, send the level messages, apply the LPN code.
    fn round<C: Channel + ?Sized>(&mut self, ch: &mut C, r: u64) -> OtResult<()> {
        let p = round_params(r);
        let next_m = round_params(r + 1).m();
        let (n, d, k) = (p.n(), p.depth as usize, p.k());
        debug_assert_eq!(self.base.len(), p.m());
        reserve_huge(&mut self.round_out, n);
        self.round_out.resize(n, Block::ZERO);
        self.tmp.resize(1 << (d - 1), Block::ZERO);
        self.msg.clear();
        self.msg.reserve(p.round_bytes() as usize);
        for (j, tree) in self.round_out.chunks_exact_mut(1 << d).enumerate() {
            let s = self.prg.next_block();
            tree[0] = s;
            tree[1] = s ^ self.delta;
            let q = &self.base[k + j * d..k + (j + 1) * d];
            self.msg.extend_from_slice(&(s ^ q[0]).to_bytes());
            for (lvl, qb) in q.iter().enumerate().skip(1) {
                let (left, _) = expand_level(tree, 1 << lvl, &mut self.tmp);
                self.msg.extend_from_slice(&(left ^ *qb).to_bytes());
            }
        }
        ch.send(&self.msg)?;
        lpn_blocks(r, p, &self.base[..k], &mut self.round_out);
        // Keep the next base, then the unused outputs followed by the new ones.
        self.base.clear();
        reserve_huge(&mut self.base, next_m);
        self.base.extend_from_slice(&self.round_out[n - next_m..]);
        if self.pos == self.buf.len() {
            std::mem::swap(&mut self.buf, &mut self.round_out);
            self.buf.truncate(n - next_m);
        } else {
            self.buf.drain(..self.pos);
            let want = self.buf.len() + n - next_m;
            reserve_huge(&mut self.buf, want);
            self.buf.extend_from_slice(&self.round_out[..n - next_m]);
        }
        self.pos = 0;
        Ok(())
    }
}

/// The COT receiver's side of Ferret: random choice bits `r` and `t = q ⊕ r·Δ`.
pub struct FerretReceiver {
    meter: FerretMeter,
    base_t: Vec<Block>,
    base_r: Vec<u64>,
    buf_t: Vec<Block>,
    buf_r: Vec<u64>,
    /// Bits held in `buf_r` (from bit 0).
    buf_bits: usize,
    pos: usize,
    round_t: Vec<Block>,
    round_r: Vec<u64>,
    /// One GGM tree being grown (`2^depth` blocks).
    tree: Vec<Block>,
    tmp: Vec<Block>,
    msg: Vec<u8>,
}

impl FerretReceiver {
    /// A receiver from `bootstrap_cots()` base COTs: `t` and the packed choice bits `r`.
    pub fn new(base_t: Vec<Block>, base_r: Vec<u64>) -> OtResult<Self> {
        check_len("ferret base", bootstrap_cots(), base_t.len())?;
        check_len(
            "ferret base bits",
            bootstrap_cots().div_ceil(64),
            base_r.len(),
        )?;
        Ok(FerretReceiver {
            meter: FerretMeter::default(),
            base_t,
            base_r,
            buf_t: Vec::new(),
            buf_r: Vec::new(),
            buf_bits: 0,
            pos: 0,
            round_t: Vec::new(),
            round_r: Vec::new(),
            tree: Vec::new(),
            tmp: Vec::new(),
            msg: Vec::new(),
        })
    }

    /// The round accounting (rounds run, COTs buffered).
    pub fn meter(&self) -> FerretMeter {
        self.meter
    }

    /// Make at least `n` COTs available, receiving LPN rounds as needed.
    pub fn reserve<C: Channel + ?Sized>(&mut self, ch: &mut C, n: usize) -> OtResult<RoundCost> {
        let first = self.meter.rounds;
        let c = self.meter.reserve(n as u64);
        for r in first..first + c.rounds {
            self.round(ch, r)?;
        }
        Ok(c)
    }

    /// Hand out `t.len()` COTs: `t` and their choice bits packed into `r` (bit j of the
    /// u64 stream = COT j; words past the last bit are cleared). Rounds run as the buffer
    /// empties, as in [`FerretSender::take`].
    pub fn take<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        t: &mut [Block],
        r: &mut [u64],
    ) -> OtResult<()> {
        let n = t.len();
        if r.len() < n.div_ceil(64) {
            return Err(OtError::InvalidLength {
                what: "r",
                expected: n.div_ceil(64),
                got: r.len(),
            });
        }
        let first = self.meter.rounds;
        let end = first + self.meter.reserve(n as u64).rounds;
        r.fill(0);
        let (mut next, mut done) = (first, 0);
        while done < n {
            if self.pos == self.buf_bits {
                if next == end {
                    return Err(meter_mismatch());
                }
                self.round(ch, next)?;
                next += 1;
            }
            let m = (self.buf_bits - self.pos).min(n - done);
            t[done..done + m].copy_from_slice(&self.buf_t[self.pos..self.pos + m]);
            or_bits(&self.buf_r, self.pos, m, r, done);
            self.pos += m;
            done += m;
        }
        if next != end {
            return Err(meter_mismatch());
        }
        self.meter.avail -= n as u64;
        Ok(())
    }

    /// Run one round. The LPN part needs only the previous round's outputs, so it runs
    /// first, while the sender is still growing its trees; then the sender's message is read
    /// and each tree's leaves (grown in a scratch tree of `2^d` blocks, in L2) are XORed in.
    fn round<C: Channel + ?Sized>(&mut self, ch: &mut C, r: u64) -> OtResult<()> {
        let p = round_params(r);
        let next_m = round_params(r + 1).m();
        let (n, d, k) = (p.n(), p.depth as usize, p.k());
        reserve_huge(&mut self.round_t, n);
        self.round_t.resize(n, Block::ZERO);
        self.round_r.clear();
        self.round_r.resize(n.div_ceil(64), 0);
        lpn_blocks_bits(
            r,
            p,
            &self.base_t[..k],
            &self.base_r,
            &mut self.round_t,
            &mut self.round_r,
        );
        let msg = ch.recv_exact_vec(p.round_bytes() as usize)?;
        self.msg = msg;
        self.tmp.resize(1 << (d - 1), Block::ZERO);
        self.tree.resize(1 << d, Block::ZERO);
        let tree = &mut self.tree[..];
        for (j, out) in self.round_t.chunks_exact_mut(1 << d).enumerate() {
            let lvl_msg = |l: usize| {
                let o = (j * d + l) * 16;
                let mut b = [0u8; 16];
                b.copy_from_slice(&self.msg[o..o + 16]);
                Block::from_bytes(b)
            };
            let bi = k + j * d;
            // The punctured path is secret (it is the receiver's choice): every node of a
            // level is read and written, the path's and its sibling's under masks, and no
            // memory address depends on the path.
            // Level 1.
            let r1 = get_bit(&self.base_r, bi) as u8;
            let k1 = lvl_msg(0) ^ self.base_t[bi];
            tree[0] = ct::select_block(r1, k1, Block::ZERO);
            tree[1] = ct::select_block(r1, Block::ZERO, k1);
            let mut path = 1 - r1 as u64;
            for lvl in 1..d {
                let m = 1 << lvl;
                let (l, rr) = expand_level(tree, m, &mut self.tmp);
                let rb = get_bit(&self.base_r, bi + lvl) as u8;
                let kr = lvl_msg(lvl) ^ self.base_t[bi + lvl];
                // The path node's children are junk: remove the side-rb one from the sum.
                let fix = kr ^ ct::select_block(rb, l, rr);
                // The path node's children are the pair `path`: the sibling (side rb) gets
                // `fix` XORed in, the new path node (side 1 − rb) is cleared.
                let (is_r, is_l) = (ct::mask_block(rb), ct::mask_block(1 - rb));
                let (fix_l, fix_r) = (fix & is_l, fix & is_r);
                for (i, pair) in tree[..2 * m].chunks_exact_mut(2).enumerate() {
                    let at = ct::widen(ct::eq_mask(i as u64, path));
                    pair[0] = (pair[0] ^ (fix_l & at)) & !(is_r & at);
                    pair[1] = (pair[1] ^ (fix_r & at)) & !(is_l & at);
                }
                path = 2 * path + (1 - rb as u64);
            }
            let mut sum = 0u128;
            for x in tree.iter() {
                sum ^= x.0;
            }
            // tree[path] is zero here: the sum goes there.
            for (i, (o, x)) in out.iter_mut().zip(tree.iter()).enumerate() {
                *o ^= *x ^ (Block(sum) & ct::widen(ct::eq_mask(i as u64, path)));
            }
            let g = ((j as u64) << d) + path;
            let (w0, w1) = ((j << d) >> 6, (((j + 1) << d) - 1) >> 6);
            for (w, word) in self.round_r[w0..=w1].iter_mut().enumerate() {
                *word ^= (1u64 << (g & 63)) & ct::eq_mask((w0 + w) as u64, g >> 6);
            }
        }
        // Keep the next base, then the unused outputs followed by the new ones.
        let users = n - next_m;
        self.base_t.clear();
        reserve_huge(&mut self.base_t, next_m);
        self.base_t.extend_from_slice(&self.round_t[users..]);
        self.base_r.clear();
        self.base_r.resize(next_m.div_ceil(64), 0);
        copy_bits(&self.round_r, users, next_m, &mut self.base_r);
        let keep = self.buf_bits - self.pos;
        if keep == 0 {
            std::mem::swap(&mut self.buf_t, &mut self.round_t);
            self.buf_t.truncate(users);
            std::mem::swap(&mut self.buf_r, &mut self.round_r);
            self.buf_r.truncate(users.div_ceil(64));
        } else {
            self.buf_t.drain(..self.pos);
            reserve_huge(&mut self.buf_t, keep + users);
            self.buf_t.extend_from_slice(&self.round_t[..users]);
            let mut kept = vec![0u64; keep.div_ceil(64)];
            copy_bits(&self.buf_r, self.pos, keep, &mut kept);
            append_bits(&mut kept, keep, &self.round_r, users);
            self.buf_r = kept;
        }
        self.buf_bits = keep + users;
        self.pos = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The LPN code written out plainly, field by field from the stream: what the prefetching
    /// encoders must equal.
    fn lpn_naive(
        round: u64,
        p: LpnParams,
        base: &[Block],
        rbase: &[u64],
        out: &mut [Block],
        bits: &mut [u64],
    ) {
        let n = out.len();
        let mut stream = LpnStream::new(round, p);
        let mut fields = vec![0u32; n.next_multiple_of(3) * LPN_D];
        stream.fill(&mut fields);
        for (o, row) in fields.chunks_exact(LPN_D).take(n).enumerate() {
            for &i in row {
                out[o] ^= base[i as usize];
                bits[o / 64] ^= get_bit(rbase, i as usize) << (o % 64);
            }
        }
    }

    fn random_table(k: usize, seed: u64) -> (Vec<Block>, Vec<u64>) {
        let mut prg = crate::seeded_prg(seed);
        let mut t = vec![Block::ZERO; k];
        prg.fill_blocks(&mut t);
        let r = (0..k.div_ceil(64)).map(|_| prg.next_u64()).collect();
        (t, r)
    }

    /// The encoders equal the plain one, bit for bit, at sizes around the chunk of generated
    /// indices (one output, a partial chunk, exactly one, one more, a whole b10 round) and at
    /// the prefetch distances the code can be tuned to.
    #[test]
    fn lpn_encoders_equal_plain_code() {
        let cases = [
            (LpnParams::B10, 1usize),
            (LpnParams::B10, 5),
            (LpnParams::B10, LPN_CHUNK - 1),
            (LpnParams::B10, LPN_CHUNK),
            (LpnParams::B10, LPN_CHUNK + 1),
            (LpnParams::B10, LpnParams::B10.n()),
            (LpnParams::B12, 2 * LPN_CHUNK + 77),
        ];
        for (round, (p, n)) in cases.into_iter().enumerate() {
            let round = round as u64 + 3;
            let (base, rbase) = random_table(p.k(), round);
            let mut prg = crate::seeded_prg(round + 100);
            let mut init = vec![Block::ZERO; n];
            prg.fill_blocks(&mut init);
            // The receiver's encoder overwrites its blocks: its reference starts from zero.
            let mut over = vec![Block::ZERO; n];
            lpn_naive(
                round,
                p,
                &base,
                &rbase,
                &mut over,
                &mut vec![0; n.div_ceil(64)],
            );
            let init_bits: Vec<u64> = (0..n.div_ceil(64)).map(|_| prg.next_u64()).collect();
            let (mut want, mut want_bits) = (init.clone(), init_bits.clone());
            lpn_naive(round, p, &base, &rbase, &mut want, &mut want_bits);
            for ahead in [LPN_AHEAD, 3, 48] {
                let mut got = init.clone();
                lpn_blocks_ahead(round, p, &base, &mut got, ahead);
                assert!(got == want, "blocks, {p:?}, n = {n}, ahead {ahead}");
                let (mut got, mut got_bits) = (init.clone(), init_bits.clone());
                lpn_blocks_bits_ahead(round, p, &base, &rbase, &mut got, &mut got_bits, ahead);
                assert!(
                    got == over,
                    "blocks with bits, {p:?}, n = {n}, ahead {ahead}"
                );
                assert_eq!(got_bits, want_bits, "bits, {p:?}, n = {n}, ahead {ahead}");
            }
        }
    }

    /// Thread CPU time of the LPN encoder alone: one b12 round per party on two threads at
    /// once (the two parties share the L3), best of 3, for each prefetch distance listed in
    /// `LPN_AHEADS` (default: the one in use). Ignored: it takes seconds and measures rather
    /// than checks. Run with
    /// `cargo test --release -p pq-ot --lib -- --ignored --nocapture lpn_timing`.
    #[test]
    #[ignore]
    fn lpn_timing() {
        let p = LpnParams::B12;
        let n = p.n();
        let aheads: Vec<usize> = std::env::var("LPN_AHEADS")
            .unwrap_or_else(|_| LPN_AHEAD.to_string())
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .filter(|a: &usize| a.is_multiple_of(3))
            .collect();
        let cpu = || {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `ts` is a valid timespec for the call to write.
            unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
            ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
        };
        let run = |ahead: usize, recv: bool| {
            let (base, rbase) = random_table(p.k(), 7);
            let mut out = vec![Block::ZERO; n];
            let mut bits = vec![0u64; n.div_ceil(64)];
            let mut best = f64::MAX;
            for _ in 0..3 {
                let t = cpu();
                if recv {
                    lpn_blocks_bits_ahead(1, p, &base, &rbase, &mut out, &mut bits, ahead);
                } else {
                    lpn_blocks_ahead(1, p, &base, &mut out, ahead);
                }
                best = best.min(cpu() - t);
            }
            best * 1e9 / n as f64
        };
        for ahead in aheads {
            let (a, b) = std::thread::scope(|s| {
                let a = s.spawn(|| run(ahead, false));
                let b = s.spawn(|| run(ahead, true));
                (a.join().unwrap(), b.join().unwrap())
            });
            println!("ahead {ahead}: sender {a:.1}, receiver {b:.1} ns of thread CPU per output");
        }
    }

    #[test]
    fn bit_copies() {
        let src: Vec<u64> = (0..10u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        for from in [0usize, 1, 63, 64, 65, 130] {
            for n in [0usize, 1, 63, 64, 65, 200] {
                let mut dst = vec![u64::MAX; 5];
                copy_bits(&src, from, n, &mut dst);
                for i in 0..n {
                    assert_eq!(get_bit(&dst, i), get_bit(&src, from + i));
                }
                for i in n..320 {
                    assert_eq!(get_bit(&dst, i), 0);
                }
                let mut app = Vec::new();
                append_bits(&mut app, 0, &src, 70);
                append_bits(&mut app, 70, &dst, n);
                for i in 0..n {
                    assert_eq!(get_bit(&app, 70 + i), get_bit(&src, from + i));
                }
                // Pieces at any offset, as a streaming take writes them.
                for at in [0usize, 5, 63, 64, 100] {
                    let mut out = vec![0u64; 6];
                    or_bits(&src, from, n, &mut out, at);
                    for i in 0..384 {
                        let want = if (at..at + n).contains(&i) {
                            get_bit(&src, from + i - at)
                        } else {
                            0
                        };
                        assert_eq!(get_bit(&out, i), want, "from {from} n {n} at {at} bit {i}");
                    }
                }
            }
        }
    }

    #[test]
    fn meter_rounds() {
        let mut m = FerretMeter::default();
        assert_eq!(m.take(0).rounds, 0);
        assert_eq!(m.take(1).rounds, 1);
        assert_eq!(m.avail, usable(0) - 1);
        let c = m.take(usable(0) + usable(1));
        assert_eq!(c.rounds, 2);
        assert_eq!(c.bytes, 2 * LpnParams::B12.round_bytes());
    }

    #[test]
    fn params_chain() {
        for i in 0..4 {
            assert!(round_params(i).n() > round_params(i + 1).m());
        }
        assert_eq!(LpnParams::B13.n(), 15_564_800);
        for p in [
            LpnParams::B10,
            LpnParams::B11,
            LpnParams::B12,
            LpnParams::B13,
        ] {
            assert!(p.log_k <= LPN_FIELD, "{p:?}: k above the index field");
        }
        assert_eq!(LpnParams::B10.m(), 74_036);
    }
}
