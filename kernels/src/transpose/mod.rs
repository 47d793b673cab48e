//! Bit-matrix transpose.
//!
//! Layout: a bit matrix with `rows` rows and `cols` columns is row-major; each row takes
//! `row_bytes(cols) = ceil(cols / 8)` bytes, and bit `c` of row `r` is bit `c % 8` of byte
//! `r * row_bytes(cols) + c / 8` (LSB first). Padding bits at the end of a row are ignored on
//! input and written as zero on output.
//!
//! The IKNP shape is [`transpose_128xn`]: 128 rows of `n` bits become `n` [`Block`]s, where bit
//! `r` of block `c` is bit `c` of row `r`. [`transpose_256xn`] is the same for 256 rows (KKOT),
//! and [`transpose`] handles any shape.
//!
//! Everything is built from one 128×128 tile kernel (Eklundh's recursive block swap: at the
//! level with shift `s`, rows `i` and `i + s` exchange their off-diagonal `s`-wide column
//! blocks via `t = ((x >> s) ^ y) & m; y ^= t; x ^= t << s`):
//! * AVX2: two rows per ymm (`k` and `k + 64`); levels 1, 2, 4 with 64-bit lane shifts; levels
//!   8..64 move whole bytes, so they are an in-lane unpack ladder plus one `vpermq`
//!   (≈0.75 ns per output row for an L1-resident tile, ≈0.85–1.4 ns for 128×2048..16384);
//! * SSE2: one row per xmm, level 64 with `punpck{l,h}qdq` (≈2 ns per row);
//! * portable: the same on 64-bit words (≈6 ns per row).
//!
//! The kernel is chosen from a [`Features`] token (`PQ_FORCE_PORTABLE=1` forces portable); the
//! token can only narrow what the CPU has. Partial tiles (sizes not a multiple of 128) go
//! through a zero-padded scratch tile; only the valid output blocks / bytes are written.

#[cfg(target_arch = "x86_64")]
mod avx2;
mod portable;
#[cfg(target_arch = "x86_64")]
mod sse2;

use crate::block::Block;
use crate::cpu::Features;

/// Bytes per row of a matrix with `cols` columns.
#[inline]
pub fn row_bytes(cols: usize) -> usize {
    cols.div_ceil(8)
}

/// Where the rows (or output blocks) of a tile live in a byte slice: item `i` is the 16 bytes
/// at `off + i * stride`.
#[derive(Clone, Copy, Debug)]
struct At {
    off: usize,
    stride: usize,
}

impl At {
    fn new(off: usize, stride: usize) -> Self {
        At { off, stride }
    }
    /// The same layout shifted by `d` bytes.
    fn plus(self, d: usize) -> Self {
        At {
            off: self.off + d,
            stride: self.stride,
        }
    }
    /// One past the last byte of items `0..n` (16 bytes each).
    fn end(self, n: usize) -> usize {
        self.off + (n - 1) * self.stride + 16
    }
}

/// Bytes a kernel call touches for `t >= 1` side-by-side tiles with row stride `ss` and block
/// stride `ds`: one past the last source byte (`127 ss + 16 t`) and one past the last
/// destination byte (`(128 t - 1) ds + 16`), saturating at `usize::MAX` (no slice is that
/// long, so an overflowing layout fails the bounds checks).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn tile_extent(t: usize, ss: usize, ds: usize) -> (usize, usize) {
    let src = ss.saturating_mul(127).saturating_add(16 * t);
    let dst = ds.saturating_mul(128 * t - 1).saturating_add(16);
    (src, dst)
}

/// Which 128×128 tile kernel runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// AVX2 Eklundh, two rows per ymm.
    Avx2,
    /// SSE2 Eklundh, one row per xmm.
    Sse2,
    /// 64-bit words, no SIMD intrinsics.
    Portable,
}

impl Kernel {
    /// The fastest kernel the features allow. The token can only narrow what this CPU has:
    /// a hand-made `Features { avx2: true, .. }` on a CPU without AVX2 still gets a kernel it can
    /// run, which is what makes the `unsafe` dispatch below sound.
    pub fn select(f: Features) -> Kernel {
        let hw = Features::detect_hw();
        if f.avx2 && hw.avx2 {
            Kernel::Avx2
        } else if f.sse2 && hw.sse2 {
            Kernel::Sse2
        } else {
            Kernel::Portable
        }
    }

    /// Transpose one tile: row `r` is item `r` of `s` in `src`, output block `c` goes to item
    /// `c` of `d` in `dst`.
    #[inline]
    fn tile(self, src: &[u8], s: At, dst: &mut [u8], d: At) {
        assert!(s.end(128) <= src.len(), "tile source out of bounds");
        assert!(d.end(128) <= dst.len(), "tile destination out of bounds");
        let (so, ss, d0, ds) = (s.off, s.stride, d.off, d.stride);
        match self {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `select` returns Avx2 only when this CPU has AVX2 (the enum value cannot reach
            // this private method any other way); the kernel checks its slice bounds.
            Kernel::Avx2 => unsafe { avx2::tiles::<1>(&src[so..], ss, &mut dst[d0..], ds) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above, for SSE2.
            Kernel::Sse2 => unsafe { sse2::tile(&src[so..], ss, &mut dst[d0..], ds) },
            _ => {
                let mut w = portable::load(src, so, ss);
                portable::transpose_words(&mut w);
                portable::store(&w, dst, d0, ds);
            }
        }
    }

    /// Transpose a tile of blocks in place (block `r` = row `r` before, column `r` after).
    #[inline]
    fn tile_inplace(self, t: &mut [Block; 128]) {
        let b: &mut [u8; 2048] = bytemuck::cast_mut(t);
        match self {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX2 present (see `select`).
            Kernel::Avx2 => unsafe { avx2::tile_inplace(b) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: SSE2 present (see `select`).
            Kernel::Sse2 => unsafe { sse2::tile_inplace(b) },
            _ => {
                let mut w = portable::load(b, 0, 16);
                portable::transpose_words(&mut w);
                portable::store(&w, b, 0, 16);
            }
        }
    }

    /// Transpose `ntiles` full tiles side by side: tile `j` has rows `s.plus(16 j)` and writes
    /// its blocks to `d.plus(128 j * d.stride)`.
    #[inline]
    fn strip(self, src: &[u8], s: At, ntiles: usize, dst: &mut [u8], d: At) {
        if ntiles == 0 {
            return;
        }
        assert!(
            s.end(128) + 16 * (ntiles - 1) <= src.len(),
            "strip source out of bounds"
        );
        assert!(
            d.end(128 * ntiles) <= dst.len(),
            "strip destination out of bounds"
        );
        let mut j = 0;
        #[cfg(target_arch = "x86_64")]
        if self == Kernel::Avx2 && s.stride >= 2048 {
            // With rows 2 KiB or more apart, all 128 source rows of a tile sit in one or two
            // L1 sets; two tiles per pass read each line once (1.35 vs 2.05 ns per row at
            // 128×16384). Below that, one tile at a time is faster (smaller scratch).
            while j + 2 <= ntiles {
                let (so, d0) = (s.off + 16 * j, d.off + 128 * j * d.stride);
                // SAFETY: AVX2 present (see `select`); the kernel checks its slice bounds.
                unsafe { avx2::tiles::<2>(&src[so..], s.stride, &mut dst[d0..], d.stride) };
                j += 2;
            }
        }
        for j in j..ntiles {
            self.tile(src, s.plus(16 * j), dst, d.plus(128 * j * d.stride));
        }
    }

    /// Gather a partial tile into a zeroed scratch tile and transpose it: row `r < nr` is the
    /// first `nb` bytes of item `r` of `s`.
    #[inline]
    fn partial(self, src: &[u8], s: At, nr: usize, nb: usize) -> [Block; 128] {
        debug_assert!(nr <= 128 && nb <= 16);
        let mut t = [Block::ZERO; 128];
        for (r, blk) in t.iter_mut().enumerate().take(nr) {
            let p = s.off + r * s.stride;
            if nb == 16 {
                // Fixed-size copy (no memcpy call) for the common partial-in-rows-only case.
                let mut b = [0u8; 16];
                b.copy_from_slice(&src[p..p + 16]);
                *blk = Block::from_bytes(b);
            } else {
                Block::slice_as_bytes_mut(core::slice::from_mut(blk))[..nb]
                    .copy_from_slice(&src[p..p + nb]);
            }
        }
        self.tile_inplace(&mut t);
        t
    }
}

/// Transpose a 128×128 bit tile in place: afterwards bit `r` of `t[c]` is the old bit `c` of
/// `t[r]`.
pub fn transpose_128x128_inplace(t: &mut [Block; 128]) {
    transpose_128x128_inplace_with(Features::get(), t)
}

/// [`transpose_128x128_inplace`] restricted to the given features.
pub fn transpose_128x128_inplace_with(f: Features, t: &mut [Block; 128]) {
    Kernel::select(f).tile_inplace(t)
}

/// Transpose 128 rows × `n` columns (`input.len() == 128 * row_bytes(n)`) into `n` blocks.
pub fn transpose_128xn(input: &[u8], n: usize, out: &mut [Block]) {
    transpose_128xn_with(Features::get(), input, n, out)
}

/// [`transpose_128xn`] restricted to the given features.
pub fn transpose_128xn_with(f: Features, input: &[u8], n: usize, out: &mut [Block]) {
    let rb = row_bytes(n);
    assert_eq!(
        input.len(),
        128 * rb,
        "input must hold 128 rows of {n} bits"
    );
    assert!(out.len() >= n, "output must hold {n} blocks");
    let k = Kernel::select(f);
    let full = n / 128;
    let (head, tail) = out[..n].split_at_mut(128 * full);
    let ob = Block::slice_as_bytes_mut(head);
    k.strip(input, At::new(0, rb), full, ob, At::new(0, 16));
    if !tail.is_empty() {
        let t = k.partial(input, At::new(16 * full, rb), 128, rb - 16 * full);
        tail.copy_from_slice(&t[..tail.len()]);
    }
}

/// Transpose 256 rows × `n` columns (`input.len() == 256 * row_bytes(n)`) into `n` pairs of
/// blocks: bit `r` of `out[c][0]` is bit `c` of row `r`, bit `r` of `out[c][1]` is bit `c` of
/// row `128 + r`.
pub fn transpose_256xn(input: &[u8], n: usize, out: &mut [[Block; 2]]) {
    transpose_256xn_with(Features::get(), input, n, out)
}

/// [`transpose_256xn`] restricted to the given features.
pub fn transpose_256xn_with(f: Features, input: &[u8], n: usize, out: &mut [[Block; 2]]) {
    let rb = row_bytes(n);
    assert_eq!(
        input.len(),
        256 * rb,
        "input must hold 256 rows of {n} bits"
    );
    assert!(out.len() >= n, "output must hold {n} block pairs");
    let k = Kernel::select(f);
    let full = n / 128;
    let (head, tail) = out[..n].split_at_mut(128 * full);
    let ob: &mut [u8] = bytemuck::cast_slice_mut(head);
    for h in 0..2 {
        k.strip(
            input,
            At::new(h * 128 * rb, rb),
            full,
            ob,
            At::new(16 * h, 32),
        );
    }
    if !tail.is_empty() {
        for h in 0..2 {
            let t = k.partial(
                input,
                At::new(h * 128 * rb + 16 * full, rb),
                128,
                rb - 16 * full,
            );
            for (o, b) in tail.iter_mut().zip(t.iter()) {
                o[h] = *b;
            }
        }
    }
}

/// General transpose: `rows × cols` into `cols × rows` (both in the layout above).
pub fn transpose(input: &[u8], rows: usize, cols: usize, output: &mut [u8]) {
    transpose_with(Features::get(), input, rows, cols, output)
}

/// [`transpose`] restricted to the given features.
pub fn transpose_with(f: Features, input: &[u8], rows: usize, cols: usize, output: &mut [u8]) {
    let irb = row_bytes(cols);
    let orb = row_bytes(rows);
    assert_eq!(
        input.len(),
        rows * irb,
        "input must hold {rows} rows of {cols} bits"
    );
    assert_eq!(
        output.len(),
        cols * orb,
        "output must hold {cols} rows of {rows} bits"
    );
    let k = Kernel::select(f);
    // Tile (a, b) covers input rows 128a.. and columns 128b..; every output byte belongs to
    // exactly one tile, so the output needs no clearing.
    for a in 0..rows.div_ceil(128) {
        let nr = (rows - 128 * a).min(128);
        // Full tiles of this row block: one strip.
        let full = if nr == 128 { cols / 128 } else { 0 };
        k.strip(
            input,
            At::new(128 * a * irb, irb),
            full,
            output,
            At::new(16 * a, orb),
        );
        for b in full..cols.div_ceil(128) {
            let nc = (cols - 128 * b).min(128);
            let so = 128 * a * irb + 16 * b;
            let d0 = 128 * b * orb + 16 * a;
            let t = k.partial(input, At::new(so, irb), nr, (irb - 16 * b).min(16));
            let nb = (orb - 16 * a).min(16);
            for (c, blk) in t.iter().enumerate().take(nc) {
                let p = d0 + c * orb;
                let b = blk.to_bytes();
                // Fixed-size copies where possible (a variable-length one is a memcpy call).
                match nb {
                    16 => output[p..p + 16].copy_from_slice(&b),
                    8 => output[p..p + 8].copy_from_slice(&b[..8]),
                    _ => output[p..p + nb].copy_from_slice(&b[..nb]),
                }
            }
        }
    }
}
