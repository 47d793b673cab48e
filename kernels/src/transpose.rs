//! Bit-matrix transpose.
//!
//! Layout: a bit matrix with `rows` rows and `cols` columns is row-major; each row takes
//! `row_bytes(cols) = ceil(cols / 8)` bytes, and bit `c` of row `r` is bit `c % 8` of byte
//! `r * row_bytes(cols) + c / 8` (LSB first). Padding bits at the end of a row are ignored on
//! input and written as zero on output.
//!
//! The IKNP shape is [`transpose_128xn`]: 128 rows of `n` bits become `n` [`Block`]s, where bit
//! `r` of block `c` is bit `c` of row `r`.

use crate::block::Block;
use crate::cpu::Features;

/// Bytes per row of a matrix with `cols` columns.
#[inline]
pub fn row_bytes(cols: usize) -> usize {
    cols.div_ceil(8)
}

/// Transpose 128 rows × `n` columns (`input.len() == 128 * row_bytes(n)`) into `n` blocks.
pub fn transpose_128xn(input: &[u8], n: usize, out: &mut [Block]) {
    transpose_128xn_with(Features::get(), input, n, out)
}

/// [`transpose_128xn`] restricted to the given features.
pub fn transpose_128xn_with(_f: Features, input: &[u8], n: usize, out: &mut [Block]) {
    let rb = row_bytes(n);
    assert_eq!(
        input.len(),
        128 * rb,
        "input must hold 128 rows of {n} bits"
    );
    assert!(out.len() >= n, "output must hold {n} blocks");
    for o in out[..n].iter_mut() {
        *o = Block::ZERO;
    }
    for r in 0..128 {
        let row = &input[r * rb..(r + 1) * rb];
        for c in 0..n {
            if (row[c / 8] >> (c % 8)) & 1 == 1 {
                out[c].0 |= 1u128 << r;
            }
        }
    }
}

/// General transpose: `rows × cols` into `cols × rows` (both in the layout above).
pub fn transpose(input: &[u8], rows: usize, cols: usize, output: &mut [u8]) {
    let irb = row_bytes(cols);
    let orb = row_bytes(rows);
    assert_eq!(input.len(), rows * irb);
    assert_eq!(output.len(), cols * orb);
    output.fill(0);
    for r in 0..rows {
        for c in 0..cols {
            let bit = (input[r * irb + c / 8] >> (c % 8)) & 1;
            output[c * orb + r / 8] |= bit << (r % 8);
        }
    }
}
