//! Virtual time: [`VirtualChannel`] runs at full speed but keeps, for each of several links,
//! a virtual clock of its party, and so reports the end-to-end latency a run would have on
//! each link.
//!
//! Between channel operations the party's measured compute (thread CPU time by default, any
//! [`Clock`] can be injected) advances every clock. A send hands the message to the party's
//! outgoing [`LinkDirection`] of each link at that link's clock, and carries the resulting
//! arrival times with the message (8 bytes per link, counted as framing, never payload). A
//! receive sets `clock = max(clock, arrival)`. Time spent inside channel operations (waiting
//! for the peer in real time, copying) is not compute and is not counted.
//!
//! In-process only: the stamps are derived from the sender's thread CPU time, a timing side
//! channel that must not reach another process. Both parties of a simulation run in one
//! process ([`pair`](crate::pair)); two-process runs (`bench-harness serve`/`connect`) put no
//! virtual-time layer on their TCP channel and report the analytic link estimate instead
//! (`docs/constant-time.md`).

use crate::channel::Channel;
use crate::clock::{Clock, ThreadCpuClock};
use crate::error::{ChannelError, Result};
use crate::link::{LinkDirection, LinkSpec, Nanos};
use crate::meter::Meter;
use crate::shaped::stamp_error;
use std::sync::Arc;

/// A channel that simulates one or several links in virtual time.
pub struct VirtualChannel<C: Channel> {
    inner: C,
    out: Vec<LinkDirection>,
    clocks: Vec<Nanos>,
    compute: Arc<dyn Clock>,
    mark: Nanos,
    compute_total: Nanos,
    meter: Meter,
    stamp: Vec<u8>,
}

impl<C: Channel> VirtualChannel<C> {
    /// Simulate `links`, measuring compute as the calling thread's CPU time. Construct it on
    /// the party's own thread (or call [`restart_compute`](Self::restart_compute) there).
    pub fn new(inner: C, links: &[LinkSpec]) -> Self {
        Self::with_compute_clock(inner, links, Arc::new(ThreadCpuClock))
    }

    /// Simulate `links`, measuring compute with `compute` (e.g. a
    /// [`ManualClock`](crate::clock::ManualClock) in tests).
    pub fn with_compute_clock(inner: C, links: &[LinkSpec], compute: Arc<dyn Clock>) -> Self {
        let mark = compute.now();
        VirtualChannel {
            inner,
            out: links.iter().map(|l| LinkDirection::new(*l)).collect(),
            clocks: vec![0; links.len()],
            compute,
            mark,
            compute_total: 0,
            meter: Meter::new(),
            stamp: vec![0; 8 * links.len()],
        }
    }

    /// Forget compute measured so far and start measuring from now (on the calling thread).
    pub fn restart_compute(&mut self) {
        self.mark = self.compute.now();
    }

    /// Advance every clock by the compute since the last operation.
    fn tick(&mut self) {
        let now = self.compute.now();
        let d = now.saturating_sub(self.mark);
        self.mark = now;
        self.compute_total += d;
        for c in &mut self.clocks {
            *c += d;
        }
    }

    fn untick(&mut self) {
        self.mark = self.compute.now();
    }

    /// The party's virtual time on each link (compute up to now included), in nanoseconds.
    pub fn now(&mut self) -> Vec<Nanos> {
        self.tick();
        self.clocks.clone()
    }

    /// Account for the compute since the last operation and return the final virtual times;
    /// the run's latency on link k is the maximum of both parties' `finish()[k]`.
    pub fn finish(&mut self) -> Vec<Nanos> {
        self.now()
    }

    /// Compute time measured so far.
    pub fn compute_ns(&self) -> Nanos {
        self.compute_total
    }

    /// The simulated links, in the order given at construction.
    pub fn links(&self) -> Vec<LinkSpec> {
        self.out.iter().map(|d| *d.link()).collect()
    }
    /// The wrapped channel.
    pub fn inner(&self) -> &C {
        &self.inner
    }
    /// Unwrap, returning the inner channel.
    pub fn into_inner(self) -> C {
        self.inner
    }

    fn stamp_and_send(
        &mut self,
        len: usize,
        send: impl FnOnce(&mut C) -> Result<()>,
    ) -> Result<()> {
        self.tick();
        for (k, d) in self.out.iter_mut().enumerate() {
            let a = d.transmit(self.clocks[k], len as u64);
            self.stamp[8 * k..8 * k + 8].copy_from_slice(&a.to_le_bytes());
        }
        let before = self.inner.meter().total().framing_sent;
        let r = (|| {
            self.inner.send(&self.stamp)?;
            send(&mut self.inner)
        })();
        let framing = self.inner.meter().total().framing_sent - before;
        self.untick();
        r?;
        self.meter.on_send(len, framing as usize + self.stamp.len());
        Ok(())
    }

    fn take_stamp(&mut self) -> Result<u64> {
        self.tick();
        let before = self.inner.meter().total().framing_recv;
        let r = self.inner.recv(&mut self.stamp).map_err(stamp_error);
        if r.is_err() {
            self.untick();
        }
        r.map(|_| before)
    }

    fn deliver(&mut self, len: usize, before: u64) {
        for (k, c) in self.clocks.iter_mut().enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&self.stamp[8 * k..8 * k + 8]);
            *c = (*c).max(Nanos::from_le_bytes(b));
        }
        let framing = self.inner.meter().total().framing_recv - before;
        self.meter.on_recv(len, framing as usize + self.stamp.len());
        self.untick();
    }
}

impl<C: Channel> Channel for VirtualChannel<C> {
    fn send(&mut self, msg: &[u8]) -> Result<()> {
        self.stamp_and_send(msg.len(), |c| c.send(msg))
    }
    fn send_vec(&mut self, msg: Vec<u8>) -> Result<()> {
        self.stamp_and_send(msg.len(), |c| c.send_vec(msg))
    }
    fn recv(&mut self, buf: &mut [u8]) -> Result<()> {
        let before = self.take_stamp()?;
        let r = self.inner.recv(buf);
        if let Err(e) = r {
            self.untick();
            return Err(e);
        }
        self.deliver(buf.len(), before);
        Ok(())
    }
    fn recv_vec(&mut self, max: usize) -> Result<Vec<u8>> {
        let before = self.take_stamp()?;
        let v = match self.inner.recv_vec(max) {
            Ok(v) => v,
            Err(e) => {
                self.untick();
                return Err(e);
            }
        };
        self.deliver(v.len(), before);
        Ok(v)
    }
    fn flush(&mut self) -> Result<()> {
        self.tick();
        let r = self.inner.flush();
        self.untick();
        r
    }
    fn meter(&self) -> &Meter {
        &self.meter
    }
    fn meter_mut(&mut self) -> &mut Meter {
        &mut self.meter
    }
}

/// Simulated latency of a run on one link.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct SimulatedLatency {
    /// The simulated link.
    pub link: LinkSpec,
    /// End-to-end latency in seconds (the later of the two parties' final virtual times).
    pub latency_s: f64,
}

/// Combine both parties' [`VirtualChannel::finish`] results into per-link latencies.
pub fn combine(
    links: &[LinkSpec],
    a: &[Nanos],
    b: &[Nanos],
) -> std::result::Result<Vec<SimulatedLatency>, ChannelError> {
    if a.len() != links.len() || b.len() != links.len() {
        return Err(ChannelError::Malformed(
            "virtual clocks of the two parties cover different links".into(),
        ));
    }
    Ok(links
        .iter()
        .zip(a.iter().zip(b))
        .map(|(l, (x, y))| SimulatedLatency {
            link: *l,
            latency_s: (*x).max(*y) as f64 * 1e-9,
        })
        .collect())
}
