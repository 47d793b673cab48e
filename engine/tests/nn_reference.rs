//! Lowering and the plaintext reference executor over the built-in networks.

use pq_engine::nn::builtin;
use pq_engine::nn::config::{self, Config, Weights};
use pq_engine::nn::lower::{self, LowerOptions, Program, StepOp};
use pq_engine::nn::model::Model;
use pq_engine::nn::reference::{self, RefRun};
use pq_engine::nn::signs;

fn models() -> Vec<Model> {
    vec![
        builtin::minionn(),
        builtin::resnet32(),
        builtin::resnet50(32),
        builtin::llama7b_attn(1),
    ]
}

fn run(m: &Model, cfg: Config, seed: u64) -> (Program, RefRun) {
    let p = lower::lower(m, cfg).unwrap();
    let w = Weights::random(&p.model, seed);
    let x = config::random_input(m.input.numel(), cfg.input_bits(), seed);
    let r = reference::run_reference(&p, &w, &x).unwrap();
    (p, r)
}

#[test]
fn lowering_widths_and_shifts_are_valid() {
    for m in models() {
        for cfg in Config::ALL {
            let p = lower::lower(&m, cfg).unwrap_or_else(|e| panic!("{} {cfg}: {e}", m.name));
            for st in &p.steps {
                let (ws, shifts) = st.op.widths();
                assert!(ws.iter().all(|b| (1..=64).contains(b)), "{st:?}");
                assert!(shifts.iter().all(|(s, w)| s < w), "{st:?}");
                assert!(st.inputs.iter().all(|&t| t < st.out));
                assert!(!st.layer.is_empty());
            }
            assert_eq!(p.count("reveal"), 1);
            assert_eq!(p.steps.last().map(|s| s.out), Some(p.output));
            // The metadata the lowering recorded is what the analysis re-derives.
            let iv = signs::analyze(&p);
            for (t, meta) in p.tensors.iter().enumerate() {
                assert_eq!(iv[t], meta.range, "{} {cfg} tensor {t}", m.name);
                assert_eq!(meta.nonneg, meta.range.nonneg(meta.bits));
            }
            // Every linear layer has exactly one accumulator step.
            for (li, _) in p.linear.iter().enumerate() {
                let n = p
                    .steps
                    .iter()
                    .filter(|s| {
                        matches!(s.op, StepOp::LinearSci { lin, .. } | StepOp::LinearExact { lin, .. } if lin == li)
                    })
                    .count();
                assert_eq!(n, 1);
            }
        }
    }
}

#[test]
fn print_step_counts() {
    for m in models() {
        for cfg in Config::ALL {
            let p = lower::lower(&m, cfg).unwrap();
            let c: Vec<String> = p
                .kind_counts()
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            println!("{} {cfg}: {} steps: {}", m.name, p.steps.len(), c.join(" "));
        }
    }
}

#[test]
fn print_minionn_privquant_program() {
    for cfg in [Config::Sirnn, Config::SirnnQuant, Config::PrivQuant] {
        for m in [builtin::minionn(), builtin::resnet32()] {
            let p = lower::lower(&m, cfg).unwrap();
            println!("== {} {cfg}", m.name);
            for st in p.steps.iter().take(40) {
                let o = &p.tensors[st.out];
                println!(
                    "{:>10} {:?} {:?} -> t{} {}b s{} nn={} [{},{}]",
                    st.layer, st.op, st.inputs, st.out, o.bits, o.scale, o.nonneg, o.range.lo, o.range.hi
                );
            }
        }
    }
}

#[test]
fn reference_stats() {
    for m in [builtin::minionn(), builtin::resnet32(), builtin::resnet50(32)] {
        for cfg in Config::ALL {
            let t = std::time::Instant::now();
            let (p, r) = run(&m, cfg, 1);
            let el = t.elapsed();
            let st = reference::relu_stats(&p, &r);
            let s: Vec<String> = st
                .iter()
                .map(|(l, f, mx, lim)| format!("{l}:{:.2}/{mx}/{lim}", f))
                .collect();
            println!("{} {cfg} {:?}: logits[..4]={:?}", m.name, el, &r.logits[..4]);
            println!("   {}", s.join(" "));
        }
    }
}

#[test]
fn calibrated() {
    for m in [builtin::minionn(), builtin::resnet32(), builtin::resnet50(32)] {
        let cfg = Config::PrivQuant;
        let p = lower::lower(&m, cfg).unwrap();
        let w = Weights::random_with(&p.model, 1, config::WeightDist::Symmetric);
        let xs: Vec<Vec<i64>> = (0..2)
            .map(|s| config::random_input(m.input.numel(), 8, 100 + s))
            .collect();
        for cfg in [Config::SirnnQuant, Config::PrivQuant] {
        let sh = reference::calibrate_shifts(&m, cfg, &w, &xs).unwrap();
        println!("{} {cfg} shifts {:?}", m.name, sh);
        let opts = LowerOptions {
            shift_override: sh,
        };
            let p = lower::lower_with(&m, cfg, &opts).unwrap();
            let r = reference::run_reference(&p, &w, &config::random_input(m.input.numel(), 8, 5)).unwrap();
            let st = reference::relu_stats(&p, &r);
            let s: Vec<String> = st
                .iter()
                .map(|(l, f, mx, lim)| format!("{l}:{:.2}/{mx}/{lim}", f))
                .collect();
            println!("{} {cfg} calibrated: logits[..4]={:?}", m.name, &r.logits[..4]);
            println!("   {}", s.join(" "));
        }
    }
}
