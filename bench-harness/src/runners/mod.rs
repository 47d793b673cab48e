//! Benchmark runners: random inputs, both parties over a real channel, the result checked
//! against the plaintext reference and the measured bytes against the cost function.
//!
//! * [`e2e`]: networks end to end (executed or modeled rows per link) for `e2e`;
//! * [`micro`]: `micro OP` for the SiRNN protocols and `conv` in the `sirnn` profile;
//! * [`pq_micro`]: PrivQuant's protocols (Π_Requant, the linear options, residual, max-pool
//!   tree), `conv` in the `privquant` profile and the conv table;
//! * [`ot`]: `micro cot|got|kkot|bcot|baseot` (OT throughput and bytes);
//! * [`netsim`]: the link shaper's accuracy and overheads (`netsim accuracy`).
//!
//! A runner's `seed` fixes its random inputs only: Δ, the base-OT secrets and the share
//! masks always come from the OS ([`PROTOCOL_RANDOMNESS`]). Deterministic protocol randomness
//! is for tests, through `pq_proto::party::run_parties` itself; no CLI flag reaches it.

pub mod e2e;
pub mod micro;
pub mod netsim;
pub mod ot;
pub mod pq_micro;

/// The protocol randomness every runner uses: `None`, the OS.
pub(crate) const PROTOCOL_RANDOMNESS: Option<u64> = None;
