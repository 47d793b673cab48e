//! OT throughput (run with
//! `cargo test --release -p bench-harness --test runner_ot -- --ignored --nocapture`).

#![allow(clippy::needless_range_loop)]

use bench_harness::runners::ot::{
    bench_base_ot, bench_batched_cot, bench_cot, bench_got, bench_kkot, bench_rcot,
};
use pq_netsim::Transport;
use pq_ot::OtOpts;

fn n_from_env(default: usize) -> usize {
    std::env::var("PQ_OT_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[test]
#[ignore]
fn bench_ot_all() {
    let n = n_from_env(1 << 22);
    let t = bench_base_ot(128, Transport::Mem).unwrap();
    eprintln!("base OT x128: {:.2} ms", t * 1e3);
    let only = std::env::var("PQ_OT_OP").unwrap_or_default();
    let want = |op: &str| only.is_empty() || only == op;
    let mut rs = Vec::new();
    if want("rcot") {
        rs.push(bench_rcot(n, OtOpts::DENSE, Transport::Mem).unwrap());
    }
    if want("cot") {
        rs.push(bench_cot(n, 32, OtOpts::SCI, Transport::Mem).unwrap());
    }
    if want("got") {
        rs.push(bench_got(n, 8, OtOpts::SCI, Transport::Mem).unwrap());
    }
    if want("kkot") {
        rs.push(bench_kkot(n / 4, 16, 2, OtOpts::SCI, Transport::Mem).unwrap());
    }
    if want("bcot") {
        rs.push(bench_batched_cot(n / 64, 64, 16, OtOpts::SCI, Transport::Mem).unwrap());
    }
    if want("tcp") {
        rs.push(bench_rcot(n, OtOpts::DENSE, Transport::Tcp).unwrap());
    }
    for r in rs {
        eprintln!(
            "{:<28} n={:<9} {:>8.3} s (snd {:.3}/{:.3}cpu rcv {:.3}/{:.3}cpu) {:>8.2} M OT/s  s->c {:>12} c->s {:>12}  correct={} bytes_ok={}",
            r.op,
            r.n,
            r.wall_s,
            r.server_s,
            r.server_cpu_s,
            r.client_s,
            r.client_cpu_s,
            r.ots_per_s / 1e6,
            r.bytes_server_to_client,
            r.bytes_client_to_server,
            r.correct,
            r.bytes_match_cost
        );
        assert!(r.correct && r.bytes_match_cost);
    }
}

/// Every chosen-choice OT call on SoftSpoken and Ferret, at sizes whose calls run LPN rounds
/// inside them (the receiver's takes wait on rounds the sender must send before it waits for
/// the receiver's corrections): correct outputs, bytes equal to the cost function, and no
/// deadlock (a watchdog fails the test instead of hanging).
#[test]
fn chosen_calls_on_silent_sources_finish() {
    use bench_harness::runners::ot::{OtOp, bench};
    use pq_ot::OtKind;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for source in [OtKind::SoftSpoken(3), OtKind::Ferret] {
            let opts = OtOpts {
                sci_padding: false,
                source,
            };
            for (op, n) in [
                (OtOp::Cot { l: 8 }, 1001usize),
                (OtOp::Got { l: 8 }, 700_000),
                (
                    OtOp::OneOfN {
                        n_choices: 16,
                        l: 2,
                    },
                    300_001,
                ),
                (OtOp::BatchedCot { msgs: 3, l: 8 }, 5_000),
                (OtOp::Cot { l: 1 }, 1_200_000),
            ] {
                let r = bench(op, n, opts, Transport::Mem).unwrap();
                assert!(r.correct, "{} on {}", r.op, source.name());
                assert!(r.bytes_match_cost, "{} on {}: bytes", r.op, source.name());
            }
        }
        let _ = tx.send(());
    });
    rx.recv_timeout(std::time::Duration::from_secs(240))
        .expect("an OT call on a silent source did not finish (deadlock?)");
}
