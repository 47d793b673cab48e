//! The JSON model parser: see `pq_nn::fuzzing::model_json`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pq_nn::fuzzing::model_json(data));
