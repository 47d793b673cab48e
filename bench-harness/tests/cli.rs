//! The CLI contract: exit status 2 on bad input, `--json` last lines, and the two-process
//! `serve` / `connect` runs (with a handshake that refuses mismatched configurations).

mod common;

use common::{bin, free_addr, last_json, run};
use std::process::{Output, Stdio};
use std::time::Duration;

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
    // the committed headline files in the same directory are not a user's run's to replace
    std::fs::create_dir_all(&out).expect("out dir");
    for f in [
        "e2e-200mbps_13ms.md",
        "e2e-200mbps_13ms.json",
        "e2e-layers-tiny.svg",
    ] {
        std::fs::write(out.join(f), "committed\n").expect("write");
    }
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
        "--progress",
        "0",
        "--json",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let v = last_json(&o);
    assert_eq!(v["executed"], true);
    assert_eq!(v["correct"], true);
    assert_eq!(v["protocol"], "privquant-he");
    for f in [
        "e2e-200mbps_13ms.md",
        "e2e-200mbps_13ms.json",
        "e2e-layers-tiny.svg",
    ] {
        assert_eq!(
            std::fs::read_to_string(out.join(f)).expect("read"),
            "committed\n",
            "{f} replaced"
        );
    }
    // named after what ran, and every path said aloud
    for f in [
        "e2e-tiny-200mbps_13ms.jsonl",
        "e2e-tiny-200mbps_13ms.json",
        "e2e-tiny-200mbps_13ms.md",
        "e2e-tiny-1gbps_0_5ms.jsonl",
        "e2e-tiny-1gbps_0_5ms.md",
        "e2e-tiny-layers-tiny.svg",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
        assert!(
            err.contains(&out.join(f).to_string_lossy().to_string()),
            "{f} not named in {err}"
        );
    }
    // JSON Lines in .jsonl, one JSON document in .json: the same rows
    let jl = std::fs::read_to_string(out.join("e2e-tiny-200mbps_13ms.jsonl")).expect("jsonl");
    let lines: Vec<serde_json::Value> = jl
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("e2e-tiny-200mbps_13ms.json")).expect("json"),
    )
    .expect("one JSON document");
    assert_eq!(lines.len(), 4);
    assert_eq!(doc.as_array().map(|a| a.to_vec()), Some(lines));
    // progress lines although stderr is a pipe, one per finished layer group
    assert!(
        err.lines().any(|l| l.contains("tiny / sirnn: c1 done")
            && l.contains("elapsed")
            && l.contains("ETA")),
        "{err}"
    );
    // the model column names the model, not the file; the layer names are printed
    let md = std::fs::read_to_string(out.join("e2e-tiny-200mbps_13ms.md")).expect("md");
    assert!(
        md.contains("| tiny | sirnn |") && !md.contains("tiny.json |"),
        "{md}"
    );
    assert!(err.contains("c1, c2, fc"), "{err}");
    // whose target the protocol ratio is measured against
    assert!(md.contains("The paper reports 1.9–2.4×"), "{md}");
    // the per-layer plot: layer names on the axis, a colour-blind-safe palette
    let svg = std::fs::read_to_string(out.join("e2e-tiny-layers-tiny.svg")).expect("svg");
    assert!(
        svg.contains(">\nc2\n<") || svg.contains(">c2<"),
        "no layer name in the svg"
    );
    assert!(
        svg.contains("#0072B2") && !svg.contains("#FF0000"),
        "palette"
    );
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
    let stem = "e2e-resnet32-privquant+privquant-he-max-exec-0gb";
    let md = std::fs::read_to_string(dir.join(format!("{stem}-200mbps_13ms.md"))).expect("md");
    for want in [
        "| Cheetah GB | GB × Cheetah |",
        "| paper s | s × paper |",
        "Why the ratios to the paper are not 1",
        "| resnet32 | privquant |",
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
    // modeled bars are outlined and say so in the legend
    let svg =
        std::fs::read_to_string(dir.join(format!("{stem}-layers-resnet32.svg"))).expect("svg");
    assert!(
        svg.contains("privquant (modeled)") && svg.contains("not executed"),
        "legend"
    );
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

/// `plan` with `plan_args` writing to `plan`, then `e2e` on the planned model under
/// `protocol`: the plan's JSON, and the e2e row, whose bytes must equal the prediction.
fn plan_then_e2e(
    dir: &std::path::Path,
    plan: &std::path::Path,
    plan_args: &[&str],
    protocol: &str,
) -> (serde_json::Value, serde_json::Value) {
    let plan_s = plan.to_string_lossy();
    let mut args = vec!["plan"];
    args.extend_from_slice(plan_args);
    args.extend(["--out", &plan_s, "--json"]);
    let o = run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let p = last_json(&o);
    let predicted = p["predicted_bytes"].as_u64().expect("predicted_bytes");
    let out = dir.join(format!("out-{protocol}"));
    let o = run(&[
        "e2e",
        "--models",
        &plan_s,
        "--protocols",
        protocol,
        "--out",
        &out.to_string_lossy(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = last_json(&o);
    assert_eq!(v["correct"], true);
    assert_eq!(v["bytes_total"].as_u64(), Some(predicted));
    (p, v)
}

#[test]
fn planned_resnet32_runs_through_e2e_with_predicted_bytes() {
    let dir = std::env::temp_dir().join(format!("pq-cli-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let (p, v) = plan_then_e2e(
        &dir,
        &dir.join("plan-resnet32.json"),
        &["--model", "resnet32", "--budget", "0.45GB"],
        "privquant",
    );
    assert!(p["predicted_bytes"].as_u64().expect("predicted_bytes") <= 450_000_000);
    assert_eq!(v["executed"], true);
    // on Ferret (privquant-he's default source) the plan's prediction includes the LPN
    // rounds exactly as the run charges them
    let (p, _) = plan_then_e2e(
        &dir,
        &dir.join("plan-minionn-he.json"),
        &[
            "--model",
            "minionn",
            "--protocol",
            "privquant-he",
            "--budget",
            "0.012GB",
        ],
        "privquant-he",
    );
    assert_eq!(p["ot"], "ferret");
    // bad inputs
    for args in [
        vec![
            "plan", "--model", "resnet32", "--budget", "1GB", "--ot", "ferret:2",
        ],
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

/// A killed run keeps every row that finished: each is appended to the `.jsonl` (and the
/// `.json` and Markdown rewritten) as soon as it exists.
#[test]
fn killed_e2e_run_keeps_its_finished_rows() {
    let dir = std::env::temp_dir().join(format!("pq-cli-kill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let model = dir.join("tiny.json");
    std::fs::write(&model, TINY).expect("write model");
    let out = dir.join("out");
    // the tiny model's two rows take about a second; resnet32 under sirnn takes far longer
    let mut child = bin()
        .args([
            "e2e",
            "--models",
            &format!("{},resnet32", model.to_string_lossy()),
            "--protocols",
            "privquant,sirnn",
            "--out",
            &out.to_string_lossy(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stem = "e2e-tiny+resnet32-privquant+sirnn-200mbps_13ms";
    let jsonl = out.join(format!("{stem}.jsonl"));
    let t = std::time::Instant::now();
    let rows = loop {
        let n = std::fs::read_to_string(&jsonl)
            .map(|s| s.lines().count())
            .unwrap_or(0);
        if n >= 2 || t.elapsed() > Duration::from_secs(120) {
            break n;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("e2e ended early: {st}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().expect("kill");
    let _ = child.wait();
    assert_eq!(rows, 2, "the tiny model's rows never appeared");
    let text = std::fs::read_to_string(&jsonl).expect("jsonl");
    let protos: Vec<String> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
            assert_eq!(v["correct"], true);
            v["protocol"].as_str().unwrap_or("").to_string()
        })
        .collect();
    assert_eq!(protos, ["privquant", "sirnn"]);
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join(format!("{stem}.json"))).expect("json"),
    )
    .expect("the .json is whole");
    assert_eq!(doc.as_array().map(Vec::len), Some(2));
    let md = std::fs::read_to_string(out.join(format!("{stem}.md"))).expect("md");
    assert!(
        md.contains("| tiny | privquant |") && md.contains("| tiny | sirnn |"),
        "{md}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// README's quick start writes under `results/local/`, which git ignores, so it leaves the
/// committed `results/` alone; and that directory receives the run's files.
#[test]
fn quick_start_out_is_ignored_by_git() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README");
    let quick = readme
        .lines()
        .find(|l| l.starts_with("cargo run --release -p bench-harness"))
        .expect("quick start command");
    assert!(quick.contains("--out results/local"), "{quick}");
    let ignore = std::fs::read_to_string(format!("{root}/.gitignore")).expect(".gitignore");
    assert!(
        ignore.lines().any(|l| l.trim() == "/results/local/"),
        "{ignore}"
    );
    let dir = std::env::temp_dir().join(format!("pq-cli-default-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    std::fs::write(dir.join("tiny.json"), TINY).expect("write model");
    let o = bin()
        .current_dir(&dir)
        .args([
            "e2e",
            "--models",
            "tiny.json",
            "--protocols",
            "privquant",
            "--out",
            "results/local",
        ])
        .output()
        .expect("spawn");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        dir.join("results/local/e2e-tiny-privquant-200mbps_13ms.md")
            .exists()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// conv-table names options as the rest of the project does (no Rust debug names) and says
/// which one the planner chose.
#[test]
fn conv_table_names_its_options() {
    let dir = std::env::temp_dir().join(format!("pq-cli-ct-{}", std::process::id()));
    let o = run(&["conv-table", "--no-exec", "--out", &dir.to_string_lossy()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = std::fs::read_to_string(dir.join("conv-table.md")).expect("md");
    for bad in ["Duplex {", "ExtendX", "rows_x"] {
        assert!(!md.contains(bad), "{bad} in\n{md}");
    }
    assert!(
        md.contains("| chosen (bytes) |") && md.contains("rows by extend-x"),
        "{md}"
    );
    assert!(md.contains("this project's acceptance target"), "{md}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every committed `results/*.json` is one JSON document (`json.load` reads it); JSON Lines
/// live in `.jsonl` files, every line of which is one object.
#[test]
fn committed_results_json_files_are_json_documents() {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../results"));
    let mut seen = 0;
    for e in std::fs::read_dir(dir).expect("results/") {
        let p = e.expect("entry").path();
        let text = || std::fs::read_to_string(&p).expect("read");
        match p.extension().and_then(|x| x.to_str()) {
            Some("json") => {
                serde_json::from_str::<serde_json::Value>(&text())
                    .unwrap_or_else(|err| panic!("{}: {err}", p.display()));
                seen += 1;
            }
            Some("jsonl") => {
                for l in text().lines() {
                    serde_json::from_str::<serde_json::Value>(l)
                        .unwrap_or_else(|err| panic!("{}: {err}", p.display()));
                }
            }
            _ => {}
        }
    }
    assert!(seen > 0);
}
