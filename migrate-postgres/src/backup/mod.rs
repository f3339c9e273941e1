//! Verified backups with `pg_dump`, restores that really restore, named snapshots, listing and
//! retention: the SQLite backend's rules (names, retention, snapshots never pruned, failed-state
//! copies apart, an undo backup before every restore) on PostgreSQL.
//!
//! A backup is `pg_dump -Fc -Z1` by the client tools of the server's major version, written to a
//! hidden temp file (0600), fsynced, read back completely (`pg_restore -f /dev/null`), renamed
//! and its directory fsynced. [`Backups::back_up_in`] takes it inside the caller's transaction
//! with writers held off, so it holds exactly the state a migration in that transaction starts
//! from. [`Backups::restore`] drops and recreates every user schema and replays the dump in one
//! transaction, under the migration lock, after an undo backup.

mod checksum;
mod dump;
pub(crate) mod exact;
mod list;
mod naming;
pub(crate) mod preflight;
mod progress;
mod restore;
mod retention;
pub(crate) mod tools;
mod verify;
mod write;

pub use checksum::Integrity;
pub use migrate_core::backups::{RestoreFrom, RestoreOptions, Retention};
pub use naming::{BackupKind, validate_snapshot_name};
pub(crate) use progress::Reporter;
pub use progress::{Progress, ProgressFn, ProgressStage};

use crate::{Connection, Error, LockGuard, Result};
use postgres::GenericClient;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A finished, verified backup file.
///
/// ```no_run
/// # let config: postgres::Config = "host=/tmp user=app dbname=app".parse()?;
/// # let mut conn = migrate_postgres::Connection::from_config(&config)?;
/// let backups = migrate_postgres::Backups::new(&config, "/var/backups/app");
/// for b in backups.list()? {
///     println!("{} {:?} {} bytes", b.created_at, b.kind, b.size);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupInfo {
    /// Where it is.
    pub path: PathBuf,
    /// Automatic (with its reason), a named snapshot, or a failed-state copy.
    pub kind: BackupKind,
    /// When it was taken, UTC, as in its name: `20261122T104914.123Z`.
    pub created_at: String,
    /// Its size in bytes.
    pub size: u64,
}

/// What a restore did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreReport {
    /// The dump that was restored.
    pub restored_from: PathBuf,
    /// The backup of the state just before the restore: `migrate restore <it>` undoes it.
    pub undo_backup: BackupInfo,
}

/// The backups of one database: where they go, which are kept, which tools write them.
///
/// It takes the connection's [`postgres::Config`] because the tools are separate processes:
/// they get its host (or socket directory), port, user and database, and the password through
/// their environment, never their command line.
///
/// ```no_run
/// use migrate_postgres::{BackupKind, Backups, Connection, RestoreFrom};
/// let config: postgres::Config = "host=/run/postgresql user=app dbname=app".parse()?;
/// let mut conn = Connection::from_config(&config)?;
/// let backups = Backups::new(&config, "/var/backups/app");
/// let taken = backups.back_up(&mut conn, BackupKind::Manual)?;
/// let mut lock = conn.lock()?;
/// let report = backups.restore(&mut lock, &RestoreFrom::File(taken.path))?;
/// println!("undo with: migrate restore {}", report.undo_backup.path.display());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Backups {
    config: postgres::Config,
    dir: PathBuf,
    /// The database name, recorded in each backup's metadata.
    source: String,
    stem: String,
    /// The stem of backups written before stems were one per name.
    legacy_stem: String,
    retention: Retention,
    tool_dirs: Option<Vec<PathBuf>>,
    lock_wait: Duration,
    progress: Reporter,
}

impl Backups {
    /// Backups of the database `config` connects to, in `dir` (created 0700 when first used).
    /// Files are named `<database>.<UTC>.<reason>.dump`.
    ///
    /// ```
    /// let config: postgres::Config = "host=/tmp user=app dbname=shop".parse()?;
    /// let backups = migrate_postgres::Backups::new(&config, "/var/backups/shop");
    /// assert_eq!(backups.dir(), std::path::Path::new("/var/backups/shop"));
    /// # Ok::<(), postgres::Error>(())
    /// ```
    pub fn new(config: &postgres::Config, dir: impl Into<PathBuf>) -> Backups {
        let dbname = config.get_dbname().or(config.get_user()).unwrap_or("");
        Backups {
            config: config.clone(),
            dir: dir.into(),
            source: dbname.to_owned(),
            stem: naming::stem(dbname),
            legacy_stem: naming::legacy_stem(dbname),
            retention: Retention::default(),
            tool_dirs: None,
            lock_wait: Duration::from_secs(30),
            progress: Reporter::default(),
        }
    }

    /// Replaces the retention rule.
    ///
    /// ```
    /// # let config: postgres::Config = "host=/tmp user=app dbname=shop".parse()?;
    /// use migrate_postgres::{Backups, Retention};
    /// let backups = Backups::new(&config, "/tmp/b")
    ///     .with_retention(Retention { keep_last: Some(10), max_age: None });
    /// # Ok::<(), postgres::Error>(())
    /// ```
    pub fn with_retention(mut self, retention: Retention) -> Backups {
        self.retention = retention;
        self
    }

    /// Looks for `pg_dump`, `pg_restore` and `psql` only in `dir` (call again to add more),
    /// instead of `/usr/lib/postgresql/<server major>/bin` then PATH.
    ///
    /// ```
    /// # let config: postgres::Config = "host=/tmp user=app dbname=shop".parse()?;
    /// let backups = migrate_postgres::Backups::new(&config, "/tmp/b")
    ///     .with_tool_dir("/opt/postgresql/16/bin");
    /// # Ok::<(), postgres::Error>(())
    /// ```
    pub fn with_tool_dir(mut self, dir: impl Into<PathBuf>) -> Backups {
        self.tool_dirs.get_or_insert_with(Vec::new).push(dir.into());
        self
    }

    /// How long pg_dump waits for its ACCESS SHARE table locks (`--lock-wait-timeout`,
    /// default 30 s) before it gives up rather than queue behind DDL forever.
    ///
    /// ```
    /// # let config: postgres::Config = "host=/tmp user=app dbname=shop".parse()?;
    /// let backups = migrate_postgres::Backups::new(&config, "/tmp/b")
    ///     .with_lock_wait(std::time::Duration::from_secs(5));
    /// # Ok::<(), postgres::Error>(())
    /// ```
    pub fn with_lock_wait(mut self, wait: Duration) -> Backups {
        self.lock_wait = wait;
        self
    }

    /// Calls `f` with the bytes done while a dump is written and verified and while a restore
    /// replays ([`Progress`]), on the calling thread.
    ///
    /// ```
    /// # let config: postgres::Config = "host=/tmp user=app dbname=shop".parse()?;
    /// let backups = migrate_postgres::Backups::new(&config, "/tmp/b")
    ///     .with_progress(|p| eprintln!("{} {}/{}", p.stage, p.done, p.total));
    /// # Ok::<(), postgres::Error>(())
    /// ```
    pub fn with_progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Backups {
        self.progress = Reporter(Some(std::sync::Arc::new(f)));
        self
    }

    pub(crate) fn with_reporter(mut self, progress: Reporter) -> Backups {
        self.progress = progress;
        self
    }

    /// The backup directory.
    ///
    /// ```
    /// # let config: postgres::Config = "host=/tmp user=app dbname=shop".parse()?;
    /// let backups = migrate_postgres::Backups::new(&config, "/tmp/b");
    /// assert!(backups.dir().ends_with("b"));
    /// # Ok::<(), postgres::Error>(())
    /// ```
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes a verified backup now, from pg_dump's own snapshot; writers are not held off, so
    /// use [`Backups::back_up_in`] for the state a migration starts from. Refuses, before
    /// writing anything, when a tool is missing or older than the server, or the role cannot
    /// read every table.
    ///
    /// ```no_run
    /// # let config: postgres::Config = "host=/tmp user=app dbname=shop".parse()?;
    /// # let mut conn = migrate_postgres::Connection::from_config(&config)?;
    /// use migrate_postgres::{BackupKind, Backups};
    /// let backups = Backups::new(&config, "/var/backups/shop");
    /// let info = backups.back_up(&mut conn, BackupKind::Manual)?;
    /// println!("{}", info.path.display());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn back_up(&self, conn: &mut Connection, kind: BackupKind) -> Result<BackupInfo> {
        let tools = self.preflight(conn.client())?;
        write::write_backup(&self.target(&tools), &kind, None)
    }

    /// Takes a verified backup of exactly what `tx`'s transaction sees: every user table is
    /// locked `IN EXCLUSIVE MODE` in that transaction (writers wait until it ends; readers do
    /// not), its snapshot is exported and pg_dump reads that snapshot. The transaction stays
    /// open; run the migration in it and commit. `tx` is a [`postgres::Transaction`], or a
    /// [`postgres::Client`] after `BEGIN`. Call it before the transaction changes the schema of
    /// an existing table: pg_dump would wait for that table's lock (up to the lock wait).
    ///
    /// ```no_run
    /// # let config: postgres::Config = "host=/tmp user=app dbname=shop".parse()?;
    /// # let mut conn = migrate_postgres::Connection::from_config(&config)?;
    /// use migrate_postgres::{BackupKind, Backups};
    /// let backups = Backups::new(&config, "/var/backups/shop");
    /// let mut tx = conn.client().transaction()?;
    /// let info = backups.back_up_in(&mut tx, BackupKind::Automatic { reason: "pre-up".into() })?;
    /// tx.batch_execute("ALTER TABLE orders ADD COLUMN note text")?;
    /// tx.commit()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn back_up_in(&self, tx: &mut impl GenericClient, kind: BackupKind) -> Result<BackupInfo> {
        let tools = self.preflight(tx)?;
        let snapshot = exact::hold_writers_and_export(tx)?;
        write::write_backup(&self.target(&tools), &kind, Some(&snapshot))
    }

    /// Takes a named snapshot (never pruned). Names are ASCII letters, digits, `-` and `_`.
    ///
    /// ```no_run
    /// # let config: postgres::Config = "host=/tmp user=app dbname=shop".parse()?;
    /// # let mut conn = migrate_postgres::Connection::from_config(&config)?;
    /// let backups = migrate_postgres::Backups::new(&config, "/var/backups/shop");
    /// backups.snapshot(&mut conn, "before-v2")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn snapshot(&self, conn: &mut Connection, name: &str) -> Result<BackupInfo> {
        validate_snapshot_name(name).map_err(Error::InvalidSnapshotName)?;
        self.back_up(
            conn,
            BackupKind::Snapshot {
                name: name.to_owned(),
            },
        )
    }

    /// Every backup, snapshot and failed-state copy of this database, oldest first.
    ///
    /// ```no_run
    /// # let config: postgres::Config = "host=/tmp user=app dbname=shop".parse()?;
    /// let backups = migrate_postgres::Backups::new(&config, "/var/backups/shop");
    /// let newest = backups.list()?.pop();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn list(&self) -> Result<Vec<BackupInfo>> {
        list::backups(
            &self.dir,
            &list::Owner {
                source: &self.source,
                stem: &self.stem,
                legacy_stem: &self.legacy_stem,
            },
        )
    }

    /// The file `from` names, checked to exist. `Latest` is the newest backup or snapshot,
    /// never a failed-state copy (the broken state a failure left).
    ///
    /// ```no_run
    /// # let config: postgres::Config = "host=/tmp user=app dbname=shop".parse()?;
    /// use migrate_postgres::{Backups, RestoreFrom};
    /// let path = Backups::new(&config, "/var/backups/shop").locate(&RestoreFrom::Latest)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn locate(&self, from: &RestoreFrom) -> Result<PathBuf> {
        let found = match from {
            RestoreFrom::File(path) => Some(path.clone()),
            RestoreFrom::Latest | RestoreFrom::Snapshot(_) => {
                if let RestoreFrom::Snapshot(name) = from {
                    validate_snapshot_name(name).map_err(Error::InvalidSnapshotName)?;
                }
                self.list()?
                    .into_iter()
                    .rev()
                    .find(|b| from.chooses(&b.kind))
                    .map(|b| b.path)
            }
        };
        match found {
            Some(path) if path.is_file() => Ok(path),
            _ => Err(Error::NoBackup {
                wanted: from.wanted(),
                dir: self.dir.clone(),
            }),
        }
    }

    /// Deletes the snapshot `name` (every file of that name).
    ///
    /// ```no_run
    /// # let config: postgres::Config = "host=/tmp user=app dbname=shop".parse()?;
    /// migrate_postgres::Backups::new(&config, "/var/backups/shop").delete_snapshot("before-v2")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_snapshot(&self, name: &str) -> Result<()> {
        validate_snapshot_name(name).map_err(Error::InvalidSnapshotName)?;
        let doomed: Vec<BackupInfo> = self
            .list()?
            .into_iter()
            .filter(|b| b.kind.is_snapshot(name))
            .collect();
        if doomed.is_empty() {
            return Err(Error::NoBackup {
                wanted: format!("snapshot {name:?}"),
                dir: self.dir.clone(),
            });
        }
        for snapshot in doomed {
            std::fs::remove_file(&snapshot.path).map_err(|source| Error::BackupIo {
                doing: "cannot delete the snapshot",
                path: snapshot.path.clone(),
                source,
            })?;
            remove_meta(&snapshot.path);
        }
        write::sync_dir(&self.dir)
    }

    /// Applies the retention rule and returns what it deleted. Automatic backups and
    /// failed-state copies are pruned each in their own group; snapshots never; the files in
    /// `keep` (the backup an operation just wrote) never, whatever their names say about their
    /// age. A failure to delete is logged, never fatal. Call it when an operation is over.
    ///
    /// ```no_run
    /// # let config: postgres::Config = "host=/tmp user=app dbname=shop".parse()?;
    /// # let mut conn = migrate_postgres::Connection::from_config(&config)?;
    /// use migrate_postgres::{BackupKind, Backups};
    /// let backups = Backups::new(&config, "/var/backups/shop");
    /// let new = backups.back_up(&mut conn, BackupKind::Automatic { reason: "pre-up".into() })?;
    /// backups.prune(&[new.path.as_path()])?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prune(&self, keep: &[&Path]) -> Result<Vec<PathBuf>> {
        // Only backups whose metadata names this database: one without (an older version's,
        // named like another database's in the older naming) is never deleted automatically.
        let all: Vec<BackupInfo> = self
            .list()?
            .into_iter()
            .filter(|b| {
                migrate_core::backups::BackupMeta::read_for(&b.path)
                    .is_ok_and(|m| m.is_some_and(|m| m.source == self.source))
            })
            .collect();
        let mut removed = Vec::new();
        for old in retention::to_prune(&all, &self.retention, SystemTime::now()) {
            if keep.contains(&old.path.as_path()) {
                continue;
            }
            match std::fs::remove_file(&old.path) {
                Ok(()) => {
                    log::info!("old backup removed: {}", old.path.display());
                    remove_meta(&old.path);
                    removed.push(old.path);
                }
                Err(e) => log::warn!("cannot remove old backup {}: {e}", old.path.display()),
            }
        }
        if !removed.is_empty() {
            write::sync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    /// The highest migration seq the dump at `path` records as applied (in any set), read from
    /// its `<connection's schema>._migrate_applied` rows; `None` when it holds none. One
    /// `pg_restore` of that table per call: `migrate backups` shows it beside each file.
    ///
    /// ```no_run
    /// # let config: postgres::Config = "host=/tmp user=app dbname=shop".parse()?;
    /// # let mut conn = migrate_postgres::Connection::from_config(&config)?;
    /// let backups = migrate_postgres::Backups::new(&config, "/var/backups/shop");
    /// for b in backups.list()? {
    ///     println!("{} {:?}", b.path.display(), backups.schema_version(&mut conn, &b.path)?);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn schema_version(&self, conn: &mut Connection, path: &Path) -> Result<Option<u64>> {
        let tools = self.tools(conn.client())?;
        let schema = conn.schema().to_owned();
        list::schema_version(&tools, path, &schema)
    }

    /// Reads the dump at `path` back completely (`pg_restore -f /dev/null`); a truncated,
    /// corrupted or empty file is [`Error::BackupDamaged`].
    ///
    /// ```no_run
    /// # let config: postgres::Config = "host=/tmp user=app dbname=shop".parse()?;
    /// # let mut conn = migrate_postgres::Connection::from_config(&config)?;
    /// let backups = migrate_postgres::Backups::new(&config, "/var/backups/shop");
    /// backups.verify(&mut conn, std::path::Path::new("/var/backups/shop/x.dump"))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify(&self, conn: &mut Connection, path: &Path) -> Result<()> {
        self.check_checksum(path)?;
        let tools = self.tools(conn.client())?;
        verify::verify(&tools, path, &self.progress)
    }

    /// Compares the dump at `path` with the SHA-256 recorded beside it when it was written
    /// (`<dump>.meta`): [`Integrity::Damaged`] when its bytes changed since, which reading it
    /// back may not notice; [`Integrity::Unrecorded`] for a dump written by an older version.
    ///
    /// ```no_run
    /// # let config: postgres::Config = "host=/tmp user=app dbname=shop".parse()?;
    /// use migrate_postgres::{Backups, Integrity};
    /// let backups = Backups::new(&config, "/var/backups/shop");
    /// for b in backups.list()? {
    ///     if let Integrity::Damaged { .. } = backups.integrity(&b.path)? {
    ///         println!("damaged: {}", b.path.display());
    ///     }
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn integrity(&self, path: &Path) -> Result<Integrity> {
        checksum::integrity(path)
    }

    /// [`Error::BackupChecksumMismatch`] (naming the newest intact backup to use instead) when
    /// the bytes of `path` changed since it was written.
    pub(crate) fn check_checksum(&self, path: &Path) -> Result<()> {
        let Integrity::Damaged { expected, found } = checksum::integrity(path)? else {
            return Ok(());
        };
        let same = |b: &BackupInfo| {
            std::fs::canonicalize(&b.path).ok() == std::fs::canonicalize(path).ok()
        };
        let instead = self.list().ok().and_then(|all| {
            all.into_iter()
                .rev()
                .filter(|b| b.kind != BackupKind::FailedState && !same(b))
                .find(|b| checksum::integrity(&b.path).is_ok_and(|i| i == Integrity::Intact))
                .map(|b| b.path)
        });
        Err(Error::BackupChecksumMismatch {
            path: path.to_owned(),
            expected,
            found,
            instead,
        })
    }

    /// Restores `from` over the live database, under the migration lock the caller holds:
    /// the dump is read back completely, an undo backup (`pre-restore`) is taken, then ONE
    /// transaction drops every user schema with CASCADE, recreates `public` and replays the
    /// dump. Objects a failed migration created go with their schema; a failure rolls the
    /// whole transaction back and leaves the database as it was. Other sessions' table locks
    /// are waited for at most the connection's `lock_timeout`.
    ///
    /// Objects outside schemas that the dump creates (event triggers, publications, foreign
    /// data wrappers) must not exist already, or the replay fails (and changes nothing).
    ///
    /// ```no_run
    /// # let config: postgres::Config = "host=/tmp user=app dbname=shop".parse()?;
    /// # let mut conn = migrate_postgres::Connection::from_config(&config)?;
    /// use migrate_postgres::{Backups, RestoreFrom};
    /// let backups = Backups::new(&config, "/var/backups/shop");
    /// let mut lock = conn.lock()?;
    /// let report = backups.restore(&mut lock, &RestoreFrom::Snapshot("before-v2".into()))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn restore(&self, lock: &mut LockGuard<'_>, from: &RestoreFrom) -> Result<RestoreReport> {
        self.restore_with(lock, from, RestoreOptions::default())
    }

    /// [`Backups::restore`] with options: by default a dump that is neither one of this
    /// database's backups nor holds the tracking table of the connection's schema is refused
    /// ([`Error::RestoreRefused`]) before anything changes.
    ///
    /// ```no_run
    /// # let config: postgres::Config = "host=/tmp user=app dbname=shop".parse()?;
    /// # let mut conn = migrate_postgres::Connection::from_config(&config)?;
    /// use migrate_postgres::{Backups, RestoreFrom, RestoreOptions};
    /// let backups = Backups::new(&config, "/var/backups/shop");
    /// let mut lock = conn.lock()?;
    /// let from = RestoreFrom::File("/tmp/staging.dump".into());
    /// backups.restore_with(&mut lock, &from, RestoreOptions::default().allow_foreign_source())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn restore_with(
        &self,
        lock: &mut LockGuard<'_>,
        from: &RestoreFrom,
        options: RestoreOptions,
    ) -> Result<RestoreReport> {
        let file = self.locate(from)?;
        let (key, token) = (lock.key(), lock.token().to_owned());
        let undo = BackupKind::Automatic {
            reason: "pre-restore".into(),
        };
        self.restore_held(lock, (key, &token), file, options, undo)
    }

    /// [`Backups::restore_with`] of `file` on a connection that holds the migration lock
    /// `held` (key, session token): the protocol's automatic restore, whose lock is the run's,
    /// keeps the state it replaces as a `FailedState` copy (`undo`), never "the latest".
    pub(crate) fn restore_held(
        &self,
        lock: &mut Connection,
        held: (i64, &str),
        file: PathBuf,
        options: RestoreOptions,
        undo: BackupKind,
    ) -> Result<RestoreReport> {
        lock.check_lock_held(held.0, held.1)?;
        self.check_checksum(&file)?;
        let tools = self.tools(lock.client())?;
        verify::verify(&tools, &file, &self.progress)?;
        if !options.allow_foreign_source && !self.is_own(&file)? {
            let schema = lock.schema().to_owned();
            if !verify::lists_table(&tools, &file, &schema, crate::APPLIED_TABLE)? {
                return Err(Error::RestoreRefused {
                    path: file.clone(),
                    reason: format!(
                        "it is not one of this database's backups (in {}) and holds no \
                         {schema}.{} table, so it is not this application's database; \
                         restoring it would replace every schema here",
                        self.dir.display(),
                        crate::APPLIED_TABLE
                    ),
                    way_out: format!(
                        "check the file; if it is the right one, run `migrate restore {} \
                         --allow-foreign-source`",
                        migrate_core::protocol::shell_word(&file)
                    ),
                });
            }
        }
        let undo_backup = self.back_up(lock, undo)?;
        let client = lock.client();
        let server_major = tools::server_major(preflight::server_version_num(client)?);
        let live_schemas: Vec<String> = client
            .query(
                r"SELECT nspname::text FROM pg_namespace
                  WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema'
                  ORDER BY 1",
                &[],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let bootstrap_role: String = client
            .query_one("SELECT rolname::text FROM pg_roles WHERE oid = 10", &[])?
            .get(0);
        let preamble = restore::Preamble {
            live_schemas: &live_schemas,
            server_major,
            bootstrap_role: &bootstrap_role,
            lock_timeout: lock.settings().lock_timeout,
        };
        log::info!("restoring {} in one transaction", file.display());
        restore::replay(&tools, &self.config, &file, &preamble, &self.progress).map_err(
            |stderr| Error::RestoreFailed {
                from: file.clone(),
                stderr,
                undo_backup: undo_backup.path.clone(),
            },
        )?;
        log::info!("restored {}", file.display());
        Ok(RestoreReport {
            restored_from: file,
            undo_backup,
        })
    }

    /// True when `file` is one of the backups listed in this database's directory.
    fn is_own(&self, file: &Path) -> Result<bool> {
        let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_owned());
        Ok(self
            .list()?
            .iter()
            .any(|b| std::fs::canonicalize(&b.path).is_ok_and(|p| p == file)))
    }

    /// The tools for this server, or why there are none.
    fn tools(&self, client: &mut impl GenericClient) -> Result<tools::Tools> {
        let major = tools::server_major(preflight::server_version_num(client)?);
        let dirs = tools::search_dirs(self.tool_dirs.as_deref(), major);
        tools::find(&dirs, major)
    }

    /// Everything checked before a backup writes anything.
    fn preflight(&self, client: &mut impl GenericClient) -> Result<tools::Tools> {
        let tools = self.tools(client)?;
        preflight::check_readable(client, &self.config)?;
        Ok(tools)
    }

    /// The newest backup's size: what the next dump will likely weigh (0 when none or when
    /// nobody listens).
    fn estimate(&self) -> u64 {
        if !self.progress.is_on() {
            return 0;
        }
        self.list()
            .ok()
            .and_then(|all| all.last().map(|b| b.size))
            .unwrap_or(0)
    }

    fn target<'a>(&'a self, tools: &'a tools::Tools) -> write::Target<'a> {
        write::Target {
            tools,
            config: &self.config,
            dir: &self.dir,
            stem: &self.stem,
            source: &self.source,
            lock_wait: self.lock_wait,
            progress: &self.progress,
            estimate: self.estimate(),
        }
    }
}

/// Removes a deleted backup's metadata; a failure is logged (a stray `.meta` is never listed).
fn remove_meta(backup: &Path) {
    if let Err(e) = migrate_core::backups::BackupMeta::remove_for(backup) {
        log::warn!("cannot remove the metadata of {}: {e}", backup.display());
    }
}
