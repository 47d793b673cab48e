//! [`Cost`]: what a protocol sends, per direction, and its round trips.
//!
//! Every protocol exports a `cost(..)` function returning a `Cost`; tests assert it equals what
//! the channels measured. Costs compose: [`Cost::then`] for steps that run one after another
//! (bytes add, rounds add) and [`Cost::par`] for steps that run at the same time (bytes add,
//! rounds take the maximum).

use pq_netsim::channel::Role;
use serde::Serialize;

/// Traffic of one protocol run: payload bytes per direction (as each party's channel counts
/// what it sends) and round trips. Build with [`Cost::one_way`], compose with
/// [`Cost::then`] / [`Cost::par`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Cost {
    /// Payload bytes the server (ALICE) sends.
    pub server_to_client: u64,
    /// Payload bytes the client (BOB) sends.
    pub client_to_server: u64,
    /// Round trips on the critical path (the convention of `docs/sci-protocols.md` §Round
    /// counts).
    pub rounds: u64,
    /// Of the bytes above, those that a random-OT preprocessing split would move offline
    /// (IKNP/KKOT columns of random OTs, random correlations); see `docs/sci-protocols.md`
    /// §Offline and online bytes.
    pub offline_bytes: u64,
    /// Correlated OTs drawn from the IKNP-style sessions: `[0]` from the session where the
    /// server is the COT sender, `[1]` from the other. Ferret's LPN rounds are charged from
    /// these (see [`crate::ot_calls::rounds_for`]); not serialised.
    #[serde(skip)]
    pub cots: [u64; 2],
}

impl Cost {
    /// No traffic, no rounds (the cost of a local step).
    pub const ZERO: Cost = Cost {
        server_to_client: 0,
        client_to_server: 0,
        rounds: 0,
        offline_bytes: 0,
        cots: [0, 0],
    };

    /// `bytes` sent by `from`, in `rounds` round trips.
    pub fn one_way(from: Role, bytes: u64, rounds: u64) -> Cost {
        match from {
            Role::Server => Cost {
                server_to_client: bytes,
                rounds,
                ..Cost::ZERO
            },
            Role::Client => Cost {
                client_to_server: bytes,
                rounds,
                ..Cost::ZERO
            },
        }
    }
    /// Bytes in both directions together.
    pub fn total(&self) -> u64 {
        self.server_to_client + self.client_to_server
    }
    /// Bytes that stay online under a random-OT preprocessing split: `total − offline_bytes`.
    pub fn online_bytes(&self) -> u64 {
        self.total() - self.offline_bytes
    }
    /// Bytes sent by `role`.
    pub fn sent_by(&self, role: Role) -> u64 {
        match role {
            Role::Server => self.server_to_client,
            Role::Client => self.client_to_server,
        }
    }
    /// Sequential composition.
    #[must_use]
    pub fn then(self, o: Cost) -> Cost {
        Cost {
            server_to_client: self.server_to_client + o.server_to_client,
            client_to_server: self.client_to_server + o.client_to_server,
            rounds: self.rounds + o.rounds,
            offline_bytes: self.offline_bytes + o.offline_bytes,
            cots: [self.cots[0] + o.cots[0], self.cots[1] + o.cots[1]],
        }
    }
    /// Parallel composition (both run at the same time).
    #[must_use]
    pub fn par(self, o: Cost) -> Cost {
        Cost {
            rounds: self.rounds.max(o.rounds),
            ..self.then(o)
        }
    }
    /// `k` sequential repetitions.
    #[must_use]
    pub fn times(self, k: u64) -> Cost {
        Cost {
            server_to_client: self.server_to_client * k,
            client_to_server: self.client_to_server * k,
            rounds: self.rounds * k,
            offline_bytes: self.offline_bytes * k,
            cots: [self.cots[0] * k, self.cots[1] * k],
        }
    }
    /// The same traffic with the directions swapped (the protocol run with roles reversed).
    #[must_use]
    pub fn swapped(self) -> Cost {
        Cost {
            server_to_client: self.client_to_server,
            client_to_server: self.server_to_client,
            cots: [self.cots[1], self.cots[0]],
            ..self
        }
    }
}

/// What a planner minimises over costs: total bytes, or the latency of the traffic on a
/// full-duplex link (the busier direction's bytes over the bandwidth, plus rounds × RTT; the
/// two directions run in parallel, steps one after another).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub enum Objective {
    /// Total bytes, both directions.
    #[default]
    Bytes,
    /// Nanoseconds on the link.
    Latency(pq_netsim::link::LinkSpec),
}

impl Objective {
    /// The objective value of a cost (bytes, or integer nanoseconds).
    pub fn of(&self, c: &Cost) -> u64 {
        match self {
            Objective::Bytes => c.total(),
            Objective::Latency(l) => {
                let bytes = c.server_to_client.max(c.client_to_server);
                let ser = bytes as u128 * 8 * 1_000_000_000 / l.bandwidth_bps.max(1) as u128;
                u64::try_from(ser)
                    .unwrap_or(u64::MAX)
                    .saturating_add(c.rounds.saturating_mul(l.rtt_ns))
            }
        }
    }
    /// The unit of [`Objective::of`].
    pub fn unit(&self) -> &'static str {
        match self {
            Objective::Bytes => "B",
            Objective::Latency(_) => "ns",
        }
    }
    /// Parse `bytes` or `latency` (which needs the link).
    pub fn parse(name: &str, link: Option<pq_netsim::link::LinkSpec>) -> Result<Self, String> {
        match (name, link) {
            ("bytes", _) => Ok(Objective::Bytes),
            ("latency", Some(l)) => Ok(Objective::Latency(l)),
            ("latency", None) => Err("--objective latency needs a link (--net LINK)".into()),
            (o, _) => Err(format!(
                "--objective: unknown `{o}` (accepted: bytes, latency)"
            )),
        }
    }
}

impl core::ops::Add for Cost {
    type Output = Cost;
    fn add(self, o: Cost) -> Cost {
        self.then(o)
    }
}
impl core::iter::Sum for Cost {
    fn sum<I: Iterator<Item = Cost>>(it: I) -> Cost {
        it.fold(Cost::ZERO, Cost::then)
    }
}
