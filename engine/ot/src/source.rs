//! Correlated-OT sources: where the `q_j = t_j ⊕ b_j·Δ` correlations of every IKNP-style call
//! come from. One session (an [`IknpSender`](crate::IknpSender) /
//! [`IknpReceiver`](crate::IknpReceiver) pair) draws all its COTs from one source:
//!
//! * [`OtKind::Iknp`]: IKNP extension, 128 bits from the receiver per OT (SCI's, and the
//!   `sirnn`/`sirnn-quant` configurations always use it).
//! * [`OtKind::SoftSpoken`]`(k)`: SoftSpoken's small-field VOLE ([`crate::softspoken`]),
//!   ⌈128/k⌉ bits from the receiver per OT; k = 1 sends exactly IKNP's bytes.
//! * [`OtKind::Ferret`]: random COTs from Ferret's LPN rounds ([`crate::ferret`]),
//!   derandomised per call: the receiver sends `b ⊕ r`, one bit per OT, and the sender XORs
//!   Δ into `q_j` where that bit is set. Random-choice calls (`*_rcot`) send nothing.
//!
//! The payloads (the hashed, masked messages) do not depend on the source.

use crate::ferret::{FerretReceiver, FerretSender, RoundCost};
use crate::matrix::{CHUNK, ExtReceiver, ExtSender, MSG_OTS, bits_to_bytes01, unpack_choice_bits};
use crate::softspoken::{SoftReceiver, SoftSender};
use crate::{OtError, OtOpts, OtResult};
use pq_kernels::Block;
use pq_kernels::aes::Prg;
use pq_netsim::Channel;

/// Which COT source a session uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OtKind {
    /// IKNP (the default; SCI's).
    #[default]
    Iknp,
    /// SoftSpoken with `k` bits per small-field VOLE (1..=8).
    SoftSpoken(u8),
    /// Ferret (silent, LPN).
    Ferret,
}

impl OtKind {
    /// The command-line name: `iknp`, `softspoken:K`, `ferret`.
    pub fn name(self) -> String {
        match self {
            OtKind::Iknp => "iknp".into(),
            OtKind::SoftSpoken(k) => format!("softspoken:{k}"),
            OtKind::Ferret => "ferret".into(),
        }
    }

    /// Bytes the COT receiver sends for the columns (or corrections) of `n` chosen-choice
    /// COTs, without SCI padding.
    pub fn column_bytes(self, n: u64) -> u64 {
        match self {
            OtKind::Iknp => 16 * n,
            OtKind::SoftSpoken(k) => crate::softspoken::column_bytes(k as u32, n),
            OtKind::Ferret => n.div_ceil(8),
        }
    }

    /// Bytes the COT receiver sends for `n` random-choice COTs.
    pub fn rcot_column_bytes(self, n: u64) -> u64 {
        match self {
            OtKind::Ferret => 0,
            k => k.column_bytes(n),
        }
    }

    /// Whether COTs come from LPN rounds whose cost depends on the session's history.
    pub fn has_rounds(self) -> bool {
        matches!(self, OtKind::Ferret)
    }
}

impl std::fmt::Display for OtKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl std::str::FromStr for OtKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "iknp" => Ok(OtKind::Iknp),
            "ferret" => Ok(OtKind::Ferret),
            _ => match s.strip_prefix("softspoken:") {
                Some(k) => match k.parse::<u8>() {
                    Ok(k @ 1..=8) => Ok(OtKind::SoftSpoken(k)),
                    _ => Err(format!(
                        "'{s}': SoftSpoken's K must be an integer in 1..=8 (e.g. softspoken:4)"
                    )),
                },
                None => Err(format!(
                    "unknown OT source '{s}' (accepted: iknp, softspoken:K with K in 1..=8, ferret)"
                )),
            },
        }
    }
}

fn no_padding(opts: OtOpts, kind: OtKind) -> OtResult<()> {
    if opts.sci_padding && kind != OtKind::Iknp {
        return Err(OtError::InvalidArgument(format!(
            "SCI's padding rule applies to IKNP only, not to {kind}"
        )));
    }
    Ok(())
}

/// IKNP's choice-matrix callback from a choice-row callback `d`: the row `d` writes is XORed
/// into every one of the 128 rows of U.
fn iknp_rows<D>(mut d: D) -> impl FnMut(usize, usize, usize, &mut [Block], &mut Prg) -> OtResult<()>
where
    D: FnMut(usize, usize, usize, &mut [Block], &mut Prg) -> OtResult<()>,
{
    let mut row = vec![Block::ZERO; CHUNK / 128];
    move |start, c, cb, u, own| {
        d(start, c, cb, &mut row[..cb], own)?;
        for r in u.chunks_exact_mut(cb) {
            for (a, b) in r.iter_mut().zip(&row[..cb]) {
                a.0 ^= b.0;
            }
        }
        Ok(())
    }
}

/// The sender's COT source (it holds Δ).
pub(crate) enum SendCore {
    Iknp(ExtSender),
    Soft(SoftSender),
    Ferret {
        f: Box<FerretSender>,
        delta: Block,
        q: Vec<Block>,
    },
}

impl SendCore {
    pub(crate) fn kind(&self) -> OtKind {
        match self {
            SendCore::Iknp(_) => OtKind::Iknp,
            SendCore::Soft(s) => OtKind::SoftSpoken(s.k() as u8),
            SendCore::Ferret { .. } => OtKind::Ferret,
        }
    }

    /// Receive the columns (corrections) of `n` chosen-choice COTs; `f(start, c, q)` per chunk.
    pub(crate) fn run<C, F>(&mut self, ch: &mut C, n: usize, opts: OtOpts, mut f: F) -> OtResult<()>
    where
        C: Channel + ?Sized,
        F: FnMut(usize, usize, &[Block]) -> OtResult<()>,
    {
        no_padding(opts, self.kind())?;
        match self {
            SendCore::Iknp(e) => e.run(ch, n, opts, f),
            SendCore::Soft(s) => s.run(ch, n, f),
            SendCore::Ferret { f: fs, delta, q } => {
                let mut start = 0;
                let mut msg = Vec::new();
                let mut moff = 0;
                q.resize(CHUNK, Block::ZERO);
                while start < n {
                    let c = CHUNK.min(n - start);
                    if start % MSG_OTS == 0 {
                        // Run (and send) the rounds this group of corrections needs before
                        // waiting for it: the receiver's takes wait on those rounds before it
                        // sends the group, so a round run later would deadlock both.
                        let g = MSG_OTS.min(n - start);
                        fs.reserve(ch, g)?;
                        msg = ch.recv_exact_vec(g.div_ceil(8))?;
                        moff = 0;
                    }
                    let corr = &msg[moff..moff + c.div_ceil(8)];
                    moff += c.div_ceil(8);
                    fs.take(ch, &mut q[..c])?;
                    let d = delta.0;
                    for (j, x) in q[..c].iter_mut().enumerate() {
                        let bit = (corr[j >> 3] >> (j & 7)) & 1;
                        x.0 ^= d & 0u128.wrapping_sub(bit as u128);
                    }
                    f(start, c, &q[..c])?;
                    start += c;
                }
                Ok(())
            }
        }
    }

    /// [`run`](Self::run) writing `q_j` to `out[j]`.
    pub(crate) fn run_into<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        n: usize,
        opts: OtOpts,
        out: &mut [Block],
    ) -> OtResult<()> {
        match self {
            SendCore::Iknp(e) => e.run_into(ch, n, opts, out),
            _ => self.run(ch, n, opts, |start, c, q| {
                out[start..start + c].copy_from_slice(&q[..c]);
                Ok(())
            }),
        }
    }

    /// `n` random-choice COTs into `out` (Ferret sends nothing for them).
    pub(crate) fn rcot_into<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        n: usize,
        opts: OtOpts,
        out: &mut [Block],
    ) -> OtResult<()> {
        match self {
            SendCore::Ferret { f, .. } => {
                no_padding(opts, OtKind::Ferret)?;
                f.take(ch, &mut out[..n])
            }
            _ => self.run_into(ch, n, opts, out),
        }
    }

    /// Make `n` COTs available without blocking later (Ferret: run the rounds now).
    pub(crate) fn reserve<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        n: usize,
    ) -> OtResult<RoundCost> {
        match self {
            SendCore::Ferret { f, .. } => f.reserve(ch, n),
            _ => Ok(RoundCost::default()),
        }
    }
}

/// The receiver's COT source.
pub(crate) enum RecvCore {
    Iknp(ExtReceiver),
    Soft {
        s: SoftReceiver,
        own: Prg,
    },
    Ferret {
        f: Box<FerretReceiver>,
        own: Prg,
        t: Vec<Block>,
        r: Vec<u64>,
        row: Vec<Block>,
    },
}

impl RecvCore {
    pub(crate) fn kind(&self) -> OtKind {
        match self {
            RecvCore::Iknp(_) => OtKind::Iknp,
            RecvCore::Soft { s, .. } => OtKind::SoftSpoken(s.k() as u8),
            RecvCore::Ferret { .. } => OtKind::Ferret,
        }
    }

    /// The receiver's own PRG (random choices, SCI padding columns).
    pub(crate) fn own(&mut self) -> &mut Prg {
        match self {
            RecvCore::Iknp(e) => &mut e.own,
            RecvCore::Soft { own, .. } | RecvCore::Ferret { own, .. } => own,
        }
    }

    /// Send the columns (corrections) of `n` chosen-choice COTs. Per chunk,
    /// `d(start, c, cb, row, own)` writes the packed choice bits of the chunk into `row`
    /// (`cb = ⌈c/128⌉` blocks); then `f(start, c, t)`.
    pub(crate) fn run<C, D, F>(
        &mut self,
        ch: &mut C,
        n: usize,
        opts: OtOpts,
        mut d: D,
        mut f: F,
    ) -> OtResult<()>
    where
        C: Channel + ?Sized,
        D: FnMut(usize, usize, usize, &mut [Block], &mut Prg) -> OtResult<()>,
        F: FnMut(usize, usize, &[Block]) -> OtResult<()>,
    {
        no_padding(opts, self.kind())?;
        match self {
            RecvCore::Iknp(e) => e.run(ch, n, opts, iknp_rows(d), f),
            RecvCore::Soft { s, own } => s.run(
                ch,
                n,
                |start, c, row| {
                    let cb = c.div_ceil(128);
                    d(start, c, cb, &mut row[..cb], own)
                },
                f,
            ),
            RecvCore::Ferret {
                f: fr,
                own,
                t,
                r,
                row,
            } => {
                let mut start = 0;
                let mut msg: Vec<u8> = Vec::new();
                t.resize(CHUNK, Block::ZERO);
                r.resize(CHUNK / 64, 0);
                row.resize(CHUNK / 128, Block::ZERO);
                while start < n {
                    let c = CHUNK.min(n - start);
                    let cb = c.div_ceil(128);
                    if start % MSG_OTS == 0 {
                        msg = Vec::with_capacity(MSG_OTS.min(n - start).div_ceil(8));
                    }
                    fr.take(ch, &mut t[..c], &mut r[..])?;
                    d(start, c, cb, &mut row[..cb], own)?;
                    let bytes = Block::slice_as_bytes(&row[..cb]);
                    let rb: &[u8] = bytemuck::cast_slice(&r[..]);
                    msg.extend(bytes[..c.div_ceil(8)].iter().zip(rb).map(|(a, b)| a ^ b));
                    if !c.is_multiple_of(8)
                        && let Some(last) = msg.last_mut()
                    {
                        *last &= (1u8 << (c % 8)) - 1;
                    }
                    if (start + c).is_multiple_of(MSG_OTS) || start + c == n {
                        ch.send_vec(std::mem::take(&mut msg))?;
                    }
                    f(start, c, &t[..c])?;
                    start += c;
                }
                Ok(())
            }
        }
    }

    /// [`run`](Self::run) writing `t_j` to `out[j]`.
    pub(crate) fn run_into<C, D>(
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
        match self {
            RecvCore::Iknp(e) => e.run_into(ch, n, opts, iknp_rows(d), out),
            _ => self.run(ch, n, opts, d, |start, c, t| {
                out[start..start + c].copy_from_slice(&t[..c]);
                Ok(())
            }),
        }
    }

    /// `n` random-choice COTs: choices (0/1 bytes) and `t`. Ferret sends nothing for them;
    /// the other sources draw the choices from the receiver's own PRG.
    pub(crate) fn rcot_into<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        n: usize,
        opts: OtOpts,
        choices_out: &mut [u8],
        out: &mut [Block],
    ) -> OtResult<()> {
        match self {
            RecvCore::Ferret { f, r, .. } => {
                no_padding(opts, OtKind::Ferret)?;
                r.resize(n.div_ceil(64).max(1), 0);
                f.take(ch, &mut out[..n], r)?;
                let rb: &[u8] = bytemuck::cast_slice(&r[..]);
                for (o, b) in choices_out[..n].chunks_mut(8).zip(rb) {
                    let v = bits_to_bytes01(*b).to_le_bytes();
                    o.copy_from_slice(&v[..o.len()]);
                }
                Ok(())
            }
            _ => self.run_into(
                ch,
                n,
                opts,
                |start, c, cb, row, own| {
                    own.fill_blocks(&mut row[..cb]);
                    unpack_choice_bits(&row[..cb], &mut choices_out[start..start + c]);
                    Ok(())
                },
                out,
            ),
        }
    }

    /// Make `n` COTs available without blocking later (Ferret: receive the rounds now).
    pub(crate) fn reserve<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        n: usize,
    ) -> OtResult<RoundCost> {
        match self {
            RecvCore::Ferret { f, .. } => f.reserve(ch, n),
            _ => Ok(RoundCost::default()),
        }
    }
}
