//! The end-to-end runner: executed and modeled rows agree, the cost model covers every
//! built-in network, and an emulated (real-time shaped) row runs.

use pq_nn::builtin;
use pq_nn::config::Config;
use pq_nn::json;
use pq_nn::model::Model;
use std::time::Instant;

/// A small residual network (stem conv, padded max-pool, identity, option-A and projection
/// blocks, average pool, FC), shared with pq-nn's executor tests.
const SMALL_RESNET: &str = include_str!("../../engine/nn/tests/data/small-resnet.json");

fn small_resnet() -> Model {
    json::parse(SMALL_RESNET).unwrap()
}

#[test]
fn e2e_rows_executed_and_modeled_agree() {
    use bench_harness::runners::e2e;
    let m = small_resnet();
    let links = pq_netsim::parse_links("200mbps,13ms;1gbps,0.5ms").unwrap();
    for cfg in [
        Config::Sirnn,
        Config::SirnnQuant,
        Config::PrivQuant,
        Config::PrivQuantW4,
        Config::PrivQuantHe,
    ] {
        let ex = e2e::e2e_row(&m, cfg, &links, true).unwrap();
        let md = e2e::e2e_row(&m, cfg, &links, false).unwrap();
        assert_eq!((ex.len(), md.len()), (2, 2));
        for (a, b) in ex.iter().zip(&md) {
            assert!(a.executed && !b.executed);
            assert_eq!(a.correct, Some(true));
            assert_eq!(a.latency_kind, "simulated");
            assert_eq!(b.latency_kind, "modeled");
            assert_eq!(a.link, b.link);
            assert_eq!(a.bytes_total, b.bytes_total);
            assert_eq!(a.bytes_online, b.bytes_online);
            assert!(a.bytes_online <= a.bytes_total);
            assert_eq!(a.rounds, b.rounds);
            assert_eq!(a.layers.len(), b.layers.len());
            for (la, lb) in a.layers.iter().zip(&b.layers) {
                assert_eq!(
                    (la.name.as_str(), la.bytes_total, la.rounds, &la.option),
                    (lb.name.as_str(), lb.bytes_total, lb.rounds, &lb.option)
                );
            }
            // the exact linear layers (privquant's) name their option; SCI's matmul has none
            assert_eq!(
                a.layers.iter().any(|l| l.option.is_some()),
                cfg.is_privquant(),
                "{cfg}"
            );
            let v = serde_json::to_value(a).unwrap();
            for f in [
                "model",
                "protocol",
                "link",
                "bytes_total",
                "bytes_server_to_client",
                "bytes_client_to_server",
                "bytes_online",
                "rounds",
                "compute_s",
                "latency_s",
                "latency_kind",
                "executed",
                "layers",
            ] {
                assert!(v.get(f).is_some(), "field {f}");
            }
            assert!(a.latency_s.unwrap() > 0.0 && b.latency_s.unwrap() > 0.0);
        }
    }
}

#[test]
fn cost_model_covers_the_builtin_networks() {
    use bench_harness::runners::e2e;
    let link = pq_netsim::parse_links("200mbps,13ms").unwrap();
    for m in [
        builtin::minionn(),
        builtin::resnet32(),
        builtin::resnet50(32),
        builtin::resnet50(224),
    ] {
        for cfg in [
            Config::Sirnn,
            Config::SirnnQuant,
            Config::PrivQuant,
            Config::PrivQuantW4,
            Config::PrivQuantHe,
        ] {
            let rows = e2e::e2e_row(&m, cfg, &link, false).unwrap();
            let r = &rows[0];
            assert!(!r.executed && r.bytes_total > 0 && r.rounds > 0);
            let per_layer: u64 = r.layers.iter().map(|l| l.bytes_total).sum();
            assert_eq!(per_layer, r.bytes_total);
            eprintln!(
                "{} {cfg}: {:.3} GB ({:.3} GB online), {} rounds, modeled latency {:.1}s",
                m.name,
                r.bytes_total as f64 * 1e-9,
                r.bytes_online as f64 * 1e-9,
                r.rounds,
                r.latency_s.unwrap_or(0.0)
            );
        }
    }
}

#[test]
#[ignore = "long: executed e2e rows of ResNet32 and MiniONN (sirnn-quant, privquant) with simulated latency"]
fn e2e_executed_rows_print() {
    use bench_harness::runners::e2e;
    let links = pq_netsim::parse_links("200mbps,13ms;1gbps,0.5ms").unwrap();
    for (m, cfg) in [
        (builtin::minionn(), Config::SirnnQuant),
        (builtin::minionn(), Config::PrivQuant),
        (builtin::resnet32(), Config::SirnnQuant),
        (builtin::resnet32(), Config::PrivQuant),
    ] {
        let t = Instant::now();
        let rows = e2e::e2e_row(&m, cfg, &links, true).unwrap();
        let md = e2e::e2e_row(&m, cfg, &links, false).unwrap();
        for (r, b) in rows.iter().zip(&md) {
            assert_eq!(r.correct, Some(true));
            assert_eq!(r.bytes_total, b.bytes_total);
            eprintln!(
                "{} {cfg} @{}: {:.3} GB, online {:.3} GB, {} rounds, compute {:.1}s, simulated {:.1}s (modeled {:.1}s)",
                m.name,
                r.link.as_deref().unwrap_or("-"),
                r.bytes_total as f64 * 1e-9,
                r.bytes_online as f64 * 1e-9,
                r.rounds,
                r.compute_s.unwrap_or(0.0),
                r.latency_s.unwrap_or(0.0),
                b.latency_s.unwrap_or(0.0)
            );
        }
        eprintln!("  ({:.1}s for the run)", t.elapsed().as_secs_f64());
    }
}

#[test]
fn e2e_emulated_row() {
    use bench_harness::runners::e2e;
    let m = small_resnet();
    let links = pq_netsim::parse_links("1gbps,0.5ms").unwrap();
    let o = e2e::E2eOptions {
        emulate: true,
        breakdown: true,
        ..e2e::E2eOptions::default()
    };
    let rows = e2e::e2e_rows(&m, Config::SirnnQuant, &links, &o).unwrap();
    let r = &rows[0];
    assert!(r.executed);
    assert_eq!(r.correct, Some(true));
    assert_eq!(r.latency_kind, "emulated");
    // at least one RTT per round of the protocol part
    assert!(r.latency_s.unwrap() >= r.rounds as f64 * 0.5e-3);
    let bd = r.breakdown.as_ref().unwrap();
    assert_eq!(bd.iter().map(|k| k.bytes_total).sum::<u64>(), r.bytes_total);
    let modeled = e2e::e2e_rows(
        &m,
        Config::SirnnQuant,
        &links,
        &e2e::E2eOptions {
            execute: false,
            breakdown: true,
            ..e2e::E2eOptions::default()
        },
    )
    .unwrap();
    let mb = modeled[0].breakdown.as_ref().unwrap();
    assert_eq!(mb.len(), bd.len());
    for (a, b) in bd.iter().zip(mb) {
        assert_eq!((&a.kind, a.bytes_total), (&b.kind, b.bytes_total));
    }
    // no link: executed, latency unknown
    let rows = e2e::e2e_row(&m, Config::Sirnn, &[], true).unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].link.is_none() && rows[0].latency_s.is_none());
}
