//! TCP channel: length-prefixed frames over a `TcpStream` with `TCP_NODELAY`.
//!
//! Wire format: each message is an 8-byte little-endian length followed by the payload. The
//! 8 bytes are framing (reported as `framing_sent`), never payload. A dedicated reader thread
//! drains the socket into an unbounded queue (as the in-memory pair does), so both parties may
//! send large messages, or many messages, at once without a write-write deadlock. Writes go
//! through a buffer; large messages are written straight to the socket.
//!
//! Errors are typed: the peer closing between messages is `Closed`, inside a message
//! `ShortRead`; a header above `max_message` is `Oversized` (nothing is allocated for it, and
//! a large announced message is allocated as its bytes arrive); no bytes from the peer for
//! `idle_timeout` while we wait is `Timeout` (a write blocked that long is too).

use crate::channel::Channel;
use crate::error::{ChannelError, Result};
use crate::meter::Meter;
use std::io::{BufWriter, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bytes of framing per message.
pub const FRAME_HEADER: usize = 8;

/// TCP channel options.
#[derive(Clone, Debug)]
pub struct TcpOptions {
    /// Fail a receive when the peer sends nothing for this long (10 minutes by default).
    pub idle_timeout: Option<Duration>,
    /// Refuse frames announcing more than this many bytes (4 GiB by default).
    pub max_message: u64,
    /// Write buffer size.
    pub write_buffer: usize,
}

impl Default for TcpOptions {
    fn default() -> Self {
        TcpOptions {
            idle_timeout: Some(Duration::from_secs(600)),
            max_message: 4 << 30,
            write_buffer: 1 << 20,
        }
    }
}

enum Incoming {
    Msg(Vec<u8>),
    Err(ChannelError),
}

/// One end of a TCP connection.
pub struct TcpChannel {
    writer: BufWriter<TcpStream>,
    rx: Receiver<Incoming>,
    reader: Option<JoinHandle<()>>,
    /// When the reader thread last got bytes from the socket (ms since `epoch`).
    activity: Arc<AtomicU64>,
    epoch: Instant,
    meter: Meter,
    opts: TcpOptions,
}

impl TcpChannel {
    /// Connect to `addr`, retrying for up to `retry_for` while the listener is not up yet.
    pub fn connect<A: ToSocketAddrs>(
        addr: A,
        opts: TcpOptions,
        retry_for: Duration,
    ) -> Result<Self> {
        let start = Instant::now();
        let addrs: Vec<_> = addr.to_socket_addrs()?.collect();
        loop {
            let mut last = None;
            for a in &addrs {
                match TcpStream::connect(a) {
                    Ok(s) => return Self::from_stream(s, opts),
                    Err(e) => last = Some(e),
                }
            }
            if start.elapsed() >= retry_for {
                return Err(last.map(ChannelError::Io).unwrap_or_else(|| {
                    ChannelError::Malformed("address resolved to nothing".into())
                }));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Accept one connection on `listener`.
    pub fn accept(listener: &TcpListener, opts: TcpOptions) -> Result<Self> {
        let (s, _) = listener.accept()?;
        Self::from_stream(s, opts)
    }

    /// A connected pair over loopback (for in-process runs over real TCP).
    pub fn loopback_pair(opts: TcpOptions) -> Result<(TcpChannel, TcpChannel)> {
        let l = TcpListener::bind("127.0.0.1:0")?;
        let addr = l.local_addr()?;
        let o2 = opts.clone();
        let h = std::thread::spawn(move || TcpChannel::connect(addr, o2, Duration::from_secs(5)));
        let a = TcpChannel::accept(&l, opts)?;
        let b = h
            .join()
            .map_err(|_| ChannelError::Malformed("connect thread panicked".into()))??;
        Ok((a, b))
    }

    /// Wrap a connected stream: sets `TCP_NODELAY`, a write timeout equal to the idle timeout,
    /// and starts the reader thread.
    pub fn from_stream(s: TcpStream, opts: TcpOptions) -> Result<Self> {
        s.set_nodelay(true)?;
        s.set_read_timeout(None)?;
        s.set_write_timeout(opts.idle_timeout.filter(|t| !t.is_zero()))?;
        let rd = s.try_clone()?;
        let (tx, rx) = channel();
        let max = opts.max_message;
        let epoch = Instant::now();
        let activity = Arc::new(AtomicU64::new(0));
        let act = activity.clone();
        let reader = std::thread::Builder::new()
            .name("pq-tcp-reader".into())
            .spawn(move || reader_loop(rd, tx, max, act, epoch))?;
        Ok(TcpChannel {
            writer: BufWriter::with_capacity(opts.write_buffer.max(FRAME_HEADER), s),
            rx,
            reader: Some(reader),
            activity,
            epoch,
            meter: Meter::new(),
            opts,
        })
    }

    /// The options this channel was made with.
    pub fn options(&self) -> &TcpOptions {
        &self.opts
    }

    fn next(&mut self) -> Result<Vec<u8>> {
        self.flush()?;
        let inc = match self.opts.idle_timeout {
            None => self.rx.recv().map_err(|_| closed())?,
            Some(t) => self.wait_with_timeout(t)?,
        };
        match inc {
            Incoming::Msg(m) => {
                self.meter.on_recv(m.len(), FRAME_HEADER);
                Ok(m)
            }
            Incoming::Err(e) => Err(e),
        }
    }

    /// Wait for the next message; fail once the peer has sent nothing for `t` while we wait
    /// (bytes of a large message still arriving count as activity).
    fn wait_with_timeout(&mut self, t: Duration) -> Result<Incoming> {
        let waiting_since = self.epoch.elapsed();
        loop {
            let last_byte = Duration::from_millis(self.activity.load(Ordering::Relaxed));
            let since = waiting_since.max(last_byte);
            let deadline = since + t;
            let now = self.epoch.elapsed();
            if now >= deadline {
                return Err(ChannelError::Timeout(t));
            }
            match self.rx.recv_timeout(deadline - now) {
                Ok(m) => return Ok(m),
                Err(RecvTimeoutError::Disconnected) => return Err(closed()),
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    fn map_write(&self, e: std::io::Error) -> ChannelError {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::WouldBlock | K::TimedOut => {
                ChannelError::Timeout(self.opts.idle_timeout.unwrap_or_default())
            }
            K::BrokenPipe | K::ConnectionReset | K::ConnectionAborted | K::NotConnected => {
                ChannelError::Closed {
                    context: "while sending".into(),
                }
            }
            _ => ChannelError::Io(e),
        }
    }
}

fn closed() -> ChannelError {
    ChannelError::Closed {
        context: String::new(),
    }
}

/// Read until `buf` is full or the stream ends; returns how many bytes were read.
fn read_full(
    s: &mut TcpStream,
    buf: &mut [u8],
    act: &AtomicU64,
    epoch: Instant,
) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match s.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => {
                got += n;
                act.store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Bytes allocated at once for an incoming message: the buffer grows as data arrives, so a
/// peer announcing a huge frame cannot make us allocate it up front.
const READ_CHUNK: usize = 1 << 20;

fn read_body(s: &mut TcpStream, len: usize, act: &AtomicU64, epoch: Instant) -> Incoming {
    let mut body = Vec::new();
    while body.len() < len {
        let old = body.len();
        let want = (len - old).min(READ_CHUNK.max(old));
        body.resize(old + want, 0);
        match read_full(s, &mut body[old..], act, epoch) {
            Ok(n) if n == want => {}
            Ok(n) => {
                return Incoming::Err(ChannelError::ShortRead {
                    expected: len,
                    got: old + n,
                });
            }
            Err(e) => return Incoming::Err(map_read(e, Some((len, old)))),
        }
    }
    Incoming::Msg(body)
}

fn map_read(e: std::io::Error, partial: Option<(usize, usize)>) -> ChannelError {
    use std::io::ErrorKind as K;
    match (e.kind(), partial) {
        (K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof, Some((expected, got))) => {
            ChannelError::ShortRead { expected, got }
        }
        (K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof, None) => closed(),
        _ => ChannelError::Io(e),
    }
}

fn reader_loop(
    mut s: TcpStream,
    tx: Sender<Incoming>,
    max: u64,
    act: Arc<AtomicU64>,
    epoch: Instant,
) {
    loop {
        let mut h = [0u8; FRAME_HEADER];
        let r = match read_full(&mut s, &mut h, &act, epoch) {
            Ok(0) => Incoming::Err(closed()),
            Ok(n) if n < FRAME_HEADER => Incoming::Err(ChannelError::ShortRead {
                expected: FRAME_HEADER,
                got: n,
            }),
            Ok(_) => {
                let len = u64::from_le_bytes(h);
                match usize::try_from(len) {
                    Ok(n) if len <= max => read_body(&mut s, n, &act, epoch),
                    _ => Incoming::Err(ChannelError::Oversized {
                        got: len,
                        limit: max,
                    }),
                }
            }
            Err(e) => Incoming::Err(map_read(e, None)),
        };
        let stop = matches!(r, Incoming::Err(_));
        if tx.send(r).is_err() || stop {
            return;
        }
    }
}

impl Channel for TcpChannel {
    fn send(&mut self, msg: &[u8]) -> Result<()> {
        self.writer
            .write_all(&(msg.len() as u64).to_le_bytes())
            .map_err(|e| self.map_write(e))?;
        self.writer.write_all(msg).map_err(|e| self.map_write(e))?;
        self.meter.on_send(msg.len(), FRAME_HEADER);
        Ok(())
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
        self.writer.flush().map_err(|e| self.map_write(e))
    }
    fn meter(&self) -> &Meter {
        &self.meter
    }
    fn meter_mut(&mut self) -> &mut Meter {
        &mut self.meter
    }
}

impl Drop for TcpChannel {
    fn drop(&mut self) {
        let _ = self.writer.flush();
        let _ = self.writer.get_ref().shutdown(Shutdown::Both);
        // Drop our receiver first so a reader blocked on a full queue wakes up and exits.
        drop(std::mem::replace(&mut self.rx, channel().1));
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
    }
}
