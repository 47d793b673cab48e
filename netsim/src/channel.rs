//! The two-party [`Channel`] trait.
//!
//! Channels are message-oriented: every `send` is one message, and the peer's matching `recv`
//! must ask for exactly that many bytes (a mismatch is a typed error, never a silent desync).
//! Sends are buffered; `recv` flushes first, so a party never waits while holding unsent data.

use crate::error::{ChannelError, Result};
use crate::meter::Meter;
use pq_kernels::Block;
use pq_kernels::ring;

/// Protocol version of the wire format; part of every handshake.
pub const WIRE_VERSION: u32 = 1;

/// Which side of the two-party computation a party is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The server: SCI's ALICE (party 1). Holds the model.
    Server,
    /// The client: SCI's BOB (party 2). Holds the input.
    Client,
}

impl Role {
    /// The peer's role.
    pub fn other(self) -> Role {
        match self {
            Role::Server => Role::Client,
            Role::Client => Role::Server,
        }
    }
    /// Lowercase name for messages: `server` or `client`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Client => "client",
        }
    }
}

/// What each party states in the handshake: wire version, its role, and a hash of the public
/// parts of the configuration (never of secrets such as weights).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    /// Wire format version ([`WIRE_VERSION`] for this build).
    pub version: u32,
    /// The sender's role.
    pub role: Role,
    /// Hash of the public configuration; both parties must send the same one.
    pub config_hash: [u8; 32],
}

const HELLO_MAGIC: &[u8; 8] = b"PQRS-HS\x01";
/// Size of the handshake message on the wire.
pub const HELLO_LEN: usize = 8 + 4 + 1 + 32;

impl Hello {
    /// This build's hello ([`WIRE_VERSION`]) for `role`.
    pub fn new(role: Role, config_hash: [u8; 32]) -> Self {
        Hello {
            version: WIRE_VERSION,
            role,
            config_hash,
        }
    }
    /// The wire form: 8-byte magic, version (u32 LE), role byte (1 server, 2 client), hash.
    pub fn encode(&self) -> [u8; HELLO_LEN] {
        let mut b = [0u8; HELLO_LEN];
        b[..8].copy_from_slice(HELLO_MAGIC);
        b[8..12].copy_from_slice(&self.version.to_le_bytes());
        b[12] = match self.role {
            Role::Server => 1,
            Role::Client => 2,
        };
        b[13..].copy_from_slice(&self.config_hash);
        b
    }
    /// Parse the wire form.
    ///
    /// # Errors
    /// [`ChannelError::Malformed`] on a wrong length, wrong magic or unknown role byte.
    pub fn decode(b: &[u8]) -> Result<Self> {
        if b.len() != HELLO_LEN || &b[..8] != HELLO_MAGIC {
            return Err(ChannelError::Malformed(
                "the peer did not send a PrivQuant-RS handshake (wrong program or port?)".into(),
            ));
        }
        let version = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
        let role = match b[12] {
            1 => Role::Server,
            2 => Role::Client,
            r => {
                return Err(ChannelError::Malformed(format!(
                    "handshake names unknown role {r}"
                )));
            }
        };
        let mut config_hash = [0u8; 32];
        config_hash.copy_from_slice(&b[13..]);
        Ok(Hello {
            version,
            role,
            config_hash,
        })
    }
}

/// Map a receive error while expecting the peer's hello: a frame of the wrong size means the
/// peer is not a PrivQuant-RS handshake.
pub fn not_a_handshake(e: ChannelError) -> ChannelError {
    match e {
        e @ (ChannelError::SizeMismatch { .. }
        | ChannelError::Oversized { .. }
        | ChannelError::ShortRead { .. }) => ChannelError::Malformed(format!(
            "the peer did not send a PrivQuant-RS handshake (wrong program or port?): {e}"
        )),
        e => e,
    }
}

/// Refuse a peer's hello that does not match ours (version, roles, configuration).
pub fn check_hello(ours: &Hello, theirs: &Hello) -> Result<()> {
    if theirs.version != ours.version {
        return Err(ChannelError::Handshake(format!(
            "wire version mismatch: we speak {}, the peer speaks {}",
            ours.version, theirs.version
        )));
    }
    if theirs.role == ours.role {
        return Err(ChannelError::Handshake(format!(
            "both parties claim the {} role",
            ours.role.name()
        )));
    }
    if theirs.config_hash != ours.config_hash {
        return Err(ChannelError::Handshake(
            "the parties run different configurations (architecture, bit-widths, scales, \
             subcommand or flags differ)"
                .into(),
        ));
    }
    Ok(())
}

/// A two-party, message-oriented, metered channel.
pub trait Channel: Send {
    /// Send one message (buffered).
    fn send(&mut self, msg: &[u8]) -> Result<()>;

    /// Send one owned message; in-memory channels avoid a copy.
    fn send_vec(&mut self, msg: Vec<u8>) -> Result<()> {
        self.send(&msg)
    }

    /// Receive one message that must be exactly `buf.len()` bytes. Flushes pending sends first.
    fn recv(&mut self, buf: &mut [u8]) -> Result<()>;

    /// Receive one message of any length up to `max` bytes.
    fn recv_vec(&mut self, max: usize) -> Result<Vec<u8>>;

    /// Push buffered sends to the peer.
    fn flush(&mut self) -> Result<()>;

    /// The traffic counters of this end.
    fn meter(&self) -> &Meter;
    /// The traffic counters of this end, mutably (for tags).
    fn meter_mut(&mut self) -> &mut Meter;

    /// Receive one message of exactly `len` bytes into a new vector.
    fn recv_exact_vec(&mut self, len: usize) -> Result<Vec<u8>> {
        let v = self.recv_vec(len)?;
        if v.len() != len {
            return Err(ChannelError::SizeMismatch {
                expected: len,
                got: v.len(),
            });
        }
        Ok(v)
    }

    /// Send `vals` as one message of densely packed `l`-bit values.
    fn send_packed(&mut self, vals: &[u64], l: u32) -> Result<()> {
        self.send_vec(ring::pack_vec(vals, l))
    }

    /// Receive one message of `out.len()` densely packed `l`-bit values.
    fn recv_packed(&mut self, out: &mut [u64], l: u32) -> Result<()> {
        let v = self.recv_exact_vec(ring::packed_len(out.len(), l))?;
        ring::unpack(&v, l, out);
        Ok(())
    }

    /// Send blocks as one message (16 bytes each).
    fn send_blocks(&mut self, b: &[Block]) -> Result<()> {
        self.send(Block::slice_as_bytes(b))
    }

    /// Receive one message of `out.len()` blocks.
    fn recv_blocks(&mut self, out: &mut [Block]) -> Result<()> {
        self.recv(Block::slice_as_bytes_mut(out))
    }

    /// Enter a nested meter tag ([`Meter::push_tag`]).
    fn push_tag(&mut self, tag: &str) {
        self.meter_mut().push_tag(tag)
    }
    /// Leave the innermost meter tag ([`Meter::pop_tag`]).
    fn pop_tag(&mut self) {
        self.meter_mut().pop_tag()
    }

    /// Exchange [`Hello`]s and refuse a mismatch. The bytes count as framing, not payload.
    /// Returns the peer's hello.
    fn handshake(&mut self, ours: &Hello) -> Result<Hello> {
        let before = self.meter().total();
        self.send(&ours.encode())?;
        self.flush()?;
        let theirs = self.recv_vec(HELLO_LEN).map_err(not_a_handshake)?;
        let theirs = Hello::decode(&theirs)?;
        let after = self.meter().total();
        self.meter_mut()
            .reclassify_as_framing(&after.since(&before));
        check_hello(ours, &theirs)?;
        Ok(theirs)
    }
}

impl<C: Channel + ?Sized> Channel for &mut C {
    fn send(&mut self, msg: &[u8]) -> Result<()> {
        (**self).send(msg)
    }
    fn send_vec(&mut self, msg: Vec<u8>) -> Result<()> {
        (**self).send_vec(msg)
    }
    fn recv(&mut self, buf: &mut [u8]) -> Result<()> {
        (**self).recv(buf)
    }
    fn recv_vec(&mut self, max: usize) -> Result<Vec<u8>> {
        (**self).recv_vec(max)
    }
    fn flush(&mut self) -> Result<()> {
        (**self).flush()
    }
    fn meter(&self) -> &Meter {
        (**self).meter()
    }
    fn meter_mut(&mut self) -> &mut Meter {
        (**self).meter_mut()
    }
    fn handshake(&mut self, ours: &Hello) -> Result<Hello> {
        (**self).handshake(ours)
    }
}

impl<C: Channel + ?Sized> Channel for Box<C> {
    fn send(&mut self, msg: &[u8]) -> Result<()> {
        (**self).send(msg)
    }
    fn send_vec(&mut self, msg: Vec<u8>) -> Result<()> {
        (**self).send_vec(msg)
    }
    fn recv(&mut self, buf: &mut [u8]) -> Result<()> {
        (**self).recv(buf)
    }
    fn recv_vec(&mut self, max: usize) -> Result<Vec<u8>> {
        (**self).recv_vec(max)
    }
    fn flush(&mut self) -> Result<()> {
        (**self).flush()
    }
    fn meter(&self) -> &Meter {
        (**self).meter()
    }
    fn meter_mut(&mut self) -> &mut Meter {
        (**self).meter_mut()
    }
    fn handshake(&mut self, ours: &Hello) -> Result<Hello> {
        (**self).handshake(ours)
    }
}
