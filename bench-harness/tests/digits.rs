//! The shipped trained model (`models/digits/`, made by `tools/train_digits.py`):
//! * the engine's plaintext reference equals the training script's independent numpy
//!   reference (`logits` in `test.npz`) on every held-out image, logit for logit;
//! * `accuracy` runs the whole held-out split in 2PC: every prediction equals the plaintext
//!   reference's, and the accuracy is at least 95 %.

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
    for i in 0..data.n {
        let r = reference::run_reference(&p, &w, &data.x[i * per..(i + 1) * per]).unwrap();
        assert_eq!(
            r.logits,
            logits[i * 10..(i + 1) * 10],
            "image {i}: the engine's reference differs from numpy's"
        );
    }
}

#[test]
fn accuracy_in_2pc_equals_the_plaintext_reference() {
    let d = dir();
    let p = |f: &str| d.join(f).to_string_lossy().to_string();
    let o = Command::new(env!("CARGO_BIN_EXE_bench-harness"))
        .args([
            "accuracy",
            "--model",
            &p("model.json"),
            "--weights",
            &p("weights.safetensors"),
            "--data",
            &p("test.npz"),
            "--json",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let out = String::from_utf8_lossy(&o.stdout);
    let j: serde_json::Value = serde_json::from_str(out.lines().last().unwrap_or("")).unwrap();
    assert_eq!(j["differing"], 0, "{err}");
    assert_eq!(j["accuracy_2pc"], j["accuracy_plaintext"]);
    assert!(j["accuracy_2pc"].as_f64().unwrap() >= 0.95, "{j}");
    assert!(j["images"].as_u64().unwrap() >= 300);
}
