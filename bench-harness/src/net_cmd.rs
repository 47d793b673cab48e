//! The network side of `serve` / `connect` and `keygen`: the channel's security flags, the
//! transport bounds a run derives from its cost model, and the server's accept loop.
//!
//! What goes on the wire is the pq-netsim channel's (`docs/transport.md`): with keys, Noise
//! `XX` and only listed keys admitted; without, Noise under throwaway keys (a warning says it
//! is unauthenticated); with `--insecure`, plain length-prefixed frames.

use crate::util::usage;
use anyhow::Context;
use clap::Args;
use pq_netsim::secure::{Identity, PeerPolicy, PublicKey, SecureConfig, load_key_list};
use pq_netsim::tcp::{Side, refuse_busy};
use pq_netsim::{ChannelError, TcpChannel, TcpOptions};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// Smallest frame and queue bound a run gets (64 MiB): covers the OT extension's column
/// messages (`pq_ot::matrix::MSG_OTS` OTs × 16 B = 512 KiB), base OTs, descriptors and
/// hellos with room to spare.
pub const BOUND_FLOOR: u64 = 64 << 20;

/// Connections waiting for the server or being sent the busy notice at once (each takes at
/// most [`BUSY_GRACE`] plus about 1.2 s); more connections meanwhile are closed without one.
const MAX_REFUSING: usize = 16;

/// How long a connection that arrives while another is served waits for the server before
/// it gets the busy notice: a session that is ending (its client already has the answer, the
/// server is still closing the connection) does not turn the client's next connection away.
pub const BUSY_GRACE: Duration = Duration::from_millis(500);

/// `keygen --out DIR`.
#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Directory for `key` (secret, mode 0600) and `key.pub` (one line).
    #[arg(long)]
    pub out: String,
}

pub fn keygen(a: KeygenArgs) -> anyhow::Result<()> {
    let dir = Path::new(&a.out);
    if dir.join("key").exists() {
        return usage(format!(
            "--out {}: {} exists; keygen does not overwrite a key",
            a.out,
            dir.join("key").display()
        ));
    }
    let id = Identity::generate().map_err(|e| anyhow::anyhow!("{e}"))?;
    id.save(dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{}", id.public().line());
    eprintln!(
        "wrote {} (secret, owner only) and {} ({}); give key.pub to the other side: a \
         server lists clients' keys in --peers FILE, a client names the server's with \
         --server-key",
        dir.join("key").display(),
        dir.join("key.pub").display(),
        id.public().fingerprint()
    );
    Ok(())
}

/// The server's channel flags (before the subcommand).
#[derive(Args, Debug, Clone, Default)]
pub struct ServerNetFlags {
    /// This server's secret key (the `key` file `keygen` writes).
    #[arg(long)]
    pub key: Option<String>,
    /// Accept only the clients whose public keys this file lists (one `.pub` line each).
    #[arg(long)]
    pub peers: Option<String>,
    /// Accept any client (a public service); the server is still authenticated by its key.
    #[arg(long)]
    pub any_client: bool,
    /// Plain TCP: no encryption, no authentication (for comparisons with SCI).
    #[arg(long)]
    pub insecure: bool,
    /// Seconds a connection has for the whole handshake (default 10).
    #[arg(long, default_value_t = 10.0)]
    pub handshake_timeout: f64,
    #[command(flatten)]
    pub deadlines: DeadlineFlags,
}

/// The client's channel flags (before the subcommand).
#[derive(Args, Debug, Clone, Default)]
pub struct ClientNetFlags {
    /// This client's secret key (the `key` file `keygen` writes).
    #[arg(long)]
    pub key: Option<String>,
    /// The server's public key file (`key.pub`): any other server is refused.
    #[arg(long)]
    pub server_key: Option<String>,
    /// Plain TCP: no encryption, no authentication (for comparisons with SCI).
    #[arg(long)]
    pub insecure: bool,
    /// Seconds the handshake may take (default 10).
    #[arg(long, default_value_t = 10.0)]
    pub handshake_timeout: f64,
    /// Seconds to keep retrying while no server listens at the address (default 30).
    #[arg(long, default_value_t = 30.0)]
    pub connect_timeout: f64,
    #[command(flatten)]
    pub deadlines: DeadlineFlags,
}

/// The deadlines after the handshake (both sides; `docs/transport.md`).
#[derive(Args, Debug, Clone)]
pub struct DeadlineFlags {
    /// Seconds a frame may take once its first byte is here, before `len / 1 MB/s` is added
    /// (default 30).
    #[arg(long, default_value_t = 30.0)]
    pub frame_timeout: f64,
    /// Seconds a receive waits for the next frame to start, and the base of each write's
    /// deadline (default 600).
    #[arg(long, default_value_t = 600.0)]
    pub idle_timeout: f64,
}

impl Default for DeadlineFlags {
    fn default() -> Self {
        DeadlineFlags {
            frame_timeout: 30.0,
            idle_timeout: 600.0,
        }
    }
}

impl DeadlineFlags {
    fn resolve(&self) -> anyhow::Result<(Duration, Duration)> {
        Ok((
            seconds("--frame-timeout", self.frame_timeout, 86400.0)?,
            seconds("--idle-timeout", self.idle_timeout, 86400.0)?,
        ))
    }
}

/// A validated channel mode.
#[derive(Clone, Debug)]
pub struct Net {
    /// `None`: plain TCP.
    pub secure: Option<SecureConfig>,
    pub handshake_timeout: Duration,
    /// `--frame-timeout`: a frame's base deadline once its first byte is here.
    pub frame_timeout: Duration,
    /// `--idle-timeout`: the wait for the next frame, and the base of a write's deadline.
    pub idle_timeout: Duration,
    /// `--connect-timeout`: how long a client retries while nothing listens (zero for a
    /// server).
    pub connect_retry: Duration,
}

fn seconds(flag: &str, t: f64, max: f64) -> anyhow::Result<Duration> {
    if !(t.is_finite() && t > 0.0 && t <= max) {
        return usage(format!("{flag} {t}: expected seconds in (0, {max}]"));
    }
    Ok(Duration::from_secs_f64(t))
}

fn timeout(t: f64) -> anyhow::Result<Duration> {
    seconds("--handshake-timeout", t, 3600.0)
}

fn load_identity(p: &str) -> anyhow::Result<Identity> {
    Identity::load(Path::new(p)).or_else(|e| usage(format!("--key: {e}")))
}

impl ServerNetFlags {
    /// Check the flags and load the keys; prints what the channel will be.
    pub fn resolve(&self) -> anyhow::Result<Net> {
        let handshake_timeout = timeout(self.handshake_timeout)?;
        let (frame_timeout, idle_timeout) = self.deadlines.resolve()?;
        if self.insecure {
            if self.key.is_some() || self.peers.is_some() || self.any_client {
                return usage("--insecure: plain TCP takes no --key, --peers or --any-client");
            }
            eprintln!("server: WARNING --insecure: plain TCP, neither encrypted nor authenticated");
            return Ok(Net {
                secure: None,
                handshake_timeout,
                frame_timeout,
                idle_timeout,
                connect_retry: Duration::ZERO,
            });
        }
        let Some(k) = &self.key else {
            if self.peers.is_some() || self.any_client {
                return usage(
                    "--peers/--any-client need --key (the server's secret key; `keygen --out DIR` makes one)",
                );
            }
            eprintln!(
                "server: WARNING no --key: the channel is encrypted under a throwaway key but \
                 NOT authenticated: any client may connect and clients cannot tell this server \
                 from an impostor (`keygen --out DIR`, then --key DIR/key --peers FILE)"
            );
            return Ok(Net {
                secure: Some(SecureConfig::anonymous()),
                handshake_timeout,
                frame_timeout,
                idle_timeout,
                connect_retry: Duration::ZERO,
            });
        };
        let id = load_identity(k)?;
        let peers = match (&self.peers, self.any_client) {
            (Some(_), true) => return usage("--peers and --any-client exclude each other"),
            (None, false) => {
                return usage(
                    "--key needs --peers FILE (the clients' public keys) or --any-client",
                );
            }
            (None, true) => PeerPolicy::Any,
            (Some(f), false) => {
                let l = load_key_list(Path::new(f)).or_else(|e| usage(format!("--peers: {e}")))?;
                if l.is_empty() {
                    return usage(format!("--peers {f}: lists no key"));
                }
                PeerPolicy::Only(l)
            }
        };
        eprintln!(
            "server: encrypted channel ({}), server key {}, {}",
            pq_netsim::secure::NOISE_PARAMS,
            id.public().fingerprint(),
            match &peers {
                PeerPolicy::Any => "any client (--any-client)".to_string(),
                PeerPolicy::Only(l) => format!("{} client key(s) allowed by --peers", l.len()),
            }
        );
        Ok(Net {
            secure: Some(SecureConfig {
                identity: Some(id),
                peers,
            }),
            handshake_timeout,
            frame_timeout,
            idle_timeout,
            connect_retry: Duration::ZERO,
        })
    }
}

impl ClientNetFlags {
    /// Check the flags and load the keys; prints what the channel will be.
    pub fn resolve(&self) -> anyhow::Result<Net> {
        let handshake_timeout = timeout(self.handshake_timeout)?;
        let (frame_timeout, idle_timeout) = self.deadlines.resolve()?;
        let connect_retry = seconds("--connect-timeout", self.connect_timeout, 3600.0)?;
        if self.insecure {
            if self.key.is_some() || self.server_key.is_some() {
                return usage("--insecure: plain TCP takes no --key or --server-key");
            }
            eprintln!("client: WARNING --insecure: plain TCP, neither encrypted nor authenticated");
            return Ok(Net {
                secure: None,
                handshake_timeout,
                frame_timeout,
                idle_timeout,
                connect_retry,
            });
        }
        let identity = self.key.as_deref().map(load_identity).transpose()?;
        let peers = match &self.server_key {
            Some(f) => PeerPolicy::Only(vec![
                PublicKey::load(Path::new(f)).or_else(|e| usage(format!("--server-key: {e}")))?,
            ]),
            None if identity.is_some() => {
                return usage(
                    "--key needs --server-key PUB: without the server's key the server is not \
                     authenticated",
                );
            }
            None => PeerPolicy::Any,
        };
        match (&peers, &identity) {
            (PeerPolicy::Any, _) => eprintln!(
                "client: WARNING no --server-key: the channel is encrypted under a throwaway \
                 key but NOT authenticated: the server is not verified"
            ),
            (PeerPolicy::Only(k), id) => eprintln!(
                "client: encrypted channel ({}), server key must be {}, client key {}",
                pq_netsim::secure::NOISE_PARAMS,
                k.first()
                    .map(|k| k.fingerprint().to_string())
                    .unwrap_or_default(),
                id.as_ref()
                    .map(|i| i.public().fingerprint().to_string())
                    .unwrap_or_else(|| "throwaway".into())
            ),
        }
        Ok(Net {
            secure: Some(SecureConfig { identity, peers }),
            handshake_timeout,
            frame_timeout,
            idle_timeout,
            connect_retry,
        })
    }
}

/// Transport bounds for one run (see `docs/transport.md`).
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Largest frame accepted.
    pub max_message: u64,
    /// Reader queue bound.
    pub queue_bytes: u64,
}

impl Bounds {
    /// At least the floor; `message` is the largest single message the run can send,
    /// `flight` the largest flight.
    pub fn new(message: u64, flight: u64) -> Bounds {
        let max_message = message.max(BOUND_FLOOR);
        Bounds {
            max_message,
            queue_bytes: flight.max(max_message),
        }
    }

    /// From a program's charged step costs: a message lies inside one step, so it is at most
    /// the step's bytes in its direction (plus 4 KiB for the virtual-time stamps); a flight
    /// lies inside at most two adjacent steps in the executor's order, so it is at most the
    /// largest sum of two adjacent steps' bytes in one direction.
    pub fn of_programs<'a>(
        progs: impl IntoIterator<Item = &'a pq_nn::lower::Program>,
    ) -> anyhow::Result<Bounds> {
        let (mut msg, mut flight) = (0u64, 0u64);
        for p in progs {
            let steps = pq_nn::secure::charged_step_costs(p).map_err(|e| anyhow::anyhow!("{e}"))?;
            let dir = |c: &pq_proto::Cost| c.server_to_client.max(c.client_to_server);
            for (i, c) in steps.iter().enumerate() {
                msg = msg.max(dir(c));
                if let Some(n) = steps.get(i + 1) {
                    flight = flight
                        .max(c.server_to_client + n.server_to_client)
                        .max(c.client_to_server + n.client_to_server);
                }
            }
        }
        let slack = 4 << 10;
        Ok(Bounds::new(msg + slack, flight + 2 * slack))
    }

    pub fn options(&self, net: &Net) -> TcpOptions {
        TcpOptions {
            handshake_timeout: net.handshake_timeout,
            frame_timeout: net.frame_timeout,
            idle_timeout: Some(net.idle_timeout),
            max_message: self.max_message,
            queue_bytes: self.queue_bytes,
            ..TcpOptions::default()
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "largest frame {:.1} MiB, reader queue {:.1} MiB",
            self.max_message as f64 / (1u64 << 20) as f64,
            self.queue_bytes as f64 / (1u64 << 20) as f64
        )
    }
}

/// Connect to the server under `net`'s mode.
pub fn connect(addr: &str, net: &Net, b: &Bounds) -> anyhow::Result<TcpChannel> {
    let o = b.options(net);
    let attempt = |retry: Duration| match &net.secure {
        Some(cfg) => TcpChannel::connect_secure(addr, o.clone(), cfg, retry),
        None => TcpChannel::connect(addr, o.clone(), retry),
    };
    // one attempt first, so a waiting client says so instead of retrying in silence
    let r = match attempt(Duration::ZERO) {
        Err(ChannelError::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            eprintln!(
                "client: nothing listens at {addr} yet; retrying for up to {:.0} s (--connect-timeout)",
                net.connect_retry.as_secs_f64()
            );
            attempt(net.connect_retry).map_err(|e| {
                anyhow::anyhow!(
                    "{addr}: no server answered within {:.0} s (--connect-timeout): {e}",
                    net.connect_retry.as_secs_f64()
                )
            })
        }
        r => r.map_err(|e| anyhow::anyhow!("{addr}: {e}")),
    };
    let ch = r?;
    if let Some(k) = ch.remote_key() {
        eprintln!("client: connected; server key {}", k.fingerprint());
    }
    Ok(ch)
}

/// What a served connection's handler reports.
pub enum Served {
    /// Done; the message is logged.
    Ok(String),
    /// The peer was not a working client before any protocol traffic (a stray connection,
    /// a refused key, a timeout): log and wait for the next.
    Stray(String),
}

/// Whether a channel error before any protocol traffic means a stray connection (keep
/// serving) rather than a client that reached the protocol.
pub fn is_stray(e: &ChannelError) -> bool {
    !matches!(e, ChannelError::Handshake(m) if m.contains("different configurations"))
}

/// Accept connections on `l` and hand each to `serve` one at a time; a connection arriving
/// while one is being served gets a busy notice and is closed. Connections that fail in
/// the transport's handshake are logged and the next is awaited. Returns after the first
/// connection `serve` completes when `once`; an error from `serve` is returned (a server
/// that keeps serving logs it instead when `!once`).
pub fn serve_loop(
    l: TcpListener,
    net: &Net,
    b: &Bounds,
    once: bool,
    mut serve: impl FnMut(TcpChannel) -> anyhow::Result<Served>,
) -> anyhow::Result<()> {
    let busy = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel::<(TcpStream, std::net::SocketAddr)>();
    let b2 = busy.clone();
    let refusing = Arc::new(AtomicUsize::new(0));
    let l2 = l.try_clone().context("listener")?;
    std::thread::Builder::new()
        .name("pq-accept".into())
        .spawn(move || {
            loop {
                match l2.accept() {
                    Ok((s, a)) => {
                        if !b2.swap(true, Ordering::SeqCst) {
                            if tx.send((s, a)).is_err() {
                                return;
                            }
                            continue;
                        }
                        // at most MAX_REFUSING waiting or refusing at once; past that, just
                        // close
                        if refusing.fetch_add(1, Ordering::SeqCst) >= MAX_REFUSING {
                            refusing.fetch_sub(1, Ordering::SeqCst);
                            eprintln!("server: {a}: refused, busy serving another connection");
                            continue;
                        }
                        let (r, busy, tx) = (refusing.clone(), b2.clone(), tx.clone());
                        std::thread::spawn(move || {
                            // the session being served may be ending: its client has its
                            // answer before the server has closed the connection, and may
                            // already be back
                            let t = std::time::Instant::now();
                            while t.elapsed() < BUSY_GRACE {
                                if !busy.swap(true, Ordering::SeqCst) {
                                    r.fetch_sub(1, Ordering::SeqCst);
                                    let _ = tx.send((s, a));
                                    return;
                                }
                                std::thread::sleep(Duration::from_millis(5));
                            }
                            eprintln!("server: {a}: refused, busy serving another connection");
                            refuse_busy(s, "the server is serving another client; try again later");
                            r.fetch_sub(1, Ordering::SeqCst);
                        });
                    }
                    Err(e) => {
                        eprintln!("server: accept failed: {e}");
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        })
        .context("accept thread")?;
    eprintln!(
        "server: handshake timeout {:.1} s, frame timeout {:.1} s, idle timeout {:.1} s, {}",
        net.handshake_timeout.as_secs_f64(),
        net.frame_timeout.as_secs_f64(),
        net.idle_timeout.as_secs_f64(),
        b.describe()
    );
    for (s, a) in rx {
        let o = b.options(net);
        let ch = match &net.secure {
            Some(cfg) => TcpChannel::from_stream_secure(s, o, cfg, Side::Server),
            None => TcpChannel::from_stream(s, o),
        };
        let r = match ch {
            Ok(ch) => {
                if let Some(k) = ch.remote_key() {
                    eprintln!("server: {a}: client key {}", k.fingerprint());
                }
                serve(ch)
            }
            Err(e) => Ok(Served::Stray(e.to_string())),
        };
        busy.store(false, Ordering::SeqCst);
        match r {
            Ok(Served::Ok(msg)) => {
                eprintln!("server: {a}: {msg}");
                if once {
                    return Ok(());
                }
            }
            Ok(Served::Stray(why)) => {
                eprintln!("server: {a}: dropped a connection before any protocol traffic: {why}");
            }
            Err(e) if once => return Err(e),
            Err(e) => eprintln!("server: {a}: connection failed: {e:#}"),
        }
    }
    anyhow::bail!("the accept thread stopped")
}

/// Largest public descriptor a party accepts from its peer (16 KiB).
pub const MAX_DESCRIPTOR: usize = 16 << 10;

/// The peer's next message as JSON (at most [`MAX_DESCRIPTOR`] bytes).
pub fn recv_json(ch: &mut TcpChannel, what: &str) -> anyhow::Result<serde_json::Value> {
    use pq_netsim::Channel;
    let b = ch
        .recv_vec(MAX_DESCRIPTOR)
        .with_context(|| format!("receiving the peer's {what}"))?;
    serde_json::from_slice(&b).with_context(|| format!("the peer's {what} is not JSON"))
}

/// The fields (keys of either object, except `skip`) in which the server's public descriptor
/// and the client's differ, each as "field: server X, client Y" so a refusal says what
/// differs, not only that something does.
pub fn differences(
    server: &serde_json::Value,
    client: &serde_json::Value,
    skip: &[&str],
) -> Vec<String> {
    let (Some(so), Some(co)) = (server.as_object(), client.as_object()) else {
        return vec!["descriptor: not a JSON object".into()];
    };
    let mut all: Vec<&String> = so.keys().collect();
    for k in co.keys() {
        if !all.contains(&k) {
            all.push(k);
        }
    }
    let null = serde_json::Value::Null;
    all.iter()
        .filter(|k| !skip.contains(&k.as_str()))
        .filter(|k| server.get(k.as_str()) != client.get(k.as_str()))
        .map(|k| {
            format!(
                "{k}: server {}, client {}",
                server.get(k.as_str()).unwrap_or(&null),
                client.get(k.as_str()).unwrap_or(&null)
            )
        })
        .collect()
}

/// Both parties send their public descriptor and read the peer's; the differences, oriented
/// server/client whichever side this is. The bytes count as channel overhead (framing), like
/// the hello: they are not part of any protocol's cost.
pub fn exchange_descriptors(
    ch: &mut TcpChannel,
    role: pq_netsim::channel::Role,
    mine: &serde_json::Value,
) -> anyhow::Result<Vec<String>> {
    use pq_netsim::Channel;
    let before = ch.meter().total();
    ch.send_vec(serde_json::to_vec(mine)?)?;
    ch.flush()?;
    let theirs = recv_json(ch, "descriptor")?;
    let after = ch.meter().total();
    ch.meter_mut().reclassify_as_framing(&after.since(&before));
    Ok(match role {
        pq_netsim::channel::Role::Server => differences(mine, &theirs, &[]),
        pq_netsim::channel::Role::Client => differences(&theirs, mine, &[]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pq_netsim::Channel;

    /// A client that connects again as soon as it has its answer is served, not told the
    /// server is busy, although the server is still finishing the previous session (it used
    /// to be refused: the busy flag clears only when the session's handler returns).
    #[test]
    fn a_client_back_at_once_after_its_answer_is_served() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let net = Net {
            secure: None,
            handshake_timeout: Duration::from_secs(2),
            frame_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(5),
            connect_retry: Duration::ZERO,
        };
        let b = Bounds::new(1 << 20, 1 << 20);
        std::thread::spawn(move || {
            let _ = serve_loop(l, &net, &b, false, |mut ch| {
                let m = ch.recv_vec(1 << 10)?;
                ch.send(&m)?;
                ch.flush()?;
                drop(ch);
                // the handler is still running after its client has the answer
                std::thread::sleep(Duration::from_millis(150));
                Ok(Served::Ok("echoed".into()))
            });
        });
        for i in 0..3u8 {
            let mut c = TcpChannel::connect(addr, TcpOptions::default(), Duration::from_secs(5))
                .expect("connect");
            c.send(&[i; 10]).expect("send");
            c.flush().expect("flush");
            let back = c.recv_vec(100).expect("served, not refused");
            assert_eq!(back, vec![i; 10]);
        }
    }
}
