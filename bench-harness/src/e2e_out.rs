//! Where `e2e` writes its results, and when.
//!
//! - **Checked first.** [`Sink::open`] creates `--out` and proves it writable with a probe
//!   file before any model is lowered or run; a directory that cannot be written is a usage
//!   error (exit 2) naming `--out` and the path.
//! - **Named after what ran.** Every file of one run starts with the same prefix,
//!   `e2e<tag>-`: the tag is empty only for the headline command (the default models and
//!   protocols, the default knobs), so that only `bench-harness e2e --out results` replaces
//!   the committed headline files. Any other run adds the models (built-in names, or a JSON
//!   file's stem), the protocols when they differ from the default, and every non-default
//!   knob that changes a figure (`--ot`, `--emulate`, `--full`, `--max-exec-gb`, `--seed`);
//!   the planner objective ends the name (`-latency`) as before. Per link:
//!   `e2e<tag>-<link>[-latency].{jsonl,json,md}`; per model: `e2e<tag>-layers-<model>[-latency].svg`.
//! - **Written as each row exists.** [`Sink::push`] appends the row to the `.jsonl` file (one
//!   JSON object per line, flushed at once, so a killed run keeps every finished row), then
//!   rewrites the `.json` (the same rows as one JSON array, which `json.load` reads), the
//!   Markdown table and the model's SVG, each by writing a temporary file and renaming it
//!   (a kill never leaves half a file). A link's `.jsonl` is truncated when its first row
//!   of this run arrives, so a run that fails before any row leaves the previous files alone.
//! - **Said aloud.** Each path is printed to stderr the first time it is written, and
//!   [`Sink::paths`] lists them all.
//!
//! Nothing in the files depends on the output directory or the time of day: two runs with
//! the same flags differ only in the measured times (`compute_s`, `wall_s`, simulated
//! latency of executed rows). That is why README's quick start writes to `results/local/`
//! (ignored by git) and the committed `results/` files (the default `--out`, as
//! `interfaces.md` states) change only when the headline command is run there.

use crate::e2e_cmd::{DEFAULT_MODELS, DEFAULT_PROTOCOLS, E2eArgs};
use crate::util::{check_writable, machine_name, write_atomic};
use anyhow::Context;
use bench_harness::runners::e2e::E2eRow;
use pq_netsim::LinkSpec;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// One finished row and how the tables name its model.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The model's name (its JSON `name`, or the built-in's), never a file path.
    pub model: String,
    /// The built-in model this row is (the key of the paper's and Cheetah's figures); `None`
    /// for a JSON model, which the published figures never describe.
    pub builtin: Option<String>,
    pub row: E2eRow,
}

/// The file-name tag of a run (empty for the headline command).
pub fn run_tag(a: &E2eArgs) -> String {
    let list = |s: &str| -> Vec<String> {
        s.split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(String::from)
            .collect()
    };
    let d = E2eArgs::default();
    let mut parts: Vec<String> = vec![];
    let models = list(&a.models);
    let protocols = list(&a.protocols);
    if models != list(DEFAULT_MODELS) || protocols != list(DEFAULT_PROTOCOLS) {
        parts.push(
            models
                .iter()
                .map(|m| model_key(m))
                .collect::<Vec<_>>()
                .join("+"),
        );
    }
    if protocols != list(DEFAULT_PROTOCOLS) {
        parts.push(protocols.join("+"));
    }
    if let Some(o) = &a.ot {
        parts.push(format!("ot-{o}"));
    }
    if a.emulate {
        parts.push("emulate".into());
    }
    if a.full {
        parts.push("full".into());
    } else if a.max_exec_gb != d.max_exec_gb {
        parts.push(format!("max-exec-{}gb", a.max_exec_gb));
    }
    if a.seed != d.seed {
        parts.push(format!("seed{}", a.seed));
    }
    if a.tokens != d.tokens && models.iter().any(|m| m == "llama7b-attn") {
        parts.push(format!("tokens{}", a.tokens));
    }
    let tag: String = parts.iter().map(|p| format!("-{}", sanitize(p))).collect();
    // keep file names short enough for every file system: a long tag keeps its start and a
    // hash of the whole
    if tag.len() > 96 {
        let h = tag.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        });
        return format!("{}-{:08x}", &tag[..80], h as u32);
    }
    tag
}

/// A model argument's name in file names: a built-in's name, or a JSON file's stem.
fn model_key(m: &str) -> String {
    if m.ends_with(".json") {
        Path::new(m)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| m.to_string())
    } else {
        m.to_string()
    }
}

/// Letters, digits, `+`, `-` and `_` stay; everything else becomes `_`.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A link in file names: `200mbps,13ms` → `200mbps_13ms`.
pub fn link_file(l: &LinkSpec) -> String {
    l.to_string().replace([',', '.'], "_")
}

/// File-name suffix of the planner objective (empty for the default, bytes).
fn objective_suffix(a: &E2eArgs) -> String {
    if a.objective == "bytes" {
        String::new()
    } else {
        format!("-{}", sanitize(&a.objective))
    }
}

/// The command line that reproduces a run's figures (without `--out`, `--json`: they change
/// no figure).
pub fn command_line(a: &E2eArgs) -> String {
    let d = E2eArgs::default();
    let mut s = format!(
        "bench-harness e2e --net '{}' --models {} --protocols {}",
        a.net, a.models, a.protocols
    );
    if a.objective != d.objective {
        let _ = write!(s, " --objective {}", a.objective);
    }
    if let Some(o) = &a.ot {
        let _ = write!(s, " --ot {o}");
    }
    if a.emulate {
        s.push_str(" --emulate");
    }
    if a.full {
        s.push_str(" --full");
    } else if a.max_exec_gb != d.max_exec_gb {
        let _ = write!(s, " --max-exec-gb {}", a.max_exec_gb);
    }
    if a.seed != d.seed {
        let _ = write!(s, " --seed {}", a.seed);
    }
    if a.breakdown {
        s.push_str(" --breakdown");
    }
    s
}

/// The e2e result files of one run, written row by row.
pub struct Sink {
    dir: PathBuf,
    prefix: String,
    obj: String,
    links: Vec<LinkSpec>,
    command: String,
    breakdown: bool,
    entries: Vec<Entry>,
    /// Links whose `.jsonl` this run has truncated.
    started: Vec<String>,
    written: Vec<PathBuf>,
}

impl Sink {
    /// Create `--out` and prove it writable, before any work.
    pub fn open(a: &E2eArgs, links: &[LinkSpec]) -> anyhow::Result<Sink> {
        let dir = PathBuf::from(&a.out);
        check_writable("--out", &dir)?;
        Ok(Sink {
            dir,
            prefix: format!("e2e{}", run_tag(a)),
            obj: objective_suffix(a),
            links: links.to_vec(),
            command: command_line(a),
            breakdown: a.breakdown,
            entries: vec![],
            started: vec![],
            written: vec![],
        })
    }

    /// The `.jsonl` path of a link.
    pub fn jsonl_path(&self, l: &LinkSpec) -> PathBuf {
        self.dir.join(format!(
            "{}-{}{}.jsonl",
            self.prefix,
            link_file(l),
            self.obj
        ))
    }

    /// Every path written so far, in order of first write.
    pub fn paths(&self) -> &[PathBuf] {
        &self.written
    }

    fn note(&mut self, p: &Path) {
        if !self.written.iter().any(|w| w == p) {
            eprintln!("wrote {}", p.display());
            self.written.push(p.to_path_buf());
        }
    }

    /// Record one finished row: append it to its link's `.jsonl`, then rewrite that link's
    /// `.json` and `.md` and the model's SVG. `json` is the row as printed (with any
    /// additions such as the latency percentiles).
    pub fn push(&mut self, e: Entry, json: &serde_json::Value) -> anyhow::Result<()> {
        let link = self
            .links
            .iter()
            .find(|l| Some(l.to_string()) == e.row.link)
            .copied();
        let model = e.model.clone();
        self.entries.push(e);
        let Some(l) = link else {
            return Ok(());
        };
        let ls = l.to_string();
        let jl = self.jsonl_path(&l);
        let fresh = !self.started.contains(&ls);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(!fresh)
            .truncate(fresh)
            .open(&jl)
            .with_context(|| format!("writing {}", jl.display()))?;
        self.started.push(ls.clone());
        let mut line = serde_json::to_string(json)?;
        line.push('\n');
        f.write_all(line.as_bytes())
            .and_then(|_| f.flush())
            .with_context(|| format!("writing {}", jl.display()))?;
        self.note(&jl);
        self.rewrite_link(&l)?;
        self.rewrite_svg(&model)?;
        Ok(())
    }

    fn rewrite_link(&mut self, l: &LinkSpec) -> anyhow::Result<()> {
        let ls = l.to_string();
        let jl = self.jsonl_path(l);
        // the .json array holds exactly the .jsonl's rows (the printed objects)
        let text =
            std::fs::read_to_string(&jl).with_context(|| format!("reading {}", jl.display()))?;
        let mut arr = String::from("[\n");
        for (i, line) in text.lines().filter(|s| !s.trim().is_empty()).enumerate() {
            if i > 0 {
                arr.push_str(",\n");
            }
            arr.push_str(line);
        }
        arr.push_str("\n]\n");
        let base = format!("{}-{}{}", self.prefix, link_file(l), self.obj);
        let json_path = self.dir.join(format!("{base}.json"));
        write_atomic(&json_path, arr.as_bytes())?;
        self.note(&json_path);
        let sel: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.row.link.as_deref() == Some(ls.as_str()))
            .collect();
        let md =
            crate::e2e_report::markdown(&ls, &self.command, &machine_name(), &sel, self.breakdown);
        let md_path = self.dir.join(format!("{base}.md"));
        write_atomic(&md_path, md.as_bytes())?;
        self.note(&md_path);
        Ok(())
    }

    fn rewrite_svg(&mut self, model: &str) -> anyhow::Result<()> {
        // the first link's rows (per-layer bytes do not depend on the link)
        let Some(first) = self.links.first().map(|l| l.to_string()) else {
            return Ok(());
        };
        let sel: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.model == model && e.row.link.as_deref() == Some(first.as_str()))
            .collect();
        let Some(svg) = crate::e2e_report::layers_svg(model, &sel)? else {
            return Ok(());
        };
        let path = self.dir.join(format!(
            "{}-layers-{}{}.svg",
            self.prefix,
            sanitize(model),
            self.obj
        ));
        write_atomic(&path, svg.as_bytes())?;
        self.note(&path);
        Ok(())
    }

    /// The rows pushed so far.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_headline_command_gets_the_short_names() {
        let d = E2eArgs::default();
        assert_eq!(run_tag(&d), "");
        let latency = E2eArgs {
            objective: "latency".into(),
            ..E2eArgs::default()
        };
        assert_eq!(run_tag(&latency), "");
        let mine = E2eArgs {
            models: "dir/my.json".into(),
            ..E2eArgs::default()
        };
        assert_eq!(run_tag(&mine), "-my");
        let one = E2eArgs {
            models: "minionn".into(),
            protocols: "privquant".into(),
            ot: Some("softspoken:4".into()),
            ..E2eArgs::default()
        };
        assert_eq!(run_tag(&one), "-minionn-privquant-ot-softspoken_4");
        let knobs = E2eArgs {
            max_exec_gb: 0.0,
            seed: 7,
            ..E2eArgs::default()
        };
        assert_eq!(run_tag(&knobs), "-max-exec-0gb-seed7");
        let long = E2eArgs {
            models: (0..40)
                .map(|i| format!("m{i}.json"))
                .collect::<Vec<_>>()
                .join(","),
            ..E2eArgs::default()
        };
        assert!(run_tag(&long).len() <= 96);
    }
}
