//! The protocol ablation of PrivQuant (Xu et al., ICCAD 2024), which reports that on one basic
//! block of ResNet32's third stage (an 8×8 input with 64 channels) its protocols cut total
//! communication by 2.4× and online communication by 1.6× against SiRNN's (Rathee et al.,
//! S&P 2021). Here: one block lowered with SCI's protocols (`sirnn-quant`), then with each of privquant's optimizations
//! ([`Features`]) switched on alone, then with the paper's four together on SCI's engine, then
//! with everything. Same network (widths, pinned shifts) in every row; the bytes are the exact
//! cost functions, and with `execute` every row also runs both parties over an in-memory
//! channel, checked bit-exact against the plaintext reference of its program and measured
//! against its cost.

use super::config::{self, Config, Features, Weights};
use super::lower::{self, LowerOptions};
use super::model::Model;
use super::reference;
use super::secure::{RunOptions, SecureError, program_cost, run_secure};
use serde::Serialize;

/// One ablation row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AblationRow {
    /// What is switched on, in words.
    pub name: String,
    /// [`Features::label`].
    pub features: String,
    /// Bytes of the lowered program by the cost functions, both directions.
    pub bytes_total: u64,
    /// Of `bytes_total`, the bytes that stay online under a random-OT preprocessing split
    /// ([`pq_proto::Cost::online_bytes`]).
    pub bytes_online: u64,
    /// Bytes the server sends.
    pub bytes_server_to_client: u64,
    /// Bytes the client sends.
    pub bytes_client_to_server: u64,
    /// Round trips on the critical path.
    pub rounds: u64,
    /// Whether the row was executed.
    pub executed: bool,
    /// Measured bytes (both directions) of the executed run.
    pub bytes_measured: Option<u64>,
    /// The executed output equals the plaintext reference.
    pub correct: Option<bool>,
    /// Wall seconds of the executed run (both parties in one process).
    pub wall_s: Option<f64>,
}

/// The rows: (name, features).
pub fn variants() -> Vec<(&'static str, Features)> {
    let one = |f: fn(&mut Features)| {
        let mut x = Features::NONE;
        f(&mut x);
        x
    };
    let mut paper = Features::ALL;
    paper.lean_engine = false;
    vec![
        ("SiRNN's protocols (sirnn-quant)", Features::NONE),
        ("+ DNN-aware conv only", one(|f| f.dnn_linear = true)),
        (
            "+ simplified residual only",
            one(|f| f.simple_residual = true),
        ),
        ("+ sign propagation only", one(|f| f.sign_prop = true)),
        ("+ fused quantization only", one(|f| f.fused_quant = true)),
        ("+ our OT engine only", one(|f| f.lean_engine = true)),
        ("the paper's four, SCI's OT engine", paper),
        ("everything (privquant)", Features::ALL),
    ]
}

/// Run the ablation on `model` (a block whose input is read at `input_act_bits`).
pub fn ablation(
    model: &Model,
    input_act_bits: Option<u32>,
    execute: bool,
    seed: u64,
) -> Result<Vec<AblationRow>, SecureError> {
    let mut rows = vec![];
    for (name, feat) in variants() {
        let opts = LowerOptions {
            features: Some(feat),
            input_act_bits,
            ..LowerOptions::default()
        };
        let p = lower::lower_with(model, Config::PrivQuant, &opts)
            .map_err(reference::RefError::from)?;
        let c = program_cost(&p)?;
        let mut row = AblationRow {
            name: name.to_string(),
            features: feat.label(),
            bytes_total: c.total(),
            bytes_online: c.online_bytes(),
            bytes_server_to_client: c.server_to_client,
            bytes_client_to_server: c.client_to_server,
            rounds: c.rounds,
            executed: false,
            bytes_measured: None,
            correct: None,
            wall_s: None,
        };
        if execute {
            let w = Weights::random(&p.model, seed);
            let x = config::random_input(model.input.numel(), model.encoding, seed);
            let want = reference::run_reference(&p, &w, &x)?;
            let run = run_secure(&p, &w, &x, &RunOptions::default())?;
            row.executed = true;
            row.bytes_measured = Some(run.bytes_total());
            row.correct = Some(run.logits == want.logits);
            row.wall_s = Some(run.wall_s);
        }
        rows.push(row);
    }
    Ok(rows)
}
