//! Property tests: random sizes, bit-widths and options for every IKNP/KKOT variant.

#![allow(clippy::needless_range_loop)]

use pq_kernels::ring::mask;
use pq_netsim::{Transport, run_pair};
use pq_ot::bytes;
use pq_ot::{IknpReceiver, IknpSender, KkotReceiver, KkotSender, OtOpts, seeded_prg};
use proptest::prelude::*;

fn opts(sci: bool) -> OtOpts {
    OtOpts {
        sci_padding: sci,
        ..OtOpts::DENSE
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn cot_and_got(n in 0usize..3000, l in 1u32..=64, sci: bool, seed: u64) {
        let o = opts(sci);
        let out = run_pair(
            Transport::Mem,
            move |ch| {
                let mut prg = seeded_prg(seed);
                let mut s = IknpSender::setup(ch, &mut prg).unwrap();
                let b0 = ch.meter().total().bytes_sent;
                let corr: Vec<u64> = (0..n).map(|_| prg.next_u64() & mask(l)).collect();
                let mut out0 = vec![0u64; n];
                s.send_cot(ch, &corr, l, o, &mut out0).unwrap();
                let m0: Vec<u64> = (0..n).map(|_| prg.next_u64() & mask(l)).collect();
                let m1: Vec<u64> = (0..n).map(|_| prg.next_u64() & mask(l)).collect();
                s.send_got(ch, &m0, &m1, l, o).unwrap();
                (corr, out0, m0, m1, ch.meter().total().bytes_sent - b0)
            },
            move |ch| {
                let mut prg = seeded_prg(!seed);
                let mut r = IknpReceiver::setup(ch, &mut prg).unwrap();
                let b0 = ch.meter().total().bytes_sent;
                let b: Vec<u8> = (0..n).map(|_| (prg.next_u64() & 1) as u8).collect();
                let mut out = vec![0u64; n];
                r.recv_cot(ch, &b, l, o, &mut out).unwrap();
                let mut got = vec![0u64; n];
                r.recv_got(ch, &b, l, o, &mut got).unwrap();
                (b, out, got, ch.meter().total().bytes_sent - b0)
            },
        )
        .unwrap();
        let (corr, out0, m0, m1, s_sent) = out.server;
        let (b, ro, g, c_sent) = out.client;
        for j in 0..n {
            let want = if b[j] == 1 { out0[j].wrapping_add(corr[j]) & mask(l) } else { out0[j] };
            prop_assert_eq!(ro[j], want);
            prop_assert_eq!(g[j], if b[j] == 1 { m1[j] } else { m0[j] });
        }
        let c1 = bytes::cot_bytes(n as u64, l, o);
        let c2 = bytes::got_bytes(n as u64, l, o);
        prop_assert_eq!(s_sent, c1.send_to_recv + c2.send_to_recv);
        prop_assert_eq!(c_sent, c1.recv_to_send + c2.recv_to_send);
    }

    #[test]
    fn kkot_random(n in 0usize..1500, nn in 2usize..=256, l in 1u32..=64, sci: bool, seed: u64) {
        let o = opts(sci);
        let out = run_pair(
            Transport::Mem,
            move |ch| {
                let mut prg = seeded_prg(seed);
                let mut s = KkotSender::setup(ch, &mut prg).unwrap();
                let b0 = ch.meter().total().bytes_sent;
                let msgs: Vec<u64> = (0..n * nn).map(|_| prg.next_u64() & mask(l)).collect();
                s.send(ch, &msgs, nn, l, o).unwrap();
                (msgs, ch.meter().total().bytes_sent - b0)
            },
            move |ch| {
                let mut prg = seeded_prg(!seed);
                let mut r = KkotReceiver::setup(ch, &mut prg).unwrap();
                let b0 = ch.meter().total().bytes_sent;
                let c: Vec<u8> = (0..n).map(|_| (prg.next_u64() % nn as u64) as u8).collect();
                let mut out = vec![0u64; n];
                r.recv(ch, &c, nn, l, o, &mut out).unwrap();
                (c, out, ch.meter().total().bytes_sent - b0)
            },
        )
        .unwrap();
        let (msgs, s_sent) = out.server;
        let (c, o2, c_sent) = out.client;
        for j in 0..n {
            prop_assert_eq!(o2[j], msgs[j * nn + c[j] as usize]);
        }
        let want = bytes::kkot_bytes(n as u64, nn as u64, l, o);
        prop_assert_eq!(s_sent, want.send_to_recv);
        prop_assert_eq!(c_sent, want.recv_to_send);
    }

    #[test]
    fn batched(n in 0usize..600, msgs in 1usize..40, l in 1u32..=64, sci: bool, seed: u64) {
        let o = opts(sci);
        let lens: Vec<u32> = (0..n).map(|j| 1 + ((l as usize + j) % 64) as u32).collect();
        let lens2 = lens.clone();
        let out = run_pair(
            Transport::Mem,
            move |ch| {
                let mut prg = seeded_prg(seed);
                let mut s = IknpSender::setup(ch, &mut prg).unwrap();
                let b0 = ch.meter().total().bytes_sent;
                let corr: Vec<u64> = (0..n * msgs).map(|i| prg.next_u64() & mask(lens[i / msgs])).collect();
                let mut out0 = vec![0u64; n * msgs];
                s.send_batched_cot(ch, &corr, msgs, &lens, o, &mut out0).unwrap();
                let m0: Vec<u64> = (0..n * msgs).map(|_| prg.next_u64() & mask(l)).collect();
                let m1: Vec<u64> = (0..n * msgs).map(|_| prg.next_u64() & mask(l)).collect();
                s.send_batched_got(ch, &m0, &m1, msgs, l, o).unwrap();
                (corr, out0, m0, m1, ch.meter().total().bytes_sent - b0)
            },
            move |ch| {
                let mut prg = seeded_prg(!seed);
                let mut r = IknpReceiver::setup(ch, &mut prg).unwrap();
                let b0 = ch.meter().total().bytes_sent;
                let b: Vec<u8> = (0..n).map(|_| (prg.next_u64() & 1) as u8).collect();
                let mut out = vec![0u64; n * msgs];
                r.recv_batched_cot(ch, &b, msgs, &lens2, o, &mut out).unwrap();
                let mut got = vec![0u64; n * msgs];
                r.recv_batched_got(ch, &b, msgs, l, o, &mut got).unwrap();
                (b, out, got, lens2, ch.meter().total().bytes_sent - b0)
            },
        )
        .unwrap();
        let (corr, out0, m0, m1, s_sent) = out.server;
        let (b, o2, g, lens, c_sent) = out.client;
        for i in 0..n * msgs {
            let j = i / msgs;
            let want = if b[j] == 1 { out0[i].wrapping_add(corr[i]) & mask(lens[j]) } else { out0[i] };
            prop_assert_eq!(o2[i], want);
            prop_assert_eq!(g[i], if b[j] == 1 { m1[i] } else { m0[i] });
        }
        let c1 = bytes::batched_cot_bytes(&lens, msgs as u64, o);
        let c2 = bytes::batched_got_bytes(n as u64, msgs as u64, l, o);
        prop_assert_eq!(s_sent, c1.send_to_recv + c2.send_to_recv);
        prop_assert_eq!(c_sent, c1.recv_to_send + c2.recv_to_send);
    }
}
