//! The authenticated, encrypted channel's keys and handshake (Noise, via the `snow` crate).
//!
//! What goes on the wire, in order, before any protocol traffic (all of it counted as
//! framing, never as payload):
//! 1. both ends send the 8-byte [`MAGIC_SECURE`] at once and read the peer's (a plain-TCP
//!    peer, a busy server or a stranger is recognised here and named in the error);
//! 2. the Noise handshake [`NOISE_PARAMS`] (`XX`: mutual authentication, both static keys
//!    sent encrypted), the client as initiator, each handshake message behind a 2-byte
//!    big-endian length and at most [`MAX_HANDSHAKE_MSG`] bytes. The prologue
//!    [`PROLOGUE`] binds the wire version. The client checks the server's static key against
//!    `--server-key` as soon as message 2 arrives and closes without sending its own key if
//!    it differs; the server checks the client's key against `--peers` after message 3;
//! 3. the server's admission record (the first encrypted message): `ok`, or a refusal that
//!    names the client key's fingerprint, so a refused client is told why;
//! 4. then the channel's [`crate::channel::Hello`] and the protocol, as encrypted messages
//!    (see [`crate::tcp`] for the record layout).
//!
//! Keys are X25519 key pairs. [`Identity`] is a long-term secret key (the file `keygen`
//! writes, `pq25519-secret:<secret hex>:<public hex>`), [`PublicKey`] a public key
//! (`pq25519:<64 hex>`, one line, optionally followed by a comment). A [`Fingerprint`] is
//! the first 8 bytes of BLAKE3 of the public key, printed as hex.

use crate::error::{ChannelError, Result};
use std::fmt;
use std::path::Path;

/// The Noise protocol: XX pattern, X25519, AES-256-GCM, BLAKE2s.
pub const NOISE_PARAMS: &str = "Noise_XX_25519_AESGCM_BLAKE2s";
/// Prologue mixed into the handshake hash: both ends must use the same.
pub const PROLOGUE: &[u8] = b"PrivQuant-RS encrypted transport v1";
/// First 8 bytes each end of an encrypted connection sends.
pub const MAGIC_SECURE: [u8; 8] = *b"PQRS-NX1";
/// First 8 bytes a busy server sends before a one-line reason and closing.
pub const MAGIC_BUSY: [u8; 8] = *b"PQRS-BSY";
/// Largest Noise handshake message accepted (XX's are 32, 96 and 64 bytes here).
pub const MAX_HANDSHAKE_MSG: usize = 1024;
/// Largest busy notice read.
pub const MAX_BUSY_TEXT: usize = 512;

const PUB_PREFIX: &str = "pq25519:";
const SECRET_PREFIX: &str = "pq25519-secret:";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    let s = s.as_bytes();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        let d = |c: u8| (c as char).to_digit(16);
        *o = (d(s[2 * i])? * 16 + d(s[2 * i + 1])?) as u8;
    }
    Some(out)
}

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not a key of the expected kind.
    #[error("{path}: {what}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        what: String,
    },
}

/// A 16-hex-digit fingerprint of a public key (BLAKE3, first 8 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 8]);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fp:{}", hex(&self.0))
    }
}
impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An X25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// Parse one `.pub` line: `pq25519:<64 hex>`, optionally followed by whitespace and a
    /// comment.
    pub fn parse(line: &str) -> std::result::Result<PublicKey, String> {
        let tok = line.split_whitespace().next().unwrap_or("");
        let Some(h) = tok.strip_prefix(PUB_PREFIX) else {
            return Err(format!(
                "not a public key (expected `{PUB_PREFIX}` followed by 64 hex digits)"
            ));
        };
        unhex32(h)
            .map(PublicKey)
            .ok_or_else(|| format!("`{PUB_PREFIX}` must be followed by exactly 64 hex digits"))
    }
    /// Read a `.pub` file (its first non-comment line).
    pub fn load(path: &Path) -> std::result::Result<PublicKey, KeyError> {
        let keys = load_key_list(path)?;
        match keys.as_slice() {
            [k] => Ok(*k),
            [] => Err(KeyError::Format {
                path: path.display().to_string(),
                what: "no public key in the file".into(),
            }),
            _ => Err(KeyError::Format {
                path: path.display().to_string(),
                what: "more than one public key (a server key file holds one)".into(),
            }),
        }
    }
    /// The `.pub` line.
    pub fn line(&self) -> String {
        format!("{PUB_PREFIX}{}", hex(&self.0))
    }
    /// The key's fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        let h = blake3::hash(&self.0);
        let mut f = [0u8; 8];
        f.copy_from_slice(&h.as_bytes()[..8]);
        Fingerprint(f)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.fingerprint())
    }
}

/// Read a list of public keys, one `.pub` line per line; blank lines and lines starting with
/// `#` are skipped. A line that is not a key is an error naming its number.
pub fn load_key_list(path: &Path) -> std::result::Result<Vec<PublicKey>, KeyError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: p.clone(),
        source,
    })?;
    parse_key_list(&text).map_err(|what| KeyError::Format { path: p, what })
}

/// Parse the text of a key list (see [`load_key_list`]); the error names the line.
pub fn parse_key_list(text: &str) -> std::result::Result<Vec<PublicKey>, String> {
    let mut out = vec![];
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        out.push(PublicKey::parse(t).map_err(|what| format!("line {}: {what}", i + 1))?);
    }
    Ok(out)
}

/// A long-term X25519 key pair (secret and public).
#[derive(Clone)]
pub struct Identity {
    secret: [u8; 32],
    public: PublicKey,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({})", self.public.fingerprint())
    }
}

fn params() -> snow::params::NoiseParams {
    // The constant parses: a test checks it.
    NOISE_PARAMS
        .parse()
        .unwrap_or_else(|_| unreachable!("NOISE_PARAMS is a valid Noise name"))
}

fn noise_err(what: &str, e: snow::Error) -> ChannelError {
    match e {
        snow::Error::Decrypt => ChannelError::Malformed(format!(
            "{what}: authentication failed (tampered data, or not a PrivQuant-RS peer)"
        )),
        e => ChannelError::Malformed(format!("{what}: {e}")),
    }
}

impl Identity {
    /// A fresh key pair from the OS's random source.
    pub fn generate() -> Result<Identity> {
        let kp = snow::Builder::new(params())
            .generate_keypair()
            .map_err(|e| noise_err("key generation", e))?;
        let mut secret = [0u8; 32];
        let mut public = [0u8; 32];
        if kp.private.len() != 32 || kp.public.len() != 32 {
            return Err(ChannelError::Malformed("unexpected X25519 key size".into()));
        }
        secret.copy_from_slice(&kp.private);
        public.copy_from_slice(&kp.public);
        Ok(Identity {
            secret,
            public: PublicKey(public),
        })
    }
    /// The public half.
    pub fn public(&self) -> PublicKey {
        self.public
    }
    /// The secret key file's text.
    pub fn secret_text(&self) -> String {
        format!(
            "{SECRET_PREFIX}{}:{}\n",
            hex(&self.secret),
            hex(&self.public.0)
        )
    }
    /// Parse the secret key file's text.
    pub fn parse(text: &str) -> std::result::Result<Identity, String> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        let Some(rest) = line.strip_prefix(SECRET_PREFIX) else {
            if line.starts_with(PUB_PREFIX) {
                return Err(
                    "this is a public key; --key takes the secret key file (`key`, not `key.pub`)"
                        .into(),
                );
            }
            return Err(format!("not a secret key (expected `{SECRET_PREFIX}…`)"));
        };
        let mut parts = rest.split(':');
        let (Some(s), Some(p), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err("malformed secret key line".into());
        };
        match (unhex32(s), unhex32(p)) {
            (Some(secret), Some(public)) => Ok(Identity {
                secret,
                public: PublicKey(public),
            }),
            _ => Err("malformed secret key line (64 hex digits expected twice)".into()),
        }
    }
    /// Read a secret key file.
    pub fn load(path: &Path) -> std::result::Result<Identity, KeyError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: p.clone(),
            source,
        })?;
        Identity::parse(&text).map_err(|what| KeyError::Format { path: p, what })
    }
    /// Write `dir/key` (owner read/write only) and `dir/key.pub`; refuses to overwrite an
    /// existing `dir/key`.
    pub fn save(&self, dir: &Path) -> std::result::Result<(), KeyError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| KeyError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let key = dir.join("key");
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        let mut f = o.open(&key).map_err(io(&key))?;
        std::io::Write::write_all(&mut f, self.secret_text().as_bytes()).map_err(io(&key))?;
        let pubf = dir.join("key.pub");
        std::fs::write(&pubf, format!("{}\n", self.public.line())).map_err(io(&pubf))?;
        Ok(())
    }
}

/// Whom an end accepts as its peer.
#[derive(Clone, Debug)]
pub enum PeerPolicy {
    /// Anyone (a server with `--any-client`, or an end without keys).
    Any,
    /// Only these keys (a server's `--peers` list, or a client's `--server-key`).
    Only(Vec<PublicKey>),
}

/// The encrypted channel's configuration for one end.
#[derive(Clone, Debug)]
pub struct SecureConfig {
    /// This end's long-term key; `None`: a throwaway key made for this connection.
    pub identity: Option<Identity>,
    /// Whom this end accepts.
    pub peers: PeerPolicy,
}

impl SecureConfig {
    /// Throwaway keys, any peer: encrypted but unauthenticated.
    pub fn anonymous() -> SecureConfig {
        SecureConfig {
            identity: None,
            peers: PeerPolicy::Any,
        }
    }
    /// Whether the peer is authenticated (a key list to check it against).
    pub fn authenticates_peer(&self) -> bool {
        matches!(self.peers, PeerPolicy::Only(_))
    }
}

/// What the handshake established.
pub(crate) struct Established {
    pub(crate) transport: snow::StatelessTransportState,
    pub(crate) remote: PublicKey,
}

/// The channel side of a handshake: raw reads and writes with a deadline.
pub(crate) trait HsIo {
    fn write_all(&mut self, b: &[u8]) -> Result<()>;
    fn read_exact(&mut self, b: &mut [u8], what: &'static str) -> Result<()>;
}

fn write_hs(io: &mut dyn HsIo, m: &[u8]) -> Result<()> {
    let mut v = Vec::with_capacity(2 + m.len());
    v.extend_from_slice(&(m.len() as u16).to_be_bytes());
    v.extend_from_slice(m);
    io.write_all(&v)
}

fn read_hs(io: &mut dyn HsIo, buf: &mut [u8]) -> Result<usize> {
    let mut l = [0u8; 2];
    io.read_exact(&mut l, "Noise handshake")?;
    let n = u16::from_be_bytes(l) as usize;
    if n > MAX_HANDSHAKE_MSG.min(buf.len()) {
        return Err(ChannelError::Oversized {
            got: n as u64,
            limit: MAX_HANDSHAKE_MSG as u64,
        });
    }
    io.read_exact(&mut buf[..n], "Noise handshake")?;
    Ok(n)
}

fn remote_key(hs: &snow::HandshakeState) -> Result<PublicKey> {
    let r = hs
        .get_remote_static()
        .ok_or_else(|| ChannelError::Malformed("the peer sent no static key".into()))?;
    let k: [u8; 32] = r
        .try_into()
        .map_err(|_| ChannelError::Malformed("the peer's static key has the wrong size".into()))?;
    Ok(PublicKey(k))
}

fn check_peer(peers: &PeerPolicy, got: PublicKey, whose: &str, flag: &str) -> Result<()> {
    match peers {
        PeerPolicy::Any => Ok(()),
        PeerPolicy::Only(list) if list.contains(&got) => Ok(()),
        PeerPolicy::Only(list) => Err(ChannelError::Auth(format!(
            "the {whose}'s key {} is not the one {flag} names ({})",
            got.fingerprint(),
            list.iter()
                .map(|k| k.fingerprint().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Run the Noise handshake over `io`. `initiator` is the client. Returns the transport
/// state and the peer's static key, or a typed error (`Auth` for a refused key).
pub(crate) fn handshake(
    io: &mut dyn HsIo,
    cfg: &SecureConfig,
    initiator: bool,
) -> Result<Established> {
    let id = match &cfg.identity {
        Some(id) => id.clone(),
        None => Identity::generate()?,
    };
    let b = snow::Builder::new(params())
        .prologue(PROLOGUE)
        .map_err(|e| noise_err("handshake setup", e))?
        .local_private_key(&id.secret)
        .map_err(|e| noise_err("handshake setup", e))?;
    let mut hs = if initiator {
        b.build_initiator()
    } else {
        b.build_responder()
    }
    .map_err(|e| noise_err("handshake setup", e))?;
    let mut msg = [0u8; MAX_HANDSHAKE_MSG];
    let mut pl = [0u8; MAX_HANDSHAKE_MSG];
    let remote;
    if initiator {
        // -> e
        let n = hs
            .write_message(&[], &mut msg)
            .map_err(|e| noise_err("Noise message 1", e))?;
        write_hs(io, &msg[..n])?;
        // <- e, ee, s, es
        let n = read_hs(io, &mut msg)?;
        hs.read_message(&msg[..n], &mut pl)
            .map_err(|e| noise_err("Noise message 2", e))?;
        remote = remote_key(&hs)?;
        check_peer(&cfg.peers, remote, "server", "--server-key")?;
        // -> s, se
        let n = hs
            .write_message(&[], &mut msg)
            .map_err(|e| noise_err("Noise message 3", e))?;
        write_hs(io, &msg[..n])?;
    } else {
        let n = read_hs(io, &mut msg)?;
        hs.read_message(&msg[..n], &mut pl)
            .map_err(|e| noise_err("Noise message 1", e))?;
        let n = hs
            .write_message(&[], &mut msg)
            .map_err(|e| noise_err("Noise message 2", e))?;
        write_hs(io, &msg[..n])?;
        let n = read_hs(io, &mut msg).map_err(|e| match e {
            ChannelError::Closed { .. } | ChannelError::ShortRead { .. } => ChannelError::Auth(
                "the client closed during the handshake (it may have refused this server's key)"
                    .into(),
            ),
            e => e,
        })?;
        hs.read_message(&msg[..n], &mut pl)
            .map_err(|e| noise_err("Noise message 3", e))?;
        remote = remote_key(&hs)?;
    }
    let transport = hs
        .into_stateless_transport_mode()
        .map_err(|e| noise_err("handshake", e))?;
    Ok(Established { transport, remote })
}

/// The server's admission decision for a client key: `Ok` or the refusal text.
pub(crate) fn admit(cfg: &SecureConfig, client: PublicKey) -> std::result::Result<(), String> {
    check_peer(&cfg.peers, client, "client", "--peers").map_err(|e| match e {
        ChannelError::Auth(_) => format!(
            "the client's key {} is not in the server's --peers list",
            client.fingerprint()
        ),
        e => e.to_string(),
    })
}
