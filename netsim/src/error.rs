//! Channel errors. Every failure of the peer or the transport maps to one of these; none
//! panics and none hangs (TCP has an idle timeout).

use std::time::Duration;

/// Why a channel operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The peer closed the connection (or dropped its end) while we expected a message.
    #[error("peer closed the channel{}", context_suffix(.context))]
    Closed {
        /// What we were doing (e.g. `"while sending"`), or empty.
        context: String,
    },
    /// The connection ended in the middle of a message.
    #[error("short read: expected {expected} bytes, got {got} before the connection ended")]
    ShortRead {
        /// Bytes the frame header (or the header itself) announced.
        expected: usize,
        /// Bytes received before the end.
        got: usize,
    },
    /// No traffic from the peer within the idle timeout.
    #[error("idle timeout: no data from the peer for {0:?}")]
    Timeout(Duration),
    /// A message of a different length than the protocol expects.
    #[error("unexpected message size: expected {expected} bytes, the peer sent {got}")]
    SizeMismatch {
        /// Bytes the receiver asked for (the maximum, for `recv_vec`).
        expected: usize,
        /// Bytes in the message.
        got: usize,
    },
    /// A frame header announcing more than the channel's maximum message size.
    #[error("oversized frame: {got} bytes announced, the limit is {limit}")]
    Oversized {
        /// Bytes announced.
        got: u64,
        /// The channel's maximum message size in bytes.
        limit: u64,
    },
    /// A malformed frame or handshake.
    #[error("malformed traffic: {0}")]
    Malformed(String),
    /// The two parties disagree on protocol version or configuration.
    #[error("handshake refused: {0}")]
    Handshake(String),
    /// A deadline passed: the handshake's, or a frame's (which a trickle cannot extend).
    #[error("deadline passed: {what} not complete within {limit:?}")]
    Deadline {
        /// What was not complete (`"handshake"`, `"frame"`).
        what: &'static str,
        /// The time it was allowed.
        limit: Duration,
    },
    /// The encrypted channel refused a key (ours or the peer's); the text names the
    /// fingerprints.
    #[error("authentication refused: {0}")]
    Auth(String),
    /// The server is serving another client and refused this connection.
    #[error("the server is busy: {0}")]
    Busy(String),
    /// Any other I/O failure of the transport.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

fn context_suffix(c: &str) -> String {
    if c.is_empty() {
        String::new()
    } else {
        format!(" ({c})")
    }
}

/// `Result` with a [`ChannelError`].
pub type Result<T> = std::result::Result<T, ChannelError>;
