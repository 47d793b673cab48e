//! Key files and the `--peers` list: see `pq_netsim::fuzzing::keys`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pq_netsim::fuzzing::keys(data));
