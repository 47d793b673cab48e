//! Progress lines of an executed run, on stderr, whether or not stderr is a terminal (CI
//! logs, `| tee`, nohup): one line per group of finished layers, with the elapsed time and an
//! estimate of the time left.
//!
//! A layer is finished when its last step is; the layers finished since the previous line
//! form the group a line reports (`l1.0.conv1 … l1.0.relu3`). To stay quiet on small models,
//! a line is printed only once at least `every` has passed since the start of the run and
//! since the previous line (`every` = 0 prints every layer). The estimate weighs each step by
//! its bytes in the cost model plus a constant (steps without traffic still take time): the
//! fraction f of the weight done after t seconds gives t·(1 − f)/f seconds left.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The state of one run's progress lines.
pub struct LayerProgress {
    label: String,
    /// The layer of each step.
    layers: Vec<String>,
    /// Cumulative weight after each step (`cum[i]` = weight of steps 0..=i).
    cum: Vec<f64>,
    every: Duration,
    start: Instant,
    /// (time of the last line, first layer finished since it)
    last: Mutex<(Instant, Option<String>)>,
}

impl LayerProgress {
    /// Progress of `prog`'s steps, its lines prefixed with `label`.
    pub fn new(label: String, prog: &pq_nn::lower::Program, every: Duration) -> LayerProgress {
        let costs = pq_nn::secure::charged_step_costs(prog).unwrap_or_default();
        let mut acc = 0.0;
        let cum = (0..prog.steps.len())
            .map(|i| {
                acc += costs.get(i).map(|c| c.total() as f64).unwrap_or(0.0) + 4096.0;
                acc
            })
            .collect();
        let now = Instant::now();
        LayerProgress {
            label,
            layers: prog.steps.iter().map(|s| s.layer.clone()).collect(),
            cum,
            every,
            start: now,
            last: Mutex::new((now, None)),
        }
    }

    /// Step `done` (1-based) of layer `layer` has finished.
    pub fn step(&self, layer: &str, done: usize, total: usize) {
        let finished = done >= total || self.layers.get(done).is_none_or(|l| l != layer);
        if !finished {
            return;
        }
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        if last.1.is_none() {
            last.1 = Some(layer.to_string());
        }
        let now = Instant::now();
        let due = now.duration_since(self.start) >= self.every
            && (done >= total || now.duration_since(last.0) >= self.every);
        if !due {
            return;
        }
        let elapsed = now.duration_since(self.start).as_secs_f64();
        let all = self.cum.last().copied().unwrap_or(1.0).max(1.0);
        let f = (self.cum.get(done.saturating_sub(1)).copied().unwrap_or(all) / all).min(1.0);
        let eta = if f >= 1.0 {
            "done".to_string()
        } else if f > 0.0 {
            format!("ETA {}", secs(elapsed * (1.0 - f) / f))
        } else {
            "ETA unknown".into()
        };
        let first = last.1.take().unwrap_or_default();
        let group = if first == layer {
            layer.to_string()
        } else {
            format!("{first} … {layer}")
        };
        eprintln!(
            "  {}: {group} done (step {done}/{total}, {:.0}% of the work), {} elapsed, {eta}",
            self.label,
            f * 100.0,
            secs(elapsed)
        );
        last.0 = now;
    }

    /// The callback the secure executor calls after each step.
    pub fn callback(self: Arc<Self>) -> pq_nn::secure::Progress {
        pq_nn::secure::Progress(Arc::new(move |layer: &str, done: usize, total: usize| {
            self.step(layer, done, total)
        }))
    }
}

/// `0.4 s`, `12 s`, `3 min 05 s`, `1 h 02 min`.
pub fn secs(s: f64) -> String {
    if s < 9.95 {
        return format!("{:.1} s", s.max(0.0));
    }
    let s = s.round() as u64;
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::secs;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(secs(0.44), "0.4 s");
        assert_eq!(secs(12.4), "12 s");
        assert_eq!(secs(75.0), "1 min 15 s");
        assert_eq!(secs(3725.0), "1 h 02 min");
    }
}
