//! The linear layers' menu: with the HE option off (every configuration but `privquant-he`)
//! the option chooser is byte-identical to the OT options' chooser as it was before the HE
//! option existed, on every built-in network; `privquant-he` lowers to `privquant`'s program,
//! chooses per layer consistently with what the HE option offers, and is told apart by the
//! public hash.

use pq_netsim::LinkSpec;
use pq_nn::builtin;
use pq_nn::config::{Config, Features};
use pq_nn::lower::{self, LowerOptions, Program, StepOp};
use pq_nn::public;
use pq_nn::secure::{self, program_cost};
use pq_proto::privquant::he_linear;
use pq_proto::privquant::linear::{self, LinOption};
use pq_proto::{Cost, Objective};

fn latency() -> Objective {
    Objective::Latency(LinkSpec::new(200_000_000, 13_000_000).unwrap())
}

fn lower_for(name: &str, cfg: Config, objective: Objective) -> Program {
    let m = builtin::by_name(name, 1).unwrap();
    let lo = LowerOptions {
        objective,
        ..LowerOptions::default()
    };
    lower::lower_with(&m, cfg, &lo).unwrap()
}

/// (model, configuration, objective, [server → client, client → server, rounds, offline
/// bytes]) of every built-in network under every configuration without the HE option,
/// computed by the cost model before the HE option and the menu were added.
const BEFORE_HE: [(&str, &str, &str, [u64; 4]); 40] = [
    (
        "minionn",
        "sirnn",
        "bytes",
        [4645383549, 677437280, 353, 687666881],
    ),
    (
        "minionn",
        "sirnn",
        "latency",
        [4645383549, 677437280, 353, 687666881],
    ),
    (
        "minionn",
        "sirnn-quant",
        "bytes",
        [656689447, 191593992, 174, 194163622],
    ),
    (
        "minionn",
        "sirnn-quant",
        "latency",
        [656689447, 191593992, 174, 194163622],
    ),
    (
        "minionn",
        "privquant",
        "bytes",
        [11449883, 270679808, 82, 49435328],
    ),
    (
        "minionn",
        "privquant",
        "latency",
        [26269723, 259710720, 81, 53064480],
    ),
    (
        "minionn",
        "privquant-w4",
        "bytes",
        [17262363, 507112448, 90, 61445056],
    ),
    (
        "minionn",
        "privquant-w4",
        "latency",
        [262407963, 375544832, 84, 134158144],
    ),
    (
        "resnet32",
        "sirnn",
        "bytes",
        [5160767040, 1705712822, 1491, 1725155434],
    ),
    (
        "resnet32",
        "sirnn",
        "latency",
        [5160767040, 1705712822, 1491, 1725155434],
    ),
    (
        "resnet32",
        "sirnn-quant",
        "bytes",
        [989790073, 739873274, 1240, 745130027],
    ),
    (
        "resnet32",
        "sirnn-quant",
        "latency",
        [989790073, 739873274, 1240, 745130027],
    ),
    (
        "resnet32",
        "privquant",
        "bytes",
        [29784206, 381983760, 428, 113947680],
    ),
    (
        "resnet32",
        "privquant",
        "latency",
        [32766094, 385452048, 398, 112037624],
    ),
    (
        "resnet32",
        "privquant-w4",
        "bytes",
        [46546062, 694811664, 458, 144619040],
    ),
    (
        "resnet32",
        "privquant-w4",
        "latency",
        [239445390, 670264848, 398, 202201928],
    ),
    (
        "resnet50",
        "sirnn",
        "bytes",
        [310823557060, 28296348976, 3070, 29101553203],
    ),
    (
        "resnet50",
        "sirnn",
        "latency",
        [310823557060, 28296348976, 3070, 29101553203],
    ),
    (
        "resnet50",
        "sirnn-quant",
        "bytes",
        [62115453906, 13201291812, 2092, 13586942679],
    ),
    (
        "resnet50",
        "sirnn-quant",
        "latency",
        [62115453906, 13201291812, 2092, 13586942679],
    ),
    (
        "resnet50",
        "privquant",
        "bytes",
        [1358178216, 22710267248, 1190, 4542423633],
    ),
    (
        "resnet50",
        "privquant",
        "latency",
        [12414047073, 19779568647, 1061, 5948766673],
    ),
    (
        "resnet50",
        "privquant-w4",
        "bytes",
        [2194856232, 41708531568, 1708, 5969312250],
    ),
    (
        "resnet50",
        "privquant-w4",
        "latency",
        [24218069587, 29809130183, 1325, 7561217450],
    ),
    (
        "resnet50-32px",
        "sirnn",
        "bytes",
        [6864879556, 753897264, 2288, 1123222067],
    ),
    (
        "resnet50-32px",
        "sirnn",
        "latency",
        [6864879556, 753897264, 2288, 1123222067],
    ),
    (
        "resnet50-32px",
        "sirnn-quant",
        "bytes",
        [1528313298, 324146212, 1808, 536425943],
    ),
    (
        "resnet50-32px",
        "sirnn-quant",
        "latency",
        [1528313298, 324146212, 1808, 536425943],
    ),
    (
        "resnet50-32px",
        "privquant",
        "bytes",
        [556949928, 371394928, 687, 306870448],
    ),
    (
        "resnet50-32px",
        "privquant",
        "latency",
        [575123368, 380215664, 663, 374441136],
    ),
    (
        "resnet50-32px",
        "privquant-w4",
        "bytes",
        [801496872, 458001264, 691, 202677296],
    ),
    (
        "resnet50-32px",
        "privquant-w4",
        "latency",
        [978704168, 352317296, 690, 202254640],
    ),
    (
        "llama7b-attn",
        "sirnn",
        "bytes",
        [5370642432, 20824064, 185, 20967424],
    ),
    (
        "llama7b-attn",
        "sirnn",
        "latency",
        [5370642432, 20824064, 185, 20967424],
    ),
    (
        "llama7b-attn",
        "sirnn-quant",
        "bytes",
        [1644721664, 7159808, 80, 7176704],
    ),
    (
        "llama7b-attn",
        "sirnn-quant",
        "latency",
        [1644721664, 7159808, 80, 7176704],
    ),
    (
        "llama7b-attn",
        "privquant",
        "bytes",
        [1359115264, 3347456, 42, 3353600],
    ),
    (
        "llama7b-attn",
        "privquant",
        "latency",
        [1359115264, 3347456, 42, 3353600],
    ),
    (
        "llama7b-attn",
        "privquant-w4",
        "bytes",
        [1359115264, 3347456, 42, 3353600],
    ),
    (
        "llama7b-attn",
        "privquant-w4",
        "latency",
        [1359115264, 3347456, 42, 3353600],
    ),
];

/// With the HE option off the menu, the chooser (and so every program's cost, both
/// objectives) is exactly what it was before the HE option existed.
#[test]
fn menu_off_is_byte_identical_to_before() {
    for (name, cfg, obj, [s2c, c2s, rounds, offline]) in BEFORE_HE {
        let cfg: Config = cfg.parse().unwrap();
        assert!(!cfg.features().he_linear);
        let o = if obj == "bytes" {
            Objective::Bytes
        } else {
            latency()
        };
        let c = program_cost(&lower_for(name, cfg, o)).unwrap();
        assert_eq!(
            (
                c.server_to_client,
                c.client_to_server,
                c.rounds,
                c.offline_bytes
            ),
            (s2c, c2s, rounds, offline),
            "{name} {cfg} {obj}"
        );
    }
}

/// `privquant-he` is `privquant` but for the menu: the same widths, shifts and steps; per
/// exact linear layer it makes `privquant`'s choice or takes the HE option (scoring no more
/// than `privquant`'s choice), takes the HE option only where
/// `he_linear::cost_at` offers it, and, under the bytes objective, whenever the HE option
/// sends fewer bytes than privquant's choice. With the HE option unavailable (the stub) both
/// programs cost the same.
#[test]
fn privquant_he_is_privquant_with_the_he_option_on_the_menu() {
    for name in builtin::NAMES {
        for obj in [Objective::Bytes, latency()] {
            // privquant on privquant-he's COT source (Ferret), so that only the menu differs
            let m = builtin::by_name(name, 1).unwrap();
            let lo = LowerOptions {
                objective: obj,
                features: Some(Features::ALL.with_ot(pq_proto::OtKind::Ferret)),
                ..LowerOptions::default()
            };
            let pq = lower::lower_with(&m, Config::PrivQuant, &lo).unwrap();
            let he = lower_for(name, Config::PrivQuantHe, obj);
            assert_eq!(pq.model, he.model, "{name}: widths");
            assert_eq!(pq.summary(), he.summary(), "{name}: steps");
            assert_eq!(
                he.feat,
                Features {
                    he_linear: true,
                    ot: pq_proto::OtKind::Ferret,
                    ..pq.feat
                }
            );
            let mut offered = false;
            let mut total = (Cost::ZERO, Cost::ZERO);
            for (a, b) in pq.steps.iter().zip(&he.steps) {
                let (ca, cb) = (
                    secure::step_cost(&pq, a).unwrap(),
                    secure::step_cost(&he, b).unwrap(),
                );
                total = (total.0.then(ca), total.1.then(cb));
                let StepOp::LinearExact { acc_bits, .. } = a.op else {
                    assert_eq!(ca, cb, "{name}: step {a:?}");
                    continue;
                };
                let lp = secure::linear_exact_params(&he, b).unwrap();
                assert_eq!(lp, secure::linear_exact_params(&pq, a).unwrap());
                let (oa, la, _) = secure::linear_exact_choice(&pq, a).unwrap();
                let (ob, lb, _) = secure::linear_exact_choice(&he, b).unwrap();
                assert_ne!(oa, LinOption::He);
                let sa = linear::score(&lp, oa, la, &ca, obj);
                let sb = linear::score(&lp, ob, lb, &cb, obj);
                if ob == LinOption::He {
                    // (a duplex split is compared by its honest pair latency, not its score)
                    if !matches!(oa, LinOption::Duplex { .. }) {
                        assert!(sb <= sa, "{name} {}: he scores {sb} > {sa}", b.layer);
                    }
                    assert!(
                        he_linear::cost_at(&lp, lb, pq_proto::Profile::PrivQuant)
                            .unwrap()
                            .is_some()
                    );
                } else {
                    assert_eq!((oa, la, ca), (ob, lb, cb), "{name} {}", b.layer);
                }
                let offers: Vec<(u32, Cost)> = [acc_bits, lp.acc_bits().unwrap()]
                    .into_iter()
                    .filter_map(|l| {
                        he_linear::cost_at(&lp, l, pq_proto::Profile::PrivQuant)
                            .unwrap()
                            .map(|c| (l, c))
                    })
                    .collect();
                offered |= !offers.is_empty();
                if obj == Objective::Bytes
                    && let Some((_, c)) = offers.iter().find(|(l, _)| *l == acc_bits)
                    && c.total() < ca.total()
                {
                    assert_eq!(ob, LinOption::He, "{name} {}", b.layer);
                }
            }
            // the program cost is the steps' costs plus the Ferret rounds each step reserves
            for (p, t) in [(&pq, total.0), (&he, total.1)] {
                let charged: Vec<Cost> = secure::charged_step_costs(p).unwrap();
                let extra: u64 = charged.iter().map(|c| c.total()).sum::<u64>() - t.total();
                assert_eq!(
                    charged.iter().copied().sum::<Cost>(),
                    program_cost(p).unwrap()
                );
                assert!(extra > 0, "{name}: Ferret runs at least one LPN round");
            }
            if obj == Objective::Bytes {
                assert!(total.1.total() <= total.0.total(), "{name}");
            }
            if !offered {
                assert_eq!(total.0, total.1, "{name}: nothing offered, nothing changes");
            }
        }
    }
}

/// The public hash tells `privquant-he` from `privquant`, and the feature itself is hashed:
/// `privquant`'s name with the HE option switched on is refused by a `privquant` peer too.
#[test]
fn privquant_he_hash_differs() {
    for m in [builtin::minionn(), builtin::resnet32()] {
        let pq = public::public_hash(&m, Config::PrivQuant);
        let he = public::public_hash(&m, Config::PrivQuantHe);
        assert_ne!(pq, he, "{}", m.name);
        assert_eq!(he, public::public_hash(&m, Config::PrivQuantHe));
        let with_he = LowerOptions {
            features: Some(Features::ALL_HE),
            ..LowerOptions::default()
        };
        assert_ne!(
            pq,
            public::public_hash_with(&m, Config::PrivQuant, &with_he),
            "{}",
            m.name
        );
        // naming privquant's own features changes nothing
        let same = LowerOptions {
            features: Some(Features::ALL),
            ..LowerOptions::default()
        };
        assert_eq!(pq, public::public_hash_with(&m, Config::PrivQuant, &same));
    }
}

/// The configuration's name, label and features.
#[test]
fn privquant_he_names_and_features() {
    let c: Config = "privquant-he".parse().unwrap();
    assert_eq!(c, Config::PrivQuantHe);
    assert!(c.is_privquant() && c.is_quantized());
    assert_eq!(
        c.features().profile(),
        Config::PrivQuant
            .features()
            .profile()
            .with_ot(pq_proto::OtKind::Ferret)
    );
    assert_eq!(
        Config::PrivQuant.features().profile().ot,
        pq_proto::OtKind::Iknp
    );
    assert!(c.features().linear_menu().he);
    assert!(!Config::PrivQuant.features().linear_menu().he);
    const { assert!(!Features::ALL.he_linear && !Features::NONE.he_linear) };
    assert_eq!(
        c.features().label(),
        format!("{}+he-linear", Features::ALL.label())
    );
    let e = "privquant-hex".parse::<Config>().unwrap_err();
    assert!(e.contains("privquant-he"), "{e}");
}
