//! Π_Mill: the millionaires' comparison of CrypTFlow2 (Rathee et al., CCS 2020) as SCI runs it
//! (`MillionaireProtocol::compare`, EzPC `SCI/src/Millionaire/millionaire.h`, WAN_EXEC build):
//! XOR shares of 1{x_ALICE > x_BOB} for l-bit inputs held by each party.
//!
//! What it sends (`docs/sci-protocols.md` §Millionaire):
//! * l = 1: one IKNP chosen-message OT with 1-bit messages (ALICE sends);
//! * 2 ≤ l ≤ 4: one 1-of-2^l KKOT with 1-bit messages;
//! * l > 4: n padded to a multiple of 8; q = ⌈l/4⌉ radix-16 digits, **every** digit a 1-of-16
//!   KKOT with 2-bit messages (lt, eq) in one call; T = 2q − 2 − ⌈log2 q⌉ bit triples from one
//!   1-of-16 KKOT per 2 triples; then ⌈log2 q⌉ AND levels, each party opening 2 bits per AND
//!   (packed 8 per byte) at the same time.

use crate::ProtoResult;
use crate::ot_calls;
use crate::party::Party;
use crate::util::{clog2, exchange_bits, pad8, rand_bits};
use crate::{Cost, Profile, Role};

/// Leaf OTs: ALICE sends n 1-of-nn OTs with `l`-bit messages `msgs[i*nn + k]` (IKNP GOT when
/// nn = 2), BOB receives with `choices`. Nothing is sent for n = 0.
pub(crate) fn ot_send(p: &mut Party, msgs: &[u64], nn: usize, l: u32) -> ProtoResult<()> {
    if msgs.is_empty() {
        return Ok(());
    }
    let opts = p.opts();
    if nn == 2 {
        let m0: Vec<u64> = msgs.iter().step_by(2).copied().collect();
        let m1: Vec<u64> = msgs.iter().skip(1).step_by(2).copied().collect();
        p.ot.iknp_send.send_got(&mut *p.ch, &m0, &m1, l, opts)?;
    } else {
        ot_calls::one_of_n_send(p, msgs, nn, l)?;
    }
    Ok(())
}

/// The receiving side of [`ot_send`].
pub(crate) fn ot_recv(p: &mut Party, choices: &[u8], nn: usize, l: u32) -> ProtoResult<Vec<u64>> {
    let mut out = vec![0u64; choices.len()];
    if choices.is_empty() {
        return Ok(out);
    }
    let opts = p.opts();
    if nn == 2 {
        p.ot.iknp_recv
            .recv_got(&mut *p.ch, choices, l, opts, &mut out)?;
    } else {
        out = ot_calls::one_of_n_recv(p, choices, nn, l)?;
    }
    Ok(out)
}

/// Cost of [`ot_send`]/[`ot_recv`] (ALICE sends).
pub(crate) fn ot_cost(n: u64, nn: u64, l: u32, pr: Profile) -> Cost {
    if nn == 2 {
        ot_calls::got(Role::Server, n, l, pr)
    } else {
        ot_calls::one_of_n(Role::Server, n, nn, l, pr)
    }
}

/// XOR-shared bit triples (a, b, c = a·b), `count` even, from one 1-of-16 KKOT with 2-bit
/// messages per 2 triples (SCI `_16KKOT_to_4OT`; ALICE sends).
pub(crate) struct Triples {
    pub a: Vec<u8>,
    pub b: Vec<u8>,
    pub c: Vec<u8>,
}

pub(crate) fn triples_std(p: &mut Party, count: usize) -> ProtoResult<Triples> {
    debug_assert!(count.is_multiple_of(2));
    let a = rand_bits(p, count);
    let b = rand_bits(p, count);
    let pairs = count / 2;
    let c = if p.is_alice() {
        let c = rand_bits(p, count);
        let mut msgs = vec![0u64; pairs * 16];
        for t in 0..pairs {
            let (a0, b0, c0, a1, b1, c1) = (
                a[2 * t],
                b[2 * t],
                c[2 * t],
                a[2 * t + 1],
                b[2 * t + 1],
                c[2 * t + 1],
            );
            for j in 0..16u8 {
                let z0 = ((a0 ^ (j & 1)) & (b0 ^ ((j >> 1) & 1))) ^ c0;
                let z1 = ((a1 ^ ((j >> 2) & 1)) & (b1 ^ ((j >> 3) & 1))) ^ c1;
                msgs[t * 16 + j as usize] = (z0 | (z1 << 1)) as u64;
            }
        }
        ot_send(p, &msgs, 16, 2)?;
        c
    } else {
        let ch: Vec<u8> = (0..pairs)
            .map(|t| a[2 * t] | (b[2 * t] << 1) | (a[2 * t + 1] << 2) | (b[2 * t + 1] << 3))
            .collect();
        let r = ot_recv(p, &ch, 16, 2)?;
        let mut c = vec![0u8; count];
        for t in 0..pairs {
            c[2 * t] = (r[t] & 1) as u8;
            c[2 * t + 1] = ((r[t] >> 1) & 1) as u8;
        }
        c
    };
    Ok(Triples { a, b, c })
}

/// One AND of XOR-shared bit vectors with a triple: `x` pairs with `tx`, `y` with `ty`,
/// c = tx·ty.
pub(crate) struct AndJob {
    pub x: Vec<u8>,
    pub y: Vec<u8>,
    pub tx: Vec<u8>,
    pub ty: Vec<u8>,
    pub c: Vec<u8>,
}

/// Open e = x ⊕ tx and f = y ⊕ ty for every job in one simultaneous exchange (each party
/// sends `copies` copies: 1 for Π_Mill, 2 for SCI's duplicated openings) and finish the ANDs.
pub(crate) fn and_level(
    p: &mut Party,
    jobs: &[AndJob],
    copies: usize,
) -> ProtoResult<Vec<Vec<u8>>> {
    let total: usize = jobs.iter().map(|j| j.x.len()).sum();
    let mut ef = Vec::with_capacity(2 * total);
    for j in jobs {
        ef.extend(j.x.iter().zip(&j.tx).map(|(x, t)| x ^ t));
    }
    for j in jobs {
        ef.extend(j.y.iter().zip(&j.ty).map(|(y, t)| y ^ t));
    }
    let peer = exchange_bits(p, &ef, copies)?;
    let alice = p.is_alice() as u8;
    let mut out = Vec::with_capacity(jobs.len());
    let mut off = 0;
    for j in jobs {
        let n = j.x.len();
        let z = (0..n)
            .map(|i| {
                let e = ef[off + i] ^ peer[off + i];
                let f = ef[total + off + i] ^ peer[total + off + i];
                j.c[i] ^ (e & j.ty[i]) ^ (f & j.tx[i]) ^ (alice & e & f)
            })
            .collect();
        off += n;
        out.push(z);
    }
    Ok(out)
}

/// ANDs per level of the comparison tree over q digits (`full`: every node needs 2 ANDs, as
/// in compare_with_eq; otherwise nodes on the j = 0 path need only 1).
pub(crate) fn tree_levels(q: u64, full: bool) -> Vec<u64> {
    let mut v = Vec::new();
    let mut i = 1;
    while i < q {
        let mut ands = 0;
        let mut j = 0;
        while j + i < q {
            ands += if j == 0 && !full { 1 } else { 2 };
            j += 2 * i;
        }
        v.push(ands);
        i *= 2;
    }
    v
}

/// Cost of Π_Mill on n l-bit comparisons.
pub fn cost(n: u64, l: u32, pr: Profile) -> Cost {
    if n == 0 || l == 0 {
        return Cost::ZERO;
    }
    if l <= 4 {
        return ot_cost(n, 1 << l, 1, pr);
    }
    let n8 = pad8(n);
    let q = l.div_ceil(4) as u64;
    let t = 2 * q - 2 - clog2(q) as u64;
    let mut c =
        ot_cost(q * n8, 16, 2, pr).then(ot_calls::all_offline(ot_cost(t * n8 / 2, 16, 2, pr)));
    for ands in tree_levels(q, false) {
        c = c.then(ot_calls::exchange(2 * ands * n8 / 8));
    }
    c
}

/// Inputs of at most 4 bits need no tree: one 1-of-2^l KKOT with 1-bit messages. ALICE's
/// message k for her input x is `pred(x, k) ⊕ r` (r her random output share); BOB's index is
/// his input, so he receives `pred(x_ALICE, x_BOB) ⊕ r`. Shared by Π_Mill (`x > k`) and Π_Eq
/// (`x == k`).
pub(crate) fn single_kkot_leaf(
    p: &mut Party,
    data: &[u64],
    l: u32,
    pred: impl Fn(u64, u64) -> bool,
) -> ProtoResult<Vec<u8>> {
    let (n, m, nn) = (data.len(), pq_kernels::ring::mask(l), 1usize << l);
    if p.is_alice() {
        let r = rand_bits(p, n);
        let mut msgs = vec![0u64; n * nn];
        for i in 0..n {
            let x = data[i] & m;
            for k in 0..nn {
                msgs[i * nn + k] = (pred(x, k as u64) as u8 ^ r[i]) as u64;
            }
        }
        ot_send(p, &msgs, nn, 1)?;
        return Ok(r);
    }
    let ch: Vec<u8> = data.iter().map(|&x| (x & m) as u8).collect();
    Ok(ot_recv(p, &ch, nn, 1)?
        .into_iter()
        .map(|v| (v & 1) as u8)
        .collect())
}

/// Π_Mill: XOR shares of 1{x_ALICE > x_BOB}; each party passes its own l-bit inputs.
pub fn run(p: &mut Party, data: &[u64], l: u32) -> ProtoResult<Vec<u8>> {
    crate::check_bw("l", l)?;
    let n = data.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let m = pq_kernels::ring::mask(l);
    if l <= 4 {
        return single_kkot_leaf(p, data, l, |x, k| x > k);
    }
    let n8 = pad8(n as u64) as usize;
    let q = l.div_ceil(4) as usize;
    let (mut cmp, mut eq) = leaves(p, data, m, n8, q, q, 2)?;
    let t = 2 * q - 2 - clog2(q as u64) as usize;
    let tr = triples_std(p, t * n8)?;
    let mut used = 0usize;
    let mut take = |k: usize| {
        let r = (
            tr.a[used..used + k].to_vec(),
            tr.b[used..used + k].to_vec(),
            tr.c[used..used + k].to_vec(),
        );
        used += k;
        r
    };
    let mut i = 1;
    while i < q {
        let mut jobs = Vec::new();
        let mut nodes = Vec::new();
        let mut j = 0;
        while j + i < q {
            let (a, b, c) = take(n8);
            jobs.push(AndJob {
                x: cmp[j].clone(),
                y: eq[j + i].clone(),
                tx: a,
                ty: b,
                c,
            });
            if j != 0 {
                let (a, b, c) = take(n8);
                jobs.push(AndJob {
                    x: eq[j].clone(),
                    y: eq[j + i].clone(),
                    tx: a,
                    ty: b,
                    c,
                });
            }
            nodes.push(j);
            j += 2 * i;
        }
        let z = and_level(p, &jobs, 1)?;
        let mut zi = 0;
        for &j in &nodes {
            let hi = cmp[j + i].clone();
            cmp[j] = z[zi].iter().zip(&hi).map(|(a, b)| a ^ b).collect();
            zi += 1;
            if j != 0 {
                eq[j] = z[zi].clone();
                zi += 1;
            }
        }
        i *= 2;
    }
    cmp[0].truncate(n);
    Ok(std::mem::take(&mut cmp[0]))
}

/// Leaf OTs of the l > 4 comparisons: digit i of every input (radix 16, LSB first); the
/// first `kk16` digits go in one 1-of-16 KKOT call, the rest (at most one, the short top
/// digit of compare_with_eq / check_equality) in a 1-of-2^r call. Messages carry
/// (gt << 1 | eq) when `msg_bits` = 2, eq only when 1. Returns per-digit (gt, eq) shares.
pub(crate) type DigitBits = Vec<Vec<u8>>;

pub(crate) fn leaves(
    p: &mut Party,
    data: &[u64],
    m: u64,
    n8: usize,
    q: usize,
    kk16: usize,
    msg_bits: u32,
) -> ProtoResult<(DigitBits, DigitBits)> {
    let n = data.len();
    let l_top = 64 - m.leading_zeros() - 4 * (q as u32 - 1); // bits of the top digit
    let digit = |i: usize, j: usize| -> u8 {
        if j < n {
            ((data[j] & m) >> (4 * i)) as u8 & 0xF
        } else {
            0
        }
    };
    let groups: Vec<(usize, usize, usize)> = if kk16 == q {
        vec![(0, q, 16)]
    } else {
        vec![(0, kk16, 16), (kk16, q, 1usize << l_top)]
    };
    let mut cmp = vec![vec![0u8; n8]; q];
    let mut eq = vec![vec![0u8; n8]; q];
    if p.is_alice() {
        for &(d0, d1, nn) in &groups {
            let cnt = (d1 - d0) * n8;
            let rc = rand_bits(p, cnt);
            let re = rand_bits(p, cnt);
            let mut msgs = vec![0u64; cnt * nn];
            for i in d0..d1 {
                for j in 0..n8 {
                    let idx = (i - d0) * n8 + j;
                    let d = digit(i, j);
                    cmp[i][j] = rc[idx];
                    eq[i][j] = re[idx];
                    for k in 0..nn {
                        let e = (d == k as u8) as u8 ^ re[idx];
                        let g = (d > k as u8) as u8 ^ rc[idx];
                        msgs[idx * nn + k] = if msg_bits == 2 {
                            ((g << 1) | e) as u64
                        } else {
                            e as u64
                        };
                    }
                }
            }
            ot_send(p, &msgs, nn, msg_bits)?;
        }
    } else {
        for &(d0, d1, nn) in &groups {
            let ch: Vec<u8> = (d0..d1)
                .flat_map(|i| (0..n8).map(move |j| (i, j)))
                .map(|(i, j)| digit(i, j))
                .collect();
            let r = ot_recv(p, &ch, nn, msg_bits)?;
            for i in d0..d1 {
                for j in 0..n8 {
                    let v = r[(i - d0) * n8 + j];
                    eq[i][j] = (v & 1) as u8;
                    cmp[i][j] = if msg_bits == 2 {
                        ((v >> 1) & 1) as u8
                    } else {
                        0
                    };
                }
            }
        }
    }
    Ok((cmp, eq))
}
