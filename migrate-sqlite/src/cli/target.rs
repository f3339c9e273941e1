//! SQLite's [`Target`]: each command line operation as a [`Session`] call on the file.

use super::runbook;
use crate::{BackupInfo, BackupKind, Error, Migrator, RestoreOptions, Result, Session};
use migrate_core::backups::{RestoreFrom, Retention};
use migrate_core::cli::{BackupLine, Rendered, RestoreRequest, SetLine, Target};
use migrate_core::protocol::{Operation, Resolution};
use migrate_core::{DownTarget, HistoryRow, RunReport, StatusReport};
use std::path::{Path, PathBuf};

/// A migrator, its database file, and the session once opened.
pub(super) struct SqliteTarget {
    migrator: Migrator,
    db: PathBuf,
    json: bool,
    session: Option<Session<'static>>,
    /// The backup `up --all-sets` took once, used by every set's run.
    run_backup: Option<PathBuf>,
    /// `PRAGMA data_version` when it was taken, on the connection every set's run then uses.
    run_backup_seen: Option<i64>,
}

impl SqliteTarget {
    pub(super) fn new(migrator: Migrator, db: PathBuf, json: bool) -> Self {
        SqliteTarget {
            migrator,
            db,
            json,
            session: None,
            run_backup: None,
            run_backup_seen: None,
        }
    }

    fn session(&mut self) -> Result<&mut Session<'static>> {
        self.session
            .as_mut()
            .ok_or_else(|| Error::Unsupported("the database was not opened".into()))
    }
}

fn line(info: BackupInfo) -> BackupLine {
    BackupLine {
        path: info.path,
        kind: info.kind,
        created_at: info.created_at,
        size: info.size,
        schema_version: info.schema_version,
    }
}

fn lines(list: Vec<BackupInfo>) -> Vec<BackupLine> {
    list.into_iter().map(line).collect()
}

impl Target for SqliteTarget {
    type Error = Error;
    const BACKEND: &'static str = "SQLite";

    fn open(&mut self, create: bool) -> Result<()> {
        let session = if create {
            self.migrator.open(&self.db)?
        } else {
            self.migrator.open_existing(&self.db)?
        };
        self.session = Some(session);
        Ok(())
    }

    fn retention(&self) -> Retention {
        self.migrator.backups.retention
    }

    fn status(&mut self) -> Result<StatusReport> {
        self.session()?.status()
    }

    fn run(&mut self, op: Operation) -> Result<RunReport> {
        let session = self.session()?;
        match op {
            Operation::Up(Some(seq)) => session.up_to(seq),
            Operation::Up(None) => session.up(),
            Operation::Down(DownTarget::To(seq)) => session.down_to(seq),
            Operation::Down(DownTarget::Steps(n)) => session.down(n),
            Operation::Redo => session.redo(),
        }
    }

    fn plan(&mut self, op: Operation) -> Result<Rendered> {
        let session = self.session()?;
        let dry = match op {
            Operation::Down(target) => session.dry_run_down(target)?,
            Operation::Redo => session.dry_run_redo()?,
            Operation::Up(None) => session.dry_run()?,
            Operation::Up(Some(seq)) => session.dry_run_to(seq)?,
        };
        let code = if dry.failure().is_some() {
            super::EXIT_FAILED
        } else {
            super::EXIT_OK
        };
        Ok(Rendered::new(dry.to_string(), &dry, code))
    }

    fn verify(&mut self) -> Result<Rendered> {
        let json = self.json;
        runbook::verify(self.session()?, json)
    }

    fn backup(&mut self) -> Result<BackupLine> {
        Ok(line(self.session()?.backup()?))
    }

    fn backups(&mut self) -> Result<Vec<BackupLine>> {
        Ok(lines(self.session()?.backups()?))
    }

    fn failed_states(&mut self) -> Result<Vec<BackupLine>> {
        Ok(lines(self.session()?.failed_states()?))
    }

    fn snapshot(&mut self, name: &str) -> Result<BackupLine> {
        Ok(line(self.session()?.snapshot(name)?))
    }

    fn snapshots(&mut self) -> Result<Vec<BackupLine>> {
        Ok(lines(self.session()?.snapshots()?))
    }

    fn delete_snapshot(&mut self, name: &str) -> Result<()> {
        self.session()?.delete_snapshot(name)
    }

    /// The newest backup taken before SEQ was applied, manual backups included
    /// (`Session::backup_before` predates their kind and leaves them out).
    fn backup_before(&mut self, seq: u64) -> Result<PathBuf> {
        let session = self.session()?;
        let manual = session
            .backups()?
            .into_iter()
            .filter(|b| b.kind == BackupKind::Manual)
            .filter(|b| b.schema_version.is_none_or(|v| v < seq))
            .max_by(|a, b| a.created_at.cmp(&b.created_at));
        let newest = match (session.backup_before(seq)?, manual) {
            (Some(a), Some(b)) => Some(if b.created_at > a.created_at { b } else { a }),
            (a, b) => a.or(b),
        };
        match newest {
            Some(info) => Ok(info.path),
            None => Err(Error::NoBackup {
                wanted: format!("backup taken before migration {seq} was applied"),
                dir: session.backup_dir()?,
            }),
        }
    }

    fn restore(&mut self, from: &RestoreFrom, how: RestoreRequest) -> Result<Rendered> {
        let session = self.session()?;
        if !how.replace_damaged {
            let report = session.restore(from)?;
            return Ok(Rendered::restored(
                &report.restored_from,
                &line(report.undo_backup),
            ));
        }
        let options = RestoreOptions {
            allow_foreign_source: how.allow_foreign_source,
        };
        match session.restore_with(from, options) {
            Ok(report) => Ok(Rendered::restored(
                &report.restored_from,
                &line(report.undo_backup),
            )),
            Err(Error::LiveDatabaseDamaged { detail, .. }) => {
                // Confirmed by the caller: replace it, keeping the damaged file aside.
                eprintln!("the database is damaged ({detail}); keeping it aside");
                // It consumes the session (the file it had open is moved aside).
                let session = self
                    .session
                    .take()
                    .ok_or_else(|| Error::Unsupported("the database was not opened".into()))?;
                let done = session.restore_damaged(from, options)?;
                let text = format!(
                    "restored from {}; the damaged database is kept at {} (never deleted)",
                    done.restored_from.display(),
                    done.damaged_kept.display()
                );
                Ok(Rendered::new(text, &done, super::EXIT_OK))
            }
            Err(e) => Err(e),
        }
    }

    fn history(&mut self) -> Result<Vec<HistoryRow>> {
        self.session()?.history()
    }

    fn resolve(&mut self, seq: u64, resolution: Resolution) -> Result<()> {
        self.session()?.resolve(seq, resolution)
    }

    fn sets(&mut self) -> Result<Vec<SetLine>> {
        Ok(runbook::sets(&self.migrator, &self.db))
    }

    fn switch_set(&mut self, set: &str, create: bool) -> Result<()> {
        let mut migrator = self.migrator.clone().set(set);
        if set != self.migrator.set {
            // A hand-built list belongs to the migrator's own set only.
            migrator.migrations = None;
        }
        if let Some(backup) = &self.run_backup {
            migrator = migrator.with_run_backup(backup);
        }
        // After the run's backup, every set runs on the connection that took it: its
        // `data_version` then tells whether anyone else committed since (the automatic restore).
        let reused = match (&self.run_backup, self.run_backup_seen) {
            (Some(backup), Some(seen)) => self
                .session
                .take()
                .and_then(Session::into_connection)
                .map(|conn| {
                    (
                        conn,
                        migrator.clone().with_run_backup_seen(backup.clone(), seen),
                    )
                }),
            _ => None,
        };
        self.session = None;
        let session = match reused {
            Some((conn, migrator)) => migrator.open_on(conn, &self.db)?,
            None if create => migrator.open(&self.db)?,
            None => migrator.open_existing(&self.db)?,
        };
        self.session = Some(session);
        Ok(())
    }

    fn back_up_once(&mut self) -> Result<Option<BackupLine>> {
        if self.migrator.backups.disabled {
            return Ok(None);
        }
        let (info, seen) = self.session()?.back_up_for_run()?;
        self.run_backup = Some(info.path.clone());
        self.run_backup_seen = Some(seen);
        Ok(Some(line(info)))
    }

    fn rehearse(&mut self, op: Operation) -> Result<Rendered> {
        runbook::rehearse(&self.migrator, &self.db, op)
    }

    fn restore_table(&mut self, table: &str, from: &RestoreFrom) -> Result<Rendered> {
        runbook::restore_table(self.session()?, table, from)
    }

    fn new_migration(
        &mut self,
        name: &str,
        from_schema: Option<&Path>,
        dir: Option<&Path>,
    ) -> Result<Rendered> {
        runbook::new_migration(&self.migrator, name, from_schema, dir)
    }

    fn import(
        &mut self,
        source: &Path,
        out: &Path,
        from: Option<crate::import::Layout>,
        force: bool,
        set: Option<&str>,
    ) -> Result<Rendered> {
        runbook::import(source, out, from, force, set)
    }

    fn adopt(&mut self, tool: &str) -> Result<Rendered> {
        let tool: crate::Tool = tool.parse().map_err(Error::Unsupported)?;
        let report = self.session()?.adopt(tool)?;
        Ok(Rendered::new(report.to_string(), &report, super::EXIT_OK))
    }
}
