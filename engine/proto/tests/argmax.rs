//! Π_Argmax run by both parties on two threads over the in-memory channel: the revealed index
//! equals the plaintext reference (ties to the lowest position), the other party gets
//! nothing, the bytes each party sent equal `cost` per direction, and the flights the
//! channels counted match its rounds (see `cost_matches_the_channel`).
//!
//! Every test runs its cases one after another in ONE two-party session (one OT setup), with
//! a 1-byte sync before each case so that each case's counters start after a receive and can
//! be read as a difference of the meter.

use pq_kernels::ring::{from_signed, mask, packed_len};
use pq_netsim::{Counters, Transport};
use pq_proto::party::{Party, run_parties};
use pq_proto::privquant::argmax::{self, ArgmaxParams};
use pq_proto::{Profile, ProtoResult, Role, Shares};
use proptest::prelude::*;

/// splitmix64: deterministic test randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// A uniformly random signed l-bit value.
    fn signed(&mut self, l: u32) -> i64 {
        to_signed(self.next(), l)
    }
}

fn to_signed(v: u64, l: u32) -> i64 {
    pq_kernels::ring::to_signed(v & mask(l), l)
}

fn min_of(l: u32) -> i64 {
    to_signed(1u64 << (l - 1), l)
}

fn max_of(l: u32) -> i64 {
    to_signed(mask(l - 1), l)
}

/// One argmax call: its shape and the plaintext values (batch × k, row-major).
#[derive(Clone, Debug)]
struct Case {
    ap: ArgmaxParams,
    vals: Vec<i64>,
}

impl Case {
    fn new(batch: usize, k: usize, l: u32, vals: Vec<i64>) -> Self {
        assert_eq!(vals.len(), batch * k);
        assert!(
            vals.iter().all(|&v| min_of(l) <= v && v <= max_of(l)),
            "test value out of the {l}-bit range"
        );
        Case {
            ap: ArgmaxParams { batch, k, l },
            vals,
        }
    }
    fn random(batch: usize, k: usize, l: u32, rng: &mut Rng) -> Self {
        let vals = (0..batch * k).map(|_| rng.signed(l)).collect();
        Case::new(batch, k, l, vals)
    }
    /// Random additive shares of the values: (ALICE's, BOB's).
    fn shares(&self, rng: &mut Rng) -> (Vec<u64>, Vec<u64>) {
        let l = self.ap.l;
        let a: Vec<u64> = self.vals.iter().map(|_| rng.next() & mask(l)).collect();
        let b = self
            .vals
            .iter()
            .zip(&a)
            .map(|(&v, &r)| from_signed(v, l).wrapping_sub(r) & mask(l))
            .collect();
        (a, b)
    }
    fn want(&self) -> Vec<usize> {
        argmax::reference(&self.vals, self.ap.k)
    }
    /// Tournament levels, i.e. multiplexer calls: ⌈log2 k⌉, none without data.
    fn levels(&self) -> u64 {
        if self.ap.batch == 0 {
            0
        } else {
            pq_proto::util::clog2(self.ap.k as u64) as u64
        }
    }
}

/// What one case gave each party, and each party's traffic during it.
struct Outcome<T> {
    server: T,
    client: T,
    sc: Counters,
    cc: Counters,
}

fn sync(p: &mut Party) -> ProtoResult<()> {
    p.ch.send(&[0u8])?;
    let mut b = [0u8; 1];
    p.ch.recv(&mut b)?;
    Ok(())
}

fn side<T>(
    p: &mut Party,
    cases: &[Case],
    shares: &[Vec<u64>],
    f: &(impl Fn(&mut Party, &ArgmaxParams, &[u64]) -> ProtoResult<T> + Sync),
) -> ProtoResult<Vec<(T, Counters)>> {
    let mut out = Vec::with_capacity(cases.len());
    for (c, x) in cases.iter().zip(shares) {
        sync(p)?;
        let before = p.ch.meter().total();
        let r = f(p, &c.ap, x)?;
        p.ch.flush()?;
        out.push((r, p.ch.meter().total().since(&before)));
    }
    Ok(out)
}

/// Run `f` on every case, in order, in one two-party session.
fn session<T: Send>(
    pr: Profile,
    seed: u64,
    cases: &[Case],
    f: impl Fn(&mut Party, &ArgmaxParams, &[u64]) -> ProtoResult<T> + Sync,
) -> Vec<Outcome<T>> {
    let mut rng = Rng(seed);
    let (sa, sb): (Vec<_>, Vec<_>) = cases.iter().map(|c| c.shares(&mut rng)).unzip();
    let o = run_parties(
        Transport::Mem,
        pr,
        Some(seed),
        |p| side(p, cases, &sa, &f),
        |p| side(p, cases, &sb, &f),
    )
    .expect("argmax session");
    o.server
        .into_iter()
        .zip(o.client)
        .map(|((server, sc), (client, cc))| Outcome {
            server,
            client,
            sc,
            cc,
        })
        .collect()
}

/// Reveal every case to `reveal_to`; check the revealed indices against the reference, that
/// the other party got nothing, and that the bytes per direction equal `cost`.
fn check_revealed(pr: Profile, seed: u64, cases: &[Case], reveal_to: Role) {
    let outs = session(pr, seed, cases, |p, ap, x| argmax::run(p, ap, x, reveal_to));
    for (c, o) in cases.iter().zip(outs) {
        let (mine, other) = match reveal_to {
            Role::Server => (o.server, o.client),
            Role::Client => (o.client, o.server),
        };
        assert_eq!(mine, Some(c.want()), "{:?} values {:?}", c.ap, c.vals);
        assert_eq!(other, None, "{:?}: the other party learns nothing", c.ap);
        let cost = argmax::cost(&c.ap, reveal_to, pr).expect("cost");
        assert_eq!(o.sc.bytes_sent, cost.server_to_client, "{:?}", c.ap);
        assert_eq!(o.cc.bytes_sent, cost.client_to_server, "{:?}", c.ap);
    }
}

#[test]
fn reference_examples() {
    assert_eq!(argmax::reference(&[3, 9, 1, 9], 4), vec![1]);
    assert_eq!(argmax::reference(&[5, 5, 5], 3), vec![0]);
    assert_eq!(argmax::reference(&[-4, -2, -3, 7, 7, 1], 3), vec![1, 0]);
    assert_eq!(argmax::reference(&[i64::MIN, i64::MAX], 1), vec![0, 0]);
    assert_eq!(argmax::reference(&[], 4), Vec::<usize>::new());
}

#[test]
fn random_rows_match_reference() {
    let mut rng = Rng(1);
    let mut cases = Vec::new();
    for l in [1u32, 4, 16, 37, 63, 64] {
        for k in [1usize, 2, 3, 10, 17] {
            cases.push(Case::random(3, k, l, &mut rng));
        }
    }
    check_revealed(Profile::PrivQuant, 11, &cases, Role::Client);
}

#[test]
fn most_negative_and_most_positive_values() {
    let mut cases = Vec::new();
    for l in [1u32, 2, 4, 37, 63, 64] {
        let (lo, hi) = (min_of(l), max_of(l));
        let rows: Vec<Vec<i64>> = vec![
            vec![lo, hi, lo, hi],
            vec![hi, lo, hi, lo],
            vec![lo, lo, lo, hi],
            vec![hi, hi, hi, hi],
            vec![lo, lo, lo, lo],
            vec![lo, 0, hi, -1],
            vec![0, lo, -1, lo],
        ];
        let vals = rows.concat();
        cases.push(Case::new(rows.len(), 4, l, vals));
        // odd k, the extreme last (it passes up unchanged at the first level)
        cases.push(Case::new(
            2,
            5,
            l,
            vec![lo, lo, lo, lo, hi, hi, lo, hi, lo, hi],
        ));
        cases.push(Case::new(1, 2, l, vec![hi, lo]));
        cases.push(Case::new(1, 2, l, vec![lo, hi]));
    }
    check_revealed(Profile::PrivQuant, 12, &cases, Role::Client);
}

#[test]
fn all_equal_rows_give_index_zero() {
    let mut cases = Vec::new();
    for l in [1u32, 4, 37, 64] {
        for k in [1usize, 2, 7, 10] {
            for v in [min_of(l), max_of(l), 0, -1] {
                cases.push(Case::new(2, k, l, vec![v; 2 * k]));
            }
        }
    }
    for c in &cases {
        assert!(c.want().iter().all(|&i| i == 0));
    }
    check_revealed(Profile::PrivQuant, 13, &cases, Role::Client);
}

#[test]
fn ties_at_several_positions() {
    let mut cases = Vec::new();
    for l in [4u32, 16, 37, 64] {
        let hi = max_of(l).min(6);
        for (k, at) in [
            (10usize, vec![3usize, 7]),
            (10, vec![0, 9]),
            (10, vec![8, 9]),
            (10, vec![4, 5]),
            (10, vec![1, 2, 3]),
            (10, vec![9, 6, 2, 5]),
            (7, vec![6, 2]),
            (7, vec![5, 6]),
            (2, vec![0, 1]),
            (9, vec![8, 0]),
        ] {
            let mut vals: Vec<i64> = (0..k as i64).map(|j| (j % 3) - 2).collect();
            for &j in &at {
                vals[j] = hi;
            }
            let c = Case::new(1, k, l, vals);
            assert_eq!(c.want(), vec![*at.iter().min().unwrap()]);
            cases.push(c);
        }
    }
    check_revealed(Profile::PrivQuant, 14, &cases, Role::Client);
}

#[test]
fn shapes_k_and_batch() {
    let mut rng = Rng(2);
    let mut cases = Vec::new();
    for k in [1usize, 2, 3, 5, 9, 10, 16, 33] {
        for batch in [0usize, 1, 3, 5] {
            cases.push(Case::random(batch, k, 8, &mut rng));
        }
    }
    check_revealed(Profile::PrivQuant, 15, &cases, Role::Client);
}

#[test]
fn reveal_to_the_server_leaves_the_client_with_nothing() {
    let mut rng = Rng(3);
    let cases = vec![
        Case::random(3, 10, 16, &mut rng),
        Case::random(1, 7, 64, &mut rng),
        Case::random(2, 1, 9, &mut rng),
        Case::random(0, 4, 9, &mut rng),
    ];
    check_revealed(Profile::PrivQuant, 16, &cases, Role::Server);
    check_revealed(Profile::Sirnn, 17, &cases, Role::Server);
}

#[test]
fn shared_variant_reconstructs_to_the_index() {
    let mut rng = Rng(4);
    let mut cases = Vec::new();
    for (batch, k, l) in [
        (3usize, 10usize, 16u32),
        (2, 5, 64),
        (1, 1, 7),
        (0, 3, 5),
        (4, 2, 1),
    ] {
        cases.push(Case::random(batch, k, l, &mut rng));
    }
    let outs = session(Profile::PrivQuant, 18, &cases, argmax::run_shared);
    for (c, o) in cases.iter().zip(outs) {
        assert_eq!(o.server.bits, c.ap.index_bits());
        assert_eq!(o.client.bits, c.ap.index_bits());
        let got: Vec<usize> = Shares::reconstruct(&o.server, &o.client)
            .into_iter()
            .map(|v| v as usize)
            .collect();
        assert_eq!(got, c.want(), "{:?}", c.ap);
        let cost = argmax::cost_shared(&c.ap, Profile::PrivQuant).expect("cost");
        assert_eq!(o.sc.bytes_sent, cost.server_to_client);
        assert_eq!(o.cc.bytes_sent, cost.client_to_server);
    }
}

/// Bytes per direction and rounds, measured, against `cost` / `cost_shared`, in both profiles.
///
/// Rounds: BOB is the OT receiver of every sub-protocol that ALICE sends first in, so his
/// flights are the busier count. They equal the cost's rounds plus one per level: the
/// multiplexer's two directions share one round trip (the convention of
/// `docs/sci-protocols.md` §Round counts) but are two flights per party (columns, then the
/// payload once the peer's columns are in; see the crate docs). The reveal then adds exactly
/// one flight (one message) to the party that sends it and nothing to the other, as its
/// one-round, one-way `Cost` says.
#[test]
fn cost_matches_the_channel() {
    let mut rng = Rng(5);
    let mut cases = Vec::new();
    for (batch, k, l) in [
        (1usize, 10usize, 16u32),
        (1, 2, 16),
        (3, 5, 64),
        (1, 10, 64),
        (2, 7, 1),
        (5, 17, 4),
        (2, 3, 37),
        (1, 1, 16),
        (0, 10, 16),
        (300, 3, 12),
    ] {
        cases.push(Case::random(batch, k, l, &mut rng));
    }
    for pr in [Profile::PrivQuant, Profile::Sirnn] {
        let shared = session(pr, 19, &cases, argmax::run_shared);
        for (c, o) in cases.iter().zip(&shared) {
            let cost = argmax::cost_shared(&c.ap, pr).expect("cost");
            assert_eq!(o.sc.bytes_sent, cost.server_to_client, "{pr:?} {:?}", c.ap);
            assert_eq!(o.cc.bytes_sent, cost.client_to_server, "{pr:?} {:?}", c.ap);
            assert_eq!(
                o.cc.flights,
                cost.rounds + c.levels(),
                "{pr:?} {:?}: flights",
                c.ap
            );
            assert!(o.sc.flights <= o.cc.flights);
            if c.levels() == 0 {
                assert_eq!(cost, pq_proto::Cost::ZERO);
                assert_eq!(o.sc.bytes_sent + o.cc.bytes_sent + o.cc.flights, 0);
            }
        }
        for reveal_to in [Role::Client, Role::Server] {
            let outs = session(pr, 19, &cases, |p, ap, x| argmax::run(p, ap, x, reveal_to));
            for ((c, o), s) in cases.iter().zip(outs).zip(&shared) {
                let cost = argmax::cost(&c.ap, reveal_to, pr).expect("cost");
                let base = argmax::cost_shared(&c.ap, pr).expect("cost");
                assert_eq!(o.sc.bytes_sent, cost.server_to_client, "{pr:?} {:?}", c.ap);
                assert_eq!(o.cc.bytes_sent, cost.client_to_server, "{pr:?} {:?}", c.ap);
                let (sender, receiver, s_sender, s_receiver) = match reveal_to {
                    Role::Client => (o.sc, o.cc, s.sc, s.cc),
                    Role::Server => (o.cc, o.sc, s.cc, s.sc),
                };
                let sent = sender.bytes_sent - s_sender.bytes_sent;
                if c.levels() == 0 {
                    assert_eq!(cost, base);
                    assert_eq!(sent, 0);
                    continue;
                }
                let reveal = pq_proto::Cost::one_way(
                    reveal_to.other(),
                    packed_len(c.ap.batch, c.ap.index_bits()) as u64,
                    1,
                );
                assert_eq!(cost, base.then(reveal));
                assert_eq!(sent, reveal.sent_by(reveal_to.other()));
                assert_eq!(sender.msgs_sent, s_sender.msgs_sent + 1);
                assert_eq!(sender.flights, s_sender.flights + 1);
                assert_eq!(receiver.flights, s_receiver.flights);
                assert_eq!(receiver.bytes_sent, s_receiver.bytes_sent);
            }
        }
    }
}

/// The example of the module documentation (measured in `cost_matches_the_channel`, whose
/// first case it is).
#[test]
fn documented_example() {
    let ap = ArgmaxParams {
        batch: 1,
        k: 10,
        l: 16,
    };
    let c = argmax::cost(&ap, Role::Client, Profile::PrivQuant).expect("cost");
    assert_eq!(
        (c.server_to_client, c.client_to_server, c.rounds),
        (1382, 9445, 25)
    );
}

#[test]
fn bad_parameters_are_errors() {
    let pr = Profile::PrivQuant;
    let bad = [
        ArgmaxParams {
            batch: 1,
            k: 0,
            l: 8,
        },
        ArgmaxParams {
            batch: 1,
            k: 4,
            l: 0,
        },
        ArgmaxParams {
            batch: 1,
            k: 4,
            l: 65,
        },
        ArgmaxParams {
            batch: usize::MAX,
            k: 2,
            l: 8,
        },
    ];
    for ap in &bad {
        assert!(argmax::cost(ap, Role::Client, pr).is_err(), "{ap:?}");
        assert!(argmax::cost_shared(ap, pr).is_err(), "{ap:?}");
        assert!(ap.check().is_err(), "{ap:?}");
    }
    // run: checked before anything is sent, by both parties
    let ok = ArgmaxParams {
        batch: 2,
        k: 3,
        l: 8,
    };
    let tries: Vec<(ArgmaxParams, usize)> = vec![
        (bad[0], 0),
        (bad[1], 4),
        (bad[2], 4),
        (ok, 5),
        (ok, 7),
        (ok, 0),
    ];
    let run_all = |p: &mut Party| -> ProtoResult<Vec<(bool, u64)>> {
        let mut out = Vec::new();
        for (ap, len) in &tries {
            let x = vec![0u64; *len];
            let before = p.ch.meter().total();
            let r = argmax::run(p, ap, &x, Role::Client).is_err()
                && argmax::run_shared(p, ap, &x).is_err();
            out.push((r, p.ch.meter().total().since(&before).bytes_sent));
        }
        Ok(out)
    };
    let o = run_parties(Transport::Mem, pr, Some(20), run_all, run_all).expect("session");
    for (i, (ap, len)) in tries.iter().enumerate() {
        assert_eq!(o.server[i], (true, 0), "{ap:?} with {len} shares");
        assert_eq!(o.client[i], (true, 0), "{ap:?} with {len} shares");
    }
}

/// A width, half of the time at an edge (1, 2, 63, 64).
fn width() -> impl Strategy<Value = u32> {
    prop_oneof![prop::sample::select(vec![1u32, 2, 63, 64]), 1u32..=64,]
}

/// One case: a shape and values drawn from a small pool (the width's extremes, 0, −1 and
/// two more) so that ties and extremes are common.
fn case() -> impl Strategy<Value = Case> {
    (0usize..4, 1usize..13, width()).prop_flat_map(|(batch, k, l)| {
        let pool = prop::sample::select(vec![
            min_of(l),
            max_of(l),
            0i64.clamp(min_of(l), max_of(l)),
            (-1i64).clamp(min_of(l), max_of(l)),
            (max_of(l) / 3).clamp(min_of(l), max_of(l)),
            (min_of(l) / 5).clamp(min_of(l), max_of(l)),
        ]);
        prop::collection::vec(pool, batch * k).prop_map(move |vals| Case::new(batch, k, l, vals))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]
    /// Property: for random shapes and values, the revealed index is the reference's and the
    /// bytes are the cost's (each proptest case runs ten argmax cases in one session).
    #[test]
    fn property_random_shapes(cases in prop::collection::vec(case(), 10)) {
        check_revealed(Profile::PrivQuant, 21, &cases, Role::Client);
    }
}
