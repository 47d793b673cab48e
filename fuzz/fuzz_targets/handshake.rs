//! The encrypted channel's handshake, both ends: see `pq_netsim::fuzzing::handshake`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pq_netsim::fuzzing::handshake(data));
