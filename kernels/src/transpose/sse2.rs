//! SSE2 128×128 tile: the same Eklundh block swaps as the AVX2 kernel, one row per xmm.
//!
//! Pass A: levels 1, 2, 4 on groups of 8 consecutive rows, loaded from the source. Pass B:
//! levels 8, 16, 32 on groups of 8 rows with stride 8. Pass C: level 64 with
//! `punpck{l,h}qdq` on rows `k` and `k + 64`, and store. All reads happen before the first
//! write, so the tile may be in place.

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

#[inline]
#[target_feature(enable = "sse2")]
fn swap<const S: i32>(y: &mut [__m128i; 8], i: usize, j: usize, m: __m128i) {
    let (a, b) = (y[i], y[j]);
    let t = _mm_and_si128(_mm_xor_si128(_mm_srli_epi64::<S>(a), b), m);
    y[j] = _mm_xor_si128(b, t);
    y[i] = _mm_xor_si128(a, _mm_slli_epi64::<S>(t));
}

#[inline]
#[target_feature(enable = "sse2")]
fn three_levels<const S1: i32, const S2: i32, const S4: i32>(
    y: &mut [__m128i; 8],
    m: [__m128i; 3],
) {
    for (i, j) in [(0, 1), (2, 3), (4, 5), (6, 7)] {
        swap::<S1>(y, i, j, m[0]);
    }
    for (i, j) in [(0, 2), (1, 3), (4, 6), (5, 7)] {
        swap::<S2>(y, i, j, m[1]);
    }
    for (i, j) in [(0, 4), (1, 5), (2, 6), (3, 7)] {
        swap::<S4>(y, i, j, m[2]);
    }
}

/// Transpose one 128×128 tile: row `r` is `src[r * ss..][..16]`, output block `c` goes to
/// `dst[c * ds..][..16]`.
///
/// # Panics
/// If `src` or `dst` is too short for that layout.
#[inline]
#[target_feature(enable = "sse2")]
pub(super) fn tile(src: &[u8], ss: usize, dst: &mut [u8], ds: usize) {
    let (src_end, dst_end) = super::tile_extent(1, ss, ds);
    assert!(src_end <= src.len(), "tile source out of bounds");
    assert!(dst_end <= dst.len(), "tile destination out of bounds");
    // SAFETY: SSE2 is enabled here; the asserts keep every row read and block write inside
    // the slices, which do not overlap (borrow rules).
    unsafe { tile_raw(src.as_ptr(), ss, dst.as_mut_ptr(), ds) }
}

/// Transpose the 128×128 tile held as 128 rows of 16 bytes in `t`, in place.
#[inline]
#[target_feature(enable = "sse2")]
pub(super) fn tile_inplace(t: &mut [u8; 2048]) {
    let p = t.as_mut_ptr();
    // SAFETY: SSE2 is enabled here; rows and blocks at stride 16 are exactly `t`, and the
    // kernel reads everything before its first write.
    unsafe { tile_raw(p, 16, p, 16) }
}

/// The kernel behind [`tile`] and [`tile_inplace`], on raw pointers.
///
/// # Safety
/// SSE2 must be available; `src + r*ss .. +16` must be readable and `dst + c*ds .. +16`
/// writable for every `r, c < 128`. The source may alias the destination exactly.
#[target_feature(enable = "sse2")]
#[allow(clippy::needless_range_loop)] // g is a row-group coordinate
unsafe fn tile_raw(src: *const u8, ss: usize, dst: *mut u8, ds: usize) {
    let splat = |v: u64| _mm_set1_epi64x(v as i64);
    let lo = [
        splat(0x5555_5555_5555_5555),
        splat(0x3333_3333_3333_3333),
        splat(0x0f0f_0f0f_0f0f_0f0f),
    ];
    let hi = [
        splat(0x00ff_00ff_00ff_00ff),
        splat(0x0000_ffff_0000_ffff),
        splat(0x0000_0000_ffff_ffff),
    ];
    // s[g][i] = row 8g + i after levels 1, 2, 4 (built without zero-filling).
    let mut s: [[__m128i; 8]; 16] = core::array::from_fn(|g| {
        // SAFETY: row 8g + i is readable (caller contract).
        let mut y: [__m128i; 8] = core::array::from_fn(|i| unsafe {
            _mm_loadu_si128(src.add((8 * g + i) * ss) as *const __m128i)
        });
        three_levels::<1, 2, 4>(&mut y, lo);
        y
    });
    for h in [0, 64] {
        for g in 0..8 {
            // Rows h + g + 8i, i < 8.
            let mut y: [__m128i; 8] = core::array::from_fn(|i| s[h / 8 + i][g]);
            three_levels::<8, 16, 32>(&mut y, hi);
            for (i, v) in y.iter().enumerate() {
                s[h / 8 + i][g] = *v;
            }
        }
    }
    for k in 0..64 {
        let (a, b) = (s[k / 8][k % 8], s[8 + k / 8][k % 8]);
        // SAFETY: output blocks k and k + 64 are writable (caller contract).
        unsafe {
            _mm_storeu_si128(dst.add(k * ds) as *mut __m128i, _mm_unpacklo_epi64(a, b));
            _mm_storeu_si128(
                dst.add((k + 64) * ds) as *mut __m128i,
                _mm_unpackhi_epi64(a, b),
            );
        }
    }
}
