//! Accounting: what a party sent and received, by tag.
//!
//! * **bytes**: protocol payload only, as SCI counts it (what the protocol hands to `send`).
//! * **framing**: transport overhead (length prefixes, handshakes), reported separately.
//! * **flights**: maximal runs of this party's sends before it waits to receive. A send that
//!   follows a receive (or is the first operation) starts a new flight.
//! * **tags**: a stack of names (`push_tag`/`pop_tag`); traffic is attributed to the full path
//!   (`"layer3/relu/mill"`), and [`Meter::tag_total`] sums a path and everything below it.

use std::collections::BTreeMap;

/// Additive traffic counters of one party.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Payload bytes sent.
    pub bytes_sent: u64,
    /// Payload bytes received.
    pub bytes_recv: u64,
    /// Transport bytes sent (length prefixes, stamps, handshakes).
    pub framing_sent: u64,
    /// Transport bytes received.
    pub framing_recv: u64,
    /// Messages sent.
    pub msgs_sent: u64,
    /// Messages received.
    pub msgs_recv: u64,
    /// Flights: maximal runs of sends between receives.
    pub flights: u64,
}

impl Counters {
    /// Add `o` field by field.
    pub fn add(&mut self, o: &Counters) {
        self.bytes_sent += o.bytes_sent;
        self.bytes_recv += o.bytes_recv;
        self.framing_sent += o.framing_sent;
        self.framing_recv += o.framing_recv;
        self.msgs_sent += o.msgs_sent;
        self.msgs_recv += o.msgs_recv;
        self.flights += o.flights;
    }
    /// `self - earlier`, for measuring a span between two snapshots.
    pub fn since(&self, earlier: &Counters) -> Counters {
        Counters {
            bytes_sent: self.bytes_sent.saturating_sub(earlier.bytes_sent),
            bytes_recv: self.bytes_recv.saturating_sub(earlier.bytes_recv),
            framing_sent: self.framing_sent.saturating_sub(earlier.framing_sent),
            framing_recv: self.framing_recv.saturating_sub(earlier.framing_recv),
            msgs_sent: self.msgs_sent.saturating_sub(earlier.msgs_sent),
            msgs_recv: self.msgs_recv.saturating_sub(earlier.msgs_recv),
            flights: self.flights.saturating_sub(earlier.flights),
        }
    }
}

/// The meter every channel carries.
#[derive(Clone, Debug, Default)]
pub struct Meter {
    total: Counters,
    last_was_send: bool,
    stack: Vec<String>,
    path: String,
    by_tag: BTreeMap<String, Counters>,
}

impl Meter {
    /// A meter with zero counts and no tags.
    pub fn new() -> Self {
        Self::default()
    }
    /// Totals over the channel's life.
    pub fn total(&self) -> Counters {
        self.total
    }
    /// Enter a nested tag.
    pub fn push_tag(&mut self, tag: &str) {
        self.stack.push(tag.to_string());
        self.rebuild_path();
    }
    /// Leave the innermost tag.
    pub fn pop_tag(&mut self) {
        self.stack.pop();
        self.rebuild_path();
    }
    /// The current tag path ("" at top level).
    pub fn path(&self) -> &str {
        &self.path
    }
    fn rebuild_path(&mut self) {
        self.path = self.stack.join("/");
    }
    fn current(&mut self) -> Option<&mut Counters> {
        if self.path.is_empty() {
            return None;
        }
        if !self.by_tag.contains_key(&self.path) {
            self.by_tag.insert(self.path.clone(), Counters::default());
        }
        self.by_tag.get_mut(&self.path)
    }

    /// Record a sent message of `payload` bytes plus `framing` transport bytes.
    pub fn on_send(&mut self, payload: usize, framing: usize) {
        let new_flight = !self.last_was_send;
        self.last_was_send = true;
        let f = |c: &mut Counters| {
            c.bytes_sent += payload as u64;
            c.framing_sent += framing as u64;
            c.msgs_sent += 1;
            c.flights += new_flight as u64;
        };
        f(&mut self.total);
        if let Some(c) = self.current() {
            f(c);
        }
    }

    /// Record a received message.
    pub fn on_recv(&mut self, payload: usize, framing: usize) {
        self.last_was_send = false;
        let f = |c: &mut Counters| {
            c.bytes_recv += payload as u64;
            c.framing_recv += framing as u64;
            c.msgs_recv += 1;
        };
        f(&mut self.total);
        if let Some(c) = self.current() {
            f(c);
        }
    }

    /// Count transport-only bytes (a handshake's) as framing: no messages, no flights.
    pub fn add_framing(&mut self, sent: usize, recv: usize) {
        self.total.framing_sent += sent as u64;
        self.total.framing_recv += recv as u64;
        if let Some(c) = self.current() {
            c.framing_sent += sent as u64;
            c.framing_recv += recv as u64;
        }
    }

    /// Move already-counted traffic from payload to framing (used by the handshake).
    /// The handshake's messages and flights are removed from the counts, so the protocol's
    /// first flight is flight 1. Applied to the totals and to the current tag.
    pub fn reclassify_as_framing(&mut self, c: &Counters) {
        let f = |t: &mut Counters| {
            t.bytes_sent = t.bytes_sent.saturating_sub(c.bytes_sent);
            t.bytes_recv = t.bytes_recv.saturating_sub(c.bytes_recv);
            t.framing_sent += c.bytes_sent;
            t.framing_recv += c.bytes_recv;
            t.msgs_sent = t.msgs_sent.saturating_sub(c.msgs_sent);
            t.msgs_recv = t.msgs_recv.saturating_sub(c.msgs_recv);
            t.flights = t.flights.saturating_sub(c.flights);
        };
        f(&mut self.total);
        if let Some(t) = self.current() {
            f(t);
        }
        self.last_was_send = false;
    }

    /// Counters of exactly this tag path (not its children).
    pub fn tag_exact(&self, path: &str) -> Counters {
        self.by_tag.get(path).copied().unwrap_or_default()
    }

    /// Counters of a tag path and every path below it.
    pub fn tag_total(&self, path: &str) -> Counters {
        let mut c = Counters::default();
        let prefix = format!("{path}/");
        for (k, v) in &self.by_tag {
            if k == path || k.starts_with(&prefix) {
                c.add(v);
            }
        }
        c
    }

    /// Every tag path with its own counters.
    pub fn tags(&self) -> impl Iterator<Item = (&str, &Counters)> {
        self.by_tag.iter().map(|(k, v)| (k.as_str(), v))
    }
}
