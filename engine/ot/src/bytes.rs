//! Exact byte counts of every OT call.
//!
//! Every call is one round trip: the OT receiver sends its extension columns
//! (`recv_to_send`), the OT sender answers with its payload (`send_to_recv`).
//!
//! **Columns.** λ = 128 bits per OT for IKNP, 2λ = 256 bits per OT for KKOT. With
//! `sci_padding` they are charged on [`sci_pad`]`(n)` OTs (`docs/sci-protocols.md` §OT padding
//! rule), without it on exactly `n`.
//!
//! **Payloads** (`sci_padding`, SCI's packing; `docs/sci-protocols.md` §Payload packing):
//! * COT: l-bit values packed per batch of 1024 OTs, each batch rounded up to whole `u64`
//!   words;
//! * GOT (1-of-2, chosen messages): 2 values per OT, per batch of 1024 OTs, rounded up to whole
//!   `u8` (l ≤ 8) or `u64` (l > 8) words;
//! * KKOT: N values per OT, per batch of 2048 OTs, rounded up to whole `u8` (l ≤ 8) or `u64`
//!   (l > 8) words;
//! * batched (matmul) COT: each OT's `msgs` values rounded up to whole bytes; batched GOT:
//!   each of the two message groups of an OT rounded up to whole bytes.
//!
//! Without `sci_padding` every payload is packed densely: `ceil(total bits / 8)` bytes.

use super::OtOpts;

/// Bytes of one OT call in each direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct OtBytes {
    /// OT receiver → OT sender (the extension columns).
    pub recv_to_send: u64,
    /// OT sender → OT receiver (the payload).
    pub send_to_recv: u64,
}

impl OtBytes {
    /// Bytes in both directions together.
    pub fn total(&self) -> u64 {
        self.recv_to_send + self.send_to_recv
    }
}

/// SCI's padding rule (`docs/sci-protocols.md` §OT padding rule; EzPC `SCI/src/OT/split-iknp.h`):
/// `block = min(16384, ceil(n/256)·256)`,
/// `pad(n) = ceil(n/block)·block`. SCI leaves `n = 0` undefined (it divides by zero); we
/// define `pad(0) = 0`: an empty call sends nothing.
pub fn sci_pad(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    let block = (n.div_ceil(256) * 256).min(16384);
    n.div_ceil(block) * block
}

/// OTs whose columns go on the wire for a call of `n` OTs.
pub fn column_ots(n: u64, opts: OtOpts) -> u64 {
    if opts.sci_padding { sci_pad(n) } else { n }
}

/// Bytes the COT receiver sends for the columns (IKNP, SoftSpoken) or the corrections
/// (Ferret) of a chosen-choice call of `n` OTs on `opts.source`.
pub fn column_bytes(n: u64, opts: OtOpts) -> u64 {
    if opts.sci_padding {
        16 * sci_pad(n)
    } else {
        opts.source.column_bytes(n)
    }
}

/// Random-choice COTs (`send_rcot` / `recv_rcot`): the columns, or nothing on Ferret.
pub fn rcot_bytes(n: u64, opts: OtOpts) -> OtBytes {
    OtBytes {
        recv_to_send: if opts.sci_padding {
            16 * sci_pad(n)
        } else {
            opts.source.rcot_column_bytes(n)
        },
        send_to_recv: 0,
    }
}

/// Bytes of `values` values of `bits` bits each, packed per batch: `batch` groups of
/// `per_item` values, each batch rounded up to `word` bytes.
fn batched_words(items: u64, per_item: u64, bits: u64, batch: u64, word: u64) -> u64 {
    let full = items / batch;
    let rest = items % batch;
    let wbits = 8 * word;
    let one = |k: u64| (k * per_item * bits).div_ceil(wbits) * word;
    full * one(batch) + if rest > 0 { one(rest) } else { 0 }
}

/// The word size SCI uses for GOT/KKOT payloads: `u8` for l ≤ 8, `u64` otherwise.
pub fn sci_word(l: u32) -> u64 {
    if l <= 8 { 1 } else { 8 }
}

/// SCI's COT batch (`AES_BATCH_SIZE / 2`).
pub const SCI_COT_BATCH: u64 = 1024;
/// SCI's GOT batch (sender side; the receiver's 2048 gives the same totals).
pub const SCI_GOT_BATCH: u64 = 1024;
/// SCI's KKOT batch (`ro_batch_size`).
pub const SCI_KKOT_BATCH: u64 = 2048;

/// Payload bytes of an l-bit COT call.
pub fn cot_payload(n: u64, l: u32, opts: OtOpts) -> u64 {
    if opts.sci_padding {
        batched_words(n, 1, l as u64, SCI_COT_BATCH, 8)
    } else {
        (n * l as u64).div_ceil(8)
    }
}

/// Payload bytes of an l-bit chosen-message 1-of-2 OT call.
pub fn got_payload(n: u64, l: u32, opts: OtOpts) -> u64 {
    if opts.sci_padding {
        batched_words(n, 2, l as u64, SCI_GOT_BATCH, sci_word(l))
    } else {
        (2 * n * l as u64).div_ceil(8)
    }
}

/// Payload bytes of a 1-of-N OT call with l-bit messages.
pub fn kkot_payload(n: u64, n_choices: u64, l: u32, opts: OtOpts) -> u64 {
    if opts.sci_padding {
        batched_words(n, n_choices, l as u64, SCI_KKOT_BATCH, sci_word(l))
    } else {
        (n * n_choices * l as u64).div_ceil(8)
    }
}

/// Payload bytes of a batched COT call (OT j carries `msgs` values of `lens[j]` bits).
pub fn batched_cot_payload(lens: &[u32], msgs: u64, opts: OtOpts) -> u64 {
    if opts.sci_padding {
        lens.iter().map(|&l| (msgs * l as u64).div_ceil(8)).sum()
    } else {
        lens.iter()
            .map(|&l| msgs * l as u64)
            .sum::<u64>()
            .div_ceil(8)
    }
}

/// Payload bytes of a batched GOT call.
pub fn batched_got_payload(n: u64, msgs: u64, l: u32, opts: OtOpts) -> u64 {
    if opts.sci_padding {
        n * 2 * (msgs * l as u64).div_ceil(8)
    } else {
        (2 * n * msgs * l as u64).div_ceil(8)
    }
}

/// [`IknpSender::send_cot`](super::IknpSender::send_cot) /
/// [`recv_cot`](super::IknpReceiver::recv_cot): λ + l bits per OT.
pub fn cot_bytes(n: u64, l: u32, opts: OtOpts) -> OtBytes {
    OtBytes {
        recv_to_send: column_bytes(n, opts),
        send_to_recv: cot_payload(n, l, opts),
    }
}

/// Chosen-message 1-of-2 OT with l-bit messages: λ + 2l bits per OT.
pub fn got_bytes(n: u64, l: u32, opts: OtOpts) -> OtBytes {
    OtBytes {
        recv_to_send: column_bytes(n, opts),
        send_to_recv: got_payload(n, l, opts),
    }
}

/// Correlated (`send_cot_blocks`), random-choice (`send_rcot`) and random (`send_rot`) OTs:
/// λ bits per OT, no payload.
pub fn cot_blocks_bytes(n: u64, opts: OtOpts) -> OtBytes {
    OtBytes {
        recv_to_send: column_bytes(n, opts),
        send_to_recv: 0,
    }
}

/// Batched COT: λ + Σ msgs·`lens[j]` bits (rounded as described in the module doc).
pub fn batched_cot_bytes(lens: &[u32], msgs: u64, opts: OtOpts) -> OtBytes {
    OtBytes {
        recv_to_send: column_bytes(lens.len() as u64, opts),
        send_to_recv: batched_cot_payload(lens, msgs, opts),
    }
}

/// Batched GOT: λ + 2·msgs·l bits per OT.
pub fn batched_got_bytes(n: u64, msgs: u64, l: u32, opts: OtOpts) -> OtBytes {
    OtBytes {
        recv_to_send: column_bytes(n, opts),
        send_to_recv: batched_got_payload(n, msgs, l, opts),
    }
}

/// 1-of-N OT with l-bit messages: 2λ + N·l bits per OT.
pub fn kkot_bytes(n: u64, n_choices: u64, l: u32, opts: OtOpts) -> OtBytes {
    OtBytes {
        recv_to_send: 32 * column_ots(n, opts),
        send_to_recv: kkot_payload(n, n_choices, l, opts),
    }
}

/// 1-of-N OT from ⌈log2 N⌉ COTs each ([`crate::one_of_n`]): the source's columns of
/// `n·⌈log2 N⌉` chosen-choice COTs, then KKOT's dense payload. No SCI padding rule.
pub fn cot_1ofn_bytes(n: u64, n_choices: u64, l: u32, opts: OtOpts) -> OtBytes {
    let m = crate::one_of_n::cots_per_ot(n_choices as usize) as u64;
    OtBytes {
        recv_to_send: column_bytes(n * m, opts),
        send_to_recv: kkot_payload(n, n_choices, l, opts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_rule() {
        assert_eq!(sci_pad(0), 0);
        assert_eq!(sci_pad(1), 256);
        assert_eq!(sci_pad(1000), 1024);
        assert_eq!(sci_pad(16384), 16384);
        assert_eq!(sci_pad(16385), 32768);
        assert_eq!(sci_pad(100_000), 114_688);
        assert_eq!(sci_pad(65536), 65536);
    }

    #[test]
    fn golden() {
        let s = OtOpts::SCI;
        assert_eq!(cot_bytes(100_000, 16, s).total(), 2_035_008);
        assert_eq!(cot_bytes(65536, 32, s).total(), 1_310_720);
        assert_eq!(got_bytes(65536, 8, s).total(), 1_179_648);
        assert_eq!(kkot_bytes(65536, 16, 2, s).total(), 2_359_296);
    }
}
