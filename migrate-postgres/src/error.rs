//! The crate's one error type. Each message says what happened, what was kept, and what to run
//! next.

use std::fmt;

/// Result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A session holding the migration lock, as `pg_locks` ⨝ `pg_stat_activity` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockHolder {
    /// Backend pid (what `pg_terminate_backend` takes).
    pub pid: i32,
    /// The holder's `application_name`.
    pub application_name: String,
    /// `active`, `idle`, `idle in transaction`, ...
    pub state: String,
    /// Its current or last query.
    pub query: String,
}

impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pid {} (application_name {:?}, state {:?}, query {:?})",
            self.pid, self.application_name, self.state, self.query
        )
    }
}

/// Everything that can go wrong in the PostgreSQL backend.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A statement failed; the text carries PostgreSQL's message, SQLSTATE and detail.
    #[error("PostgreSQL error: {}", describe(.0))]
    Postgres(#[from] postgres::Error),

    /// The server could not be reached or refused the login.
    #[error(
        "cannot connect to {target}: {}. Nothing was changed. Check the URL (host, port, user, \
         database) and that the server runs, e.g. `{}`",
        describe(.source),
        crate::connection_target::psql_command(.target, "SELECT 1")
    )]
    Connect {
        /// The target as a libpq connection string (`host=... port=... user=... dbname=...`),
        /// password removed.
        target: String,
        /// The client's error.
        source: postgres::Error,
    },

    /// The URL does not parse.
    #[error(
        "invalid PostgreSQL connection URL: {detail}. Nothing was changed. Write it as \
         postgres://user@host:5432/database or host=/run/postgresql dbname=app"
    )]
    InvalidUrl {
        /// The parser's message.
        detail: String,
    },

    /// The server only looks like PostgreSQL.
    #[error(
        "the server is {engine} ({version}), not PostgreSQL: {why}. Nothing was changed. Run the \
         migrations against a PostgreSQL server"
    )]
    UnsupportedEngine {
        /// CockroachDB, YugabyteDB, ...
        engine: &'static str,
        /// What `version()` returned.
        version: String,
        /// What the backend needs that this engine lacks.
        why: &'static str,
    },

    /// The tracking schema name is not usable.
    #[error(
        "invalid tracking schema name {schema:?}: use 1 to 63 bytes without NUL, like \"public\" \
         or \"migrations\". Nothing was changed"
    )]
    InvalidSchema {
        /// The name given.
        schema: String,
    },

    /// Another session held the migration lock for the whole busy timeout.
    #[error(
        "the migration lock of schema {schema:?} is held by another session; waited {waited_ms} \
         ms. Holder: {}. Nothing was changed. If that run is alive, let it finish and start \
         again{}",
        holders_text(.holders),
        stuck_holder_text(.holders, .rerun, .conninfo)
    )]
    Locked {
        /// The tracking schema whose lock was wanted.
        schema: String,
        /// How long this session polled.
        waited_ms: u64,
        /// Who holds it (empty if it was released between the last try and the query).
        holders: Vec<LockHolder>,
        /// The command to run again once the lock is free (`migrate up` unless the command
        /// line knows better, e.g. `migrate plan` for a dry run).
        rerun: String,
        /// The server as a libpq connection string, password removed, for the `psql` command
        /// the message prints.
        conninfo: String,
    },

    /// This connection no longer holds its lock: a transaction pooler sits in between.
    #[error(
        "this connection no longer holds the migration lock of schema {schema:?} ({why}): it \
         goes through a transaction pooler such as PgBouncer in transaction mode, where session \
         locks do not work. The transaction was rolled back; nothing was changed. Connect \
         directly to PostgreSQL (the server's own port, not the pooler's) for migrations and run \
         `{rerun}` again"
    )]
    LockLost {
        /// The tracking schema.
        schema: String,
        /// Which check failed.
        why: &'static str,
        /// The command to run again (`migrate up` unless the command line knows better).
        rerun: String,
    },

    /// A migration's SQL ended the runner's transaction (`COMMIT`, `ROLLBACK`).
    #[error(
        "migration {seq} {name:?} ended the runner's transaction (a COMMIT or ROLLBACK in its \
         SQL); the commit guard refused it, so the whole batch was rolled back and nothing was \
         committed. Remove the COMMIT/ROLLBACK from the migration (or mark it \
         `transaction = false` if it must run outside a transaction), then run it again"
    )]
    TransactionEnded {
        /// The migration.
        seq: u64,
        /// Its name.
        name: String,
    },

    /// A migration waited for a table lock longer than `lock_timeout`, every attempt.
    #[error(
        "migration {seq} {name:?} could not get a table lock within lock_timeout ({lock_timeout_ms} \
         ms), {attempts} attempts: another session holds a conflicting lock. The migration was \
         rolled back to its savepoint; nothing of it was kept. See which sessions hold locks on \
         tables with `{}` (the one in a long transaction is the likely blocker), then run it \
         again",
        crate::connection_target::psql_command(.conninfo, BLOCKERS_SQL)
    )]
    LockTimeout {
        /// The migration.
        seq: u64,
        /// Its name.
        name: String,
        /// The lock_timeout of each attempt.
        lock_timeout_ms: u64,
        /// How many times it ran.
        attempts: u32,
        /// The server as a libpq connection string, password removed.
        conninfo: String,
    },

    /// A migration's own code failed.
    #[error(
        "migration {seq} {name:?} failed: {source}. It was rolled back to its savepoint; nothing of \
         it was kept. Fix the migration, then run it again"
    )]
    Step {
        /// The migration.
        seq: u64,
        /// Its name.
        name: String,
        /// What it returned.
        source: Box<Error>,
    },

    /// A deferred constraint failed at the end of a migration.
    #[error(
        "migration {seq} {name:?} left a deferred constraint violated: {}. It was rolled back to \
         its savepoint; nothing of it was kept. Fix the data or the migration, then run it \
         again",
        describe(.source)
    )]
    DeferredConstraint {
        /// The migration.
        seq: u64,
        /// Its name.
        name: String,
        /// PostgreSQL's error.
        source: postgres::Error,
    },

    /// INVALID indexes exist after a non-transactional migration (a failed concurrent build).
    #[error(
        "after migration {seq} {name:?} these indexes are INVALID, left by a failed CREATE INDEX \
         CONCURRENTLY (a rerun with IF NOT EXISTS would skip them silently): {}. Drop them with \
         {}, fix the cause (e.g. duplicate rows for a UNIQUE index), then run it again",
        .indexes.join(", "),
        drop_index_commands(.indexes, .conninfo)
    )]
    InvalidIndexes {
        /// The migration.
        seq: u64,
        /// Its name.
        name: String,
        /// `schema.index` names.
        indexes: Vec<String>,
        /// The server as a libpq connection string, password removed.
        conninfo: String,
    },

    /// A `transaction = false` migration failed: no transaction can undo what it ran.
    #[error(
        "migration {seq} {name:?} (transaction = false) failed: {source}. No transaction could \
         undo it: the statements before the failing one stay applied{}. Make the migration safe \
         to run twice (IF NOT EXISTS / IF EXISTS), then run it again",
        invalid_text(.invalid_indexes, .conninfo)
    )]
    NonTransactionalStep {
        /// The migration.
        seq: u64,
        /// Its name.
        name: String,
        /// What it returned.
        source: Box<Error>,
        /// INVALID indexes present after it (a failed concurrent build leaves one).
        invalid_indexes: Vec<String>,
        /// The server as a libpq connection string, password removed.
        conninfo: String,
    },

    /// `pg_dump`, `pg_restore` or `psql` was not found (checked before anything changes).
    #[error(
        "cannot back up or restore: no {tool} for PostgreSQL {server_major} (looked in {}). \
         Nothing was changed. Install the client tools of the server's major version, e.g. \
         `apt-get install postgresql-client-{server_major}`, then run the command again",
        .looked_in.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    BackupToolMissing {
        /// `pg_dump`, `pg_restore` or `psql`.
        tool: &'static str,
        /// The server's major version.
        server_major: u32,
        /// The directories searched.
        looked_in: Vec<std::path::PathBuf>,
    },

    /// The tool found is older than the server (pg_dump refuses newer servers).
    #[error(
        "cannot back up or restore: {} is version {tool_version} but the server is PostgreSQL \
         {server_major}; {tool} cannot read a newer server. Nothing was changed. Install \
         `postgresql-client-{server_major}` (its tools go to /usr/lib/postgresql/{server_major}/bin, \
         looked at first), then run the command again",
        .path.display()
    )]
    BackupToolVersion {
        /// `pg_dump`, `pg_restore` or `psql`.
        tool: &'static str,
        /// The binary found.
        path: std::path::PathBuf,
        /// What `--version` printed (its version part).
        tool_version: String,
        /// The server's major version.
        server_major: u32,
    },

    /// The role cannot read everything a backup must hold.
    #[error(
        "cannot back up: role {role:?} may not read {}. Nothing was changed and no backup was \
         written. Back up as the owner of these objects, or let the role read them (as their \
         owner: {}), then run the command again",
        .objects.join(", "),
        .grants.iter().map(|g| format!("`{g}`")).collect::<Vec<_>>().join(" and ")
    )]
    BackupPrivileges {
        /// The connection's role.
        role: String,
        /// `schema.object` it may not read (schemas without USAGE are listed as `schema`).
        objects: Vec<String>,
        /// The commands that let the role read them: `psql` to the same server as the
        /// objects' owner, with the GRANTs (one command per owner), password removed.
        grants: Vec<String>,
    },

    /// A backup tool exited with an error; its partial output was removed.
    #[error(
        "{tool} failed ({status}) while writing a backup into {}: {}. Nothing was changed in the \
         database; the unfinished file was removed. Fix the cause, then run `migrate backup`",
        .dir.display(), .stderr.trim()
    )]
    BackupTool {
        /// The tool.
        tool: &'static str,
        /// Its exit status.
        status: String,
        /// What it printed on stderr.
        stderr: String,
        /// The backup directory.
        dir: std::path::PathBuf,
    },

    /// A dump could not be read back completely (truncated, corrupted, empty, not a dump).
    #[error(
        "backup {} is damaged or not a pg_dump archive: `pg_restore -f /dev/null` said: {}. It \
         was not used and nothing was changed. Run `migrate backups`: it lists the other \
         backups with their paths; restore one of them by giving its path to migrate restore",
        .path.display(), .stderr.trim()
    )]
    BackupDamaged {
        /// The file.
        path: std::path::PathBuf,
        /// pg_restore's message.
        stderr: String,
    },

    /// A file operation of a backup failed.
    #[error("{doing} {}: {source}. Nothing was changed in the database", .path.display())]
    BackupIo {
        /// What was being done.
        doing: &'static str,
        /// The file or directory.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },

    /// An exact backup was asked for in a transaction that cannot give one.
    #[error(
        "cannot take an exact backup here: {why}. Nothing was backed up and nothing was \
         changed. Call it right after BEGIN, on the connection that will run the migrations"
    )]
    BackupNotInTransaction {
        /// What is wrong.
        why: &'static str,
    },

    /// A snapshot name that could escape the backup directory or is otherwise unusable.
    #[error("{0}. Nothing was changed")]
    InvalidSnapshotName(String),

    /// No backup matched.
    #[error(
        "there is no {wanted} in {}; nothing was changed. `migrate backups` lists what there is",
        .dir.display()
    )]
    NoBackup {
        /// What was asked for.
        wanted: String,
        /// Where we looked.
        dir: std::path::PathBuf,
    },

    /// The restore transaction failed and was rolled back.
    #[error(
        "restore from {} failed: {}. It ran in one transaction, which was rolled back: the \
         database is exactly as it was before. The state before the restore is also kept in {}. \
         Fix the cause, then run `migrate restore {}` again",
        .from.display(), .stderr.trim(), .undo_backup.display(),
        migrate_core::protocol::shell_word(.from)
    )]
    RestoreFailed {
        /// The backup being restored.
        from: std::path::PathBuf,
        /// What psql (or pg_restore) printed.
        stderr: String,
        /// The undo backup taken just before.
        undo_backup: std::path::PathBuf,
    },

    /// A restore refused its source before anything changed: a dump that is not one of this
    /// database's backups and holds no tracking table of this schema (another app's dump would
    /// replace every schema of this database).
    #[error(
        "refused to restore from {}: {reason}. Nothing was changed. To go on: {way_out}",
        .path.display()
    )]
    RestoreRefused {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
        /// What to do.
        way_out: String,
    },

    /// The run protocol refused before changing anything (`down` further than what is applied,
    /// a transactional migration recorded as started, nothing to redo, ...).
    #[error("{0}")]
    Refused(migrate_core::protocol::Refusal),

    /// The migrations or the plan refused (checksums, order, database ahead, irreversible in
    /// the way of `down`); nothing was changed.
    #[error(transparent)]
    Core(#[from] migrate_core::Error),

    /// A migration failed; `outcome` says what the run kept (read back from the tracking rows)
    /// and what to run next.
    #[error("migration {seq} {name:?} of set {set:?} failed ({direction}): {source}. {outcome}")]
    MigrationFailed {
        /// Its set.
        set: String,
        /// Its seq.
        seq: u64,
        /// Its name.
        name: String,
        /// Applying or reverting.
        direction: migrate_core::Direction,
        /// Why.
        source: Box<Error>,
        /// What was kept, and what to do.
        outcome: String,
    },

    /// The run's final commit failed: nothing of it was kept.
    #[error("committing the run failed: {error}. {outcome}")]
    CommitFailed {
        /// Why the commit failed.
        error: Box<Error>,
        /// What is recorded now.
        outcome: String,
    },

    /// An operation this backend cannot do (yet), or a request that does not apply; nothing
    /// was changed.
    #[error("{0}")]
    Unsupported(String),

    /// A failure a rollback could not undo was not restored automatically: since the backup,
    /// rows were written that restoring would delete.
    #[error(
        "the database was not restored automatically from {}: since that backup was taken, \
         these tables were written by other sessions or by the failed migration itself, and \
         restoring would delete those rows: {}. Save what must be kept, then restore the backup \
         (`migrate restore {}`)",
        backup.display(), written.join(", "), migrate_core::protocol::shell_word(.backup)
    )]
    RestoreNotAutomatic {
        /// The backup that would undo the failure.
        backup: std::path::PathBuf,
        /// The tables written since, each with what changed.
        written: Vec<String>,
    },

    /// The test harness found a problem with a migration (`testing::Harness`): its seq, name
    /// and what is wrong.
    #[error(transparent)]
    CheckFailed(#[from] migrate_core::harness::CheckFailure),

    /// The test harness needs the test server and there is none.
    #[error(
        "no PostgreSQL server binaries for the test harness (looked for \
         /usr/lib/postgresql/*/bin/initdb, `pg_config --bindir` and MIGRATE_PG_BIN): install \
         them with `apt-get install -y --no-install-recommends postgresql`, then run the tests \
         again"
    )]
    NoTestServer,

    /// A dump could not be loaded into the test database meant to upgrade a copy of it.
    #[error(
        "cannot load {} into a fresh test database: pg_restore said: {}. The file was only \
         read and no other database was touched. Check that it is a `pg_dump -Fc` archive with \
         `pg_restore --list {}`",
        .dump.display(), .stderr.trim(), migrate_core::protocol::shell_word(.dump)
    )]
    UpgradeCopyFailed {
        /// The dump.
        dump: std::path::PathBuf,
        /// What pg_restore printed.
        stderr: String,
    },

    /// Sessions on a test template database did not end.
    #[error(
        "the template database {template:?} still has {sessions} sessions after they were \
         ended; a copy needs none. Find them with `{}`",
        crate::connection_target::psql_command(
            .conninfo,
            &format!(
                "SELECT pid, application_name, state FROM pg_stat_activity WHERE datname = {}",
                crate::connection::quote_literal(.template)
            )
        )
    )]
    TemplateBusy {
        /// The template.
        template: String,
        /// Sessions left.
        sessions: i64,
        /// The server's maintenance database as a libpq connection string (the template
        /// refuses connections), password removed.
        conninfo: String,
    },

    /// A migration's code panicked; it was handled like any failure (rolled back with its
    /// savepoint or transaction), as on SQLite.
    #[error("the migration's code panicked: {message}")]
    Panicked {
        /// The panic message.
        message: String,
    },
    /// A migration that does not declare `destructive` left a table gone (`DROP TABLE`,
    /// `DROP SCHEMA … CASCADE`); a transactional one was rolled back to its savepoint.
    ///
    /// ```
    /// let e = migrate_postgres::Error::UndeclaredDestruction {
    ///     seq: 4,
    ///     lost: vec!["DROP TABLE public.notes".into()],
    ///     statements: vec!["DROP TABLE notes".into()],
    ///     rolled_back: true,
    /// };
    /// assert!(e.to_string().contains("DROP TABLE public.notes"));
    /// ```
    #[error(
        "the migration drops or deletes data without declaring it: {} ({}). {}If that is \
         intended, declare it (`#[migration(seq = {seq}, destructive)]`), or allow it for this \
         run (`--allow-destructive`). (A table dropped and recreated under the same \
         name in the same migration, with no fewer rows and no column data lost, needs no \
         declaration.)",
        lost.join(", "), crate::guard::by(statements), kept_text(*rolled_back)
    )]
    UndeclaredDestruction {
        /// Its seq.
        seq: u64,
        /// What is gone, e.g. `DROP TABLE public.notes`.
        lost: Vec<String>,
        /// The statements it sent that did it.
        statements: Vec<String>,
        /// True when it ran in a transaction and was rolled back to its savepoint.
        rolled_back: bool,
    },

    /// The row-count guard: a migration left a table with fewer rows than it found, without
    /// declaring that it removes data; it was rolled back to its savepoint.
    ///
    /// ```
    /// use migrate_postgres::{Error, RowCount};
    /// let e = Error::RowsLost {
    ///     seq: 7,
    ///     tables: vec![RowCount { table: "public.notes".into(), before: Some(10), after: Some(8) }],
    ///     statements: vec!["DELETE FROM notes WHERE id > 8".into()],
    /// };
    /// assert!(e.to_string().contains("public.notes 10 -> 8 (2 rows lost)"));
    /// ```
    #[error(
        "the migration left fewer rows than it found: {} ({}), and it does not declare that it \
         removes data. It was rolled back to its savepoint; nothing of it was kept. Look for a \
         DELETE, a TRUNCATE, or a copy that skipped some rows. If the rows are meant to go, \
         declare it (`#[migration(seq = {seq}, destructive)]`) or allow it for this run \
         (`--allow-destructive`)",
        tables.iter().map(|c| format!("{c} ({} rows lost)", c.lost().unwrap_or(0))).collect::<Vec<_>>().join(", "),
        crate::guard::by(statements)
    )]
    RowsLost {
        /// Its seq.
        seq: u64,
        /// The tables that lost rows, with their counts before and after.
        tables: Vec<crate::RowCount>,
        /// The statements it sent that may have done it.
        statements: Vec<String>,
    },

    /// A migration removed the values of a column (`DROP COLUMN` of a column holding values,
    /// a table recreated without it) without declaring that it removes data; it was rolled
    /// back to its savepoint.
    ///
    /// ```
    /// let e = migrate_postgres::Error::ColumnDataLost {
    ///     seq: 4,
    ///     columns: vec!["public.people.email".into()],
    ///     statements: vec!["ALTER TABLE people DROP COLUMN email".into()],
    ///     rolled_back: true,
    /// };
    /// assert!(e.to_string().contains("public.people.email"));
    /// ```
    #[error(
        "the migration removed the values of {} (the column is gone) ({}), and it does not \
         declare that it removes data. {}If a rebuild meant to keep it, copy the column into \
         the new table; if the values are meant to go, declare it (`#[migration(seq = {seq}, \
         destructive)]`) or allow it for this run (`--allow-destructive`)",
        columns.join(", "), crate::guard::by(statements), kept_text(*rolled_back)
    )]
    ColumnDataLost {
        /// Its seq.
        seq: u64,
        /// The columns, as `schema.table.column`.
        columns: Vec<String>,
        /// The statements it sent that did it.
        statements: Vec<String>,
        /// True when it ran in a transaction and was rolled back to its savepoint.
        rolled_back: bool,
    },

    /// A migration's statement failed and its code dropped the error (it returned `Ok`, or
    /// the error of a later statement, which PostgreSQL refused because the transaction was
    /// aborted: 25P02); nothing after that statement ran.
    #[error(
        "migration {seq} {name:?} ignored the error of one of its statements{}: its code went \
         on as if it had succeeded, but PostgreSQL aborted the transaction there and ignores \
         every statement after a failed one. It was rolled back to its savepoint; nothing of it \
         was kept. Return the statement's error (`?`) in the migration, fix what failed, and \
         run it again",
        statement_error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default()
    )]
    StepIgnoredError {
        /// The migration.
        seq: u64,
        /// Its name.
        name: String,
        /// The statement that failed first, with PostgreSQL's error (`None` when it was not
        /// sent through the migration's `Tx`).
        statement_error: Option<String>,
    },

    /// Without row counts (`Migrator::without_row_counts`, `--no-row-counts`): a migration
    /// that does not declare `destructive` sent a statement that deletes rows, or dropped a
    /// table without recreating it under its name in a migration declared `rebuild`. It was
    /// rolled back to its savepoint.
    ///
    /// ```
    /// let e = migrate_postgres::Error::DestructiveWithoutRowCounts {
    ///     seq: 5,
    ///     lost: vec!["rows deleted".into()],
    ///     statements: vec!["DELETE FROM notes WHERE id > 3".into()],
    /// };
    /// assert!(e.to_string().contains("DELETE FROM notes WHERE id > 3"));
    /// ```
    #[error(
        "migration {seq} removes data without declaring it: {} ({}). Rows are not counted in \
         this run (`without_row_counts`, `--no-row-counts`), so every statement that deletes \
         rows, and every table dropped that a migration declared `rebuild` does not recreate \
         under its name, needs the declaration. It was rolled back to its savepoint; nothing \
         of it was kept. If that is intended, declare it (`#[migration(seq = {seq}, \
         destructive)]`) or allow it for this run (`--no-row-counts --allow-destructive`); \
         with row counts on (without `--no-row-counts`), a migration that keeps every row \
         passes without the declaration.",
        lost.join(", "), crate::guard::by(statements)
    )]
    DestructiveWithoutRowCounts {
        /// Its seq.
        seq: u64,
        /// What is gone, e.g. `table public.notes dropped`, `rows deleted`.
        lost: Vec<String>,
        /// The statements it sent that did it.
        statements: Vec<String>,
    },

    /// A backup's bytes changed since it was written and verified: its SHA-256 is not the one
    /// recorded beside it (`<backup>.meta`). `pg_restore -f /dev/null` may still accept it
    /// (bytes overwritten inside SQL text fail only when replayed), so it is never restored.
    #[error(
        "backup {} is damaged: its SHA-256 is {found}, but {expected} was recorded when it was \
         written and verified, so its bytes changed since. It was not used and nothing was \
         changed. {}",
        .path.display(),
        match .instead {
            Some(other) => format!(
                "Restore the newest intact backup instead: `migrate restore {}` (`migrate \
                 backups` lists them all)",
                migrate_core::protocol::shell_word(other)
            ),
            None => "No other intact backup of this database was found: `migrate backups` \
                     lists what there is".to_owned(),
        }
    )]
    BackupChecksumMismatch {
        /// The damaged file.
        path: std::path::PathBuf,
        /// The SHA-256 recorded when it was written.
        expected: String,
        /// Its SHA-256 now.
        found: String,
        /// The newest other backup of this database whose checksum matches, if any.
        instead: Option<std::path::PathBuf>,
    },

    /// The runner's transaction did not commit: its session or connection was lost before the
    /// commit (ended by `pg_terminate_backend`, by `idle_in_transaction_session_timeout`, a
    /// server shutdown, the network), or PostgreSQL refused the COMMIT (a deferred constraint
    /// checked then, a serialization failure). PostgreSQL keeps nothing of a transaction that
    /// did not commit.
    ///
    /// ```
    /// let e = migrate_postgres::Error::CommitLost {
    ///     doing: "committing the run".into(),
    ///     cause: "the connection to the server was lost".into(),
    ///     migrations: vec!["2 \"add_email\" (up)".into()],
    /// };
    /// assert!(e.to_string().contains("2 \"add_email\" (up)"));
    /// ```
    #[error(
        "{cause}, while {doing}: the runner's transaction did not commit, and PostgreSQL kept \
         nothing of it{}",
        held_text(.migrations)
    )]
    CommitLost {
        /// Which commit (`committing the run`, `committing` before a `transaction = false`
        /// migration or a chunk).
        doing: String,
        /// Why, with PostgreSQL's message and SQLSTATE.
        cause: String,
        /// The migrations whose work the transaction held, as `seq "name" (direction)`.
        migrations: Vec<String>,
    },
}

/// ": it held 2 "a" (up), 3 "b" (up): none of their work or tracking rows was kept".
fn held_text(migrations: &[String]) -> String {
    if migrations.is_empty() {
        return String::new();
    }
    format!(
        "; it held {}: none of their work or tracking rows was kept",
        migrations.join(", ")
    )
}

/// Why a commit did not happen, from the error met at it: the session ended (by whom, when
/// PostgreSQL says), the connection lost, or the COMMIT refused.
pub(crate) fn commit_cause(e: &postgres::Error) -> String {
    let code = e.code().map(|c| c.code().to_owned());
    match code.as_deref() {
        Some("57P01") => format!(
            "the server ended the runner's session before its commit (ended by \
             pg_terminate_backend from another session, or a server shutdown: {})",
            describe(e)
        ),
        Some("25P03") => format!(
            "the server ended the runner's session before its commit: it stayed idle in its \
             transaction longer than idle_in_transaction_session_timeout ({}); raise that \
             setting for the migration's role, or keep migrations and their hooks from pausing",
            describe(e)
        ),
        Some(code) if code.starts_with("57") || code.starts_with("08") => format!(
            "the runner's session or connection ended before its commit ({})",
            describe(e)
        ),
        Some(code) if code.starts_with("23") => {
            format!("a deferred constraint failed at COMMIT ({})", describe(e))
        }
        Some("40001") | Some("40P01") => format!(
            "PostgreSQL refused the COMMIT to keep concurrent transactions consistent ({})",
            describe(e)
        ),
        Some(_) => format!("PostgreSQL refused the COMMIT ({})", describe(e)),
        None if e.is_closed() => format!(
            "the connection to the server was lost before the commit ({e}); the session may \
             have been ended by pg_terminate_backend, idle_in_transaction_session_timeout, a \
             server restart or the network"
        ),
        None => format!("the commit could not be sent ({e})"),
    }
}

/// A session or connection that is gone (as opposed to a statement that failed in it).
pub(crate) fn session_lost(e: &postgres::Error) -> bool {
    match e.code().map(|c| c.code()) {
        Some(code) => code == "25P03" || code.starts_with("57") || code.starts_with("08"),
        None => e.is_closed() || e.as_db_error().is_none(),
    }
}

/// What a refused migration kept.
fn kept_text(rolled_back: bool) -> &'static str {
    if rolled_back {
        "It was rolled back to its savepoint; nothing of it was kept. "
    } else {
        "It ran outside a transaction, so no rollback could undo it. "
    }
}

impl From<migrate_core::protocol::Refusal> for Error {
    fn from(refusal: migrate_core::protocol::Refusal) -> Self {
        Error::Refused(refusal)
    }
}

impl Error {
    /// The SQLSTATE of a PostgreSQL error, if this is one.
    ///
    /// ```
    /// let e = migrate_postgres::Error::InvalidSchema { schema: String::new() };
    /// assert_eq!(e.sqlstate(), None);
    /// ```
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Error::Postgres(e) | Error::DeferredConstraint { source: e, .. } => {
                e.code().map(|c| c.code())
            }
            Error::Connect { source, .. } => source.code().map(|c| c.code()),
            Error::Step { source, .. }
            | Error::NonTransactionalStep { source, .. }
            | Error::MigrationFailed { source, .. } => source.sqlstate(),
            _ => None,
        }
    }
}

/// PostgreSQL's message with its SQLSTATE, detail and hint, or the client's own text.
pub(crate) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!("{} (SQLSTATE {})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                text.push_str(&format!("; detail: {detail}"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            text
        }
        None => e.to_string(),
    }
}

fn invalid_text(indexes: &[String], conninfo: &str) -> String {
    if indexes.is_empty() {
        return String::new();
    }
    format!(
        ", and it left INVALID indexes that a rerun with IF NOT EXISTS would skip: {}; drop \
         them first with {}",
        indexes.join(", "),
        drop_index_commands(indexes, conninfo)
    )
}

/// The sessions holding locks on this database's tables, oldest transaction first, for
/// [`Error::LockTimeout`]: run after the migration gave up, so nobody waits any more and
/// `pg_blocking_pids` would show no one; the blocker is still holding its lock.
const BLOCKERS_SQL: &str = "SELECT a.pid, a.state, a.xact_start, l.relation::regclass AS \
                            locked_table, l.mode, a.query FROM pg_locks l JOIN pg_stat_activity a \
                            ON a.pid = l.pid WHERE l.locktype = 'relation' AND l.granted AND \
                            l.relation >= 16384 AND a.pid <> pg_backend_pid() AND a.datname = \
                            current_database() ORDER BY a.xact_start";

/// One backticked `psql … -c 'DROP INDEX CONCURRENTLY …'` per index (the statement takes one
/// index at a time and refuses a transaction block).
fn drop_index_commands(indexes: &[String], conninfo: &str) -> String {
    indexes
        .iter()
        .map(|index| {
            let sql = format!("DROP INDEX CONCURRENTLY IF EXISTS {index}");
            format!(
                "`{}`",
                crate::connection_target::psql_command(conninfo, &sql)
            )
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

fn stuck_holder_text(holders: &[LockHolder], rerun: &str, conninfo: &str) -> String {
    match holders.first() {
        Some(h) => format!(
            "; if it is stuck, end it with `{}` and run `{rerun}` again",
            crate::connection_target::psql_command(
                conninfo,
                &format!("SELECT pg_terminate_backend({})", h.pid)
            )
        ),
        None => format!(": run `{rerun}` again"),
    }
}

fn holders_text(holders: &[LockHolder]) -> String {
    if holders.is_empty() {
        return "none any more (it was released just now)".into();
    }
    holders
        .iter()
        .map(LockHolder::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
