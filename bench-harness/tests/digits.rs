//! The shipped trained model (`models/digits/`, made by `tools/train_digits.py`):
//! * the engine's plaintext reference equals the training script's independent numpy
//!   reference (`logits` in `test.npz`) on every held-out image, logit for logit, and its
//!   accuracy on the whole split is at least 95 %;
//! * `accuracy` runs the first [`CI_IMAGES`] held-out images in 2PC: every prediction equals
//!   the plaintext reference's.
//!
//! The whole split in 2PC (360 images, about 75 s on 2 cores) is the ignored test
//! `accuracy_in_2pc_on_the_whole_split`; run it with
//! `cargo test -p bench-harness --test digits -- --ignored`. Each image is its own 2PC run
//! (fresh base OTs, the same program), so the CI subset exercises the same code; the whole
//! split adds more inputs, not more paths.

use bench_harness::input::{self, Encoding};
use pq_nn::config::Config;
use pq_nn::lower;
use pq_nn::reference;
use std::path::{Path, PathBuf};
use std::process::Command;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/digits")
}

#[test]
fn reference_equals_the_training_scripts_numpy_reference() {
    let d = dir();
    let text = std::fs::read_to_string(d.join("model.json")).unwrap();
    let m = pq_nn::json::parse(&text).unwrap();
    let p = lower::lower(&m, Config::PrivQuant).unwrap();
    let w = pq_nn::weights::load(
        &p.model,
        &std::fs::read(d.join("weights.safetensors")).unwrap(),
    )
    .unwrap();
    let enc = Encoding::of(&m);
    let data = input::load_dataset(&d.join("test.npz"), &enc).unwrap();
    assert!(data.n >= 300, "{} held-out images", data.n);
    let (shape, logits) = input::load_npz_ints(&d.join("test.npz"), "logits").unwrap();
    assert_eq!(shape, [data.n as u64, 10]);
    let per = m.input.numel();
    let mut correct = 0usize;
    for i in 0..data.n {
        let r = reference::run_reference(&p, &w, &data.x[i * per..(i + 1) * per]).unwrap();
        assert_eq!(
            r.logits,
            logits[i * 10..(i + 1) * 10],
            "image {i}: the engine's reference differs from numpy's"
        );
        // the label as `accuracy` takes it (the first maximal logit)
        let label = pq_proto::privquant::argmax::reference(&r.logits, r.logits.len())[0];
        correct += usize::from(label as i64 == data.y[i]);
    }
    let acc = correct as f64 / data.n as f64;
    assert!(acc >= 0.95, "plaintext accuracy {acc} on {} images", data.n);
}

/// Images run in 2PC by the CI test (each one a separate 2PC run, about 0.2 s).
const CI_IMAGES: u64 = 40;

/// `accuracy --limit N --json`: every prediction equals the plaintext reference's; returns the
/// JSON line.
fn accuracy_2pc(limit: Option<u64>) -> serde_json::Value {
    let d = dir();
    let p = |f: &str| d.join(f).to_string_lossy().to_string();
    let mut args = vec![
        "accuracy".to_string(),
        "--model".into(),
        p("model.json"),
        "--weights".into(),
        p("weights.safetensors"),
        "--data".into(),
        p("test.npz"),
        "--json".into(),
    ];
    if let Some(n) = limit {
        args.extend(["--limit".to_string(), n.to_string()]);
    }
    let o = Command::new(env!("CARGO_BIN_EXE_bench-harness"))
        .args(&args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let out = String::from_utf8_lossy(&o.stdout);
    let j: serde_json::Value = serde_json::from_str(out.lines().last().unwrap_or("")).unwrap();
    assert_eq!(j["differing"], 0, "{err}");
    assert_eq!(j["accuracy_2pc"], j["accuracy_plaintext"]);
    assert_eq!(j["correct_2pc"], j["correct_plaintext"]);
    j
}

/// The first [`CI_IMAGES`] images in 2PC equal the plaintext reference (the accuracy bound on
/// the whole split is checked on the reference above, which equals numpy's on every image).
#[test]
fn accuracy_in_2pc_equals_the_plaintext_reference() {
    let j = accuracy_2pc(Some(CI_IMAGES));
    assert_eq!(j["images"].as_u64(), Some(CI_IMAGES), "{j}");
}

/// The whole held-out split in 2PC: every prediction equals the reference's, accuracy at least
/// 95 %. About 75 s on 2 cores:
/// `cargo test -p bench-harness --test digits -- --ignored`.
#[test]
#[ignore = "about 75 s: the whole held-out split in 2PC; run with --ignored"]
fn accuracy_in_2pc_on_the_whole_split() {
    let j = accuracy_2pc(None);
    assert!(j["accuracy_2pc"].as_f64().unwrap() >= 0.95, "{j}");
    assert!(j["images"].as_u64().unwrap() >= 300);
}
