//! scratch
fn main() {
    let q = 25_476_206_690_025_473u64;
    let p = tfhe_ntt::prime64::Plan::try_new(4096, q).unwrap();
    let mut v: Vec<u64> = (0..4096u64).map(|i| i * 12345 % q).collect();
    let t = std::time::Instant::now();
    for _ in 0..2000 {
        p.fwd(&mut v);
    }
    println!("p64 fwd {:.1} us", t.elapsed().as_secs_f64() / 2000.0 * 1e6);
    // 32-bit prime ≡ 1 mod 8192 below 2^31
    let mut q32 = (1u32 << 31) - 8192 * 3 + 1;
    loop {
        if let Some(_) = tfhe_ntt::prime32::Plan::try_new(4096, q32) {
            break;
        }
        q32 -= 8192;
    }
    let p = tfhe_ntt::prime32::Plan::try_new(4096, q32).unwrap();
    let mut v: Vec<u32> = (0..4096u32)
        .map(|i| (i as u64 * 12345 % q32 as u64) as u32)
        .collect();
    let t = std::time::Instant::now();
    for _ in 0..20000 {
        p.fwd(&mut v);
    }
    println!(
        "p32 q={q32} fwd {:.1} us",
        t.elapsed().as_secs_f64() / 20000.0 * 1e6
    );
    let w = v.clone();
    let mut acc = vec![0u32; 4096];
    let t = std::time::Instant::now();
    for _ in 0..20000 {
        p.mul_accumulate(&mut acc, &v, &w);
    }
    println!(
        "p32 mulacc {:.2} us",
        t.elapsed().as_secs_f64() / 20000.0 * 1e6
    );
}
