//! Registry validation: every problem of a set of migrations, reported at once.

use migrate_core::{DEFAULT_SET, Error, MAX_SEQ, Migration, Origin, Problem, Registry, Validation};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// A problem reduced to what identifies it, for comparing against the model.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Empty,
    Duplicate(u64),
    Gap(u64, u64),
    OutOfRange(u64, String),
    WrongSet(u64, String),
}

#[derive(Clone, Debug)]
struct Item {
    seq: u64,
    name: String,
    wrong_set: bool,
}

impl Item {
    fn migration(&self) -> Migration<()> {
        let m = Migration::new(self.seq, &self.name, ())
            .with_origin(Origin::source(format!("src/{}.rs", self.name), 7));
        if self.wrong_set { m.in_set("other") } else { m }
    }
}

fn items() -> impl Strategy<Value = Vec<Item>> {
    let seq = prop_oneof![
        12 => 0u64..=12,
        1 => Just(MAX_SEQ),
        1 => Just(MAX_SEQ + 1),
        1 => Just(u64::MAX),
    ];
    prop::collection::vec((seq, prop::bool::weighted(0.1)), 0..10).prop_map(|cells| {
        cells
            .into_iter()
            .enumerate()
            .map(|(i, (seq, wrong_set))| Item {
                seq,
                name: format!("n{i}"),
                wrong_set,
            })
            .collect()
    })
}

/// Every problem the list has, computed independently of the registry.
fn expected(items: &[Item], rules: Validation) -> Vec<Key> {
    let mut keys = Vec::new();
    if items.is_empty() {
        keys.push(Key::Empty);
    }
    for item in items {
        if item.wrong_set {
            keys.push(Key::WrongSet(item.seq, item.name.clone()));
        }
        if item.seq == 0 || item.seq > MAX_SEQ {
            keys.push(Key::OutOfRange(item.seq, item.name.clone()));
        }
    }
    let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
    for item in items {
        *counts.entry(item.seq).or_default() += 1;
    }
    for (&seq, &count) in &counts {
        keys.extend(std::iter::repeat_n(Key::Duplicate(seq), count - 1));
    }
    if !rules.gaps_allowed {
        let distinct: Vec<u64> = counts.keys().copied().collect();
        for pair in distinct.windows(2) {
            if pair[1] - pair[0] > 1 {
                keys.push(Key::Gap(pair[0], pair[1]));
            }
        }
    }
    keys.sort();
    keys
}

/// The keys of one problem (all gaps are one problem, listing each gap).
fn key(problem: &Problem) -> Vec<Key> {
    match problem {
        Problem::Empty { .. } => vec![Key::Empty],
        Problem::DuplicateSeq { seq, .. } => vec![Key::Duplicate(*seq)],
        Problem::Gaps { gaps } => gaps.iter().map(|g| Key::Gap(g.before, g.after)).collect(),
        Problem::SeqOutOfRange { seq, name } => vec![Key::OutOfRange(*seq, name.clone())],
        Problem::WrongSet { seq, name, .. } => vec![Key::WrongSet(*seq, name.clone())],
    }
}

fn rules() -> impl Strategy<Value = Validation> {
    any::<bool>().prop_map(|gaps| {
        if gaps {
            Validation::strict().allow_gaps()
        } else {
            Validation::strict()
        }
    })
}

fn problems_of(result: Result<Registry<()>, Error>) -> Vec<Problem> {
    match result {
        Ok(_) => Vec::new(),
        Err(Error::Invalid { set, problems }) => {
            assert_eq!(set, DEFAULT_SET);
            assert!(!problems.is_empty(), "an Invalid error lists its problems");
            problems
        }
        Err(other) => panic!("unexpected error {other}"),
    }
}

proptest! {
    // Failures print their minimal input; no regression files are written next to the tests.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn validation_reports_every_problem_in_one_error(items in items(), rules in rules()) {
        let result = Registry::new(DEFAULT_SET, items.iter().map(Item::migration), rules);
        let expected = expected(&items, rules);
        match result {
            Ok(registry) => {
                prop_assert!(expected.is_empty(), "accepted despite {:?}", expected);
                let seqs: Vec<u64> = registry.migrations().iter().map(|m| m.seq).collect();
                let mut sorted: Vec<u64> = items.iter().map(|i| i.seq).collect();
                sorted.sort();
                prop_assert_eq!(seqs, sorted);
            }
            Err(err) => {
                let text = err.to_string();
                let Error::Invalid { problems, .. } = &err else {
                    return Err(TestCaseError::fail(format!("unexpected error {err}")));
                };
                let mut found: Vec<Key> = problems.iter().flat_map(key).collect();
                found.sort();
                prop_assert_eq!(found, expected);
                // One error, one bullet per problem, each problem's own message.
                prop_assert!(text.starts_with("the migrations of set \"default\" are invalid:"), "{}", text);
                prop_assert_eq!(text.matches("\n  - ").count(), problems.len());
                for problem in problems {
                    prop_assert!(text.contains(&format!("\n  - {problem}")), "{}", text);
                }
                // The details name the right migrations.
                for problem in problems {
                    match problem {
                        Problem::DuplicateSeq { seq, first, second } => {
                            prop_assert_ne!(&first.0, &second.0);
                            for (n, origin) in [first, second] {
                                let item = items.iter().find(|i| &i.name == n).unwrap();
                                prop_assert_eq!(item.seq, *seq);
                                prop_assert_eq!(origin.to_string(), format!("src/{n}.rs:7"));
                            }
                        }
                        Problem::Gaps { gaps } => {
                            prop_assert!(!gaps.is_empty());
                            for gap in gaps {
                                prop_assert!(items.iter().any(|i| i.name == gap.after_name && i.seq == gap.after));
                            }
                        }
                        Problem::WrongSet { found, expected, .. } => {
                            prop_assert_eq!(found, "other");
                            prop_assert_eq!(expected, DEFAULT_SET);
                        }
                        Problem::Empty { set, .. } => prop_assert_eq!(set, DEFAULT_SET),
                        Problem::SeqOutOfRange { .. } => {}
                    }
                }
            }
        }
    }

    #[test]
    fn a_contiguous_sequence_in_any_order_is_valid(n in 1u64..40, seed in any::<u64>()) {
        // Shuffle 1..=n deterministically from the seed.
        let mut seqs: Vec<u64> = (1..=n).collect();
        let mut state = seed | 1;
        for i in (1..seqs.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            seqs.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let registry = Registry::new(
            DEFAULT_SET,
            seqs.iter().map(|&s| Migration::new(s, format!("m{s}"), ())),
            Validation::strict(),
        )
        .unwrap();
        let sorted: Vec<u64> = registry.migrations().iter().map(|m| m.seq).collect();
        prop_assert_eq!(sorted, (1..=n).collect::<Vec<_>>());
        for s in 1..=n {
            prop_assert_eq!(&registry.get(s).unwrap().name, &format!("m{s}"));
        }
        prop_assert!(registry.get(0).is_none());
        prop_assert!(registry.get(n + 1).is_none());
        prop_assert_eq!(registry.set(), DEFAULT_SET);
    }

    #[test]
    fn gaps_are_allowed_only_when_asked(
        seqs in prop::collection::btree_set(1..=MAX_SEQ, 1..12),
    ) {
        let list = || seqs.iter().map(|&s| Migration::new(s, format!("m{s}"), ()));
        let lenient = Registry::new(DEFAULT_SET, list(), Validation::strict().allow_gaps());
        prop_assert!(lenient.is_ok(), "{:?}", lenient.err());

        let strict = problems_of(Registry::new(DEFAULT_SET, list(), Validation::strict()));
        let sorted: Vec<u64> = seqs.iter().copied().collect();
        let gaps: Vec<Key> = sorted
            .windows(2)
            .filter(|w| w[1] > w[0] + 1)
            .map(|w| Key::Gap(w[0], w[1]))
            .collect();
        prop_assert_eq!(strict.iter().flat_map(key).collect::<Vec<_>>(), gaps);
    }
}

// ---------------------------------------------------------------------------------------------
// Examples: every message names the migration and says what to do
// ---------------------------------------------------------------------------------------------

fn at(seq: u64, name: &str) -> Migration<()> {
    Migration::new(seq, name, ())
        .with_origin(Origin::source(format!("src/migrations/{name}.rs"), 3))
}

#[track_caller]
fn assert_mentions(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}

#[test]
fn all_problems_come_in_one_error() {
    let err = Registry::new(
        DEFAULT_SET,
        vec![
            at(1, "create_users"),
            at(2, "add_email"),
            at(2, "add_phone"),
            at(5, "add_index"),
            at(0, "zero"),
            at(6, "billing").in_set("billing"),
        ],
        Validation::strict(),
    )
    .unwrap_err();
    let Error::Invalid { ref problems, .. } = err else {
        panic!("{err:?}")
    };
    let mut keys: Vec<Key> = problems.iter().flat_map(key).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            Key::Duplicate(2),
            Key::Gap(2, 5),
            Key::OutOfRange(0, "zero".into()),
            Key::WrongSet(6, "billing".into()),
        ]
    );
    let text = err.to_string();
    assert_eq!(text.lines().count(), 5, "{text}");
    assert_mentions(
        &text,
        &[
            "\"add_email\"",
            "\"add_phone\"",
            "\"add_index\"",
            "\"zero\"",
            "\"billing\"",
        ],
    );
}

#[test]
fn duplicate_names_the_seq_both_migrations_and_where_they_are() {
    let err = Registry::new(
        DEFAULT_SET,
        vec![at(3, "add_email"), at(3, "add_phone")],
        Validation::strict(),
    )
    .unwrap_err()
    .to_string();
    assert_mentions(
        &err,
        &[
            "seq 3 is used twice",
            "\"add_email\" at src/migrations/add_email.rs:3",
            "\"add_phone\" at src/migrations/add_phone.rs:3",
            "give one of them the next free seq",
        ],
    );
}

#[test]
fn three_migrations_on_one_seq_are_two_duplicates() {
    let problems = problems_of(Registry::new(
        DEFAULT_SET,
        vec![at(1, "a"), at(1, "b"), at(1, "c")],
        Validation::strict(),
    ));
    assert_eq!(
        problems.iter().flat_map(key).collect::<Vec<_>>(),
        [Key::Duplicate(1), Key::Duplicate(1)]
    );
}

#[test]
fn a_timestamp_numbered_history_gets_one_short_problem_naming_the_opt_out_once() {
    // 56 migrations numbered by date, as a diesel history ported one file per migration.
    let seqs: Vec<u64> = (0..56u64).map(|i| 20180101000000 + i * 1_000_000).collect();
    let list: Vec<_> = seqs
        .iter()
        .map(|&s| at(s, &format!("migration_{s}")))
        .collect();
    let err = Registry::new(DEFAULT_SET, list, Validation::strict()).unwrap_err();
    let text = err.to_string();
    assert_eq!(text.lines().count(), 2, "{text}");
    let Error::Invalid { problems, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(problems.len(), 1);
    assert_eq!(problems.iter().flat_map(key).count(), 55);
    assert_eq!(text.matches("allow_gaps()").count(), 1, "{text}");
    assert_eq!(text.matches("--allow-gaps").count(), 1, "{text}");
    assert!(!text.contains("Validation::"), "{text}");
    assert_mentions(
        &text,
        &[
            "55 gaps in the numbering: seqs 20180101000001 to 20180101999999 are missing before \
             20180102000000 \"migration_20180102000000\"; ",
            "; and 52 more, the last before 20180156000000 \"migration_20180156000000\".",
        ],
    );
}

#[test]
fn gap_names_the_missing_seqs_the_next_migration_and_the_opt_out() {
    let one = problems_of(Registry::new(
        DEFAULT_SET,
        vec![at(1, "a"), at(3, "add_email")],
        Validation::strict(),
    ));
    assert_mentions(
        &one[0].to_string(),
        &[
            "a gap in the numbering: seq 2 is missing before 3 \"add_email\"",
            "Number migrations without gaps",
            "`Migrator::new().allow_gaps()`",
            "`migrate --allow-gaps up`",
        ],
    );
    let many = problems_of(Registry::new(
        DEFAULT_SET,
        vec![at(1, "a"), at(7, "add_email")],
        Validation::strict(),
    ));
    assert_mentions(
        &many[0].to_string(),
        &["seqs 2 to 6 are missing before 7 \"add_email\""],
    );
    assert!(
        Registry::new(
            DEFAULT_SET,
            vec![at(1, "a"), at(7, "b")],
            Validation::strict().allow_gaps()
        )
        .is_ok()
    );
}

#[test]
fn a_sequence_may_start_above_one() {
    // Only holes between migrations are gaps: a set whose first seqs were squashed away or that
    // numbers by timestamp starts where it starts.
    assert!(
        Registry::new(
            DEFAULT_SET,
            vec![at(5, "a"), at(6, "b")],
            Validation::strict()
        )
        .is_ok()
    );
}

#[test]
fn empty_names_the_set_and_the_missing_link() {
    let err = Registry::<()>::new("billing", vec![], Validation::strict()).unwrap_err();
    assert!(
        matches!(&err, Error::Invalid { problems, .. } if matches!(&problems[..], [Problem::Empty { set, .. }] if set == "billing"))
    );
    assert_mentions(
        &err.to_string(),
        &[
            "set \"billing\"",
            "no migration is registered",
            "use your_migrations_crate as _;",
        ],
    );
}

/// This file runs as a `cargo test` binary, where migrations of a binary target are never
/// linked: the error says where migrations must live to be tested.
#[test]
fn empty_in_a_test_binary_says_where_migrations_must_live() {
    let err = Registry::<()>::new("billing", vec![], Validation::strict()).unwrap_err();
    assert!(matches!(
        &err,
        Error::Invalid { problems, .. }
            if matches!(&problems[..], [Problem::Empty { in_test_binary: true, .. }])
    ));
    assert_mentions(
        &err.to_string(),
        &[
            "in this test binary",
            "link only the package's library target",
            "library target (`src/lib.rs`",
            "`#[cfg(test)]`",
            "use your_migrations_crate as _;",
        ],
    );
}

/// Outside a test binary the advice is the missing `use` only.
#[test]
fn empty_outside_a_test_binary_suggests_the_missing_link_only() {
    let problem = Problem::Empty {
        set: "billing".into(),
        in_test_binary: false,
    };
    let text = problem.to_string();
    assert!(text.contains("use your_migrations_crate as _;"), "{text}");
    assert!(!text.contains("test binary"), "{text}");
}

#[test]
fn test_binaries_are_told_apart_by_their_path() {
    use migrate_core::running_in_test_binary;
    use std::path::Path;
    let exe = std::env::current_exe().unwrap();
    assert!(running_in_test_binary(&exe), "{}", exe.display());
    assert!(running_in_test_binary(Path::new(
        "/t/debug/deps/app-00112233aabbccdd"
    )));
    assert!(running_in_test_binary(Path::new(
        "C:/t/debug/deps/app-00112233aabbccdd.exe"
    )));
    assert!(!running_in_test_binary(Path::new("/t/debug/app")));
    assert!(!running_in_test_binary(Path::new(
        "/t/debug/deps/app-notahash"
    )));
    assert!(!running_in_test_binary(Path::new(
        "/usr/bin/app-00112233aabbccdd"
    )));
}

#[test]
fn out_of_range_names_the_seq_the_migration_and_the_range() {
    for seq in [0, MAX_SEQ + 1, u64::MAX] {
        let problems = problems_of(Registry::new(
            DEFAULT_SET,
            vec![at(seq, "bad_seq")],
            Validation::strict(),
        ));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_mentions(
            &problems[0].to_string(),
            &[
                &format!("\"bad_seq\" has seq {seq}"),
                &format!("1..={MAX_SEQ}"),
                "seq starts at 1",
            ],
        );
    }
    let ok = Registry::new(
        DEFAULT_SET,
        vec![at(1, "first"), at(MAX_SEQ, "last")],
        Validation::strict().allow_gaps(),
    );
    assert!(ok.is_ok());
}

#[test]
fn wrong_set_names_both_sets_and_the_fix() {
    let problems = problems_of(Registry::new(
        DEFAULT_SET,
        vec![at(1, "a"), at(2, "invoices").in_set("billing")],
        Validation::strict(),
    ));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_mentions(
        &problems[0].to_string(),
        &[
            "2 \"invoices\"",
            "set \"billing\"",
            "not \"default\"",
            ".in_set(\"default\")",
        ],
    );
}

#[test]
fn a_valid_registry_keeps_every_field() {
    let m = Migration::new(1, "create_users", "up")
        .with_down("down")
        .with_description("Creates users.")
        .in_set("accounts");
    let registry = Registry::new("accounts", vec![m], Validation::strict()).unwrap();
    let got = registry.get(1).unwrap();
    assert_eq!(
        (got.up, got.down, got.description.as_str()),
        ("up", Some("down"), "Creates users.")
    );
    assert_eq!(got.label(), "1 \"create_users\"");
}

#[test]
fn nothing_is_registered_in_an_unknown_set() {
    let err = Registry::<fn()>::from_inventory("no-such-set", Validation::strict()).unwrap_err();
    assert!(
        matches!(err, Error::Invalid { ref problems, .. } if matches!(problems[..], [Problem::Empty { .. }]))
    );
}
