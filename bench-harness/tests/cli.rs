//! The CLI contract: exit status 2 on bad input, `--json` last lines, and the two-process
//! `serve` / `connect` runs (with a handshake that refuses mismatched configurations).

use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bench-harness"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("spawn bench-harness")
}

fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let a = l.local_addr().expect("addr");
    drop(l);
    a.to_string()
}

fn last_json(o: &Output) -> serde_json::Value {
    let s = String::from_utf8_lossy(&o.stdout);
    let line = s.lines().last().unwrap_or("");
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("last stdout line is not JSON ({e}): {line}"))
}

#[test]
fn bad_input_exits_2_with_one_line() {
    for args in [
        vec!["micro", "mill", "--l", "0"],
        vec!["micro", "tr", "--bw", "16", "--s", "16"],
        vec!["micro", "nosuchop"],
        vec!["micro", "relu", "--l", "65"],
        vec!["micro", "relu", "--l", "8", "--profile", "foo"],
        vec!["micro", "cot", "--transport", "udp"],
        vec![
            "conv", "--hw", "8", "--cin", "4", "--cout", "4", "--k", "3", "--wbits", "0",
            "--abits", "4",
        ],
        vec!["e2e", "--net", "200mbps"],
        vec!["e2e", "--models", "vgg"],
        vec!["e2e", "--protocols", "sirnn2"],
        vec!["--net", "fast,slow"],
        vec!["netsim", "vt-check", "--net", "10xbps,1ms"],
        vec![
            "netsim",
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--to",
            "127.0.0.1:1",
            "--net",
            "1gbps,1ms",
            "--connect-timeout",
            "0",
        ],
        vec!["kernels", "--reps", "0"],
        vec!["micro", "--bogus-flag"],
        vec!["e2e", "--objective", "speed"],
        vec![
            "conv",
            "--hw",
            "8",
            "--cin",
            "4",
            "--cout",
            "4",
            "--k",
            "3",
            "--wbits",
            "2",
            "--abits",
            "4",
            "--profile",
            "privquant",
            "--objective",
            "latency",
        ],
        vec![
            "conv",
            "--hw",
            "8",
            "--cin",
            "4",
            "--cout",
            "4",
            "--k",
            "3",
            "--wbits",
            "2",
            "--abits",
            "4",
            "--profile",
            "privquant",
            "--objective",
            "latency",
            "--net",
            "1x",
        ],
    ] {
        let o = run(&args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !err.trim().is_empty() && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}

/// `conv --profile privquant --objective latency --net LINK`: the planner's latency choice
/// runs bit-exact with cost = measured bytes, and names its option.
#[test]
fn conv_latency_objective() {
    let o = run(&[
        "conv",
        "--hw",
        "7",
        "--cin",
        "64",
        "--cout",
        "64",
        "--k",
        "3",
        "--wbits",
        "2",
        "--abits",
        "4",
        "--profile",
        "privquant",
        "--objective",
        "latency",
        "--net",
        "200mbps,13ms",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = last_json(&o);
    assert_eq!(v["correct"], true);
    assert_eq!(v["cost_matches"], true);
    assert!(v["params"]["option"].is_string(), "{v}");
}

#[test]
fn micro_json_last_line() {
    let o = run(&["micro", "relu", "--l", "16", "--n", "1000", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = last_json(&o);
    assert_eq!(v["op"], "relu");
    assert_eq!(v["correct"], true);
    assert_eq!(v["cost_matches"], true);
    assert!(v["bytes_total"].as_u64().unwrap_or(0) > 0);
}

fn two_process(server: &[&str], client: &[&str]) -> (Output, Output) {
    let (s, mut c) = two_process_clients(server, &[client]);
    (s, c.remove(0))
}

/// One server, then each client in turn (the server refuses a mismatched client and waits
/// for the next; the last client is expected to end its session).
fn two_process_clients(server: &[&str], clients: &[&[&str]]) -> (Output, Vec<Output>) {
    let addr = free_addr();
    let mut s_args = vec!["serve", "--listen", addr.as_str()];
    s_args.extend_from_slice(server);
    let srv = bin()
        .args(&s_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server");
    std::thread::sleep(Duration::from_millis(200));
    let outs = clients
        .iter()
        .map(|client| {
            let mut c_args = vec!["connect", addr.as_str()];
            c_args.extend_from_slice(client);
            run(&c_args)
        })
        .collect();
    let s = srv.wait_with_output().expect("server output");
    (s, outs)
}

#[test]
fn two_process_micro_cot() {
    // COT with a 32-bit correlation, and random COT (no --l: never padded to SCI's batches)
    for args in [
        &["micro", "cot", "--l", "32", "--n", "5000", "--json"][..],
        &["micro", "cot", "--n", "1000", "--json"][..],
    ] {
        let (s, c) = two_process(args, args);
        assert!(
            s.status.success(),
            "server: {}",
            String::from_utf8_lossy(&s.stderr)
        );
        assert!(
            c.status.success(),
            "client: {}",
            String::from_utf8_lossy(&c.stderr)
        );
        let (vs, vc) = (last_json(&s), last_json(&c));
        assert_eq!(vs["correct"], true);
        assert_eq!(vs["cost_matches"], true, "{args:?}");
        assert_eq!(vs["bytes_total"], vc["bytes_total"]);
    }
}

const TINY: &str = r#"{ "name": "tiny", "input": [3, 8, 8], "layers": [
    { "name": "c1", "op": "conv", "cout": 8, "k": 3 },
    { "name": "r1", "op": "relu" },
    { "name": "p1", "op": "avgpool", "k": 2 },
    { "name": "c2", "op": "conv", "cout": 8, "k": 3 },
    { "name": "r2", "op": "relu" },
    { "name": "fc", "op": "fc", "dout": 10 } ] }"#;

#[test]
fn two_process_e2e_and_mismatch() {
    let dir = std::env::temp_dir().join(format!("pq-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let model = dir.join("tiny.json");
    std::fs::write(&model, TINY).expect("write model");
    let m = model.to_string_lossy().to_string();
    let args = [
        "e2e",
        "--models",
        m.as_str(),
        "--protocols",
        "privquant,sirnn-quant",
        "--json",
    ];
    let (s, c) = two_process(&args, &args);
    assert!(
        s.status.success(),
        "server: {}",
        String::from_utf8_lossy(&s.stderr)
    );
    assert!(
        c.status.success(),
        "client: {}",
        String::from_utf8_lossy(&c.stderr)
    );
    let vc = last_json(&c);
    assert_eq!(vc["correct"], true);
    assert_eq!(vc["cost_matches"], true);

    // A client that runs another configuration is refused after the hello, with every
    // differing field named; the server logs it and serves the next client.
    let other = [
        "e2e",
        "--models",
        m.as_str(),
        "--protocols",
        "privquant-w4,sirnn-quant",
        "--seed",
        "7",
    ];
    // privquant-he differs from privquant only by the HE option on the linear layers' menu,
    // and the handshake tells them apart
    let he = [
        "e2e",
        "--models",
        m.as_str(),
        "--protocols",
        "privquant-he,sirnn-quant",
    ];
    let (s, c) = two_process_clients(&args, &[&other, &he, &args]);
    let serr = String::from_utf8_lossy(&s.stderr);
    assert!(s.status.success(), "server: {serr}");
    for (o, want) in [
        (
            &c[0],
            &["--seed: server 1, client 7", "tiny / privquant"][..],
        ),
        (&c[1], &["tiny / privquant"][..]),
    ] {
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains("different configurations"), "{err}");
        for w in want {
            assert!(err.contains(w), "{w:?} not in {err}");
            assert!(serr.contains(w), "server log: {w:?} not in {serr}");
        }
    }
    assert!(
        c[2].status.success(),
        "{}",
        String::from_utf8_lossy(&c[2].stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn e2e_in_process_writes_results() {
    let dir = std::env::temp_dir().join(format!("pq-cli-e2e-{}", std::process::id()));
    let model = dir.join("tiny.json");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    std::fs::write(&model, TINY).expect("write model");
    let out = dir.join("out");
    let o = run(&[
        "e2e",
        "--models",
        &model.to_string_lossy(),
        "--protocols",
        "sirnn,sirnn-quant,privquant,privquant-he",
        "--net",
        "200mbps,13ms;1gbps,0.5ms",
        "--out",
        &out.to_string_lossy(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = last_json(&o);
    assert_eq!(v["executed"], true);
    assert_eq!(v["correct"], true);
    assert_eq!(v["protocol"], "privquant-he");
    for f in [
        "e2e-200mbps_13ms.json",
        "e2e-200mbps_13ms.md",
        "e2e-1gbps_0_5ms.md",
        "e2e-layers-tiny.svg",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    // every privquant-he layer with an exact accumulator names its option, in the JSON and
    // in the Markdown
    let layers = v["layers"].as_array().expect("layers");
    assert!(
        layers
            .iter()
            .filter(|l| l["op"] == "conv" || l["op"] == "fc")
            .all(|l| l["option"].is_string()),
        "{v}"
    );
    let md = std::fs::read_to_string(out.join("e2e-200mbps_13ms.md")).expect("md");
    let opts = md
        .split("Linear-layer options")
        .nth(1)
        .unwrap_or_else(|| panic!("no options section in\n{md}"));
    assert!(
        opts.lines()
            .any(|l| l.contains("| privquant-he |") && l.contains(" ×")),
        "{md}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `e2e` on the Cheetah-measured networks, modeled only (`--max-exec-gb 0`): Cheetah's
/// figures beside the paper's, with the ratio, and the per-layer options under
/// `--breakdown`.
#[test]
fn e2e_markdown_has_cheetah_and_layer_options() {
    let dir = std::env::temp_dir().join(format!("pq-cli-cheetah-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let o = run(&[
        "e2e",
        "--models",
        "resnet32",
        "--protocols",
        "privquant,privquant-he",
        "--max-exec-gb",
        "0",
        "--breakdown",
        "--out",
        &dir.to_string_lossy(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = last_json(&o);
    assert_eq!(v["executed"], false);
    assert_eq!(v["protocol"], "privquant-he");
    let md = std::fs::read_to_string(dir.join("e2e-200mbps_13ms.md")).expect("md");
    for want in [
        "| Cheetah GB | GB vs Cheetah |",
        "Huang et al., USENIX Security 2022",
        "| resnet32 | 0.118 | – | – | 0.111 | 591 | 9.6 |",
        "### resnet32 / privquant-he: per layer",
        "| option |",
    ] {
        assert!(md.contains(want), "missing `{want}` in\n{md}");
    }
    // the ratio column: this row's GB over Cheetah's
    let gb = v["bytes_total"].as_u64().expect("bytes") as f64 / 1e9;
    assert!(md.contains(&format!("| {:.2}× |", gb / 0.118)), "{md}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `conv --profile privquant-he`: the planner with the HE option on its menu runs its choice
/// bit-exact, cost = measured bytes, and names it.
#[test]
fn conv_privquant_he_profile() {
    let o = run(&[
        "conv",
        "--hw",
        "7",
        "--cin",
        "16",
        "--cout",
        "16",
        "--k",
        "3",
        "--wbits",
        "2",
        "--abits",
        "4",
        "--profile",
        "privquant-he",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = last_json(&o);
    assert_eq!(v["correct"], true);
    assert_eq!(v["cost_matches"], true);
    assert_eq!(v["params"]["he_menu"], true);
    assert!(v["params"]["option"].is_string(), "{v}");
}

#[test]
fn planned_resnet32_runs_through_e2e_with_predicted_bytes() {
    let dir = std::env::temp_dir().join(format!("pq-cli-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let plan = dir.join("plan-resnet32.json");
    let o = run(&[
        "plan",
        "--model",
        "resnet32",
        "--budget",
        "0.45GB",
        "--out",
        &plan.to_string_lossy(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let p = last_json(&o);
    let predicted = p["predicted_bytes"].as_u64().expect("predicted_bytes");
    assert!(predicted <= 450_000_000);
    let o = run(&[
        "e2e",
        "--models",
        &plan.to_string_lossy(),
        "--protocols",
        "privquant",
        "--out",
        &dir.join("out").to_string_lossy(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = last_json(&o);
    assert_eq!(v["executed"], true);
    assert_eq!(v["correct"], true);
    assert_eq!(v["bytes_total"].as_u64(), Some(predicted));
    // bad inputs
    for args in [
        vec!["plan", "--model", "resnet32", "--budget", "450"],
        vec!["plan", "--model", "resnet32", "--budget", "0.01GB"],
        vec!["plan", "--model", "resnet32"],
        vec![
            "plan",
            "--model",
            "resnet32",
            "--budget",
            "1GB",
            "--weights",
            "/nonexistent.safetensors",
        ],
    ] {
        let o = run(&args);
        assert_ne!(o.status.code(), Some(0), "{args:?}");
        assert!(
            !String::from_utf8_lossy(&o.stderr).contains("panicked"),
            "{args:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
