//! Tests of the hardened transport: the encrypted channel (exact accounting, key checks,
//! refusals), limits (hello size, frame size, bounded queue) and deadlines (handshake,
//! frames that stall or trickle), each against a peer that misbehaves on purpose.

use crate::channel::{Channel, HELLO_LEN, Hello, Role};
use crate::error::ChannelError;
use crate::secure::{Identity, PeerPolicy, PublicKey, SecureConfig, load_key_list};
use crate::tcp::{FRAME_HEADER, Side, TcpChannel, TcpOptions, refuse_busy, secure_framing};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

fn opts() -> TcpOptions {
    TcpOptions {
        idle_timeout: Some(Duration::from_secs(10)),
        handshake_timeout: Duration::from_secs(5),
        ..TcpOptions::default()
    }
}

/// A connected socket pair (server side, client side).
fn sockets() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (s, c)
}

/// Secure server and client channels with the given configurations, run concurrently.
fn secure_pair(
    so: TcpOptions,
    sc: SecureConfig,
    co: TcpOptions,
    cc: SecureConfig,
) -> (
    crate::error::Result<TcpChannel>,
    crate::error::Result<TcpChannel>,
) {
    let (s, c) = sockets();
    let h = std::thread::spawn(move || TcpChannel::from_stream_secure(c, co, &cc, Side::Client));
    let a = TcpChannel::from_stream_secure(s, so, &sc, Side::Server);
    (a, h.join().unwrap())
}

fn ident() -> Identity {
    Identity::generate().unwrap()
}

fn pinned(k: PublicKey) -> PeerPolicy {
    PeerPolicy::Only(vec![k])
}

const SIZES: [usize; 7] = [0, 1, 100, 65519, 65520, (1 << 20) + 7, 5 << 20];

fn exchange(a: &mut TcpChannel, b: &mut TcpChannel) {
    for (i, &n) in SIZES.iter().enumerate() {
        let m: Vec<u8> = (0..n).map(|j| (j * 7 + i) as u8).collect();
        a.send(&m).unwrap();
        a.flush().unwrap();
        assert_eq!(
            b.recv_exact_vec(n)
                .unwrap_or_else(|e| panic!("size {n}: {e}")),
            m
        );
        b.send(&m).unwrap();
        b.flush().unwrap();
        assert_eq!(a.recv_exact_vec(n).unwrap(), m);
    }
}

mod secure {
    use super::*;

    #[test]
    fn round_trip_with_exact_accounting() {
        let (mut a, mut b) = TcpChannel::loopback_pair_with(opts(), true).unwrap();
        assert!(a.is_encrypted() && b.is_encrypted());
        let (mut pa, mut pb) = TcpChannel::loopback_pair_with(opts(), false).unwrap();
        let hs_a = a.meter().total();
        let hs_b = b.meter().total();
        // The handshake is framing only.
        assert_eq!(hs_a.bytes_sent + hs_a.bytes_recv + hs_a.msgs_sent, 0);
        assert!(hs_a.framing_sent > 0 && hs_b.framing_recv > 0);
        exchange(&mut a, &mut b);
        exchange(&mut pa, &mut pb);
        let (sa, pa_t) = (a.meter().total(), pa.meter().total());
        // Payload, messages and flights equal the plain channel's.
        assert_eq!(sa.bytes_sent, pa_t.bytes_sent);
        assert_eq!(sa.bytes_recv, pa_t.bytes_recv);
        assert_eq!(sa.msgs_sent, pa_t.msgs_sent);
        assert_eq!(sa.flights, pa_t.flights);
        // Framing: the handshake's plus, per message, the header record and one tag per
        // record; on the plain channel 8 bytes per message.
        let per: u64 = SIZES.iter().map(|&n| secure_framing(n) as u64).sum();
        assert_eq!(sa.framing_sent - hs_a.framing_sent, per);
        assert_eq!(sa.framing_recv - hs_a.framing_recv, per);
        assert_eq!(pa_t.framing_sent, (SIZES.len() * FRAME_HEADER) as u64);
        assert_eq!(secure_framing(0), 24);
        assert_eq!(secure_framing(65519), 40);
        assert_eq!(secure_framing(65520), 56);
    }

    #[test]
    fn hello_over_the_encrypted_channel() {
        let (mut a, mut b) = TcpChannel::loopback_pair_with(opts(), true).unwrap();
        let h = std::thread::spawn(move || {
            b.handshake(&Hello::new(Role::Client, [3; 32])).unwrap();
            b.send(&[9; 10]).unwrap();
            b.flush().unwrap();
            b
        });
        let theirs = a.handshake(&Hello::new(Role::Server, [3; 32])).unwrap();
        assert_eq!(theirs.role, Role::Client);
        assert_eq!(a.recv_exact_vec(10).unwrap(), vec![9; 10]);
        let b = h.join().unwrap();
        assert_eq!(b.meter().total().bytes_sent, 10);
    }

    #[test]
    fn pinned_keys_accepted_and_reported() {
        let (s, c) = (ident(), ident());
        let (a, b) = secure_pair(
            opts(),
            SecureConfig {
                identity: Some(s.clone()),
                peers: pinned(c.public()),
            },
            opts(),
            SecureConfig {
                identity: Some(c.clone()),
                peers: pinned(s.public()),
            },
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.remote_key(), Some(c.public()));
        assert_eq!(b.remote_key(), Some(s.public()));
    }

    #[test]
    fn wrong_server_key_is_refused_with_fingerprints() {
        let (s, other) = (ident(), ident());
        let t = Instant::now();
        let (a, b) = secure_pair(
            opts(),
            SecureConfig {
                identity: Some(s.clone()),
                peers: PeerPolicy::Any,
            },
            opts(),
            SecureConfig {
                identity: None,
                peers: pinned(other.public()),
            },
        );
        let Err(ChannelError::Auth(msg)) = b else {
            panic!("client: {:?}", b.err())
        };
        assert!(msg.contains(&s.public().fingerprint().to_string()), "{msg}");
        assert!(
            msg.contains(&other.public().fingerprint().to_string()),
            "{msg}"
        );
        assert!(msg.contains("--server-key"), "{msg}");
        // The server learns that the client hung up during the handshake.
        assert!(matches!(a, Err(ChannelError::Auth(_))), "{:?}", a.err());
        assert!(t.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn unlisted_client_is_refused_and_told_why() {
        let (s, listed, stranger) = (ident(), ident(), ident());
        let (a, b) = secure_pair(
            opts(),
            SecureConfig {
                identity: Some(s.clone()),
                peers: pinned(listed.public()),
            },
            opts(),
            SecureConfig {
                identity: Some(stranger.clone()),
                peers: pinned(s.public()),
            },
        );
        let fp = stranger.public().fingerprint().to_string();
        match (a, b) {
            (Err(ChannelError::Auth(sm)), Err(ChannelError::Auth(cm))) => {
                assert!(sm.contains(&fp) && sm.contains("--peers"), "{sm}");
                assert!(cm.contains(&fp) && cm.contains("--peers"), "{cm}");
            }
            (a, b) => panic!("server {:?}, client {:?}", a.err(), b.err()),
        }
    }

    #[test]
    fn tampered_record_is_an_authentication_error() {
        let (s, c) = sockets();
        let mut raw = c.try_clone().unwrap();
        let h = std::thread::spawn(move || {
            TcpChannel::from_stream_secure(c, opts(), &SecureConfig::anonymous(), Side::Client)
        });
        let mut a =
            TcpChannel::from_stream_secure(s, opts(), &SecureConfig::anonymous(), Side::Server)
                .unwrap();
        let _b = h.join().unwrap().unwrap();
        raw.write_all(&[0x55; 24]).unwrap();
        let r = a.recv_vec(100);
        assert!(
            matches!(&r, Err(ChannelError::Malformed(m)) if m.contains("authentication")),
            "{r:?}"
        );
    }

    #[test]
    fn truncated_record_is_a_short_read() {
        let (s, c) = sockets();
        let raw = c.try_clone().unwrap();
        let h = std::thread::spawn(move || {
            TcpChannel::from_stream_secure(c, opts(), &SecureConfig::anonymous(), Side::Client)
        });
        let mut a =
            TcpChannel::from_stream_secure(s, opts(), &SecureConfig::anonymous(), Side::Server)
                .unwrap();
        let b = h.join().unwrap().unwrap();
        let mut raw2 = raw;
        raw2.write_all(&[1u8; 10]).unwrap();
        raw2.shutdown(std::net::Shutdown::Write).unwrap();
        let r = a.recv_vec(100);
        assert!(
            matches!(r, Err(ChannelError::ShortRead { got: 10, .. })),
            "{r:?}"
        );
        drop(b);
    }

    #[test]
    fn oversized_encrypted_frame_is_refused() {
        let so = TcpOptions {
            max_message: 1000,
            ..opts()
        };
        let (a, b) = secure_pair(
            so,
            SecureConfig::anonymous(),
            opts(),
            SecureConfig::anonymous(),
        );
        let (mut a, mut b) = (a.unwrap(), b.unwrap());
        b.send(&[0u8; 5000]).unwrap();
        b.flush().unwrap();
        assert!(matches!(
            a.recv_vec(10_000),
            Err(ChannelError::Oversized {
                got: 5000,
                limit: 1000
            })
        ));
    }

    #[test]
    fn plain_and_encrypted_ends_name_the_mismatch() {
        // encrypted server, plain client
        let (s, c) = sockets();
        let h = std::thread::spawn(move || {
            let mut ch = TcpChannel::from_stream(c, opts()).unwrap();
            ch.handshake(&Hello::new(Role::Client, [0; 32]))
        });
        let a = TcpChannel::from_stream_secure(s, opts(), &SecureConfig::anonymous(), Side::Server);
        assert!(
            matches!(&a, Err(ChannelError::Handshake(m)) if m.contains("--insecure")),
            "{:?}",
            a.err()
        );
        drop(a);
        let b = h.join().unwrap();
        assert!(
            matches!(&b, Err(ChannelError::Handshake(m)) if m.contains("--insecure")),
            "{b:?}"
        );
    }

    #[test]
    fn busy_server_is_reported() {
        let (s, c) = sockets();
        let h = std::thread::spawn(move || refuse_busy(s, "serving another client; try again"));
        let r = TcpChannel::from_stream_secure(c, opts(), &SecureConfig::anonymous(), Side::Client);
        assert!(
            matches!(&r, Err(ChannelError::Busy(m)) if m.contains("another client")),
            "{:?}",
            r.err()
        );
        h.join().unwrap();
        // a plain client learns it from its hello
        let (s, c) = sockets();
        let h = std::thread::spawn(move || refuse_busy(s, "busy"));
        let mut ch = TcpChannel::from_stream(c, opts()).unwrap();
        let r = ch.handshake(&Hello::new(Role::Client, [0; 32]));
        assert!(matches!(r, Err(ChannelError::Busy(_))), "{r:?}");
        h.join().unwrap();
    }
}

mod keys {
    use super::*;

    #[test]
    fn save_load_round_trip_and_permissions() {
        let dir = std::env::temp_dir().join(format!("pq-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let id = ident();
        id.save(&dir).unwrap();
        let back = Identity::load(&dir.join("key")).unwrap();
        assert_eq!(back.public(), id.public());
        assert_eq!(PublicKey::load(&dir.join("key.pub")).unwrap(), id.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(dir.join("key")).unwrap().permissions();
            assert_eq!(m.mode() & 0o777, 0o600);
        }
        // no overwrite
        assert!(id.save(&dir).is_err());
        // a peers file: comments, blank lines, a comment after the key
        let other = ident();
        let peers = dir.join("peers");
        std::fs::write(
            &peers,
            format!(
                "# allowed clients\n\n{}  alice\n{}\n",
                id.public().line(),
                other.public().line()
            ),
        )
        .unwrap();
        assert_eq!(
            load_key_list(&peers).unwrap(),
            vec![id.public(), other.public()]
        );
        std::fs::write(&peers, "pq25519:abc\n").unwrap();
        let e = load_key_list(&peers).unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
        // the public key where the secret one belongs
        let e = Identity::load(&dir.join("key.pub"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("public key"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn noise_parameters_parse() {
        assert!(
            crate::secure::NOISE_PARAMS
                .parse::<snow::params::NoiseParams>()
                .is_ok()
        );
    }
}

mod limits {
    use super::*;

    fn quick() -> TcpOptions {
        TcpOptions {
            idle_timeout: Some(Duration::from_millis(300)),
            handshake_timeout: Duration::from_millis(300),
            frame_timeout: Duration::from_millis(300),
            min_rate: 1_000_000,
            ..TcpOptions::default()
        }
    }

    fn hello(role: Role) -> Hello {
        Hello::new(role, [1; 32])
    }

    /// A plain channel whose peer is a raw socket.
    fn raw(o: TcpOptions) -> (TcpChannel, TcpStream) {
        let (s, c) = sockets();
        (TcpChannel::from_stream(s, o).unwrap(), c)
    }

    fn within(t: Instant, max: Duration) {
        assert!(t.elapsed() < max, "took {:?}", t.elapsed());
    }

    #[test]
    fn silent_peer_fails_the_handshake_deadline() {
        let (mut ch, _peer) = raw(quick());
        let t = Instant::now();
        let r = ch.handshake(&hello(Role::Server));
        assert!(
            matches!(
                r,
                Err(ChannelError::Deadline {
                    what: "handshake",
                    ..
                })
            ),
            "{r:?}"
        );
        assert!(t.elapsed() >= Duration::from_millis(300));
        within(t, Duration::from_secs(2));
        // the encrypted channel too
        let (s, _c) = sockets();
        let t = Instant::now();
        let r =
            TcpChannel::from_stream_secure(s, quick(), &SecureConfig::anonymous(), Side::Server);
        assert!(
            matches!(r, Err(ChannelError::Deadline { .. })),
            "{:?}",
            r.err()
        );
        within(t, Duration::from_secs(2));
    }

    #[test]
    fn large_hello_is_refused_before_reading_it() {
        let (mut ch, mut peer) = raw(quick());
        peer.write_all(&(256u64 << 20).to_le_bytes()).unwrap();
        let r = ch.handshake(&hello(Role::Server));
        assert!(
            matches!(&r, Err(ChannelError::Malformed(m)) if m.contains("4096")),
            "{r:?}"
        );
    }

    #[test]
    fn http_and_garbage_are_malformed() {
        for junk in [
            &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc][..],
        ] {
            let (mut ch, mut peer) = raw(quick());
            peer.write_all(junk).unwrap();
            let t = Instant::now();
            let r = ch.handshake(&hello(Role::Server));
            assert!(matches!(r, Err(ChannelError::Malformed(_))), "{r:?}");
            within(t, Duration::from_secs(2));
            let (s, mut peer) = sockets();
            peer.write_all(junk).unwrap();
            let r = TcpChannel::from_stream_secure(
                s,
                quick(),
                &SecureConfig::anonymous(),
                Side::Server,
            );
            assert!(
                matches!(r, Err(ChannelError::Malformed(_))),
                "{:?}",
                r.err()
            );
        }
    }

    /// After a good hello, a frame that stops halfway fails at its deadline.
    #[test]
    fn stalled_frame_fails_at_its_deadline() {
        let (mut ch, mut peer) = raw(quick());
        peer.write_all(&(HELLO_LEN as u64).to_le_bytes()).unwrap();
        peer.write_all(&hello(Role::Client).encode()).unwrap();
        ch.handshake(&hello(Role::Server)).unwrap();
        peer.write_all(&1000u64.to_le_bytes()).unwrap();
        peer.write_all(&[0u8; 100]).unwrap();
        let t = Instant::now();
        let r = ch.recv_vec(1000);
        assert!(
            matches!(r, Err(ChannelError::Deadline { what: "frame", .. })),
            "{r:?}"
        );
        within(t, Duration::from_secs(2));
    }

    /// One byte every 50 ms never lets a frame finish: the absolute frame deadline ends it,
    /// although no read waits longer than the idle timeout.
    #[test]
    fn trickle_cannot_keep_a_frame_open() {
        let (mut ch, mut peer) = raw(quick());
        let h = std::thread::spawn(move || {
            let _ = peer.write_all(&100u64.to_le_bytes());
            for _ in 0..100 {
                if peer.write_all(&[7]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let t = Instant::now();
        let r = ch.recv_vec(100);
        assert!(
            matches!(r, Err(ChannelError::Deadline { what: "frame", .. })),
            "{r:?}"
        );
        within(t, Duration::from_secs(2));
        drop(ch);
        h.join().unwrap();
    }

    #[test]
    fn trickled_handshake_fails_at_the_handshake_deadline() {
        let (s, mut peer) = sockets();
        let h = std::thread::spawn(move || {
            for b in b"PQRS-NX1\x00" {
                if peer.write_all(&[*b]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let t = Instant::now();
        let r =
            TcpChannel::from_stream_secure(s, quick(), &SecureConfig::anonymous(), Side::Server);
        assert!(
            matches!(r, Err(ChannelError::Deadline { .. })),
            "{:?}",
            r.err()
        );
        within(t, Duration::from_secs(2));
        h.join().unwrap();
    }

    /// Both parties send a flight as large as the queue bound at once, then receive: the
    /// bounded queues absorb them and neither blocks for ever. Also past the bound: a
    /// flight of several times the bound, to a peer that is receiving, goes through.
    #[test]
    fn both_parties_send_their_largest_flight_at_once() {
        const BOUND: u64 = 8 << 20;
        for secure in [false, true] {
            let o = TcpOptions {
                queue_bytes: BOUND,
                idle_timeout: Some(Duration::from_secs(20)),
                ..TcpOptions::default()
            };
            let (a, b) = TcpChannel::loopback_pair_with(o, secure).unwrap();
            let flight = |mut ch: TcpChannel| {
                move || {
                    let msg = vec![0xa5u8; 1 << 20];
                    for _ in 0..(BOUND >> 20) {
                        ch.send(&msg).unwrap();
                    }
                    ch.flush().unwrap();
                    for _ in 0..(BOUND >> 20) {
                        assert_eq!(ch.recv_exact_vec(1 << 20).unwrap(), msg);
                    }
                    // then a stream of 4× the bound one way, received as it comes
                    ch
                }
            };
            let t = Instant::now();
            let ha = std::thread::spawn(flight(a));
            let hb = std::thread::spawn(flight(b));
            let (mut a, mut b) = (ha.join().unwrap(), hb.join().unwrap());
            let h = std::thread::spawn(move || {
                let msg = vec![1u8; 1 << 20];
                for _ in 0..4 * (BOUND >> 20) {
                    a.send(&msg).unwrap();
                }
                a.flush().unwrap();
                a
            });
            for _ in 0..4 * (BOUND >> 20) {
                b.recv_exact_vec(1 << 20).unwrap();
            }
            h.join().unwrap();
            within(t, Duration::from_secs(20));
        }
    }

    #[test]
    fn peer_that_closes_mid_message_is_a_short_read_in_time() {
        let (mut ch, mut peer) = raw(quick());
        peer.write_all(&(HELLO_LEN as u64).to_le_bytes()).unwrap();
        peer.write_all(&hello(Role::Client).encode()).unwrap();
        ch.handshake(&hello(Role::Server)).unwrap();
        peer.write_all(&50u64.to_le_bytes()).unwrap();
        peer.write_all(&[0u8; 20]).unwrap();
        // read what the channel sent, so closing sends FIN, not RST
        let mut sink = [0u8; 53];
        std::io::Read::read_exact(&mut peer, &mut sink).unwrap();
        drop(peer);
        let r = ch.recv_vec(100);
        assert!(
            matches!(
                r,
                Err(ChannelError::ShortRead {
                    expected: 50,
                    got: 20
                })
            ),
            "{r:?}"
        );
    }

    /// A peer that reads a trickle cannot hold a large write: it fails at the write's
    /// deadline (idle timeout + size / min_rate).
    #[test]
    fn trickle_reader_cannot_hold_a_write() {
        let o = TcpOptions {
            min_rate: 1_000_000_000,
            ..quick()
        };
        let (mut ch, mut peer) = raw(o);
        let h = std::thread::spawn(move || {
            let mut b = [0u8; 1];
            for _ in 0..60 {
                if std::io::Read::read(&mut peer, &mut b).unwrap_or(0) == 0 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let t = Instant::now();
        let big = vec![0u8; 64 << 20];
        let r = ch.send(&big).and_then(|_| ch.flush());
        assert!(matches!(r, Err(ChannelError::Timeout(_))), "{r:?}");
        within(t, Duration::from_secs(3));
        drop(ch);
        h.join().unwrap();
    }
}
