//! `bench-harness` as a library: the benchmark runners that the CLI (`src/main.rs`) and the
//! harness's integration tests share. Engine crates hold protocols; everything that picks a
//! protocol by an op name, makes random inputs and reports figures lives here.

pub mod fuzzing;
pub mod input;
pub mod memory;
pub mod runners;

/// A bad flag value, an impossible parameter, or a run refused before it starts (too large
/// for the memory): the binary prints it as one line and exits with status 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for UsageError {}
