//! `pq-netsim`: the network of PrivQuant-RS.
//!
//! The engine talks only to the [`Channel`] trait. Implementations:
//! * [`mem::MemChannel`]: an in-memory duplex pair, for tests and in-process runs;
//! * [`tcp::TcpChannel`]: TCP (loopback or remote), plain or encrypted and authenticated
//!   ([`secure`]: Noise XX), buffered, `TCP_NODELAY`, with a reader thread and a queue
//!   bounded in bytes, so both parties can send large flights at the same time without
//!   deadlock; every size and wait is bounded;
//! * [`shaped::ShapedChannel`]: wraps any channel and delivers at a [`LinkSpec`]'s pace in
//!   real time;
//! * [`vtime::VirtualChannel`]: wraps any channel and simulates one or several links in
//!   virtual time (compute measured, link modeled).
//!
//! [`proxy::run_proxy`] shapes a TCP connection between two processes. Every channel carries
//! a [`Meter`]: payload bytes per direction (as SCI counts them), framing bytes separately,
//! messages, flights, and nested tags.

pub mod channel;
pub mod clock;
pub mod error;
pub mod fuzzing;
pub mod link;
pub mod mem;
pub mod meter;
pub mod pair;
pub mod proxy;
pub mod secure;
pub mod shaped;
pub mod tcp;
pub mod vtime;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_transport;

pub use channel::Channel;
pub use clock::{Clock, ManualClock, RealClock, ThreadCpuClock};
pub use error::ChannelError;
pub use link::{LinkDirection, LinkError, LinkSpec, Nanos, analytic_latency, parse_links};
pub use mem::{MemChannel, mem_pair};
pub use meter::{Counters, Meter};
pub use pair::{
    LinkOptions, PairOptions, PairOutput, Transport, run_pair, run_pair_linked, run_pair_with,
};
pub use proxy::{ConnReport, Proxy, ProxyError, ProxyStats, run_proxy};
pub use secure::{Identity, PeerPolicy, PublicKey, SecureConfig};
pub use shaped::ShapedChannel;
pub use tcp::{Side, TcpChannel, TcpOptions};
pub use vtime::{SimulatedLatency, VirtualChannel};
