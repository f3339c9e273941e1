//! What the runner reports as kept after a failure around non-transactional migrations:
//! each kept migration named once, nothing called drift that the run itself committed.

mod common;
use common::runs::*;
use common::*;
use migrate_sqlite::{Error, FailurePolicy, Migration, SchemaDiff, Step, TxMode};
use rusqlite::Connection;

// ---------------------------------------------------------------------------------------------
// Non-transactional migrations and what the runner reports as kept
// ---------------------------------------------------------------------------------------------

/// A non-transactional migration that completed before a later failure is committed with its
/// row and schema snapshot: it stays applied, the message lists it as kept, and `status`
/// reports no drift for the table it created.
#[test]
fn a_completed_non_transactional_migration_stays_applied_and_is_reported_kept() {
    let db = temp_db();
    migrator(tables(1)).open(&db.path).unwrap().up().unwrap();
    let mut list = tables(1);
    list.push(non_tx(
        2,
        "side_table",
        "CREATE TABLE IF NOT EXISTS side (x)",
    ));
    list.push(Migration::new(
        3,
        "broken",
        Step::sql("INSERT INTO missing VALUES (1)"),
    ));
    let mut session = migrator(list).open(&db.path).unwrap();
    let err = session.up().unwrap_err();
    assert_eq!(
        outcome(&err),
        format!("Kept from this run: applied 2. The database is now at seq 2. {FIX_AND_UP}")
    );
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2]);
    assert_eq!(started_seqs(&conn), [0u64; 0]);
    assert!(table_exists(&conn, "side"));
    assert_eq!(
        history(&conn),
        ["1 up ok", "2 up-started started", "2 up ok", "3 up failed"]
    );
    let drift = session.status().unwrap().drift;
    assert!(
        drift.is_none(),
        "migration 2's table reported as drift: {drift:?}"
    );
}

/// After two non-transactional migrations and a failure, the kept list names each migration
/// of the run exactly once (as a range).
#[test]
fn the_kept_list_after_two_non_transactional_migrations_names_each_once() {
    let db = temp_db();
    let list = vec![
        tables(1).remove(0),
        non_tx(2, "side_a", "CREATE TABLE IF NOT EXISTS side_a (x)"),
        non_tx(3, "side_b", "CREATE TABLE IF NOT EXISTS side_b (x)"),
        Migration::new(4, "broken", Step::sql("INSERT INTO missing VALUES (1)")),
    ];
    let err = migrator(list).open(&db.path).unwrap().up().unwrap_err();
    assert_eq!(
        outcome(&err),
        format!("Kept from this run: applied 1-3. The database is now at seq 3. {FIX_AND_UP}")
    );
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2, 3]);
    assert_eq!(started_seqs(&conn), [0u64; 0]);
    assert_eq!(
        history(&conn),
        [
            "1 up ok",
            "2 up-started started",
            "2 up ok",
            "3 up-started started",
            "3 up ok",
            "4 up failed"
        ]
    );
}

/// The schema snapshot is stored with every COMMIT before a non-transactional migration, so
/// when that migration fails, `status` reports only its own partial work as drift, never the
/// tables of the migrations committed before it.
#[test]
fn migrations_committed_before_a_failed_non_transactional_one_are_not_drift() {
    let db = temp_db();
    migrator(tables(1)).open(&db.path).unwrap().up().unwrap();
    let mut list = tables(2);
    list.push(non_tx(
        3,
        "backfill",
        "CREATE TABLE IF NOT EXISTS partial (x); INSERT INTO missing VALUES (1);",
    ));
    let mut session = migrator(list).open(&db.path).unwrap();
    let err = session.up().unwrap_err();
    let text = outcome(&err);
    assert!(
        text.starts_with(
            "Kept from this run: applied 2; left started 3. The database is now at seq 2."
        ),
        "{text}"
    );
    assert!(text.contains("`migrate resolve 3 --applied`"), "{text}");
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2]);
    assert_eq!(started_seqs(&conn), [3]);
    assert_eq!(
        history(&conn),
        ["1 up ok", "2 up ok", "3 up-started started", "3 up failed"]
    );
    assert_eq!(
        session.status().unwrap().drift,
        Some(SchemaDiff {
            added: vec!["table partial".to_owned()],
            ..SchemaDiff::default()
        })
    );
}

/// When the redo of a non-transactional migration reverts it and then fails to apply it
/// again, the message says it is left started (not that it stays applied), matching its row.
#[test]
fn a_failed_redo_of_a_non_transactional_migration_reports_it_left_started() {
    let db = temp_db();
    let flaky = |fail: bool| {
        Migration::new(
            2,
            "side",
            Step::new(move |tx| {
                tx.execute_batch("CREATE TABLE IF NOT EXISTS side (x)")?;
                if fail {
                    return Err(Error::msg("flaky"));
                }
                Ok(())
            }),
        )
        .with_down(Step::sql("DROP TABLE IF EXISTS side"))
        .with_mode(TxMode::NonTransactional)
    };
    let mut list = tables(1);
    list.push(flaky(false));
    migrator(list).open(&db.path).unwrap().up().unwrap();
    let mut list = tables(1);
    list.push(flaky(true));
    let err = migrator(list).open(&db.path).unwrap().redo().unwrap_err();
    assert!(
        matches!(cause(&err), Error::Message(m) if m == "flaky"),
        "{err}"
    );
    let text = outcome(&err);
    assert!(
        text.starts_with("Kept from this run: left started 2. The database is now at seq 1."),
        "{text}"
    );
    assert!(!text.contains("stay applied"), "{text}");
    assert!(text.contains("it stays recorded as started"), "{text}");
    assert!(text.contains("`migrate resolve 2 --not-applied`"), "{text}");
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1]);
    assert_eq!(started_seqs(&conn), [2]);
    assert!(
        table_exists(&conn, "side"),
        "the failed up's partial work stays"
    );
    assert_eq!(
        history(&conn),
        [
            "1 up ok",
            "2 up-started started",
            "2 up ok",
            "2 down-started started",
            "2 down ok",
            "2 up-started started",
            "2 up failed"
        ]
    );
}

/// Under KeepApplied, when the down of 2 fails during `down_to(0)`, the down of 3 that
/// succeeded is kept and reported as reverted; 1 and 2 stay applied with their tables. The
/// command to finish is the `down --to 0` that failed (a bare `migrate down` would revert one
/// migration only).
#[test]
fn keep_applied_down_failure_reports_the_kept_revert_as_reverted() {
    let db = temp_db();
    migrator(tables(3)).open(&db.path).unwrap().up().unwrap();
    let mut list = tables(3);
    list[1] = list[1]
        .clone()
        .with_down(Step::sql("DROP TABLE t2; SELECT * FROM missing"));
    let err = migrator(list)
        .failure_policy(FailurePolicy::KeepApplied)
        .open(&db.path)
        .unwrap()
        .down_to(0)
        .unwrap_err();
    assert_eq!(
        outcome(&err),
        "Kept from this run: reverted 3. The database is now at seq 2. Nothing needs \
         restoring; fix the migration and run `migrate down --to 0` again."
    );
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2]);
    assert!(table_exists(&conn, "t1") && table_exists(&conn, "t2"));
    assert!(!table_exists(&conn, "t3"));
    assert_eq!(
        history(&conn),
        [
            "1 up ok",
            "2 up ok",
            "3 up ok",
            "3 down ok",
            "2 down failed"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// A database found damaged part-way through a run
// ---------------------------------------------------------------------------------------------

/// Under KeepApplied the backup taken just before a `transaction = false` migration checks the
/// live database (`quick_check` of the state it copies). A file damaged by then (here a page
/// of a big table overwritten on disk while migration 2 runs) is named as damaged, with the
/// backup taken before the run to restore, not as a backup directory short of space; the
/// non-transactional migration is not run, and no pre-step backup file is left behind.
#[test]
fn a_database_found_damaged_before_a_non_transactional_step_is_named_damaged_with_its_backup() {
    use std::io::{Seek, SeekFrom, Write};
    let db = temp_db();
    let fill = Migration::new(
        1,
        "fill",
        Step::sql(
            "CREATE TABLE big (b BLOB);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
             INSERT INTO big SELECT randomblob(200) FROM n;",
        ),
    );
    migrator_with_backups(vec![fill.clone()])
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    let path = db.path.clone();
    let damages = Migration::new(
        2,
        "damages_the_file",
        Step::new(move |tx| {
            tx.execute_batch("CREATE TABLE t2 (x)")?;
            let page_size: i64 = tx.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let page_size = page_size as u64;
            let mut file = std::fs::OpenOptions::new().write(true).open(&path)?;
            let pages = file.metadata()?.len() / page_size;
            file.seek(SeekFrom::Start(pages / 2 * page_size))?;
            file.write_all(&vec![0xA5; page_size as usize])?;
            file.sync_all()?;
            Ok(())
        }),
    );
    let list = vec![
        fill,
        damages,
        non_tx(3, "side", "CREATE TABLE IF NOT EXISTS side (x)"),
    ];
    let backups_before = backup_files(&db.path);
    assert_eq!(backups_before.len(), 1, "{backups_before:?}");
    let err = migrator_with_backups(list)
        .failure_policy(FailurePolicy::KeepApplied)
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();

    let pre_run = backup_files(&db.path)
        .into_iter()
        .find(|p| !backups_before.contains(p))
        .expect("the backup taken before this run");
    match cause(&err) {
        Error::DamagedMidRun { path, backup, .. } => {
            assert_eq!(*path, db.path);
            assert_eq!(backup.as_ref(), Some(&pre_run));
        }
        other => panic!("expected DamagedMidRun, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("is damaged"), "{text}");
    assert!(!text.contains("space"), "{text}");
    assert!(
        text.contains(&format!("`migrate restore {} --yes`", pre_run.display())),
        "{text}"
    );
    assert_eq!(
        outcome(&err),
        "Kept from this run: applied 2. The database is now at seq 2. Nothing after it was run. \
         Do not run migrations on this file again until it is restored; the migration itself is \
         not at fault."
    );
    // 3 never started; no backup of the damaged state was written.
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2]);
    assert_eq!(started_seqs(&conn), [0u64; 0]);
    assert!(!table_exists(&conn, "side"));
    let after: Vec<_> = backup_files(&db.path);
    assert_eq!(
        after.len(),
        2,
        "only the pre-run backup was added: {after:?}"
    );
    assert!(
        after
            .iter()
            .all(|p| !p.to_string_lossy().contains("pre-step")),
        "{after:?}"
    );
    // The backup it names is sound and holds the state before the run.
    let backup = Connection::open(&pre_run).unwrap();
    let check: String = backup
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    assert_eq!(applied_seqs(&backup), [1]);
}

/// The files in the database's backup directory (temp files apart).
fn backup_files(db: &std::path::Path) -> Vec<std::path::PathBuf> {
    let dir = std::path::PathBuf::from(format!("{}.backups", db.display()));
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.retain(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'));
    files.sort();
    files
}
