//! The hardened transport through the real binary: `keygen`, key checks on both sides
//! (refusals name the fingerprints), a server that survives stray connections (random bytes,
//! an HTTP request, a client that sends nothing) and answers a second client with a busy
//! notice, flags refused before listening, `--max-exec-gb` honoured over two processes, and
//! `--transport tcp-secure` in process with the same payload bytes as `tcp`.

mod common;

use common::{bin, err, free_addr, keygen, last_json, s, server, tmp};
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

const COT: [&str; 6] = ["micro", "cot", "--n", "5000", "--l", "32"];

#[test]
fn keys_refuse_the_wrong_peer_and_admit_the_listed_one() {
    let d = tmp("keys");
    let (sk, ck, xk) = (d.join("s"), d.join("c"), d.join("x"));
    let line = keygen(&sk);
    assert!(line.starts_with("pq25519:"), "{line}");
    keygen(&ck);
    keygen(&xk);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(sk.join("key"))
            .expect("key")
            .permissions();
        assert_eq!(m.mode() & 0o777, 0o600);
    }
    // keygen refuses to overwrite
    let o = bin()
        .args(["keygen", "--out", &s(&sk)])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    let peers = d.join("peers");
    let cpub = std::fs::read_to_string(ck.join("key.pub")).expect("pub");
    std::fs::write(&peers, format!("# clients\n\n{cpub}")).expect("peers");
    let addr = free_addr();
    let (skey, speers) = (s(&sk.join("key")), s(&peers));
    let mut sargs = vec![
        "serve", "--listen", &addr, "--key", &skey, "--peers", &speers,
    ];
    sargs.extend_from_slice(&COT);
    let srv = server(&sargs);
    let connect = |key: &Path, server_pub: &Path| {
        let mut a = vec![
            "connect".to_string(),
            addr.clone(),
            "--key".into(),
            s(&key.join("key")),
            "--server-key".into(),
            s(&server_pub.join("key.pub")),
        ];
        a.extend(COT.iter().map(|x| x.to_string()));
        a.push("--json".into());
        bin().args(&a).output().expect("client")
    };
    // an unlisted client is told its key is not listed
    let o = connect(&xk, &sk);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(
        err(&o).contains("is not in the server's --peers list") && err(&o).contains("fp:"),
        "{}",
        err(&o)
    );
    // a client that expects another server refuses this one, naming both fingerprints
    let o = connect(&ck, &xk);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    let e = err(&o);
    assert!(
        e.contains("--server-key") && e.matches("fp:").count() >= 2,
        "{e}"
    );
    // the listed client with the right server key is served
    let o = connect(&ck, &sk);
    assert!(o.status.success(), "{}", err(&o));
    let v = last_json(&o);
    assert_eq!(v["correct"], true);
    assert_eq!(v["encrypted"], true);
    // payload as on the plain channel; the overhead is framing
    assert_eq!(v["bytes_total"], 101_920);
    assert!(v["framing_bytes"].as_u64().unwrap_or(0) > 0);
    let (st, log) = srv.finish(Duration::from_secs(30));
    assert!(st.success(), "{log}");
    assert!(
        log.contains("is not in the server's --peers list")
            && log.contains("it may have refused this server's key"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn server_survives_stray_connections_and_refuses_a_second_client() {
    let addr = free_addr();
    let mut sargs = vec!["serve", "--listen", &addr, "--handshake-timeout", "1.5"];
    sargs.extend_from_slice(&COT);
    let srv = server(&sargs);
    // random bytes, an HTTP request, a huge length prefix
    for junk in [
        &[0x9cu8, 0x11, 0xfe, 0x00, 0x42, 0x17, 0x99, 0x01, 0x02][..],
        &b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
        &u64::MAX.to_le_bytes()[..],
    ] {
        let mut c = TcpStream::connect(&addr).expect("connect");
        let _ = c.write_all(junk);
        std::thread::sleep(Duration::from_millis(150));
    }
    // a client that sends nothing holds the server until the handshake deadline; a real
    // client arriving meanwhile is told the server is busy
    std::thread::sleep(Duration::from_millis(300));
    let silent = TcpStream::connect(&addr).expect("connect");
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    let mut cargs = vec!["connect", &addr];
    cargs.extend_from_slice(&COT);
    let o = bin().args(&cargs).output().expect("client");
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(err(&o).contains("busy"), "{}", err(&o));
    assert!(t.elapsed() < Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(1800));
    drop(silent);
    // and then a real client is served
    let o = bin().args(&cargs).output().expect("client");
    assert!(o.status.success(), "{}", err(&o));
    let (st, log) = srv.finish(Duration::from_secs(30));
    assert!(st.success(), "{log}");
    assert!(log.contains("WARNING no --key"), "{log}");
    assert!(log.contains("refused, busy"), "{log}");
    assert!(log.contains("deadline passed: handshake"), "{log}");
    assert!(log.matches("dropped a connection").count() >= 3, "{log}");
}

#[test]
fn flags_are_refused_before_listening() {
    let addr = free_addr();
    let cases: &[&[&str]] = &[
        &["micro", "cot", "--n", "100", "--transport", "udp"],
        &["micro", "cot", "--n", "100", "--transport", "tcp"],
        &["e2e", "--models", "minionn", "--threads", "4"],
        &["e2e", "--models", "minionn", "--max-exec-gb", "NaN"],
        &["e2e", "--models", "minionn", "--emulate"],
        &["e2e", "--models", "minionn", "--out", "elsewhere"],
        &["e2e", "--models", "minionn", "--net", "fast"],
        &["e2e", "--models", "minionn", "--objective", "speed"],
        &["e2e", "--models", "nosuchmodel"],
    ];
    for c in cases {
        let t = Instant::now();
        let o = bin()
            .args(["serve", "--listen", &addr])
            .args(*c)
            .output()
            .expect("run");
        assert_eq!(o.status.code(), Some(2), "{c:?}: {}", err(&o));
        assert!(!err(&o).contains("listening"), "{c:?}: {}", err(&o));
        assert!(t.elapsed() < Duration::from_secs(20), "{c:?}");
    }
    // key flags
    for c in [
        &["--peers", "x"][..],
        &["--any-client", "--insecure"][..],
        &["--key", "/nonexistent/key", "--any-client"][..],
        &["--handshake-timeout", "0"][..],
        &["--frame-timeout", "0"][..],
        &["--idle-timeout", "NaN"][..],
    ] {
        let o = bin()
            .args(["serve", "--listen", &addr])
            .args(c)
            .args(["micro", "cot"])
            .output()
            .expect("run");
        assert_eq!(o.status.code(), Some(2), "{c:?}: {}", err(&o));
    }
    let o = bin()
        .args(["connect", &addr, "--key", "/nonexistent", "micro", "cot"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
}

const TINY: &str = r#"{ "name": "tiny", "input": [3, 8, 8], "layers": [
    { "name": "c1", "op": "conv", "cout": 8, "k": 3 },
    { "name": "r1", "op": "relu" },
    { "name": "fc", "op": "fc", "dout": 10 } ] }"#;

#[test]
fn remote_e2e_models_runs_above_max_exec_gb_and_insecure_mode_says_so() {
    let d = tmp("e2e");
    let m = d.join("tiny.json");
    std::fs::write(&m, TINY).expect("model");
    let ms = s(&m);
    let addr = free_addr();
    let args = [
        "e2e",
        "--models",
        &ms,
        "--protocols",
        "privquant",
        "--max-exec-gb",
        "0",
        "--json",
    ];
    let srv = server(&[&["serve", "--listen", &addr, "--insecure"][..], &args[..]].concat());
    let o = bin()
        .args(["connect", &addr, "--insecure"])
        .args(args)
        .output()
        .expect("client");
    assert!(o.status.success(), "{}", err(&o));
    assert!(err(&o).contains("WARNING --insecure"), "{}", err(&o));
    assert!(err(&o).contains("modeled, not executed"), "{}", err(&o));
    assert_eq!(last_json(&o)["executed"], false);
    let (st, log) = srv.finish(Duration::from_secs(30));
    assert!(st.success(), "{log}");
    // an encrypted client against a plain server: the mismatch is named
    let srv = server(
        &[
            &[
                "serve",
                "--listen",
                &addr,
                "--insecure",
                "--handshake-timeout",
                "2",
            ][..],
            &args[..],
        ]
        .concat(),
    );
    let o = bin()
        .args(["connect", &addr])
        .args(args)
        .output()
        .expect("client");
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("--insecure"), "{}", err(&o));
    let (_, log) = srv.finish(Duration::from_secs(3));
    assert!(log.contains("--insecure"), "{log}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn tcp_secure_in_process_has_the_same_payload_as_tcp() {
    let run = |t: &str| {
        let o = bin()
            .args(["micro", "cot", "--n", "50000", "--transport", t, "--json"])
            .output()
            .expect("run");
        assert!(o.status.success(), "{t}: {}", err(&o));
        last_json(&o)
    };
    let (a, b) = (run("tcp"), run("tcp-secure"));
    assert_eq!(b["correct"], true);
    assert_eq!(b["cost_matches"], true);
    assert_eq!(a["bytes_total"], b["bytes_total"]);
    let o = bin()
        .args(["micro", "cot", "--transport", "udp"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("tcp-secure"), "{}", err(&o));
}
