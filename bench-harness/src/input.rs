//! Loading a client's input and a labelled data set for a quantized model.
//!
//! A quantized model declares the shape of its input, `C×H×W`, and how that input is encoded:
//! `b`-bit integers (`b` in `1..=16`), unsigned or signed (two's complement). The values the
//! model accepts, its *domain*, are
//!
//! | encoding           | domain                     | 8-bit example |
//! |--------------------|----------------------------|---------------|
//! | unsigned, `b` bits | `[0, 2^b − 1]`             | `[0, 255]`    |
//! | signed, `b` bits   | `[−2^(b−1), 2^(b−1) − 1]`  | `[−128, 127]` |
//!
//! [`Encoding`] carries both. [`load_input`] reads one input (`C·H·W` integers in `CHW` order,
//! i.e. channel-major, then rows, then columns) and [`load_dataset`] reads a labelled set of
//! inputs. The format is chosen by the file's extension, compared without regard to case:
//!
//! | extension | read by          | holds                                                       |
//! |-----------|------------------|-------------------------------------------------------------|
//! | `.npy`    | [`load_input`]   | the encoded integers themselves, checked and never rescaled |
//! | `.png`    | [`load_input`]   | an image, mapped to the encoding as described below         |
//! | `.pgm`    | [`load_input`]   | a gray image, mapped to the encoding as described below     |
//! | `.npz`    | [`load_dataset`] | arrays `x` (inputs, as in an `.npy`) and `y` (labels)       |
//!
//! Any other extension is refused, and the message lists the accepted ones.
//!
//! # `.npy`: the encoded integers
//!
//! NumPy's array format, versions 1.0, 2.0 and 3.0 (what `np.save` writes). The array must hold
//! integers: dtype `|u1 |i1 <u2 <i2 <u4 <i4 <u8 <i8` or one of the big-endian variants
//! (`>u2 >i2 >u4 >i4 >u8 >i8`). Float, complex, bool, string, object, date and structured
//! (record) arrays are refused with a message naming the dtype; a float array is most likely an
//! image that was not quantized yet, and the message says so. The data must be in C order
//! (row-major): a header with `fortran_order: True` is refused.
//!
//! Accepted shapes are `(C, H, W)`, `(1, C, H, W)` (a batch of one) and, when `C = 1`, `(H, W)`.
//! Every value must lie in the domain of the encoding; the values are taken as they are, with no
//! scaling of any kind, since an `.npy` is expected to hold what the model takes. The first value
//! outside the domain is reported with its `(c, h, w)` coordinates, its value and the domain.
//! The file must end with the array's data: bytes after it mean the header does not describe
//! the file, and are refused.
//!
//! # `.npz`: a labelled data set
//!
//! A zip archive of `.npy` members, stored or deflated, as `np.savez` and `np.savez_compressed`
//! write it. It must hold an array `x` (member `x.npy`, or `x`) of shape `(N, C, H, W)`, or
//! `(N, H, W)` when `C = 1`, meeting the same dtype and domain rules as an `.npy` input (the first
//! bad value is named by its `(n, c, h, w)` coordinates), and an array `y` (member `y.npy`, or
//! `y`) of shape `(N,)`: one integer label per input, each `≥ 0`. A missing array, a shape that
//! does not fit, a label count that differs from the number of inputs and an empty set (`N = 0`)
//! are refused, each message naming the array. Other members of the archive are ignored.
//!
//! # `.png` and `.pgm`: images
//!
//! An image must be exactly `W` pixels wide and `H` pixels high; no resizing is done, and the
//! message for another size gives both sizes. `C` must be 1 (gray) or 3 (RGB).
//!
//! * PNG: 1-, 2-, 4-, 8- and 16-bit gray, gray with alpha, RGB, RGBA and palette images (a palette
//!   is looked up first; gray below 8 bits is first scaled up to 8 bits, so a 1-bit white is 255).
//!   Only the first frame of an animated PNG is read.
//! * PGM: plain (`P2`, ASCII) and raw (`P5`, binary; two bytes big-endian per sample when the
//!   maxval exceeds 255) graymaps with a maxval of 1 to 65535. `#` comments are allowed in the
//!   header (and, in `P2`, between samples). A sample above the maxval is refused. Bytes after
//!   the first image are ignored, as Netpbm readers do.
//!
//! Each sample is first brought to 8 bits, `p` in `[0, 255]`:
//!
//! * an 8-bit sample is taken as it is;
//! * a 16-bit PNG sample `s` gives `p = s >> 8` (its high byte);
//! * a PGM sample `s` with maxval `M` gives `p = (s·255 + ⌊M/2⌋) / M` (integer division: rounded
//!   to nearest), so maxval 255 is taken as it is and maxval 15 maps `0..=15` onto `0, 17, …, 255`.
//!
//! Then the channels:
//!
//! * `C = 1`: a gray image gives its gray value; an RGB(A) or palette image gives the integer luma
//!   `p = (299·R + 587·G + 114·B + 500) / 1000` of its 8-bit `R, G, B` (ITU-R BT.601 weights,
//!   rounded to nearest).
//! * `C = 3`: an RGB(A) or palette image gives the planes `R`, `G`, `B`, in that order. A gray
//!   image is refused: it cannot stand for colour.
//! * An alpha channel is dropped (not composited).
//!
//! Last, each 8-bit value `p` becomes an integer of the encoding, with an arithmetic (flooring)
//! shift:
//!
//! | encoding           | `b ≤ 8`                   | `b > 8`                   |
//! |--------------------|---------------------------|---------------------------|
//! | unsigned, `b` bits | `p >> (8 − b)`            | `p << (b − 8)`            |
//! | signed, `b` bits   | `(p − 128) >> (8 − b)`    | `(p − 128) << (b − 8)`    |
//!
//! So unsigned 8-bit is `p` itself, signed 8-bit is `p − 128` (black −128, white 127), unsigned
//! 4-bit keeps the 4 high bits and unsigned 12-bit is `16·p`. The result always lies in the
//! domain. This mapping is a fixed contract: a model quantized for images must have been trained
//! or calibrated on inputs mapped the same way, or it should take an `.npy` instead.
//!
//! # Errors
//!
//! Every error is an [`anyhow::Error`] whose message starts with the file's path and says what is
//! wrong and what is accepted: an unknown extension (with the accepted ones), an encoding outside
//! `bits ∈ 1..=16` or with an empty dimension, an unreadable file, a dtype or a shape that does not
//! fit (with the accepted ones), a value outside the domain (with its coordinates, its value and
//! the domain), an image of the wrong size (with both sizes), a gray image for `C = 3`, a missing
//! `.npz` array or a mismatch of `N` (naming the array), a truncated file, or a corrupt PNG or zip.
//!
//! Malformed or hostile files give errors, never panics, and memory stays bounded by what the
//! file really holds: an `.npy` header is at most 64 KiB and nested at most 16 levels deep;
//! a header claiming more data than follows it (in the file, or in the `.npz` member, whose
//! declared size is checked against what its compressed bytes can inflate to) is refused before
//! anything is allocated for it; and data are read in bounded chunks, so a member that inflates to
//! more than it declared is stopped and refused. An image's size is checked against the model's
//! `W×H` from its header, before any pixel buffer is allocated.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek};
use std::path::Path;

use anyhow::anyhow;

/// A message without the file's path; [`in_file`] adds it.
type Res<T> = Result<T, String>;

/// The encoding a model declares for its input: the shape `C×H×W` and `bits`-bit integers,
/// unsigned (domain `[0, 2^bits − 1]`) or signed (domain `[−2^(bits−1), 2^(bits−1) − 1]`).
///
/// `bits` must lie in `1..=16` and `c`, `h`, `w` must be at least 1; the loaders check this.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Encoding {
    /// Channels.
    pub c: usize,
    /// Height (rows).
    pub h: usize,
    /// Width (columns).
    pub w: usize,
    /// Bits per value, `1..=16`.
    pub bits: u32,
    /// Two's complement (`true`) or unsigned (`false`).
    pub signed: bool,
}

impl Encoding {
    /// The input shape and encoding a model declares.
    pub fn of(m: &pq_nn::Model) -> Self {
        Encoding {
            c: m.input.c,
            h: m.input.h,
            w: m.input.w,
            bits: m.encoding.bits,
            signed: m.encoding.signed,
        }
    }
}

/// A labelled data set: `n` inputs of `C·H·W` values each, back to back in `x` (each in `CHW`
/// order), and one label per input in `y`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    /// `n × C·H·W` values: input `i` is `x[i·C·H·W .. (i + 1)·C·H·W]`.
    pub x: Vec<i64>,
    /// The number of inputs (at least 1).
    pub n: usize,
    /// `n` labels, each `≥ 0`.
    pub y: Vec<i64>,
}

/// The format of one input, as [`load_input`] picks it from the file's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InputFormat {
    /// `.npy`: the encoded integers.
    Npy,
    /// `.png`: an image, mapped to the encoding.
    Png,
    /// `.pgm`: a gray image, mapped to the encoding.
    Pgm,
}

/// Reads one input of `enc.c · enc.h · enc.w` values in `CHW` order from an `.npy`, `.png` or
/// `.pgm` file (chosen by the extension), checked against `enc` as the [module docs](self) say.
pub fn load_input(path: &Path, enc: &Encoding) -> anyhow::Result<Vec<i64>> {
    let run = || -> Res<Vec<i64>> {
        let ext = extension(path);
        Domain::of(enc)?;
        let format = match ext.as_deref() {
            Some("npy") => InputFormat::Npy,
            Some("png") => InputFormat::Png,
            Some("pgm") => InputFormat::Pgm,
            _ => {
                return Err(format!(
                    "{}; an input is accepted as .npy (the encoded integers), .png or .pgm \
                 (an image, mapped to the encoding); a labelled data set is an .npz",
                    describe_extension(ext.as_deref())
                ));
            }
        };
        let (file, len) = open(path)?;
        input_from(BufReader::new(file), len, format, enc)
    };
    run().map_err(|m| in_file(path, m))
}

/// Reads one input in `format` from `r`, which holds `len` bytes (a file's contents, or bytes
/// in memory: `std::io::Cursor`), checked against `enc` as [`load_input`] checks a file;
/// [`load_input`] reads through this. Errors say what is wrong, without a path.
pub fn read_input<R: BufRead + Seek>(
    r: R,
    len: u64,
    format: InputFormat,
    enc: &Encoding,
) -> anyhow::Result<Vec<i64>> {
    input_from(r, len, format, enc).map_err(|m| anyhow!("{m}"))
}

fn input_from<R: BufRead + Seek>(
    r: R,
    len: u64,
    format: InputFormat,
    enc: &Encoding,
) -> Res<Vec<i64>> {
    let dom = Domain::of(enc)?;
    match format {
        InputFormat::Npy => npy_input(r, len, enc, dom),
        InputFormat::Png => {
            image_channels(enc)?;
            png_input(r, enc, dom)
        }
        InputFormat::Pgm => {
            image_channels(enc)?;
            pgm_input(r, enc, dom)
        }
    }
}

/// Reads a labelled data set from an `.npz` holding arrays `x` (shape `(N, C, H, W)`, or
/// `(N, H, W)` when `C = 1`) and `y` (shape `(N,)`), checked against `enc` as the
/// [module docs](self) say.
pub fn load_dataset(path: &Path, enc: &Encoding) -> anyhow::Result<Dataset> {
    let run = || -> Res<Dataset> {
        let ext = extension(path);
        if ext.as_deref() != Some("npz") {
            return Err(format!(
                "{}; a data set is accepted as .npz only (np.savez or np.savez_compressed with \
                 arrays `x` and `y`)",
                describe_extension(ext.as_deref())
            ));
        }
        let dom = Domain::of(enc)?;
        let (file, len) = open(path)?;
        npz_dataset(BufReader::new(file), len, enc, dom)
    };
    run().map_err(|m| in_file(path, m))
}

/// Reads a labelled data set from `r`, the bytes of an `.npz` (`len` of them), checked
/// against `enc` as [`load_dataset`] checks a file; [`load_dataset`] reads through this.
/// Errors say what is wrong, without a path.
pub fn read_dataset<R: Read + Seek>(r: R, len: u64, enc: &Encoding) -> anyhow::Result<Dataset> {
    let run = || -> Res<Dataset> {
        let dom = Domain::of(enc)?;
        npz_dataset(r, len, enc, dom)
    };
    run().map_err(|m| anyhow!("{m}"))
}

fn in_file(path: &Path, msg: String) -> anyhow::Error {
    anyhow!("{}: {msg}", path.display())
}

fn extension(path: &Path) -> Option<String> {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
}

fn describe_extension(ext: Option<&str>) -> String {
    match ext {
        Some(e) => format!("unknown file type '.{e}'"),
        None => "the file name has no extension".to_string(),
    }
}

fn open(path: &Path) -> Res<(File, u64)> {
    let file = File::open(path).map_err(|e| format!("cannot open the file: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read the file's metadata: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".to_string());
    }
    Ok((file, meta.len()))
}

/// Reads until `buf` is full or the stream ends; returns how many bytes were read.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

// ---------------------------------------------------------------------------------------------
// The encoding's domain.

/// A validated encoding: its domain and the length of one input.
#[derive(Clone, Copy, Debug)]
struct Domain {
    lo: i64,
    hi: i64,
    bits: u32,
    signed: bool,
    /// `C·H·W`.
    len: usize,
}

impl Domain {
    fn of(enc: &Encoding) -> Res<Domain> {
        if !(1..=16).contains(&enc.bits) {
            return Err(format!(
                "the model's input encoding has bits = {}; accepted: 1..=16",
                enc.bits
            ));
        }
        if enc.c == 0 || enc.h == 0 || enc.w == 0 {
            return Err(format!(
                "the model's input shape C×H×W = {}×{}×{} has an empty dimension",
                enc.c, enc.h, enc.w
            ));
        }
        let len = enc
            .c
            .checked_mul(enc.h)
            .and_then(|v| v.checked_mul(enc.w))
            .filter(|&v| v <= isize::MAX as usize / 8)
            .ok_or_else(|| {
                format!(
                    "the model's input shape C×H×W = {}×{}×{} is too large to hold in memory",
                    enc.c, enc.h, enc.w
                )
            })?;
        let (lo, hi) = if enc.signed {
            (-(1i64 << (enc.bits - 1)), (1i64 << (enc.bits - 1)) - 1)
        } else {
            (0, (1i64 << enc.bits) - 1)
        };
        Ok(Domain {
            lo,
            hi,
            bits: enc.bits,
            signed: enc.signed,
            len,
        })
    }

    /// Maps an 8-bit sample to the encoding (the documented contract).
    fn map8(&self, p: u8) -> i64 {
        let v = if self.signed {
            i64::from(p) - 128
        } else {
            i64::from(p)
        };
        if self.bits <= 8 {
            v >> (8 - self.bits)
        } else {
            v << (self.bits - 8)
        }
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.signed { "signed" } else { "unsigned" };
        write!(f, "{kind} {}-bit [{}, {}]", self.bits, self.lo, self.hi)
    }
}

fn image_channels(enc: &Encoding) -> Res<()> {
    if enc.c == 1 || enc.c == 3 {
        Ok(())
    } else {
        Err(format!(
            "an image gives C = 1 (gray) or C = 3 (RGB) channels, but the model's input has \
             C = {}: give the input as an .npy",
            enc.c
        ))
    }
}

fn check_image_size(width: u64, height: u64, enc: &Encoding) -> Res<()> {
    if width == enc.w as u64 && height == enc.h as u64 {
        Ok(())
    } else {
        Err(format!(
            "the image is {width}×{height} (W×H) but the model's input is {}×{} (W×H); \
             images are not resized: resize it first",
            enc.w, enc.h
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// .npy

const NPY_MAGIC: &[u8; 6] = b"\x93NUMPY";
/// The longest `.npy` header accepted (NumPy itself writes a few hundred bytes at most).
const MAX_NPY_HEADER: u64 = 64 * 1024;
/// How deeply the header's Python literal may nest.
const MAX_NPY_DEPTH: usize = 16;
const ACCEPTED_DTYPES: &str = "accepted dtypes: |u1 |i1 <u2 <i2 <u4 <i4 <u8 <i8 \
                               (or big-endian >u2 >i2 >u4 >i4 >u8 >i8)";

/// An integer element type.
#[derive(Clone, Copy, Debug)]
struct IntType {
    size: usize,
    signed: bool,
    big_endian: bool,
}

impl IntType {
    fn decode(self, b: &[u8]) -> i128 {
        let raw = if self.big_endian {
            b.iter().fold(0u64, |v, &x| (v << 8) | u64::from(x))
        } else {
            b.iter().rev().fold(0u64, |v, &x| (v << 8) | u64::from(x))
        };
        if self.signed {
            let shift = 64 - 8 * self.size as u32;
            i128::from(((raw << shift) as i64) >> shift)
        } else {
            i128::from(raw)
        }
    }
}

/// What an `.npy` header says.
#[derive(Debug)]
struct NpyHeader {
    descr: String,
    ty: IntType,
    shape: Vec<u64>,
    /// Elements (the product of the shape).
    count: u64,
    /// Bytes of the preamble and the header, i.e. where the data start.
    data_offset: u64,
}

impl NpyHeader {
    fn shape_text(&self) -> String {
        shape_text(&self.shape)
    }

    /// Checks that the claimed data fit in the `total` bytes of the file (or member).
    fn check_claim(&self, total: u64) -> Res<u64> {
        let avail = total.saturating_sub(self.data_offset);
        let bytes = self.count.checked_mul(self.ty.size as u64);
        match bytes {
            Some(b) if b <= avail => Ok(b),
            _ => Err(format!(
                "the header claims shape {} of '{}' = {} elements ({} bytes), but only {avail} \
                 bytes of data follow the header: the file is truncated or its header is corrupt",
                self.shape_text(),
                self.descr,
                self.count,
                bytes.map_or_else(|| "more than 2^64".to_string(), |b| b.to_string()),
            )),
        }
    }
}

fn shape_text(shape: &[u64]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => {
            let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
            format!("({})", dims.join(", "))
        }
    }
}

/// What a float array should have been, for the message refusing one.
const QUANTIZE_FIRST: &str = "the model takes integers: quantize the image first";
const INTEGER_LABELS: &str = "labels are integer class indices";

/// Reads the preamble and the header of an `.npy` whose size (file, or zip member) is `total`.
/// `float_advice` ends the message refusing a float array.
fn read_npy_header(r: &mut impl Read, total: u64, float_advice: &str) -> Res<NpyHeader> {
    let io_err = |e: io::Error| format!("read error in the .npy header: {e}");
    let mut pre = [0u8; 12];
    let got = fill(r, &mut pre[..10]).map_err(io_err)?;
    let seen = got.min(NPY_MAGIC.len());
    if pre[..seen] != NPY_MAGIC[..seen] {
        return Err("not an .npy file: it does not start with the \\x93NUMPY magic".to_string());
    }
    if got < 10 {
        return Err(format!(
            "truncated: the file ends inside the .npy preamble (after {got} bytes)"
        ));
    }
    let (major, minor) = (pre[6], pre[7]);
    let (header_len, pre_len) = match (major, minor) {
        (1, 0) => (u64::from(u16::from_le_bytes([pre[8], pre[9]])), 10u64),
        (2, 0) | (3, 0) => {
            if fill(r, &mut pre[10..12]).map_err(io_err)? < 2 {
                return Err("truncated: the file ends inside the .npy preamble".to_string());
            }
            (
                u64::from(u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]])),
                12u64,
            )
        }
        _ => {
            return Err(format!(
                ".npy format version {major}.{minor} is not supported; accepted: 1.0, 2.0, 3.0"
            ));
        }
    };
    if header_len > MAX_NPY_HEADER {
        return Err(format!(
            "the .npy header claims {header_len} bytes; at most {MAX_NPY_HEADER} are accepted \
             (NumPy writes a few hundred): the header is corrupt"
        ));
    }
    if pre_len + header_len > total {
        return Err(format!(
            "truncated: the .npy header claims {header_len} bytes but only {} follow the preamble",
            total.saturating_sub(pre_len)
        ));
    }
    let mut raw = vec![0u8; header_len as usize];
    if fill(r, &mut raw).map_err(io_err)? < raw.len() {
        return Err("truncated: the file ends inside the .npy header".to_string());
    }
    let text: String = if major == 3 {
        String::from_utf8(raw).map_err(|_| "the .npy 3.0 header is not UTF-8".to_string())?
    } else {
        raw.iter().map(|&b| char::from(b)).collect()
    };
    let lit = PyParser::new(&text).parse_all()?;
    let Lit::Dict(entries) = lit else {
        return Err("the .npy header is not a Python dict".to_string());
    };
    let get = |key: &str| {
        entries
            .iter()
            .find(|(k, _)| matches!(k, Lit::Str(s) if s == key))
            .map(|(_, v)| v)
            .ok_or_else(|| format!("the .npy header has no '{key}' entry"))
    };
    let descr = match get("descr")? {
        Lit::Str(s) => s.clone(),
        Lit::Seq(..) => {
            return Err(
                "the array has a structured (record) dtype; the model takes a plain \
                        integer array"
                    .to_string(),
            );
        }
        _ => return Err("the .npy header's 'descr' is not a dtype string".to_string()),
    };
    let ty = int_type(&descr, float_advice)?;
    match get("fortran_order")? {
        Lit::Bool(false) => {}
        Lit::Bool(true) => {
            return Err(
                "the array is in Fortran (column-major) order; only C order is \
                        accepted: save np.ascontiguousarray(a) instead"
                    .to_string(),
            );
        }
        _ => return Err("the .npy header's 'fortran_order' is not True or False".to_string()),
    }
    let Lit::Seq(dims) = get("shape")? else {
        return Err("the .npy header's 'shape' is not a tuple".to_string());
    };
    let mut shape = Vec::with_capacity(dims.len());
    for d in dims {
        match d {
            Lit::Int(Some(v)) if *v >= 0 => match u64::try_from(*v) {
                Ok(v) => shape.push(v),
                Err(_) => return Err("the .npy header's shape has an absurd dimension".into()),
            },
            Lit::Int(Some(_)) => {
                return Err("the .npy header's shape has a negative dimension".to_string());
            }
            Lit::Int(None) => {
                return Err("the .npy header's shape has an absurd dimension".to_string());
            }
            _ => return Err("the .npy header's shape is not a tuple of integers".to_string()),
        }
    }
    let count = shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .ok_or_else(|| {
            format!(
                "the .npy header's shape {} claims more than 2^64 elements",
                shape_text(&shape)
            )
        })?;
    Ok(NpyHeader {
        descr,
        ty,
        shape,
        count,
        data_offset: pre_len + header_len,
    })
}

/// Parses a NumPy dtype string such as `<i4`, refusing every non-integer type by name.
fn int_type(descr: &str, float_advice: &str) -> Res<IntType> {
    let (order, rest) = match descr.chars().next() {
        Some(o @ ('<' | '>' | '|' | '=')) => (o, &descr[1..]),
        _ => ('=', descr),
    };
    let mut chars = rest.chars();
    let kind = chars.next();
    let size: Option<usize> = chars.as_str().parse().ok();
    let what = match kind {
        Some('i' | 'u') => {
            let signed = kind == Some('i');
            return match size {
                Some(1) => Ok(IntType {
                    size: 1,
                    signed,
                    big_endian: false,
                }),
                Some(s @ (2 | 4 | 8)) if order != '|' => Ok(IntType {
                    size: s,
                    signed,
                    big_endian: order == '>' || (order == '=' && cfg!(target_endian = "big")),
                }),
                _ => Err(format!(
                    "dtype '{descr}' is not a supported integer type; {ACCEPTED_DTYPES}"
                )),
            };
        }
        Some('f') => {
            return Err(format!(
                "dtype '{descr}' is a float array; {float_advice} ({ACCEPTED_DTYPES})"
            ));
        }
        Some('c') => "a complex array",
        Some('b' | '?') => "a bool array",
        Some('O') => "an object array (Python objects)",
        Some('S' | 'a') => "a byte-string array",
        Some('U') => "a unicode-string array",
        Some('V') => "a void (raw bytes or record) array",
        Some('M') => "a datetime array",
        Some('m') => "a timedelta array",
        _ => "an unknown type",
    };
    Err(format!(
        "dtype '{descr}' is {what}; the model takes integers ({ACCEPTED_DTYPES})"
    ))
}

/// A Python literal, as far as `.npy` headers use them.
#[derive(Debug)]
enum Lit {
    Str(String),
    Bool(bool),
    Null,
    /// An integer; `None` when it does not fit in an `i128`.
    Int(Option<i128>),
    /// A tuple or a list.
    Seq(Vec<Lit>),
    Dict(Vec<(Lit, Lit)>),
}

struct PyParser {
    s: Vec<char>,
    pos: usize,
}

impl PyParser {
    fn new(text: &str) -> PyParser {
        PyParser {
            s: text.chars().collect(),
            pos: 0,
        }
    }

    fn err<T>(&self, what: &str) -> Res<T> {
        Err(format!(
            "the .npy header is not a valid Python literal: {what} at character {}",
            self.pos
        ))
    }

    fn peek(&self) -> Option<char> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn parse_all(mut self) -> Res<Lit> {
        let v = self.value(0)?;
        self.skip_ws();
        if self.pos != self.s.len() {
            return self.err("unexpected text after the dict");
        }
        Ok(v)
    }

    fn value(&mut self, depth: usize) -> Res<Lit> {
        if depth > MAX_NPY_DEPTH {
            return self.err("nesting too deep");
        }
        self.skip_ws();
        match self.peek() {
            None => self.err("unexpected end"),
            Some('{') => {
                self.pos += 1;
                let mut entries = Vec::new();
                while self.before_item('}')? {
                    let k = self.value(depth + 1)?;
                    self.skip_ws();
                    if self.peek() != Some(':') {
                        return self.err("expected ':'");
                    }
                    self.pos += 1;
                    let v = self.value(depth + 1)?;
                    entries.push((k, v));
                    if !self.after_item('}')? {
                        break;
                    }
                }
                Ok(Lit::Dict(entries))
            }
            Some(open @ ('(' | '[')) => {
                let close = if open == '(' { ')' } else { ']' };
                self.pos += 1;
                let mut items = Vec::new();
                while self.before_item(close)? {
                    items.push(self.value(depth + 1)?);
                    if !self.after_item(close)? {
                        break;
                    }
                }
                Ok(Lit::Seq(items))
            }
            Some(q @ ('\'' | '"')) => {
                self.pos += 1;
                let mut out = String::new();
                loop {
                    match self.peek() {
                        None => return self.err("unterminated string"),
                        Some(c) if c == q => {
                            self.pos += 1;
                            return Ok(Lit::Str(out));
                        }
                        Some('\\') => {
                            self.pos += 1;
                            match self.peek() {
                                Some(c) => out.push(c),
                                None => return self.err("unterminated string"),
                            }
                            self.pos += 1;
                        }
                        Some(c) => {
                            out.push(c);
                            self.pos += 1;
                        }
                    }
                }
            }
            Some(c) if c.is_ascii_digit() || c == '-' || c == '+' => {
                let neg = c == '-';
                if !c.is_ascii_digit() {
                    self.pos += 1;
                }
                let start = self.pos;
                let mut v: Option<i128> = Some(0);
                while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
                    v = v
                        .and_then(|v| v.checked_mul(10))
                        .and_then(|v| v.checked_add(i128::from(d)));
                    self.pos += 1;
                }
                if self.pos == start {
                    return self.err("expected a digit");
                }
                // Python 2 long suffix, as old NumPy wrote it.
                if matches!(self.peek(), Some('L' | 'l')) {
                    self.pos += 1;
                }
                Ok(Lit::Int(if neg { v.map(|v| -v) } else { v }))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    self.pos += 1;
                }
                let word: String = self.s[start..self.pos].iter().collect();
                match word.as_str() {
                    "True" => Ok(Lit::Bool(true)),
                    "False" => Ok(Lit::Bool(false)),
                    "None" => Ok(Lit::Null),
                    _ => {
                        self.pos = start;
                        self.err("unexpected name")
                    }
                }
            }
            Some(_) => self.err("unexpected character"),
        }
    }

    /// Before an item of a container closed by `close`: whether an item follows (else the
    /// container is closed and consumed).
    fn before_item(&mut self, close: char) -> Res<bool> {
        self.skip_ws();
        match self.peek() {
            Some(c) if c == close => {
                self.pos += 1;
                Ok(false)
            }
            Some(_) => Ok(true),
            None => self.err("unexpected end"),
        }
    }

    /// After an item: `true` when a ',' was consumed (another item may follow), `false` when the
    /// container was closed.
    fn after_item(&mut self, close: char) -> Res<bool> {
        self.skip_ws();
        match self.peek() {
            Some(',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(c) if c == close => {
                self.pos += 1;
                Ok(false)
            }
            Some(_) => self.err("expected ',' or a closing bracket"),
            None => self.err("unexpected end"),
        }
    }
}

/// Reads `count` elements of type `ty`, passing each (with its flat index) to `accept`, which
/// checks it and converts it. Memory grows with the data really read, not with the claim.
fn read_elements(
    r: &mut impl Read,
    ty: IntType,
    count: u64,
    mut accept: impl FnMut(u64, i128) -> Res<i64>,
) -> Res<Vec<i64>> {
    let total = count.saturating_mul(ty.size as u64);
    let mut out = Vec::with_capacity(count.min(1 << 20) as usize);
    let mut buf = vec![0u8; 64 * 1024];
    let mut done = 0u64;
    while done < total {
        let want = (total - done).min(buf.len() as u64) as usize;
        let got = fill(r, &mut buf[..want]).map_err(|e| format!("read error in the data: {e}"))?;
        if got < want {
            return Err(format!(
                "truncated: the data end after {} of the {total} bytes the header claims",
                done + got as u64
            ));
        }
        for chunk in buf[..want].chunks_exact(ty.size) {
            let i = out.len() as u64;
            out.push(accept(i, ty.decode(chunk))?);
        }
        done += want as u64;
    }
    Ok(out)
}

/// Refuses bytes after the data (and, on a zip member, reaches its end so that its CRC is checked).
fn expect_end(r: &mut impl Read) -> Res<()> {
    let mut one = [0u8; 1];
    match fill(r, &mut one) {
        Ok(0) => Ok(()),
        Ok(_) => Err(
            "there are bytes after the array's data: the header does not describe the \
                      file (an .npy holds exactly one array)"
                .to_string(),
        ),
        Err(e) => Err(format!("read error at the end of the data: {e}")),
    }
}

/// Splits a flat index into coordinates of `dims`.
fn coords(mut i: u64, dims: &[usize]) -> Vec<u64> {
    let mut out = vec![0; dims.len()];
    for (o, &d) in out.iter_mut().zip(dims).rev() {
        *o = i % d as u64;
        i /= d as u64;
    }
    out
}

fn domain_error(dom: Domain, names: &str, at: &[u64], v: i128) -> String {
    let at: Vec<String> = at.iter().map(u64::to_string).collect();
    format!(
        "the element at ({names}) = ({}) is {v}, outside the domain of the model's input, {dom}; \
         values are not rescaled: an array holds the encoded integers",
        at.join(", ")
    )
}

fn npy_input<R: BufRead>(mut r: R, total: u64, enc: &Encoding, dom: Domain) -> Res<Vec<i64>> {
    let hdr = read_npy_header(&mut r, total, QUANTIZE_FIRST)?;
    let (c, h, w) = (enc.c as u64, enc.h as u64, enc.w as u64);
    let fits = match hdr.shape.as_slice() {
        [a, b, d] => (*a, *b, *d) == (c, h, w),
        [1, a, b, d] => (*a, *b, *d) == (c, h, w),
        [a, b] => c == 1 && (*a, *b) == (h, w),
        _ => false,
    };
    if !fits {
        let mut accepted = format!("({c}, {h}, {w}) or (1, {c}, {h}, {w})");
        if c == 1 {
            accepted += &format!(" or ({h}, {w})");
        }
        return Err(format!(
            "the array has shape {}, but the model's input is C×H×W = {c}×{h}×{w}; accepted \
             shapes: {accepted}",
            hdr.shape_text()
        ));
    }
    hdr.check_claim(total)?;
    let dims = [enc.c, enc.h, enc.w];
    let data = read_elements(&mut r, hdr.ty, hdr.count, |i, v| {
        if v < i128::from(dom.lo) || v > i128::from(dom.hi) {
            Err(domain_error(dom, "c, h, w", &coords(i, &dims), v))
        } else {
            Ok(v as i64)
        }
    })?;
    expect_end(&mut r)?;
    Ok(data)
}

// ---------------------------------------------------------------------------------------------
// .npz

/// The most a deflate stream inflates to, per compressed byte (its limit is about 1032:1).
const MAX_DEFLATE_RATIO: u64 = 1032;

fn npz_dataset<R: Read + Seek>(r: R, file_len: u64, enc: &Encoding, dom: Domain) -> Res<Dataset> {
    let mut zip =
        zip::ZipArchive::new(r).map_err(|e| format!("not a valid .npz (zip archive): {e}"))?;
    let (c, h, w) = (enc.c as u64, enc.h as u64, enc.w as u64);
    let mut n = 0u64;
    let x = npz_array(
        &mut zip,
        "x",
        QUANTIZE_FIRST,
        file_len,
        |hdr| {
            let sample = match hdr.shape.as_slice() {
                [n, a, b, d] if (*a, *b, *d) == (c, h, w) => Some(*n),
                [n, a, b] if c == 1 && (*a, *b) == (h, w) => Some(*n),
                _ => None,
            };
            match sample {
                Some(0) => Err("it holds no inputs (N = 0)".to_string()),
                Some(v) => {
                    n = v;
                    Ok(())
                }
                None => {
                    let mut accepted = format!("(N, {c}, {h}, {w})");
                    if c == 1 {
                        accepted += &format!(" or (N, {h}, {w})");
                    }
                    Err(format!(
                        "it has shape {}, but the model's input is C×H×W = {c}×{h}×{w}; \
                         accepted shapes: {accepted}",
                        hdr.shape_text()
                    ))
                }
            }
        },
        |i, v| {
            if v < i128::from(dom.lo) || v > i128::from(dom.hi) {
                let mut at = vec![i / dom.len as u64];
                at.extend(coords(i % dom.len as u64, &[enc.c, enc.h, enc.w]));
                Err(domain_error(dom, "n, c, h, w", &at, v))
            } else {
                Ok(v as i64)
            }
        },
    )?;
    let y = npz_array(
        &mut zip,
        "y",
        INTEGER_LABELS,
        file_len,
        |hdr| match hdr.shape.as_slice() {
            [m] if *m == n => Ok(()),
            [m] => Err(format!(
                "it holds {m} labels but array `x` holds {n} inputs: N must be the same"
            )),
            _ => Err(format!(
                "it has shape {}; accepted: ({n},), one label per input of `x`",
                hdr.shape_text()
            )),
        },
        |i, v| {
            if v < 0 {
                Err(format!(
                    "label {i} is {v}; labels must be ≥ 0 (class indices)"
                ))
            } else {
                i64::try_from(v)
                    .map_err(|_| format!("label {i} is {v}, too large for a class index"))
            }
        },
    )?;
    Ok(Dataset {
        x,
        n: n as usize,
        y,
    })
}

/// Any integer array `name` of an `.npz` (e.g. reference logits stored beside a test split):
/// its shape and its values in C order.
pub fn load_npz_ints(path: &Path, name: &str) -> anyhow::Result<(Vec<u64>, Vec<i64>)> {
    let (file, file_len) = open(path).map_err(|m| in_file(path, m))?;
    npz_ints(BufReader::new(file), file_len, name).map_err(|m| in_file(path, m))
}

/// [`load_npz_ints`] on `r`, the bytes of an `.npz` (`len` of them); errors without a path.
pub fn read_npz_ints<R: Read + Seek>(
    r: R,
    len: u64,
    name: &str,
) -> anyhow::Result<(Vec<u64>, Vec<i64>)> {
    npz_ints(r, len, name).map_err(|m| anyhow!("{m}"))
}

fn npz_ints<R: Read + Seek>(r: R, file_len: u64, name: &str) -> Res<(Vec<u64>, Vec<i64>)> {
    let mut zip =
        zip::ZipArchive::new(r).map_err(|e| format!("not a valid .npz (zip archive): {e}"))?;
    let mut shape = vec![];
    let v = npz_array(
        &mut zip,
        name,
        INTEGER_LABELS,
        file_len,
        |hdr| {
            shape = hdr.shape.clone();
            Ok(())
        },
        |i, v| i64::try_from(v).map_err(|_| format!("element {i} is {v}, beyond 64 bits")),
    )?;
    Ok((shape, v))
}

/// Reads array `name` of an `.npz`: checks its header with `check_shape` and each value with
/// `accept`. Errors name the array.
fn npz_array<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    float_advice: &str,
    file_len: u64,
    check_shape: impl FnOnce(&NpyHeader) -> Res<()>,
    accept: impl FnMut(u64, i128) -> Res<i64>,
) -> Res<Vec<i64>> {
    let member = format!("{name}.npy");
    let Some(idx) = zip
        .index_for_name(&member)
        .or_else(|| zip.index_for_name(name))
    else {
        let names: Vec<String> = zip
            .file_names()
            .take(8)
            .map(|n| n.map_or_else(|_| "(unreadable name)".to_string(), |n| n.into_owned()))
            .collect();
        let held = if names.is_empty() {
            "the archive is empty".to_string()
        } else {
            let more = if zip.len() > names.len() { ", …" } else { "" };
            format!("it holds {}{more}", names.join(", "))
        };
        return Err(format!(
            "no array `{name}` (member {member}); a data set needs arrays `x` and `y`; {held}"
        ));
    };
    let within = |m: String| format!("array `{name}` ({member}): {m}");
    let meta = zip
        .by_index_data(idx)
        .map_err(|e| within(format!("unreadable zip entry: {e}")))?;
    if meta.encrypted() {
        return Err(within("the zip entry is encrypted".to_string()));
    }
    let (size, csize) = (meta.size(), meta.compressed_size());
    let method = meta.compression();
    if csize > file_len {
        return Err(within(format!(
            "the zip entry claims {csize} compressed bytes but the file has only {file_len}"
        )));
    }
    match method {
        zip::CompressionMethod::Stored if size != csize => {
            return Err(within(format!(
                "the stored zip entry claims {size} bytes but holds {csize}: the archive is corrupt"
            )));
        }
        zip::CompressionMethod::Stored => {}
        zip::CompressionMethod::Deflated => {
            if size > csize.saturating_mul(MAX_DEFLATE_RATIO).saturating_add(1024) {
                return Err(within(format!(
                    "the zip entry claims {size} bytes from {csize} deflated bytes, more than \
                     deflate can produce: the archive is corrupt"
                )));
            }
        }
        other => {
            return Err(within(format!(
                "the zip entry is compressed with {other:?}; accepted: stored or deflated \
                 (np.savez, np.savez_compressed)"
            )));
        }
    }
    let mut entry = zip
        .by_index(idx)
        .map_err(|e| within(format!("unreadable zip entry: {e}")))?;
    let hdr = read_npy_header(&mut entry, size, float_advice).map_err(within)?;
    check_shape(&hdr).map_err(within)?;
    hdr.check_claim(size).map_err(within)?;
    let data = read_elements(&mut entry, hdr.ty, hdr.count, accept).map_err(within)?;
    expect_end(&mut entry).map_err(within)?;
    Ok(data)
}

// ---------------------------------------------------------------------------------------------
// .pgm

/// A byte stream with one byte of look-ahead and a position, for the PGM reader.
struct Bytes<R: BufRead> {
    r: R,
    pos: u64,
}

impl<R: BufRead> Bytes<R> {
    fn peek(&mut self) -> Res<Option<u8>> {
        let buf = self
            .r
            .fill_buf()
            .map_err(|e| format!("read error at byte {}: {e}", self.pos))?;
        Ok(buf.first().copied())
    }

    fn bump(&mut self) {
        self.r.consume(1);
        self.pos += 1;
    }

    /// Skips whitespace and `#` comments (to the end of the line).
    fn skip_space(&mut self) -> Res<()> {
        while let Some(b) = self.peek()? {
            if b == b'#' {
                while let Some(b) = self.peek()? {
                    self.bump();
                    if b == b'\n' || b == b'\r' {
                        break;
                    }
                }
            } else if b.is_ascii_whitespace() {
                self.bump();
            } else {
                break;
            }
        }
        Ok(())
    }

    /// A decimal number after optional whitespace and comments; `None` at the end of the file.
    fn number(&mut self, what: &dyn Fn() -> String) -> Res<Option<u64>> {
        self.skip_space()?;
        let mut v: Option<u64> = None;
        while let Some(b) = self.peek()? {
            if !b.is_ascii_digit() {
                break;
            }
            let d = u64::from(b - b'0');
            v = Some(v.unwrap_or(0).saturating_mul(10).saturating_add(d));
            self.bump();
        }
        if v.is_some_and(|v| v > u64::from(u32::MAX)) {
            return Err(format!("{} is absurdly large (more than 2^32)", what()));
        }
        match (v, self.peek()?) {
            (None, None) => Ok(None),
            (None, Some(b)) => Err(format!(
                "expected {} (a decimal number) at byte {}, found {}",
                what(),
                self.pos,
                show_byte(b)
            )),
            (Some(_), Some(b)) if !b.is_ascii_whitespace() && b != b'#' => Err(format!(
                "expected whitespace after {} at byte {}, found {}",
                what(),
                self.pos,
                show_byte(b)
            )),
            (Some(v), _) => Ok(Some(v)),
        }
    }
}

fn show_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", char::from(b))
    } else {
        format!("byte 0x{b:02x}")
    }
}

fn pgm_input<R: BufRead>(r: R, enc: &Encoding, dom: Domain) -> Res<Vec<i64>> {
    let mut r = Bytes { r, pos: 0 };
    let mut magic = [0u8; 2];
    for m in &mut magic {
        *m = r
            .peek()?
            .ok_or("truncated: the file ends inside the PGM magic number")?;
        r.bump();
    }
    let plain = match &magic {
        b"P2" => true,
        b"P5" => false,
        b"P1" | b"P4" => return Err(not_pgm("a PBM bitmap")),
        b"P3" | b"P6" => return Err(not_pgm("a PPM colour image")),
        b"P7" => return Err(not_pgm("a PAM image")),
        _ => {
            return Err(
                "not a PGM file: it does not start with P2 (plain) or P5 (raw)".to_string(),
            );
        }
    };
    if enc.c != 1 {
        return Err(format!(
            "a PGM image is gray, but the model's input has C = {} channels: give an RGB PNG",
            enc.c
        ));
    }
    let mut header = |what: &'static str| -> Res<u64> {
        match r.number(&|| format!("the {what}"))? {
            Some(v) => Ok(v),
            None => Err(format!("truncated: the file ends before the PGM {what}")),
        }
    };
    let width = header("width")?;
    let height = header("height")?;
    let maxval = header("maxval")?;
    if width == 0 || height == 0 {
        return Err(format!(
            "the PGM header gives an empty image, {width}×{height}"
        ));
    }
    if !(1..=65535).contains(&maxval) {
        return Err(format!("the PGM maxval is {maxval}; accepted: 1..=65535"));
    }
    check_image_size(width, height, enc)?;
    let maxval = maxval as u32;
    let to8 = |s: u32| ((s * 255 + maxval / 2) / maxval) as u8;
    let (h, w) = (enc.h, enc.w);
    // Grows with the pixels really read.
    let mut out = Vec::with_capacity(dom.len.min(1 << 20));
    let above = |row: usize, col: usize, s: u64| {
        format!("the pixel at (row {row}, column {col}) is {s}, above the maxval {maxval}")
    };
    if plain {
        for i in 0..h * w {
            let (row, col) = (i / w, i % w);
            let s = r
                .number(&|| format!("the pixel at (row {row}, column {col})"))?
                .ok_or_else(|| {
                    format!("truncated: the file ends after {i} of the {} pixels", h * w)
                })?;
            if s > u64::from(maxval) {
                return Err(above(row, col, s));
            }
            out.push(dom.map8(to8(s as u32)));
        }
    } else {
        match r.peek()? {
            Some(b) if b.is_ascii_whitespace() => r.bump(),
            Some(b) => {
                return Err(format!(
                    "expected one whitespace byte after the PGM maxval, found {}",
                    show_byte(b)
                ));
            }
            None => return Err("truncated: the file ends after the PGM header".to_string()),
        }
        // One sample per byte, or two (big-endian) when the maxval exceeds 255.
        let bps = if maxval > 255 { 2 } else { 1 };
        let mut sample = [0u8; 2];
        for i in 0..h * w {
            let (row, col) = (i / w, i % w);
            let got = fill(&mut r.r, &mut sample[..bps]).map_err(|e| format!("read error: {e}"))?;
            if got < bps {
                return Err(format!(
                    "truncated: the pixels end at (row {row}, column {col}); the header says \
                     {w}×{h} (W×H), {bps} byte(s) per pixel"
                ));
            }
            let s = if bps == 2 {
                u32::from(u16::from_be_bytes(sample))
            } else {
                u32::from(sample[0])
            };
            if s > maxval {
                return Err(above(row, col, u64::from(s)));
            }
            out.push(dom.map8(to8(s)));
        }
    }
    Ok(out)
}

fn not_pgm(what: &str) -> String {
    format!(
        "this is {what}, not a PGM graymap; accepted: PGM (P2, P5) or PNG: convert it to one of \
         those"
    )
}

// ---------------------------------------------------------------------------------------------
// .png

fn png_input<R: BufRead + Seek>(r: R, enc: &Encoding, dom: Domain) -> Res<Vec<i64>> {
    let mut dec = png::Decoder::new(r);
    // Palette → RGB(A), gray below 8 bits → 8 bits, tRNS → alpha; 16 bits stay 16 bits.
    dec.set_transformations(png::Transformations::EXPAND);
    let info = dec
        .read_header_info()
        .map_err(|e| format!("not a valid PNG: {e}"))?;
    check_image_size(u64::from(info.width), u64::from(info.height), enc)?;
    let mut reader = dec
        .read_info()
        .map_err(|e| format!("not a valid PNG: {e}"))?;
    let len = reader
        .output_buffer_size()
        .ok_or("the PNG image is too large to decode")?;
    let mut buf = vec![0u8; len];
    let frame = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("corrupt PNG image data: {e}"))?;
    check_image_size(u64::from(frame.width), u64::from(frame.height), enc)?;
    use png::ColorType as Ct;
    let (spp, gray) = match frame.color_type {
        Ct::Grayscale => (1, true),
        Ct::GrayscaleAlpha => (2, true),
        Ct::Rgb => (3, false),
        Ct::Rgba => (4, false),
        Ct::Indexed => return Err("the PNG palette could not be expanded".to_string()),
    };
    let wide = match frame.bit_depth {
        png::BitDepth::Eight => false,
        png::BitDepth::Sixteen => true,
        d => return Err(format!("unexpected PNG bit depth {d:?} after expansion")),
    };
    if gray && enc.c == 3 {
        return Err(format!(
            "the PNG image is gray ({:?}), but the model's input has C = 3 channels (RGB): a \
             gray image cannot stand for colour; give an RGB image",
            frame.color_type
        ));
    }
    let (h, w) = (enc.h, enc.w);
    let bytes_per_sample = if wide { 2 } else { 1 };
    let sample = |row: usize, col: usize, k: usize| -> u8 {
        let at = row * frame.line_size + (col * spp + k) * bytes_per_sample;
        // In bounds: the decoder filled `h` lines of `line_size` bytes (0 would only stand in
        // for a short buffer, which `next_frame` refuses).
        buf.get(at).copied().unwrap_or(0)
    };
    let mut out = vec![0i64; dom.len];
    for row in 0..h {
        for col in 0..w {
            let px = row * w + col;
            if gray {
                out[px] = dom.map8(sample(row, col, 0));
            } else if enc.c == 1 {
                let [r, g, b] = [0, 1, 2].map(|k| u32::from(sample(row, col, k)));
                let luma = (299 * r + 587 * g + 114 * b + 500) / 1000;
                out[px] = dom.map8(luma as u8);
            } else {
                for k in 0..3 {
                    out[k * h * w + px] = dom.map8(sample(row, col, k));
                }
            }
        }
    }
    Ok(out)
}
