//! Base OT: Chou–Orlandi "simplest OT" over Ristretto255.
//!
//! Wire (one call of `n` OTs):
//! 1. sender → receiver: `A = a·G` (32 bytes);
//! 2. receiver → sender: `B_i = b_i·G + c_i·A` for every OT (32·n bytes, one message).
//!
//! Keys: the receiver gets `k_{c_i} = KDF(A, B_i, i, b_i·A)`; the sender derives
//! `k_0 = KDF(A, B_i, i, a·B_i)` and `k_1 = KDF(A, B_i, i, a·(B_i − A))`. The KDF is BLAKE3 in
//! derive-key mode over the transcript (A, B_i), the OT index and the shared point, truncated
//! to 128 bits. Points that do not decode canonically, and an identity `A`, are rejected with
//! [`OtError::InvalidPoint`].

use super::{OtError, OtResult};
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoBasepointTable, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use pq_kernels::aes::Prg;
use pq_kernels::{Block, ct};
use pq_netsim::Channel;

const KDF_CONTEXT: &str = "PrivQuant-RS 2026-11 Chou-Orlandi base OT key derivation v1";

fn kdf(a: &[u8; 32], b: &[u8; 32], idx: u64, p: &RistrettoPoint) -> Block {
    let mut h = blake3::Hasher::new_derive_key(KDF_CONTEXT);
    h.update(a);
    h.update(b);
    h.update(&idx.to_le_bytes());
    h.update(p.compress().as_bytes());
    let out = h.finalize();
    let mut k = [0u8; 16];
    k.copy_from_slice(&out.as_bytes()[..16]);
    Block::from_bytes(k)
}

fn random_scalar(prg: &mut Prg) -> Scalar {
    let mut w = [0u8; 64];
    prg.fill_bytes(&mut w);
    Scalar::from_bytes_mod_order_wide(&w)
}

fn decode(bytes: &[u8]) -> OtResult<RistrettoPoint> {
    let c = CompressedRistretto::from_slice(bytes).map_err(|_| OtError::InvalidPoint)?;
    c.decompress().ok_or(OtError::InvalidPoint)
}

/// Base-OT sender: returns `n` pairs of random 128-bit keys `(k0, k1)`.
pub fn base_ot_send<C: Channel + ?Sized>(
    ch: &mut C,
    n: usize,
    prg: &mut Prg,
) -> OtResult<Vec<(Block, Block)>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let a = random_scalar(prg);
    let big_a = RistrettoPoint::mul_base(&a);
    let a_bytes = big_a.compress().to_bytes();
    ch.send(&a_bytes)?;
    let mut msg = vec![0u8; 32 * n];
    ch.recv(&mut msg)?;
    let a_a = a * big_a;
    let mut out = Vec::with_capacity(n);
    for (i, bb) in msg.chunks_exact(32).enumerate() {
        let b_pt = decode(bb)?;
        let mut b_bytes = [0u8; 32];
        b_bytes.copy_from_slice(bb);
        let ab = a * b_pt;
        let k0 = kdf(&a_bytes, &b_bytes, i as u64, &ab);
        let k1 = kdf(&a_bytes, &b_bytes, i as u64, &(ab - a_a));
        out.push((k0, k1));
    }
    Ok(out)
}

/// Base-OT receiver: returns `k_{c_i}` for every choice bit `c_i`.
pub fn base_ot_recv<C: Channel + ?Sized>(
    ch: &mut C,
    choices: &[bool],
    prg: &mut Prg,
) -> OtResult<Vec<Block>> {
    let n = choices.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let mut a_bytes = [0u8; 32];
    ch.recv(&mut a_bytes)?;
    let big_a = decode(&a_bytes)?;
    if big_a == RistrettoPoint::identity() {
        return Err(OtError::InvalidPoint);
    }
    // b·A for many b: a precomputed table for A pays off from a few dozen OTs on.
    let table = RistrettoBasepointTable::create(&big_a);
    let mut msg = Vec::with_capacity(32 * n);
    let mut shared = Vec::with_capacity(n);
    for &c in choices {
        let b = random_scalar(prg);
        let b_g = RistrettoPoint::mul_base(&b);
        let p0 = b_g.compress().to_bytes();
        let p1 = (b_g + big_a).compress().to_bytes();
        // c ? p1 : p0, by masking rather than branching on the secret bit.
        let mut sel = [0u8; 32];
        ct::select_bytes(c as u8, &p0, &p1, &mut sel);
        msg.extend_from_slice(&sel);
        shared.push(&table * &b);
    }
    ch.send(&msg)?;
    ch.flush()?;
    let mut out = Vec::with_capacity(n);
    for (i, (p, bb)) in shared.iter().zip(msg.chunks_exact(32)).enumerate() {
        let mut b_bytes = [0u8; 32];
        b_bytes.copy_from_slice(bb);
        out.push(kdf(&a_bytes, &b_bytes, i as u64, p));
    }
    Ok(out)
}
