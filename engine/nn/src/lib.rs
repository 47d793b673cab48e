//! `pq-nn`: the networks of PrivQuant-RS. The model IR ([`model`]), the built-in models
//! ([`builtin`]), the JSON model format ([`json`]), configurations ([`config`]), lowering to a
//! step program ([`lower`]), sign and range analysis ([`signs`]), the plaintext reference
//! executor ([`reference`](mod@reference)), the secure two-party executor ([`secure`]) and the
//! communication-aware mixed-precision planner ([`plan`]).

pub mod ablation;
pub mod builtin;
pub mod json;
pub mod model;

pub use model::{InputEncoding, Layer, Model, ModelError, Op, Shape, TensorId};
pub mod config;
pub mod fuzzing;
pub mod interval;
pub mod lower;
pub mod memory;
pub mod plan;
pub mod program;
pub mod public;
pub mod reference;
pub mod secure;
pub mod signs;
pub mod weights;
