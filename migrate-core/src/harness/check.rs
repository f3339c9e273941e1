//! The whole-sequence check, once for every backend: from an empty database, each migration
//! up (backend checks, no rows lost unless declared destructive), its down (the schema exactly
//! as before) and up again, then the seeds after it. The backend performs the acts.

use super::{Seed, Seeds};
use crate::{Migration, RowCount, SchemaDiff, SchemaObjects};
use std::fmt;

/// What the check needs to know of one migration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// Its seq.
    pub seq: u64,
    /// Its name.
    pub name: String,
    /// It has a down.
    pub reversible: bool,
    /// It declares that it may remove data.
    pub destructive: bool,
}

impl Checked {
    /// What the check needs of each migration of `migrations`.
    ///
    /// ```
    /// use migrate_core::{Migration, harness::Checked};
    /// let list = [Migration::new(1, "t", ()).with_down(())];
    /// assert!(Checked::all(&list)[0].reversible);
    /// ```
    pub fn all<S>(migrations: &[Migration<S>]) -> Vec<Checked> {
        migrations
            .iter()
            .map(|m| Checked {
                seq: m.seq,
                name: m.name.clone(),
                reversible: m.is_reversible(),
                destructive: m.flags.destructive,
            })
            .collect()
    }
}

/// The database acts of a check, performed by a backend on a database that starts empty.
///
/// ```
/// use migrate_core::harness::{run_check, CheckFailure, CheckTarget, Checked, Seeds};
/// use migrate_core::{RowCount, SchemaObjects};
///
/// #[derive(Debug)]
/// enum Problem { Check(CheckFailure), Toy(String) }
/// impl From<CheckFailure> for Problem {
///     fn from(f: CheckFailure) -> Self { Problem::Check(f) }
/// }
/// impl std::fmt::Display for Problem {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         match self { Problem::Check(c) => c.fmt(f), Problem::Toy(t) => t.fmt(f) }
///     }
/// }
///
/// /// A toy backend: a set of table names, each migration adds one, each down removes it.
/// struct Toy { schema: SchemaObjects, applied: Vec<u64>, leaky_down: bool }
/// impl CheckTarget for Toy {
///     type Error = Problem;
///     type Counts = ();
///     type Code = ();
///     fn migrations(&self) -> Vec<Checked> {
///         (1..=2).map(|seq| Checked { seq, name: format!("t{seq}"), reversible: true, destructive: false }).collect()
///     }
///     fn schema(&mut self) -> Result<SchemaObjects, Problem> { Ok(self.schema.clone()) }
///     fn schema_text(&mut self) -> Result<String, Problem> { Ok(format!("{:?}", self.schema.keys())) }
///     fn count_rows(&mut self) -> Result<(), Problem> { Ok(()) }
///     fn lost_rows(&self, _: &(), _: &()) -> Vec<RowCount> { Vec::new() }
///     fn up_to(&mut self, seq: u64) -> Result<(), Problem> {
///         self.schema.insert(("table".into(), format!("t{seq}")), String::new());
///         self.applied.push(seq);
///         Ok(())
///     }
///     fn down_one(&mut self) -> Result<(), Problem> {
///         let seq = self.applied.pop().ok_or(Problem::Toy("nothing to revert".into()))?;
///         if !(self.leaky_down && seq == 2) {
///             self.schema.remove(&("table".into(), format!("t{seq}")));
///         }
///         Ok(())
///     }
///     fn after_up(&mut self) -> Result<Option<String>, Problem> { Ok(None) }
///     fn execute_sql(&mut self, _: &str) -> Result<(), Problem> { Ok(()) }
///     fn run_code(&mut self, _: &()) -> Result<(), Problem> { Ok(()) }
/// }
///
/// let mut good = Toy { schema: SchemaObjects::new(), applied: vec![], leaky_down: false };
/// let no_seeds = Seeds::default();
/// assert_eq!(run_check(&mut good, &no_seeds).unwrap().round_trips, [1, 2]);
/// let mut leaky = Toy { schema: SchemaObjects::new(), applied: vec![], leaky_down: true };
/// let failure = run_check(&mut leaky, &no_seeds).unwrap_err();
/// assert_eq!(failure.to_string(),
///     "migration 2 \"t2\": its down does not restore the schema it started from (added: table t2)");
/// ```
pub trait CheckTarget {
    /// The backend's error; a [`CheckFailure`] becomes one.
    type Error: fmt::Display + From<CheckFailure>;
    /// Row counts of every user table, as the backend keeps them.
    type Counts;
    /// The code a seed may be (see [`Seed`]).
    type Code;
    /// The migrations, in order.
    fn migrations(&self) -> Vec<Checked>;
    /// The schema, in the form two states are compared in.
    fn schema(&mut self) -> Result<SchemaObjects, Self::Error>;
    /// The schema as the text the report (and a snapshot file) holds.
    fn schema_text(&mut self) -> Result<String, Self::Error>;
    /// Counts the rows of every user table.
    fn count_rows(&mut self) -> Result<Self::Counts, Self::Error>;
    /// The tables that exist in both and have fewer rows in `after`.
    fn lost_rows(&self, before: &Self::Counts, after: &Self::Counts) -> Vec<RowCount>;
    /// Applies the pending migrations up to and including `seq`.
    fn up_to(&mut self, seq: u64) -> Result<(), Self::Error>;
    /// Reverts the last applied migration.
    fn down_one(&mut self) -> Result<(), Self::Error>;
    /// The backend's own checks after a migration applied (e.g. integrity, foreign keys): the
    /// problem found, if any.
    fn after_up(&mut self) -> Result<Option<String>, Self::Error>;
    /// Runs a seed's SQL.
    fn execute_sql(&mut self, sql: &str) -> Result<(), Self::Error>;
    /// Runs a seed's code.
    fn run_code(&mut self, code: &Self::Code) -> Result<(), Self::Error>;
}

/// A migration the check found wrong, and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckFailure {
    /// Its seq.
    pub seq: u64,
    /// Its name.
    pub name: String,
    /// What is wrong, in words.
    pub problem: String,
}

impl fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "migration {} {:?}: {}",
            self.seq, self.name, self.problem
        )
    }
}

impl std::error::Error for CheckFailure {}

/// What the check saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Every migration applied, by seq.
    pub applied: Vec<u64>,
    /// The reversible ones whose round trip (up, down, up) was checked.
    pub round_trips: Vec<u64>,
    /// The irreversible ones (listed, not failed).
    pub irreversible: Vec<(u64, String)>,
    /// The schema after the last migration, as text.
    pub schema: String,
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} migrations applied, {} round trips checked",
            self.applied.len(),
            self.round_trips.len()
        )?;
        if !self.irreversible.is_empty() {
            let names: Vec<String> = self
                .irreversible
                .iter()
                .map(|(seq, name)| format!("{seq} {name:?}"))
                .collect();
            write!(f, "; irreversible: {}", names.join(", "))?;
        }
        Ok(())
    }
}

/// Runs the whole check on `target`. A wrong migration is a [`CheckFailure`] (in the
/// backend's error); other errors are the backend's own (reading the schema, a seed before the
/// first migration).
pub fn run_check<T: CheckTarget>(
    target: &mut T,
    seeds: &Seeds<T::Code>,
) -> Result<CheckReport, T::Error> {
    run_seeds(target, seeds, 0)?;
    let mut report = CheckReport::default();
    for m in target.migrations() {
        let fail = |problem: String| {
            T::Error::from(CheckFailure {
                seq: m.seq,
                name: m.name.clone(),
                problem,
            })
        };
        let schema_before = target.schema()?;
        let rows_before = target.count_rows()?;
        if let Err(e) = target.up_to(m.seq) {
            return Err(fail(format!("up failed: {e}")));
        }
        if let Some(problem) = target.after_up()? {
            return Err(fail(problem));
        }
        if !m.destructive {
            let rows_after = target.count_rows()?;
            let lost = target.lost_rows(&rows_before, &rows_after);
            if !lost.is_empty() {
                return Err(fail(lost_rows_text(&lost)));
            }
        }
        if m.reversible {
            if let Err(e) = target.down_one() {
                return Err(fail(format!("down failed: {e}")));
            }
            let reverted = target.schema()?;
            let diff = SchemaDiff::between(&schema_before, &reverted);
            if !diff.is_empty() {
                return Err(fail(format!(
                    "its down does not restore the schema it started from ({diff})"
                )));
            }
            if let Err(e) = target.up_to(m.seq) {
                return Err(fail(format!("up after down failed: {e}")));
            }
            report.round_trips.push(m.seq);
        } else {
            report.irreversible.push((m.seq, m.name.clone()));
        }
        if let Err(e) = run_seeds(target, seeds, m.seq) {
            return Err(fail(format!("the seed after it failed: {e}")));
        }
        report.applied.push(m.seq);
    }
    report.schema = target.schema_text()?;
    Ok(report)
}

fn run_seeds<T: CheckTarget>(
    target: &mut T,
    seeds: &Seeds<T::Code>,
    seq: u64,
) -> Result<(), T::Error> {
    for seed in seeds.at(seq) {
        match seed {
            Seed::Sql(sql) => target.execute_sql(sql)?,
            Seed::Code(code) => target.run_code(code)?,
        }
    }
    Ok(())
}

fn lost_rows_text(lost: &[RowCount]) -> String {
    let tables: Vec<String> = lost.iter().map(RowCount::to_string).collect();
    format!(
        "it lost rows ({}) without declaring itself `destructive`",
        tables.join(", ")
    )
}
