//! Constant time where secrets are involved, stated on the source (`docs/constant-time.md`):
//! the functions that hold a secret choice bit, share bit, Δ bit or weight never branch on it,
//! never index memory with it, and never skip work for a zero weight. Each check names the
//! function and the secret; together with the functional tests of each crate (the outputs are
//! right for every choice) they state that secrets select by mask.
//!
//! The other properties are stated where they live: the AES-NI key schedule in
//! `kernels/tests/aes.rs` (`aesni_paths_never_run_the_portable_key_schedule`), and no CPU-time
//! stamps between processes in `bench-harness` (`two_process_runs_put_no_cpu_time_stamps_on_the_wire`,
//! `remote_report_carries_no_cpu_time`).

const IKNP: &str = include_str!("../../engine/ot/src/iknp.rs");
const KKOT: &str = include_str!("../../engine/ot/src/kkot.rs");
const ONE_OF_N: &str = include_str!("../../engine/ot/src/one_of_n.rs");
const FERRET: &str = include_str!("../../engine/ot/src/ferret.rs");
const SOFTSPOKEN: &str = include_str!("../../engine/ot/src/softspoken.rs");
const MATRIX: &str = include_str!("../../engine/ot/src/matrix.rs");
const BASE: &str = include_str!("../../engine/ot/src/base.rs");
const MUX: &str = include_str!("../../engine/proto/src/sirnn/mux.rs");
const MATMUL: &str = include_str!("../../engine/proto/src/sirnn/matmul.rs");
const TENSOR: &str = include_str!("../../engine/proto/src/tensor.rs");

/// The body of the first function whose header contains `header` at or after `after` (a
/// marker such as `impl IknpReceiver`), from its opening brace to the matching closing one,
/// with `//` comments removed.
fn body(src: &str, after: &str, header: &str) -> String {
    let from = src
        .find(after)
        .unwrap_or_else(|| panic!("`{after}` not found"));
    let start = from
        + src[from..]
            .find(header)
            .unwrap_or_else(|| panic!("`{header}` not found after `{after}`"));
    let open = start + src[start..].find('{').expect("function body");
    let mut depth = 0usize;
    let mut end = open;
    for (i, c) in src[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    end = open + i + 1;
                    break;
                }
            }
            _ => {}
        }
    }
    src[open..end]
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// True when `word` occurs in `line` as a whole identifier.
fn has_word(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(i, _)| {
        let ident = |c: char| c.is_alphanumeric() || c == '_';
        let before = line[..i].chars().next_back().is_none_or(|c| !ident(c));
        let after = line[i + word.len()..]
            .chars()
            .next()
            .is_none_or(|c| !ident(c));
        before && after
    })
}

/// No condition of `f` (`if`, `match`, `while`) mentions a secret, and none of the
/// `forbidden` snippets (branches and addresses the old code had) is in its body.
fn check(what: &str, f: &str, secrets: &[&str], forbidden: &[&str]) {
    for line in f.lines() {
        let t = line.trim_start();
        let cond = t.starts_with("if ")
            || t.starts_with("} else if ")
            || t.starts_with("match ")
            || t.starts_with("while ")
            || t.contains(" if ")
            || t.contains("= if ")
            || t.contains("= match ");
        if cond {
            for s in secrets {
                assert!(
                    !has_word(t, s),
                    "{what}: a condition depends on the secret `{s}`: {t}"
                );
            }
        }
    }
    for p in forbidden {
        assert!(!f.contains(p), "{what}: found `{p}`");
    }
}

/// The IKNP receivers (chosen choices) select the chosen message by mask: no branch on a
/// choice bit or on "side == choice".
#[test]
fn iknp_receivers_select_by_mask_not_by_branch() {
    for name in [
        "pub fn recv_cot_blocks_opts<",
        "pub fn recv_rot<",
        "pub fn recv_cot_columns<",
        "pub fn recv_cot_finish<",
        "pub fn recv_got<",
        "pub fn recv_batched_cot_columns<",
        "pub fn recv_batched_cot_finish<",
        "pub fn recv_batched_got<",
    ] {
        let f = body(IKNP, "impl IknpReceiver", name);
        check(
            &format!("IknpReceiver::{name}"),
            &f,
            &["choices", "b", "side", "keep"],
            &["choices[j] & 1 ==", "side == b", "== b {"],
        );
        assert!(
            !f.contains("choices[") || f.contains("ct::") || f.contains("choice_row("),
            "IknpReceiver::{name} reads choices without the ct helpers"
        );
    }
}

/// 1-of-N receivers: every message of an OT is read, the chosen one kept by mask (no address
/// computed from the choice).
#[test]
fn one_of_n_receivers_read_every_message() {
    let f = body(KKOT, "impl KkotReceiver", "pub fn recv<");
    check(
        "KkotReceiver::recv",
        &f,
        &["choices", "c"],
        &["c as usize) * lz", "+ c as usize"],
    );
    assert!(f.contains("(0..nn)") && f.contains("ct::barrier"));
    let f = body(ONE_OF_N, "impl IknpReceiver", "pub fn recv_1ofn<");
    check(
        "IknpReceiver::recv_1ofn",
        &f,
        &["choices", "x"],
        &["(y == x)", "[x]"],
    );
    assert!(f.contains("ct::eq_mask"));
}

/// Ferret's SPCOT receiver: the punctured path (the receiver's secret) picks no branch and no
/// address; every node of a level is rewritten under masks.
#[test]
fn ferret_receiver_walks_every_node() {
    let f = body(FERRET, "impl FerretReceiver", "fn round<");
    check(
        "FerretReceiver::round",
        &f,
        &["rb", "r1", "path", "sib", "g"],
        &[
            "tree[r1]",
            "tree[1 - r1]",
            "tree[sib]",
            "tree[path]",
            "round_r[g >> 6]",
        ],
    );
}

/// Other secret bits: SoftSpoken's Δ, the base-OT choices, packed choice bits.
#[test]
fn other_secret_bits_select_by_mask() {
    let f = body(SOFTSPOKEN, "impl SoftSender", "pub fn run<");
    check("SoftSender::run", &f, &[], &["if self.delta.bit"]);
    let f = body(BASE, "", "pub fn base_ot_recv<");
    check("base_ot_recv", &f, &["c"], &[]);
    assert!(f.contains("ct::select_bytes"));
    let f = body(MATRIX, "", "pub fn bits_to_bytes01(");
    check(
        "bits_to_bytes01",
        &f,
        &["b"],
        &["T[b as usize]", "[b as usize]"],
    );
}

/// Protocols that hold a share bit select by mask (MUX, the matmul's wrap-MUX).
#[test]
fn protocols_select_on_share_bits_by_mask() {
    let f = body(MUX, "", "pub fn run(");
    check("mux::run", &f, &["s"], &["s & 1 == 1"]);
    let f = body(MATMUL, "", "fn mux_dir(");
    check("matmul::mux_dir", &f, &["wb"], &["w[el] & 1 == 1", "if wb"]);
}

/// No zero weight is skipped: the local matmul terms take the same time whatever the weights.
#[test]
fn no_zero_weight_skips() {
    for (what, src, header) in [
        ("sirnn matmul", MATMUL, "pub fn run_biased("),
        ("matmul_i64_u64", TENSOR, "pub fn matmul_i64_u64("),
        ("matmul_u64_i64", TENSOR, "pub fn matmul_u64_i64("),
    ] {
        let f = body(src, "", header);
        let flat: String = f.split_whitespace().collect::<Vec<_>>().join(" ");
        for v in ["av", "w", "bv", "v"] {
            assert!(
                !flat.contains(&format!("if {v} == 0 {{ continue; }}")),
                "{what}: skips a zero `{v}`"
            );
        }
    }
}

/// The scanner finds what it is meant to find (so the checks above are not vacuous).
#[test]
fn scanner_catches_the_old_patterns() {
    let old = "fn f() {\n    if choices[j] & 1 == 1 {\n        x();\n    }\n}";
    let r = std::panic::catch_unwind(|| check("old", &body(old, "", "fn f("), &["choices"], &[]));
    assert!(r.is_err());
    let old = "fn g() {\n    for h in 0..d2 {\n        if av == 0 {\n            continue;\n        }\n    }\n}";
    let flat: String = body(old, "", "fn g(")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(flat.contains("if av == 0 { continue; }"));
    assert!(has_word("let x = b;", "b") && !has_word("let bits = 1;", "b"));
}
