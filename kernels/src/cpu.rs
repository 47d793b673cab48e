//! Run-time CPU feature detection.
//!
//! Detection happens once; kernels keep the result as a token ([`Features`]) in their structs.
//! Set `PQ_FORCE_PORTABLE=1` in the environment to force every portable fallback (tests use
//! this, and [`Features::portable`] gives the same thing programmatically).
//!
//! SSE2, SSSE3, AES-NI and AVX2 are detected with `cpufeatures` (CPUID plus, for AVX2, the
//! OS's XSAVE support for YMM state; each result is cached in an atomic). VAES is detected with
//! `is_x86_feature_detected!`, not cpufeatures 0.3, which wrongly gates VAES on AVX-512 (ZMM)
//! state and so never reports it on AVX2-only CPUs such as Zen 3.

use std::sync::OnceLock;

#[cfg(target_arch = "x86_64")]
cpufeatures::new!(cpuid_sse2, "sse2");
#[cfg(target_arch = "x86_64")]
cpufeatures::new!(cpuid_ssse3, "ssse3");
#[cfg(target_arch = "x86_64")]
cpufeatures::new!(cpuid_aesni, "aes", "sse2");
#[cfg(target_arch = "x86_64")]
cpufeatures::new!(cpuid_avx2, "avx2");

/// Which instruction-set extensions the kernels may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Features {
    /// SSE2 (the SSE2 transpose tile).
    pub sse2: bool,
    /// SSSE3 (byte shuffles; no kernel requires it today).
    pub ssse3: bool,
    /// AES-NI together with SSE2 (the 128-bit AES path).
    pub aesni: bool,
    /// AVX2 (the AVX2 transpose tile; needed for VAES too).
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
            let sse2 = cpuid_sse2::get();
            let ssse3 = cpuid_ssse3::get();
            let aesni = cpuid_aesni::get();
            let avx2 = cpuid_avx2::get();
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
