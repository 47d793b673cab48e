//! [`Party`]: one side of a two-party protocol run (role, channel, OT sessions, randomness,
//! profile), and [`run_parties`] to run both sides on two threads in tests and benchmarks.

use crate::ProtoResult;
use crate::{Profile, Role};
use pq_kernels::aes::Prg;
use pq_netsim::{Channel, Counters, Transport, run_pair};
use pq_ot::{OtKind, OtOpts, OtPack};
use std::time::Duration;

/// One party of a protocol run. ALICE = server, BOB = client.
pub struct Party<'a> {
    /// Which side this party plays.
    pub role: Role,
    /// The metered channel to the peer; all protocol traffic goes through it.
    pub ch: &'a mut dyn Channel,
    /// This party's OT sessions (IKNP and KKOT, both directions), already set up.
    pub ot: &'a mut OtPack,
    /// This party's private randomness (masks, shares).
    pub prg: Prg,
    /// Which protocol variants to run (SiRNN byte-exact or PrivQuant).
    pub profile: Profile,
}

impl<'a> Party<'a> {
    /// Bundle the parts of a party; sends nothing (the OT setup is [`start`]'s job).
    pub fn new(
        role: Role,
        ch: &'a mut dyn Channel,
        ot: &'a mut OtPack,
        prg: Prg,
        profile: Profile,
    ) -> Self {
        Party {
            role,
            ch,
            ot,
            prg,
            profile,
        }
    }
    /// ALICE (the server)?
    pub fn is_alice(&self) -> bool {
        self.role == Role::Server
    }
    /// The OT options of the profile.
    pub fn opts(&self) -> OtOpts {
        self.profile.ot_opts()
    }
}

/// What [`run_parties`] returns.
pub struct PartiesOutput<S, C> {
    /// The server closure's return value.
    pub server: S,
    /// The client closure's return value.
    pub client: C,
    /// The server's traffic after the OT setup.
    pub server_counters: Counters,
    /// The client's traffic after the OT setup.
    pub client_counters: Counters,
    /// One-time setup bytes (both directions).
    pub setup_bytes: u64,
    /// Wall time of the protocol part (setup excluded), the slower party.
    pub wall: Duration,
}

impl<S, C> PartiesOutput<S, C> {
    /// Payload bytes the server sent after the OT setup.
    pub fn bytes_server_to_client(&self) -> u64 {
        self.server_counters.bytes_sent
    }
    /// Payload bytes the client sent after the OT setup.
    pub fn bytes_client_to_server(&self) -> u64 {
        self.client_counters.bytes_sent
    }
    /// Flights of the busier party (a single-lane round-trip count).
    pub fn flights(&self) -> u64 {
        self.server_counters
            .flights
            .max(self.client_counters.flights)
    }
}

type PartyRun<T> = ProtoResult<(T, Counters, u64, Duration)>;

/// The start of one party's run: the OT sessions (base OTs and extension setup, both
/// directions, see [`OtPack::setup`]) and the party's own PRG. `seed` makes both
/// deterministic (tests and benchmarks only); `None` draws them from the operating system.
pub fn start(ch: &mut dyn Channel, role: Role, seed: Option<u64>) -> ProtoResult<(OtPack, Prg)> {
    start_with(ch, role, seed, OtKind::Iknp)
}

/// [`start`] with the COT sessions on `kind` ([`OtPack::setup_with`]).
pub fn start_with(
    ch: &mut dyn Channel,
    role: Role,
    seed: Option<u64>,
    kind: OtKind,
) -> ProtoResult<(OtPack, Prg)> {
    let mut setup_prg = match seed {
        Some(s) => pq_ot::seeded_prg(s.wrapping_mul(2).wrapping_add(role as u64)),
        None => pq_ot::try_os_prg()?,
    };
    let ot = OtPack::setup_with(ch, role, &mut setup_prg, kind)?;
    let own = match seed {
        Some(s) => pq_ot::seeded_prg(s.wrapping_mul(7).wrapping_add(100 + role as u64)),
        None => pq_ot::try_os_prg()?,
    };
    Ok((ot, own))
}

fn one_side<T>(
    ch: &mut dyn Channel,
    role: Role,
    profile: Profile,
    seed: Option<u64>,
    f: impl FnOnce(&mut Party) -> ProtoResult<T>,
) -> PartyRun<T> {
    let (mut ot, own) = start_with(ch, role, seed, profile.ot)?;
    // a 1-byte simultaneous exchange so that both meters start the protocol after a receive
    // (flights are then counted from the protocol's first send); counted as setup
    ch.send(&[0u8])?;
    let mut sync = [0u8; 1];
    ch.recv(&mut sync)?;
    let setup = ot.setup_bytes + 2;
    let before = ch.meter().total();
    let t = std::time::Instant::now();
    let mut p = Party::new(role, ch, &mut ot, own, profile);
    let r = f(&mut p)?;
    p.ch.flush()?;
    let el = t.elapsed();
    let d = ch.meter().total().since(&before);
    Ok((r, d, setup, el))
}

/// Run `server` and `client` on two threads over `transport`, each with a fresh OT setup.
/// `seed` makes the parties' randomness deterministic (tests only); `None` uses the OS.
pub fn run_parties<S, C, FS, FC>(
    transport: Transport,
    profile: Profile,
    seed: Option<u64>,
    server: FS,
    client: FC,
) -> ProtoResult<PartiesOutput<S, C>>
where
    S: Send,
    C: Send,
    FS: FnOnce(&mut Party) -> ProtoResult<S> + Send,
    FC: FnOnce(&mut Party) -> ProtoResult<C> + Send,
{
    let out = run_pair(
        transport,
        move |ch| one_side(ch, Role::Server, profile, seed, server),
        move |ch| one_side(ch, Role::Client, profile, seed, client),
    )?;
    let (s, sc, setup, ws) = out.server?;
    let (c, cc, _, wc) = out.client?;
    Ok(PartiesOutput {
        server: s,
        client: c,
        server_counters: sc,
        client_counters: cc,
        setup_bytes: setup,
        wall: ws.max(wc),
    })
}

/// [`run_parties`] for one protocol step that costs `step`: each party first reserves the
/// step's COTs ([`crate::ot_calls::reserve`]), so that no OT call inside the step waits on a
/// refill, then runs its closure. Also returns what the channel should measure: `step` plus
/// the LPN rounds the reservation ran on a fresh session ([`crate::ot_calls::CotState`];
/// nothing is added on IKNP and SoftSpoken).
pub fn run_step<S, C, FS, FC>(
    transport: Transport,
    profile: Profile,
    seed: Option<u64>,
    step: crate::Cost,
    server: FS,
    client: FC,
) -> ProtoResult<(PartiesOutput<S, C>, crate::Cost)>
where
    S: Send,
    C: Send,
    FS: FnOnce(&mut Party) -> ProtoResult<S> + Send,
    FC: FnOnce(&mut Party) -> ProtoResult<C> + Send,
{
    let out = run_parties(
        transport,
        profile,
        seed,
        move |p| {
            crate::ot_calls::reserve(p, &step)?;
            server(p)
        },
        move |p| {
            crate::ot_calls::reserve(p, &step)?;
            client(p)
        },
    )?;
    let charged = crate::ot_calls::CotState::new(profile.ot).charge(&step);
    Ok((out, step.then(charged)))
}
