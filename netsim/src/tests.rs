//! Tests of the channel layer (typed errors, accounting, streaming), the link model with an
//! injected clock, virtual time, and the proxy.

use crate::channel::{Channel, HELLO_LEN, Hello, Role};
use crate::clock::{Clock, ManualClock};
use crate::error::ChannelError;
use crate::link::{LinkSpec, Nanos, parse_links};
use crate::mem::mem_pair;
use crate::pair::{LinkOptions, PairOptions, Transport, run_pair, run_pair_linked};
use crate::proxy::Proxy;
use crate::shaped::ShapedChannel;
use crate::tcp::{FRAME_HEADER, TcpChannel, TcpOptions};
use crate::vtime::VirtualChannel;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

fn tcp_pair() -> (TcpChannel, TcpChannel) {
    let o = TcpOptions {
        idle_timeout: Some(Duration::from_secs(20)),
        ..Default::default()
    };
    TcpChannel::loopback_pair(o).unwrap()
}

/// A TcpChannel whose peer is a raw std socket the test writes bytes to.
fn raw_peer(opts: TcpOptions) -> (TcpChannel, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let raw = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let ch = TcpChannel::accept(&l, opts).unwrap();
    (ch, raw)
}

fn short_opts() -> TcpOptions {
    TcpOptions {
        idle_timeout: Some(Duration::from_secs(10)),
        ..Default::default()
    }
}

fn lk(s: &str) -> LinkSpec {
    LinkSpec::parse(s).unwrap()
}

mod errors {
    use super::*;

    #[test]
    fn closed_peer_mem() {
        let (mut a, mut b) = mem_pair();
        a.send(&[1, 2, 3]).unwrap();
        drop(a);
        let mut buf = [0u8; 3];
        b.recv(&mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3]);
        assert!(matches!(b.recv(&mut buf), Err(ChannelError::Closed { .. })));
        assert!(matches!(b.send(&[1]), Err(ChannelError::Closed { .. })));
    }

    #[test]
    fn closed_peer_tcp() {
        let (mut a, mut b) = tcp_pair();
        a.send(&[1, 2, 3]).unwrap();
        a.flush().unwrap();
        drop(a);
        let mut buf = [0u8; 3];
        b.recv(&mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3]);
        assert!(matches!(b.recv(&mut buf), Err(ChannelError::Closed { .. })));
        // Again: still an error, no hang.
        assert!(b.recv(&mut buf).is_err());
    }

    #[test]
    fn closed_peer_mid_protocol_in_run_pair() {
        for t in [Transport::Mem, Transport::Tcp] {
            let out = run_pair(
                t,
                |ch| {
                    ch.send(&[0u8; 100])?;
                    let mut b = [0u8; 4];
                    ch.recv(&mut b)?;
                    // Never arrives: the client stops after one message.
                    ch.recv(&mut b)
                },
                |ch| {
                    let mut b = [0u8; 100];
                    ch.recv(&mut b)?;
                    ch.send(&[0u8; 4])
                },
            )
            .unwrap();
            assert!(out.client.is_ok());
            assert!(
                matches!(out.server, Err(ChannelError::Closed { .. })),
                "{t:?}: {:?}",
                out.server
            );
        }
    }

    #[test]
    fn short_read_tcp() {
        let (mut ch, mut raw) = raw_peer(short_opts());
        raw.write_all(&1000u64.to_le_bytes()).unwrap();
        raw.write_all(&[9u8; 10]).unwrap();
        drop(raw);
        match ch.recv_vec(2000) {
            Err(ChannelError::ShortRead {
                expected: 1000,
                got: 10,
            }) => {}
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn short_header_tcp() {
        let (mut ch, mut raw) = raw_peer(short_opts());
        raw.write_all(&[1, 2, 3]).unwrap();
        drop(raw);
        assert!(matches!(
            ch.recv_vec(10),
            Err(ChannelError::ShortRead {
                expected: FRAME_HEADER,
                got: 3
            })
        ));
    }

    #[test]
    fn idle_timeout_tcp() {
        let opts = TcpOptions {
            idle_timeout: Some(Duration::from_millis(200)),
            ..Default::default()
        };
        let (mut ch, _raw) = raw_peer(opts);
        let t = Instant::now();
        assert!(matches!(ch.recv_vec(10), Err(ChannelError::Timeout(_))));
        let e = t.elapsed();
        assert!(
            e >= Duration::from_millis(200) && e < Duration::from_secs(10),
            "{e:?}"
        );
    }

    #[test]
    fn frame_in_progress_outlives_the_idle_timeout() {
        // A message arriving slower than the idle timeout as a whole, but within its own
        // frame deadline, is received (the frame deadline, not the idle timeout, bounds it).
        let opts = TcpOptions {
            idle_timeout: Some(Duration::from_millis(400)),
            ..Default::default()
        };
        let (mut ch, mut raw) = raw_peer(opts);
        let h = std::thread::spawn(move || {
            raw.write_all(&30u64.to_le_bytes()).unwrap();
            for _ in 0..6 {
                raw.write_all(&[5u8; 5]).unwrap();
                std::thread::sleep(Duration::from_millis(100));
            }
            raw
        });
        assert_eq!(ch.recv_vec(30).unwrap(), vec![5u8; 30]);
        drop(h.join());
    }

    #[test]
    fn idle_timeout_mem_default_none() {
        let (mut a, _b) = mem_pair();
        a.set_timeout(Some(Duration::from_millis(50)));
        assert!(matches!(a.recv_vec(1), Err(ChannelError::Timeout(_))));
        // The TCP default is 10 minutes.
        assert_eq!(
            TcpOptions::default().idle_timeout,
            Some(Duration::from_secs(600))
        );
    }

    #[test]
    fn oversized_frame_tcp() {
        let opts = TcpOptions {
            max_message: 1024,
            ..short_opts()
        };
        let (mut ch, mut raw) = raw_peer(opts);
        raw.write_all(&5000u64.to_le_bytes()).unwrap();
        assert!(matches!(
            ch.recv_vec(10_000),
            Err(ChannelError::Oversized {
                got: 5000,
                limit: 1024
            })
        ));
        // The default limit refuses absurd announcements without allocating them.
        let (mut ch, mut raw) = raw_peer(short_opts());
        raw.write_all(&u64::MAX.to_le_bytes()).unwrap();
        assert!(matches!(
            ch.recv_vec(10),
            Err(ChannelError::Oversized { got: u64::MAX, .. })
        ));
    }

    #[test]
    fn huge_announcement_under_limit_does_not_allocate_up_front() {
        // 3 GiB announced (under a 4 GiB limit), 10 bytes sent, then closed: ShortRead.
        let (mut ch, mut raw) = raw_peer(TcpOptions {
            max_message: 4 << 30,
            ..short_opts()
        });
        raw.write_all(&(3u64 << 30).to_le_bytes()).unwrap();
        raw.write_all(&[1u8; 10]).unwrap();
        drop(raw);
        assert!(matches!(
            ch.recv_vec(usize::MAX),
            Err(ChannelError::ShortRead { got: 10, .. })
        ));
    }

    #[test]
    fn oversized_mem() {
        let (mut a, mut b) = mem_pair();
        b.set_max_message(4);
        a.send(&[0u8; 5]).unwrap();
        assert!(matches!(
            b.recv_vec(100),
            Err(ChannelError::Oversized { got: 5, limit: 4 })
        ));
    }

    #[test]
    fn size_mismatch() {
        let (mut a, mut b) = mem_pair();
        a.send(&[0u8; 10]).unwrap();
        a.send(&[0u8; 10]).unwrap();
        a.send(&[0u8; 10]).unwrap();
        let mut buf = [0u8; 12];
        assert!(matches!(
            b.recv(&mut buf),
            Err(ChannelError::SizeMismatch {
                expected: 12,
                got: 10
            })
        ));
        assert!(matches!(
            b.recv_exact_vec(11),
            Err(ChannelError::SizeMismatch {
                expected: 11,
                got: 10
            })
        ));
        assert!(matches!(
            b.recv_vec(9),
            Err(ChannelError::SizeMismatch {
                expected: 9,
                got: 10
            })
        ));
        let (mut a, mut b) = tcp_pair();
        a.send(&[0u8; 10]).unwrap();
        a.flush().unwrap();
        assert!(matches!(
            b.recv(&mut buf),
            Err(ChannelError::SizeMismatch {
                expected: 12,
                got: 10
            })
        ));
        let mut packed = [0u64; 3];
        a.send(&[0u8; 3]).unwrap();
        a.flush().unwrap();
        // 3 values of 13 bits need 5 bytes.
        assert!(matches!(
            b.recv_packed(&mut packed, 13),
            Err(ChannelError::SizeMismatch {
                expected: 5,
                got: 3
            })
        ));
    }

    #[test]
    fn malformed_handshake_tcp_garbage() {
        let (mut ch, mut raw) = raw_peer(short_opts());
        raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let r = ch.handshake(&Hello::new(Role::Server, [0; 32]));
        assert!(matches!(r, Err(ChannelError::Malformed(_))), "{r:?}");
        drop(raw);
    }

    #[test]
    fn malformed_handshake_wrong_magic() {
        let (mut ch, mut raw) = raw_peer(short_opts());
        let mut hello = Hello::new(Role::Client, [0; 32]).encode();
        hello[0] ^= 0xff;
        raw.write_all(&(HELLO_LEN as u64).to_le_bytes()).unwrap();
        raw.write_all(&hello).unwrap();
        let r = ch.handshake(&Hello::new(Role::Server, [0; 32]));
        assert!(matches!(r, Err(ChannelError::Malformed(_))), "{r:?}");
        // Mem: short garbage, long garbage, unknown role.
        for bad in [vec![1u8; 10], vec![1u8; 100], {
            let mut h = Hello::new(Role::Client, [0; 32]).encode().to_vec();
            h[12] = 7;
            h
        }] {
            let (mut a, mut b) = mem_pair();
            b.send(&bad).unwrap();
            let r = a.handshake(&Hello::new(Role::Server, [0; 32]));
            assert!(matches!(r, Err(ChannelError::Malformed(_))), "{r:?}");
        }
    }

    fn handshake_pair(
        t: Transport,
        s: Hello,
        c: Hello,
    ) -> (Result<Hello, ChannelError>, Result<Hello, ChannelError>) {
        let out = run_pair(t, move |ch| ch.handshake(&s), move |ch| ch.handshake(&c)).unwrap();
        (out.server, out.client)
    }

    #[test]
    fn handshake_refusals() {
        for t in [Transport::Mem, Transport::Tcp] {
            let (s, c) = handshake_pair(
                t,
                Hello::new(Role::Server, [1; 32]),
                Hello::new(Role::Client, [1; 32]),
            );
            assert_eq!(s.unwrap().role, Role::Client);
            assert_eq!(c.unwrap().role, Role::Server);
            let (s, c) = handshake_pair(
                t,
                Hello::new(Role::Server, [1; 32]),
                Hello::new(Role::Client, [2; 32]),
            );
            assert!(
                matches!(s, Err(ChannelError::Handshake(_)))
                    && matches!(c, Err(ChannelError::Handshake(_)))
            );
            let (s, c) = handshake_pair(
                t,
                Hello::new(Role::Server, [1; 32]),
                Hello::new(Role::Server, [1; 32]),
            );
            assert!(
                matches!(s, Err(ChannelError::Handshake(_)))
                    && matches!(c, Err(ChannelError::Handshake(_)))
            );
            let mut v2 = Hello::new(Role::Client, [1; 32]);
            v2.version += 1;
            let (s, c) = handshake_pair(t, Hello::new(Role::Server, [1; 32]), v2);
            let msg = s.unwrap_err().to_string();
            assert!(msg.contains("version"), "{msg}");
            assert!(matches!(c, Err(ChannelError::Handshake(_))));
        }
    }
}

mod accounting {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn payload_per_direction_and_framing() {
        for t in [Transport::Mem, Transport::Tcp] {
            let out = run_pair(
                t,
                |ch| {
                    ch.send(&[1u8; 100])?;
                    ch.send_vec(vec![2u8; 30])?;
                    ch.recv_exact_vec(7)
                },
                |ch| {
                    ch.recv_exact_vec(100)?;
                    ch.recv_exact_vec(30)?;
                    ch.send(&[3u8; 7])
                },
            )
            .unwrap();
            out.server.unwrap();
            out.client.unwrap();
            let (s, c) = (out.server_meter.total(), out.client_meter.total());
            assert_eq!(
                (s.bytes_sent, s.bytes_recv, s.msgs_sent, s.msgs_recv),
                (130, 7, 2, 1)
            );
            assert_eq!(
                (c.bytes_sent, c.bytes_recv, c.msgs_sent, c.msgs_recv),
                (7, 130, 1, 2)
            );
            let f = if t == Transport::Tcp {
                FRAME_HEADER as u64
            } else {
                0
            };
            assert_eq!((s.framing_sent, s.framing_recv), (2 * f, f));
            assert_eq!((c.framing_sent, c.framing_recv), (f, 2 * f));
        }
    }

    #[test]
    fn flights() {
        let out = run_pair(
            Transport::Mem,
            |ch| -> Result<(), ChannelError> {
                let mut b = [0u8; 1];
                ch.send(&[0])?; // flight 1
                ch.send(&[0])?;
                ch.recv(&mut b)?;
                ch.send(&[0])?; // flight 2
                ch.recv(&mut b)?;
                ch.recv(&mut b)?;
                ch.send(&[0])?; // flight 3
                ch.send(&[0])
            },
            |ch| -> Result<(), ChannelError> {
                let mut b = [0u8; 1];
                ch.recv(&mut b)?;
                ch.recv(&mut b)?;
                ch.send(&[0])?; // flight 1
                ch.recv(&mut b)?;
                ch.send(&[0])?; // flight 2
                ch.send(&[0])?;
                ch.recv(&mut b)?;
                ch.recv(&mut b)
            },
        )
        .unwrap();
        out.server.unwrap();
        out.client.unwrap();
        assert_eq!(out.server_meter.total().flights, 3);
        assert_eq!(out.client_meter.total().flights, 2);
    }

    #[test]
    fn nested_tags() {
        let (mut a, mut b) = mem_pair();
        a.push_tag("layer1");
        a.send(&[0; 10]).unwrap();
        a.push_tag("relu");
        a.send(&[0; 5]).unwrap();
        a.push_tag("mill");
        a.send(&[0; 2]).unwrap();
        a.pop_tag();
        a.pop_tag();
        a.pop_tag();
        a.push_tag("layer10");
        a.send(&[0; 3]).unwrap();
        a.pop_tag();
        a.send(&[0; 1]).unwrap();
        let m = a.meter();
        assert_eq!(m.path(), "");
        assert_eq!(m.tag_exact("layer1").bytes_sent, 10);
        assert_eq!(m.tag_total("layer1").bytes_sent, 17);
        assert_eq!(m.tag_total("layer1/relu").bytes_sent, 7);
        assert_eq!(m.tag_exact("layer1/relu/mill").bytes_sent, 2);
        assert_eq!(m.tag_total("layer10").bytes_sent, 3);
        assert_eq!(m.tag_total("layer").bytes_sent, 0);
        assert_eq!(m.total().bytes_sent, 21);
        assert_eq!(m.tag_total("layer1").msgs_sent, 3);
        assert_eq!(m.tags().count(), 4);
        // Receiving side attributes to its own tags.
        b.push_tag("in");
        for n in [10, 5, 2, 3, 1] {
            b.recv_exact_vec(n).unwrap();
        }
        b.pop_tag();
        assert_eq!(b.meter().tag_total("in").bytes_recv, 21);
    }

    #[test]
    fn handshake_is_framing() {
        for t in [Transport::Mem, Transport::Tcp] {
            let h = |r| Hello::new(r, [4; 32]);
            let out = run_pair(
                t,
                move |ch| {
                    ch.handshake(&h(Role::Server))?;
                    ch.send(&[0u8; 3])
                },
                move |ch| {
                    ch.handshake(&h(Role::Client))?;
                    ch.recv_exact_vec(3).map(|_| ())
                },
            )
            .unwrap();
            out.server.unwrap();
            out.client.unwrap();
            let f = if t == Transport::Tcp {
                FRAME_HEADER as u64
            } else {
                0
            };
            let s = out.server_meter.total();
            assert_eq!(s.bytes_sent, 3);
            assert_eq!(s.bytes_recv, 0);
            assert_eq!(s.framing_sent, HELLO_LEN as u64 + 2 * f);
            assert_eq!(s.framing_recv, HELLO_LEN as u64 + f);
            assert_eq!((s.msgs_sent, s.msgs_recv, s.flights), (1, 0, 1));
        }
    }

    #[test]
    fn packed_round_trip_every_width() {
        let out = run_pair(
            Transport::Mem,
            |ch| -> Result<(), ChannelError> {
                let mut x = 0x9e3779b97f4a7c15u64;
                for l in 1..=64u32 {
                    for n in [0usize, 1, 7, 64, 1001] {
                        let vals: Vec<u64> = (0..n)
                            .map(|_| {
                                x ^= x << 13;
                                x ^= x >> 7;
                                x ^= x << 17;
                                x & pq_kernels::ring::mask(l)
                            })
                            .collect();
                        ch.send_packed(&vals, l)?;
                        ch.send(bytemuck::cast_slice(&vals))?;
                    }
                }
                Ok(())
            },
            |ch| -> Result<u64, ChannelError> {
                let mut bytes = 0;
                for l in 1..=64u32 {
                    for n in [0usize, 1, 7, 64, 1001] {
                        let mut got = vec![0u64; n];
                        let before = ch.meter().total().bytes_recv;
                        ch.recv_packed(&mut got, l)?;
                        let used = ch.meter().total().bytes_recv - before;
                        assert_eq!(used as usize, (n * l as usize).div_ceil(8), "l={l} n={n}");
                        bytes += used;
                        let mut want = vec![0u64; n];
                        ch.recv(bytemuck::cast_slice_mut(&mut want))?;
                        assert_eq!(got, want, "l={l} n={n}");
                    }
                }
                Ok(bytes)
            },
        )
        .unwrap();
        out.server.unwrap();
        out.client.unwrap();
    }

    #[test]
    fn simultaneous_64mib_both_ways_tcp() {
        const N: usize = 64 << 20;
        let out = run_pair(
            Transport::Tcp,
            |ch| -> Result<bool, ChannelError> {
                let data: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
                ch.send_vec(data)?;
                let got = ch.recv_exact_vec(N)?;
                Ok(got.iter().enumerate().all(|(i, &b)| b == (i % 241) as u8))
            },
            |ch| -> Result<bool, ChannelError> {
                let data: Vec<u8> = (0..N).map(|i| (i % 241) as u8).collect();
                ch.send(&data)?;
                drop(data);
                let got = ch.recv_exact_vec(N)?;
                Ok(got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8))
            },
        )
        .unwrap();
        assert!(out.server.unwrap());
        assert!(out.client.unwrap());
        assert_eq!(out.server_meter.total().bytes_sent, N as u64);
        assert_eq!(out.client_meter.total().bytes_recv, N as u64);
    }

    #[test]
    fn many_large_messages_both_ways_tcp() {
        // Both parties send 100 × 1 MiB before receiving anything: no deadlock.
        let party = |ch: &mut dyn Channel| -> Result<u64, ChannelError> {
            let m = vec![5u8; 1 << 20];
            for _ in 0..100 {
                ch.send(&m)?;
            }
            let mut sum = 0u64;
            for _ in 0..100 {
                sum += ch
                    .recv_exact_vec(1 << 20)?
                    .iter()
                    .map(|&b| b as u64)
                    .sum::<u64>();
            }
            Ok(sum)
        };
        let out = run_pair(Transport::Tcp, party, party).unwrap();
        assert_eq!(out.server.unwrap(), (5 * 100) << 20);
        assert_eq!(out.client.unwrap(), (5 * 100) << 20);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn messages_arrive_in_order_and_counted(sizes in proptest::collection::vec(0usize..5000, 1..20)) {
            let s2 = sizes.clone();
            let out = run_pair(
                Transport::Tcp,
                move |ch| -> Result<(), ChannelError> {
                    for (i, &n) in s2.iter().enumerate() { ch.send(&vec![i as u8; n])?; }
                    Ok(())
                },
                |ch| -> Result<Vec<Vec<u8>>, ChannelError> {
                    sizes.iter().map(|&n| ch.recv_exact_vec(n)).collect()
                },
            ).unwrap();
            out.server.unwrap();
            let got = out.client.unwrap();
            let total: usize = got.iter().map(|v| v.len()).sum();
            for (i, v) in got.iter().enumerate() { prop_assert!(v.iter().all(|&b| b == i as u8)); }
            prop_assert_eq!(out.server_meter.total().bytes_sent, total as u64);
            prop_assert_eq!(out.server_meter.total().framing_sent, 8 * got.len() as u64);
            prop_assert_eq!(out.server_meter.total().flights, 1);
        }
    }
}

mod shaped {
    use super::*;

    /// One message of `n` bytes from a to b at t = 0; returns when b has it.
    fn deliver(link: LinkSpec, n: usize) -> Nanos {
        let clock = Arc::new(ManualClock::new(0));
        let (a, b) = mem_pair();
        let mut a = ShapedChannel::with_clock(a, link, clock.clone());
        let mut b = ShapedChannel::with_clock(b, link, clock.clone());
        a.send_vec(vec![1u8; n]).unwrap();
        let v = b.recv_exact_vec(n).unwrap();
        assert!(v.iter().all(|&x| x == 1));
        assert_eq!(b.meter().total().bytes_recv, n as u64);
        assert_eq!(a.meter().total().bytes_sent, n as u64);
        assert_eq!(a.meter().total().framing_sent, 8);
        clock.now()
    }

    #[test]
    fn delivery_times_match_model() {
        let l = lk("200mbps,13ms");
        // 25 MB/s = 40 ns per byte; one-way 6.5 ms.
        assert_eq!(deliver(l, 1_000), 40_000 + 6_500_000);
        assert_eq!(deliver(l, 1_000_000), 40_000_000 + 6_500_000);
        assert_eq!(deliver(l, 100_000_000), 4_000_000_000 + 6_500_000);
        let g = lk("1gbps,0.5ms");
        assert_eq!(deliver(g, 1_000), 8_000 + 250_000);
        assert_eq!(deliver(g, 1_000_000), 8_000_000 + 250_000);
        assert_eq!(deliver(g, 100_000_000), 800_000_000 + 250_000);
    }

    #[test]
    fn frames_of_a_large_message() {
        let l = lk("200mbps,13ms");
        let mut d = crate::link::LinkDirection::new(l);
        let mut frames = Vec::new();
        let last = d.transmit_frames(0, 100_000_000, |off, len, at| frames.push((off, len, at)));
        assert_eq!(frames.len(), 100_000_000usize.div_ceil(65536));
        assert_eq!(frames[0], (0, 65536, 65536 * 40 + 6_500_000));
        assert_eq!(last, 4_000_000_000 + 6_500_000);
        assert!(
            frames
                .windows(2)
                .all(|w| w[0].2 < w[1].2 && w[0].0 + w[0].1 == w[1].0)
        );
    }

    #[test]
    fn ping_pong_at_13ms() {
        let l = lk("200mbps,13ms");
        let clock = Arc::new(ManualClock::new(0));
        let (a, b) = mem_pair();
        let mut a = ShapedChannel::with_clock(a, l, clock.clone());
        let mut b = ShapedChannel::with_clock(b, l, clock.clone());
        let mut buf = [0u8; 16];
        let leg = 16 * 40 + 6_500_000;
        for i in 1..=10u64 {
            a.send(&buf).unwrap();
            b.recv(&mut buf).unwrap();
            assert_eq!(clock.now(), (2 * i - 1) * leg);
            b.send(&buf).unwrap();
            a.recv(&mut buf).unwrap();
            assert_eq!(clock.now(), 2 * i * leg);
        }
        assert_eq!(a.meter().total().flights, 10);
    }

    #[test]
    fn queued_messages_serialize_fifo() {
        let l = lk("200mbps,13ms");
        let clock = Arc::new(ManualClock::new(0));
        let (a, b) = mem_pair();
        let mut a = ShapedChannel::with_clock(a, l, clock.clone());
        let mut b = ShapedChannel::with_clock(b, l, clock.clone());
        a.send(&[0u8; 1000]).unwrap();
        a.send(&[0u8; 1000]).unwrap();
        clock.advance(1_000_000);
        a.send(&[0u8; 1000]).unwrap();
        b.recv_exact_vec(1000).unwrap();
        assert_eq!(b.last_arrival(), 6_540_000);
        b.recv_exact_vec(1000).unwrap();
        assert_eq!(b.last_arrival(), 6_580_000);
        b.recv_exact_vec(1000).unwrap();
        assert_eq!(b.last_arrival(), 1_040_000 + 6_500_000);
        assert_eq!(clock.now(), 7_540_000);
        // Full duplex: the other direction is independent.
        b.send(&[0u8; 1000]).unwrap();
        a.recv_exact_vec(1000).unwrap();
        assert_eq!(clock.now(), 7_540_000 + 6_540_000);
    }

    #[test]
    fn handshake_through_shaped_channel() {
        let l = lk("1gbps,0.1ms");
        let clock = Arc::new(ManualClock::new(0));
        let (a, b) = mem_pair();
        let mut a = ShapedChannel::with_clock(a, l, clock.clone());
        let mut b = ShapedChannel::with_clock(b, l, clock.clone());
        a.send(&Hello::new(Role::Server, [0; 32]).encode()).unwrap();
        assert_eq!(
            b.handshake(&Hello::new(Role::Client, [0; 32]))
                .unwrap()
                .role,
            Role::Server
        );
        assert_eq!(b.meter().total().bytes_sent, 0);
        // An unshaped peer: the stamp is the wrong size -> Malformed.
        let (mut a, b) = mem_pair();
        let mut b = ShapedChannel::with_clock(b, l, clock);
        a.send(&[0u8; 20]).unwrap();
        assert!(matches!(b.recv_vec(100), Err(ChannelError::Malformed(_))));
    }

    #[test]
    fn real_time_lower_bound() {
        // Only a lower bound: never flaky on a loaded machine.
        let l = lk("1gbps,4ms");
        let opts = LinkOptions {
            emulate: Some(l),
            ..Default::default()
        };
        let out = run_pair_linked(
            Transport::Mem,
            &PairOptions::default(),
            &opts,
            |ch| {
                ch.send(&[1u8; 100])?;
                ch.recv_exact_vec(100)
            },
            |ch| {
                let v = ch.recv_exact_vec(100)?;
                ch.send(&v)
            },
        )
        .unwrap();
        out.server.unwrap();
        assert!(out.wall >= Duration::from_millis(4), "{:?}", out.wall);
        assert_eq!(out.server_meter.total().bytes_sent, 100);
        assert_eq!(out.server_meter.total().framing_sent, 8);
    }
}

mod virtual_time {
    use super::*;

    #[test]
    fn scripted_exchange_exact() {
        let links = parse_links("200mbps,13ms;1gbps,0.5ms").unwrap();
        let (cs, cc) = (Arc::new(ManualClock::new(0)), Arc::new(ManualClock::new(0)));
        let (a, b) = mem_pair();
        let mut s = VirtualChannel::with_compute_clock(a, &links, cs.clone());
        let mut c = VirtualChannel::with_compute_clock(b, &links, cc.clone());
        const MS: u64 = 1_000_000;
        cs.advance(5 * MS);
        s.send_vec(vec![0u8; 1_000_000]).unwrap();
        cc.advance(2 * MS);
        c.recv_exact_vec(1_000_000).unwrap();
        // 200mbps: 5 + 40 + 6.5 ms; 1gbps: 5 + 8 + 0.25 ms.
        assert_eq!(c.now(), vec![51_500_000, 13_250_000]);
        cc.advance(MS);
        c.send(&[0u8; 100]).unwrap();
        cs.advance(0); // the server waits
        s.recv_exact_vec(100).unwrap();
        // 52.5 ms + 4 us + 6.5 ms; 14.25 ms + 0.8 us + 0.25 ms.
        assert_eq!(s.now(), vec![59_004_000, 14_500_800]);
        cs.advance(3 * MS);
        let fs = s.finish();
        let fc = c.finish();
        assert_eq!(fs, vec![62_004_000, 17_500_800]);
        assert_eq!(fc, vec![52_500_000, 14_250_000]);
        let lat = crate::vtime::combine(&links, &fs, &fc).unwrap();
        assert!((lat[0].latency_s - 0.062004).abs() < 1e-12);
        assert_eq!(s.compute_ns(), 8 * MS);
        // Accounting: payload only; 16 bytes of stamps per message as framing.
        assert_eq!(s.meter().total().bytes_sent, 1_000_000);
        assert_eq!(s.meter().total().framing_sent, 16);
        assert_eq!(c.meter().total().bytes_recv, 1_000_000);
    }

    #[test]
    fn simultaneous_sends_full_duplex() {
        let links = [lk("200mbps,13ms")];
        let (cs, cc) = (Arc::new(ManualClock::new(0)), Arc::new(ManualClock::new(0)));
        let (a, b) = mem_pair();
        let mut s = VirtualChannel::with_compute_clock(a, &links, cs.clone());
        let mut c = VirtualChannel::with_compute_clock(b, &links, cc.clone());
        // Both send 1 MB at t = 0: the directions are independent, each arrives at 46.5 ms.
        s.send(&vec![0u8; 1_000_000]).unwrap();
        c.send(&vec![0u8; 1_000_000]).unwrap();
        s.recv_exact_vec(1_000_000).unwrap();
        c.recv_exact_vec(1_000_000).unwrap();
        assert_eq!(s.finish(), vec![46_500_000]);
        assert_eq!(c.finish(), vec![46_500_000]);
        // Rounds and bytes: matches the analytic estimate when compute is zero.
        let est = crate::link::analytic_latency(1_000_000, 1_000_000, 1, &links[0]);
        assert!((est - (0.040 + 0.013)).abs() < 1e-12);
    }

    #[test]
    fn run_pair_simulates_several_links() {
        let links = parse_links("200mbps,13ms;1gbps,0.5ms").unwrap();
        let opts = LinkOptions {
            simulate: links.clone(),
            ..Default::default()
        };
        for t in [Transport::Mem, Transport::Tcp] {
            let out = run_pair_linked(
                t,
                &PairOptions { pin: false },
                &opts,
                |ch| -> Result<(), ChannelError> {
                    for _ in 0..5 {
                        ch.send(&[0u8; 1000])?;
                        ch.recv_exact_vec(1000)?;
                    }
                    Ok(())
                },
                |ch| -> Result<(), ChannelError> {
                    for _ in 0..5 {
                        let v = ch.recv_exact_vec(1000)?;
                        ch.send(&v)?;
                    }
                    Ok(())
                },
            )
            .unwrap();
            out.server.unwrap();
            out.client.unwrap();
            assert_eq!(out.simulated.len(), 2);
            // 5 round trips of 2 × (40 us + 6.5 ms) plus some compute.
            let floor = 5.0 * 2.0 * (40e-6 + 6.5e-3);
            let l0 = out.simulated[0].latency_s;
            assert!(l0 >= floor && l0 < floor + 1.0, "{l0}");
            let floor1 = 5.0 * 2.0 * (8e-6 + 0.25e-3);
            let l1 = out.simulated[1].latency_s;
            assert!(l1 >= floor1 && l1 < floor1 + 1.0, "{l1}");
            assert_eq!(out.server_meter.total().bytes_sent, 5000);
            assert_eq!(out.server_meter.total().flights, 5);
        }
    }
}

mod proxy {
    use super::*;
    use crate::proxy::CONNECT_RETRY;
    use std::sync::mpsc;

    struct Setup {
        server: TcpListener,
        proxy_addr: std::net::SocketAddr,
        done: mpsc::Receiver<Result<crate::proxy::ProxyStats, crate::proxy::ProxyError>>,
        stop: Arc<AtomicBool>,
    }

    fn setup(link: &str) -> Setup {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = Proxy::bind("127.0.0.1:0", server.local_addr().unwrap(), lk(link)).unwrap();
        let proxy_addr = p.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, done) = mpsc::channel();
        let st = stop.clone();
        std::thread::spawn(move || {
            let _ = tx.send(p.run(st));
        });
        Setup {
            server,
            proxy_addr,
            done,
            stop,
        }
    }

    fn pattern(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn exchange(s: &Setup, client_closes_first: bool) -> crate::proxy::ProxyStats {
        let up = pattern(300_000, 1);
        let down = pattern(200_000, 2);
        let c = TcpStream::connect(s.proxy_addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let (mut srv, _) = s.server.accept().unwrap();
        srv.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let up2 = up.clone();
        let h = std::thread::spawn(move || {
            let mut c = c;
            c.write_all(&up2).unwrap();
            c
        });
        let mut got = vec![0u8; up.len()];
        srv.read_exact(&mut got).unwrap();
        assert!(got == up, "client -> server bytes changed");
        srv.write_all(&down).unwrap();
        let mut c = h.join().unwrap();
        let mut got = vec![0u8; down.len()];
        c.read_exact(&mut got).unwrap();
        assert!(got == down, "server -> client bytes changed");
        let mut rest = Vec::new();
        if client_closes_first {
            drop(c);
            // The server sees the close.
            srv.read_to_end(&mut rest).unwrap();
        } else {
            drop(srv);
            c.read_to_end(&mut rest).unwrap();
        }
        assert!(rest.is_empty());
        let stats = s
            .done
            .recv_timeout(Duration::from_secs(20))
            .expect("proxy did not stop")
            .unwrap();
        assert_eq!(
            (stats.bytes_forward, stats.bytes_backward),
            (300_000, 200_000)
        );
        assert!(!stats.stopped_by_flag);
        stats
    }

    #[test]
    fn passes_bytes_unchanged_client_closes() {
        exchange(&setup("1gbps,0.2ms"), true);
    }

    #[test]
    fn passes_bytes_unchanged_server_closes() {
        exchange(&setup("500mbps,1ms"), false);
    }

    #[test]
    fn stops_on_flag() {
        let s = setup("1gbps,1ms");
        s.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let stats = s
            .done
            .recv_timeout(Duration::from_secs(20))
            .expect("proxy did not stop")
            .unwrap();
        assert!(stats.stopped_by_flag);
    }

    #[test]
    fn channel_through_proxy_with_delay() {
        let s = setup("1gbps,20ms");
        let opts = short_opts();
        let o2 = opts.clone();
        let server = s.server.try_clone().unwrap();
        let h = std::thread::spawn(move || -> Result<(), ChannelError> {
            let mut ch = TcpChannel::accept(&server, o2)?;
            ch.handshake(&Hello::new(Role::Server, [9; 32]))?;
            let v = ch.recv_exact_vec(50_000)?;
            ch.send(&v)?;
            ch.flush()
        });
        let mut c = TcpChannel::connect(s.proxy_addr, opts, Duration::from_secs(5)).unwrap();
        c.handshake(&Hello::new(Role::Client, [9; 32])).unwrap();
        let t = Instant::now();
        let data = pattern(50_000, 3);
        c.send(&data).unwrap();
        assert_eq!(c.recv_exact_vec(50_000).unwrap(), data);
        // One round trip at 20 ms RTT plus serialization: a lower bound only.
        assert!(
            t.elapsed() >= Duration::from_millis(20),
            "{:?}",
            t.elapsed()
        );
        h.join().unwrap().unwrap();
        drop(c);
        s.done
            .recv_timeout(Duration::from_secs(20))
            .expect("proxy did not stop")
            .unwrap();
    }

    /// A serving proxy: its address, its stop flag, its reports, its thread.
    type Serving = (
        std::net::SocketAddr,
        Arc<AtomicBool>,
        mpsc::Receiver<crate::proxy::ConnReport>,
        std::thread::JoinHandle<Result<u64, crate::proxy::ProxyError>>,
    );

    /// A proxy serving until stopped, its reports collected on a channel.
    fn serving(to: std::net::SocketAddr, retry: Duration) -> Serving {
        let p = Proxy::bind("127.0.0.1:0", to, lk("1gbps,0.2ms"))
            .unwrap()
            .with_connect_retry(retry);
        let addr = p.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let st = stop.clone();
        let h = std::thread::spawn(move || {
            p.serve(st, false, move |r| {
                let _ = tx.send(r);
            })
        });
        (addr, stop, rx, h)
    }

    /// Echo one message of `n` bytes through the proxy at `addr` to `server`.
    fn echo_once(addr: std::net::SocketAddr, server: &TcpListener, n: usize, seed: u64) {
        let data = pattern(n, seed);
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let (mut srv, _) = server.accept().unwrap();
        srv.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        c.write_all(&data).unwrap();
        let mut got = vec![0u8; n];
        srv.read_exact(&mut got).unwrap();
        srv.write_all(&got).unwrap();
        let mut back = vec![0u8; n];
        c.read_exact(&mut back).unwrap();
        assert!(back == data, "bytes changed");
        drop(c);
        let mut rest = vec![];
        srv.read_to_end(&mut rest).unwrap();
    }

    /// The proxy serves one connection after another (and two at once) until stopped, and
    /// reports each one's end.
    #[test]
    fn serves_connections_until_stopped() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let (addr, stop, rx, h) = serving(server.local_addr().unwrap(), CONNECT_RETRY);
        echo_once(addr, &server, 100_000, 1);
        echo_once(addr, &server, 50_000, 2);
        // two at once: both held open, then both used
        let c1 = TcpStream::connect(addr).unwrap();
        let (s1, _) = server.accept().unwrap();
        let c2 = TcpStream::connect(addr).unwrap();
        let (s2, _) = server.accept().unwrap();
        let mut open = [(c1, s1), (c2, s2)];
        for (c, s) in open.iter_mut() {
            c.write_all(b"ping").unwrap();
            let mut b = [0u8; 4];
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            s.read_exact(&mut b).unwrap();
            assert_eq!(&b, b"ping");
        }
        let mut reports = vec![];
        for _ in 0..2 {
            reports.push(rx.recv_timeout(Duration::from_secs(20)).expect("a report"));
        }
        for r in &reports {
            assert!(r.error.is_none(), "{:?}", r.error);
            assert_eq!(r.stats.closed_first, Some(crate::proxy::End::Client));
            assert!(r.stats.bytes_forward >= 50_000);
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let n = h.join().unwrap().unwrap();
        assert_eq!(n, 4);
        drop(open);
        // the two open connections were reported as stopped
        let rest: Vec<_> = rx.try_iter().collect();
        assert_eq!(rest.len(), 2);
        assert!(
            rest.iter()
                .all(|r| r.stats.stopped_by_flag && r.error.is_none())
        );
    }

    /// An upstream that does not listen is an error for that connection (the client's side is
    /// closed), and the proxy goes on serving; `run` (one connection) returns the error.
    #[test]
    fn unreachable_upstream_is_an_error_and_serving_continues() {
        let dead = TcpListener::bind("127.0.0.1:0").unwrap();
        let to = dead.local_addr().unwrap();
        drop(dead);
        let (addr, stop, rx, h) = serving(to, Duration::from_millis(300));
        for _ in 0..2 {
            let t = Instant::now();
            let mut c = TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut b = [0u8; 1];
            // closed by the proxy once it gives up on the upstream
            assert!(matches!(c.read(&mut b), Ok(0) | Err(_)));
            assert!(t.elapsed() < Duration::from_secs(5));
            let r = rx.recv_timeout(Duration::from_secs(10)).expect("a report");
            let e = r.error.expect("an error").to_string();
            assert!(
                e.contains("cannot connect to the upstream server") && e.contains(&to.to_string()),
                "{e}"
            );
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(h.join().unwrap().unwrap(), 2);
        // one connection: the failure is the result
        let p = Proxy::bind("127.0.0.1:0", to, lk("1gbps,0.2ms"))
            .unwrap()
            .with_connect_retry(Duration::from_millis(200));
        let addr = p.local_addr().unwrap();
        let h = std::thread::spawn(move || p.run(Arc::new(AtomicBool::new(false))));
        let _c = TcpStream::connect(addr).unwrap();
        let r = h.join().unwrap();
        assert!(
            matches!(r, Err(crate::proxy::ProxyError::Connect { .. })),
            "{r:?}"
        );
    }

    /// An upstream that vanishes with bytes in flight (a reset) is an error naming it, with
    /// the bytes forwarded until then; it used to end the connection like a clean close.
    #[test]
    fn upstream_reset_is_an_error() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = Proxy::bind(
            "127.0.0.1:0",
            server.local_addr().unwrap(),
            lk("1gbps,0.2ms"),
        )
        .unwrap();
        let addr = p.local_addr().unwrap();
        let h = std::thread::spawn(move || p.run(Arc::new(AtomicBool::new(false))));
        let mut c = TcpStream::connect(addr).unwrap();
        let (s, _) = server.accept().unwrap();
        c.write_all(&pattern(10_000, 4)).unwrap();
        // the upstream closes with unread bytes in its buffer: the kernel resets
        let t = Instant::now();
        let mut peek = [0u8; 1];
        while s.peek(&mut peek).unwrap_or(0) == 0 && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(50));
        drop(s);
        // the client keeps sending until the proxy gives up
        let _ = c.set_write_timeout(Some(Duration::from_secs(1)));
        for _ in 0..50 {
            if c.write_all(&[7u8; 1000]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let r = h.join().unwrap();
        match r {
            Err(crate::proxy::ProxyError::Vanished { end, forward, .. }) => {
                assert_eq!(end, crate::proxy::End::Server);
                assert!(forward >= 10_000, "{forward}");
            }
            r => panic!("expected the upstream to be reported as vanished: {r:?}"),
        }
    }

    #[test]
    fn bad_link_strings_rejected() {
        for bad in [
            "200mbps",
            "200mbit,13ms",
            "200mbps,13",
            "",
            "0gbps,1ms",
            "1gbps,1ms;;",
        ] {
            let e = parse_links(bad).unwrap_err().to_string();
            assert!(e.contains("kbps|mbps|gbps"), "{e}");
        }
    }
}

mod send_window {
    use super::*;

    #[test]
    fn window_paces_sender_without_changing_arrivals() {
        let l = lk("200mbps,13ms");
        let clock = Arc::new(ManualClock::new(0));
        let (a, b) = mem_pair();
        let mut a = ShapedChannel::with_clock(a, l, clock.clone());
        let mut b = ShapedChannel::with_clock(b, l, clock.clone());
        a.set_send_window(Some(15_000_000));
        // 10 MB = 0.4 s each; window 15 MB = 0.6 s.
        a.send_vec(vec![0u8; 10_000_000]).unwrap();
        a.send_vec(vec![0u8; 10_000_000]).unwrap();
        assert_eq!(clock.now(), 0);
        a.send_vec(vec![0u8; 10_000_000]).unwrap();
        // The third send waited until only 15 MB were queued: 0.8 s - 0.6 s.
        assert_eq!(clock.now(), 200_000_000);
        for k in 1..=3u64 {
            b.recv_exact_vec(10_000_000).unwrap();
            assert_eq!(b.last_arrival(), k * 400_000_000 + 6_500_000);
        }
        // Without a window the sender never waits.
        let clock = Arc::new(ManualClock::new(0));
        let (a, _b) = mem_pair();
        let mut a = ShapedChannel::with_clock(a, l, clock.clone());
        a.set_send_window(None);
        for _ in 0..3 {
            a.send_vec(vec![0u8; 10_000_000]).unwrap();
        }
        assert_eq!(clock.now(), 0);
    }
}
