//! In-memory duplex channel pair: each direction is an unbounded queue of messages.

use crate::channel::Channel;
use crate::error::{ChannelError, Result};
use crate::meter::Meter;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::Duration;

/// One end of an in-memory pair. No framing bytes; no timeout unless set.
pub struct MemChannel {
    tx: Sender<Vec<u8>>,
    rx: Receiver<Vec<u8>>,
    meter: Meter,
    timeout: Option<Duration>,
    max_message: usize,
}

/// A connected pair `(a, b)`: what `a` sends, `b` receives, and vice versa.
pub fn mem_pair() -> (MemChannel, MemChannel) {
    let (ta, rb) = channel();
    let (tb, ra) = channel();
    let mk = |tx, rx| MemChannel {
        tx,
        rx,
        meter: Meter::new(),
        timeout: None,
        max_message: usize::MAX,
    };
    (mk(ta, ra), mk(tb, rb))
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
        self.send_vec(msg.to_vec())
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
