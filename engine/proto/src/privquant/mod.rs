//! PrivQuant's protocols (Zhang et al., "PrivQuant: Communication-Efficient Private Inference
//! with Quantized Network/Protocol Co-Optimization", ICCAD 2024) and this project's
//! extensions of them:
//!
//! | paper | module |
//! | --- | --- |
//! | Π_Requant (Algorithm 1) | [`requant`] |
//! | Π_Linear: the DNN-aware linear layer (Table 4's options) and its option chooser | [`linear`] |
//! | Π_Residual: the simplified residual addition | [`residual`] |
//! | the max-pool tree | [`maxpool_tree`] |
//! | Π_Argmax: the secure argmax, revealing only the index | [`argmax`] |
//! | Π_Linear's HE option: W·X on RLWE ciphertexts (Cheetah's HomConv/HomFC) | [`he_linear`] |

pub mod argmax;
pub mod he_linear;
pub mod linear;
pub mod maxpool_tree;
pub mod requant;
pub mod residual;
