//! Lowering and the plaintext reference executor over the built-in networks.

use pq_nn::builtin;
use pq_nn::config::{self, Config, Weights};
use pq_nn::lower::{self, LowerOptions, Program, StepOp};
use pq_nn::model::Model;
use pq_nn::reference::{self, RefRun};
use pq_nn::signs;

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
    let x = config::random_input(m.input.numel(), m.encoding, seed);
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
fn reference_stats() {
    for m in [
        builtin::minionn(),
        builtin::resnet32(),
        builtin::resnet50(32),
    ] {
        for cfg in Config::ALL {
            let t = std::time::Instant::now();
            let (p, r) = run(&m, cfg, 1);
            let el = t.elapsed();
            let st = reference::relu_stats(&p, &r);
            let s: Vec<String> = st
                .iter()
                .map(|(l, f, mx, lim)| format!("{l}:{:.2}/{mx}/{lim}", f))
                .collect();
            println!(
                "{} {cfg} {:?}: logits[..4]={:?}",
                m.name,
                el,
                &r.logits[..4]
            );
            println!("   {}", s.join(" "));
        }
    }
}

#[test]
fn calibrated() {
    for m in [
        builtin::minionn(),
        builtin::resnet32(),
        builtin::resnet50(32),
    ] {
        let cfg = Config::PrivQuant;
        let p = lower::lower(&m, cfg).unwrap();
        let w = Weights::random_with(&p.model, 1, config::WeightDist::Symmetric);
        let xs: Vec<Vec<i64>> = (0..2)
            .map(|s| config::random_input(m.input.numel(), m.encoding, 100 + s))
            .collect();
        for cfg in [Config::SirnnQuant, Config::PrivQuant] {
            let sh = reference::calibrate_shifts(&m, cfg, &w, &xs).unwrap();
            println!("{} {cfg} shifts {:?}", m.name, sh);
            let opts = LowerOptions {
                shift_override: sh,
                ..Default::default()
            };
            let p = lower::lower_with(&m, cfg, &opts).unwrap();
            let r = reference::run_reference(
                &p,
                &w,
                &config::random_input(m.input.numel(), m.encoding, 5),
            )
            .unwrap();
            let st = reference::relu_stats(&p, &r);
            let s: Vec<String> = st
                .iter()
                .map(|(l, f, mx, lim)| format!("{l}:{:.2}/{mx}/{lim}", f))
                .collect();
            println!(
                "{} {cfg} calibrated: logits[..4]={:?}",
                m.name,
                &r.logits[..4]
            );
            println!("   {}", s.join(" "));
        }
    }
}

fn count_layer(p: &Program, kind: &str, layer: &str) -> usize {
    p.layer_steps(layer).filter(|s| s.op.kind() == kind).count()
}

#[test]
fn step_counts_minionn_resnet32() {
    let m = builtin::minionn();
    let p = lower::lower(&m, Config::Sirnn).unwrap();
    // 8 linear layers + 2 avg-pools; one reduce 32 -> 16 per conv/FC input except conv1
    assert_eq!(p.count("linear_sci"), 8);
    assert_eq!(p.count("div_pow2"), 10);
    assert_eq!(p.count("reduce"), 7);
    assert_eq!(p.count("relu"), 7);
    assert_eq!(p.elements("relu"), 173_056);
    assert_eq!(count_layer(&p, "div_pow2", "conv2"), 1);
    let p = lower::lower(&m, Config::SirnnQuant).unwrap();
    // 7 conv rescales (the FC has none) + 2 pools
    assert_eq!(p.count("div_pow2"), 9);
    assert_eq!(p.count("s_extend"), 2);
    for cfg in [Config::PrivQuant, Config::PrivQuantW4] {
        let p = lower::lower(&m, cfg).unwrap();
        assert_eq!(p.count("linear_exact"), 8);
        assert_eq!(p.count("requant"), 7);
        assert_eq!(p.count("trunc"), 2);
        assert_eq!(p.count("div_pow2"), 0);
        // pool inputs are ReLU outputs: known-MSB extensions
        assert!(p.steps.iter().all(|s| !matches!(
            s.op,
            StepOp::SExt {
                msb_known: false,
                ..
            }
        )));
    }

    let m = builtin::resnet32();
    let p = lower::lower(&m, Config::Sirnn).unwrap();
    assert_eq!(p.count("linear_sci"), 32);
    assert_eq!(p.count("div_pow2"), 32 + 15 + 1);
    assert_eq!(p.count("s_extend"), 15);
    assert_eq!(p.count("reduce"), 31);
    assert_eq!(p.elements("relu"), 303_104);
    let p = lower::lower(&m, Config::SirnnQuant).unwrap();
    // 31 convs + 15 demotes + gap + 15 residual -> activation (8 -> 6) steps
    assert_eq!(p.count("div_pow2"), 31 + 15 + 1 + 15);
    assert_eq!(count_layer(&p, "s_extend", "s1b1.add"), 2);
    assert!(p.steps.iter().all(|s| !matches!(
        s.op,
        StepOp::SExt {
            msb_known: true,
            ..
        }
    )));
    let p = lower::lower(&m, Config::PrivQuant).unwrap();
    // 16 non-branch convs + 15 residual requants + 15 (8 -> 6) requants
    assert_eq!(p.count("requant"), 16 + 15 + 15);
    assert_eq!(p.count("shift_left"), 15);
    assert_eq!(p.count("add"), 15);
    assert_eq!(count_layer(&p, "relu", "s2b0.relu"), 1);
}

#[test]
fn reference_is_deterministic_and_fast() {
    for m in [
        builtin::minionn(),
        builtin::resnet32(),
        builtin::resnet50(32),
    ] {
        for cfg in Config::ALL {
            let t = std::time::Instant::now();
            let (p, a) = run(&m, cfg, 11);
            assert!(t.elapsed().as_secs() < 30, "{} {cfg}", m.name);
            let (_, b) = run(&m, cfg, 11);
            assert_eq!(a, b);
            assert_eq!(a.logits.len(), p.tensors[p.output].shape.numel());
            assert_eq!(a.values.len(), p.tensors.len());
        }
    }
}

/// Calibrated privquant run with symmetric weights (activations use their range).
fn calibrated_run(m: &Model, cfg: Config, seed: u64) -> (Program, RefRun) {
    let p0 = lower::lower(m, cfg).unwrap();
    let w = Weights::random_with(&p0.model, seed, config::WeightDist::Symmetric);
    let xs = vec![config::random_input(
        m.input.numel(),
        m.encoding,
        seed + 1000,
    )];
    let sh = reference::calibrate_shifts(m, cfg, &w, &xs).unwrap();
    let opts = LowerOptions {
        shift_override: sh,
        ..Default::default()
    };
    let p = lower::lower_with(m, cfg, &opts).unwrap();
    let x = config::random_input(m.input.numel(), m.encoding, seed);
    let r = reference::run_reference(&p, &w, &x).unwrap();
    (p, r)
}

fn check_sound(p: &Program, r: &RefRun, what: &str) -> usize {
    let mut marked = 0;
    for (t, meta) in p.tensors.iter().enumerate() {
        let lim = signs::Interval::full(meta.bits);
        for &v in &r.values[t] {
            let v = v as i128;
            assert!(
                v >= lim.lo && v <= lim.hi,
                "{what}: t{t} value {v} outside {} bits",
                meta.bits
            );
            assert!(
                v >= meta.range.lo && v <= meta.range.hi,
                "{what}: t{t} value {v} outside proven {:?}",
                meta.range
            );
        }
        if meta.nonneg {
            marked += 1;
            assert!(
                r.values[t].iter().all(|&v| v >= 0),
                "{what}: t{t} marked non-negative"
            );
        }
    }
    marked
}

#[test]
fn sign_pass_is_sound() {
    for m in [
        builtin::minionn(),
        builtin::resnet32(),
        builtin::resnet50(32),
    ] {
        for cfg in Config::ALL {
            for seed in [1, 2] {
                let (p, r) = run(&m, cfg, seed);
                let n = check_sound(&p, &r, &format!("{} {cfg} pinned", m.name));
                assert!(n > 0);
            }
        }
        for cfg in [Config::PrivQuant, Config::PrivQuantW4] {
            let (p, r) = calibrated_run(&m, cfg, 3);
            check_sound(&p, &r, &format!("{} {cfg} calibrated", m.name));
            // the calibrated run uses the range: no late ReLU layer is all zero
            let stats = reference::relu_stats(&p, &r);
            assert!(
                stats.iter().all(|(_, f, _, _)| *f > 0.05),
                "{} {cfg}: {stats:?}",
                m.name
            );
            assert!(r.logits.iter().any(|&v| v != 0));
            let full = LowerOptions {
                full_range: true,
                ..Default::default()
            };
            let pf = lower::lower_with(&m, cfg, &full).unwrap();
            let w = Weights::random(&pf.model, 5);
            let x = config::random_input(m.input.numel(), m.encoding, 5);
            let rf = reference::run_reference(&pf, &w, &x).unwrap();
            check_sound(&pf, &rf, &format!("{} {cfg} full-range", m.name));
        }
    }
}

#[test]
fn llama_runs() {
    let m = builtin::llama7b_attn(1);
    for cfg in Config::ALL {
        let p = lower::lower(&m, cfg).unwrap();
        assert_eq!(p.linear.len(), 4);
        assert!(p.linear.iter().all(|l| l.d2 == 4096));
    }
}

#[test]
fn resnet50_224_lowers() {
    let m = builtin::resnet50(224);
    for cfg in Config::ALL {
        let p = lower::lower(&m, cfg).unwrap();
        assert_eq!(p.linear.len(), 54);
        assert_eq!(p.elements("relu"), 9_608_704);
    }
}

/// `cargo test -p pq-nn --test reference -- --ignored --nocapture`
#[test]
#[ignore]
fn resnet50_224_reference_time() {
    let m = builtin::resnet50(224);
    for cfg in [Config::Sirnn, Config::PrivQuant] {
        let t = std::time::Instant::now();
        let (_, r) = run(&m, cfg, 1);
        println!(
            "resnet50 {cfg}: {:?}, {} logits",
            t.elapsed(),
            r.logits.len()
        );
    }
}
