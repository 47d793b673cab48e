//! Lanes: `k` independent IKNP extension instances split from one base-OT setup, each on its
//! own channel, driven by a pool of `k` threads pinned to cores (one thread per lane).
//!
//! Splitting: lane `ℓ` of split number `e` re-keys every base-OT seed with a KDF,
//! `k' = BLAKE3-derive-key("… IKNP lane seed v1", k ‖ e ‖ ℓ)[0..16]`. The sender holds
//! `k_{s_i,i}` and derives exactly the receiver's `k'_{s_i,i}`, so every lane is a fresh IKNP
//! instance with the same Δ (the global correlation is shared across lanes), and lanes of
//! different splits or indices use unrelated PRG streams. Both parties must split the same
//! number of times, in the same order.

use super::iknp::{IknpReceiver, IknpSender};
use super::{OtError, OtResult, check_len};
use pq_kernels::Block;
use pq_kernels::aes::Prg;
use pq_netsim::Channel;
use std::ops::Range;

const LANE_CONTEXT: &str = "PrivQuant-RS 2026-11 IKNP lane seed v1";

fn lane_seed(key: Block, epoch: u64, lane: usize) -> Block {
    let mut h = blake3::Hasher::new_derive_key(LANE_CONTEXT);
    h.update(&key.to_bytes());
    h.update(&epoch.to_le_bytes());
    h.update(&(lane as u64).to_le_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(&h.finalize().as_bytes()[..16]);
    Block::from_bytes(k)
}

impl IknpSender {
    /// Split off `k` independent lanes (fresh PRG streams, same Δ).
    pub fn split_lanes(&mut self, k: usize) -> Vec<IknpSender> {
        let epoch = self.lane_epoch;
        self.lane_epoch += 1;
        let delta = self.delta();
        let (_, keys) = self.base_keys();
        let keys = keys.to_vec();
        (0..k)
            .map(|lane| {
                IknpSender::from_keys(
                    delta,
                    keys.iter().map(|&s| lane_seed(s, epoch, lane)).collect(),
                )
            })
            .collect()
    }
}

impl IknpReceiver {
    /// Split off `k` independent lanes matching the peer's [`IknpSender::split_lanes`].
    pub fn split_lanes(&mut self, k: usize) -> Vec<IknpReceiver> {
        let epoch = self.lane_epoch;
        self.lane_epoch += 1;
        let (k0, k1) = self.base_keys();
        let (k0, k1) = (k0.to_vec(), k1.to_vec());
        let mut out = Vec::with_capacity(k);
        for lane in 0..k {
            let own = Prg::new(self.own_prg().next_block());
            out.push(IknpReceiver::from_keys(
                k0.iter().map(|&s| lane_seed(s, epoch, lane)).collect(),
                k1.iter().map(|&s| lane_seed(s, epoch, lane)).collect(),
                own,
            ));
        }
        out
    }
}

/// A pool of one pinned thread per lane.
pub struct LanePool {
    pool: rayon::ThreadPool,
    lanes: usize,
}

impl LanePool {
    /// `lanes` threads; thread `i` is pinned to core `i mod #cores` when `pin` is set.
    pub fn new(lanes: usize, pin: bool) -> OtResult<Self> {
        let lanes = lanes.max(1);
        let cores = if pin {
            core_affinity::get_core_ids().unwrap_or_default()
        } else {
            Vec::new()
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(lanes)
            .thread_name(|i| format!("pq-ot-lane-{i}"))
            .start_handler(move |i| {
                if !cores.is_empty() {
                    core_affinity::set_for_current(cores[i % cores.len()]);
                }
            })
            .build()
            .map_err(|e| OtError::InvalidArgument(format!("cannot start the lane pool: {e}")))?;
        Ok(LanePool { pool, lanes })
    }

    /// Number of threads (and so the most lanes one [`run`](Self::run) accepts); at least 1.
    pub fn lanes(&self) -> usize {
        self.lanes
    }

    /// Run `f(i, &mut items[i])` for every lane at the same time (one task per thread; the
    /// pool has at least as many threads as items, so lanes that block on their channels
    /// never starve each other). Results come back in lane order.
    pub fn run<T, R, F>(&self, items: &mut [T], f: F) -> OtResult<Vec<R>>
    where
        T: Send,
        R: Send,
        F: Fn(usize, &mut T) -> OtResult<R> + Sync,
    {
        if items.len() > self.lanes {
            return Err(OtError::InvalidArgument(format!(
                "{} lanes submitted to a pool of {} threads",
                items.len(),
                self.lanes
            )));
        }
        let mut results: Vec<Option<OtResult<R>>> = (0..items.len()).map(|_| None).collect();
        let f = &f;
        self.pool.scope(|s| {
            for (i, (item, slot)) in items.iter_mut().zip(results.iter_mut()).enumerate() {
                s.spawn(move |_| *slot = Some(f(i, item)));
            }
        });
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| Err(OtError::InvalidArgument("a lane did not run".into())))
            })
            .collect()
    }
}

/// Split `0..n` into `k` contiguous ranges of sizes differing by at most one.
pub fn lane_ranges(n: usize, k: usize) -> Vec<Range<usize>> {
    let k = k.max(1);
    let (q, r) = (n / k, n % k);
    let mut out = Vec::with_capacity(k);
    let mut s = 0;
    for i in 0..k {
        let len = q + usize::from(i < r);
        out.push(s..s + len);
        s += len;
    }
    out
}

/// Random-choice COT on all lanes: lane `i` fills `q[lane_ranges(n, k)[i]]` over `chans[i]`.
pub fn send_rcot_lanes<C: Channel>(
    pool: &LanePool,
    senders: &mut [IknpSender],
    chans: &mut [C],
    q: &mut [Block],
) -> OtResult<()> {
    check_len("channels", senders.len(), chans.len())?;
    let ranges = lane_ranges(q.len(), senders.len());
    let mut rest = q;
    let mut items = Vec::with_capacity(senders.len());
    for ((s, c), r) in senders.iter_mut().zip(chans.iter_mut()).zip(&ranges) {
        let (head, tail) = rest.split_at_mut(r.len());
        rest = tail;
        items.push((s, c, head));
    }
    pool.run(&mut items, |_, (s, c, q)| s.send_rcot(*c, q.len(), q))?;
    Ok(())
}

/// Receiver side of [`send_rcot_lanes`].
pub fn recv_rcot_lanes<C: Channel>(
    pool: &LanePool,
    receivers: &mut [IknpReceiver],
    chans: &mut [C],
    choices: &mut [u8],
    t: &mut [Block],
) -> OtResult<()> {
    check_len("channels", receivers.len(), chans.len())?;
    check_len("t", choices.len(), t.len())?;
    let ranges = lane_ranges(t.len(), receivers.len());
    let (mut rest_c, mut rest_t) = (choices, t);
    let mut items = Vec::with_capacity(receivers.len());
    for ((rv, c), r) in receivers.iter_mut().zip(chans.iter_mut()).zip(&ranges) {
        let (hc, tc) = rest_c.split_at_mut(r.len());
        let (ht, tt) = rest_t.split_at_mut(r.len());
        rest_c = tc;
        rest_t = tt;
        items.push((rv, c, hc, ht));
    }
    pool.run(&mut items, |_, (rv, c, b, t)| {
        rv.recv_rcot(*c, t.len(), b, t)
    })?;
    Ok(())
}
