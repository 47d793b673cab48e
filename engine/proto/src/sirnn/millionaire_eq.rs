//! Π_MillEq: the millionaires' comparison with equality (SiRNN, Rathee et al., IEEE S&P 2021) as
//! SCI runs it (`MillionaireWithEquality::compare_with_eq`, EzPC
//! `SCI/src/Millionaire/millionaire_with_equality.h`): XOR shares of 1{x_ALICE > x_BOB} and
//! 1{x_ALICE = x_BOB}.
//!
//! What it sends (`docs/sci-protocols.md` §Millionaire with equality): for l ≤ 4 one 1-of-2^l OT
//! with 2-bit messages (IKNP GOT for l = 1). For l > 4 (n padded to a multiple of 8): the q − 1
//! full digits in one 1-of-16 KKOT call with 2-bit messages, the top r = l mod 4 bits (if r > 0)
//! in a second call (1-of-2^r, or IKNP for r = 1); 2(q − 1) correlated triples from one 1-of-8
//! KKOT with 2-bit messages per 2 triples; then ⌈log2 q⌉ AND levels (2 ANDs per node) whose
//! openings are sent twice, as SCI does (8 bits per AND). l = 0 is defined as free: gt = 0,
//! eq = 1.

use crate::ProtoResult;
use crate::ot_calls;
use crate::party::Party;
use crate::sirnn::millionaire::{
    AndJob, and_level, leaves, ot_cost, ot_recv, ot_send, tree_levels,
};
use crate::util::{clog2, pad8, rand_bits};
use crate::{Cost, Profile};

/// Cost of Π_MillEq on n l-bit comparisons.
pub fn cost(n: u64, l: u32, pr: Profile) -> Cost {
    if n == 0 || l == 0 {
        return Cost::ZERO;
    }
    if l <= 4 {
        return ot_cost(n, 1 << l, 2, pr);
    }
    let n8 = pad8(n);
    let q = l.div_ceil(4) as u64;
    let r = l % 4;
    let mut c = if r == 0 {
        ot_cost(q * n8, 16, 2, pr)
    } else {
        ot_cost((q - 1) * n8, 16, 2, pr).then(ot_cost(n8, 1 << r, 2, pr))
    };
    c = c.then(ot_calls::all_offline(ot_cost((q - 1) * n8, 8, 2, pr)));
    for ands in tree_levels(q, true) {
        c = c.then(ot_calls::exchange(4 * ands * n8 / 8));
    }
    let _ = clog2;
    c
}

/// Correlated triple pairs (a, b1, c1 = a·b1) and (a, b2, c2 = a·b2) sharing a, from one
/// 1-of-8 KKOT with 2-bit messages per pair (SCI `_8KKOT`; ALICE sends).
struct CorrTriples {
    a: Vec<u8>,
    b1: Vec<u8>,
    b2: Vec<u8>,
    c1: Vec<u8>,
    c2: Vec<u8>,
}

fn triples_corr(p: &mut Party, pairs: usize) -> ProtoResult<CorrTriples> {
    let a = rand_bits(p, pairs);
    let b1 = rand_bits(p, pairs);
    let b2 = rand_bits(p, pairs);
    if p.is_alice() {
        let c1 = rand_bits(p, pairs);
        let c2 = rand_bits(p, pairs);
        let mut msgs = vec![0u64; pairs * 8];
        for t in 0..pairs {
            for j in 0..8u8 {
                let aa = a[t] ^ (j & 1);
                let z1 = (aa & (b1[t] ^ ((j >> 1) & 1))) ^ c1[t];
                let z2 = (aa & (b2[t] ^ ((j >> 2) & 1))) ^ c2[t];
                msgs[t * 8 + j as usize] = (z1 | (z2 << 1)) as u64;
            }
        }
        ot_send(p, &msgs, 8, 2)?;
        Ok(CorrTriples { a, b1, b2, c1, c2 })
    } else {
        let ch: Vec<u8> = (0..pairs)
            .map(|t| a[t] | (b1[t] << 1) | (b2[t] << 2))
            .collect();
        let r = ot_recv(p, &ch, 8, 2)?;
        let c1 = r.iter().map(|v| (v & 1) as u8).collect();
        let c2 = r.iter().map(|v| ((v >> 1) & 1) as u8).collect();
        Ok(CorrTriples { a, b1, b2, c1, c2 })
    }
}

/// Π_MillEq: (gt, eq) XOR shares; each party passes its own l-bit inputs.
pub fn run(p: &mut Party, data: &[u64], l: u32) -> ProtoResult<(Vec<u8>, Vec<u8>)> {
    if l > 64 {
        return Err(crate::param(
            "l",
            format!("bit-width {l} is out of range (accepted: 0..=64)"),
        ));
    }
    let n = data.len();
    if n == 0 {
        return Ok((Vec::new(), Vec::new()));
    }
    if l == 0 {
        let e = if p.is_alice() { 1 } else { 0 };
        return Ok((vec![0; n], vec![e; n]));
    }
    let m = pq_kernels::ring::mask(l);
    if l <= 4 {
        let nn = 1usize << l;
        if p.is_alice() {
            let rg = rand_bits(p, n);
            let re = rand_bits(p, n);
            let mut msgs = vec![0u64; n * nn];
            for i in 0..n {
                let x = data[i] & m;
                for k in 0..nn {
                    let g = (x > k as u64) as u8 ^ rg[i];
                    let e = (x == k as u64) as u8 ^ re[i];
                    msgs[i * nn + k] = ((g << 1) | e) as u64;
                }
            }
            ot_send(p, &msgs, nn, 2)?;
            return Ok((rg, re));
        }
        let ch: Vec<u8> = data.iter().map(|&x| (x & m) as u8).collect();
        let r = ot_recv(p, &ch, nn, 2)?;
        return Ok((
            r.iter().map(|v| ((v >> 1) & 1) as u8).collect(),
            r.iter().map(|v| (v & 1) as u8).collect(),
        ));
    }
    let n8 = pad8(n as u64) as usize;
    let q = l.div_ceil(4) as usize;
    let kk16 = if l.is_multiple_of(4) { q } else { q - 1 };
    let (mut cmp, mut eq) = leaves(p, data, m, n8, q, kk16, 2)?;
    let tr = triples_corr(p, (q - 1) * n8)?;
    let mut used = 0usize;
    let mut i = 1;
    while i < q {
        let mut jobs = Vec::new();
        let mut nodes = Vec::new();
        let mut j = 0;
        while j + i < q {
            let s = used..used + n8;
            used += n8;
            // the shared triple bit `a` pairs with the common operand eq[j + i]
            jobs.push(AndJob {
                x: cmp[j].clone(),
                y: eq[j + i].clone(),
                tx: tr.b1[s.clone()].to_vec(),
                ty: tr.a[s.clone()].to_vec(),
                c: tr.c1[s.clone()].to_vec(),
            });
            jobs.push(AndJob {
                x: eq[j].clone(),
                y: eq[j + i].clone(),
                tx: tr.b2[s.clone()].to_vec(),
                ty: tr.a[s.clone()].to_vec(),
                c: tr.c2[s].to_vec(),
            });
            nodes.push(j);
            j += 2 * i;
        }
        let z = and_level(p, &jobs, 2)?;
        for (k, &j) in nodes.iter().enumerate() {
            let hi = cmp[j + i].clone();
            cmp[j] = z[2 * k].iter().zip(&hi).map(|(a, b)| a ^ b).collect();
            eq[j] = z[2 * k + 1].clone();
        }
        i *= 2;
    }
    let mut g = std::mem::take(&mut cmp[0]);
    let mut e = std::mem::take(&mut eq[0]);
    g.truncate(n);
    e.truncate(n);
    Ok((g, e))
}
