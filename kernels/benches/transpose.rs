//! Transpose throughput per kernel path (elements = output rows, i.e. OTs).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pq_kernels::Block;
use pq_kernels::cpu::Features;
use pq_kernels::transpose::{
    row_bytes, transpose_128x128_inplace_with, transpose_128xn_with, transpose_with,
};
use std::hint::black_box;
use std::time::Duration;

fn paths() -> Vec<(&'static str, Features)> {
    let hw = Features::detect_hw();
    let mut v = vec![("portable", Features::portable())];
    if hw.sse2 {
        v.push((
            "sse2",
            Features {
                avx2: false,
                vaes: false,
                ..hw
            },
        ));
    }
    if hw.avx2 {
        v.push(("avx2", hw));
    }
    v
}

fn input(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u64)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .rotate_left(17) as u8
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("transpose_128xn");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1));
    for n in [2048usize, 16384] {
        let inp = input(128 * row_bytes(n));
        let mut out = vec![Block::ZERO; n];
        g.throughput(Throughput::Elements(n as u64));
        for (name, f) in paths() {
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, &n| {
                b.iter(|| transpose_128xn_with(f, black_box(&inp), n, black_box(&mut out)))
            });
        }
    }
    g.finish();

    let mut g = c.benchmark_group("transpose_128x128_inplace");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(128));
    for (name, f) in paths() {
        let mut t = [Block::ZERO; 128];
        Block::slice_as_bytes_mut(&mut t).copy_from_slice(&input(2048));
        g.bench_function(name, |b| {
            b.iter(|| transpose_128x128_inplace_with(f, black_box(&mut t)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("transpose_general");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1));
    for (rows, cols) in [(1024usize, 1024usize), (1000, 1000), (64, 8192)] {
        let inp = input(rows * row_bytes(cols));
        let mut out = vec![0u8; cols * row_bytes(rows)];
        g.throughput(Throughput::Elements(cols as u64));
        for (name, f) in paths() {
            g.bench_function(BenchmarkId::new(name, format!("{rows}x{cols}")), |b| {
                b.iter(|| transpose_with(f, black_box(&inp), rows, cols, black_box(&mut out)))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
