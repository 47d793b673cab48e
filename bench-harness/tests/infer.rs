//! Private inference of a trained model through the real binary: `infer` (one process,
//! beside the plaintext reference), `serve … infer --once` with the weights and `connect …
//! infer` from a directory without them, refusals at the handshake (another architecture, a
//! reveal beyond what the server allows), a weights file that does not fit the model, an
//! input outside the declared domain, `accuracy` on a small labelled set, and `e2e` as the
//! default subcommand of `serve`/`connect`.

mod common;

use common::{
    Fixture, MODEL, bin, err, fixture, free_addr, image, last_json, wait_or_kill, write_npy_u8,
};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

#[test]
fn infer_in_one_process_matches_the_reference() {
    let f = fixture("one");
    let x = f.dir.join("x.npy");
    write_npy_u8(&x, &[1, 6, 6], &image(1));
    let xs = x.to_string_lossy().to_string();
    let base = [
        "infer",
        "--model",
        &f.model,
        "--weights",
        &f.weights,
        "--input",
        &xs,
        "--json",
    ];
    let plain = bin().args(base).arg("--plaintext").output().unwrap();
    assert!(plain.status.success(), "{}", err(&plain));
    let pj = last_json(&plain);
    for (proto, reveal) in [
        ("privquant", "label"),
        ("privquant", "logits"),
        ("privquant-w4", "logits"),
        ("privquant-he", "label"),
    ] {
        let o = bin()
            .args(base)
            .args(["--protocol", proto, "--reveal", reveal])
            .output()
            .unwrap();
        assert!(o.status.success(), "{proto} {reveal}: {}", err(&o));
        let j = last_json(&o);
        assert_eq!(j["correct"], true, "{proto} {reveal}");
        assert!(j["bytes_total"].as_u64().unwrap() > 0);
        if proto != "privquant-w4" {
            assert_eq!(j["label"], pj["label"], "{proto}");
        }
        assert_eq!(j.get("logits").is_some(), reveal == "logits");
    }
    // sirnn-quant's matmul drops e = 6 bits in c2 before the stated shift of 3
    let o = bin()
        .args(base)
        .args(["--protocol", "sirnn-quant"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(
        err(&o).contains("'c2'") && err(&o).contains("shift 3"),
        "{}",
        err(&o)
    );
    // sirnn pins its own shifts: refused before any traffic, naming the layer
    let o = bin()
        .args(base)
        .args(["--protocol", "sirnn"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(
        err(&o).contains("'c1'") && err(&o).contains("sirnn pins"),
        "{}",
        err(&o)
    );
    // a pixel outside the declared domain (a signed model reading 255)
    let signed = f.dir.join("signed.json");
    std::fs::write(
        &signed,
        MODEL.replace(r#""signed": false"#, r#""signed": true"#),
    )
    .unwrap();
    let o = bin()
        .args([
            "infer",
            "--model",
            &signed.to_string_lossy(),
            "--weights",
            &f.weights,
            "--input",
            &xs,
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(
        err(&o).contains("255") && err(&o).contains("signed 8-bit"),
        "{}",
        err(&o)
    );
    let _ = std::fs::remove_dir_all(&f.dir);
}

#[test]
fn weights_that_do_not_fit_are_refused_naming_the_layer() {
    let f = fixture("badw");
    let x = f.dir.join("x.npy");
    write_npy_u8(&x, &[1, 6, 6], &image(2));
    // (model variant, what the error says besides the layer)
    let cases = [
        // a c2 with fewer output channels: the file's c2 has the wrong shape
        (
            "other.json",
            MODEL.replace(r#""cout": 6"#, r#""cout": 5"#),
            "shape",
        ),
        // c2 declared with 1-bit weights: its 2-bit weights do not fit
        (
            "narrow.json",
            MODEL.replace(r#""wbits": 2"#, r#""wbits": 1"#),
            "weight range",
        ),
    ];
    for (file, json, what) in cases {
        let model = f.dir.join(file);
        std::fs::write(&model, json).unwrap();
        let o = bin()
            .args([
                "infer",
                "--model",
                &model.to_string_lossy(),
                "--weights",
                &f.weights,
                "--input",
                &x.to_string_lossy(),
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{file}: {}", err(&o));
        assert!(
            err(&o).contains("'c2'") && err(&o).contains(what),
            "{file}: {}",
            err(&o)
        );
    }
    let _ = std::fs::remove_dir_all(&f.dir);
}

/// The server in one directory with the weights, the client in another holding only the
/// architecture and its input.
fn two_process(
    f: &Fixture,
    server: &[&str],
    client_dir: &Path,
    client: &[&str],
) -> (Output, Output) {
    let addr = free_addr();
    let srv = bin()
        .current_dir(&f.dir)
        .args(["serve", "--listen", &addr, "infer", "--once"])
        .args(server)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server");
    std::thread::sleep(Duration::from_millis(300));
    let c = bin()
        .current_dir(client_dir)
        .args(["connect", &addr, "infer"])
        .args(client)
        .output()
        .expect("client");
    (wait_or_kill(srv, Duration::from_secs(30)), c)
}

#[test]
fn two_processes_server_weights_client_input() {
    let f = fixture("two");
    let cdir = f.dir.join("client");
    std::fs::create_dir_all(&cdir).unwrap();
    std::fs::copy(&f.model, cdir.join("model.json")).unwrap();
    write_npy_u8(&cdir.join("x.npy"), &[1, 6, 6], &image(3));
    // the reference's answer, computed in the server's directory
    std::fs::copy(cdir.join("x.npy"), f.dir.join("x.npy")).unwrap();
    let plain = bin()
        .current_dir(&f.dir)
        .args([
            "infer",
            "--model",
            "model.json",
            "--weights",
            "weights.safetensors",
            "--input",
            "x.npy",
            "--plaintext",
            "--json",
        ])
        .output()
        .unwrap();
    let pj = last_json(&plain);
    let srv = [
        "--model",
        "model.json",
        "--weights",
        "weights.safetensors",
        "--reveal",
        "logits",
    ];
    let cli = ["--model", "model.json", "--input", "x.npy", "--json"];
    let (s, c) = two_process(&f, &srv, &cdir, &cli);
    assert!(s.status.success(), "server: {}", err(&s));
    assert!(c.status.success(), "client: {}", err(&c));
    assert!(!cdir.join("weights.safetensors").exists());
    let j = last_json(&c);
    assert_eq!(j["label"], pj["label"]);
    assert!(j.get("logits").is_none(), "label is the default reveal");
    for k in [
        "bytes_total",
        "bytes_server_to_client",
        "bytes_client_to_server",
        "rounds",
    ] {
        assert!(j[k].as_u64().unwrap() > 0, "{k}");
    }
    assert!(j["wall_s"].as_f64().unwrap() > 0.0);
    // the logits, when the server allows them
    let cli_l = [
        "--model",
        "model.json",
        "--input",
        "x.npy",
        "--reveal",
        "logits",
        "--json",
    ];
    let (s, c) = two_process(&f, &srv, &cdir, &cli_l);
    assert!(s.status.success() && c.status.success(), "{}", err(&c));
    assert_eq!(last_json(&c)["logits"], pj["logits"]);
    // ... and not when it allows the label only
    let srv_label = ["--model", "model.json", "--weights", "weights.safetensors"];
    let (s, c) = two_process(&f, &srv_label, &cdir, &cli_l);
    assert!(!s.status.success() && !c.status.success());
    assert!(
        err(&c).contains("reveal") && err(&c).contains("label only"),
        "{}",
        err(&c)
    );
    // another architecture is refused, naming what differs
    std::fs::write(
        cdir.join("model.json"),
        MODEL.replace(r#""shift": 3"#, r#""shift": 4"#),
    )
    .unwrap();
    let (s, c) = two_process(&f, &srv_label, &cdir, &cli);
    assert!(!s.status.success() && !c.status.success());
    assert!(err(&c).contains("architecture"), "{}", err(&c));
    std::fs::write(cdir.join("model.json"), MODEL).unwrap();
    let other_proto = [
        "--model",
        "model.json",
        "--input",
        "x.npy",
        "--protocol",
        "privquant-w4",
    ];
    let (s, c) = two_process(&f, &srv_label, &cdir, &other_proto);
    assert!(!s.status.success() && !c.status.success());
    assert!(err(&c).contains("protocol: server"), "{}", err(&c));
    // flags that belong to the other party
    let o = bin()
        .current_dir(&cdir)
        .args([
            "connect",
            "127.0.0.1:1",
            "infer",
            "--model",
            "model.json",
            "--input",
            "x.npy",
        ])
        .args(["--weights", "w.safetensors"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    let _ = std::fs::remove_dir_all(&f.dir);
}

/// Without `--once` the server keeps serving: a refused client does not stop it, and the next
/// client is served. The client's input may be an image (PGM here).
#[test]
fn server_survives_a_failed_connection() {
    let f = fixture("keep");
    let cdir = f.dir.join("client");
    std::fs::create_dir_all(&cdir).unwrap();
    std::fs::copy(&f.model, cdir.join("model.json")).unwrap();
    let mut pgm = b"P5\n6 6\n255\n".to_vec();
    pgm.extend_from_slice(&image(4));
    std::fs::write(cdir.join("x.pgm"), &pgm).unwrap();
    let addr = free_addr();
    let mut srv = bin()
        .current_dir(&f.dir)
        .args(["serve", "--listen", &addr, "infer", "--model", "model.json"])
        .args(["--weights", "weights.safetensors"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let client = |extra: &[&str]| {
        bin()
            .current_dir(&cdir)
            .args([
                "connect",
                &addr,
                "infer",
                "--model",
                "model.json",
                "--input",
                "x.pgm",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let bad = client(&["--reveal", "logits"]);
    assert!(!bad.status.success());
    let good = client(&["--json"]);
    assert!(good.status.success(), "{}", err(&good));
    // the same image in one process, from the same PGM
    let one = bin()
        .current_dir(&f.dir)
        .args([
            "infer",
            "--model",
            "model.json",
            "--weights",
            "weights.safetensors",
        ])
        .args(["--input", &cdir.join("x.pgm").to_string_lossy(), "--json"])
        .output()
        .unwrap();
    assert!(one.status.success(), "{}", err(&one));
    assert_eq!(
        last_json(&good)["label"],
        last_json(&one)["reference_label"]
    );
    assert!(
        srv.try_wait().unwrap().is_none(),
        "the server must still run"
    );
    let _ = srv.kill();
    let out = srv.wait_with_output().unwrap();
    let log = err(&out);
    assert!(
        log.contains("connection failed") && log.contains("served one inference"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&f.dir);
}

/// `serve`/`connect` with no subcommand run `e2e`, and its flags may follow directly.
#[test]
fn e2e_is_the_default_subcommand() {
    let f = fixture("e2e");
    let args = [
        "--models",
        f.model.as_str(),
        "--protocols",
        "privquant",
        "--json",
    ];
    let addr = free_addr();
    let srv = bin()
        .args(["serve", "--listen", &addr])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let c = bin().args(["connect", &addr]).args(args).output().unwrap();
    let s = wait_or_kill(srv, Duration::from_secs(30));
    assert!(s.status.success(), "{}", err(&s));
    assert!(c.status.success(), "{}", err(&c));
    assert_eq!(last_json(&c)["correct"], true);
    let _ = std::fs::remove_dir_all(&f.dir);
}
