//! AES kernel throughput per path (vaes256, aesni, portable).
//!
//! `cargo bench -p pq-kernels --bench aes -- --warm-up-time 1 --measurement-time 2`
//! Element counts are AES blocks of output (hashes count one per input block).
//!
//! On a shared machine criterion's means move with the neighbours' load. With
//! `PQ_AES_BEST_OF=1` the binary instead prints, per kernel and path, the throughput of the
//! fastest of 2000 timed calls (the same workloads), which is stable under contention.

use criterion::{Criterion, Throughput, criterion_group};
use pq_kernels::Block;
use pq_kernels::aes::{Aes128, AesPath, FIXED_KEY, FixedKeyHash, MultiPrg, Prg};
use pq_kernels::cpu::Features;
use std::hint::black_box;

/// 64 KiB of blocks.
const N: usize = 4096;
/// IKNP layout: 128 row streams × 16 blocks (one 2048-OT chunk).
const STREAMS: usize = 128;
const PER: usize = 16;

fn paths() -> Vec<(AesPath, Features)> {
    let hw = Features::detect_hw();
    let mut v = Vec::new();
    if hw.vaes {
        v.push((AesPath::Vaes256, hw));
    }
    if hw.aesni {
        v.push((AesPath::AesNi, Features { vaes: false, ..hw }));
    }
    v.push((AesPath::Portable, Features::portable()));
    v
}

fn data(n: usize) -> Vec<Block> {
    (0..n as u128)
        .map(|i| Block(i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834)))
        .collect()
}

fn benches(c: &mut Criterion) {
    let xs = data(N);

    let mut g = c.benchmark_group("aes_encrypt");
    g.sample_size(10).throughput(Throughput::Elements(N as u64));
    for (p, f) in paths() {
        let aes = Aes128::with_features(Block(7), f);
        let mut buf = xs.clone();
        g.bench_function(p.name(), |b| {
            b.iter(|| aes.encrypt_blocks(black_box(&mut buf)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("cr_hash");
    g.sample_size(10).throughput(Throughput::Elements(N as u64));
    for (p, f) in paths() {
        let h = FixedKeyHash::with_features(FIXED_KEY, f);
        let mut buf = xs.clone();
        g.bench_function(p.name(), |b| b.iter(|| h.cr_hash(black_box(&mut buf))));
    }
    g.finish();

    let mut g = c.benchmark_group("cr_hash_pairs");
    g.sample_size(10)
        .throughput(Throughput::Elements(2 * N as u64));
    for (p, f) in paths() {
        let h = FixedKeyHash::with_features(FIXED_KEY, f);
        let (mut o0, mut o1) = (vec![Block::ZERO; N], vec![Block::ZERO; N]);
        g.bench_function(p.name(), |b| {
            b.iter(|| h.cr_hash_pairs(black_box(&xs), Block(3), &mut o0, &mut o1))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("tccr_hash");
    g.sample_size(10).throughput(Throughput::Elements(N as u64));
    for (p, f) in paths() {
        let h = FixedKeyHash::with_features(FIXED_KEY, f);
        let mut buf = xs.clone();
        g.bench_function(p.name(), |b| {
            b.iter(|| h.tccr_hash(black_box(&mut buf), 12345))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("prg_fill_bytes");
    g.sample_size(10).throughput(Throughput::ElementsAndBytes {
        elements: N as u64,
        bytes: 16 * N as u64,
    });
    for (p, f) in paths() {
        let mut prg = Prg::with_features(Block(9), f);
        let mut buf = vec![0u8; 16 * N];
        g.bench_function(p.name(), |b| b.iter(|| prg.fill_bytes(black_box(&mut buf))));
    }
    g.finish();

    let mut g = c.benchmark_group("multiprg_fill_128x16");
    g.sample_size(10)
        .throughput(Throughput::Elements((STREAMS * PER) as u64));
    let seeds = data(STREAMS);
    for (p, f) in paths() {
        let mut m = MultiPrg::with_features(&seeds, f);
        let mut buf = vec![Block::ZERO; STREAMS * PER];
        g.bench_function(p.name(), |b| b.iter(|| m.fill(PER, black_box(&mut buf))));
    }
    g.finish();
}

criterion_group!(aes_benches, benches);

/// Throughput of the fastest of `reps` calls of `f`, which processes `elems` blocks.
fn best_of(reps: usize, elems: usize, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..reps {
        let t = std::time::Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    elems as f64 / best
}

fn best_of_table() {
    const REPS: usize = 2000;
    let xs = data(N);
    let seeds = data(STREAMS);
    println!("best of {REPS} calls, M blocks/s (prg also GB/s); N = {N}, multiprg {STREAMS}x{PER}");
    for (p, f) in paths() {
        let aes = Aes128::with_features(Block(7), f);
        let h = FixedKeyHash::with_features(FIXED_KEY, f);
        let mut buf = xs.clone();
        let (mut o0, mut o1) = (vec![Block::ZERO; N], vec![Block::ZERO; N]);
        let mut prg = Prg::with_features(Block(9), f);
        let mut bytes = vec![0u8; 16 * N];
        let mut m = MultiPrg::with_features(&seeds, f);
        let mut mo = vec![Block::ZERO; STREAMS * PER];
        let enc = best_of(REPS, N, || aes.encrypt_blocks(black_box(&mut buf)));
        let cr = best_of(REPS, N, || h.cr_hash(black_box(&mut buf)));
        let crp = best_of(REPS, 2 * N, || {
            h.cr_hash_pairs(black_box(&xs), Block(3), &mut o0, &mut o1)
        });
        let tccr = best_of(REPS, N, || h.tccr_hash(black_box(&mut buf), 12345));
        let prgb = best_of(REPS, N, || prg.fill_bytes(black_box(&mut bytes)));
        let multi = best_of(REPS, STREAMS * PER, || m.fill(PER, black_box(&mut mo)));
        println!(
            "{:9} encrypt {:5.0}  cr_hash {:5.0}  cr_hash_pairs {:5.0}  tccr_hash {:5.0}  \
             prg {:5.0} ({:4.1} GB/s)  multiprg {:5.0}",
            p.name(),
            enc / 1e6,
            cr / 1e6,
            crp / 1e6,
            tccr / 1e6,
            prgb / 1e6,
            prgb * 16.0 / 1e9,
            multi / 1e6,
        );
    }
}

fn main() {
    if std::env::var_os("PQ_AES_BEST_OF").is_some() {
        best_of_table();
        return;
    }
    aes_benches();
    Criterion::default().configure_from_args().final_summary();
}
