//! AES kernels: FIPS-197 known answers, every hardware path against the portable path, and
//! every fused kernel against a straightforward reference built from `encrypt_block`.
//!
//! The hardware paths are built from `Features::detect_hw()`, so they are exercised even under
//! `PQ_FORCE_PORTABLE=1` (which only changes what `Features::get()` and the `new` constructors
//! pick; `force_portable_env_is_honoured` checks that part).

use pq_kernels::Block;
use pq_kernels::aes::{
    Aes128, AesPath, FIXED_KEY, FixedKeyHash, KeySchedule, MultiPrg, Prg, expand_key,
    expand_key_for, fixed_key, portable_key_schedules,
};
use pq_kernels::cpu::{Features, force_portable};
use proptest::prelude::*;

const LENS: [usize; 11] = [0, 1, 7, 8, 15, 16, 17, 31, 33, 64, 1000];
const STREAMS: [usize; 11] = [1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 128];

fn hex16(s: &str) -> [u8; 16] {
    let mut o = [0u8; 16];
    for (i, b) in o.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    o
}

fn blk(s: &str) -> Block {
    Block::from_bytes(hex16(s))
}

/// Every path this CPU has, with the `Features` that selects it (portable first).
fn paths() -> Vec<(AesPath, Features)> {
    let hw = Features::detect_hw();
    let mut v = vec![(AesPath::Portable, Features::portable())];
    if hw.aesni {
        v.push((AesPath::AesNi, Features { vaes: false, ..hw }));
    }
    if hw.vaes {
        v.push((AesPath::Vaes256, hw));
    }
    v
}

/// The reference cipher: portable path, one block at a time.
fn reference(key: Block) -> Aes128 {
    Aes128::with_features(key, Features::portable())
}

fn ref_cr(pi: &Aes128, x: Block) -> Block {
    pi.encrypt_block(x) ^ x
}

fn ref_tccr(pi: &Aes128, x: Block, i: Block) -> Block {
    let p = pi.encrypt_block(x);
    pi.encrypt_block(p ^ i) ^ p
}

#[test]
fn fips197_appendix_b_and_c1_on_every_path() {
    let cases = [
        (
            "2b7e151628aed2a6abf7158809cf4f3c",
            "3243f6a8885a308d313198a2e0370734",
            "3925841d02dc09fbdc118597196a0b32",
        ),
        (
            "000102030405060708090a0b0c0d0e0f",
            "00112233445566778899aabbccddeeff",
            "69c4e0d86a7b0430d8cdb78070b4c55a",
        ),
    ];
    for (path, f) in paths() {
        for (k, p, c) in cases {
            let aes = Aes128::with_features(blk(k), f);
            assert_eq!(aes.path(), path);
            assert_eq!(aes.encrypt_block(blk(p)), blk(c), "{path:?}");
            // The same block in every position of a multi-batch buffer (main loop and tail).
            let mut v = vec![blk(p); 37];
            aes.encrypt_blocks(&mut v);
            assert!(v.iter().all(|b| *b == blk(c)), "{path:?}");
        }
    }
}

#[test]
fn fips197_key_expansion_vectors() {
    // Appendix A.1 (cipher key 2b7e1516…): round keys w[4r..4r+4].
    let rk = expand_key(hex16("2b7e151628aed2a6abf7158809cf4f3c"));
    let want = [
        "2b7e151628aed2a6abf7158809cf4f3c",
        "a0fafe1788542cb123a339392a6c7605",
        "f2c295f27a96b9435935807a7359f67f",
        "3d80477d4716fe3e1e237e446d7a883b",
        "ef44a541a8525b7fb671253bdb0bad00",
        "d4d1c6f87c839d87caf2b8bc11f915bc",
        "6d88a37a110b3efddbf98641ca0093fd",
        "4e54f70e5f5fc9f384a64fb24ea6dc4f",
        "ead27321b58dbad2312bf5607f8d292f",
        "ac7766f319fadc2128d12941575c006e",
        "d014f9a8c9ee2589e13f0cc8b6630ca6",
    ];
    for (r, w) in want.iter().enumerate() {
        assert_eq!(rk[r], blk(w), "round {r}");
    }
    // Appendix C.1 (key 000102…0f): first and last round keys.
    let rk = expand_key(hex16("000102030405060708090a0b0c0d0e0f"));
    assert_eq!(rk[0], blk("000102030405060708090a0b0c0d0e0f"));
    assert_eq!(rk[10], blk("13111d7fe3944a17f307a78b4d2b30c5"));
    for (_, f) in paths() {
        assert_eq!(
            Aes128::with_features(blk("000102030405060708090a0b0c0d0e0f"), f).round_keys(),
            &rk
        );
    }
}

#[test]
fn force_portable_env_is_honoured() {
    if force_portable() {
        assert_eq!(Features::get(), Features::portable());
        assert_eq!(Aes128::new(Block::ZERO).path(), AesPath::Portable);
        assert_eq!(fixed_key().path(), AesPath::Portable);
        assert_eq!(Prg::new(Block::ZERO).path(), AesPath::Portable);
        assert_eq!(MultiPrg::new(&[Block::ZERO]).path(), AesPath::Portable);
    } else {
        let best = paths().last().map(|p| p.0).unwrap();
        assert_eq!(Aes128::new(Block::ZERO).path(), best);
        assert_eq!(fixed_key().path(), best);
    }
}

/// Everything on the explicitly portable path against the one-block reference.
#[test]
fn explicit_portable_path_matches_reference() {
    let f = Features::portable();
    let key = blk("000102030405060708090a0b0c0d0e0f");
    let pi = reference(key);
    let h = FixedKeyHash::with_features(key, f);
    assert_eq!(h.path(), AesPath::Portable);
    let xs: Vec<Block> = (0..100u128)
        .map(|i| Block(i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834)))
        .collect();
    let mut cr = xs.clone();
    h.cr_hash(&mut cr);
    let mut tc = xs.clone();
    h.tccr_hash(&mut tc, 5);
    for (j, x) in xs.iter().enumerate() {
        assert_eq!(cr[j], ref_cr(&pi, *x));
        assert_eq!(tc[j], ref_tccr(&pi, *x, Block(5 + j as u128)));
    }
    let mut prg = Prg::with_features(key, f);
    assert_eq!(prg.path(), AesPath::Portable);
    for j in 0..70u128 {
        assert_eq!(prg.next_block(), pi.encrypt_block(Block(j)));
    }
}

#[test]
fn fixed_key_is_aes_under_fixed_key() {
    let pi = reference(FIXED_KEY);
    let x = Block(42);
    assert_eq!(
        fixed_key().permutation().encrypt_block(x),
        pi.encrypt_block(x)
    );
    let mut v = [x];
    fixed_key().cr_hash(&mut v);
    assert_eq!(v[0], ref_cr(&pi, x));
}

/// Prg byte output: whole blocks consumed per call, bytes are the blocks' little-endian bytes.
#[test]
fn prg_bytes_consume_whole_blocks() {
    for (_, f) in paths() {
        let seed = Block(0xfeed_beef);
        let pi = reference(seed);
        let mut prg = Prg::with_features(seed, f);
        let mut ctr = 0u128;
        for len in [0usize, 1, 15, 16, 17, 33, 255, 256, 1000, 4096 + 3] {
            let mut out = vec![0u8; len];
            prg.fill_bytes(&mut out);
            for (i, chunk) in out.chunks(16).enumerate() {
                let b = pi.encrypt_block(Block(ctr + i as u128)).to_bytes();
                assert_eq!(chunk, &b[..chunk.len()], "{f:?} len {len}");
            }
            ctr += len.div_ceil(16) as u128;
            assert_eq!(prg.counter(), ctr);
        }
        assert_eq!(prg.next_u64(), pi.encrypt_block(Block(ctr)).lo());
    }
}

/// MultiPrg stream `s` is exactly `Prg::new(seeds[s])`, across calls that switch between
/// the interleaved and the stream-major layouts.
#[test]
fn multiprg_streams_are_prgs() {
    for (path, f) in paths() {
        for &ns in &STREAMS {
            let seeds: Vec<Block> = (0..ns as u128)
                .map(|s| Block(s * 0x1234_5678_9abc_def1 + 7))
                .collect();
            let mut m = MultiPrg::with_features(&seeds, f);
            assert_eq!(m.path(), path);
            assert_eq!(m.streams(), ns);
            let mut prgs: Vec<Prg> = seeds
                .iter()
                .map(|s| Prg::with_features(*s, Features::portable()))
                .collect();
            for per in [1usize, 3, 16, 0, 17, 8, 40] {
                let mut out = vec![Block::ZERO; ns * per];
                m.fill(per, &mut out);
                for (s, p) in prgs.iter_mut().enumerate() {
                    let mut want = vec![Block::ZERO; per];
                    p.fill_blocks(&mut want);
                    assert_eq!(
                        &out[s * per..(s + 1) * per],
                        &want[..],
                        "{path:?} streams {ns} per {per} stream {s}"
                    );
                }
            }
        }
    }
}

fn blocks(n: usize) -> impl Strategy<Value = Vec<Block>> {
    prop::collection::vec(any::<u128>().prop_map(Block), n)
}

/// Tweak starts: random, and next to the 2^64 carry and the 2^128 wrap.
fn tweak_start() -> impl Strategy<Value = u128> {
    prop_oneof![
        any::<u128>(),
        (0u128..40).prop_map(|d| (1u128 << 64).wrapping_sub(d)),
        (0u128..40).prop_map(|d| u128::MAX - d),
    ]
}

fn case() -> impl Strategy<Value = (Block, Vec<Block>, Vec<Block>, u128, Block)> {
    prop::sample::select(LENS.to_vec()).prop_flat_map(|n| {
        (
            any::<u128>().prop_map(Block),
            blocks(n),
            blocks(n),
            tweak_start(),
            any::<u128>().prop_map(Block),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Every path and every entry point of `Aes128`/`FixedKeyHash` against the reference.
    #[test]
    fn hashes_match_reference_on_every_path((key, xs, tweaks, t0, delta) in case()) {
        let pi = reference(key);
        let n = xs.len();
        let enc: Vec<Block> = xs.iter().map(|x| pi.encrypt_block(*x)).collect();
        let cr: Vec<Block> = xs.iter().map(|x| ref_cr(&pi, *x)).collect();
        let tw = |j: usize| Block(t0.wrapping_add(j as u128));
        let tccr: Vec<Block> = xs.iter().enumerate().map(|(j, x)| ref_tccr(&pi, *x, tw(j))).collect();
        let tccr_sl: Vec<Block> = xs.iter().zip(&tweaks).map(|(x, t)| ref_tccr(&pi, *x, *t)).collect();
        let crp1: Vec<Block> = xs.iter().map(|x| ref_cr(&pi, *x ^ delta)).collect();
        let tcp1: Vec<Block> = xs.iter().enumerate().map(|(j, x)| ref_tccr(&pi, *x ^ delta, tw(j))).collect();

        for (path, f) in paths() {
            let aes = Aes128::with_features(key, f);
            prop_assert_eq!(aes.path(), path);
            let mut v = xs.clone();
            aes.encrypt_blocks(&mut v);
            prop_assert_eq!(&v, &enc, "{:?} encrypt_blocks", path);
            let mut o = vec![Block::ZERO; n];
            aes.encrypt_blocks_into(&xs, &mut o);
            prop_assert_eq!(&o, &enc, "{:?} encrypt_blocks_into", path);

            let h = FixedKeyHash::with_features(key, f);
            prop_assert_eq!(h.path(), path);
            let mut v = xs.clone();
            h.cr_hash(&mut v);
            prop_assert_eq!(&v, &cr, "{:?} cr_hash", path);
            h.cr_hash_into(&xs, &mut o);
            prop_assert_eq!(&o, &cr, "{:?} cr_hash_into", path);

            let mut v = xs.clone();
            h.tccr_hash(&mut v, t0);
            prop_assert_eq!(&v, &tccr, "{:?} tccr_hash", path);
            h.tccr_hash_into(&xs, &mut o, t0);
            prop_assert_eq!(&o, &tccr, "{:?} tccr_hash_into", path);
            let mut v = xs.clone();
            h.tccr_hash_with_tweaks(&mut v, &tweaks);
            prop_assert_eq!(&v, &tccr_sl, "{:?} tccr_hash_with_tweaks", path);

            let mut o1 = vec![Block::ZERO; n];
            h.cr_hash_pairs(&xs, delta, &mut o, &mut o1);
            prop_assert_eq!(&o, &cr, "{:?} cr_hash_pairs 0", path);
            prop_assert_eq!(&o1, &crp1, "{:?} cr_hash_pairs 1", path);
            h.tccr_hash_pairs(&xs, delta, t0, &mut o, &mut o1);
            prop_assert_eq!(&o, &tccr, "{:?} tccr_hash_pairs 0", path);
            prop_assert_eq!(&o1, &tcp1, "{:?} tccr_hash_pairs 1", path);
        }
    }

    /// Prg blocks and bytes from an arbitrary counter (including across 2^64 and 2^128).
    #[test]
    fn prg_matches_reference_on_every_path(
        seed in any::<u128>().prop_map(Block),
        n in prop::sample::select(LENS.to_vec()),
        c0 in tweak_start(),
        extra in 0usize..16,
    ) {
        let pi = reference(seed);
        let want: Vec<Block> = (0..n).map(|j| pi.encrypt_block(Block(c0.wrapping_add(j as u128)))).collect();
        for (path, f) in paths() {
            let mut prg = Prg::with_features(seed, f);
            prop_assert_eq!(prg.path(), path);
            prg.set_counter(c0);
            let mut got = vec![Block::ZERO; n];
            prg.fill_blocks(&mut got);
            prop_assert_eq!(&got, &want, "{:?} fill_blocks", path);
            prop_assert_eq!(prg.counter(), c0.wrapping_add(n as u128));

            let nbytes = (16 * n).saturating_sub(extra);
            let mut bytes = vec![0u8; nbytes];
            prg.set_counter(c0);
            prg.fill_bytes(&mut bytes);
            prop_assert_eq!(&bytes[..], &Block::slice_as_bytes(&want)[..nbytes], "{:?} fill_bytes", path);
            prop_assert_eq!(prg.counter(), c0.wrapping_add(nbytes.div_ceil(16) as u128));
        }
    }

    /// MultiPrg from an arbitrary counter against the reference, every path.
    #[test]
    fn multiprg_matches_reference_on_every_path(
        ns in prop::sample::select(STREAMS.to_vec()),
        per in prop::sample::select(LENS.to_vec()),
        c0 in tweak_start(),
        salt in any::<u128>(),
    ) {
        let per = if ns * per > 20_000 { per % 40 } else { per };
        let seeds: Vec<Block> = (0..ns as u128).map(|s| Block(salt ^ s.wrapping_mul(0x9e37_79b9_7f4a_7c15))).collect();
        let refs: Vec<Aes128> = seeds.iter().map(|s| reference(*s)).collect();
        for (path, f) in paths() {
            let mut m = MultiPrg::with_features(&seeds, f);
            prop_assert_eq!(m.path(), path);
            m.set_counter(c0);
            let mut out = vec![Block::ZERO; ns * per];
            m.fill(per, &mut out);
            for (s, r) in refs.iter().enumerate() {
                for j in 0..per {
                    prop_assert_eq!(out[s * per + j], r.encrypt_block(Block(c0.wrapping_add(j as u128))), "{:?} s {} j {}", path, s, j);
                }
            }
            prop_assert_eq!(m.counter(), c0.wrapping_add(per as u128));
        }
    }
}

/// The AES-NI key schedule (`aeskeygenassist`) gives exactly the portable schedule's round
/// keys: FIPS-197's vectors and random keys, through every path's constructor.
#[test]
fn aesni_key_schedule_equals_portable_schedule() {
    let mut keys = vec![
        hex16("2b7e151628aed2a6abf7158809cf4f3c"),
        hex16("000102030405060708090a0b0c0d0e0f"),
        [0u8; 16],
        [0xff; 16],
    ];
    let mut prg = Prg::with_features(Block(0x5eed), Features::portable());
    for _ in 0..256 {
        keys.push(prg.next_block().to_bytes());
    }
    for (_, f) in paths() {
        for k in &keys {
            assert_eq!(expand_key_for(*k, f), expand_key(*k), "{f:?} key {k:02x?}");
            assert_eq!(
                Aes128::with_features(Block::from_bytes(*k), f).round_keys(),
                &expand_key(*k)
            );
        }
    }
    let want_last = blk("d014f9a8c9ee2589e13f0cc8b6630ca6");
    for (_, f) in paths() {
        assert_eq!(
            expand_key_for(hex16("2b7e151628aed2a6abf7158809cf4f3c"), f)[10],
            want_last
        );
    }
}

/// Where AES-NI exists, no constructor runs the portable key schedule: the per-thread count
/// of portable schedules stays put while ciphers, hashes and PRGs are built on the hardware
/// paths, and moves on the portable path (so the count does count).
#[test]
fn aesni_paths_never_run_the_portable_key_schedule() {
    for (path, f) in paths() {
        let before = portable_key_schedules();
        let a = Aes128::with_features(Block(1), f);
        let _ = FixedKeyHash::with_features(FIXED_KEY, f);
        let _ = Prg::with_features(Block(2), f);
        let seeds: Vec<Block> = (0..128u128).map(Block).collect();
        let _ = MultiPrg::with_features(&seeds, f);
        let _ = expand_key_for([3; 16], f);
        let ran = portable_key_schedules() - before;
        assert_eq!(a.path(), path);
        if path == AesPath::Portable {
            assert_eq!(a.key_schedule(), KeySchedule::Portable);
            assert_eq!(ran, 4 + 128, "the portable path counts its schedules");
        } else {
            assert_eq!(a.key_schedule(), KeySchedule::AesNi, "{path:?}");
            assert_eq!(ran, 0, "{path:?} ran the portable key schedule");
        }
    }
}
