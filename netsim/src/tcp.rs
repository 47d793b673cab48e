//! TCP channel: length-prefixed frames over a `TcpStream` with `TCP_NODELAY`.
//!
//! Wire format: each message is an 8-byte little-endian length followed by the payload. The
//! 8 bytes are framing (reported as `framing_sent`), never payload. A dedicated reader thread
//! drains the socket into a queue, so both parties may send large messages at once without a
//! write-write deadlock. Writes go through a buffer and are streamed in chunks.

use crate::channel::Channel;
use crate::error::{ChannelError, Result};
use crate::meter::Meter;
use std::io::{BufWriter, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

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
    meter: Meter,
    opts: TcpOptions,
    failed: bool,
}

impl TcpChannel {
    /// Connect to `addr`, retrying for up to `retry_for` while the listener is not up yet.
    pub fn connect<A: ToSocketAddrs>(
        addr: A,
        opts: TcpOptions,
        retry_for: Duration,
    ) -> Result<Self> {
        let start = std::time::Instant::now();
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

    pub fn from_stream(s: TcpStream, opts: TcpOptions) -> Result<Self> {
        s.set_nodelay(true)?;
        let rd = s.try_clone()?;
        let (tx, rx) = sync_channel(64);
        let max = opts.max_message;
        let reader = std::thread::Builder::new()
            .name("pq-tcp-reader".into())
            .spawn(move || reader_loop(rd, tx, max))?;
        Ok(TcpChannel {
            writer: BufWriter::with_capacity(opts.write_buffer, s),
            rx,
            reader: Some(reader),
            meter: Meter::new(),
            opts,
            failed: false,
        })
    }

    fn next(&mut self) -> Result<Vec<u8>> {
        self.flush()?;
        let inc = match self.opts.idle_timeout {
            None => self.rx.recv().map_err(|_| ChannelError::Closed {
                context: String::new(),
            })?,
            Some(t) => self.rx.recv_timeout(t).map_err(|e| match e {
                RecvTimeoutError::Timeout => ChannelError::Timeout(t),
                RecvTimeoutError::Disconnected => ChannelError::Closed {
                    context: String::new(),
                },
            })?,
        };
        match inc {
            Incoming::Msg(m) => {
                self.meter.on_recv(m.len(), FRAME_HEADER);
                Ok(m)
            }
            Incoming::Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }
}

fn read_full(s: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match s.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn reader_loop(mut s: TcpStream, tx: SyncSender<Incoming>, max: u64) {
    loop {
        let mut h = [0u8; FRAME_HEADER];
        let r = match read_full(&mut s, &mut h) {
            Ok(0) => Incoming::Err(ChannelError::Closed {
                context: String::new(),
            }),
            Ok(n) if n < FRAME_HEADER => Incoming::Err(ChannelError::ShortRead {
                expected: FRAME_HEADER,
                got: n,
            }),
            Ok(_) => {
                let len = u64::from_le_bytes(h);
                if len > max {
                    Incoming::Err(ChannelError::Oversized {
                        got: len,
                        limit: max,
                    })
                } else {
                    let mut body = vec![0u8; len as usize];
                    match read_full(&mut s, &mut body) {
                        Ok(n) if n == body.len() => Incoming::Msg(body),
                        Ok(n) => Incoming::Err(ChannelError::ShortRead {
                            expected: len as usize,
                            got: n,
                        }),
                        Err(e) => Incoming::Err(ChannelError::Io(e)),
                    }
                }
            }
            Err(e) => Incoming::Err(ChannelError::Io(e)),
        };
        let stop = matches!(r, Incoming::Err(_));
        if tx.send(r).is_err() || stop {
            return;
        }
    }
}

impl Channel for TcpChannel {
    fn send(&mut self, msg: &[u8]) -> Result<()> {
        self.writer.write_all(&(msg.len() as u64).to_le_bytes())?;
        self.writer.write_all(msg)?;
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
        self.writer.flush()?;
        Ok(())
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
        let _ = self.failed;
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
    }
}
