//! `pq-netsim`: the network of PrivQuant-RS.
//!
//! The engine talks only to the [`Channel`] trait. Implementations:
//! * [`mem::MemChannel`]: an in-memory duplex pair, for tests and in-process runs;
//! * [`tcp::TcpChannel`]: TCP (loopback or remote), buffered, `TCP_NODELAY`, with a reader
//!   thread so both parties can send large messages at the same time without deadlock.
//!
//! Every channel carries a [`Meter`]: payload bytes per direction (as SCI counts them),
//! framing bytes separately, messages, flights, and nested tags.

pub mod channel;
pub mod error;
pub mod mem;
pub mod meter;
pub mod pair;
pub mod tcp;

pub use channel::Channel;
pub use error::ChannelError;
pub use mem::{MemChannel, mem_pair};
pub use meter::{Counters, Meter};
pub use pair::{PairOptions, PairOutput, Transport, run_pair, run_pair_with};
pub use tcp::{TcpChannel, TcpOptions};
