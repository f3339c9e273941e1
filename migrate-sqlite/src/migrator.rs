//! The migrator's configuration, and opening a database with it.

use crate::hooks::Hooks;
use crate::session::{Conn, Session};
use crate::{BackupSettings, Error, Event, Migration, Progress, Result, Step, registered};
use migrate_core::{DEFAULT_SET, Policy, Registry, Validation};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use migrate_core::FailurePolicy;

/// Configuration of a migration run; [`open`](Migrator::open) a database with it.
///
/// ```
/// use migrate_sqlite::{Migration, Migrator, Step};
/// let dir = tempfile::tempdir()?;
/// let mut db = Migrator::new()
///     .with_migrations([
///         Migration::new(1, "create_notes", Step::sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")),
///     ])
///     .open(dir.path().join("app.db"))?;
/// let report = db.up()?;
/// assert_eq!(report.steps.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Migrator {
    pub(crate) set: String,
    pub(crate) migrations: Option<Vec<Migration>>,
    pub(crate) validation: Validation,
    pub(crate) policy: Policy,
    pub(crate) failure: FailurePolicy,
    pub(crate) busy_timeout: Duration,
    pub(crate) app_version: Option<String>,
    pub(crate) backups: BackupSettings,
    pub(crate) allow_destructive: bool,
    pub(crate) count_rows: bool,
    pub(crate) hooks: Hooks,
}

impl Default for Migrator {
    fn default() -> Self {
        Migrator {
            set: DEFAULT_SET.to_owned(),
            migrations: None,
            validation: Validation::strict(),
            policy: Policy::default(),
            failure: FailurePolicy::AllOrNothing,
            busy_timeout: Duration::from_secs(60),
            app_version: None,
            backups: BackupSettings::default(),
            allow_destructive: false,
            count_rows: true,
            hooks: Hooks::default(),
        }
    }
}

impl Migrator {
    /// The registered migrations of the default set, strict rules, all-or-nothing.
    ///
    /// ```
    /// let _ = migrate_sqlite::Migrator::new();
    /// ```
    pub fn new() -> Self {
        Migrator::default()
    }

    /// Works on another set of registered migrations.
    ///
    /// ```
    /// let _ = migrate_sqlite::Migrator::new().set("billing");
    /// ```
    pub fn set(mut self, set: impl Into<String>) -> Self {
        self.set = set.into();
        self
    }

    /// Uses these migrations instead of the registered ones (tests, dynamic migrations). Their
    /// set must be this migrator's set.
    ///
    /// ```
    /// use migrate_sqlite::{Migration, Migrator, Step};
    /// let _ = Migrator::new().with_migrations([Migration::new(1, "a", Step::sql("SELECT 1"))]);
    /// ```
    pub fn with_migrations(mut self, migrations: impl IntoIterator<Item = Migration>) -> Self {
        self.migrations = Some(migrations.into_iter().collect());
        self
    }

    /// Accepts gaps between seqs (timestamp numbering); `--allow-gaps` on the command line.
    ///
    /// ```
    /// let _ = migrate_sqlite::Migrator::new().allow_gaps();
    /// ```
    pub fn allow_gaps(mut self) -> Self {
        self.validation = self.validation.allow_gaps();
        self
    }

    /// Runs although the database has migrations this binary lacks (rolling deploys).
    ///
    /// ```
    /// let _ = migrate_sqlite::Migrator::new().allow_database_ahead();
    /// ```
    pub fn allow_database_ahead(mut self) -> Self {
        self.policy = self.policy.allow_database_ahead();
        self
    }

    /// Applies pending migrations numbered below the last applied one.
    ///
    /// ```
    /// let _ = migrate_sqlite::Migrator::new().allow_out_of_order();
    /// ```
    pub fn allow_out_of_order(mut self) -> Self {
        self.policy = self.policy.allow_out_of_order();
        self
    }

    /// Accepts the current checksum of an applied migration whose code changed (recorded in
    /// the history).
    ///
    /// ```
    /// let _ = migrate_sqlite::Migrator::new().accept_checksum(3);
    /// ```
    pub fn accept_checksum(mut self, seq: u64) -> Self {
        self.policy = self.policy.accept_checksum(seq);
        self
    }

    /// Lets migrations drop or delete data they did not declare (`destructive`) in this run:
    /// the operator's override.
    ///
    /// ```
    /// let _ = migrate_sqlite::Migrator::new().allow_destructive();
    /// ```
    pub fn allow_destructive(mut self) -> Self {
        self.allow_destructive = true;
        self
    }

    /// Turns the row-count guard off: no count of every table before a run, no counts in the
    /// history, no check that a migration keeps the rows of the tables it writes to, the
    /// tables it found or its columns' values. For a database so large that counting its
    /// tables once per run costs too much (the README has the figures); undeclared `DELETE`,
    /// and `DROP TABLE` except of a table recreated under its name by a migration declared
    /// `rebuild`, are still refused.
    ///
    /// ```
    /// let _ = migrate_sqlite::Migrator::new().without_row_counts();
    /// ```
    pub fn without_row_counts(mut self) -> Self {
        self.count_rows = false;
        self
    }

    /// Calls `hook` before and after the batch and each migration, and on failure.
    ///
    /// ```
    /// use migrate_sqlite::{Event, Migration, Migrator, Step};
    /// use std::sync::{Arc, Mutex};
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// let mut conn = migrate_sqlite::rusqlite::Connection::open_in_memory()?;
    /// Migrator::new()
    ///     .with_migrations([Migration::new(1, "t", Step::sql("CREATE TABLE t (x)"))])
    ///     .on_event(move |e| log.lock().unwrap().push(format!("{e:?}")))
    ///     .on(&mut conn)?
    ///     .up()?;
    /// assert_eq!(seen.lock().unwrap().len(), 4); // batch, start, finish, batch
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_event(mut self, hook: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.hooks.add(std::sync::Arc::new(hook));
        self
    }

    /// What to keep when a migration fails.
    ///
    /// ```
    /// use migrate_sqlite::{FailurePolicy, Migrator};
    /// let _ = Migrator::new().failure_policy(FailurePolicy::KeepApplied);
    /// ```
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.failure = policy;
        self
    }

    /// How long to wait for another migrator or writer (default 60 s).
    ///
    /// ```
    /// let _ = migrate_sqlite::Migrator::new().busy_timeout(std::time::Duration::from_secs(5));
    /// ```
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// The application's version, recorded with each applied migration.
    ///
    /// ```
    /// let _ = migrate_sqlite::Migrator::new().app_version(env!("CARGO_PKG_VERSION"));
    /// ```
    pub fn app_version(mut self, version: impl Into<String>) -> Self {
        self.app_version = Some(version.into());
        self
    }

    /// Where backups go (default: `<database file>.backups/` beside the database).
    ///
    /// ```
    /// let _ = migrate_sqlite::Migrator::new().backup_dir("/var/backups/app");
    /// ```
    pub fn backup_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.backups.dir = Some(dir.into());
        self
    }

    /// Keep at most `n` automatic backups (default 5); snapshots are never pruned.
    ///
    /// ```
    /// let _ = migrate_sqlite::Migrator::new().keep_backups(10);
    /// ```
    pub fn keep_backups(mut self, n: usize) -> Self {
        self.backups.retention.keep_last = Some(n);
        self
    }

    /// Delete automatic backups older than `age` (default: no age limit).
    ///
    /// ```
    /// let week = std::time::Duration::from_secs(7 * 24 * 3600);
    /// let _ = migrate_sqlite::Migrator::new().max_backup_age(week);
    /// ```
    pub fn max_backup_age(mut self, age: Duration) -> Self {
        self.backups.retention.max_age = Some(age);
        self
    }

    /// No automatic backup before migrating (for throwaway databases; restore then needs your
    /// own backups).
    ///
    /// ```
    /// let _ = migrate_sqlite::Migrator::new().without_backups();
    /// ```
    pub fn without_backups(mut self) -> Self {
        self.backups.disabled = true;
        self
    }

    /// Uses `backup` as the run's pre-migration backup instead of taking one: the backup a run
    /// over several sets took once before the first set (`migrate up --all-sets`), so a
    /// failure in any set names (and, for a `transaction = false` migration, restores) the
    /// state before the whole run. Retention spares it like a backup the run wrote.
    ///
    /// ```
    /// let _ = migrate_sqlite::Migrator::new().with_run_backup("app.db.backups/app.db.20261122T104914.123Z.pre-up.db");
    /// ```
    pub fn with_run_backup(mut self, backup: impl Into<std::path::PathBuf>) -> Self {
        self.backups.run_backup_seen = None;
        self.backups.run_backup = Some(backup.into());
        self
    }

    /// [`Migrator::with_run_backup`] on the connection that took it, with the
    /// `PRAGMA data_version` it read then: the automatic restore checks that no other
    /// connection committed since.
    pub(crate) fn with_run_backup_seen(mut self, backup: PathBuf, seen: i64) -> Self {
        self.backups.run_backup = Some(backup);
        self.backups.run_backup_seen = Some(seen);
        self
    }

    /// A session on `conn`, an open connection to the file at `path` (a session's own,
    /// handed on: `up --all-sets` runs every set on one connection).
    pub(crate) fn open_on(&self, conn: Connection, path: &Path) -> Result<Session<'static>> {
        let registry = self.registry()?;
        let file = file_path(&conn, path);
        self.session(Conn::Owned(conn), registry, file)
    }

    /// Called with bytes done and total while a backup or restore runs.
    ///
    /// ```
    /// let _ = migrate_sqlite::Migrator::new().on_progress(|p| eprintln!("{}/{}", p.done, p.total));
    /// ```
    pub fn on_progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.backups.progress = Some(std::sync::Arc::new(f));
        self
    }

    /// Opens (or creates) the database file at `path`.
    ///
    /// The migrations are validated first: an invalid set creates no file. The path is kept as
    /// given (it need not be valid UTF-8): the lock file and the backups sit beside it.
    /// `":memory:"` is an in-memory database, without lock file and backups. A path that is a
    /// directory is refused ([`Error::NotAFile`]).
    ///
    /// ```
    /// use migrate_sqlite::{Migration, Migrator, Step};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("app.db");
    /// let mut db = Migrator::new()
    ///     .with_migrations([Migration::new(1, "notes", Step::sql("CREATE TABLE notes (body TEXT)"))])
    ///     .open(&path)?;
    /// let report = db.up()?; // locked, backed up, applied, recorded
    /// assert_eq!(report.after, Some(1));
    /// assert_eq!(db.up()?.steps.len(), 0); // nothing left to do
    /// # Ok::<(), migrate_sqlite::Error>(())
    /// ```
    pub fn open(&self, path: impl AsRef<Path>) -> Result<Session<'static>> {
        self.open_with(path.as_ref(), true)
    }

    /// Opens the database file at `path` only if it exists: for commands that read or refuse
    /// and must never leave an empty database behind at a mistyped path.
    ///
    /// ```
    /// use migrate_sqlite::{Error, Migration, Migrator, Step};
    /// let dir = tempfile::tempdir()?;
    /// let missing = dir.path().join("typo.db");
    /// let migrator =
    ///     Migrator::new().with_migrations([Migration::new(1, "t", Step::sql("CREATE TABLE t (x)"))]);
    /// let refused = migrator.open_existing(&missing);
    /// assert!(matches!(refused, Err(Error::NoDatabase { .. })));
    /// assert!(!missing.exists());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_existing(&self, path: impl AsRef<Path>) -> Result<Session<'static>> {
        self.open_with(path.as_ref(), false)
    }

    fn open_with(&self, path: &Path, create: bool) -> Result<Session<'static>> {
        let registry = self.registry()?;
        let mut flags = OpenFlags::default();
        if !create && !is_memory(path) {
            if !path.exists() {
                return Err(Error::NoDatabase {
                    path: path.to_owned(),
                });
            }
            flags.remove(OpenFlags::SQLITE_OPEN_CREATE);
        }
        if path.is_dir() {
            return Err(Error::NotAFile {
                path: path.to_owned(),
            });
        }
        let conn = Connection::open_with_flags(path, flags).map_err(|source| Error::Open {
            path: path.to_owned(),
            error: source,
        })?;
        let file = (!is_memory(path)).then(|| file_path(&conn, path));
        self.session(Conn::Owned(conn), registry, file.flatten())
    }

    /// Works on a connection the caller already has open.
    ///
    /// The runner installs its own authorizer on this connection for each run and clears it
    /// afterwards: **an authorizer your app had installed is replaced and not put back**
    /// (rusqlite cannot read the current one). Install yours again after the run if you use one.
    ///
    /// The database file is the one SQLite reports for the connection. If its name is not valid
    /// UTF-8, SQLite cannot report it to Rust and this call refuses: use
    /// [`on_file`](Migrator::on_file) with the path you opened it with, so the migration lock,
    /// the backups and the automatic restore still work. A `:memory:` connection runs without
    /// lock file and backups.
    ///
    /// ```
    /// use migrate_sqlite::{Migration, Migrator, Step};
    /// let mut conn = rusqlite::Connection::open_in_memory()?;
    /// Migrator::new()
    ///     .with_migrations([Migration::new(1, "t", Step::sql("CREATE TABLE t (x)"))])
    ///     .on(&mut conn)?
    ///     .up()?;
    /// conn.execute("INSERT INTO t VALUES (1)", [])?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on<'c>(&self, conn: &'c mut Connection) -> Result<Session<'c>> {
        let registry = self.registry()?;
        let file = match conn.path() {
            Some("") => None,
            Some(name) => Some(PathBuf::from(name)),
            None => {
                return Err(Error::Unsupported(
                    "SQLite cannot report this connection's file name to Rust (it is not valid \
                     UTF-8), and without it there would be no migration lock and no backups; \
                     nothing was changed. Use `Migrator::on_file(&mut conn, path)` with the path \
                     you opened it with"
                        .into(),
                ));
            }
        };
        self.session(Conn::Borrowed(conn), registry, file)
    }

    /// Works on a connection the caller already has open on the file at `path` (which need not
    /// be valid UTF-8): the lock file and the backups sit beside `path`. Refused when the
    /// connection is in memory or SQLite reports another file. The authorizer note of
    /// [`on`](Migrator::on) applies.
    ///
    /// ```
    /// use migrate_sqlite::{Migration, Migrator, Step};
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.db");
    /// let mut conn = rusqlite::Connection::open(&path)?;
    /// let mut db = Migrator::new()
    ///     .with_migrations([Migration::new(1, "t", Step::sql("CREATE TABLE t (x)"))])
    ///     .on_file(&mut conn, &path)?;
    /// db.up()?;
    /// assert!(migrate_sqlite::lock_path(&path).exists());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_file<'c>(
        &self,
        conn: &'c mut Connection,
        path: impl AsRef<Path>,
    ) -> Result<Session<'c>> {
        let registry = self.registry()?;
        let path = path.as_ref();
        let same = match conn.path() {
            Some("") => false,
            Some(name) => same_file(Path::new(name), path),
            // Not UTF-8: SQLite cannot tell us; the file must at least exist.
            None => path.is_file(),
        };
        if !same {
            return Err(Error::Unsupported(format!(
                "the connection is not open on {} (SQLite reports {:?}); nothing was changed. \
                 Pass the path the connection was opened with",
                path.display(),
                conn.path().unwrap_or("a name that is not UTF-8")
            )));
        }
        self.session(Conn::Borrowed(conn), registry, Some(path.to_owned()))
    }

    /// The validated migrations of this migrator's set.
    pub(crate) fn registry(&self) -> Result<Registry<Step>> {
        let migrations = match &self.migrations {
            Some(list) => list.clone(),
            None => registered(&self.set),
        };
        Ok(Registry::new(
            self.set.clone(),
            migrations,
            self.validation,
        )?)
    }

    fn session<'c>(
        &self,
        conn: Conn<'c>,
        registry: Registry<Step>,
        file: Option<PathBuf>,
    ) -> Result<Session<'c>> {
        // The session keeps the settings; the migrations already live in the registry.
        let settings = Migrator {
            set: self.set.clone(),
            migrations: None,
            validation: self.validation,
            policy: self.policy.clone(),
            failure: self.failure,
            busy_timeout: self.busy_timeout,
            app_version: self.app_version.clone(),
            backups: self.backups.clone(),
            allow_destructive: self.allow_destructive,
            count_rows: self.count_rows,
            hooks: self.hooks.clone(),
        };
        Ok(Session::new(conn, registry, settings, file))
    }

    pub(crate) fn applied_by(&self) -> String {
        let framework = concat!("migrate-sqlite ", env!("CARGO_PKG_VERSION"));
        match &self.app_version {
            Some(app) => format!("{framework}; app {app}"),
            None => framework.to_owned(),
        }
    }
}

/// `:memory:` (or the empty name of a temporary database): no file, no lock, no backups.
fn is_memory(path: &Path) -> bool {
    path.as_os_str().is_empty() || path.as_os_str() == ":memory:"
}

/// The database file of a connection opened on `given`: SQLite's absolute name when it can
/// report one, else the caller's path as given (a name that is not UTF-8). None for a
/// temporary or in-memory database.
fn file_path(conn: &Connection, given: &Path) -> Option<PathBuf> {
    match conn.path() {
        Some("") => None,
        Some(name) => Some(PathBuf::from(name)),
        None => Some(given.to_owned()),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
