//! Sensitivity Ω_i(b) = (mean Hessian trace of layer i) · ||Q_b(W_i) − W_i||², the HAWQ-V2
//! (Dong et al., NeurIPS 2020) metric that PrivQuant (ICCAD 2024) uses for its planner.
//!
//! * [`quantize`]: Q_b, the symmetric power-of-two-scale quantizer of PrivQuant (no zero point;
//!   the scale is a bit count s):
//!   x_q = clamp(round(2^s·x), −2^(b−1), 2^(b−1)−1), dequantized as x_q / 2^s. The scale s is
//!   the one (among the no-clipping scale and the 3 finer ones, i.e. clipping at up to 1/8 of
//!   the largest magnitude) that minimises the squared error, so low widths may clip outliers
//!   when that is better.
//! * Weights come from a `.safetensors` file ([`load_safetensors`]): tensor `<layer>.weight`
//!   for each conv (shape [cout, cin, k, k]) and FC (shape [dout, din]) layer, named as the
//!   model's layers (e.g. `conv1.weight`, `l1.0.conv2.weight`, `s2b0c1.weight`, `fc.weight`),
//!   dtype F32, F64, F16 or BF16. Without a file, [`synthetic_weights`] draws He-normal weights
//!   from a seeded PRG, and the report says so.
//! * Hessian traces come from a JSON object mapping layer names to non-negative numbers
//!   (optionally nested under `"traces"`), as computed with HAWQ-V2's Hutchinson estimator or
//!   PyHessian (Yao et al., IEEE BigData 2020) ([`parse_traces`]). Without a file every trace is 1, and the report says so.

use crate::{Model, Op};
use pq_kernels::Block;
use pq_kernels::aes::Prg;
use std::collections::HashMap;

/// The candidate weight widths of the paper's planner.
pub const WIDTHS: [u32; 6] = [2, 3, 4, 5, 6, 8];

/// Errors reading or writing weights, or reading Hessian traces.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SensitivityError {
    /// The safetensors data cannot be parsed or written, or a tensor holds NaN or infinite
    /// values.
    #[error("weights file: {0}")]
    Malformed(String),
    /// A weight tensor's shape does not fit its layer.
    #[error("weights file: tensor '{name}' has shape {got:?}, but layer '{layer}' needs {want:?}")]
    Shape {
        /// The tensor's name, `<layer>.weight`.
        name: String,
        /// The layer's name.
        layer: String,
        /// The shape in the file.
        got: Vec<usize>,
        /// The shape the layer needs ([cout, cin, k, k] or [dout, din]).
        want: Vec<usize>,
    },
    /// No weights for the named conv/FC layer (no `<layer>.weight` tensor in the file, or no
    /// entry in the map being written).
    #[error("weights file: no tensor '{0}.weight' for layer '{0}'")]
    MissingLayer(String),
    /// A tensor (first field: its name) has a dtype (second field) other than F32, F64, F16
    /// or BF16.
    #[error("weights file: tensor '{0}' has unsupported dtype {1} (accepted: F32, F64, F16, BF16)")]
    Dtype(String, String),
    /// The traces are not valid JSON or not an object, a layer has no trace, or a trace is
    /// not a finite non-negative number.
    #[error("Hessian traces: {0}")]
    Traces(String),
}

/// Q_b(w): the dequantized weights and the chosen scale s.
pub fn quantize(w: &[f32], bits: u32) -> (Vec<f32>, i32) {
    assert!((1..=32).contains(&bits));
    let qmax = ((1i64 << (bits - 1)) - 1) as f64;
    let qmin = -((1i64 << (bits - 1)) as f64);
    let amax = w.iter().fold(0.0f64, |m, &x| m.max((x as f64).abs()));
    if amax == 0.0 {
        return (vec![0.0; w.len()], 0);
    }
    // largest s with amax·2^s ≤ max(qmax, 1) (no clipping on the positive side)
    let s0 = ((qmax.max(1.0)) / amax).log2().floor() as i32;
    let err = |s: i32| -> f64 {
        let sc = (s as f64).exp2();
        w.iter()
            .map(|&x| {
                let q = (x as f64 * sc).round().clamp(qmin, qmax) / sc;
                (q - x as f64).powi(2)
            })
            .sum()
    };
    let mut best = (s0, err(s0));
    for s in (s0 + 1)..=(s0 + 3) {
        let e = err(s);
        if e < best.1 {
            best = (s, e);
        }
    }
    let sc = (best.0 as f64).exp2();
    (
        w.iter()
            .map(|&x| ((x as f64 * sc).round().clamp(qmin, qmax) / sc) as f32)
            .collect(),
        best.0,
    )
}

/// ||Q_b(w) − w||².
pub fn quant_error(w: &[f32], bits: u32) -> f64 {
    let (q, _) = quantize(w, bits);
    q.iter()
        .zip(w)
        .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
        .sum()
}

/// Ω(b) for one layer.
pub fn omega(trace: f64, w: &[f32], bits: u32) -> f64 {
    trace * quant_error(w, bits)
}

/// The weight tensor shape a layer needs ([cout, cin, k, k] or [dout, din]).
pub fn weight_shape(m: &Model, i: usize) -> Option<Vec<usize>> {
    let ins = m.in_shape(i);
    match m.layers[i].op {
        Op::Conv { cout, k, .. } => Some(vec![cout, ins.c, k, k]),
        Op::Fc { dout } => Some(vec![dout, ins.numel()]),
        _ => None,
    }
}

/// He-normal weights for every conv/FC layer (std = sqrt(2 / fan_in)), from a seeded PRG.
pub fn synthetic_weights(m: &Model, seed: u64) -> HashMap<String, Vec<f32>> {
    let mut prg = Prg::new(Block::from_u64s(seed, 0x5eed_0f4e_0000));
    let mut out = HashMap::new();
    for i in m.linear_layers() {
        let Some(shape) = weight_shape(m, i) else {
            continue;
        };
        let n: usize = shape.iter().product();
        let fan_in: usize = shape[1..].iter().product();
        let std = (2.0 / fan_in as f64).sqrt();
        let mut v = Vec::with_capacity(n);
        // uniform bits in bulk (one PRG call per 4 KiB, not per value)
        let mut bits = vec![0u8; n.div_ceil(2) * 16];
        prg.fill_bytes(&mut bits);
        let word =
            |k: usize| u64::from_le_bytes(bits[8 * k..8 * k + 8].try_into().unwrap_or([0; 8]));
        let mut k = 0usize;
        while v.len() < n {
            // Box–Muller from two uniforms in (0, 1]
            let u1 = ((word(k) >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
            let u2 = (word(k + 1) >> 11) as f64 / (1u64 << 53) as f64;
            k += 2;
            let r = (-2.0 * u1.ln()).sqrt();
            v.push((r * (std::f64::consts::TAU * u2).cos() * std) as f32);
            if v.len() < n {
                v.push((r * (std::f64::consts::TAU * u2).sin() * std) as f32);
            }
        }
        out.insert(m.layers[i].name.clone(), v);
    }
    out
}

fn f16_to_f32(h: u16) -> f32 {
    let s = ((h >> 15) as u32) << 31;
    let e = ((h >> 10) & 0x1f) as u32;
    let f = (h & 0x3ff) as u32;
    let bits = match e {
        0 if f == 0 => s,
        0 => {
            // subnormal: normalise
            let mut e2 = 127 - 15 + 1;
            let mut f2 = f;
            while f2 & 0x400 == 0 {
                f2 <<= 1;
                e2 -= 1;
            }
            s | ((e2 as u32) << 23) | ((f2 & 0x3ff) << 13)
        }
        0x1f => s | 0x7f80_0000 | (f << 13),
        _ => s | ((e + 127 - 15) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

/// Load `<layer>.weight` for every conv/FC layer of `m` from safetensors bytes, checking names,
/// shapes and dtypes.
pub fn load_safetensors(
    m: &Model,
    bytes: &[u8],
) -> Result<HashMap<String, Vec<f32>>, SensitivityError> {
    let st = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| SensitivityError::Malformed(e.to_string()))?;
    let mut out = HashMap::new();
    for i in m.linear_layers() {
        let layer = &m.layers[i].name;
        let name = format!("{layer}.weight");
        let t = st
            .tensor(&name)
            .map_err(|_| SensitivityError::MissingLayer(layer.clone()))?;
        let want = weight_shape(m, i).unwrap_or_default();
        // accept an FC weight stored flat as [dout, C, H, W] too
        let got = t.shape().to_vec();
        if !crate::weights::shape_matches(&got, &want) {
            return Err(SensitivityError::Shape {
                name,
                layer: layer.clone(),
                got,
                want,
            });
        }
        let d = t.data();
        use safetensors::Dtype;
        let v: Vec<f32> = match t.dtype() {
            Dtype::F32 => d
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F64 => d
                .chunks_exact(8)
                .map(|c| {
                    f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
                })
                .collect(),
            Dtype::F16 => d
                .chunks_exact(2)
                .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            Dtype::BF16 => d
                .chunks_exact(2)
                .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
                .collect(),
            other => return Err(SensitivityError::Dtype(name, format!("{other:?}"))),
        };
        if v.iter().any(|x| !x.is_finite()) {
            return Err(SensitivityError::Malformed(format!(
                "tensor '{name}' holds NaN or infinite values"
            )));
        }
        out.insert(layer.clone(), v);
    }
    Ok(out)
}

/// Parse per-layer Hessian traces. Every conv/FC layer of `m` must have one; each must be a
/// finite non-negative number.
pub fn parse_traces(m: &Model, text: &str) -> Result<HashMap<String, f64>, SensitivityError> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| SensitivityError::Traces(format!("not valid JSON: {e}")))?;
    let obj = v.get("traces").unwrap_or(&v).as_object().ok_or_else(|| {
        SensitivityError::Traces("expected an object mapping layer names to traces".into())
    })?;
    let mut out = HashMap::new();
    for i in m.linear_layers() {
        let name = &m.layers[i].name;
        let t = obj
            .get(name)
            .ok_or_else(|| SensitivityError::Traces(format!("no trace for layer '{name}'")))?;
        let x = t.as_f64().ok_or_else(|| {
            SensitivityError::Traces(format!("trace of layer '{name}' is not a number: {t}"))
        })?;
        if !x.is_finite() || x < 0.0 {
            return Err(SensitivityError::Traces(format!(
                "trace of layer '{name}' is negative or not finite: {x}"
            )));
        }
        out.insert(name.clone(), x);
    }
    Ok(out)
}

/// Serialize weights as a safetensors file (F32), e.g. for tests and for exporting synthetic
/// weights.
pub fn write_safetensors(
    m: &Model,
    w: &HashMap<String, Vec<f32>>,
) -> Result<Vec<u8>, SensitivityError> {
    let mut bufs: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for i in m.linear_layers() {
        let name = &m.layers[i].name;
        let v = w
            .get(name)
            .ok_or_else(|| SensitivityError::MissingLayer(name.clone()))?;
        let shape = weight_shape(m, i).unwrap_or_default();
        bufs.push((
            format!("{name}.weight"),
            shape,
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ));
    }
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = bufs
        .iter()
        .map(|(n, s, d)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), d)
                .map(|t| (n.clone(), t))
                .map_err(|e| SensitivityError::Malformed(e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    safetensors::tensor::serialize(views, None)
        .map_err(|e| SensitivityError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin;

    #[test]
    fn quantizer_is_exact_on_grid_and_monotone() {
        let w = [0.5f32, -0.25, 0.125, -0.5];
        let (q, _) = quantize(&w, 8);
        assert_eq!(q, w.to_vec());
        let w: Vec<f32> = (0..1000).map(|i| ((i as f32) * 0.37).sin() * 0.1).collect();
        let errs: Vec<f64> = WIDTHS.iter().map(|&b| quant_error(&w, b)).collect();
        for e in errs.windows(2) {
            assert!(e[1] <= e[0], "{errs:?}");
        }
        assert_eq!(quantize(&[0.0; 4], 2).0, vec![0.0; 4]);
        // 2-bit grid is {-2,-1,0,1}/2^s
        let (q, s) = quantize(&w, 2);
        let sc = (s as f32).exp2();
        assert!(q.iter().all(|x| [-2.0, -1.0, 0.0, 1.0].contains(&(x * sc))));
    }

    #[test]
    fn safetensors_round_trip_and_errors() {
        let m = builtin::minionn();
        let w = synthetic_weights(&m, 7);
        let bytes = write_safetensors(&m, &w).unwrap();
        let back = load_safetensors(&m, &bytes).unwrap();
        assert_eq!(back, w);
        // He-normal std check on conv2 (fan_in 576)
        let v = &w["conv2"];
        let var = v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / v.len() as f64;
        assert!((var - 2.0 / 576.0).abs() < 0.1 * 2.0 / 576.0, "{var}");

        assert!(matches!(
            load_safetensors(&m, b"garbage"),
            Err(SensitivityError::Malformed(_))
        ));
        let mut w2 = w.clone();
        w2.remove("conv3");
        assert!(matches!(
            write_safetensors(&m, &w2),
            Err(SensitivityError::MissingLayer(_))
        ));
        // a file for another model: conv1 has the wrong shape for resnet32's stem... use minionn file on resnet32
        let r = builtin::resnet32();
        let e = load_safetensors(&r, &bytes).unwrap_err();
        assert!(matches!(e, SensitivityError::MissingLayer(_)), "{e}");
        // shape mismatch: write minionn weights under a model whose conv2 has another cin
        let mut m2 = m.clone();
        m2.layers[0].op = crate::Op::Conv {
            cout: 32,
            k: 3,
            stride: 1,
            pad: 1,
        };
        m2.layers[0].out.c = 32;
        m2.layers[1].out.c = 32;
        let e = load_safetensors(&m2, &bytes).unwrap_err();
        assert!(
            e.to_string().contains("conv1.weight") && e.to_string().contains("shape"),
            "{e}"
        );
    }

    #[test]
    fn traces_validation() {
        let m = builtin::minionn();
        let mut obj = serde_json::Map::new();
        for i in m.linear_layers() {
            obj.insert(m.layers[i].name.clone(), 2.5.into());
        }
        let ok = serde_json::Value::Object(obj.clone()).to_string();
        assert_eq!(parse_traces(&m, &ok).unwrap()["conv1"], 2.5);
        let nested = serde_json::json!({ "traces": obj }).to_string();
        assert!(parse_traces(&m, &nested).is_ok());
        let mut neg = obj.clone();
        neg.insert("conv2".into(), (-1.0).into());
        let e = parse_traces(&m, &serde_json::Value::Object(neg).to_string())
            .unwrap_err()
            .to_string();
        assert!(e.contains("conv2") && e.contains("negative"), "{e}");
        let mut missing = obj.clone();
        missing.remove("fc");
        assert!(
            parse_traces(&m, &serde_json::Value::Object(missing).to_string())
                .unwrap_err()
                .to_string()
                .contains("'fc'")
        );
    }
}
