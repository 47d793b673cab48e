//! Configurations (`sirnn`, `sirnn-quant`, `privquant`, `privquant-w4`, `privquant-he`):
//! bit-width assignment, the public configuration hash, and seeded weights and inputs.
//!
//! Width rules of [`apply`] (fixed per configuration, so that protocols are compared at equal
//! widths; the quantized widths follow the PrivQuant paper, ICCAD 2024); a width already set
//! in the model (e.g. by a JSON file) is always kept:
//!
//! | | `sirnn` | quantized configs |
//! |---|---|---|
//! | weights | 16 | 2 (4 for `privquant-w4`); the first and last linear layer 8 |
//! | activations | 16 | 4 if the model has no residual add (MiniONN), else 6 (ResNets) |
//! | residual (`Add.rbits`) | 16 | 8 |
//! | input | 16 | 8 |
//!
//! `llama7b-attn*` models (recognised by name): weights 4 and activations 8 in every layer of
//! the quantized configs. A conv or FC whose output feeds an `Add` hands on the residual width
//! (its `abits` is the add's `rbits`); an `Add` layer's `abits` is the width convolutions read
//! the residual at (the 8 → 6 requantization).
//!
//! `privquant-he` is `privquant` in every width, shift and non-linear protocol; it only puts
//! the HE option on the linear layers' menu ([`Features::he_linear`]).

use super::model::{InputEncoding, Model, Op};
use pq_kernels::Block;
use pq_kernels::aes::Prg;
use pq_kernels::ring;
use serde::Serialize;

/// A network configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Config {
    /// SiRNN as the paper runs it: W16 A16, 32-bit accumulation (`docs/sci-protocols.md`
    /// §Network recipes).
    Sirnn,
    /// SCI's protocols at privquant's widths (`docs/sci-protocols.md` §Network recipes).
    SirnnQuant,
    /// Our protocols (`docs/network-semantics.md`).
    PrivQuant,
    /// `privquant` with 4-bit weights in the middle layers.
    PrivQuantW4,
    /// `privquant` (the same widths, shifts, features and non-linear protocols) with the HE
    /// option on every linear layer's menu ([`Features::he_linear`]): Π_Linear's chooser
    /// takes W·X on RLWE ciphertexts (Cheetah-style, `pq_proto::privquant::he_linear`) where
    /// that scores better than every OT option. Its OTs are IKNP's (the only correlated-OT
    /// source of this build; silent OT, when it exists, is meant to become its default).
    PrivQuantHe,
}

impl Config {
    /// Every configuration, in table order.
    pub const ALL: [Config; 5] = [
        Config::Sirnn,
        Config::SirnnQuant,
        Config::PrivQuant,
        Config::PrivQuantW4,
        Config::PrivQuantHe,
    ];
    /// The name used on the command line and in results (`sirnn`, `privquant-w4`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Config::Sirnn => "sirnn",
            Config::SirnnQuant => "sirnn-quant",
            Config::PrivQuant => "privquant",
            Config::PrivQuantW4 => "privquant-w4",
            Config::PrivQuantHe => "privquant-he",
        }
    }
    /// Whether the configuration runs privquant's data flow (exact accumulators, Requant).
    pub fn is_privquant(self) -> bool {
        matches!(
            self,
            Config::PrivQuant | Config::PrivQuantW4 | Config::PrivQuantHe
        )
    }
    /// Whether the configuration uses the low (quantized) widths.
    pub fn is_quantized(self) -> bool {
        !matches!(self, Config::Sirnn)
    }
    /// Width of the ring the client's input lives in, for inputs encoded as `enc`: in the
    /// quantized configurations the narrowest ring that holds the domain
    /// ([`InputEncoding::signed_width`]: 8 bits for the built-ins' 7-bit unsigned pixels, 9
    /// for 8-bit unsigned ones), in `sirnn` SiRNN's 16-bit fixed point.
    pub fn input_bits(self, enc: InputEncoding) -> u32 {
        if self.is_quantized() {
            enc.signed_width()
        } else {
            16
        }
    }
}

/// PrivQuant's optimizations, each switchable on its own (the ablation of the conv table),
/// and the HE option of the linear layers ([`Features::he_linear`], not one of them).
/// `sirnn-quant` runs none, `privquant` every optimization, `privquant-he` every optimization
/// and the HE option; any other set runs the same network (widths, shifts) with only the
/// chosen ones, every combination bit-exact against the plaintext reference of the program it
/// lowers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Features {
    /// DNN-aware linear layers: the exact accumulator with the cost-driven option planner
    /// (`pq_proto::privquant::linear`) instead of SCI's matmul.
    pub dnn_linear: bool,
    /// Simplified residual: align the shortcut to the branch conv's accumulator format, add
    /// there, one re-quantization back to the residual width.
    pub simple_residual: bool,
    /// Sign propagation: known-MSB variants (and the tighter ranges they allow) on every
    /// tensor the range analysis proves non-negative.
    pub sign_prop: bool,
    /// Fused quantization: Algorithm 1 (`Requant`, with Props 4.1–4.3) instead of SCI's
    /// `div_pow2` followed by a reduce or an extension.
    pub fused_quant: bool,
    /// Our engine's protocol profile ([`pq_proto::Profile::PrivQuant`]: no SCI OT padding, COT
    /// MUX, no duplicated openings, comparison-tree max pool) instead of SCI's.
    pub lean_engine: bool,
    /// The HE option on Π_Linear's menu ([`pq_proto::privquant::linear::Menu::he`]): each
    /// exact linear layer may compute W·X on RLWE ciphertexts where that scores better than
    /// every OT option. Not one of PrivQuant's optimizations: it acts only on the exact
    /// accumulators of `dnn_linear` (SCI's matmul has no options), is off in
    /// [`Features::ALL`] and in every configuration but `privquant-he`. Left out of the
    /// serialized form when off, so the public hash of every configuration without it is what
    /// it was before the switch existed; when on it is hashed, and a peer without it is
    /// refused.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub he_linear: bool,
    /// The correlated-OT source of the IKNP-style OT calls ([`pq_proto::OtKind`]): IKNP,
    /// SoftSpoken or Ferret. Only the lean engine uses it; SCI's profile (`sirnn`,
    /// `sirnn-quant`) always runs IKNP. Serialized (and so hashed) only when not IKNP, so
    /// every configuration's hash on IKNP is what it was before the choice existed.
    #[serde(
        skip_serializing_if = "is_iknp",
        serialize_with = "ser_ot",
        rename = "ot"
    )]
    pub ot: pq_proto::OtKind,
}

fn is_iknp(k: &pq_proto::OtKind) -> bool {
    *k == pq_proto::OtKind::Iknp
}

fn ser_ot<S: serde::Serializer>(k: &pq_proto::OtKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&k.name())
}

impl Features {
    /// Nothing on (SCI's protocols).
    pub const NONE: Features = Features {
        dnn_linear: false,
        simple_residual: false,
        sign_prop: false,
        fused_quant: false,
        lean_engine: false,
        he_linear: false,
        ot: pq_proto::OtKind::Iknp,
    };
    /// Every one of PrivQuant's optimizations on: `privquant`'s set. The HE option
    /// ([`Features::he_linear`]) stays off: it is not PrivQuant's, and the ablation's
    /// "everything" row is this set.
    pub const ALL: Features = Features {
        dnn_linear: true,
        simple_residual: true,
        sign_prop: true,
        fused_quant: true,
        lean_engine: true,
        he_linear: false,
        ot: pq_proto::OtKind::Iknp,
    };
    /// `privquant-he`'s set: [`Features::ALL`] and the HE option, on Ferret.
    pub const ALL_HE: Features = Features {
        he_linear: true,
        ot: pq_proto::OtKind::Ferret,
        ..Features::ALL
    };
    /// The same features on the COT source `ot` (ignored without the lean engine: SCI's
    /// profile always runs IKNP).
    #[must_use]
    pub fn with_ot(self, ot: pq_proto::OtKind) -> Features {
        Features {
            ot: if self.lean_engine {
                ot
            } else {
                pq_proto::OtKind::Iknp
            },
            ..self
        }
    }
    /// The protocol profile these features run.
    pub fn profile(self) -> pq_proto::Profile {
        if self.lean_engine {
            pq_proto::Profile::PrivQuant.with_ot(self.ot)
        } else {
            pq_proto::Profile::Sirnn
        }
    }
    /// The options Π_Linear's chooser may take under these features.
    pub fn linear_menu(self) -> pq_proto::privquant::linear::Menu {
        pq_proto::privquant::linear::Menu { he: self.he_linear }
    }
    /// Short names of the switched-on features, `+`-joined (`none` when empty).
    pub fn label(self) -> String {
        let v: Vec<&str> = [
            (self.dnn_linear, "dnn-linear"),
            (self.simple_residual, "simple-residual"),
            (self.sign_prop, "sign-prop"),
            (self.fused_quant, "fused-quant"),
            (self.lean_engine, "lean-engine"),
            (self.he_linear, "he-linear"),
        ]
        .into_iter()
        .filter_map(|(on, n)| on.then_some(n))
        .collect();
        if v.is_empty() {
            "none".into()
        } else {
            v.join("+")
        }
    }
}

impl Config {
    /// The features a configuration runs (`sirnn` and `sirnn-quant`: none; `privquant` and
    /// `privquant-w4`: [`Features::ALL`]; `privquant-he`: [`Features::ALL_HE`]).
    pub fn features(self) -> Features {
        match self {
            Config::Sirnn | Config::SirnnQuant => Features::NONE,
            Config::PrivQuant | Config::PrivQuantW4 => Features::ALL,
            Config::PrivQuantHe => Features::ALL_HE,
        }
    }
}

impl std::fmt::Display for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Config {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Config::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Config::ALL.iter().map(|c| c.name()).collect();
                format!("unknown protocol '{s}' (accepted: {})", names.join(", "))
            })
    }
}

fn is_llama(m: &Model) -> bool {
    m.name.starts_with("llama")
}

/// Whether the model has a residual addition.
pub fn has_residual(m: &Model) -> bool {
    m.layers.iter().any(|l| l.op == Op::Add)
}

/// Activation width of a quantized configuration for this model.
pub fn quant_act_bits(m: &Model) -> u32 {
    if is_llama(m) {
        8
    } else if has_residual(m) {
        6
    } else {
        4
    }
}

/// Fill every unset (zero) width of `model` for `cfg`; set widths are kept, except under
/// `sirnn`: SiRNN runs the architecture in its own 16-bit fixed point (scale 12, shifts pinned
/// by the lowering), so a model's `wbits`/`abits`/`rbits` are the quantized configurations'
/// settings and `sirnn` replaces them with its own (a 2-bit weight width cannot hold SiRNN's
/// 12-bit scale).
pub fn apply(model: &Model, cfg: Config) -> Model {
    let mut m = model.clone();
    if cfg == Config::Sirnn {
        for l in m.layers.iter_mut() {
            l.quant.wbits = 0;
            l.quant.abits = 0;
            l.quant.rbits = 0;
        }
    }
    let lin = m.linear_layers();
    let first = lin.first().copied();
    let last = lin.last().copied();
    let llama = is_llama(&m);
    let act = if cfg.is_quantized() {
        quant_act_bits(&m)
    } else {
        16
    };
    let res = if cfg.is_quantized() { 8 } else { 16 };
    let mid_w = match cfg {
        Config::Sirnn => 16,
        Config::PrivQuantW4 => 4,
        Config::SirnnQuant | Config::PrivQuant | Config::PrivQuantHe => 2,
    };
    // Adds first: their rbits decide the output width of the convs feeding them.
    for l in m.layers.iter_mut() {
        if l.op == Op::Add {
            if l.quant.rbits == 0 {
                l.quant.rbits = res;
            }
            if l.quant.abits == 0 {
                l.quant.abits = act;
            }
        }
    }
    let n = m.layers.len();
    for i in 0..n {
        if !m.layers[i].op.is_linear() {
            continue;
        }
        let feeds_add = m.layers[i + 1..]
            .iter()
            .find(|l| l.op == Op::Add && l.inputs.contains(&(i + 1)))
            .map(|l| l.quant.rbits);
        let q = &mut m.layers[i].quant;
        if q.wbits == 0 {
            q.wbits = if !cfg.is_quantized() {
                16
            } else if llama {
                4
            } else if Some(i) == first || Some(i) == last {
                8
            } else {
                mid_w
            };
        }
        if q.abits == 0 {
            q.abits = feeds_add.unwrap_or(act);
        }
    }
    m
}

/// Seeded weights, one vector per model layer (empty for layers without weights).
///
/// Layouts: a conv's weights are `[cout][cin][k][k]` (the d1 × d2 matrix `A` of SCI's conv,
/// row-major, as `pq_proto::tensor::conv2d` takes them); an FC's are `[din][dout]` (SCI's `B`
/// operand of `MatMul`, as `pq_proto::tensor::matmul_u64_i64` takes them), `din` in C·H·W
/// flatten order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Weights {
    /// Signed weights, indexed by model layer, in the layouts above.
    pub layers: Vec<Vec<i64>>,
    /// Biases, indexed by model layer: one per output channel (conv) or output (FC) for a
    /// layer with `bias: true`, empty otherwise (and a missing tail means no biases).
    pub bias: Vec<Vec<i64>>,
}

fn prg_for(seed: u64, domain: u64) -> Prg {
    Prg::new(Block::from_u64s(seed, domain))
}

/// Signed integers uniform over the whole `bits`-bit range (`bits` in 1..=64).
fn fill_signed(prg: &mut Prg, n: usize, bits: u32) -> Vec<i64> {
    let mut bytes = vec![0u8; n * 8];
    prg.fill_bytes(&mut bytes);
    bytes
        .chunks_exact(8)
        .map(|c| {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            ring::to_signed(u64::from_le_bytes(a) & ring::mask(bits), bits)
        })
        .collect()
}

/// How seeded weights are drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WeightDist {
    /// The pinned benchmark distribution: uniform over the whole signed `wbits` range
    /// [−2^(lw−1), 2^(lw−1) − 1]. Its mean is −1/2, which at 2 bits dominates a layer's sum.
    #[default]
    Uniform,
    /// Zero-mean: uniform over [−(2^(lw−1) − 1), 2^(lw−1) − 1] (the most negative value
    /// excluded; at 2 bits {−1, 0, 1}; 1-bit weights stay {−1, 0}). Meant for use with
    /// calibrated shifts (`reference::calibrate_shifts`), so activations use their range.
    Symmetric,
}

/// Uniform over [−(2^(bits−1) − 1), 2^(bits−1) − 1] by rejection of the most negative value.
fn fill_symmetric(prg: &mut Prg, n: usize, bits: u32) -> Vec<i64> {
    if bits == 1 {
        return fill_signed(prg, n, 1);
    }
    let most_negative = -(1i128 << (bits - 1));
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let need = n - out.len();
        let batch = fill_signed(prg, need + need / 2 + 16, bits);
        out.extend(
            batch
                .into_iter()
                .filter(|&v| v as i128 != most_negative)
                .take(need),
        );
    }
    out
}

impl Weights {
    /// The bias of model layer `i` (empty: none).
    pub fn bias_of(&self, i: usize) -> &[i64] {
        self.bias.get(i).map_or(&[], Vec::as_slice)
    }

    /// Weights of every conv/FC layer of a width-applied model: uniform signed integers over
    /// the layer's whole `wbits` range, from an AES-CTR stream per layer seeded by
    /// (`seed`, layer index).
    pub fn random(model: &Model, seed: u64) -> Weights {
        Weights::random_with(model, seed, WeightDist::Uniform)
    }

    /// [`Weights::random`] with a chosen distribution.
    pub fn random_with(model: &Model, seed: u64, dist: WeightDist) -> Weights {
        let layers = (0..model.layers.len())
            .map(|i| {
                let l = &model.layers[i];
                let n = l.weight_count(model.in_shape(i));
                if n == 0 {
                    return vec![];
                }
                let bits = l.quant.wbits.clamp(1, 64);
                let mut prg = prg_for(seed, 0x5747_0000_0000_0000 | i as u64);
                match dist {
                    WeightDist::Uniform => fill_signed(&mut prg, n, bits),
                    WeightDist::Symmetric => fill_symmetric(&mut prg, n, bits),
                }
            })
            .collect();
        let bias = (0..model.layers.len())
            .map(|i| {
                let l = &model.layers[i];
                if !l.bias || !l.op.is_linear() {
                    return vec![];
                }
                // wbits-bit biases always fit the layer's bias width (see
                // `LinearInfo::bias_bits`) once its input has at least 2 bits.
                let mut prg = prg_for(seed, 0x4249_0000_0000_0000 | i as u64);
                fill_signed(&mut prg, l.out.c, l.quant.wbits.clamp(1, 64))
            })
            .collect();
        Weights { layers, bias }
    }
}

/// The client's input: `numel` seeded integers uniform over the domain of `enc`.
pub fn random_input(numel: usize, enc: InputEncoding, seed: u64) -> Vec<i64> {
    let mut prg = prg_for(seed, 0x494e_0000_0000_0000);
    let (lo, _) = enc.domain();
    let b = enc.bits.clamp(1, InputEncoding::MAX_BITS);
    fill_signed(&mut prg, numel, 64)
        .into_iter()
        .map(|v| lo + (v as u64 & ring::mask(b)) as i64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin;

    #[test]
    fn names_roundtrip() {
        for c in Config::ALL {
            assert_eq!(c.name().parse::<Config>(), Ok(c));
        }
        assert!("sirnn2".parse::<Config>().is_err());
    }

    #[test]
    fn widths() {
        let m = apply(&builtin::minionn(), Config::PrivQuant);
        let lin = m.linear_layers();
        assert_eq!(m.layers[lin[0]].quant.wbits, 8);
        assert_eq!(m.layers[lin[1]].quant.wbits, 2);
        assert_eq!(m.layers[*lin.last().unwrap()].quant.wbits, 8);
        assert_eq!(m.layers[lin[1]].quant.abits, 4);
        let m = apply(&builtin::resnet32(), Config::PrivQuantW4);
        assert_eq!(m.layers[m.linear_layers()[2]].quant.wbits, 4);
        let c1 = m.layers.iter().find(|l| l.name == "s1b0c1").unwrap();
        let c2 = m.layers.iter().find(|l| l.name == "s1b0c2").unwrap();
        let add = m.layers.iter().find(|l| l.name == "s1b0.add").unwrap();
        assert_eq!((c1.quant.abits, c2.quant.abits), (6, 8));
        assert_eq!((add.quant.rbits, add.quant.abits), (8, 6));
        let m = apply(&builtin::resnet32(), Config::Sirnn);
        assert!(
            m.linear_layers()
                .iter()
                .all(|&i| m.layers[i].quant.wbits == 16)
        );
        let m = apply(&builtin::llama7b_attn(1), Config::SirnnQuant);
        assert!(
            m.linear_layers()
                .iter()
                .all(|&i| m.layers[i].quant.wbits == 4 && m.layers[i].quant.abits == 8)
        );
        // Set widths are kept.
        let mut u = builtin::minionn();
        u.layers[0].quant.wbits = 5;
        assert_eq!(apply(&u, Config::PrivQuant).layers[0].quant.wbits, 5);
        // sirnn runs its own 16-bit fixed point whatever the model sets
        assert_eq!(apply(&u, Config::Sirnn).layers[0].quant.wbits, 16);
    }

    #[test]
    fn seeds() {
        let m = builtin::minionn();
        let am = apply(&m, Config::PrivQuant);
        let w = Weights::random(&am, 7);
        assert_eq!(w, Weights::random(&am, 7));
        assert_ne!(w, Weights::random(&am, 8));
        let l1 = &w.layers[am.linear_layers()[1]];
        assert!(l1.iter().all(|&v| (-2..=1).contains(&v)));
        assert!(l1.contains(&-2) && l1.contains(&1));
        let x = random_input(1000, InputEncoding::default(), 3);
        assert!(x.iter().all(|&v| (0..=127).contains(&v)));
        assert!(x.contains(&127) && x.contains(&0));
    }
}
