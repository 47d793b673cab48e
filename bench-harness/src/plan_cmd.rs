//! `bench-harness plan`: communication-aware mixed precision on exact costs.

use crate::e2e_cmd::load_model;
use crate::util::{print_json_line, usage};
use anyhow::Context;
use clap::Args;
use pq_netsim::LinkSpec;
use pq_nn::config::{self, Config};
use pq_nn::json;
use pq_nn::plan::network::{
    CommObjective, comm_table_with, instance, omegas, planned_model, table_cost,
};
use pq_nn::plan::optimize::{PlanError, pareto_front, solve};
use pq_nn::plan::sensitivity::{self, WIDTHS};
use serde_json::json;

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// The network: a built-in name (minionn, resnet32, resnet50, ...) or a model JSON file.
    #[arg(long)]
    pub model: String,
    /// Float weights (`<layer>.weight` tensors); synthetic He-normal weights without it.
    #[arg(long)]
    pub weights: Option<String>,
    /// Per-layer Hessian traces (JSON object, layer name -> trace); trace 1 without it.
    #[arg(long)]
    pub hessian: Option<String>,
    /// Communication budget: bytes with a unit (0.5GB, 300MB, 1200kB, 1000B) for
    /// `--objective bytes`, or a time (30s, 1500ms) for `--objective latency`.
    #[arg(long, conflicts_with = "pareto")]
    pub budget: Option<String>,
    /// Write the Pareto front of N points instead of one plan.
    #[arg(long)]
    pub pareto: Option<usize>,
    /// What the budget bounds: `bytes` on the wire, or `latency` on the link of --net.
    #[arg(long, default_value = "bytes")]
    pub objective: String,
    /// The link of `--objective latency`.
    #[arg(long)]
    pub net: Option<String>,
    /// The configuration whose protocols are costed.
    #[arg(long, default_value = "privquant")]
    pub protocol: String,
    /// The correlated-OT source the plan is costed on: `iknp`, `softspoken:K` or `ferret`
    /// (default: the configuration's own). On Ferret each step carries its share of the LPN
    /// rounds; run the planned model with the same `--ot`.
    #[arg(long)]
    pub ot: Option<String>,
    /// The planned model JSON to write (default results/plan-<model>.json); with --pareto,
    /// its `-pareto.json` and `-pareto.svg` siblings instead.
    #[arg(long)]
    pub out: Option<String>,
    /// Seed of the synthetic weights used without --weights.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Tokens of llama7b-attn.
    #[arg(long, default_value_t = 1)]
    pub tokens: usize,
    /// Also print the plan (or the Pareto points) as one JSON line on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Parse a budget in the objective's unit: bytes (decimal units) or nanoseconds.
pub fn parse_budget(s: &str, latency: bool) -> Result<u64, String> {
    let t = s.trim();
    let (num, unit) = bench_harness::memory::split_amount(t);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("--budget: `{s}` does not start with a number"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("--budget: `{s}` is not a non-negative amount"));
    }
    let mult = if latency {
        match unit.to_ascii_lowercase().as_str() {
            "s" => 1e9,
            "ms" => 1e6,
            "us" => 1e3,
            "" => {
                return Err(format!(
                    "--budget: `{s}` has no unit (accepted for latency: s, ms, us)"
                ));
            }
            u => {
                return Err(format!(
                    "--budget: unknown unit `{u}` (accepted for latency: s, ms, us)"
                ));
            }
        }
    } else {
        match unit {
            "B" => 1.0,
            "kB" | "KB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            "TB" => 1e12,
            "" => {
                return Err(format!(
                    "--budget: `{s}` has no unit (accepted: B, kB, MB, GB, TB; decimal)"
                ));
            }
            u => {
                return Err(format!(
                    "--budget: unknown unit `{u}` (accepted: B, kB, MB, GB, TB; decimal)"
                ));
            }
        }
    };
    Ok((v * mult).round() as u64)
}

pub fn run(a: PlanArgs) -> anyhow::Result<()> {
    let model = load_model("--model", &a.model, a.tokens)?;
    let cfg: Config = a
        .protocol
        .parse()
        .or_else(|e: String| usage(format!("--protocol: {e}")))?;
    let link = match &a.net {
        Some(n) => Some(LinkSpec::parse(n).or_else(|e| usage(format!("--net: {e}")))?),
        None => None,
    };
    let objective = CommObjective::parse(&a.objective, link).or_else(usage)?;
    let latency = matches!(objective, CommObjective::Latency(_));
    let budget = match (&a.budget, a.pareto) {
        (Some(b), None) => Some(parse_budget(b, latency).or_else(usage)?),
        (None, Some(0)) => return usage("--pareto: expected at least 1 point"),
        (None, Some(_)) => None,
        _ => return usage("give exactly one of --budget SIZE or --pareto N"),
    };
    // Where the model goes, checked before any work.
    let out_base = a
        .out
        .clone()
        .unwrap_or_else(|| format!("results/plan-{}.json", model.name));
    if let Some(dir) = std::path::Path::new(&out_base).parent() {
        let dir = if dir.as_os_str().is_empty() {
            std::path::Path::new(".")
        } else {
            dir
        };
        crate::util::check_writable("--out", dir)?;
    }
    // Weights and traces, each validated against the model.
    let (weights, synthetic_w) = match &a.weights {
        Some(f) => {
            let bytes = std::fs::read(f).with_context(|| format!("--weights: cannot read {f}"))?;
            (
                sensitivity::load_safetensors(&model, &bytes)
                    .or_else(|e| usage(format!("--weights {f}: {e}")))?,
                false,
            )
        }
        None => (sensitivity::synthetic_weights(&model, a.seed), true),
    };
    let traces = match &a.hessian {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("--hessian: cannot read {f}"))?;
            Some(
                sensitivity::parse_traces(&model, &text)
                    .or_else(|e| usage(format!("--hessian {f}: {e}")))?,
            )
        }
        None => None,
    };
    eprintln!(
        "planning {} under {} ({}; {})",
        model.name,
        cfg.name(),
        if synthetic_w {
            "SYNTHETIC weights: seeded He-normal"
        } else {
            "weights from file"
        },
        if traces.is_none() {
            "SYNTHETIC Hessian traces: all 1"
        } else {
            "Hessian traces from file"
        }
    );
    // the linear-layer planner minimises the same objective as the width planner
    let lo = crate::e2e_cmd::with_ot(
        pq_nn::lower::LowerOptions {
            objective,
            ..Default::default()
        },
        a.ot.as_deref(),
        cfg,
    )?;
    let ot = lo.features.unwrap_or(cfg.features()).ot;
    eprintln!("costed on the {ot} COT source");
    let table = comm_table_with(&model, cfg, &WIDTHS, &lo).map_err(|e| anyhow::anyhow!("{e}"))?;
    let om = omegas(&model, &weights, traces.as_ref(), &WIDTHS);
    let inst = instance(&table, objective, &om);
    let constant = objective.of(&table.constant);
    // The pinned configuration (e.g. privquant: 2-bit middle layers, 8-bit first and last), for
    // reference: its communication and its Σ Ω on the same inputs.
    let pinned_model = config::apply(&model, cfg);
    let pinned: Option<(Vec<usize>, u64, f64)> = (|| {
        let mut choice = vec![];
        let mut omega = 0.0;
        for g in &table.groups {
            let b = pinned_model.layers[g.layers[0]].quant.wbits;
            if g.layers
                .iter()
                .any(|&l| pinned_model.layers[l].quant.wbits != b)
            {
                return None;
            }
            let wi = WIDTHS.iter().position(|&w| w == b)?;
            omega += g
                .layers
                .iter()
                .map(|&l| om.get(&(l, b)).copied().unwrap_or(0.0))
                .sum::<f64>();
            choice.push(wi);
        }
        let c = objective.of(&table_cost(&table, &choice));
        Some((choice, c, omega))
    })();
    if let Some((_, c, o)) = &pinned {
        eprintln!(
            "pinned {} widths: {c} {} , Σ Ω = {o:.6e}",
            cfg.name(),
            if latency { "ns" } else { "B" }
        );
    }
    let unit = if latency { "ns" } else { "B" };
    if let Some(n) = a.pareto {
        let front = pareto_front(&inst, n).map_err(|e| plan_error(&table, e))?;
        let pts: Vec<serde_json::Value> = front
            .iter()
            .map(|s| {
                json!({"comm": s.comm + constant, "unit": unit, "omega": s.omega,
                "widths": widths_json(&model, &table, &s.choice)})
            })
            .collect();
        let path = out_base.trim_end_matches(".json").to_string() + "-pareto.json";
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&json!({"model": model.name, "points": pts}))?,
        )
        .with_context(|| format!("writing {path}"))?;
        let svg = out_base.trim_end_matches(".json").to_string() + "-pareto.svg";
        write_front_svg(
            &svg,
            &front
                .iter()
                .map(|s| ((s.comm + constant) as f64, s.omega))
                .collect::<Vec<_>>(),
            unit,
        )?;
        eprintln!("{} Pareto points -> {path}, {svg}", front.len());
        if a.json {
            print_json_line(&json!({"op": "plan", "model": model.name, "pareto": pts}));
        }
        return Ok(());
    }
    let budget = budget.unwrap_or(0);
    let inner = budget.saturating_sub(constant);
    let sol = match solve(&inst, inner) {
        Ok(s) => s,
        Err(PlanError::Infeasible { min_budget, .. }) => {
            return usage(format!(
                "--budget {}: infeasible; the smallest feasible budget is {} {unit}",
                a.budget.as_deref().unwrap_or(""),
                min_budget + constant
            ));
        }
        Err(e) => return Err(plan_error(&table, e)),
    };
    let planned = config::apply(&planned_model(&model, &table, &sol.choice), cfg);
    std::fs::write(
        &out_base,
        serde_json::to_string_pretty(&json::to_json(&planned))?,
    )
    .with_context(|| format!("writing {out_base}"))?;
    // The planned model's exact cost, as a run charges it (the table prices COT-source rounds
    // at their steady-state share; this charges them as they fall).
    let cost = pq_nn::lower::lower_with(&planned, cfg, &lo)
        .map_err(|e| anyhow::anyhow!("lowering the planned model: {e}"))
        .and_then(|p| pq_nn::secure::program_cost(&p).map_err(|e| anyhow::anyhow!("{e}")))?;
    eprintln!(
        "plan: predicted {} B ({:.3} GB; objective {} {unit} within budget {budget}), Σ Ω = {:.6e}; model written to {out_base}",
        cost.total(),
        cost.total() as f64 / 1e9,
        sol.comm + constant,
        sol.omega
    );
    let over_budget = !latency && cost.total() > budget;
    if over_budget {
        eprintln!(
            "note: the exact cost is {} B over the budget: the table prices the {ot} source's rounds at their average share, and they fall in whole rounds",
            cost.total() - budget
        );
    }
    if a.json {
        print_json_line(&json!({
            "op": "plan", "model": model.name, "predicted_bytes": cost.total(), "ot": ot.name(), "over_budget": over_budget,
            "objective": a.objective, "objective_value": sol.comm + constant, "objective_unit": unit,
            "omega": sol.omega, "budget_bytes": if latency { serde_json::Value::Null } else { json!(budget) },
            "budget": budget, "widths": widths_json(&model, &table, &sol.choice), "out": out_base,
            "synthetic_weights": synthetic_w, "synthetic_traces": traces.is_none(),
            "pinned_objective_value": pinned.as_ref().map(|p| p.1), "pinned_omega": pinned.as_ref().map(|p| p.2),
        }));
    }
    Ok(())
}

/// A planner error with the decision group named by its layers (the planner numbers groups).
fn plan_error(table: &pq_nn::plan::network::CommTable, e: PlanError) -> anyhow::Error {
    let name = |g: usize| {
        table
            .groups
            .get(g)
            .map(|g| g.names.join("+"))
            .unwrap_or_else(|| format!("#{g}"))
    };
    match e {
        PlanError::BadOmega { layer, omega } => anyhow::anyhow!(
            "layer '{}': its sensitivity Ω = {omega} is not a finite non-negative number (check the --weights or --hessian values for this layer)",
            name(layer)
        ),
        PlanError::EmptyLayer(g) => {
            anyhow::anyhow!("layer '{}' has no candidate weight widths", name(g))
        }
        e => anyhow::anyhow!("{e}"),
    }
}

fn widths_json(
    model: &pq_nn::Model,
    table: &pq_nn::plan::network::CommTable,
    choice: &[usize],
) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for (g, &wi) in table.groups.iter().zip(choice) {
        for &l in &g.layers {
            m.insert(model.layers[l].name.clone(), json!(table.widths[wi]));
        }
    }
    serde_json::Value::Object(m)
}

fn write_front_svg(path: &str, pts: &[(f64, f64)], unit: &str) -> anyhow::Result<()> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("svg: {e}"))?;
    let xmax = pts.iter().map(|p| p.0).fold(1.0, f64::max);
    let ymax = pts.iter().map(|p| p.1).fold(1e-12, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Pareto front: communication vs sensitivity",
            ("sans-serif", 20),
        )
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..xmax * 1.05, 0f64..ymax * 1.05)
        .map_err(|e| anyhow::anyhow!("svg: {e}"))?;
    chart
        .configure_mesh()
        .x_desc(format!("communication ({unit})"))
        .y_desc("sum of Omega")
        .draw()
        .map_err(|e| anyhow::anyhow!("svg: {e}"))?;
    chart
        .draw_series(LineSeries::new(pts.iter().copied(), &BLUE))
        .map_err(|e| anyhow::anyhow!("svg: {e}"))?;
    chart
        .draw_series(pts.iter().map(|p| Circle::new(*p, 3, BLUE.filled())))
        .map_err(|e| anyhow::anyhow!("svg: {e}"))?;
    root.present().map_err(|e| anyhow::anyhow!("svg: {e}"))?;
    Ok(())
}
