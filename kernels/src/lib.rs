//! `pq-kernels`: the hot kernels of PrivQuant-RS.
//!
//! * [`Block`]: a 128-bit value.
//! * [`aes`]: fixed-key AES hashes (CR, TCCR) and the AES-CTR PRG, with AES-NI / VAES-256
//!   paths chosen at run time and a portable fallback.
//! * [`transpose`]: 128×N bit-matrix transpose (AVX2 Eklundh, SSE2, portable).
//! * [`ring`]: packed arithmetic in Z_2^l for every l in 1..=64.
//! * [`cpu`]: run-time feature detection, with `PQ_FORCE_PORTABLE=1` forcing the fallbacks.
//! * [`ct`]: constant-time selection by a secret bit or a secret small index.

pub mod aes;
pub mod block;
pub mod cpu;
pub mod ct;
pub mod ring;
pub mod transpose;

pub use block::Block;
