//! Clocks, injectable so the link model's timing is testable deterministically.
//!
//! * [`RealClock`]: monotonic wall time since a process-wide origin (all instances agree);
//!   `sleep_until` sleeps, then yields for the last fraction of a millisecond.
//! * [`ManualClock`]: a fake clock for tests; `sleep_until` jumps forward instead of waiting.
//! * [`ThreadCpuClock`]: CPU time of the calling thread, the "compute" source of virtual time.

use crate::link::Nanos;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A source of time in nanoseconds.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Nanos;
    /// Return no earlier than `t` (by this clock).
    fn sleep_until(&self, t: Nanos) {
        while self.now() < t {
            std::thread::yield_now();
        }
    }
}

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// Monotonic wall time since a process-wide origin.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealClock;

/// How long before a deadline [`RealClock::sleep_until`] stops sleeping and starts yielding.
/// With 1 us timer slack a plain sleep ends within tens of microseconds of its deadline, well
/// inside the ±1 ms target, so no spinning is needed (spinning would cost CPU per message).
pub const SPIN_MARGIN: Duration = Duration::from_micros(0);

/// Ask the kernel for 1 us timer slack on this thread (once), so sleeps end close to their
/// deadline and little spinning is needed.
fn tighten_timer_slack() {
    thread_local! {
        static DONE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    DONE.with(|d| {
        if !d.get() {
            d.set(true);
            // SAFETY: PR_SET_TIMERSLACK takes one integer argument and affects only this thread.
            unsafe {
                libc::prctl(
                    libc::PR_SET_TIMERSLACK,
                    1000 as libc::c_ulong,
                    0 as libc::c_ulong,
                    0 as libc::c_ulong,
                    0 as libc::c_ulong,
                );
            }
        }
    });
}

impl Clock for RealClock {
    fn now(&self) -> Nanos {
        origin().elapsed().as_nanos() as Nanos
    }
    fn sleep_until(&self, t: Nanos) {
        if self.now() >= t {
            return;
        }
        tighten_timer_slack();
        let margin = SPIN_MARGIN.as_nanos() as Nanos;
        loop {
            let now = self.now();
            if now >= t {
                return;
            }
            let left = t - now;
            if left > margin {
                std::thread::sleep(Duration::from_nanos(left - margin));
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// A manual clock for tests: time moves only by [`advance`](Self::advance),
/// [`set`](Self::set) or `sleep_until` (which jumps to the deadline).
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicU64,
}

impl ManualClock {
    /// A clock reading `start` nanoseconds.
    pub fn new(start: Nanos) -> Self {
        ManualClock {
            now: AtomicU64::new(start),
        }
    }
    /// Move the clock forward by `d` nanoseconds.
    pub fn advance(&self, d: Nanos) {
        self.now.fetch_add(d, Ordering::SeqCst);
    }
    /// Move the clock to `t` if that is later than now.
    pub fn set(&self, t: Nanos) {
        self.now.fetch_max(t, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Nanos {
        self.now.load(Ordering::SeqCst)
    }
    fn sleep_until(&self, t: Nanos) {
        self.set(t);
    }
}

/// CPU time consumed by the calling thread (`CLOCK_THREAD_CPUTIME_ID`), plus the wall time of
/// the parallel sections it ran through [`parallel_section`] (less its own CPU time in them):
/// a party that fans work out over other threads is charged what it waited, not its threads'
/// summed CPU time.
#[derive(Clone, Copy, Debug, Default)]
pub struct ThreadCpuClock;

thread_local! {
    /// Wall time of this thread's parallel sections beyond its own CPU time in them.
    static PARALLEL_EXTRA: std::cell::Cell<Nanos> = const { std::cell::Cell::new(0) };
}

/// Run `f`, a section that fans out over other threads (for example rayon), and charge the
/// calling thread's [`ThreadCpuClock`] the section's wall time.
pub fn parallel_section<R>(f: impl FnOnce() -> R) -> R {
    let (w0, c0) = (RealClock.now(), thread_cpu_ns());
    let r = f();
    let wall = RealClock.now().saturating_sub(w0);
    let own = thread_cpu_ns().saturating_sub(c0);
    PARALLEL_EXTRA.with(|e| e.set(e.get() + wall.saturating_sub(own)));
    r
}

/// CPU time of the calling thread in nanoseconds.
pub fn thread_cpu_ns() -> Nanos {
    cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time of the whole process in nanoseconds.
pub fn process_cpu_ns() -> Nanos {
    cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn cpu_clock(id: libc::clockid_t) -> Nanos {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec and the clock id is a constant the OS knows.
    let r = unsafe { libc::clock_gettime(id, &mut ts) };
    if r != 0 {
        return 0;
    }
    ts.tv_sec as Nanos * 1_000_000_000 + ts.tv_nsec as Nanos
}

/// The calling thread's compute time: its CPU time plus the wall time of its parallel
/// sections ([`parallel_section`]); what [`ThreadCpuClock`] reads.
pub fn compute_ns() -> Nanos {
    thread_cpu_ns() + PARALLEL_EXTRA.with(|e| e.get())
}

impl Clock for ThreadCpuClock {
    fn now(&self) -> Nanos {
        compute_ns()
    }
}

/// Wall time as a compute source (counts waiting and contention too).
#[derive(Clone, Copy, Debug, Default)]
pub struct WallClock;

impl Clock for WallClock {
    fn now(&self) -> Nanos {
        RealClock.now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_sections_charge_their_wall_time() {
        let c = ThreadCpuClock;
        let a = c.now();
        // the section waits on another thread: its own CPU time is near zero
        parallel_section(|| {
            std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(30)))
                .join()
                .ok()
        });
        assert!(c.now() - a >= 25_000_000, "{}", c.now() - a);
    }

    #[test]
    fn manual_clock_jumps() {
        let c = ManualClock::new(5);
        c.advance(10);
        assert_eq!(c.now(), 15);
        c.sleep_until(100);
        assert_eq!(c.now(), 100);
        c.sleep_until(50);
        assert_eq!(c.now(), 100);
    }

    #[test]
    fn real_clock_sleeps_at_least() {
        let c = RealClock;
        let t = c.now() + 2_000_000;
        c.sleep_until(t);
        assert!(c.now() >= t);
    }

    #[test]
    fn thread_cpu_advances() {
        let a = thread_cpu_ns();
        let mut x = 0u64;
        for i in 0..3_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        assert!(thread_cpu_ns() > a, "{x}");
    }
}
