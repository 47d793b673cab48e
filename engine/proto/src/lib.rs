//! `pq-proto`: the two-party protocols of PrivQuant-RS, each with `run` and `cost`, and what
//! they share: the [`party::Party`], [`Shares`], [`Cost`] and the [`Profile`] switch.
//!
//! * [`sirnn`]: SiRNN's protocols as EzPC/SCI runs them (the `sirnn` profile is byte-exact
//!   with SCI; the `privquant` profile selects cheaper variants inside the same code).
//! * [`privquant`]: PrivQuant's protocols (Π_Requant, the linear-layer options and their
//!   chooser, the residual addition, the max-pool tree).
//! * [`ot_calls`]: the [`Cost`] of each kind of OT call, on top of `pq_ot`'s byte counts.
//! * [`tensor`]: local tensor helpers (im2col, integer matmul, pool windows) for protocols
//!   and executors alike.
//!
//! Every module exports `run` (one function for both roles; ALICE = server, BOB = client) and
//! `cost(..) -> Cost` (exact bytes per direction and round trips). Shares are additive in
//! Z_2^l (`u64` per element, reduced to l bits) or XOR shares of bits (`u8`, 0 or 1).
//!
//! Rounds: the cost functions follow the convention of `docs/sci-protocols.md` §Round counts
//! (one OT batch = one round trip, simultaneous exchanges once). In single-lane runs the measured flights equal them, except
//! MUX (and ReLU, which ends in one): SCI runs its two COT directions at the same time, this
//! engine one after the other (+1 flight); and large matmuls, whose SCI batches are sent as
//! several pad-preserving IKNP calls to bound memory (more flights, same bytes).
//!
//! Edge cases SCI leaves undefined (it asserts) are defined here, with cost functions that agree
//! with what is sent:
//! * an empty batch (`n = 0`) sends nothing and costs nothing;
//! * a shift of 0 (TR, Trunc, div_pow2) is a local copy, free;
//! * MSB of a 1-bit value is the XOR of the two share bits, free (Mill(0) = 0);
//! * MillEq(0) / Eq(0) (comparing empty strings) is free: lt = 0, eq = 1;
//! * B2A to 1 bit is free (an XOR share is an arithmetic share mod 2), as in SCI;
//! * extension m → m is a copy, free.

pub mod cost;
pub mod ot_calls;
pub mod party;
pub mod privquant;
pub mod profile;
pub mod shares;
pub mod sirnn;
pub mod tensor;
pub mod util;

pub use cost::{Cost, Objective};
pub use pq_netsim::channel::Role;
pub use pq_ot::OtKind;
pub use profile::Profile;
pub use shares::Shares;

use pq_netsim::ChannelError;
use pq_ot::OtError;

/// Errors of the protocol library.
#[derive(thiserror::Error, Debug)]
pub enum ProtoError {
    /// An OT call failed (bad OT argument, channel failure inside the OT, OS randomness).
    #[error(transparent)]
    Ot(#[from] OtError),
    /// The channel to the peer failed outside an OT call (e.g. while exchanging openings).
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// An impossible parameter (bit-width 0 or > 64, shift >= bit-width, ...).
    #[error("invalid parameter `{name}`: {msg}")]
    Param {
        /// The parameter's name as the caller knows it (e.g. `"bw"`, `"s"`).
        name: &'static str,
        /// What is wrong with it.
        msg: String,
    },
    /// The peer sent something inconsistent.
    #[error("protocol error: {0}")]
    Peer(String),
}

/// Result of every fallible protocol call.
pub type ProtoResult<T> = Result<T, ProtoError>;

/// A [`ProtoError::Param`] naming the parameter `name`.
pub fn param(name: &'static str, msg: impl Into<String>) -> ProtoError {
    ProtoError::Param {
        name,
        msg: msg.into(),
    }
}

/// Check a bit-width is in 1..=64.
pub fn check_bw(name: &'static str, l: u32) -> ProtoResult<()> {
    if (1..=64).contains(&l) {
        Ok(())
    } else {
        Err(param(
            name,
            format!("bit-width {l} is out of range (accepted: 1..=64)"),
        ))
    }
}
