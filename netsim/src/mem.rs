//! In-memory duplex channel pair: each direction is an unbounded queue of messages.
//!
//! Buffers are recycled: when a receiver has copied a message out, the buffer goes back to the
//! sender's pool, so steady streams of large messages (OT columns, payloads) allocate and
//! fault in pages once instead of per message.

use crate::channel::Channel;
use crate::error::{ChannelError, Result};
use crate::meter::Meter;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Buffers kept per direction for reuse.
const POOL_MAX: usize = 32;

type Pool = Arc<Mutex<Vec<Vec<u8>>>>;

/// One end of an in-memory pair. No framing bytes; no timeout unless set.
pub struct MemChannel {
    tx: Sender<Vec<u8>>,
    rx: Receiver<Vec<u8>>,
    meter: Meter,
    timeout: Option<Duration>,
    max_message: usize,
    /// Buffers for this end's sends (the peer returns them after reading).
    send_pool: Pool,
    /// The peer's send pool, where this end returns buffers it has read.
    return_pool: Pool,
}

/// A connected pair `(a, b)`: what `a` sends, `b` receives, and vice versa.
pub fn mem_pair() -> (MemChannel, MemChannel) {
    let (ta, rb) = channel();
    let (tb, ra) = channel();
    let pa: Pool = Arc::default();
    let pb: Pool = Arc::default();
    let mk = |tx, rx, send_pool: &Pool, return_pool: &Pool| MemChannel {
        tx,
        rx,
        meter: Meter::new(),
        timeout: None,
        max_message: usize::MAX,
        send_pool: send_pool.clone(),
        return_pool: return_pool.clone(),
    };
    (mk(ta, ra, &pa, &pb), mk(tb, rb, &pb, &pa))
}

impl MemChannel {
    /// Fail a receive after `t` without a message (none by default).
    pub fn set_timeout(&mut self, t: Option<Duration>) {
        self.timeout = t;
    }
    /// Refuse received messages larger than `max` bytes.
    pub fn set_max_message(&mut self, max: usize) {
        self.max_message = max;
    }
    /// Hand a read buffer back to the peer's send pool.
    fn recycle(&self, b: Vec<u8>) {
        if b.capacity() >= 4096
            && let Ok(mut p) = self.return_pool.lock()
            && p.len() < POOL_MAX
        {
            p.push(b);
        }
    }
    fn next(&mut self) -> Result<Vec<u8>> {
        let m = match self.timeout {
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
        if m.len() > self.max_message {
            return Err(ChannelError::Oversized {
                got: m.len() as u64,
                limit: self.max_message as u64,
            });
        }
        self.meter.on_recv(m.len(), 0);
        Ok(m)
    }
}

impl Channel for MemChannel {
    fn send(&mut self, msg: &[u8]) -> Result<()> {
        let recycled = self.send_pool.lock().ok().and_then(|mut p| {
            let i = p.iter().position(|b| b.capacity() >= msg.len())?;
            Some(p.swap_remove(i))
        });
        let buf = match recycled {
            Some(mut b) => {
                b.clear();
                b.extend_from_slice(msg);
                b
            }
            None => msg.to_vec(),
        };
        self.send_vec(buf)
    }
    fn send_vec(&mut self, msg: Vec<u8>) -> Result<()> {
        self.meter.on_send(msg.len(), 0);
        self.tx.send(msg).map_err(|_| ChannelError::Closed {
            context: "while sending".into(),
        })
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
        self.recycle(m);
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
        Ok(())
    }
    fn meter(&self) -> &Meter {
        &self.meter
    }
    fn meter_mut(&mut self) -> &mut Meter {
        &mut self.meter
    }
}
