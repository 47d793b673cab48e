//! The model IR: a graph of layers over tensors.
//!
//! Tensor 0 is the model input; layer `i` produces tensor `i + 1`. Layers list their input
//! tensors by id and appear in topological order. Shapes are C×H×W (an FC output is C×1×1).
//! Bit-widths live per layer in [`Quant`]; a configuration (sirnn, sirnn-quant, privquant)
//! fills them in. Scales and sign knowledge are derived by passes, not stored here.

use serde::{Deserialize, Serialize};

/// A tensor id: 0 is the model input, `i + 1` the output of layer `i`.
pub type TensorId = usize;

pub use pq_proto::tensor::Shape;

/// Layer operations.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// 2-D convolution, no groups, symmetric zero padding. Weights are the server's.
    Conv {
        /// Output channels.
        cout: usize,
        /// Kernel side: the window is k×k.
        k: usize,
        /// Step between windows, in pixels, along H and W.
        stride: usize,
        /// Zero pixels added on each side of H and W.
        pad: usize,
    },
    /// Fully connected: flattens its input (C·H·W) to `dout` outputs.
    Fc {
        /// Output features.
        dout: usize,
    },
    /// Elementwise max(x, 0).
    Relu,
    /// Average pool, k×k window, no padding.
    AvgPool {
        /// Window side: the window is k×k.
        k: usize,
        /// Step between windows, in pixels.
        stride: usize,
    },
    /// Max pool, k×k window, symmetric padding (padding never wins the max).
    MaxPool {
        /// Window side: the window is k×k.
        k: usize,
        /// Step between windows, in pixels.
        stride: usize,
        /// Padding pixels on each side; must be smaller than `k`.
        pad: usize,
    },
    /// Residual addition of two tensors of the same shape.
    Add,
    /// ResNet option-A shortcut: subsample H and W by `stride`, zero-pad channels to `cout`
    /// ((cout − C)/2 zero channels on each side). Free in 2PC.
    ShortcutA {
        /// Output channels: at least the input's C, with an even difference.
        cout: usize,
        /// Spatial subsampling factor (every `stride`-th row and column, from the first).
        stride: usize,
    },
    /// Flatten to C·H·W × 1 × 1 (layout only).
    Flatten,
}

impl Op {
    /// The op's kernel, stride, padding and channel counts, by their JSON names (bounded by
    /// [`MAX_WINDOW`] before any shape arithmetic).
    pub fn window_params(&self) -> Vec<(&'static str, usize)> {
        match *self {
            Op::Conv {
                cout,
                k,
                stride,
                pad,
            } => vec![("cout", cout), ("k", k), ("stride", stride), ("pad", pad)],
            Op::Fc { dout } => vec![("dout", dout)],
            Op::AvgPool { k, stride } => vec![("k", k), ("stride", stride)],
            Op::MaxPool { k, stride, pad } => vec![("k", k), ("stride", stride), ("pad", pad)],
            Op::ShortcutA { cout, stride } => vec![("cout", cout), ("stride", stride)],
            Op::Relu | Op::Add | Op::Flatten => Vec::new(),
        }
    }
    /// The op's name as written in the JSON format's `op` field (`conv`, `fc`, `relu`,
    /// `avgpool`, `maxpool`, `add`, `shortcut_a`, `flatten`).
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Conv { .. } => "conv",
            Op::Fc { .. } => "fc",
            Op::Relu => "relu",
            Op::AvgPool { .. } => "avgpool",
            Op::MaxPool { .. } => "maxpool",
            Op::Add => "add",
            Op::ShortcutA { .. } => "shortcut_a",
            Op::Flatten => "flatten",
        }
    }
    /// Number of input tensors: 2 for [`Op::Add`], 1 for every other op.
    pub fn arity(&self) -> usize {
        if matches!(self, Op::Add) { 2 } else { 1 }
    }
    /// Whether the op carries weights, i.e. is a conv or FC layer.
    pub fn is_linear(&self) -> bool {
        matches!(self, Op::Conv { .. } | Op::Fc { .. })
    }
}

/// Per-layer bit-widths. `wbits` applies to conv/FC weights; `abits` is the width of the
/// activation this layer hands on (after its requantization); `rbits` the residual width for
/// residual adds. Zero means "not set" (a config fills it in).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Quant {
    /// Weight bit-width of a conv or FC layer (0 = unset).
    #[serde(default)]
    pub wbits: u32,
    /// Bit-width of the activation the layer outputs (0 = unset).
    #[serde(default)]
    pub abits: u32,
    /// Bit-width of the residual stream at a residual add (0 = unset).
    #[serde(default)]
    pub rbits: u32,
}

/// How the client encodes its input, tensor 0: every element is an integer of `bits` bits,
/// unsigned (in [0, 2^bits − 1]) or signed (in [−2^(bits−1), 2^(bits−1) − 1]). This is the
/// input's declared domain: the client refuses anything outside it, and the lowering relies
/// on nothing more (an unsigned input is non-negative; a signed one may take any value).
///
/// The built-in models declare 7-bit unsigned inputs, [0, 127].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InputEncoding {
    /// Bits per element, 1..=63.
    pub bits: u32,
    /// Two's-complement signed (else unsigned).
    pub signed: bool,
}

impl Default for InputEncoding {
    fn default() -> Self {
        InputEncoding {
            bits: 7,
            signed: false,
        }
    }
}

impl InputEncoding {
    /// Largest `bits` accepted.
    pub const MAX_BITS: u32 = 63;
    /// The domain's smallest and largest values.
    pub fn domain(self) -> (i64, i64) {
        let b = self.bits.clamp(1, Self::MAX_BITS);
        if self.signed {
            (-(1i64 << (b - 1)), (1i64 << (b - 1)) - 1)
        } else {
            (0, (1i64 << b) - 1)
        }
    }
    /// The width of the smallest two's-complement ring that holds the domain: `bits` when
    /// signed, `bits + 1` when unsigned (the extra bit is the known-zero sign bit).
    pub fn signed_width(self) -> u32 {
        if self.signed {
            self.bits
        } else {
            self.bits + 1
        }
    }
}

impl std::fmt::Display for InputEncoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (lo, hi) = self.domain();
        let kind = if self.signed { "signed" } else { "unsigned" };
        write!(f, "{}-bit {kind} [{lo}, {hi}]", self.bits)
    }
}

/// One layer: an op over earlier tensors. Layer `i` of a [`Model`] produces tensor `i + 1`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Layer {
    /// The layer's name. Errors, JSON `inputs` references and weight-file tensors
    /// (`<name>.weight`) refer to the layer by it; the JSON reader requires it to be unique.
    pub name: String,
    /// What the layer computes.
    pub op: Op,
    /// Input tensor ids ([`Op::arity`] of them), each produced before this layer.
    pub inputs: Vec<TensorId>,
    /// Output shape (C×H×W); [`Model::validate`] checks it against [`infer_shape`].
    pub out: Shape,
    /// Bit-widths; a configuration fills in the unset (zero) ones.
    pub quant: Quant,
    /// A conv or FC layer adds a per-output-channel bias (the server's) to its accumulator:
    /// acc = Σ w·x + bias. The bias is at the accumulator's scale.
    #[serde(default)]
    pub bias: bool,
    /// The layer's right shift, when the model states it: for a conv or FC, the output is
    /// floor(acc / 2^shift) reduced to `abits` (unset: the configuration's pinned shift); for
    /// a residual `add`, the sum is floor((a + b) / 2^shift) reduced to `rbits` (unset: 1).
    #[serde(default)]
    pub shift: Option<u32>,
}

impl Layer {
    /// Multiply-accumulates of a conv or FC layer (0 otherwise).
    pub fn macs(&self, in_shape: Shape) -> u64 {
        match self.op {
            Op::Conv { cout, k, .. } => {
                (self.out.h * self.out.w * cout * in_shape.c * k * k) as u64
            }
            Op::Fc { dout } => (in_shape.numel() * dout) as u64,
            _ => 0,
        }
    }
    /// The GEMM view (M = output pixels, K = C_in·k², N = C_out) of a conv or FC layer.
    pub fn gemm(&self, in_shape: Shape) -> Option<(usize, usize, usize)> {
        match self.op {
            Op::Conv { cout, k, .. } => Some((self.out.h * self.out.w, in_shape.c * k * k, cout)),
            Op::Fc { dout } => Some((1, in_shape.numel(), dout)),
            _ => None,
        }
    }
    /// [`Self::weight_count`], or `None` when it overflows.
    pub fn checked_weight_count(&self, in_shape: Shape) -> Option<u64> {
        let c = checked_numel(in_shape)? as u64;
        match self.op {
            Op::Conv { cout, k, .. } => (cout as u64)
                .checked_mul(in_shape.c as u64)?
                .checked_mul((k as u64).checked_mul(k as u64)?),
            Op::Fc { dout } => c.checked_mul(dout as u64),
            _ => Some(0),
        }
    }
    /// [`Self::macs`], or `None` when it overflows.
    pub fn checked_macs(&self, in_shape: Shape) -> Option<u64> {
        match self.op {
            Op::Conv { .. } => (self.out.h as u64)
                .checked_mul(self.out.w as u64)?
                .checked_mul(self.checked_weight_count(in_shape)?),
            _ => self.checked_weight_count(in_shape),
        }
    }
    /// Number of weights of a conv or FC layer.
    pub fn weight_count(&self, in_shape: Shape) -> usize {
        match self.op {
            Op::Conv { cout, k, .. } => cout * in_shape.c * k * k,
            Op::Fc { dout } => in_shape.numel() * dout,
            _ => 0,
        }
    }
}

/// Errors in a model description; each names the layer and the problem.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    /// A problem with one layer (bad parameters, shape, inputs or bit-widths).
    #[error("layer '{layer}': {msg}")]
    Layer {
        /// The layer's name.
        layer: String,
        /// What is wrong.
        msg: String,
    },
    /// A problem with the model as a whole (empty input, no layers, unknown built-in name).
    #[error("model: {0}")]
    Model(String),
    /// Text that is not JSON, or JSON that is not a model in the format of [`crate::json`].
    #[error("model JSON: {0}")]
    Json(String),
}

fn lerr<T>(layer: &str, msg: impl Into<String>) -> Result<T, ModelError> {
    Err(ModelError::Layer {
        layer: layer.to_string(),
        msg: msg.into(),
    })
}

/// `s` if its element count is within [`MAX_NUMEL`].
fn out_shape(layer: &str, s: Shape) -> Result<Shape, ModelError> {
    match checked_numel(s) {
        Some(_) => Ok(s),
        None => lerr(
            layer,
            format!("output shape {s} is too large (at most 2^40 elements)"),
        ),
    }
}

/// A network.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Model {
    /// The model's name, shown in reports and error messages.
    pub name: String,
    /// Shape of the client's input, tensor 0.
    pub input: Shape,
    /// The client's input encoding: its declared domain.
    #[serde(default)]
    pub encoding: InputEncoding,
    /// The layers in topological order; layer `i` produces tensor `i + 1`.
    pub layers: Vec<Layer>,
}

/// The largest kernel, stride or padding a model may state (2^31): every window computation
/// (`h + 2·pad`, `k²·c`) then fits in 64 bits, and an index fits in an `i64`.
pub const MAX_WINDOW: usize = 1 << 31;
/// The most elements a model's tensor may hold (2^40): products of a tensor's size with a
/// kernel's (the weights, the multiply-accumulates) stay far inside 64 bits. A tensor this
/// large still cannot run; the memory estimate before a run refuses what does not fit.
pub const MAX_NUMEL: u64 = 1 << 40;

/// `c·h·w`, unless it exceeds [`MAX_NUMEL`] (or 64 bits).
pub fn checked_numel(s: Shape) -> Option<usize> {
    let n = (s.c as u64)
        .checked_mul(s.h as u64)?
        .checked_mul(s.w as u64)?;
    if n > MAX_NUMEL {
        return None;
    }
    usize::try_from(n).ok()
}

/// Output shape of `op` applied to `inputs`, or why it cannot apply. Every user number is
/// bounded first ([`MAX_WINDOW`], [`MAX_NUMEL`]), so no step can overflow.
pub fn infer_shape(name: &str, op: &Op, inputs: &[Shape]) -> Result<Shape, ModelError> {
    for x in inputs {
        if checked_numel(*x).is_none() {
            return lerr(
                name,
                format!("input shape {x} is too large (at most 2^40 elements)"),
            );
        }
    }
    for (what, v) in op.window_params() {
        if v > MAX_WINDOW {
            return lerr(
                name,
                format!("{} {what} = {v} is out of range (at most 2^31)", op.kind()),
            );
        }
    }
    if inputs.len() != op.arity() {
        return lerr(
            name,
            format!(
                "{} takes {} input(s), got {}",
                op.kind(),
                op.arity(),
                inputs.len()
            ),
        );
    }
    let x = inputs[0];
    // k, s, p ≤ 2^31 and h, w ≤ 2^40: no sum or product below overflows.
    let window = |k: usize, s: usize, p: usize, what: &str| -> Result<(usize, usize), ModelError> {
        if k == 0 || s == 0 {
            return lerr(
                name,
                format!("{what}: kernel and stride must be at least 1"),
            );
        }
        if x.h + 2 * p < k || x.w + 2 * p < k {
            return lerr(
                name,
                format!("{what}: kernel {k} larger than the padded input {x}"),
            );
        }
        Ok(((x.h + 2 * p - k) / s + 1, (x.w + 2 * p - k) / s + 1))
    };
    match *op {
        Op::Conv {
            cout,
            k,
            stride,
            pad,
        } => {
            if cout == 0 {
                return lerr(name, "conv: cout must be at least 1");
            }
            let (h, w) = window(k, stride, pad, "conv")?;
            out_shape(name, Shape::new(cout, h, w))
        }
        Op::Fc { dout } => {
            if dout == 0 {
                return lerr(name, "fc: dout must be at least 1");
            }
            out_shape(name, Shape::new(dout, 1, 1))
        }
        Op::Relu => Ok(x),
        Op::AvgPool { k, stride } => {
            let (h, w) = window(k, stride, 0, "avgpool")?;
            Ok(Shape::new(x.c, h, w))
        }
        Op::MaxPool { k, stride, pad } => {
            if pad >= k {
                return lerr(name, "maxpool: padding must be smaller than the kernel");
            }
            let (h, w) = window(k, stride, pad, "maxpool")?;
            Ok(Shape::new(x.c, h, w))
        }
        Op::Add => {
            if inputs[0] != inputs[1] {
                return lerr(
                    name,
                    format!("add: shape mismatch {} vs {}", inputs[0], inputs[1]),
                );
            }
            Ok(x)
        }
        Op::ShortcutA { cout, stride } => {
            if stride == 0 || cout < x.c || !(cout - x.c).is_multiple_of(2) {
                return lerr(
                    name,
                    format!("shortcut_a: cannot pad {} channels to {cout} evenly", x.c),
                );
            }
            Ok(Shape::new(cout, x.h.div_ceil(stride), x.w.div_ceil(stride)))
        }
        Op::Flatten => Ok(Shape::new(x.numel(), 1, 1)),
    }
}

impl Model {
    /// Shape of tensor `t`.
    pub fn shape(&self, t: TensorId) -> Shape {
        if t == 0 {
            self.input
        } else {
            self.layers[t - 1].out
        }
    }
    /// Input shape of layer `i` (its first input).
    pub fn in_shape(&self, i: usize) -> Shape {
        self.shape(self.layers[i].inputs[0])
    }
    /// Check ids, arities, shapes and bit-widths.
    pub fn validate(&self) -> Result<(), ModelError> {
        if checked_numel(self.input).is_none() {
            return Err(ModelError::Model(format!(
                "input shape {} is too large (at most 2^40 elements)",
                self.input
            )));
        }
        if self.input.numel() == 0 {
            return Err(ModelError::Model(format!(
                "input shape {} is empty",
                self.input
            )));
        }
        if self.layers.is_empty() {
            return Err(ModelError::Model("no layers".into()));
        }
        if !(1..=InputEncoding::MAX_BITS).contains(&self.encoding.bits) {
            return Err(ModelError::Model(format!(
                "input bits = {} is out of range (1..={})",
                self.encoding.bits,
                InputEncoding::MAX_BITS
            )));
        }
        for (i, l) in self.layers.iter().enumerate() {
            for &t in &l.inputs {
                if t > i {
                    return lerr(
                        &l.name,
                        format!("input tensor {t} is not produced before this layer"),
                    );
                }
            }
            let ins: Vec<Shape> = l.inputs.iter().map(|&t| self.shape(t)).collect();
            let s = infer_shape(&l.name, &l.op, &ins)?;
            if let Some(&x) = ins.first() {
                let (w, m) = (l.checked_weight_count(x), l.checked_macs(x));
                if w.is_none() || m.is_none() {
                    return lerr(
                        &l.name,
                        format!(
                            "{} on {x} is too large (its weights or multiply-accumulates exceed 2^40 · k²)",
                            l.op.kind()
                        ),
                    );
                }
            }
            if s != l.out {
                return lerr(
                    &l.name,
                    format!(
                        "shape mismatch: declared output {} but {} gives {}",
                        l.out,
                        l.op.kind(),
                        s
                    ),
                );
            }
            for (what, b) in [
                ("wbits", l.quant.wbits),
                ("abits", l.quant.abits),
                ("rbits", l.quant.rbits),
            ] {
                if b > 64 {
                    return lerr(&l.name, format!("{what} = {b} is out of range (1..=64)"));
                }
            }
            if l.bias && !l.op.is_linear() {
                return lerr(&l.name, format!("{} takes no bias", l.op.kind()));
            }
            if let Some(s) = l.shift {
                if !(l.op.is_linear() || l.op == Op::Add) {
                    return lerr(&l.name, format!("{} takes no shift", l.op.kind()));
                }
                if s > 63 {
                    return lerr(&l.name, format!("shift = {s} is out of range (0..=63)"));
                }
            }
        }
        Ok(())
    }
    /// Total multiply-accumulates of conv and FC layers.
    pub fn macs(&self) -> u64 {
        (0..self.layers.len())
            .map(|i| self.layers[i].macs(self.in_shape(i)))
            .sum()
    }
    /// Indices of conv and FC layers, in order.
    pub fn linear_layers(&self) -> Vec<usize> {
        (0..self.layers.len())
            .filter(|&i| self.layers[i].op.is_linear())
            .collect()
    }
    /// Number of elements that go through a ReLU.
    pub fn relu_elements(&self) -> usize {
        self.layers
            .iter()
            .filter(|l| l.op == Op::Relu)
            .map(|l| l.out.numel())
            .sum()
    }
}

/// Incremental model construction with shape inference.
pub struct Builder {
    model: Model,
}

impl Builder {
    /// An empty model named `name` whose input (tensor 0) has shape `input`.
    pub fn new(name: &str, input: Shape) -> Self {
        Builder {
            model: Model {
                name: name.into(),
                input,
                encoding: InputEncoding::default(),
                layers: vec![],
            },
        }
    }
    /// The tensor produced last (0 = input when no layer yet).
    pub fn last(&self) -> TensorId {
        self.model.layers.len()
    }
    /// Shape of tensor `t`; panics if `t` has not been produced yet.
    pub fn shape(&self, t: TensorId) -> Shape {
        self.model.shape(t)
    }
    /// Append a layer; panics only on a builder bug (built-in shapes are fixed).
    pub fn push(&mut self, name: &str, op: Op, inputs: &[TensorId]) -> TensorId {
        let ins: Vec<Shape> = inputs.iter().map(|&t| self.model.shape(t)).collect();
        let out = match infer_shape(name, &op, &ins) {
            Ok(s) => s,
            Err(e) => panic!("built-in model {}: {e}", self.model.name),
        };
        self.model.layers.push(Layer {
            name: name.into(),
            op,
            inputs: inputs.to_vec(),
            out,
            quant: Quant::default(),
            bias: false,
            shift: None,
        });
        self.last()
    }
    /// The built model; its shapes are consistent by construction and its bit-widths unset.
    pub fn finish(self) -> Model {
        self.model
    }
}
