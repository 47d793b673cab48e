//! The secure executor: runs a lowered [`Program`] as one party of a two-party computation
//! (the server holds the [`Weights`], the client holds the input image), mapping every step
//! 1:1 onto a protocol of the library, and [`run_secure`] to run both parties in one process.
//!
//! Shares are additive modulo 2^l of each tensor's width l (`u64` per element). The client's
//! image enters as shares (client share = the image, server share = 0); the logits are revealed
//! to the client (the server sends its shares, packed at the output width).
//!
//! Step → protocol (the `sirnn` profile for `sirnn` and `sirnn-quant`, the `privquant` profile
//! for the privquant configurations):
//! * `LinearSci`: SCI's matmul ([`matmul::run`]); a conv is the filter (`AliceHasA`, ALICE's
//!   plaintext) times the local im2col of the activation shares, an FC the activations times
//!   the weight matrix (`AliceHasB`);
//! * `DivPow2`, `Trunc`, `Tr`, `SExt`, `ZExt`, `Relu`: the protocols of the same names;
//!   `Trunc` and extensions use the known-MSB variants where the step (or, in privquant, the
//!   range analysis) says the input is non-negative (MSB shares are then 0 and 0);
//! * `MaxPoolSeqRelu`: SCI's MaxPool2D (one CrypTFlow2 ring ReLU per window position after
//!   the first, windows batched); `MaxPoolTree`: the comparison tree, one batched ring ReLU
//!   per level;
//! * `Requant` (privquant, Algorithm 1): a local shift/reduce, Π_TR, or Π_Trunc, followed by
//!   a local reduce or an extension, as the case analysis of `reference::requant` picks;
//! * `Reduce`, `AvgSum`, `ShortcutA`, `ShiftLeft`, `Add`: local on the shares;
//! * `Reveal`: the server sends its shares.
//!
//! * `LinearExact` (privquant's exact accumulator): Π_Linear ([`pq_proto::privquant::linear`])
//!   with the option [`linear::choose_at`] finds cheapest under the program's objective among
//!   those on the program's menu (the OT options; also the HE option under `privquant-he`,
//!   [`crate::config::Features::he_linear`]), run at
//!   the step's `acc_bits` ([`linear::run_at`]: every
//!   option is exact modulo 2^l for any l, so the output is Σ w·x in `acc_bits` bits exactly
//!   as the reference wraps it, whether the lowering's width is above the protocol's tightest
//!   width (a residual add follows) or below it). When `acc_bits` exceeds the tightest width,
//!   running at the tightest width and sign-extending (Π_SExt, exact since every sum fits)
//!   is taken instead where that sends fewer bytes. X's kind: the client's image in clear for
//!   the model input, else non-negative or signed as the range analysis proved. A conv is
//!   the linear protocol's conv layout (im2col inside) when square with padding k/2, otherwise
//!   the matmul layout on the locally im2col'd shares; an FC is Wᵀ (dout × din) times X (din × 1).
//!
//! Which call a step runs is decided once, by `resolve` in
//! `secure/resolve.rs`; [`step_cost`] and the executor both use it.
//!
//! Every step's traffic is tagged with its layer name on the channel meter, so per-layer
//! bytes come from the meters; [`step_cost`] / [`program_cost`] give the same figures from
//! the protocols' cost functions alone.

mod resolve;

use resolve::{Call, perr, resolve};
pub use resolve::{linear_exact_choice, linear_exact_params};

use super::config::{Config, Weights};
use super::lower::{Program, Step, StepOp};
use super::reference::{self, RefError};
use pq_kernels::ring::{self, mask};
use pq_netsim::clock::compute_ns;
use pq_netsim::link::LinkSpec;
use pq_netsim::pair::{LinkOptions, PairOptions, run_pair_linked};
use pq_netsim::vtime::SimulatedLatency;
use pq_netsim::{Channel, ChannelError, Transport};
use pq_proto::ProtoError;
use pq_proto::ot_calls::{self, CotState};
use pq_proto::party::Party;
use pq_proto::privquant::linear;
use pq_proto::privquant::{argmax, maxpool_tree, requant};
use pq_proto::sirnn::matmul::{self, MultMode};
use pq_proto::sirnn::{divpow2, extension, maxpool, relu, tr, trunc};
use pq_proto::tensor;
use pq_proto::{Cost, Profile, Role};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;

/// Why a secure run cannot proceed.
#[derive(Debug, thiserror::Error)]
pub enum SecureError {
    /// A step this executor cannot map onto a protocol yet (refused before any traffic).
    #[error("layer '{layer}': unsupported step for now: {op} (configuration {cfg})")]
    Unsupported {
        /// The step's layer name.
        layer: String,
        /// The step kind ([`StepOp::kind`]).
        op: &'static str,
        /// The configuration name.
        cfg: &'static str,
    },
    /// The program and its inputs disagree (widths, shapes).
    #[error("layer '{layer}': {msg}")]
    Program {
        /// The step's layer name (empty when the whole program is at fault, e.g. the party
        /// runs another profile than the program was lowered for).
        layer: String,
        /// What is wrong.
        msg: String,
    },
    /// The weights or the input do not fit the program's shapes.
    #[error(transparent)]
    Inputs(#[from] RefError),
    /// A protocol call failed (OT failure, invalid parameter, inconsistent peer message).
    #[error(transparent)]
    Proto(#[from] ProtoError),
    /// The channel to the peer failed outside a protocol call (closed, timeout, bad frame).
    #[error(transparent)]
    Channel(#[from] ChannelError),
}

/// The protocol profile a configuration runs (with its own features).
pub fn profile_for(cfg: Config) -> Profile {
    cfg.features().profile()
}

/// Whether every step of `p` maps onto a protocol of this executor.
pub fn check_supported(p: &Program) -> Result<(), SecureError> {
    for st in &p.steps {
        step_cost(p, st)?;
    }
    Ok(())
}

/// The cost of one step, from the protocols' cost functions only (what `executed: false`
/// rows and the planner use). Local steps cost nothing; the reveal costs the server's packed
/// shares in one round.
pub fn step_cost(p: &Program, st: &Step) -> Result<Cost, SecureError> {
    let n = p.tensors[st.out].shape.numel() as u64;
    resolve(p, st)?.cost(n, p.feat.profile())
}

/// The cost of every step in order, with the COT source's rounds charged to the step whose
/// reservation runs them (Ferret's LPN rounds; nothing for IKNP and SoftSpoken). The executor
/// reserves each step's COTs ([`ot_calls::reserve`]) before running it, so these are exactly
/// what each step's meter tags measure.
pub fn charged_step_costs(p: &Program) -> Result<Vec<Cost>, SecureError> {
    let mut st8 = CotState::new(p.feat.profile().ot);
    p.steps
        .iter()
        .map(|st| {
            let c = step_cost(p, st)?;
            Ok(st8.charge(&c).then(c))
        })
        .collect()
}

/// The cost of the whole program (steps in sequence, COT-source rounds included).
pub fn program_cost(p: &Program) -> Result<Cost, SecureError> {
    Ok(charged_step_costs(p)?.into_iter().sum())
}

/// Cost of one model layer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerCost {
    /// The model layer's name.
    pub name: String,
    /// The model layer's operation (`conv`, `fc`, `relu`, ...).
    pub op: String,
    /// The summed cost of the layer's steps (steps in sequence).
    pub cost: Cost,
    /// The Π_Linear option of the layer's exact linear step ([`LinOption::name`]: `extend-x`,
    /// `decomp-x`, `duplex`, `he`, ...; `+`-joined if the layer had several), `None` for a
    /// layer without one (a non-linear layer, or SCI's matmul).
    ///
    /// [`LinOption::name`]: pq_proto::privquant::linear::LinOption::name
    pub option: Option<String>,
}

/// The layers of a program in execution order (first appearance), with the model op of each.
fn layer_order(p: &Program) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vec![];
    for st in &p.steps {
        if out.last().map(|l| &l.0) == Some(&st.layer) || out.iter().any(|l| l.0 == st.layer) {
            continue;
        }
        let op = p
            .model
            .layers
            .iter()
            .find(|l| l.name == st.layer)
            .map_or("?", |l| l.op.kind());
        out.push((st.layer.clone(), op.to_string()));
    }
    out
}

/// Per-layer cost model (each layer's steps in sequence).
pub fn layer_costs(p: &Program) -> Result<Vec<LayerCost>, SecureError> {
    let charged = charged_step_costs(p)?;
    let mut out = vec![];
    for (name, op) in layer_order(p) {
        let mut cost = Cost::ZERO;
        let mut options: Vec<&str> = vec![];
        for (st, c) in p.steps.iter().zip(&charged).filter(|s| s.0.layer == name) {
            let call = resolve(p, st)?;
            cost = cost.then(*c);
            if let Call::Linear { choice, .. } = call {
                options.push(choice.opt.name());
            }
        }
        let option = (!options.is_empty()).then(|| options.join("+"));
        out.push(LayerCost {
            name,
            op,
            cost,
            option,
        });
    }
    Ok(out)
}

/// The meter tag of a layer: its name, with `/` (the meter's path separator) replaced by
/// `∕` (U+2215) so that one layer's name is never a prefix path of another's.
pub fn layer_tag(name: &str) -> String {
    name.replace('/', "\u{2215}")
}

/// What one party's run returns.
#[derive(Clone, Debug, Default)]
pub struct PartyResult {
    /// The revealed logits (client only).
    pub logits: Option<Vec<i64>>,
    /// Wall seconds spent in each step (this party, waits included).
    pub step_s: Vec<f64>,
    /// CPU seconds of this party's thread in each step.
    pub step_cpu_s: Vec<f64>,
    /// This party's share of every tensor (only when asked to keep them).
    pub shares: Vec<Vec<u64>>,
}

/// The party must run the protocol profile the program was lowered for (the resolver decides
/// every call from the program's own features).
fn check_profile(pt: &Party, prog: &Program) -> Result<(), SecureError> {
    let want = prog.feat.profile();
    if pt.profile == want {
        Ok(())
    } else {
        Err(SecureError::Program {
            layer: String::new(),
            msg: format!(
                "the party runs the {} profile, the program was lowered for {}",
                pt.profile.name(),
                want.name()
            ),
        })
    }
}

fn mask_to(v: &[u64], bits: u32) -> Vec<u64> {
    let m = mask(bits);
    v.iter().map(|x| x & m).collect()
}

/// Run `prog` as one party. The server passes `weights`, the client passes `input` (the
/// image, signed integers of the input width). With `keep`, every tensor's share is kept and
/// returned (for tests); otherwise a tensor is dropped after its last reader.
pub fn run_party(
    pt: &mut Party,
    prog: &Program,
    weights: Option<&Weights>,
    input: Option<&[i64]>,
    keep: bool,
) -> Result<PartyResult, SecureError> {
    run_party_with(pt, prog, weights, input, keep, None)
}

/// [`run_party`] with a per-step progress callback.
pub fn run_party_with(
    pt: &mut Party,
    prog: &Program,
    weights: Option<&Weights>,
    input: Option<&[i64]>,
    keep: bool,
    progress: Option<&Progress>,
) -> Result<PartyResult, SecureError> {
    // every step's call, decided once and before any traffic
    let calls = prog
        .steps
        .iter()
        .map(|st| resolve(prog, st))
        .collect::<Result<Vec<Call>, _>>()?;
    check_profile(pt, prog)?;
    let alice = pt.is_alice();
    let in_meta = &prog.tensors[prog.input];
    let n_in = in_meta.shape.numel();
    let empty = Weights::default();
    let w = match (alice, weights) {
        (true, Some(w)) => {
            let zeros = vec![0i64; n_in];
            reference::check_inputs(prog, w, &zeros)?;
            w
        }
        (true, None) => {
            return Err(SecureError::Program {
                layer: String::new(),
                msg: "the server needs the weights".into(),
            });
        }
        (false, _) => &empty,
    };
    let mut vals: Vec<Vec<u64>> = vec![vec![]; prog.tensors.len()];
    vals[prog.input] = if alice {
        vec![0u64; n_in]
    } else {
        let Some(x) = input else {
            return Err(SecureError::Program {
                layer: String::new(),
                msg: "the client needs the input".into(),
            });
        };
        reference::check_input(prog, x)?;
        x.iter()
            .map(|&v| ring::from_signed(v, in_meta.bits))
            .collect()
    };
    // last reader of each tensor
    let mut last = vec![usize::MAX; prog.tensors.len()];
    for (i, st) in prog.steps.iter().enumerate() {
        for &t in &st.inputs {
            last[t] = i;
        }
    }
    let mut out = PartyResult::default();
    for (i, st) in prog.steps.iter().enumerate() {
        let t0 = Instant::now();
        let c0 = compute_ns();
        pt.ch.push_tag(&layer_tag(&st.layer));
        pt.ch.push_tag(st.op.kind());
        let r =
            reserve_cots(pt, prog, st).and_then(|()| exec_step(pt, prog, w, st, &calls[i], &vals));
        pt.ch.pop_tag();
        pt.ch.pop_tag();
        let (v, logits) = r?;
        if logits.is_some() {
            out.logits = logits;
        }
        vals[st.out] = v;
        if !keep {
            for &t in &st.inputs {
                if last[t] == i && t != st.out {
                    vals[t] = vec![];
                }
            }
        }
        out.step_s.push(t0.elapsed().as_secs_f64());
        out.step_cpu_s
            .push(compute_ns().saturating_sub(c0) as f64 * 1e-9);
        if let Some(p) = progress {
            (p.0)(&st.layer, i + 1, prog.steps.len());
        }
    }
    pt.ch.flush()?;
    if keep {
        out.shares = vals;
    }
    Ok(out)
}

/// Run step `idx` of `prog` alone, on this party's shares `inputs` of the step's input
/// tensors (in order); returns this party's share of the output (a reveal returns the share
/// unchanged). For testing steps of programs that cannot run whole yet.
pub fn run_step(
    pt: &mut Party,
    prog: &Program,
    weights: &Weights,
    idx: usize,
    inputs: &[Vec<u64>],
) -> Result<Vec<u64>, SecureError> {
    let Some(st) = prog.steps.get(idx) else {
        return Err(SecureError::Program {
            layer: String::new(),
            msg: format!("step {idx} does not exist"),
        });
    };
    let call = resolve(prog, st)?;
    check_profile(pt, prog)?;
    if inputs.len() != st.inputs.len() {
        return perr(st, "wrong number of input tensors");
    }
    let mut vals: Vec<Vec<u64>> = vec![vec![]; prog.tensors.len()];
    for (&t, v) in st.inputs.iter().zip(inputs) {
        vals[t] = mask_to(v, prog.tensors[t].bits);
    }
    if pt.is_alice() && matches!(st.op, StepOp::LinearSci { .. } | StepOp::LinearExact { .. }) {
        let zeros = vec![0i64; prog.tensors[prog.input].shape.numel()];
        reference::check_inputs(prog, weights, &zeros)?;
    }
    Ok(exec_step(pt, prog, weights, st, &call, &vals)?.0)
}

type StepOut = (Vec<u64>, Option<Vec<i64>>);

/// Reserve the COTs `st` draws (Ferret runs its LPN rounds here, under the step's tags, so
/// that no OT call inside the step waits on a refill).
fn reserve_cots(pt: &mut Party, prog: &Program, st: &Step) -> Result<(), SecureError> {
    if pt.ot.kind().has_rounds() {
        let c = step_cost(prog, st)?;
        ot_calls::reserve(pt, &c)?;
    }
    Ok(())
}

/// ALICE's bias of linear layer `l`, one value per element of SCI's matmul output (d1 × d3:
/// `[cout][pixel]` for a conv, `[dout]` for an FC); empty for BOB and for no bias.
fn sci_bias(w: &Weights, l: &crate::program::LinearInfo, alice: bool) -> Vec<u64> {
    let bias = w.bias_of(l.layer);
    if !alice || bias.is_empty() {
        return vec![];
    }
    let mut out = vec![0u64; l.d1 * l.d3];
    reference::add_bias(&mut out, bias, l.is_fc);
    out
}

/// Run step `st` as `call` (its [`resolve`]d protocol call) on this party's shares `vals`.
fn exec_step(
    pt: &mut Party,
    p: &Program,
    w: &Weights,
    st: &Step,
    call: &Call,
    vals: &[Vec<u64>],
) -> Result<StepOut, SecureError> {
    let alice = pt.is_alice();
    let x = &vals[st.inputs[0]];
    let in_meta = &p.tensors[st.inputs[0]];
    let in_shape = in_meta.shape;
    let in_bits = in_meta.bits;
    let out_meta = &p.tensors[st.out];
    if x.len() != in_shape.numel() {
        return perr(st, "input tensor not available");
    }
    let expect_bits = |b: u32| -> Result<(), SecureError> {
        if in_bits != b {
            return perr(
                st,
                format!(
                    "{} expects a {b}-bit input, the tensor has {in_bits} bits",
                    st.op.kind()
                ),
            );
        }
        Ok(())
    };
    let v = match *call {
        Call::Matmul { ref mp, lin } => {
            let l = &p.linear[lin];
            let wv: &[i64] = if alice { &w.layers[l.layer] } else { &[] };
            match mp.mode {
                MultMode::AliceHasA => {
                    expect_bits(mp.bwb)?;
                    let (cols, d2, d3) = tensor::im2col(x, l.in_shape, l.k, l.stride, l.pad);
                    if d2 != l.d2 || d3 != l.d3 || l.in_shape != in_shape {
                        return perr(st, "im2col shape differs from the lowered layer");
                    }
                    let wa: Vec<u64> = wv.iter().map(|&v| ring::from_signed(v, mp.bwa)).collect();
                    matmul::run_biased(pt, mp, &wa, &cols, &sci_bias(w, l, alice))?
                }
                MultMode::AliceHasB => {
                    expect_bits(mp.bwa)?;
                    if x.len() != l.d2 || l.d1 != 1 {
                        return perr(st, "FC input size differs from the lowered layer");
                    }
                    let wb: Vec<u64> = wv.iter().map(|&v| ring::from_signed(v, mp.bwb)).collect();
                    matmul::run_biased(pt, mp, x, &wb, &sci_bias(w, l, alice))?
                }
                MultMode::None => return perr(st, "a matmul without a plaintext operand"),
            }
        }
        Call::Linear {
            ref lp,
            lin,
            acc_bits,
            local_cols,
            choice,
        } => {
            let li = &p.linear[lin];
            let wv: Vec<i64> = if !alice {
                vec![]
            } else if li.is_fc {
                // FC weights are [din][dout]; Π_Linear's W is dout × din
                tensor::transpose(&w.layers[li.layer], li.d2, li.d3)
            } else {
                w.layers[li.layer].clone()
            };
            let xin: Vec<u64> = if local_cols {
                let (cols, d2, d3) = tensor::im2col(x, li.in_shape, li.k, li.stride, li.pad);
                if d2 != li.d2 || d3 != li.d3 {
                    return perr(st, "im2col shape differs from the lowered layer");
                }
                cols
            } else {
                x.clone()
            };
            let y = linear::run_at(pt, lp, choice.opt, choice.run_bits, &wv, &xin)?;
            let mut y = if choice.run_bits < acc_bits {
                extension::s_extend(pt, &y, choice.run_bits, acc_bits, None)?
            } else {
                y
            };
            if alice {
                // ALICE's bias joins her share of the accumulator (acc_bits holds acc + bias).
                reference::add_bias(&mut y, w.bias_of(li.layer), li.is_fc);
                let m = ring::mask(acc_bits);
                y.iter_mut().for_each(|v| *v &= m);
            }
            y
        }
        Call::Trunc { bw, s, msb_known } => {
            expect_bits(bw)?;
            let zeros;
            let msb = if msb_known {
                zeros = vec![0u8; x.len()];
                Some(zeros.as_slice())
            } else {
                None
            };
            trunc::run(pt, x, bw, s, true, msb)?
        }
        Call::DivPow2 { bw, s } => {
            expect_bits(bw)?;
            divpow2::run(pt, x, bw, s)?
        }
        Call::Tr { bw, s } => {
            expect_bits(bw)?;
            tr::run(pt, x, bw, s)?
        }
        Call::Requant {
            l1,
            s1,
            l2,
            s2,
            msb_known,
        } => {
            expect_bits(l1)?;
            requant::run(pt, x, l1, s1, l2, s2, msb_known)?
        }
        Call::SExt {
            from,
            to,
            msb_known,
        } => {
            expect_bits(from)?;
            extension::ext(pt, x, from, to, msb_known)?
        }
        Call::ZExt { from, to } => {
            expect_bits(from)?;
            extension::z_extend(pt, x, from, to, None)?
        }
        Call::Relu { bits } => {
            expect_bits(bits)?;
            relu::run(pt, x, bits)?
        }
        Call::MaxPoolSeq { bits, ref wins } => {
            expect_bits(bits)?;
            maxpool::run(pt, x, wins, bits)?
        }
        Call::MaxPoolTree { bits, ref wins } => {
            expect_bits(bits)?;
            maxpool_tree::run(pt, x, wins, bits)?
        }
        Call::Reveal { bits, .. } => {
            expect_bits(bits)?;
            let logits = reveal(pt, x, bits)?;
            return Ok((x.clone(), logits));
        }
        Call::RevealLabel { ref ap } => {
            expect_bits(ap.l)?;
            // The client's share of the output tensor is the label, the server's zero.
            return Ok(match argmax::run(pt, ap, x, Role::Client)? {
                Some(idx) => {
                    let label = idx.first().copied().unwrap_or(0);
                    (vec![label as u64], Some(vec![label as i64]))
                }
                None => (vec![0], None),
            });
        }
        Call::Local => local_step(p, st, x, vals, in_shape, expect_bits)?,
    };
    if v.len() != out_meta.shape.numel() {
        return perr(
            st,
            format!(
                "{} produced {} values, the program expects {}",
                st.op.kind(),
                v.len(),
                out_meta.shape.numel()
            ),
        );
    }
    Ok((v, None))
}

/// The server sends its shares (packed at `bits`); the client reconstructs signed values.
fn reveal(pt: &mut Party, x: &[u64], bits: u32) -> Result<Option<Vec<i64>>, SecureError> {
    if x.is_empty() {
        return Ok((!pt.is_alice()).then(Vec::new));
    }
    let len = ring::packed_len(x.len(), bits);
    if pt.is_alice() {
        let buf = ring::pack_vec(&mask_to(x, bits), bits);
        pt.ch.send(&buf)?;
        Ok(None)
    } else {
        let mut buf = vec![0u8; len];
        pt.ch.recv(&mut buf)?;
        let theirs = ring::unpack_vec(&buf, bits, x.len());
        Ok(Some(
            x.iter()
                .zip(&theirs)
                .map(|(&a, &b)| ring::to_signed(a.wrapping_add(b) & mask(bits), bits))
                .collect(),
        ))
    }
}

/// The local steps: nothing is sent, each party transforms its own shares.
fn local_step(
    p: &Program,
    st: &Step,
    x: &[u64],
    vals: &[Vec<u64>],
    in_shape: pq_proto::tensor::Shape,
    expect_bits: impl Fn(u32) -> Result<(), SecureError>,
) -> Result<Vec<u64>, SecureError> {
    Ok(match st.op {
        StepOp::Reduce { from, to } => {
            expect_bits(from)?;
            mask_to(x, to)
        }
        StepOp::AvgSum { bits, k, stride } => {
            expect_bits(bits)?;
            mask_to(&tensor::avgpool_sum(x, in_shape, k, stride), bits)
        }
        StepOp::ShortcutA { bits, cout, stride } => {
            expect_bits(bits)?;
            if cout < in_shape.c {
                return perr(st, "option-A shortcut narrows the channels");
            }
            mask_to(&tensor::shortcut_a(x, in_shape, cout, stride), bits)
        }
        StepOp::ShiftLeft { from, s } => {
            expect_bits(from)?;
            let m = mask(from + s);
            x.iter().map(|&v| v.wrapping_shl(s) & m).collect()
        }
        StepOp::Add { bits } => {
            let Some(&t2) = st.inputs.get(1) else {
                return perr(st, "add needs two operands");
            };
            let y = &vals[t2];
            if y.len() != x.len() || p.tensors[t2].bits != bits {
                return perr(st, "add operands differ in size or width");
            }
            expect_bits(bits)?;
            let m = mask(bits);
            x.iter()
                .zip(y)
                .map(|(&a, &b)| a.wrapping_add(b) & m)
                .collect()
        }
        _ => return perr(st, "not a local step"),
    })
}

/// A per-step progress callback: `(layer name, steps done, steps total)`, called by the
/// server's thread after each step.
#[derive(Clone)]
pub struct Progress(pub ProgressFn);

/// The callback type of [`Progress`].
pub type ProgressFn = std::sync::Arc<dyn Fn(&str, usize, usize) + Send + Sync>;

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

/// How to run both parties.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The channel between the two parties (in memory by default).
    pub transport: Transport,
    /// Emulated / simulated links (see [`LinkOptions`]).
    pub links: LinkOptions,
    /// Deterministic randomness (tests only); `None` uses the OS.
    pub seed: Option<u64>,
    /// Keep and reconstruct every tensor (tests).
    pub keep_tensors: bool,
    /// Pin the two parties to two cores.
    pub pin: bool,
    /// Called after every step (server side).
    pub progress: Option<Progress>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            transport: Transport::Mem,
            links: LinkOptions::default(),
            seed: None,
            keep_tensors: false,
            pin: false,
            progress: None,
        }
    }
}

/// One layer of a secure run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerRun {
    /// The model layer's name.
    pub name: String,
    /// The model layer's operation (`conv`, `fc`, `relu`, ...).
    pub op: String,
    /// Measured payload bytes the server sent (meters, tagged by layer).
    pub bytes_server_to_client: u64,
    /// Measured payload bytes the client sent.
    pub bytes_client_to_server: u64,
    /// Both directions together.
    pub bytes_total: u64,
    /// Round trips of the cost model.
    pub rounds: u64,
    /// Measured flights of the busier party in this layer.
    pub flights: u64,
    /// CPU seconds of the slower party in this layer.
    pub compute_s: f64,
    /// Wall seconds of the slower party in this layer (waits included).
    pub wall_s: f64,
    /// The cost model's figure for this layer.
    pub cost: Cost,
    /// The Π_Linear option the layer ran ([`LayerCost::option`]).
    pub option: Option<String>,
}

/// One step kind of a secure run (the `--breakdown` profile).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KindRun {
    /// The step kind ([`StepOp::kind`]: `relu`, `linear_sci`, ...).
    pub kind: String,
    /// Number of steps of this kind.
    pub steps: usize,
    /// Measured payload bytes the server sent in steps of this kind.
    pub bytes_server_to_client: u64,
    /// Measured payload bytes the client sent in steps of this kind.
    pub bytes_client_to_server: u64,
    /// Both directions together.
    pub bytes_total: u64,
    /// CPU seconds of the slower party in steps of this kind.
    pub compute_s: f64,
    /// Wall seconds of each step of this kind (the slower party), for latency percentiles.
    pub step_wall_s: Vec<f64>,
    /// The cost model's figure (steps in sequence).
    pub cost: Cost,
}

/// What [`run_secure`] returns.
#[derive(Clone, Debug)]
pub struct SecureRun {
    /// The logits the client reconstructed.
    pub logits: Vec<i64>,
    /// Per model layer, in execution order.
    pub layers: Vec<LayerRun>,
    /// Per step kind, in order of first appearance.
    pub kinds: Vec<KindRun>,
    /// Measured payload bytes the server sent in the protocol (setup excluded).
    pub bytes_server_to_client: u64,
    /// Measured payload bytes the client sent in the protocol (setup excluded).
    pub bytes_client_to_server: u64,
    /// One-time base-OT setup bytes (both directions).
    pub setup_bytes: u64,
    /// The cost model of the whole program (rounds, offline split).
    pub cost: Cost,
    /// CPU seconds of the protocol part (setup excluded), the slower party.
    pub compute_s: f64,
    /// Wall seconds of the protocol part (setup excluded), the slower party.
    pub proto_wall_s: f64,
    /// Wall time of the whole run including the setup.
    pub wall_s: f64,
    /// Simulated end-to-end latency per simulated link (setup included).
    pub simulated: Vec<SimulatedLatency>,
    /// Every tensor reconstructed (signed, in its width), with `keep_tensors`.
    pub tensors: Vec<Vec<i64>>,
}

impl SecureRun {
    /// Protocol payload bytes in both directions (setup excluded).
    pub fn bytes_total(&self) -> u64 {
        self.bytes_server_to_client + self.bytes_client_to_server
    }
}

/// What one party reports after [`run_side`].
#[derive(Clone, Debug)]
pub struct SideReport {
    /// What the party computed (logits on the client, per-step timings, kept shares).
    pub res: PartyResult,
    /// One-time base-OT setup bytes (both directions).
    pub setup: u64,
    /// Wall seconds of the protocol part.
    pub proto_s: f64,
    /// CPU seconds of this party's thread in the protocol part.
    pub cpu_s: f64,
    /// Payload bytes this party sent in the protocol part.
    pub sent: u64,
    /// Payload bytes this party received in the protocol part.
    pub recv: u64,
    /// This party's meter counters per layer (in [`layer_costs`] order).
    pub by_layer: Vec<pq_netsim::Counters>,
    /// This party's meter counters per step kind (`relu`, `linear_sci`, ...).
    pub by_kind: BTreeMap<String, pq_netsim::Counters>,
}

/// One party end to end on `ch` (e.g. a TCP channel to another process): the OT setup, then
/// the program. The server passes `weights`, the client `input`. `seed` makes the randomness
/// deterministic (tests only).
pub fn run_side(
    ch: &mut dyn Channel,
    role: Role,
    prog: &Program,
    weights: Option<&Weights>,
    input: Option<&[i64]>,
    seed: Option<u64>,
) -> Result<SideReport, SecureError> {
    let opts = RunOptions {
        seed,
        ..RunOptions::default()
    };
    one_side(ch, role, prog, weights, input, &opts, &layer_order(prog))
}

fn one_side(
    ch: &mut dyn Channel,
    role: Role,
    prog: &Program,
    weights: Option<&Weights>,
    input: Option<&[i64]>,
    opts: &RunOptions,
    layers: &[(String, String)],
) -> Result<SideReport, SecureError> {
    check_supported(prog)?;
    let (mut ot, own) = pq_proto::party::start_with(ch, role, opts.seed, prog.feat.profile().ot)?;
    let setup = ot.setup_bytes;
    let before = ch.meter().total();
    let t = Instant::now();
    let c0 = compute_ns();
    let mut pt = Party::new(role, ch, &mut ot, own, prog.feat.profile());
    let progress = if role == Role::Server {
        opts.progress.as_ref()
    } else {
        None
    };
    let res = run_party_with(&mut pt, prog, weights, input, opts.keep_tensors, progress)?;
    let proto_s = t.elapsed().as_secs_f64();
    let cpu_s = compute_ns().saturating_sub(c0) as f64 * 1e-9;
    let during = ch.meter().total().since(&before);
    let (sent, recv) = (during.bytes_sent, during.bytes_recv);
    let by_layer = layers
        .iter()
        .map(|(n, _)| ch.meter().tag_total(&layer_tag(n)))
        .collect();
    let mut by_kind: BTreeMap<String, pq_netsim::Counters> = BTreeMap::new();
    for (path, cnt) in ch.meter().tags() {
        let mut parts = path.split('/');
        if let (Some(_layer), Some(kind)) = (parts.next(), parts.next()) {
            by_kind.entry(kind.to_string()).or_default().add(cnt);
        }
    }
    Ok(SideReport {
        res,
        setup,
        proto_s,
        cpu_s,
        sent,
        recv,
        by_layer,
        by_kind,
    })
}

/// Run both parties of `prog` in one process (two threads): the server with `weights`, the
/// client with `input`; reports per-layer measured bytes beside the cost model.
pub fn run_secure(
    prog: &Program,
    weights: &Weights,
    input: &[i64],
    opts: &RunOptions,
) -> Result<SecureRun, SecureError> {
    check_supported(prog)?;
    reference::check_inputs(prog, weights, input)?;
    let layers = layer_order(prog);
    let costs = layer_costs(prog)?;
    let charged = charged_step_costs(prog)?;
    let cost: Cost = charged.iter().copied().sum();
    let t = Instant::now();
    let out = run_pair_linked(
        opts.transport,
        &PairOptions { pin: opts.pin },
        &opts.links,
        |ch| one_side(ch, Role::Server, prog, Some(weights), None, opts, &layers),
        |ch| one_side(ch, Role::Client, prog, None, Some(input), opts, &layers),
    )?;
    let wall_s = t.elapsed().as_secs_f64();
    let s = out.server?;
    let c = out.client?;
    let Some(logits) = c.res.logits.clone() else {
        return Err(SecureError::Program {
            layer: String::new(),
            msg: "the program revealed nothing".into(),
        });
    };
    let mut layer_runs = vec![];
    for (i, ((name, op), lc)) in layers.iter().zip(&costs).enumerate() {
        let (sc, cc) = (s.by_layer[i], c.by_layer[i]);
        let secs = |v: &[f64]| -> f64 {
            prog.steps
                .iter()
                .zip(v)
                .filter(|(st, _)| &st.layer == name)
                .map(|(_, t)| t)
                .sum()
        };
        layer_runs.push(LayerRun {
            name: name.clone(),
            op: op.clone(),
            bytes_server_to_client: sc.bytes_sent,
            bytes_client_to_server: cc.bytes_sent,
            bytes_total: sc.bytes_sent + cc.bytes_sent,
            rounds: lc.cost.rounds,
            flights: sc.flights.max(cc.flights),
            compute_s: secs(&s.res.step_cpu_s).max(secs(&c.res.step_cpu_s)),
            wall_s: secs(&s.res.step_s).max(secs(&c.res.step_s)),
            cost: lc.cost,
            option: lc.option.clone(),
        });
    }
    let mut kinds: Vec<KindRun> = vec![];
    for st in &prog.steps {
        let k = st.op.kind();
        if kinds.iter().any(|r| r.kind == k) {
            continue;
        }
        let (sc, cc) = (
            s.by_kind.get(k).copied().unwrap_or_default(),
            c.by_kind.get(k).copied().unwrap_or_default(),
        );
        let secs = |v: &[f64]| -> f64 {
            prog.steps
                .iter()
                .zip(v)
                .filter(|(x, _)| x.op.kind() == k)
                .map(|(_, t)| t)
                .sum()
        };
        kinds.push(KindRun {
            kind: k.to_string(),
            steps: prog.count(k),
            bytes_server_to_client: sc.bytes_sent,
            bytes_client_to_server: cc.bytes_sent,
            bytes_total: sc.bytes_sent + cc.bytes_sent,
            compute_s: secs(&s.res.step_cpu_s).max(secs(&c.res.step_cpu_s)),
            step_wall_s: prog
                .steps
                .iter()
                .enumerate()
                .filter(|(_, x)| x.op.kind() == k)
                .map(|(i, _)| {
                    let a = s.res.step_s.get(i).copied().unwrap_or(0.0);
                    let b = c.res.step_s.get(i).copied().unwrap_or(0.0);
                    a.max(b)
                })
                .collect(),
            cost: prog
                .steps
                .iter()
                .zip(&charged)
                .filter(|(x, _)| x.op.kind() == k)
                .map(|(_, c)| *c)
                .sum::<Cost>(),
        });
    }
    let tensors = if opts.keep_tensors {
        prog.tensors
            .iter()
            .enumerate()
            .map(|(t, meta)| {
                let (a, b) = (&s.res.shares[t], &c.res.shares[t]);
                a.iter()
                    .zip(b)
                    .map(|(&x, &y)| ring::to_signed(x.wrapping_add(y) & mask(meta.bits), meta.bits))
                    .collect()
            })
            .collect()
    } else {
        vec![]
    };
    Ok(SecureRun {
        logits,
        layers: layer_runs,
        kinds,
        bytes_server_to_client: s.sent,
        bytes_client_to_server: c.sent,
        setup_bytes: s.setup,
        cost,
        compute_s: s.cpu_s.max(c.cpu_s),
        proto_wall_s: s.proto_s.max(c.proto_s),
        wall_s,
        simulated: out.simulated,
        tensors,
    })
}

/// Convenience: [`RunOptions`] simulating `links` in virtual time.
pub fn simulate_links(links: &[LinkSpec]) -> LinkOptions {
    LinkOptions {
        simulate: links.to_vec(),
        ..LinkOptions::default()
    }
}
