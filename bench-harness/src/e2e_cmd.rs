//! `bench-harness e2e` (and the bare `bench-harness`): networks end to end, and
//! `bench-harness verify`: one model in 2PC against the plaintext reference, every tensor.

use crate::util::{machine_name, print_json_line, usage};
use anyhow::Context;
use bench_harness::runners::e2e::{E2eOptions, E2eRow, e2e_rows_for};
use clap::Args;
use pq_netsim::{LinkSpec, Transport, parse_links};
use pq_nn::config::{self, Config, Weights};
use pq_nn::lower::LowerOptions;
use pq_nn::secure::{RunOptions, program_cost, run_secure};
use pq_nn::{Model, builtin, json, lower, reference};
use serde_json::json;
use std::fmt::Write as _;

/// The configurations `e2e` runs by default.
pub const DEFAULT_PROTOCOLS: &str = "sirnn,sirnn-quant,privquant,privquant-he";

#[derive(Args, Debug, Clone)]
pub struct E2eArgs {
    /// Links as BANDWIDTH,RTT, several separated by `;`.
    #[arg(long, default_value = "200mbps,13ms")]
    pub net: String,
    /// Comma-separated: minionn, resnet32, resnet50, resnet50-32px, llama7b-attn, or .json files.
    #[arg(long, default_value = "minionn,resnet32,resnet50")]
    pub models: String,
    /// Comma-separated: sirnn, sirnn-quant, privquant, privquant-w4, privquant-he.
    #[arg(long, default_value = DEFAULT_PROTOCOLS)]
    pub protocols: String,
    /// Emulate each link in real time instead of simulating it in virtual time.
    #[arg(long)]
    pub emulate: bool,
    /// Execute every (model, protocol), however large (otherwise runs above
    /// --max-exec-gb come from the validated cost model, `executed: false`).
    #[arg(long)]
    pub full: bool,
    /// Largest modeled traffic (GB) executed without --full.
    #[arg(long, default_value_t = 25.0)]
    pub max_exec_gb: f64,
    /// Add the per-protocol-type breakdown.
    #[arg(long)]
    pub breakdown: bool,
    /// Compute threads per party (this version runs one).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    #[arg(long, default_value = "mem")]
    pub transport: String,
    /// What privquant's linear-layer planner minimises: `bytes`, or `latency` on the first
    /// link of --net.
    #[arg(long, default_value = "bytes")]
    pub objective: String,
    /// The correlated-OT source of the lean-engine configurations: `iknp`, `softspoken:K` or
    /// `ferret`. Default: each configuration's own (`privquant-he`: ferret; `privquant`,
    /// `privquant-w4`: iknp, the paper's setting). `sirnn` and `sirnn-quant` always run IKNP.
    #[arg(long)]
    pub ot: Option<String>,
    /// Tokens of llama7b-attn.
    #[arg(long, default_value_t = 1)]
    pub tokens: usize,
    /// Seed of the weights and the input.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value = "results")]
    pub out: String,
    #[arg(long)]
    pub json: bool,
}

impl Default for E2eArgs {
    fn default() -> Self {
        E2eArgs {
            net: "200mbps,13ms".into(),
            models: "minionn,resnet32,resnet50".into(),
            protocols: DEFAULT_PROTOCOLS.into(),
            emulate: false,
            full: false,
            max_exec_gb: 25.0,
            breakdown: false,
            threads: 1,
            transport: "mem".into(),
            objective: "bytes".into(),
            ot: None,
            tokens: 1,
            seed: 1,
            out: "results".into(),
            json: false,
        }
    }
}

/// A model by name or JSON path, given by the user's flag `flag` (`--models`, `--model`):
/// every error names the flag and the value.
pub fn load_model(flag: &str, name: &str, tokens: usize) -> anyhow::Result<Model> {
    if name.ends_with(".json") {
        let text = match std::fs::read_to_string(name) {
            Ok(t) => t,
            Err(e) => return usage(format!("{flag} {name}: cannot read the file: {e}")),
        };
        return json::parse(&text).or_else(|e| usage(format!("{flag} {name}: {e}")));
    }
    builtin::by_name(name, tokens).or_else(|e| usage(format!("{flag} {name}: {e}")))
}

/// The lowering options an e2e invocation names (the planner objective).
pub fn lower_options(a: &E2eArgs) -> anyhow::Result<LowerOptions> {
    let links: Vec<LinkSpec> = parse_links(&a.net).or_else(|e| usage(format!("--net: {e}")))?;
    let objective =
        pq_proto::Objective::parse(&a.objective, links.first().copied()).or_else(usage)?;
    Ok(LowerOptions {
        objective,
        ..LowerOptions::default()
    })
}

/// [`lower_options`] for configuration `cfg`: with `--ot`, its features on that COT source.
pub fn lower_options_for(
    a: &E2eArgs,
    lo: &LowerOptions,
    cfg: Config,
) -> anyhow::Result<LowerOptions> {
    let mut lo = lo.clone();
    if let Some(o) = &a.ot {
        let k = crate::micro_cmd::parse_ot(o)?;
        lo.features = Some(lo.features.unwrap_or(cfg.features()).with_ot(k));
    }
    Ok(lo)
}

/// The (model name, model, configuration) pairs an e2e invocation names.
pub fn pairs(a: &E2eArgs) -> anyhow::Result<Vec<(String, Model, Config)>> {
    let mut v = vec![];
    for m in a.models.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let model = load_model("--models", m, a.tokens)?;
        for c in a
            .protocols
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            v.push((m.to_string(), model.clone(), parse_cfg(c)?));
        }
    }
    if v.is_empty() {
        return usage("--models and --protocols must each name at least one entry");
    }
    Ok(v)
}

/// One party's side of one program over a channel to a peer in another process: the
/// protocol runs on `ch` itself. No virtual-time layer is put on top: its per-message stamps
/// carry the sender's CPU time, which may not leave the process (`docs/constant-time.md`);
/// the latency of a two-process run is the analytic link estimate of the public cost model.
fn remote_side(
    ch: &mut dyn pq_netsim::Channel,
    role: pq_netsim::channel::Role,
    prog: &pq_nn::lower::Program,
    w: &Weights,
    x: &[i64],
) -> Result<pq_nn::secure::SideReport, pq_nn::secure::SecureError> {
    use pq_netsim::channel::Role;
    use pq_nn::secure::run_side;
    match role {
        Role::Server => run_side(ch, role, prog, Some(w), None, None),
        Role::Client => run_side(ch, role, prog, None, Some(x), None),
    }
}

/// One party of `e2e` in its own process, over `ch` (already handshaken): every (model,
/// configuration) in turn. The server holds the seeded weights, the client the seeded input.
/// The latency per `--net` link is the analytic estimate from the cost model's bytes and
/// rounds (no compute: the parties' CPU times stay in their processes; the in-process `e2e`
/// simulates compute and link together in virtual time). To report correctness, the client
/// also rebuilds the seeded benchmark weights and runs the plaintext reference (possible only
/// because the benchmark weights are seeded; a deployment has no such check).
pub fn run_remote(
    role: pq_netsim::channel::Role,
    mut ch: pq_netsim::TcpChannel,
    a: &E2eArgs,
) -> anyhow::Result<()> {
    use pq_netsim::channel::Role;
    let links: Vec<LinkSpec> = parse_links(&a.net).or_else(|e| usage(format!("--net: {e}")))?;
    let lo = lower_options(a)?;
    for (mname, model, cfg) in pairs(a)? {
        let prog = lower::lower_with(&model, cfg, &lower_options_for(a, &lo, cfg)?)
            .map_err(|e| anyhow::anyhow!("{mname} / {}: {e}", cfg.name()))?;
        // The same execute-or-model rule as the in-process e2e; both parties decide alike
        // (the flags are part of the handshake's hash).
        let modeled = program_cost(&prog).map_err(|e| anyhow::anyhow!("{e}"))?;
        let execute = a.full || (modeled.total() as f64) <= a.max_exec_gb * 1e9;
        if !execute {
            let lat: Vec<_> = links
                .iter()
                .map(|l| {
                    let s = pq_netsim::analytic_latency(
                        modeled.server_to_client,
                        modeled.client_to_server,
                        modeled.rounds,
                        l,
                    );
                    (l, s)
                })
                .collect();
            eprintln!(
                "[{}] {mname} / {}: modeled, not executed: {:.3} GB by the cost model is above --max-exec-gb {} (--full executes it); {} rounds{}",
                role.name(),
                cfg.name(),
                modeled.total() as f64 / 1e9,
                a.max_exec_gb,
                modeled.rounds,
                lat.iter()
                    .map(|(l, s)| format!(", {s:.1} s at {l} (analytic)"))
                    .collect::<String>()
            );
            if a.json {
                print_json_line(&json!({
                    "op": "e2e", "party": role.name(), "model": model.name, "protocol": cfg.name(),
                    "bytes_total": modeled.total(), "bytes_server_to_client": modeled.server_to_client,
                    "bytes_client_to_server": modeled.client_to_server, "rounds": modeled.rounds,
                    "executed": false, "transport": "tcp-2proc",
                    "latency": lat.iter().map(|(l, s)| json!({"link": l.to_string(), "latency_s": s, "latency_kind": "analytic-link-only"})).collect::<Vec<_>>(),
                }));
            }
            continue;
        }
        eprintln!(
            "[{}] {mname} / {}: executing ({:.3} GB by the cost model, {} steps)...",
            role.name(),
            cfg.name(),
            modeled.total() as f64 / 1e9,
            prog.steps.len()
        );
        let w = Weights::random(&prog.model, a.seed);
        let x = config::random_input(model.input.numel(), model.encoding, a.seed);
        let t = std::time::Instant::now();
        let rep = remote_side(&mut ch, role, &prog, &w, &x)
            .map_err(|e| anyhow::anyhow!("{mname} / {}: {e}", cfg.name()))?;
        let wall = t.elapsed().as_secs_f64();
        let cost = program_cost(&prog).map_err(|e| anyhow::anyhow!("{e}"))?;
        let lat: Vec<(LinkSpec, f64)> = links
            .iter()
            .map(|l| {
                let s = pq_netsim::link::analytic_latency(
                    cost.server_to_client,
                    cost.client_to_server,
                    cost.rounds,
                    l,
                );
                (*l, s)
            })
            .collect();
        let correct = match (&role, &rep.res.logits) {
            (Role::Client, Some(l)) => {
                let want =
                    reference::run_reference(&prog, &w, &x).map_err(|e| anyhow::anyhow!("{e}"))?;
                Some(*l == want.logits)
            }
            _ => None,
        };
        let own_expected = cost.sent_by(role);
        eprintln!(
            "[{}] {mname} / {}: sent {} B (cost model {} B, equal: {}), total {:.3} GB, compute {:.1} s, wall {:.1} s, latency {}{}",
            role.name(),
            cfg.name(),
            rep.sent,
            own_expected,
            rep.sent == own_expected,
            cost.total() as f64 / 1e9,
            rep.cpu_s,
            wall,
            lat.iter()
                .map(|(l, s)| format!("{s:.1} s at {l} (link only, analytic)"))
                .collect::<Vec<_>>()
                .join(", "),
            correct
                .map(|c| format!(", correct: {c}"))
                .unwrap_or_default(),
        );
        if a.json {
            print_json_line(&json!({
                "op": "e2e", "party": role.name(), "model": model.name, "protocol": cfg.name(),
                "bytes_sent": rep.sent, "bytes_total": cost.total(), "rounds": cost.rounds,
                "cost_matches": rep.sent == own_expected, "setup_bytes": rep.setup,
                "compute_s": rep.cpu_s, "wall_s": wall, "correct": correct, "transport": "tcp-2proc", "executed": true,
                "latency": lat.iter().map(|(l, s)| json!({"link": l.to_string(), "latency_s": s, "latency_kind": "analytic-link-only"})).collect::<Vec<_>>(),
            }));
        }
        anyhow::ensure!(
            rep.sent == own_expected,
            "{mname} / {}: measured bytes differ from the cost model",
            cfg.name()
        );
        anyhow::ensure!(
            correct != Some(false),
            "{mname} / {}: the secure run differs from the plaintext reference",
            cfg.name()
        );
    }
    Ok(())
}

fn parse_cfg(s: &str) -> anyhow::Result<Config> {
    s.parse::<Config>()
        .or_else(|e| usage(format!("--protocols: {e}")))
}

/// The paper's end-to-end figures at 200 Mbps / 13 ms: (SiRNN GB, SiRNN s, PrivQuant GB, PrivQuant s).
fn paper(model: &str) -> Option<(f64, f64, f64, f64)> {
    match model {
        "minionn" => Some((4.89, 234.1, 0.42, 25.3)),
        "resnet32" => Some((6.55, 373.0, 0.94, 58.4)),
        "resnet50" => Some((484.8, 22153.0, 38.1, 2088.0)),
        _ => None,
    }
}

/// Where [`cheetah`]'s figures come from.
const CHEETAH_SOURCE: &str = "Cheetah (Huang et al., USENIX Security 2022), OpenCheetah built and run on this machine class (2 vCPU AMD EPYC), loopback";

/// Cheetah's measured end-to-end figures ([`CHEETAH_SOURCE`]); a figure that was not
/// measured is `None`. GB = 10^9 bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Cheetah {
    /// Both directions.
    gb: f64,
    s2c_gb: Option<f64>,
    c2s_gb: Option<f64>,
    online_gb: Option<f64>,
    rounds: u64,
    /// Compute seconds (loopback, so no link time).
    compute_s: f64,
}

/// Cheetah's figures for a model (ResNet32 on CIFAR-100, ResNet50 on ImageNet), by the model
/// names `paper` uses.
fn cheetah(model: &str) -> Option<Cheetah> {
    match model {
        "resnet32" => Some(Cheetah {
            gb: 0.118,
            s2c_gb: None,
            c2s_gb: None,
            online_gb: Some(0.111),
            rounds: 591,
            compute_s: 9.6,
        }),
        "resnet50" => Some(Cheetah {
            gb: 2.50,
            s2c_gb: Some(1.87),
            c2s_gb: Some(0.63),
            online_gb: None,
            rounds: 1144,
            compute_s: 695.0,
        }),
        _ => None,
    }
}

/// The Π_Linear options of a row's layers with their counts, in first-use order
/// (`extend-x ×20, decomp-x ×11`); `–` when no layer has one (SCI's matmul).
fn option_counts(r: &E2eRow) -> String {
    let mut counts: Vec<(&str, usize)> = vec![];
    for o in r.layers.iter().filter_map(|l| l.option.as_deref()) {
        match counts.iter_mut().find(|(n, _)| *n == o) {
            Some((_, c)) => *c += 1,
            None => counts.push((o, 1)),
        }
    }
    if counts.is_empty() {
        return "–".into();
    }
    counts
        .iter()
        .map(|(n, c)| format!("{n} ×{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn run(a: E2eArgs) -> anyhow::Result<()> {
    let links: Vec<LinkSpec> = parse_links(&a.net).or_else(|e| usage(format!("--net: {e}")))?;
    let transport: Transport = a
        .transport
        .parse()
        .or_else(|e: String| usage(format!("--transport: {e}")))?;
    if a.threads != 1 {
        return usage(format!(
            "--threads: this version runs one compute thread per party (got {})",
            a.threads
        ));
    }
    if !(a.max_exec_gb.is_finite() && a.max_exec_gb >= 0.0) {
        return usage("--max-exec-gb: expected a non-negative number");
    }
    let lo = lower_options(&a)?;
    let mut rows: Vec<(String, E2eRow)> = vec![];
    for (mname, model, cfg) in pairs(&a)? {
        let prog = lower::lower_with(&model, cfg, &lower_options_for(&a, &lo, cfg)?)
            .map_err(|e| anyhow::anyhow!("{mname} / {}: {e}", cfg.name()))?;
        let modeled = match program_cost(&prog) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{mname} / {}: skipped: {e}", cfg.name());
                continue;
            }
        };
        let execute = a.full || (modeled.total() as f64) <= a.max_exec_gb * 1e9;
        eprintln!(
            "{mname} / {}: {} ({:.3} GB by the cost model)...",
            cfg.name(),
            if execute { "executing" } else { "modeling" },
            modeled.total() as f64 / 1e9
        );
        // A per-layer progress bar on a terminal (indicatif hides it otherwise).
        let bar = indicatif::ProgressBar::new(prog.steps.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} steps {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{mname}/{}", cfg.name()));
        let b2 = bar.clone();
        let progress = execute.then(|| {
            pq_nn::secure::Progress(std::sync::Arc::new(
                move |layer: &str, done: usize, _total: usize| {
                    b2.set_position(done as u64);
                    b2.set_message(layer.to_string());
                },
            ))
        });
        let o = E2eOptions {
            execute,
            emulate: a.emulate,
            transport,
            seed: a.seed,
            breakdown: a.breakdown,
            progress,
        };
        let rs = e2e_rows_for(&prog, &links, &o)
            .map_err(|e| anyhow::anyhow!("{mname} / {}: {e}", cfg.name()));
        bar.finish_and_clear();
        let rs = rs?;
        for r in rs {
            eprintln!(
                "  {} at {}: {:.3} GB ({:.3} s->c, {:.3} c->s), online {:.3} GB, {} rounds, compute {}, latency {} ({}), executed {}, correct {}",
                r.protocol,
                r.link.as_deref().unwrap_or("-"),
                r.bytes_total as f64 / 1e9,
                r.bytes_server_to_client as f64 / 1e9,
                r.bytes_client_to_server as f64 / 1e9,
                r.bytes_online as f64 / 1e9,
                r.rounds,
                r.compute_s
                    .map(|c| format!("{c:.1} s"))
                    .unwrap_or_else(|| "-".into()),
                r.latency_s
                    .map(|c| format!("{c:.1} s"))
                    .unwrap_or_else(|| "-".into()),
                r.latency_kind,
                r.executed,
                r.correct
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "-".into()),
            );
            let mut v = serde_json::to_value(&r)?;
            if a.breakdown {
                add_percentiles(&r, &mut v);
            }
            if a.json {
                print_json_line(&v);
            }
            if r.correct == Some(false) {
                anyhow::bail!(
                    "{mname} / {}: the secure run differs from the plaintext reference",
                    r.protocol
                );
            }
            rows.push((mname.clone(), r));
        }
    }
    write_results(&a, &links, &rows)
}

/// Per protocol type: bytes, compute and hdrhistogram percentiles of per-step latency
/// (printed, and added to the row's `breakdown` entries as `latency_ms_p50/p90/p99/max`).
fn add_percentiles(r: &E2eRow, v: &mut serde_json::Value) {
    let Some(kinds) = &r.breakdown else { return };
    eprintln!(
        "    {:<16} {:>6} {:>14} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "protocol", "steps", "bytes", "compute s", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    for (i, k) in kinds.iter().enumerate() {
        let mut h = match hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3) {
            Ok(h) => h,
            Err(_) => continue,
        };
        for &t in &k.step_wall_s {
            h.saturating_record((t * 1e6).max(1.0) as u64);
        }
        let q = |x: f64| {
            if h.is_empty() {
                None
            } else {
                Some(h.value_at_quantile(x) as f64 / 1e3)
            }
        };
        let (p50, p90, p99, max) = (
            q(0.5),
            q(0.9),
            q(0.99),
            (!h.is_empty()).then(|| h.max() as f64 / 1e3),
        );
        let f = |x: Option<f64>| x.map(|v| format!("{v:.2}")).unwrap_or_else(|| "-".into());
        eprintln!(
            "    {:<16} {:>6} {:>14} {:>10} {:>9} {:>9} {:>9} {:>9}",
            k.kind,
            k.steps,
            k.bytes_total,
            k.compute_s
                .map(|c| format!("{c:.2}"))
                .unwrap_or_else(|| "-".into()),
            f(p50),
            f(p90),
            f(p99),
            f(max)
        );
        if let Some(e) = v
            .get_mut("breakdown")
            .and_then(|b| b.get_mut(i))
            .and_then(|e| e.as_object_mut())
        {
            e.insert("latency_ms_p50".into(), json!(p50));
            e.insert("latency_ms_p90".into(), json!(p90));
            e.insert("latency_ms_p99".into(), json!(p99));
            e.insert("latency_ms_max".into(), json!(max));
        }
    }
}

/// File-name suffix of the planner objective (empty for the default, bytes).
fn objective_suffix(a: &E2eArgs) -> String {
    if a.objective == "bytes" {
        String::new()
    } else {
        format!("-{}", a.objective)
    }
}

fn link_file(l: &LinkSpec) -> String {
    l.to_string().replace([',', '.'], "_")
}

fn write_results(a: &E2eArgs, links: &[LinkSpec], rows: &[(String, E2eRow)]) -> anyhow::Result<()> {
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out))?;
    let sfx = objective_suffix(a);
    for l in links {
        let ls = l.to_string();
        let sel: Vec<&(String, E2eRow)> = rows
            .iter()
            .filter(|(_, r)| r.link.as_deref() == Some(ls.as_str()))
            .collect();
        let mut jl = String::new();
        for (_, r) in &sel {
            jl.push_str(&serde_json::to_string(r)?);
            jl.push('\n');
        }
        std::fs::write(format!("{}/e2e-{}{sfx}.json", a.out, link_file(l)), jl)?;
        let mut md = String::new();
        let _ = writeln!(md, "# End to end at {ls}\n");
        let _ = writeln!(
            md,
            "Produced by `bench-harness e2e --net '{}' --objective {}` on {}. GB = 10^9 bytes, both directions.",
            a.net,
            a.objective,
            machine_name()
        );
        let _ = writeln!(
            md,
            "Latency: `simulated` = virtual time from the executed run (compute + link); `modeled` = bytes per direction / bandwidth + rounds × RTT from the validated cost model (executed: false).\n"
        );
        let _ = writeln!(
            md,
            "| model | protocol | GB | s→c GB | c→s GB | online GB | rounds | compute s | latency s | kind | executed | paper GB | paper s | GB vs paper | Cheetah GB | GB vs Cheetah |"
        );
        let _ = writeln!(
            md,
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
        );
        for (m, r) in &sel {
            let p = paper(m);
            let (pg, ps) = match (p, r.protocol.as_str()) {
                (Some((g, s, _, _)), "sirnn") => (Some(g), Some(s)),
                (Some((_, _, g, s)), "privquant") => (Some(g), Some(s)),
                _ => (None, None),
            };
            let gb = r.bytes_total as f64 / 1e9;
            let ch = cheetah(m);
            let _ = writeln!(
                md,
                "| {m} | {} | {gb:.3} | {:.3} | {:.3} | {:.3} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.protocol,
                r.bytes_server_to_client as f64 / 1e9,
                r.bytes_client_to_server as f64 / 1e9,
                r.bytes_online as f64 / 1e9,
                r.rounds,
                r.compute_s
                    .map(|c| format!("{c:.1}"))
                    .unwrap_or_else(|| "–".into()),
                r.latency_s
                    .map(|c| format!("{c:.1}"))
                    .unwrap_or_else(|| "–".into()),
                r.latency_kind,
                r.executed,
                pg.map(|g| format!("{g}")).unwrap_or_else(|| "–".into()),
                ps.map(|s| format!("{s}")).unwrap_or_else(|| "–".into()),
                pg.map(|g| format!("{:.2}×", gb / g))
                    .unwrap_or_else(|| "–".into()),
                ch.map(|c| format!("{:.3}", c.gb))
                    .unwrap_or_else(|| "–".into()),
                ch.map(|c| format!("{:.2}×", gb / c.gb))
                    .unwrap_or_else(|| "–".into()),
            );
        }
        let models: Vec<&String> = {
            let mut v: Vec<&String> = sel.iter().map(|(m, _)| m).collect();
            v.dedup();
            v
        };
        // Cheetah's own figures, for the models it was measured on
        let measured: Vec<(&String, Cheetah)> = models
            .iter()
            .filter_map(|m| cheetah(m).map(|c| (*m, c)))
            .collect();
        if !measured.is_empty() {
            let _ = writeln!(
                md,
                "\nCheetah GB (and the table below): the measured figures of {CHEETAH_SOURCE}. Its compute is the measured run time on loopback (no link), so it has no latency at this link; GB vs Cheetah = this row's GB / Cheetah's.\n"
            );
            let _ = writeln!(
                md,
                "| model | Cheetah GB | s→c GB | c→s GB | online GB | rounds | compute s |\n| --- | --- | --- | --- | --- | --- | --- |"
            );
            let f = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "–".into());
            for (m, c) in measured {
                let _ = writeln!(
                    md,
                    "| {m} | {:.3} | {} | {} | {} | {} | {:.1} |",
                    c.gb,
                    f(c.s2c_gb),
                    f(c.c2s_gb),
                    f(c.online_gb),
                    c.rounds,
                    c.compute_s
                );
            }
        }
        // which Π_Linear option each exact linear layer ran
        if sel
            .iter()
            .any(|(_, r)| r.layers.iter().any(|l| l.option.is_some()))
        {
            let _ = writeln!(
                md,
                "\nLinear-layer options: the Π_Linear option each exact linear layer runs, with the number of layers (`he` = the HE option, on the menu of `privquant-he` only; `duplex` = the latency objective's split).\n\n| model | protocol | options |\n| --- | --- | --- |"
            );
            for (m, r) in sel
                .iter()
                .filter(|(_, r)| r.layers.iter().any(|l| l.option.is_some()))
            {
                let _ = writeln!(md, "| {m} | {} | {} |", r.protocol, option_counts(r));
            }
        }
        if a.breakdown {
            for (m, r) in &sel {
                let _ = writeln!(
                    md,
                    "\n### {m} / {}: per layer\n\n| layer | op | option | MB | s→c MB | c→s MB | rounds | compute s |\n| --- | --- | --- | --- | --- | --- | --- | --- |",
                    r.protocol
                );
                for l in &r.layers {
                    let _ = writeln!(
                        md,
                        "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {} | {} |",
                        l.name,
                        l.op,
                        l.option.as_deref().unwrap_or("–"),
                        l.bytes_total as f64 / 1e6,
                        l.bytes_server_to_client as f64 / 1e6,
                        l.bytes_client_to_server as f64 / 1e6,
                        l.rounds,
                        l.compute_s
                            .map(|c| format!("{c:.2}"))
                            .unwrap_or_else(|| "–".into()),
                    );
                }
            }
        }
        // privquant vs sirnn-quant ratios
        let _ = writeln!(
            md,
            "\n| model | sirnn-quant GB / privquant GB (target ≥ 1.9×) |\n| --- | --- |"
        );
        for m in models {
            let get = |p: &str| {
                sel.iter()
                    .find(|(mm, r)| mm == m && r.protocol == p)
                    .map(|(_, r)| r.bytes_total)
            };
            if let (Some(q), Some(p)) = (get("sirnn-quant"), get("privquant")) {
                let _ = writeln!(md, "| {m} | {:.2}× |", q as f64 / p as f64);
            }
        }
        std::fs::write(format!("{}/e2e-{}{sfx}.md", a.out, link_file(l)), &md)?;
        eprintln!("\n{md}");
    }
    write_svg(a, rows)?;
    Ok(())
}

/// Per-layer communication of each model, one bar series per protocol.
fn write_svg(a: &E2eArgs, rows: &[(String, E2eRow)]) -> anyhow::Result<()> {
    use plotters::prelude::*;
    let mut models: Vec<&String> = rows.iter().map(|(m, _)| m).collect();
    models.dedup();
    for m in models {
        let mut series: Vec<(&str, Vec<(String, f64)>)> = vec![];
        for (mm, r) in rows {
            if mm != m || series.iter().any(|(p, _)| *p == r.protocol) {
                continue;
            }
            series.push((
                r.protocol.as_str(),
                r.layers
                    .iter()
                    .map(|l| (l.name.clone(), l.bytes_total as f64 / 1e6))
                    .collect(),
            ));
        }
        let nlayers = series.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
        if nlayers == 0 {
            continue;
        }
        let ymax = series
            .iter()
            .flat_map(|(_, v)| v.iter().map(|x| x.1))
            .fold(1.0f64, f64::max);
        let file_name = rows
            .iter()
            .find(|(mm, _)| mm == m)
            .map(|(_, r)| r.model.clone())
            .unwrap_or_else(|| m.to_string());
        let path = format!(
            "{}/e2e-layers-{}{}.svg",
            a.out,
            file_name.replace(['/', '.', ' '], "_"),
            objective_suffix(a)
        );
        let root = SVGBackend::new(&path, (1200, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("svg: {e}"))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{m}: communication per layer (MB, log scale)"),
                ("sans-serif", 20),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..nlayers as f64, (0.001f64..ymax * 2.0).log_scale())
            .map_err(|e| anyhow::anyhow!("svg: {e}"))?;
        chart
            .configure_mesh()
            .x_desc("layer index")
            .y_desc("MB")
            .draw()
            .map_err(|e| anyhow::anyhow!("svg: {e}"))?;
        let colors = [RED, BLUE, GREEN, MAGENTA];
        let k = series.len().max(1) as f64;
        for (si, (p, v)) in series.iter().enumerate() {
            let c = colors[si % colors.len()];
            let w = 0.8 / k;
            chart
                .draw_series(v.iter().enumerate().map(|(i, (_, mb))| {
                    let x0 = i as f64 + 0.1 + si as f64 * w;
                    Rectangle::new([(x0, 0.001), (x0 + w, mb.max(0.001))], c.filled())
                }))
                .map_err(|e| anyhow::anyhow!("svg: {e}"))?
                .label(*p)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], c.filled()));
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .draw()
            .map_err(|e| anyhow::anyhow!("svg: {e}"))?;
        root.present().map_err(|e| anyhow::anyhow!("svg: {e}"))?;
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[arg(long)]
    pub model: String,
    #[arg(long, default_value = "privquant")]
    pub protocol: String,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 1)]
    pub tokens: usize,
    #[arg(long, default_value = "mem")]
    pub transport: String,
    #[arg(long)]
    pub json: bool,
}

/// Run a model in 2PC and compare every tensor with the plaintext reference.
pub fn verify(a: VerifyArgs) -> anyhow::Result<()> {
    let model = load_model("--model", &a.model, a.tokens)?;
    let cfg = a
        .protocol
        .parse::<Config>()
        .or_else(|e| usage(format!("--protocol: {e}")))?;
    let transport: Transport = a
        .transport
        .parse()
        .or_else(|e: String| usage(format!("--transport: {e}")))?;
    let prog = lower::lower(&model, cfg).map_err(|e| anyhow::anyhow!("{e}"))?;
    let w = Weights::random(&prog.model, a.seed);
    let x = config::random_input(model.input.numel(), model.encoding, a.seed);
    let want = reference::run_reference(&prog, &w, &x).map_err(|e| anyhow::anyhow!("{e}"))?;
    let ro = RunOptions {
        transport,
        keep_tensors: true,
        pin: true,
        ..RunOptions::default()
    };
    let run = run_secure(&prog, &w, &x, &ro).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut first_bad = None;
    for (i, (g, r)) in run.tensors.iter().zip(&want.values).enumerate() {
        if g != r && first_bad.is_none() {
            first_bad = Some(i);
        }
    }
    let ok =
        first_bad.is_none() && run.logits == want.logits && run.tensors.len() == want.values.len();
    let cost = program_cost(&prog).map_err(|e| anyhow::anyhow!("{e}"))?;
    let cost_ok = cost.server_to_client == run.bytes_server_to_client
        && cost.client_to_server == run.bytes_client_to_server;
    eprintln!(
        "verify {} / {}: {} tensors, bit-exact: {ok}{}; {} B (cost model {} B, equal: {cost_ok}); {:.2} s",
        model.name,
        cfg.name(),
        run.tensors.len(),
        first_bad
            .map(|i| format!(" (first difference at tensor {i})"))
            .unwrap_or_default(),
        run.bytes_total(),
        cost.total(),
        run.wall_s
    );
    if a.json {
        print_json_line(&json!({
            "op": "verify", "model": model.name, "protocol": cfg.name(), "seed": a.seed,
            "tensors": run.tensors.len(), "correct": ok, "bytes_total": run.bytes_total(),
            "bytes_server_to_client": run.bytes_server_to_client, "bytes_client_to_server": run.bytes_client_to_server,
            "cost_matches": cost_ok, "wall_s": run.wall_s,
        }));
    }
    anyhow::ensure!(ok, "the secure run differs from the plaintext reference");
    anyhow::ensure!(cost_ok, "measured bytes differ from the cost model");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pq_netsim::channel::Role;
    use pq_netsim::{Channel, TcpChannel, TcpOptions};

    const TINY: &str = r#"{ "name": "tiny", "input": [1, 6, 6],
      "layers": [
        {"name": "c1", "op": "conv", "cout": 2, "k": 3, "wbits": 2, "abits": 4},
        {"name": "r1", "op": "relu"},
        {"name": "fc", "op": "fc", "dout": 3, "wbits": 4} ] }"#;

    /// A two-process run's channel stack (`remote_side` over a real TCP channel) puts exactly
    /// the protocol's bytes on the wire, plus the transport's own length prefixes: no
    /// virtual-time stamps (which would carry the sender's CPU time, 8 bytes per message).
    #[test]
    fn two_process_runs_put_no_cpu_time_stamps_on_the_wire() {
        let m = json::parse(TINY).expect("model");
        let prog = lower::lower(&m, Config::PrivQuant).expect("lower");
        let w = Weights::random(&prog.model, 3);
        let x = config::random_input(m.input.numel(), m.encoding, 3);
        let cost = program_cost(&prog).expect("cost");
        let (a, b) = TcpChannel::loopback_pair(TcpOptions::default()).expect("tcp");
        let side = |mut ch: TcpChannel, role: Role| {
            let rep = remote_side(&mut ch, role, &prog, &w, &x).expect("run");
            ch.flush().expect("flush");
            (rep, ch.meter().total())
        };
        let ((rs, ts), (rc, tc)) = std::thread::scope(|s| {
            let hs = s.spawn(|| side(a, Role::Server));
            let hc = s.spawn(|| side(b, Role::Client));
            (hs.join().expect("server"), hc.join().expect("client"))
        });
        // Payload on the TCP connection = the setup and the protocol bytes of the cost model.
        assert_eq!(rs.sent, cost.server_to_client);
        assert_eq!(rc.sent, cost.client_to_server);
        assert_eq!(rs.setup, rc.setup);
        assert_eq!(ts.bytes_sent + tc.bytes_sent, cost.total() + rs.setup);
        // Framing = the transport's length prefix per message, nothing else.
        for t in [ts, tc] {
            assert_eq!(
                t.framing_sent,
                pq_netsim::tcp::FRAME_HEADER as u64 * t.msgs_sent,
                "{t:?}"
            );
        }
    }
}
