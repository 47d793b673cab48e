//! The ablation rows: every feature set lowers, runs bit-exact against the plaintext reference
//! of its program, and its cost function equals the measured bytes.

use pq_nn::ablation::{ablation, variants};
use pq_nn::builtin::resnet32_block;
use pq_nn::config::{Config, Features};
use pq_nn::lower::{self, LowerOptions};

#[test]
fn stage3_block_every_row_exact_and_metered() {
    let m = resnet32_block(3, 2).unwrap();
    let rows = ablation(&m, Some(6), true, 7).unwrap();
    assert_eq!(rows.len(), variants().len());
    for r in &rows {
        assert_eq!(r.correct, Some(true), "{}", r.name);
        assert_eq!(r.bytes_measured, Some(r.bytes_total), "{}", r.name);
        assert!(r.bytes_online <= r.bytes_total);
    }
    let none = &rows[0];
    let all = rows.last().unwrap();
    // each optimization alone never costs more than none of them; all together cost least
    for r in &rows[1..] {
        assert!(r.bytes_total <= none.bytes_total, "{}", r.name);
        assert!(all.bytes_total <= r.bytes_total, "{}", r.name);
    }
    assert!(none.bytes_total > 2 * all.bytes_total);
}

#[test]
fn feature_sets_match_the_configurations() {
    // Features::NONE lowers exactly like sirnn-quant, Features::ALL like privquant.
    let m = resnet32_block(1, 2).unwrap();
    let lo = |cfg, f: Option<Features>| {
        let o = LowerOptions {
            features: f,
            input_act_bits: Some(6),
            ..LowerOptions::default()
        };
        lower::lower_with(&m, cfg, &o).unwrap()
    };
    let sq = lo(Config::SirnnQuant, None);
    let none = lo(Config::PrivQuant, Some(Features::NONE));
    assert_eq!(sq.steps, none.steps);
    assert_eq!(sq.tensors, none.tensors);
    let pq = lo(Config::PrivQuant, None);
    let all = lo(Config::SirnnQuant, Some(Features::ALL));
    assert_eq!(pq.steps, all.steps);
    assert_eq!(pq.feat, all.feat);
}

#[test]
fn block_rejects_bad_stage() {
    assert!(resnet32_block(0, 2).is_err());
    assert!(resnet32_block(4, 2).is_err());
}
