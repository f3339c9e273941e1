//! The whole-sequence check on PostgreSQL: `migrate_core::harness::run_check` over a fresh
//! database of the test server.

use super::rows::{self, Counts};
use crate::testing::TestDatabase;
use crate::{Connection, Error, Migrator, Result, Session, schema_dump};
use migrate_core::harness::{CheckReport, CheckTarget, Checked, Seeds, run_check};
use migrate_core::{Registry, RowCount, SchemaObjects};
use postgres::Client;
use std::fmt;
use std::sync::Arc;

/// Rust code that seeds data, on a plain client of the checked database.
pub type SeedFn =
    Arc<dyn Fn(&mut Client) -> std::result::Result<(), postgres::Error> + Send + Sync>;

/// Data to put in at a given point of the sequence: `Seed::Sql(text)` (sent with
/// `batch_execute`) or `Seed::Code(SeedFn)`.
pub type Seed = migrate_core::harness::Seed<SeedFn>;

/// Checks a migrator's migrations on a fresh database of the test server: from the empty
/// database, every migration applied in order; after each, no table lost rows unless it is
/// declared `destructive`; every reversible one reverted (the catalog fingerprint must be
/// exactly the one before it) and applied again; seeds run where you put them. Irreversible
/// migrations are listed, not failed. The error names the migration and the difference.
///
/// ```no_run
/// use migrate_postgres::testing::Harness;
/// use migrate_postgres::{Migration, Migrator, Step};
///
/// // A down that forgets the index it should drop.
/// let migrator = Migrator::new().with_migrations([
///     Migration::new(1, "users", Step::sql("CREATE TABLE users (id bigint PRIMARY KEY, name text)"))
///         .with_down(Step::sql("DROP TABLE users")),
///     Migration::new(2, "index_names", Step::sql("CREATE INDEX users_name ON users (name)"))
///         .with_down(Step::sql("SELECT 1")),
/// ]);
/// let err = Harness::new(migrator).check().unwrap_err().to_string();
/// assert!(err.contains("migration 2 \"index_names\""), "{err}");
/// assert!(err.contains("added: index public.users_name"), "{err}");
/// ```
pub struct Harness {
    pub(super) migrator: Migrator,
    seeds: Seeds<SeedFn>,
}

/// The database the check left, fully migrated and seeded, for your own assertions.
pub struct CheckedDb {
    /// What the check saw.
    pub report: CheckReport,
    /// The checked database on the test server (`db.client()` for queries).
    pub db: TestDatabase,
}

impl fmt::Debug for CheckedDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckedDb")
            .field("report", &self.report)
            .field("db", &self.db.name)
            .finish()
    }
}

impl Harness {
    /// A harness for this migrator's migrations (`Migrator::new()` for the registered ones);
    /// it runs them without backups.
    ///
    /// ```
    /// let _ = migrate_postgres::testing::Harness::new(migrate_postgres::Migrator::new());
    /// ```
    pub fn new(migrator: Migrator) -> Self {
        Harness {
            migrator: migrator.without_backups(),
            seeds: Seeds::default(),
        }
    }

    /// Runs `seed` right after migration `seq` is applied, so later migrations (and their
    /// round trips) run on data, not on empty tables. `seq` 0 seeds the empty database.
    ///
    /// ```
    /// # use migrate_postgres::{Migrator, testing::Harness};
    /// let _ = Harness::new(Migrator::new()).seed_at(1, "INSERT INTO users (id, name) VALUES (1, 'ada')");
    /// ```
    pub fn seed_at(mut self, seq: u64, seed: impl Into<Seed>) -> Self {
        self.seeds.add(seq, seed.into());
        self
    }

    /// Seeds with Rust code on a plain client (see [`seed_at`](Self::seed_at)).
    ///
    /// ```
    /// # use migrate_postgres::{Migrator, testing::Harness};
    /// let _ = Harness::new(Migrator::new()).seed_with(1, |client| {
    ///     client.execute("INSERT INTO users (id, name) VALUES ($1, $2)", &[&1i64, &"ada"])?;
    ///     Ok(())
    /// });
    /// ```
    pub fn seed_with(
        self,
        seq: u64,
        f: impl Fn(&mut Client) -> std::result::Result<(), postgres::Error> + Send + Sync + 'static,
    ) -> Self {
        self.seed_at(seq, Seed::Code(Arc::new(f)))
    }

    /// Runs the whole check on a new database of the test server; the error names the
    /// migration and what is wrong ([`Error::CheckFailed`]), or [`Error::NoTestServer`].
    ///
    /// ```no_run
    /// # use migrate_postgres::{Migration, Migrator, Step, testing::Harness};
    /// let migrator = Migrator::new().with_migrations([
    ///     Migration::new(1, "t", Step::sql("CREATE TABLE t (x int)")).with_down(Step::sql("DROP TABLE t")),
    /// ]);
    /// let checked = Harness::new(migrator).check()?;
    /// assert_eq!(checked.report.round_trips, [1]);
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn check(&self) -> Result<CheckedDb> {
        let db = super::fresh_database()?;
        let report = self.check_on(db.connect())?;
        Ok(CheckedDb { report, db })
    }

    /// [`check`](Self::check) on a database of your own (it must be empty: the check reverts
    /// every migration and compares with the schema it found first; one holding tables is
    /// refused before anything changes), through `conn`.
    ///
    /// ```no_run
    /// # use migrate_postgres::{Connection, Migrator, testing::Harness};
    /// let conn = Connection::open("postgres://app@localhost/app_check")?;
    /// let report = Harness::new(Migrator::new()).check_on(conn)?;
    /// println!("{report}");
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn check_on(&self, mut conn: Connection) -> Result<CheckReport> {
        // The check reverts every migration: on a database holding tables (data) by mistake,
        // a down would drop them.
        let found = rows::count_all(&mut conn)?;
        if !found.is_empty() {
            let tables: Vec<&str> = found.keys().map(String::as_str).collect();
            return Err(Error::Unsupported(format!(
                "the migration check needs an empty database (it reverts every migration), \
                 and this one holds {}; nothing was changed. Check on a new database \
                 (`Harness::check` creates one on the test server)",
                tables.join(", ")
            )));
        }
        let registry = self.migrator.registry()?;
        let mut target = Target {
            session: self.migrator.on(conn)?,
            registry,
        };
        run_check(&mut target, &self.seeds)
    }

    /// [`check`](Self::check) that panics with the problem: the one line for a `#[test]`.
    ///
    /// ```no_run
    /// # use migrate_postgres::{Migrator, testing::Harness};
    /// Harness::new(Migrator::new()).assert_ok();
    /// ```
    #[track_caller]
    pub fn assert_ok(&self) -> CheckedDb {
        match self.check() {
            Ok(db) => db,
            Err(e) => panic!("migration check failed: {e}"),
        }
    }
}

/// The check's database acts on a PostgreSQL session.
struct Target {
    session: Session,
    registry: Registry<crate::Step>,
}

impl CheckTarget for Target {
    type Error = Error;
    type Counts = Counts;
    type Code = SeedFn;

    fn migrations(&self) -> Vec<Checked> {
        Checked::all(self.registry.migrations())
    }

    fn schema(&mut self) -> Result<SchemaObjects> {
        self.session.connection().schema_objects()
    }

    fn schema_text(&mut self) -> Result<String> {
        Ok(schema_dump(&self.schema()?))
    }

    fn count_rows(&mut self) -> Result<Counts> {
        rows::count_all(self.session.connection())
    }

    fn lost_rows(&self, before: &Counts, after: &Counts) -> Vec<RowCount> {
        rows::lost(before, after)
    }

    fn up_to(&mut self, seq: u64) -> Result<()> {
        self.session.up_to(seq).map(drop)
    }

    fn down_one(&mut self) -> Result<()> {
        self.session.down(1).map(drop)
    }

    /// PostgreSQL enforces foreign keys and checks at every statement, and the runner itself
    /// fails on INVALID indexes: nothing is left to check here.
    fn after_up(&mut self) -> Result<Option<String>> {
        Ok(None)
    }

    fn execute_sql(&mut self, sql: &str) -> Result<()> {
        Ok(self.session.connection().client().batch_execute(sql)?)
    }

    fn run_code(&mut self, code: &SeedFn) -> Result<()> {
        Ok(code(self.session.connection().client())?)
    }
}
