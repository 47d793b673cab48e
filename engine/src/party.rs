//! [`Party`]: one side of a two-party protocol run (role, channel, OT sessions, randomness,
//! profile), and [`run_parties`] to run both sides on two threads in tests and benchmarks.

use crate::ot::{OtOpts, OtPack};
use crate::proto::ProtoResult;
use crate::{Profile, Role};
use pq_kernels::aes::Prg;
use pq_netsim::{Channel, Counters, Transport, run_pair};
use std::time::Duration;

/// One party of a protocol run. ALICE = server, BOB = client.
pub struct Party<'a> {
    pub role: Role,
    pub ch: &'a mut dyn Channel,
    pub ot: &'a mut OtPack,
    pub prg: Prg,
    pub profile: Profile,
}

impl<'a> Party<'a> {
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
        OtOpts {
            sci_padding: self.profile.sci_padding(),
        }
    }
}

/// What [`run_parties`] returns.
pub struct PartiesOutput<S, C> {
    pub server: S,
    pub client: C,
    /// Traffic after the OT setup, per party.
    pub server_counters: Counters,
    pub client_counters: Counters,
    /// One-time setup bytes (both directions).
    pub setup_bytes: u64,
    /// Wall time of the protocol part (setup excluded), the slower party.
    pub wall: Duration,
}

impl<S, C> PartiesOutput<S, C> {
    pub fn bytes_server_to_client(&self) -> u64 {
        self.server_counters.bytes_sent
    }
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

fn one_side<T>(
    ch: &mut dyn Channel,
    role: Role,
    profile: Profile,
    seed: Option<u64>,
    f: impl FnOnce(&mut Party) -> ProtoResult<T>,
) -> PartyRun<T> {
    let mut prg = match seed {
        Some(s) => crate::ot::seeded_prg(s.wrapping_mul(2).wrapping_add(role as u64)),
        None => crate::ot::try_os_prg()?,
    };
    let mut ot = OtPack::setup(ch, role, &mut prg)?;
    // a 1-byte simultaneous exchange so that both meters start the protocol after a receive
    // (flights are then counted from the protocol's first send); counted as setup
    ch.send(&[0u8])?;
    let mut sync = [0u8; 1];
    ch.recv(&mut sync)?;
    let setup = ot.setup_bytes + 2;
    let before = ch.meter().total();
    let t = std::time::Instant::now();
    let own = match seed {
        Some(s) => crate::ot::seeded_prg(s.wrapping_mul(7).wrapping_add(100 + role as u64)),
        None => crate::ot::try_os_prg()?,
    };
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
