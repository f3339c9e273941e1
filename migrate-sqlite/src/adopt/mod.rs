//! Adopting a database another tool migrated (diesel, sqlx, refinery, rusqlite_migration):
//! read its record of what ran, match it to this binary's (imported) migrations, prove the live
//! schema is what those migrations build, then record them as applied in one transaction after
//! a verified backup. The other tool's table is left as it was.

mod matching;
mod upstream;
mod verify;

use crate::backup::{self, BackupKind};
use crate::lock::FileLock;
use crate::pragmas::BusyTimeout;
use crate::tracking::{self, HistoryEvent, RowValues};
use crate::{BackupInfo, Error, Migrator, Result, Step, fingerprint};
use migrate_core::Registry;
use rusqlite::{Connection, ErrorCode};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// The tool that migrated the database so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// diesel (`__diesel_schema_migrations`).
    Diesel,
    /// sqlx (`_sqlx_migrations`).
    Sqlx,
    /// refinery (`refinery_schema_history`).
    Refinery,
    /// rusqlite_migration (`PRAGMA user_version`).
    RusqliteMigration,
}

impl Tool {
    /// Its name on the command line (`--from rusqlite-migration`).
    ///
    /// ```
    /// assert_eq!(migrate_sqlite::Tool::RusqliteMigration.name(), "rusqlite-migration");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Tool::Diesel => "diesel",
            Tool::Sqlx => "sqlx",
            Tool::Refinery => "refinery",
            Tool::RusqliteMigration => "rusqlite-migration",
        }
    }

    /// Its tracking table (none for rusqlite_migration).
    ///
    /// ```
    /// assert_eq!(migrate_sqlite::Tool::Sqlx.table(), Some("_sqlx_migrations"));
    /// ```
    pub fn table(self) -> Option<&'static str> {
        match self {
            Tool::Diesel => Some("__diesel_schema_migrations"),
            Tool::Sqlx => Some("_sqlx_migrations"),
            Tool::Refinery => Some("refinery_schema_history"),
            Tool::RusqliteMigration => None,
        }
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Tool {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        [
            Tool::Diesel,
            Tool::Sqlx,
            Tool::Refinery,
            Tool::RusqliteMigration,
        ]
        .into_iter()
        .find(|t| t.name() == s || (s == "rusqlite_migration" && *t == Tool::RusqliteMigration))
        .ok_or_else(|| {
            format!("unknown tool {s:?}: expected diesel, sqlx, refinery or rusqlite-migration")
        })
    }
}

/// Why an adoption was refused (becomes [`Error::AdoptionRefused`]).
#[derive(Debug)]
pub(crate) struct Refusal(String);

impl Refusal {
    fn new(reason: String) -> Self {
        Refusal(reason)
    }
}

/// What an adoption recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdoptReport {
    /// The set.
    pub set: String,
    /// The tool the database came from.
    pub tool: Tool,
    /// The migrations recorded as applied: seq, name, and what the tool had recorded.
    pub adopted: Vec<(u64, String, String)>,
    /// The verified backup taken before anything was recorded.
    pub backup: BackupInfo,
    /// How many of the binary's migrations are left for `up`.
    pub pending: usize,
}

impl fmt::Display for AdoptReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last = self.adopted.last().map_or(0, |(seq, _, _)| *seq);
        write!(
            f,
            "set {:?}: adopted {} migration(s) that {} had applied (now at seq {last}); backup \
             taken before: {}",
            self.set,
            self.adopted.len(),
            self.tool,
            self.backup.path.display()
        )?;
        for (seq, name, upstream) in &self.adopted {
            write!(f, "\n  {seq:>5} {name:?}: {upstream}")?;
        }
        match self.pending {
            0 => write!(f, "\nnothing is pending"),
            n => write!(f, "\n{n} migration(s) pending: run `migrate up`"),
        }
    }
}

/// Adopts the database at `path` (see the module doc). Every refusal comes before anything is
/// written.
pub(crate) fn adopt(
    conn: &Connection,
    path: Option<&Path>,
    registry: &Registry<Step>,
    config: &Migrator,
    tool: Tool,
) -> Result<AdoptReport> {
    let refused = |Refusal(reason)| Error::AdoptionRefused {
        tool: tool.name().to_owned(),
        reason,
    };
    let Some(path) = path else {
        return Err(refused(Refusal::new(
            "the database is in memory: adopting needs a file, because it takes a backup first"
                .into(),
        )));
    };
    if !conn.is_autocommit() {
        return Err(Error::Unsupported(
            "the connection is inside a transaction; adopt before opening one".into(),
        ));
    }
    let _lock = FileLock::acquire(path, config.busy_timeout)?;
    let _timeout = BusyTimeout::set(conn, config.busy_timeout)?;
    match conn.execute_batch("BEGIN IMMEDIATE") {
        Ok(()) => {}
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => {
            return Err(Error::Locked {
                path: path.display().to_string(),
                waited_ms: config.busy_timeout.as_millis() as u64,
            });
        }
        Err(e) => return Err(e.into()),
    }
    let result = adopt_locked(conn, path, registry, config, tool);
    let end = match &result {
        Ok(Ok(_)) => "COMMIT",
        _ => "ROLLBACK",
    };
    if let Err(source) = conn.execute_batch(end) {
        let _ = conn.execute_batch("ROLLBACK");
        return Err(Error::Runner {
            doing: format!("{end} of the adoption (nothing is recorded unless it committed)"),
            path: path.display().to_string(),
            error: source,
        });
    }
    let report = result?.map_err(refused)?;
    // Retention never deletes the backup this adoption just named.
    backup::prune(path, &config.backups, &[report.backup.path.as_path()]);
    log::info!("{report}");
    Ok(report)
}

fn adopt_locked(
    conn: &Connection,
    path: &Path,
    registry: &Registry<Step>,
    config: &Migrator,
    tool: Tool,
) -> Result<std::result::Result<AdoptReport, Refusal>> {
    let set = registry.set();
    let already = tracking::read_plan_rows(conn, set)?;
    if !already.is_empty() {
        return Ok(Err(Refusal::new(format!(
            "set {set:?} already has {} migration(s) recorded by this framework: this database \
             was adopted or migrated before. `migrate status` shows where it stands",
            already.len()
        ))));
    }
    let recorded = match upstream::read(conn, tool)? {
        Ok(recorded) => recorded,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let matched = match matching::matched(tool, &recorded, registry.migrations()) {
        Ok(matched) => matched,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let live = verify::live_schema(conn, tool.table())?;
    let built = match verify::built_schema(config, &matched)? {
        Ok(built) => built,
        Err(refusal) => return Ok(Err(refusal)),
    };
    if let Some(refusal) = verify::compare(&live, &built) {
        return Ok(Err(refusal));
    }
    let backup = backup::take(
        conn,
        path,
        &config.backups,
        BackupKind::Automatic {
            reason: "pre-adopt".into(),
        },
    )?;
    record(conn, set, config, tool, &matched, &backup)?;
    Ok(Ok(AdoptReport {
        set: set.to_owned(),
        tool,
        adopted: matched
            .iter()
            .map(|m| {
                (
                    m.migration.seq,
                    m.migration.name.clone(),
                    m.upstream.clone(),
                )
            })
            .collect(),
        backup,
        pending: registry.migrations().len() - matched.len(),
    }))
}

/// The tracking rows, the history and the schema snapshot, inside the caller's transaction.
fn record(
    conn: &Connection,
    set: &str,
    config: &Migrator,
    tool: Tool,
    matched: &[matching::Matched<'_>],
    backup: &BackupInfo,
) -> Result<()> {
    let applied_by = config.applied_by();
    tracking::ensure_tables(conn)?;
    let source = tool
        .table()
        .map_or("user_version".to_owned(), |t| t.to_owned());
    for m in matched {
        let migration = m.migration;
        tracking::insert_applied(
            conn,
            &RowValues {
                set,
                seq: migration.seq,
                name: &migration.name,
                checksum: migration.checksum.to_string(),
                duration_ms: 0,
                applied_by: &applied_by,
            },
        )?;
        let event = HistoryEvent {
            set: set.to_owned(),
            seq: Some(migration.seq),
            name: Some(migration.name.clone()),
            action: "adopt".into(),
            outcome: "ok".into(),
            detail: Some(format!(
                "recorded as applied: {tool} had applied it ({}, in {source})",
                m.upstream
            )),
            backup_path: Some(backup.path.display().to_string()),
            ..HistoryEvent::default()
        };
        tracking::append_history(conn, &event, &applied_by)?;
    }
    let objects = fingerprint::objects(conn)?;
    fingerprint::store(conn, &objects)?;
    tracking::set_fingerprint(conn, set, &fingerprint::fingerprint(&objects))?;
    Ok(())
}
