//! OT benchmarks (placeholder).
