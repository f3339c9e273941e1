//! Driving `migrate-child` processes and inspecting the database they leave, for
//! `concurrency.rs`, `crash.rs` and `backup_processes.rs`. Every wait is bounded; nothing asserts on timing.

#![allow(dead_code)] // each test file uses part of it

use rusqlite::{Connection, OpenFlags};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Number of migrations in the child's lists.
pub const COUNT: u64 = 40;
/// The `transaction = false` migration of the `mixed` list.
pub const NON_TRANSACTIONAL: u64 = 20;
/// Upper bound of any wait for a child.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A running child with its stdout lines arriving on a channel.
pub struct Running {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    stdout: Option<JoinHandle<()>>,
    stderr: Option<JoinHandle<String>>,
}

/// How a child ended.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: Vec<String>,
    pub stderr: String,
}

impl Outcome {
    /// Panics with everything the child said unless it exited with 0.
    pub fn assert_success(&self) -> &Self {
        assert!(self.status.success(), "child failed: {self:#?}");
        self
    }

    /// The N of the child's `applied N` line.
    pub fn applied(&self) -> usize {
        self.stdout
            .iter()
            .find_map(|l| l.strip_prefix("applied "))
            .unwrap_or_else(|| panic!("no `applied` line: {self:#?}"))
            .parse()
            .unwrap()
    }

    /// Everything the child printed.
    pub fn text(&self) -> String {
        format!("{}\n{}", self.stdout.join("\n"), self.stderr)
    }
}

/// Starts `migrate-child ARGS...`.
pub fn spawn(args: &[&str]) -> Running {
    let mut command = Command::new(env!("CARGO_BIN_EXE_migrate-child"));
    command.args(args);
    spawn_command(command)
}

/// Starts `migrate-child ARGS...` through `sh` with a file-size limit of `blocks` (in the
/// shell's `ulimit -f` units) and SIGXFSZ ignored, so that a write past the limit fails with
/// EFBIG instead of killing the process.
pub fn spawn_with_file_limit(blocks: u64, args: &[&str]) -> Running {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f \"$1\" || exit 99; shift; exec \"$@\"")
        .arg("sh")
        .arg(blocks.to_string())
        .arg(env!("CARGO_BIN_EXE_migrate-child"))
        .args(args);
    spawn_command(command)
}

fn spawn_command(mut command: Command) -> Running {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start migrate-child");
    let (send, lines) = channel();
    let out = child.stdout.take().unwrap();
    let stdout = std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let mut err = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    Running {
        child,
        lines,
        seen: Vec::new(),
        stdout: Some(stdout),
        stderr: Some(stderr),
    }
}

/// Runs a child to its end.
pub fn run(args: &[&str]) -> Outcome {
    spawn(args).finish()
}

impl Running {
    /// Waits (bounded) for a stdout line starting with `prefix` and returns it.
    pub fn wait_for(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!("no {prefix:?} line from the child: {:#?}", self.collect());
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "the child ended before printing {prefix:?}: {:#?}",
                        self.collect()
                    );
                }
            }
        }
    }

    /// Waits (bounded) for the child to exit.
    pub fn finish(mut self) -> Outcome {
        let deadline = Instant::now() + PATIENCE;
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the child did not finish in time: {:#?}", self.collect());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        self.collect()
    }

    /// SIGKILLs the child (a no-op if it already exited) and reaps it.
    pub fn kill(mut self) -> Outcome {
        let _ = self.child.kill();
        self.collect()
    }

    fn collect(&mut self) -> Outcome {
        let status = self.child.wait().unwrap();
        if let Some(reader) = self.stdout.take() {
            reader.join().unwrap();
        }
        self.seen.extend(self.lines.try_iter());
        let stderr = self
            .stderr
            .take()
            .map_or(String::new(), |r| r.join().unwrap());
        Outcome {
            status,
            stdout: std::mem::take(&mut self.seen),
            stderr,
        }
    }
}

/// What a database holds, read with plain rusqlite after a child ended.
#[derive(Debug, PartialEq, Eq)]
pub struct State {
    /// `PRAGMA integrity_check`.
    pub integrity: String,
    /// seq -> state from `_migrate_applied` (empty when the table does not exist).
    pub recorded: BTreeMap<u64, String>,
    /// Number of `_migrate_applied` rows (a seq recorded twice would show here).
    pub recorded_rows: usize,
    /// The seqs whose table `tNNN` exists.
    pub tables: BTreeSet<u64>,
    /// The seqs whose index `tNNN_v` exists.
    pub indexes: BTreeSet<u64>,
    /// seq -> rows in `tNNN`.
    pub rows: BTreeMap<u64, i64>,
    /// seq -> number of successful `up` events in `_migrate_history`.
    pub ups: BTreeMap<u64, i64>,
    /// Number of failed events in `_migrate_history`.
    pub failures: i64,
}

impl State {
    /// Reads the database (rolling back a hot journal a killed child left, as any opener does).
    pub fn read(db: &Path) -> State {
        let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_WRITE)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", db.display()));
        let integrity: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        let names = |kind: &str| -> BTreeSet<String> {
            let mut stmt = conn
                .prepare("SELECT name FROM sqlite_schema WHERE type = ?1")
                .unwrap();
            stmt.query_map([kind], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        let tables_by_name = names("table");
        let seq_of = |name: &str, suffix: &str| -> Option<u64> {
            name.strip_prefix('t')?.strip_suffix(suffix)?.parse().ok()
        };
        let tables: BTreeSet<u64> = tables_by_name
            .iter()
            .filter_map(|n| seq_of(n, ""))
            .collect();
        let indexes = names("index")
            .iter()
            .filter_map(|n| seq_of(n, "_v"))
            .collect();
        let rows = tables
            .iter()
            .map(|seq| {
                let n = conn
                    .query_row(&format!("SELECT count(*) FROM t{seq:03}"), [], |r| r.get(0))
                    .unwrap();
                (*seq, n)
            })
            .collect();
        let (recorded_list, ups, failures) = if tables_by_name.contains("_migrate_applied") {
            let mut stmt = conn
                .prepare("SELECT seq, state FROM _migrate_applied WHERE set_name = 'default'")
                .unwrap();
            let recorded: Vec<(u64, String)> = stmt
                .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let mut stmt = conn
                .prepare(
                    "SELECT seq, count(*) FROM _migrate_history
                     WHERE set_name = 'default' AND action = 'up' AND outcome = 'ok'
                     GROUP BY seq",
                )
                .unwrap();
            let ups: BTreeMap<u64, i64> = stmt
                .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let failures = conn
                .query_row(
                    "SELECT count(*) FROM _migrate_history WHERE outcome = 'failed'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            (recorded, ups, failures)
        } else {
            (Vec::new(), BTreeMap::new(), 0)
        };
        State {
            integrity,
            recorded_rows: recorded_list.len(),
            recorded: recorded_list.into_iter().collect(),
            tables,
            indexes,
            rows,
            ups,
            failures,
        }
    }

    /// The seqs recorded as applied.
    pub fn applied(&self) -> BTreeSet<u64> {
        self.recorded
            .iter()
            .filter(|(_, state)| *state == "applied")
            .map(|(seq, _)| *seq)
            .collect()
    }

    /// Integrity ok, and the tracking table agrees with the schema: every recorded seq has its
    /// table, index and 3 rows, every table is recorded, each seq at most once, no `started`
    /// rows, one successful `up` event per applied seq and none for the others.
    pub fn assert_consistent(&self) {
        assert_eq!(self.integrity, "ok", "{self:#?}");
        assert_eq!(self.recorded_rows, self.recorded.len(), "{self:#?}");
        let applied = self.applied();
        assert_eq!(
            applied.len(),
            self.recorded.len(),
            "started rows: {self:#?}"
        );
        assert_eq!(applied, self.tables, "tracking vs tables: {self:#?}");
        assert_eq!(applied, self.indexes, "tracking vs indexes: {self:#?}");
        assert!(self.rows.values().all(|&n| n == 3), "{self:#?}");
        let once: BTreeMap<u64, i64> = applied.iter().map(|&seq| (seq, 1)).collect();
        assert_eq!(self.ups, once, "history: {self:#?}");
    }

    /// Consistent, with exactly seqs 1..=`last` applied.
    pub fn assert_applied_through(&self, last: u64) {
        self.assert_consistent();
        let expected: BTreeSet<u64> = (1..=last).collect();
        assert_eq!(self.applied(), expected, "{self:#?}");
    }
}

/// `migrate_sqlite::lock_path(db)` can be locked right now (nobody holds it).
pub fn lock_is_free(db: &Path) -> bool {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(migrate_sqlite::lock_path(db))
        .expect("the lock file exists");
    match file.try_lock() {
        Ok(()) => {
            file.unlock().unwrap();
            true
        }
        Err(std::fs::TryLockError::WouldBlock) => false,
        Err(std::fs::TryLockError::Error(e)) => panic!("cannot try the lock: {e}"),
    }
}

/// `db` as a string argument.
pub fn arg(db: &Path) -> &str {
    db.to_str().expect("temp paths are UTF-8")
}
