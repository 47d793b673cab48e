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

/// Whether n 1-of-nn OTs run from COTs ([`pq_ot::one_of_n`]) rather than KKOT: never under
/// SCI's padding rule (the `sirnn` profile is byte-exact with SCI), otherwise when it sends
/// fewer bytes (on SoftSpoken and Ferret; on IKNP, ⌈log2 N⌉·128 bits never beat KKOT's 256
/// for N > 2).
pub fn one_of_n_uses_cots(n: u64, nn: u64, l: u32, pr: Profile) -> bool {
    if pr.sci_padding() || nn < 2 {
        return false;
    }
    let c = oc::cot_1ofn_bytes(n, nn, l, opts(pr));
    let k = oc::kkot_bytes(n, nn, l, opts(pr));
    c.total() < k.total()
}

/// n 1-of-nn OTs with l-bit messages, by KKOT or from COTs, whichever
/// [`one_of_n_uses_cots`] picks (the sender sends the messages).
pub fn one_of_n(sender: Role, n: u64, nn: u64, l: u32, pr: Profile) -> Cost {
    if !one_of_n_uses_cots(n, nn, l, pr) {
        return kkot(sender, n, nn, l, pr);
    }
    let m = pq_ot::one_of_n::cots_per_ot(nn as usize) as u64;
    let b = oc::cot_1ofn_bytes(n, nn, l, opts(pr));
    mk(sender, n * m, b.recv_to_send, b.send_to_recv, n * m)
}

/// Run the sender's side of [`one_of_n`]: `msgs[j*nn + y]`.
pub fn one_of_n_send(
    p: &mut crate::party::Party,
    msgs: &[u64],
    nn: usize,
    l: u32,
) -> crate::ProtoResult<()> {
    let n = msgs.len() / nn.max(1);
    if n == 0 {
        return Ok(());
    }
    let o = p.opts();
    if one_of_n_uses_cots(n as u64, nn as u64, l, p.profile) {
        p.ot.iknp_send.send_1ofn(&mut *p.ch, msgs, nn, l, o)?;
    } else {
        p.ot.kkot_send.send(&mut *p.ch, msgs, nn, l, o)?;
    }
    Ok(())
}

/// Run the receiver's side of [`one_of_n`].
pub fn one_of_n_recv(
    p: &mut crate::party::Party,
    choices: &[u8],
    nn: usize,
    l: u32,
) -> crate::ProtoResult<Vec<u64>> {
    let n = choices.len();
    let mut out = vec![0u64; n];
    if n == 0 {
        return Ok(out);
    }
    let o = p.opts();
    if one_of_n_uses_cots(n as u64, nn as u64, l, p.profile) {
        p.ot.iknp_recv
            .recv_1ofn(&mut *p.ch, choices, nn, l, o, &mut out)?;
    } else {
        p.ot.kkot_recv
            .recv(&mut *p.ch, choices, nn, l, o, &mut out)?;
    }
    Ok(out)
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

/// The steady-state share of the source's rounds in a step that draws `step.cots`: each
/// COT's part of an LPN round's bytes (Ferret; nothing for the other sources), rounded up per
/// direction, with no round trips. Unlike [`CotState::charge`] it does not depend on what ran
/// before, so a planner can price one step at a time; summed over a program it is within one
/// round's bytes per direction of what the steps are charged (the bootstrap round is smaller
/// and is left out), and the flights that the rounds add are not counted.
pub fn amortized_rounds(kind: OtKind, step: &Cost) -> Cost {
    if !kind.has_rounds() {
        return Cost::ZERO;
    }
    let share = |cots: u64| -> u64 {
        let (bytes, usable) = (
            u128::from(pq_ot::ferret::round_params(1).round_bytes()),
            u128::from(pq_ot::ferret::usable(1)),
        );
        (u128::from(cots) * bytes).div_ceil(usable) as u64
    };
    let (a, b) = (share(step.cots[0]), share(step.cots[1]));
    Cost {
        server_to_client: a,
        client_to_server: b,
        rounds: 0,
        offline_bytes: a + b,
        cots: [0, 0],
    }
}

/// The memory one end (sender or receiver) of a Ferret session holds once it has handed out
/// `drawn` COTs in all, the most in one reservation being `largest`, in bytes: nothing before
/// the first draw; while only the bootstrap round has run, its outputs and the next base; from
/// the first steady round on, a round's outputs, the next base, and the hand-out buffer, which
/// keeps its largest size (a reservation plus up to a round's remainder, at least a round).
/// See `pq_ot::ferret` (`round_params`, `usable`).
pub fn ferret_end_bytes(drawn: u64, largest: u64) -> u64 {
    use pq_ot::ferret::{round_params, usable};
    let blocks = if drawn == 0 {
        0
    } else if drawn <= usable(0) {
        (round_params(0).n() + round_params(1).m()) as u64
    } else {
        let (n, m) = (round_params(1).n() as u64, round_params(2).m() as u64);
        n + m + n.max(largest.saturating_add(usable(1)))
    };
    blocks.saturating_mul(16)
}

/// The memory the four ends of a session pair of `kind` keep between calls in the steady
/// state (two directions, two parties; [`ferret_end_bytes`] with reservations of at most a
/// round); nothing that grows for the other sources.
pub fn session_buffer_bytes(kind: OtKind) -> u64 {
    if !kind.has_rounds() {
        return 0;
    }
    4 * ferret_end_bytes(u64::MAX, 0)
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
