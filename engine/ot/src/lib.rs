//! `pq-ot`: the OT layer of PrivQuant-RS (base OT, IKNP, KKOT, lanes). It depends on
//! `pq-kernels` and `pq-netsim` only.
//!
//! * [`base`]: Chou–Orlandi "simplest" OT over Ristretto255 (the base OTs).
//! * [`iknp`]: semi-honest IKNP extension with a global Δ: random/correlated/chosen-message
//!   1-of-2 OTs, SCI's l-bit COT and GOT, and the batched (matmul) variants.
//! * [`kkot`]: 1-of-N OT (N = 2..=256) as SCI builds it (KK13 with a 256-bit Walsh–Hadamard
//!   code).
//! * [`matrix`]: the OT-extension matrix (columns, transpose, padding) that IKNP and KKOT share.
//! * [`bytes`]: exact byte counts of every call (with and without SCI's padding rules).
//! * [`lanes`]: k independent IKNP instances split from one base-OT setup, one thread each.
//! * [`pack`]: the bit-level wire packing used by all payloads.
//! * [`one_of_n`]: 1-of-N OT from ⌈log2 N⌉ COTs of the session's source (the cheaper
//!   alternative to KKOT on SoftSpoken and Ferret).
//! * [`source`]: where a session's COTs come from ([`OtKind`]: IKNP, SoftSpoken, Ferret).
//! * [`softspoken`]: SoftSpoken OT (small-field VOLE), ⌈128/k⌉ bits per OT.
//! * [`ferret`]: Ferret silent random COT (primal LPN, half-tree GGM single-point COTs).
//!
//! Every extension call is one round trip: the OT receiver sends its extension columns (in
//! chunk messages), the OT sender receives all of them, then sends its payload (if any).

pub mod base;
pub mod bytes;
pub mod ferret;
pub mod iknp;
pub mod kkot;
pub mod lanes;
pub mod matrix;
pub mod one_of_n;
pub mod pack;
pub mod softspoken;
pub mod source;

use pq_kernels::Block;
use pq_kernels::aes::Prg;
use pq_netsim::ChannelError;
use pq_netsim::channel::{Channel, Role};

pub use base::{base_ot_recv, base_ot_send};
pub use bytes::{OtBytes, sci_pad};
pub use iknp::{IknpReceiver, IknpSender};
pub use kkot::{KkotReceiver, KkotSender};
pub use source::OtKind;

/// Errors of the OT layer.
#[derive(thiserror::Error, Debug)]
pub enum OtError {
    /// The channel to the peer failed (closed, timed out, or a message of the wrong size).
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// The peer sent a group element that does not decode (non-canonical or invalid encoding)
    /// or is the identity where a non-identity point is required.
    #[error("the peer sent an invalid or non-canonical Ristretto point")]
    InvalidPoint,
    /// A choice value out of range (`>= n_choices`).
    #[error("choice {value} at index {index} is out of range for a 1-of-{n_choices} OT")]
    InvalidChoice {
        /// Position of the offending choice in the call's choice vector.
        index: usize,
        /// The choice value given.
        value: u8,
        /// N of the 1-of-N OT (valid choices are `0..N`).
        n_choices: usize,
    },
    /// A bit-width outside 1..=64.
    #[error("bit-width {0} is out of range (accepted: 1..=64)")]
    InvalidBitWidth(u32),
    /// A buffer of the wrong length.
    #[error("{what}: expected length {expected}, got {got}")]
    InvalidLength {
        /// Which argument (e.g. `"out"`, `"msgs"`).
        what: &'static str,
        /// The length the call requires, in elements.
        expected: usize,
        /// The length given, in elements.
        got: usize,
    },
    /// Any other invalid parameter.
    #[error("invalid OT parameter: {0}")]
    InvalidArgument(String),
    /// The operating system's random source (getrandom) failed, so no party PRG could be
    /// seeded; the message carries the OS error.
    #[error("the OS random source failed: {0}")]
    Randomness(String),
}

/// Result of every fallible OT-layer call.
pub type OtResult<T> = Result<T, OtError>;

/// Options that change what goes on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OtOpts {
    /// Reproduce SCI's bytes exactly (the `sirnn` profile): the extension columns are padded
    /// to [`sci_pad`]`(n)` OTs and payloads use SCI's per-batch word/byte packing (see
    /// [`bytes`]). Without it nothing is padded and payloads are packed densely.
    pub sci_padding: bool,
    /// The COT source the session was set up with (cost functions use it; the session's own
    /// source decides what runs). SCI padding applies to IKNP only.
    pub source: OtKind,
}

impl OtOpts {
    /// The `sirnn` profile's options.
    pub const SCI: OtOpts = OtOpts {
        sci_padding: true,
        source: OtKind::Iknp,
    };
    /// Dense packing, no padding.
    pub const DENSE: OtOpts = OtOpts {
        sci_padding: false,
        source: OtKind::Iknp,
    };
}

/// A PRG seeded from the operating system's randomness (getrandom). Every party's randomness
/// comes from here; deterministic seeds exist only in [`seeded_prg`] for tests and benchmarks.
///
/// # Errors
/// [`OtError::Randomness`] if the OS cannot provide the 16-byte seed.
pub fn try_os_prg() -> OtResult<Prg> {
    let mut seed = [0u8; 16];
    getrandom::fill(&mut seed).map_err(|e| OtError::Randomness(e.to_string()))?;
    Ok(Prg::new(Block::from_bytes(seed)))
}

/// [`try_os_prg`]; panics only if the operating system cannot provide randomness.
pub fn os_prg() -> Prg {
    #[allow(clippy::expect_used)]
    try_os_prg().expect("the operating system's random source failed")
}

/// A deterministic PRG, for tests and benchmarks only (never for a real party).
pub fn seeded_prg(seed: u64) -> Prg {
    Prg::new(Block::from_u64s(seed, 0x5eed_5eed_5eed_5eed))
}

/// Check that an OT message bit-width is in 1..=64.
pub fn check_l(l: u32) -> OtResult<()> {
    if (1..=64).contains(&l) {
        Ok(())
    } else {
        Err(OtError::InvalidBitWidth(l))
    }
}

pub(crate) fn check_len(what: &'static str, expected: usize, got: usize) -> OtResult<()> {
    if expected == got {
        Ok(())
    } else {
        Err(OtError::InvalidLength {
            what,
            expected,
            got,
        })
    }
}

/// All OT sessions of one party: IKNP and KKOT in both directions.
pub struct OtPack {
    /// This party as IKNP sender (the peer's `iknp_recv` is the other end).
    pub iknp_send: IknpSender,
    /// This party as IKNP receiver.
    pub iknp_recv: IknpReceiver,
    /// This party as KKOT sender.
    pub kkot_send: KkotSender,
    /// This party as KKOT receiver.
    pub kkot_recv: KkotReceiver,
    /// Bytes of the one-time setup (base OTs) in both directions together, as measured on
    /// this party's channel (sent + received). Excluded from protocol accounting; the
    /// traffic is also tagged `ot-setup` on the meter.
    pub setup_bytes: u64,
}

impl OtPack {
    /// Run the four setups in a fixed order both roles agree on:
    /// 1. server IKNP sender ↔ client IKNP receiver;
    /// 2. client IKNP sender ↔ server IKNP receiver;
    /// 3. server KKOT sender ↔ client KKOT receiver;
    /// 4. client KKOT sender ↔ server KKOT receiver.
    pub fn setup<C: Channel + ?Sized>(ch: &mut C, role: Role, prg: &mut Prg) -> OtResult<OtPack> {
        Self::setup_with(ch, role, prg, OtKind::Iknp)
    }

    /// [`setup`](Self::setup), then switch both COT sessions to `kind` (server-sends session
    /// first). The switch's traffic (SoftSpoken's trees, Ferret's IKNP bootstrap) is setup
    /// traffic too.
    pub fn setup_with<C: Channel + ?Sized>(
        ch: &mut C,
        role: Role,
        prg: &mut Prg,
        kind: OtKind,
    ) -> OtResult<OtPack> {
        let before = ch.meter().total();
        ch.push_tag("ot-setup");
        let r = Self::setup_inner(ch, role, prg).and_then(|(mut s, mut r, ks, kr)| {
            match role {
                Role::Server => {
                    s.upgrade(ch, kind, prg)?;
                    r.upgrade(ch, kind, prg)?;
                }
                Role::Client => {
                    r.upgrade(ch, kind, prg)?;
                    s.upgrade(ch, kind, prg)?;
                }
            }
            Ok((s, r, ks, kr))
        });
        ch.pop_tag();
        let (iknp_send, iknp_recv, kkot_send, kkot_recv) = r?;
        ch.flush()?;
        let d = ch.meter().total().since(&before);
        Ok(OtPack {
            iknp_send,
            iknp_recv,
            kkot_send,
            kkot_recv,
            setup_bytes: d.bytes_sent + d.bytes_recv,
        })
    }

    /// The COT source of both sessions.
    pub fn kind(&self) -> OtKind {
        self.iknp_send.kind()
    }

    /// Make COTs available for the next step so that none of its calls waits on a refill:
    /// `by_server` COTs of the session where the server is the COT sender, `by_client` of the
    /// other. Both parties call it with the same numbers; Ferret runs its LPN rounds here
    /// (server-sends session first). Returns the rounds run, per session.
    pub fn reserve<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        role: Role,
        by_server: u64,
        by_client: u64,
    ) -> OtResult<[ferret::RoundCost; 2]> {
        let (a, b) = (by_server as usize, by_client as usize);
        Ok(match role {
            Role::Server => {
                let x = self.iknp_send.reserve(ch, a)?;
                [x, self.iknp_recv.reserve(ch, b)?]
            }
            Role::Client => {
                let x = self.iknp_recv.reserve(ch, a)?;
                [x, self.iknp_send.reserve(ch, b)?]
            }
        })
    }

    fn setup_inner<C: Channel + ?Sized>(
        ch: &mut C,
        role: Role,
        prg: &mut Prg,
    ) -> OtResult<(IknpSender, IknpReceiver, KkotSender, KkotReceiver)> {
        Ok(match role {
            Role::Server => {
                let s = IknpSender::setup(ch, prg)?;
                let r = IknpReceiver::setup(ch, prg)?;
                let ks = KkotSender::setup(ch, prg)?;
                let kr = KkotReceiver::setup(ch, prg)?;
                (s, r, ks, kr)
            }
            Role::Client => {
                let r = IknpReceiver::setup(ch, prg)?;
                let s = IknpSender::setup(ch, prg)?;
                let kr = KkotReceiver::setup(ch, prg)?;
                let ks = KkotSender::setup(ch, prg)?;
                (s, r, ks, kr)
            }
        })
    }
}
