//! Progress of dumps, their verification and restores (`Migrator::on_progress`), against a
//! database of a few MB: each stage's `done` never goes back, a dump ends at its file's size, a
//! replay ends at the bytes pg_restore prints, the callback runs on the caller's thread, and the
//! backup and the restore hold the same rows as without a callback.

use crate::backup::{all_rows, bin, load_into};
use crate::common::{count, db, exists};
use migrate_postgres::{Migration, Migrator, Progress, ProgressStage, RestoreFrom, Step};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

/// About 7 MB of rows that compress poorly (hex digests): a dump of about 4 MB.
const BIG: &str = "
CREATE TABLE big (id bigint PRIMARY KEY, payload text NOT NULL);
INSERT INTO big SELECT i, md5(i::text) || md5((i * 7)::text) FROM generate_series(1, 100000) i;
";

type Calls = Arc<Mutex<Vec<(ThreadId, Progress)>>>;

fn recording() -> (Migrator, Calls) {
    let calls: Calls = Arc::default();
    let sink = calls.clone();
    let migrator = Migrator::new()
        .with_migrations([Migration::new(
            1,
            "create_notes",
            Step::sql("CREATE TABLE notes (id bigint PRIMARY KEY)"),
        )])
        .on_progress(move |p| sink.lock().unwrap().push((std::thread::current().id(), p)));
    (migrator, calls)
}

/// The calls of one stage in order, checked to come from this thread.
fn stage(calls: &[(ThreadId, Progress)], which: ProgressStage) -> Vec<Progress> {
    let me = std::thread::current().id();
    assert!(
        calls.iter().all(|(t, _)| *t == me),
        "called on another thread"
    );
    calls
        .iter()
        .map(|(_, p)| *p)
        .filter(|p| p.stage == which)
        .collect()
}

fn assert_non_decreasing(seen: &[Progress]) {
    assert!(!seen.is_empty());
    for w in seen.windows(2) {
        assert!(w[0].done <= w[1].done, "{seen:?}");
    }
    assert!(
        seen.iter().all(|p| p.done <= p.total || p.total == 0),
        "{seen:?}"
    );
}

#[test]
fn a_backup_reports_the_dump_and_its_verification_up_to_the_files_size() {
    let (Some(app), Some(copy)) = (db(), db()) else {
        return;
    };
    app.client().batch_execute(BIG).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (migrator, calls) = recording();
    let mut session = migrator.backup_dir(dir.path()).on(app.connect()).unwrap();

    let info = session.backup().unwrap();

    let calls = calls.lock().unwrap().clone();
    let size = std::fs::metadata(&info.path).unwrap().len();
    assert!(size > 1_000_000, "a dump of a few MB: {size}");
    let dump = stage(&calls, ProgressStage::Dump);
    assert_non_decreasing(&dump);
    assert_eq!(dump[0].total, 0, "no earlier backup to estimate from");
    let last = dump.last().unwrap();
    assert_eq!((last.done, last.total), (size, size));
    let verify = stage(&calls, ProgressStage::Verify);
    assert_non_decreasing(&verify);
    assert!(verify.iter().all(|p| p.total == size), "{verify:?}");
    assert_eq!(verify.last().unwrap().done, size);
    let first_verify = calls
        .iter()
        .position(|(_, p)| p.stage == ProgressStage::Verify);
    let last_dump = calls
        .iter()
        .rposition(|(_, p)| p.stage == ProgressStage::Dump);
    assert!(last_dump < first_verify, "the dump, then its verification");
    assert!(stage(&calls, ProgressStage::Replay).is_empty());

    load_into(&copy, &info.path);
    assert_eq!(count(&mut copy.client(), "big"), 100_000);
    assert_eq!(all_rows(&mut copy.client()), all_rows(&mut app.client()));
}

#[test]
fn a_restore_reports_the_bytes_relayed_to_psql_and_restores_every_row() {
    let Some(app) = db() else {
        return;
    };
    app.client().batch_execute(BIG).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (migrator, calls) = recording();
    let mut session = migrator.backup_dir(dir.path()).on(app.connect()).unwrap();
    let before = all_rows(&mut app.client());
    let backup = session.backup().unwrap();
    app.client()
        .batch_execute("DELETE FROM big WHERE id % 2 = 0; CREATE TABLE stray (x int)")
        .unwrap();
    calls.lock().unwrap().clear();

    let report = session
        .restore(&RestoreFrom::File(backup.path.clone()))
        .unwrap();

    let calls = calls.lock().unwrap().clone();
    // The SQL pg_restore prints for this archive, measured on another path.
    let sql = std::process::Command::new(bin("pg_restore"))
        .arg("--file=-")
        .arg(&backup.path)
        .output()
        .unwrap();
    assert!(sql.status.success());
    let replay = stage(&calls, ProgressStage::Replay);
    assert_non_decreasing(&replay);
    assert!(replay.iter().all(|p| p.total == 0), "total unknown");
    assert_eq!(replay.last().unwrap().done, sql.stdout.len() as u64);
    let first_replay = calls
        .iter()
        .position(|(_, p)| p.stage == ProgressStage::Replay);
    let last_dump = calls
        .iter()
        .rposition(|(_, p)| p.stage == ProgressStage::Dump);
    assert!(last_dump < first_replay, "the undo backup, then the replay");
    // The undo backup's dump is estimated at the newest backup's size, then ends at its own.
    let dump = stage(&calls, ProgressStage::Dump);
    assert_non_decreasing(&dump);
    assert_eq!(dump[0].total, backup.size);
    let undo_size = std::fs::metadata(&report.undo_backup.path).unwrap().len();
    assert_eq!(dump.last().unwrap().done, undo_size);

    assert_eq!(all_rows(&mut app.client()), before);
    assert_eq!(count(&mut app.client(), "big"), 100_000);
}

#[test]
fn the_backup_before_a_run_reports_progress_and_the_run_still_applies() {
    let Some(app) = db() else {
        return;
    };
    app.client().batch_execute(BIG).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (migrator, calls) = recording();
    let mut session = migrator.backup_dir(dir.path()).on(app.connect()).unwrap();

    session.up().unwrap();

    let calls = calls.lock().unwrap().clone();
    let backups = session.backups().unwrap();
    assert_eq!(backups.len(), 1, "{backups:?}");
    let size = std::fs::metadata(&backups[0].path).unwrap().len();
    let dump = stage(&calls, ProgressStage::Dump);
    assert_non_decreasing(&dump);
    assert_eq!(dump.last().unwrap().done, size);
    assert_eq!(
        stage(&calls, ProgressStage::Verify).last().unwrap().done,
        size
    );
    assert!(
        exists(&mut app.client(), "public.notes"),
        "the migration ran"
    );
    assert_eq!(count(&mut app.client(), "big"), 100_000);
}
