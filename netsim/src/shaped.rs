//! Real-time link emulation for in-process runs: [`ShapedChannel`] wraps any [`Channel`] and
//! delivers each message no earlier than the link model allows.
//!
//! On `send`, the sender's outgoing [`LinkDirection`] gives the message's arrival time at the
//! current clock; the wrapper sends that time (8 bytes, counted as framing) and then the
//! message over the inner channel. On `recv`, the receiver takes both and waits on its clock
//! until the arrival time. Both ends must use clocks that agree ([`RealClock`] instances in
//! one process do), so this wrapper is for in-process runs; between processes use the shaping
//! proxy ([`crate::proxy`]) or virtual time ([`crate::vtime`]).

use crate::channel::Channel;
use crate::clock::{Clock, RealClock};
use crate::error::{ChannelError, Result};
use crate::link::{LinkDirection, LinkSpec, Nanos};
use crate::meter::Meter;
use std::sync::Arc;

/// Framing bytes the wrapper adds per message (the arrival time).
pub const SHAPED_STAMP_BYTES: usize = 8;

/// A channel whose messages are delivered at the pace of a [`LinkSpec`].
pub struct ShapedChannel<C: Channel> {
    inner: C,
    out: LinkDirection,
    clock: Arc<dyn Clock>,
    meter: Meter,
    last_arrival: Nanos,
    /// Send window in ns of serialization: a send waits while more than this is queued.
    window_ns: Option<Nanos>,
}

/// Default send window: like a TCP send buffer, a sender may run ahead of the link by at most
/// max(16 MiB, 2 × bandwidth-delay product) before `send` waits. Arrival times do not change;
/// the window bounds the memory an in-process run queues and paces the sender as TCP would.
pub fn default_send_window(link: &LinkSpec) -> u64 {
    let bdp = (link.bandwidth_bps as u128 * link.rtt_ns as u128 / 8_000_000_000) as u64;
    (16u64 << 20).max(bdp.saturating_mul(2))
}

impl<C: Channel> ShapedChannel<C> {
    /// Shape `inner` in real time.
    pub fn new(inner: C, link: LinkSpec) -> Self {
        Self::with_clock(inner, link, Arc::new(RealClock))
    }

    /// Shape `inner` by `clock` (both ends must share a time base).
    pub fn with_clock(inner: C, link: LinkSpec, clock: Arc<dyn Clock>) -> Self {
        let mut c = ShapedChannel {
            inner,
            out: LinkDirection::new(link),
            clock,
            meter: Meter::new(),
            last_arrival: 0,
            window_ns: None,
        };
        c.set_send_window(Some(default_send_window(&link)));
        c
    }

    /// Let a sender run ahead of the link by at most `bytes` (`None`: without limit, the pure
    /// model that virtual time and the analytic estimate use).
    pub fn set_send_window(&mut self, bytes: Option<u64>) {
        self.window_ns = bytes.map(|b| self.out.link().serialization_ns(b));
    }

    /// The link this channel emulates.
    pub fn link(&self) -> &LinkSpec {
        self.out.link()
    }
    /// The wrapped channel.
    pub fn inner(&self) -> &C {
        &self.inner
    }
    /// The wrapped channel (traffic sent through it directly is neither shaped nor metered
    /// here, and the peer must read it directly too).
    pub fn inner_mut(&mut self) -> &mut C {
        &mut self.inner
    }
    /// Unwrap, returning the inner channel.
    pub fn into_inner(self) -> C {
        self.inner
    }
    /// Arrival time (by this end's clock) of the last message received.
    pub fn last_arrival(&self) -> Nanos {
        self.last_arrival
    }

    fn stamp_and_send(
        &mut self,
        len: usize,
        send: impl FnOnce(&mut C) -> Result<()>,
    ) -> Result<()> {
        let before = self.inner.meter().total().framing_sent;
        if let Some(w) = self.window_ns {
            let free = self.out.free_at();
            if free > w && self.clock.now() < free - w {
                // Flush first so the peer is not kept waiting on our buffered messages.
                self.inner.flush()?;
                self.clock.sleep_until(free - w);
            }
        }
        let arrival = self.out.transmit(self.clock.now(), len as u64);
        self.inner.send(&arrival.to_le_bytes())?;
        send(&mut self.inner)?;
        let framing = self.inner.meter().total().framing_sent - before;
        self.meter
            .on_send(len, framing as usize + SHAPED_STAMP_BYTES);
        Ok(())
    }

    fn take_stamp(&mut self) -> Result<(Nanos, u64)> {
        let before = self.inner.meter().total().framing_recv;
        let mut s = [0u8; SHAPED_STAMP_BYTES];
        self.inner.recv(&mut s).map_err(stamp_error)?;
        Ok((Nanos::from_le_bytes(s), before))
    }

    fn deliver(&mut self, arrival: Nanos, len: usize, framing_before: u64) {
        let framing = self.inner.meter().total().framing_recv - framing_before;
        self.meter
            .on_recv(len, framing as usize + SHAPED_STAMP_BYTES);
        self.clock.sleep_until(arrival);
        self.last_arrival = arrival;
    }
}

/// A size mismatch on the stamp means the peer does not speak the shaped protocol.
pub(crate) fn stamp_error(e: ChannelError) -> ChannelError {
    match e {
        ChannelError::SizeMismatch { expected, got } => ChannelError::Malformed(format!(
            "expected a {expected}-byte link timestamp, got a {got}-byte message (is the peer shaped the same way?)"
        )),
        e => e,
    }
}

impl<C: Channel> Channel for ShapedChannel<C> {
    fn send(&mut self, msg: &[u8]) -> Result<()> {
        self.stamp_and_send(msg.len(), |c| c.send(msg))
    }
    fn send_vec(&mut self, msg: Vec<u8>) -> Result<()> {
        self.stamp_and_send(msg.len(), |c| c.send_vec(msg))
    }
    fn recv(&mut self, buf: &mut [u8]) -> Result<()> {
        let (arrival, before) = self.take_stamp()?;
        self.inner.recv(buf)?;
        self.deliver(arrival, buf.len(), before);
        Ok(())
    }
    fn recv_vec(&mut self, max: usize) -> Result<Vec<u8>> {
        let (arrival, before) = self.take_stamp()?;
        let v = self.inner.recv_vec(max)?;
        self.deliver(arrival, v.len(), before);
        Ok(v)
    }
    fn flush(&mut self) -> Result<()> {
        self.inner.flush()
    }
    fn meter(&self) -> &Meter {
        &self.meter
    }
    fn meter_mut(&mut self) -> &mut Meter {
        &mut self.meter
    }
}
