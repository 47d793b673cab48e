//! Bit-level wire packing shared by all OT payloads and the extension columns.
//!
//! Bit `k` of a stream is bit `k % 8` of byte `k / 8` (LSB first), the layout of
//! `pq_kernels::ring::pack`. [`BitWriter::align`] rounds the stream up to a whole number of
//! `word`-byte words (SCI's per-batch word packing); the padding bits are zero.

use super::{OtError, OtResult};
use pq_kernels::Block;
use pq_kernels::ring::mask;
use pq_netsim::Channel;

/// Payload messages are at most this many bytes (the last one may be shorter). Both parties
/// derive the message sizes from the call's exact payload length.
pub const PAYLOAD_MSG: usize = 1 << 20;

/// Appends l-bit values to a byte vector.
pub struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Pending bits (the low `nbits`), `nbits < 64`.
    acc: u64,
    nbits: u32,
}

impl<'a> BitWriter<'a> {
    /// Start writing at the end of `out` (which should be empty for a new payload).
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        BitWriter {
            out,
            acc: 0,
            nbits: 0,
        }
    }

    /// Append the low `l` bits of `v` (`l` in 1..=64).
    #[inline(always)]
    pub fn put(&mut self, v: u64, l: u32) {
        let v = v & mask(l);
        self.acc |= v << self.nbits;
        let total = self.nbits + l;
        if total >= 64 {
            self.out.extend_from_slice(&self.acc.to_le_bytes());
            self.acc = if self.nbits == 0 {
                0
            } else {
                v >> (64 - self.nbits)
            };
            self.nbits = total - 64;
        } else {
            self.nbits = total;
        }
    }

    /// Bits written so far.
    pub fn bit_len(&self) -> usize {
        self.out.len() * 8 + self.nbits as usize
    }

    fn flush_partial(&mut self) {
        let nb = self.nbits.div_ceil(8) as usize;
        let bytes = self.acc.to_le_bytes();
        self.out.extend_from_slice(&bytes[..nb]);
        self.acc = 0;
        self.nbits = 0;
    }

    /// Round the stream up to a multiple of `word` bytes (zero padding).
    pub fn align(&mut self, word: usize) {
        self.flush_partial();
        let rem = self.out.len() % word;
        if rem != 0 {
            self.out.resize(self.out.len() + word - rem, 0);
        }
    }

    /// Whether the stream is at a byte boundary (so [`put_bytes`](Self::put_bytes) may be used).
    #[inline(always)]
    pub fn byte_aligned(&self) -> bool {
        self.nbits.is_multiple_of(8)
    }

    /// Append whole bytes; the stream must be at a byte boundary.
    #[inline]
    pub fn put_bytes(&mut self, bytes: &[u8]) {
        debug_assert!(self.byte_aligned());
        self.flush_partial();
        self.out.extend_from_slice(bytes);
    }

    /// Flush the last partial byte.
    pub fn finish(mut self) {
        self.flush_partial();
    }
}

/// Reads l-bit values from a byte slice written by [`BitWriter`].
pub struct BitReader<'a> {
    input: &'a [u8],
    pos: usize,
    acc: u128,
    nbits: u32,
}

impl<'a> BitReader<'a> {
    /// Start reading at bit 0 of `input`.
    pub fn new(input: &'a [u8]) -> Self {
        BitReader {
            input,
            pos: 0,
            acc: 0,
            nbits: 0,
        }
    }

    #[inline(always)]
    fn refill(&mut self) {
        if self.pos + 8 <= self.input.len() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&self.input[self.pos..self.pos + 8]);
            self.acc |= (u64::from_le_bytes(b) as u128) << self.nbits;
            self.pos += 8;
            self.nbits += 64;
        } else {
            while self.nbits <= 120 && self.pos < self.input.len() {
                self.acc |= (self.input[self.pos] as u128) << self.nbits;
                self.pos += 1;
                self.nbits += 8;
            }
        }
    }

    /// Read the next `l`-bit value (`l` in 1..=64). Reading past the end yields zero bits; the
    /// caller sizes the input exactly, so this never happens on a well-formed stream.
    #[inline(always)]
    pub fn get(&mut self, l: u32) -> u64 {
        if self.nbits < l {
            self.refill();
        }
        let v = (self.acc as u64) & mask(l);
        self.acc >>= l;
        self.nbits = self.nbits.saturating_sub(l);
        v
    }

    /// Whether the stream is at a byte boundary.
    #[inline(always)]
    pub fn byte_aligned(&self) -> bool {
        self.nbits.is_multiple_of(8)
    }

    /// Take the next `n` whole bytes (the stream must be at a byte boundary). Past the end
    /// the slice is shortened; callers size inputs exactly.
    #[inline]
    pub fn take_bytes(&mut self, n: usize) -> &'a [u8] {
        debug_assert!(self.byte_aligned());
        let bp = self.pos - (self.nbits / 8) as usize;
        let end = (bp + n).min(self.input.len());
        self.pos = end;
        self.acc = 0;
        self.nbits = 0;
        &self.input[bp.min(end)..end]
    }

    /// Skip to the next multiple of `word` bytes (mirror of [`BitWriter::align`]).
    pub fn align(&mut self, word: usize) {
        // Bits consumed so far:
        let consumed = self.pos * 8 - self.nbits as usize;
        let bytes = consumed.div_ceil(8);
        let target = bytes.div_ceil(word) * word;
        self.pos = target.min(self.input.len());
        self.acc = 0;
        self.nbits = 0;
    }
}

/// Send `payload` in messages of at most [`PAYLOAD_MSG`] bytes (none if it is empty).
pub fn send_payload<C: Channel + ?Sized>(ch: &mut C, payload: &[u8]) -> OtResult<()> {
    for piece in payload.chunks(PAYLOAD_MSG) {
        ch.send(piece)?;
    }
    Ok(())
}

/// Receive a payload of exactly `len` bytes sent by [`send_payload`] into `buf`.
pub fn recv_payload<C: Channel + ?Sized>(
    ch: &mut C,
    len: usize,
    buf: &mut Vec<u8>,
) -> OtResult<()> {
    buf.clear();
    buf.resize(len, 0);
    for piece in buf.chunks_mut(PAYLOAD_MSG) {
        ch.recv(piece)?;
    }
    Ok(())
}

/// Pack `rows` rows of `cols` bits each (row `i` stored in `src[i*stride .. (i+1)*stride]`
/// blocks, LSB-first), appending to `out` one bit stream of `rows * cols` bits (a whole number
/// of bytes when `rows` is a multiple of 8).
pub fn pack_rows(src: &[Block], rows: usize, stride: usize, cols: usize, out: &mut Vec<u8>) {
    let bytes = Block::slice_as_bytes(src);
    let sb = stride * 16;
    if cols.is_multiple_of(8) {
        let rb = cols / 8;
        for i in 0..rows {
            out.extend_from_slice(&bytes[i * sb..i * sb + rb]);
        }
        return;
    }
    let mut w = BitWriter::new(out);
    for i in 0..rows {
        let row = &src[i * stride..(i + 1) * stride];
        let mut left = cols;
        for b in row {
            if left == 0 {
                break;
            }
            let lo = b.lo();
            let hi = b.hi();
            let k = left.min(64);
            w.put(lo, k as u32);
            left -= k;
            if left == 0 {
                break;
            }
            let k = left.min(64);
            w.put(hi, k as u32);
            left -= k;
        }
    }
    w.finish();
}

/// Inverse of [`pack_rows`]: fill `dst` (rows × stride blocks); bits past `cols` are zero.
pub fn unpack_rows(
    input: &[u8],
    rows: usize,
    stride: usize,
    cols: usize,
    dst: &mut [Block],
) -> OtResult<()> {
    if input.len() * 8 != (rows * cols).div_ceil(8) * 8 {
        return Err(OtError::InvalidLength {
            what: "column message",
            expected: (rows * cols).div_ceil(8),
            got: input.len(),
        });
    }
    let sb = stride * 16;
    if cols.is_multiple_of(8) {
        let rb = cols / 8;
        let bytes = Block::slice_as_bytes_mut(&mut dst[..rows * stride]);
        for i in 0..rows {
            bytes[i * sb..i * sb + rb].copy_from_slice(&input[i * rb..(i + 1) * rb]);
            bytes[i * sb + rb..(i + 1) * sb].fill(0);
        }
        return Ok(());
    }
    let mut r = BitReader::new(input);
    for i in 0..rows {
        let row = &mut dst[i * stride..(i + 1) * stride];
        let mut left = cols;
        for b in row.iter_mut() {
            let k0 = left.min(64);
            let lo = if k0 > 0 { r.get(k0 as u32) } else { 0 };
            left -= k0;
            let k1 = left.min(64);
            let hi = if k1 > 0 { r.get(k1 as u32) } else { 0 };
            left -= k1;
            *b = Block::from_u64s(lo, hi);
        }
    }
    Ok(())
}

/// Read `l` bits (1..=64) at bit offset `off` of the byte stream `bytes` (bits past the end
/// read as zero).
#[inline(always)]
pub fn read_bits_at(bytes: &[u8], off: usize, l: u32) -> u64 {
    let b = off / 8;
    let mut w = [0u8; 16];
    if b + 16 <= bytes.len() {
        w.copy_from_slice(&bytes[b..b + 16]);
    } else if b < bytes.len() {
        w[..bytes.len() - b].copy_from_slice(&bytes[b..]);
    }
    ((u128::from_le_bytes(w) >> (off % 8)) as u64) & mask(l)
}

/// Read `l` bits at bit offset `off` of the little-endian bit stream held in `blocks`.
#[inline(always)]
pub fn read_bits(blocks: &[Block], off: usize, l: u32) -> u64 {
    let bi = off / 128;
    let sh = (off % 128) as u32;
    let mut v = blocks[bi].0 >> sh;
    if sh + l > 128 {
        v |= blocks[bi + 1].0 << (128 - sh);
    }
    (v as u64) & mask(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_reader_roundtrip() {
        for l in [1u32, 3, 7, 8, 13, 32, 63, 64] {
            let vals: Vec<u64> = (0..1000u64)
                .map(|i| i.wrapping_mul(0x9e3779b97f4a7c15) & mask(l))
                .collect();
            let mut buf = Vec::new();
            let mut w = BitWriter::new(&mut buf);
            for (i, v) in vals.iter().enumerate() {
                w.put(*v, l);
                if i % 100 == 99 {
                    w.align(8);
                }
            }
            w.finish();
            let mut r = BitReader::new(&buf);
            for (i, v) in vals.iter().enumerate() {
                assert_eq!(r.get(l), *v, "l={l} i={i}");
                if i % 100 == 99 {
                    r.align(8);
                }
            }
            // matches ring::pack without alignment
            let mut buf2 = Vec::new();
            let mut w = BitWriter::new(&mut buf2);
            for v in &vals {
                w.put(*v, l);
            }
            w.finish();
            assert_eq!(buf2, pq_kernels::ring::pack_vec(&vals, l));
        }
    }

    #[test]
    fn rows_roundtrip() {
        for cols in [1usize, 7, 8, 127, 128, 129, 200, 256] {
            let stride = cols.div_ceil(128);
            let rows = 128;
            let mut src: Vec<Block> = (0..rows * stride)
                .map(|i| Block((i as u128 + 1).wrapping_mul(0x9e3779b97f4a7c15f39cc0605cedc835)))
                .collect();
            // clear bits past cols so the comparison is meaningful
            for i in 0..rows {
                for (k, b) in src[i * stride..(i + 1) * stride].iter_mut().enumerate() {
                    let valid = cols.saturating_sub(k * 128).min(128);
                    if valid < 128 {
                        b.0 &= (1u128 << valid) - 1;
                    }
                }
            }
            let mut out = Vec::new();
            pack_rows(&src, rows, stride, cols, &mut out);
            assert_eq!(out.len(), 16 * cols);
            let mut dst = vec![Block::ZERO; rows * stride];
            unpack_rows(&out, rows, stride, cols, &mut dst).unwrap();
            assert_eq!(dst, src, "cols={cols}");
        }
    }
}
