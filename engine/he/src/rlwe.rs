//! Secret-key RLWE over Z_Q[x]/(x^N + 1) with plaintext modulus t = 2^l and coefficient
//! encoding, as the HE linear option uses it:
//!
//! * the client encrypts under its secret key; the uniform half `a` of every ciphertext is
//!   expanded from a public seed (in the NTT domain), so only the `b` half travels
//!   ([`He::encrypt`], ⌈log2 Q⌉ bits per coefficient);
//! * the server adds its own share to the plaintext part ([`He::server_input`]), multiplies by
//!   plaintext polynomials and accumulates ([`He::mul_acc`]), then [`He::respond`]: it
//!   floods the noise, subtracts its mask R, switches the modulus down to q0, re-randomises
//!   there with the client's public key (a fresh encryption of zero modulo q0), and drops the
//!   low-order bits of `a` and of the output coefficients of `b` (the others are not sent);
//! * the client decrypts the output coefficients ([`He::decrypt`]).
//!
//! Encoding: m ∈ Z_t is ⌊Q·m/t⌉. Because Q/t·(v mod t) ≡ Q/t·v (mod Q) for any integer v,
//! products by integer polynomials and sums stay encodings of the exact integer result mod t,
//! with an error of at most (rounding ½ per input coefficient) × (the L1 norm of the plaintext
//! multiplier): no multiple of (Q mod t) ever appears. [`crate::noise`] bounds every term.
//!
//! The decryption phase of (a, b) is b + a·s. All polynomials are stored limb-major: limb 0
//! (mod q0) coefficients, then limb 1 (mod q1).

use crate::params::{ETA, MAX_L, Params};
use pq_kernels::Block;
use pq_kernels::aes::Prg;
use tfhe_ntt::prime64::Plan;

/// Errors of the HE layer (bad sizes or parameters handed in by a caller).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeError {
    /// The NTT could not be planned for these parameters.
    #[error("no NTT for N = {n} modulo {q}")]
    Ntt {
        /// Ring degree.
        n: usize,
        /// Modulus.
        q: u64,
    },
    /// A buffer or parameter does not have the size the parameters require.
    #[error("{what}: {detail}")]
    Shape {
        /// Which argument.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
}

fn shape(what: &'static str, detail: impl Into<String>) -> HeError {
    HeError::Shape {
        what,
        detail: detail.into(),
    }
}

/// Which ciphertext: the seed its uniform half `a` is expanded from, and its index under that
/// seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtId {
    /// The public seed of the layer.
    pub seed: Block,
    /// The ciphertext's index under the seed.
    pub index: u64,
}

/// A client's secret key: the ternary s, in the NTT domain modulo each prime.
pub struct SecretKey {
    s0: Vec<u64>,
    s1: Vec<u64>,
}

/// A ciphertext on the server, both halves in the NTT domain (limb-major, 2N values each).
pub struct InputCt {
    a: Vec<u64>,
    b: Vec<u64>,
}

/// A plaintext polynomial in the NTT domain (limb-major, 2N values).
pub struct PlainNtt(Vec<u64>);

/// An accumulator Σ pt·ct on the server (NTT domain).
pub struct Acc {
    a: Vec<u64>,
    b: Vec<u64>,
}

/// The client's public key for re-randomisation: an encryption of zero modulo q0 (the
/// response's modulus), NTT domain, N values per half.
pub struct PublicKey {
    a: Vec<u64>,
    b: Vec<u64>,
}

/// How a response is shrunk before it is sent (from [`crate::noise::LayerNoise`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shrink {
    /// Plaintext width: t = 2^l.
    pub l: u32,
    /// Flooding noise: uniform on [−2^flood_bits, 2^flood_bits), added to every sent
    /// coefficient of b at modulus Q.
    pub flood_bits: u32,
    /// Low-order bits of each coefficient of a (mod q0) that are dropped.
    pub drop_a: u32,
    /// Low-order bits of each sent coefficient of b (mod q0) that are dropped.
    pub drop_b: u32,
}

impl Shrink {
    /// Bits sent per coefficient of a.
    pub fn bits_a(&self, p: &Params) -> u32 {
        p.q0_bits() - self.drop_a
    }
    /// Bits sent per output coefficient of b.
    pub fn bits_b(&self, p: &Params) -> u32 {
        p.q0_bits() - self.drop_b
    }
}

/// A response ciphertext as sent: the N high parts of a, and the high parts of b at the
/// output coefficients (in the order the caller listed them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// ⌊a/2^drop_a⌉ for every coefficient (mod q0 after the switch).
    pub a: Vec<u64>,
    /// ⌊b/2^drop_b⌉ at the output coefficients.
    pub b: Vec<u64>,
}

/// The RLWE context: parameters, NTT plans and CRT constants. Shared by both parties; `Sync`.
pub struct He {
    p: Params,
    plans: [Plan; 2],
    /// q0^{-1} mod q1 (CRT composition).
    q0_inv_q1: u64,
    /// q1^{-1} mod q0 (modulus switch).
    q1_inv_q0: Shoup,
}

#[inline]
fn mulmod(a: u64, b: u64, q: u64) -> u64 {
    ((a as u128 * b as u128) % q as u128) as u64
}
#[inline]
fn addmod(a: u64, b: u64, q: u64) -> u64 {
    let s = a + b;
    if s >= q { s - q } else { s }
}
#[inline]
fn submod(a: u64, b: u64, q: u64) -> u64 {
    if a >= b { a - b } else { a + q - b }
}
/// A signed value reduced into [0, q) (fast path for |v| < q).
#[inline]
fn from_i128(v: i128, q: u64) -> u64 {
    let qi = q as i128;
    if (0..qi).contains(&v) {
        v as u64
    } else if v < 0 && v > -qi {
        (v + qi) as u64
    } else {
        v.rem_euclid(qi) as u64
    }
}

/// Shoup's precomputation for multiplying by the constant `w` < q modulo q < 2^63.
#[derive(Clone, Copy)]
struct Shoup {
    w: u64,
    wp: u64,
    q: u64,
}

impl Shoup {
    fn new(w: u64, q: u64) -> Shoup {
        Shoup {
            w,
            wp: (((w as u128) << 64) / q as u128) as u64,
            q,
        }
    }
    /// a·w mod q for a < 2^64 (one conditional subtraction after the estimate).
    #[inline]
    fn mul(&self, a: u64) -> u64 {
        let est = ((a as u128 * self.wp as u128) >> 64) as u64;
        let r = a
            .wrapping_mul(self.w)
            .wrapping_sub(est.wrapping_mul(self.q));
        if r >= self.q { r - self.q } else { r }
    }
}

fn powmod(mut a: u64, mut e: u64, q: u64) -> u64 {
    let mut r = 1u64;
    while e > 0 {
        if e & 1 == 1 {
            r = mulmod(r, a, q);
        }
        a = mulmod(a, a, q);
        e >>= 1;
    }
    r
}

/// Fill `out` with uniform values in [0, q) by rejection from 64-bit words of `prg`.
fn uniform_mod(prg: &mut Prg, q: u64, out: &mut [u64]) {
    let bits = 64 - (q - 1).leading_zeros();
    let m = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    from_words(prg, out, |w| {
        let v = w & m;
        (v < q).then_some(v)
    });
}

/// Fill `out` from the 64-bit words of `prg`'s stream, drawn in batches of 64 blocks: `f`
/// maps a word to a value, or rejects it with `None`.
fn from_words<T>(prg: &mut Prg, out: &mut [T], mut f: impl FnMut(u64) -> Option<T>) {
    let mut buf = [Block::ZERO; 64];
    let mut i = 0;
    while i < out.len() {
        prg.fill_blocks(&mut buf);
        for b in buf {
            for w in [b.lo(), b.hi()] {
                if i < out.len()
                    && let Some(v) = f(w)
                {
                    out[i] = v;
                    i += 1;
                }
            }
        }
    }
}

/// Uniform ternary coefficients in {−1, 0, 1}, by rejection from bytes (255 rejected).
pub(crate) fn ternary(prg: &mut Prg, out: &mut [i8]) {
    let mut buf = [0u8; 1024];
    let mut i = 0;
    while i < out.len() {
        prg.fill_bytes(&mut buf);
        for &x in buf.iter() {
            if x < 255 && i < out.len() {
                out[i] = (x % 3) as i8 - 1;
                i += 1;
            }
        }
    }
}

/// Centred-binomial CB(η) coefficients: popcount of η bits minus popcount of η bits.
pub(crate) fn cbd(prg: &mut Prg, out: &mut [i32]) {
    let m = (1u64 << ETA) - 1;
    from_words(prg, out, |w| {
        Some((w & m).count_ones() as i32 - ((w >> ETA) & m).count_ones() as i32)
    });
}

impl He {
    /// The context for `p`.
    pub fn new(p: Params) -> Result<He, HeError> {
        let plan = |q: u64| Plan::try_new(p.n, q).ok_or(HeError::Ntt { n: p.n, q });
        let plans = [plan(p.q0)?, plan(p.q1)?];
        Ok(He {
            p,
            plans,
            q0_inv_q1: powmod(p.q0 % p.q1, p.q1 - 2, p.q1),
            q1_inv_q0: Shoup::new(powmod(p.q1 % p.q0, p.q0 - 2, p.q0), p.q0),
        })
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.p
    }

    fn q(&self, limb: usize) -> u64 {
        if limb == 0 { self.p.q0 } else { self.p.q1 }
    }

    fn check_l(l: u32) -> Result<(), HeError> {
        if !(1..=MAX_L).contains(&l) {
            return Err(shape(
                "l",
                format!("plaintext width {l} outside 1..={MAX_L}"),
            ));
        }
        Ok(())
    }

    /// ⌊Q·m/t⌉ mod q_limb for m < t = 2^l, as the pair (⌊Q/t⌋ mod q, Q mod t) is applied:
    /// Q·m/t = ⌊Q/t⌋·m + (Q mod t)·m/t.
    fn encoder(&self, l: u32) -> Encoder {
        let q = self.p.q();
        let hi = q >> l;
        Encoder {
            l,
            hi: [
                Shoup::new((hi % self.p.q0 as u128) as u64, self.p.q0),
                Shoup::new((hi % self.p.q1 as u128) as u64, self.p.q1),
            ],
            lo: q & ((1u128 << l) - 1),
        }
    }

    /// The uniform half `a` of ciphertext `index` under `seed`, in the NTT domain.
    pub fn expand_a(&self, seed: Block, index: u64) -> Vec<u64> {
        let n = self.p.n;
        let mut a = vec![0u64; 2 * n];
        let mut prg = Prg::new(seed);
        prg.set_counter((index as u128) << 64);
        let (a0, a1) = a.split_at_mut(n);
        uniform_mod(&mut prg, self.p.q0, a0);
        uniform_mod(&mut prg, self.p.q1, a1);
        a
    }

    /// A fresh secret key from `prg` (which the caller seeds from the OS).
    pub fn keygen(&self, prg: &mut Prg) -> SecretKey {
        let n = self.p.n;
        let mut s = vec![0i8; n];
        ternary(prg, &mut s);
        let to = |limb: usize| {
            let q = self.q(limb);
            let mut v: Vec<u64> = s.iter().map(|&x| from_i128(x as i128, q)).collect();
            self.plans[limb].fwd(&mut v);
            v
        };
        SecretKey {
            s0: to(0),
            s1: to(1),
        }
    }

    /// Encrypt `m` (coefficients mod t = 2^l, at most N of them, the rest zero) as ciphertext
    /// `id`: writes the `b` half, coefficient form, limb-major (2N values) to
    /// `b_out`. The caller sends it with [`He::compose`].
    pub fn encrypt(
        &self,
        sk: &SecretKey,
        id: CtId,
        m: &[u64],
        l: u32,
        prg: &mut Prg,
        b_out: &mut [u64],
    ) -> Result<(), HeError> {
        Self::check_l(l)?;
        let n = self.p.n;
        if m.len() > n || b_out.len() != 2 * n {
            return Err(shape("encrypt", "message longer than N or output not 2N"));
        }
        let enc = self.encoder(l);
        let mut e = vec![0i32; n];
        cbd(prg, &mut e);
        let mut a = self.expand_a(id.seed, id.index);
        for limb in 0..2 {
            let q = self.q(limb);
            let s = if limb == 0 { &sk.s0 } else { &sk.s1 };
            let al = &mut a[limb * n..(limb + 1) * n];
            self.plans[limb].mul_assign_normalize(al, s);
            self.plans[limb].inv(al);
            let bl = &mut b_out[limb * n..(limb + 1) * n];
            for j in 0..n {
                let mj = m.get(j).copied().unwrap_or(0);
                let v = addmod(from_i128(e[j] as i128, q), enc.encode(mj, limb), q);
                bl[j] = submod(v, al[j], q);
            }
        }
        Ok(())
    }

    /// CRT-compose a limb-major polynomial (2N residues) into N values mod Q (each
    /// < 2^[`Params::q_bits`]), the wire form of a client ciphertext's `b`.
    pub fn compose(&self, limbs: &[u64], out: &mut [u128]) {
        let n = self.p.n;
        for j in 0..n.min(out.len()) {
            out[j] = self.crt(limbs[j], limbs[n + j]);
        }
    }

    /// The value in [0, Q) with residues r0 mod q0 and r1 mod q1 (Garner).
    #[inline]
    fn crt(&self, r0: u64, r1: u64) -> u128 {
        let (q0, q1) = (self.p.q0, self.p.q1);
        let k = mulmod(submod(r1, r0 % q1, q1), self.q0_inv_q1, q1);
        r0 as u128 + q0 as u128 * k as u128
    }

    /// The wire form of a composed coefficient c (< Q) with its `d` low bits dropped:
    /// ⌊c/2^d⌉, at most ⌈log2 Q⌉ − d bits. [`He::unround`] takes it back to within 2^(d−1).
    pub fn round(&self, c: u128, d: u32) -> u128 {
        if d == 0 {
            c
        } else {
            (c + (1u128 << (d - 1))) >> d
        }
    }

    /// v·2^d mod Q: a coefficient rounded by [`He::round`], back in Z_Q. A value that no
    /// rounding produces (above ⌈Q/2^d⌉) is refused.
    pub fn unround(&self, v: u128, d: u32) -> Result<u128, HeError> {
        let q = self.p.q();
        if d >= 64 || v > (q >> d) + 1 {
            return Err(shape("ciphertext", "a rounded coefficient is out of range"));
        }
        Ok((v << d) % q)
    }

    /// The inverse of [`He::compose`]: N values mod Q into 2N residues. Values ≥ Q are
    /// refused (a peer's garbage).
    pub fn decompose(&self, vals: &[u128], limbs: &mut [u64]) -> Result<(), HeError> {
        let n = self.p.n;
        if vals.len() != n || limbs.len() != 2 * n {
            return Err(shape("decompose", "need N values and 2N residues"));
        }
        let q = self.p.q();
        for (j, &v) in vals.iter().enumerate() {
            if v >= q {
                return Err(shape("ciphertext", "a coefficient is not below Q"));
            }
            limbs[j] = (v % self.p.q0 as u128) as u64;
            limbs[n + j] = (v % self.p.q1 as u128) as u64;
        }
        Ok(())
    }

    /// The server's view of ciphertext `index` under `seed`: `b` (residues, as decomposed)
    /// plus the encoding of the server's own share `share` (mod t; `None` when the client
    /// holds the input in clear), both halves moved to the NTT domain.
    pub fn server_input(
        &self,
        seed: Block,
        index: u64,
        b: &[u64],
        share: Option<&[u64]>,
        l: u32,
    ) -> Result<InputCt, HeError> {
        Self::check_l(l)?;
        let n = self.p.n;
        if b.len() != 2 * n || share.is_some_and(|s| s.len() > n) {
            return Err(shape(
                "server_input",
                "b must be 2N residues, the share ≤ N",
            ));
        }
        let mut bb = b.to_vec();
        if let Some(sh) = share {
            let enc = self.encoder(l);
            for limb in 0..2 {
                let q = self.q(limb);
                for (j, &x) in sh.iter().enumerate() {
                    let v = &mut bb[limb * n + j];
                    *v = addmod(*v, enc.encode(x, limb), q);
                }
            }
        }
        for limb in 0..2 {
            self.plans[limb].fwd(&mut bb[limb * n..(limb + 1) * n]);
        }
        Ok(InputCt {
            a: self.expand_a(seed, index),
            b: bb,
        })
    }

    /// The client's public key: an encryption of zero modulo q0 only, ciphertext `index`
    /// under `seed` (its `a` is limb 0 of that ciphertext's expansion). Writes the N
    /// coefficients of `b` (each < q0, [`Params::q0_bits`] bits on the wire) to `b_out`.
    pub fn encrypt_pk(
        &self,
        sk: &SecretKey,
        seed: Block,
        index: u64,
        prg: &mut Prg,
        b_out: &mut [u64],
    ) -> Result<(), HeError> {
        let n = self.p.n;
        if b_out.len() != n {
            return Err(shape("encrypt_pk", "output must be N values"));
        }
        let mut e = vec![0i32; n];
        cbd(prg, &mut e);
        let q = self.p.q0;
        let mut a = self.expand_a(seed, index);
        let a0 = &mut a[..n];
        self.plans[0].mul_assign_normalize(a0, &sk.s0);
        self.plans[0].inv(a0);
        for ((b, &x), &ej) in b_out.iter_mut().zip(a0.iter()).zip(&e) {
            *b = submod(from_i128(ej as i128, q), x, q);
        }
        Ok(())
    }

    /// The client's public key as the server sees it: `b` (N values, each < q0) of the
    /// encryption of zero made by [`He::encrypt_pk`]. Values ≥ q0 are refused.
    pub fn public_key(&self, seed: Block, index: u64, b: &[u64]) -> Result<PublicKey, HeError> {
        let n = self.p.n;
        if b.len() != n {
            return Err(shape("public key", "need N values"));
        }
        if b.iter().any(|&v| v >= self.p.q0) {
            return Err(shape("public key", "a coefficient is not below q0"));
        }
        let mut a = self.expand_a(seed, index);
        a.truncate(n);
        let mut bb = b.to_vec();
        self.plans[0].fwd(&mut bb);
        Ok(PublicKey { a, b: bb })
    }

    /// A plaintext polynomial with small signed coefficients (at most N), to the NTT domain.
    pub fn plain(&self, coeffs: &[i64]) -> PlainNtt {
        let n = self.p.n;
        let mut v = vec![0u64; 2 * n];
        for limb in 0..2 {
            let q = self.q(limb);
            let vl = &mut v[limb * n..(limb + 1) * n];
            for (d, &c) in vl.iter_mut().zip(coeffs) {
                *d = from_i128(c as i128, q);
            }
            self.plans[limb].fwd(vl);
        }
        PlainNtt(v)
    }

    /// An empty accumulator.
    pub fn acc(&self) -> Acc {
        Acc {
            a: vec![0; 2 * self.p.n],
            b: vec![0; 2 * self.p.n],
        }
    }

    /// acc += pt · ct.
    pub fn mul_acc(&self, acc: &mut Acc, ct: &InputCt, pt: &PlainNtt) {
        let n = self.p.n;
        for limb in 0..2 {
            let r = limb * n..(limb + 1) * n;
            let plan = &self.plans[limb];
            plan.mul_accumulate(&mut acc.a[r.clone()], &ct.a[r.clone()], &pt.0[r.clone()]);
            plan.mul_accumulate(&mut acc.b[r.clone()], &ct.b[r.clone()], &pt.0[r]);
        }
    }

    /// Finish one output ciphertext: back to coefficients; at the output coefficients `used`
    /// flood b with uniform noise in [−2^flood_bits, 2^flood_bits) and subtract ⌊Q·R/t⌉ with
    /// R = `mask` (one value < t per output coefficient, the server's share); switch the
    /// modulus from Q to q0; re-randomise modulo q0 with `pk` (+ u·pk + (e1, e0), u ternary);
    /// keep the high parts. `prg` is the server's private randomness.
    pub fn respond(
        &self,
        mut acc: Acc,
        pk: &PublicKey,
        used: &[u32],
        mask: &[u64],
        sh: Shrink,
        prg: &mut Prg,
    ) -> Result<Response, HeError> {
        Self::check_l(sh.l)?;
        let n = self.p.n;
        if used.len() != mask.len() || used.iter().any(|&j| j as usize >= n) {
            return Err(shape(
                "respond",
                "one mask value per output coefficient < N",
            ));
        }
        if sh.flood_bits >= 120 || sh.drop_a >= self.p.q0_bits() || sh.drop_b >= self.p.q0_bits() {
            return Err(shape("respond", "shrink parameters out of range"));
        }
        for limb in 0..2 {
            let r = limb * n..(limb + 1) * n;
            let plan = &self.plans[limb];
            plan.inv(&mut acc.a[r.clone()]);
            plan.normalize(&mut acc.a[r.clone()]);
            plan.inv(&mut acc.b[r.clone()]);
            plan.normalize(&mut acc.b[r]);
        }
        // re-randomiser u·pk modulo q0, coefficient form
        let q0 = self.p.q0;
        let mut u = vec![0i8; n];
        ternary(prg, &mut u);
        let mut e = vec![0i32; 2 * n];
        cbd(prg, &mut e);
        let mut un: Vec<u64> = u.iter().map(|&x| from_i128(x as i128, q0)).collect();
        let plan = &self.plans[0];
        plan.fwd(&mut un);
        let mut ua = pk.a.clone();
        plan.mul_assign_normalize(&mut ua, &un);
        plan.inv(&mut ua);
        let mut ub = pk.b.clone();
        plan.mul_assign_normalize(&mut ub, &un);
        plan.inv(&mut ub);
        let enc = self.encoder(sh.l);
        let q1 = self.p.q1;
        // a: switch, + u·a_pk + e1
        let mut out_a = Vec::with_capacity(n);
        for j in 0..n {
            let v = self.switch(acc.a[j], acc.a[n + j]);
            let v = addmod(addmod(v, ua[j], q0), from_i128(e[j] as i128, q0), q0);
            out_a.push(round_shift(v, sh.drop_a));
        }
        // b at the output coefficients: + flood − ⌊Q·R/t⌉, switch, + u·b_pk + e0
        let mut out_b = Vec::with_capacity(used.len());
        let mut fl = vec![Block::ZERO; used.len()];
        prg.fill_blocks(&mut fl);
        let half = 1i128 << sh.flood_bits;
        for ((&j, &r), f) in used.iter().zip(mask).zip(fl) {
            let j = j as usize;
            // uniform on [−2^fb, 2^fb): the low fb+1 bits of a 128-bit block, minus 2^fb
            let fv = (f.0 & ((1u128 << (sh.flood_bits + 1)) - 1)) as i128 - half;
            let rm = r & ((1u64 << sh.l) - 1);
            let r0 = submod(from_i128(acc.b[j] as i128 + fv, q0), enc.encode(rm, 0), q0);
            let r1 = submod(
                from_i128(acc.b[n + j] as i128 + fv, q1),
                enc.encode(rm, 1),
                q1,
            );
            let v = self.switch(r0, r1);
            let v = addmod(addmod(v, ub[j], q0), from_i128(e[n + j] as i128, q0), q0);
            out_b.push(round_shift(v, sh.drop_b));
        }
        Ok(Response { a: out_a, b: out_b })
    }

    /// Modulus switch Q → q0 of one coefficient given by its residues: ⌊c/q1⌉ mod q0.
    #[inline]
    fn switch(&self, r0: u64, r1: u64) -> u64 {
        let (q0, q1) = (self.p.q0, self.p.q1);
        // r1 centred in (−q1/2, q1/2]; c − r1c is divisible by q1
        let d = if r1 > q1 / 2 {
            addmod(r0, (q1 - r1) % q0, q0)
        } else {
            submod(r0, r1 % q0, q0)
        };
        self.q1_inv_q0.mul(d)
    }

    /// Decrypt a response at its output coefficients `used` into `out` (values mod t).
    pub fn decrypt(
        &self,
        sk: &SecretKey,
        resp: &Response,
        used: &[u32],
        sh: Shrink,
        out: &mut [u64],
    ) -> Result<(), HeError> {
        Self::check_l(sh.l)?;
        let n = self.p.n;
        if resp.a.len() != n || resp.b.len() != used.len() || out.len() != used.len() {
            return Err(shape(
                "decrypt",
                "response does not match its output coefficients",
            ));
        }
        if used.iter().any(|&j| j as usize >= n) {
            return Err(shape("decrypt", "an output coefficient is ≥ N"));
        }
        let q0 = self.p.q0;
        let lim_a = 1u64 << (self.p.q0_bits() - sh.drop_a);
        let lim_b = 1u64 << (self.p.q0_bits() - sh.drop_b);
        if resp.a.iter().any(|&v| v >= lim_a) || resp.b.iter().any(|&v| v >= lim_b) {
            return Err(shape("response", "a coefficient is wider than its field"));
        }
        let mut c1: Vec<u64> = resp
            .a
            .iter()
            .map(|&v| ((v as u128) << sh.drop_a) as u64 % q0)
            .collect();
        self.plans[0].fwd(&mut c1);
        self.plans[0].mul_assign_normalize(&mut c1, &sk.s0);
        self.plans[0].inv(&mut c1);
        let t = 1u128 << sh.l;
        for ((o, &j), &hb) in out.iter_mut().zip(used).zip(&resp.b) {
            let c0 = ((hb as u128) << sh.drop_b) % q0 as u128;
            let phase = (c0 + c1[j as usize] as u128) % q0 as u128;
            // ⌊t·phase/q0⌉ mod t
            let m = (phase * t + q0 as u128 / 2) / q0 as u128;
            *o = (m % t) as u64;
        }
        Ok(())
    }

    /// Test support: the exact phase error of an accumulator before [`He::respond`], at
    /// modulus Q, against the expected messages `m` (mod t) at coefficients `used`: the
    /// largest |b + a·s − ⌊Q·m/t⌉| (centred mod Q).
    pub fn phase_error(&self, sk: &SecretKey, acc: &Acc, used: &[u32], m: &[u64], l: u32) -> u128 {
        let n = self.p.n;
        let mut ph = vec![0u64; 2 * n];
        for limb in 0..2 {
            let r = limb * n..(limb + 1) * n;
            let s = if limb == 0 { &sk.s0 } else { &sk.s1 };
            let mut a = acc.a[r.clone()].to_vec();
            self.plans[limb].mul_assign_normalize(&mut a, s);
            let q = self.q(limb);
            let mut b = acc.b[r.clone()].to_vec();
            self.plans[limb].inv(&mut b);
            self.plans[limb].normalize(&mut b);
            self.plans[limb].inv(&mut a);
            for (d, (x, y)) in ph[r].iter_mut().zip(a.iter().zip(&b)) {
                *d = addmod(*x, *y, q);
            }
        }
        let enc = self.encoder(l);
        let q = self.p.q();
        let mut worst = 0u128;
        for (&j, &mj) in used.iter().zip(m) {
            let j = j as usize;
            let r0 = submod(ph[j], enc.encode(mj, 0), self.p.q0);
            let r1 = submod(ph[n + j], enc.encode(mj, 1), self.p.q1);
            let v = self.crt(r0, r1);
            let d = if v > q / 2 { q - v } else { v };
            worst = worst.max(d);
        }
        worst
    }
}

/// ⌊v/2^d⌉ (the caller reconstructs v ≈ hi·2^d; |error| ≤ 2^(d−1)).
#[inline]
fn round_shift(v: u64, d: u32) -> u64 {
    if d == 0 {
        v
    } else {
        (v + (1u64 << (d - 1))) >> d
    }
}

/// ⌊Q·m/t⌉ mod each prime, for t = 2^l.
struct Encoder {
    l: u32,
    /// ⌊Q/t⌋ mod q_limb.
    hi: [Shoup; 2],
    /// Q mod t.
    lo: u128,
}

impl Encoder {
    #[inline]
    fn encode(&self, m: u64, limb: usize) -> u64 {
        let h = &self.hi[limb];
        // (Q mod t)·m/t < m < t ≤ 2^MAX_L < q: no reduction needed
        let frac = ((self.lo * m as u128 + (1u128 << (self.l - 1))) >> self.l) as u64;
        addmod(h.mul(m), frac, h.q)
    }
}
