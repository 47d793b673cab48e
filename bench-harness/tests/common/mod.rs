//! Helpers shared by the tests that run the real `bench-harness` binary over loopback
//! (`transport.rs`, `infer.rs`, `faults.rs`): the binary, free ports, temporary directories,
//! keys, a small trained model with weights and inputs, and a server process whose stderr is
//! collected line by line while it runs; and the byte-level .npy and zip writers that
//! `input.rs` and `fuzz_corpus.rs` build their fixtures with.
//!
//! Each test crate uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use pq_nn::config::{self, Config, Weights};
use pq_nn::{json, lower};
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bench-harness"))
}

/// The binary with `args`, run to completion.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("spawn bench-harness")
}

/// A loopback address with a port that was free a moment ago.
pub fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let a = l.local_addr().expect("addr");
    drop(l);
    a.to_string()
}

pub fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// The last stdout line, parsed as JSON.
pub fn last_json(o: &Output) -> serde_json::Value {
    let s = String::from_utf8_lossy(&o.stdout);
    let line = s.lines().last().unwrap_or("");
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("last stdout line is not JSON ({e}): {line}"))
}

/// A fresh, empty temporary directory for this test process.
pub fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pq-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp");
    d
}

/// `keygen --out dir`; returns the public key line.
pub fn keygen(dir: &Path) -> String {
    let o = bin()
        .args(["keygen", "--out"])
        .arg(dir)
        .output()
        .expect("keygen");
    assert!(o.status.success(), "{}", err(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

pub fn s(p: &Path) -> String {
    p.to_string_lossy().to_string()
}

/// A running process whose stderr is collected by a thread, line by line.
pub struct Server {
    pub child: Child,
    pub log: Arc<Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

impl Server {
    /// Spawn `bench-harness args` (in `dir` if given) and wait until its stderr contains
    /// `ready` (no probe connection, which a server would count as a stray one).
    pub fn spawn_until(args: &[&str], dir: Option<&Path>, ready: &str) -> Server {
        use std::io::BufRead;
        let mut cmd = bin();
        if let Some(d) = dir {
            cmd.current_dir(d);
        }
        let mut child = cmd
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn server");
        let e = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let l2 = log.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(e).lines() {
                let Ok(line) = line else { break };
                let mut g = l2.lock().unwrap_or_else(|p| p.into_inner());
                g.push_str(&line);
                g.push('\n');
            }
        });
        let srv = Server { child, log, reader };
        Self::wait_ready(srv, ready, Instant::now(), args)
    }

    fn wait_ready(mut srv: Server, ready: &str, t: Instant, args: &[&str]) -> Server {
        while !srv.log().contains(ready) {
            if let Ok(Some(st)) = srv.child.try_wait() {
                panic!("{args:?} exited ({st}): {}", srv.log());
            }
            if t.elapsed() > Duration::from_secs(60) {
                let _ = srv.child.kill();
                panic!("not ready after 60 s: {args:?}: {}", srv.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        srv
    }

    /// Everything it printed to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Bytes of stderr so far (an offset for [`Server::wait_for`]).
    pub fn log_len(&self) -> usize {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Wait until the stderr printed after byte `since` contains `pat`; the time it took, or
    /// `None` after `limit`.
    pub fn wait_for(&self, since: usize, pat: &str, limit: Duration) -> Option<Duration> {
        let t = Instant::now();
        loop {
            if self.log().get(since..).is_some_and(|l| l.contains(pat)) {
                return Some(t.elapsed());
            }
            if t.elapsed() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The stderr printed after byte `since`.
    pub fn log_since(&self, since: usize) -> String {
        self.log().get(since..).unwrap_or("").to_string()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its exit status and stderr; killed if still running after `limit`.
    pub fn finish(mut self, limit: Duration) -> (ExitStatus, String) {
        let t = Instant::now();
        while t.elapsed() < limit {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let st = self.child.wait().expect("wait");
        let log = self.log.clone();
        let _ = self.reader.join();
        let log = log.lock().unwrap_or_else(|p| p.into_inner()).clone();
        (st, log)
    }
}

/// A `serve …` process, waited for until it prints its deadlines (it then listens).
pub fn server(args: &[&str]) -> Server {
    Server::spawn_until(args, None, "handshake timeout")
}

/// The output of a process started with piped output; killed if still running after
/// `limit` (the test then fails on its status instead of hanging).
pub fn wait_or_kill(mut p: Child, limit: Duration) -> Output {
    let t = Instant::now();
    while t.elapsed() < limit {
        if let Ok(Some(_)) = p.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = p.kill();
    p.wait_with_output().expect("output")
}

/// 8-bit unsigned pixels, biases and stated shifts, a max-pool; 10 classes.
pub const MODEL: &str = r#"{ "name": "mini", "input": {"shape": [1, 6, 6], "bits": 8, "signed": false},
  "layers": [
    {"name": "c1", "op": "conv", "cout": 4, "k": 3, "wbits": 8, "abits": 4, "bias": true, "shift": 10},
    {"name": "r1", "op": "relu"},
    {"name": "p1", "op": "maxpool", "k": 2},
    {"name": "c2", "op": "conv", "cout": 6, "k": 3, "wbits": 2, "abits": 4, "bias": true, "shift": 3},
    {"name": "r2", "op": "relu"},
    {"name": "fc", "op": "fc", "dout": 10, "wbits": 8, "bias": true} ] }"#;

/// A model directory: the architecture, its weights (random, seed 11, privquant).
pub struct Fixture {
    pub dir: PathBuf,
    pub model: String,
    pub weights: String,
}

/// A fresh directory with `model_json` as `model.json` and random weights for it.
pub fn fixture_with(tag: &str, model_json: &str) -> Fixture {
    let dir = std::env::temp_dir().join(format!("pq-infer-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let model = dir.join("model.json");
    std::fs::write(&model, model_json).expect("write model");
    let m = json::parse(model_json).expect("model");
    let p = lower::lower(&m, Config::PrivQuant).expect("lower");
    let w = Weights::random(&p.model, 11);
    let bytes = pq_nn::weights::write(&p.model, &w).expect("weights");
    let weights = dir.join("weights.safetensors");
    std::fs::write(&weights, bytes).expect("write weights");
    Fixture {
        model: model.to_string_lossy().into(),
        weights: weights.to_string_lossy().into(),
        dir,
    }
}

/// [`fixture_with`] the [`MODEL`].
pub fn fixture(tag: &str) -> Fixture {
    fixture_with(tag, MODEL)
}

/// An .npy file of u8 values with shape `shape`.
pub fn write_npy_u8(path: &Path, shape: &[usize], v: &[u8]) {
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    std::fs::write(path, npy_with(1, "|u1", false, &shape, v)).expect("write npy");
}

/// A random unsigned 8-bit image of `n` pixels with 255 (the top of the range) and 0 in it.
pub fn image_n(n: usize, seed: u64) -> Vec<u8> {
    let enc = pq_nn::InputEncoding {
        bits: 8,
        signed: false,
    };
    let mut v: Vec<u8> = config::random_input(n, enc, seed)
        .into_iter()
        .map(|x| x as u8)
        .collect();
    v[0] = 255;
    v[1] = 0;
    v[n - 1] = 255;
    v
}

/// A 6×6 image for [`MODEL`].
pub fn image(seed: u64) -> Vec<u8> {
    image_n(36, seed)
}

// ---------------------------------------------------------------------------------------------
// File fixtures written byte by byte (NumPy .npy headers, zip archives).

/// A Python tuple for an .npy header: `(n,)` for one dimension.
pub fn py_shape(shape: &[u64]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// An .npy file around `data` with a header written from its parts, padded as NumPy pads it.
pub fn npy_raw(version: u8, header_dict: &str, data: &[u8]) -> Vec<u8> {
    let pre = if version == 1 { 10 } else { 12 };
    let mut header = header_dict.to_string();
    while !(pre + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.extend([version, 0]);
    if version == 1 {
        out.extend((header.len() as u16).to_le_bytes());
    } else {
        out.extend((header.len() as u32).to_le_bytes());
    }
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

/// An .npy file of `data` with dtype `descr` and `shape`, in C or Fortran order.
pub fn npy_with(version: u8, descr: &str, fortran: bool, shape: &[u64], data: &[u8]) -> Vec<u8> {
    let fortran = if fortran { "True" } else { "False" };
    let dict = format!(
        "{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {}, }}",
        py_shape(shape)
    );
    npy_raw(version, &dict, data)
}

/// A zip of `members` (name, bytes), each stored or deflated.
pub fn zip_bytes(members: &[(&str, Vec<u8>)], deflate: bool) -> Vec<u8> {
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let opts = zip::write::SimpleFileOptions::default().compression_method(method);
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in members {
        z.start_file(*name, opts).expect("zip member");
        z.write_all(bytes).expect("zip data");
    }
    z.finish().expect("zip finish").into_inner()
}
