//! The link model: [`LinkSpec`] (bandwidth, RTT, frame size), its parser, the per-direction
//! FIFO serializer [`LinkDirection`], and the plain [`analytic_latency`] estimate.
//!
//! A link is full duplex: each direction serializes its bytes at the bandwidth, one message
//! after another (FIFO), and every byte then travels for the one-way delay (RTT/2). Times are
//! integer nanoseconds ([`Nanos`]); the serializer keeps its state in units of
//! `1 / bandwidth` nanoseconds so that splitting a message into frames never changes when its
//! last byte arrives (no rounding drift).

use std::fmt;
use std::str::FromStr;

/// Time in nanoseconds (of a real, manual or virtual clock).
pub type Nanos = u64;

/// Default frame size: large messages are split into frames of this many bytes so that the
/// shaping proxy pipelines them.
pub const DEFAULT_FRAME_BYTES: usize = 64 * 1024;

const ACCEPTED: &str = "expected BANDWIDTH,RTT with bandwidth unit kbps|mbps|gbps (decimal bits/s) \
and RTT unit us|ms|s, e.g. `200mbps,13ms` or `1gbps,0.5ms`; several links are separated by `;`";

/// A malformed link description.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The text (or values) do not describe a link.
    #[error("invalid link `{input}`: {reason}; {ACCEPTED}")]
    Invalid {
        /// The offending input.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A full-duplex link: the bandwidth applies to each direction separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct LinkSpec {
    /// Bits per second, each direction.
    pub bandwidth_bps: u64,
    /// Round-trip time in nanoseconds; the one-way delay is half of it.
    pub rtt_ns: u64,
    /// Frame size used when a message is split for pipelining (bytes, ≥ 1).
    pub frame_bytes: usize,
}

impl LinkSpec {
    /// A link of `bandwidth_bps` bits/s and `rtt_ns` ns RTT, with the default frame size.
    pub fn new(bandwidth_bps: u64, rtt_ns: u64) -> Result<Self, LinkError> {
        if bandwidth_bps == 0 {
            return Err(LinkError::Invalid {
                input: format!("{bandwidth_bps}bps"),
                reason: "the bandwidth must be positive".into(),
            });
        }
        Ok(LinkSpec {
            bandwidth_bps,
            rtt_ns,
            frame_bytes: DEFAULT_FRAME_BYTES,
        })
    }

    /// The same link with another frame size (at least 1 byte).
    pub fn with_frame_bytes(mut self, frame_bytes: usize) -> Self {
        self.frame_bytes = frame_bytes.max(1);
        self
    }

    /// One-way delay: RTT/2, in nanoseconds (rounded down).
    pub fn one_way_ns(&self) -> Nanos {
        self.rtt_ns / 2
    }

    /// RTT in seconds.
    pub fn rtt_s(&self) -> f64 {
        self.rtt_ns as f64 * 1e-9
    }

    /// Bytes per second, each direction.
    pub fn bytes_per_s(&self) -> f64 {
        self.bandwidth_bps as f64 / 8.0
    }

    /// Time to serialize `bytes` at the bandwidth, in nanoseconds (rounded up).
    pub fn serialization_ns(&self, bytes: u64) -> Nanos {
        let num = bytes as u128 * 8_000_000_000u128;
        num.div_ceil(self.bandwidth_bps as u128) as Nanos
    }

    /// Parse one link such as `200mbps,13ms`.
    pub fn parse(s: &str) -> Result<Self, LinkError> {
        let input = s.trim();
        let bad = |reason: &str| LinkError::Invalid {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let (bw, rtt) = input
            .split_once(',')
            .ok_or_else(|| bad("missing `,` between bandwidth and RTT"))?;
        let bw = bw.trim().to_ascii_lowercase();
        let rtt = rtt.trim().to_ascii_lowercase();
        let (num, factor) = if let Some(n) = bw.strip_suffix("kbps") {
            (n, 1_000u128)
        } else if let Some(n) = bw.strip_suffix("mbps") {
            (n, 1_000_000)
        } else if let Some(n) = bw.strip_suffix("gbps") {
            (n, 1_000_000_000)
        } else {
            return Err(bad("the bandwidth needs a unit kbps, mbps or gbps"));
        };
        let bps = decimal_times(num, factor)
            .ok_or_else(|| bad("the bandwidth is not a decimal number"))?;
        if bps == 0 {
            return Err(bad("the bandwidth must be at least 1 bit/s"));
        }
        let bps = u64::try_from(bps).map_err(|_| bad("the bandwidth is too large"))?;
        // `ms` and `us` before `s`.
        let (num, factor) = if let Some(n) = rtt.strip_suffix("ms") {
            (n, 1_000_000u128)
        } else if let Some(n) = rtt.strip_suffix("us") {
            (n, 1_000)
        } else if let Some(n) = rtt.strip_suffix('s') {
            (n, 1_000_000_000)
        } else {
            return Err(bad("the RTT needs a unit us, ms or s"));
        };
        let ns =
            decimal_times(num, factor).ok_or_else(|| bad("the RTT is not a decimal number"))?;
        let ns = u64::try_from(ns)
            .ok()
            .filter(|&n| n <= 1_000_000_000_000_000)
            .ok_or_else(|| bad("the RTT is too large"))?;
        Ok(LinkSpec {
            bandwidth_bps: bps,
            rtt_ns: ns,
            frame_bytes: DEFAULT_FRAME_BYTES,
        })
    }
}

/// `num` (a plain non-negative decimal such as `0.5` or `200`) times `factor`, rounded to the
/// nearest integer. `None` if `num` is not such a decimal.
fn decimal_times(num: &str, factor: u128) -> Option<u128> {
    let num = num.trim();
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if int.len() > 24 || frac.len() > 24 {
        return None;
    }
    let digits = format!("{int}{frac}");
    let mant: u128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let den = 10u128.checked_pow(frac.len() as u32)?;
    let prod = mant.checked_mul(factor)?;
    Some((prod + den / 2) / den)
}

/// Parse one or several links separated by `;` (`200mbps,13ms;1gbps,0.5ms`).
pub fn parse_links(s: &str) -> Result<Vec<LinkSpec>, LinkError> {
    let parts: Vec<&str> = s.split(';').collect();
    if s.trim().is_empty() {
        return Err(LinkError::Invalid {
            input: s.to_string(),
            reason: "empty".into(),
        });
    }
    parts
        .iter()
        .map(|p| {
            if p.trim().is_empty() {
                Err(LinkError::Invalid {
                    input: s.to_string(),
                    reason: "an empty link between `;`".into(),
                })
            } else {
                LinkSpec::parse(p)
            }
        })
        .collect()
}

impl FromStr for LinkSpec {
    type Err = LinkError;
    fn from_str(s: &str) -> Result<Self, LinkError> {
        LinkSpec::parse(s)
    }
}

/// `v / 10^k` as the shortest decimal string.
fn fmt_scaled(v: u64, k: u32) -> String {
    let den = 10u64.pow(k);
    let (i, f) = (v / den, v % den);
    if f == 0 {
        return i.to_string();
    }
    let s = format!("{f:0width$}", width = k as usize);
    format!("{i}.{}", s.trim_end_matches('0'))
}

impl fmt::Display for LinkSpec {
    /// The canonical form, which parses back to the same link (`200mbps,13ms`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.bandwidth_bps;
        let bw = if b.is_multiple_of(1_000_000_000) {
            format!("{}gbps", b / 1_000_000_000)
        } else if b.is_multiple_of(1_000_000) {
            format!("{}mbps", b / 1_000_000)
        } else if b >= 1_000_000 {
            format!("{}mbps", fmt_scaled(b, 6))
        } else {
            format!("{}kbps", fmt_scaled(b, 3))
        };
        let r = self.rtt_ns;
        let rtt = if r != 0 && r.is_multiple_of(1_000_000_000) {
            format!("{}s", r / 1_000_000_000)
        } else if r >= 1_000 || r == 0 {
            format!("{}ms", fmt_scaled(r, 6))
        } else {
            format!("{}us", fmt_scaled(r, 3))
        };
        write!(f, "{bw},{rtt}")
    }
}

/// One direction of a link: a FIFO serializer followed by the one-way delay.
///
/// The sender owns its outgoing direction: `transmit` is called in send order.
#[derive(Clone, Debug)]
pub struct LinkDirection {
    link: LinkSpec,
    /// When the serializer is free again, in units of ns × bandwidth_bps.
    free_scaled: u128,
    bytes: u64,
    messages: u64,
}

impl LinkDirection {
    /// An idle direction of `link` at time 0.
    pub fn new(link: LinkSpec) -> Self {
        LinkDirection {
            link,
            free_scaled: 0,
            bytes: 0,
            messages: 0,
        }
    }

    /// The link this direction belongs to.
    pub fn link(&self) -> &LinkSpec {
        &self.link
    }

    fn scaled(&self, t: Nanos) -> u128 {
        t as u128 * self.link.bandwidth_bps as u128
    }

    fn unscale(&self, s: u128) -> Nanos {
        s.div_ceil(self.link.bandwidth_bps as u128) as Nanos
    }

    /// Hand a message of `bytes` to the link at time `t`; returns when its last byte arrives
    /// at the other end.
    pub fn transmit(&mut self, t: Nanos, bytes: u64) -> Nanos {
        let start = self.scaled(t).max(self.free_scaled);
        self.free_scaled = start + bytes as u128 * 8_000_000_000;
        self.bytes += bytes;
        self.messages += 1;
        self.unscale(self.free_scaled) + self.link.one_way_ns()
    }

    /// As [`transmit`](Self::transmit), split into frames of the link's frame size: `frame`
    /// is called with `(offset, len, arrival)` for each frame in order (one empty frame for an
    /// empty message). Returns the arrival of the last frame.
    pub fn transmit_frames(
        &mut self,
        t: Nanos,
        bytes: u64,
        mut frame: impl FnMut(u64, u64, Nanos),
    ) -> Nanos {
        let fb = self.link.frame_bytes.max(1) as u64;
        let mut start = self.scaled(t).max(self.free_scaled);
        let mut off = 0u64;
        let mut last;
        loop {
            let len = (bytes - off).min(fb);
            start += len as u128 * 8_000_000_000;
            last = self.unscale(start) + self.link.one_way_ns();
            frame(off, len, last);
            off += len;
            if off >= bytes {
                break;
            }
        }
        self.free_scaled = start;
        self.bytes += bytes;
        self.messages += 1;
        last
    }

    /// When the serializer has finished everything handed to it so far.
    pub fn free_at(&self) -> Nanos {
        self.unscale(self.free_scaled)
    }

    /// Bytes and messages handed to this direction so far.
    pub fn totals(&self) -> (u64, u64) {
        (self.bytes, self.messages)
    }
}

/// The plain analytic estimate, in seconds: the two directions transfer in parallel, so the
/// larger byte count over the bandwidth, plus one RTT per round.
pub fn analytic_latency(s2c_bytes: u64, c2s_bytes: u64, rounds: u64, link: &LinkSpec) -> f64 {
    let bytes = s2c_bytes.max(c2s_bytes) as f64;
    bytes * 8.0 / link.bandwidth_bps as f64 + rounds as f64 * link.rtt_s()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_examples() {
        let l = LinkSpec::parse("200mbps,13ms").unwrap();
        assert_eq!((l.bandwidth_bps, l.rtt_ns), (200_000_000, 13_000_000));
        let l: LinkSpec = "1gbps,0.5ms".parse().unwrap();
        assert_eq!((l.bandwidth_bps, l.rtt_ns), (1_000_000_000, 500_000));
        let l = LinkSpec::parse(" 1.5Kbps , 250us ").unwrap();
        assert_eq!((l.bandwidth_bps, l.rtt_ns), (1_500, 250_000));
        let l = LinkSpec::parse("10gbps,1s").unwrap();
        assert_eq!((l.bandwidth_bps, l.rtt_ns), (10_000_000_000, 1_000_000_000));
        let l = LinkSpec::parse("100mbps,0ms").unwrap();
        assert_eq!(l.rtt_ns, 0);
        let v = parse_links("200mbps,13ms;1gbps,0.5ms").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].rtt_ns, 500_000);
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "200mbps,13ms",
            "1gbps,0.5ms",
            "1.5kbps,0.25ms",
            "10gbps,1s",
            "2.5mbps,0ms",
            "3kbps,0.001us",
        ] {
            let l = LinkSpec::parse(s).unwrap();
            assert_eq!(l.to_string(), s);
            assert_eq!(LinkSpec::parse(&l.to_string()).unwrap(), l);
        }
    }

    #[test]
    fn rejects_bad_strings() {
        for s in [
            "",
            "200mbps",
            "200,13ms",
            "200mbps,13",
            "fast,13ms",
            "200mbps,13min",
            "-1mbps,13ms",
            "0mbps,13ms",
            "1e3mbps,1ms",
            "200mbps,13ms;",
            ";",
            "200 mb ps,1ms",
            "1.2.3mbps,1ms",
            ".mbps,1ms",
            "200mbps,-1ms",
        ] {
            let e = parse_links(s).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.contains("kbps|mbps|gbps") && msg.contains("us|ms|s"),
                "{s}: {msg}"
            );
        }
    }

    #[test]
    fn serializer_is_fifo_and_exact() {
        let l = LinkSpec::parse("200mbps,13ms").unwrap();
        let mut d = LinkDirection::new(l);
        // 1000 bytes at 25 MB/s = 40 us, then 6.5 ms.
        assert_eq!(d.transmit(0, 1000), 40_000 + 6_500_000);
        // Queued behind the first.
        assert_eq!(d.transmit(10_000, 1000), 80_000 + 6_500_000);
        // After the link went idle.
        assert_eq!(d.transmit(1_000_000, 0), 1_000_000 + 6_500_000);
        // Odd bandwidth: frames sum exactly to the whole message.
        let l3 = LinkSpec::parse("3kbps,0ms").unwrap().with_frame_bytes(7);
        let mut a = LinkDirection::new(l3);
        let mut b = LinkDirection::new(l3);
        let mut n = 0;
        let last = a.transmit_frames(5, 1001, |_, _, _| n += 1);
        assert_eq!(n, 143);
        assert_eq!(last, b.transmit(5, 1001));
        assert_eq!(last, 5 + (1001u64 * 8 * 1_000_000_000).div_ceil(3000));
    }

    #[test]
    fn analytic() {
        let l = LinkSpec::parse("200mbps,13ms").unwrap();
        let t = analytic_latency(25_000_000, 1000, 10, &l);
        assert!((t - (1.0 + 0.13)).abs() < 1e-12);
        let t = analytic_latency(0, 50_000_000, 0, &l);
        assert!((t - 2.0).abs() < 1e-12);
    }
}
