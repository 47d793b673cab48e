//! Channel errors. Every failure of the peer or the transport maps to one of these; none
//! panics and none hangs (TCP has an idle timeout).

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The peer closed the connection (or dropped its end) while we expected a message.
    #[error("peer closed the channel{}", context_suffix(.context))]
    Closed { context: String },
    /// The connection ended in the middle of a message.
    #[error("short read: expected {expected} bytes, got {got} before the connection ended")]
    ShortRead { expected: usize, got: usize },
    /// No traffic from the peer within the idle timeout.
    #[error("idle timeout: no data from the peer for {0:?}")]
    Timeout(Duration),
    /// A message of a different length than the protocol expects.
    #[error("unexpected message size: expected {expected} bytes, the peer sent {got}")]
    SizeMismatch { expected: usize, got: usize },
    /// A frame header announcing more than the channel's maximum message size.
    #[error("oversized frame: {got} bytes announced, the limit is {limit}")]
    Oversized { got: u64, limit: u64 },
    /// A malformed frame or handshake.
    #[error("malformed traffic: {0}")]
    Malformed(String),
    /// The two parties disagree on protocol version or configuration.
    #[error("handshake refused: {0}")]
    Handshake(String),
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

pub type Result<T> = std::result::Result<T, ChannelError>;
