//! One `e2e` row per (model, configuration, link) with the fields of the CLI contract in
//! README.md: executed (a real two-party run, latency simulated in virtual time or emulated
//! in real time) or modeled (bytes and rounds from the cost model, latency from the analytic
//! link model).

use pq_netsim::Transport;
use pq_netsim::link::{LinkSpec, analytic_latency};
use pq_netsim::pair::LinkOptions;
use pq_nn::config::{self, Config, Weights};
use pq_nn::lower::{self, Program};
use pq_nn::model::Model;
use pq_nn::reference;
use pq_nn::secure::{RunOptions, SecureError, layer_costs, program_cost, run_secure, step_cost};
use serde::Serialize;

/// One layer of an e2e row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct E2eLayer {
    pub name: String,
    pub op: String,
    pub bytes_total: u64,
    pub bytes_server_to_client: u64,
    pub bytes_client_to_server: u64,
    pub rounds: u64,
    /// CPU seconds of the slower party (null when modeled).
    pub compute_s: Option<f64>,
    /// The Π_Linear option the layer's exact linear step runs (`extend-x`, `decomp-x`,
    /// `duplex`, `he`, ...; absent for a layer without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub option: Option<String>,
}

/// One e2e JSON object.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct E2eRow {
    pub op: &'static str,
    pub model: String,
    pub protocol: String,
    pub profile: String,
    /// The link (`200mbps,13ms`), null without one.
    pub link: Option<String>,
    pub bytes_total: u64,
    pub bytes_server_to_client: u64,
    pub bytes_client_to_server: u64,
    /// `bytes_total` minus what a random-OT preprocessing split would move offline.
    pub bytes_online: u64,
    /// One-time base-OT setup bytes (null when modeled).
    pub setup_bytes: Option<u64>,
    pub rounds: u64,
    /// CPU seconds of the slower party, protocol part (null when modeled).
    pub compute_s: Option<f64>,
    /// Wall seconds of the whole run, setup included (null when modeled).
    pub wall_s: Option<f64>,
    /// End-to-end latency at `link` (setup included when executed).
    pub latency_s: Option<f64>,
    /// `simulated`, `emulated` or `modeled`.
    pub latency_kind: &'static str,
    pub executed: bool,
    /// The revealed logits equal the plaintext reference (null when modeled).
    pub correct: Option<bool>,
    pub layers: Vec<E2eLayer>,
    /// Per step kind (with [`E2eOptions::breakdown`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<Vec<E2eKind>>,
}

/// One protocol type of the `--breakdown` profile.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct E2eKind {
    pub kind: String,
    pub steps: usize,
    pub bytes_total: u64,
    pub bytes_server_to_client: u64,
    pub bytes_client_to_server: u64,
    pub rounds: u64,
    /// CPU seconds of the slower party (null when modeled).
    pub compute_s: Option<f64>,
    /// Wall seconds of every step of this kind (slower party; empty when modeled). The harness
    /// turns these into latency percentiles.
    #[serde(skip)]
    pub step_wall_s: Vec<f64>,
}

/// How to produce e2e rows.
#[derive(Clone, Debug)]
pub struct E2eOptions {
    /// Run the two parties (otherwise the cost model only).
    pub execute: bool,
    /// Emulate each link in real time (one run per link) instead of simulating.
    pub emulate: bool,
    pub transport: Transport,
    /// Seed of the weights and the input (the pinned benchmark distributions).
    pub seed: u64,
    /// Add the per-step-kind profile.
    pub breakdown: bool,
    /// Per-step progress of executed runs.
    pub progress: Option<pq_nn::secure::Progress>,
}

impl Default for E2eOptions {
    fn default() -> Self {
        E2eOptions {
            execute: true,
            emulate: false,
            transport: Transport::Mem,
            seed: 1,
            breakdown: false,
            progress: None,
        }
    }
}

/// Rows for `model` under `cfg`, one per link (one row with a null link when `links` is
/// empty), with [`E2eOptions::default`] but `execute`.
pub fn e2e_row(
    model: &Model,
    cfg: Config,
    links: &[LinkSpec],
    execute: bool,
) -> Result<Vec<E2eRow>, SecureError> {
    e2e_rows(
        model,
        cfg,
        links,
        &E2eOptions {
            execute,
            ..E2eOptions::default()
        },
    )
}

/// Rows for `model` under `cfg`, one per link (one row with a null link when `links` is
/// empty). Pinned shifts, seeded weights and input.
pub fn e2e_rows(
    model: &Model,
    cfg: Config,
    links: &[LinkSpec],
    o: &E2eOptions,
) -> Result<Vec<E2eRow>, SecureError> {
    let p = lower::lower(model, cfg).map_err(reference::RefError::from)?;
    e2e_rows_for(&p, links, o)
}

/// [`e2e_rows`] for an already lowered program (any [`lower::LowerOptions`]).
pub fn e2e_rows_for(
    p: &Program,
    links: &[LinkSpec],
    o: &E2eOptions,
) -> Result<Vec<E2eRow>, SecureError> {
    let (model, cfg) = (&p.model, p.cfg);
    let cost = program_cost(p)?;
    let lcost = layer_costs(p)?;
    let kcost: Option<Vec<E2eKind>> = if o.breakdown {
        let mut v: Vec<E2eKind> = vec![];
        for st in &p.steps {
            let k = st.op.kind();
            if v.iter().any(|r| r.kind == k) {
                continue;
            }
            let c: pq_proto::Cost = p
                .steps
                .iter()
                .filter(|x| x.op.kind() == k)
                .map(|x| step_cost(p, x))
                .sum::<Result<_, _>>()?;
            v.push(E2eKind {
                kind: k.to_string(),
                steps: p.count(k),
                bytes_total: c.total(),
                bytes_server_to_client: c.server_to_client,
                bytes_client_to_server: c.client_to_server,
                rounds: c.rounds,
                compute_s: None,
                step_wall_s: vec![],
            });
        }
        Some(v)
    } else {
        None
    };
    let base = |link: Option<&LinkSpec>| E2eRow {
        op: "e2e",
        model: model.name.clone(),
        protocol: cfg.name().to_string(),
        profile: p.feat.profile().name().to_string(),
        link: link.map(|l| l.to_string()),
        bytes_total: cost.total(),
        bytes_server_to_client: cost.server_to_client,
        bytes_client_to_server: cost.client_to_server,
        bytes_online: cost.online_bytes(),
        setup_bytes: None,
        rounds: cost.rounds,
        compute_s: None,
        wall_s: None,
        latency_s: link.map(|l| {
            analytic_latency(cost.server_to_client, cost.client_to_server, cost.rounds, l)
        }),
        latency_kind: "modeled",
        executed: false,
        correct: None,
        layers: lcost
            .iter()
            .map(|l| E2eLayer {
                name: l.name.clone(),
                op: l.op.clone(),
                bytes_total: l.cost.total(),
                bytes_server_to_client: l.cost.server_to_client,
                bytes_client_to_server: l.cost.client_to_server,
                rounds: l.cost.rounds,
                compute_s: None,
                option: l.option.clone(),
            })
            .collect(),
        breakdown: kcost.clone(),
    };
    if !o.execute {
        if links.is_empty() {
            return Ok(vec![base(None)]);
        }
        return Ok(links.iter().map(|l| base(Some(l))).collect());
    }
    let w = Weights::random(&p.model, o.seed);
    let x = config::random_input(model.input.numel(), model.encoding, o.seed);
    let want = reference::run_reference(p, &w, &x)?;
    // (link, link options, latency kind) per run
    let runs: Vec<(Vec<Option<LinkSpec>>, LinkOptions, &'static str)> = if links.is_empty() {
        vec![(vec![None], LinkOptions::default(), "modeled")]
    } else if o.emulate {
        links
            .iter()
            .map(|l| {
                (
                    vec![Some(*l)],
                    LinkOptions {
                        emulate: Some(*l),
                        ..LinkOptions::default()
                    },
                    "emulated",
                )
            })
            .collect()
    } else {
        vec![(
            links.iter().copied().map(Some).collect(),
            LinkOptions {
                simulate: links.to_vec(),
                ..LinkOptions::default()
            },
            "simulated",
        )]
    };
    let mut rows = vec![];
    for (ls, lo, kind) in runs {
        let ro = RunOptions {
            transport: o.transport,
            links: lo,
            progress: o.progress.clone(),
            // both parties on their own pinned core (interfaces: pinned threads by default)
            pin: true,
            ..RunOptions::default()
        };
        let run = run_secure(p, &w, &x, &ro)?;
        for (i, l) in ls.iter().enumerate() {
            let mut r = base(l.as_ref());
            let total = run.bytes_total();
            r.bytes_total = total;
            r.bytes_server_to_client = run.bytes_server_to_client;
            r.bytes_client_to_server = run.bytes_client_to_server;
            r.bytes_online = total.saturating_sub(cost.offline_bytes);
            r.setup_bytes = Some(run.setup_bytes);
            r.compute_s = Some(run.compute_s);
            r.wall_s = Some(run.wall_s);
            r.executed = true;
            r.correct = Some(run.logits == want.logits);
            match (kind, l) {
                ("simulated", Some(_)) => {
                    r.latency_s = run.simulated.get(i).map(|s| s.latency_s);
                    r.latency_kind = "simulated";
                }
                ("emulated", Some(_)) => {
                    r.latency_s = Some(run.wall_s);
                    r.latency_kind = "emulated";
                }
                _ => {}
            }
            r.layers = run
                .layers
                .iter()
                .map(|lr| E2eLayer {
                    name: lr.name.clone(),
                    op: lr.op.clone(),
                    bytes_total: lr.bytes_total,
                    bytes_server_to_client: lr.bytes_server_to_client,
                    bytes_client_to_server: lr.bytes_client_to_server,
                    rounds: lr.rounds,
                    compute_s: Some(lr.compute_s),
                    option: lr.option.clone(),
                })
                .collect();
            if o.breakdown {
                r.breakdown = Some(
                    run.kinds
                        .iter()
                        .map(|k| E2eKind {
                            kind: k.kind.clone(),
                            steps: k.steps,
                            bytes_total: k.bytes_total,
                            bytes_server_to_client: k.bytes_server_to_client,
                            bytes_client_to_server: k.bytes_client_to_server,
                            rounds: k.cost.rounds,
                            compute_s: Some(k.compute_s),
                            step_wall_s: k.step_wall_s.clone(),
                        })
                        .collect(),
                );
            }
            rows.push(r);
        }
    }
    Ok(rows)
}
