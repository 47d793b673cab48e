//! A trained model's integer weights, read from (and written to) a safetensors file.
//!
//! For every conv and FC layer `<layer>` of the model:
//! * `<layer>.weight`: an integer tensor (I8, I16, I32 or I64) in PyTorch's layout: a conv's
//!   `[cout, cin, k, k]`, an FC's `[dout, din]` with `din` in C·H·W flatten order (an FC
//!   weight stored as `[dout, C, H, W]` is accepted too). Every value must lie in the layer's
//!   signed `wbits` range.
//! * `<layer>.bias`, when the model declares `"bias": true` (and only then): an integer
//!   tensor `[cout]` or `[dout]`, at the accumulator's scale. Its width limit
//!   ([`crate::program::LinearInfo::bias_bits`]) depends on the program, so
//!   [`crate::reference::check_inputs`] checks it once the model is lowered.
//!
//! Any other tensor in the file is an error: a file made for another model is refused rather
//! than half-used. Errors name the layer (or tensor) and what is wrong.
//!
//! BatchNorm is not part of the format: fold it into the conv's weights and bias before
//! export (`tools/train_digits.py` does).

use crate::config::Weights;
use crate::interval::Interval;
use crate::model::{Model, Op};
use crate::plan::sensitivity::weight_shape;
use pq_proto::tensor;
use safetensors::Dtype;
use std::collections::BTreeSet;

/// Why a weights file cannot be used with a model.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WeightsError {
    /// Not a safetensors file, or one that cannot be written.
    #[error("not a valid safetensors file: {0}")]
    Malformed(String),
    /// A problem with one layer's tensors.
    #[error("layer '{layer}': {msg}")]
    Layer {
        /// The layer's name.
        layer: String,
        /// What is wrong.
        msg: String,
    },
    /// A tensor that belongs to no conv or FC layer of the model.
    #[error(
        "tensor '{0}' belongs to no conv or fc layer of the model (expected only <layer>.weight and <layer>.bias)"
    )]
    Unexpected(String),
}

fn lerr<T>(layer: &str, msg: impl Into<String>) -> Result<T, WeightsError> {
    Err(WeightsError::Layer {
        layer: layer.into(),
        msg: msg.into(),
    })
}

/// Whether a tensor of shape `got` can serve where `want` is expected: equal, or an FC
/// weight `[dout, din]` stored as `[dout, C, H, W]`.
pub(crate) fn shape_matches(got: &[usize], want: &[usize]) -> bool {
    got == want
        || (got.len() > 2
            && want.len() == 2
            && got[0] == want[0]
            && got[1..].iter().product::<usize>() == want[1])
}

/// The integers of a tensor, or why its dtype is not accepted.
fn ints(t: &safetensors::tensor::TensorView<'_>) -> Result<Vec<i64>, String> {
    let d = t.data();
    Ok(match t.dtype() {
        Dtype::I8 => d.iter().map(|&b| b as i8 as i64).collect(),
        Dtype::I16 => d
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]) as i64)
            .collect(),
        Dtype::I32 => d
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64)
            .collect(),
        Dtype::I64 => d
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
        other => {
            return Err(format!(
                "dtype {other:?} is not accepted (accepted: I8, I16, I32, I64 integers; \
                 quantize float weights before export)"
            ));
        }
    })
}

/// Load the integer weights and biases of every conv/FC layer of `m` (a width-applied model:
/// its `wbits` are set) from safetensors bytes.
pub fn load(m: &Model, bytes: &[u8]) -> Result<Weights, WeightsError> {
    let st = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| WeightsError::Malformed(e.to_string()))?;
    let mut expected = BTreeSet::new();
    let mut w = Weights {
        layers: vec![vec![]; m.layers.len()],
        bias: vec![vec![]; m.layers.len()],
    };
    for i in m.linear_layers() {
        let l = &m.layers[i];
        let name = format!("{}.weight", l.name);
        expected.insert(name.clone());
        let Ok(t) = st.tensor(&name) else {
            return lerr(&l.name, format!("the weights file has no tensor '{name}'"));
        };
        let want = weight_shape(m, i).unwrap_or_default();
        if !shape_matches(t.shape(), &want) {
            return lerr(
                &l.name,
                format!("'{name}' has shape {:?}, expected {want:?}", t.shape()),
            );
        }
        let v = ints(&t).or_else(|e| lerr(&l.name, format!("'{name}': {e}")))?;
        let wb = l.quant.wbits;
        if !(1..=64).contains(&wb) {
            return lerr(&l.name, "wbits is not set (apply a configuration first)");
        }
        let Interval { lo, hi } = Interval::full(wb);
        if let Some((j, &x)) = v
            .iter()
            .enumerate()
            .find(|&(_, &x)| !(lo..=hi).contains(&(x as i128)))
        {
            return lerr(
                &l.name,
                format!(
                    "'{name}' element {j} is {x}, outside the layer's {wb}-bit weight range [{lo}, {hi}]"
                ),
            );
        }
        w.layers[i] = match l.op {
            // [dout, din] → the engine's [din][dout]
            Op::Fc { dout } => tensor::transpose(&v, dout, v.len() / dout.max(1)),
            _ => v,
        };
        let bname = format!("{}.bias", l.name);
        match (l.bias, st.tensor(&bname)) {
            (false, Ok(_)) => {
                return lerr(
                    &l.name,
                    format!(
                        "the weights file has '{bname}', but the model declares no bias \
                         (add \"bias\": true to the layer)"
                    ),
                );
            }
            (false, Err(_)) => {}
            (true, Err(_)) => {
                return lerr(
                    &l.name,
                    format!("the model declares a bias, the weights file has no '{bname}'"),
                );
            }
            (true, Ok(b)) => {
                expected.insert(bname.clone());
                let outs = l.out.c;
                if b.shape() != [outs] {
                    return lerr(
                        &l.name,
                        format!("'{bname}' has shape {:?}, expected [{outs}]", b.shape()),
                    );
                }
                w.bias[i] = ints(&b).or_else(|e| lerr(&l.name, format!("'{bname}': {e}")))?;
            }
        }
    }
    if let Some(extra) = st.names().into_iter().find(|n| !expected.contains(*n)) {
        return Err(WeightsError::Unexpected(extra.to_string()));
    }
    Ok(w)
}

/// Write `w` for model `m` in the format [`load`] reads: I32 weights in PyTorch's layouts,
/// I64 biases. Fails on weights that do not fit 32 bits.
pub fn write(m: &Model, w: &Weights) -> Result<Vec<u8>, WeightsError> {
    let mut bufs: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for i in m.linear_layers() {
        let l = &m.layers[i];
        let v = w.layers.get(i).map_or(&[][..], Vec::as_slice);
        let shape = weight_shape(m, i).unwrap_or_default();
        if v.len() != shape.iter().product::<usize>() {
            return lerr(&l.name, format!("{} weights, expected {shape:?}", v.len()));
        }
        let torch: Vec<i64> = match l.op {
            // the engine's [din][dout] → [dout, din]
            Op::Fc { dout } => tensor::transpose(v, v.len() / dout.max(1), dout),
            _ => v.to_vec(),
        };
        let mut data = Vec::with_capacity(torch.len() * 4);
        for x in torch {
            let y = i32::try_from(x)
                .or_else(|_| lerr(&l.name, format!("weight {x} does not fit I32")))?;
            data.extend_from_slice(&y.to_le_bytes());
        }
        bufs.push((format!("{}.weight", l.name), Dtype::I32, shape, data));
        let b = w.bias_of(i);
        if !b.is_empty() {
            let data = b.iter().flat_map(|x| x.to_le_bytes()).collect();
            bufs.push((format!("{}.bias", l.name), Dtype::I64, vec![b.len()], data));
        }
    }
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = bufs
        .iter()
        .map(|(n, dt, s, d)| {
            safetensors::tensor::TensorView::new(*dt, s.clone(), d)
                .map(|t| (n.clone(), t))
                .map_err(|e| WeightsError::Malformed(e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    safetensors::tensor::serialize(views, None).map_err(|e| WeightsError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, Config};
    use crate::json;

    fn model() -> Model {
        let m = json::parse(
            r#"{"name": "t", "input": {"shape": [2, 4, 4], "bits": 8, "signed": false},
            "layers": [
              {"name": "c1", "op": "conv", "cout": 3, "k": 3, "wbits": 4, "abits": 4, "bias": true, "shift": 5},
              {"name": "r", "op": "relu"},
              {"name": "fc", "op": "fc", "dout": 5, "wbits": 8, "bias": true}
            ]}"#,
        )
        .unwrap();
        config::apply(&m, Config::PrivQuant)
    }

    #[test]
    fn round_trip_and_fc_layout() {
        let m = model();
        let w = Weights::random(&m, 9);
        let bytes = write(&m, &w).unwrap();
        assert_eq!(load(&m, &bytes).unwrap(), w);
        // the file's FC weight is [dout, din]: element (o, j) is the engine's [j][o]
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let fc = ints(&st.tensor("fc.weight").unwrap()).unwrap();
        let din = 3 * 4 * 4;
        assert_eq!(st.tensor("fc.weight").unwrap().shape(), [5, din]);
        assert_eq!(fc[2 * din + 7], w.layers[2][7 * 5 + 2]);
    }

    #[test]
    fn errors_name_the_layer() {
        let m = model();
        let w = Weights::random(&m, 1);
        // a weight outside its width (written by a model with wider weights)
        let mut wide = m.clone();
        wide.layers[0].quant.wbits = 8;
        let mut w2 = w.clone();
        w2.layers[0][4] = 8;
        let e = load(&m, &write(&wide, &w2).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("'c1'") && e.contains("element 4 is 8"), "{e}");
        // a missing bias, an undeclared bias
        let mut nob = m.clone();
        nob.layers[2].bias = false;
        let mut w3 = w.clone();
        w3.bias[2].clear();
        let e = load(&m, &write(&nob, &w3).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("'fc'") && e.contains("no 'fc.bias'"), "{e}");
        let e = load(&nob, &write(&m, &w).unwrap()).unwrap_err().to_string();
        assert!(e.contains("'fc'") && e.contains("declares no bias"), "{e}");
        // a wrong shape: a model with more output channels
        let mut big = m.clone();
        big.layers[2].op = Op::Fc { dout: 6 };
        big.layers[2].out.c = 6;
        let e = load(&big, &write(&m, &w).unwrap()).unwrap_err().to_string();
        assert!(e.contains("'fc'") && e.contains("shape [5, 48]"), "{e}");
        // a missing layer, an extra tensor
        let mut renamed = m.clone();
        renamed.layers[0].name = "conv1".into();
        let e = load(&renamed, &write(&m, &w).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'conv1'") && e.contains("no tensor 'conv1.weight'"),
            "{e}"
        );
        // a float file
        let f = crate::plan::sensitivity::write_safetensors(
            &m,
            &crate::plan::sensitivity::synthetic_weights(&m, 1),
        )
        .unwrap();
        let e = load(&m, &f).unwrap_err().to_string();
        assert!(
            e.contains("'c1'") && e.contains("F32 is not accepted"),
            "{e}"
        );
        assert!(matches!(
            load(&m, b"garbage"),
            Err(WeightsError::Malformed(_))
        ));
    }
}
