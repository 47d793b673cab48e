//! Run-time CPU feature detection.
//!
//! Detection happens once; kernels keep the result as a token ([`Features`]) in their structs.
//! Set `PQ_FORCE_PORTABLE=1` in the environment to force every portable fallback (tests use
//! this, and [`Features::portable`] gives the same thing programmatically).
//!
//! VAES is detected with `is_x86_feature_detected!`, not cpufeatures 0.3, which wrongly gates
//! VAES on AVX-512 (ZMM) state and so never reports it on AVX2-only CPUs such as Zen 3.

use std::sync::OnceLock;

/// Which instruction-set extensions the kernels may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Features {
    pub sse2: bool,
    pub ssse3: bool,
    pub aesni: bool,
    pub avx2: bool,
    /// VAES with 256-bit vectors (needs AVX2 as well).
    pub vaes: bool,
}

impl Features {
    /// No SIMD at all: every kernel takes its portable path.
    pub const fn portable() -> Self {
        Features {
            sse2: false,
            ssse3: false,
            aesni: false,
            avx2: false,
            vaes: false,
        }
    }

    /// The features of this CPU, unless `PQ_FORCE_PORTABLE` is set (then [`Features::portable`]).
    pub fn get() -> Self {
        static F: OnceLock<Features> = OnceLock::new();
        *F.get_or_init(|| {
            if force_portable() {
                Features::portable()
            } else {
                Self::detect_hw()
            }
        })
    }

    /// The features of this CPU, ignoring `PQ_FORCE_PORTABLE`.
    pub fn detect_hw() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            let sse2 = std::arch::is_x86_feature_detected!("sse2");
            let ssse3 = std::arch::is_x86_feature_detected!("ssse3");
            let aesni = std::arch::is_x86_feature_detected!("aes") && sse2;
            let avx2 = std::arch::is_x86_feature_detected!("avx2");
            let vaes = std::arch::is_x86_feature_detected!("vaes") && avx2 && aesni;
            Features {
                sse2,
                ssse3,
                aesni,
                avx2,
                vaes,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Features::portable()
        }
    }
}

/// True when `PQ_FORCE_PORTABLE` is set to a non-empty value other than `0`.
pub fn force_portable() -> bool {
    matches!(std::env::var("PQ_FORCE_PORTABLE"), Ok(v) if !v.is_empty() && v != "0")
}
