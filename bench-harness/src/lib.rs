//! `bench-harness` as a library: the benchmark runners that the CLI (`src/main.rs`) and the
//! harness's integration tests share. Engine crates hold protocols; everything that picks a
//! protocol by an op name, makes random inputs and reports figures lives here.

pub mod fuzzing;
pub mod input;
pub mod runners;
