//! Lowering a (model, configuration) to a [`Program`]: the list of protocol-level steps of
//! `docs/network-semantics.md`, over numbered tensors with widths, scales and sign knowledge.
//!
//! The plaintext reference (`reference.rs`) and a secure executor both run the same program;
//! each [`Step`] maps 1:1 onto one protocol (or a local operation). Tensor 0 is the client's
//! input. Every step names the model layer it belongs to, for per-layer accounting.
//!
//! Conventions fixed here (where the spec leaves a choice):
//! * **Activation formats.** A tensor may be wider than the width a conv or FC reads it at
//!   (its *act width*): the 32-bit in-flight values of `sirnn` (read at 16 bits: a local
//!   reduce) and the 8-bit residual of the quantized ResNets (read at 6 bits: `div_pow2(8, 2)`
//!   then a reduce in `sirnn-quant`, `Requant(8 → 6)` in privquant). The conversion is emitted once
//!   per tensor and shared by all its readers. Max pools read the act width too.
//! * **SCI matmul output width** `bwC = bwA + bwB` (32 at W16A16, as SCI's library passes it).
//! * **Linear layers with no consumer** (the logits, LLaMA's projections) are not rescaled in
//!   the quantized configurations (sirnn-quant's "FC: no rescale"); in `sirnn` every conv and
//!   FC gets its `div_pow2(32, 12)`.
//! * **Pools.** p = ⌈log2 k²⌉ and the pool is defined as sum / 2^p (the 7×7 global pool is
//!   sum / 64, the factor 64/49 folded into the FC weights); the quantized configurations end
//!   with a local reduce back to the input width (the average fits). p = 0 (a 1×1 pool) has no
//!   division.
//! * **Scales** are bookkeeping (value = integer / 2^scale); no step depends on them except
//!   through the shifts pinned below. The input has scale l_in − 1. Each linear layer's weight
//!   scale is chosen so that its output, after the pinned shift, has the scale of the residual
//!   stream its input came from (so the two operands of a residual add always have equal
//!   scales, as the recipes of `docs/sci-protocols.md` §Network recipes assume); a residual
//!   add's demote lowers the scale by 1.
//! * **Residual adds, privquant.** The operand produced by a conv/FC used only by this add is
//!   the *branch*: its exact accumulator is computed directly in the width T that the range
//!   analysis proves holds acc + shortcut·2^s, the shortcut is shifted left by s (local) and
//!   extended to T (known-MSB when non-negative), added, and `Requant(T → rbits)` by s + 1
//!   (privquant's shift s plus sirnn-quant's demote). The other operand (a ReLU output, an
//!   option-A shortcut, or a projection conv requantized to `rbits`) is the shortcut.

use crate::config::{self, Config, Features};
use crate::interval::Interval;
use crate::model::{Model, ModelError, Op, Shape};
pub use crate::program::{
    LinearInfo, MatMode, Program, ProgramSummary, Step, StepOp, TId, TensorMeta,
};
use crate::signs;
use std::collections::{BTreeMap, HashMap};

/// Lowering options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LowerOptions {
    /// Per linear layer (by name): the total shift to use instead of the pinned
    /// s = lw + e − 1 (quantized configurations only; must be ≥ e for `sirnn-quant`, whose
    /// matmul already drops e bits). Empty = the pinned shifts.
    pub shift_override: BTreeMap<String, u32>,
    /// Size privquant's exact accumulators from the full range analysis of their inputs.
    /// Off (the default), an input counts only as "non-negative in l bits" or "any l-bit
    /// value": with the pinned shifts the full analysis proves deep layers constant (zero) and
    /// would shrink their accumulators to a few bits, a saving that comes from the pinned
    /// shift, not from the protocol.
    pub full_range: bool,
    /// Run only these of privquant's optimizations (quantized configurations; `None` = the
    /// configuration's own, [`Config::features`]). The ablation switches them one at a time.
    pub features: Option<Features>,
    /// Lower a block cut out of a network: the input is an intermediate, secret-shared tensor
    /// of the residual stream (not the client's image), read by linear layers at this width.
    pub input_act_bits: Option<u32>,
    /// What the linear-layer planner minimises (each layer on its own: layers run one after
    /// another, so the network's latency is the sum of theirs).
    pub objective: pq_proto::Objective,
    /// What the client learns at the end: the logits, or only the predicted class.
    pub reveal: Reveal,
}

/// What the last step reveals to the client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Reveal {
    /// The output tensor (the logits).
    #[default]
    Logits,
    /// Only the index of the largest output (ties to the lowest index), by Π_Argmax.
    Label,
}

impl Reveal {
    /// The CLI's name: `logits` or `label`.
    pub fn name(self) -> &'static str {
        match self {
            Reveal::Logits => "logits",
            Reveal::Label => "label",
        }
    }
}

impl std::str::FromStr for Reveal {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "logits" => Ok(Reveal::Logits),
            "label" => Ok(Reveal::Label),
            _ => Err(format!("unknown reveal '{s}' (accepted: label, logits)")),
        }
    }
}

/// Width of the label tensor a [`Reveal::Label`] program outputs.
pub const LABEL_BITS: u32 = 32;

/// Why a model cannot be lowered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LowerError {
    /// The model description itself is invalid.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A layer the lowering cannot express (widths unset, accumulator above 64 bits,
    /// incompatible scales, ...).
    #[error("layer '{layer}': {msg}")]
    Layer {
        /// The layer's name.
        layer: String,
        /// What is wrong.
        msg: String,
    },
}

fn lerr<T>(layer: &str, msg: impl Into<String>) -> Result<T, LowerError> {
    Err(LowerError::Layer {
        layer: layer.into(),
        msg: msg.into(),
    })
}

/// ⌈log2 n⌉ (0 for n ≤ 1).
pub fn ceil_log2(n: usize) -> u32 {
    if n <= 1 {
        0
    } else {
        usize::BITS - (n - 1).leading_zeros()
    }
}

/// A model tensor as lowered.
#[derive(Clone, Copy, Debug)]
struct Val {
    t: TId,
    /// Width convs read this tensor at.
    act_bits: u32,
    /// Scale of the residual stream this tensor derives from (the output scale linear layers
    /// reading it aim for).
    home: i32,
}

/// A residual branch whose accumulator is emitted by the add (privquant).
#[derive(Clone, Copy, Debug)]
struct Pending {
    lin: usize,
    x: TId,
    acc_scale: i32,
    home: i32,
    /// Without DNN-aware linear layers: the SCI matmul output (already computed, at scale
    /// `acc_scale`), which the add extends instead of computing the accumulator at its width.
    sci_out: Option<TId>,
}

struct Lowerer<'a> {
    m: &'a Model,
    cfg: Config,
    feat: Features,
    opts: &'a LowerOptions,
    tensors: Vec<TensorMeta>,
    steps: Vec<Step>,
    linear: Vec<LinearInfo>,
    vals: Vec<Option<Val>>,
    pending: HashMap<usize, Pending>,
    act_cache: HashMap<TId, Val>,
    consumers: Vec<Vec<usize>>,
    branches: HashMap<usize, usize>,
}

impl<'a> Lowerer<'a> {
    fn emit(
        &mut self,
        layer: &str,
        op: StepOp,
        inputs: &[TId],
        shape: Shape,
        scale: i32,
    ) -> Result<TId, LowerError> {
        let (ws, shifts) = op.widths();
        if let Some(b) = ws.iter().find(|&&b| !(1..=64).contains(&b)) {
            return lerr(
                layer,
                format!("{} needs a {b}-bit width (allowed 1..=64)", op.kind()),
            );
        }
        if let Some((s, w)) = shifts.iter().find(|(s, w)| s >= w) {
            return lerr(
                layer,
                format!("{} shifts by {s} bits in a {w}-bit width", op.kind()),
            );
        }
        let bits = out_bits(&op);
        let ins: Vec<Interval> = inputs.iter().map(|&t| self.tensors[t].range).collect();
        let range = signs::transfer(&op, &ins, &self.linear);
        let t = self.tensors.len();
        self.tensors.push(TensorMeta {
            shape,
            bits,
            scale,
            nonneg: range.nonneg(bits),
            range,
        });
        self.steps.push(Step {
            layer: layer.into(),
            op,
            inputs: inputs.to_vec(),
            out: t,
        });
        Ok(t)
    }

    fn meta(&self, t: TId) -> &TensorMeta {
        &self.tensors[t]
    }

    /// The range a width decision may rely on (see [`LowerOptions::full_range`]).
    fn width_range(&self, t: TId) -> Interval {
        let m = &self.tensors[t];
        if !self.feat.sign_prop {
            Interval::full(m.bits)
        } else if self.opts.full_range {
            m.range
        } else {
            m.coarse_range()
        }
    }

    fn val(&self, mt: usize, layer: &str) -> Result<Val, LowerError> {
        match self.vals.get(mt).copied().flatten() {
            Some(v) => Ok(v),
            None => lerr(
                layer,
                format!("input tensor {mt} is a residual branch accumulator used elsewhere"),
            ),
        }
    }

    /// The tensor as a conv/FC/max-pool reads it (its act width); emitted once per tensor.
    fn act(&mut self, v: Val, layer: &str) -> Result<Val, LowerError> {
        let m = self.meta(v.t).clone();
        if v.act_bits >= m.bits {
            return Ok(v);
        }
        if let Some(a) = self.act_cache.get(&v.t) {
            return Ok(*a);
        }
        let a = v.act_bits;
        let d = m.bits - a;
        let out = if self.cfg == Config::Sirnn {
            self.emit(
                layer,
                StepOp::Reduce {
                    from: m.bits,
                    to: a,
                },
                &[v.t],
                m.shape,
                m.scale,
            )?
        } else {
            self.rescale(layer, v.t, a, m.scale - d as i32)?
        };
        let r = Val {
            t: out,
            act_bits: a,
            home: v.home,
        };
        self.act_cache.insert(v.t, r);
        Ok(r)
    }

    /// Re-quantize `t` (its width and scale) to `l2` bits at scale `s2` ≤ its scale: with fused
    /// quantization one `Requant` (Algorithm 1); without, SCI's `div_pow2` by the scale
    /// difference followed by a reduce or an extension to `l2`.
    fn rescale(&mut self, layer: &str, t: TId, l2: u32, s2: i32) -> Result<TId, LowerError> {
        let m = self.meta(t).clone();
        if s2 > m.scale {
            return lerr(layer, "a re-quantization may not raise the scale");
        }
        if self.feat.fused_quant {
            return self.emit(
                layer,
                StepOp::Requant {
                    l1: m.bits,
                    s1: m.scale,
                    l2,
                    s2,
                },
                &[t],
                m.shape,
                s2,
            );
        }
        let d = (m.scale - s2) as u32;
        let q = if d > 0 {
            self.emit(
                layer,
                StepOp::DivPow2 { bw: m.bits, s: d },
                &[t],
                m.shape,
                s2,
            )?
        } else {
            t
        };
        self.resize(layer, q, l2, true)
    }

    /// Change width locally or by extension: reduce when narrowing, s_extend when widening
    /// (known-MSB when `msb_ok`, sign propagation is on and the tensor is proven non-negative).
    fn resize(&mut self, layer: &str, t: TId, to: u32, msb_ok: bool) -> Result<TId, LowerError> {
        let m = self.meta(t).clone();
        if m.bits == to {
            return Ok(t);
        }
        let op = if to < m.bits {
            StepOp::Reduce { from: m.bits, to }
        } else {
            StepOp::SExt {
                from: m.bits,
                to,
                msb_known: msb_ok && self.feat.sign_prop && m.nonneg,
            }
        };
        self.emit(layer, op, &[t], m.shape, m.scale)
    }

    fn linear_layer(&mut self, i: usize) -> Result<(), LowerError> {
        let l = &self.m.layers[i];
        let name = l.name.clone();
        let xin = self.val(l.inputs[0], &name)?;
        let x = self.act(xin, &name)?;
        let xm = self.meta(x.t).clone();
        let in_shape = self.m.shape(l.inputs[0]);
        let (is_fc, k, stride, pad) = match l.op {
            Op::Conv { k, stride, pad, .. } => (false, k, stride, pad),
            _ => (true, 1, 1, 0),
        };
        let (d1, d2, d3) = if is_fc {
            (1, in_shape.numel(), l.out.c)
        } else {
            (l.out.c, in_shape.c * k * k, l.out.h * l.out.w)
        };
        let e = ceil_log2(d2);
        let lw = l.quant.wbits;
        let lx = xm.bits;
        let lout = l.quant.abits;
        if lw == 0 || lout == 0 {
            return lerr(&name, "bit-widths not set (apply a configuration first)");
        }
        let shift = match self.cfg {
            Config::Sirnn => {
                if let Some(s) = l.shift {
                    return lerr(
                        &name,
                        format!(
                            "the model states shift {s}, but sirnn pins its own (12 + e = {}); \
                             run a quantized configuration (privquant, privquant-w4, privquant-he, sirnn-quant)",
                            12 + e
                        ),
                    );
                }
                12 + e
            }
            _ => match self.opts.shift_override.get(&name) {
                Some(&s) => s,
                None => l.shift.unwrap_or(lw + e - 1),
            },
        };
        let home = x.home;
        let wscale = shift as i32 + home - xm.scale;
        let lin = self.linear.len();
        let mut info = LinearInfo {
            layer: i,
            name: name.clone(),
            is_fc,
            in_shape,
            out_shape: l.out,
            k,
            stride,
            pad,
            d1,
            d2,
            d3,
            e,
            wbits: lw,
            shift,
            wscale,
            bias_bits: None,
        };
        if l.bias {
            // The bias's width follows from public data only (the client lowers the same
            // program without the weights): the bias-free accumulator's width for the input's
            // coarse range.
            let b = signs::bits_for(signs::linear_acc_no_bias(&info, xm.coarse_range()));
            if b >= 64 {
                return lerr(&name, "a bias needs an accumulator above 64 bits");
            }
            info.bias_bits = Some(b);
        }
        let has_bias = l.bias;
        self.linear.push(info);
        let acc_scale = xm.scale + wscale;
        let out_shape = l.out;
        let terminal = self.consumers[i + 1].is_empty();
        let branch = self.branches.values().any(|&b| b == i + 1);
        let pend = Pending {
            lin,
            x: x.t,
            acc_scale,
            home,
            sci_out: None,
        };
        let val = match self.cfg == Config::Sirnn || !self.feat.dnn_linear {
            true => {
                // With a bias, acc + bias needs one more bit (see `LinearInfo::bias_bits`):
                // the server's weight operand is read one bit wider (a local sign extension of
                // its plaintext), which widens SCI's output bwC = bwA + bwB by that bit.
                let lwo = lw + u32::from(has_bias);
                let bw_c = lwo + lx;
                if bw_c + e > 64 {
                    return lerr(
                        &name,
                        format!("SCI matmul ring of {bw_c} + {e} bits exceeds 64"),
                    );
                }
                let (mode, bw_a, bw_b) = if is_fc {
                    (MatMode::AliceHasB, lx, lwo)
                } else {
                    (MatMode::AliceHasA, lwo, lx)
                };
                let y = self.emit(
                    &name,
                    StepOp::LinearSci {
                        lin,
                        mode,
                        bw_a,
                        bw_b,
                        bw_c,
                    },
                    &[x.t],
                    out_shape,
                    acc_scale - e as i32,
                )?;
                if self.cfg == Config::Sirnn {
                    let t = self.emit(
                        &name,
                        StepOp::DivPow2 { bw: bw_c, s: 12 },
                        &[y],
                        out_shape,
                        home,
                    )?;
                    Val {
                        t,
                        act_bits: lout,
                        home,
                    }
                } else if terminal {
                    Val {
                        t: y,
                        act_bits: bw_c,
                        home,
                    }
                } else {
                    if shift < e {
                        return lerr(
                            &name,
                            format!("shift {shift} is below the {e} bits SCI's matmul drops"),
                        );
                    }
                    if branch {
                        // simplified residual: the add aligns the shortcut to this output
                        self.defer(
                            i,
                            Pending {
                                acc_scale: acc_scale - e as i32,
                                sci_out: Some(y),
                                ..pend
                            },
                        );
                        return Ok(());
                    }
                    let t = self.rescale(&name, y, lout, home)?;
                    Val {
                        t,
                        act_bits: lout,
                        home,
                    }
                }
            }
            false => {
                if branch {
                    self.defer(i, pend);
                    return Ok(());
                }
                let acc_range = signs::linear_acc(&self.linear[lin], self.width_range(x.t));
                // The tightest width the range allows, but at least shift + 1 bits when a
                // Requant follows (its shift must stay below its width).
                let acc_bits = if terminal {
                    signs::bits_for(acc_range)
                } else {
                    signs::bits_for(acc_range).max(shift + 1)
                };
                if !acc_range.fits(acc_bits) {
                    return lerr(&name, "exact accumulator exceeds 64 bits");
                }
                let y = self.emit(
                    &name,
                    StepOp::LinearExact { lin, acc_bits },
                    &[x.t],
                    out_shape,
                    acc_scale,
                )?;
                if terminal {
                    Val {
                        t: y,
                        act_bits: acc_bits,
                        home,
                    }
                } else {
                    let t = self.rescale(&name, y, lout, acc_scale - shift as i32)?;
                    Val {
                        t,
                        act_bits: lout,
                        home,
                    }
                }
            }
        };
        self.vals[i + 1] = Some(val);
        Ok(())
    }

    /// Layer `i` is a residual branch: its add computes it (see [`Self::simple_residual`]).
    fn defer(&mut self, i: usize, p: Pending) {
        self.pending.insert(i + 1, p);
        self.vals[i + 1] = None;
    }

    fn add_layer(&mut self, i: usize) -> Result<(), LowerError> {
        let l = &self.m.layers[i];
        let name = l.name.clone();
        let (ia, ib) = (l.inputs[0], l.inputs[1]);
        let rbits = l.quant.rbits;
        let abits = l.quant.abits;
        if rbits == 0 || abits == 0 {
            return lerr(&name, "bit-widths not set (apply a configuration first)");
        }
        let shape = l.out;
        let ash = l.shift.unwrap_or(1);
        let val = match self.cfg {
            Config::Sirnn => {
                if ash != 1 {
                    return lerr(
                        &name,
                        format!("the model states shift {ash}, but sirnn pins its adds' to 1"),
                    );
                }
                // Conv branches are 32-bit in flight; any other operand is the 16-bit
                // activation, s-extended (`docs/sci-protocols.md` §Network recipes).
                let mut ops = vec![];
                for mt in [ia, ib] {
                    let v = self.val(mt, &name)?;
                    let from_linear = mt > 0 && self.m.layers[mt - 1].op.is_linear();
                    let v = if from_linear { v } else { self.act(v, &name)? };
                    ops.push(v);
                }
                let t = ops
                    .iter()
                    .map(|v| self.meta(v.t).bits)
                    .max()
                    .unwrap_or(32)
                    .max(32);
                let a = self.resize(&name, ops[0].t, t, false)?;
                let b = self.resize(&name, ops[1].t, t, false)?;
                let sc = self.meta(a).scale;
                let s = self.emit(&name, StepOp::Add { bits: t }, &[a, b], shape, sc)?;
                let d = self.emit(&name, StepOp::DivPow2 { bw: t, s: 1 }, &[s], shape, sc - 1)?;
                Val {
                    t: d,
                    act_bits: abits,
                    home: sc - 1,
                }
            }
            _ => {
                let branch = if self.feat.simple_residual {
                    self.branches.get(&i).copied()
                } else {
                    None
                };
                match branch.and_then(|bt| self.pending.remove(&bt).map(|p| (bt, p))) {
                    Some((bt, p)) => self.simple_residual(&name, i, bt, p, ia, ib, ash)?,
                    None => {
                        let va = self.val(ia, &name)?;
                        let vb = self.val(ib, &name)?;
                        let (ma, mb) = (self.meta(va.t).clone(), self.meta(vb.t).clone());
                        if ma.scale != mb.scale {
                            return lerr(&name, "add of operands with different scales");
                        }
                        let t = ma.bits.max(mb.bits) + 1;
                        let a = self.resize(&name, va.t, t, true)?;
                        let b = self.resize(&name, vb.t, t, true)?;
                        let s =
                            self.emit(&name, StepOp::Add { bits: t }, &[a, b], shape, ma.scale)?;
                        let out_scale = ma.scale - ash as i32;
                        let q = self.rescale(&name, s, rbits, out_scale)?;
                        Val {
                            t: q,
                            act_bits: abits,
                            home: out_scale,
                        }
                    }
                }
            }
        };
        self.vals[i + 1] = Some(val);
        Ok(())
    }

    /// privquant's simplified residual: the branch conv's accumulator (computed here at the
    /// width T the range analysis proves holds acc + shortcut·2^s, or SCI's matmul output
    /// extended to T) plus the shortcut shifted left by s (local) and extended to T, then one
    /// re-quantization to the residual width by s + the add's shift (1 unless the model states
    /// it).
    #[allow(clippy::too_many_arguments)]
    fn simple_residual(
        &mut self,
        name: &str,
        i: usize,
        bt: usize,
        p: Pending,
        ia: usize,
        ib: usize,
        ash: u32,
    ) -> Result<Val, LowerError> {
        let l = &self.m.layers[i];
        let (rbits, abits, shape) = (l.quant.rbits, l.quant.abits, l.out);
        let st = if bt == ia { ib } else { ia };
        let r = self.val(st, name)?;
        let rm = self.meta(r.t).clone();
        let lin = self.linear[p.lin].clone();
        let s_al = p.acc_scale - rm.scale;
        if s_al < 0 {
            return lerr(name, "shortcut scale above the accumulator's");
        }
        let s_al = s_al as u32;
        let out_scale = p.home - ash as i32;
        let total_shift = (p.acc_scale - out_scale) as u32;
        let acc_range = match p.sci_out {
            Some(y) => self.width_range(y),
            None => signs::linear_acc(&lin, self.width_range(p.x)),
        };
        let sum_range = acc_range.plus(self.width_range(r.t).scale(1i128 << s_al));
        let tb = signs::bits_for(sum_range.hull(acc_range))
            .max(total_shift + 1)
            .max(s_al + 1);
        if !sum_range.fits(tb) {
            return lerr(name, "residual accumulator exceeds 64 bits");
        }
        let y = match p.sci_out {
            Some(y) => self.resize(&lin.name, y, tb, true)?,
            None => self.emit(
                &lin.name,
                StepOp::LinearExact {
                    lin: p.lin,
                    acc_bits: tb,
                },
                &[p.x],
                shape,
                p.acc_scale,
            )?,
        };
        let mut rt = r.t;
        if s_al > 0 {
            rt = self.emit(
                name,
                StepOp::ShiftLeft {
                    from: rm.bits,
                    s: s_al,
                },
                &[rt],
                shape,
                p.acc_scale,
            )?;
        }
        let rt = self.resize(name, rt, tb, true)?;
        let s = self.emit(name, StepOp::Add { bits: tb }, &[y, rt], shape, p.acc_scale)?;
        self.vals[bt] = Some(Val {
            t: y,
            act_bits: tb,
            home: p.home,
        });
        let q = self.rescale(name, s, rbits, out_scale)?;
        Ok(Val {
            t: q,
            act_bits: abits,
            home: out_scale,
        })
    }

    fn layer(&mut self, i: usize) -> Result<(), LowerError> {
        let l = &self.m.layers[i];
        let name = l.name.clone();
        let shape = l.out;
        match l.op {
            Op::Conv { .. } | Op::Fc { .. } => return self.linear_layer(i),
            Op::Add => return self.add_layer(i),
            Op::Flatten => {
                let v = self.val(l.inputs[0], &name)?;
                self.vals[i + 1] = Some(v);
            }
            Op::Relu => {
                let v = self.val(l.inputs[0], &name)?;
                let m = self.meta(v.t).clone();
                let t = self.emit(&name, StepOp::Relu { bits: m.bits }, &[v.t], shape, m.scale)?;
                self.vals[i + 1] = Some(Val { t, ..v });
            }
            Op::ShortcutA { cout, stride } => {
                let mut v = self.val(l.inputs[0], &name)?;
                if self.cfg == Config::Sirnn {
                    v = self.act(v, &name)?;
                }
                let m = self.meta(v.t).clone();
                let t = self.emit(
                    &name,
                    StepOp::ShortcutA {
                        bits: m.bits,
                        cout,
                        stride,
                    },
                    &[v.t],
                    shape,
                    m.scale,
                )?;
                self.vals[i + 1] = Some(Val { t, ..v });
            }
            Op::MaxPool { k, stride, pad } => {
                let v = self.val(l.inputs[0], &name)?;
                let v = self.act(v, &name)?;
                let m = self.meta(v.t).clone();
                let op = if self.feat.lean_engine {
                    StepOp::MaxPoolTree {
                        bits: m.bits,
                        k,
                        stride,
                        pad,
                    }
                } else {
                    StepOp::MaxPoolSeqRelu {
                        bits: m.bits,
                        k,
                        stride,
                        pad,
                    }
                };
                let t = self.emit(&name, op, &[v.t], shape, m.scale)?;
                self.vals[i + 1] = Some(Val { t, ..v });
            }
            Op::AvgPool { k, stride } => {
                let v = self.val(l.inputs[0], &name)?;
                let m = self.meta(v.t).clone();
                let p = ceil_log2(k * k);
                let t = if self.cfg == Config::Sirnn {
                    let s = self.emit(
                        &name,
                        StepOp::AvgSum {
                            bits: m.bits,
                            k,
                            stride,
                        },
                        &[v.t],
                        shape,
                        m.scale,
                    )?;
                    if p > 0 {
                        self.emit(
                            &name,
                            StepOp::DivPow2 { bw: m.bits, s: p },
                            &[s],
                            shape,
                            m.scale,
                        )?
                    } else {
                        s
                    }
                } else {
                    let wide = m.bits + p;
                    let x = self.resize(&name, v.t, wide, true)?;
                    let s = self.emit(
                        &name,
                        StepOp::AvgSum {
                            bits: wide,
                            k,
                            stride,
                        },
                        &[x],
                        shape,
                        m.scale,
                    )?;
                    if p > 0 {
                        let op = if self.feat.fused_quant {
                            StepOp::Trunc { bw: wide, s: p }
                        } else {
                            StepOp::DivPow2 { bw: wide, s: p }
                        };
                        let d = self.emit(&name, op, &[s], shape, m.scale)?;
                        self.resize(&name, d, m.bits, false)?
                    } else {
                        s
                    }
                };
                self.vals[i + 1] = Some(Val { t, ..v });
            }
        }
        Ok(())
    }
}

fn out_bits(op: &StepOp) -> u32 {
    match *op {
        StepOp::LinearSci { bw_c, .. } => bw_c,
        StepOp::LinearExact { acc_bits, .. } => acc_bits,
        StepOp::DivPow2 { bw, .. } | StepOp::Trunc { bw, .. } => bw,
        StepOp::Tr { bw, s } => bw - s,
        StepOp::Requant { l2, .. } => l2,
        StepOp::Reduce { to, .. } | StepOp::SExt { to, .. } | StepOp::ZExt { to, .. } => to,
        StepOp::Relu { bits }
        | StepOp::MaxPoolSeqRelu { bits, .. }
        | StepOp::MaxPoolTree { bits, .. }
        | StepOp::AvgSum { bits, .. }
        | StepOp::ShortcutA { bits, .. }
        | StepOp::Add { bits }
        | StepOp::Reveal { bits } => bits,
        StepOp::RevealLabel { .. } => LABEL_BITS,
        StepOp::ShiftLeft { from, s } => from + s,
    }
}

/// Lower `model` under `cfg` with the pinned shifts. Unset widths are filled by
/// [`config::apply`] first.
pub fn lower(model: &Model, cfg: Config) -> Result<Program, LowerError> {
    lower_with(model, cfg, &LowerOptions::default())
}

/// [`lower`] with options.
pub fn lower_with(model: &Model, cfg: Config, opts: &LowerOptions) -> Result<Program, LowerError> {
    let m = config::apply(model, cfg);
    m.validate()?;
    let feat = if cfg == Config::Sirnn {
        Features::NONE
    } else {
        opts.features.unwrap_or(cfg.features())
    };
    let n = m.layers.len();
    let mut consumers = vec![vec![]; n + 1];
    for (j, l) in m.layers.iter().enumerate() {
        for &t in &l.inputs {
            consumers[t].push(j);
        }
    }
    // privquant residual branches: per add, the first operand produced by a linear layer that
    // feeds only this add.
    let mut branches = HashMap::new();
    if feat.simple_residual {
        for (j, l) in m.layers.iter().enumerate() {
            if l.op != Op::Add {
                continue;
            }
            if let Some(&t) = l
                .inputs
                .iter()
                .find(|&&t| t > 0 && m.layers[t - 1].op.is_linear() && consumers[t] == [j])
            {
                branches.insert(j, t);
            }
        }
    }
    let enc = m.encoding;
    let l_in = cfg.input_bits(enc);
    if l_in < enc.signed_width() || l_in > 64 {
        return Err(LowerError::Model(ModelError::Model(format!(
            "{} inputs do not fit {}'s {l_in}-bit input ring",
            enc,
            cfg.name()
        ))));
    }
    let (lo, hi) = enc.domain();
    let in_range = Interval::new(lo as i128, hi as i128);
    let mut lw = Lowerer {
        m: &m,
        cfg,
        feat,
        opts,
        tensors: vec![TensorMeta {
            shape: m.input,
            bits: l_in,
            scale: l_in as i32 - 1,
            nonneg: in_range.nonneg(l_in),
            range: in_range,
        }],
        steps: vec![],
        linear: vec![],
        vals: vec![None; n + 1],
        pending: HashMap::new(),
        act_cache: HashMap::new(),
        consumers,
        branches,
    };
    if let Some(a) = opts.input_act_bits
        && !(1..=l_in).contains(&a)
    {
        return lerr(
            &m.layers[0].name,
            format!("input act width {a} outside 1..={l_in}"),
        );
    }
    lw.vals[0] = Some(Val {
        t: 0,
        act_bits: opts.input_act_bits.unwrap_or(l_in),
        home: l_in as i32 - 1,
    });
    for i in 0..n {
        lw.layer(i)?;
    }
    let last = match lw.vals[n] {
        Some(v) => v,
        None => {
            return lerr(
                &m.layers[n - 1].name,
                "the output is a pending residual branch",
            );
        }
    };
    let lm = lw.meta(last.t).clone();
    let out = match opts.reveal {
        Reveal::Logits => lw.emit(
            &m.layers[n - 1].name,
            StepOp::Reveal { bits: lm.bits },
            &[last.t],
            lm.shape,
            lm.scale,
        )?,
        Reveal::Label => lw.emit(
            &m.layers[n - 1].name,
            StepOp::RevealLabel { bits: lm.bits },
            &[last.t],
            Shape::new(1, 1, 1),
            0,
        )?,
    };
    let model_tensor = lw
        .vals
        .iter()
        .map(|v| v.map(|v| v.t).unwrap_or(usize::MAX))
        .collect();
    let (tensors, steps, linear) = (lw.tensors, lw.steps, lw.linear);
    Ok(Program {
        model: m,
        cfg,
        feat,
        objective: opts.objective,
        input_clear: opts.input_act_bits.is_none(),
        tensors,
        steps,
        linear,
        input: 0,
        output: out,
        model_tensor,
    })
}
