//! Packed Z_2^l pack/unpack throughput (bytes = packed bytes).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pq_kernels::ring::{pack, packed_len, unpack};
use std::hint::black_box;
use std::time::Duration;

const N: usize = 1 << 14;

fn bench(c: &mut Criterion) {
    let vals: Vec<u64> = (0..N as u64)
        .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .collect();
    for (name, is_pack) in [("pack", true), ("unpack", false)] {
        let mut g = c.benchmark_group(format!("ring_{name}"));
        g.sample_size(20)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
        for l in [1u32, 2, 4, 8, 13, 16, 32, 37, 64] {
            let mut packed = vec![0u8; packed_len(N, l)];
            pack(&vals, l, &mut packed);
            let mut out = vec![0u64; N];
            g.throughput(Throughput::Bytes(packed.len() as u64));
            g.bench_with_input(BenchmarkId::new(format!("{N}vals"), l), &l, |b, &l| {
                if is_pack {
                    b.iter(|| pack(black_box(&vals), l, black_box(&mut packed)))
                } else {
                    b.iter(|| unpack(black_box(&packed), l, black_box(&mut out)))
                }
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
