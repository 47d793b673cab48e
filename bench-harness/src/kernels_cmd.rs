//! `bench-harness kernels [--json]`: throughput of every hot kernel on this machine.
//!
//! Each figure is the best of several timed repetitions (the machine may be shared), over
//! buffers that are not L1-resident toys: hashes run over a 64 KiB buffer.

use crate::util::{machine_name, print_json_line};
use pq_kernels::Block;
use pq_kernels::aes::{FIXED_KEY, FixedKeyHash, MultiPrg, Prg};
use pq_kernels::cpu::Features;
use pq_kernels::{ring, transpose};
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Default)]
pub struct KernelsArgs {
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    pub json: bool,
    /// Seconds per repetition.
    #[arg(long, default_value_t = 0.15)]
    pub rep_seconds: f64,
    /// Repetitions per kernel; the best counts (the machine may be shared).
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
}

/// Run `f` (which processes `work` units per call) repeatedly; return the best units/second.
fn best_rate(rep: Duration, reps: usize, work: f64, mut f: impl FnMut()) -> f64 {
    f(); // warm up, fault in pages
    let mut best = 0.0f64;
    for _ in 0..reps {
        let start = Instant::now();
        let mut calls = 0u64;
        while start.elapsed() < rep {
            f();
            calls += 1;
        }
        let r = calls as f64 * work / start.elapsed().as_secs_f64();
        best = best.max(r);
    }
    best
}

struct Row {
    name: &'static str,
    value: f64,
    unit: &'static str,
    path: String,
    buffer_bytes: usize,
    target: &'static str,
}

pub fn run(a: KernelsArgs) -> anyhow::Result<()> {
    if !(a.rep_seconds.is_finite() && a.rep_seconds > 0.0 && a.rep_seconds <= 60.0) {
        return crate::util::usage(format!(
            "--rep-seconds: expected a number of seconds in (0, 60], got {}",
            a.rep_seconds
        ));
    }
    let rep = Duration::from_secs_f64(a.rep_seconds);
    if !(1..=1000).contains(&a.reps) {
        return crate::util::usage(format!("--reps: expected 1..=1000, got {}", a.reps));
    }
    let reps = a.reps;
    let hw = Features::get();
    let mut rows = Vec::new();

    // Fixed-key hashes over a 64 KiB buffer (4096 blocks).
    let nblocks = 4096usize;
    let mut buf: Vec<Block> = (0..nblocks as u128)
        .map(|i| Block(i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834)))
        .collect();
    let mut variants = vec![("", hw)];
    if hw.vaes {
        variants.push(("_aesni", Features { vaes: false, ..hw }));
    }
    for (suffix, f) in &variants {
        let h = FixedKeyHash::with_features(FIXED_KEY, *f);
        let v = best_rate(rep, reps, nblocks as f64, || h.cr_hash(black_box(&mut buf))) / 1e9;
        rows.push(Row {
            name: if suffix.is_empty() {
                "aes_cr_hash"
            } else {
                "aes_cr_hash_aesni"
            },
            value: v,
            unit: "Gblocks/s",
            path: h.path().name().into(),
            buffer_bytes: nblocks * 16,
            target: if h.path().name() == "vaes256" {
                ">= 0.7"
            } else {
                ">= 0.5"
            },
        });
        let v = best_rate(rep, reps, nblocks as f64, || {
            h.tccr_hash(black_box(&mut buf), 7)
        }) / 1e9;
        rows.push(Row {
            name: if suffix.is_empty() {
                "aes_tccr_hash"
            } else {
                "aes_tccr_hash_aesni"
            },
            value: v,
            unit: "Gblocks/s",
            path: h.path().name().into(),
            buffer_bytes: nblocks * 16,
            target: ">= 0.25",
        });
    }

    // AES-CTR PRG, one stream, 64 KiB at a time.
    let mut prg = Prg::new(Block(0x1234));
    let mut bytes = vec![0u8; 64 * 1024];
    let v = best_rate(rep, reps, bytes.len() as f64, || {
        prg.fill_bytes(black_box(&mut bytes))
    }) / 1e9;
    rows.push(Row {
        name: "aes_ctr_prg",
        value: v,
        unit: "GB/s",
        path: prg.path().name().into(),
        buffer_bytes: bytes.len(),
        target: ">= 8",
    });

    // 128 streams advanced together (IKNP row expansion), 16 blocks each per call.
    let seeds: Vec<Block> = (0..128u128).map(|i| Block(i * 31 + 5)).collect();
    let mut mp = MultiPrg::new(&seeds);
    let mut out = vec![Block::ZERO; 128 * 16];
    let v = best_rate(rep, reps, (out.len() * 16) as f64, || {
        mp.fill(16, black_box(&mut out))
    }) / 1e9;
    rows.push(Row {
        name: "aes_multi_prg_128x16",
        value: v,
        unit: "GB/s",
        path: prg.path().name().into(),
        buffer_bytes: out.len() * 16,
        target: "",
    });

    // Transpose 128 x N bits -> N blocks: the OT chunk size (2048) and a large N (16384).
    for (name, n) in [
        ("transpose_128x2048", 2048usize),
        ("transpose_128x16384", 16384),
    ] {
        let mut input = vec![0u8; 128 * transpose::row_bytes(n)];
        Prg::new(Block(99)).fill_bytes(&mut input);
        let mut tout = vec![Block::ZERO; n];
        let rows_per_s = best_rate(rep, reps, n as f64, || {
            transpose::transpose_128xn(black_box(&input), n, black_box(&mut tout))
        });
        rows.push(Row {
            name,
            value: 1e9 / rows_per_s,
            unit: "ns/row",
            path: format!("{:?}", transpose::Kernel::select(hw)).to_lowercase(),
            buffer_bytes: input.len(),
            target: "<= 1.5",
        });
    }

    // Pack / unpack l = 13, counted in packed bytes.
    let l = 13u32;
    let nv = 1 << 16;
    let vals: Vec<u64> = (0..nv as u64)
        .map(|i| i.wrapping_mul(0x9e37_79b9) & ring::mask(l))
        .collect();
    let mut packed = vec![0u8; ring::packed_len(nv, l)];
    let pb = packed.len() as f64;
    let v = best_rate(rep, reps, pb, || {
        ring::pack(black_box(&vals), l, black_box(&mut packed))
    }) / 1e9;
    rows.push(Row {
        name: "ring_pack_l13",
        value: v,
        unit: "GB/s",
        path: "specialised-l".into(),
        buffer_bytes: packed.len(),
        target: ">= 2",
    });
    let mut un = vec![0u64; nv];
    let v = best_rate(rep, reps, pb, || {
        ring::unpack(black_box(&packed), l, black_box(&mut un))
    }) / 1e9;
    rows.push(Row {
        name: "ring_unpack_l13",
        value: v,
        unit: "GB/s",
        path: "specialised-l".into(),
        buffer_bytes: packed.len(),
        target: ">= 2",
    });
    anyhow::ensure!(un == vals, "pack/unpack self-check failed");

    he_rows(rep, reps, &mut rows)?;

    eprintln!("# kernels on {} (features: {:?})", machine_name(), hw);
    eprintln!(
        "# targets are this project's own speed goals (README, section Kernels), for an idle machine of this class"
    );
    eprintln!(
        "{:<24} {:>10} {:<10} {:<9} {:>8}  {:<8} met",
        "kernel", "value", "unit", "path", "buffer", "target"
    );
    let mut missed = Vec::new();
    for r in &rows {
        let met = target_met(r.value, r.target);
        if met == Some(false) {
            missed.push(r.name);
        }
        eprintln!(
            "{:<24} {:>10.3} {:<10} {:<9} {:>8}  {:<8} {}",
            r.name,
            r.value,
            r.unit,
            r.path,
            r.buffer_bytes,
            r.target,
            match met {
                Some(true) => "yes",
                Some(false) => "MISSED",
                None => "-",
            }
        );
    }
    if missed.is_empty() {
        eprintln!("# every target met");
    } else {
        eprintln!(
            "# {} target(s) missed: {} (a loaded machine misses them; compare on an idle one)",
            missed.len(),
            missed.join(", ")
        );
    }
    if a.json {
        let mut obj = serde_json::Map::new();
        for r in &rows {
            obj.insert(
                r.name.into(),
                json!({"value": r.value, "unit": r.unit, "path": r.path, "buffer_bytes": r.buffer_bytes,
                       "target": r.target, "target_met": target_met(r.value, r.target)}),
            );
        }
        obj.insert("machine".into(), Value::String(machine_name()));
        print_json_line(&Value::Object(obj));
    }
    Ok(())
}

/// The HE kernels at N = 4096, Q = q0·q1 (`pq_he`): the plaintext NTT (two limbs), one
/// plaintext × ciphertext multiply-accumulate (two halves × two limbs), a client encryption,
/// a server response (re-randomise, flood, mask, switch, drop bits; 1024 output coefficients)
/// and a client decryption. These calibrate the compute model of the HE linear option
/// (`pq_proto::privquant::he_linear::{NS_NTT, NS_MULACC}`).
fn he_rows(rep: Duration, reps: usize, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    use pq_he::{He, Params, noise};
    let p = Params::STD;
    let n = p.n;
    let he = He::new(p).map_err(|e| anyhow::anyhow!("HE context: {e}"))?;
    let mut prg = Prg::new(Block::from_u64s(7, 7));
    let sk = he.keygen(&mut prg);
    let seed = Block::from_u64s(1, 2);
    let l = 16;
    let m: Vec<u64> = (0..n as u64)
        .map(|i| i.wrapping_mul(0x9e37) & 0xffff)
        .collect();
    let w: Vec<i64> = (0..n as i64).map(|i| (i % 5) - 2).collect();
    let mut b = vec![0u64; 2 * n];
    let enc_rate = best_rate(rep, reps, 1.0, || {
        he.encrypt(
            &sk,
            pq_he::CtId { seed, index: 1 },
            black_box(&m),
            l,
            &mut prg,
            &mut b,
        )
        .expect("encrypt");
    });
    let plain_rate = best_rate(rep, reps, 1.0, || {
        black_box(he.plain(black_box(&w)));
    });
    let ct = he.server_input(seed, 1, &b, Some(&m), l)?;
    let pt = he.plain(&w);
    let mut acc = he.acc();
    let mul_rate = best_rate(rep, reps, 1.0, || he.mul_acc(&mut acc, &ct, black_box(&pt)));
    let mut pkb = vec![0u64; n];
    he.encrypt_pk(&sk, seed, 0, &mut prg, &mut pkb)?;
    let pk = he.public_key(seed, 0, &pkb)?;
    let used: Vec<u32> = (0..1024u32).map(|j| j * 4).collect();
    let mask = vec![5u64; used.len()];
    let nz = noise::plan(&p, l, 4 * 4096, false, 1 << 20, 1 << 20, 0)
        .ok_or_else(|| anyhow::anyhow!("noise plan"))?;
    let mut resp = None;
    let resp_rate = best_rate(rep, reps, 1.0, || {
        let mut a = he.acc();
        he.mul_acc(&mut a, &ct, &pt);
        resp = Some(
            he.respond(a, &pk, &used, &mask, nz.shrink, &mut prg)
                .expect("respond"),
        );
    });
    let resp = resp.ok_or_else(|| anyhow::anyhow!("no response"))?;
    let mut out = vec![0u64; used.len()];
    let dec_rate = best_rate(rep, reps, 1.0, || {
        he.decrypt(&sk, &resp, &used, nz.shrink, &mut out)
            .expect("decrypt")
    });
    for (name, v, target) in [
        ("he_encrypt", enc_rate, ""),
        ("he_plain_ntt", plain_rate, ""),
        ("he_mul_acc", mul_rate, ""),
        ("he_respond", resp_rate, ""),
        ("he_decrypt", dec_rate, ""),
    ] {
        rows.push(Row {
            name,
            value: v / 1e3,
            unit: "k ops/s",
            path: "tfhe-ntt".into(),
            buffer_bytes: 2 * n * 8,
            target,
        });
    }
    Ok(())
}

/// Whether `value` meets `target` (`">= x"` or `"<= x"`); `None` when the row has no target.
fn target_met(value: f64, target: &str) -> Option<bool> {
    let (op, num) = target.split_once(' ')?;
    let t: f64 = num.trim().parse().ok()?;
    match op {
        ">=" => Some(value >= t),
        "<=" => Some(value <= t),
        _ => None,
    }
}
