//! Networks: the model IR ([`model`]), the built-in models ([`builtin`]) and the JSON model
//! format ([`json`]).

pub mod ablation;
pub mod builtin;
pub mod json;
pub mod model;
pub mod tensor;

pub use model::{Layer, Model, ModelError, Op, Shape, TensorId};
pub mod config;
pub mod lower;
pub mod reference;
pub mod secure;
pub mod signs;
