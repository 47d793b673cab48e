//! Small helpers shared by the commands.

use anyhow::Context;
use std::path::Path;

pub use bench_harness::UsageError;

/// Return a usage error (exit status 2).
pub fn usage<T>(msg: impl Into<String>) -> anyhow::Result<T> {
    Err(UsageError(msg.into()).into())
}

/// Print `value` as the last line of stdout (the `--json` contract).
pub fn print_json_line(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string(value).unwrap_or_else(|_| "{}".into())
    );
}

/// A short description of this machine for result files.
pub fn machine_name() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!("{cpu}, {cores} cores")
}

/// `dir` exists (created if needed) and a file can be created in it; otherwise a usage
/// error naming `flag` and the path.
pub fn check_writable(flag: &str, dir: &Path) -> anyhow::Result<()> {
    if let Err(e) = std::fs::create_dir_all(dir) {
        return usage(format!(
            "{flag} {}: cannot create the directory: {e}",
            dir.display()
        ));
    }
    let probe = dir.join(format!(".write-check-{}", std::process::id()));
    match std::fs::write(&probe, b"") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => usage(format!(
            "{flag} {}: cannot write files in the directory: {e}",
            dir.display()
        )),
    }
}

/// Write `bytes` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
