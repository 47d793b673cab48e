//! The public hash of a run: what both parties compare in the handshake. It covers
//! everything public (wire and semantics versions, configuration, the width-applied
//! architecture, lowering options and the lowered program's steps, widths and scales), and
//! never the weights or the input.

use crate::config::{self, Config, Features};
use crate::model::Model;
use serde::Serialize;

/// Version of the network semantics (lowering rules); part of [`public_hash`].
pub const NN_SEMANTICS_VERSION: u32 = 2;

#[derive(Serialize)]
struct HashInput<'a> {
    wire_version: u32,
    semantics_version: u32,
    config: &'a str,
    input_bits: u32,
    model: &'a Model,
    shift_overrides: &'a std::collections::BTreeMap<String, u32>,
    full_range: bool,
    features: Features,
    input_act_bits: Option<u32>,
    objective: pq_proto::Objective,
    program: Option<crate::lower::ProgramSummary>,
}

/// blake3 of the canonical JSON of everything public about a run: wire and semantics
/// versions, configuration, the width-applied architecture, per-layer shift overrides, and the
/// lowered program's steps, widths and scales. Never the weights or the input.
pub fn public_hash(model: &Model, cfg: Config) -> [u8; 32] {
    public_hash_with(model, cfg, &crate::lower::LowerOptions::default())
}

/// [`public_hash`] with lowering options (calibrated shifts change the protocols).
pub fn public_hash_with(model: &Model, cfg: Config, opts: &crate::lower::LowerOptions) -> [u8; 32] {
    let m = config::apply(model, cfg);
    let lowered = crate::lower::lower_with(&m, cfg, opts).ok();
    let features = lowered
        .as_ref()
        .map_or(opts.features.unwrap_or(cfg.features()), |p| p.feat);
    let program = lowered.map(|p| p.summary());
    let h = HashInput {
        wire_version: pq_netsim::channel::WIRE_VERSION,
        semantics_version: NN_SEMANTICS_VERSION,
        config: cfg.name(),
        input_bits: cfg.input_bits(m.encoding),
        model: &m,
        shift_overrides: &opts.shift_override,
        full_range: opts.full_range,
        features,
        input_act_bits: opts.input_act_bits,
        objective: opts.objective,
        program,
    };
    // Serialising plain structs and vectors cannot fail; fall back to an empty string anyway.
    let json = serde_json::to_vec(&h).unwrap_or_default();
    *blake3::hash(&json).as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin;

    #[test]
    fn hash_covers_config_and_widths() {
        let m = builtin::minionn();
        let a = public_hash(&m, Config::PrivQuant);
        assert_eq!(a, public_hash(&m, Config::PrivQuant));
        assert_ne!(a, public_hash(&m, Config::SirnnQuant));
        let mut u = m.clone();
        u.layers[2].quant.wbits = 3;
        assert_ne!(a, public_hash(&u, Config::PrivQuant));
    }
}
