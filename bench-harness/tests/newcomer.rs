//! The newcomer's path (issue "The newcomer's path"): bad input through the real binary ends
//! with exit status 2 and a message that names the user's flag or file and the value.

mod common;

use common::run;

/// Exit 2 and stderr containing every one of `want`.
fn refused(args: &[&str], want: &[&str]) {
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    for w in want {
        assert!(err.contains(w), "{args:?}: {w:?} not in {err}");
    }
}

#[test]
fn width_errors_name_the_users_flags() {
    let conv = ["conv", "--hw", "8", "--cin", "4", "--cout", "4", "--k", "3"];
    for profile in ["sirnn", "privquant"] {
        let with = |w: &str, a: &str| -> Vec<String> {
            conv.iter()
                .map(|s| s.to_string())
                .chain(
                    ["--wbits", w, "--abits", a, "--profile", profile]
                        .iter()
                        .map(|s| s.to_string()),
                )
                .collect()
        };
        let v = with("0", "4");
        refused(
            &v.iter().map(String::as_str).collect::<Vec<_>>(),
            &["--wbits", "0"],
        );
        let v = with("2", "65");
        refused(
            &v.iter().map(String::as_str).collect::<Vec<_>>(),
            &["--abits", "65"],
        );
        let v = with("64", "64");
        refused(
            &v.iter().map(String::as_str).collect::<Vec<_>>(),
            &["--abits", "64"],
        );
    }
    refused(&["micro", "residual", "--hw", "0"], &["--hw"]);
}

#[test]
fn model_errors_name_the_flag_and_the_file() {
    refused(&["verify", "--model", "foo"], &["--model foo", "accepted"]);
    refused(
        &["e2e", "--models", "/nonexistent/m.json"],
        &["--models /nonexistent/m.json", "cannot read"],
    );
    let dir = std::env::temp_dir().join(format!("pq-newcomer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let huge_pad = dir.join("pad.json");
    std::fs::write(
        &huge_pad,
        r#"{ "name": "tiny", "input": [3, 8, 8], "layers": [
            { "name": "c1", "op": "conv", "cout": 8, "k": 3, "pad": 9223372036854775807, "wbits": 2, "abits": 4 },
            { "name": "fc", "op": "fc", "dout": 10, "wbits": 8 } ] }"#,
    )
    .expect("write model");
    let huge_in = dir.join("input.json");
    std::fs::write(
        &huge_in,
        r#"{ "name": "wide", "input": [4294967296, 4294967296, 1], "layers": [
            { "name": "fc", "op": "fc", "dout": 10, "wbits": 8 } ] }"#,
    )
    .expect("write model");
    let out = dir.join("out");
    let out = out.to_string_lossy();
    let p = huge_pad.to_string_lossy();
    refused(
        &["e2e", "--models", &p, "--out", &out],
        &["c1", "pad = 9223372036854775807"],
    );
    let p = huge_in.to_string_lossy();
    refused(&["e2e", "--models", &p, "--out", &out], &["too large"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kernels_says_whether_each_target_was_met() {
    let o = run(&["kernels", "--rep-seconds", "0.01", "--reps", "1", "--json"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains(" met"), "{err}");
    assert!(
        err.contains("every target met") || err.contains("target(s) missed"),
        "{err}"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    let v: serde_json::Value =
        serde_json::from_str(out.lines().last().unwrap_or("")).expect("last line is JSON");
    let cr = &v["aes_cr_hash"];
    assert!(cr["target_met"].is_boolean(), "{cr}");
    assert!(v["he_encrypt"]["target_met"].is_null());
}

/// clap's own errors keep what clap says: the missing argument's name, the "similar
/// argument" tip, and a negative number reported against its flag, on one line.
#[test]
fn clap_errors_name_the_argument_on_one_line() {
    let cases: [(&[&str], &[&str]); 5] = [
        (&["serve"], &["not provided", "--listen"]),
        (&["verify"], &["not provided", "--model"]),
        (&["e2e", "--modls", "x"], &["--modls", "tip:", "--models"]),
        (&["micro", "matmul", "--n", "-1"], &["'-1'", "--n"]),
        (&["micro", "relu", "--l", "-3"], &["'-3'", "--l"]),
    ];
    for (args, want) in cases {
        let o = run(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{args:?}: not one line: {err}"
        );
        for w in want {
            assert!(err.contains(w), "{args:?}: {w:?} not in {err}");
        }
    }
}

/// A client with no server to reach says it is waiting, then fails once the
/// `--connect-timeout` has passed, naming the flag, with the error printed once.
#[test]
fn connect_says_it_waits_and_names_its_timeout() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").to_string()
    };
    let t = std::time::Instant::now();
    let o = run(&[
        "connect",
        &addr,
        "--insecure",
        "--connect-timeout",
        "1",
        "micro",
        "cot",
        "--n",
        "64",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(t.elapsed().as_secs_f64() < 20.0, "took {:?}", t.elapsed());
    assert!(err.contains("nothing listens"), "{err}");
    assert_eq!(err.matches("--connect-timeout").count(), 2, "{err}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{err}"
    );
    refused(
        &["connect", &addr, "--connect-timeout", "0", "micro", "cot"],
        &["--connect-timeout", "0"],
    );
}

/// `--out` that cannot be written is refused before any work (issue 15: results are never
/// lost), naming the flag and the path.
#[test]
fn unwritable_out_is_refused_before_any_run() {
    let t = std::time::Instant::now();
    let o = run(&["e2e", "--out", "/proc/pq-no-such-dir/x"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--out /proc/pq-no-such-dir/x"), "{err}");
    assert!(
        !err.contains("executing") && !err.contains("modeling"),
        "{err}"
    );
    assert!(t.elapsed().as_secs() < 30, "took {:?}", t.elapsed());
}

/// A JSON model too large for the protocols is an error (exit 2) before anything runs or is
/// written, naming the file, the layer and the limit in the user's terms; the previous
/// results stay.
#[test]
fn oversized_model_is_an_error_not_an_empty_success() {
    let dir = std::env::temp_dir().join(format!("pq-newcomer-big-{}", std::process::id()));
    let out = dir.join("out");
    std::fs::create_dir_all(&out).expect("temp dir");
    let model = dir.join("big.json");
    std::fs::write(
        &model,
        r#"{ "name": "big", "input": [3, 8, 8], "layers": [
            { "name": "c1", "op": "conv", "cout": 1000000000, "k": 3, "wbits": 2, "abits": 4 },
            { "name": "r1", "op": "relu" },
            { "name": "head", "op": "fc", "dout": 10, "wbits": 8 } ] }"#,
    )
    .expect("write model");
    let before = out.join("e2e-big-privquant-200mbps_13ms.md");
    std::fs::write(&before, "previous results\n").expect("write");
    let m = model.to_string_lossy();
    let o = run(&[
        "e2e",
        "--models",
        &m,
        "--protocols",
        "sirnn-quant,privquant",
        "--out",
        &out.to_string_lossy(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for want in [
        &format!("--models {m}"),
        "layer 'head'",
        "2^30",
        "privquant",
    ] {
        assert!(err.contains(want), "{want:?} not in {err}");
    }
    for internal in ["skipped", "--d2", "--dims", "`d2`", "executing"] {
        assert!(!err.contains(internal), "{internal:?} in {err}");
    }
    // nothing ran, nothing was written, the previous file is intact
    let files: Vec<_> = std::fs::read_dir(&out)
        .expect("out")
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(
        std::fs::read_to_string(&before).expect("read"),
        "previous results\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// README's "Bring your own model" example, and the model JSON `plan` writes for it, run
/// under every configuration the default command runs (sirnn replaces the model's widths
/// with its own 16-bit fixed point instead of failing on them).
#[test]
fn documented_models_run_under_every_default_configuration() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README");
    let at = readme
        .find("## Bring your own model (JSON)")
        .expect("BYO section");
    let rest = &readme[at..];
    let a = rest.find("```json\n").expect("example") + "```json\n".len();
    let b = a + rest[a..].find("```").expect("end of example");
    let dir = std::env::temp_dir().join(format!("pq-newcomer-byo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let model = dir.join("byo.json");
    std::fs::write(&model, &rest[a..b]).expect("write model");
    let planned = dir.join("byo-plan.json");
    let o = run(&[
        "plan",
        "--model",
        &model.to_string_lossy(),
        "--budget",
        "1GB",
        "--out",
        &planned.to_string_lossy(),
    ]);
    assert!(
        o.status.success(),
        "plan: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    for m in [&model, &planned] {
        let o = run(&[
            "e2e",
            "--models",
            &m.to_string_lossy(),
            "--out",
            &dir.join("out").to_string_lossy(),
            "--json",
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{}: {err}", m.display());
        let out = String::from_utf8_lossy(&o.stdout);
        let rows: Vec<serde_json::Value> = out
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        for cfg in ["sirnn", "sirnn-quant", "privquant", "privquant-he"] {
            let r = rows
                .iter()
                .find(|r| r["protocol"] == cfg)
                .unwrap_or_else(|| panic!("{}: no {cfg} row in {out}", m.display()));
            assert_eq!(r["correct"], true, "{cfg}: {r}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--emulate` on a slow link says how long the emulated link will take before it starts.
#[test]
fn emulate_says_how_long_the_link_will_take() {
    let dir = std::env::temp_dir().join(format!("pq-newcomer-emu-{}", std::process::id()));
    let mut child = common::bin()
        .args([
            "e2e",
            "--models",
            "minionn",
            "--protocols",
            "privquant",
            "--emulate",
            "--net",
            "1gbps,1000s",
            "--out",
            &dir.to_string_lossy(),
        ])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let err = child.stderr.take().expect("stderr");
    let mut said = String::new();
    for line in std::io::BufRead::lines(std::io::BufReader::new(err)) {
        let Ok(line) = line else { break };
        if line.starts_with("--emulate:") {
            said = line;
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    // hundreds of rounds at 1000 s each: hours, said before anything runs
    assert!(said.contains(" h "), "{said}");
}

/// Sizes that cannot fit are refused from their shapes before anything is allocated (exit 2,
/// the estimate, the budget, the flag to lower), never a SIGABRT halfway through.
#[test]
fn runs_too_large_for_the_memory_are_refused_before_they_start() {
    let conv = [
        "conv", "--hw", "4096", "--cin", "64", "--cout", "64", "--k", "3", "--wbits", "4",
        "--abits", "4",
    ];
    let llama = [
        "--models",
        "llama7b-attn",
        "--tokens",
        "100000",
        "--full",
        "--protocols",
        "privquant",
    ];
    let out = common::tmp("memory-refusal");
    let out = out.to_string_lossy().into_owned();
    let e2e: Vec<&str> = ["e2e"]
        .iter()
        .chain(&llama)
        .chain(&["--out", out.as_str()])
        .copied()
        .collect();
    for (args, flag) in [
        (vec!["micro", "cot", "--n", "1000000000000"], "lower --n"),
        (
            vec![
                "micro", "matmul", "--d1", "100000", "--d2", "100000", "--d3", "100000",
            ],
            "--d1, --d2 or --d3",
        ),
        (conv.to_vec(), "lower --hw"),
        (
            vec!["netsim", "vt-check", "--n", "1000000000000"],
            "lower --n",
        ),
        (e2e, "--tokens"),
        (
            vec!["verify", "--model", "llama7b-attn", "--tokens", "100000"],
            "--tokens",
        ),
    ] {
        refused(
            &args,
            &["needs about", "of memory", "available", flag, "--max-mem"],
        );
    }
    // an explicit budget is named as such
    refused(
        &["micro", "cot", "--n", "1000000000", "--max-mem", "4G"],
        &["needs about 32.0 GB", "--max-mem 4G", "raise --max-mem"],
    );
    refused(
        &["micro", "cot", "--max-mem", "lots"],
        &["--max-mem", "'lots' is not a size"],
    );
}

/// The probe-run estimate of a micro op bounds what the run then holds (its peak resident
/// set, both in the run's JSON), without overshooting by more than a few times.
#[test]
fn a_micro_estimate_bounds_the_measured_peak() {
    for args in [
        &["micro", "mill", "--n", "100000"][..],
        &["micro", "relu", "--n", "60000"],
        &["micro", "cot", "--n", "1000000"],
        &["micro", "bcot", "--n", "30000"],
        &["micro", "cot", "--n", "2000000", "--ot", "ferret"],
    ] {
        let mut real = args.to_vec();
        real.extend(["--json", "--l", "64"]);
        let o = run(&real);
        assert!(o.status.success(), "{real:?}: {}", common::err(&o));
        let j = common::last_json(&o);
        let peak = j["peak_rss_bytes"].as_f64().expect("peak");
        let est = j["memory_estimate_bytes"].as_f64().expect("estimate");
        assert!(
            est >= peak,
            "{args:?}: estimate {est} below the peak {peak}"
        );
        assert!(
            est <= 4.0 * peak,
            "{args:?}: estimate {est} over 4x the peak {peak}"
        );
    }
}

/// A network's memory estimate (the guard's, from the public shapes) bounds the heap an
/// executed run then reaches, under every configuration, without overshooting by more than a
/// few times (MiniONN's calls reach the 2^24-value cap, so this is the estimate's tight case).
#[test]
fn a_network_estimate_bounds_the_measured_heap() {
    let dir = std::env::temp_dir().join(format!("pq-newcomer-mem-{}", std::process::id()));
    let o = run(&[
        "e2e",
        "--models",
        "minionn",
        "--protocols",
        "sirnn,sirnn-quant,privquant,privquant-he",
        "--out",
        &dir.to_string_lossy(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", common::err(&o));
    // and a run where Ferret's session buffers are most of the memory
    let f = run(&[
        "e2e",
        "--models",
        "minionn",
        "--protocols",
        "privquant",
        "--ot",
        "ferret",
        "--out",
        &dir.to_string_lossy(),
        "--json",
    ]);
    assert!(f.status.success(), "{}", common::err(&f));
    let rows: Vec<serde_json::Value> = [&o, &f]
        .iter()
        .flat_map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect::<Vec<serde_json::Value>>()
        })
        .collect();
    assert_eq!(rows.len(), 5);
    for j in rows {
        let peak = j["peak_heap_bytes"].as_f64().expect("peak");
        let est = j["memory_estimate_bytes"].as_f64().expect("estimate");
        let p = &j["protocol"];
        assert!(
            peak > 0.0 && est >= peak,
            "{p}: estimate {est} below the peak {peak}"
        );
        assert!(
            est <= 4.0 * peak,
            "{p}: estimate {est} over 4x the peak {peak}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
