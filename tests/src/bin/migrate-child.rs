//! A child process for the concurrency, crash and backup tests (`tests/tests/concurrency.rs`,
//! `tests/tests/crash.rs`, `tests/tests/backup_processes.rs`): applies one fixed, hand-built list
//! of migrations to a database, takes a backup, or writes to it continuously.
//!
//! ```text
//! migrate-child <plain|mixed|backup|writer|crash-mid-write> <db> [--up-to SEQ] [--policy all|keep]
//!               [--sleep-ms MS] [--hang-at SEQ] [--fail-at SEQ] [--go FILE] [--busy-ms MS]
//!               [--hang-in-backup] [--keep N] [--stop FILE] [--pause-ms MS] [--record FILE]
//! ```
//!
//! * `plain`: migrations 1..=40, each in a transaction: a table `tNNN`, an index on it, 3 rows.
//! * `mixed`: the same, except that 20 is `transaction = false` (idempotent SQL).
//! * `backup`: takes one backup with `Session::backup` (the `plain` list is registered, nothing
//!   is applied) and prints `backup PATH`.
//! * `writer`: writes to a database the parent prepared (`seqs (n INTEGER PRIMARY KEY, pad)` and
//!   a one-row `counter (k)`), one transaction after another, each inserting the next `n` and
//!   setting `k` to it, until the `--stop` file appears (at most 60 s); prints `writing` after
//!   its first commit and `wrote K` at the end. `--pause-ms` sleeps between transactions (a
//!   writer with no gap at all starves every other writer's `BEGIN IMMEDIATE` in rollback-journal
//!   mode: SQLite's busy handler polls, it does not queue). `--record FILE` appends each
//!   committed `n` to FILE, one line per commit, written out before the next transaction.
//! * `crash-mid-write`: in a database the parent prepared as for `writer`, opens a write
//!   transaction with a tiny page cache, doubles `seqs` with 4 KB blobs (so changed pages spill
//!   into the database file and the rollback journal holds the originals) and sets `k` to -1,
//!   prints `holding` and sleeps until killed: the parent's SIGKILL leaves a hot journal.
//!
//! `--hang-in-backup`: the first progress report of a backup that is not yet complete prints
//! `hanging in backup DONE TOTAL` and sleeps until killed. `--keep N`: keep N automatic backups.
//!
//! Every process of a test uses the same list (same seqs, names, modes and checksums); the options
//! only change timing. Protocol on stdout, one line each:
//! `ready` (waiting for the `--go` file), `step SEQ` (a step begins), `hanging SEQ` (the step of
//! `--hang-at` did its work and now sleeps until killed), `applied N` (success, N steps run).
//! The same for `backup`, whose success line is `backup PATH`.
//! `--fail-at SEQ` makes that step return an error after its SQL ran.
//! Errors go to stderr with exit code 1; bad arguments exit with code 2.

use migrate_sqlite::{Error, FailurePolicy, Migration, Migrator, Progress, Session, Step, TxMode};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Number of migrations in every list.
const COUNT: u64 = 40;
/// The non-transactional migration of the `mixed` list.
const NON_TRANSACTIONAL: u64 = 20;

/// What the child does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    Plain,
    Mixed,
    Backup,
    Writer,
    CrashMidWrite,
}

#[derive(Debug)]
struct Options {
    scenario: Scenario,
    mixed: bool,
    db: PathBuf,
    up_to: Option<u64>,
    keep_applied: bool,
    sleep: Duration,
    hang_at: Option<u64>,
    fail_at: Option<u64>,
    go: Option<PathBuf>,
    busy: Option<Duration>,
    hang_in_backup: bool,
    keep: Option<usize>,
    stop: Option<PathBuf>,
    pause: Duration,
    record: Option<PathBuf>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let scenario = match args.next().as_deref() {
        Some("plain") => Scenario::Plain,
        Some("mixed") => Scenario::Mixed,
        Some("backup") => Scenario::Backup,
        Some("writer") => Scenario::Writer,
        Some("crash-mid-write") => Scenario::CrashMidWrite,
        other => return Err(format!("unknown scenario {other:?}")),
    };
    let db = PathBuf::from(args.next().ok_or("missing the database path")?);
    let mut opts = Options {
        scenario,
        mixed: scenario == Scenario::Mixed,
        db,
        up_to: None,
        keep_applied: false,
        sleep: Duration::ZERO,
        hang_at: None,
        fail_at: None,
        go: None,
        busy: None,
        hang_in_backup: false,
        keep: None,
        stop: None,
        pause: Duration::ZERO,
        record: None,
    };
    while let Some(flag) = args.next() {
        if flag == "--hang-in-backup" {
            opts.hang_in_backup = true;
            continue;
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|e| format!("{flag} {value}: {e}"))
        };
        match flag.as_str() {
            "--up-to" => opts.up_to = Some(number()?),
            "--policy" => {
                opts.keep_applied = match value.as_str() {
                    "all" => false,
                    "keep" => true,
                    _ => return Err(format!("unknown policy {value:?}")),
                }
            }
            "--sleep-ms" => opts.sleep = Duration::from_millis(number()?),
            "--hang-at" => opts.hang_at = Some(number()?),
            "--fail-at" => opts.fail_at = Some(number()?),
            "--go" => opts.go = Some(PathBuf::from(&value)),
            "--busy-ms" => opts.busy = Some(Duration::from_millis(number()?)),
            "--keep" => opts.keep = Some(number()? as usize),
            "--stop" => opts.stop = Some(PathBuf::from(&value)),
            "--pause-ms" => opts.pause = Duration::from_millis(number()?),
            "--record" => opts.record = Some(PathBuf::from(&value)),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(opts)
}

/// The SQL of migration `seq`; idempotent for the non-transactional one.
fn sql(seq: u64, idempotent: bool) -> String {
    let (if_not_exists, or_ignore) = if idempotent {
        ("IF NOT EXISTS ", "OR IGNORE ")
    } else {
        ("", "")
    };
    format!(
        "CREATE TABLE {if_not_exists}t{seq:03} (id INTEGER PRIMARY KEY, v TEXT NOT NULL, n INTEGER NOT NULL);
         CREATE INDEX {if_not_exists}t{seq:03}_v ON t{seq:03} (v);
         INSERT {or_ignore}INTO t{seq:03} (id, v, n) VALUES (1, 'a', {seq}), (2, 'b', {seq}), (3, 'c', {seq});"
    )
}

fn migrations(opts: &Options) -> Vec<Migration> {
    (1..=COUNT)
        .map(|seq| {
            let non_transactional = opts.mixed && seq == NON_TRANSACTIONAL;
            let sql = sql(seq, non_transactional);
            let sleep = opts.sleep;
            let hang = opts.hang_at == Some(seq);
            let fail = opts.fail_at == Some(seq);
            let step = Step::new(move |tx| {
                println!("step {seq}");
                std::thread::sleep(sleep);
                tx.execute_batch(&sql)?;
                if hang {
                    println!("hanging {seq}");
                    // Until the parent kills this process (bounded, so a broken test ends).
                    std::thread::sleep(Duration::from_secs(60));
                }
                if fail {
                    return Err(Error::msg(format!("migration {seq} fails on purpose")));
                }
                Ok(())
            });
            let migration = Migration::new(seq, format!("create_t{seq:03}"), step);
            if non_transactional {
                migration.with_mode(TxMode::NonTransactional)
            } else {
                migration
            }
        })
        .collect()
}

/// Waits (bounded) until the parent creates the `go` file, so that all children start together.
fn wait_for(go: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !go.exists() {
        if Instant::now() > deadline {
            return Err(format!("{} never appeared", go.display()));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// The progress callback of `--hang-in-backup`: the first report of an unfinished copy says so
/// and sleeps until the parent kills this process (bounded, so a broken test ends).
fn hang_in_backup(p: Progress) {
    static HUNG: AtomicBool = AtomicBool::new(false);
    if p.done < p.total && !HUNG.swap(true, Ordering::SeqCst) {
        println!("hanging in backup {} {}", p.done, p.total);
        std::thread::sleep(Duration::from_secs(60));
    }
}

fn run(opts: &Options) -> Result<String, String> {
    if let Some(go) = &opts.go {
        println!("ready");
        wait_for(go)?;
    }
    let mut migrator = Migrator::new().with_migrations(migrations(opts));
    if opts.keep_applied {
        migrator = migrator.failure_policy(FailurePolicy::KeepApplied);
    }
    if let Some(busy) = opts.busy {
        migrator = migrator.busy_timeout(busy);
    }
    if let Some(keep) = opts.keep {
        migrator = migrator.keep_backups(keep);
    }
    if opts.hang_in_backup {
        migrator = migrator.on_progress(hang_in_backup);
    }
    let mut session = migrator.open(&opts.db).map_err(|e| e.to_string())?;
    match opts.scenario {
        Scenario::Plain | Scenario::Mixed => {
            let report = match opts.up_to {
                Some(seq) => session.up_to(seq),
                None => session.up(),
            }
            .map_err(|e| e.to_string())?;
            Ok(format!("applied {}", report.steps.len()))
        }
        Scenario::Backup => {
            let info = session.backup().map_err(|e| e.to_string())?;
            Ok(format!("backup {}", info.path.display()))
        }
        Scenario::Writer => write_until_stopped(&session, opts),
        Scenario::CrashMidWrite => hold_a_spilled_write(&session),
    }
}

/// The `crash-mid-write` scenario: a write transaction whose changed pages are already in the
/// database file, left open until this process is killed.
fn hold_a_spilled_write(session: &Session<'_>) -> Result<String, String> {
    session
        .connection()
        .execute_batch(
            "PRAGMA cache_size = 4;
             BEGIN IMMEDIATE;
             INSERT INTO seqs (n, pad) SELECT n + 1000000, randomblob(4000) FROM seqs;
             UPDATE counter SET k = -1;",
        )
        .map_err(|e| format!("crash-mid-write: {e}"))?;
    println!("holding");
    std::thread::sleep(Duration::from_secs(60));
    Err("crash-mid-write: never killed".into())
}

/// The `writer` scenario: one small transaction after another until told to stop.
fn write_until_stopped(session: &Session<'_>, opts: &Options) -> Result<String, String> {
    let conn = session.connection();
    let stop = opts.stop.as_deref().ok_or("writer needs --stop FILE")?;
    let failed = |e: &dyn std::fmt::Display| format!("writer: {e}");
    conn.busy_timeout(Duration::from_secs(30))
        .map_err(|e| failed(&e))?;
    let mut k: i64 = conn
        .query_row("SELECT k FROM counter", [], |r| r.get(0))
        .map_err(|e| failed(&e))?;
    let first = k;
    let mut record = match &opts.record {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| failed(&e))?,
        ),
        None => None,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !stop.exists() && Instant::now() < deadline {
        k += 1;
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE;
             INSERT INTO seqs (n, pad) VALUES ({k}, randomblob(300));
             UPDATE counter SET k = {k};
             COMMIT;"
        ))
        .map_err(|e| failed(&e))?;
        if let Some(file) = &mut record {
            // Unbuffered: the line is in the file before the next transaction begins.
            std::io::Write::write_all(file, format!("{k}\n").as_bytes()).map_err(|e| failed(&e))?;
        }
        if k == first + 1 {
            println!("writing");
        }
        std::thread::sleep(opts.pause);
    }
    Ok(format!("wrote {k}"))
}

fn main() -> ExitCode {
    let opts = match parse(std::env::args().skip(1)) {
        Ok(opts) => opts,
        Err(e) => {
            eprintln!("migrate-child: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(last_line) => {
            println!("{last_line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
