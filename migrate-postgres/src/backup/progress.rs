//! Byte progress of a dump, its verification and a restore's replay, reported to the caller's
//! callback on the caller's own thread (the child processes are polled, never watched from a
//! thread), so the callback needs the same `Send + Sync` bounds as SQLite's and no more.

use std::fmt;
use std::path::Path;
use std::process::Child;
use std::sync::Arc;
use std::time::Duration;

/// How far a backup or restore has got, in bytes.
///
/// ```
/// let p = migrate_postgres::Progress { stage: migrate_postgres::ProgressStage::Dump, done: 10, total: 0 };
/// assert_eq!(p.total, 0); // not known yet
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Which part of the work this is; `done` starts again from 0 at each stage.
    pub stage: ProgressStage,
    /// Bytes so far.
    pub done: u64,
    /// Bytes in all, or an estimate; 0 when unknown. Otherwise never below `done`.
    pub total: u64,
}

/// The parts of a backup or restore that report progress.
///
/// ```
/// assert_eq!(migrate_postgres::ProgressStage::Replay.to_string(), "restoring");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressStage {
    /// pg_dump writing the temp file: `done` is its size so far; `total` is the size of this
    /// database's newest backup (an estimate), 0 when there is none, and the file's size at
    /// the last call.
    Dump,
    /// pg_restore reading an archive back completely: `done` is its read offset, `total` the
    /// archive's size.
    Verify,
    /// The restore's replay: `done` is the SQL bytes relayed from pg_restore to psql; `total`
    /// is 0 (the SQL text's size is not known before the end).
    Replay,
}

impl fmt::Display for ProgressStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProgressStage::Dump => "dumping",
            ProgressStage::Verify => "verifying",
            ProgressStage::Replay => "restoring",
        })
    }
}

/// A progress callback (the CLI draws a bar with it).
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// The optional callback, cloneable and printable with the settings that hold it.
#[derive(Clone, Default)]
pub(crate) struct Reporter(pub(crate) Option<ProgressFn>);

impl fmt::Debug for Reporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Some(..)" } else { "None" })
    }
}

/// How often a running child is looked at.
const POLL: Duration = Duration::from_millis(50);

impl Reporter {
    pub(crate) fn is_on(&self) -> bool {
        self.0.is_some()
    }

    pub(crate) fn report(&self, stage: ProgressStage, done: u64, total: u64) {
        if let Some(f) = &self.0 {
            // 0 stays "unknown"; an estimate that fell short grows with what is done.
            let total = if total == 0 { 0 } else { total.max(done) };
            f(Progress { stage, done, total });
        }
    }

    /// Waits for `child`, reporting `measure()` (never less than what was reported before)
    /// every [`POLL`] while it runs.
    pub(crate) fn watch(
        &self,
        child: &mut Child,
        stage: ProgressStage,
        total: u64,
        measure: impl Fn(&Child) -> Option<u64>,
    ) -> std::io::Result<std::process::ExitStatus> {
        if !self.is_on() {
            return child.wait();
        }
        let mut done = 0;
        self.report(stage, 0, total);
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if let Some(now) = measure(child).filter(|&n| n > done) {
                done = now;
                self.report(stage, done, total);
            }
            std::thread::sleep(POLL);
        }
    }
}

/// The size of the file at `path` (what pg_dump has written so far).
pub(crate) fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

/// How far process `pid` has read the file at `path`: the `pos` of its descriptor for that file
/// in `/proc/<pid>/fdinfo` (Linux); None elsewhere or when it is not open.
pub(crate) fn read_offset(pid: u32, path: &Path) -> Option<u64> {
    let want = std::fs::canonicalize(path).ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    for fd in fds.flatten() {
        if std::fs::read_link(fd.path()).ok().as_deref() != Some(want.as_path()) {
            continue;
        }
        let info = std::fs::read_to_string(format!(
            "/proc/{pid}/fdinfo/{}",
            fd.file_name().to_string_lossy()
        ))
        .ok()?;
        return info
            .lines()
            .find_map(|l| l.strip_prefix("pos:"))
            .and_then(|v| v.trim().parse().ok());
    }
    None
}
