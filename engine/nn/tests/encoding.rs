//! The declared input domain, biases and stated shifts (the trained-model format), under
//! every configuration: inputs at the domain's edges (signed and unsigned, 1 to 16 bits),
//! an input that feeds a residual add directly, biases at the edges of their width, the most
//! negative weights. The secure run is bit-exact against the plaintext reference in every
//! tensor and deterministic (the same input twice gives the same output); models that a
//! configuration cannot run are refused before any traffic, naming the layer.

use pq_nn::config::{self, Config, Weights};
use pq_nn::interval::Interval;
use pq_nn::lower::{self, Program};
use pq_nn::model::{InputEncoding, Model};
use pq_nn::reference;
use pq_nn::secure::{self, RunOptions};
use pq_nn::{json, signs};

/// The input feeds a residual add (the branch is a conv over the input), then a conv with a
/// bias and a stated shift, an FC with a bias (the logits). Without `shifts` the model states
/// none (the configuration's pinned ones apply).
fn model(enc: InputEncoding, shifts: bool) -> Model {
    let sh = |s: u32| {
        if shifts {
            format!(r#", "shift": {s}"#)
        } else {
            String::new()
        }
    };
    let text = format!(
        r#"{{ "name": "enc", "input": {{"shape": [2, 5, 5], "bits": {}, "signed": {}}},
        "layers": [
          {{"name": "c1", "op": "conv", "cout": 2, "k": 3, "bias": true{}}},
          {{"name": "add", "op": "add", "inputs": ["c1", "input"]{}}},
          {{"name": "r", "op": "relu"}},
          {{"name": "c2", "op": "conv", "cout": 3, "k": 3, "stride": 2, "bias": true{}}},
          {{"name": "r2", "op": "relu"}},
          {{"name": "fc", "op": "fc", "dout": 4, "bias": true}}
        ] }}"#,
        enc.bits,
        enc.signed,
        sh(9),
        sh(2),
        sh(6)
    );
    json::parse(&text).unwrap()
}

/// Weights spanning their range (including the most negative value) and biases at the edges
/// of each layer's bias width.
fn weights(p: &Program, seed: u64) -> Weights {
    let mut w = Weights::random(&p.model, seed);
    for l in &p.linear {
        let v = &mut w.layers[l.layer];
        v[0] = Interval::full(l.wbits).lo as i64;
        if let Some(bb) = l.bias_bits {
            let r = Interval::full(bb);
            let b = &mut w.bias[l.layer];
            b[0] = r.lo as i64;
            let n = b.len();
            b[n - 1] = r.hi as i64;
        }
    }
    w
}

/// Inputs at the domain's edges (alternating lo and hi, all hi) and a seeded random one.
fn edge_inputs(m: &Model, seed: u64) -> Vec<Vec<i64>> {
    let n = m.input.numel();
    let (lo, hi) = m.encoding.domain();
    vec![
        (0..n).map(|i| if i % 2 == 0 { lo } else { hi }).collect(),
        vec![hi; n],
        config::random_input(n, m.encoding, seed),
    ]
}

fn check_exact(p: &Program, w: &Weights, x: &[i64], what: &str, twice: bool) {
    let want = reference::run_reference(p, w, x).unwrap();
    let opts = RunOptions {
        keep_tensors: true,
        ..RunOptions::default()
    };
    let a = secure::run_secure(p, w, x, &opts).unwrap();
    for (ti, (got, exp)) in a.tensors.iter().zip(&want.values).enumerate() {
        assert_eq!(got, exp, "{what}: tensor {ti} differs");
    }
    assert_eq!(a.logits, want.logits, "{what}");
    // the biased linear layers and the label reveal cost what their cost functions say
    assert_eq!(
        (a.bytes_server_to_client, a.bytes_client_to_server),
        (a.cost.server_to_client, a.cost.client_to_server),
        "{what}: measured bytes differ from the cost model"
    );
    if twice {
        // OS randomness each run: the output must not depend on the shares
        let b = secure::run_secure(p, w, x, &RunOptions::default()).unwrap();
        assert_eq!(b.logits, a.logits, "{what}: a second run differs");
    }
}

const ENCODINGS: [(u32, bool); 6] = [
    (8, false),
    (8, true),
    (7, false),
    (1, false),
    (1, true),
    (16, true),
];

#[test]
fn every_configuration_exact_at_the_domain_edges() {
    for (bits, signed) in ENCODINGS {
        let enc = InputEncoding { bits, signed };
        for cfg in Config::ALL {
            // sirnn pins its own shifts; the others run the stated ones
            let m = model(enc, cfg != Config::Sirnn);
            let p = match lower::lower(&m, cfg) {
                Ok(p) => p,
                Err(e) => panic!("{enc} {cfg}: {e}"),
            };
            let l_in = p.tensors[p.input].bits;
            assert!(l_in >= enc.signed_width(), "{enc} {cfg}: {l_in}");
            assert_eq!(
                p.tensors[p.input].nonneg, !signed,
                "{enc} {cfg}: sign knowledge comes from the declaration"
            );
            let w = weights(&p, u64::from(bits) * 7 + 1);
            for (i, x) in edge_inputs(&m, 5).iter().enumerate() {
                check_exact(&p, &w, x, &format!("{enc} {cfg} input #{i}"), i == 0);
            }
            // the same program revealing the label only (Π_Argmax)
            let opts = lower::LowerOptions {
                reveal: lower::Reveal::Label,
                ..Default::default()
            };
            let pl = lower::lower_with(&m, cfg, &opts).unwrap();
            for (i, x) in edge_inputs(&m, 5).iter().enumerate().take(2) {
                check_exact(&pl, &w, x, &format!("{enc} {cfg} label, input #{i}"), false);
            }
        }
    }
}

/// The unsigned 8-bit pixel 255 is 255, not −1: the reference's logits for an all-255 image
/// equal those computed from first principles for the first layer's accumulator.
#[test]
fn unsigned_pixels_keep_their_value() {
    let enc = InputEncoding {
        bits: 8,
        signed: false,
    };
    let m = model(enc, true);
    let p = lower::lower(&m, Config::PrivQuant).unwrap();
    assert_eq!(p.tensors[p.input].bits, 9);
    let w = weights(&p, 3);
    let x = vec![255i64; m.input.numel()];
    let r = reference::run_reference(&p, &w, &x).unwrap();
    // the first step is c1's accumulator: check one output against Σ w·x + bias
    let c1 = &p.linear[0];
    let acc_t = p.steps[0].out;
    let centre = c1.out_shape.w + 1; // pixel (1, 1): the whole 3×3 window is inside
    let wsum: i64 = w.layers[c1.layer][..c1.d2].iter().sum();
    assert_eq!(
        r.values[acc_t][centre],
        255 * wsum + w.bias[c1.layer][0],
        "pixel value 255 must count as 255"
    );
}

#[test]
fn configurations_refuse_what_they_cannot_run() {
    let enc = InputEncoding {
        bits: 8,
        signed: false,
    };
    // sirnn pins its own shifts
    let e = lower::lower(&model(enc, true), Config::Sirnn)
        .unwrap_err()
        .to_string();
    assert!(e.contains("'c1'") && e.contains("sirnn pins"), "{e}");
    // sirnn-quant's matmul drops e bits first: a smaller stated shift is refused
    let mut m = model(enc, true);
    m.layers[3].shift = Some(1);
    let e = lower::lower(&m, Config::SirnnQuant)
        .unwrap_err()
        .to_string();
    assert!(e.contains("'c2'") && e.contains("below"), "{e}");
    // ... and privquant runs it
    lower::lower(&m, Config::PrivQuant).unwrap();
    // sirnn's 16-bit ring cannot hold a 16-bit unsigned input
    let wide = model(
        InputEncoding {
            bits: 16,
            signed: false,
        },
        false,
    );
    let e = lower::lower(&wide, Config::Sirnn).unwrap_err().to_string();
    assert!(e.contains("16-bit unsigned"), "{e}");
}

#[test]
fn weights_that_do_not_fit_are_refused_naming_the_layer() {
    let enc = InputEncoding {
        bits: 8,
        signed: true,
    };
    let m = model(enc, true);
    let p = lower::lower(&m, Config::PrivQuant).unwrap();
    let x = vec![0i64; m.input.numel()];
    let w = weights(&p, 1);
    // a bias one past its width
    let c2 = p.linear.iter().find(|l| l.name == "c2").unwrap();
    let bb = c2.bias_bits.unwrap();
    let mut bad = w.clone();
    bad.bias[c2.layer][1] = Interval::full(bb).hi as i64 + 1;
    let e = reference::run_reference(&p, &bad, &x)
        .unwrap_err()
        .to_string();
    assert!(e.contains("'c2'") && e.contains("bias #1"), "{e}");
    let e = secure::run_secure(&p, &bad, &x, &RunOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("'c2'") && e.contains("bias #1"), "{e}");
    // a weight outside its declared width
    let mut bad = w.clone();
    bad.layers[c2.layer][3] = 1 << c2.wbits;
    let e = reference::run_reference(&p, &bad, &x)
        .unwrap_err()
        .to_string();
    assert!(e.contains("'c2'") && e.contains("weight #3"), "{e}");
    // a missing bias
    let mut bad = w.clone();
    bad.bias[c2.layer].clear();
    let e = reference::run_reference(&p, &bad, &x)
        .unwrap_err()
        .to_string();
    assert!(e.contains("'c2'") && e.contains("0 bias values"), "{e}");
    // the bias width is the bias-free accumulator's (public, from shapes and widths)
    let step = p
        .steps
        .iter()
        .find(|s| s.layer == "c2" && s.op.kind().starts_with("linear"))
        .unwrap();
    let xr = p.tensors[step.inputs[0]].coarse_range();
    assert_eq!(bb, signs::bits_for(signs::linear_acc_no_bias(c2, xr)));
}
