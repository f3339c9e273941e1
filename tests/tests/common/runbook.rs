//! Shared by the runbook tests (`cli_verify`, `cli_rehearse`, `cli_restore_table`,
//! `cli_switches`, `cli_new`): the real `migrate-cli` binary run as a child process on a
//! database in a temporary directory, stdin closed (never a terminal), bounded in time.
//! Include with `#[path = "common/runbook.rs"] mod runbook;`.

#![allow(dead_code)]

use rusqlite::Connection;
use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Upper bound of any child's run; a hang fails the test instead of blocking it.
const PATIENCE: Duration = Duration::from_secs(60);

/// What one run of the binary did.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Panics with everything the child said unless it exited with `code`.
    #[track_caller]
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(self.code, code, "expected exit code {code}: {self:#?}");
        self
    }

    /// stdout as one JSON document.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }

    /// stdout and stderr together.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// `library.db` in a temporary directory, with the `library` set and, with `lending`, the
/// migration 4 `create_loans` (`MIGRATE_CLI_LENDING=1`).
pub struct Db {
    pub dir: TempDir,
    pub path: PathBuf,
    pub env: Vec<(String, String)>,
}

impl Db {
    pub fn new() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("library.db");
        Db {
            dir,
            path,
            env: Vec::new(),
        }
    }

    /// With the lending tables (books <- loans -> members).
    pub fn lending() -> Db {
        let mut db = Db::new();
        db.env.push(("MIGRATE_CLI_LENDING".into(), "1".into()));
        db
    }

    /// Runs `migrate-cli ARGS...` on this database.
    pub fn run(&self, args: &[&str]) -> Out {
        self.run_in(args, None)
    }

    /// Runs `migrate-cli ARGS...` with `cwd` as the working directory.
    pub fn run_in(&self, args: &[&str], cwd: Option<&Path>) -> Out {
        let mut command = Command::new(env!("CARGO_BIN_EXE_migrate-cli"));
        command
            .args(args)
            .env("MIGRATE_CLI_DB", &self.path)
            .env_remove("MIGRATE_CLI_BROKEN")
            .env_remove("MIGRATE_CLI_LOSSY")
            .env_remove("MIGRATE_CLI_GROW")
            .env_remove("MIGRATE_CLI_LENDING")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        run_bounded(command)
    }

    /// `up`, which must succeed.
    pub fn up(&self) {
        self.run(&["up"]).expect(0);
    }

    pub fn conn(&self) -> Connection {
        Connection::open(&self.path).unwrap()
    }

    pub fn bytes(&self) -> Vec<u8> {
        fs::read(&self.path).unwrap()
    }

    pub fn int(&self, sql: &str) -> i64 {
        self.conn().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// Every row of a table, each as text, in rowid order.
    pub fn rows(&self, table: &str) -> Vec<String> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY rowid"))
            .unwrap();
        let columns = stmt.column_count();
        stmt.query_map([], |r| {
            let mut fields = Vec::new();
            for i in 0..columns {
                let v: rusqlite::types::Value = r.get(i)?;
                fields.push(format!("{v:?}"));
            }
            Ok(fields.join("|"))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    pub fn backup_dir(&self) -> PathBuf {
        self.dir.path().join("library.db.backups")
    }

    /// The files in the backup directory.
    pub fn backups(&self) -> BTreeSet<PathBuf> {
        match fs::read_dir(self.backup_dir()) {
            Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
            Err(_) => BTreeSet::new(),
        }
    }
}

/// Runs the command with stdin closed and both outputs captured, for at most [`PATIENCE`].
pub fn run_bounded(mut command: Command) -> Out {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start migrate-cli");
    let reader = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = reader(Box::new(child.stdout.take().unwrap()));
    let stderr = reader(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("migrate-cli did not finish in {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    Out {
        code: status.code().expect("migrate-cli was killed by a signal"),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Every backticked `migrate ...` command in `text`, e.g. from an error message.
pub fn printed_commands(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|quoted| quoted.starts_with("migrate "))
        .map(str::to_owned)
        .collect()
}

/// Panics unless `command` (as printed, one shell word per argument) parses with the command
/// line's own parser: it runs as printed.
#[track_caller]
pub fn assert_runs_as_printed(command: &str) {
    use clap::Parser;
    let words: Vec<String> = command
        .split_whitespace()
        .map(|w| w.trim_matches('\'').to_owned())
        .collect();
    if let Err(e) = migrate_sqlite::cli::MigrateArgs::try_parse_from(&words) {
        panic!("`{command}` does not run as printed: {e}");
    }
    assert!(
        !words
            .iter()
            .any(|w| w.chars().all(|c| c.is_ascii_uppercase()) && w.len() > 1),
        "`{command}` has a placeholder"
    );
}
