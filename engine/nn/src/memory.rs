//! What executing a program holds in memory, estimated from its public shapes alone, so that
//! a run too large for the machine is refused before it allocates anything.
//!
//! The walk follows the executor ([`crate::secure::run_party_with`]): every tensor is a vector
//! of 64-bit shares, allocated when its step writes it and freed after its last reader (all
//! kept with `keep`, as `verify` does). While a step runs, a party also holds
//! * for a conv or FC step: the weights (server) or the im2col'd activations (d2 × d3 words),
//!   the d1 × d3 output, and one batched-COT call's working set: a call carries at most
//!   [`CALL_VALUES`] message values (both engines split larger layers into calls of that size:
//!   `privquant::linear`'s `call_values`, SCI's MAX_NUM_OT rule in `sirnn::matmul`), and each
//!   value costs [`BYTES_PER_CALL_VALUE`] at each party;
//! * for any other step: its messages (a non-linear protocol builds each message whole before
//!   sending it and reads each whole, so the step's bytes on the wire, its cost function, are
//!   in memory at once) and a 16-byte block per correlated OT it draws.
//!
//! On top of the steps: the server's weights, and the COT source's buffers that live from call
//! to call: Ferret's LPN rounds ([`pq_proto::ot_calls::session_buffer_bytes`]) and the buffer
//! each Ferret session reserves a step's COTs in (a block per COT at each party, for the
//! largest step so far: the buffer never shrinks).
//!
//! Measured against the counting allocator's heap peak of whole runs (`e2e`'s
//! `peak_heap_bytes`; `bench-harness/tests/newcomer.rs` checks MiniONN under every
//! configuration), the estimate sits between the peak and a few times it. Protocols' smaller
//! scratch (hash buffers, IKNP's matrix chunks) is not counted.

use crate::program::{Program, StepOp};
use crate::secure::{SecureError, step_cost};

/// Message values in one batched-COT call of a linear layer, at most.
pub const CALL_VALUES: u64 = 1 << 24;
/// Bytes per message value of a call, per party: five 64-bit words (the value, its mask or
/// the share it yields, the share being built from the peer's message, the packed message, and
/// its copy queued in the channel while the peer catches up). SCI's matmul under `sirnn`, the
/// most memory-hungry, peaks at about 29 bytes per value per party (MiniONN conv2: 974 MB of
/// heap for calls of 2^24 values on both parties).
pub const BYTES_PER_CALL_VALUE: u64 = 40;

/// Bytes of a protocol's scratch per correlated OT it draws, per party: the 16-byte block and
/// its 16-byte hash.
pub const BYTES_PER_COT_SCRATCH: u64 = 32;

/// The estimated peak memory of a program, and where it is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// Bytes, for the parties asked for (see [`program_memory`]).
    pub bytes: u64,
    /// The layer of the step at which the peak is reached.
    pub layer: String,
}

/// Which parties share this process's memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parties {
    /// Both, in one process (`e2e`, `verify`, `infer`, `accuracy`).
    Both,
    /// The server alone (`serve`): tensors once, the weights, its side of the messages.
    Server,
    /// The client alone (`connect`): tensors once, its side of the messages.
    Client,
}

/// The estimated peak memory of executing `p` (see the module doc), with saturating
/// arithmetic: a shape whose size overflows 64 bits gives `u64::MAX`.
pub fn program_memory(
    p: &Program,
    parties: Parties,
    keep: bool,
) -> Result<MemoryEstimate, SecureError> {
    let words = |t: usize| p.tensors[t].shape.numel() as u64;
    let copies: u64 = if parties == Parties::Both { 2 } else { 1 };
    let weights: u64 = if parties == Parties::Client {
        0
    } else {
        p.linear
            .iter()
            .map(|l| {
                (l.d1 as u64)
                    .saturating_mul(l.d2 as u64)
                    .saturating_add(l.d1 as u64)
            })
            .fold(0u64, u64::saturating_add)
            .saturating_mul(8)
    };
    let kind = p.feat.profile().ot;
    let ferret = kind.has_rounds();
    // Correlated OTs: a non-linear protocol copies the blocks it draws into scratch that keeps
    // its largest size, with their hashes (BYTES_PER_COT_SCRATCH per COT at each party; a
    // linear step's are in its call working set). Ferret first reserves every step's COTs in
    // its sessions' hand-out buffers, which keep their largest size
    // ([`pq_proto::ot_calls::ferret_end_bytes`], one end per direction at each party); while a
    // buffer grows, the old one is live beside it, before the step's own work starts.
    let (mut scratch, mut largest, mut drawn) = ([0u64; 2], [0u64; 2], [0u64; 2]);
    let mut last = vec![usize::MAX; p.tensors.len()];
    for (i, st) in p.steps.iter().enumerate() {
        for &t in &st.inputs {
            last[t] = i;
        }
    }
    let mut live: u64 = words(p.input);
    let mut best = MemoryEstimate {
        bytes: 0,
        layer: String::new(),
    };
    for (i, st) in p.steps.iter().enumerate() {
        live = live.saturating_add(words(st.out));
        let lin = match &st.op {
            StepOp::LinearSci { lin, .. } | StepOp::LinearExact { lin, .. } => Some(*lin),
            _ => None,
        };
        let c = step_cost(p, st)?;
        let (step_words, work) = match lin.and_then(|l| p.linear.get(l)) {
            Some(l) => {
                let patches = (l.d2 as u64).saturating_mul(l.d3 as u64);
                let out = (l.d1 as u64).saturating_mul(l.d3 as u64);
                // a call's values: at most CALL_VALUES, and no more than a message per
                // product and weight bit
                let values = (l.d1 as u64)
                    .saturating_mul(patches)
                    .saturating_mul(16)
                    .min(CALL_VALUES);
                (
                    patches.saturating_add(out),
                    values
                        .saturating_mul(BYTES_PER_CALL_VALUE)
                        .saturating_mul(copies),
                )
            }
            None => {
                // one party holds at least the larger of its outgoing and incoming messages
                let msgs = match parties {
                    Parties::Both => c.total(),
                    Parties::Server | Parties::Client => c.server_to_client.max(c.client_to_server),
                };
                (0, msgs)
            }
        };
        let mut transient = 0u64;
        for d in 0..2 {
            if lin.is_none() {
                scratch[d] = scratch[d].max(c.cots[d]);
            }
            if ferret {
                drawn[d] = drawn[d].saturating_add(c.cots[d]);
                if c.cots[d] > largest[d] {
                    // the old buffer, about a round short of the new one
                    transient = transient
                        .saturating_add(pq_proto::ot_calls::ferret_end_bytes(drawn[d], largest[d]));
                    largest[d] = c.cots[d];
                }
            }
        }
        let sessions: u64 = (0..2)
            .map(|d| pq_proto::ot_calls::ferret_end_bytes(drawn[d], largest[d]))
            .fold(0u64, u64::saturating_add);
        let buffers = (scratch[0].saturating_add(scratch[1]))
            .saturating_mul(BYTES_PER_COT_SCRATCH)
            .saturating_add(if ferret { sessions } else { 0 })
            .saturating_mul(copies);
        let work = work.max(transient.saturating_mul(copies));
        let here = live
            .saturating_add(step_words)
            .saturating_mul(8)
            .saturating_mul(copies)
            .saturating_add(work)
            .saturating_add(weights)
            .saturating_add(buffers);
        if here > best.bytes {
            best = MemoryEstimate {
                bytes: here,
                layer: st.layer.clone(),
            };
        }
        if !keep {
            for &t in &st.inputs {
                if last[t] == i && t != st.out {
                    live = live.saturating_sub(words(t));
                }
            }
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::lower;

    fn prog(tokens: usize) -> Program {
        let m = crate::builtin::by_name("llama7b-attn", tokens).unwrap();
        lower::lower(&m, Config::PrivQuant).unwrap()
    }

    #[test]
    fn the_estimate_grows_with_the_activations_and_keep_holds_more() {
        let small = program_memory(&prog(1), Parties::Both, false).unwrap();
        let big = program_memory(&prog(64), Parties::Both, false).unwrap();
        assert!(big.bytes > small.bytes, "{small:?} {big:?}");
        let kept = program_memory(&prog(64), Parties::Both, true).unwrap();
        assert!(kept.bytes >= big.bytes);
        // the weights alone: four 4096×4096 projections, 8 bytes each
        assert!(small.bytes >= 4 * 4096 * 4096 * 8, "{small:?}");
        let client = program_memory(&prog(1), Parties::Client, false).unwrap();
        assert!(client.bytes < small.bytes / 2, "{client:?} {small:?}");
    }

    /// A linear layer's call is charged at most 2^24 values at each party, and Ferret adds its
    /// session buffers: MiniONN's estimate under privquant-he (Ferret) exceeds privquant's
    /// (IKNP) by at least a steady session end per party.
    #[test]
    fn calls_are_capped_and_ferret_adds_its_buffers() {
        let m = crate::builtin::minionn();
        let est = |cfg| {
            program_memory(&lower::lower(&m, cfg).unwrap(), Parties::Both, false)
                .unwrap()
                .bytes
        };
        let (iknp, ferret) = (est(Config::PrivQuant), est(Config::PrivQuantHe));
        let cap = 2 * CALL_VALUES * BYTES_PER_CALL_VALUE;
        assert!(iknp >= cap && iknp < 2 * cap, "{iknp}");
        // at least one steady-state session end at each party
        let end = pq_proto::ot_calls::ferret_end_bytes(u64::MAX, 0);
        assert!(ferret >= iknp.min(cap) + 2 * end, "{ferret} {iknp} {end}");
    }

    #[test]
    fn a_hundred_thousand_tokens_do_not_fit_in_a_workstation() {
        let f = program_memory(&prog(100_000), Parties::Both, false).unwrap();
        assert!(f.bytes > 64 << 30, "{f:?}");
    }
}
