//! Rehearsal: run a changing operation on a copy of the live database and report what it did,
//! leaving the live file untouched. The copy is made with SQLite's backup API (consistent under
//! concurrent writers) into a temporary directory of its own, which is deleted afterwards.

use crate::tx::quote_ident;
use crate::{Error, FkViolation, Migrator, Result, RowCount, RunReport};
use migrate_core::DownTarget;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The operation to rehearse.
///
/// ```
/// use migrate_sqlite::{DownTarget, Rehearsal};
/// assert_eq!(Rehearsal::Down(DownTarget::Steps(2)).to_string(), "down --steps 2");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rehearsal {
    /// `up`, or `up_to(seq)`.
    Up(Option<u64>),
    /// `down(steps)` or `down_to(seq)`.
    Down(DownTarget),
    /// `redo`.
    Redo,
}

impl fmt::Display for Rehearsal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rehearsal::Up(None) => f.write_str("up"),
            Rehearsal::Up(Some(seq)) => write!(f, "up --to {seq}"),
            Rehearsal::Down(DownTarget::Steps(n)) => write!(f, "down --steps {n}"),
            Rehearsal::Down(DownTarget::To(seq)) => write!(f, "down --to {seq}"),
            Rehearsal::Redo => f.write_str("redo"),
        }
    }
}

/// What a rehearsal did on the copy.
#[derive(Debug)]
pub struct RehearsalReport {
    /// What was rehearsed.
    pub operation: Rehearsal,
    /// The live database (untouched).
    pub database: PathBuf,
    /// The run's report, or the error it failed with on the copy.
    pub outcome: Result<RunReport>,
    /// Wall time of the operation on the copy (backup of the copy included, as on the live
    /// database).
    pub duration: Duration,
    /// Rows of every user table before and after, on the copy.
    pub row_counts: Vec<RowCount>,
    /// `integrity_check` of the copy afterwards (`"ok"` when sound).
    pub integrity: String,
    /// Foreign key violations in the copy afterwards.
    pub foreign_key_violations: Vec<FkViolation>,
}

impl RehearsalReport {
    /// True when the operation succeeded and left the copy sound.
    ///
    /// ```
    /// # use migrate_sqlite::{Migration, Migrator, Rehearsal, Step};
    /// # let dir = tempfile::tempdir()?;
    /// # let db = dir.path().join("app.db");
    /// # rusqlite::Connection::open(&db)?;
    /// let migrator = Migrator::new()
    ///     .with_migrations([Migration::new(1, "broken", Step::sql("SELECT * FROM missing"))]);
    /// let report = migrator.rehearse(&db, Rehearsal::Up(None))?;
    /// assert!(!report.is_ok());
    /// assert!(report.to_string().contains("FAILED on the copy"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_ok(&self) -> bool {
        self.outcome.is_ok() && self.integrity == "ok" && self.foreign_key_violations.is_empty()
    }
}

impl fmt::Display for RehearsalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "rehearsal of `migrate {}` on a copy of {} (the copy is deleted; the database itself \
             was not touched)",
            self.operation,
            self.database.display()
        )?;
        match &self.outcome {
            Ok(report) => {
                writeln!(f, "{report}")?;
                writeln!(f, "took {:.1?} on the copy", self.duration)?;
            }
            Err(e) => writeln!(
                f,
                "FAILED on the copy after {:.1?}: {e}\n(any file or command named above refers \
                 to the deleted copy; the database itself is untouched: fix the migration, then \
                 rehearse again: `migrate rehearse {}`)",
                self.duration, self.operation
            )?,
        }
        let changed: Vec<String> = self
            .row_counts
            .iter()
            .filter(|c| c.changed())
            .map(|c| c.to_string())
            .collect();
        if changed.is_empty() {
            writeln!(f, "rows: no table changed its number of rows")?;
        } else {
            writeln!(f, "rows: {}", changed.join(", "))?;
        }
        writeln!(f, "integrity_check after: {}", self.integrity)?;
        if self.foreign_key_violations.is_empty() {
            write!(f, "foreign keys after: ok")?;
        } else {
            write!(
                f,
                "foreign keys after: {} violation(s): {}",
                self.foreign_key_violations.len(),
                self.foreign_key_violations
                    .iter()
                    .take(10)
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
        }
        if self.is_ok() {
            write!(f, "\nto do it for real: migrate {}", self.operation)?;
        }
        Ok(())
    }
}

/// A temporary directory, removed when dropped (also on error paths).
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "migrate-rehearsal-{}-{nanos:09}",
            std::process::id()
        ));
        std::fs::create_dir(&dir).map_err(|source| Error::Io {
            doing: "cannot create the rehearsal directory".into(),
            path: dir.clone(),
            error: source,
        })?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            log::warn!("cannot remove the rehearsal copy {}: {e}", self.0.display());
        }
    }
}

impl Migrator {
    /// Runs `operation` on a copy of the database at `db` (made with SQLite's backup API in a
    /// temporary directory) with this migrator's settings, and reports the steps, the time, the
    /// row counts of every table before and after, and `integrity_check` and
    /// `foreign_key_check` afterwards. The copy is deleted; the live file is only read. A
    /// failure of the operation is in [`RehearsalReport::outcome`], not an error of this call.
    /// Event hooks ([`on_event`](Migrator::on_event)) are not called for the copy.
    ///
    /// ```
    /// use migrate_sqlite::{Migration, Migrator, Rehearsal, Step};
    /// let dir = tempfile::tempdir()?;
    /// let db = dir.path().join("app.db");
    /// let migrator = Migrator::new().with_migrations([
    ///     Migration::new(1, "t", Step::sql("CREATE TABLE t (x); INSERT INTO t VALUES (1)")),
    /// ]);
    /// rusqlite::Connection::open(&db)?;
    /// let before = std::fs::read(&db)?;
    /// let report = migrator.rehearse(&db, Rehearsal::Up(None))?;
    /// assert_eq!(report.outcome.as_ref().unwrap().steps.len(), 1);
    /// assert_eq!(report.row_counts[0].after, Some(1));
    /// assert_eq!(std::fs::read(&db)?, before);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rehearse(&self, db: impl AsRef<Path>, operation: Rehearsal) -> Result<RehearsalReport> {
        let db = db.as_ref();
        if !db.is_file() {
            return Err(Error::NoDatabase {
                path: db.to_owned(),
            });
        }
        let scratch = Scratch::new()?;
        let copy = scratch.0.join("rehearsal.db");
        copy_database(db, &copy, self.busy_timeout)?;
        // Backups of the copy go beside the copy: the rehearsal times the real work, and
        // nothing is written near the live database.
        let mut migrator = self.clone().backup_dir(scratch.0.join("backups"));
        // The application's event hooks are for real runs: an event names no database, so a
        // hook would take the copy's "batch finished" for the live database's.
        migrator.hooks = crate::hooks::Hooks::default();
        let before = count_rows(&Connection::open(&copy)?)?;
        let started = Instant::now();
        let outcome = migrator
            .open_existing(&copy)
            .and_then(|mut session| match operation {
                Rehearsal::Up(None) => session.up(),
                Rehearsal::Up(Some(seq)) => session.up_to(seq),
                Rehearsal::Down(DownTarget::Steps(n)) => session.down(n),
                Rehearsal::Down(DownTarget::To(seq)) => session.down_to(seq),
                Rehearsal::Redo => session.redo(),
            });
        let duration = started.elapsed();
        let conn = Connection::open(&copy)?;
        let after = count_rows(&conn)?;
        let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        let foreign_key_violations = crate::foreign_keys::violations(&conn)?;
        Ok(RehearsalReport {
            operation,
            database: db.to_owned(),
            outcome,
            duration,
            row_counts: pair_counts(before, after),
            integrity,
            foreign_key_violations,
        })
    }
}

/// Copies the database at `from` to the new file `to` with the backup API, in one step (a
/// consistent snapshot even while others write).
fn copy_database(from: &Path, to: &Path, timeout: Duration) -> Result<()> {
    let source =
        Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|source| {
            Error::Open {
                path: from.to_owned(),
                error: source,
            }
        })?;
    source.busy_timeout(timeout)?;
    let mut target = Connection::open(to).map_err(|source| Error::Open {
        path: to.to_owned(),
        error: source,
    })?;
    let failed = |source| Error::Runner {
        doing: format!("copying it for a rehearsal into {}", to.display()),
        path: from.display().to_string(),
        error: source,
    };
    let started = Instant::now();
    let backup = Backup::new(&source, &mut target).map_err(failed)?;
    loop {
        match backup.step(-1).map_err(failed)? {
            StepResult::Done => return Ok(()),
            _ if started.elapsed() < timeout => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                return Err(Error::Locked {
                    path: from.display().to_string(),
                    waited_ms: started.elapsed().as_millis() as u64,
                });
            }
        }
    }
}

/// Rows of every user table (not SQLite's, not the framework's, not views).
fn count_rows(conn: &Connection) -> Result<Vec<(String, u64)>> {
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table'
               AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
               AND name NOT LIKE '\\_migrate\\_%' ESCAPE '\\'
               AND sql NOT LIKE 'CREATE VIRTUAL%'
             ORDER BY name",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut counts = Vec::with_capacity(tables.len());
    for table in tables {
        let sql = format!("SELECT count(*) FROM {}", quote_ident(&table));
        let n: i64 = conn.query_row(&sql, [], |r| r.get(0))?;
        counts.push((table, n.max(0) as u64));
    }
    Ok(counts)
}

fn pair_counts(before: Vec<(String, u64)>, after: Vec<(String, u64)>) -> Vec<RowCount> {
    let mut all: std::collections::BTreeMap<String, RowCount> = Default::default();
    for (table, n) in before {
        all.entry(table.clone())
            .or_insert(RowCount {
                table,
                before: None,
                after: None,
            })
            .before = Some(n);
    }
    for (table, n) in after {
        all.entry(table.clone())
            .or_insert(RowCount {
                table,
                before: None,
                after: None,
            })
            .after = Some(n);
    }
    all.into_values().collect()
}
