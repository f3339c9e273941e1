//! A validated, ordered set of migrations.

use crate::{Error, MAX_SEQ, Migration, Problem, SeqGap, registered};
use std::any::Any;

/// Rules applied when a registry is loaded.
///
/// ```
/// let rules = migrate_core::Validation::strict().allow_gaps();
/// assert!(rules.gaps_allowed);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Validation {
    /// Accept gaps between seqs (for timestamp numbering). Off by default.
    pub gaps_allowed: bool,
}

impl Validation {
    /// No gaps, no duplicates, at least one migration.
    ///
    /// ```
    /// assert!(!migrate_core::Validation::strict().gaps_allowed);
    /// ```
    pub fn strict() -> Self {
        Validation::default()
    }

    /// Copy that accepts gaps.
    ///
    /// ```
    /// assert!(migrate_core::Validation::strict().allow_gaps().gaps_allowed);
    /// ```
    pub fn allow_gaps(mut self) -> Self {
        self.gaps_allowed = true;
        self
    }
}

/// The migrations of one set, sorted by seq and checked: no duplicate, no gap, not empty.
///
/// ```
/// use migrate_core::{Migration, Registry, Validation};
/// let registry = Registry::new(
///     "default",
///     vec![Migration::new(2, "b", ()), Migration::new(1, "a", ())],
///     Validation::strict(),
/// ).unwrap();
/// let seqs: Vec<u64> = registry.migrations().iter().map(|m| m.seq).collect();
/// assert_eq!(seqs, [1, 2]);
///
/// let err = Registry::<()>::new("default", vec![], Validation::strict()).unwrap_err();
/// assert!(err.to_string().contains("use your_migrations_crate as _;"));
/// ```
#[derive(Clone, Debug)]
pub struct Registry<S> {
    set: String,
    migrations: Vec<Migration<S>>,
}

impl<S> Registry<S> {
    /// Sorts and validates `migrations` as the set `set`; every problem found is in the error.
    pub fn new(
        set: impl Into<String>,
        migrations: impl IntoIterator<Item = Migration<S>>,
        rules: Validation,
    ) -> Result<Self, Error> {
        let set = set.into();
        let mut migrations: Vec<Migration<S>> = migrations.into_iter().collect();
        migrations.sort_by_key(|m| m.seq);
        let problems = find_problems(&set, &migrations, rules);
        if !problems.is_empty() {
            return Err(Error::Invalid { set, problems });
        }
        log::debug!("loaded {} migrations of set {set:?}", migrations.len());
        Ok(Registry { set, migrations })
    }

    /// The migrations registered with `#[migration]` for `set`, validated.
    ///
    /// ```
    /// let err = migrate_core::Registry::<fn()>::from_inventory("unused", Default::default());
    /// assert!(err.is_err()); // nothing registered in that set
    /// ```
    pub fn from_inventory(set: &str, rules: Validation) -> Result<Self, Error>
    where
        S: Any + Clone,
    {
        Registry::new(set, registered::<S>(set), rules)
    }

    /// The set's name.
    ///
    /// ```
    /// # use migrate_core::*;
    /// let r = Registry::new("x", vec![Migration::new(1, "a", ()).in_set("x")], Validation::strict()).unwrap();
    /// assert_eq!(r.set(), "x");
    /// ```
    pub fn set(&self) -> &str {
        &self.set
    }

    /// The migrations, by ascending seq.
    ///
    /// ```
    /// # use migrate_core::*;
    /// let r = Registry::new("default", vec![Migration::new(1, "a", ())], Validation::strict()).unwrap();
    /// assert_eq!(r.migrations().len(), 1);
    /// ```
    pub fn migrations(&self) -> &[Migration<S>] {
        &self.migrations
    }

    /// The migration with this seq.
    ///
    /// ```
    /// # use migrate_core::*;
    /// let r = Registry::new("default", vec![Migration::new(1, "a", ())], Validation::strict()).unwrap();
    /// assert_eq!(r.get(1).unwrap().name, "a");
    /// assert!(r.get(2).is_none());
    /// ```
    pub fn get(&self, seq: u64) -> Option<&Migration<S>> {
        self.migrations
            .binary_search_by_key(&seq, |m| m.seq)
            .ok()
            .map(|i| &self.migrations[i])
    }
}

/// All problems of a sorted list of migrations.
fn find_problems<S>(set: &str, sorted: &[Migration<S>], rules: Validation) -> Vec<Problem> {
    let mut problems = Vec::new();
    if sorted.is_empty() {
        problems.push(Problem::Empty {
            set: set.to_owned(),
            in_test_binary: std::env::current_exe()
                .is_ok_and(|exe| crate::problem::running_in_test_binary(&exe)),
        });
    }
    for m in sorted {
        if m.set != set {
            problems.push(Problem::WrongSet {
                seq: m.seq,
                name: m.name.clone(),
                found: m.set.clone(),
                expected: set.to_owned(),
            });
        }
        if m.seq == 0 || m.seq > MAX_SEQ {
            problems.push(Problem::SeqOutOfRange {
                seq: m.seq,
                name: m.name.clone(),
            });
        }
    }
    let mut gaps = Vec::new();
    for pair in sorted.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.seq == b.seq {
            problems.push(Problem::DuplicateSeq {
                seq: a.seq,
                first: (a.name.clone(), a.origin.clone()),
                second: (b.name.clone(), b.origin.clone()),
            });
        } else if b.seq > a.seq + 1 && !rules.gaps_allowed {
            gaps.push(SeqGap {
                before: a.seq,
                after: b.seq,
                after_name: b.name.clone(),
            });
        }
    }
    if !gaps.is_empty() {
        problems.push(Problem::Gaps { gaps });
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Origin;

    fn m(seq: u64, name: &str) -> Migration<()> {
        Migration::new(seq, name, ()).with_origin(Origin::source(format!("src/{name}.rs"), 1))
    }

    fn problems(list: Vec<Migration<()>>, rules: Validation) -> Vec<Problem> {
        match Registry::new("default", list, rules) {
            Ok(_) => Vec::new(),
            Err(Error::Invalid { problems, .. }) => problems,
            Err(other) => panic!("unexpected error {other}"),
        }
    }

    #[test]
    fn sorts_by_seq() {
        let r = Registry::new(
            "default",
            vec![m(3, "c"), m(1, "a"), m(2, "b")],
            Validation::strict(),
        )
        .unwrap();
        let names: Vec<&str> = r.migrations().iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn reports_every_problem_at_once() {
        let found = problems(
            vec![m(1, "a"), m(2, "b"), m(2, "b2"), m(5, "e"), m(0, "zero")],
            Validation::strict(),
        );
        assert!(
            found
                .iter()
                .any(|p| matches!(p, Problem::DuplicateSeq { seq: 2, .. }))
        );
        assert!(found.iter().any(|p| matches!(
            p,
            Problem::Gaps { gaps } if gaps.len() == 1 && (gaps[0].before, gaps[0].after) == (2, 5)
        )));
        assert!(
            found
                .iter()
                .any(|p| matches!(p, Problem::SeqOutOfRange { seq: 0, .. }))
        );
        assert_eq!(found.len(), 3, "{found:?}"); // 0 -> 1 is not a gap; 0 is out of range
    }

    #[test]
    fn duplicate_names_both_places() {
        let err = Registry::new("default", vec![m(1, "a"), m(1, "b")], Validation::strict())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("src/a.rs:1") && err.contains("src/b.rs:1"),
            "{err}"
        );
    }

    #[test]
    fn gaps_can_be_allowed() {
        assert!(
            problems(
                vec![m(10, "a"), m(20, "b")],
                Validation::strict().allow_gaps()
            )
            .is_empty()
        );
        let gap = problems(vec![m(1, "a"), m(4, "d")], Validation::strict());
        assert_eq!(
            gap[0].to_string().split('.').next().unwrap(),
            "a gap in the numbering: seqs 2 to 3 are missing before 4 \"d\""
        );
    }

    #[test]
    fn empty_set_suggests_linking_the_crate() {
        let found = problems(Vec::new(), Validation::strict());
        assert!(matches!(&found[..], [Problem::Empty { .. }]));
        assert!(
            found[0]
                .to_string()
                .contains("use your_migrations_crate as _;")
        );
    }

    #[test]
    fn wrong_set_and_huge_seq_are_reported() {
        let found = problems(
            vec![m(1, "a").in_set("other"), m(MAX_SEQ + 1, "huge")],
            Validation::strict().allow_gaps(),
        );
        assert!(found.iter().any(|p| matches!(p, Problem::WrongSet { .. })));
        assert!(
            found
                .iter()
                .any(|p| matches!(p, Problem::SeqOutOfRange { .. }))
        );
    }
}
