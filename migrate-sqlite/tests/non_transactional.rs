//! `transaction = false` migrations: recorded as started first, run in autocommit mode, and a
//! started-but-unfinished one stops later runs until someone decides.

mod common;
use common::*;
use migrate_sqlite::{Migration, Status, Step, TxMode};
use rusqlite::Connection;

fn vacuum(seq: u64) -> Migration {
    Migration::new(seq, "vacuum", Step::sql("VACUUM")).with_mode(TxMode::NonTransactional)
}

#[test]
fn a_statement_that_refuses_transactions_runs_in_a_non_transactional_migration() {
    let db = temp_db();
    let mut list = tables(2);
    list.push(vacuum(3));
    list.extend(tables(4).into_iter().skip(3));
    let report = migrator(list).open(&db.path).unwrap().up().unwrap();
    assert_eq!(report.steps.len(), 4);
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2, 3, 4]);
    let actions: Vec<String> = conn
        .prepare("SELECT action FROM _migrate_history WHERE seq = 3 ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(actions, ["up-started", "up"]);
}

#[test]
fn vacuum_inside_a_transactional_migration_fails_cleanly() {
    let db = temp_db();
    let list = vec![Migration::new(1, "vacuum_in_tx", Step::sql("VACUUM"))];
    let err = migrator(list).open(&db.path).unwrap().up().unwrap_err();
    assert!(
        err.to_string().contains("VACUUM from within a transaction"),
        "{err}"
    );
    assert!(applied_seqs(&Connection::open(&db.path).unwrap()).is_empty());
}

#[test]
fn a_failed_non_transactional_migration_stays_started_and_blocks_later_runs() {
    let db = temp_db();
    let broken = Migration::new(
        2,
        "backfill",
        Step::sql("CREATE TABLE partial (x); INSERT INTO missing VALUES (1);"),
    )
    .with_mode(TxMode::NonTransactional);
    let mut list = tables(1);
    list.push(broken);
    list.extend(tables(3).into_iter().skip(2));

    // Without backups there is nothing to restore: the migration stays started.
    let err = migrator(list.clone())
        .without_backups()
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("stays recorded as started"), "{text}");
    assert!(
        text.contains("restore a backup") && text.contains("migrate resolve 2"),
        "{text}"
    );
    let conn = Connection::open(&db.path).unwrap();
    // 1 was committed before it; its partial work is there; 3 never ran.
    assert_eq!(applied_seqs(&conn), [1]);
    assert!(table_exists(&conn, "partial") && !table_exists(&conn, "t3"));

    let before = bytes(&db.path);
    let mut session = migrator(list).without_backups().open(&db.path).unwrap();
    let refusal = session.up().unwrap_err().to_string();
    assert!(
        refusal.contains(
            "2 \"backfill\" is a non-transactional migration that started and never finished"
        ),
        "{refusal}"
    );
    assert_eq!(session.status().unwrap().lines[1].status, Status::Started);
    drop(session);
    assert_eq!(bytes(&db.path), before, "the refusal changed the file");
}

#[test]
fn resolving_a_started_migration_unblocks_the_next_run() {
    let db = temp_db();
    let flaky = |fail: bool| {
        Migration::new(
            1,
            "backfill",
            Step::new(move |tx| {
                tx.execute_batch("CREATE TABLE IF NOT EXISTS filled (x)")?;
                if fail {
                    return Err(migrate_sqlite::Error::msg("network hiccup"));
                }
                Ok(())
            }),
        )
        .with_mode(TxMode::NonTransactional)
    };
    migrator(vec![flaky(true)])
        .without_backups()
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();

    let mut session = migrator(vec![flaky(false)])
        .without_backups()
        .open(&db.path)
        .unwrap();
    assert!(session.up().is_err(), "blocked while started");
    session
        .resolve(1, migrate_sqlite::Resolution::NotApplied)
        .unwrap();
    session.up().unwrap();
    assert_eq!(session.status().unwrap().lines[0].status, Status::Applied);
    let actions: Vec<String> = session
        .history()
        .unwrap()
        .into_iter()
        .map(|h| h.event.action)
        .collect();
    assert_eq!(actions, ["up-started", "up", "resolve", "up-started", "up"]);
    // Resolving an applied migration is refused.
    assert!(
        session
            .resolve(1, migrate_sqlite::Resolution::Applied)
            .is_err()
    );
}

#[test]
fn a_failed_non_transactional_migration_is_undone_by_restoring_the_pre_migration_backup() {
    let db = temp_db();
    migrator(tables(1)).open(&db.path).unwrap().up().unwrap();
    Connection::open(&db.path)
        .unwrap()
        .execute_batch("INSERT INTO t1 (v) VALUES ('precious')")
        .unwrap();
    let before = dump(&db.path);

    let broken = Migration::new(
        3,
        "backfill",
        Step::sql("CREATE TABLE partial (x); DELETE FROM t1; INSERT INTO missing VALUES (1);"),
    )
    .with_mode(TxMode::NonTransactional);
    let mut list = tables(2);
    list.push(broken);
    let err = migrator_with_backups(list)
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("restored automatically from"), "{text}");
    assert!(
        text.contains("exactly as it was before the run (seq 1)"),
        "{text}"
    );
    assert!(text.contains(".pre-up.db"), "{text}");

    // Schema and rows are as before the run: migration 2 (committed before the
    // non-transactional one) and the partial work of 3 are gone, the deleted row is back.
    assert_eq!(dump(&db.path), before);
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1]);
    // The failure is on record in the restored database, naming the backup.
    let detail: String = conn
        .query_row(
            "SELECT detail FROM _migrate_history WHERE seq = 3 AND outcome = 'failed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(detail.contains("database restored from"), "{detail}");
    // The failed state is kept for inspection.
    let kept = std::fs::read_dir(db.path.with_extension("db.backups"))
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().contains(".failed-state.db"));
    assert!(kept, "no failed-state backup");
}
