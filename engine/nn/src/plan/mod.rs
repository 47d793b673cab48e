//! Communication-aware mixed precision (PrivQuant's network-level co-optimization).
//!
//! Choose each layer's weight bit-width b_i to minimise Σ Ω_i(b_i) subject to
//! Σ Comm_i(b_i) ≤ budget, where Ω_i(b) = (mean Hessian trace of layer i) · ||Q_b(W_i) − W_i||²
//! ([`sensitivity`]) and Comm_i(b) is the exact cost of layer i under the privquant protocols
//! (bytes, or latency at a link in integer nanoseconds). The optimiser ([`optimize`]) is exact.

pub mod network;
pub mod optimize;
pub mod sensitivity;

pub use optimize::{
    Instance, Option_, ParetoPoint, PlanError, Solution, brute_force, pareto_front, solve,
};
