//! The input and data set readers (.npy, .png, .pgm, .npz): see `bench_harness::fuzzing::inputs`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| bench_harness::fuzzing::inputs(data));
