//! Fuzzing entry point for the client's input files: the body of the `fuzz/` target `inputs`
//! and of the stable corpus replay test (`tests/fuzz_corpus.rs`).
//!
//! [`inputs`] reads arbitrary bytes with the same readers `infer` and `accuracy` use for
//! `--input` and `--data` ([`crate::input`]), from memory instead of a file. Any input may
//! give an error; none may panic, hang or allocate more than the file's size allows (see the
//! limits in the [`crate::input`] docs). See `docs/fuzzing.md`.

use crate::input::{self, Encoding, InputFormat};
use std::io::Cursor;

/// Bytes of the prefix [`inputs`] reads its choices from.
pub const INPUTS_PREFIX: usize = 4;

/// The encoding [`inputs`] checks against, from prefix bytes 1–3: `C` (1, 3 or 2, the last
/// refused by the image readers), `H` and `W` in `1..=16` each, `bits` in `1..=16`, signed when
/// the top bit of byte 3 is set.
pub fn encoding(prefix: [u8; 3]) -> Encoding {
    Encoding {
        c: [1, 3, 1, 2][usize::from(prefix[0] & 3)],
        h: 1 + usize::from(prefix[1] & 15),
        w: 1 + usize::from(prefix[1] >> 4),
        bits: 1 + u32::from(prefix[2] & 15),
        signed: prefix[2] & 0x80 != 0,
    }
}

/// The input readers. Byte 0 picks the reader: `.npy` ([`input::read_input`]), `.png`,
/// `.pgm`, `.npz` as a data set ([`input::read_dataset`]) or any `.npz` array `logits`
/// ([`input::read_npz_ints`]); bytes 1–3 the encoding ([`encoding`]); the rest is the file.
pub fn inputs(data: &[u8]) {
    let Some((prefix, file)) = data.split_first_chunk::<INPUTS_PREFIX>() else {
        return;
    };
    let enc = encoding([prefix[1], prefix[2], prefix[3]]);
    let len = file.len() as u64;
    let r = Cursor::new(file);
    let check = |v: &[i64], n: usize| {
        assert_eq!(v.len(), n * enc.c * enc.h * enc.w, "wrong number of values");
        let (lo, hi) = if enc.signed {
            (-(1i64 << (enc.bits - 1)), (1i64 << (enc.bits - 1)) - 1)
        } else {
            (0, (1i64 << enc.bits) - 1)
        };
        assert!(
            v.iter().all(|x| (lo..=hi).contains(x)),
            "a value outside the domain"
        );
    };
    match prefix[0] % 5 {
        0 => {
            if let Ok(v) = input::read_input(r, len, InputFormat::Npy, &enc) {
                check(&v, 1);
            }
        }
        1 => {
            if let Ok(v) = input::read_input(r, len, InputFormat::Png, &enc) {
                check(&v, 1);
            }
        }
        2 => {
            if let Ok(v) = input::read_input(r, len, InputFormat::Pgm, &enc) {
                check(&v, 1);
            }
        }
        3 => {
            if let Ok(d) = input::read_dataset(r, len, &enc) {
                check(&d.x, d.n);
                assert_eq!(d.y.len(), d.n, "one label per input");
            }
        }
        _ => {
            if let Ok((shape, v)) = input::read_npz_ints(r, len, "logits") {
                let n = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
                assert_eq!(
                    n,
                    Some(v.len() as u64),
                    "the shape does not hold the values"
                );
            }
        }
    }
}
