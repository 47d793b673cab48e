//! The workspace's layers: every crate depends only on crates below it
//! (kernels < netsim < pq-ot, pq-he < pq-proto < pq-nn < bench-harness; pq-ot and pq-he side
//! by side, neither depending on the other), read from `cargo metadata`.

use std::process::Command;

/// Every workspace crate with its layer, lowest first (crates of one layer may not depend on
/// each other).
const LAYERS: [(&str, u32); 7] = [
    ("pq-kernels", 0),
    ("pq-netsim", 1),
    ("pq-ot", 2),
    ("pq-he", 2),
    ("pq-proto", 3),
    ("pq-nn", 4),
    ("bench-harness", 5),
];

/// The layer of a workspace crate.
fn layer(name: &str) -> Option<u32> {
    LAYERS.iter().find(|(n, _)| *n == name).map(|&(_, l)| l)
}

#[test]
fn dependencies_point_down_only() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .args(["--manifest-path", manifest])
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let packages = meta["packages"].as_array().expect("packages");
    let mut seen = Vec::new();
    for p in packages {
        let name = p["name"].as_str().expect("package name");
        let Some(level) = layer(name) else {
            panic!("workspace crate {name} is not in the layer order");
        };
        seen.push(name.to_string());
        for d in p["dependencies"].as_array().expect("dependencies") {
            let dep = d["name"].as_str().expect("dependency name");
            if let Some(dl) = layer(dep) {
                assert!(
                    dl < level,
                    "{name} depends on {dep}, which is not below it ({})",
                    d["kind"]
                );
            }
        }
    }
    seen.sort();
    let mut all: Vec<String> = LAYERS.iter().map(|(s, _)| s.to_string()).collect();
    all.sort();
    assert_eq!(seen, all, "the workspace's crates");
}
