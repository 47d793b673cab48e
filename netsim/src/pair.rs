//! Run the two parties of a protocol on two threads over a real channel.
//!
//! Tests and the harness use this: the server closure runs with one end, the client closure
//! with the other, each on its own thread (optionally pinned to a core), and the result carries
//! both outputs and both meters.

use crate::channel::{Channel, Role};
use crate::error::{ChannelError, Result};
use crate::link::{LinkSpec, Nanos};
use crate::mem::mem_pair;
use crate::meter::Meter;
use crate::shaped::ShapedChannel;
use crate::tcp::{TcpChannel, TcpOptions};
use crate::vtime::{SimulatedLatency, VirtualChannel, combine};
use std::time::{Duration, Instant};

/// Which channel connects the two in-process parties.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// The in-memory pair.
    Mem,
    /// Loopback TCP, plain.
    Tcp,
    /// Loopback TCP over the encrypted channel (throwaway keys).
    TcpSecure,
}

impl std::str::FromStr for Transport {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "mem" => Ok(Transport::Mem),
            "tcp" => Ok(Transport::Tcp),
            "tcp-secure" => Ok(Transport::TcpSecure),
            _ => Err(format!(
                "unknown transport '{s}' (accepted: mem, tcp, tcp-secure)"
            )),
        }
    }
}

/// What [`run_pair`] returns.
pub struct PairOutput<S, C> {
    /// What the server closure returned.
    pub server: S,
    /// What the client closure returned.
    pub client: C,
    /// The server end's meter after the run.
    pub server_meter: Meter,
    /// The client end's meter after the run.
    pub client_meter: Meter,
    /// Wall time from start until both parties finished.
    pub wall: Duration,
    /// Simulated end-to-end latency on each link of [`LinkOptions::simulate`] (empty unless
    /// [`run_pair_linked`] was asked to simulate).
    pub simulated: Vec<SimulatedLatency>,
}

/// Options for [`run_pair_with`].
#[derive(Clone, Debug, Default)]
pub struct PairOptions {
    /// Pin the server to core 0 and the client to core 1 (when the machine has them).
    pub pin: bool,
}

/// Link options for [`run_pair_linked`].
#[derive(Clone, Debug, Default)]
pub struct LinkOptions {
    /// Emulate this link in real time ([`ShapedChannel`] on both ends): `wall` then includes
    /// the link's delays.
    pub emulate: Option<LinkSpec>,
    /// Simulate these links in virtual time ([`VirtualChannel`] on both ends) and report
    /// [`PairOutput::simulated`].
    pub simulate: Vec<LinkSpec>,
    /// Idle timeout of the TCP transport (`None`: the TCP default of 10 minutes).
    pub tcp_idle_timeout: Option<Duration>,
}

/// Run `server` and `client` on two threads connected by `transport`.
pub fn run_pair<S, C, FS, FC>(
    transport: Transport,
    server: FS,
    client: FC,
) -> Result<PairOutput<S, C>>
where
    S: Send,
    C: Send,
    FS: FnOnce(&mut dyn Channel) -> S + Send,
    FC: FnOnce(&mut dyn Channel) -> C + Send,
{
    run_pair_with(transport, &PairOptions::default(), server, client)
}

/// [`run_pair`] with options.
pub fn run_pair_with<S, C, FS, FC>(
    transport: Transport,
    opts: &PairOptions,
    server: FS,
    client: FC,
) -> Result<PairOutput<S, C>>
where
    S: Send,
    C: Send,
    FS: FnOnce(&mut dyn Channel) -> S + Send,
    FC: FnOnce(&mut dyn Channel) -> C + Send,
{
    run_pair_linked(transport, opts, &LinkOptions::default(), server, client)
}

/// [`run_pair_with`] over an emulated and/or simulated link: each party's end is wrapped in
/// [`ShapedChannel`] (real time) and/or [`VirtualChannel`] (virtual time, reported in
/// [`PairOutput::simulated`]). The meters are those of the outermost wrapper (payload is the
/// same; the wrappers' timestamps count as framing).
pub fn run_pair_linked<S, C, FS, FC>(
    transport: Transport,
    opts: &PairOptions,
    link: &LinkOptions,
    server: FS,
    client: FC,
) -> Result<PairOutput<S, C>>
where
    S: Send,
    C: Send,
    FS: FnOnce(&mut dyn Channel) -> S + Send,
    FC: FnOnce(&mut dyn Channel) -> C + Send,
{
    let (mut a, mut b): (Box<dyn Channel>, Box<dyn Channel>) = match transport {
        Transport::Mem => {
            let (a, b) = mem_pair();
            (Box::new(a), Box::new(b))
        }
        Transport::Tcp | Transport::TcpSecure => {
            let mut o = TcpOptions::default();
            if let Some(t) = link.tcp_idle_timeout {
                o.idle_timeout = Some(t);
            }
            let (a, b) = TcpChannel::loopback_pair_with(o, transport == Transport::TcpSecure)?;
            (Box::new(a), Box::new(b))
        }
    };
    let pin = opts.pin;
    let (emulate, simulate) = (link.emulate, link.simulate.as_slice());
    let start = Instant::now();
    let (rs, rc) = std::thread::scope(|s| {
        let hs = std::thread::Builder::new()
            .name("pq-server".into())
            .spawn_scoped(s, move || {
                if pin {
                    pin_current(Role::Server);
                }
                // The channel is dropped when the party returns, so a peer still waiting
                // gets `Closed` instead of hanging.
                wrapped(&mut *a, emulate, simulate, server)
            });
        let hc = std::thread::Builder::new()
            .name("pq-client".into())
            .spawn_scoped(s, move || {
                if pin {
                    pin_current(Role::Client);
                }
                wrapped(&mut *b, emulate, simulate, client)
            });
        (join(hs), join(hc))
    });
    let wall = start.elapsed();
    let (s, server_meter, vs) = rs?;
    let (c, client_meter, vc) = rc?;
    let simulated = if simulate.is_empty() {
        Vec::new()
    } else {
        combine(simulate, &vs, &vc)?
    };
    Ok(PairOutput {
        server: s,
        client: c,
        server_meter,
        client_meter,
        wall,
        simulated,
    })
}

/// Run one party's closure on `ch`, wrapped as the options ask; returns its result, the
/// meter of the outermost channel and the final virtual clocks.
fn wrapped<R>(
    ch: &mut dyn Channel,
    emulate: Option<LinkSpec>,
    simulate: &[LinkSpec],
    f: impl FnOnce(&mut dyn Channel) -> R,
) -> (R, Meter, Vec<Nanos>) {
    fn finish<C: Channel, R2>(
        mut v: VirtualChannel<C>,
        r: impl FnOnce(&mut dyn Channel) -> R2,
    ) -> (R2, Meter, Vec<Nanos>) {
        let out = r(&mut v);
        let _ = v.flush();
        let t = v.finish();
        (out, v.meter().clone(), t)
    }
    match (emulate, simulate.is_empty()) {
        (None, true) => {
            let r = f(&mut *ch);
            let _ = ch.flush();
            (r, ch.meter().clone(), Vec::new())
        }
        (Some(l), true) => {
            let mut s = ShapedChannel::new(&mut *ch, l);
            let r = f(&mut s);
            let _ = s.flush();
            (r, s.meter().clone(), Vec::new())
        }
        (None, false) => finish(VirtualChannel::new(&mut *ch, simulate), f),
        (Some(l), false) => finish(
            VirtualChannel::new(ShapedChannel::new(&mut *ch, l), simulate),
            f,
        ),
    }
}

fn join<T>(h: std::io::Result<std::thread::ScopedJoinHandle<'_, T>>) -> Result<T> {
    h.map_err(ChannelError::Io)?
        .join()
        .map_err(|p| ChannelError::Malformed(format!("party thread panicked: {}", panic_msg(&p))))
}

fn panic_msg(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}

/// Pin the calling thread: the server to the first core of the process's affinity mask, the
/// client to the second. Returns false (and leaves the thread unpinned) when the mask has fewer
/// than two cores or a system call fails.
pub fn pin_current(role: Role) -> bool {
    // Core ids of this process's affinity mask, via sched_getaffinity.
    // SAFETY: cpu_set_t is a plain bit array; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: set is a valid cpu_set_t and we pass its size.
    let ok =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) }
            == 0;
    if !ok {
        return false;
    }
    let cores: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `i < CPU_SETSIZE` and `set` is a valid set.
        .filter(|&i| unsafe { libc::CPU_ISSET(i, &set) })
        .collect();
    if cores.len() < 2 {
        return false;
    }
    let idx = match role {
        Role::Server => cores[0],
        Role::Client => cores[1],
    };
    // SAFETY: as above, the empty set.
    let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `idx < CPU_SETSIZE` (it came from the filter above).
    unsafe { libc::CPU_SET(idx, &mut one) };
    // SAFETY: valid set; 0 = calling thread.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one) == 0 }
}
