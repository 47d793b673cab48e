//! pq-he: RLWE with plaintext modulus t = 2^l and coefficient encoding, for the HE linear
//! option of Π_Linear (Cheetah's construction: Huang, Lu, Hong, Ding, USENIX Security 2022).
pub mod pack;
