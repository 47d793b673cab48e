//! Memory: what a run will need, estimated from its public shapes before anything large is
//! allocated, checked against what the machine has (or `--max-mem`).
//!
//! A run that cannot fit must end in a usage error (exit 2) that gives the estimate, never in
//! `memory allocation of … failed` (SIGABRT) halfway through. Three kinds of estimate:
//!
//! * **Probe runs** ([`probe_linear`]): `micro` ops and `netsim vt-check` hold buffers linear
//!   in `--n` (messages, correlations, shares). The same op runs twice at a small `n` with the
//!   heap counted by [`CountingAlloc`]; the slope and intercept of the two peaks give the peak
//!   at the requested `n`. Chunked protocols grow more slowly than linearly, so the
//!   extrapolation errs high. `conv` and `micro residual` probe the same way along their pixel
//!   count, `micro matmul` along its largest side.
//! * **A floor from the shapes** ([`Footprint`]): before probing, the buffers a run cannot do
//!   without (its inputs and outputs as 64-bit words, per party). Absurd sizes are refused on
//!   this alone, so a probe never allocates much.
//! * **Networks** (`pq_nn::memory`): a walk over the program's steps that keeps the tensors
//!   alive exactly as the executor does, plus each step's own buffers.
//!
//! The budget is the kernel's `MemAvailable` (and the cgroup's `memory.max`, when set), or
//! `--max-mem SIZE` (`none` turns the check off).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};

use crate::UsageError;

/// The system allocator with a count of live heap bytes and their peak. The binary installs
/// it (`#[global_allocator]`); [`probe_linear`] reads it. Two relaxed atomics per allocation:
/// protocols allocate per call, never per element.
pub struct CountingAlloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The last probe estimate made in this process (0: none), for the run's report.
static LAST_ESTIMATE: AtomicU64 = AtomicU64::new(0);

/// The last estimate [`probe_linear`] made in this process, if any: reports show it beside
/// the measured [`peak_rss`].
pub fn last_estimate() -> Option<u64> {
    Some(LAST_ESTIMATE.load(Relaxed)).filter(|&b| b > 0)
}

#[inline]
fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Relaxed) + by;
    PEAK.fetch_max(now, Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; the counters only observe sizes.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            grew(l.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            grew(l.size());
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size(), Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            if new >= l.size() {
                grew(new - l.size());
            } else {
                LIVE.fetch_sub(l.size() - new, Relaxed);
            }
        }
        q
    }
}

/// Mark the counting allocator as installed (the binary calls this first thing in `main`);
/// without it [`probe_linear`] has nothing to read and estimates are skipped.
pub fn mark_installed() {
    ACTIVE.store(true, Relaxed);
}

/// Whether the counting allocator is installed (the binary; not library tests).
pub fn counting() -> bool {
    ACTIVE.load(Relaxed)
}

/// Live heap bytes now (0 when the counting allocator is not installed).
pub fn live() -> usize {
    LIVE.load(Relaxed)
}

/// The peak of [`live`] since the last [`reset_peak`].
pub fn peak() -> usize {
    PEAK.load(Relaxed)
}

/// Start a new peak at the current live bytes.
pub fn reset_peak() {
    PEAK.store(LIVE.load(Relaxed), Relaxed);
}

/// This process's peak resident set (`VmHWM`), in bytes, where the kernel reports it.
pub fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    kib_field(&s, "VmHWM:")
}

fn kib_field(text: &str, key: &str) -> Option<u64> {
    let l = text.lines().find(|l| l.starts_with(key))?;
    let kib: u64 = l[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

/// Bytes as a person reads them (decimal units: kB, MB, GB, TB).
pub fn human(b: u64) -> String {
    let b = b as f64;
    for (unit, scale) in [("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)] {
        if b >= scale {
            return format!("{:.1} {unit}", b / scale);
        }
    }
    format!("{b:.0} B")
}

/// How much memory a run may use, and where that figure came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Budget {
    /// Bytes; `None`: no check (`--max-mem none`, or nothing known about the machine).
    pub bytes: Option<u64>,
    /// Where the figure came from, for the message.
    pub source: String,
}

/// An amount as written on a command line, split into its leading number (digits and dots)
/// and the unit after it: `"0.5GB"` gives `("0.5", "GB")`.
pub fn split_amount(t: &str) -> (&str, &str) {
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    t.split_at(split)
}

/// Parse a `--max-mem` value: bytes, or a number with k, M, G, T (powers of 1000) or KiB,
/// MiB, GiB, TiB (powers of 1024), an optional trailing `B`; `none` turns the check off.
pub fn parse_size(s: &str) -> Result<Option<u64>, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let (num, unit) = split_amount(t);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size (examples: 8G, 512MiB, 2000000000, none)"))?;
    let scale = match unit.trim().to_ascii_lowercase().trim_end_matches('b') {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "ki" => 1024.0,
        "mi" => 1024.0f64.powi(2),
        "gi" => 1024.0f64.powi(3),
        "ti" => 1024.0f64.powi(4),
        _ => {
            return Err(format!(
                "'{s}': unknown unit '{unit}' (accepted: k, M, G, T, KiB, MiB, GiB, TiB, none)"
            ));
        }
    };
    let bytes = v * scale;
    if !(1.0..1.8e19).contains(&bytes) {
        return Err(format!("'{s}' is out of range (at least 1 byte)"));
    }
    Ok(Some(bytes as u64))
}

/// The memory this process may use: `--max-mem` when given, else the kernel's available
/// memory (the smaller of `MemAvailable` and what the cgroup's `memory.max` leaves).
pub fn budget(max_mem: Option<&str>) -> Result<Budget, UsageError> {
    if let Some(s) = max_mem {
        return match parse_size(s) {
            Ok(bytes) => Ok(Budget {
                bytes,
                source: format!("--max-mem {s}"),
            }),
            Err(e) => Err(UsageError(format!("--max-mem: {e}"))),
        };
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    let avail = meminfo
        .as_deref()
        .and_then(|s| kib_field(s, "MemAvailable:"));
    let cgroup = cgroup_room();
    let (bytes, source) = match (avail, cgroup) {
        (Some(a), Some(c)) if c < a => (Some(c), "left under the cgroup's memory.max"),
        (Some(a), _) => (Some(a), "available (MemAvailable)"),
        (None, Some(c)) => (Some(c), "left under the cgroup's memory.max"),
        (None, None) => (None, "unknown on this system"),
    };
    Ok(Budget {
        bytes,
        source: source.into(),
    })
}

/// cgroup v2: `memory.max − memory.current` of this process's group, when limited.
fn cgroup_room() -> Option<u64> {
    let rel = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = rel.lines().find_map(|l| l.strip_prefix("0::"))?.trim();
    let dir = std::path::Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    let max: u64 = std::fs::read_to_string(dir.join("memory.max"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cur: u64 = std::fs::read_to_string(dir.join("memory.current"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(max.saturating_sub(cur))
}

/// What the estimate of a run is and how it was reached, for the refusal message.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// Bytes the run is estimated to hold at its peak.
    pub bytes: u64,
    /// How the figure was reached (e.g. "probe runs at n = 4096 and 8192: 1.5 kB per element").
    pub how: String,
}

/// Refuse `what` (the command as the user wrote it, e.g. `micro mill --n 100000000`) with a
/// usage error when `est` exceeds the budget; `lower` says which flags make the run smaller.
pub fn check(what: &str, est: &Estimate, b: &Budget, lower: &str) -> Result<(), UsageError> {
    let Some(limit) = b.bytes else {
        return Ok(());
    };
    if est.bytes <= limit {
        return Ok(());
    }
    let set = if b.source.starts_with("--max-mem") {
        "raise --max-mem"
    } else {
        "set --max-mem to override"
    };
    Err(UsageError(format!(
        "{what} needs about {} of memory ({}), more than the {} {}; lower {lower}, or {set}",
        human(est.bytes),
        est.how,
        human(limit),
        b.source
    )))
}

/// The buffers a run cannot do without, in 64-bit words, before any probe: refuses absurd
/// sizes from the shapes alone (checked arithmetic: a product that overflows is "too large").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footprint(pub Option<u64>);

impl Footprint {
    /// `parts` words, summed over products of the given factors.
    pub fn words(parts: &[&[u64]]) -> Self {
        let mut total: u64 = 0;
        for p in parts {
            let mut prod: u64 = 1;
            for &f in *p {
                let Some(x) = prod.checked_mul(f) else {
                    return Footprint(None);
                };
                prod = x;
            }
            let Some(t) = total.checked_add(prod) else {
                return Footprint(None);
            };
            total = t;
        }
        Footprint(Some(total))
    }
    /// Bytes (8 per word), saturating.
    pub fn bytes(self) -> u64 {
        self.0.map_or(u64::MAX, |w| w.saturating_mul(8))
    }
    /// As an estimate: "at least", with `what` named.
    pub fn estimate(self, what: &str) -> Estimate {
        Estimate {
            bytes: self.bytes(),
            how: match self.0 {
                Some(_) => format!("at least, for {what} alone"),
                None => format!("{what} alone overflow 64 bits"),
            },
        }
    }
}

/// Estimate the peak heap of a run whose buffers grow linearly in a size `n`, from two probe
/// runs at `n1 < n2` (`run(m)` runs the same work at size `m`). The estimate is the line
/// through the two peaks at `n`, plus half for the allocator's own overhead, fragmentation
/// and the freed blocks it keeps (a quarter was measured to fall 7 % short for `micro cot`
/// in the test profile), plus the resident size at the start (code, thread stacks). `None` when the
/// counting allocator is not installed (a library test).
pub fn probe_linear<E>(
    n: u64,
    n1: u64,
    n2: u64,
    unit: &str,
    mut run: impl FnMut(u64) -> Result<(), E>,
) -> Result<Option<Estimate>, E> {
    if !ACTIVE.load(Relaxed) || n2 <= n1 {
        return Ok(None);
    }
    let mut peak_at = |m: u64| -> Result<u64, E> {
        let base = live();
        reset_peak();
        run(m)?;
        Ok(peak().saturating_sub(base) as u64)
    };
    let p1 = peak_at(n1)?;
    let p2 = peak_at(n2)?;
    let slope = p2.saturating_sub(p1) as f64 / (n2 - n1) as f64;
    let at_n = p1 as f64 + slope * n.saturating_sub(n1) as f64;
    let start = peak_rss().unwrap_or(0) as f64;
    let bytes = (at_n * 1.5 + start).min(u64::MAX as f64) as u64;
    LAST_ESTIMATE.store(bytes.max(1), Relaxed);
    Ok(Some(Estimate {
        bytes,
        how: format!(
            "from probe runs at {unit} = {n1} and {n2}: {} per {unit} above {}",
            human(slope.round() as u64),
            human(p1)
        ),
    }))
}

/// What a Ferret session holds beyond a small probe's: the buffers of its steady-state LPN
/// rounds, which a probe of a few thousand COTs never reaches (it runs the smaller first round
/// only); [`pq_proto::ot_calls::session_buffer_bytes`].
pub fn ferret_rounds() -> u64 {
    pq_proto::ot_calls::session_buffer_bytes(pq_proto::OtKind::Ferret)
}

/// Check a probe estimate (if the probes ran) against the budget, with [`ferret_rounds`]
/// added for a run on Ferret, and `in_flight` bytes: what the in-process channel may hold
/// queued at once when one party runs ahead of the other (its queues are unbounded, so a
/// streamed call's whole traffic, which small probes rarely show; 0 where unknown).
pub fn check_probed(
    what: &str,
    est: Option<Estimate>,
    ferret: bool,
    in_flight: u64,
    b: &Budget,
    lower: &str,
) -> Result<(), UsageError> {
    let Some(mut e) = est else {
        return Ok(());
    };
    if ferret {
        e = with_ferret_rounds(e);
    }
    if in_flight > 0 {
        e.bytes = e.bytes.saturating_add(in_flight);
        e.how
            .push_str(&format!(", plus {} of traffic in flight", human(in_flight)));
        LAST_ESTIMATE.store(e.bytes.max(1), Relaxed);
    }
    check(what, &e, b, lower)
}

/// Add [`ferret_rounds`] to a probe estimate of a run on Ferret.
fn with_ferret_rounds(mut e: Estimate) -> Estimate {
    let extra = ferret_rounds();
    e.bytes = e.bytes.saturating_add(extra + extra / 4);
    e.how
        .push_str(&format!(", plus {} for Ferret's LPN rounds", human(extra)));
    LAST_ESTIMATE.store(e.bytes.max(1), Relaxed);
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units_and_none() {
        assert_eq!(parse_size("8G"), Ok(Some(8_000_000_000)));
        assert_eq!(parse_size("8GB"), Ok(Some(8_000_000_000)));
        assert_eq!(parse_size("1GiB"), Ok(Some(1 << 30)));
        assert_eq!(parse_size("512mib"), Ok(Some(512 << 20)));
        assert_eq!(parse_size("1.5k"), Ok(Some(1500)));
        assert_eq!(parse_size("123"), Ok(Some(123)));
        assert_eq!(parse_size("none"), Ok(None));
        for bad in ["", "G", "-1G", "8X", "1e99", "0", "0.1", "8 G B B"] {
            assert!(parse_size(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn a_refusal_names_the_run_the_estimate_and_the_budget() {
        let est = Estimate {
            bytes: 3_000_000_000,
            how: "probe".into(),
        };
        let b = Budget {
            bytes: Some(1_000_000_000),
            source: "--max-mem 1G".into(),
        };
        let e = check("micro mill --n 9", &est, &b, "--n").unwrap_err().0;
        assert!(e.contains("micro mill --n 9") && e.contains("3.0 GB") && e.contains("1.0 GB"));
        assert!(e.contains("--max-mem 1G") && e.contains("lower --n"), "{e}");
        let room = Budget {
            bytes: Some(3_000_000_000),
            source: "x".into(),
        };
        assert!(check("x", &est, &room, "--n").is_ok());
        let off = Budget {
            bytes: None,
            source: "--max-mem none".into(),
        };
        assert!(check("x", &est, &off, "--n").is_ok());
    }

    #[test]
    fn footprints_saturate_instead_of_wrapping() {
        assert_eq!(Footprint::words(&[&[2, 3], &[4]]).0, Some(10));
        assert_eq!(Footprint::words(&[&[u64::MAX, 2]]).0, None);
        assert_eq!(Footprint::words(&[&[u64::MAX], &[1]]).0, None);
        assert_eq!(Footprint::words(&[&[1 << 62]]).bytes(), u64::MAX);
    }

    #[test]
    fn the_machine_budget_is_known_here() {
        let b = budget(None).unwrap();
        assert!(b.bytes.is_some_and(|x| x > 0), "{b:?}");
        assert!(budget(Some("junk")).is_err());
    }
}
