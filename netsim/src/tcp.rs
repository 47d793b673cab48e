//! TCP channel, plain or encrypted: length-prefixed frames over a `TcpStream` with
//! `TCP_NODELAY`, with every size and every wait bounded.
//!
//! What it sends:
//! * **plain** (`--insecure`, in-process `--transport tcp`): each message is an 8-byte
//!   little-endian length followed by the payload;
//! * **encrypted** (the default for `serve`/`connect`, in-process `--transport tcp-secure`):
//!   after the handshake of [`crate::secure`], each message is a header record (the 8-byte
//!   length, AES-256-GCM encrypted: 24 bytes) and then the payload cut into records of at
//!   most [`RECORD_PAYLOAD`] bytes, each encrypted to at most 65535 bytes (Noise's limit).
//!   Record sizes follow from the length, so records carry no length of their own. Nonces
//!   count records per direction from 0 (the admission record first). After the hello, a
//!   writer thread encrypts and writes (at most [`OUT_QUEUE_BYTES`] queued), and the reader
//!   thread decrypts, so the protocol thread does neither.
//!
//! Everything but the payload (length prefixes, record headers, AEAD tags, the magic, the
//! Noise handshake, the hello) is counted as framing, so payload bytes are identical to the
//! plain channel's and to the in-memory pair's.
//!
//! Limits (see `docs/transport.md` for the values and where they come from):
//! * the hello (and the encrypted channel's handshake) is read synchronously, before the
//!   reader thread starts, at most [`HELLO_LIMIT`] bytes, within `handshake_timeout`;
//! * a frame announcing more than `max_message` is refused (`Oversized`) before anything is
//!   allocated for it, and a large frame's buffer grows only as its bytes arrive;
//! * the reader thread's queue holds at most `queue_bytes` of received messages (plus one
//!   message when it is empty); when full, the reader stops reading, so the peer's writes
//!   wait in TCP's flow control;
//! * once a frame's first byte is here, the whole frame must arrive by an absolute deadline,
//!   `frame_timeout + len / min_rate`: a trickle cannot extend it;
//! * a receive with no frame arriving for `idle_timeout` fails (`Timeout`); a write of `len`
//!   bytes must finish within `idle_timeout + len / min_rate`, so a peer that reads a
//!   trickle cannot hold it for ever.
//!
//! Errors are typed: the peer closing between messages is `Closed`, inside a message
//! `ShortRead`, a record that fails authentication `Malformed`, a refused key `Auth`, a busy
//! server `Busy`, a passed deadline `Deadline`.

use crate::channel::{Channel, HELLO_LEN, Hello, check_hello, not_a_handshake};
use crate::error::{ChannelError, Result};
use crate::meter::Meter;
use crate::secure::{
    self, Established, HsIo, MAGIC_BUSY, MAGIC_SECURE, MAX_BUSY_TEXT, PublicKey, SecureConfig,
};
use snow::StatelessTransportState;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bytes of framing per plain message.
pub const FRAME_HEADER: usize = 8;
/// AEAD tag bytes per record.
pub const TAG: usize = 16;
/// Largest encrypted record (Noise's message limit).
pub const RECORD_MAX: usize = 65535;
/// Payload bytes per full record.
pub const RECORD_PAYLOAD: usize = RECORD_MAX - TAG;
/// Bytes of an encrypted message's header record.
pub const SECURE_HEADER: usize = 8 + TAG;
/// Largest hello (or admission record) read before the reader thread starts.
pub const HELLO_LIMIT: usize = 4096;

/// Default largest frame: 1 GiB. Library users (tests, in-process runs) get this; the
/// command line derives a tighter bound per run from the cost model (`docs/transport.md`).
pub const DEFAULT_MAX_MESSAGE: u64 = 1 << 30;
/// Default bound of the reader's queue: 1 GiB (see [`DEFAULT_MAX_MESSAGE`]).
pub const DEFAULT_QUEUE_BYTES: u64 = 1 << 30;

/// Framing bytes of one encrypted message of `len` payload bytes.
pub fn secure_framing(len: usize) -> usize {
    SECURE_HEADER + TAG * len.div_ceil(RECORD_PAYLOAD)
}

/// TCP channel options.
#[derive(Clone, Debug)]
pub struct TcpOptions {
    /// Fail a receive when no frame arrives for this long (10 minutes by default).
    pub idle_timeout: Option<Duration>,
    /// The whole handshake (magic, Noise, admission, hello) must finish within this (10 s).
    pub handshake_timeout: Duration,
    /// Base time one frame may take once its first byte is here (30 s).
    pub frame_timeout: Duration,
    /// Slowest rate a frame may arrive at, bytes per second (1 MB/s): a frame of `len` bytes
    /// must be complete `frame_timeout + len / min_rate` after its first byte.
    pub min_rate: u64,
    /// Refuse frames announcing more than this many bytes ([`DEFAULT_MAX_MESSAGE`]).
    pub max_message: u64,
    /// Bytes of received messages the reader may queue before it stops reading
    /// ([`DEFAULT_QUEUE_BYTES`]). Must be at least the largest flight the peer sends while
    /// this end is itself sending, or both ends can block in their writes.
    pub queue_bytes: u64,
    /// Write buffer size.
    pub write_buffer: usize,
}

impl Default for TcpOptions {
    fn default() -> Self {
        TcpOptions {
            idle_timeout: Some(Duration::from_secs(600)),
            handshake_timeout: Duration::from_secs(10),
            frame_timeout: Duration::from_secs(30),
            min_rate: 1_000_000,
            max_message: DEFAULT_MAX_MESSAGE,
            queue_bytes: DEFAULT_QUEUE_BYTES,
            write_buffer: 1 << 20,
        }
    }
}

impl TcpOptions {
    fn frame_limit(&self, len: u64) -> Duration {
        let rate = self.min_rate.max(1);
        self.frame_timeout + Duration::from_secs_f64(len as f64 / rate as f64)
    }
}

/// Which end of an encrypted connection this is (the client initiates the Noise handshake).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Accepted the connection; checks the client's key against its list and admits it.
    Server,
    /// Opened the connection; checks the server's key.
    Client,
}

pub(crate) enum Incoming {
    Msg(Vec<u8>),
    Err(ChannelError),
}

impl Incoming {
    fn bytes(&self) -> u64 {
        match self {
            Incoming::Msg(m) => m.len() as u64,
            Incoming::Err(_) => 0,
        }
    }
}

#[derive(Default)]
struct QueueState {
    items: VecDeque<Incoming>,
    bytes: u64,
    /// The receiving end is gone: the reader stops.
    closed: bool,
}

/// The reader → protocol queue, bounded in bytes.
pub(crate) struct Queue {
    st: Mutex<QueueState>,
    cv: Condvar,
    bound: u64,
    /// Deadline of the frame being read (ms since `epoch` + 1), 0 when none.
    frame_deadline: AtomicU64,
    epoch: Instant,
}

impl Queue {
    /// An empty queue holding at most `bound` bytes (plus one message when empty).
    pub(crate) fn new(bound: u64) -> Self {
        Queue {
            st: Mutex::new(QueueState::default()),
            cv: Condvar::new(),
            bound,
            frame_deadline: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.st.lock().unwrap_or_else(|p| p.into_inner())
    }
    /// Push, waiting while the queue is non-empty and the message would exceed the bound.
    /// Returns false when the receiving end is gone.
    fn push(&self, inc: Incoming) -> bool {
        let n = inc.bytes();
        let mut g = self.lock();
        while !g.closed && !g.items.is_empty() && g.bytes + n > self.bound {
            g = self.cv.wait(g).unwrap_or_else(|p| p.into_inner());
        }
        if g.closed {
            return false;
        }
        g.bytes += n;
        g.items.push_back(inc);
        self.cv.notify_all();
        true
    }
    fn set_frame_deadline(&self, d: Option<Instant>) {
        let v = d.map_or(0, |d| {
            d.saturating_duration_since(self.epoch).as_millis() as u64 + 1
        });
        self.frame_deadline.store(v, Ordering::Relaxed);
    }
    fn frame_deadline(&self) -> Option<Instant> {
        match self.frame_deadline.load(Ordering::Relaxed) {
            0 => None,
            v => Some(self.epoch + Duration::from_millis(v - 1)),
        }
    }
    /// Pop the next item; fail once no frame has arrived for `idle` (a frame in progress
    /// is waited for until its own deadline, which the reader enforces).
    pub(crate) fn pop(&self, idle: Option<Duration>) -> Result<Incoming> {
        let idle_deadline = idle.map(|t| (Instant::now() + t, t));
        let mut g = self.lock();
        loop {
            if let Some(inc) = g.items.pop_front() {
                g.bytes -= inc.bytes();
                self.cv.notify_all();
                return Ok(inc);
            }
            let now = Instant::now();
            let wake = match (self.frame_deadline(), idle_deadline) {
                // the reader fails the frame at its deadline; wake a little after it
                (Some(f), _) => Some(f.max(now) + Duration::from_millis(50)),
                (None, Some((d, t))) => {
                    if now >= d {
                        return Err(ChannelError::Timeout(t));
                    }
                    Some(d)
                }
                (None, None) => None,
            };
            g = match wake {
                None => self.cv.wait(g).unwrap_or_else(|p| p.into_inner()),
                Some(w) => {
                    // poll at least every 100 ms: a frame may start while we sleep
                    let step = w
                        .saturating_duration_since(now)
                        .min(Duration::from_millis(100));
                    self.cv
                        .wait_timeout(g, step)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }
    fn close(&self) {
        self.lock().closed = true;
        self.cv.notify_all();
    }
}

/// What the frame reader and writer need of a byte stream: a `TcpStream` in the channel, an
/// in-memory stream in [`crate::fuzzing`] (so the fuzzer drives this same decoder).
pub(crate) trait Wire: Read + Write + Send {
    /// As `TcpStream::set_read_timeout`.
    fn set_read_timeout(&self, t: Option<Duration>) -> std::io::Result<()>;
    /// As `TcpStream::set_write_timeout`.
    fn set_write_timeout(&self, t: Option<Duration>) -> std::io::Result<()>;
}

impl Wire for TcpStream {
    fn set_read_timeout(&self, t: Option<Duration>) -> std::io::Result<()> {
        TcpStream::set_read_timeout(self, t)
    }
    fn set_write_timeout(&self, t: Option<Duration>) -> std::io::Result<()> {
        TcpStream::set_write_timeout(self, t)
    }
}

/// Reads frames (plain or encrypted) from the socket with limits and deadlines.
pub(crate) struct FrameReader<S = TcpStream> {
    s: S,
    cipher: Option<Arc<StatelessTransportState>>,
    nonce: u64,
    scratch: Vec<u8>,
    opts: TcpOptions,
    /// The last read timeout set on the socket (avoids a system call per read).
    timeout_set: Option<Duration>,
    /// Bytes read that were not payload (for the meter of the synchronous reads).
    framing: usize,
}

impl<S: Wire> FrameReader<S> {
    pub(crate) fn new(s: S, opts: TcpOptions) -> Self {
        FrameReader {
            s,
            cipher: None,
            nonce: 0,
            scratch: Vec::new(),
            opts,
            timeout_set: None,
            framing: 0,
        }
    }

    /// Decrypt from now on with `c` (nonces from 0).
    pub(crate) fn set_cipher(&mut self, c: Arc<StatelessTransportState>) {
        self.cipher = Some(c);
        self.nonce = 0;
    }

    /// Read up to `buf.len()` bytes by `deadline` (None: wait for ever); returns 0 at the end
    /// of the stream.
    fn read_some(
        &mut self,
        buf: &mut [u8],
        deadline: Option<(Instant, Duration, &'static str)>,
    ) -> Result<usize> {
        loop {
            let t = match deadline {
                None => None,
                Some((d, limit, what)) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(ChannelError::Deadline { what, limit });
                    }
                    Some(left)
                }
            };
            if t != self.timeout_set {
                self.s.set_read_timeout(t)?;
                self.timeout_set = t;
            }
            match self.s.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => {
                    return Err(match e.kind() {
                        std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::UnexpectedEof => closed(),
                        _ => ChannelError::Io(e),
                    });
                }
            }
        }
    }

    /// Fill `buf` by `deadline`; `expected`/`base` describe the enclosing frame for
    /// `ShortRead`.
    fn fill(
        &mut self,
        buf: &mut [u8],
        deadline: Option<(Instant, Duration, &'static str)>,
        expected: usize,
        base: usize,
    ) -> Result<()> {
        let mut got = 0;
        while got < buf.len() {
            let n = self
                .read_some(&mut buf[got..], deadline)
                .map_err(|e| match e {
                    ChannelError::Closed { .. } => ChannelError::ShortRead {
                        expected,
                        got: base + got,
                    },
                    e => e,
                })?;
            if n == 0 {
                return Err(ChannelError::ShortRead {
                    expected,
                    got: base + got,
                });
            }
            got += n;
        }
        Ok(())
    }

    fn decrypt(&mut self, rec: usize, out: &mut [u8]) -> Result<usize> {
        let Some(c) = &self.cipher else {
            return Err(ChannelError::Malformed("no cipher".into()));
        };
        let n = c
            .read_message(self.nonce, &self.scratch[..rec], out)
            .map_err(|_| {
                ChannelError::Malformed(
                    "a record failed authentication (tampered with, or not from the peer)".into(),
                )
            })?;
        self.nonce += 1;
        Ok(n)
    }

    /// Read one frame of at most `limit` bytes. With `within`, the whole frame (including
    /// the wait for its first byte) must arrive by that deadline (the handshake's);
    /// otherwise the first byte may take for ever and the frame gets its own deadline.
    /// `first`: the first frame of a plain connection, where the encrypted channel's magic
    /// and the busy notice are recognised.
    pub(crate) fn read_frame(
        &mut self,
        limit: u64,
        within: Option<(Instant, Duration)>,
        q: Option<&Queue>,
        first: bool,
    ) -> Result<Vec<u8>> {
        let hs = within.map(|(d, l)| (d, l, "handshake"));
        let hlen = if self.cipher.is_some() {
            SECURE_HEADER
        } else {
            FRAME_HEADER
        };
        let mut h = [0u8; SECURE_HEADER];
        let n = self.read_some(&mut h[..hlen], hs)?;
        if n == 0 {
            return Err(closed());
        }
        let start = Instant::now();
        let ft = self.opts.frame_timeout;
        let hdl = hs.or(Some((start + ft, ft, "frame")));
        if let Some(q) = q {
            q.set_frame_deadline(hdl.map(|d| d.0));
        }
        self.fill(&mut h[n..hlen], hdl, hlen, n)?;
        let len = if self.cipher.is_some() {
            self.scratch.resize(RECORD_MAX, 0);
            self.scratch[..SECURE_HEADER].copy_from_slice(&h);
            let mut l = [0u8; 8];
            self.decrypt(SECURE_HEADER, &mut l)?;
            u64::from_le_bytes(l)
        } else {
            let mut l = [0u8; 8];
            l.copy_from_slice(&h[..8]);
            if first {
                recognise_first_plain(l, self, hdl)?;
            }
            u64::from_le_bytes(l)
        };
        if len > limit {
            return Err(ChannelError::Oversized { got: len, limit });
        }
        let Ok(len) = usize::try_from(len) else {
            return Err(ChannelError::Oversized { got: len, limit });
        };
        let fl = self.opts.frame_limit(len as u64);
        let dl = hs.or(Some((start + fl, fl, "frame")));
        if let Some(q) = q {
            q.set_frame_deadline(dl.map(|d| d.0));
        }
        let body = if self.cipher.is_some() {
            self.read_secure_body(len, dl)?
        } else {
            self.read_plain_body(len, dl)?
        };
        self.framing += if self.cipher.is_some() {
            secure_framing(len)
        } else {
            FRAME_HEADER
        };
        if let Some(q) = q {
            q.set_frame_deadline(None);
        }
        Ok(body)
    }

    fn read_plain_body(
        &mut self,
        len: usize,
        dl: Option<(Instant, Duration, &'static str)>,
    ) -> Result<Vec<u8>> {
        // The buffer grows as data arrives, so an announced size is not allocated up front.
        let mut body = Vec::new();
        while body.len() < len {
            let old = body.len();
            let want = (len - old).min(READ_CHUNK.max(old));
            body.resize(old + want, 0);
            self.fill(&mut body[old..], dl, len, old)?;
        }
        Ok(body)
    }

    fn read_secure_body(
        &mut self,
        len: usize,
        dl: Option<(Instant, Duration, &'static str)>,
    ) -> Result<Vec<u8>> {
        let mut body: Vec<u8> = Vec::new();
        let mut off = 0;
        while off < len {
            let p = (len - off).min(RECORD_PAYLOAD);
            let rec = p + TAG;
            let mut scratch = std::mem::take(&mut self.scratch);
            scratch.resize(RECORD_MAX, 0);
            let r = self.fill(&mut scratch[..rec], dl, len, off);
            self.scratch = scratch;
            r?;
            if body.len() < off + p {
                // grow geometrically, at most to the announced length
                let want = (off + p).max((body.len() * 2).min(len)).min(len);
                body.resize(want, 0);
            }
            self.decrypt(rec, &mut body[off..off + p])?;
            off += p;
        }
        body.truncate(len);
        Ok(body)
    }
}

/// On a plain connection's first frame, recognise an encrypted peer's magic and a busy
/// server's notice instead of reading them as a length.
fn recognise_first_plain<S: Wire>(
    h: [u8; 8],
    r: &mut FrameReader<S>,
    dl: Option<(Instant, Duration, &'static str)>,
) -> Result<()> {
    if h == MAGIC_SECURE {
        return Err(ChannelError::Handshake(
            "the peer uses the encrypted channel and this end runs without encryption \
             (--insecure): use the same mode on both sides"
                .into(),
        ));
    }
    if h == MAGIC_BUSY {
        return Err(read_busy(r, dl));
    }
    Ok(())
}

fn read_busy<S: Wire>(
    r: &mut FrameReader<S>,
    dl: Option<(Instant, Duration, &'static str)>,
) -> ChannelError {
    let mut text = vec![0u8; MAX_BUSY_TEXT];
    let mut got = 0;
    while got < text.len() {
        match r.read_some(&mut text[got..], dl) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    let s = String::from_utf8_lossy(&text[..got]);
    ChannelError::Busy(s.lines().next().unwrap_or("").trim().to_string())
}

/// Bytes allocated at once for an incoming plain message.
const READ_CHUNK: usize = 1 << 20;

/// Writes frames (plain or encrypted) through one buffer.
pub(crate) struct FrameWriter<S = TcpStream> {
    s: S,
    buf: Vec<u8>,
    pos: usize,
    cipher: Option<Arc<StatelessTransportState>>,
    nonce: u64,
    /// Each write of `len` bytes must finish within `idle + len / min_rate` (a peer that
    /// reads a trickle cannot hold a write for ever).
    idle: Option<Duration>,
    min_rate: u64,
}

impl<S: Wire> FrameWriter<S> {
    pub(crate) fn new(s: S, o: &TcpOptions) -> Self {
        // room for a full buffer plus one record, so a record is never split
        FrameWriter {
            s,
            buf: vec![0u8; o.write_buffer.max(FRAME_HEADER) + RECORD_MAX],
            pos: 0,
            cipher: None,
            nonce: 0,
            idle: o.idle_timeout.filter(|t| !t.is_zero()),
            min_rate: o.min_rate.max(1),
        }
    }
    /// Encrypt from now on with `c` (nonces from 0).
    pub(crate) fn set_cipher(&mut self, c: Arc<StatelessTransportState>) {
        self.cipher = Some(c);
        self.nonce = 0;
    }
    /// Write all of `b` by an absolute deadline (`idle + len / min_rate`).
    fn write_within(s: &mut S, b: &[u8], idle: Option<Duration>, rate: u64) -> std::io::Result<()> {
        let Some(idle) = idle else {
            return s.write_all(b);
        };
        let deadline =
            Instant::now() + idle + Duration::from_secs_f64(b.len() as f64 / rate as f64);
        let mut off = 0;
        while off < b.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "write deadline passed",
                ));
            }
            s.set_write_timeout(Some(left))?;
            match s.write(&b[off..]) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => off += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
    fn cap(&self) -> usize {
        self.buf.len() - RECORD_MAX
    }
    fn push_out(&mut self) -> std::io::Result<()> {
        if self.pos > 0 {
            Self::write_within(&mut self.s, &self.buf[..self.pos], self.idle, self.min_rate)?;
            self.pos = 0;
        }
        Ok(())
    }
    fn encrypt(&mut self, plain: &[u8]) -> std::io::Result<()> {
        if self.pos + plain.len() + TAG > self.buf.len() {
            self.push_out()?;
        }
        let Some(c) = &self.cipher else {
            return Err(std::io::Error::other("no cipher"));
        };
        let n = c
            .write_message(self.nonce, plain, &mut self.buf[self.pos..])
            .map_err(|e| std::io::Error::other(format!("encryption failed: {e}")))?;
        self.nonce += 1;
        self.pos += n;
        if self.pos >= self.cap() {
            self.push_out()?;
        }
        Ok(())
    }
    /// Append one message; returns the framing bytes it took.
    fn send(&mut self, msg: &[u8]) -> std::io::Result<usize> {
        if self.cipher.is_some() {
            self.encrypt(&(msg.len() as u64).to_le_bytes())?;
            for rec in msg.chunks(RECORD_PAYLOAD) {
                self.encrypt(rec)?;
            }
            return Ok(secure_framing(msg.len()));
        }
        let hdr = (msg.len() as u64).to_le_bytes();
        if self.pos + FRAME_HEADER + msg.len() <= self.cap() {
            self.buf[self.pos..self.pos + FRAME_HEADER].copy_from_slice(&hdr);
            self.pos += FRAME_HEADER;
            self.buf[self.pos..self.pos + msg.len()].copy_from_slice(msg);
            self.pos += msg.len();
        } else {
            if self.pos + FRAME_HEADER > self.cap() {
                self.push_out()?;
            }
            self.buf[self.pos..self.pos + FRAME_HEADER].copy_from_slice(&hdr);
            self.pos += FRAME_HEADER;
            self.push_out()?;
            Self::write_within(&mut self.s, msg, self.idle, self.min_rate)?;
        }
        Ok(FRAME_HEADER)
    }
    fn raw(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.push_out()?;
        Self::write_within(&mut self.s, b, self.idle, self.min_rate)
    }
}

/// Bytes of messages the protocol thread may hand to the writer thread before it waits.
pub const OUT_QUEUE_BYTES: u64 = 64 << 20;

#[derive(Default)]
struct OutState {
    items: VecDeque<Vec<u8>>,
    bytes: u64,
    closed: bool,
    err: Option<(std::io::ErrorKind, String)>,
    pool: Vec<Vec<u8>>,
}

/// The encrypted channel's writer thread: the protocol thread queues plaintext messages,
/// this thread encrypts and writes them (so encryption runs beside the protocol's compute).
/// It writes its buffer out whenever its queue runs empty.
struct OutQueue {
    st: Mutex<OutState>,
    cv: Condvar,
}

impl OutQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, OutState> {
        self.st.lock().unwrap_or_else(|p| p.into_inner())
    }
    /// Queue `msg` (copied into a recycled buffer).
    fn push(&self, msg: &[u8]) -> std::io::Result<()> {
        self.push_with(msg.len(), |pool| {
            let mut b = match pool.iter().position(|b| b.capacity() >= msg.len()) {
                Some(i) => pool.swap_remove(i),
                None => Vec::with_capacity(msg.len()),
            };
            b.clear();
            b.extend_from_slice(msg);
            b
        })
    }
    /// Queue an owned message without copying it.
    fn push_owned(&self, msg: Vec<u8>) -> std::io::Result<()> {
        self.push_with(msg.len(), |_| msg)
    }
    fn push_with(
        &self,
        len: usize,
        make: impl FnOnce(&mut Vec<Vec<u8>>) -> Vec<u8>,
    ) -> std::io::Result<()> {
        let n = len as u64;
        let mut g = self.lock();
        loop {
            if let Some((k, m)) = &g.err {
                return Err(std::io::Error::new(*k, m.clone()));
            }
            if g.items.is_empty() || g.bytes + n <= OUT_QUEUE_BYTES {
                break;
            }
            g = self.cv.wait(g).unwrap_or_else(|p| p.into_inner());
        }
        let b = make(&mut g.pool);
        g.bytes += n;
        g.items.push_back(b);
        self.cv.notify_all();
        Ok(())
    }
    fn check(&self) -> std::io::Result<()> {
        match &self.lock().err {
            Some((k, m)) => Err(std::io::Error::new(*k, m.clone())),
            None => Ok(()),
        }
    }
    fn close(&self) {
        self.lock().closed = true;
        self.cv.notify_all();
    }
}

fn writer_loop(mut w: FrameWriter, q: Arc<OutQueue>) {
    let fail = |q: &OutQueue, e: std::io::Error| {
        let mut g = q.lock();
        g.err = Some((e.kind(), e.to_string()));
        g.items.clear();
        g.bytes = 0;
        q.cv.notify_all();
    };
    loop {
        let mut g = q.lock();
        let item = loop {
            if let Some(m) = g.items.pop_front() {
                break Some(m);
            }
            if g.closed {
                break None;
            }
            if w.pos > 0 {
                drop(g);
                if let Err(e) = w.push_out() {
                    fail(&q, e);
                    return;
                }
                g = q.lock();
                continue;
            }
            g = q.cv.wait(g).unwrap_or_else(|p| p.into_inner());
        };
        drop(g);
        let Some(m) = item else {
            let _ = w.push_out();
            return;
        };
        let r = w.send(&m);
        let mut g = q.lock();
        g.bytes -= m.len() as u64;
        if g.pool.len() < 8 && m.capacity() <= (4 << 20) {
            g.pool.push(m);
        }
        q.cv.notify_all();
        drop(g);
        if let Err(e) = r {
            fail(&q, e);
            return;
        }
    }
}

enum Inbox {
    /// Before the hello: frames are read synchronously by the protocol thread.
    Pending(Box<FrameReader>),
    /// After: a reader thread feeds the bounded queue.
    Running {
        q: Arc<Queue>,
        reader: Option<JoinHandle<()>>,
    },
}

/// One end of a TCP connection (plain or encrypted).
pub struct TcpChannel {
    writer: FrameWriter,
    /// The encrypted channel's writer thread, once the hello is done.
    out: Option<(Arc<OutQueue>, Option<JoinHandle<()>>)>,
    inbox: Inbox,
    meter: Meter,
    opts: TcpOptions,
    remote_key: Option<PublicKey>,
    encrypted: bool,
}

/// Handshake reads and writes on the raw stream, under one deadline.
struct RawIo<'a, S: Wire> {
    r: &'a mut FrameReader<S>,
    w: &'a mut FrameWriter<S>,
    deadline: (Instant, Duration),
    sent: usize,
    recv: usize,
}

impl<S: Wire> HsIo for RawIo<'_, S> {
    fn write_all(&mut self, b: &[u8]) -> Result<()> {
        self.sent += b.len();
        self.w.raw(b).map_err(|e| map_write(e, self.deadline.1))
    }
    fn read_exact(&mut self, b: &mut [u8], _what: &'static str) -> Result<()> {
        self.recv += b.len();
        let (d, l) = self.deadline;
        self.r.fill(b, Some((d, l, "handshake")), b.len(), 0)
    }
}

impl TcpChannel {
    /// Connect to `addr`, retrying for up to `retry_for` while the listener is not up yet.
    pub fn connect<A: ToSocketAddrs>(
        addr: A,
        opts: TcpOptions,
        retry_for: Duration,
    ) -> Result<Self> {
        Self::from_stream(connect_stream(addr, retry_for)?, opts)
    }

    /// Connect and run the encrypted channel's handshake as the client.
    pub fn connect_secure<A: ToSocketAddrs>(
        addr: A,
        opts: TcpOptions,
        cfg: &SecureConfig,
        retry_for: Duration,
    ) -> Result<Self> {
        Self::from_stream_secure(connect_stream(addr, retry_for)?, opts, cfg, Side::Client)
    }

    /// Accept one connection on `listener`.
    pub fn accept(listener: &TcpListener, opts: TcpOptions) -> Result<Self> {
        let (s, _) = listener.accept()?;
        Self::from_stream(s, opts)
    }

    /// A connected pair over loopback (for in-process runs over real TCP); encrypted under
    /// throwaway keys when `secure`.
    pub fn loopback_pair_with(opts: TcpOptions, secure: bool) -> Result<(TcpChannel, TcpChannel)> {
        let l = TcpListener::bind("127.0.0.1:0")?;
        let addr = l.local_addr()?;
        let o2 = opts.clone();
        let h = std::thread::spawn(move || {
            let s = connect_stream(addr, Duration::from_secs(5))?;
            if secure {
                TcpChannel::from_stream_secure(s, o2, &SecureConfig::anonymous(), Side::Client)
            } else {
                TcpChannel::from_stream(s, o2)
            }
        });
        let (s, _) = l.accept()?;
        let a = if secure {
            TcpChannel::from_stream_secure(s, opts, &SecureConfig::anonymous(), Side::Server)
        } else {
            TcpChannel::from_stream(s, opts)
        };
        let b = h
            .join()
            .map_err(|_| ChannelError::Malformed("connect thread panicked".into()))?;
        Ok((a?, b?))
    }

    /// A plain connected pair over loopback.
    pub fn loopback_pair(opts: TcpOptions) -> Result<(TcpChannel, TcpChannel)> {
        Self::loopback_pair_with(opts, false)
    }

    /// Wrap a connected stream, plain: sets `TCP_NODELAY` and a write timeout equal to the
    /// idle timeout. The reader thread starts after the hello ([`Channel::handshake`]) or at
    /// the first send or receive.
    pub fn from_stream(s: TcpStream, opts: TcpOptions) -> Result<Self> {
        s.set_nodelay(true)?;
        s.set_read_timeout(None)?;
        s.set_write_timeout(opts.idle_timeout.filter(|t| !t.is_zero()))?;
        let rd = s.try_clone()?;
        Ok(TcpChannel {
            writer: FrameWriter::new(s, &opts),
            out: None,
            inbox: Inbox::Pending(Box::new(FrameReader::new(rd, opts.clone()))),
            meter: Meter::new(),
            opts,
            remote_key: None,
            encrypted: false,
        })
    }

    /// Wrap a connected stream and run the encrypted channel's handshake
    /// ([`crate::secure`]) within `opts.handshake_timeout`: the magic, Noise `XX`, the key
    /// checks and the admission record. A refused key is [`ChannelError::Auth`].
    pub fn from_stream_secure(
        s: TcpStream,
        opts: TcpOptions,
        cfg: &SecureConfig,
        side: Side,
    ) -> Result<Self> {
        let mut ch = Self::from_stream(s, opts)?;
        ch.encrypted = true;
        let hs = ch.opts.handshake_timeout;
        let Inbox::Pending(r) = &mut ch.inbox else {
            return Err(ChannelError::Malformed("reader already running".into()));
        };
        let remote = open_secure(r, &mut ch.writer, &mut ch.meter, cfg, side, hs)?;
        ch.remote_key = Some(remote);
        Ok(ch)
    }

    /// The options this channel was made with.
    pub fn options(&self) -> &TcpOptions {
        &self.opts
    }

    /// The peer's static public key (encrypted channel only).
    pub fn remote_key(&self) -> Option<PublicKey> {
        self.remote_key
    }

    /// Whether the channel is encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.encrypted
    }

    fn start_reader(&mut self) -> Result<()> {
        let Inbox::Pending(_) = &self.inbox else {
            return Ok(());
        };
        let q = Arc::new(Queue::new(self.opts.queue_bytes));
        let placeholder = Inbox::Running {
            q: q.clone(),
            reader: None,
        };
        let Inbox::Pending(r) = std::mem::replace(&mut self.inbox, placeholder) else {
            return Ok(());
        };
        let q2 = q.clone();
        let max = self.opts.max_message;
        let h = std::thread::Builder::new()
            .name("pq-tcp-reader".into())
            .spawn(move || reader_loop(*r, q2, max))?;
        self.inbox = Inbox::Running { q, reader: Some(h) };
        if self.encrypted && self.out.is_none() {
            // the thread continues the sync writer's nonce sequence; the sync writer is not
            // used again
            let mut w = FrameWriter::new(self.writer.s.try_clone()?, &self.opts);
            w.cipher = self.writer.cipher.take();
            w.nonce = self.writer.nonce;
            self.writer
                .push_out()
                .map_err(|e| map_write(e, Duration::ZERO))?;
            let oq = Arc::new(OutQueue {
                st: Mutex::new(OutState::default()),
                cv: Condvar::new(),
            });
            let oq2 = oq.clone();
            let h = std::thread::Builder::new()
                .name("pq-tcp-writer".into())
                .spawn(move || writer_loop(w, oq2))?;
            self.out = Some((oq, Some(h)));
        }
        Ok(())
    }

    fn next(&mut self) -> Result<Vec<u8>> {
        self.flush()?;
        self.start_reader()?;
        let Inbox::Running { q, .. } = &self.inbox else {
            return Err(ChannelError::Malformed("reader not running".into()));
        };
        match q.pop(self.opts.idle_timeout)? {
            Incoming::Msg(m) => {
                let f = if self.encrypted {
                    secure_framing(m.len())
                } else {
                    FRAME_HEADER
                };
                self.meter.on_recv(m.len(), f);
                Ok(m)
            }
            Incoming::Err(e) => {
                // keep failing: the reader has stopped
                let again = match &e {
                    ChannelError::Closed { .. } => closed(),
                    e => ChannelError::Malformed(format!("the channel failed earlier: {e}")),
                };
                q.lock().items.push_front(Incoming::Err(again));
                Err(e)
            }
        }
    }
}

/// The encrypted channel's opening on a fresh stream, within `hs`: the magic, Noise `XX`,
/// the key checks and the admission record. Sets both ciphers; counts everything as framing
/// in `meter`. Returns the peer's static key; a refused key is [`ChannelError::Auth`].
pub(crate) fn open_secure<S: Wire>(
    r: &mut FrameReader<S>,
    w: &mut FrameWriter<S>,
    meter: &mut Meter,
    cfg: &SecureConfig,
    side: Side,
    hs: Duration,
) -> Result<PublicKey> {
    let deadline = (Instant::now() + hs, hs);
    let mut io = RawIo {
        r,
        w,
        deadline,
        sent: 0,
        recv: 0,
    };
    io.write_all(&MAGIC_SECURE)?;
    let mut m = [0u8; 8];
    io.read_exact(&mut m, "magic").map_err(|e| match e {
        ChannelError::ShortRead { got: 0, .. } => closed_ctx("before the handshake"),
        e => e,
    })?;
    if m == MAGIC_BUSY {
        return Err(read_busy(io.r, Some((deadline.0, hs, "handshake"))));
    }
    if m == (HELLO_LEN as u64).to_le_bytes() {
        return Err(ChannelError::Handshake(
            "the peer runs without encryption (--insecure) and this end requires the \
             encrypted channel: use the same mode on both sides"
                .into(),
        ));
    }
    if m != MAGIC_SECURE {
        return Err(ChannelError::Malformed(
            "the peer is not a PrivQuant-RS party (wrong program or port?)".into(),
        ));
    }
    let Established { transport, remote } = secure::handshake(&mut io, cfg, side == Side::Client)?;
    let (sent, recv) = (io.sent, io.recv);
    meter.add_framing(sent, recv);
    let t = Arc::new(transport);
    w.cipher = Some(t.clone());
    r.cipher = Some(t);
    admission(r, w, meter, cfg, side, remote, deadline)?;
    Ok(remote)
}

/// The admission record, the first encrypted message: the server sends its verdict on the
/// client's key (`ok` or `refused: why`), the client reads it (at most [`HELLO_LIMIT`]
/// bytes, by `deadline`).
pub(crate) fn admission<S: Wire>(
    r: &mut FrameReader<S>,
    w: &mut FrameWriter<S>,
    meter: &mut Meter,
    cfg: &SecureConfig,
    side: Side,
    remote: PublicKey,
    deadline: (Instant, Duration),
) -> Result<()> {
    let hs = deadline.1;
    match side {
        Side::Server => {
            let verdict = secure::admit(cfg, remote);
            let text = match &verdict {
                Ok(()) => "ok".to_string(),
                Err(why) => format!("refused: {why}"),
            };
            let f = w.send(text.as_bytes()).map_err(|e| map_write(e, hs))?;
            w.push_out().map_err(|e| map_write(e, hs))?;
            meter.add_framing(text.len() + f, 0);
            if let Err(why) = verdict {
                return Err(ChannelError::Auth(why));
            }
        }
        Side::Client => {
            r.framing = 0;
            let v = r.read_frame(HELLO_LIMIT as u64, Some(deadline), None, false)?;
            let f = r.framing;
            meter.add_framing(0, v.len() + f);
            if v != b"ok" {
                let s = String::from_utf8_lossy(&v);
                return Err(ChannelError::Auth(
                    s.strip_prefix("refused: ").unwrap_or(&s).to_string(),
                ));
            }
        }
    }
    Ok(())
}

/// Send our hello and read the peer's (synchronously, at most [`HELLO_LIMIT`] bytes, within
/// `hs`), counting both as framing; refuse a mismatch. `first`: the first frame of a plain
/// connection (an encrypted peer's magic and a busy notice are recognised there).
pub(crate) fn exchange_hello<S: Wire>(
    r: &mut FrameReader<S>,
    w: &mut FrameWriter<S>,
    meter: &mut Meter,
    ours: &Hello,
    hs: Duration,
    first: bool,
) -> Result<Hello> {
    let deadline = (Instant::now() + hs, hs);
    let f = w.send(&ours.encode()).map_err(|e| map_write(e, hs))?;
    w.push_out().map_err(|e| map_write(e, hs))?;
    meter.add_framing(HELLO_LEN + f, 0);
    r.framing = 0;
    let v = r
        .read_frame(HELLO_LIMIT as u64, Some(deadline), None, first)
        .map_err(|e| match e {
            ChannelError::Oversized { .. } => ChannelError::Malformed(format!(
                "the peer did not send a PrivQuant-RS handshake (wrong program or port?): {e}"
            )),
            e => not_a_handshake(e),
        })?;
    let fr = r.framing;
    meter.add_framing(0, v.len() + fr);
    let theirs = Hello::decode(&v)?;
    check_hello(ours, &theirs)?;
    Ok(theirs)
}

fn connect_stream<A: ToSocketAddrs>(addr: A, retry_for: Duration) -> Result<TcpStream> {
    let start = Instant::now();
    let addrs: Vec<_> = addr.to_socket_addrs()?.collect();
    loop {
        let mut last = None;
        for a in &addrs {
            match TcpStream::connect(a) {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        if start.elapsed() >= retry_for {
            return Err(last
                .map(ChannelError::Io)
                .unwrap_or_else(|| ChannelError::Malformed("address resolved to nothing".into())));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn closed() -> ChannelError {
    ChannelError::Closed {
        context: String::new(),
    }
}

fn closed_ctx(c: &str) -> ChannelError {
    ChannelError::Closed {
        context: c.to_string(),
    }
}

fn map_write(e: std::io::Error, t: Duration) -> ChannelError {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::WouldBlock | K::TimedOut => ChannelError::Timeout(t),
        K::BrokenPipe | K::ConnectionReset | K::ConnectionAborted | K::NotConnected => {
            closed_ctx("while sending")
        }
        _ => ChannelError::Io(e),
    }
}

pub(crate) fn reader_loop<S: Wire>(mut r: FrameReader<S>, q: Arc<Queue>, max: u64) {
    loop {
        let inc = match r.read_frame(max, None, Some(&q), false) {
            Ok(m) => Incoming::Msg(m),
            Err(e) => Incoming::Err(e),
        };
        q.set_frame_deadline(None);
        let stop = matches!(inc, Incoming::Err(_));
        if !q.push(inc) || stop {
            // wake a receiver waiting on a frame deadline
            q.cv.notify_all();
            return;
        }
    }
}

/// Send a busy notice on a connection this server will not serve now, then close it.
/// Best effort: a peer that does not read it is dropped anyway.
pub fn refuse_busy(mut s: TcpStream, why: &str) {
    let _ = s.set_write_timeout(Some(Duration::from_secs(1)));
    let mut b = MAGIC_BUSY.to_vec();
    b.extend_from_slice(why.as_bytes());
    b.push(b'\n');
    let _ = s.write_all(&b);
    let _ = s.shutdown(Shutdown::Write);
    // give the peer a moment to read before the socket is reset by unread input
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let mut sink = [0u8; 256];
    let _ = s.read(&mut sink);
}

impl Channel for TcpChannel {
    fn send(&mut self, msg: &[u8]) -> Result<()> {
        // Without a hello first, the reader starts now: a party that sends must also drain.
        self.start_reader()?;
        let t = self.opts.idle_timeout.unwrap_or_default();
        let f = match &self.out {
            Some((q, _)) => {
                q.push(msg).map_err(|e| map_write(e, t))?;
                secure_framing(msg.len())
            }
            None => self.writer.send(msg).map_err(|e| map_write(e, t))?,
        };
        self.meter.on_send(msg.len(), f);
        Ok(())
    }
    fn send_vec(&mut self, msg: Vec<u8>) -> Result<()> {
        self.start_reader()?;
        match &self.out {
            Some((q, _)) => {
                let t = self.opts.idle_timeout.unwrap_or_default();
                let len = msg.len();
                q.push_owned(msg).map_err(|e| map_write(e, t))?;
                self.meter.on_send(len, secure_framing(len));
                Ok(())
            }
            None => self.send(&msg),
        }
    }
    fn recv(&mut self, buf: &mut [u8]) -> Result<()> {
        let m = self.next()?;
        if m.len() != buf.len() {
            return Err(ChannelError::SizeMismatch {
                expected: buf.len(),
                got: m.len(),
            });
        }
        buf.copy_from_slice(&m);
        Ok(())
    }
    fn recv_vec(&mut self, max: usize) -> Result<Vec<u8>> {
        let m = self.next()?;
        if m.len() > max {
            return Err(ChannelError::SizeMismatch {
                expected: max,
                got: m.len(),
            });
        }
        Ok(m)
    }
    fn flush(&mut self) -> Result<()> {
        let t = self.opts.idle_timeout.unwrap_or_default();
        match &self.out {
            // the writer thread writes out whenever its queue runs empty
            Some((q, _)) => q.check().map_err(|e| map_write(e, t)),
            None => self.writer.push_out().map_err(|e| map_write(e, t)),
        }
    }
    fn meter(&self) -> &Meter {
        &self.meter
    }
    fn meter_mut(&mut self) -> &mut Meter {
        &mut self.meter
    }

    /// The hello is read synchronously (at most [`HELLO_LIMIT`] bytes, within the handshake
    /// deadline) before the reader thread starts; its bytes count as framing.
    fn handshake(&mut self, ours: &Hello) -> Result<Hello> {
        let Inbox::Pending(_) = &self.inbox else {
            return Err(ChannelError::Handshake(
                "the hello must come first on a TCP channel".into(),
            ));
        };
        let hs = self.opts.handshake_timeout;
        let first = !self.encrypted;
        let Inbox::Pending(r) = &mut self.inbox else {
            return Err(ChannelError::Malformed("reader already running".into()));
        };
        let theirs = exchange_hello(r, &mut self.writer, &mut self.meter, ours, hs, first)?;
        self.start_reader()?;
        Ok(theirs)
    }
}

impl Drop for TcpChannel {
    fn drop(&mut self) {
        if let Some((q, h)) = &mut self.out {
            q.close();
            if let Some(h) = h.take() {
                let _ = h.join();
            }
        }
        let _ = self.writer.push_out();
        let _ = self.writer.s.shutdown(Shutdown::Both);
        if let Inbox::Running { q, reader } = &mut self.inbox {
            // a reader blocked on a full queue wakes up and exits
            q.close();
            if let Some(h) = reader.take() {
                let _ = h.join();
            }
        }
    }
}
