//! Private inference of a real model: `infer` (both parties in this process, beside the
//! plaintext reference), `accuracy` (a labelled test split in 2PC and in plaintext), and the
//! two-process `serve … infer` / `connect … infer`, where only the server reads the weights
//! and only the client reads the input.
//!
//! The model is a JSON architecture (public: both parties read it) and a safetensors file of
//! integer weights (the server's); see README "Bring your own trained model".
//!
//! Two-process session, after the channel's hello (which carries a version tag only):
//! 1. the client sends its public descriptor (JSON, at most [`crate::net_cmd::MAX_DESCRIPTOR`] bytes): model
//!    name and public hash (architecture, widths, shifts, biases' presence, input encoding,
//!    the lowered program; never weights), protocol, OT source, and the reveal it asks for;
//! 2. the server compares it field by field with its own and answers `{"ok": true}` or
//!    `{"ok": false, "error": "…"}` naming every field that differs (or a reveal beyond what
//!    it allows); both sides stop there on a refusal;
//! 3. both run the OT setup and the program (`pq_nn::secure::run_side`); the client learns
//!    the label (Π_Argmax) or the logits.

use crate::net_cmd::{Bounds, Net, Served, differences, is_stray, recv_json};
use crate::util::{print_json_line, usage};
use anyhow::Context;
use bench_harness::input::{self, Encoding};
use clap::Args;
use pq_netsim::channel::{Hello, Role};
use pq_netsim::{Channel, TcpChannel};
use pq_nn::config::{Config, Weights};
use pq_nn::lower::{self, LowerOptions, Program, Reveal};
use pq_nn::model::Model;
use pq_nn::reference;
use pq_nn::secure::{self, RunOptions};
use serde_json::json;
use std::borrow::Cow;
use std::net::TcpListener;
use std::path::Path;
use std::time::Instant;

/// The flags shared by every command that runs a trained model.
#[derive(Args, Debug, Clone)]
pub struct ModelFlags {
    /// The model's architecture (JSON, public).
    #[arg(long)]
    pub model: String,
    /// Protocol configuration: privquant, privquant-w4, privquant-he, sirnn-quant or sirnn.
    #[arg(long, default_value = "privquant")]
    pub protocol: String,
    /// Correlated-OT source: `iknp`, `softspoken:K` (K in 1..=8) or `ferret`. Default: the
    /// configuration's own (`privquant-he`: ferret; the others: iknp). `sirnn` and
    /// `sirnn-quant` always run IKNP. Both parties must name the same source.
    #[arg(long)]
    pub ot: Option<String>,
    /// The memory this process may use (e.g. 8G, 512MiB; `none`: no check). Default: what
    /// the machine has available. A model whose tensors, weights and messages alone need more
    /// is refused before it runs.
    #[arg(long)]
    pub max_mem: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct InferArgs {
    #[command(flatten)]
    pub m: ModelFlags,
    /// The server's integer weights (safetensors).
    #[arg(long)]
    pub weights: String,
    /// The client's input: .npy (encoded integers), .png or .pgm (converted by the model's
    /// declared shape and encoding).
    #[arg(long)]
    pub input: String,
    /// What the client learns: `label` (the predicted class only) or `logits`.
    #[arg(long, default_value = "label")]
    pub reveal: String,
    /// Run the plaintext reference alone (no 2PC).
    #[arg(long)]
    pub plaintext: bool,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct AccuracyArgs {
    #[command(flatten)]
    pub m: ModelFlags,
    /// The server's integer weights (safetensors).
    #[arg(long)]
    pub weights: String,
    /// The labelled test split: .npz with `x` (N×C×H×W integers) and `y` (labels).
    #[arg(long)]
    pub data: String,
    /// Run only the first N images.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Link for the simulated latency per image (virtual time).
    #[arg(long, default_value = "200mbps,13ms")]
    pub net: String,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

/// `serve … infer` and `connect … infer`.
#[derive(Args, Debug, Clone)]
pub struct RemoteInferArgs {
    #[command(flatten)]
    pub m: ModelFlags,
    /// Server: the integer weights (safetensors). The client never reads weights.
    #[arg(long)]
    pub weights: Option<String>,
    /// Client: the input (.npy, .png, .pgm). The server never reads an input.
    #[arg(long)]
    pub input: Option<String>,
    /// Server: the most it lets a client learn; client: what it asks for. `label` or `logits`.
    #[arg(long, default_value = "label")]
    pub reveal: String,
    /// Server: serve one connection, then exit (with that connection's status).
    #[arg(long)]
    pub once: bool,
    /// Client: print one JSON object as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

/// A model ready to run: the architecture and the configuration it runs under.
struct Setup {
    model: Model,
    cfg: Config,
    /// The configuration's features on the chosen COT source.
    feat: pq_nn::config::Features,
    /// The program that reveals the logits: the plaintext reference's, and the one the
    /// weights are checked against (the label program has the same linear layers).
    plain: Program,
    /// The public hash of the architecture under `cfg` (hex), for the descriptor.
    arch: String,
}

impl Setup {
    fn new(f: &ModelFlags) -> anyhow::Result<Setup> {
        let cfg: Config = f
            .protocol
            .parse()
            .or_else(|e| usage(format!("--protocol {}: {e}", f.protocol)))?;
        let feat = match &f.ot {
            Some(o) => {
                let k = crate::micro_cmd::parse_ot(o)?;
                if !cfg.features().lean_engine && k != pq_proto::OtKind::Iknp {
                    return usage(format!(
                        "--ot {o}: {} always runs IKNP, byte-exact with SCI",
                        cfg.name()
                    ));
                }
                cfg.features().with_ot(k)
            }
            None => cfg.features(),
        };
        let text = std::fs::read_to_string(&f.model)
            .with_context(|| format!("--model: cannot read {}", f.model))?;
        let model =
            pq_nn::json::parse(&text).or_else(|e| usage(format!("--model {}: {e}", f.model)))?;
        // lowered now, so a model this configuration cannot run is refused up front
        let plain = program(&model, cfg, feat, Reveal::Logits)?;
        let arch = hex(&pq_nn::public::public_hash_with(
            &model,
            cfg,
            &LowerOptions {
                features: Some(feat),
                ..LowerOptions::default()
            },
        ));
        Ok(Setup {
            model,
            cfg,
            feat,
            plain,
            arch,
        })
    }

    /// The program that reveals `reveal` (the logits program is already lowered).
    fn program(&self, reveal: Reveal) -> anyhow::Result<Cow<'_, Program>> {
        Ok(match reveal {
            Reveal::Logits => Cow::Borrowed(&self.plain),
            Reveal::Label => Cow::Owned(program(&self.model, self.cfg, self.feat, reveal)?),
        })
    }

    /// [`Setup::program`] for both parties in this process, refused before it runs if its
    /// memory floor exceeds the budget (`--max-mem`, else what the machine has).
    fn in_process_program(
        &self,
        reveal: Reveal,
        f: &ModelFlags,
    ) -> anyhow::Result<Cow<'_, Program>> {
        let p = self.program(reveal)?;
        crate::e2e_cmd::guard_programs(
            &[(f.model.as_str(), &p)],
            pq_nn::memory::Parties::Both,
            false,
            f.max_mem.as_deref(),
            "the model's sizes",
        )?;
        Ok(p)
    }

    /// The server's weights, checked against the program (shapes, widths, bias widths).
    fn weights(&self, path: &str) -> anyhow::Result<Weights> {
        let p = &self.plain;
        let bytes =
            std::fs::read(path).with_context(|| format!("--weights: cannot read {path}"))?;
        let w = pq_nn::weights::load(&p.model, &bytes)
            .or_else(|e| usage(format!("--weights {path}: {e}")))?;
        let zeros = vec![0i64; self.model.input.numel()];
        reference::check_inputs(p, &w, &zeros)
            .or_else(|e| usage(format!("--weights {path}: {e}")))?;
        Ok(w)
    }

    fn encoding(&self) -> Encoding {
        Encoding::of(&self.model)
    }

    /// The client's input, checked against the declared domain.
    fn input(&self, path: &str) -> anyhow::Result<Vec<i64>> {
        input::load_input(Path::new(path), &self.encoding())
            .map_err(|e| crate::util::UsageError(format!("--input: {e:#}")).into())
    }

    /// What both parties must agree on (public only).
    fn descriptor(&self, reveal: Reveal, ot: &str) -> serde_json::Value {
        json!({
            "model": self.model.name,
            "architecture": self.arch,
            "protocol": self.cfg.name(),
            "ot": ot,
            "reveal": reveal.name(),
        })
    }
}

/// `model` lowered under `cfg` to reveal `reveal`, or why it cannot run there.
fn program(
    model: &Model,
    cfg: Config,
    feat: pq_nn::config::Features,
    reveal: Reveal,
) -> anyhow::Result<Program> {
    let lo = LowerOptions {
        reveal,
        features: Some(feat),
        ..LowerOptions::default()
    };
    let p = lower::lower_with(model, cfg, &lo).or_else(|e| {
        usage(format!(
            "model '{}' cannot run under {}: {e}",
            model.name,
            cfg.name()
        ))
    })?;
    secure::check_supported(&p).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(p)
}

/// What the client learned: the label, and the logits when they were revealed (the label is
/// then their argmax).
fn answer(reveal: Reveal, out: Vec<i64>) -> (usize, Option<Vec<i64>>) {
    match reveal {
        Reveal::Label => (out.first().copied().unwrap_or(-1) as usize, None),
        Reveal::Logits => (argmax(&out), Some(out)),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn parse_reveal(s: &str) -> anyhow::Result<Reveal> {
    s.parse()
        .or_else(|e: String| usage(format!("--reveal {s}: {e}")))
}

/// The index of the largest logit, ties to the lowest index.
fn argmax(logits: &[i64]) -> usize {
    pq_proto::privquant::argmax::reference(logits, logits.len().max(1))
        .first()
        .copied()
        .unwrap_or(0)
}

/// The plaintext reference: (label, logits).
fn plaintext(p: &Program, w: &Weights, x: &[i64]) -> anyhow::Result<(usize, Vec<i64>)> {
    let r = reference::run_reference(p, w, x).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((argmax(&r.logits), r.logits))
}

pub fn infer(a: InferArgs) -> anyhow::Result<()> {
    let reveal = parse_reveal(&a.reveal)?;
    let s = Setup::new(&a.m)?;
    let w = s.weights(&a.weights)?;
    let x = s.input(&a.input)?;
    let (want_label, want_logits) = plaintext(&s.plain, &w, &x)?;
    if a.plaintext {
        println!("label: {want_label} (plaintext reference)");
        println!("logits: {want_logits:?}");
        if a.json {
            print_json_line(&json!({ "label": want_label, "logits": want_logits }));
        }
        return Ok(());
    }
    let p = s.in_process_program(reveal, &a.m)?;
    let t = Instant::now();
    let run = secure::run_secure(&p, &w, &x, &RunOptions::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let wall = t.elapsed().as_secs_f64();
    let (label, logits) = answer(reveal, run.logits.clone());
    let correct = label == want_label && logits.as_ref().is_none_or(|l| *l == want_logits);
    println!("label: {label} (plaintext reference: {want_label}, correct: {correct})");
    if let Some(l) = &logits {
        println!("logits: {l:?}");
    }
    println!(
        "{} under {}: {} B ({} server->client, {} client->server) + {} B OT setup, {} rounds, {wall:.3} s",
        s.model.name,
        s.cfg.name(),
        run.bytes_total(),
        run.bytes_server_to_client,
        run.bytes_client_to_server,
        run.setup_bytes,
        run.cost.rounds
    );
    if a.json {
        let mut o = json!({
            "model": s.model.name, "protocol": s.cfg.name(), "ot": s.feat.profile().ot.name(),
            "reveal": reveal.name(), "label": label,
            "reference_label": want_label, "reference_logits": want_logits,
            "correct": correct, "bytes_total": run.bytes_total(),
            "bytes_server_to_client": run.bytes_server_to_client,
            "bytes_client_to_server": run.bytes_client_to_server,
            "setup_bytes": run.setup_bytes, "rounds": run.cost.rounds, "wall_s": wall,
        });
        if let Some(l) = logits {
            o["logits"] = json!(l);
        }
        print_json_line(&o);
    }
    anyhow::ensure!(
        correct,
        "the 2PC result differs from the plaintext reference"
    );
    Ok(())
}

pub fn accuracy(a: AccuracyArgs) -> anyhow::Result<()> {
    let s = Setup::new(&a.m)?;
    let links = pq_netsim::parse_links(&a.net).or_else(|e| usage(format!("--net: {e}")))?;
    let p = s.in_process_program(Reveal::Label, &a.m)?;
    let w = s.weights(&a.weights)?;
    let data = input::load_dataset(Path::new(&a.data), &s.encoding())
        .map_err(|e| crate::util::UsageError(format!("--data: {e:#}")))?;
    let n = a.limit.map_or(data.n, |l| l.min(data.n));
    if n == 0 {
        return usage("--limit 0: nothing to run (accepted: at least 1)");
    }
    let per = s.model.input.numel();
    let opts = RunOptions {
        links: secure::simulate_links(&links),
        ..RunOptions::default()
    };
    let (mut ok_2pc, mut ok_plain, mut differ) = (0usize, 0usize, 0usize);
    let (mut bytes, mut wall, mut lat) = (0u64, 0.0f64, 0.0f64);
    let mut first_diff = None;
    let t0 = Instant::now();
    for i in 0..n {
        let x = &data.x[i * per..(i + 1) * per];
        let (want, _) = plaintext(&s.plain, &w, x)?;
        let t = Instant::now();
        let run =
            secure::run_secure(&p, &w, x, &opts).map_err(|e| anyhow::anyhow!("image {i}: {e}"))?;
        wall += t.elapsed().as_secs_f64();
        bytes += run.bytes_total();
        lat += run.simulated.first().map_or(0.0, |l| l.latency_s);
        let got = run.logits.first().copied().unwrap_or(-1);
        let y = data.y[i];
        ok_2pc += usize::from(got == y);
        ok_plain += usize::from(want as i64 == y);
        if got != want as i64 {
            differ += 1;
            first_diff.get_or_insert(i);
        }
        if (i + 1) % 50 == 0 || i + 1 == n {
            eprintln!(
                "[accuracy] {}/{n}: 2PC {ok_2pc} correct, plaintext {ok_plain}, differing {differ} ({:.0} s)",
                i + 1,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    let nf = n as f64;
    let link = links.first().map(|l| l.to_string()).unwrap_or_default();
    println!(
        "{} under {} on {n} images of {}: 2PC accuracy {:.2} %, plaintext accuracy {:.2} %, \
         differing predictions {differ}",
        s.model.name,
        s.cfg.name(),
        a.data,
        100.0 * ok_2pc as f64 / nf,
        100.0 * ok_plain as f64 / nf
    );
    println!(
        "per image: {:.0} B, {:.3} s wall here, {:.3} s simulated at {link}",
        bytes as f64 / nf,
        wall / nf,
        lat / nf
    );
    if a.json {
        print_json_line(&json!({
            "model": s.model.name, "protocol": s.cfg.name(), "ot": s.feat.profile().ot.name(), "images": n,
            "accuracy_2pc": ok_2pc as f64 / nf, "accuracy_plaintext": ok_plain as f64 / nf,
            "correct_2pc": ok_2pc, "correct_plaintext": ok_plain, "differing": differ,
            "bytes_per_image": bytes as f64 / nf, "wall_s_per_image": wall / nf,
            "latency_s_per_image": lat / nf, "link": link,
        }));
    }
    if let Some(i) = first_diff {
        anyhow::bail!(
            "{differ} prediction(s) differ between 2PC and the plaintext reference (first: image {i})"
        );
    }
    Ok(())
}

/// The hello's tag: the session kind and its version (the descriptor carries the rest).
fn hello(role: Role) -> Hello {
    Hello::new(role, *blake3::hash(b"pq-rs infer session v1").as_bytes())
}

/// One client connection, server side.
fn serve_one(
    mut ch: TcpChannel,
    s: &Setup,
    ot: &str,
    max_reveal: Reveal,
    label: &Program,
    w: &Weights,
) -> anyhow::Result<Served> {
    match ch.handshake(&hello(Role::Server)) {
        Err(e) if is_stray(&e) => return Ok(Served::Stray(e.to_string())),
        Err(e) => return Err(anyhow::Error::new(e).context("handshake")),
        Ok(_) => {}
    }
    let theirs = recv_json(&mut ch, "descriptor")?;
    let mine = s.descriptor(max_reveal, ot);
    let mut errs = differences(&mine, &theirs, &["reveal"]);
    let asked = theirs
        .get("reveal")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .parse::<Reveal>();
    let prog = match asked {
        Ok(r) if r == Reveal::Logits && max_reveal == Reveal::Label => {
            errs.push(
                "reveal: the client asks for the logits, the server allows the label only".into(),
            );
            None
        }
        Ok(Reveal::Label) => Some(label),
        Ok(Reveal::Logits) => Some(&s.plain),
        Err(e) => {
            errs.push(format!("reveal: {e}"));
            None
        }
    };
    let prog = prog.filter(|_| errs.is_empty());
    let reply = match prog {
        Some(_) => json!({ "ok": true }),
        None => json!({ "ok": false, "error": errs.join("; ") }),
    };
    ch.send_vec(serde_json::to_vec(&reply)?)?;
    ch.flush()?;
    let Some(prog) = prog else {
        anyhow::bail!("refused the client: {}", errs.join("; "));
    };
    let rep = secure::run_side(&mut ch, Role::Server, prog, Some(w), None, None)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Served::Ok(format!(
        "served one inference ({} revealed): sent {} B, received {} B, {:.3} s",
        theirs.get("reveal").and_then(|v| v.as_str()).unwrap_or("?"),
        rep.sent,
        rep.recv,
        rep.proto_s
    )))
}

pub fn serve(listen: &str, net: &Net, a: RemoteInferArgs) -> anyhow::Result<()> {
    if a.input.is_some() {
        return usage("serve infer: --input is the client's (the server never reads an input)");
    }
    if a.json {
        return usage("serve infer: --json is the client's");
    }
    let Some(wpath) = &a.weights else {
        return usage("serve infer: --weights is required (the server's integer weights)");
    };
    let max_reveal = parse_reveal(&a.reveal)?;
    let s = Setup::new(&a.m)?;
    let label = s.program(Reveal::Label)?;
    let w = s.weights(wpath)?;
    let bounds = Bounds::of_programs([&*label, &s.plain])?;
    let l = TcpListener::bind(listen).with_context(|| format!("--listen {listen}: cannot bind"))?;
    eprintln!(
        "server: {} under {} (reveal at most: {}), listening on {}",
        s.model.name,
        s.cfg.name(),
        max_reveal.name(),
        l.local_addr()?
    );
    let ot = s.feat.profile().ot.name();
    crate::net_cmd::serve_loop(l, net, &bounds, a.once, |ch| {
        serve_one(ch, &s, &ot, max_reveal, &label, &w)
    })
}

pub fn connect(addr: &str, net: &Net, a: RemoteInferArgs) -> anyhow::Result<()> {
    if a.weights.is_some() {
        return usage("connect infer: --weights is the server's (the client never reads weights)");
    }
    if a.once {
        return usage("connect infer: --once is the server's");
    }
    let Some(ipath) = &a.input else {
        return usage("connect infer: --input is required (.npy, .png or .pgm)");
    };
    let reveal = parse_reveal(&a.reveal)?;
    let s = Setup::new(&a.m)?;
    let p = s.program(reveal)?;
    let x = s.input(ipath)?;
    let t = Instant::now();
    let bounds = Bounds::of_programs([&*p])?;
    let mut ch = crate::net_cmd::connect(addr, net, &bounds)?;
    ch.handshake(&hello(Role::Client)).context("handshake")?;
    ch.send_vec(serde_json::to_vec(
        &s.descriptor(reveal, &s.feat.profile().ot.name()),
    )?)?;
    ch.flush()?;
    let reply = recv_json(&mut ch, "answer")?;
    if reply.get("ok") != Some(&json!(true)) {
        let why = reply
            .get("error")
            .and_then(|e| e.as_str())
            .unwrap_or("no reason given");
        anyhow::bail!("the server refused: {why}");
    }
    let rep = secure::run_side(&mut ch, Role::Client, &p, None, Some(&x), None)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let wall = t.elapsed().as_secs_f64();
    // the channel's overhead, both directions (frame headers, AEAD tags, handshake)
    let framing = {
        let c = ch.meter().total();
        c.framing_sent + c.framing_recv
    };
    let out = rep.res.logits.clone().unwrap_or_default();
    let (label, logits) = answer(reveal, out);
    let rounds = secure::program_cost(&p)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .rounds;
    println!("label: {label}");
    if let Some(l) = &logits {
        println!("logits: {l:?}");
    }
    eprintln!(
        "client: {} under {}: {} B ({} server->client, {} client->server) + {} B OT setup, {rounds} rounds, {wall:.3} s",
        s.model.name,
        s.cfg.name(),
        rep.sent + rep.recv,
        rep.recv,
        rep.sent,
        rep.setup
    );
    if a.json {
        let mut o = json!({
            "model": s.model.name, "protocol": s.cfg.name(), "ot": s.feat.profile().ot.name(),
            "reveal": reveal.name(), "label": label,
            "bytes_total": rep.sent + rep.recv, "bytes_server_to_client": rep.recv,
            "bytes_client_to_server": rep.sent, "setup_bytes": rep.setup,
            "rounds": rounds, "wall_s": wall, "framing_bytes": framing,
            "encrypted": ch.is_encrypted(),
        });
        if let Some(l) = logits {
            o["logits"] = json!(l);
        }
        print_json_line(&o);
    }
    Ok(())
}
