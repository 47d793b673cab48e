//! Semi-honest SoftSpoken OT extension (Roy, CRYPTO 2022) with `k` bits per small-field VOLE,
//! `k` in 1..=8. It produces IKNP's correlation with the same global Δ, so it can stand in for
//! the IKNP extension core: after a call, `q_j = t_j ⊕ b_j·Δ` for the receiver's choice `b_j`.
//! The receiver sends `⌈128/k⌉` bits per OT instead of IKNP's 128. `k = 1` is the IKNP
//! protocol (16 bytes per OT, no setup message), on re-keyed base keys (see below), so its
//! pads differ from those of an IKNP instance on the same base OTs.
//!
//! # Roles and base OTs
//! The extension sender S holds Δ and was the base-OT *receiver* with choice bits `Δ_i`
//! (`keys[i] = k_{Δ_i, i}`); the extension receiver R (the party with the choice bits) was the
//! base-OT *sender* and holds `k0[i]`, `k1[i]`, `i < 128`. Every base key is first re-keyed,
//! `D(key) = BLAKE3-derive-key("… SoftSpoken base seed v1", key ‖ session)[0..16]`, so the
//! SoftSpoken streams never coincide with an IKNP instance run on the same base OTs (the base
//! OTs of [`IknpSender::setup`](crate::IknpSender::setup) can feed both), and instances of
//! different `session` numbers are unrelated.
//!
//! # Setup: one punctured PRF per VOLE
//! Δ's bits are cut into `v = ⌈128/k⌉` VOLEs: VOLE `j` covers bits `j·k .. j·k + m_j` with
//! `m_j = min(k, 128 − j·k)` (only the last VOLE may be narrower). R builds a GGM tree of
//! depth `m_j` whose `2^{m_j}` leaves are the seeds `r_x`; a node at depth `d` is indexed by the
//! low `d` bits of its leaves' indices, and depth-`d` nodes fork on bit `d` (bit `d` of a leaf
//! index is Δ bit `j·k + d`). S learns every leaf except the one at index `p = Δ_j` (the `m_j`
//! bits of Δ the VOLE covers, bit `b` of `p` = Δ bit `j·k + b`), one base OT per tree level:
//! * level 0 (base OT `i = j·k`): the two depth-1 nodes are `N[x] = D(k_{1−x, i})`. S holds
//!   `D(k_{Δ_i, i}) = N[1 − Δ_i]`, the node off its path.
//! * level `d ≥ 1` (base OT `i = j·k + d`): each node `s` at depth `d` has children
//!   `(AES_s(0), AES_s(1))` (the PRG of [`Prg`]), placed at `v` and `v + 2^d`. With
//!   `K_0`, `K_1` the XORs of all left / right children, R sends `K_1 ⊕ D(k_{0,i})` then
//!   `K_0 ⊕ D(k_{1,i})`; S unmasks `K_{1−Δ_i}`, and with the children it can compute it
//!   recovers the child off its path.
//!
//! So the setup is one message R → S of [`setup_bytes`]`(k) = 32·(128 − v)` bytes (two blocks
//! per level ≥ 1, VOLE by VOLE, level by level), none for `k = 1`: the leaves are then the
//! re-keyed base keys themselves.
//!
//! # Extension, per chunk of `c ≤ CHUNK` OTs
//! Every leaf seeds its own AES-CTR stream (a [`MultiPrg`] per VOLE, keyed by the leaves);
//! the streams keep one running counter per instance, so no counter is ever reused across
//! calls. Each chunk takes the next `⌈c/128⌉` blocks (`n` bits, `G_x`) of every stream. R
//! computes `u_j = ⊕_x G_x` and the rows `V_j[b] = ⊕_{x: bit b of x} G_x` and sends
//! `c_j = u_j ⊕ choices` (`c` bits). S computes `W_j[b] = ⊕_{x ≠ p} (bit b of x ⊕ p)·G_x` and
//! `Q_j[b] = W_j[b] ⊕ Δ_{j·k+b}·c_j`. Since `W_j = V_j ⊕ Δ_j·u_j`, `Q_j[b] = V_j[b] ⊕
//! Δ_{j·k+b}·choices`: stacking the rows gives the 128 × c matrices T (R) and Q (S), and
//! transposing them gives `t_j`, `q_j` with `q_j = t_j ⊕ b_j·Δ`.
//!
//! The fold (both parties, per VOLE and chunk) reads every stream once: groups of up to 8
//! consecutive streams give the rows of the low index bits and one group sum each, and the
//! group sums, taken as streams, give the rows of the high bits (word-wise loops the compiler
//! vectorizes). S's slot for the leaf it does not know is never filled; it only reaches the
//! XOR of all streams, which S does not use.
//!
//! # Wire
//! Per call of `n` OTs R sends [`column_bytes`]`(k, n) = ⌈v·n/8⌉` bytes, in messages of
//! [`MSG_OTS`] OTs (the last one shorter), each the concatenation of its chunks; a chunk of
//! `c` OTs is `v` rows of `c` bits (row `j` = `c_j`, bit `i` = OT `start + i`) as one LSB-first
//! bit stream, with zero bits up to the next byte after the last row of the call (only the
//! last chunk of a call can be partial). S ignores those padding bits. Like the IKNP core,
//! [`SoftReceiver::run`] does not flush the channel; the setup does.
//!
//! Security (semi-honest): in the setup S unmasks only `K_{1−Δ_i}` per level, so the leaf at
//! `p = Δ_j` stays pseudorandom to it (standard GGM puncturing); R receives nothing. In the
//! extension `c_j = u_j ⊕ choices` where `u_j` contains the stream of that leaf, so the
//! corrections hide the choices. This is Roy's semi-honest subspace VOLE with the repetition
//! code, one VOLE per `k` bits of Δ. Every base-OT key is used once: as a depth-1 node
//! (level 0) or as the pad of one level's message.

use crate::matrix::{CHUNK, MSG_OTS};
use crate::pack::{pack_rows, unpack_rows};
use crate::{OtError, OtResult, check_len};
use pq_kernels::aes::{MultiPrg, Prg};
use pq_kernels::transpose::transpose_128xn;
use pq_kernels::{Block, ct};
use pq_netsim::Channel;

/// Blocks per 128-OT column group in a full chunk.
const CB: usize = CHUNK / 128;
/// Largest accepted `k`.
pub const MAX_K: u32 = 8;

const SEED_CONTEXT: &str = "PrivQuant-RS 2026-11 SoftSpoken base seed v1";

/// Number of VOLEs (bits sent per OT) for `k`.
fn vole_count(k: u32) -> usize {
    128usize.div_ceil(k as usize)
}

fn check_k(k: u32) -> OtResult<()> {
    if (1..=MAX_K).contains(&k) {
        Ok(())
    } else {
        Err(OtError::InvalidArgument(format!(
            "SoftSpoken k = {k} is out of range (accepted: 1..={MAX_K})"
        )))
    }
}

/// Bytes R sends for `n` OTs with parameter `k`: `⌈⌈128/k⌉·n/8⌉` (exact, what the channel
/// measures). The formula holds for any `k ≥ 1` (the protocol accepts 1..=8); `k = 0` gives 0.
/// For `k = 1` it is IKNP's `16·n`.
pub fn column_bytes(k: u32, n: u64) -> u64 {
    if k == 0 {
        return 0;
    }
    (vole_count(k) as u64 * n).div_ceil(8)
}

/// Bytes of the one-time setup message R → S: `32·(128 − ⌈128/k⌉)` (0 for `k = 1`;
/// 2048, 3072, 3584 for `k = 2, 4, 8`). `k = 0` gives 0.
pub fn setup_bytes(k: u32) -> u64 {
    if k == 0 {
        return 0;
    }
    32 * (128 - vole_count(k) as u64)
}

/// `D(key)`: the SoftSpoken re-keying of a base-OT key.
fn derive(key: Block, session: u64) -> Block {
    let mut h = blake3::Hasher::new_derive_key(SEED_CONTEXT);
    h.update(&key.to_bytes());
    h.update(&session.to_le_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(&h.finalize().as_bytes()[..16]);
    Block::from_bytes(k)
}

/// Expand the `h` nodes `nodes[..h]` (depth `d`, `h = 2^d`) into their `2h` children in
/// place: the children of node `v` go to `v` and `v + h`.
fn expand_level(nodes: &mut [Block], h: usize, tmp: &mut Vec<Block>) {
    tmp.clear();
    tmp.resize(2 * h, Block::ZERO);
    MultiPrg::new(&nodes[..h]).fill(2, tmp);
    for v in 0..h {
        nodes[v] = tmp[2 * v];
        nodes[v + h] = tmp[2 * v + 1];
    }
}

/// XOR of a slice of blocks.
fn xor_all(s: &[Block]) -> Block {
    s.iter().fold(Block::ZERO, |a, &b| a ^ b)
}

/// One VOLE: its rows of Δ and its leaf streams.
struct Vole {
    /// First row (Δ bit) it covers.
    row0: usize,
    /// Bits it covers (`m`).
    m: usize,
    /// R: the `2^m` leaf streams, stream `x` = leaf `x`. S: the `2^m − 1` known leaves,
    /// stream `y − 1` = leaf `y ⊕ p` for `y = 1..2^m`.
    prg: MultiPrg,
}

fn voles_layout(k: u32) -> impl Iterator<Item = (usize, usize)> {
    let k = k as usize;
    (0..vole_count(k as u32)).map(move |j| (j * k, k.min(128 - j * k)))
}

/// One group of `2^lo` streams (`lo` in 1..=3, stream `t` = `s[t*n..(t+1)*n]`, `n` words):
/// row `b < lo` (`rows[b*stride..][..n]`) gets the XOR of the streams with bit `b` of `t` set
/// (stored when `!ACC`, XORed in when `ACC`), and `sum` the XOR of all of them. Word-wise
/// loops over independent words, so LLVM vectorizes them.
fn group<const ACC: bool>(
    s: &[u64],
    lo: usize,
    n: usize,
    rows: &mut [u64],
    stride: usize,
    sum: &mut [u64],
) {
    #[inline(always)]
    fn put<const ACC: bool>(d: &mut u64, x: u64) {
        if ACC {
            *d ^= x;
        } else {
            *d = x;
        }
    }
    let sum = &mut sum[..n];
    match lo {
        1 => {
            let (v0, v1) = (&s[..n], &s[n..2 * n]);
            let r0 = &mut rows[..n];
            for j in 0..n {
                put::<ACC>(&mut r0[j], v1[j]);
                sum[j] = v0[j] ^ v1[j];
            }
        }
        2 => {
            let v: [&[u64]; 4] = core::array::from_fn(|t| &s[t * n..(t + 1) * n]);
            let (r0, r1) = rows.split_at_mut(stride);
            let (r0, r1) = (&mut r0[..n], &mut r1[..n]);
            for j in 0..n {
                let (a01, a23) = (v[0][j] ^ v[1][j], v[2][j] ^ v[3][j]);
                put::<ACC>(&mut r0[j], v[1][j] ^ v[3][j]);
                put::<ACC>(&mut r1[j], a23);
                sum[j] = a01 ^ a23;
            }
        }
        _ => {
            let v: [&[u64]; 8] = core::array::from_fn(|t| &s[t * n..(t + 1) * n]);
            let (r0, rest) = rows.split_at_mut(stride);
            let (r1, r2) = rest.split_at_mut(stride);
            let (r0, r1, r2) = (&mut r0[..n], &mut r1[..n], &mut r2[..n]);
            for j in 0..n {
                let a01 = v[0][j] ^ v[1][j];
                let a23 = v[2][j] ^ v[3][j];
                let a45 = v[4][j] ^ v[5][j];
                let a67 = v[6][j] ^ v[7][j];
                let hi = a45 ^ a67;
                put::<ACC>(&mut r0[j], v[1][j] ^ v[3][j] ^ v[5][j] ^ v[7][j]);
                put::<ACC>(&mut r1[j], a23 ^ a67);
                put::<ACC>(&mut r2[j], hi);
                sum[j] = a01 ^ a23 ^ hi;
            }
        }
    }
}

/// Fold `2^m` streams of `n` words (stream `x` = `s[x*n..(x+1)*n]`) into `m` rows
/// (`rows[b*stride..][..n]` = XOR of the streams whose index has bit `b` set) and `u` (XOR of
/// all). Groups of up to 8 consecutive streams give the low rows and one group sum each; the
/// group sums, as streams of their own, give the high rows (in `tmp`, `2^m/8 + 1` streams).
fn fold_words(
    s: &[u64],
    m: usize,
    n: usize,
    rows: &mut [u64],
    stride: usize,
    u: &mut [u64],
    tmp: &mut [u64],
) {
    let lo = m.min(3);
    let groups = 1usize << (m - lo);
    if groups == 1 {
        group::<false>(s, lo, n, rows, stride, u);
        return;
    }
    let (sums, rest) = tmp.split_at_mut(groups * n);
    let gl = n << lo;
    for (g, (src, sum)) in s.chunks_exact(gl).zip(sums.chunks_exact_mut(n)).enumerate() {
        if g == 0 {
            group::<false>(src, lo, n, rows, stride, sum);
        } else {
            group::<true>(src, lo, n, rows, stride, sum);
        }
    }
    fold_words(sums, m - lo, n, &mut rows[lo * stride..], stride, u, rest);
}

/// Fold the `2^m` streams of one VOLE (stream `x` = `buf[x*l..(x+1)*l]`, `l` blocks) into its
/// rows: `rows[b*stride + w]` (`b < m`, `w < l`) = XOR of block `w` of the streams whose index
/// has bit `b` set, and `u[w]` = XOR of block `w` of all streams. `tmp`: scratch of
/// [`fold_tmp_blocks`] blocks.
fn fold(
    buf: &[Block],
    l: usize,
    m: usize,
    rows: &mut [Block],
    stride: usize,
    u: &mut [Block],
    tmp: &mut [Block],
) {
    fold_words(
        bytemuck::cast_slice(&buf[..l << m]),
        m,
        2 * l,
        bytemuck::cast_slice_mut(rows),
        2 * stride,
        bytemuck::cast_slice_mut(&mut u[..l]),
        bytemuck::cast_slice_mut(tmp),
    )
}

/// Scratch blocks [`fold`] needs for `k` bits and `l` blocks per stream.
fn fold_tmp_blocks(k: u32, l: usize) -> usize {
    ((1usize << k) / 8 + 8) * l
}

/// Transpose the 128 rows of `cb` blocks each into `out` (`cb·128` blocks).
fn transpose_rows(rows: &[Block], cb: usize, out: &mut [Block]) {
    transpose_128xn(
        Block::slice_as_bytes(&rows[..128 * cb]),
        cb * 128,
        &mut out[..cb * 128],
    );
}

/// The SoftSpoken extension sender S: holds Δ and all leaves but one per VOLE.
pub struct SoftSender {
    k: u32,
    delta: Block,
    voles: Vec<Vole>,
    /// The streams of one VOLE for one chunk (`2^k · CB` blocks).
    buf: Vec<Block>,
    /// The (unused) XOR of all streams of a VOLE.
    ubuf: Vec<Block>,
    /// Scratch of the fold.
    tmp: Vec<Block>,
    /// Q rows (128 × CB).
    rows: Vec<Block>,
    /// The received `c_j` rows of a chunk (`v × CB`).
    crow: Vec<Block>,
    /// The current column message.
    msg: Vec<u8>,
    /// Transposed output of a chunk.
    qt: Vec<Block>,
    /// OTs extended so far.
    counter: u64,
}

/// The SoftSpoken extension receiver R: holds every leaf and the choice bits.
pub struct SoftReceiver {
    k: u32,
    voles: Vec<Vole>,
    /// The streams of one VOLE for one chunk (`2^k · CB` blocks).
    buf: Vec<Block>,
    /// Scratch of the fold.
    tmp: Vec<Block>,
    /// T rows (128 × CB).
    rows: Vec<Block>,
    /// The `c_j` rows of a chunk (`v × CB`).
    crow: Vec<Block>,
    /// Packed choice bits of a chunk (CB blocks).
    choice: Vec<Block>,
    /// The current column message.
    msg: Vec<u8>,
    /// Transposed output of a chunk.
    tt: Vec<Block>,
    /// OTs extended so far.
    counter: u64,
}

impl SoftSender {
    /// One-time setup: receives R's tree message (none for `k = 1`).
    /// `delta` = the IKNP sender's Δ; `keys[i]` its base-OT key for choice bit
    /// `delta.bit(i)`, `i < 128`. Same as [`setup_session`](Self::setup_session) with
    /// session 0.
    ///
    /// # Errors
    /// [`OtError::InvalidArgument`] if `k` is not in 1..=8, [`OtError::InvalidLength`] if
    /// `keys.len() != 128`, [`OtError::Channel`] if the tree message is missing or has the
    /// wrong size.
    pub fn setup<C: Channel + ?Sized>(
        ch: &mut C,
        k: u32,
        delta: Block,
        keys: &[Block],
    ) -> OtResult<Self> {
        Self::setup_session(ch, k, delta, keys, 0)
    }

    /// [`setup`](Self::setup) for session number `session`: instances with different
    /// session numbers on the same base OTs are independent (both parties must agree on it).
    pub fn setup_session<C: Channel + ?Sized>(
        ch: &mut C,
        k: u32,
        delta: Block,
        keys: &[Block],
        session: u64,
    ) -> OtResult<Self> {
        check_k(k)?;
        check_len("keys", 128, keys.len())?;
        let sb = setup_bytes(k) as usize;
        let mut tree_msg = vec![Block::ZERO; sb / 16];
        if sb > 0 {
            ch.recv(Block::slice_as_bytes_mut(&mut tree_msg))?;
        }
        let mut voles = Vec::with_capacity(vole_count(k));
        let mut nodes = vec![Block::ZERO; 1 << k];
        let mut tmp = Vec::new();
        let mut seeds = Vec::with_capacity(1 << k);
        let mut moff = 0;
        for (row0, m) in voles_layout(k) {
            let p = (0..m).fold(0usize, |a, b| a | ((delta.bit(row0 + b) as usize) << b));
            // depth 1: N[x] = D(k_{1−x}); S knows N[1 − p_0]
            let p0 = p & 1;
            nodes[1 - p0] = derive(keys[row0], session);
            nodes[p0] = Block::ZERO;
            for d in 1..m {
                let h = 1usize << d;
                let pl = p & (h - 1);
                expand_level(&mut nodes, h, &mut tmp);
                let bit = (p >> d) & 1;
                let side = 1 - bit;
                // R sent K_{1−b} ⊕ D(k_b) at position b; S holds k_{bit}.
                let k_side = tree_msg[moff + bit] ^ derive(keys[row0 + d], session);
                moff += 2;
                let known = (0..h)
                    .filter(|&v| v != pl)
                    .fold(Block::ZERO, |a, v| a ^ nodes[v + side * h]);
                nodes[pl + side * h] = k_side ^ known;
                nodes[pl + bit * h] = Block::ZERO;
            }
            seeds.clear();
            seeds.extend((1..1usize << m).map(|y| nodes[y ^ p]));
            voles.push(Vole {
                row0,
                m,
                prg: MultiPrg::new(&seeds),
            });
        }
        let v = voles.len();
        Ok(SoftSender {
            k,
            delta,
            voles,
            buf: vec![Block::ZERO; CB << k],
            tmp: vec![Block::ZERO; fold_tmp_blocks(k, CB)],
            ubuf: vec![Block::ZERO; CB],
            rows: vec![Block::ZERO; 128 * CB],
            crow: vec![Block::ZERO; v * CB],
            msg: Vec::with_capacity(column_bytes(k, MSG_OTS as u64) as usize),
            qt: vec![Block::ZERO; CHUNK],
            counter: 0,
        })
    }

    /// Bits per VOLE.
    pub fn k(&self) -> u32 {
        self.k
    }

    /// The global correlation Δ.
    pub fn delta(&self) -> Block {
        self.delta
    }

    /// OTs extended so far by this instance.
    pub fn counter(&self) -> u64 {
        self.counter
    }

    /// Receive the corrections of `n` OTs; for each chunk of `c ≤ CHUNK` OTs starting at OT
    /// `start`, call `f(start, c, q)` with `q[j]` (`j < c`) = `q_{start+j}`. No padding of
    /// any kind. Chunks come in order.
    ///
    /// # Errors
    /// [`OtError::Channel`] if a column message is missing or has the wrong size (truncated
    /// or too long); any error `f` returns (the call stops there, and the instance is then
    /// out of step with its peer).
    pub fn run<C: Channel + ?Sized, F: FnMut(usize, usize, &[Block]) -> OtResult<()>>(
        &mut self,
        ch: &mut C,
        n: usize,
        mut f: F,
    ) -> OtResult<()> {
        let nv = self.voles.len();
        let mut start = 0;
        let mut moff = 0;
        while start < n {
            let c = CHUNK.min(n - start);
            let cb = c.div_ceil(128);
            if start % MSG_OTS == 0 {
                let len = column_bytes(self.k, MSG_OTS.min(n - start) as u64) as usize;
                self.msg.resize(len, 0);
                ch.recv(&mut self.msg)?;
                moff = 0;
            }
            let cbytes = (nv * c).div_ceil(8);
            let part = self.msg.get(moff..moff + cbytes).ok_or_else(|| {
                OtError::InvalidArgument("SoftSpoken column message too short".into())
            })?;
            moff += cbytes;
            unpack_rows(part, nv, cb, c, &mut self.crow[..nv * cb])?;
            let rows = &mut self.rows[..128 * cb];
            for (j, vole) in self.voles.iter_mut().enumerate() {
                let buf = &mut self.buf[..cb << vole.m];
                // slot 0 (the leaf S does not know) only enters the unused XOR of all
                vole.prg.fill(cb, &mut buf[cb..]);
                let vr = &mut rows[vole.row0 * cb..(vole.row0 + vole.m) * cb];
                fold(buf, cb, vole.m, vr, cb, &mut self.ubuf, &mut self.tmp);
                let cj = &self.crow[j * cb..(j + 1) * cb];
                for b in 0..vole.m {
                    let r = vole.row0 + b;
                    // Δ is secret: XOR the row in under Δ_r's mask, never branch on it.
                    let keep = ct::mask_block(self.delta.bit(r) as u8);
                    ct::xor_masked_blocks(&mut rows[r * cb..(r + 1) * cb], cj, keep);
                }
            }
            transpose_rows(rows, cb, &mut self.qt);
            f(start, c, &self.qt[..c])?;
            start += c;
            self.counter += c as u64;
        }
        Ok(())
    }

    /// Correlated OT: write `q_j` to `q[j]` for `j < n` (`q.len() == n`).
    pub fn send_cot<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        n: usize,
        q: &mut [Block],
    ) -> OtResult<()> {
        check_len("q", n, q.len())?;
        self.run(ch, n, |start, c, qq| {
            q[start..start + c].copy_from_slice(qq);
            Ok(())
        })
    }
}

impl SoftReceiver {
    /// One-time setup: sends the tree message (none for `k = 1`) and flushes. `k0`/`k1`: the
    /// IKNP receiver's base-OT keys (128 each). `prg` is not consumed: the trees are derived from the base
    /// keys (the parameter keeps the call shaped like the IKNP receiver's setup). Same as
    /// [`setup_session`](Self::setup_session) with session 0.
    ///
    /// # Errors
    /// [`OtError::InvalidArgument`] if `k` is not in 1..=8, [`OtError::InvalidLength`] if
    /// `k0` or `k1` does not hold 128 keys, [`OtError::Channel`] if sending fails.
    pub fn setup<C: Channel + ?Sized>(
        ch: &mut C,
        k: u32,
        k0: &[Block],
        k1: &[Block],
        prg: &mut Prg,
    ) -> OtResult<Self> {
        Self::setup_session(ch, k, k0, k1, prg, 0)
    }

    /// [`setup`](Self::setup) for session number `session` (see
    /// [`SoftSender::setup_session`]).
    pub fn setup_session<C: Channel + ?Sized>(
        ch: &mut C,
        k: u32,
        k0: &[Block],
        k1: &[Block],
        _prg: &mut Prg,
        session: u64,
    ) -> OtResult<Self> {
        check_k(k)?;
        check_len("k0", 128, k0.len())?;
        check_len("k1", 128, k1.len())?;
        let mut tree_msg = Vec::with_capacity(setup_bytes(k) as usize / 16);
        let mut voles = Vec::with_capacity(vole_count(k));
        let mut nodes = vec![Block::ZERO; 1 << k];
        let mut tmp = Vec::new();
        for (row0, m) in voles_layout(k) {
            nodes[0] = derive(k1[row0], session);
            nodes[1] = derive(k0[row0], session);
            for d in 1..m {
                let h = 1usize << d;
                expand_level(&mut nodes, h, &mut tmp);
                let kl = xor_all(&nodes[..h]);
                let kr = xor_all(&nodes[h..2 * h]);
                let i = row0 + d;
                tree_msg.push(kr ^ derive(k0[i], session));
                tree_msg.push(kl ^ derive(k1[i], session));
            }
            voles.push(Vole {
                row0,
                m,
                prg: MultiPrg::new(&nodes[..1 << m]),
            });
        }
        debug_assert_eq!(tree_msg.len() * 16, setup_bytes(k) as usize);
        if !tree_msg.is_empty() {
            ch.send(Block::slice_as_bytes(&tree_msg))?;
            ch.flush()?;
        }
        let v = voles.len();
        Ok(SoftReceiver {
            k,
            voles,
            buf: vec![Block::ZERO; CB << k],
            tmp: vec![Block::ZERO; fold_tmp_blocks(k, CB)],
            rows: vec![Block::ZERO; 128 * CB],
            crow: vec![Block::ZERO; v * CB],
            choice: vec![Block::ZERO; CB],
            msg: Vec::with_capacity(column_bytes(k, MSG_OTS as u64) as usize),
            tt: vec![Block::ZERO; CHUNK],
            counter: 0,
        })
    }

    /// Bits per VOLE.
    pub fn k(&self) -> u32 {
        self.k
    }

    /// OTs extended so far by this instance.
    pub fn counter(&self) -> u64 {
        self.counter
    }

    /// Send the corrections of `n` OTs. For each chunk of `c ≤ CHUNK` OTs starting at OT
    /// `start`: first `d(start, c, row)` must write the packed choice bits of OTs
    /// `start..start+c` into `row` (`⌈c/128⌉` blocks, bit `j` = OT `start+j`, as
    /// [`pack_choice_bits`](crate::matrix::pack_choice_bits) packs them); then
    /// `f(start, c, t)` receives `t[j]` (`j < c`) = `t_{start+j}`. `row` is zeroed before `d`
    /// is called and bits past `c` are never sent, so they may hold anything.
    ///
    /// # Errors
    /// [`OtError::Channel`] if sending fails; any error `d` or `f` returns (the call stops
    /// there, and the instance is then out of step with its peer).
    pub fn run<C, D, F>(&mut self, ch: &mut C, n: usize, mut d: D, mut f: F) -> OtResult<()>
    where
        C: Channel + ?Sized,
        D: FnMut(usize, usize, &mut [Block]) -> OtResult<()>,
        F: FnMut(usize, usize, &[Block]) -> OtResult<()>,
    {
        let nv = self.voles.len();
        let mut start = 0;
        self.msg.clear();
        while start < n {
            let c = CHUNK.min(n - start);
            let cb = c.div_ceil(128);
            let choice = &mut self.choice[..cb];
            choice.fill(Block::ZERO);
            d(start, c, choice)?;
            let rows = &mut self.rows[..128 * cb];
            for (j, vole) in self.voles.iter_mut().enumerate() {
                let buf = &mut self.buf[..cb << vole.m];
                vole.prg.fill(cb, buf);
                let vr = &mut rows[vole.row0 * cb..(vole.row0 + vole.m) * cb];
                let cj = &mut self.crow[j * cb..(j + 1) * cb];
                fold(buf, cb, vole.m, vr, cb, cj, &mut self.tmp);
                for (o, b) in cj.iter_mut().zip(choice.iter()) {
                    o.0 ^= b.0;
                }
            }
            if c.is_multiple_of(128) {
                self.msg
                    .extend_from_slice(Block::slice_as_bytes(&self.crow[..nv * cb]));
            } else {
                pack_rows(&self.crow, nv, cb, c, &mut self.msg);
            }
            if (start + c).is_multiple_of(MSG_OTS) || start + c == n {
                ch.send(&self.msg)?;
                self.msg.clear();
            }
            transpose_rows(rows, cb, &mut self.tt);
            f(start, c, &self.tt[..c])?;
            start += c;
            self.counter += c as u64;
        }
        Ok(())
    }

    /// Correlated OT with chosen choices (`choices[j]` ∈ {0, 1}, bit 0 used): write `t_j` to
    /// `t[j]` (`t.len() == choices.len()`); the sender's `q_j = t_j ⊕ b_j·Δ`.
    pub fn recv_cot<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        choices: &[u8],
        t: &mut [Block],
    ) -> OtResult<()> {
        let n = choices.len();
        check_len("t", n, t.len())?;
        self.run(
            ch,
            n,
            |start, c, row| {
                crate::matrix::pack_choice_bits(&choices[start..start + c], row);
                Ok(())
            },
            |start, c, tt| {
                t[start..start + c].copy_from_slice(tt);
                Ok(())
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeded_prg;
    use pq_netsim::mem_pair;

    /// The fold against its definition, for every `m` and odd stream lengths.
    #[test]
    fn fold_matches_definition() {
        let mut prg = seeded_prg(1);
        for m in 1..=8usize {
            for l in [1usize, 3, 32] {
                let mut buf = vec![Block::ZERO; l << m];
                prg.fill_blocks(&mut buf);
                let stride = l + 2;
                let mut rows = vec![Block::ONES; m * stride];
                let mut u = vec![Block::ONES; l];
                let mut tmp = vec![Block::ONES; fold_tmp_blocks(m as u32, l)];
                fold(&buf, l, m, &mut rows, stride, &mut u, &mut tmp);
                for w in 0..l {
                    let col = |x: usize| buf[x * l + w];
                    let all = (0..1 << m).fold(Block::ZERO, |a, x| a ^ col(x));
                    assert_eq!(u[w], all, "m={m} l={l} w={w}");
                    for b in 0..m {
                        let want = (0..1usize << m)
                            .filter(|x| (x >> b) & 1 == 1)
                            .fold(Block::ZERO, |a, x| a ^ col(x));
                        assert_eq!(rows[b * stride + w], want, "m={m} l={l} b={b} w={w}");
                    }
                }
                // the gap between rows is untouched
                for b in 0..m {
                    assert!(
                        rows[b * stride + l..(b + 1) * stride]
                            .iter()
                            .all(|x| *x == Block::ONES)
                    );
                }
            }
        }
    }

    /// After the setup S holds every leaf but the one at `Δ_j`, in the documented order.
    #[test]
    fn sender_knows_all_leaves_but_the_punctured_one() {
        for k in 1..=8u32 {
            let mut prg = seeded_prg(10 + k as u64);
            let delta = prg.next_block();
            let k0: Vec<Block> = (0..128).map(|_| prg.next_block()).collect();
            let k1: Vec<Block> = (0..128).map(|_| prg.next_block()).collect();
            let keys: Vec<Block> = (0..128)
                .map(|i| if delta.bit(i) { k1[i] } else { k0[i] })
                .collect();
            let (mut a, mut b) = mem_pair();
            let (mut s, mut r) = std::thread::scope(|sc| {
                let h = sc.spawn(|| SoftSender::setup(&mut a, k, delta, &keys).unwrap());
                let r = SoftReceiver::setup(&mut b, k, &k0, &k1, &mut prg).unwrap();
                (h.join().unwrap(), r)
            });
            assert_eq!(s.voles.len(), vole_count(k));
            for (vs, vr) in s.voles.iter_mut().zip(r.voles.iter_mut()) {
                let m = vs.m;
                let p = (0..m).fold(0, |a, b| a | ((delta.bit(vs.row0 + b) as usize) << b));
                let mut os = vec![Block::ZERO; (1 << m) - 1];
                let mut or = vec![Block::ZERO; 1 << m];
                vs.prg.fill(1, &mut os);
                vr.prg.fill(1, &mut or);
                for y in 1..1usize << m {
                    assert_eq!(os[y - 1], or[y ^ p], "k={k} row0={} y={y}", vs.row0);
                }
                assert!(!os.contains(&or[p]), "k={k}: S knows the punctured leaf");
            }
        }
    }
}
