//! The migration check: every migration applied in order to an empty database, with integrity,
//! foreign keys, round trips, seeded data and row counts checked after each.

use crate::fingerprint::{self, SchemaObjects};
use crate::row_counts::{Counts, compare, count_all};
use crate::{Error, Migrator, Result, RunReport, Session, StatusReport};
use migrate_core::RowCount;
pub use migrate_core::harness::CheckReport;
use migrate_core::harness::{CheckFailure, CheckTarget, Checked, Seeds, run_check};
use rusqlite::Connection;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Rust code that seeds data.
pub type SeedFn = Arc<dyn Fn(&Connection) -> rusqlite::Result<()> + Send + Sync>;

/// Data to put in at a given point of the sequence: `Seed::Sql(text)` (run with
/// `execute_batch`) or `Seed::Code(SeedFn)`.
pub type Seed = migrate_core::harness::Seed<SeedFn>;

/// Checks a migrator's migrations on a fresh in-memory database.
///
/// ```
/// use migrate_sqlite::testing::Harness;
/// use migrate_sqlite::{Migration, Migrator, Step};
///
/// // A down that forgets the index it should drop.
/// let migrator = Migrator::new().with_migrations([
///     Migration::new(1, "t", Step::sql("CREATE TABLE t (x)")).with_down(Step::sql("DROP TABLE t")),
///     Migration::new(2, "index_t", Step::sql("CREATE INDEX t_x ON t (x)"))
///         .with_down(Step::sql("SELECT 1")),
/// ]);
/// let err = Harness::new(migrator).check().unwrap_err().to_string();
/// assert!(err.contains("2 \"index_t\""), "{err}");
/// assert!(err.contains("index t_x"), "{err}");
/// ```
pub struct Harness {
    migrator: Migrator,
    seeds: Seeds<SeedFn>,
}

/// A migrated copy of a real database file.
pub struct UpgradeReport {
    /// What the run did.
    pub run: RunReport,
    /// Where every migration stands afterwards.
    pub status: StatusReport,
    /// The migrated copy, in memory.
    pub conn: Connection,
}

/// The database the check left, fully migrated and seeded, for your own assertions.
pub struct CheckedDb {
    /// What the check saw.
    pub report: CheckReport,
    /// The in-memory database.
    pub conn: Connection,
}

impl fmt::Debug for CheckedDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckedDb")
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl Harness {
    /// A harness for this migrator's migrations (use `Migrator::new()` for the registered ones).
    pub fn new(migrator: Migrator) -> Self {
        Harness {
            migrator: migrator.without_backups(),
            seeds: Seeds::default(),
        }
    }

    /// Runs `seed` right after migration `seq` is applied, so later migrations (and their
    /// round trips) run on data, not on empty tables. `seq` 0 seeds the empty database.
    pub fn seed_at(mut self, seq: u64, seed: impl Into<Seed>) -> Self {
        self.seeds.add(seq, seed.into());
        self
    }

    /// Seeds with Rust code (see [`seed_at`](Self::seed_at)).
    pub fn seed_with(
        self,
        seq: u64,
        f: impl Fn(&Connection) -> rusqlite::Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.seed_at(seq, Seed::Code(Arc::new(f)))
    }

    /// Runs the whole check; the error names the migration and what is wrong.
    pub fn check(&self) -> Result<CheckedDb> {
        let mut conn = Connection::open_in_memory()?;
        let report = {
            let mut session = self.migrator.on(&mut conn)?;
            self.check_on(&mut session)?
        };
        Ok(CheckedDb { report, conn })
    }

    /// [`check`](Self::check) that panics with the problem: the one line for a `#[test]`.
    ///
    /// ```
    /// # use migrate_sqlite::{Migration, Migrator, Step, testing::Harness};
    /// # let migrator = Migrator::new().with_migrations([Migration::new(1, "t", Step::sql("CREATE TABLE t (x)"))]);
    /// Harness::new(migrator).assert_ok();
    /// ```
    #[track_caller]
    pub fn assert_ok(&self) -> CheckedDb {
        match self.check() {
            Ok(db) => db,
            Err(e) => panic!("migration check failed: {e}"),
        }
    }

    fn check_on(&self, session: &mut Session<'_>) -> Result<CheckReport> {
        run_check(&mut Target { session }, &self.seeds)
    }

    /// Migrates a copy of the database file at `path` (a copy of production, say) in memory and
    /// reports what ran; the file itself is opened read-only and never changed.
    ///
    /// ```
    /// # use migrate_sqlite::{Migration, Migrator, Step, testing::Harness};
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("prod-copy.db");
    /// rusqlite::Connection::open(&path)?.execute_batch("CREATE TABLE old (x)")?;
    /// let migrator = Migrator::new().with_migrations([Migration::new(1, "t", Step::sql("CREATE TABLE t (x)"))]);
    /// let upgraded = Harness::new(migrator).upgrade_copy_of(&path)?;
    /// assert_eq!(upgraded.run.steps.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn upgrade_copy_of(&self, path: &Path) -> Result<UpgradeReport> {
        let mut conn = crate::testing::template::copy_into_memory(path)?;
        let run = self.migrator.on(&mut conn)?.up()?;
        let status = self.migrator.on(&mut conn)?.status()?;
        Ok(UpgradeReport { run, status, conn })
    }
}

impl From<CheckFailure> for Error {
    fn from(failure: CheckFailure) -> Self {
        Error::CheckFailed {
            seq: failure.seq,
            name: failure.name,
            problem: failure.problem,
        }
    }
}

/// The check's database acts on an SQLite session.
struct Target<'h, 's> {
    session: &'h mut Session<'s>,
}

impl CheckTarget for Target<'_, '_> {
    type Error = Error;
    type Counts = Counts;
    type Code = SeedFn;

    fn migrations(&self) -> Vec<Checked> {
        Checked::all(self.session.migrations())
    }

    fn schema(&mut self) -> Result<SchemaObjects> {
        // ALTER TABLE ... RENAME writes the new name quoted: `people` renamed away and back
        // comes back as `"people"`, the same table.
        Ok(fingerprint::objects(self.session.connection())?
            .into_iter()
            .map(|(k, sql)| (k, unquote_plain_identifiers(&sql)))
            .collect())
    }

    fn schema_text(&mut self) -> Result<String> {
        Ok(fingerprint::dump(&fingerprint::objects(
            self.session.connection(),
        )?))
    }

    fn count_rows(&mut self) -> Result<Counts> {
        Ok(count_all(self.session.connection())?)
    }

    /// The runner's rule: a table that exists before and after with fewer rows (a rename or a
    /// drop is not a loss; the runner refuses undeclared drops itself).
    fn lost_rows(&self, before: &Counts, after: &Counts) -> Vec<RowCount> {
        compare(before, after)
            .into_iter()
            .filter(|c| c.lost().is_some())
            .collect()
    }

    fn up_to(&mut self, seq: u64) -> Result<()> {
        self.session.up_to(seq).map(drop)
    }

    fn down_one(&mut self) -> Result<()> {
        self.session.down(1).map(drop)
    }

    fn after_up(&mut self) -> Result<Option<String>> {
        let conn = self.session.connection();
        let verdict: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if verdict != "ok" {
            return Ok(Some(format!("integrity_check after it: {verdict}")));
        }
        let violations: i64 =
            conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })?;
        Ok((violations > 0).then(|| format!("{violations} foreign key violations after it")))
    }

    fn execute_sql(&mut self, sql: &str) -> Result<()> {
        Ok(self.session.connection().execute_batch(sql)?)
    }

    fn run_code(&mut self, code: &SeedFn) -> Result<()> {
        Ok(code(self.session.connection())?)
    }
}

/// `"name"` becomes `name` where the quotes change nothing (a plain identifier), outside
/// string literals. For comparing two definitions, not for running them.
fn unquote_plain_identifiers(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find(['\'', '"']) {
        out.push_str(&rest[..at]);
        let quote = &rest[at..at + 1];
        // The quoted text runs to the next lone quote ('' and "" are escapes).
        let mut end = at + 1;
        let closed = loop {
            match rest[end..].find(quote) {
                Some(i) if rest[end + i + 1..].starts_with(quote) => end += i + 2,
                Some(i) => {
                    end += i + 1;
                    break true;
                }
                None => break false,
            }
        };
        if !closed {
            out.push_str(&rest[at..]);
            return out;
        }
        let inner = &rest[at + 1..end - 1];
        let plain = quote == "\""
            && inner.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        out.push_str(if plain { inner } else { &rest[at..end] });
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::unquote_plain_identifiers as unquote;

    #[test]
    fn plain_identifiers_lose_their_quotes_and_nothing_else_does() {
        assert_eq!(
            unquote(r#"CREATE TABLE "people" (id, "first name", 'it''s "x"', "a""b")"#),
            r#"CREATE TABLE people (id, "first name", 'it''s "x"', "a""b")"#
        );
        assert_eq!(unquote(r#"CREATE TABLE "_t1" (x)"#), "CREATE TABLE _t1 (x)");
        assert_eq!(
            unquote(r#"CREATE TABLE "1t" (x)"#),
            r#"CREATE TABLE "1t" (x)"#
        );
        assert_eq!(unquote(r#"unterminated "abc"#), r#"unterminated "abc"#);
    }
}
