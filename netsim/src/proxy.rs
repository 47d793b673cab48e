//! A shaping TCP proxy for runs in separate processes, built on mio.
//!
//! [`Proxy::serve`] accepts connections on `listen` until stopped; for each it connects to
//! `to` and forwards the bytes of both directions unchanged, each through its own
//! [`LinkDirection`]: bytes are read as they come, split into frames of the link's frame size,
//! serialized at the bandwidth and delivered after the one-way delay. Each connection is
//! shaped on its own thread by its own link (at most [`MAX_CONNECTIONS`] at once), and each
//! one's end is reported to the caller as a [`ConnReport`]. [`Proxy::run`] serves exactly one
//! connection and returns its outcome.
//!
//! How a connection ends: when either side closes, the proxy delivers what that side sent
//! (and what is already queued towards it), closes both connections and reports which side
//! closed first. It is an error ([`ProxyError`]) when the upstream cannot be reached within
//! the connect period (10 s by default, [`Proxy::with_connect_retry`]), or when a side resets
//! the connection or a write to it fails (a peer that vanished with bytes in flight). A peer
//! that closes its socket cleanly (a process that exits, or is killed between its writes)
//! looks to TCP like one that finished; it is reported as the side that closed first, not as
//! an error. A shutdown flag stops the proxy and every connection at any time.

use crate::clock::{Clock, RealClock};
use crate::link::{LinkDirection, LinkSpec, Nanos};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// One end of a proxied connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum End {
    /// The accepted side (the program that connected to the proxy).
    Client,
    /// The `to` side (the upstream server).
    Server,
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            End::Client => "client",
            End::Server => "upstream server",
        })
    }
}

/// Proxy failures.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// An address did not resolve (or resolved to nothing); the text says which.
    #[error("cannot resolve address `{0}`")]
    Resolve(String),
    /// Binding the listening socket failed.
    #[error("cannot listen on {addr}: {cause}")]
    Listen {
        /// The address we tried to bind.
        addr: SocketAddr,
        /// The bind error (in the message, so not a `source`: printed once).
        cause: std::io::Error,
    },
    /// No target address accepted a connection within the connect period.
    #[error("cannot connect to the upstream server {addr} (tried for {secs:.1} s): {cause}")]
    Connect {
        /// The last address tried.
        addr: SocketAddr,
        /// How long the proxy kept trying.
        secs: f64,
        /// Its connect error.
        cause: std::io::Error,
    },
    /// A side reset the connection, or a write to it failed: it vanished mid-connection.
    #[error(
        "the {end} vanished: {during} failed after {forward} B client->server and {backward} B \
         server->client: {cause}"
    )]
    Vanished {
        /// Which side.
        end: End,
        /// `reading from it` or `writing to it`.
        during: &'static str,
        /// Bytes delivered client -> server before.
        forward: u64,
        /// Bytes delivered server -> client before.
        backward: u64,
        /// The socket error.
        cause: std::io::Error,
    },
    /// [`MAX_CONNECTIONS`] connections are being shaped; this one was closed at once.
    #[error("{0} connections are already being shaped; this one was closed")]
    TooMany(usize),
    /// Any other socket or poll failure.
    #[error("proxy i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// What the proxy forwarded on one connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProxyStats {
    /// Bytes from the accepted side to the `to` side.
    pub bytes_forward: u64,
    /// Bytes from the `to` side back to the accepted side.
    pub bytes_backward: u64,
    /// True if the run ended because the shutdown flag was set.
    pub stopped_by_flag: bool,
    /// The side whose close (or failure) ended the connection; `None` when stopped.
    pub closed_first: Option<End>,
}

/// How one served connection ended.
#[derive(Debug)]
pub struct ConnReport {
    /// Connections accepted so far, this one included (from 1).
    pub id: u64,
    /// The accepted side's address.
    pub peer: SocketAddr,
    /// What was forwarded.
    pub stats: ProxyStats,
    /// Why it failed, if it did.
    pub error: Option<ProxyError>,
    /// From accept to the end.
    pub elapsed: Duration,
}

const LISTENER: Token = Token(0);
const SIDE_A: Token = Token(1);
const SIDE_B: Token = Token(2);
/// Default time to keep trying to connect to `to` (the upstream may start after the proxy).
pub const CONNECT_RETRY: Duration = Duration::from_secs(10);
/// Connections shaped at once by [`Proxy::serve`]; more are closed at once (each holds up to
/// two direction queues of at least 4 MiB).
pub const MAX_CONNECTIONS: usize = 16;
const POLL_CAP: Duration = Duration::from_millis(50);

/// A bound, not yet running proxy (so a caller can learn the port before it runs).
pub struct Proxy {
    listener: TcpListener,
    to: Vec<SocketAddr>,
    link: LinkSpec,
    connect_retry: Duration,
}

impl Proxy {
    /// Bind `listen` and remember where to connect.
    pub fn bind(
        listen: impl ToSocketAddrs,
        to: impl ToSocketAddrs,
        link: LinkSpec,
    ) -> Result<Proxy, ProxyError> {
        let laddr = listen
            .to_socket_addrs()
            .map_err(|e| ProxyError::Resolve(e.to_string()))?
            .next()
            .ok_or_else(|| ProxyError::Resolve("listen address".into()))?;
        let to: Vec<SocketAddr> = to
            .to_socket_addrs()
            .map_err(|e| ProxyError::Resolve(e.to_string()))?
            .collect();
        if to.is_empty() {
            return Err(ProxyError::Resolve("target address".into()));
        }
        let listener =
            TcpListener::bind(laddr).map_err(|cause| ProxyError::Listen { addr: laddr, cause })?;
        Ok(Proxy {
            listener,
            to,
            link,
            connect_retry: CONNECT_RETRY,
        })
    }

    /// Keep trying to connect to the upstream for `d` per connection (default
    /// [`CONNECT_RETRY`]).
    pub fn with_connect_retry(mut self, d: Duration) -> Proxy {
        self.connect_retry = d;
        self
    }

    /// The address the proxy listens on.
    pub fn local_addr(&self) -> Result<SocketAddr, ProxyError> {
        Ok(self.listener.local_addr()?)
    }

    fn upstream(&self) -> Upstream {
        Upstream {
            to: self.to.clone(),
            link: self.link,
            connect_retry: self.connect_retry,
        }
    }

    /// Accept the next connection; `None` when `shutdown` is set first.
    fn accept(
        &mut self,
        poll: &mut Poll,
        events: &mut Events,
        shutdown: &AtomicBool,
    ) -> Result<Option<(TcpStream, SocketAddr)>, ProxyError> {
        loop {
            if shutdown.load(Ordering::Relaxed) {
                return Ok(None);
            }
            match self.listener.accept() {
                Ok(c) => return Ok(Some(c)),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    poll.poll(events, Some(POLL_CAP))?;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // a connection that failed before we took it (reset in the backlog) is the
                // peer's problem, not the listener's
                Err(e) if e.kind() == ErrorKind::ConnectionAborted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Serve one connection until either side closes or `shutdown` is set; its failure
    /// (upstream unreachable, a side that vanished) is the error.
    pub fn run(mut self, shutdown: Arc<AtomicBool>) -> Result<ProxyStats, ProxyError> {
        let mut poll = Poll::new()?;
        let mut events = Events::with_capacity(64);
        poll.registry()
            .register(&mut self.listener, LISTENER, Interest::READABLE)?;
        let Some((a, _)) = self.accept(&mut poll, &mut events, &shutdown)? else {
            return Ok(ProxyStats {
                stopped_by_flag: true,
                ..Default::default()
            });
        };
        poll.registry().deregister(&mut self.listener)?;
        let (stats, err) = self.upstream().shape(a, &shutdown);
        match err {
            Some(e) => Err(e),
            None => Ok(stats),
        }
    }

    /// Serve connections until `shutdown` is set (or, with `once`, until the first one ends),
    /// each on its own thread; `report` is called (on this thread) as each one ends. Returns
    /// the number of connections accepted; with `once`, that connection's failure is the
    /// error.
    pub fn serve(
        mut self,
        shutdown: Arc<AtomicBool>,
        once: bool,
        mut report: impl FnMut(ConnReport),
    ) -> Result<u64, ProxyError> {
        if once {
            let t = Instant::now();
            let mut poll = Poll::new()?;
            let mut events = Events::with_capacity(64);
            poll.registry()
                .register(&mut self.listener, LISTENER, Interest::READABLE)?;
            let Some((a, peer)) = self.accept(&mut poll, &mut events, &shutdown)? else {
                return Ok(0);
            };
            poll.registry().deregister(&mut self.listener)?;
            let (stats, error) = self.upstream().shape(a, &shutdown);
            return match error {
                Some(e) => Err(e),
                None => {
                    report(ConnReport {
                        id: 1,
                        peer,
                        stats,
                        error: None,
                        elapsed: t.elapsed(),
                    });
                    Ok(1)
                }
            };
        }
        let mut poll = Poll::new()?;
        let mut events = Events::with_capacity(64);
        poll.registry()
            .register(&mut self.listener, LISTENER, Interest::READABLE)?;
        let (tx, rx) = mpsc::channel::<ConnReport>();
        let mut active: Vec<std::thread::JoinHandle<()>> = Vec::new();
        let mut accepted = 0u64;
        loop {
            while let Ok(r) = rx.try_recv() {
                report(r);
            }
            active.retain(|h| !h.is_finished());
            if shutdown.load(Ordering::Relaxed) {
                break;
            }
            match self.listener.accept() {
                Ok((a, peer)) => {
                    accepted += 1;
                    let id = accepted;
                    if active.len() >= MAX_CONNECTIONS {
                        drop(a);
                        report(ConnReport {
                            id,
                            peer,
                            stats: ProxyStats::default(),
                            error: Some(ProxyError::TooMany(MAX_CONNECTIONS)),
                            elapsed: Duration::ZERO,
                        });
                        continue;
                    }
                    let up = self.upstream();
                    let (tx, sd) = (tx.clone(), shutdown.clone());
                    let h = std::thread::Builder::new()
                        .name(format!("pq-proxy-{id}"))
                        .spawn(move || {
                            let t = Instant::now();
                            let (stats, error) = up.shape(a, &sd);
                            let _ = tx.send(ConnReport {
                                id,
                                peer,
                                stats,
                                error,
                                elapsed: t.elapsed(),
                            });
                        })?;
                    active.push(h);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    poll.poll(&mut events, Some(POLL_CAP))?;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::Interrupted | ErrorKind::ConnectionAborted
                    ) => {}
                Err(e) => return Err(e.into()),
            }
        }
        for h in active {
            let _ = h.join();
        }
        drop(tx);
        for r in rx {
            report(r);
        }
        Ok(accepted)
    }
}

/// Where and how each connection is forwarded.
struct Upstream {
    to: Vec<SocketAddr>,
    link: LinkSpec,
    connect_retry: Duration,
}

impl Upstream {
    /// Connect to the upstream and shape `a` against it until either side closes or
    /// `shutdown` is set. Returns what was forwarded and, if the connection failed, why.
    fn shape(&self, mut a: TcpStream, shutdown: &AtomicBool) -> (ProxyStats, Option<ProxyError>) {
        let stopped = ProxyStats {
            stopped_by_flag: true,
            ..Default::default()
        };
        let mut b = match self.connect(shutdown) {
            Ok(Some(b)) => b,
            Ok(None) => {
                let _ = a.shutdown(Shutdown::Both);
                return (stopped, None);
            }
            Err(e) => {
                let _ = a.shutdown(Shutdown::Both);
                return (ProxyStats::default(), Some(e));
            }
        };
        match self.pump(&mut a, &mut b, shutdown) {
            Ok(r) => r,
            Err(e) => (ProxyStats::default(), Some(e)),
        }
    }

    fn pump(
        &self,
        a: &mut TcpStream,
        b: &mut TcpStream,
        shutdown: &AtomicBool,
    ) -> Result<(ProxyStats, Option<ProxyError>), ProxyError> {
        let mut poll = Poll::new()?;
        let mut events = Events::with_capacity(64);
        a.set_nodelay(true)?;
        b.set_nodelay(true)?;
        let both = Interest::READABLE | Interest::WRITABLE;
        poll.registry().register(a, SIDE_A, both)?;
        poll.registry().register(b, SIDE_B, both)?;
        let clock = RealClock;
        let mut fwd = Pipe::new(self.link, End::Client, End::Server);
        let mut bwd = Pipe::new(self.link, End::Server, End::Client);
        let mut buf = vec![0u8; self.link.frame_bytes.clamp(1, 1 << 20)];
        let mut stopped = false;
        let mut closed_first = None;
        loop {
            if shutdown.load(Ordering::Relaxed) {
                stopped = true;
                break;
            }
            let now = clock.now();
            fwd.pump_read(a, &mut buf, now);
            bwd.pump_read(b, &mut buf, now);
            let now = clock.now();
            fwd.pump_write(b, now);
            bwd.pump_write(a, now);
            if closed_first.is_none() {
                closed_first = match (fwd.eof || bwd.dead, bwd.eof || fwd.dead) {
                    (true, _) => Some(End::Client),
                    (false, true) => Some(End::Server),
                    _ => None,
                };
            }
            // Either side closed (or failed) and what it sent has been delivered: done, after
            // the other direction's already-queued bytes.
            let a_done = fwd.finished();
            let b_done = bwd.finished();
            if (a_done && (bwd.queue.is_empty() || bwd.dead))
                || (b_done && (fwd.queue.is_empty() || fwd.dead))
            {
                break;
            }
            // Sleep until an event or the next delivery.
            let next = [fwd.next_due(), bwd.next_due()].into_iter().flatten().min();
            let wait = match next {
                Some(t) if t <= now => Duration::ZERO,
                Some(t) => Duration::from_nanos(t - now).min(POLL_CAP),
                None => POLL_CAP,
            };
            let can_progress = fwd.can_read() || bwd.can_read();
            let wait = if can_progress { Duration::ZERO } else { wait };
            if wait < Duration::from_millis(1) && !wait.is_zero() {
                std::thread::yield_now();
                poll.poll(&mut events, Some(Duration::ZERO))?;
            } else {
                poll.poll(&mut events, Some(wait))?;
            }
            for ev in events.iter() {
                let (src, dst) = match ev.token() {
                    SIDE_A => (&mut fwd, &mut bwd),
                    SIDE_B => (&mut bwd, &mut fwd),
                    _ => continue,
                };
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    src.src_ready = true;
                }
                if ev.is_writable() || ev.is_write_closed() || ev.is_error() {
                    dst.dst_ready = true;
                }
            }
        }
        let _ = a.shutdown(Shutdown::Both);
        let _ = b.shutdown(Shutdown::Both);
        let (forward, backward) = (fwd.delivered, bwd.delivered);
        let stats = ProxyStats {
            bytes_forward: forward,
            bytes_backward: backward,
            stopped_by_flag: stopped,
            closed_first: if stopped { None } else { closed_first },
        };
        // the first failure, upstream's first
        let err = [fwd.err.take(), bwd.err.take()]
            .into_iter()
            .flatten()
            .min_by_key(|(end, _, _)| *end == End::Client)
            .map(|(end, during, cause)| ProxyError::Vanished {
                end,
                during,
                forward,
                backward,
                cause,
            });
        Ok((stats, err))
    }

    fn connect(&self, shutdown: &AtomicBool) -> Result<Option<TcpStream>, ProxyError> {
        let start = Instant::now();
        loop {
            let mut last = None;
            for addr in &self.to {
                let left = self.connect_retry.saturating_sub(start.elapsed());
                let t = left.clamp(Duration::from_millis(100), Duration::from_secs(2));
                match std::net::TcpStream::connect_timeout(addr, t) {
                    Ok(s) => {
                        s.set_nonblocking(true)?;
                        return Ok(Some(TcpStream::from_std(s)));
                    }
                    Err(e) => last = Some((*addr, e)),
                }
            }
            if shutdown.load(Ordering::Relaxed) {
                return Ok(None);
            }
            if start.elapsed() >= self.connect_retry {
                let (addr, cause) =
                    last.ok_or_else(|| ProxyError::Resolve("target address".into()))?;
                return Err(ProxyError::Connect {
                    addr,
                    secs: start.elapsed().as_secs_f64(),
                    cause,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Accept one connection on `listen`, connect to `to`, and shape both directions by `link`
/// until either side closes or `shutdown` is set.
pub fn run_proxy(
    listen: impl ToSocketAddrs,
    to: impl ToSocketAddrs,
    link: LinkSpec,
    shutdown: Arc<AtomicBool>,
) -> Result<ProxyStats, ProxyError> {
    Proxy::bind(listen, to, link)?.run(shutdown)
}

/// One direction: bytes read from the source wait in `queue` until their arrival time.
struct Pipe {
    dir: LinkDirection,
    queue: VecDeque<(Nanos, Vec<u8>)>,
    queued: usize,
    head_off: usize,
    cap: usize,
    src_ready: bool,
    dst_ready: bool,
    eof: bool,
    /// The destination failed; nothing more can be delivered.
    dead: bool,
    write_shut: bool,
    delivered: u64,
    /// Where the bytes come from and go to (for errors).
    src: End,
    dst: End,
    /// The first socket error: the side, what failed, the error.
    err: Option<(End, &'static str, std::io::Error)>,
}

impl Pipe {
    fn new(link: LinkSpec, src: End, dst: End) -> Self {
        let bdp = (link.bandwidth_bps as u128 * link.rtt_ns as u128 / 8_000_000_000) as usize;
        Pipe {
            dir: LinkDirection::new(link),
            queue: VecDeque::new(),
            queued: 0,
            head_off: 0,
            cap: (4 << 20usize).max(bdp.saturating_mul(2)).min(1 << 30),
            src_ready: true,
            dst_ready: true,
            eof: false,
            dead: false,
            write_shut: false,
            delivered: 0,
            src,
            dst,
            err: None,
        }
    }

    fn can_read(&self) -> bool {
        self.src_ready && !self.eof && !self.dead && self.queued < self.cap
    }

    fn pump_read(&mut self, src: &mut TcpStream, buf: &mut [u8], now: Nanos) {
        while self.can_read() {
            match src.read(buf) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    let q = &mut self.queue;
                    self.dir.transmit_frames(now, n as u64, |off, len, at| {
                        q.push_back((at, buf[off as usize..(off + len) as usize].to_vec()));
                    });
                    self.queued += n;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.src_ready = false,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.eof = true;
                    self.err.get_or_insert((self.src, "reading from it", e));
                }
            }
        }
    }

    fn pump_write(&mut self, dst: &mut TcpStream, now: Nanos) {
        while self.dst_ready && !self.dead {
            let Some((at, data)) = self.queue.front() else {
                break;
            };
            if *at > now {
                break;
            }
            match dst.write(&data[self.head_off..]) {
                Ok(0) => {
                    self.dead = true;
                    let e = std::io::Error::from(ErrorKind::WriteZero);
                    self.err.get_or_insert((self.dst, "writing to it", e));
                }
                Ok(n) => {
                    self.head_off += n;
                    self.delivered += n as u64;
                    self.queued -= n;
                    if self.head_off == data.len() {
                        self.queue.pop_front();
                        self.head_off = 0;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.dst_ready = false,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.dead = true;
                    self.err.get_or_insert((self.dst, "writing to it", e));
                }
            }
        }
        if self.eof && self.queue.is_empty() && !self.write_shut {
            let _ = dst.shutdown(Shutdown::Write);
            self.write_shut = true;
        }
    }

    /// The source closed and everything it sent was delivered (or cannot be).
    fn finished(&self) -> bool {
        self.dead || (self.eof && self.queue.is_empty())
    }

    fn next_due(&self) -> Option<Nanos> {
        if self.dead || !self.dst_ready {
            return None;
        }
        self.queue.front().map(|(t, _)| *t)
    }
}
