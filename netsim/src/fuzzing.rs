//! Fuzzing entry points for the transport: the bodies of the `fuzz/` targets `frames`,
//! `handshake` and `keys`, and of the stable corpus replay test.
//!
//! Each function takes arbitrary bytes as what a hostile peer (or a hostile key file) says
//! and drives the transport's real code with them: the [`crate::tcp`] frame reader, the
//! hello exchange, the encrypted channel's opening ([`crate::secure`]: magic, Noise `XX`,
//! admission record) and the reader thread's loop, over an in-memory stream instead of a
//! socket (the reader and writer are generic over the stream for this). Any input may end in
//! an error; none may panic, hang or allocate without bound. The limits are small
//! ([`FUZZ_MAX_MESSAGE`]) so that a length the input declares but does not back is caught as
//! an allocation.
//!
//! The first byte of the input is a *mode* byte, the rest is the peer's stream. Bits 1–2 of
//! the mode choose how the in-memory stream cuts reads (all at once, 1 byte, 7 bytes or
//! 4096 bytes), so the reader's loops over partial reads are exercised as over TCP.

use crate::channel::{HELLO_LEN, Hello, Role, WIRE_VERSION};
use crate::meter::Meter;
use crate::secure::{self, Identity, PeerPolicy, PublicKey, SecureConfig};
use crate::tcp::{self, FrameReader, FrameWriter, Queue, Side, TcpOptions, Wire};
use snow::StatelessTransportState;
use std::io::{Read, Write};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Largest frame the fuzzed reader accepts (the command line derives its own bound; this one
/// is small so a fuzzed length cannot hide an allocation bug).
pub const FUZZ_MAX_MESSAGE: u64 = 1 << 16;

/// The configuration hash both fuzzed hellos carry (all zeros, so a fuzzer finds it).
pub const FUZZ_CONFIG_HASH: [u8; 32] = [0; 32];

/// An in-memory stream: reads come from the input (at most `step` bytes per read, then the
/// end of the stream), writes are counted and dropped.
struct MemWire<'a> {
    input: &'a [u8],
    step: usize,
    written: usize,
}

impl<'a> MemWire<'a> {
    fn new(input: &'a [u8], step: usize) -> Self {
        MemWire {
            input,
            step: step.max(1),
            written: 0,
        }
    }
}

impl Read for MemWire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.step).min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        Ok(n)
    }
}

impl Write for MemWire<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.written += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Wire for MemWire<'_> {
    fn set_read_timeout(&self, _: Option<Duration>) -> std::io::Result<()> {
        Ok(())
    }
    fn set_write_timeout(&self, _: Option<Duration>) -> std::io::Result<()> {
        Ok(())
    }
}

/// The options of a fuzzed channel: small bounds, short deadlines.
fn options() -> TcpOptions {
    TcpOptions {
        idle_timeout: Some(Duration::from_secs(5)),
        handshake_timeout: Duration::from_secs(5),
        frame_timeout: Duration::from_secs(5),
        min_rate: 1_000_000,
        max_message: FUZZ_MAX_MESSAGE,
        queue_bytes: u64::MAX,
        write_buffer: 4096,
    }
}

/// Split the mode byte off: (mode, read step, the rest).
fn mode(data: &[u8]) -> Option<(u8, usize, &[u8])> {
    let (&m, rest) = data.split_first()?;
    let step = [usize::MAX, 1, 7, 4096][usize::from((m >> 1) & 3)];
    Some((m, step, rest))
}

/// After the hello: the reader thread's loop ([`tcp::reader_loop`], run on this thread with
/// an unbounded queue) until the stream ends or a frame fails, then drain the queue.
fn read_all(r: FrameReader<MemWire<'_>>) {
    let q = Arc::new(Queue::new(u64::MAX));
    tcp::reader_loop(r, q.clone(), FUZZ_MAX_MESSAGE);
    while q.pop(Some(Duration::ZERO)).is_ok() {}
}

fn hello(role: Role) -> Hello {
    Hello {
        version: WIRE_VERSION,
        role,
        config_hash: FUZZ_CONFIG_HASH,
    }
}

/// Two ends' transport states of one completed Noise `XX` handshake (run in memory once per
/// process): `.0` the initiator's (the client's), `.1` the responder's.
fn transports() -> &'static (Arc<StatelessTransportState>, Arc<StatelessTransportState>) {
    static T: OnceLock<(Arc<StatelessTransportState>, Arc<StatelessTransportState>)> =
        OnceLock::new();
    T.get_or_init(|| {
        let params = || {
            secure::NOISE_PARAMS
                .parse::<snow::params::NoiseParams>()
                .unwrap_or_else(|_| unreachable!("NOISE_PARAMS is a valid Noise name"))
        };
        let keys = |_| {
            snow::Builder::new(params())
                .generate_keypair()
                .unwrap_or_else(|e| panic!("key generation: {e}"))
        };
        let (ki, kr) = (keys(0), keys(1));
        let build = |k: &snow::Keypair, init: bool| {
            let b = snow::Builder::new(params())
                .prologue(secure::PROLOGUE)
                .and_then(|b| b.local_private_key(&k.private))
                .unwrap_or_else(|e| panic!("handshake setup: {e}"));
            if init {
                b.build_initiator()
            } else {
                b.build_responder()
            }
            .unwrap_or_else(|e| panic!("handshake setup: {e}"))
        };
        let (mut i, mut r) = (build(&ki, true), build(&kr, false));
        let mut buf = [0u8; 1024];
        let mut pl = [0u8; 1024];
        let step = |from: &mut snow::HandshakeState,
                    to: &mut snow::HandshakeState,
                    buf: &mut [u8],
                    pl: &mut [u8]| {
            let n = from
                .write_message(&[], buf)
                .unwrap_or_else(|e| panic!("handshake: {e}"));
            to.read_message(&buf[..n], pl)
                .unwrap_or_else(|e| panic!("handshake: {e}"));
        };
        step(&mut i, &mut r, &mut buf, &mut pl);
        step(&mut r, &mut i, &mut buf, &mut pl);
        step(&mut i, &mut r, &mut buf, &mut pl);
        let t = |h: snow::HandshakeState| {
            Arc::new(
                h.into_stateless_transport_mode()
                    .unwrap_or_else(|e| panic!("handshake: {e}")),
            )
        };
        (t(i), t(r))
    })
}

/// The byte stream an encrypted peer sends, from a script: a sequence of
/// `[tag u8][len u16 LE][len bytes]` items (the last may be short). An even tag encrypts the
/// bytes as one record (at most [`tcp::RECORD_PAYLOAD`] bytes, the next nonce from 0), an odd
/// tag sends them as they are (a forged or misplaced record).
pub fn encrypted_stream(script: &[u8]) -> Vec<u8> {
    let (_, peer) = transports();
    let mut out = Vec::with_capacity(script.len() * 2);
    let mut nonce = 0u64;
    let mut s = script;
    let mut rec = vec![0u8; tcp::RECORD_MAX];
    while let Some((&tag, rest)) = s.split_first() {
        let (len, rest) = match rest {
            [a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), rest),
            _ => (rest.len(), &rest[rest.len()..]),
        };
        let (item, rest) = rest.split_at(len.min(rest.len()));
        s = rest;
        if tag & 1 == 1 {
            out.extend_from_slice(item);
            continue;
        }
        let item = &item[..item.len().min(tcp::RECORD_PAYLOAD)];
        match peer.write_message(nonce, item, &mut rec) {
            Ok(n) => out.extend_from_slice(&rec[..n]),
            Err(e) => panic!("encrypting a record of {} bytes: {e}", item.len()),
        }
        nonce += 1;
    }
    out
}

/// The frame decoder. Mode bit 0 clear: the rest of the input is a plain connection's peer
/// stream, read by the server end (the hello as the first frame, where an encrypted peer's
/// magic and a busy notice are recognised, then frames until the stream ends). Bit 0 set:
/// the rest is a script for [`encrypted_stream`], read by the client end of an encrypted
/// channel whose Noise handshake is done (the admission record, the hello, then frames).
pub fn frames(data: &[u8]) {
    let Some((m, step, rest)) = mode(data) else {
        return;
    };
    let opts = options();
    let hs = opts.handshake_timeout;
    let mut meter = Meter::new();
    if m & 1 == 0 {
        let mut r = FrameReader::new(MemWire::new(rest, step), opts.clone());
        let mut w = FrameWriter::new(MemWire::new(&[], 1), &opts);
        if tcp::exchange_hello(&mut r, &mut w, &mut meter, &hello(Role::Server), hs, true).is_ok() {
            read_all(r);
        }
    } else {
        let stream = encrypted_stream(rest);
        let (ours, _) = transports();
        let mut r = FrameReader::new(MemWire::new(&stream, step), opts.clone());
        let mut w = FrameWriter::new(MemWire::new(&[], 1), &opts);
        r.set_cipher(ours.clone());
        w.set_cipher(ours.clone());
        let cfg = SecureConfig::anonymous();
        let deadline = (std::time::Instant::now() + hs, hs);
        let remote = PublicKey([0; 32]);
        if tcp::admission(
            &mut r,
            &mut w,
            &mut meter,
            &cfg,
            Side::Client,
            remote,
            deadline,
        )
        .is_ok()
            && tcp::exchange_hello(&mut r, &mut w, &mut meter, &hello(Role::Client), hs, false)
                .is_ok()
        {
            read_all(r);
        }
    }
}

fn identity() -> &'static Identity {
    static ID: OnceLock<Identity> = OnceLock::new();
    ID.get_or_init(|| Identity::generate().unwrap_or_else(|e| panic!("key generation: {e}")))
}

/// The encrypted channel's opening, from either end: the rest of the input is what the peer
/// sends from the first byte on (its magic, the Noise messages behind their 2-byte lengths,
/// ...). Mode bit 0: this end is the server (Noise responder; else the client, the
/// initiator); bit 3: this end checks the peer's key against a list (else accepts any key).
/// Should a fuzzed peer ever complete the handshake, the hello and frames follow.
pub fn handshake(data: &[u8]) {
    let Some((m, step, rest)) = mode(data) else {
        return;
    };
    let opts = options();
    let side = if m & 1 == 1 {
        Side::Server
    } else {
        Side::Client
    };
    let cfg = SecureConfig {
        identity: Some(identity().clone()),
        peers: if m & 8 == 8 {
            PeerPolicy::Only(vec![PublicKey([9; 32])])
        } else {
            PeerPolicy::Any
        },
    };
    let mut meter = Meter::new();
    let mut r = FrameReader::new(MemWire::new(rest, step), opts.clone());
    let mut w = FrameWriter::new(MemWire::new(&[], 1), &opts);
    let hs = opts.handshake_timeout;
    if tcp::open_secure(&mut r, &mut w, &mut meter, &cfg, side, hs).is_err() {
        return;
    }
    let role = match side {
        Side::Server => Role::Server,
        Side::Client => Role::Client,
    };
    if tcp::exchange_hello(&mut r, &mut w, &mut meter, &hello(role), hs, false).is_ok() {
        read_all(r);
    }
}

/// Key files: the input as the text of a `--peers` list ([`secure::parse_key_list`]), a
/// `.pub` line ([`PublicKey::parse`]) and a secret key file ([`Identity::parse`]). Text that
/// is not UTF-8 is refused as reading the file refuses it. A key that parses must print as a
/// line that parses back to the same key.
pub fn keys(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(list) = secure::parse_key_list(text) {
        for k in list {
            assert_eq!(
                PublicKey::parse(&k.line()),
                Ok(k),
                "a key changed when printed"
            );
        }
    }
    if let Ok(k) = PublicKey::parse(text) {
        assert_eq!(
            PublicKey::parse(&k.line()),
            Ok(k),
            "a key changed when printed"
        );
    }
    if let Ok(id) = Identity::parse(text) {
        let again = Identity::parse(&id.secret_text())
            .unwrap_or_else(|e| panic!("a secret key file did not read back: {e}"));
        assert_eq!(
            again.public(),
            id.public(),
            "a secret key changed when written"
        );
    }
}

/// Seeds for the `frames` target: a plain peer's valid hello and two messages, and the same
/// as an encrypted script (admission `ok`, hello, messages), each behind its mode byte.
pub fn seeds_frames() -> Vec<Vec<u8>> {
    let h = hello(Role::Client).encode();
    let mut plain = vec![0u8];
    for msg in [&h[..], b"hello", &[7u8; 300]] {
        plain.extend_from_slice(&(msg.len() as u64).to_le_bytes());
        plain.extend_from_slice(msg);
    }
    let mut script = vec![1u8];
    let mut rec = |b: &[u8]| {
        script.push(0);
        script.extend_from_slice(&(b.len() as u16).to_le_bytes());
        script.extend_from_slice(b);
    };
    let hs = hello(Role::Server).encode();
    for msg in [&b"ok"[..], &hs[..], b"hello"] {
        rec(&(msg.len() as u64).to_le_bytes());
        rec(msg);
    }
    debug_assert_eq!(HELLO_LEN, h.len());
    vec![plain, script]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeds reach past the hello: both modes deliver their messages.
    #[test]
    fn seeds_are_accepted_and_mutations_refused() {
        for s in seeds_frames() {
            frames(&s);
            for cut in 0..s.len() {
                frames(&s[..cut]);
            }
        }
        let seeds = seeds_frames();
        // the plain seed's hello is accepted by the real exchange
        let opts = options();
        let mut r = FrameReader::new(MemWire::new(&seeds[0][1..], 3), opts.clone());
        let mut w = FrameWriter::new(MemWire::new(&[], 1), &opts);
        let mut meter = Meter::new();
        let h = tcp::exchange_hello(
            &mut r,
            &mut w,
            &mut meter,
            &hello(Role::Server),
            opts.handshake_timeout,
            true,
        )
        .unwrap();
        assert_eq!(h.role, Role::Client);
        // the encrypted seed passes admission and hello
        let stream = encrypted_stream(&seeds[1][1..]);
        let mut r = FrameReader::new(MemWire::new(&stream, 5), opts.clone());
        let mut w = FrameWriter::new(MemWire::new(&[], 1), &opts);
        r.set_cipher(transports().0.clone());
        w.set_cipher(transports().0.clone());
        let hs = opts.handshake_timeout;
        let d = (std::time::Instant::now() + hs, hs);
        let cfg = SecureConfig::anonymous();
        tcp::admission(
            &mut r,
            &mut w,
            &mut meter,
            &cfg,
            Side::Client,
            PublicKey([0; 32]),
            d,
        )
        .unwrap();
        let h = tcp::exchange_hello(&mut r, &mut w, &mut meter, &hello(Role::Client), hs, false)
            .unwrap();
        assert_eq!(h.role, Role::Server);
        let m = r.read_frame(FUZZ_MAX_MESSAGE, None, None, false).unwrap();
        assert_eq!(m, b"hello");
        // a length beyond the limit is refused before anything is read for it
        let mut big = vec![0u8];
        big.extend_from_slice(&(u64::MAX).to_le_bytes());
        frames(&big);
        handshake(&[1]);
        handshake(&[0, b'P']);
        keys(b"pq25519:0000000000000000000000000000000000000000000000000000000000000000\n");
    }
}
