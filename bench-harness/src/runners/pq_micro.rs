//! Micro runners of the privquant-profile protocols (`bench-harness conv --profile privquant`,
//! `micro requant`, ...): random inputs, both parties on two threads over a real channel, the
//! output reconstructed and compared with the plaintext reference, the measured bytes compared
//! with the cost function. Also the ResNet50 single-conv table of the PrivQuant paper (ICCAD
//! 2024) in both profiles.

use crate::runners::micro::MicroReport;
use pq_kernels::Block;
use pq_kernels::aes::Prg;
use pq_kernels::ring::{mask, to_signed};
use pq_netsim::Transport;
use pq_proto::party::{PartiesOutput, run_step};
use pq_proto::privquant::linear::{
    self, ConvShape, InputKind, LinOption, LinearParams, Menu, Objective,
};
use pq_proto::sirnn::conv::{ConvParams, conv_cost};
use pq_proto::{Cost, OtKind, Profile};
use pq_proto::{ProtoResult, param};
use serde::Serialize;

pub(crate) fn input_prg(seed: Option<u64>) -> ProtoResult<Prg> {
    Ok(match seed {
        Some(s) => Prg::new(Block::from_u64s(s, 0x7071_7561_6e74_0001)),
        None => pq_ot::try_os_prg()?,
    })
}

pub(crate) fn rv(prg: &mut Prg, n: usize, l: u32) -> Vec<u64> {
    let m = mask(l);
    (0..n).map(|_| prg.next_u64() & m).collect()
}

/// Split plaintext values (any width ≤ l, as u64) into two l-bit shares.
pub(crate) fn share(prg: &mut Prg, x: &[u64], l: u32) -> (Vec<u64>, Vec<u64>) {
    let a = rv(prg, x.len(), l);
    let b = x
        .iter()
        .zip(&a)
        .map(|(v, r)| v.wrapping_sub(*r) & mask(l))
        .collect();
    (a, b)
}

/// Build a report from a run.
pub(crate) fn report(
    op: &str,
    pr: Profile,
    out: &PartiesOutput<Vec<u64>, Vec<u64>>,
    cost: Cost,
    correct: bool,
    params: serde_json::Value,
) -> MicroReport {
    let s2c = out.bytes_server_to_client();
    let c2s = out.bytes_client_to_server();
    MicroReport {
        op: op.into(),
        profile: pr.name().into(),
        ot: pr.ot.name(),
        params,
        bytes_total: s2c + c2s,
        bytes_server_to_client: s2c,
        bytes_client_to_server: c2s,
        setup_bytes: out.setup_bytes,
        rounds: cost.rounds,
        measured_flights: out.flights(),
        wall_s: out.wall.as_secs_f64(),
        correct,
        cost_matches: s2c == cost.server_to_client && c2s == cost.client_to_server,
        cost_bytes: cost.total(),
        bytes_sci_threads: None,
        ots_per_s: None,
    }
}

/// How the linear-layer test fills its operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    Random,
    /// W at its minimum, X at its maximum (the accumulator's negative boundary).
    ExtremeLow,
    /// W and X at their minimum (signed X) or W min / X max: the positive boundary.
    ExtremeHigh,
}

/// Run one exact linear layer (`opt`, or the planner's choice for total bytes among the OT
/// options) on random or extreme inputs; `correct` compares with [`linear::reference`].
pub fn run_linear(
    lp: &LinearParams,
    opt: Option<LinOption>,
    fill: Fill,
    transport: Transport,
    seed: Option<u64>,
    ot: OtKind,
) -> ProtoResult<MicroReport> {
    let l = lp.acc_bits()?;
    let pr = Profile::PrivQuant.with_ot(ot);
    let opt = match opt {
        Some(o) => o,
        None => linear::choose(lp, Objective::Bytes, pr, Menu::OT)?.0,
    };
    let cost = linear::cost(lp, opt, pr)?;
    let mut prg = input_prg(seed)?;
    let (lw, lx) = (lp.lw, lp.lx);
    let nonneg = matches!(
        lp.input,
        InputKind::NonNeg | InputKind::Clear { nonneg: true }
    );
    let wmin = -(1i128 << (lw - 1)) as i64;
    let wmax = ((1i128 << (lw - 1)) - 1) as i64;
    let xmax = ((1i128 << (lx - 1)) - 1) as i64;
    let xmin = if nonneg {
        0
    } else {
        -(1i128 << (lx - 1)) as i64
    };
    let nw = lp.d1 * lp.d2;
    let nx = lp.n_in();
    let (w, x): (Vec<i64>, Vec<i64>) = match fill {
        Fill::Random => {
            let w = rv(&mut prg, nw, lw)
                .into_iter()
                .map(|v| to_signed(v, lw))
                .collect();
            let x = if nonneg {
                if lx == 1 {
                    vec![0; nx]
                } else {
                    rv(&mut prg, nx, lx - 1)
                        .into_iter()
                        .map(|v| v as i64)
                        .collect()
                }
            } else {
                rv(&mut prg, nx, lx)
                    .into_iter()
                    .map(|v| to_signed(v, lx))
                    .collect()
            };
            (w, x)
        }
        Fill::ExtremeLow => (vec![wmin; nw], vec![xmax; nx]),
        Fill::ExtremeHigh => {
            if nonneg {
                (vec![wmax; nw], vec![xmax; nx])
            } else {
                (vec![wmin; nw], vec![xmin; nx])
            }
        }
    };
    let xu: Vec<u64> = x.iter().map(|&v| v as u64 & mask(lx)).collect();
    let (xa, xb) = if matches!(lp.input, InputKind::Clear { .. }) {
        (vec![0; nx], xu.clone())
    } else {
        share(&mut prg, &xu, lx)
    };
    let (l1, l2) = (*lp, *lp);
    let wc = w.clone();
    let (out, cost) = run_step(
        transport,
        pr,
        super::PROTOCOL_RANDOMNESS,
        cost,
        move |p| linear::run(p, &l1, opt, &wc, &xa),
        move |p| linear::run(p, &l2, opt, &[], &xb),
    )?;
    let want = linear::reference(lp, &w, &x);
    let correct = out.server.len() == want.len()
        && out
            .server
            .iter()
            .zip(&out.client)
            .zip(&want)
            .all(|((a, b), r)| to_signed(a.wrapping_add(*b) & mask(l), l) as i128 == *r);
    let params = serde_json::json!({
        "linear": serde_json::to_value(lp).unwrap_or(serde_json::Value::Null),
        "option": opt.name(),
        "acc_bits": l,
    });
    Ok(report("linear", pr, &out, cost, correct, params))
}

/// The exact linear layer of a conv in the privquant profile.
pub fn conv_linear(c: &ConvParams) -> LinearParams {
    let input = if c.signed_input {
        InputKind::Signed
    } else {
        InputKind::NonNeg
    };
    LinearParams::conv(
        ConvShape::new(c.hw, c.cin, c.cout, c.k, c.stride),
        c.wbits,
        c.abits,
        input,
    )
}

/// `bench-harness conv --profile privquant`: the exact W·X (accumulator width from the
/// ranges) with the planner's cheapest OT option (total bytes); the input is a ReLU output
/// (non-negative) unless `signed_input`.
pub fn run_conv_pq(
    c: &ConvParams,
    transport: Transport,
    seed: Option<u64>,
) -> ProtoResult<MicroReport> {
    run_conv_pq_with(c, transport, seed, Objective::Bytes, Menu::OT, OtKind::Iknp)
}

/// [`run_conv_pq`] with the option the planner picks from `menu` under `obj`
/// (`conv --profile privquant-he` puts the HE option on the menu).
pub fn run_conv_pq_with(
    c: &ConvParams,
    transport: Transport,
    seed: Option<u64>,
    obj: Objective,
    menu: Menu,
    ot: OtKind,
) -> ProtoResult<MicroReport> {
    if c.k > c.hw + 2 * (c.k / 2) {
        return Err(param("k", "kernel larger than the padded input"));
    }
    let lp = conv_linear(c);
    let (opt, _) = linear::choose(&lp, obj, Profile::PrivQuant.with_ot(ot), menu)?;
    let mut r = run_linear(&lp, Some(opt), Fill::Random, transport, seed, ot)?;
    r.op = "conv".into();
    if let serde_json::Value::Object(m) = &mut r.params {
        m.insert(
            "conv".into(),
            serde_json::to_value(c).unwrap_or(serde_json::Value::Null),
        );
        m.insert("he_menu".into(), menu.he.into());
    }
    Ok(r)
}

/// One row of the ResNet50 conv table.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub hw: usize,
    pub channels: usize,
    pub k: usize,
    pub wbits: u32,
    pub abits: u32,
    /// `sirnn`, `privquant` (the OT options) or `privquant-he` (the HE option on the menu).
    pub profile: String,
    /// The option chosen by the planner ("sci-matmul" for sirnn).
    pub option: String,
    pub acc_bits: u32,
    pub bytes: u64,
    pub gb: f64,
    pub rounds: u64,
    /// The paper's PrivQuant figure (W2A4 only), GB.
    pub paper_gb: Option<f64>,
}

/// The five ResNet50 convs the PrivQuant paper (ICCAD 2024) benchmarks on their own:
/// (hw, channels in = out, kernel).
pub const RESNET50_CONVS: [(usize, usize, usize); 5] = [
    (56, 64, 3),
    (28, 128, 3),
    (14, 256, 3),
    (7, 512, 3),
    (7, 512, 1),
];
/// The paper's PrivQuant W2A4 figures (GB).
pub const PAPER_W2A4_GB: [f64; 5] = [0.99, 0.78, 0.71, 0.75, 0.069];

/// The conv table: the five ResNet50 convs at W2A4, W2A6, W2A8 in both profiles (sirnn:
/// SCI's matmul cost at the same widths; privquant: the planner's minimum over the OT
/// options; privquant-he: its minimum with the HE option on the menu). Stride 1, input a
/// ReLU output.
pub fn conv_table() -> ProtoResult<Vec<Row>> {
    let mut rows = Vec::new();
    for abits in [4u32, 6, 8] {
        for (idx, &(hw, ch, k)) in RESNET50_CONVS.iter().enumerate() {
            let mut c = ConvParams {
                hw,
                cin: ch,
                cout: ch,
                k,
                stride: 1,
                wbits: 2,
                abits,
                signed_input: false,
                sci_threads: 1,
                profile: Profile::Sirnn,
            };
            let sc = conv_cost(&c);
            let mp = c.matmul();
            rows.push(Row {
                hw,
                channels: ch,
                k,
                wbits: 2,
                abits,
                profile: "sirnn".into(),
                option: "sci-matmul".into(),
                acc_bits: mp.bwc + pq_proto::util::clog2(mp.d2 as u64),
                bytes: sc.total(),
                gb: sc.total() as f64 / 1e9,
                rounds: sc.rounds,
                paper_gb: None,
            });
            c.profile = Profile::PrivQuant;
            let lp = conv_linear(&c);
            for (profile, menu) in [("privquant", Menu::OT), ("privquant-he", Menu::WITH_HE)] {
                let (o, pc) = linear::choose(&lp, Objective::Bytes, Profile::PrivQuant, menu)?;
                rows.push(Row {
                    hw,
                    channels: ch,
                    k,
                    wbits: 2,
                    abits,
                    profile: profile.into(),
                    option: o.name().into(),
                    acc_bits: lp.acc_bits()?,
                    bytes: pc.total(),
                    gb: pc.total() as f64 / 1e9,
                    rounds: pc.rounds,
                    paper_gb: (abits == 4 && !menu.he).then_some(PAPER_W2A4_GB[idx]),
                });
            }
        }
    }
    Ok(rows)
}

/// Parameters of `micro requant`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct RequantParams {
    pub n: usize,
    pub l1: u32,
    pub s1: i32,
    pub l2: u32,
    pub s2: i32,
    pub msb_known: bool,
}

/// `micro requant`: n random l1-bit values (non-negative if `msb_known`) through
/// [`pq_proto::privquant::requant::run`], compared with
/// [`pq_proto::privquant::requant::reference`].
pub fn run_requant(
    rp: &RequantParams,
    transport: Transport,
    seed: Option<u64>,
    ot: OtKind,
) -> ProtoResult<MicroReport> {
    use pq_proto::privquant::requant;
    let pr = Profile::PrivQuant.with_ot(ot);
    let RequantParams {
        n,
        l1,
        s1,
        l2,
        s2,
        msb_known,
    } = *rp;
    let cost = requant::cost(n as u64, l1, s1, l2, s2, msb_known, pr)?;
    let mut prg = input_prg(seed)?;
    let x: Vec<u64> = if msb_known {
        if l1 == 1 {
            vec![0; n]
        } else {
            rv(&mut prg, n, l1 - 1)
        }
    } else {
        rv(&mut prg, n, l1)
    };
    let (a, b) = share(&mut prg, &x, l1);
    let (out, cost) = run_step(
        transport,
        pr,
        super::PROTOCOL_RANDOMNESS,
        cost,
        move |p| requant::run(p, &a, l1, s1, l2, s2, msb_known),
        move |p| requant::run(p, &b, l1, s1, l2, s2, msb_known),
    )?;
    let correct = out.server.len() == n
        && (0..n).all(|i| {
            let got = to_signed(out.server[i].wrapping_add(out.client[i]) & mask(l2), l2);
            got == pq_proto::privquant::requant::reference(to_signed(x[i], l1), l1, s1, l2, s2)
        });
    let params = serde_json::to_value(rp).unwrap_or(serde_json::Value::Null);
    Ok(report("requant", pr, &out, cost, correct, params))
}

/// What `micro residual` reports: the privquant run and sirnn-quant's cost for the same step.
#[derive(Clone, Debug, Serialize)]
pub struct ResidualReport {
    #[serde(flatten)]
    pub report: MicroReport,
    /// sirnn-quant: div_pow2 + two s_extends + div_pow2 (bytes).
    pub sirnn_quant_bytes: u64,
    /// The same plus the matmul's TR by e.
    pub sirnn_quant_bytes_with_tr: u64,
    /// sirnn_quant_bytes / privquant bytes.
    pub ratio: f64,
}

/// `micro residual --c --hw --wbits --abits --rbits` (3×3 conv): random exact accumulator
/// and non-negative shortcut through [`pq_proto::privquant::residual::run`], compared with
/// the reference (exact add, then [`pq_proto::privquant::requant::reference`]).
pub fn run_residual(
    rp: &pq_proto::privquant::residual::ResidualParams,
    transport: Transport,
    seed: Option<u64>,
    ot: OtKind,
) -> ProtoResult<ResidualReport> {
    use pq_proto::privquant::residual;
    let pr = Profile::PrivQuant.with_ot(ot);
    let t = rp.sum_bits()?;
    let cost = residual::cost(rp, pr)?;
    let n = rp.n();
    let mut prg = input_prg(seed)?;
    let (lo, hi) = rp.acc_range();
    let span = (hi - lo + 1) as u128;
    let acc: Vec<i64> = (0..n)
        .map(|_| (lo + (prg.next_u64() as u128 % span) as i128) as i64)
        .collect();
    let r: Vec<u64> = rv(&mut prg, n, rp.rbits - 1);
    let accu: Vec<u64> = acc.iter().map(|&v| v as u64 & mask(t)).collect();
    let (a0, a1) = share(&mut prg, &accu, t);
    let (r0, r1) = share(&mut prg, &r, rp.rbits);
    let (p0, p1) = (*rp, *rp);
    let (out, cost) = run_step(
        transport,
        pr,
        super::PROTOCOL_RANDOMNESS,
        cost,
        move |p| residual::run(p, &p0, &a0, &r0),
        move |p| residual::run(p, &p1, &a1, &r1),
    )?;
    let s = rp.s();
    let correct = out.server.len() == n
        && (0..n).all(|i| {
            let sum = acc[i] + ((r[i] as i64) << s);
            let want = pq_proto::privquant::requant::reference(sum, t, s as i32 + 1, rp.rbits, 0);
            to_signed(
                out.server[i].wrapping_add(out.client[i]) & mask(rp.rbits),
                rp.rbits,
            ) == want
        });
    let sq = residual::sirnn_quant_cost(rp, false)?.total();
    let sqt = residual::sirnn_quant_cost(rp, true)?.total();
    let params = serde_json::json!({
        "residual": serde_json::to_value(rp).unwrap_or(serde_json::Value::Null),
        "sum_bits": t,
        "shift": s,
    });
    let report = report("residual", pr, &out, cost, correct, params);
    let ratio = sq as f64 / report.cost_bytes.max(1) as f64;
    Ok(ResidualReport {
        report,
        sirnn_quant_bytes: sq,
        sirnn_quant_bytes_with_tr: sqt,
        ratio,
    })
}

/// A max-pool for [`run_maxpool_tree`]: a k×k window (stride, padding) on a c×hw×hw tensor
/// of l-bit values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolParams {
    /// Channels.
    pub c: usize,
    /// Height and width (square).
    pub hw: usize,
    /// Window size.
    pub k: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding per side (padding positions are omitted from windows).
    pub pad: usize,
    /// Bit-width of the values.
    pub l: u32,
}

/// `micro maxpool-tree`: the max-pool `pp` on non-negative l-bit values through
/// `pq_proto::privquant::maxpool_tree::run`, compared with its plaintext reference.
pub fn run_maxpool_tree(
    pp: &PoolParams,
    transport: Transport,
    seed: Option<u64>,
    ot: OtKind,
) -> ProtoResult<MicroReport> {
    let pr = Profile::PrivQuant.with_ot(ot);
    let PoolParams {
        c,
        hw,
        k,
        stride,
        pad,
        l,
    } = *pp;
    use pq_proto::privquant::maxpool_tree;
    pq_proto::check_bw("l", l)?;
    if k == 0 || stride == 0 || hw + 2 * pad < k {
        return Err(param("k", "kernel/stride/padding do not fit the input"));
    }
    let shape = pq_proto::tensor::Shape { c, h: hw, w: hw };
    let (wins, _) = pq_proto::tensor::pool_windows(shape, k, stride, pad);
    let sizes: Vec<usize> = wins.iter().map(|w| w.len()).collect();
    let cost = maxpool_tree::cost(&sizes, l, pr);
    let mut prg = input_prg(seed)?;
    let n = c * hw * hw;
    let x: Vec<u64> = if l == 1 {
        vec![0; n]
    } else {
        rv(&mut prg, n, l - 1)
    };
    let (a, b) = share(&mut prg, &x, l);
    let (w0, w1) = (wins.clone(), wins.clone());
    let (out, cost) = run_step(
        transport,
        pr,
        super::PROTOCOL_RANDOMNESS,
        cost,
        move |p| maxpool_tree::run(p, &a, &w0, l),
        move |p| maxpool_tree::run(p, &b, &w1, l),
    )?;
    let correct = out.server.len() == wins.len()
        && wins.iter().enumerate().all(|(i, w)| {
            let vals: Vec<i64> = w.iter().map(|&j| x[j] as i64).collect();
            to_signed(out.server[i].wrapping_add(out.client[i]) & mask(l), l)
                == maxpool_tree::reference(&vals, l)
        });
    let params =
        serde_json::json!({"c": c, "hw": hw, "k": k, "stride": stride, "pad": pad, "l": l});
    Ok(report("maxpool-tree", pr, &out, cost, correct, params))
}
