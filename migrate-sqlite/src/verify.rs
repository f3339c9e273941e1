//! `verify`: is this database what its migrations say it is, and is it sound? The registry and
//! checksums, pending migrations, drift, SQLite's `integrity_check` and `foreign_key_check`.
//! A damaged file is a finding (named, with the restore command), not an SQLite error.

use crate::sqlite_codes::has_code;
use crate::{Error, FkViolation, Result, Session};
use migrate_core::Status;
use rusqlite::ErrorCode;
use std::fmt;

/// What [`Session::verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// How many migrations the binary knows for this set.
    pub migrations: usize,
    /// Everything wrong, in the order checked; empty when all is well.
    pub problems: Vec<String>,
    /// The foreign key violations (rows that reference a missing parent).
    pub foreign_key_violations: Vec<FkViolation>,
    /// What SQLite said when the file turned out damaged (`integrity_check` rows, or the error
    /// reading it); `None` when the file is sound.
    pub damage: Option<String>,
}

impl VerifyReport {
    /// True when nothing is wrong.
    ///
    /// ```
    /// let report = migrate_sqlite::VerifyReport {
    ///     migrations: 2,
    ///     problems: vec![],
    ///     foreign_key_violations: vec![],
    ///     damage: None,
    /// };
    /// assert!(report.is_ok());
    /// ```
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ok() {
            return write!(
                f,
                "ok: {} migrations applied, checksums match, no drift, integrity ok, foreign \
                 keys ok",
                self.migrations
            );
        }
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "problem: {problem}")?;
        }
        Ok(())
    }
}

/// True when `e` says the file is not a sound SQLite database.
pub(crate) fn is_damage(e: &Error) -> bool {
    has_code(e, ErrorCode::DatabaseCorrupt) || has_code(e, ErrorCode::NotADatabase)
}

/// What to run about a damaged file: restore the newest backup (taken before the damage was
/// found), and where to see the others.
fn damage_advice() -> &'static str {
    "Nothing was changed. Restore the newest backup: `migrate restore` (`migrate backups` \
     lists the others; `migrate restore` also takes one of their paths)"
}

impl Session<'_> {
    /// Checks the database: every migration applied with its recorded checksum, no drift,
    /// `integrity_check` clean and no foreign key violation. Reads only. A damaged file is
    /// reported in [`VerifyReport::damage`] (and as a problem naming the restore command)
    /// rather than as an error.
    ///
    /// ```
    /// use migrate_sqlite::{Migration, Migrator, Step};
    /// let dir = tempfile::tempdir()?;
    /// let mut db = Migrator::new()
    ///     .with_migrations([Migration::new(1, "t", Step::sql(
    ///         "CREATE TABLE p (id INTEGER PRIMARY KEY);
    ///          CREATE TABLE c (p INTEGER REFERENCES p(id))",
    ///     ))])
    ///     .open(dir.path().join("app.db"))?;
    /// db.up()?;
    /// assert!(db.verify()?.is_ok());
    /// db.connection().execute_batch("PRAGMA foreign_keys = OFF; INSERT INTO c VALUES (7)")?;
    /// let report = db.verify()?;
    /// assert_eq!(report.foreign_key_violations.len(), 1);
    /// assert!(report.problems[0].contains("c rowid 1 -> p"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport {
            migrations: self.migrations().len(),
            problems: Vec::new(),
            foreign_key_violations: Vec::new(),
            damage: None,
        };
        let _timeout = self.busy_timeout()?;
        let integrity = self
            .integrity()
            .map_err(|e| self.busy(e, "checking integrity"))?;
        if let Some(detail) = integrity {
            report.problems.push(format!(
                "the database file is damaged: {detail}. {}",
                damage_advice()
            ));
            report.damage = Some(detail);
            // Nothing else can be read reliably from a damaged file.
            return Ok(report);
        }
        let status = self.status()?;
        for line in &status.lines {
            match &line.status {
                Status::Applied | Status::Renamed { .. } => {}
                Status::Pending => report.problems.push(format!(
                    "{} {:?} is pending (`migrate up` applies it)",
                    line.seq, line.name
                )),
                other => report
                    .problems
                    .push(format!("{} {:?} is {other}", line.seq, line.name)),
            }
        }
        if let Some(drift) = &status.drift {
            report.problems.push(format!("schema drift: {drift}"));
        }
        let violations = match crate::foreign_keys::violations(self.connection()) {
            Ok(violations) => violations,
            // A foreign key naming parent columns that are neither the PRIMARY KEY nor UNIQUE:
            // SQLite cannot check it (nor, with enforcement on, write the child table).
            Err(e) if e.to_string().contains("foreign key mismatch") => {
                report.problems.push(format!(
                    "foreign keys cannot be checked: {e}. A foreign key must reference the \
                    parent's PRIMARY KEY or columns with a UNIQUE index; with foreign keys \
                    enforced, every write to that child table fails. Nothing was changed. Fix \
                    the schema in a migration (a UNIQUE index on the parent's columns, or the \
                    child table rebuilt with a foreign key that names them)"
                ));
                Vec::new()
            }
            Err(e) => return Err(self.busy(e.into(), "checking foreign keys")),
        };
        if !violations.is_empty() {
            report.problems.push(format!(
                "{} foreign key violation(s): {}{}. Nothing was changed. Fix or delete those \
                 rows, or put that table back from the newest backup (`migrate restore-table \
                 {}`)",
                violations.len(),
                violations
                    .iter()
                    .take(10)
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                if violations.len() > 10 { ", ..." } else { "" },
                crate::outcome::shell_word(std::path::Path::new(&violations[0].table))
            ));
        }
        report.foreign_key_violations = violations;
        Ok(report)
    }

    /// `None` when `integrity_check` says ok; what is damaged when it lists damage or the file
    /// cannot even be read as a database.
    fn integrity(&self) -> Result<Option<String>> {
        let read = || -> Result<Vec<String>> {
            let mut stmt = self.connection().prepare("PRAGMA integrity_check")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        };
        match read() {
            Ok(rows) if rows.len() == 1 && rows[0] == "ok" => Ok(None),
            Err(e) if is_damage(&e) => Ok(Some(e.to_string())),
            Err(e) => Err(e),
            Ok(rows) => Ok(Some(format!(
                "integrity_check: {}{}",
                rows.iter().take(5).cloned().collect::<Vec<_>>().join("; "),
                if rows.len() > 5 { "; ..." } else { "" }
            ))),
        }
    }
}
