//! AVX2 128×128 tile: Eklundh block swaps on 64 ymm values, each holding two rows.
//!
//! `y[k]` holds rows `k` (low lane) and `k + 64` (high lane). Levels `s` = 1..=32 swap
//! within 64-bit lanes with shift-xor-mask; level 64 is a `vpermq` inside each `y[k]`.
//! Pass A runs levels 1, 2, 4 on groups of 8 consecutive `y`s straight from the source
//! rows. What is left (levels 8, 16, 32, 64) moves whole bytes: it is a 16×16 byte transpose
//! of the rows `g + 8i`, which pass B does per group `g` with an unpack ladder
//! (epi8, epi16, epi32) inside lanes plus one `vpermq` for the lane level, and stores. All reads happen before the first write, so the tile may be in place.

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

/// `(a, b) <- swap bits of a (columns with bit S set) with bits of b (columns with bit S clear)`.
#[inline]
#[target_feature(enable = "avx2")]
fn swap<const S: i32>(y: &mut [__m256i; 8], i: usize, j: usize, m: __m256i) {
    let (a, b) = (y[i], y[j]);
    let t = _mm256_and_si256(_mm256_xor_si256(_mm256_srli_epi64::<S>(a), b), m);
    y[j] = _mm256_xor_si256(b, t);
    y[i] = _mm256_xor_si256(a, _mm256_slli_epi64::<S>(t));
}

/// Levels 1, 2, 4 on 8 values: pairs differing in index bit 1, 2, 4 with shifts S1, S2, S4.
#[inline]
#[target_feature(enable = "avx2")]
fn three_levels<const S1: i32, const S2: i32, const S4: i32>(
    y: &mut [__m256i; 8],
    m: [__m256i; 3],
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

/// Levels 8, 16, 32 as a byte transpose by an unpack ladder. Input: `x[i]` = rows
/// `(g + 8i, g + 8i + 64)` after levels 1, 2, 4. Output `v[n]`, after `vpermq` (0, 2, 1, 3),
/// holds the finished output blocks `g + 16n` (low lane) and `g + 16n + 8` (high lane).
///
/// Lane `L` of `x[i]` holds row `g + 8(i + 8L)`; output block `g + 8m` byte `β` is that
/// intermediate row's byte `m` for `β = i + 8L`. The three unpack levels gather byte `m` of
/// `x[0..8]` into one qword: qword `q` of lane `L` of `v[n]` is bytes `8L..8L+8` of output
/// block `g + 8(2n + q)`.
#[inline]
#[target_feature(enable = "avx2")]
fn byte_transpose(x: &[__m256i; 8]) -> [__m256i; 8] {
    let z: [[__m256i; 4]; 2] = [
        core::array::from_fn(|a| _mm256_unpacklo_epi8(x[2 * a], x[2 * a + 1])),
        core::array::from_fn(|a| _mm256_unpackhi_epi8(x[2 * a], x[2 * a + 1])),
    ];
    let w: [[[__m256i; 2]; 2]; 2] = core::array::from_fn(|h| {
        [
            core::array::from_fn(|b| _mm256_unpacklo_epi16(z[h][2 * b], z[h][2 * b + 1])),
            core::array::from_fn(|b| _mm256_unpackhi_epi16(z[h][2 * b], z[h][2 * b + 1])),
        ]
    });
    core::array::from_fn(|n| {
        let (h, p) = (n / 4, (n / 2) % 2);
        if n % 2 == 0 {
            _mm256_unpacklo_epi32(w[h][p][0], w[h][p][1])
        } else {
            _mm256_unpackhi_epi32(w[h][p][0], w[h][p][1])
        }
    })
}

/// Transpose `T` side-by-side 128×128 tiles: row `r` of tile `t` is
/// `src[r * ss + 16 t..][..16]`, output block `c` of tile `t` goes to
/// `dst[(128 t + c) * ds..][..16]`.
///
/// # Panics
/// If `src` or `dst` is too short for that layout.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn tiles<const T: usize>(src: &[u8], ss: usize, dst: &mut [u8], ds: usize) {
    let (src_end, dst_end) = super::tile_extent(T, ss, ds);
    assert!(src_end <= src.len(), "tile source out of bounds");
    assert!(dst_end <= dst.len(), "tile destination out of bounds");
    // SAFETY: AVX2 is enabled here; the asserts keep every row read and block write inside
    // the slices, which do not overlap (borrow rules).
    unsafe { tiles_raw::<T>(src.as_ptr(), ss, dst.as_mut_ptr(), ds) }
}

/// Transpose the 128×128 tile held as 128 rows of 16 bytes in `t`, in place.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn tile_inplace(t: &mut [u8; 2048]) {
    let p = t.as_mut_ptr();
    // SAFETY: AVX2 is enabled here; rows and blocks at stride 16 are exactly `t`, and the
    // kernel reads everything before its first write.
    unsafe { tiles_raw::<1>(p, 16, p, 16) }
}

/// The kernel behind [`tiles`] and [`tile_inplace`], on raw pointers.
///
/// Pass A walks the rows once for all `T` tiles, so each source line is fetched once per
/// strip instead of once per tile (with a large power-of-two row stride all 128 rows of a
/// tile fall into one or two L1 sets, so lines do not survive until the next tile).
///
/// # Safety
/// AVX2 must be available; the rows must be readable and the blocks writable. With `T = 1`
/// and `ss == ds == 16` the source may be the destination (in place).
#[target_feature(enable = "avx2")]
#[allow(clippy::needless_range_loop)] // t and g are tile and row-group coordinates
unsafe fn tiles_raw<const T: usize>(src: *const u8, ss: usize, dst: *mut u8, ds: usize) {
    let splat = |v: u64| _mm256_set1_epi64x(v as i64);
    let lo = [
        splat(0x5555_5555_5555_5555),
        splat(0x3333_3333_3333_3333),
        splat(0x0f0f_0f0f_0f0f_0f0f),
    ];
    // s[g][t][i] = row pair 8g + i of tile t after levels 1, 2, 4 (built without zero-filling).
    let s: [[[__m256i; 8]; T]; 8] = core::array::from_fn(|g| {
        core::array::from_fn(|t| {
            let mut y: [__m256i; 8] = core::array::from_fn(|i| {
                let k = 8 * g + i;
                // SAFETY: rows k and k + 64 of tile t are readable (caller contract).
                unsafe {
                    _mm256_loadu2_m128i(
                        src.add((k + 64) * ss + 16 * t) as *const __m128i,
                        src.add(k * ss + 16 * t) as *const __m128i,
                    )
                }
            });
            three_levels::<1, 2, 4>(&mut y, lo);
            y
        })
    });
    for t in 0..T {
        for g in 0..8 {
            // Row pairs g + 8i, i < 8.
            let y: [__m256i; 8] = core::array::from_fn(|i| s[i][t][g]);
            for (n, v) in byte_transpose(&y).iter().enumerate() {
                let k = 128 * t + g + 16 * n;
                let w = _mm256_permute4x64_epi64::<0b11_01_10_00>(*v);
                // SAFETY: output blocks k and k + 8 are writable (caller contract).
                unsafe {
                    _mm256_storeu2_m128i(
                        dst.add((k + 8) * ds) as *mut __m128i,
                        dst.add(k * ds) as *mut __m128i,
                        w,
                    )
                };
            }
        }
    }
}
