//! Fuzzing entry points: the bodies of the `fuzz/` targets and of the corpus replay test.
//!
//! Each function takes arbitrary bytes, drives one of this crate's readers of untrusted files
//! with them and ignores the result: any input may give an error, none may panic, hang or
//! allocate without bound. The cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`) and the stable
//! replay test (`bench-harness/tests/fuzz_corpus.rs`) call these same functions, so a crash
//! found by the fuzzer is reproduced by `cargo test` once its input is checked in. See
//! `docs/fuzzing.md`.

use crate::config::Config;
use crate::lower::lower;
use crate::program::Program;
use crate::{json, reference, weights};
use std::sync::OnceLock;

/// The model [`safetensors`] reads weights for: small, so that a fuzzed file can name every
/// tensor, with a conv and an FC layer, both with a bias.
pub const SAFETENSORS_MODEL: &str = r#"{
  "name": "fuzz",
  "input": {"shape": [1, 4, 4], "bits": 8, "signed": false},
  "layers": [
    {"name": "c1", "op": "conv", "cout": 2, "k": 3, "stride": 1, "pad": 1, "wbits": 4, "abits": 4, "bias": true, "shift": 4},
    {"name": "r1", "op": "relu"},
    {"name": "fc", "op": "fc", "dout": 3, "wbits": 8, "bias": true}
  ]
}"#;

/// `--models FILE.json` / `--model FILE.json`: the JSON model parser ([`json::parse`]) on
/// `data` (as UTF-8; other bytes are refused as the file reader refuses them). A model it
/// accepts must also survive [`json::to_json`] and parse again to the same model.
pub fn model_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(m) = json::parse(text) else {
        return;
    };
    let again = json::to_json(&m).to_string();
    match json::parse(&again) {
        Ok(m2) => assert_eq!(
            format!("{m:?}"),
            format!("{m2:?}"),
            "a model changed when written and read back"
        ),
        Err(e) => panic!("a model parse accepted is refused once written back: {e}\n{again}"),
    }
}

fn program() -> &'static Program {
    static P: OnceLock<Program> = OnceLock::new();
    P.get_or_init(|| {
        let m = json::parse(SAFETENSORS_MODEL)
            .unwrap_or_else(|e| panic!("the fuzzing model does not parse: {e}"));
        lower(&m, Config::PrivQuant)
            .unwrap_or_else(|e| panic!("the fuzzing model does not lower: {e}"))
    })
}

/// `--weights FILE.safetensors`: the integer weights loader ([`weights::load`]) and the
/// program's checks on what it returns ([`reference::check_inputs`], as `infer` runs them),
/// for [`SAFETENSORS_MODEL`]; then the planner's float weights loader
/// ([`crate::plan::sensitivity::load_safetensors`]) on the same bytes.
pub fn safetensors(data: &[u8]) {
    let p = program();
    if let Ok(w) = weights::load(&p.model, data) {
        let zeros = vec![0i64; p.model.input.numel()];
        let _ = reference::check_inputs(p, &w, &zeros);
    }
    let _ = crate::plan::sensitivity::load_safetensors(&p.model, data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fuzzing_model_lowers_and_its_weights_round_trip() {
        let p = program();
        let w = crate::config::Weights::random(&p.model, 1);
        let bytes = weights::write(&p.model, &w).unwrap();
        let back = weights::load(&p.model, &bytes).unwrap();
        assert_eq!(back.layers, w.layers);
        safetensors(&bytes);
        model_json(SAFETENSORS_MODEL.as_bytes());
    }
}
