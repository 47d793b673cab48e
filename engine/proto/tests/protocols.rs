//! Protocols run directly (no benchmark runner): both parties on two threads over an
//! in-memory channel, the reconstructed output equal to the plaintext reference and the
//! measured bytes equal to the cost function.

use pq_netsim::Transport;

mod pools {
    use pq_kernels::ring::{mask, to_signed};
    use pq_netsim::Transport;
    use pq_proto::Profile;
    use pq_proto::party::run_parties;
    use pq_proto::sirnn::{avgpool, lut, maxpool};

    fn split(v: &[u64], l: u32, salt: u64) -> (Vec<u64>, Vec<u64>) {
        let r: Vec<u64> = (0..v.len() as u64)
            .map(|i| {
                (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt).wrapping_mul(0xbf58_476d_1ce4_e5b9)
                    & mask(l)
            })
            .collect();
        let o = v
            .iter()
            .zip(&r)
            .map(|(x, r)| x.wrapping_sub(*r) & mask(l))
            .collect();
        (r, o)
    }

    #[test]
    fn maxpool_and_avgpool() {
        for (rows, k2, l) in [
            (5usize, 4usize, 16u32),
            (3, 9, 32),
            (4, 1, 8),
            (0, 4, 16),
            (2, 4, 64),
        ] {
            // values with differences that fit in l bits: |x| < 2^(l-2)
            let x: Vec<u64> = (0..rows * k2)
                .map(|i| {
                    let v = ((i as i64 * 7919) % 97 - 48) << (l.min(12) - 7);
                    (v as u64) & mask(l)
                })
                .collect();
            let (xa, xb) = split(&x, l, 11);
            let wins = maxpool::row_windows(rows, k2);
            let o = run_parties(
                Transport::Mem,
                Profile::Sirnn,
                Some(2),
                |p| maxpool::run(p, &xa, &wins, l),
                |p| maxpool::run(p, &xb, &wins, l),
            )
            .expect("maxpool");
            let c = maxpool::cost(&vec![k2; rows], l, Profile::Sirnn);
            assert_eq!(o.bytes_server_to_client(), c.server_to_client);
            assert_eq!(o.bytes_client_to_server(), c.client_to_server);
            for r in 0..rows {
                let want = (0..k2)
                    .map(|j| to_signed(x[r * k2 + j], l))
                    .max()
                    .unwrap_or(0);
                assert_eq!(
                    o.server[r].wrapping_add(o.client[r]) & mask(l),
                    (want as u64) & mask(l)
                );
            }
            let shift = (k2 as f64).log2().floor() as u32;
            let o = run_parties(
                Transport::Mem,
                Profile::Sirnn,
                Some(3),
                |p| avgpool::run(p, &xa, rows, k2, l, shift),
                |p| avgpool::run(p, &xb, rows, k2, l, shift),
            )
            .expect("avgpool");
            let c = avgpool::cost(rows as u64, l, shift, Profile::Sirnn);
            assert_eq!(
                o.bytes_server_to_client() + o.bytes_client_to_server(),
                c.total()
            );
            for r in 0..rows {
                let s: i64 = (0..k2).map(|j| to_signed(x[r * k2 + j], l)).sum();
                let want = s / (1i64 << shift);
                assert_eq!(
                    o.server[r].wrapping_add(o.client[r]) & mask(l),
                    (want as u64) & mask(l)
                );
            }
        }
    }

    #[test]
    fn lookup_table() {
        for (n, bx, by) in [
            (10usize, 2u32, 1u32),
            (7, 4, 8),
            (3, 1, 13),
            (5, 8, 64),
            (0, 3, 3),
        ] {
            let nn = 1usize << bx;
            let table: Vec<u64> = (0..n * nn)
                .map(|i| (i as u64).wrapping_mul(0x1234_5677) & mask(by))
                .collect();
            let idx: Vec<u8> = (0..n).map(|i| ((i * 5 + 3) % nn) as u8).collect();
            let (t2, i2) = (table.clone(), idx.clone());
            let o = run_parties(
                Transport::Mem,
                Profile::Sirnn,
                Some(4),
                move |p| lut::run(p, &t2, &[], n, bx, by),
                move |p| lut::run(p, &[], &i2, n, bx, by),
            )
            .expect("lut");
            let c = lut::cost(n as u64, bx, by, Profile::Sirnn);
            assert_eq!(
                o.bytes_server_to_client() + o.bytes_client_to_server(),
                c.total()
            );
            for i in 0..n {
                assert_eq!(o.server[i] ^ o.client[i], table[i * nn + idx[i] as usize]);
            }
        }
    }
}

/// Every golden count of `docs/sci-protocols.md` §Golden byte totals, measured on the wire
/// (n = 65536 unless stated).
#[test]
fn fc_layer() {
    use pq_kernels::ring::{mask, to_signed};
    use pq_proto::party::run_parties;
    use pq_proto::sirnn::{fc, matmul};
    let (batch, inp, out, bwa, bwb) = (2usize, 37usize, 5usize, 6u32, 4u32);
    let a: Vec<u64> = (0..batch * inp)
        .map(|i| (i as u64 * 2654435761) & mask(bwa))
        .collect();
    let w: Vec<u64> = (0..inp * out)
        .map(|i| (i as u64 * 40503 + 7) & mask(bwb))
        .collect();
    let ra: Vec<u64> = (0..batch * inp)
        .map(|i| (i as u64 * 97 + 3) & mask(bwa))
        .collect();
    let aa = ra.clone();
    let ab: Vec<u64> = a
        .iter()
        .zip(&ra)
        .map(|(x, r)| x.wrapping_sub(*r) & mask(bwa))
        .collect();
    let w2 = w.clone();
    let fp = fc::FcParams {
        batch,
        inp,
        out,
        bwa,
        bwb,
    };
    let o = run_parties(
        Transport::Mem,
        pq_proto::Profile::Sirnn,
        Some(9),
        move |p| fc::run(p, &fp, &aa, &w2),
        move |p| fc::run(p, &fp, &ab, &[]),
    )
    .expect("fc");
    let mp = fp.matmul();
    let ai: Vec<i64> = a.iter().map(|&v| to_signed(v, bwa)).collect();
    let wi: Vec<i64> = w.iter().map(|&v| to_signed(v, bwb)).collect();
    let want = matmul::reference(&mp, &ai, &wi);
    let got: Vec<u64> = o
        .server
        .iter()
        .zip(&o.client)
        .map(|(x, y)| x.wrapping_add(*y) & mask(bwa + bwb))
        .collect();
    assert_eq!(got, want);
    let c = fc::cost(&fp, pq_proto::Profile::Sirnn);
    assert_eq!(o.bytes_server_to_client(), c.server_to_client);
    assert_eq!(o.bytes_client_to_server(), c.client_to_server);
}

/// Π_Trunc, logical variant (x unsigned), with and without known MSB.
#[test]
fn trunc_logical() {
    use pq_kernels::ring::mask;
    use pq_proto::party::run_parties;
    use pq_proto::sirnn::trunc;
    for (bw, s) in [(16u32, 7u32), (8, 1), (64, 13), (33, 32)] {
        for mk in [false, true] {
            let n = 41usize;
            let x: Vec<u64> = (0..n as u64)
                .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) & mask(bw))
                .collect();
            let xa: Vec<u64> = (0..n as u64)
                .map(|i| i.wrapping_mul(0xdead_beef_1234_5679) & mask(bw))
                .collect();
            let xb: Vec<u64> = x
                .iter()
                .zip(&xa)
                .map(|(v, r)| v.wrapping_sub(*r) & mask(bw))
                .collect();
            let msb: Vec<u8> = x.iter().map(|v| ((v >> (bw - 1)) & 1) as u8).collect();
            let ma: Vec<u8> = (0..n).map(|i| (i % 3 == 0) as u8).collect();
            let mb: Vec<u8> = ma.iter().zip(&msb).map(|(a, m)| a ^ m).collect();
            let o = run_parties(
                Transport::Mem,
                pq_proto::Profile::Sirnn,
                Some(12),
                move |p| trunc::run(p, &xa, bw, s, false, if mk { Some(&ma) } else { None }),
                move |p| trunc::run(p, &xb, bw, s, false, if mk { Some(&mb) } else { None }),
            )
            .expect("trunc");
            for ((a, b), v) in o.server.iter().zip(&o.client).zip(&x) {
                assert_eq!(
                    a.wrapping_add(*b) & mask(bw),
                    v >> s,
                    "bw {bw} s {s} mk {mk}"
                );
            }
            let c = trunc::cost(n as u64, bw, s, mk, pq_proto::Profile::Sirnn);
            assert_eq!(
                o.bytes_server_to_client() + o.bytes_client_to_server(),
                c.total()
            );
        }
    }
}
