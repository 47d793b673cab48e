//! Π_Eq: the equality test (SiRNN, Rathee et al., IEEE S&P 2021) as SCI runs it
//! (`Equality::check_equality`, EzPC `SCI/src/Millionaire/equality.h`): XOR shares of
//! 1{x_ALICE = x_BOB}.
//!
//! What it sends (`docs/sci-protocols.md` §Equality): for l ≤ 4 one 1-of-2^l OT with 1-bit
//! messages (IKNP for l = 1). For l > 4 (n padded to a multiple of 8): leaf OTs with 1-bit
//! messages (the q − 1 full digits in one 1-of-16 call, the top r bits in a 1-of-2^r call when
//! r > 0), (q − 1) bit triples from 1-of-16 KKOTs (2 per OT), then ⌈log2 q⌉ AND levels with
//! SCI's duplicated openings (8 bits per AND). l = 0 is defined as free: eq = 1.

use crate::ProtoResult;
use crate::ot_calls;
use crate::party::Party;
use crate::sirnn::millionaire::{
    AndJob, and_level, leaves, ot_cost, single_kkot_leaf, triples_std,
};
use crate::util::pad8;
use crate::{Cost, Profile};

/// Cost of Π_Eq on n l-bit inputs.
pub fn cost(n: u64, l: u32, pr: Profile) -> Cost {
    if n == 0 || l == 0 {
        return Cost::ZERO;
    }
    if l <= 4 {
        return ot_cost(n, 1 << l, 1, pr);
    }
    let n8 = pad8(n);
    let q = l.div_ceil(4) as u64;
    let r = l % 4;
    let mut c = if r == 0 {
        ot_cost(q * n8, 16, 1, pr)
    } else {
        ot_cost((q - 1) * n8, 16, 1, pr).then(ot_cost(n8, 1 << r, 1, pr))
    };
    c = c.then(ot_calls::all_offline(ot_cost((q - 1) * n8 / 2, 16, 2, pr)));
    let mut i = 1;
    while i < q {
        let nodes = (0..q).step_by(2 * i as usize).filter(|j| j + i < q).count() as u64;
        c = c.then(ot_calls::exchange(4 * nodes * n8 / 8));
        i *= 2;
    }
    c
}

/// Π_Eq: eq XOR shares; each party passes its own l-bit inputs.
pub fn run(p: &mut Party, data: &[u64], l: u32) -> ProtoResult<Vec<u8>> {
    if l > 64 {
        return Err(crate::param(
            "l",
            format!("bit-width {l} is out of range (accepted: 0..=64)"),
        ));
    }
    let n = data.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    if l == 0 {
        let e = if p.is_alice() { 1 } else { 0 };
        return Ok(vec![e; n]);
    }
    let m = pq_kernels::ring::mask(l);
    if l <= 4 {
        return single_kkot_leaf(p, data, l, |x, k| x == k);
    }
    let n8 = pad8(n as u64) as usize;
    let q = l.div_ceil(4) as usize;
    let kk16 = if l.is_multiple_of(4) { q } else { q - 1 };
    let (_, mut eq) = leaves(p, data, m, n8, q, kk16, 1)?;
    let tr = triples_std(p, (q - 1) * n8)?;
    let mut used = 0usize;
    let mut i = 1;
    while i < q {
        let mut jobs = Vec::new();
        let mut nodes = Vec::new();
        let mut j = 0;
        while j + i < q {
            let s = used..used + n8;
            used += n8;
            jobs.push(AndJob {
                x: eq[j].clone(),
                y: eq[j + i].clone(),
                tx: tr.a[s.clone()].to_vec(),
                ty: tr.b[s.clone()].to_vec(),
                c: tr.c[s].to_vec(),
            });
            nodes.push(j);
            j += 2 * i;
        }
        let z = and_level(p, &jobs, 2)?;
        for (k, &j) in nodes.iter().enumerate() {
            eq[j] = z[k].clone();
        }
        i *= 2;
    }
    let mut e = std::mem::take(&mut eq[0]);
    e.truncate(n);
    Ok(e)
}
