//! pq-he: RLWE with plaintext modulus t = 2^l and coefficient encoding, for the HE linear
//! option of Π_Linear (Cheetah's construction: Huang, Lu, Hong, Ding, USENIX Security 2022),
//! at the quantized networks' widths.
//!
//! | module | what |
//! | --- | --- |
//! | [`params`] | N, Q = q0·q1, the secret and error distributions |
//! | [`rlwe`] | keys, encryption with seeded `a`, plaintext products, the response (re-randomise, flood, mask, switch, drop bits), decryption |
//! | [`noise`] | the worst-case noise analysis: flooding size, dropped bits, statistical distance |
//! | [`pack`] | where a convolution's inputs, kernels and outputs sit in the polynomials |
//!
//! The NTT is `tfhe-ntt`'s (prime64, AVX2/AVX-512 dispatched at run time); `docs/he-linear.md`
//! says why.
pub mod noise;
pub mod pack;
pub mod params;
pub mod rlwe;

pub use params::Params;
pub use rlwe::{CtId, He, HeError, Response, SecretKey, Shrink};
