//! RLWE round trips against a schoolbook negacyclic product mod t, and the measured noise
//! against the analysis' bound.

use pq_he::noise;
use pq_he::{He, Params};
use pq_kernels::Block;
use pq_kernels::aes::Prg;

/// Negacyclic product of `x` (mod 2^64) by signed `w` in Z[x]/(x^N+1), wrapping.
fn negacyclic(x: &[u64], w: &[i64], n: usize) -> Vec<u64> {
    let mut y = vec![0u64; n];
    for (i, &xi) in x.iter().enumerate() {
        if xi == 0 {
            continue;
        }
        for (j, &wj) in w.iter().enumerate() {
            if wj == 0 {
                continue;
            }
            let p = xi.wrapping_mul(wj as u64);
            let k = i + j;
            if k < n {
                y[k] = y[k].wrapping_add(p);
            } else {
                y[k - n] = y[k - n].wrapping_sub(p);
            }
        }
    }
    y
}

struct Case {
    l: u32,
    /// (number of nonzero weights per plaintext, |w| bound)
    nnz: usize,
    wmax: i64,
    inputs: usize,
    clear: bool,
    /// Low bits the client drops from its ciphertexts.
    drop_in: u32,
}

fn run(case: &Case, seed: u64) {
    // the smallest Q of the family that fits the case (the worst case: every weight at its
    // largest magnitude)
    let w_l1 = (case.nnz as u64) * case.wmax as u64 * case.inputs as u64;
    let n = Params::STD.n;
    let used: Vec<u32> = (0..n as u32).step_by(3).collect();
    let (p, an) = (0..Params::Q1.len())
        .filter_map(|i| {
            let p = Params::family(i)?;
            let an = noise::plan(
                &p,
                case.l,
                w_l1,
                case.clear,
                used.len() as u64,
                n as u64,
                case.drop_in,
            )?;
            Some((p, an))
        })
        .next()
        .expect("layer fits");
    let he = He::new(p).expect("plans");
    let mut rng = Prg::new(Block::from_u64s(seed, 99));
    let t = 1u64 << case.l;
    let mut client = Prg::new(Block::from_u64s(seed, 1));
    let mut server = Prg::new(Block::from_u64s(seed, 2));
    let sk = he.keygen(&mut client);
    let ct_seed = Block::from_u64s(seed, 3);
    // public key: ciphertext index 0 encrypting zero
    let mut pkb = vec![0u64; n];
    he.encrypt_pk(&sk, ct_seed, 0, &mut client, &mut pkb)
        .expect("pk");
    assert!(pkb.iter().all(|&v| v < p.q0));
    let pk = he.public_key(ct_seed, 0, &pkb).expect("pk");
    let mut acc = he.acc();
    let mut expect = vec![0u64; n];
    for i in 0..case.inputs {
        let xc: Vec<u64> = (0..n).map(|_| rng.next_u64() % t).collect();
        let xs: Vec<u64> = if case.clear {
            vec![0; n]
        } else {
            (0..n).map(|_| rng.next_u64() % t).collect()
        };
        let x: Vec<u64> = xc.iter().zip(&xs).map(|(a, b)| (a + b) % t).collect();
        let mut w = vec![0i64; n];
        for _ in 0..case.nnz {
            let pos = (rng.next_u64() % n as u64) as usize;
            let span = 2 * case.wmax as u64 + 1;
            w[pos] = (rng.next_u64() % span) as i64 - case.wmax;
        }
        let y = negacyclic(&x, &w, n);
        for (e, v) in expect.iter_mut().zip(y) {
            *e = e.wrapping_add(v);
        }
        let mut b = vec![0u64; 2 * n];
        he.encrypt(
            &sk,
            pq_he::CtId {
                seed: ct_seed,
                index: 1 + i as u64,
            },
            &xc,
            case.l,
            &mut client,
            &mut b,
        )
        .expect("encrypt");
        let share = (!case.clear).then_some(&xs[..]);
        // wire round trip of the ciphertext, with the client's dropped bits
        let mut wire = vec![0u128; n];
        he.compose(&b, &mut wire);
        if case.drop_in == 0 {
            let mut back = vec![0u64; 2 * n];
            he.decompose(&wire, &mut back).expect("decompose");
            assert_eq!(back, b);
        }
        for v in wire.iter_mut() {
            *v = he
                .unround(he.round(*v, case.drop_in), case.drop_in)
                .expect("unround");
        }
        let mut b = vec![0u64; 2 * n];
        he.decompose(&wire, &mut b).expect("decompose");
        // wire round trip of the ciphertext, with the client's dropped bits
        let mut wire = vec![0u128; n];
        he.compose(&b, &mut wire);
        if case.drop_in == 0 {
            let mut back = vec![0u64; 2 * n];
            he.decompose(&wire, &mut back).expect("decompose");
            assert_eq!(back, b);
        }
        for v in wire.iter_mut() {
            *v = he
                .unround(he.round(*v, case.drop_in), case.drop_in)
                .expect("unround");
        }
        let mut b = vec![0u64; 2 * n];
        he.decompose(&wire, &mut b).expect("decompose");
        let ct = he
            .server_input(ct_seed, 1 + i as u64, &b, share, case.l)
            .expect("input");
        he.mul_acc(&mut acc, &ct, &he.plain(&w));
    }
    let want: Vec<u64> = used.iter().map(|&j| expect[j as usize] % t).collect();
    // measured weight-dependent noise against B_E
    let err = he.phase_error(&sk, &acc, &used, &want, case.l);
    assert!(
        (err as f64) <= an.b_e,
        "phase error {err} above the bound {}",
        an.b_e
    );
    let mask: Vec<u64> = used.iter().map(|_| server.next_u64() % t).collect();
    let resp = he
        .respond(acc, &pk, &used, &mask, an.shrink, &mut server)
        .expect("respond");
    assert_eq!(resp.a.len(), n);
    assert!(resp.a.iter().all(|&v| v < 1 << an.shrink.bits_a(&p)));
    assert!(resp.b.iter().all(|&v| v < 1 << an.shrink.bits_b(&p)));
    let mut got = vec![0u64; used.len()];
    he.decrypt(&sk, &resp, &used, an.shrink, &mut got)
        .expect("decrypt");
    for (k, ((g, m), w)) in got.iter().zip(&mask).zip(&want).enumerate() {
        assert_eq!((g + m) % t, *w, "coefficient {}", used[k]);
    }
}

#[test]
fn round_trip_small_width_dense_weights() {
    run(
        &Case {
            l: 12,
            nnz: 300,
            wmax: 2,
            inputs: 3,
            clear: false,
            drop_in: 0,
        },
        1,
    );
}

#[test]
fn round_trip_wide_accumulator() {
    run(
        &Case {
            l: 24,
            nnz: 147,
            wmax: 128,
            inputs: 1,
            clear: true,
            drop_in: 9,
        },
        2,
    );
}

#[test]
fn round_trip_l1_and_many_inputs() {
    run(
        &Case {
            l: 1,
            nnz: 64,
            wmax: 1,
            inputs: 5,
            clear: false,
            drop_in: 3,
        },
        3,
    );
}

#[test]
fn decompose_refuses_values_above_q() {
    let p = Params::STD;
    let he = He::new(p).expect("plans");
    let mut v = vec![0u128; p.n];
    v[7] = p.q();
    let mut limbs = vec![0u64; 2 * p.n];
    assert!(he.decompose(&v, &mut limbs).is_err());
}

/// The largest ResNet50 layers' noise, measured against the bound: a 3×3×512 conv at 2-bit
/// weights (‖W‖₁ = 4608·2, 20-bit accumulator) and the 2048-input FC at 8-bit weights
/// (‖W‖₁ = 2048·128, 24-bit accumulator).
#[test]
fn largest_layers_stay_under_the_bound() {
    run(
        &Case {
            l: 20,
            nnz: 4608 / 2,
            wmax: 2,
            inputs: 2,
            clear: false,
            drop_in: 8,
        },
        4,
    );
    run(
        &Case {
            l: 24,
            nnz: 1024,
            wmax: 128,
            inputs: 2,
            clear: false,
            drop_in: 0,
        },
        5,
    );
}
