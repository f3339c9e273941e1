//! Backups against real processes: a backup taken while another process writes without pause
//! holds a state that really existed (rollback journal and WAL); a process SIGKILLed in the
//! middle of a backup leaves nothing that looks like a finished backup, and its temp file is
//! removed by the next run (only once no live process owns it); a backup that cannot be
//! written (file-size limit) stops the run with a clear error before anything changes; a
//! writer SIGKILLed in the middle of a transaction leaves a hot journal, which the backup's
//! `BEGIN IMMEDIATE` rolls back first: the backup (manual or before a run) holds the committed
//! state.
#![cfg(unix)]

mod child;

use child::{PATIENCE, State, arg, lock_is_free, run, spawn, spawn_with_file_limit};
use migrate_sqlite::{BackupInfo, BackupKind, Migration, Migrator, Step};
use rusqlite::{Connection, OpenFlags};
use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn backups_dir(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".backups");
    PathBuf::from(name)
}

fn listing(dir: &Path) -> BTreeSet<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
        Err(e) => panic!("cannot list {}: {e}", dir.display()),
    }
}

/// Every backup of `db` as the library lists them (a session that applies nothing).
fn listed_backups(db: &Path) -> Vec<BackupInfo> {
    Migrator::new()
        .with_migrations([Migration::new(1, "unused", Step::sql("SELECT 1"))])
        .open(db)
        .unwrap()
        .backups()
        .unwrap()
}

fn quick_check(path: &Path) -> String {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.query_row("PRAGMA quick_check", [], |r| r.get(0))
        .unwrap()
}

/// Adds a table of `megabytes` random 1 MB blobs.
fn add_filler(db: &Path, megabytes: u32) {
    Connection::open(db)
        .unwrap()
        .execute_batch(&format!(
            "CREATE TABLE filler (b BLOB);
             WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {megabytes})
             INSERT INTO filler SELECT randomblob(1000000) FROM c;"
        ))
        .unwrap();
}

// ----------------------------------------------------------------------------------------------
// A writer in another process

/// Migrations the backing-up process applies one at a time while the writer runs.
fn small_migrations() -> Vec<Migration> {
    (1..=5)
        .map(|seq| {
            Migration::new(
                seq,
                format!("m{seq}"),
                Step::sql(format!(
                    "CREATE TABLE m{seq} (x); INSERT INTO m{seq} VALUES ({seq})"
                )),
            )
        })
        .collect()
}

/// The `k` of a database the writer wrote: integrity ok, rows exactly 1..=k, counter k, filler
/// intact. Anything else is a state that never existed.
fn written_state(path: &Path) -> i64 {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok", "{}", path.display());
    let (rows, min, max): (i64, Option<i64>, Option<i64>) = conn
        .query_row("SELECT count(*), min(n), max(n) FROM seqs", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    let counters: Vec<i64> = conn
        .prepare("SELECT k FROM counter")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(counters.len(), 1, "{}", path.display());
    let k = counters[0];
    assert_eq!(rows, k, "rows vs counter in {}", path.display());
    if k > 0 {
        assert_eq!((min, max), (Some(1), Some(k)), "{}", path.display());
    }
    let filler: i64 = conn
        .query_row("SELECT count(*) FROM filler", [], |r| r.get(0))
        .unwrap();
    assert_eq!(filler, 6, "{}", path.display());
    k
}

/// Ten backups (half `Session::backup`, half pre-up backups of migrating runs) while a child
/// process commits one transaction after another; each backup must be a state the writer
/// committed, and each a later one than the backup before.
fn backups_under_a_concurrent_writer(wal: bool) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let stop = dir.path().join("stop");
    let setup = Connection::open(&db).unwrap();
    // Small pages: the ~6 MB copy takes more than one step of the backup API.
    setup.execute_batch("PRAGMA page_size = 1024").unwrap();
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
    add_filler(&db, 6);

    // A 1 ms gap between transactions, as any real writer has: with none at all, SQLite's
    // polling busy handler can starve `BEGIN IMMEDIATE` for as long as the writer runs.
    let mut writer = spawn(&["writer", arg(&db), "--stop", arg(&stop), "--pause-ms", "1"]);
    writer.wait_for("writing");
    let mut session = Migrator::new()
        .with_migrations(small_migrations())
        .keep_backups(100)
        .busy_timeout(Duration::from_secs(30))
        .open(&db)
        .unwrap();
    let probe = Connection::open(&db).unwrap();
    probe.busy_timeout(Duration::from_secs(30)).unwrap();
    let mut last = 0;
    let mut seen = Vec::new();
    for round in 0..10 {
        // The writer has committed since the last backup.
        let deadline = Instant::now() + PATIENCE;
        loop {
            let k: i64 = probe
                .query_row("SELECT k FROM counter", [], |r| r.get(0))
                .unwrap();
            if k > last {
                break;
            }
            if Instant::now() > deadline {
                let _ = std::fs::write(&stop, b"");
                panic!(
                    "round {round}: the writer stopped writing at {k}: {:#?}",
                    writer.kill()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let started = Instant::now();
        let path = if round % 2 == 0 {
            session.backup().unwrap().path
        } else {
            let before: BTreeSet<PathBuf> = session
                .backups()
                .unwrap()
                .into_iter()
                .map(|b| b.path)
                .collect();
            let report = session.up_to(round / 2 + 1).unwrap();
            assert_eq!(report.steps.len(), 1);
            let new: Vec<BackupInfo> = session
                .backups()
                .unwrap()
                .into_iter()
                .filter(|b| !before.contains(&b.path))
                .collect();
            assert_eq!(new.len(), 1, "{new:?}");
            assert_eq!(
                new[0].kind,
                BackupKind::Automatic {
                    reason: "pre-up".into()
                }
            );
            new[0].path.clone()
        };
        eprintln!("round {round}: {:?}", started.elapsed());
        let k = written_state(&path);
        assert!(k > last, "backup {round} holds k = {k}, not after {last}");
        last = k;
        seen.push(k);
    }
    std::fs::write(&stop, b"").unwrap();
    let outcome = writer.finish();
    outcome.assert_success();
    let wrote: i64 = outcome
        .stdout
        .iter()
        .find_map(|l| l.strip_prefix("wrote "))
        .unwrap_or_else(|| panic!("{outcome:#?}"))
        .parse()
        .unwrap();
    assert!(wrote >= last);
    drop((probe, session));
    assert_eq!(written_state(&db), wrote);
    let leftovers: Vec<String> = listing(&backups_dir(&db))
        .into_iter()
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    eprintln!("wal = {wal}: backups at k = {seen:?}, writer wrote {wrote}");
}

#[test]
fn backups_under_a_concurrent_writer_hold_real_states_in_rollback_journal_mode() {
    backups_under_a_concurrent_writer(false);
}

#[test]
fn backups_under_a_concurrent_writer_hold_real_states_in_wal_mode() {
    backups_under_a_concurrent_writer(true);
}

// ----------------------------------------------------------------------------------------------
// Killed in the middle of a backup

/// A child stopped in the middle of copying a 24 MB database (its progress callback sleeps after
/// the first step) and SIGKILLed there.
fn killed_during_a_backup(scenario: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("big.db");
    add_filler(&db, 24);
    let bytes_before = std::fs::read(&db).unwrap();
    let backups = backups_dir(&db);

    let mut child = spawn(&[scenario, arg(&db), "--hang-in-backup", "--up-to", "1"]);
    let line = child.wait_for("hanging in backup ");
    let numbers: Vec<u64> = line
        .trim_start_matches("hanging in backup ")
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(numbers[0] < numbers[1], "{line}");
    // Mid-copy: the file being written is hidden and nobody lists it.
    let during = listing(&backups);
    assert!(
        !during.is_empty()
            && during
                .iter()
                .all(|n| n.starts_with('.') && n.ends_with(".tmp")),
        "{during:?}"
    );
    assert!(listed_backups(&db).is_empty());
    let killed = child.kill();
    assert_eq!(killed.status.signal(), Some(9), "{killed:#?}");

    let left = listing(&backups);
    assert!(
        left.iter()
            .all(|n| n.starts_with('.') && n.ends_with(".tmp")),
        "something that looks like a backup: {left:?}"
    );
    assert!(listed_backups(&db).is_empty(), "{left:?}");
    // The database is intact and unchanged (a hot journal, if any, rolled back on open).
    let integrity: String = Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    assert!(
        std::fs::read(&db).unwrap() == bytes_before,
        "the database changed"
    );
    assert!(lock_is_free(&db));

    // The next run is not disturbed by the leftover, lists exactly its own backup, and removes
    // the leftover (its writer is dead and nobody holds its lock).
    run(&[scenario, arg(&db), "--up-to", "1"]).assert_success();
    let listed = listed_backups(&db);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(quick_check(&listed[0].path), "ok");
    let after: Vec<String> = listing(&backups)
        .into_iter()
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(after.is_empty(), "stale temp files left: {after:?}");
    assert_eq!(listing(&backups).len(), 1);
}

/// A temp file named as the backup writer names them, for process `pid`.
fn temp_file_of(dir: &Path, pid: u32, millis: u32) -> PathBuf {
    let path = dir.join(format!(
        ".big.db.20261122T104914.{millis:03}Z.pre-up.db.{pid}.tmp"
    ));
    std::fs::write(&path, vec![0u8; 4096]).unwrap();
    path
}

#[test]
fn a_temp_file_is_removed_only_when_no_live_process_owns_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("big.db");
    add_filler(&db, 1);
    let backups = backups_dir(&db);
    std::fs::create_dir_all(&backups).unwrap();
    // A process that has ended (and been reaped): its pid names no live process.
    let ended = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = ended.id();
    let mut ended = ended;
    assert!(ended.wait().unwrap().success());

    let of_dead_writer = temp_file_of(&backups, dead_pid, 1);
    let of_live_process = temp_file_of(&backups, std::process::id(), 2);
    // A dead pid, but the file is still locked (as a live writer holds it).
    let still_locked = temp_file_of(&backups, dead_pid, 3);
    let holder = std::fs::OpenOptions::new()
        .write(true)
        .open(&still_locked)
        .unwrap();
    holder.try_lock().unwrap();
    // Another database's temp file in the same directory.
    let other = backups.join(format!(
        ".other.db.20261122T104914.004Z.pre-up.db.{dead_pid}.tmp"
    ));
    std::fs::write(&other, b"x").unwrap();

    let out = run(&["backup", arg(&db)]);
    out.assert_success();
    assert!(!of_dead_writer.exists(), "{:?}", listing(&backups));
    assert!(of_live_process.exists());
    assert!(still_locked.exists());
    assert!(other.exists());
    let listed = listed_backups(&db);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(quick_check(&listed[0].path), "ok");

    // Once nobody holds it, the next backup removes it too.
    drop(holder);
    run(&["backup", arg(&db)]).assert_success();
    assert!(!still_locked.exists(), "{:?}", listing(&backups));
    assert!(of_live_process.exists() && other.exists());
    assert_eq!(listed_backups(&db).len(), 2);
}

#[test]
fn a_process_killed_during_a_manual_backup_leaves_no_finished_looking_file() {
    killed_during_a_backup("backup");
}

#[test]
fn a_process_killed_during_a_pre_migration_backup_leaves_no_finished_looking_file() {
    killed_during_a_backup("plain");
}

// ----------------------------------------------------------------------------------------------
// A backup that cannot be written

/// The child runs under `ulimit -f` (512 KB with dash's 512-byte blocks, 1 MB with bash's), the
/// database is over 2 MB: the backup copy fails with EFBIG.
fn a_file_size_limit_stops_the_operation_before_anything_changes(scenario: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("limited.db");
    run(&["plain", arg(&db), "--up-to", "10"]).assert_success();
    add_filler(&db, 2);
    let bytes_before = std::fs::read(&db).unwrap();
    let backups_before = listing(&backups_dir(&db));
    assert_eq!(backups_before.len(), 1, "{backups_before:?}");

    let outcome = spawn_with_file_limit(1024, &[scenario, arg(&db)]).finish();
    assert_eq!(outcome.status.code(), Some(1), "{outcome:#?}");
    assert!(
        outcome.stderr.contains("could not write a backup into")
            && outcome.stderr.contains("Nothing was migrated"),
        "{outcome:#?}"
    );
    assert!(
        std::fs::read(&db).unwrap() == bytes_before,
        "the database changed"
    );
    assert_eq!(
        listing(&backups_dir(&db)),
        backups_before,
        "a partial backup was left"
    );
    State::read(&db).assert_applied_through(10);
    assert!(lock_is_free(&db));

    // Without the limit the same command succeeds: the limit was the only obstacle.
    run(&[scenario, arg(&db)]).assert_success();
}

#[test]
fn a_file_size_limit_stops_a_migrating_run_before_anything_changes() {
    a_file_size_limit_stops_the_operation_before_anything_changes("plain");
}

#[test]
fn a_file_size_limit_stops_a_manual_backup_before_anything_changes() {
    a_file_size_limit_stops_the_operation_before_anything_changes("backup");
}

// ----------------------------------------------------------------------------------------------
// A writer killed in the middle of its transaction: a hot journal

/// A rollback-journal database with 200 committed rows and `k = 7`, then a child process that
/// spilled half a write transaction into the file and was SIGKILLed: its hot `-journal` holds
/// the original pages. Nothing opens the database in between (that would roll it back).
fn database_with_a_hot_journal(dir: &Path) -> PathBuf {
    let db = dir.join("app.db");
    Connection::open(&db)
        .unwrap()
        .execute_batch(
            "CREATE TABLE seqs (n INTEGER PRIMARY KEY, pad BLOB);
             CREATE TABLE counter (k INTEGER NOT NULL);
             INSERT INTO counter VALUES (7);
             WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 200)
             INSERT INTO seqs SELECT i, randomblob(300) FROM c;",
        )
        .unwrap();
    let committed = std::fs::read(&db).unwrap();
    let mut child = spawn(&["crash-mid-write", arg(&db)]);
    child.wait_for("holding");
    let outcome = child.kill();
    assert_eq!(outcome.status.signal(), Some(9), "{outcome:#?}");
    let journal = dir.join("app.db-journal");
    assert!(
        std::fs::metadata(&journal).unwrap().len() > 0,
        "the killed writer left its journal"
    );
    assert_ne!(
        std::fs::read(&db).unwrap(),
        committed,
        "the killed writer's pages are in the database file"
    );
    db
}

/// The committed state: integrity ok, 200 rows, `k = 7` (the killed transaction's -1 and its
/// 200 extra rows are not there).
fn assert_committed_state(path: &Path) {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok", "{}", path.display());
    let (rows, k): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM seqs), (SELECT k FROM counter)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((rows, k), (200, 7), "{}", path.display());
}

#[test]
fn a_manual_backup_after_a_writer_was_killed_mid_transaction_holds_the_committed_state() {
    let dir = tempfile::tempdir().unwrap();
    let db = database_with_a_hot_journal(dir.path());

    // `BEGIN IMMEDIATE` of the backing-up connection rolls the hot journal back before the
    // copy: the copy never sees the killed writer's pages.
    let info = Migrator::new()
        .with_migrations(small_migrations())
        .open(&db)
        .unwrap()
        .backup()
        .unwrap();

    assert_committed_state(&info.path);
    assert_eq!(quick_check(&info.path), "ok");
    assert!(!dir.path().join("app.db-journal").exists(), "rolled back");
    assert_committed_state(&db);
    assert_eq!(
        listing(&backups_dir(&db)).len(),
        1,
        "{:?}",
        listing(&backups_dir(&db))
    );
}

#[test]
fn a_run_after_a_writer_was_killed_mid_transaction_backs_up_the_committed_state_and_applies() {
    let dir = tempfile::tempdir().unwrap();
    let db = database_with_a_hot_journal(dir.path());

    let report = Migrator::new()
        .with_migrations(small_migrations())
        .open(&db)
        .unwrap()
        .up()
        .unwrap();

    assert_eq!(report.steps.len(), 5);
    let backups = listed_backups(&db);
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_committed_state(&backups[0].path);
    let conn = Connection::open(&db).unwrap();
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name GLOB 'm[1-5]'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 5);
    drop(conn);
    assert_committed_state(&db);
}
