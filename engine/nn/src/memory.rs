//! What executing a program holds in memory at the least, from its public shapes alone, so
//! that a run too large for the machine is refused before it allocates anything.
//!
//! The walk follows the executor ([`crate::secure::run_party_with`]): every tensor is a vector
//! of 64-bit shares, allocated when its step writes it and freed after its last reader (all
//! kept with `keep`, as `verify` does). While a step runs, a party also holds
//! * for a conv or FC step: the weights (server) or the im2col'd activations (d2 × d3 words),
//!   and the d1 × d3 output;
//! * for any other step: its messages. A non-linear protocol builds each message whole before
//!   sending it and reads each whole, so the step's bytes on the wire (its cost function) are
//!   in memory at once. Linear steps stream theirs in chunks and are not counted.
//!
//! The server also holds every layer's weights. The result is a floor: protocols' own
//! working buffers (correlations, hashes) come on top, typically a few times the messages.

use crate::program::{Program, StepOp};
use crate::secure::{SecureError, step_cost};

/// The floor of a program's peak memory, and where it is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryFloor {
    /// Bytes, for the parties asked for (see [`program_floor`]).
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

/// The floor of the peak memory of executing `p` (see the module doc), with saturating
/// arithmetic: a shape whose size overflows 64 bits gives `u64::MAX`.
pub fn program_floor(
    p: &Program,
    parties: Parties,
    keep: bool,
) -> Result<MemoryFloor, SecureError> {
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
    let mut last = vec![usize::MAX; p.tensors.len()];
    for (i, st) in p.steps.iter().enumerate() {
        for &t in &st.inputs {
            last[t] = i;
        }
    }
    let mut live: u64 = words(p.input);
    let mut best = MemoryFloor {
        bytes: 0,
        layer: String::new(),
    };
    for (i, st) in p.steps.iter().enumerate() {
        live = live.saturating_add(words(st.out));
        let lin = match &st.op {
            StepOp::LinearSci { lin, .. } | StepOp::LinearExact { lin, .. } => Some(*lin),
            _ => None,
        };
        let (step_words, msgs) = match lin.and_then(|l| p.linear.get(l)) {
            Some(l) => {
                let patches = (l.d2 as u64).saturating_mul(l.d3 as u64);
                let out = (l.d1 as u64).saturating_mul(l.d3 as u64);
                (patches.saturating_add(out), 0)
            }
            None => {
                let c = step_cost(p, st)?;
                // one party holds at least the larger of its outgoing and incoming messages
                let msgs = match parties {
                    Parties::Both => c.total(),
                    Parties::Server | Parties::Client => c.server_to_client.max(c.client_to_server),
                };
                (0, msgs)
            }
        };
        let here = live
            .saturating_add(step_words)
            .saturating_mul(8)
            .saturating_mul(copies)
            .saturating_add(msgs)
            .saturating_add(weights);
        if here > best.bytes {
            best = MemoryFloor {
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
    fn the_floor_grows_with_the_activations_and_keep_holds_more() {
        let small = program_floor(&prog(1), Parties::Both, false).unwrap();
        let big = program_floor(&prog(64), Parties::Both, false).unwrap();
        assert!(big.bytes > small.bytes, "{small:?} {big:?}");
        let kept = program_floor(&prog(64), Parties::Both, true).unwrap();
        assert!(kept.bytes >= big.bytes);
        // the weights alone: four 4096×4096 projections, 8 bytes each
        assert!(small.bytes >= 4 * 4096 * 4096 * 8, "{small:?}");
        let client = program_floor(&prog(1), Parties::Client, false).unwrap();
        assert!(client.bytes < small.bytes / 2, "{client:?} {small:?}");
    }

    #[test]
    fn a_hundred_thousand_tokens_do_not_fit_in_a_workstation() {
        let f = program_floor(&prog(100_000), Parties::Both, false).unwrap();
        assert!(f.bytes > 64 << 30, "{f:?}");
    }
}
