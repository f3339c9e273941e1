//! PostgreSQL's [`Target`]: each command line operation as a [`Session`] call on a dedicated
//! connection.

use crate::{
    BackupInfo, BackupKind, Connection, Error, Migrator, RestoreOptions, Result, RunBackup,
    Session, Settings,
};
use migrate_core::backups::{RestoreFrom, Retention};
use migrate_core::cli::{BackupLine, Rendered, RestoreRequest, SetLine, Target};
use migrate_core::protocol::{Operation, Resolution};
use migrate_core::{DownTarget, HistoryRow, RunReport, StatusReport};
use std::path::PathBuf;

/// A migrator, its database, and the session once opened.
pub(super) struct PgTarget {
    migrator: Migrator,
    url: String,
    settings: Settings,
    json: bool,
    session: Option<Session>,
    /// `up --all-sets`: the backup taken once before the first set, used by every set's run.
    run_backup: Option<RunBackup>,
}

impl PgTarget {
    pub(super) fn new(migrator: Migrator, url: String, settings: Settings, json: bool) -> Self {
        PgTarget {
            migrator,
            url,
            settings,
            json,
            session: None,
            run_backup: None,
        }
    }

    fn session(&mut self) -> Result<&mut Session> {
        self.session
            .as_mut()
            .ok_or_else(|| Error::Unsupported("the database was not opened".into()))
    }

    /// A dedicated connection with the command line's timeouts.
    pub(super) fn connect(url: &str, settings: &Settings) -> Result<Connection> {
        Ok(Connection::open(url)?.with_settings(settings.clone()))
    }

    /// The listed backups (failed-state copies apart); a migrator without a backup directory
    /// says how to give it one on the command line.
    fn listed(&mut self) -> Result<Vec<BackupInfo>> {
        self.session()?.backups().map_err(with_flag)
    }
}

/// "no backup directory is set": name the command line's way to set one.
fn with_flag(e: Error) -> Error {
    match e {
        Error::Unsupported(message) => Error::Unsupported(format!(
            "{message}; on the command line pass --backup-dir DIR. Nothing was changed"
        )),
        other => other,
    }
}

/// A held (or lost) migration lock names the command that was refused, to run again.
fn rerun_as(e: Error, command: String) -> Error {
    match e {
        Error::LockLost { schema, why, .. } => Error::LockLost {
            schema,
            why,
            rerun: command,
        },
        Error::Locked {
            schema,
            waited_ms,
            holders,
            conninfo,
            ..
        } => Error::Locked {
            schema,
            waited_ms,
            holders,
            rerun: command,
            conninfo,
        },
        other => other,
    }
}

/// The command line of `op`, as `migrate plan ...` when `dry`.
fn command_of(op: Operation, dry: bool) -> String {
    match (op, dry) {
        (Operation::Up(None), false) => "migrate up".to_owned(),
        (Operation::Up(Some(seq)), false) => format!("migrate up --to {seq}"),
        (Operation::Up(None), true) => "migrate plan".to_owned(),
        (Operation::Up(Some(seq)), true) => format!("migrate plan --to {seq}"),
        (Operation::Down(DownTarget::Steps(n)), false) => format!("migrate down --steps {n}"),
        (Operation::Down(DownTarget::To(seq)), false) => format!("migrate down --to {seq}"),
        (Operation::Down(DownTarget::Steps(n)), true) => {
            format!("migrate plan --down --steps {n}")
        }
        (Operation::Down(DownTarget::To(seq)), true) => format!("migrate plan --down --to {seq}"),
        (Operation::Redo, false) => "migrate redo".to_owned(),
        (Operation::Redo, true) => "migrate plan --redo".to_owned(),
    }
}

/// `migrate restore ...` as the operator asked for it.
fn restore_command(from: &RestoreFrom) -> String {
    match from {
        RestoreFrom::Latest => "migrate restore".to_owned(),
        RestoreFrom::File(path) => format!(
            "migrate restore {}",
            migrate_core::protocol::shell_word(path)
        ),
        RestoreFrom::Snapshot(name) => format!(
            "migrate restore {}",
            migrate_core::protocol::shell_word(std::path::Path::new(name))
        ),
    }
}

fn line(info: &BackupInfo) -> BackupLine {
    BackupLine {
        path: info.path.clone(),
        kind: info.kind.clone(),
        created_at: info.created_at.clone(),
        size: info.size,
        // Not in a listing: it would read every dump back (`Backups::schema_version`).
        schema_version: None,
    }
}

fn lines(list: &[BackupInfo]) -> Vec<BackupLine> {
    list.iter().map(line).collect()
}

impl Target for PgTarget {
    type Error = Error;
    const BACKEND: &'static str = "PostgreSQL";

    /// Connects (the database must exist: `create` is for SQLite files).
    fn open(&mut self, _create: bool) -> Result<()> {
        let conn = Self::connect(&self.url, &self.settings)?;
        self.session = Some(self.migrator.on(conn)?);
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
        let run = match op {
            Operation::Up(Some(seq)) => session.up_to(seq),
            Operation::Up(None) => session.up(),
            Operation::Down(DownTarget::To(seq)) => session.down_to(seq),
            Operation::Down(DownTarget::Steps(n)) => session.down(n),
            Operation::Redo => session.redo(),
        };
        run.map_err(|e| rerun_as(e, command_of(op, false)))
    }

    /// `plan`, `plan --to`, `plan --down`, `plan --redo`: the dry run (`Session::dry_run*`),
    /// rolled back, with the locks each migration takes; exit 1 when a migration fails in it.
    fn plan(&mut self, op: Operation) -> Result<Rendered> {
        let session = self.session()?;
        let dry = match op {
            Operation::Up(None) => session.dry_run(),
            Operation::Up(Some(seq)) => session.dry_run_to(seq),
            Operation::Down(DownTarget::Steps(n)) => session.dry_run_down(n),
            Operation::Down(DownTarget::To(seq)) => session.dry_run_down_to(seq),
            Operation::Redo => session.dry_run_redo(),
        }
        .map_err(|e| rerun_as(e, command_of(op, true)))?;
        let code = if dry.failure().is_some() {
            super::EXIT_FAILED
        } else {
            super::EXIT_OK
        };
        // Display ends with a newline; the shared printer adds one.
        let text = dry.to_string().trim_end().to_owned();
        Ok(Rendered::new(text, &dry, code))
    }

    fn verify(&mut self) -> Result<Rendered> {
        let json = self.json;
        super::verify::verify(self.session()?, json)
    }

    fn backup(&mut self) -> Result<BackupLine> {
        let info = self.session()?.backup().map_err(with_flag)?;
        Ok(line(&info))
    }

    fn backups(&mut self) -> Result<Vec<BackupLine>> {
        Ok(lines(&self.listed()?))
    }

    fn failed_states(&mut self) -> Result<Vec<BackupLine>> {
        let failed = self.session()?.failed_states().map_err(with_flag)?;
        Ok(lines(&failed))
    }

    fn snapshot(&mut self, name: &str) -> Result<BackupLine> {
        let info = self.session()?.snapshot(name).map_err(with_flag)?;
        Ok(line(&info))
    }

    fn snapshots(&mut self) -> Result<Vec<BackupLine>> {
        let all = self.listed()?;
        let snapshots: Vec<BackupInfo> = all
            .into_iter()
            .filter(|b| matches!(b.kind, BackupKind::Snapshot { .. }))
            .collect();
        Ok(lines(&snapshots))
    }

    fn delete_snapshot(&mut self, name: &str) -> Result<()> {
        self.session()?
            .store()
            .map_err(with_flag)?
            .delete_snapshot(name)
    }

    /// The newest backup taken while SEQ was not applied: listed newest first, each dump's
    /// schema version read back (`pg_restore` of the tracking table) until one is below SEQ.
    fn backup_before(&mut self, seq: u64) -> Result<PathBuf> {
        let mut listed = self.listed()?;
        let session = self.session()?;
        let store = session.store().map_err(with_flag)?;
        listed.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        for info in listed {
            let version = store.schema_version(session.connection(), &info.path)?;
            if version.is_none_or(|v| v < seq) {
                return Ok(info.path);
            }
        }
        Err(Error::NoBackup {
            wanted: format!("backup taken before migration {seq} was applied"),
            dir: store.dir().to_owned(),
        })
    }

    fn restore(&mut self, from: &RestoreFrom, how: RestoreRequest) -> Result<Rendered> {
        let mut options = RestoreOptions::default();
        if how.allow_foreign_source {
            options = options.allow_foreign_source();
        }
        let report = self
            .session()?
            .restore_with(from, options)
            .map_err(with_flag)
            .map_err(|e| rerun_as(e, restore_command(from)))?;
        Ok(Rendered::restored(
            &report.restored_from,
            &line(&report.undo_backup),
        ))
    }

    fn history(&mut self) -> Result<Vec<HistoryRow>> {
        self.session()?.history()
    }

    fn resolve(&mut self, seq: u64, resolution: Resolution) -> Result<()> {
        self.session()?.resolve(seq, resolution)
    }

    fn sets(&mut self) -> Result<Vec<SetLine>> {
        Ok(super::sets::sets(&self.migrator, &self.url, &self.settings))
    }

    fn switch_set(&mut self, set: &str, _create: bool) -> Result<()> {
        let mut migrator = self.migrator.clone().set(set);
        if set != self.migrator.set {
            // A hand-built list belongs to the migrator's own set only.
            migrator.migrations = None;
        }
        if let Some(run) = &self.run_backup {
            migrator = migrator.with_run_backup(run.clone());
        }
        self.session = None;
        let conn = Self::connect(&self.url, &self.settings)?;
        self.session = Some(migrator.on(conn)?);
        Ok(())
    }

    /// Without backups (no directory, `--no-backup`) there is nothing to share; with them,
    /// one exact backup before the first set (`Session::back_up_for_run`), which every set's
    /// run then uses as its own.
    fn back_up_once(&mut self) -> Result<Option<BackupLine>> {
        if self.session()?.store().is_err() {
            return Ok(None);
        }
        let run = self.session()?.back_up_for_run()?;
        let taken = line(run.info());
        self.run_backup = Some(run);
        Ok(Some(taken))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The backticked commands of a message.
    fn commands(message: &str) -> Vec<String> {
        message
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|c| c.starts_with("migrate "))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn a_lost_lock_names_the_refused_command_which_parses() {
        let lost = || Error::LockLost {
            schema: "public".into(),
            why: "this backend does not hold the advisory lock",
            rerun: "migrate up".into(),
        };
        for (op, dry, expected) in [
            (Operation::Up(None), true, "migrate plan"),
            (Operation::Up(Some(4)), true, "migrate plan --to 4"),
            (
                Operation::Down(DownTarget::Steps(2)),
                true,
                "migrate plan --down --steps 2",
            ),
            (Operation::Redo, true, "migrate plan --redo"),
            (
                Operation::Down(DownTarget::To(3)),
                false,
                "migrate down --to 3",
            ),
            (Operation::Up(Some(4)), false, "migrate up --to 4"),
        ] {
            let text = rerun_as(lost(), command_of(op, dry)).to_string();
            assert_eq!(commands(&text), [expected], "{text}");
            assert!(crate::cli::parse(expected.split(' ')).is_ok(), "{expected}");
        }
        let restore = restore_command(&RestoreFrom::File("/b/my dump".into()));
        assert_eq!(restore, "migrate restore '/b/my dump'");
        let text = rerun_as(lost(), restore).to_string();
        assert_eq!(commands(&text), ["migrate restore '/b/my dump'"], "{text}");
    }
}
