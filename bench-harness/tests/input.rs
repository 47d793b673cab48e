//! `bench_harness::input`: loading a client's input (.npy, .png, .pgm) and a labelled data set
//! (.npz). Every fixture is written here, byte by byte or with the `png` and `zip` writers, into
//! a fresh directory under the system's temp dir.

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use bench_harness::input::{Dataset, Encoding, load_dataset, load_input};

mod common;
use common::{npy_raw, npy_with, zip_bytes};

// ---------------------------------------------------------------------------------------------
// Fixtures

/// A directory under the temp dir, unique to this process and call, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("pq-input-test-{}-{tag}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the scratch dir");
        Scratch(dir)
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).expect("write a fixture");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn enc(c: usize, h: usize, w: usize, bits: u32, signed: bool) -> Encoding {
    Encoding {
        c,
        h,
        w,
        bits,
        signed,
    }
}

/// The error message of a call expected to fail.
fn err<T: Debug>(r: anyhow::Result<T>) -> String {
    format!("{:#}", r.expect_err("expected an error"))
}

fn assert_has(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message {msg:?} lacks {p:?}");
    }
}

/// Encodes `vals` as the integer dtype `descr` (e.g. `<i2`, `>u8`, `|u1`).
fn encode(descr: &str, vals: &[i128]) -> Vec<u8> {
    let big = descr.starts_with('>');
    let size: usize = descr[2..].parse().expect("dtype size");
    let mut out = Vec::new();
    for &v in vals {
        let le = (v as u128).to_le_bytes();
        let mut b = le[..size].to_vec();
        if big {
            b.reverse();
        }
        out.extend(b);
    }
    out
}

fn npy(descr: &str, shape: &[u64], vals: &[i128]) -> Vec<u8> {
    npy_with(1, descr, false, shape, &encode(descr, vals))
}

fn png_bytes(
    w: u32,
    h: u32,
    color: png::ColorType,
    depth: png::BitDepth,
    palette: Option<&[u8]>,
    data: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut e = png::Encoder::new(&mut out, w, h);
        e.set_color(color);
        e.set_depth(depth);
        if let Some(p) = palette {
            e.set_palette(p.to_vec());
        }
        let mut wr = e.write_header().expect("png header");
        wr.write_image_data(data).expect("png data");
    }
    out
}

fn png8(w: u32, h: u32, color: png::ColorType, data: &[u8]) -> Vec<u8> {
    png_bytes(w, h, color, png::BitDepth::Eight, None, data)
}

/// Loads every prefix and every byte-inverted variant of `bytes`: errors are fine, panics not.
fn survives_corruption(name: &str, bytes: &[u8], load: impl Fn(&Path) -> bool) {
    let dir = Scratch::new("fuzz");
    let mut ok = 0usize;
    for cut in 0..bytes.len() {
        ok += usize::from(load(&dir.file(name, &bytes[..cut])));
    }
    for i in 0..bytes.len() {
        for flip in [0xFFu8, 0x01, 0x80] {
            let mut b = bytes.to_vec();
            b[i] ^= flip;
            ok += usize::from(load(&dir.file(name, &b)));
        }
    }
    assert!(load(&dir.file(name, bytes)), "the intact {name} must load");
    // Some corruptions (e.g. in padding or pixel values) still load; that is fine.
    let _ = ok;
}

// ---------------------------------------------------------------------------------------------
// .npy

#[test]
fn npy_every_integer_dtype() {
    let dir = Scratch::new("dtypes");
    let unsigned = [0i128, 1, 2, 128, 254, 255];
    let signed = [-128i128, -1, 0, 1, 100, 127];
    for descr in [
        "|u1", "|i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8", ">u2", ">i2", ">u4", ">i4", ">u8",
        ">i8",
    ] {
        let is_signed = descr.as_bytes()[1] == b'i';
        let vals = if is_signed { &signed } else { &unsigned };
        let p = dir.file("a.npy", &npy(descr, &[1, 2, 3], vals));
        let got = load_input(&p, &enc(1, 2, 3, 8, is_signed)).expect(descr);
        let want: Vec<i64> = vals.iter().map(|&v| v as i64).collect();
        assert_eq!(got, want, "{descr}");
    }
    // 16-bit encodings reach the ends of their domains.
    for (descr, signed, vals) in [
        ("<u2", false, [0i128, 65535, 1]),
        (">u4", false, [65535, 0, 7]),
        ("<i2", true, [-32768, 32767, -1]),
        (">i8", true, [32767, -32768, 0]),
    ] {
        let p = dir.file("b.npy", &npy(descr, &[1, 1, 3], &vals));
        let got = load_input(&p, &enc(1, 1, 3, 16, signed)).expect(descr);
        assert_eq!(
            got,
            vals.iter().map(|&v| v as i64).collect::<Vec<_>>(),
            "{descr}"
        );
    }
}

#[test]
fn npy_accepted_shapes_keep_chw_order() {
    let dir = Scratch::new("shapes");
    let vals: Vec<i128> = (0..12).collect();
    let want: Vec<i64> = (0..12).collect();
    let e = enc(2, 2, 3, 8, false);
    for shape in [&[2u64, 2, 3][..], &[1, 2, 2, 3]] {
        let p = dir.file("a.npy", &npy("|u1", shape, &vals));
        assert_eq!(load_input(&p, &e).expect("shape"), want, "{shape:?}");
    }
    // (H, W) when C = 1.
    let p = dir.file("hw.npy", &npy("|u1", &[4, 3], &vals));
    assert_eq!(
        load_input(&p, &enc(1, 4, 3, 8, false)).expect("(H, W)"),
        want
    );
    // ... but not when C = 2.
    let p = dir.file("hw2.npy", &npy("|u1", &[2, 6], &vals));
    let m = err(load_input(&p, &e));
    assert_has(
        &m,
        &[
            "hw2.npy",
            "shape (2, 6)",
            "2×2×3",
            "(2, 2, 3) or (1, 2, 2, 3)",
        ],
    );
    assert!(!m.contains("or (2, 3)"), "{m}");
    // A wrong order of the same dimensions, a batch of two, a flat vector.
    for shape in [&[2u64, 3, 2][..], &[2, 1, 2, 3], &[12]] {
        let p = dir.file("bad.npy", &npy("|u1", shape, &vals));
        let m = err(load_input(&p, &e));
        assert_has(&m, &["accepted shapes", "(2, 2, 3)", "(1, 2, 2, 3)"]);
    }
    let p = dir.file("c1.npy", &npy("|u1", &[3, 4], &vals));
    let m = err(load_input(&p, &enc(1, 4, 3, 8, false)));
    assert_has(&m, &["shape (3, 4)", "(1, 4, 3) or (1, 1, 4, 3) or (4, 3)"]);
}

#[test]
fn npy_non_integer_dtypes_refused_by_name() {
    let dir = Scratch::new("float");
    let e = enc(1, 1, 2, 8, false);
    let p = dir.file("f.npy", &npy_with(1, "<f4", false, &[1, 1, 2], &[0; 8]));
    let m = err(load_input(&p, &e));
    assert_has(
        &m,
        &[
            "f.npy",
            "'<f4' is a float array",
            "the model takes integers: quantize the image first",
        ],
    );
    assert_has(&m, &["|u1", "<i8"]);
    for (descr, what) in [
        ("<f8", "float"),
        ("<f2", "float"),
        ("|b1", "bool"),
        ("|O", "object"),
        ("<c8", "complex"),
        ("<U3", "unicode"),
        ("|S2", "byte-string"),
        ("<M8[ns]", "datetime"),
        ("<i16", "not a supported integer type"),
        ("|i4", "not a supported integer type"),
    ] {
        let p = dir.file("x.npy", &npy_with(1, descr, false, &[1, 1, 2], &[0; 64]));
        let m = err(load_input(&p, &e));
        assert_has(&m, &[&format!("'{descr}'"), what]);
    }
    let structured = "{'descr': [('a', '<i4'), ('b', '<i4')], 'fortran_order': False, \
                      'shape': (1, 1, 2), }";
    let p = dir.file("s.npy", &npy_raw(1, structured, &[0; 16]));
    assert_has(&err(load_input(&p, &e)), &["structured"]);
}

#[test]
fn npy_fortran_order_refused() {
    let dir = Scratch::new("fortran");
    let p = dir.file("f.npy", &npy_with(1, "|u1", true, &[1, 2, 3], &[0; 6]));
    let m = err(load_input(&p, &enc(1, 2, 3, 8, false)));
    assert_has(&m, &["f.npy", "Fortran", "C order"]);
}

#[test]
fn npy_domain_unsigned_8_bit() {
    let dir = Scratch::new("domain-u8");
    let e = enc(2, 2, 3, 8, false);
    let mut vals = vec![0i128; 12];
    vals[5] = 255;
    let p = dir.file("ok.npy", &npy("<u2", &[2, 2, 3], &vals));
    assert_eq!(load_input(&p, &e).expect("255 fits")[5], 255);
    // Flat index 11 = (c 1, h 1, w 2); index 5 is (0, 1, 2).
    vals[11] = 256;
    let p = dir.file("bad.npy", &npy("<u2", &[2, 2, 3], &vals));
    let m = err(load_input(&p, &e));
    assert_has(
        &m,
        &[
            "bad.npy",
            "(c, h, w) = (1, 1, 2)",
            "is 256",
            "unsigned 8-bit [0, 255]",
        ],
    );
    // The first one outside is named.
    vals[5] = 300;
    let p = dir.file("bad2.npy", &npy("<u2", &[1, 2, 2, 3], &vals));
    assert_has(
        &err(load_input(&p, &e)),
        &["(c, h, w) = (0, 1, 2)", "is 300"],
    );
    // A signed dtype holding a negative value, for an unsigned encoding.
    let p = dir.file("neg.npy", &npy("|i1", &[2, 2, 3], &[-1; 12]));
    assert_has(
        &err(load_input(&p, &e)),
        &["(c, h, w) = (0, 0, 0)", "is -1"],
    );
    // The largest u64 is out of range, not wrapped.
    let p = dir.file("big.npy", &npy("<u8", &[2, 2, 3], &[u64::MAX as i128; 12]));
    assert_has(&err(load_input(&p, &e)), &["is 18446744073709551615"]);
    // Low bit widths.
    let p = dir.file("u4.npy", &npy("|u1", &[1, 1, 3], &[0, 15, 16]));
    let m = err(load_input(&p, &enc(1, 1, 3, 4, false)));
    assert_has(
        &m,
        &["(c, h, w) = (0, 0, 2)", "is 16", "unsigned 4-bit [0, 15]"],
    );
}

#[test]
fn npy_domain_signed_8_bit() {
    let dir = Scratch::new("domain-i8");
    let e = enc(1, 2, 2, 8, true);
    let p = dir.file("ok.npy", &npy("<i2", &[1, 2, 2], &[-128, 127, 0, -1]));
    assert_eq!(
        load_input(&p, &e).expect("in domain"),
        vec![-128, 127, 0, -1]
    );
    let p = dir.file("low.npy", &npy("<i2", &[1, 2, 2], &[-128, 127, -129, 0]));
    let m = err(load_input(&p, &e));
    assert_has(
        &m,
        &[
            "(c, h, w) = (0, 1, 0)",
            "is -129",
            "signed 8-bit [-128, 127]",
        ],
    );
    let p = dir.file("high.npy", &npy("<i4", &[2, 2], &[0, 128, 0, 0]));
    assert_has(
        &err(load_input(&p, &e)),
        &["(c, h, w) = (0, 0, 1)", "is 128"],
    );
    // Signed 1-bit: [-1, 0].
    let p = dir.file("i1.npy", &npy("|i1", &[1, 1, 3], &[-1, 0, 1]));
    let m = err(load_input(&p, &enc(1, 1, 3, 1, true)));
    assert_has(&m, &["is 1", "signed 1-bit [-1, 0]"]);
}

#[test]
fn npy_format_versions() {
    let dir = Scratch::new("versions");
    let e = enc(1, 1, 3, 8, false);
    let data = encode("|u1", &[1, 2, 3]);
    for v in [1u8, 2, 3] {
        let p = dir.file("v.npy", &npy_with(v, "|u1", false, &[1, 1, 3], &data));
        assert_eq!(
            load_input(&p, &e).expect("version"),
            vec![1, 2, 3],
            "version {v}"
        );
    }
    let mut bad = npy_with(2, "|u1", false, &[1, 1, 3], &data);
    bad[6] = 4;
    let p = dir.file("v4.npy", &bad);
    assert_has(&err(load_input(&p, &e)), &["version 4.0", "1.0, 2.0, 3.0"]);
    // Python 2 era headers: long suffixes and double quotes.
    let p = dir.file(
        "py2.npy",
        &npy_raw(
            1,
            "{\"descr\": \"|u1\", \"fortran_order\": False, \"shape\": (1L, 1L, 3L)}",
            &data,
        ),
    );
    assert_eq!(load_input(&p, &e).expect("py2 header"), vec![1, 2, 3]);
}

#[test]
fn npy_truncated_and_malformed() {
    let dir = Scratch::new("truncated");
    let e = enc(1, 2, 3, 8, false);
    let whole = npy("<u2", &[1, 2, 3], &[1, 2, 3, 4, 5, 6]);
    let p = dir.file("cut.npy", &whole[..whole.len() - 1]);
    assert_has(&err(load_input(&p, &e)), &["cut.npy", "truncated"]);
    let p = dir.file("head.npy", &whole[..40]);
    assert_has(&err(load_input(&p, &e)), &["truncated", "header"]);
    let p = dir.file("pre.npy", &whole[..8]);
    assert_has(&err(load_input(&p, &e)), &["truncated", "preamble"]);
    let p = dir.file("empty.npy", b"");
    assert_has(&err(load_input(&p, &e)), &["truncated"]);
    let p = dir.file("magic.npy", b"PK\x03\x04 this is a zip");
    assert_has(&err(load_input(&p, &e)), &["not an .npy file"]);
    let mut trailing = whole.clone();
    trailing.push(0);
    let p = dir.file("trail.npy", &trailing);
    assert_has(&err(load_input(&p, &e)), &["bytes after the array's data"]);
    // A v2 header length of 4 GiB.
    let mut huge = npy_with(2, "<u2", false, &[1, 2, 3], &[0; 12]);
    huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    let p = dir.file("hlen.npy", &huge);
    assert_has(
        &err(load_input(&p, &e)),
        &["header claims 4294967295 bytes"],
    );
    // Hostile header literals.
    let deep = format!("{{'descr': {}1{}}}", "[".repeat(5000), "]".repeat(5000));
    for (dict, part) in [
        (deep.as_str(), "nesting too deep"),
        (
            "{'descr': '<u2', 'fortran_order': False, 'shape': (1, 2, -3), }",
            "negative",
        ),
        (
            "{'descr': '<u2', 'fortran_order': False, 'shape': (1, 2, 99999999999999999999999999999999999999999999), }",
            "absurd",
        ),
        (
            "{'descr': '<u2', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }",
            "more than 2^64",
        ),
        ("{'descr': '<u2', 'fortran_order': False, }", "no 'shape'"),
        (
            "{'descr': '<u2', 'fortran_order': 0, 'shape': (1, 2, 3), }",
            "fortran_order",
        ),
        (
            "{'descr': '<u2', 'fortran_order': False, 'shape': (1, 2, 3)",
            "unexpected end",
        ),
        (
            "{'descr': '<u2', 'fortran_order': False, 'shape': (1, 2, 3.5), }",
            "expected ','",
        ),
        ("[1, 2]", "not a Python dict"),
        (
            "{'descr': '<u2', 'fortran_order': False, 'shape': (1, 2, 3), } junk",
            "after the dict",
        ),
    ] {
        let p = dir.file("hostile.npy", &npy_raw(1, dict, &[0; 12]));
        assert_has(&err(load_input(&p, &e)), &[part]);
    }
}

#[test]
fn npy_header_claiming_2_pow_40_elements_is_refused_without_allocating() {
    let dir = Scratch::new("huge");
    // The shape matches the model, so only the size check stands between it and 8 TiB of i64s.
    let side = 1u64 << 20;
    let e = enc(1, side as usize, side as usize, 8, false);
    let p = dir.file(
        "huge.npy",
        &npy_with(1, "|u1", false, &[1, side, side], &[0; 16]),
    );
    let m = err(load_input(&p, &e));
    assert_has(
        &m,
        &[
            "huge.npy",
            "1099511627776 elements",
            "only 16 bytes",
            "truncated",
        ],
    );
    let p = dir.file(
        "huge4.npy",
        &npy_with(3, "<i8", false, &[1, 1, side, side], &[]),
    );
    assert_has(
        &err(load_input(&p, &e)),
        &["1099511627776 elements (8796093022208 bytes)"],
    );
}

#[test]
fn npy_survives_corruption() {
    let e = enc(1, 2, 3, 8, true);
    let bytes = npy("<i2", &[1, 2, 3], &[-128, -1, 0, 1, 2, 127]);
    survives_corruption("c.npy", &bytes, |p| load_input(p, &e).is_ok());
}

// ---------------------------------------------------------------------------------------------
// .pgm

#[test]
fn pgm_plain_and_raw() {
    let dir = Scratch::new("pgm");
    let e8 = enc(1, 2, 3, 8, false);
    let pixels = [0u8, 1, 2, 128, 254, 255];
    let p = dir.file("p2.pgm", b"P2\n# a comment\n3 2\n255\n0 1 2\n128 254 255\n");
    assert_eq!(
        load_input(&p, &e8).expect("P2"),
        vec![0, 1, 2, 128, 254, 255]
    );
    let mut raw = b"P5 3 2 255\n".to_vec();
    raw.extend(pixels);
    let p = dir.file("p5.pgm", &raw);
    assert_eq!(
        load_input(&p, &e8).expect("P5"),
        vec![0, 1, 2, 128, 254, 255]
    );
    // Signed 8-bit is p − 128.
    let signed = load_input(&p, &enc(1, 2, 3, 8, true)).expect("signed");
    assert_eq!(signed, vec![-128, -127, -126, 0, 126, 127]);

    // maxval 15: s ↦ (s·255 + 7) / 15 = 17·s; a 4-bit encoding gives s back.
    let p = dir.file("p2-15.pgm", b"P2\n3 2\n15\n0 1 2\n7 14 15\n");
    assert_eq!(
        load_input(&p, &e8).expect("P2 15"),
        vec![0, 17, 34, 119, 238, 255]
    );
    assert_eq!(
        load_input(&p, &enc(1, 2, 3, 4, false)).expect("4-bit"),
        vec![0, 1, 2, 7, 14, 15]
    );
    let mut raw = b"P5\n# made by hand\n3 2\n15\n".to_vec();
    raw.extend([0u8, 1, 2, 7, 14, 15]);
    let p = dir.file("p5-15.pgm", &raw);
    assert_eq!(
        load_input(&p, &e8).expect("P5 15"),
        vec![0, 17, 34, 119, 238, 255]
    );

    // maxval 65535: two bytes big-endian per sample.
    let mut raw = b"P5 3 1 65535\n".to_vec();
    for s in [0u16, 0x8000, 0xFFFF] {
        raw.extend(s.to_be_bytes());
    }
    let p = dir.file("p5-16.pgm", &raw);
    assert_eq!(
        load_input(&p, &enc(1, 1, 3, 8, false)).expect("16-bit"),
        vec![0, 128, 255]
    );
    // Uppercase extension.
    let p = dir.file("UP.PGM", b"P2 1 1 255 200");
    assert_eq!(
        load_input(&p, &enc(1, 1, 1, 8, false)).expect("uppercase"),
        vec![200]
    );
}

#[test]
fn pgm_refusals() {
    let dir = Scratch::new("pgm-bad");
    let e = enc(1, 2, 3, 8, false);
    let p = dir.file("size.pgm", b"P2 4 2 255 0 0 0 0 0 0 0 0");
    assert_has(
        &err(load_input(&p, &e)),
        &["size.pgm", "4×2 (W×H)", "3×2 (W×H)", "not resized"],
    );
    let p = dir.file("above.pgm", b"P2 3 2 15 0 1 2 3 16 5");
    assert_has(
        &err(load_input(&p, &e)),
        &["(row 1, column 1) is 16", "maxval 15"],
    );
    let mut raw = b"P5 3 2 15\n".to_vec();
    raw.extend([0u8, 1, 200, 0, 0, 0]);
    let p = dir.file("above5.pgm", &raw);
    assert_has(&err(load_input(&p, &e)), &["(row 0, column 2) is 200"]);
    let p = dir.file("short2.pgm", b"P2 3 2 255 0 1 2 3");
    assert_has(
        &err(load_input(&p, &e)),
        &["truncated", "4 of the 6 pixels"],
    );
    let p = dir.file("short5.pgm", b"P5 3 2 255\n\x00\x01\x02\x03");
    assert_has(
        &err(load_input(&p, &e)),
        &["truncated", "(row 1, column 1)"],
    );
    let p = dir.file("nows.pgm", b"P5 3 2 255#\x00\x01\x02\x03\x04\x05");
    assert_has(
        &err(load_input(&p, &e)),
        &["whitespace byte after the PGM maxval", "'#'"],
    );
    let p = dir.file("junk.pgm", b"P2 3 2 255 0 1 x 3 4 5");
    assert_has(&err(load_input(&p, &e)), &["(row 0, column 2)", "'x'"]);
    let p = dir.file("maxval.pgm", b"P2 3 2 70000 0 0 0 0 0 0");
    assert_has(&err(load_input(&p, &e)), &["maxval is 70000", "1..=65535"]);
    let p = dir.file("head.pgm", b"P5 3");
    assert_has(&err(load_input(&p, &e)), &["truncated", "height"]);
    let p = dir.file("ppm.pgm", b"P6 3 2 255\n");
    assert_has(&err(load_input(&p, &e)), &["PPM", "P2, P5"]);
    let p = dir.file("rgb.pgm", b"P2 3 2 255 0 0 0 0 0 0");
    assert_has(
        &err(load_input(&p, &enc(3, 2, 3, 8, false))),
        &["gray", "C = 3"],
    );
    let p = dir.file("huge.pgm", b"P5 99999999999999999999999 1 255\n");
    assert_has(&err(load_input(&p, &e)), &["width is absurdly large"]);
    let bytes = b"P2\n# c\n3 2\n15\n0 1 2\n7 14 15\n";
    survives_corruption("c.pgm", bytes, |p| load_input(p, &e).is_ok());
}

// ---------------------------------------------------------------------------------------------
// .png

#[test]
fn png_gray_8_bit_and_the_mapping() {
    let dir = Scratch::new("png-gray");
    let px = [0u8, 1, 127, 128, 200, 255];
    let p = dir.file("g.png", &png8(3, 2, png::ColorType::Grayscale, &px));
    let load = |bits, signed| load_input(&p, &enc(1, 2, 3, bits, signed)).expect("gray");
    assert_eq!(load(8, false), vec![0, 1, 127, 128, 200, 255]);
    assert_eq!(load(8, true), vec![-128, -127, -1, 0, 72, 127]);
    assert_eq!(load(4, false), vec![0, 0, 7, 8, 12, 15]);
    assert_eq!(load(4, true), vec![-8, -8, -1, 0, 4, 7]);
    assert_eq!(load(1, false), vec![0, 0, 0, 1, 1, 1]);
    assert_eq!(load(1, true), vec![-1, -1, -1, 0, 0, 0]);
    assert_eq!(load(12, false), vec![0, 16, 2032, 2048, 3200, 4080]);
    assert_eq!(load(12, true), vec![-2048, -2032, -16, 0, 1152, 2032]);
    assert_eq!(load(16, false), vec![0, 256, 32512, 32768, 51200, 65280]);
    // Uppercase extension.
    let p = dir.file("G.PNG", &png8(3, 2, png::ColorType::Grayscale, &px));
    assert_eq!(
        load_input(&p, &enc(1, 2, 3, 8, false)).expect("PNG"),
        px.map(i64::from).to_vec()
    );
}

#[test]
fn png_rgb_to_luma_for_one_channel() {
    let dir = Scratch::new("png-rgb");
    #[rustfmt::skip]
    let rgb = [
        255, 0, 0,    0, 255, 0,    0, 0, 255,
        255, 255, 255, 10, 20, 30,  0, 0, 0,
    ];
    let p = dir.file("rgb.png", &png8(3, 2, png::ColorType::Rgb, &rgb));
    // (299·R + 587·G + 114·B + 500) / 1000.
    assert_eq!(
        load_input(&p, &enc(1, 2, 3, 8, false)).expect("luma"),
        vec![76, 150, 29, 255, 18, 0]
    );
    assert_eq!(
        load_input(&p, &enc(1, 2, 3, 8, true)).expect("signed luma"),
        vec![-52, 22, -99, 127, -110, -128]
    );
    // RGBA: alpha dropped, not composited.
    let rgba = [255u8, 0, 0, 0, 10, 20, 30, 128];
    let p = dir.file("rgba.png", &png8(2, 1, png::ColorType::Rgba, &rgba));
    assert_eq!(
        load_input(&p, &enc(1, 1, 2, 8, false)).expect("rgba"),
        vec![76, 18]
    );
    // Gray + alpha.
    let p = dir.file(
        "ga.png",
        &png8(2, 1, png::ColorType::GrayscaleAlpha, &[9, 0, 250, 255]),
    );
    assert_eq!(
        load_input(&p, &enc(1, 1, 2, 8, false)).expect("gray+alpha"),
        vec![9, 250]
    );
}

#[test]
fn png_three_channels() {
    let dir = Scratch::new("png-c3");
    let rgb = [1u8, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    let p = dir.file("rgb.png", &png8(2, 2, png::ColorType::Rgb, &rgb));
    // CHW: the R plane, then G, then B.
    assert_eq!(
        load_input(&p, &enc(3, 2, 2, 8, false)).expect("C = 3"),
        vec![1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12]
    );
    let rgba = [1u8, 2, 3, 99, 4, 5, 6, 0];
    let p = dir.file("rgba.png", &png8(2, 1, png::ColorType::Rgba, &rgba));
    assert_eq!(
        load_input(&p, &enc(3, 1, 2, 8, false)).expect("rgba"),
        vec![1, 4, 2, 5, 3, 6]
    );
    // A palette image.
    let palette = [255u8, 0, 0, 0, 0, 255];
    let p = dir.file(
        "pal.png",
        &png_bytes(
            3,
            1,
            png::ColorType::Indexed,
            png::BitDepth::Eight,
            Some(&palette),
            &[0, 1, 0],
        ),
    );
    assert_eq!(
        load_input(&p, &enc(3, 1, 3, 8, false)).expect("palette"),
        vec![255, 0, 255, 0, 0, 0, 0, 255, 0]
    );
    assert_eq!(
        load_input(&p, &enc(1, 1, 3, 8, false)).expect("palette luma"),
        vec![76, 29, 76]
    );
    // 16-bit RGB: high bytes.
    let rgb16: Vec<u8> = [0x1234u16, 0xABCD, 0x00FF]
        .iter()
        .flat_map(|s| s.to_be_bytes())
        .collect();
    let p = dir.file(
        "rgb16.png",
        &png_bytes(
            1,
            1,
            png::ColorType::Rgb,
            png::BitDepth::Sixteen,
            None,
            &rgb16,
        ),
    );
    assert_eq!(
        load_input(&p, &enc(3, 1, 1, 8, false)).expect("rgb16"),
        vec![0x12, 0xAB, 0]
    );
}

#[test]
fn png_16_bit_and_low_bit_gray() {
    let dir = Scratch::new("png-16");
    let g16: Vec<u8> = [0u16, 0x00FF, 0x1234, 0xFFFF]
        .iter()
        .flat_map(|s| s.to_be_bytes())
        .collect();
    let p = dir.file(
        "g16.png",
        &png_bytes(
            2,
            2,
            png::ColorType::Grayscale,
            png::BitDepth::Sixteen,
            None,
            &g16,
        ),
    );
    assert_eq!(
        load_input(&p, &enc(1, 2, 2, 8, false)).expect("16-bit"),
        vec![0, 0, 0x12, 255]
    );
    // 1-bit gray: 0 → 0, 1 → 255 (8 pixels in one byte).
    let p = dir.file(
        "g1.png",
        &png_bytes(
            8,
            1,
            png::ColorType::Grayscale,
            png::BitDepth::One,
            None,
            &[0b1010_0001],
        ),
    );
    assert_eq!(
        load_input(&p, &enc(1, 1, 8, 8, false)).expect("1-bit"),
        vec![255, 0, 255, 0, 0, 0, 0, 255]
    );
}

#[test]
fn png_refusals() {
    let dir = Scratch::new("png-bad");
    let gray = png8(3, 2, png::ColorType::Grayscale, &[0; 6]);
    let p = dir.file("g.png", &gray);
    assert_has(
        &err(load_input(&p, &enc(1, 3, 3, 8, false))),
        &[
            "g.png",
            "3×2 (W×H)",
            "model's input is 3×3 (W×H)",
            "not resized",
        ],
    );
    let m = err(load_input(&p, &enc(3, 2, 3, 8, false)));
    assert_has(&m, &["g.png", "gray", "C = 3"]);
    let p = dir.file(
        "ga.png",
        &png8(1, 1, png::ColorType::GrayscaleAlpha, &[1, 2]),
    );
    assert_has(
        &err(load_input(&p, &enc(3, 1, 1, 8, false))),
        &["gray", "C = 3"],
    );
    let p = dir.file("c2.png", &gray);
    assert_has(
        &err(load_input(&p, &enc(2, 2, 3, 8, false))),
        &["C = 1 (gray) or C = 3 (RGB)", "C = 2", ".npy"],
    );
    let p = dir.file("junk.png", b"\x89PNG\r\n\x1a\nnot really");
    assert_has(
        &err(load_input(&p, &enc(1, 2, 3, 8, false))),
        &["junk.png", "PNG"],
    );
    let rgb = png8(2, 2, png::ColorType::Rgb, &[7; 12]);
    survives_corruption("c.png", &rgb, |p| {
        load_input(p, &enc(1, 2, 2, 8, false)).is_ok()
    });
}

#[test]
fn bad_encodings_and_extensions() {
    let dir = Scratch::new("ext");
    let bytes = npy("|u1", &[1, 1, 1], &[1]);
    let e = enc(1, 1, 1, 8, false);
    for name in ["a.jpg", "a.npz", "noext", "a.npy.txt"] {
        let p = dir.file(name, &bytes);
        let m = err(load_input(&p, &e));
        assert_has(&m, &[name, ".npy", ".png", ".pgm"]);
    }
    let p = dir.file("A.NPY", &bytes);
    assert_eq!(load_input(&p, &e).expect("uppercase"), vec![1]);
    let m = err(load_dataset(&p, &e));
    assert_has(&m, &["A.NPY", "unknown file type '.npy'", ".npz"]);
    for (bad, part) in [
        (enc(1, 1, 1, 0, false), "bits = 0"),
        (enc(1, 1, 1, 17, true), "bits = 17"),
        (enc(0, 1, 1, 8, false), "empty dimension"),
        (enc(usize::MAX, 2, 2, 8, false), "too large"),
    ] {
        assert_has(&err(load_input(&p, &bad)), &[part]);
    }
    let missing = dir.0.join("missing.npy");
    assert_has(
        &err(load_input(&missing, &e)),
        &["missing.npy", "cannot open"],
    );
}

// ---------------------------------------------------------------------------------------------
// .npz

fn xy(x: Vec<u8>, y: Vec<u8>) -> Vec<(&'static str, Vec<u8>)> {
    vec![("x.npy", x), ("y.npy", y)]
}

#[test]
fn npz_stored_and_deflated() {
    let dir = Scratch::new("npz");
    let e = enc(1, 2, 3, 8, false);
    let xs: Vec<i128> = (0..12).map(|v| v * 20).collect();
    for deflate in [false, true] {
        let members = xy(npy("|u1", &[2, 1, 2, 3], &xs), npy("<i8", &[2], &[3, 0]));
        let p = dir.file("d.npz", &zip_bytes(&members, deflate));
        let d = load_dataset(&p, &e).expect("npz");
        let want = Dataset {
            x: (0..12).map(|v| v * 20).collect(),
            n: 2,
            y: vec![3, 0],
        };
        assert_eq!(d, want, "deflate {deflate}");
    }
    // (N, H, W) when C = 1, other dtypes, extra members ignored, uppercase extension.
    let mut members = xy(npy(">u2", &[2, 2, 3], &xs), npy("|u1", &[2], &[9, 1]));
    members.push(("meta.npy", npy("<f4", &[1], &[0])));
    let p = dir.file("D.NPZ", &zip_bytes(&members, true));
    let d = load_dataset(&p, &e).expect("(N, H, W)");
    assert_eq!((d.n, d.y.clone(), d.x.len()), (2, vec![9, 1], 12));
    // C = 3, signed.
    let xs3: Vec<i128> = (0..24).map(|v| v - 12).collect();
    let members = xy(npy("|i1", &[2, 3, 2, 2], &xs3), npy("<i4", &[2], &[1, 2]));
    let p = dir.file("c3.npz", &zip_bytes(&members, false));
    let d = load_dataset(&p, &enc(3, 2, 2, 8, true)).expect("C = 3");
    assert_eq!(d.x, (0..24).map(|v| v - 12).collect::<Vec<i64>>());
}

#[test]
fn npz_refusals_name_the_array() {
    let dir = Scratch::new("npz-bad");
    let e = enc(1, 2, 3, 8, false);
    let x = npy("|u1", &[2, 1, 2, 3], &[0; 12]);
    let y = npy("<i8", &[2], &[0, 1]);
    let load = |name: &str, members: Vec<(&str, Vec<u8>)>| {
        err(load_dataset(
            &dir.file(name, &zip_bytes(&members, true)),
            &e,
        ))
    };

    let m = load("noy.npz", vec![("x.npy", x.clone())]);
    assert_has(&m, &["noy.npz", "no array `y`", "y.npy", "x.npy"]);
    let m = load("nox.npz", vec![("y.npy", y.clone())]);
    assert_has(&m, &["no array `x`", "x.npy"]);
    assert_has(
        &load("empty.npz", vec![]),
        &["no array `x`", "the archive is empty"],
    );

    let m = load("n.npz", xy(x.clone(), npy("<i8", &[3], &[0, 1, 2])));
    assert_has(&m, &["array `y`", "3 labels", "`x` holds 2 inputs"]);
    let m = load("y2d.npz", xy(x.clone(), npy("<i8", &[2, 1], &[0, 1])));
    assert_has(&m, &["array `y`", "shape (2, 1)", "(2,)"]);
    let m = load("neg.npz", xy(x.clone(), npy("<i8", &[2], &[0, -1])));
    assert_has(&m, &["array `y`", "label 1 is -1", "≥ 0"]);
    let m = load(
        "yf.npz",
        xy(x.clone(), npy_with(1, "<f8", false, &[2], &[0; 16])),
    );
    assert_has(
        &m,
        &[
            "array `y`",
            "'<f8' is a float array",
            "labels are integer class indices",
        ],
    );

    let m = load("xs.npz", xy(npy("|u1", &[2, 2, 2, 3], &[0; 24]), y.clone()));
    assert_has(
        &m,
        &[
            "array `x`",
            "shape (2, 2, 2, 3)",
            "(N, 1, 2, 3) or (N, 2, 3)",
        ],
    );
    let m = load(
        "x0.npz",
        xy(npy("|u1", &[0, 1, 2, 3], &[]), npy("<i8", &[0], &[])),
    );
    assert_has(&m, &["array `x`", "N = 0"]);
    let m = load(
        "xf.npz",
        xy(
            npy_with(1, "<f4", false, &[2, 1, 2, 3], &[0; 48]),
            y.clone(),
        ),
    );
    assert_has(&m, &["array `x`", "'<f4' is a float array", "quantize"]);
    let m = load(
        "xfo.npz",
        xy(npy_with(1, "|u1", true, &[2, 1, 2, 3], &[0; 12]), y.clone()),
    );
    assert_has(&m, &["array `x`", "Fortran"]);
    let mut vals = vec![0i128; 12];
    vals[10] = 256;
    let m = load("xd.npz", xy(npy("<u2", &[2, 1, 2, 3], &vals), y.clone()));
    assert_has(
        &m,
        &[
            "array `x`",
            "(n, c, h, w) = (1, 0, 1, 1)",
            "is 256",
            "[0, 255]",
        ],
    );
    let cut = x[..x.len() - 2].to_vec();
    assert_has(
        &load("xt.npz", xy(cut, y.clone())),
        &["array `x`", "truncated"],
    );

    let p = dir.file("notzip.npz", b"this is not a zip archive at all");
    assert_has(
        &err(load_dataset(&p, &e)),
        &["notzip.npz", "not a valid .npz"],
    );
    let p = dir.file("d.zip", &zip_bytes(&xy(x.clone(), y.clone()), false));
    assert_has(
        &err(load_dataset(&p, &e)),
        &["d.zip", "unknown file type '.zip'", ".npz only"],
    );
}

#[test]
fn npz_header_claiming_2_pow_40_elements_is_refused() {
    let dir = Scratch::new("npz-huge");
    let e = enc(1, 1024, 1024, 8, false);
    // N = 2^20 inputs of 2^20 values: 2^40 elements claimed, 64 bytes present.
    let x = npy_with(1, "|u1", false, &[1 << 20, 1, 1024, 1024], &[0; 64]);
    let y = npy("<i8", &[1 << 20], &[0]);
    for deflate in [false, true] {
        let p = dir.file("h.npz", &zip_bytes(&xy(x.clone(), y.clone()), deflate));
        let m = err(load_dataset(&p, &e));
        assert_has(
            &m,
            &[
                "h.npz",
                "array `x`",
                "1099511627776 elements",
                "only 64 bytes",
            ],
        );
    }
}

#[test]
fn npz_survives_corruption() {
    let e = enc(1, 1, 2, 8, false);
    for deflate in [false, true] {
        let members = xy(
            npy("|u1", &[2, 1, 1, 2], &[1, 2, 3, 4]),
            npy("|u1", &[2], &[0, 1]),
        );
        let bytes = zip_bytes(&members, deflate);
        survives_corruption("c.npz", &bytes, |p| load_dataset(p, &e).is_ok());
    }
}
