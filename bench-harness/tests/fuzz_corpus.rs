//! Replays the checked-in fuzzing corpus on the stable toolchain: every file of
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` goes through the target's entry
//! point (the same function the cargo-fuzz target calls), and none may panic. A target whose
//! corpus directory is missing or empty fails the test, so a renamed target or a lost corpus
//! is noticed. See `docs/fuzzing.md`.
//!
//! `PQ_FUZZ_WRITE_SEEDS=1 cargo test -p bench-harness --test fuzz_corpus -- --ignored` writes
//! the seed files (valid inputs of each reader) to `fuzz/seeds/<target>/`, from which the
//! corpus was grown.

use std::path::{Path, PathBuf};

mod common;

/// A fuzz target's entry point.
type Entry = fn(&[u8]);

/// Every fuzz target with its entry point.
const TARGETS: &[(&str, Entry)] = &[
    ("frames", pq_netsim::fuzzing::frames),
    ("handshake", pq_netsim::fuzzing::handshake),
    ("keys", pq_netsim::fuzzing::keys),
    ("model_json", pq_nn::fuzzing::model_json),
    ("safetensors", pq_nn::fuzzing::safetensors),
    ("inputs", bench_harness::fuzzing::inputs),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => vec![],
    };
    v.sort();
    v
}

#[test]
fn every_target_replays_its_corpus_and_regressions_without_a_panic() {
    let mut total = 0;
    for (name, run) in TARGETS {
        let corpus = files(&fuzz_dir().join("corpus").join(name));
        assert!(
            !corpus.is_empty(),
            "fuzz/corpus/{name}/ is missing or empty: every target needs its corpus checked in"
        );
        let regressions = files(&fuzz_dir().join("regressions").join(name));
        for f in corpus.iter().chain(&regressions) {
            let data = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let r = std::panic::catch_unwind(|| run(&data));
            assert!(r.is_ok(), "target {name} panicked on {}", f.display());
            total += 1;
        }
    }
    assert!(total > 0);
}

/// The fuzz targets listed in fuzz/Cargo.toml are exactly [`TARGETS`].
#[test]
fn the_fuzz_crate_has_a_target_for_every_entry_point() {
    let toml = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let mut bins: Vec<&str> = toml
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|n| *n != "pq-fuzz")
        .collect();
    bins.sort();
    let mut want: Vec<&str> = TARGETS.iter().map(|t| t.0).collect();
    want.sort();
    assert_eq!(bins, want);
}

// ---------------------------------------------------------------------------------------------
// Seeds.

/// A version-1, C-order .npy of `data`.
fn npy(descr: &str, shape: &[u64], data: &[u8]) -> Vec<u8> {
    common::npy_with(1, descr, false, shape, data)
}

fn png_of(w: u32, h: u32, color: png::ColorType, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut e = png::Encoder::new(&mut out, w, h);
        e.set_color(color);
        e.set_depth(png::BitDepth::Eight);
        let mut wr = e.write_header().expect("png header");
        wr.write_image_data(data).expect("png data");
    }
    out
}

fn with(prefix: &[u8], file: &[u8]) -> Vec<u8> {
    let mut v = prefix.to_vec();
    v.extend_from_slice(file);
    v
}

fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let read = |p: &str| std::fs::read(repo.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let mut out = vec![];
    for (i, s) in pq_netsim::fuzzing::seeds_frames().into_iter().enumerate() {
        out.push(("frames", format!("seed-{i}"), s));
    }
    // handshake: the magic and a Noise message 1 (any 32 bytes), as the server reads them;
    // the magic and a message 2 of the right size, as the client does; a busy notice; an
    // --insecure peer's hello length.
    let mut m1 = vec![1u8];
    m1.extend(b"PQRS-NX1");
    m1.extend([0, 32]);
    m1.extend([5u8; 32]);
    out.push(("handshake", "server-msg1".into(), m1));
    let mut m2 = vec![0u8];
    m2.extend(b"PQRS-NX1");
    m2.extend([0, 96]);
    m2.extend([6u8; 96]);
    out.push(("handshake", "client-msg2".into(), m2));
    out.push((
        "handshake",
        "busy".into(),
        b"\x00PQRS-BSYserver busy\n".to_vec(),
    ));
    let mut plain = vec![0u8];
    plain.extend(45u64.to_le_bytes());
    out.push(("handshake", "insecure".into(), plain));
    let id = pq_netsim::Identity::generate().expect("key");
    out.push((
        "keys",
        "pub".into(),
        format!("{} a comment\n", id.public().line()).into(),
    ));
    out.push(("keys", "secret".into(), id.secret_text().into()));
    out.push((
        "keys",
        "peers".into(),
        format!(
            "# peers\n\n{}\n{}\n",
            id.public().line(),
            id.public().line()
        )
        .into(),
    ));
    out.push((
        "model_json",
        "digits".into(),
        read("models/digits/model.json"),
    ));
    out.push((
        "model_json",
        "small-resnet".into(),
        read("engine/nn/tests/data/small-resnet.json"),
    ));
    out.push((
        "model_json",
        "fuzz-model".into(),
        pq_nn::fuzzing::SAFETENSORS_MODEL.into(),
    ));
    let m = pq_nn::json::parse(pq_nn::fuzzing::SAFETENSORS_MODEL).expect("model");
    let p = pq_nn::lower::lower(&m, pq_nn::config::Config::PrivQuant).expect("lower");
    let w = pq_nn::config::Weights::random(&p.model, 7);
    out.push((
        "safetensors",
        "int-weights".into(),
        pq_nn::weights::write(&p.model, &w).expect("write"),
    ));
    let fw: std::collections::HashMap<String, Vec<f32>> = p
        .model
        .linear_layers()
        .into_iter()
        .map(|i| {
            let l = &p.model.layers[i];
            let n = pq_nn::plan::sensitivity::weight_shape(&p.model, i)
                .unwrap_or_default()
                .iter()
                .product();
            (l.name.clone(), vec![0.5f32; n])
        })
        .collect();
    if let Ok(b) = pq_nn::plan::sensitivity::write_safetensors(&p.model, &fw) {
        out.push(("safetensors", "float-weights".into(), b));
    }
    // inputs: prefix [reader, C, H | W << 4, bits-1 | signed << 7]
    let v: Vec<u8> = (0..16u8).map(|i| i * 16).collect();
    out.push((
        "inputs",
        "npy".into(),
        with(&[0, 0, 0x33, 7], &npy("|u1", &[1, 4, 4], &v)),
    ));
    out.push((
        "inputs",
        "npy-i2".into(),
        with(&[0, 0, 0x33, 0x8f], &npy("<i2", &[4, 4], &[1u8; 32])),
    ));
    out.push((
        "inputs",
        "png-gray".into(),
        with(
            &[1, 0, 0x33, 7],
            &png_of(4, 4, png::ColorType::Grayscale, &v),
        ),
    ));
    let rgb: Vec<u8> = (0..48u8).collect();
    out.push((
        "inputs",
        "png-rgb".into(),
        with(&[1, 1, 0x33, 7], &png_of(4, 4, png::ColorType::Rgb, &rgb)),
    ));
    out.push((
        "inputs",
        "pgm-p2".into(),
        with(&[2, 0, 0x11, 7], b"P2\n# c\n2 2\n255\n0 1\n2 255\n"),
    ));
    out.push((
        "inputs",
        "pgm-p5".into(),
        with(
            &[2, 0, 0x11, 7],
            b"P5 2 2 65535\n\x00\x01\x02\x03\xff\xff\x00\x00",
        ),
    ));
    let x = npy("|u1", &[2, 1, 2, 2], &[0, 1, 2, 3, 4, 5, 6, 7]);
    let y = npy(
        "<i8",
        &[2],
        &[1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0],
    );
    let logits = npy("<i4", &[2, 2], &[1u8; 16]);
    for deflate in [false, true] {
        let z = common::zip_bytes(
            &[
                ("x.npy", x.clone()),
                ("y.npy", y.clone()),
                ("logits.npy", logits.clone()),
            ],
            deflate,
        );
        let tag = if deflate { "deflated" } else { "stored" };
        out.push(("inputs", format!("npz-{tag}"), with(&[3, 0, 0x11, 7], &z)));
        out.push((
            "inputs",
            format!("npz-logits-{tag}"),
            with(&[4, 0, 0x11, 7], &z),
        ));
    }
    out
}

/// The seeds are valid inputs (they reach past the first checks) and replay cleanly.
#[test]
fn seeds_replay() {
    for (target, _, data) in seeds() {
        let run = TARGETS.iter().find(|t| t.0 == target).expect("target").1;
        run(&data);
    }
}

#[test]
#[ignore = "writes fuzz/seeds/; run with PQ_FUZZ_WRITE_SEEDS=1"]
fn write_seeds() {
    if std::env::var_os("PQ_FUZZ_WRITE_SEEDS").is_none() {
        return;
    }
    for (target, name, data) in seeds() {
        let d = fuzz_dir().join("seeds").join(target);
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::write(d.join(name), data).expect("write seed");
    }
}
