//! Π_Linear's HE option: the exact accumulator W·X computed on RLWE ciphertexts (Cheetah's
//! HomConv/HomFC, Huang et al., USENIX Security 2022), at our quantized widths, with several
//! output channels per polynomial where the noise allows it (`pq_he::pack`).
//!
//! 1. ⟨X⟩ is extended from lx to L bits on the tensor (Π_Ext, known-MSB when X ≥ 0; local
//!    when the client holds X in clear; nothing when L ≤ lx), so that both shares live in
//!    Z_{2^L}, the plaintext ring t = 2^L.
//! 2. **Client → server, one flight**: a fresh 128-bit seed, a public key (an encryption of
//!    zero modulo q0) and one ciphertext per input block of its share (`pq_he::pack` lays
//!    C×H×W into polynomials). Only the `b` half travels, at ⌈log2 Q⌉ − d_in bits per
//!    coefficient (the client rounds d_in low bits away); the `a` halves are expanded from
//!    the seed.
//! 3. **Server → client, one flight**: the server adds its share to each ciphertext,
//!    multiplies by the kernel polynomials and sums over channel blocks; for each output
//!    polynomial it floods the noise, subtracts its mask R (its output share), switches to
//!    q0, re-randomises there with the public key, and sends the N high parts of `a` and the
//!    high parts of `b` at the output coefficients only ([`pq_he::noise`] sizes the bits).
//! 4. The client decrypts W·X − R at the output coefficients: its share. The server's is R.
//!
//! Bytes, exactly (from public shapes, `l` and the plan): client → server
//! ⌈(128 + N·⌈log2 q0⌉ + inputs·N·(⌈log2 Q⌉ − d_in)) / 8⌉ plus the extension; server → client
//! ⌈(outputs·N·bits_a + M·Ho·Wo·bits_b) / 8⌉. Rounds: the extension's, plus 1.
//!
//! The plan ([`plan`]) is the one of fewest bytes over the second prime q1 of Q (a family of
//! 15, `Params::Q1`), the client's dropped bits, the layout (direct or polyphase for strided
//! convolutions) and the tiling, among those whose noise fits.
//!
//! Both parties spread their HE work over the rayon pool (ciphertexts, output groups); each
//! parallel section is charged to the party's compute clock at its wall time
//! ([`pq_netsim::clock::parallel_section`]), so virtual-time runs see what the party waited.

use super::linear::{Geom, LinearParams};
use crate::party::Party;
use crate::{Cost, ProtoResult, Role, param};
use pq_he::noise::{self, LayerNoise};
use pq_he::pack::{ConvGeom, Packing};
use pq_he::{He, Params, Response, SecretKey};
use pq_kernels::Block;
use pq_kernels::aes::Prg;
use pq_kernels::ring::mask;
use pq_netsim::clock::parallel_section;
use pq_ot::pack::{BitReader, BitWriter};
use rayon::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// How a strided convolution is laid out for the packer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// As it is: a stride-s conv computes the stride-1 outputs and keeps every s-th (a 1×1
    /// conv subsamples its input instead).
    Direct,
    /// Polyphase: a stride-s k×k conv with padding p is the stride-1 ⌈k/s⌉×⌈k/s⌉ conv of the
    /// s² phase images X^(a,b)[c, i, j] = Xpad[c, s·i + a, s·j + b] (C·s² channels, Ho + ⌈k/s⌉ − 1
    /// rows and columns) by the phase kernels W[m, c, s·u + a, s·v + b] (zero past k). Every
    /// output coefficient is needed, so s² times fewer output polynomials are sent.
    Polyphase {
        /// The stride s.
        s: usize,
    },
}

/// The layer's packing and noise plan.
#[derive(Clone)]
pub struct HePlan {
    /// The RLWE parameters: [`Params::STD`] with the smallest second prime that fits.
    pub params: Params,
    /// How the layer was laid out before packing.
    pub layout: Layout,
    /// Where inputs, kernels and outputs sit in the polynomials.
    pub packing: Packing,
    /// Flooding and dropped bits.
    pub noise: LayerNoise,
    /// Plaintext width L (t = 2^L).
    pub l: u32,
}

impl HePlan {
    /// Bytes the client sends (seed, public key modulo q0, input ciphertexts modulo Q).
    pub fn client_bytes(&self) -> u64 {
        let p = self.params;
        let n = p.n as u64;
        let bits = 128
            + n * p.q0_bits() as u64
            + self.packing.input_polys() as u64 * n * self.in_bits() as u64;
        bits.div_ceil(8)
    }
    /// Bits per coefficient of an input ciphertext on the wire: ⌈log2 Q⌉ less the dropped
    /// bits.
    pub fn in_bits(&self) -> u32 {
        self.params.q_bits() - self.noise.drop_in
    }
    /// Bytes the server sends (the responses).
    pub fn server_bytes(&self) -> u64 {
        let p = self.params;
        let sh = self.noise.shrink;
        let bits = self.packing.output_polys() as u64 * p.n as u64 * sh.bits_a(&p) as u64
            + self.packing.total_outputs() as u64 * sh.bits_b(&p) as u64;
        bits.div_ceil(8)
    }
}

/// The shared RLWE context of `p` (NTT plans are built once per process for each member of
/// the parameter family).
fn he(p: &Params) -> ProtoResult<&'static He> {
    static HE: OnceLock<Vec<Option<He>>> = OnceLock::new();
    let all = HE.get_or_init(|| {
        (0..Params::Q1.len())
            .map(|i| Params::family(i).and_then(|q| He::new(q).ok()))
            .collect()
    });
    all.iter()
        .flatten()
        .find(|h| h.params() == p)
        .ok_or_else(|| param("he", "no NTT for the RLWE parameters"))
}

/// The layer the HE option computes: a 1×1 convolution with stride s > 1 reads only every
/// s-th pixel, so both parties subsample their shares first ([`subsample`]) and the HE option
/// runs the stride-1 convolution of the subsampled input (and extends only those pixels).
fn effective(lp: &LinearParams) -> LinearParams {
    match lp.geom {
        Geom::Conv {
            hw,
            cin,
            k: 1,
            stride,
        } if stride > 1 => {
            let h = (hw - 1) / stride + 1;
            LinearParams {
                geom: Geom::Conv {
                    hw: h,
                    cin,
                    k: 1,
                    stride: 1,
                },
                d3: h * h,
                ..*lp
            }
        }
        _ => *lp,
    }
}

/// The pixels (i·s, j·s) of every channel, for a 1×1 convolution of stride s > 1 (see
/// [`effective`]); the input itself otherwise.
fn subsample(lp: &LinearParams, x: &[u64]) -> Vec<u64> {
    match lp.geom {
        Geom::Conv {
            hw,
            cin,
            k: 1,
            stride,
        } if stride > 1 && x.len() == cin * hw * hw => {
            let h = (hw - 1) / stride + 1;
            let mut out = Vec::with_capacity(cin * h * h);
            for c in 0..cin {
                for i in 0..h {
                    for j in 0..h {
                        out.push(x[(c * hw + i * stride) * hw + j * stride]);
                    }
                }
            }
            out
        }
        _ => x.to_vec(),
    }
}

/// The layer as a convolution geometry for the packer, under `layout`.
fn geom(lp: &LinearParams, layout: Layout) -> Option<ConvGeom> {
    match (lp.geom, layout) {
        (Geom::Matmul, Layout::Direct) => ConvGeom::matmul(lp.d1, lp.d2, lp.d3),
        (Geom::Conv { hw, cin, k, stride }, Layout::Direct) => {
            ConvGeom::conv(cin, hw, hw, lp.d1, k, stride, k / 2)
        }
        (Geom::Conv { hw, cin, k, stride }, Layout::Polyphase { s }) if s == stride => {
            let d = ConvGeom::conv(cin, hw, hw, lp.d1, k, stride, k / 2)?;
            let kp = k.div_ceil(s);
            ConvGeom::conv(
                cin * s * s,
                d.ho() + kp - 1,
                d.wo() + kp - 1,
                lp.d1,
                kp,
                1,
                0,
            )
        }
        _ => None,
    }
}

/// The layouts worth trying for `lp`.
fn layouts(lp: &LinearParams) -> Vec<Layout> {
    match lp.geom {
        Geom::Conv { k, stride, .. } if k > 1 && stride > 1 => {
            vec![Layout::Direct, Layout::Polyphase { s: stride }]
        }
        _ => vec![Layout::Direct],
    }
}

/// The input tensor (C×H×W) in `layout`'s order for the packer (polyphase: the padded phase
/// images, zero past the input; both parties apply it to their shares).
fn layout_input(lp: &LinearParams, layout: Layout, x: &[u64]) -> Vec<u64> {
    let (Layout::Polyphase { s }, Geom::Conv { hw, cin, k, .. }) = (layout, lp.geom) else {
        return x.to_vec();
    };
    let Some(g) = geom(lp, layout) else {
        return Vec::new();
    };
    let (hp, pad) = (g.h, (k / 2) as isize);
    let mut out = vec![0u64; cin * s * s * hp * hp];
    for c in 0..cin {
        for a in 0..s {
            for b in 0..s {
                let ch = (c * s + a) * s + b;
                for i in 0..hp {
                    let y = (s * i + a) as isize - pad;
                    if y < 0 || y >= hw as isize {
                        continue;
                    }
                    for j in 0..hp {
                        let z = (s * j + b) as isize - pad;
                        if z >= 0 && z < hw as isize {
                            out[(ch * hp + i) * hp + j] =
                                x[(c * hw + y as usize) * hw + z as usize];
                        }
                    }
                }
            }
        }
    }
    out
}

/// The weights (M×C×k×k) in `layout`'s order (polyphase: M×(C·s²)×k'×k' phase kernels).
fn layout_weights(lp: &LinearParams, layout: Layout, w: &[i64]) -> Vec<i64> {
    let (Layout::Polyphase { s }, Geom::Conv { cin, k, .. }) = (layout, lp.geom) else {
        return w.to_vec();
    };
    let kp = k.div_ceil(s);
    let m = lp.d1;
    let mut out = vec![0i64; m * cin * s * s * kp * kp];
    for o in 0..m {
        for c in 0..cin {
            for a in 0..s {
                for b in 0..s {
                    let ch = (c * s + a) * s + b;
                    for u in 0..kp {
                        for v in 0..kp {
                            let (y, z) = (s * u + a, s * v + b);
                            if y < k && z < k {
                                out[((o * cin * s * s + ch) * kp + u) * kp + v] =
                                    w[((o * cin + c) * k + y) * k + z];
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// Low-order bits the client may drop from its ciphertexts (0: none); the planner tries each.
const DROP_IN: [u32; 4] = [0, 6, 8, 10];

/// The plan of fewest bytes whose noise fits, for output width `l`: over the second primes
/// of the parameter family, the client's dropped bits ([`DROP_IN`]), the layouts and the
/// tilings. `None` when none fits (or `l` is outside the encoding's range). Plans are
/// memoised per (layer, width): the planner asks for the same layer many times.
pub fn plan(lp: &LinearParams, l: u32) -> Option<HePlan> {
    type Memo = Mutex<HashMap<(LinearParams, u32), Option<HePlan>>>;
    static MEMO: OnceLock<Memo> = OnceLock::new();
    let memo = MEMO.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(hit) = memo.lock().ok().and_then(|m| m.get(&(*lp, l)).cloned()) {
        return hit;
    }
    let found = search(lp, l);
    if let Ok(mut m) = memo.lock() {
        m.insert((*lp, l), found.clone());
    }
    found
}

fn search(lp: &LinearParams, l: u32) -> Option<HePlan> {
    let lp = &effective(lp);
    let wmax = 1u64 << (lp.lw - 1);
    let clear = lp.input.clear();
    let mut best: Option<(HePlan, u64)> = None;
    for p in (0..Params::Q1.len()).filter_map(Params::family) {
        for drop_in in DROP_IN {
            for layout in layouts(lp) {
                let Some(g) = geom(lp, layout) else { continue };
                let n_out = g.output_len() as u64;
                // the feasible budget splits depend on the kernel norm only (one per Mt)
                let memo: RefCell<HashMap<u64, Vec<LayerNoise>>> = RefCell::new(HashMap::new());
                let analyse = |pk: &Packing| {
                    let a_sent = (pk.output_polys() * p.n) as u64;
                    let w_l1 = pk.max_kernel_l1() as u64 * wmax;
                    let mut m = memo.borrow_mut();
                    let sp = m
                        .entry(w_l1)
                        .or_insert_with(|| noise::splits(&p, l, w_l1, clear, n_out, drop_in));
                    noise::pick(sp, &p, n_out, a_sent)
                };
                let score = |pk: &Packing| {
                    let nz = analyse(pk)?;
                    let hp = HePlan {
                        params: p,
                        layout,
                        packing: pk.clone(),
                        noise: nz,
                        l,
                    };
                    Some(hp.client_bytes() + hp.server_bytes())
                };
                let Some((packing, sc)) = Packing::best(g, p.n, score) else {
                    continue;
                };
                let Some(noise) = analyse(&packing) else {
                    continue;
                };
                if best.as_ref().is_none_or(|(_, b)| sc < *b) {
                    best = Some((
                        HePlan {
                            params: p,
                            layout,
                            packing,
                            noise,
                            l,
                        },
                        sc,
                    ));
                }
            }
        }
    }
    best.map(|(hp, _)| hp)
}

/// Extension of ⟨X⟩ (n_in values) from lx to `l` bits, as [`run_at`] runs it.
fn ext_cost(lp: &LinearParams, l: u32, pr: crate::Profile) -> Cost {
    let lp = effective(lp);
    super::linear::ext_cost(&lp, lp.n_in() as u64, l, pr)
}

/// Exact cost of the HE option with the output in `l` bits, the extension of ⟨X⟩ to `l`
/// bits included (on `pr`'s COT source); `None` when no HE parameters fit the layer (the
/// option is then not offered).
pub fn cost_at(lp: &LinearParams, l: u32, pr: crate::Profile) -> ProtoResult<Option<Cost>> {
    lp.check()?;
    let Some(hp) = plan(lp, l) else {
        return Ok(None);
    };
    let he = Cost {
        server_to_client: hp.server_bytes(),
        client_to_server: hp.client_bytes(),
        rounds: 1,
        offline_bytes: 0,
        cots: [0, 0],
    };
    Ok(Some(ext_cost(lp, l, pr).then(he)))
}

/// Calibrated kernel times (ns) on the reference machine (2-vCPU AMD EPYC, AVX2), measured by
/// `bench-harness kernels`: one forward or inverse NTT of one limb, and one limb's pointwise
/// multiply-accumulate of N values.
pub const NS_NTT: u64 = 14_000;
/// See [`NS_NTT`].
pub const NS_MULACC: u64 = 3_000;

/// Estimated compute time of the HE option (both parties, ns, single core), from the kernel
/// model: NTTs and pointwise products counted from the packing; `None` when the option is
/// not offered.
pub fn compute_ns(lp: &LinearParams, l: u32) -> Option<u64> {
    let hp = plan(lp, l)?;
    let pk = &hp.packing;
    let (i, o, k) = (
        pk.input_polys() as u64,
        pk.output_polys() as u64,
        pk.kernel_polys() as u64,
    );
    let cg = pk.channel_groups() as u64;
    // client: encrypt (2 limbs: 1 product + 1 inverse each), decrypt (1 limb: fwd + inv)
    let client = i * 2 * (NS_MULACC + NS_NTT) + o * (2 * NS_NTT + NS_MULACC);
    // server: inputs (2 fwd), kernels (2 fwd), products (2 polys × 2 limbs), respond
    // (1 fwd + 4 mul + 4 inv per limb pair)
    let server = i * 2 * NS_NTT
        + k * 2 * NS_NTT
        + o * cg * 4 * NS_MULACC
        + o * (2 * NS_NTT + 4 * NS_MULACC + 4 * NS_NTT);
    Some(client + server)
}

/// Run the HE option: the server passes W (d1×d2), the client `&[]`; both pass their lx-bit
/// share of X (pre-im2col; in `Clear` mode the client's share is X). Returns `l`-bit shares
/// of W·X (d1×d3).
pub fn run_at(
    p: &mut Party,
    lp: &LinearParams,
    l: u32,
    w: &[i64],
    x: &[u64],
) -> ProtoResult<Vec<u64>> {
    lp.check()?;
    let hp = plan(lp, l).ok_or_else(|| {
        param(
            "option",
            format!("no HE parameters fit this layer at {l} bits (the planner must not pick he)"),
        )
    })?;
    let alice = p.is_alice();
    let server_clear = alice && lp.input.clear();
    if x.len() != lp.n_in() && !server_clear {
        return Err(param("x", "input share has the wrong length"));
    }
    if alice && w.len() != lp.d1 * lp.d2 {
        return Err(param("w", "weights must be d1 × d2"));
    }
    let mx = mask(lp.lx);
    let xs: Vec<u64> = if server_clear {
        vec![0; lp.n_in()]
    } else {
        x.iter().map(|v| v & mx).collect()
    };
    let eff = effective(lp);
    let xs = subsample(lp, &xs);
    let xl = layout_input(&eff, hp.layout, &super::linear::extend(p, &eff, l, &xs)?);
    let he = he(&hp.params)?;
    match p.role {
        Role::Client => client(p, he, &hp, &xl),
        Role::Server => server(p, he, &hp, &eff, &layout_weights(&eff, hp.layout, w), &xl),
    }
}

fn he_err(e: impl std::fmt::Display) -> crate::ProtoError {
    param("he", e.to_string())
}

/// The client: encrypt, send, receive, decrypt.
fn client(p: &mut Party, he: &He, hp: &HePlan, x: &[u64]) -> ProtoResult<Vec<u64>> {
    let prm = *he.params();
    let n = prm.n;
    let pk = &hp.packing;
    let l = hp.l;
    let sk = he.keygen(&mut p.prg);
    let seed = p.prg.next_block();
    let n_in = pk.input_polys();
    let drop_in = hp.noise.drop_in;
    let mut pk_b = vec![0u64; n];
    he.encrypt_pk(&sk, seed, 0, &mut p.prg, &mut pk_b)
        .map_err(he_err)?;
    // per-ciphertext randomness streams, drawn from the party's PRG
    let streams: Vec<Block> = (0..=n_in).map(|_| p.prg.next_block()).collect();
    let ml = mask(l);
    let cts: Vec<Vec<u128>> = parallel_section(|| {
        (1..=n_in)
            .into_par_iter()
            .map(|i| -> ProtoResult<Vec<u128>> {
                let mut m = vec![0u64; n];
                pk.encode_input(x, i - 1, &mut m).map_err(he_err)?;
                for v in m.iter_mut() {
                    *v &= ml;
                }
                let mut prg = Prg::new(streams[i]);
                let mut b = vec![0u64; 2 * n];
                he.encrypt(
                    &sk,
                    pq_he::CtId {
                        seed,
                        index: i as u64,
                    },
                    &m,
                    l,
                    &mut prg,
                    &mut b,
                )
                .map_err(he_err)?;
                let mut wire = vec![0u128; n];
                he.compose(&b, &mut wire);
                for v in wire.iter_mut() {
                    *v = he.round(*v, drop_in);
                }
                Ok(wire)
            })
            .collect::<ProtoResult<_>>()
    })?;
    let mut msg = Vec::with_capacity(hp.client_bytes() as usize);
    let mut bw = BitWriter::new(&mut msg);
    let qb = hp.in_bits();
    put128(&mut bw, seed.0, 128);
    let q0b = prm.q0_bits();
    for &v in &pk_b {
        bw.put(v, q0b);
    }
    for ct in &cts {
        for &v in ct {
            put128(&mut bw, v, qb);
        }
    }
    bw.finish();
    p.ch.send(&msg)?;
    drop(cts);
    // the responses
    let mut buf = vec![0u8; hp.server_bytes() as usize];
    p.ch.recv(&mut buf)?;
    let sh = hp.noise.shrink;
    let (ba, bb) = (sh.bits_a(&prm), sh.bits_b(&prm));
    let mut br = BitReader::new(&buf);
    let n_out = pk.output_polys();
    let mut resps = Vec::with_capacity(n_out);
    for o in 0..n_out {
        let used = pk.outputs(o).map_or(0, <[_]>::len);
        let a: Vec<u64> = (0..n).map(|_| br.get(ba)).collect();
        let b: Vec<u64> = (0..used).map(|_| br.get(bb)).collect();
        resps.push(Response { a, b });
    }
    let total = pk.total_outputs();
    let parts: Vec<Vec<(u32, u64)>> = parallel_section(|| {
        resps
            .par_iter()
            .enumerate()
            .map(|(o, r)| decrypt_one(he, &sk, pk, o, r, sh))
            .collect::<ProtoResult<_>>()
    })?;
    let mut y = vec![0u64; total];
    for part in parts {
        for (yi, v) in part {
            y[yi as usize] = v;
        }
    }
    Ok(y)
}

fn decrypt_one(
    he: &He,
    sk: &SecretKey,
    pk: &Packing,
    o: usize,
    r: &Response,
    sh: pq_he::Shrink,
) -> ProtoResult<Vec<(u32, u64)>> {
    let outs = pk.outputs(o).ok_or_else(|| param("he", "output index"))?;
    let used: Vec<u32> = outs.iter().map(|&(c, _)| c).collect();
    let mut m = vec![0u64; used.len()];
    he.decrypt(sk, r, &used, sh, &mut m).map_err(he_err)?;
    Ok(outs.iter().map(|&(_, yi)| yi).zip(m).collect())
}

/// One output polynomial's index, its response, and the server's output shares (Y index,
/// value).
type Answer = (usize, Response, Vec<(u32, u64)>);

/// The server: receive, evaluate, mask, respond.
fn server(
    p: &mut Party,
    he: &He,
    hp: &HePlan,
    lp: &LinearParams,
    w: &[i64],
    x: &[u64],
) -> ProtoResult<Vec<u64>> {
    let prm = *he.params();
    let n = prm.n;
    let pk = &hp.packing;
    let l = hp.l;
    let mut buf = vec![0u8; hp.client_bytes() as usize];
    p.ch.recv(&mut buf)?;
    let qb = hp.in_bits();
    let drop_in = hp.noise.drop_in;
    let mut br = BitReader::new(&buf);
    let seed = Block(get128(&mut br, 128));
    let n_in = pk.input_polys();
    let q0b = prm.q0_bits();
    let pk_b: Vec<u64> = (0..n).map(|_| br.get(q0b)).collect();
    let mut wire: Vec<Vec<u128>> = Vec::with_capacity(n_in);
    for _ in 0..n_in {
        wire.push((0..n).map(|_| get128(&mut br, qb)).collect());
    }
    drop(buf);
    let clear = lp.input.clear();
    let ml = mask(l);
    let limbs = |v: &[u128]| -> ProtoResult<Vec<u64>> {
        let full: Vec<u128> = v
            .iter()
            .map(|&x| he.unround(x, drop_in))
            .collect::<Result<_, _>>()
            .map_err(he_err)?;
        let mut b = vec![0u64; 2 * n];
        he.decompose(&full, &mut b).map_err(he_err)?;
        Ok(b)
    };
    let public = he.public_key(seed, 0, &pk_b).map_err(he_err)?;
    let inputs: Vec<pq_he::rlwe::InputCt> = parallel_section(|| {
        (1..=n_in)
            .into_par_iter()
            .map(|i| -> ProtoResult<_> {
                let b = limbs(&wire[i - 1])?;
                let share = if clear {
                    None
                } else {
                    let mut s = vec![0u64; n];
                    pk.encode_input(x, i - 1, &mut s).map_err(he_err)?;
                    for v in s.iter_mut() {
                        *v &= ml;
                    }
                    Some(s)
                };
                he.server_input(seed, i as u64, &b, share.as_deref(), l)
                    .map_err(he_err)
            })
            .collect::<ProtoResult<_>>()
    })?;
    drop(wire);
    let (cg, og, tiles) = (pk.channel_groups(), pk.output_groups(), pk.spatial_tiles());
    let streams: Vec<Block> = (0..og).map(|_| p.prg.next_block()).collect();
    let sh = hp.noise.shrink;
    let t = 1u64 << l;
    // one output group at a time per thread: its kernels, then every spatial tile
    let groups: Vec<Vec<Answer>> = parallel_section(|| {
        (0..og)
            .into_par_iter()
            .map(|mg| -> ProtoResult<_> {
                let mut prg = Prg::new(streams[mg]);
                let mut coeffs = vec![0i64; n];
                let kernels: Vec<pq_he::rlwe::PlainNtt> = (0..cg)
                    .map(|g| -> ProtoResult<_> {
                        pk.encode_kernel(w, mg * cg + g, &mut coeffs)
                            .map_err(he_err)?;
                        Ok(he.plain(&coeffs))
                    })
                    .collect::<ProtoResult<_>>()?;
                let mut out = Vec::with_capacity(tiles);
                for tile in 0..tiles {
                    let o = tile * og + mg;
                    let mut acc = he.acc();
                    for (g, k) in kernels.iter().enumerate() {
                        he.mul_acc(&mut acc, &inputs[tile * cg + g], k);
                    }
                    let outs = pk.outputs(o).ok_or_else(|| param("he", "output index"))?;
                    let used: Vec<u32> = outs.iter().map(|&(c, _)| c).collect();
                    let masks: Vec<u64> = (0..used.len()).map(|_| prg.next_u64() % t).collect();
                    let r = he
                        .respond(acc, &public, &used, &masks, sh, &mut prg)
                        .map_err(he_err)?;
                    let share = outs.iter().map(|&(_, yi)| yi).zip(masks).collect();
                    out.push((o, r, share));
                }
                Ok(out)
            })
            .collect::<ProtoResult<_>>()
    })?;
    let mut resp: Vec<Option<Response>> = (0..pk.output_polys()).map(|_| None).collect();
    let mut y = vec![0u64; pk.total_outputs()];
    for g in groups {
        for (o, r, share) in g {
            for (yi, v) in share {
                y[yi as usize] = v;
            }
            resp[o] = Some(r);
        }
    }
    let mut msg = Vec::with_capacity(hp.server_bytes() as usize);
    let mut bw = BitWriter::new(&mut msg);
    let (ba, bb) = (sh.bits_a(&prm), sh.bits_b(&prm));
    for r in resp.iter().flatten() {
        for &v in &r.a {
            bw.put(v, ba);
        }
        for &v in &r.b {
            bw.put(v, bb);
        }
    }
    bw.finish();
    p.ch.send(&msg)?;
    // the client holds W·X − R, the server R
    Ok(y)
}

fn put128(bw: &mut BitWriter, v: u128, bits: u32) {
    if bits <= 64 {
        bw.put(v as u64, bits);
    } else {
        bw.put(v as u64, 64);
        bw.put((v >> 64) as u64, bits - 64);
    }
}

fn get128(br: &mut BitReader, bits: u32) -> u128 {
    if bits <= 64 {
        br.get(bits) as u128
    } else {
        let lo = br.get(64) as u128;
        lo | (br.get(bits - 64) as u128) << 64
    }
}
