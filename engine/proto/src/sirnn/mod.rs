//! SiRNN's protocols (Rathee et al., "SiRNN: A Math Library for Secure RNN Inference",
//! IEEE S&P 2021, and CrypTFlow2, CCS 2020), as EzPC/SCI implements them
//! (`SCI/src/BuildingBlocks/`, `SCI/src/LinearOT/`, `SCI/src/Millionaire/`), one module per
//! protocol, by the paper's names:
//!
//! | paper | module |
//! | --- | --- |
//! | Π_Mill | [`millionaire`] |
//! | Π_MillEq | [`millionaire_eq`] |
//! | Π_Eq | [`equality`] |
//! | Π_Wrap | [`wrap`] |
//! | Π_MSB | [`msb`] |
//! | Π_MSB→Wrap | [`msb_to_wrap`] |
//! | Π_B2A | [`b2a`] |
//! | Π_MUX | [`mux`] |
//! | Π_AND | [`and`] |
//! | Π_LUT | [`lut`] |
//! | Π_Ext (Π_ZExt, Π_SExt) | [`extension`] |
//! | Π_TR | [`tr`] |
//! | Π_Trunc | [`trunc`] |
//! | Π_DivPow2 | [`divpow2`] |
//! | Π_ReLU | [`relu`] |
//! | Π_MaxPool | [`maxpool`] |
//! | Π_AvgPool | [`avgpool`] |
//! | Π_MatMul | [`matmul`] |
//! | Π_Conv | [`conv`] |
//! | Π_FC | [`fc`] |

pub mod and;
pub mod avgpool;
pub mod b2a;
pub mod conv;
pub mod divpow2;
pub mod equality;
pub mod extension;
pub mod fc;
pub mod lut;
pub mod matmul;
pub mod maxpool;
pub mod millionaire;
pub mod millionaire_eq;
pub mod msb;
pub mod msb_to_wrap;
pub mod mux;
pub mod relu;
pub mod tr;
pub mod trunc;
pub mod wrap;
