//! The `--weights` safetensors loaders: see `pq_nn::fuzzing::safetensors`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pq_nn::fuzzing::safetensors(data));
