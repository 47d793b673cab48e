//! The frame decoder, plain and encrypted, with the hello: see `pq_netsim::fuzzing::frames`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pq_netsim::fuzzing::frames(data));
