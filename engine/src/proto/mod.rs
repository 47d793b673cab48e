//! Two-party protocols by the paper's names: the SiRNN library as SCI runs it (the `sirnn`
//! profile, byte-exact with SCI, sci-baseline.md), one module per protocol.
//!
//! Every module exports `run` (one function for both roles; ALICE = server, BOB = client) and
//! `cost(..) -> Cost` (exact bytes per direction and round trips). Shares are additive in
//! Z_2^l (`u64` per element, reduced to l bits) or XOR shares of bits (`u8`, 0 or 1).
//!
//! Modules (paper / SCI names): [`millionaire`] (Π_Mill), [`millionaire_eq`] (Π_MillEq),
//! [`equality`] (Π_Eq), [`wrap`], [`msb`], [`msb_to_wrap`], [`b2a`], [`mux`], [`and`],
//! [`lut`], [`extension`] (z_extend / s_extend), [`tr`] (Π_TR), [`trunc`] (Π_Trunc),
//! [`divpow2`], [`relu`] (SiRNN ReLU and CrypTFlow2 ring ReLU), [`maxpool`], [`avgpool`],
//! [`matmul`] (mixed bit-width, modes AliceHasA / AliceHasB / None), [`conv`], [`fc`];
//! [`otcost`] turns OT byte counts into [`Cost`](crate::Cost)s; [`micro`] runs any of them
//! with random inputs for the CLI. Parties are [`crate::party::Party`]; tests and
//! benchmarks run both with [`crate::party::run_parties`].
//!
//! Rounds: the cost functions follow sci-baseline.md §9 (one OT batch = one round trip,
//! simultaneous exchanges once). In single-lane runs the measured flights equal them, except
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

pub mod and;
pub mod avgpool;
pub mod b2a;
pub mod conv;
pub mod divpow2;
pub mod equality;
pub mod extension;
pub mod fc;
pub mod lut;
pub mod matmul;
pub mod maxpool;
pub mod maxpool_tree;
pub mod micro;
pub mod millionaire;
pub mod millionaire_eq;
pub mod msb;
pub mod msb_to_wrap;
pub mod mux;
pub mod otcost;
pub mod pq_linear;
pub mod pq_micro;
pub mod relu;
pub mod requant;
pub mod residual;
pub mod tr;
pub mod trunc;
pub mod util;
pub mod wrap;

use crate::ot::OtError;
use pq_netsim::ChannelError;

/// Errors of the protocol library.
#[derive(thiserror::Error, Debug)]
pub enum ProtoError {
    #[error(transparent)]
    Ot(#[from] OtError),
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// An impossible parameter (bit-width 0 or > 64, shift >= bit-width, ...).
    #[error("invalid parameter --{name}: {msg}")]
    Param { name: &'static str, msg: String },
    /// The peer sent something inconsistent.
    #[error("protocol error: {0}")]
    Peer(String),
}

pub type ProtoResult<T> = Result<T, ProtoError>;

pub(crate) fn param(name: &'static str, msg: impl Into<String>) -> ProtoError {
    ProtoError::Param {
        name,
        msg: msg.into(),
    }
}

/// Check a bit-width is in 1..=64.
pub(crate) fn check_bw(name: &'static str, l: u32) -> ProtoResult<()> {
    if (1..=64).contains(&l) {
        Ok(())
    } else {
        Err(param(
            name,
            format!("bit-width {l} is out of range (accepted: 1..=64)"),
        ))
    }
}
