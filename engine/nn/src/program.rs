//! [`Program`]: what lowering produces and every executor runs. Numbered tensors with widths,
//! scales and sign knowledge ([`TensorMeta`]), and a list of [`Step`]s, each of which maps
//! onto one protocol call or a local operation (`docs/network-semantics.md`). The lowering
//! pass is [`crate::lower`]; the range analysis over a program is [`crate::signs`].

use crate::config::{Config, Features};
use crate::interval::Interval;
use crate::model::{Model, Shape};
use serde::Serialize;
use std::collections::BTreeMap;

/// A tensor of the program (index into [`Program::tensors`]).
pub type TId = usize;

/// Metadata of one tensor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TensorMeta {
    /// Shape C×H×W (an FC output is dout×1×1).
    pub shape: Shape,
    /// Width l: the value is a signed l-bit integer (shares are mod 2^l).
    pub bits: u32,
    /// Scale s: value = integer / 2^s (bookkeeping).
    pub scale: i32,
    /// Proven non-negative (in [0, 2^(l−1) − 1]) by the range analysis.
    pub nonneg: bool,
    /// Proven range of the signed value.
    #[serde(skip)]
    pub range: Interval,
}

impl TensorMeta {
    /// The coarse range: "non-negative in `bits` bits" when proven non-negative, else "any
    /// `bits`-bit value". It depends on the width and the sign knowledge only.
    pub fn coarse_range(&self) -> Interval {
        if self.nonneg {
            Interval::new(0, Interval::full(self.bits).hi)
        } else {
            Interval::full(self.bits)
        }
    }
}

/// Which operand a party knows in SCI's matmul (`MultMode`; the server is Alice).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum MatMode {
    /// Conv: A = weights (d1 × d2, server), B = im2col'd activations (d2 × d3).
    AliceHasA,
    /// FC: A = activations (1 × din), B = weights (din × dout, server).
    AliceHasB,
}

/// One protocol-level operation. Widths are in bits, shifts in bits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum StepOp {
    /// SCI matmul: floor(Σ w·x / 2^e) reduced to `bw_c` bits (computed mod 2^(bw_c + e)).
    /// `bw_a`, `bw_b` are the widths of SCI's A and B operands (see [`MatMode`]).
    LinearSci {
        /// The layer, an index into [`Program::linear`].
        lin: usize,
        /// Which operand the server holds in the clear.
        mode: MatMode,
        /// Width of SCI's A operand.
        bw_a: u32,
        /// Width of SCI's B operand.
        bw_b: u32,
        /// Output width.
        bw_c: u32,
    },
    /// privquant: the exact Σ w·x in `acc_bits` bits (the range analysis proves it fits).
    LinearExact {
        /// The layer, an index into [`Program::linear`].
        lin: usize,
        /// Accumulator (output) width.
        acc_bits: u32,
    },
    /// SCI rescale: x / 2^s rounded towards zero, stays in `bw` bits.
    DivPow2 {
        /// Input and output width.
        bw: u32,
        /// Shift.
        s: u32,
    },
    /// Π_Trunc: floor(x / 2^s), stays in `bw` bits.
    Trunc {
        /// Input and output width.
        bw: u32,
        /// Shift.
        s: u32,
    },
    /// Π_TR: floor(x / 2^s) in `bw − s` bits.
    Tr {
        /// Input width.
        bw: u32,
        /// Shift (and the number of bits dropped from the width).
        s: u32,
    },
    /// Algorithm 1 of PrivQuant (ICCAD 2024), exact form, from (l1, s1) to (l2, s2); see
    /// `docs/network-semantics.md` §Definitions.
    Requant {
        /// Input width.
        l1: u32,
        /// Input scale.
        s1: i32,
        /// Output width.
        l2: u32,
        /// Output scale.
        s2: i32,
    },
    /// Local: keep the low `to` bits (wrap).
    Reduce {
        /// Input width.
        from: u32,
        /// Output width (at most `from`).
        to: u32,
    },
    /// Π_Ext, signed; `msb_known`: the input is proven non-negative and the protocol may use
    /// the known-MSB variant.
    SExt {
        /// Input width.
        from: u32,
        /// Output width.
        to: u32,
        /// The input is proven non-negative in `from` bits.
        msb_known: bool,
    },
    /// Zero extension (the input read as unsigned).
    ZExt {
        /// Input width.
        from: u32,
        /// Output width.
        to: u32,
    },
    /// max(x, 0).
    Relu {
        /// Input and output width.
        bits: u32,
    },
    /// SCI MaxPool2D: per output, k² − 1 sequential `m ← m + ReLU(x − m)` in `bits` bits,
    /// over the window in row-major order (padding positions omitted).
    MaxPoolSeqRelu {
        /// Input and output width.
        bits: u32,
        /// Window side.
        k: usize,
        /// Window stride.
        stride: usize,
        /// Padding on each border (padding positions are not compared).
        pad: usize,
    },
    /// Comparison tree: max(a, b) = b + ReLU(a − b) in `bits` bits, pairing neighbours level
    /// by level (an odd last element passes up unchanged).
    MaxPoolTree {
        /// Input and output width.
        bits: u32,
        /// Window side.
        k: usize,
        /// Window stride.
        stride: usize,
        /// Padding on each border (padding positions are not compared).
        pad: usize,
    },
    /// Local: k×k window sums (no padding) in `bits` bits.
    AvgSum {
        /// Input and output width.
        bits: u32,
        /// Window side.
        k: usize,
        /// Window stride.
        stride: usize,
    },
    /// Local: option-A shortcut (subsample, zero channels).
    ShortcutA {
        /// Input and output width.
        bits: u32,
        /// Output channels (the input's, zero-padded evenly on both sides).
        cout: usize,
        /// Subsampling stride.
        stride: usize,
    },
    /// Local: x · 2^s, from `from` bits into `from + s` bits (never wraps).
    ShiftLeft {
        /// Input width.
        from: u32,
        /// Shift.
        s: u32,
    },
    /// Local: a + b in `bits` bits.
    Add {
        /// Width of both inputs and the output.
        bits: u32,
    },
    /// The server sends its shares; the client learns the value.
    Reveal {
        /// Width of the revealed value.
        bits: u32,
    },
    /// Π_Argmax: the client learns the index of the largest element (the lowest index among
    /// equal ones) and nothing else. The output is that index, a single element.
    RevealLabel {
        /// Width of the compared values.
        bits: u32,
    },
}

impl StepOp {
    /// A short name of the step kind (for counting and reports).
    pub fn kind(&self) -> &'static str {
        match self {
            StepOp::LinearSci { .. } => "linear_sci",
            StepOp::LinearExact { .. } => "linear_exact",
            StepOp::DivPow2 { .. } => "div_pow2",
            StepOp::Trunc { .. } => "trunc",
            StepOp::Tr { .. } => "tr",
            StepOp::Requant { .. } => "requant",
            StepOp::Reduce { .. } => "reduce",
            StepOp::SExt { .. } => "s_extend",
            StepOp::ZExt { .. } => "z_extend",
            StepOp::Relu { .. } => "relu",
            StepOp::MaxPoolSeqRelu { .. } => "maxpool_seq_relu",
            StepOp::MaxPoolTree { .. } => "maxpool_tree",
            StepOp::AvgSum { .. } => "avg_sum",
            StepOp::ShortcutA { .. } => "shortcut_a",
            StepOp::ShiftLeft { .. } => "shift_left",
            StepOp::Add { .. } => "add",
            StepOp::Reveal { .. } => "reveal",
            StepOp::RevealLabel { .. } => "reveal_label",
        }
    }
    /// Whether the step is local (no communication) in any profile.
    pub fn is_local(&self) -> bool {
        matches!(
            self,
            StepOp::Reduce { .. }
                | StepOp::AvgSum { .. }
                | StepOp::ShortcutA { .. }
                | StepOp::ShiftLeft { .. }
                | StepOp::Add { .. }
        )
    }
    /// (width, shift) pairs the step uses, for checks: every width in 1..=64, every shift
    /// below its width.
    pub fn widths(&self) -> (Vec<u32>, Vec<(u32, u32)>) {
        match *self {
            StepOp::LinearSci {
                bw_a, bw_b, bw_c, ..
            } => (vec![bw_a, bw_b, bw_c], vec![]),
            StepOp::LinearExact { acc_bits, .. } => (vec![acc_bits], vec![]),
            StepOp::DivPow2 { bw, s } | StepOp::Trunc { bw, s } | StepOp::Tr { bw, s } => {
                (vec![bw], vec![(s, bw)])
            }
            StepOp::Requant { l1, s1, l2, s2 } => {
                let d = (s1 - s2).unsigned_abs();
                (vec![l1, l2], if s1 > s2 { vec![(d, l1)] } else { vec![] })
            }
            StepOp::Reduce { from, to }
            | StepOp::SExt { from, to, .. }
            | StepOp::ZExt { from, to } => (vec![from, to], vec![]),
            StepOp::Relu { bits }
            | StepOp::MaxPoolSeqRelu { bits, .. }
            | StepOp::MaxPoolTree { bits, .. }
            | StepOp::AvgSum { bits, .. }
            | StepOp::ShortcutA { bits, .. }
            | StepOp::Add { bits }
            | StepOp::Reveal { bits }
            | StepOp::RevealLabel { bits } => (vec![bits], vec![]),
            StepOp::ShiftLeft { from, s } => (vec![from, from + s], vec![]),
        }
    }
}

/// One step: `out = op(inputs)`, belonging to model layer `layer`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Name of the model layer the step implements (several steps may share one).
    pub layer: String,
    /// What the step computes.
    pub op: StepOp,
    /// Input tensors: one, or two for [`StepOp::Add`].
    pub inputs: Vec<TId>,
    /// The tensor the step writes.
    pub out: TId,
}

/// A conv or FC layer of the program (public shape data, plus the implied weight scale).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LinearInfo {
    /// Index of the layer in the model (and in `Weights::layers`).
    pub layer: usize,
    /// The model layer's name.
    pub name: String,
    /// An FC layer (else a conv).
    pub is_fc: bool,
    /// Input shape (before im2col / flatten).
    pub in_shape: Shape,
    /// Output shape (dout×1×1 for an FC).
    pub out_shape: Shape,
    /// Conv kernel side (1 for an FC).
    pub k: usize,
    /// Conv stride (1 for an FC).
    pub stride: usize,
    /// Conv zero padding on each border (0 for an FC).
    pub pad: usize,
    /// The GEMM W·X: d1 = C_out (conv) or 1 (FC), d2 = reduction length, d3 = output pixels
    /// (conv) or d_out (FC). SCI's operand layout is given by the step's [`MatMode`].
    pub d1: usize,
    /// Reduction length: C_in·k² (conv) or the input size (FC).
    pub d2: usize,
    /// Output pixels H_out·W_out (conv) or d_out (FC).
    pub d3: usize,
    /// e = ⌈log2 d2⌉.
    pub e: u32,
    /// Weight width in bits.
    pub wbits: u32,
    /// Total right shift applied after the accumulator (sirnn: 12 + e; quantized: lw + e − 1,
    /// or a calibrated override). For a residual branch the add's demote adds 1.
    pub shift: u32,
    /// Implied weight scale (bookkeeping).
    pub wscale: i32,
    /// The layer adds a bias, which must be a signed value of this many bits: the width of
    /// the bias-free accumulator's range (so acc + bias needs at most one bit more). Public:
    /// it follows from the shapes and widths alone. `None`: no bias.
    pub bias_bits: Option<u32>,
}

/// The lowered network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// The width-applied model.
    pub model: Model,
    /// The configuration it was lowered for.
    pub cfg: Config,
    /// The optimizations the program was lowered with (the executor's variants follow them).
    pub feat: Features,
    /// The linear-layer planner's objective ([`crate::lower::LowerOptions::objective`]).
    pub objective: pq_proto::Objective,
    /// Every tensor, indexed by [`TId`].
    pub tensors: Vec<TensorMeta>,
    /// The steps, in execution order.
    pub steps: Vec<Step>,
    /// The conv and FC layers, indexed by the steps' `lin`.
    pub linear: Vec<LinearInfo>,
    /// The client's input tensor (always 0).
    pub input: TId,
    /// Whether the client holds the input in clear (false: a block's shared input, see
    /// [`crate::lower::LowerOptions::input_act_bits`]).
    pub input_clear: bool,
    /// The revealed output (the logits).
    pub output: TId,
    /// For each model tensor (0 = input, i + 1 = layer i), the program tensor holding it.
    pub model_tensor: Vec<TId>,
}

/// What of a program is public and hashed in the handshake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProgramSummary {
    /// [`Program::tensors`] (their `range` is left out of the serialized form).
    pub tensors: Vec<TensorMeta>,
    /// [`Program::steps`].
    pub steps: Vec<Step>,
    /// [`Program::linear`].
    pub linear: Vec<LinearInfo>,
}

impl Program {
    /// The public part of the program (a copy), as hashed in the handshake.
    pub fn summary(&self) -> ProgramSummary {
        ProgramSummary {
            tensors: self.tensors.clone(),
            steps: self.steps.clone(),
            linear: self.linear.clone(),
        }
    }
    /// Number of steps of each kind.
    pub fn kind_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut m = BTreeMap::new();
        for s in &self.steps {
            *m.entry(s.op.kind()).or_insert(0) += 1;
        }
        m
    }
    /// Number of steps of one kind.
    pub fn count(&self, kind: &str) -> usize {
        self.steps.iter().filter(|s| s.op.kind() == kind).count()
    }
    /// Number of elements processed by steps of one kind (the output size of each).
    pub fn elements(&self, kind: &str) -> usize {
        self.steps
            .iter()
            .filter(|s| s.op.kind() == kind)
            .map(|s| self.tensors[s.out].shape.numel())
            .sum()
    }
    /// Metadata of a step's output tensor.
    pub fn out_meta(&self, step: &Step) -> &TensorMeta {
        &self.tensors[step.out]
    }
    /// The steps of one model layer.
    pub fn layer_steps<'a>(&'a self, layer: &'a str) -> impl Iterator<Item = &'a Step> + 'a {
        self.steps.iter().filter(move |s| s.layer == layer)
    }
}
