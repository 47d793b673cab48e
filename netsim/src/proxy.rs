//! A shaping TCP proxy for runs in separate processes, built on mio.
//!
//! [`run_proxy`] accepts one connection on `listen`, connects to `to`, and forwards the bytes
//! of both directions unchanged, each through its own [`LinkDirection`]: bytes are read as
//! they come, split into frames of the link's frame size, serialized at the bandwidth and
//! delivered after the one-way delay. When either side closes, the proxy delivers what that
//! side sent (and what is already queued towards it), closes both connections and returns.
//! A shutdown flag stops it at any time.

use crate::clock::{Clock, RealClock};
use crate::link::{LinkDirection, LinkSpec, Nanos};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Proxy failures.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// An address did not resolve (or resolved to nothing); the text says which.
    #[error("cannot resolve address `{0}`")]
    Resolve(String),
    /// Binding the listening socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address we tried to bind.
        addr: SocketAddr,
        /// The bind error.
        source: std::io::Error,
    },
    /// No target address accepted a connection within the retry period (10 s).
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The last address tried.
        addr: SocketAddr,
        /// Its connect error.
        source: std::io::Error,
    },
    /// Any other socket or poll failure.
    #[error("proxy i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// What the proxy forwarded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProxyStats {
    /// Bytes from the accepted side to the `to` side.
    pub bytes_forward: u64,
    /// Bytes from the `to` side back to the accepted side.
    pub bytes_backward: u64,
    /// True if the run ended because the shutdown flag was set.
    pub stopped_by_flag: bool,
}

const LISTENER: Token = Token(0);
const SIDE_A: Token = Token(1);
const SIDE_B: Token = Token(2);
/// Give up connecting to `to` after this long.
const CONNECT_RETRY: Duration = Duration::from_secs(10);
const POLL_CAP: Duration = Duration::from_millis(50);

/// A bound, not yet running proxy (so a caller can learn the port before it runs).
pub struct Proxy {
    listener: TcpListener,
    to: Vec<SocketAddr>,
    link: LinkSpec,
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
        let listener = TcpListener::bind(laddr).map_err(|source| ProxyError::Listen {
            addr: laddr,
            source,
        })?;
        Ok(Proxy { listener, to, link })
    }

    /// The address the proxy listens on.
    pub fn local_addr(&self) -> Result<SocketAddr, ProxyError> {
        Ok(self.listener.local_addr()?)
    }

    /// Serve one connection until either side closes or `shutdown` is set.
    pub fn run(mut self, shutdown: Arc<AtomicBool>) -> Result<ProxyStats, ProxyError> {
        let mut poll = Poll::new()?;
        let mut events = Events::with_capacity(64);
        poll.registry()
            .register(&mut self.listener, LISTENER, Interest::READABLE)?;
        // Accept one connection.
        let mut a = loop {
            if shutdown.load(Ordering::Relaxed) {
                return Ok(ProxyStats {
                    stopped_by_flag: true,
                    ..Default::default()
                });
            }
            match self.listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    poll.poll(&mut events, Some(POLL_CAP))?;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        };
        poll.registry().deregister(&mut self.listener)?;
        let mut b = match self.connect(&shutdown)? {
            Some(b) => b,
            None => {
                let _ = a.shutdown(Shutdown::Both);
                return Ok(ProxyStats {
                    stopped_by_flag: true,
                    ..Default::default()
                });
            }
        };
        a.set_nodelay(true)?;
        b.set_nodelay(true)?;
        let both = Interest::READABLE | Interest::WRITABLE;
        poll.registry().register(&mut a, SIDE_A, both)?;
        poll.registry().register(&mut b, SIDE_B, both)?;
        let clock = RealClock;
        let mut fwd = Pipe::new(self.link);
        let mut bwd = Pipe::new(self.link);
        let mut buf = vec![0u8; self.link.frame_bytes.clamp(1, 1 << 20)];
        let mut stopped = false;
        loop {
            if shutdown.load(Ordering::Relaxed) {
                stopped = true;
                break;
            }
            let now = clock.now();
            fwd.pump_read(&mut a, &mut buf, now);
            bwd.pump_read(&mut b, &mut buf, now);
            let now = clock.now();
            fwd.pump_write(&mut b, now);
            bwd.pump_write(&mut a, now);
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
        Ok(ProxyStats {
            bytes_forward: fwd.delivered,
            bytes_backward: bwd.delivered,
            stopped_by_flag: stopped,
        })
    }

    fn connect(&self, shutdown: &AtomicBool) -> Result<Option<TcpStream>, ProxyError> {
        let start = Instant::now();
        loop {
            let mut last = None;
            for addr in &self.to {
                match std::net::TcpStream::connect_timeout(addr, Duration::from_secs(2)) {
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
            if start.elapsed() > CONNECT_RETRY {
                let (addr, source) =
                    last.ok_or_else(|| ProxyError::Resolve("target address".into()))?;
                return Err(ProxyError::Connect { addr, source });
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
}

impl Pipe {
    fn new(link: LinkSpec) -> Self {
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
                Err(_) => self.eof = true,
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
                Ok(0) => self.dead = true,
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
                Err(_) => self.dead = true,
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
