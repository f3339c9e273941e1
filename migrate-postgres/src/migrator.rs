//! The migrator's configuration, and opening a database with it.

use crate::migrate_session::Session;
use crate::{Backups, Connection, Migration, Result, Retention, Step, registered};
use migrate_core::{DEFAULT_SET, Event, FailurePolicy, Hooks, Policy, Registry, Validation};
use std::path::PathBuf;
use std::sync::Arc;

/// Configuration of a migration run on PostgreSQL; [`open`](Migrator::open) a database with it.
///
/// ```no_run
/// use migrate_postgres::{Migration, Migrator, Step};
/// let mut db = Migrator::new()
///     .with_migrations([Migration::new(1, "create_notes", Step::sql("CREATE TABLE notes (id bigint PRIMARY KEY)"))])
///     .open("postgres://app@localhost/app")?;
/// db.up()?;
/// # Ok::<(), migrate_postgres::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Migrator {
    pub(crate) set: String,
    pub(crate) migrations: Option<Vec<Migration>>,
    validation: Validation,
    pub(crate) policy: Policy,
    pub(crate) failure: FailurePolicy,
    app_version: Option<String>,
    pub(crate) hooks: Hooks,
    pub(crate) backups: BackupSettings,
    /// Every migration of a run may remove data, as if each declared `destructive`.
    pub(crate) allow_destructive: bool,
    /// The row-count guard counts rows (the default); off: only its light checks.
    pub(crate) count_rows: bool,
}

/// Where a run's backups go and which are kept.
#[derive(Clone, Debug, Default)]
pub(crate) struct BackupSettings {
    /// None: no backup directory was set, so runs take no backup.
    dir: Option<PathBuf>,
    pub(crate) retention: Retention,
    disabled: bool,
    tool_dirs: Vec<PathBuf>,
    /// The backup taken once for a run over several sets: used instead of taking another.
    pub(crate) run: Option<crate::RunBackup>,
    /// Hears dumps, verifications and restores.
    progress: crate::backup::Reporter,
}

impl BackupSettings {
    /// The backups of the database `conn` is connected to, or why a run takes none.
    pub(crate) fn for_connection(&self, conn: &Connection) -> std::result::Result<Backups, String> {
        if self.disabled {
            return Err("backups are turned off for this migrator with `without_backups()`".into());
        }
        let Some(dir) = &self.dir else {
            return Err("no backup directory is set for this migrator \
                        (`Migrator::backup_dir`)"
                .into());
        };
        let mut backups = Backups::new(&conn.config, dir)
            .with_retention(self.retention)
            .with_reporter(self.progress.clone());
        for tools in &self.tool_dirs {
            backups = backups.with_tool_dir(tools);
        }
        Ok(backups)
    }
}

impl Default for Migrator {
    fn default() -> Self {
        Migrator {
            set: DEFAULT_SET.to_owned(),
            migrations: None,
            validation: Validation::strict(),
            policy: Policy::default(),
            failure: FailurePolicy::AllOrNothing,
            app_version: None,
            hooks: Hooks::default(),
            backups: BackupSettings::default(),
            allow_destructive: false,
            count_rows: true,
        }
    }
}

impl Migrator {
    /// The registered migrations of the default set, strict rules, all-or-nothing.
    ///
    /// ```
    /// let _ = migrate_postgres::Migrator::new();
    /// ```
    pub fn new() -> Self {
        Migrator::default()
    }

    /// Works on another set of registered migrations.
    ///
    /// ```
    /// let _ = migrate_postgres::Migrator::new().set("billing");
    /// ```
    pub fn set(mut self, set: impl Into<String>) -> Self {
        self.set = set.into();
        self
    }

    /// Uses these migrations instead of the registered ones (tests, dynamic migrations).
    ///
    /// ```
    /// use migrate_postgres::{Migration, Migrator, Step};
    /// let _ = Migrator::new().with_migrations([Migration::new(1, "a", Step::sql("SELECT 1"))]);
    /// ```
    pub fn with_migrations(mut self, migrations: impl IntoIterator<Item = Migration>) -> Self {
        self.migrations = Some(migrations.into_iter().collect());
        self
    }

    /// Accepts gaps between seqs (timestamp numbering).
    ///
    /// ```
    /// let _ = migrate_postgres::Migrator::new().allow_gaps();
    /// ```
    pub fn allow_gaps(mut self) -> Self {
        self.validation = self.validation.allow_gaps();
        self
    }

    /// Runs although the database has migrations this binary lacks (rolling deploys).
    ///
    /// ```
    /// let _ = migrate_postgres::Migrator::new().allow_database_ahead();
    /// ```
    pub fn allow_database_ahead(mut self) -> Self {
        self.policy = self.policy.allow_database_ahead();
        self
    }

    /// Applies pending migrations numbered below the last applied one.
    ///
    /// ```
    /// let _ = migrate_postgres::Migrator::new().allow_out_of_order();
    /// ```
    pub fn allow_out_of_order(mut self) -> Self {
        self.policy = self.policy.allow_out_of_order();
        self
    }

    /// Accepts the current checksum of an applied migration whose code changed (recorded in
    /// the history).
    ///
    /// ```
    /// let _ = migrate_postgres::Migrator::new().accept_checksum(3);
    /// ```
    pub fn accept_checksum(mut self, seq: u64) -> Self {
        self.policy = self.policy.accept_checksum(seq);
        self
    }

    /// What a failure keeps ([`FailurePolicy::AllOrNothing`] by default).
    ///
    /// ```
    /// use migrate_postgres::{FailurePolicy, Migrator};
    /// let _ = Migrator::new().failure_policy(FailurePolicy::KeepApplied);
    /// ```
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.failure = policy;
        self
    }

    /// Calls `hook` with every [`Event`] of a run (it observes; it must not use the database).
    ///
    /// ```
    /// let _ = migrate_postgres::Migrator::new().on_event(|e| log::info!("{e:?}"));
    /// ```
    pub fn on_event(mut self, hook: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.hooks.add(Arc::new(hook));
        self
    }

    /// Called with the bytes done while a backup is dumped and verified and while a restore
    /// replays (see [`Progress`](crate::Progress) for what `total` means at each stage).
    ///
    /// ```
    /// let _ = migrate_postgres::Migrator::new().on_progress(|p| eprintln!("{}/{}", p.done, p.total));
    /// ```
    pub fn on_progress(mut self, f: impl Fn(crate::Progress) + Send + Sync + 'static) -> Self {
        self.backups.progress = crate::backup::Reporter(Some(Arc::new(f)));
        self
    }

    /// The app's version, recorded with every tracking and history row.
    ///
    /// ```
    /// let _ = migrate_postgres::Migrator::new().app_version("2.4.1");
    /// ```
    pub fn app_version(mut self, version: impl Into<String>) -> Self {
        self.app_version = Some(version.into());
        self
    }

    /// Takes a verified backup (`pg_dump -Fc`, read back completely) into `dir` before every
    /// changing run, in the run's own transaction with writers held off, so it holds exactly
    /// the state the run starts from. Without a directory, runs take no backup.
    ///
    /// ```
    /// let _ = migrate_postgres::Migrator::new().backup_dir("/var/backups/app");
    /// ```
    pub fn backup_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.backups.dir = Some(dir.into());
        self
    }

    /// Which automatic backups to keep (default: the newest 5); snapshots are never pruned,
    /// nor the backups the current run wrote.
    ///
    /// ```
    /// use migrate_postgres::{Migrator, Retention};
    /// let _ = Migrator::new().keep_backups(Retention { keep_last: Some(10), max_age: None });
    /// ```
    pub fn keep_backups(mut self, retention: Retention) -> Self {
        self.backups.retention = retention;
        self
    }

    /// Looks for `pg_dump`, `pg_restore` and `psql` only in `dir` (call again to add more),
    /// instead of `/usr/lib/postgresql/<server major>/bin` then PATH.
    ///
    /// ```
    /// let _ = migrate_postgres::Migrator::new().backup_tool_dir("/opt/postgresql/16/bin");
    /// ```
    pub fn backup_tool_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.backups.tool_dirs.push(dir.into());
        self
    }

    /// Runs without backups even when a backup directory is set (a failure that a rollback
    /// cannot undo then leaves the database for you to repair).
    ///
    /// ```
    /// let _ = migrate_postgres::Migrator::new().backup_dir("/tmp/b").without_backups();
    /// ```
    pub fn without_backups(mut self) -> Self {
        self.backups.disabled = true;
        self
    }

    /// Lets every migration of a run remove data (drop tables or columns, delete rows) as if
    /// each declared `destructive`: the row-count guard and destructive-change detection
    /// still record the counts, but refuse nothing.
    ///
    /// ```
    /// let _ = migrate_postgres::Migrator::new().allow_destructive();
    /// ```
    pub fn allow_destructive(mut self) -> Self {
        self.allow_destructive = true;
        self
    }

    /// Turns the row-count guard's counting off, for runs where reading every table's counters
    /// after each migration costs too much (thousands of migrations on a schema of thousands
    /// of tables: the README's "PostgreSQL runner benchmark" has the figures). No counts in the
    /// history; still refused, in an `up` that does not declare `destructive`: a `DELETE`,
    /// `TRUNCATE` or `MERGE … DELETE` statement the migration sends (by its text: one that a
    /// trigger, function or `DO` block runs is not seen), and a table it drops, unless it
    /// recreates one under the same name and declares `rebuild`. Dropped columns are not
    /// checked. As SQLite's `without_row_counts`.
    ///
    /// ```
    /// let _ = migrate_postgres::Migrator::new().without_row_counts();
    /// ```
    pub fn without_row_counts(mut self) -> Self {
        self.count_rows = false;
        self
    }

    /// Uses `backup` (taken once by [`Session::back_up_for_run`](crate::Session::back_up_for_run)
    /// before the first of several sets) as this run's pre-migration backup instead of taking
    /// another: a `transaction = false` failure restores the state before every set, when the
    /// written-since policy allows it.
    ///
    /// ```no_run
    /// let url = "postgres://app@localhost/app";
    /// let migrator = migrate_postgres::Migrator::new().backup_dir("/var/backups/app");
    /// let taken = migrator.open(url)?.back_up_for_run()?;
    /// migrator.set("search").with_run_backup(taken).open(url)?.up()?;
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn with_run_backup(mut self, backup: crate::RunBackup) -> Self {
        self.backups.run = Some(backup);
        self
    }

    /// Connects to `url` (a dedicated connection, never a pooled one) and validates the
    /// migrations.
    ///
    /// ```no_run
    /// let mut db = migrate_postgres::Migrator::new().open("postgres://app@localhost/app")?;
    /// println!("{}", db.status()?);
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn open(&self, url: &str) -> Result<Session> {
        self.on(Connection::open(url)?)
    }

    /// Uses a [`Connection`] you opened (its schema and settings: timeouts, lock attempts).
    ///
    /// ```no_run
    /// let conn = migrate_postgres::Connection::open("postgres://app@localhost/app")?
    ///     .with_schema("tenant_1")?;
    /// let mut db = migrate_postgres::Migrator::new().on(conn)?;
    /// db.up()?;
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn on(&self, conn: Connection) -> Result<Session> {
        let registry = self.registry()?;
        // The configuration without the list (the registry holds it): copied once, not twice.
        let settings = Migrator {
            set: self.set.clone(),
            migrations: None,
            validation: self.validation,
            policy: self.policy.clone(),
            failure: self.failure,
            app_version: self.app_version.clone(),
            hooks: self.hooks.clone(),
            backups: self.backups.clone(),
            allow_destructive: self.allow_destructive,
            count_rows: self.count_rows,
        };
        Session::new(conn, registry, settings)
    }

    /// The migrations this migrator runs, validated.
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

    pub(crate) fn applied_by(&self) -> String {
        let framework = concat!("migrate-postgres ", env!("CARGO_PKG_VERSION"));
        match &self.app_version {
            Some(app) => format!("{framework}; app {app}"),
            None => framework.to_owned(),
        }
    }
}
