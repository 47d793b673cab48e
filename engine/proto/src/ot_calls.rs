//! OT call costs as [`Cost`]s (who sends what), on top of the OT layer's byte counts
//! (`docs/sci-protocols.md` §IKNP, §KKOT, §OT padding rule, §Payload packing). Every non-empty
//! OT call is one round trip: the OT receiver's extension columns, then the sender's payload.
//!
//! `offline_bytes` is the part a random-OT preprocessing split would move offline: the
//! extension columns minus the online derandomisation bits (1 bit per 1-of-2 OT choice,
//! log2 N bits per 1-of-N OT choice).

use crate::{Cost, Profile, Role};

use pq_ot::bytes as oc;
use pq_ot::ferret::FerretMeter;
use pq_ot::{OtKind, OtOpts};

/// SCI's padding rule (`docs/sci-protocols.md` §OT padding rule); `pad(0) = 0`.
pub fn sci_pad(n: u64) -> u64 {
    oc::sci_pad(n)
}

fn opts(pr: Profile) -> OtOpts {
    pr.ot_opts()
}

fn mk(sender: Role, n: u64, col_bytes: u64, payload: u64, derand_bits: u64) -> Cost {
    if n == 0 {
        return Cost::ZERO;
    }
    let recv = Cost::one_way(sender.other(), col_bytes, 1);
    let send = Cost::one_way(sender, payload, 0);
    let mut c = recv.then(send);
    c.offline_bytes = col_bytes.saturating_sub(derand_bits.div_ceil(8));
    c.cots[sender as usize] = n;
    c
}

/// n l-bit correlated OTs (SCI `send_cot`): λ + l bits each.
pub fn cot(sender: Role, n: u64, l: u32, pr: Profile) -> Cost {
    let b = oc::cot_bytes(n, l, opts(pr));
    mk(sender, n, b.recv_to_send, b.send_to_recv, n)
}

/// n chosen-message 1-of-2 OTs with l-bit messages: λ + 2l bits each.
pub fn got(sender: Role, n: u64, l: u32, pr: Profile) -> Cost {
    let b = oc::got_bytes(n, l, opts(pr));
    mk(sender, n, b.recv_to_send, b.send_to_recv, n)
}

/// n 1-of-N OTs with l-bit messages: 2λ + N·l bits each.
pub fn kkot(sender: Role, n: u64, nn: u64, l: u32, pr: Profile) -> Cost {
    let b = oc::kkot_bytes(n, nn, l, opts(pr));
    let mut c = mk(
        sender,
        n,
        b.recv_to_send,
        b.send_to_recv,
        n * super::util::clog2(nn) as u64,
    );
    // KKOT runs its own 256-row extension, not the COT source.
    c.cots = [0, 0];
    c
}

/// Batched COT (matmul cross terms): `groups` = (number of OTs, message length) pairs, each OT
/// carrying `msgs` messages.
pub fn batched_cot(sender: Role, groups: &[(u64, u32)], msgs: u64, pr: Profile) -> Cost {
    let n: u64 = groups.iter().map(|g| g.0).sum();
    let pay = if pr.sci_padding() {
        groups
            .iter()
            .map(|&(k, l)| k * (msgs * l as u64).div_ceil(8))
            .sum()
    } else {
        groups
            .iter()
            .map(|&(k, l)| k * msgs * l as u64)
            .sum::<u64>()
            .div_ceil(8)
    };
    mk(sender, n, oc::column_bytes(n, opts(pr)), pay, n)
}

/// Batched chosen-message OT (matmul wrap MUX): n OTs with `msgs` pairs of l-bit messages.
pub fn batched_got(sender: Role, n: u64, msgs: u64, l: u32, pr: Profile) -> Cost {
    let b = oc::batched_got_bytes(n, msgs, l, opts(pr));
    mk(sender, n, b.recv_to_send, b.send_to_recv, n)
}

/// The COT-source state of a session pair, as the cost functions see it: one
/// [`FerretMeter`] per direction (`[0]`: the server is the COT sender).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CotState {
    /// The source both sessions use.
    pub kind: OtKind,
    /// Ferret's round accounting per session (unused for IKNP and SoftSpoken).
    pub meters: [FerretMeter; 2],
}

impl CotState {
    /// A fresh session pair on `kind`.
    pub fn new(kind: OtKind) -> Self {
        CotState {
            kind,
            meters: [FerretMeter::default(); 2],
        }
    }

    /// What reserving the COTs of a step that costs `step` adds: Ferret's LPN rounds (the
    /// server-sends session's, then the other's), sent as one flight per direction before the
    /// step; nothing for the other sources. Advances the state past the step.
    pub fn charge(&mut self, step: &Cost) -> Cost {
        if !self.kind.has_rounds() {
            return Cost::ZERO;
        }
        let a = self.meters[0].take(step.cots[0]);
        let b = self.meters[1].take(step.cots[1]);
        Cost {
            server_to_client: a.bytes,
            client_to_server: b.bytes,
            rounds: (a.rounds + b.rounds > 0) as u64,
            offline_bytes: a.bytes + b.bytes,
            cots: [0, 0],
        }
    }
}

/// Run the reservation [`CotState::charge`] prices: both parties call this before a step
/// with the step's cost, so that no OT call inside the step waits on a refill.
pub fn reserve(p: &mut crate::party::Party, step: &Cost) -> crate::ProtoResult<()> {
    if p.ot.kind().has_rounds() {
        p.ot.reserve(&mut *p.ch, p.role, step.cots[0], step.cots[1])?;
    }
    Ok(())
}

/// Both parties send `bytes_each` bytes at the same time: one round trip.
pub fn exchange(bytes_each: u64) -> Cost {
    if bytes_each == 0 {
        return Cost::ZERO;
    }
    Cost {
        server_to_client: bytes_each,
        client_to_server: bytes_each,
        rounds: 1,
        offline_bytes: 0,
        cots: [0, 0],
    }
}

/// The same traffic, all of it input-independent (random correlations such as bit triples):
/// a preprocessing split would move it offline entirely.
pub fn all_offline(mut c: Cost) -> Cost {
    c.offline_bytes = c.total();
    c
}
