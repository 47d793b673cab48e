//! Lanes: independent IKNP instances split from one setup, on their own channels and threads.

#![allow(clippy::needless_range_loop)]

use pq_kernels::Block;
use pq_netsim::{MemChannel, Transport, mem_pair, run_pair};
use pq_ot::lanes::{LanePool, lane_ranges, recv_rcot_lanes, send_rcot_lanes};
use pq_ot::{IknpReceiver, IknpSender, OtOpts, seeded_prg};

#[test]
fn ranges() {
    assert_eq!(lane_ranges(10, 3), vec![0..4, 4..7, 7..10]);
    assert_eq!(lane_ranges(0, 2), vec![0..0, 0..0]);
}

#[test]
fn rcot_on_lanes() {
    for k in [1usize, 2, 3] {
        let n = 50_001;
        let (mut sa, mut cb): (Vec<MemChannel>, Vec<MemChannel>) =
            (0..k).map(|_| mem_pair()).unzip();
        let out = run_pair(
            Transport::Mem,
            move |ch| {
                let mut prg = seeded_prg(1);
                let mut s = IknpSender::setup(ch, &mut prg).unwrap();
                let pool = LanePool::new(k, true).unwrap();
                let mut lanes = s.split_lanes(k);
                let mut q = vec![Block::ZERO; n];
                send_rcot_lanes(&pool, &mut lanes, &mut sa, &mut q).unwrap();
                // a second split gives unrelated lanes; the parent still works
                let mut lanes2 = s.split_lanes(k);
                let mut q2 = vec![Block::ZERO; 1000];
                send_rcot_lanes(&pool, &mut lanes2, &mut sa, &mut q2).unwrap();
                let mut out0 = vec![0u64; 10];
                s.send_cot(ch, &[1; 10], 8, OtOpts::SCI, &mut out0).unwrap();
                (q, q2, s.delta(), out0)
            },
            move |ch| {
                let mut prg = seeded_prg(2);
                let mut r = IknpReceiver::setup(ch, &mut prg).unwrap();
                let pool = LanePool::new(k, true).unwrap();
                let mut lanes = r.split_lanes(k);
                let mut b = vec![0u8; n];
                let mut t = vec![Block::ZERO; n];
                recv_rcot_lanes(&pool, &mut lanes, &mut cb, &mut b, &mut t).unwrap();
                let mut lanes2 = r.split_lanes(k);
                let mut b2 = vec![0u8; 1000];
                let mut t2 = vec![Block::ZERO; 1000];
                recv_rcot_lanes(&pool, &mut lanes2, &mut cb, &mut b2, &mut t2).unwrap();
                let mut out = vec![0u64; 10];
                r.recv_cot(ch, &[1; 10], 8, OtOpts::SCI, &mut out).unwrap();
                (b, t, b2, t2, out)
            },
        )
        .unwrap();
        let (q, q2, d, out0) = out.server;
        let (b, t, b2, t2, out) = out.client;
        for j in 0..n {
            assert_eq!(t[j], q[j] ^ d.and_bit(b[j] == 1), "k={k} j={j}");
        }
        for j in 0..1000 {
            assert_eq!(t2[j], q2[j] ^ d.and_bit(b2[j] == 1));
        }
        // lanes of the two splits are unrelated
        assert_ne!(q[0], q2[0]);
        for j in 0..10 {
            assert_eq!(out[j], (out0[j] + 1) & 0xff);
        }
    }
}
