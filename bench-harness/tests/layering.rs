//! The workspace's layers: every crate depends only on crates below it
//! (kernels < netsim < pq-ot < pq-proto < pq-nn < bench-harness), read from `cargo metadata`.

use std::process::Command;

/// The layer order, lowest first.
const ORDER: [&str; 6] = [
    "pq-kernels",
    "pq-netsim",
    "pq-ot",
    "pq-proto",
    "pq-nn",
    "bench-harness",
];

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
        let Some(level) = ORDER.iter().position(|&n| n == name) else {
            panic!("workspace crate {name} is not in the layer order");
        };
        seen.push(name.to_string());
        for d in p["dependencies"].as_array().expect("dependencies") {
            let dep = d["name"].as_str().expect("dependency name");
            if let Some(dl) = ORDER.iter().position(|&n| n == dep) {
                assert!(
                    dl < level,
                    "{name} depends on {dep}, which is not below it ({})",
                    d["kind"]
                );
            }
        }
    }
    seen.sort();
    let mut all: Vec<String> = ORDER.iter().map(|s| s.to_string()).collect();
    all.sort();
    assert_eq!(seen, all, "the workspace's crates");
}
