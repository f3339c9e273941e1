//! Restores against a writer in another process that commits one small transaction after
//! another and records each committed id in a side file: after explicit restores and after
//! automatic restores (a failed `transaction = false` migration), in rollback-journal and WAL
//! mode, every id the writer committed is in the live database or in the safety copy the
//! restore took (undo or failed-state backup). Nothing committed by anyone is lost.
#![cfg(unix)]

mod child;

use child::{PATIENCE, arg, spawn};
use migrate_sqlite::{Error, Migration, Migrator, RestoreFrom, Step, TxMode};
use rusqlite::{Connection, OpenFlags};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One migration with tracking rows to restore; seq 2 (when asked) is `transaction = false`,
/// lets the writer commit for a while, then fails.
fn migrations(with_failing: bool) -> Vec<Migration> {
    let mut list = vec![Migration::new(
        1,
        "m1",
        Step::sql("CREATE TABLE m1 (x); INSERT INTO m1 VALUES (1)"),
    )];
    if with_failing {
        list.push(
            Migration::new(
                2,
                "slow_and_broken",
                Step::new(|tx| {
                    tx.execute_batch("CREATE TABLE IF NOT EXISTS partial (x)")?;
                    // Commits of the writer land while this runs outside any transaction.
                    std::thread::sleep(Duration::from_millis(150));
                    Err(Error::msg("fails on purpose after its work"))
                }),
            )
            .with_mode(TxMode::NonTransactional),
        );
    }
    list
}

fn migrator(with_failing: bool) -> Migrator {
    Migrator::new()
        .with_migrations(migrations(with_failing))
        .keep_backups(100)
        .busy_timeout(Duration::from_secs(30))
}

/// A database with the writer's tables (`seqs`, `counter`) and migration 1 applied.
fn prepare(dir: &Path, wal: bool) -> PathBuf {
    let db = dir.join("live.db");
    let setup = Connection::open(&db).unwrap();
    if wal {
        let mode: String = setup
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
    setup
        .execute_batch(
            "CREATE TABLE seqs (n INTEGER PRIMARY KEY, pad BLOB);
             CREATE TABLE counter (k INTEGER NOT NULL);
             INSERT INTO counter VALUES (0);",
        )
        .unwrap();
    drop(setup);
    migrator(false).open(&db).unwrap().up().unwrap();
    db
}

/// The ids the writer recorded as committed.
fn recorded(file: &Path) -> Vec<i64> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}

/// Waits (bounded) until the writer has recorded at least `more` commits beyond `seen`.
fn wait_for_commits(file: &Path, seen: usize, more: usize) -> usize {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now = recorded(file).len();
        if now >= seen + more {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "the writer stopped at {now} commits"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The ids in `seqs` of a database file (read from a copy for backups, so nothing is created
/// beside them), after checking it is sound.
fn ids(path: &Path) -> BTreeSet<i64> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok", "{}", path.display());
    let mut stmt = conn.prepare("SELECT n FROM seqs").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// Every id the writer recorded is in the live database or in one of the safety copies; the
/// writer really wrote before and after the restores.
fn assert_nothing_lost(db: &Path, record: &Path, safety_copies: &[PathBuf]) {
    let committed = recorded(record);
    let live = ids(db);
    let mut kept = live.clone();
    for copy in safety_copies {
        let in_copy = ids(copy);
        assert!(
            !in_copy.is_empty(),
            "{} holds no writer rows",
            copy.display()
        );
        kept.extend(in_copy);
    }
    let lost: Vec<i64> = committed
        .iter()
        .copied()
        .filter(|n| !kept.contains(n))
        .collect();
    assert!(
        lost.is_empty(),
        "{} committed rows are neither in the database nor in a safety copy: {lost:?}",
        lost.len()
    );
    // Written after the last restore, and still there.
    let last = *committed.last().unwrap();
    assert!(live.contains(&last), "the last commit {last} is gone");
    let conn = Connection::open(db).unwrap();
    let violations: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(violations, 0);
    eprintln!(
        "{} commits recorded; {} in the live database; {} safety copies",
        committed.len(),
        live.len(),
        safety_copies.len()
    );
}

fn stop_writer(stop: &Path, writer: child::Running) {
    std::fs::write(stop, b"").unwrap();
    writer.finish().assert_success();
}

fn explicit_restores_under_a_writer(wal: bool) {
    let dir = tempfile::tempdir().unwrap();
    let db = prepare(dir.path(), wal);
    let (stop, record) = (dir.path().join("stop"), dir.path().join("committed"));
    let session = migrator(false).open(&db).unwrap();
    let snapshot = session.snapshot("start").unwrap();
    assert!(ids(&snapshot.path).is_empty());

    let mut writer = spawn(&[
        "writer",
        arg(&db),
        "--stop",
        arg(&stop),
        "--pause-ms",
        "1",
        "--record",
        arg(&record),
    ]);
    writer.wait_for("writing");
    let mut seen = 0;
    let mut undo = Vec::new();
    for _ in 0..5 {
        wait_for_commits(&record, seen, 20);
        let report = session
            .restore(&RestoreFrom::Snapshot("start".into()))
            .unwrap();
        undo.push(report.undo_backup.path);
        // Count from here: the next safety copy must hold commits made after this restore.
        seen = recorded(&record).len();
    }
    wait_for_commits(&record, seen, 20);
    stop_writer(&stop, writer);
    drop(session);
    assert_nothing_lost(&db, &record, &undo);
    // The restores really restored: the migration's own table is as in the snapshot.
    let m1: i64 = Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM m1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(m1, 1);
}

#[test]
fn explicit_restores_lose_no_commit_of_another_process_in_rollback_journal_mode() {
    explicit_restores_under_a_writer(false);
}

#[test]
fn explicit_restores_lose_no_commit_of_another_process_in_wal_mode() {
    explicit_restores_under_a_writer(true);
}

fn automatic_restores_under_a_writer(wal: bool) {
    let dir = tempfile::tempdir().unwrap();
    let db = prepare(dir.path(), wal);
    let (stop, record) = (dir.path().join("stop"), dir.path().join("committed"));
    let mut writer = spawn(&[
        "writer",
        arg(&db),
        "--stop",
        arg(&stop),
        "--pause-ms",
        "1",
        "--record",
        arg(&record),
    ]);
    writer.wait_for("writing");
    let mut seen = 0;
    let mut failed_states = Vec::new();
    for _ in 0..3 {
        wait_for_commits(&record, seen, 20);
        let mut session = migrator(true).open(&db).unwrap();
        let err = session.up().unwrap_err();
        assert!(err.to_string().contains("restored automatically"), "{err}");
        let copies = session.failed_states().unwrap();
        failed_states = copies.into_iter().map(|b| b.path).collect();
        // Count from here: the next failed-state copy must hold commits made after this one.
        seen = recorded(&record).len();
        // Restored: migration 2 is not applied and its table is gone.
        let conn = Connection::open(&db).unwrap();
        let partial: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'partial'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(partial, 0);
    }
    assert_eq!(failed_states.len(), 3, "{failed_states:?}");
    wait_for_commits(&record, seen, 20);
    stop_writer(&stop, writer);
    assert_nothing_lost(&db, &record, &failed_states);
}

#[test]
fn automatic_restores_lose_no_commit_of_another_process_in_rollback_journal_mode() {
    automatic_restores_under_a_writer(false);
}

#[test]
fn automatic_restores_lose_no_commit_of_another_process_in_wal_mode() {
    automatic_restores_under_a_writer(true);
}
