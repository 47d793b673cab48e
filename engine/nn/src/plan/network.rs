//! The planner on a real network: exact per-layer communication from the lowered program.
//!
//! For each candidate width b the model is lowered with every conv/FC layer at b, and every
//! step's exact cost is taken from the protocols' cost functions. A step's cost depends on the
//! weight widths of the linear layers whose accumulators reach it without passing a
//! re-quantization or reduce (those produce tensors of a fixed, configured width and scale).
//! Layers that share such a step are coupled into one decision group (e.g. ResNet50's conv3
//! and downsample, which meet in one residual add), so Σ over groups of their costs is the
//! program's exact cost: tests check this against `program_cost` on random mixed assignments.

use super::optimize::{Instance, Option_};
use super::sensitivity;
use crate::config::Config;
use crate::lower::{self, StepOp};
use crate::secure::step_cost;
use crate::{Model, Op};
use pq_proto::Cost;
use pq_proto::ot_calls::amortized_rounds;
use std::collections::{BTreeSet, HashMap};

/// What "communication" means for the planner: the one [`pq_proto::cost::Objective`] (per
/// group, the busier direction over the bandwidth plus rounds × RTT; groups run one after
/// another).
pub use pq_proto::cost::Objective as CommObjective;

/// Why a model cannot be planned.
#[derive(Debug, thiserror::Error)]
pub enum NetPlanError {
    /// Lowering the model with every conv/FC layer at one candidate width failed.
    #[error("lowering the model at {bits}-bit weights failed: {msg}")]
    Lower {
        /// The weight width, in bits.
        bits: u32,
        /// The lowering error.
        msg: String,
    },
    /// A step's cost function failed; holds its message.
    #[error("cost model: {0}")]
    Cost(String),
    /// The programs lowered at two candidate widths differ in more than costs (step count, a
    /// step's inputs, output, kind or layer, or the cost of a step no weight width reaches);
    /// holds the index of the first step that differs.
    #[error("the program's structure changes with the weight width (step {0}); cannot plan")]
    Structure(usize),
    /// Reading weights or Hessian traces failed.
    #[error(transparent)]
    Sensitivity(#[from] sensitivity::SensitivityError),
}

/// One decision group: linear layers that must share a width.
#[derive(Clone, Debug)]
pub struct Group {
    /// Model layer indices.
    pub layers: Vec<usize>,
    /// The layers' names, in the order of `layers`.
    pub names: Vec<String>,
    /// Exact cost of the group's steps at each candidate width (indexed like
    /// [`CommTable::widths`]).
    pub cost: Vec<Cost>,
}

/// Per-group costs at every candidate width, plus the width-independent rest.
#[derive(Clone, Debug)]
pub struct CommTable {
    /// The candidate weight widths, in bits.
    pub widths: Vec<u32>,
    /// The decision groups; every conv/FC layer is in exactly one.
    pub groups: Vec<Group>,
    /// Steps that no weight width affects.
    pub constant: Cost,
}

/// The model with every conv/FC layer's weight width set to `bits`.
pub fn with_uniform_wbits(model: &Model, bits: u32) -> Model {
    let mut m = model.clone();
    for l in m.layers.iter_mut() {
        if matches!(l.op, Op::Conv { .. } | Op::Fc { .. }) {
            l.quant.wbits = bits;
        }
    }
    m
}

/// The model with the given weight width per model layer index.
pub fn with_wbits(model: &Model, bits: &HashMap<usize, u32>) -> Model {
    let mut m = model.clone();
    for (i, l) in m.layers.iter_mut().enumerate() {
        if let Some(&b) = bits.get(&i) {
            l.quant.wbits = b;
        }
    }
    m
}

fn find(p: &mut [usize], x: usize) -> usize {
    let mut r = x;
    while p[r] != r {
        r = p[r];
    }
    let mut y = x;
    while p[y] != r {
        let n = p[y];
        p[y] = r;
        y = n;
    }
    r
}

/// Build the exact communication table of `model` under `cfg` for the candidate `widths`.
pub fn comm_table(model: &Model, cfg: Config, widths: &[u32]) -> Result<CommTable, NetPlanError> {
    comm_table_with(model, cfg, widths, &lower::LowerOptions::default())
}

/// [`comm_table`] with lowering options (e.g. the linear-layer planner's objective, so the
/// predicted costs are those of an `e2e --objective latency` run).
pub fn comm_table_with(
    model: &Model,
    cfg: Config,
    widths: &[u32],
    opts: &lower::LowerOptions,
) -> Result<CommTable, NetPlanError> {
    let progs: Vec<lower::Program> = widths
        .iter()
        .map(|&b| {
            lower::lower_with(&with_uniform_wbits(model, b), cfg, opts).map_err(|e| {
                NetPlanError::Lower {
                    bits: b,
                    msg: e.to_string(),
                }
            })
        })
        .collect::<Result<_, _>>()?;
    let p0 = &progs[0];
    for p in &progs[1..] {
        if p.steps.len() != p0.steps.len() {
            return Err(NetPlanError::Structure(p.steps.len().min(p0.steps.len())));
        }
        for (j, (a, b)) in p0.steps.iter().zip(&p.steps).enumerate() {
            if a.inputs != b.inputs
                || a.out != b.out
                || a.op.kind() != b.op.kind()
                || a.layer != b.layer
            {
                return Err(NetPlanError::Structure(j));
            }
        }
    }
    // model layer index of each linear step
    let lin_layer: Vec<Option<usize>> = p0
        .steps
        .iter()
        .map(|s| match s.op {
            StepOp::LinearExact { lin, .. } | StepOp::LinearSci { lin, .. } => {
                Some(p0.linear[lin].layer)
            }
            _ => None,
        })
        .collect();
    // dependency sets: tensor -> linear layers whose width reaches it
    let mut tdep: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); p0.tensors.len()];
    let mut sdep: Vec<BTreeSet<usize>> = Vec::with_capacity(p0.steps.len());
    for (j, s) in p0.steps.iter().enumerate() {
        let mut d: BTreeSet<usize> = BTreeSet::new();
        for &t in &s.inputs {
            d.extend(tdep[t].iter().copied());
        }
        if let Some(l) = lin_layer[j] {
            d.insert(l);
        }
        let resets = matches!(s.op, StepOp::Requant { .. } | StepOp::Reduce { .. });
        tdep[s.out] = if resets { BTreeSet::new() } else { d.clone() };
        sdep.push(d);
    }
    // A step depends on everything its model layer depends on: e.g. the residual alignment
    // (shift and extension of the shortcut) takes its shift from the accumulator it joins.
    let mut layer_dep: HashMap<&str, BTreeSet<usize>> = HashMap::new();
    for (s, d) in p0.steps.iter().zip(&sdep) {
        layer_dep
            .entry(s.layer.as_str())
            .or_default()
            .extend(d.iter().copied());
    }
    let sdep: Vec<BTreeSet<usize>> = p0
        .steps
        .iter()
        .map(|s| layer_dep[s.layer.as_str()].clone())
        .collect();
    // couple layers that share a step
    let nl = model.layers.len();
    let mut uf: Vec<usize> = (0..nl).collect();
    for d in &sdep {
        let v: Vec<usize> = d.iter().copied().collect();
        for w in v.windows(2) {
            let (a, b) = (find(&mut uf, w[0]), find(&mut uf, w[1]));
            if a != b {
                uf[a] = b;
            }
        }
    }
    let linear: Vec<usize> = (0..nl)
        .filter(|&i| model.layers[i].op.is_linear())
        .collect();
    let mut root_to_group: HashMap<usize, usize> = HashMap::new();
    let mut groups: Vec<Group> = vec![];
    for &i in &linear {
        let r = find(&mut uf, i);
        let g = *root_to_group.entry(r).or_insert_with(|| {
            groups.push(Group {
                layers: vec![],
                names: vec![],
                cost: vec![Cost::ZERO; widths.len()],
            });
            groups.len() - 1
        });
        groups[g].layers.push(i);
        groups[g].names.push(model.layers[i].name.clone());
    }
    let mut constant = Cost::ZERO;
    let kind = p0.feat.profile().ot;
    // A step's exact cost plus its steady-state share of the COT source's rounds.
    let cost = |p: &lower::Program, s: &lower::Step| -> Result<Cost, NetPlanError> {
        let c = step_cost(p, s).map_err(|e| NetPlanError::Cost(e.to_string()))?;
        Ok(c.then(amortized_rounds(kind, &c)))
    };
    for (wi, p) in progs.iter().enumerate() {
        for (j, s) in p.steps.iter().enumerate() {
            let c = cost(p, s)?;
            match sdep[j].iter().next() {
                None => {
                    if wi == 0 {
                        constant = constant.then(c);
                    } else if c != cost(&progs[0], &progs[0].steps[j])? {
                        return Err(NetPlanError::Structure(j));
                    }
                }
                Some(&l) => {
                    let g = root_to_group[&find(&mut uf, l)];
                    groups[g].cost[wi] = groups[g].cost[wi].then(c);
                }
            }
        }
    }
    Ok(CommTable {
        widths: widths.to_vec(),
        groups,
        constant,
    })
}

/// The optimizer instance: per group and width, the objective value of its cost and its Ω.
pub fn instance(
    table: &CommTable,
    objective: CommObjective,
    omega: &HashMap<(usize, u32), f64>,
) -> Instance {
    Instance {
        layers: table
            .groups
            .iter()
            .map(|g| {
                table
                    .widths
                    .iter()
                    .enumerate()
                    .map(|(wi, &b)| Option_ {
                        bits: b,
                        comm: objective.of(&g.cost[wi]),
                        omega: g
                            .layers
                            .iter()
                            .map(|&l| omega.get(&(l, b)).copied().unwrap_or(0.0))
                            .sum(),
                    })
                    .collect()
            })
            .collect(),
    }
}

/// Ω per (layer, width) from float weights and Hessian traces (trace 1 when absent).
pub fn omegas(
    model: &Model,
    weights: &HashMap<String, Vec<f32>>,
    traces: Option<&HashMap<String, f64>>,
    widths: &[u32],
) -> HashMap<(usize, u32), f64> {
    use rayon::prelude::*;
    let per_layer: Vec<Vec<((usize, u32), f64)>> = model
        .linear_layers()
        .into_par_iter()
        .map(|i| {
            let name = &model.layers[i].name;
            let Some(w) = weights.get(name) else {
                return vec![];
            };
            let tr = traces.and_then(|t| t.get(name).copied()).unwrap_or(1.0);
            widths
                .iter()
                .map(|&b| ((i, b), sensitivity::omega(tr, w, b)))
                .collect()
        })
        .collect();
    per_layer.into_iter().flatten().collect()
}

/// The exact program cost of a width assignment, from the table: the constant plus each
/// group's cost at its chosen width (groups in sequence).
pub fn table_cost(table: &CommTable, choice: &[usize]) -> Cost {
    table
        .groups
        .iter()
        .zip(choice)
        .fold(table.constant, |c, (g, &wi)| c.then(g.cost[wi]))
}

/// The planned model: each layer gets its group's chosen width.
pub fn planned_model(model: &Model, table: &CommTable, choice: &[usize]) -> Model {
    let mut bits = HashMap::new();
    for (g, &wi) in table.groups.iter().zip(choice) {
        for &l in &g.layers {
            bits.insert(l, table.widths[wi]);
        }
    }
    with_wbits(model, &bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin;
    use crate::secure::{program_cost, step_cost};
    use pq_kernels::Block;
    use pq_kernels::aes::Prg;

    /// Σ over groups + constant equals program_cost for random mixed width assignments.
    #[test]
    fn table_is_exact_on_mixed_assignments() {
        let widths = sensitivity::WIDTHS;
        for (m, trials) in [
            (builtin::minionn(), 4),
            (builtin::resnet32(), 3),
            (builtin::resnet50(32), 2),
        ] {
            let t = comm_table(&m, Config::PrivQuant, &widths).unwrap();
            let mut prg = Prg::new(Block(77));
            for _ in 0..trials {
                let choice: Vec<usize> = t
                    .groups
                    .iter()
                    .map(|_| (prg.next_u64() % widths.len() as u64) as usize)
                    .collect();
                let planned = planned_model(&m, &t, &choice);
                let p = lower::lower(&planned, Config::PrivQuant).unwrap();
                let want = program_cost(&p).unwrap();
                let got = table_cost(&t, &choice);
                assert_eq!(got.server_to_client, want.server_to_client, "{}", m.name);
                assert_eq!(got.client_to_server, want.client_to_server, "{}", m.name);
                assert_eq!(got.rounds, want.rounds, "{}", m.name);
            }
        }
    }

    /// On Ferret the table adds each step's steady-state share of the LPN rounds: bytes within
    /// one round (plus the bootstrap round) per direction of the executed charge, and the same
    /// ordering as the exact costs, for `privquant` on Ferret and `privquant-he` (Ferret by
    /// default).
    #[test]
    fn table_prices_ferret_rounds_within_one_round() {
        use pq_proto::ot_calls::CotState;
        // the bootstrap round's bytes and a steady round's, from the executor's own meter
        let draw = |n: u64| Cost {
            cots: [n, 0],
            ..Cost::ZERO
        };
        let mut st8 = CotState::new(pq_proto::OtKind::Ferret);
        let first = st8.charge(&draw(1)).server_to_client;
        let steady = st8.charge(&draw(1 << 30)).server_to_client / st8.meters[0].rounds.max(2);
        let slack = first + steady;
        for (cfg, ot) in [
            (Config::PrivQuant, Some(pq_proto::OtKind::Ferret)),
            (Config::PrivQuantHe, None),
        ] {
            let opts = lower::LowerOptions {
                features: ot.map(|k| cfg.features().with_ot(k)),
                ..Default::default()
            };
            for m in [builtin::minionn(), builtin::resnet32()] {
                let t = comm_table_with(&m, cfg, &sensitivity::WIDTHS, &opts).unwrap();
                let mut prg = Prg::new(Block(78));
                let mut charged = 0u64;
                for _ in 0..3 {
                    let choice: Vec<usize> = t
                        .groups
                        .iter()
                        .map(|_| (prg.next_u64() % t.widths.len() as u64) as usize)
                        .collect();
                    let planned = planned_model(&m, &t, &choice);
                    let p = lower::lower_with(&planned, cfg, &opts).unwrap();
                    let want = program_cost(&p).unwrap();
                    let exact: Cost = p.steps.iter().map(|s| step_cost(&p, s).unwrap()).sum();
                    charged += want.total() - exact.total();
                    let got = table_cost(&t, &choice);
                    for (g, w) in [
                        (got.server_to_client, want.server_to_client),
                        (got.client_to_server, want.client_to_server),
                    ] {
                        assert!(
                            g.abs_diff(w) <= slack,
                            "{} {}: table {g} B, charged {w} B",
                            m.name,
                            cfg.name()
                        );
                    }
                }
                // the rounds are really there: at least one full round per run
                assert!(charged >= 3 * first, "{}", m.name);
            }
        }
    }

    #[test]
    fn every_linear_layer_is_in_exactly_one_group() {
        let m = builtin::resnet50(32);
        let t = comm_table(&m, Config::PrivQuant, &[2, 4]).unwrap();
        let mut seen: Vec<usize> = t
            .groups
            .iter()
            .flat_map(|g| g.layers.iter().copied())
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, m.linear_layers());
    }
}

#[cfg(test)]
mod scale_tests {
    use super::*;
    use crate::builtin;
    use crate::plan::optimize::pareto_front;
    use crate::secure::program_cost;

    /// ResNet50 (224): one exact check of a mixed assignment, and planning a 20-point
    /// Pareto front (the target is at most 2 s in a release build).
    #[test]
    fn resnet50_exact_and_planning_time() {
        let m = builtin::resnet50(224);
        let t0 = std::time::Instant::now();
        let t = comm_table(&m, Config::PrivQuant, &sensitivity::WIDTHS).unwrap();
        let t1 = t0.elapsed().as_secs_f64();
        let w = sensitivity::synthetic_weights(&m, 1);
        let om = omegas(&m, &w, None, &sensitivity::WIDTHS);
        let t2 = t0.elapsed().as_secs_f64();
        let inst = instance(&t, CommObjective::Bytes, &om);
        let front = pareto_front(&inst, 20).unwrap();
        eprintln!(
            "table {t1:.2} s, omegas {:.2} s, front {:.2} s",
            t2 - t1,
            t0.elapsed().as_secs_f64() - t2
        );
        let secs = t0.elapsed().as_secs_f64();
        eprintln!(
            "resnet50: {} groups, front of {} points in {secs:.2} s",
            t.groups.len(),
            front.len()
        );
        assert_eq!(t.groups.len(), m.linear_layers().len());
        let mid = &front[front.len() / 2];
        let planned = planned_model(&m, &t, &mid.choice);
        let want = program_cost(&lower::lower(&planned, Config::PrivQuant).unwrap()).unwrap();
        assert_eq!(table_cost(&t, &mid.choice), want);
        assert_eq!(mid.comm + t.constant.total(), want.total());
    }
}
