//! `bench-harness e2e` (and the bare `bench-harness`): networks end to end, and
//! `bench-harness verify`: one model in 2PC against the plaintext reference, every tensor.

use crate::e2e_out::{Entry, Sink};
use crate::progress::LayerProgress;
use crate::util::{print_json_line, usage};
use bench_harness::runners::e2e::{E2eOptions, E2eRow, e2e_rows_for};
use clap::Args;
use pq_netsim::{LinkSpec, Transport, parse_links};
use pq_nn::config::{self, Config, Weights};
use pq_nn::lower::LowerOptions;
use pq_nn::secure::{RunOptions, program_cost, run_secure};
use pq_nn::{Model, builtin, json, lower, reference};
use serde_json::json;

/// The models `e2e` runs by default.
pub const DEFAULT_MODELS: &str = "minionn,resnet32,resnet50";

/// The configurations `e2e` runs by default.
pub const DEFAULT_PROTOCOLS: &str = "sirnn,sirnn-quant,privquant,privquant-he";

#[derive(Args, Debug, Clone)]
pub struct E2eArgs {
    /// Links as BANDWIDTH,RTT, several separated by `;`.
    #[arg(long, default_value = "200mbps,13ms")]
    pub net: String,
    /// Comma-separated: minionn, resnet32, resnet50, resnet50-32px, llama7b-attn, or .json files.
    #[arg(long, default_value = DEFAULT_MODELS)]
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
    /// The channel between the two in-process parties: mem or tcp (loopback). Ignored by
    /// `serve`/`connect`, whose parties always talk over their own TCP connection.
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
    /// Directory of the result files (default `results/`, where the committed headline
    /// files live; README's quick start writes to `results/local/`, which git ignores).
    #[arg(long, default_value = DEFAULT_OUT)]
    pub out: String,
    /// Also print each run's row as one JSON line on stdout (the files are written either way).
    #[arg(long)]
    pub json: bool,
    /// Least seconds between two progress lines of an executed run (0: a line per layer).
    #[arg(long, default_value_t = 1.0)]
    pub progress: f64,
    /// The memory this run may use (e.g. 8G, 512MiB; `none`: no check). Default: what the
    /// machine has available. Runs whose tensors, weights and messages alone need more are
    /// refused before anything runs.
    #[arg(long)]
    pub max_mem: Option<String>,
}

/// Where `e2e` writes unless told otherwise: ignored by git, so that running the quick start
/// never changes the committed `results/`.
pub const DEFAULT_OUT: &str = "results";

impl Default for E2eArgs {
    fn default() -> Self {
        E2eArgs {
            net: "200mbps,13ms".into(),
            models: DEFAULT_MODELS.into(),
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
            out: DEFAULT_OUT.into(),
            json: false,
            progress: 1.0,
            max_mem: None,
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
    with_ot(lo.clone(), a.ot.as_deref(), cfg)
}

/// `lo` with configuration `cfg`'s features on the COT source `ot` (an `--ot` value), if
/// given; the `--ot` of `e2e`, `serve`/`connect` and `plan`.
pub fn with_ot(
    mut lo: LowerOptions,
    ot: Option<&str>,
    cfg: Config,
) -> anyhow::Result<LowerOptions> {
    if let Some(o) = ot {
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
        let execute = executes(a, &modeled);
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

/// One (model, configuration) that `run` will run: lowered and costed before anything runs.
struct Job {
    /// The `--models` entry as given.
    arg: String,
    model: Model,
    prog: pq_nn::lower::Program,
    modeled: pq_proto::Cost,
}

/// The execute-or-model rule, the same in-process and across two processes: a run executes
/// when `--full` or when its modeled traffic is at most `--max-exec-gb`.
pub fn executes(a: &E2eArgs, modeled: &pq_proto::Cost) -> bool {
    a.full || (modeled.total() as f64) <= a.max_exec_gb * 1e9
}

/// `--emulate` runs the executed programs over a link that really sleeps: say beforehand how
/// long the link alone will take (the analytic estimate from the cost model: the larger
/// direction over the bandwidth plus one RTT per round, per executed run and link), so a slow
/// link (`--net 1gbps,1000s`) is not a silent wait of hours.
fn warn_emulated_time(a: &E2eArgs, links: &[LinkSpec], jobs: &[Job]) {
    let secs: f64 = links
        .iter()
        .map(|l| {
            jobs.iter()
                .filter(|j| executes(a, &j.modeled))
                .map(|j| {
                    pq_netsim::link::analytic_latency(
                        j.modeled.server_to_client,
                        j.modeled.client_to_server,
                        j.modeled.rounds,
                        l,
                    )
                })
                .sum::<f64>()
        })
        .sum();
    eprintln!(
        "--emulate: the emulated link{} alone will take about {} (bytes over the bandwidth plus \
         one RTT per round, from the cost model), before compute; Ctrl-C keeps finished rows",
        if links.len() > 1 { "s" } else { "" },
        crate::progress::secs(secs)
    );
}

/// Lower and cost every (model, configuration) of `a`: a model that cannot run under a
/// configuration is a usage error (exit 2) naming the model, the layer and the limit.
fn plan_jobs(a: &E2eArgs, lo: &LowerOptions) -> anyhow::Result<Vec<Job>> {
    let mut jobs = vec![];
    for (mname, model, cfg) in pairs(a)? {
        let prog = match lower::lower_with(&model, cfg, &lower_options_for(a, lo, cfg)?) {
            Ok(p) => p,
            Err(e) => {
                return usage(format!(
                    "--models {mname}: model '{}' cannot run under {}: {e}",
                    model.name,
                    cfg.name()
                ));
            }
        };
        let modeled = match program_cost(&prog) {
            Ok(c) => c,
            Err(e) => return usage(cannot_run(&mname, &model, &prog, &e)),
        };
        jobs.push(Job {
            arg: mname,
            model,
            prog,
            modeled,
        });
    }
    Ok(jobs)
}

/// Why `prog` cannot be costed, in the user's terms: the model, the first layer whose step
/// fails, and the limit (the protocols' parameter names translated).
fn cannot_run(
    arg: &str,
    model: &Model,
    prog: &pq_nn::lower::Program,
    e: &pq_nn::secure::SecureError,
) -> String {
    use pq_nn::secure::step_cost;
    let found = prog
        .steps
        .iter()
        .find_map(|st| step_cost(prog, st).err().map(|e| (st.layer.clone(), e)));
    let (layer, err) = match &found {
        Some((l, fe)) => (l.clone(), fe),
        None => (String::new(), e),
    };
    let kind = model
        .layers
        .iter()
        .find(|l| l.name == layer)
        .map(|l| l.op.kind())
        .unwrap_or("");
    let what = match err {
        pq_nn::secure::SecureError::Proto(pq_proto::ProtoError::Param { name, msg }) => {
            match *name {
                "d1" | "d2" | "d3" => format!(
                    "a side of its matrix product ({}) is {}; at most 2^30 = 1073741824 is supported",
                    if kind == "fc" {
                        "outputs or inputs"
                    } else {
                        "output channels, input channels × k², or output pixels"
                    },
                    msg.trim_start_matches("dimension ")
                        .split(' ')
                        .next()
                        .unwrap_or("")
                ),
                "dims" => "its matrix product is too large: the product of any two of its sides (output channels, input channels × k², output pixels; for an fc: outputs, inputs) must be at most 2^40".into(),
                _ => format!("{name}: {msg}"),
            }
        }
        other => other.to_string(),
    };
    let layer = if layer.is_empty() {
        String::new()
    } else {
        format!(" layer '{layer}' ({kind}):")
    };
    format!(
        "--models {arg}: model '{}' cannot run under {}:{layer} {what}",
        model.name,
        prog.cfg.name()
    )
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
    if !(a.progress.is_finite() && a.progress >= 0.0) {
        return usage(format!(
            "--progress {}: expected a non-negative number of seconds",
            a.progress
        ));
    }
    // where the results go, checked before any work
    let mut sink = Sink::open(&a, &links)?;
    let lo = lower_options(&a)?;
    // every model lowered and costed before the first run
    let jobs = plan_jobs(&a, &lo)?;
    let executed: Vec<(&str, &pq_nn::lower::Program)> = jobs
        .iter()
        .filter(|j| executes(&a, &j.modeled))
        .map(|j| (j.arg.as_str(), &j.prog))
        .collect();
    guard_programs(
        &executed,
        pq_nn::memory::Parties::Both,
        false,
        a.max_mem.as_deref(),
        "--tokens or the model's sizes, drop --full, lower --max-exec-gb",
    )?;
    for m in jobs
        .iter()
        .map(|j| &j.model)
        .fold(vec![], |mut v: Vec<&Model>, m| {
            if !v.iter().any(|x| x.name == m.name) {
                v.push(m);
            }
            v
        })
    {
        let names: Vec<&str> = m
            .layers
            .iter()
            .filter(|l| matches!(l.op.kind(), "conv" | "fc"))
            .map(|l| l.name.as_str())
            .collect();
        eprintln!(
            "{}: {} layers; conv/fc (the names `plan --weights` takes): {}",
            m.name,
            m.layers.len(),
            names.join(", ")
        );
    }
    if a.emulate {
        warn_emulated_time(&a, &links, &jobs);
    }
    let result = run_jobs(&a, &links, transport, &jobs, &mut sink);
    if !sink.paths().is_empty() {
        eprintln!(
            "results ({} rows) in {}: {}",
            sink.entries().len(),
            a.out,
            sink.paths()
                .iter()
                .filter_map(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    result
}

fn run_jobs(
    a: &E2eArgs,
    links: &[LinkSpec],
    transport: Transport,
    jobs: &[Job],
    sink: &mut Sink,
) -> anyhow::Result<()> {
    let builtin_arg = |m: &str| (!m.ends_with(".json")).then(|| m.to_string());
    for job in jobs {
        let (mname, cfg, prog) = (&job.arg, job.prog.cfg, &job.prog);
        let label = format!("{} / {}", job.model.name, cfg.name());
        let execute = executes(a, &job.modeled);
        eprintln!(
            "{label}: {} ({:.3} GB by the cost model{})...",
            if execute { "executing" } else { "modeling" },
            job.modeled.total() as f64 / 1e9,
            if execute {
                format!(", {} steps", prog.steps.len())
            } else {
                format!(", above --max-exec-gb {}", a.max_exec_gb)
            }
        );
        let progress = execute.then(|| {
            std::sync::Arc::new(LayerProgress::new(
                label.clone(),
                prog,
                std::time::Duration::from_secs_f64(a.progress),
            ))
            .callback()
        });
        let o = E2eOptions {
            execute,
            emulate: a.emulate,
            transport,
            seed: a.seed,
            breakdown: a.breakdown,
            progress,
        };
        // the memory guard's estimate beside the heap's measured peak, for executed rows
        let memory_estimate = execute
            .then(|| pq_nn::memory::program_memory(prog, pq_nn::memory::Parties::Both, false))
            .transpose()
            .map_err(|e| anyhow::anyhow!("{label}: {e}"))?
            .map(|m| m.bytes);
        let heap_at_start = bench_harness::memory::live();
        bench_harness::memory::reset_peak();
        let rs = e2e_rows_for(prog, links, &o).map_err(|e| anyhow::anyhow!("{label}: {e}"))?;
        // the heap this run added at its peak (what the estimate is of)
        let peak_heap = bench_harness::memory::counting()
            .then(|| bench_harness::memory::peak().saturating_sub(heap_at_start) as u64);
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
            if let (Some(est), Some(obj)) = (memory_estimate, v.as_object_mut()) {
                obj.insert("memory_estimate_bytes".into(), est.into());
                if let Some(peak) = peak_heap {
                    obj.insert("peak_heap_bytes".into(), peak.into());
                }
            }
            if a.breakdown {
                add_percentiles(&r, &mut v);
            }
            if a.json {
                print_json_line(&v);
            }
            let wrong = r.correct == Some(false);
            let protocol = r.protocol.clone();
            // the row is kept even when it is wrong: the files say `correct: false`
            sink.push(
                Entry {
                    model: job.model.name.clone(),
                    builtin: builtin_arg(mname),
                    row: r,
                },
                &v,
            )?;
            if wrong {
                anyhow::bail!(
                    "{label}: the secure run differs from the plaintext reference ({protocol})"
                );
            }
        }
    }
    Ok(())
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

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// A built-in model (minionn, resnet32, resnet50, resnet50-32px, llama7b-attn) or a .json file.
    #[arg(long)]
    pub model: String,
    /// Configuration: sirnn, sirnn-quant, privquant, privquant-w4 or privquant-he.
    #[arg(long, default_value = "privquant")]
    pub protocol: String,
    /// Seed of the weights and the input.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Tokens of llama7b-attn.
    #[arg(long, default_value_t = 1)]
    pub tokens: usize,
    /// The channel between the two in-process parties: mem or tcp (loopback).
    #[arg(long, default_value = "mem")]
    pub transport: String,
    /// Also print the report as one JSON line on stdout.
    #[arg(long)]
    pub json: bool,
    /// The memory this run may use (e.g. 8G, 512MiB; `none`: no check). Default: what the
    /// machine has available. Runs whose tensors, weights and messages alone need more are
    /// refused before anything runs.
    #[arg(long)]
    pub max_mem: Option<String>,
}

/// Refuse, before anything runs, programs whose execution cannot fit in memory: the floor of
/// each program's peak from its public shapes (`pq_nn::memory`: its live tensors, the
/// weights, the largest step's messages), for the parties in this process. The programs run
/// one after another, so the largest decides. `lower` names the flags that shrink the run.
pub fn guard_programs(
    progs: &[(&str, &pq_nn::lower::Program)],
    parties: pq_nn::memory::Parties,
    keep: bool,
    max_mem: Option<&str>,
    lower: &str,
) -> anyhow::Result<()> {
    use bench_harness::memory;
    let b = memory::budget(max_mem)?;
    for (arg, prog) in progs {
        let f = pq_nn::memory::program_memory(prog, parties, keep)
            .map_err(|e| anyhow::anyhow!("{arg} / {}: {e}", prog.cfg.name()))?;
        let est = memory::Estimate {
            bytes: f.bytes,
            how: format!(
                "its live tensors, weights, messages and OT working sets at layer '{}'",
                f.layer
            ),
        };
        let what = format!("{arg} under {}", prog.cfg.name());
        memory::check(&what, &est, &b, lower)?;
    }
    Ok(())
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
    guard_programs(
        &[(a.model.as_str(), &prog)],
        pq_nn::memory::Parties::Both,
        true,
        a.max_mem.as_deref(),
        "--tokens or the model's sizes",
    )?;
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
