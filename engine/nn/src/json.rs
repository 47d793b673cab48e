//! The JSON model format (documented in README.md, "Bring your own model").
//!
//! ```json
//! { "name": "tiny", "input": [3, 8, 8],
//!   "layers": [
//!     { "name": "c1", "op": "conv", "cout": 8, "k": 3, "stride": 1, "pad": 1, "wbits": 2, "abits": 4 },
//!     { "name": "r1", "op": "relu" },
//!     { "name": "c2", "op": "conv", "cout": 8, "k": 3, "pad": 1, "wbits": 2, "abits": 4 },
//!     { "name": "sum", "op": "add", "inputs": ["c2", "r1"], "rbits": 8 },
//!     { "name": "fc", "op": "fc", "dout": 10, "wbits": 8 } ] }
//! ```
//! * `input` (per layer) or `inputs` names earlier layers or `"input"`; the default is the
//!   previous layer. `add` takes two inputs.
//! * ops: `conv` (cout, k, stride = 1, pad = k/2), `fc` (dout), `relu`, `avgpool` (k,
//!   stride = k), `maxpool` (k, stride = k, pad = 0), `add`, `shortcut_a` (cout, stride),
//!   `flatten`.
//! * optional `out: [C, H, W]` is checked against the inferred shape.
//! * bit-widths `wbits`, `abits`, `rbits` are optional (a configuration fills unset ones) but
//!   must lie in 1..=64 when given.
//! * `input` is `[C, H, W]` (7-bit unsigned values, as the built-in models) or
//!   `{"shape": [C, H, W], "bits": b, "signed": s}`: the client's declared input domain.
//! * conv and fc take an optional `"bias": true` (a per-output bias tensor in the weights
//!   file) and an optional `"shift"`: the output is floor((Σ w·x + bias) / 2^shift) reduced to
//!   `abits` (unset: the configuration's pinned shift). `add` takes an optional `"shift"`
//!   (default 1): floor((a + b) / 2^shift) reduced to `rbits`.

use super::model::{InputEncoding, Layer, Model, ModelError, Op, Quant, Shape, infer_shape};
use serde_json::{Map, Value};
use std::collections::HashMap;

fn jerr<T>(msg: impl Into<String>) -> Result<T, ModelError> {
    Err(ModelError::Json(msg.into()))
}

fn lerr<T>(layer: &str, msg: impl Into<String>) -> Result<T, ModelError> {
    Err(ModelError::Layer {
        layer: layer.into(),
        msg: msg.into(),
    })
}

fn get_usize(
    o: &Map<String, Value>,
    layer: &str,
    key: &str,
    default: Option<usize>,
) -> Result<usize, ModelError> {
    match o.get(key) {
        None => match default {
            Some(d) => Ok(d),
            None => lerr(layer, format!("missing field '{key}'")),
        },
        Some(v) => match v.as_u64() {
            Some(x) => Ok(x as usize),
            None => lerr(
                layer,
                format!("field '{key}' must be a non-negative integer, got {v}"),
            ),
        },
    }
}

fn get_bits(o: &Map<String, Value>, layer: &str, key: &str) -> Result<u32, ModelError> {
    match o.get(key) {
        None => Ok(0),
        Some(v) => match v.as_u64() {
            Some(b) if (1..=64).contains(&b) => Ok(b as u32),
            _ => lerr(
                layer,
                format!("bit-width '{key}' = {v} is out of range (1..=64)"),
            ),
        },
    }
}

fn shape_of(v: &Value, what: &str) -> Result<Shape, ModelError> {
    let a = match v.as_array() {
        Some(a) if a.len() == 3 => a,
        _ => return jerr(format!("{what} must be [C, H, W]")),
    };
    let d: Vec<usize> = a.iter().map(|x| x.as_u64().unwrap_or(0) as usize).collect();
    if d.contains(&0) {
        return jerr(format!(
            "{what} must be three positive integers [C, H, W], got {v}"
        ));
    }
    Ok(Shape::new(d[0], d[1], d[2]))
}

/// The `input` field: `[C, H, W]` (the built-in encoding, 7-bit unsigned) or
/// `{"shape": [C, H, W], "bits": b, "signed": s}`.
fn input_of(v: &Value) -> Result<(Shape, InputEncoding), ModelError> {
    let Some(o) = v.as_object() else {
        return Ok((shape_of(v, "'input'")?, InputEncoding::default()));
    };
    for k in o.keys() {
        if !["shape", "bits", "signed"].contains(&k.as_str()) {
            return jerr(format!(
                "'input' has an unknown field '{k}' (accepted: shape, bits, signed)"
            ));
        }
    }
    let shape = shape_of(o.get("shape").unwrap_or(&Value::Null), "'input.shape'")?;
    let bits = match o.get("bits").map(|b| b.as_u64()) {
        Some(Some(b)) if (1..=InputEncoding::MAX_BITS as u64).contains(&b) => b as u32,
        Some(_) => {
            return jerr(format!(
                "'input.bits' must be an integer in 1..={}",
                InputEncoding::MAX_BITS
            ));
        }
        None => return jerr("'input' must state 'bits' (e.g. 8 for 8-bit pixels)"),
    };
    let signed = match o.get("signed") {
        Some(Value::Bool(b)) => *b,
        Some(_) => return jerr("'input.signed' must be true or false"),
        None => return jerr("'input' must state 'signed' (false for pixels)"),
    };
    Ok((shape, InputEncoding { bits, signed }))
}

/// Parse and validate a model from JSON text.
pub fn parse(text: &str) -> Result<Model, ModelError> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| ModelError::Json(format!("not valid JSON: {e}")))?;
    let o = match v.as_object() {
        Some(o) => o,
        None => return jerr("top level must be an object with 'name', 'input' and 'layers'"),
    };
    let name = o
        .get("name")
        .and_then(|n| n.as_str())
        .unwrap_or("custom")
        .to_string();
    let (input, encoding) = input_of(o.get("input").unwrap_or(&Value::Null))?;
    let layers_v = match o.get("layers").and_then(|l| l.as_array()) {
        Some(l) if !l.is_empty() => l,
        _ => return jerr("'layers' must be a non-empty array"),
    };
    let mut ids: HashMap<String, usize> = HashMap::new();
    ids.insert("input".into(), 0);
    let mut model = Model {
        name,
        input,
        encoding,
        layers: vec![],
    };
    for (i, lv) in layers_v.iter().enumerate() {
        let lo = match lv.as_object() {
            Some(x) => x,
            None => return jerr(format!("layer #{i} is not an object")),
        };
        let lname = lo
            .get("name")
            .and_then(|n| n.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| format!("layer{i}"));
        if ids.contains_key(&lname) {
            return lerr(&lname, "duplicate layer name");
        }
        let kind = match lo.get("op").and_then(|x| x.as_str()) {
            Some(k) => k,
            None => return lerr(&lname, "missing field 'op'"),
        };
        let op = match kind {
            "conv" => {
                let k = get_usize(lo, &lname, "k", None)?;
                Op::Conv {
                    cout: get_usize(lo, &lname, "cout", None)?,
                    k,
                    stride: get_usize(lo, &lname, "stride", Some(1))?,
                    pad: get_usize(lo, &lname, "pad", Some(k / 2))?,
                }
            }
            "fc" => Op::Fc {
                dout: get_usize(lo, &lname, "dout", None)?,
            },
            "relu" => Op::Relu,
            "avgpool" => {
                let k = get_usize(lo, &lname, "k", None)?;
                Op::AvgPool {
                    k,
                    stride: get_usize(lo, &lname, "stride", Some(k))?,
                }
            }
            "maxpool" => {
                let k = get_usize(lo, &lname, "k", None)?;
                Op::MaxPool {
                    k,
                    stride: get_usize(lo, &lname, "stride", Some(k))?,
                    pad: get_usize(lo, &lname, "pad", Some(0))?,
                }
            }
            "add" => Op::Add,
            "shortcut_a" => Op::ShortcutA {
                cout: get_usize(lo, &lname, "cout", None)?,
                stride: get_usize(lo, &lname, "stride", Some(2))?,
            },
            "flatten" => Op::Flatten,
            other => {
                return lerr(
                    &lname,
                    format!(
                        "unknown layer op '{other}' (accepted: conv, fc, relu, avgpool, maxpool, add, shortcut_a, flatten)"
                    ),
                );
            }
        };
        let refs: Vec<String> = if let Some(arr) = lo.get("inputs").and_then(|x| x.as_array()) {
            arr.iter()
                .map(|x| x.as_str().unwrap_or("").to_string())
                .collect()
        } else if let Some(s) = lo.get("input").and_then(|x| x.as_str()) {
            vec![s.to_string()]
        } else if i == 0 {
            vec!["input".into()]
        } else {
            vec![model.layers[i - 1].name.clone()]
        };
        let mut inputs = vec![];
        for r in &refs {
            match ids.get(r) {
                Some(&t) => inputs.push(t),
                None => {
                    return lerr(
                        &lname,
                        format!("input '{r}' is not an earlier layer or 'input'"),
                    );
                }
            }
        }
        let in_shapes: Vec<Shape> = inputs.iter().map(|&t| model.shape(t)).collect();
        let out = infer_shape(&lname, &op, &in_shapes)?;
        if let Some(ov) = lo.get("out") {
            let declared = shape_of(ov, &format!("layer '{lname}': 'out'"))?;
            if declared != out {
                return lerr(
                    &lname,
                    format!(
                        "shape mismatch: declared output {declared} but {kind} of {} gives {out}",
                        in_shapes[0]
                    ),
                );
            }
        }
        let quant = Quant {
            wbits: get_bits(lo, &lname, "wbits")?,
            abits: get_bits(lo, &lname, "abits")?,
            rbits: get_bits(lo, &lname, "rbits")?,
        };
        let bias = match lo.get("bias") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                return lerr(
                    &lname,
                    format!("field 'bias' must be true or false, got {v}"),
                );
            }
        };
        if bias && !op.is_linear() {
            return lerr(
                &lname,
                format!("field 'bias': {kind} takes no bias (only conv and fc)"),
            );
        }
        let shift = match lo.get("shift") {
            None => None,
            Some(v) => match v.as_u64() {
                Some(s) if s <= 63 => Some(s as u32),
                _ => {
                    return lerr(
                        &lname,
                        format!("field 'shift' = {v} must be an integer in 0..=63"),
                    );
                }
            },
        };
        if shift.is_some() && !(op.is_linear() || op == Op::Add) {
            return lerr(
                &lname,
                format!("field 'shift': {kind} takes no shift (only conv, fc and add)"),
            );
        }
        ids.insert(lname.clone(), i + 1);
        model.layers.push(Layer {
            name: lname,
            op,
            inputs,
            out,
            quant,
            bias,
            shift,
        });
    }
    model.validate()?;
    Ok(model)
}

/// Write a model as JSON in the format [`parse`] reads.
pub fn to_json(m: &Model) -> Value {
    let name_of = |t: usize| {
        if t == 0 {
            "input".to_string()
        } else {
            m.layers[t - 1].name.clone()
        }
    };
    let layers: Vec<Value> = m
        .layers
        .iter()
        .map(|l| {
            let mut o = Map::new();
            o.insert("name".into(), l.name.clone().into());
            o.insert("op".into(), l.op.kind().into());
            match l.op {
                Op::Conv {
                    cout,
                    k,
                    stride,
                    pad,
                } => {
                    o.insert("cout".into(), cout.into());
                    o.insert("k".into(), k.into());
                    o.insert("stride".into(), stride.into());
                    o.insert("pad".into(), pad.into());
                }
                Op::Fc { dout } => {
                    o.insert("dout".into(), dout.into());
                }
                Op::AvgPool { k, stride } => {
                    o.insert("k".into(), k.into());
                    o.insert("stride".into(), stride.into());
                }
                Op::MaxPool { k, stride, pad } => {
                    o.insert("k".into(), k.into());
                    o.insert("stride".into(), stride.into());
                    o.insert("pad".into(), pad.into());
                }
                Op::ShortcutA { cout, stride } => {
                    o.insert("cout".into(), cout.into());
                    o.insert("stride".into(), stride.into());
                }
                Op::Relu | Op::Add | Op::Flatten => {}
            }
            o.insert(
                "inputs".into(),
                Value::Array(l.inputs.iter().map(|&t| name_of(t).into()).collect()),
            );
            o.insert("out".into(), serde_json::json!([l.out.c, l.out.h, l.out.w]));
            for (k, b) in [
                ("wbits", l.quant.wbits),
                ("abits", l.quant.abits),
                ("rbits", l.quant.rbits),
            ] {
                if b > 0 {
                    o.insert(k.into(), b.into());
                }
            }
            if l.bias {
                o.insert("bias".into(), true.into());
            }
            if let Some(s) = l.shift {
                o.insert("shift".into(), s.into());
            }
            Value::Object(o)
        })
        .collect();
    serde_json::json!({
        "name": m.name,
        "input": {
            "shape": [m.input.c, m.input.h, m.input.w],
            "bits": m.encoding.bits,
            "signed": m.encoding.signed,
        },
        "layers": layers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin;

    const TINY: &str = r#"{ "name": "tiny", "input": [3, 8, 8], "layers": [
        { "name": "c1", "op": "conv", "cout": 8, "k": 3, "wbits": 2, "abits": 4 },
        { "name": "r1", "op": "relu" },
        { "name": "c2", "op": "conv", "cout": 8, "k": 3, "wbits": 2, "abits": 4, "out": [8, 8, 8] },
        { "name": "sum", "op": "add", "inputs": ["c2", "r1"], "rbits": 8 },
        { "name": "fc", "op": "fc", "dout": 10, "wbits": 8 } ] }"#;

    #[test]
    fn parses_tiny() {
        let m = parse(TINY).unwrap();
        assert_eq!(m.layers.len(), 5);
        assert_eq!(m.layers[3].inputs, vec![3, 2]);
        assert_eq!(m.layers[4].out, Shape::new(10, 1, 1));
        assert_eq!(m.layers[0].quant.wbits, 2);
    }

    #[test]
    fn round_trips_builtins() {
        for name in ["minionn", "resnet32", "resnet50-32px"] {
            let m = builtin::by_name(name, 1).unwrap();
            let back = parse(&to_json(&m).to_string()).unwrap();
            assert_eq!(back, m, "{name}");
        }
    }

    #[test]
    fn rejects_errors_with_names() {
        let unknown = TINY.replace("\"op\": \"relu\"", "\"op\": \"gelu\"");
        let e = parse(&unknown).unwrap_err().to_string();
        assert!(
            e.contains("r1") && e.contains("unknown layer op 'gelu'"),
            "{e}"
        );

        let mismatch = TINY.replace("\"out\": [8, 8, 8]", "\"out\": [8, 4, 4]");
        let e = parse(&mismatch).unwrap_err().to_string();
        assert!(e.contains("c2") && e.contains("shape mismatch"), "{e}");

        let zero = TINY.replace("\"wbits\": 8", "\"wbits\": 0");
        let e = parse(&zero).unwrap_err().to_string();
        assert!(
            e.contains("fc") && e.contains("bit-width 'wbits' = 0"),
            "{e}"
        );

        let bad_add = TINY.replace("[\"c2\", \"r1\"]", "[\"c2\", \"fc9\"]");
        assert!(parse(&bad_add).unwrap_err().to_string().contains("fc9"));

        let add_shape = r#"{"input":[3,8,8],"layers":[{"name":"a","op":"conv","cout":4,"k":3},
            {"name":"b","op":"conv","cout":4,"k":3,"stride":2},{"name":"s","op":"add","inputs":["a","b"]}]}"#;
        assert!(
            parse(add_shape)
                .unwrap_err()
                .to_string()
                .contains("shape mismatch")
        );
        assert!(parse("[1,2]").is_err());

        // User numbers that would overflow the shape arithmetic are refused by name.
        let huge_pad = TINY.replace(
            "\"cout\": 8, \"k\": 3, \"wbits\": 2, \"abits\": 4 },",
            "\"cout\": 8, \"k\": 3, \"pad\": 9223372036854775807, \"wbits\": 2, \"abits\": 4 },",
        );
        assert_ne!(huge_pad, TINY);
        let e = parse(&huge_pad).unwrap_err().to_string();
        assert!(
            e.contains("c1") && e.contains("pad = 9223372036854775807"),
            "{e}"
        );
        let huge_in = TINY.replace("[3, 8, 8]", "[4294967296, 4294967296, 1]");
        let e = parse(&huge_in).unwrap_err().to_string();
        assert!(e.contains("too large"), "{e}");
        let huge_fc = TINY.replace("\"dout\": 10", "\"dout\": 1000000000000");
        let e = parse(&huge_fc).unwrap_err().to_string();
        assert!(e.contains("fc") && e.contains("dout"), "{e}");
        assert!(
            parse("{")
                .unwrap_err()
                .to_string()
                .contains("not valid JSON")
        );
    }
}
