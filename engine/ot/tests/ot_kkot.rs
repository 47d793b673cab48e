//! KKOT (1-of-N), base OT and OtPack tests.

#![allow(clippy::needless_range_loop)]

use pq_kernels::Block;
use pq_kernels::aes::Prg;
use pq_kernels::ring::mask;
use pq_netsim::channel::Role;
use pq_netsim::{Channel, Transport, run_pair};
use pq_ot::bytes::{self, OtBytes};
use pq_ot::{
    KkotReceiver, KkotSender, OtError, OtOpts, OtPack, base_ot_recv, base_ot_send, seeded_prg,
};

struct Side<T> {
    out: T,
    sent: u64,
}

fn kkot_call<S: Send, C: Send>(
    seed: u64,
    fs: impl FnOnce(&mut dyn Channel, &mut KkotSender, &mut Prg) -> S + Send,
    fc: impl FnOnce(&mut dyn Channel, &mut KkotReceiver, &mut Prg) -> C + Send,
) -> (Side<S>, Side<C>) {
    let out = run_pair(
        Transport::Mem,
        move |ch| {
            let mut prg = seeded_prg(seed);
            let mut s = KkotSender::setup(ch, &mut prg).unwrap();
            ch.flush().unwrap();
            let before = ch.meter().total();
            let out = fs(ch, &mut s, &mut prg);
            let d = ch.meter().total().since(&before);
            Side {
                out,
                sent: d.bytes_sent,
            }
        },
        move |ch| {
            let mut prg = seeded_prg(seed ^ 0x77);
            let mut r = KkotReceiver::setup(ch, &mut prg).unwrap();
            ch.flush().unwrap();
            let before = ch.meter().total();
            let out = fc(ch, &mut r, &mut prg);
            let d = ch.meter().total().since(&before);
            Side {
                out,
                sent: d.bytes_sent,
            }
        },
    )
    .unwrap();
    (out.server, out.client)
}

fn kkot_case(n: usize, nn: usize, l: u32, opts: OtOpts, seed: u64) {
    let (s, c) = kkot_call(
        seed,
        move |ch, snd, prg| {
            let msgs: Vec<u64> = (0..n * nn).map(|_| prg.next_u64() & mask(l)).collect();
            snd.send(ch, &msgs, nn, l, opts).unwrap();
            msgs
        },
        move |ch, rcv, prg| {
            let r: Vec<u8> = (0..n).map(|_| (prg.next_u64() % nn as u64) as u8).collect();
            let mut out = vec![0u64; n];
            rcv.recv(ch, &r, nn, l, opts, &mut out).unwrap();
            (r, out)
        },
    );
    let (msgs, (r, out)) = (s.out, c.out);
    for j in 0..n {
        assert_eq!(
            out[j],
            msgs[j * nn + r[j] as usize],
            "kkot n={n} N={nn} l={l} j={j}"
        );
        if l >= 32 {
            for x in 0..nn {
                if x != r[j] as usize {
                    assert_ne!(out[j], msgs[j * nn + x], "non-chosen message equals output");
                }
            }
        }
    }
    let want: OtBytes = bytes::kkot_bytes(n as u64, nn as u64, l, opts);
    assert_eq!(c.sent, want.recv_to_send);
    assert_eq!(s.sent, want.send_to_recv);
}

#[test]
fn kkot_correct_and_exact() {
    for &opts in &[OtOpts::DENSE, OtOpts::SCI] {
        for &n in &[0usize, 1, 127, 128, 129, 4097] {
            for (nn, l) in [
                (2usize, 1u32),
                (4, 1),
                (16, 2),
                (8, 2),
                (3, 5),
                (256, 8),
                (16, 9),
                (5, 64),
            ] {
                kkot_case(n, nn, l, opts, (n * 1000 + nn * 10 + l as usize) as u64);
            }
        }
    }
}

#[test]
fn kkot_golden() {
    let n = 65536;
    let (s, c) = kkot_call(
        5,
        move |ch, snd, _| {
            let msgs: Vec<u64> = (0..n * 16).map(|i| (i % 4) as u64).collect();
            snd.send(ch, &msgs, 16, 2, OtOpts::SCI).unwrap();
        },
        move |ch, rcv, _| {
            let r: Vec<u8> = (0..n).map(|j| (j % 16) as u8).collect();
            let mut out = vec![0u64; n];
            rcv.recv(ch, &r, 16, 2, OtOpts::SCI, &mut out).unwrap();
            for j in 0..n {
                assert_eq!(out[j], ((j * 16 + j % 16) % 4) as u64);
            }
        },
    );
    assert_eq!(s.sent + c.sent, 2_359_296);
}

/// A channel wrapper that records every byte this party receives.
struct Tap<'a> {
    inner: &'a mut dyn Channel,
    seen: Vec<u8>,
}

impl Channel for Tap<'_> {
    fn send(&mut self, msg: &[u8]) -> pq_netsim::error::Result<()> {
        self.inner.send(msg)
    }
    fn recv(&mut self, buf: &mut [u8]) -> pq_netsim::error::Result<()> {
        self.inner.recv(buf)?;
        self.seen.extend_from_slice(buf);
        Ok(())
    }
    fn recv_vec(&mut self, max: usize) -> pq_netsim::error::Result<Vec<u8>> {
        let v = self.inner.recv_vec(max)?;
        self.seen.extend_from_slice(&v);
        Ok(v)
    }
    fn flush(&mut self) -> pq_netsim::error::Result<()> {
        self.inner.flush()
    }
    fn meter(&self) -> &pq_netsim::Meter {
        self.inner.meter()
    }
    fn meter_mut(&mut self) -> &mut pq_netsim::Meter {
        self.inner.meter_mut()
    }
}

/// Pads: with all-zero messages the payload is the pads themselves. Indices differing in one
/// bit give unrelated pads (never equal, no fixed XOR relation across OTs); all pads of a run
/// are distinct; the receiver's output for the non-chosen indices differs from the messages.
#[test]
fn kkot_pads_unrelated() {
    let n = 2000;
    let nn = 256;
    let l = 64;
    let (_s, c) = kkot_call(
        10,
        move |ch, snd, _| {
            let msgs = vec![0u64; n * nn];
            snd.send(ch, &msgs, nn, l, OtOpts::DENSE).unwrap();
        },
        move |ch, rcv, prg| {
            let r: Vec<u8> = (0..n).map(|_| (prg.next_u64() % nn as u64) as u8).collect();
            let mut out = vec![0u64; n];
            let mut tap = Tap {
                inner: ch,
                seen: Vec::new(),
            };
            rcv.recv(&mut tap, &r, nn, l, OtOpts::DENSE, &mut out)
                .unwrap();
            (r, out, tap.seen)
        },
    );
    let (r, out, seen) = c.out;
    assert!(out.iter().all(|&x| x == 0), "messages were zero");
    assert_eq!(seen.len(), n * nn * 8);
    let pad = |j: usize, x: usize| {
        let o = (j * nn + x) * 8;
        u64::from_le_bytes(seen[o..o + 8].try_into().unwrap())
    };
    let mut all: Vec<u64> = (0..n * nn).map(|i| pad(i / nn, i % nn)).collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), n * nn, "pads repeat");
    for bit in 0..8 {
        for x in [0usize, 1, 77, 128, 255] {
            let y = x ^ (1 << bit);
            let mut diffs: Vec<u64> = (0..n).map(|j| pad(j, x) ^ pad(j, y)).collect();
            assert!(diffs.iter().all(|&d| d != 0), "equal pads for x={x} y={y}");
            diffs.sort_unstable();
            diffs.dedup();
            assert!(
                diffs.len() > n - 2,
                "fixed XOR relation between pads of {x} and {y}"
            );
        }
    }
    // what the receiver would compute for a wrong index is not the sender's pad: the chosen
    // pad is the only one it can unmask (its output is exactly 0 = the message).
    let _ = r;
}

#[test]
fn kkot_rejects_bad_choice() {
    let out = run_pair(
        Transport::Mem,
        |ch| {
            let mut prg = seeded_prg(1);
            KkotSender::setup(ch, &mut prg).map(|_| ())
        },
        |ch| {
            let mut prg = seeded_prg(2);
            let mut r = KkotReceiver::setup(ch, &mut prg).unwrap();
            let mut out = vec![0u64; 3];
            let e = r.recv(ch, &[0, 4, 1], 4, 2, OtOpts::DENSE, &mut out);
            assert!(matches!(
                e,
                Err(OtError::InvalidChoice {
                    index: 1,
                    value: 4,
                    n_choices: 4
                })
            ));
            let e = r.recv(ch, &[0, 0, 1], 1, 2, OtOpts::DENSE, &mut out);
            assert!(e.is_err());
        },
    )
    .unwrap();
    out.server.unwrap();
}

#[test]
fn base_ot_works_and_rejects_invalid_points() {
    let out = run_pair(
        Transport::Mem,
        |ch| {
            let mut prg = seeded_prg(1);
            base_ot_send(ch, 128, &mut prg).unwrap()
        },
        |ch| {
            let mut prg = seeded_prg(2);
            let c: Vec<bool> = (0..128).map(|i| (i * 7) % 3 == 0).collect();
            let k = base_ot_recv(ch, &c, &mut prg).unwrap();
            (c, k)
        },
    )
    .unwrap();
    let pairs = out.server;
    let (c, k) = out.client;
    for i in 0..128 {
        assert_eq!(k[i], if c[i] { pairs[i].1 } else { pairs[i].0 });
        assert_ne!(pairs[i].0, pairs[i].1);
    }
    assert_eq!(out.server_meter.total().bytes_sent, 32);
    assert_eq!(out.client_meter.total().bytes_sent, 32 * 128);

    // A non-canonical / invalid encoding from the sender is rejected by the receiver.
    for bad in [[0xffu8; 32], [0u8; 32], {
        let mut b = [0u8; 32];
        b[0] = 1; // the encoding 1 is not a valid (canonical, non-negative) Ristretto point
        b
    }] {
        let out = run_pair(
            Transport::Mem,
            move |ch| {
                ch.send(&bad).unwrap();
                ch.flush().unwrap();
            },
            |ch| {
                let mut prg = seeded_prg(2);
                base_ot_recv(ch, &[true, false], &mut prg)
            },
        )
        .unwrap();
        assert!(
            matches!(out.client, Err(OtError::InvalidPoint)),
            "accepted {bad:?}"
        );
    }
    // An invalid point from the receiver is rejected by the sender.
    let out = run_pair(
        Transport::Mem,
        |ch| {
            let mut prg = seeded_prg(1);
            base_ot_send(ch, 2, &mut prg)
        },
        |ch| {
            let mut a = [0u8; 32];
            ch.recv(&mut a).unwrap();
            let mut msg = vec![0u8; 64];
            msg[32..].copy_from_slice(&[0xff; 32]);
            ch.send(&msg).unwrap();
            ch.flush().unwrap();
        },
    )
    .unwrap();
    assert!(matches!(out.server, Err(OtError::InvalidPoint)));
}

#[test]
fn base_ot_time() {
    let t = std::time::Instant::now();
    let out = run_pair(
        Transport::Mem,
        |ch| base_ot_send(ch, 128, &mut seeded_prg(1)).unwrap().len(),
        |ch| {
            base_ot_recv(ch, &[true; 128], &mut seeded_prg(2))
                .unwrap()
                .len()
        },
    )
    .unwrap();
    assert_eq!(out.server, 128);
    eprintln!("128 base OTs: {:?}", t.elapsed());
}

#[test]
fn otpack_both_directions() {
    let out = run_pair(
        Transport::Mem,
        |ch| {
            let mut prg = seeded_prg(1);
            let mut p = OtPack::setup(ch, Role::Server, &mut prg).unwrap();
            let before = ch.meter().total();
            // server sends COT, receives GOT, sends KKOT, receives KKOT
            let mut out0 = vec![0u64; 100];
            p.iknp_send
                .send_cot(ch, &[5u64; 100], 8, OtOpts::SCI, &mut out0)
                .unwrap();
            let mut got = vec![0u64; 50];
            p.iknp_recv
                .recv_got(ch, &[1u8; 50], 12, OtOpts::SCI, &mut got)
                .unwrap();
            p.kkot_send
                .send(ch, &(0..40u64).collect::<Vec<_>>(), 4, 6, OtOpts::SCI)
                .unwrap();
            let mut k = vec![0u64; 10];
            p.kkot_recv
                .recv(ch, &[3u8; 10], 8, 8, OtOpts::SCI, &mut k)
                .unwrap();
            let d = ch.meter().total().since(&before);
            (p.setup_bytes, out0, got, k, d.bytes_sent + d.bytes_recv)
        },
        |ch| {
            let mut prg = seeded_prg(2);
            let mut p = OtPack::setup(ch, Role::Client, &mut prg).unwrap();
            let mut out = vec![0u64; 100];
            p.iknp_recv
                .recv_cot(ch, &[1u8; 100], 8, OtOpts::SCI, &mut out)
                .unwrap();
            p.iknp_send
                .send_got(ch, &[1u64; 50], &[2u64; 50], 12, OtOpts::SCI)
                .unwrap();
            let mut k = vec![0u64; 10];
            p.kkot_recv
                .recv(ch, &[2u8; 10], 4, 6, OtOpts::SCI, &mut k)
                .unwrap();
            p.kkot_send
                .send(
                    ch,
                    &(0..80u64).map(|x| x * 3).collect::<Vec<_>>(),
                    8,
                    8,
                    OtOpts::SCI,
                )
                .unwrap();
            (p.setup_bytes, out, k)
        },
    )
    .unwrap();
    let (ssetup, out0, got, k_s, traffic) = out.server;
    let (csetup, out, k_c) = out.client;
    assert_eq!(ssetup, csetup);
    // 2 × (32 + 32·128) + 2 × (32 + 32·256)
    assert_eq!(ssetup, 2 * (32 + 32 * 128) + 2 * (32 + 32 * 256));
    for j in 0..100 {
        assert_eq!(out[j], (out0[j] + 5) & 0xff);
    }
    assert!(got.iter().all(|&x| x == 2));
    assert!(
        k_c.iter()
            .enumerate()
            .all(|(j, &x)| x == (j * 4 + 2) as u64)
    );
    assert!(
        k_s.iter()
            .enumerate()
            .all(|(j, &x)| x == ((j * 8 + 3) * 3) as u64)
    );
    let want = bytes::cot_bytes(100, 8, OtOpts::SCI).total()
        + bytes::got_bytes(50, 12, OtOpts::SCI).total()
        + bytes::kkot_bytes(10, 4, 6, OtOpts::SCI).total()
        + bytes::kkot_bytes(10, 8, 8, OtOpts::SCI).total();
    assert_eq!(traffic, want);
    let _ = Block::ZERO;
}
