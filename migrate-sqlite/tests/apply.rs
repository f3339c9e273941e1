//! Applying and reverting: up, up_to, down, down_to, redo, and what they record.

mod common;
use common::*;
use migrate_sqlite::{Direction, Migrator, Status};
use rusqlite::Connection;

#[test]
fn up_applies_everything_and_records_each_row() {
    let db = temp_db();
    let report = migrator(tables(3))
        .app_version("9.9.9")
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    assert_eq!(report.steps.len(), 3);
    assert_eq!((report.before, report.after), (None, Some(3)));

    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2, 3]);
    for seq in 1..=3 {
        assert!(table_exists(&conn, &format!("t{seq}")));
    }
    let (name, checksum, applied_by): (String, String, String) = conn
        .query_row(
            "SELECT name, checksum, applied_by FROM _migrate_applied WHERE seq = 2",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(name, "create_t2");
    assert!(checksum.starts_with("v1:"));
    assert!(applied_by.contains("migrate-sqlite") && applied_by.contains("9.9.9"));
}

#[test]
fn a_second_start_does_nothing_and_writes_nothing() {
    let db = temp_db();
    migrator(tables(3)).open(&db.path).unwrap().up().unwrap();
    let before = bytes(&db.path);
    let report = migrator(tables(3)).open(&db.path).unwrap().up().unwrap();
    assert!(report.steps.is_empty());
    assert_eq!(report.to_string(), "set \"default\": up to date at seq 3");
    assert_eq!(bytes(&db.path), before);
}

#[test]
fn up_to_down_to_and_redo_move_exactly_where_asked() {
    let db = temp_db();
    let mut session = migrator(tables(5)).open(&db.path).unwrap();
    assert_eq!(session.up_to(2).unwrap().after, Some(2));
    assert_eq!(session.up().unwrap().after, Some(5));
    let report = session.down(2).unwrap();
    let reverted: Vec<u64> = report.steps.iter().map(|s| s.seq).collect();
    assert_eq!(reverted, [5, 4]);
    assert_eq!(session.down_to(1).unwrap().after, Some(1));
    let redo = session.redo().unwrap();
    let moves: Vec<(u64, Direction)> = redo.steps.iter().map(|s| (s.seq, s.direction)).collect();
    assert_eq!(moves, [(1, Direction::Down), (1, Direction::Up)]);
    session.down_to(0).unwrap();

    let conn = Connection::open(&db.path).unwrap();
    assert!(applied_seqs(&conn).is_empty());
    assert!(!table_exists(&conn, "t1"));
}

#[test]
fn history_records_every_step_in_order() {
    let db = temp_db();
    let mut session = migrator(tables(2)).open(&db.path).unwrap();
    session.up().unwrap();
    session.down(1).unwrap();
    let events: Vec<(Option<u64>, String, String)> = session
        .history()
        .unwrap()
        .into_iter()
        .map(|h| (h.event.seq, h.event.action, h.event.outcome))
        .collect();
    assert_eq!(
        events,
        [
            (Some(1), "up".into(), "ok".into()),
            (Some(2), "up".into(), "ok".into()),
            (Some(2), "down".into(), "ok".into()),
        ]
    );
}

#[test]
fn status_lists_applied_and_pending_with_times() {
    let db = temp_db();
    let mut session = migrator(tables(3)).open(&db.path).unwrap();
    session.up_to(2).unwrap();
    let status = session.status().unwrap();
    let states: Vec<Status> = status.lines.iter().map(|l| l.status.clone()).collect();
    assert_eq!(states, [Status::Applied, Status::Applied, Status::Pending]);
    assert!(
        status.lines[0]
            .applied_at
            .as_deref()
            .unwrap()
            .starts_with("20")
    );
    assert!(status.lines[2].applied_at.is_none());
    assert_eq!(status.current, Some(2));
    let text = status.to_string();
    assert!(
        text.contains("create_t3") && text.contains("pending"),
        "{text}"
    );
}

#[test]
fn works_on_a_connection_the_caller_owns() {
    let mut conn = Connection::open_in_memory().unwrap();
    Migrator::new()
        .with_migrations(tables(2))
        .on(&mut conn)
        .unwrap()
        .up()
        .unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2]);
    // The caller's settings are as they were.
    assert_eq!(pragma(&conn, "foreign_keys"), 1);
}

#[test]
fn refuses_a_connection_inside_a_transaction() {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("BEGIN").unwrap();
    let err = Migrator::new()
        .with_migrations(tables(1))
        .on(&mut conn)
        .unwrap()
        .up()
        .unwrap_err();
    assert!(err.to_string().contains("inside a transaction"), "{err}");
    assert!(!table_exists(&conn, "t1"));
}

#[test]
fn a_tracking_row_deleted_by_hand_is_noticed_by_the_next_start() {
    // The no-op start trusts a digest of the tracking rows; triggers clear it on any hand edit.
    let db = temp_db();
    migrator(tables(3)).open(&db.path).unwrap().up().unwrap();
    let conn = Connection::open(&db.path).unwrap();
    conn.execute_batch("DELETE FROM _migrate_applied WHERE seq = 3; DROP TABLE t3;")
        .unwrap();
    let report = migrator(tables(3)).open(&db.path).unwrap().up().unwrap();
    let rerun: Vec<u64> = report.steps.iter().map(|s| s.seq).collect();
    assert_eq!(rerun, [3]);
    assert_eq!(applied_seqs(&conn), [1, 2, 3]);
    // And a changed checksum is not hidden by it either.
    conn.execute(
        "UPDATE _migrate_applied SET checksum = 'v1:0000000000000000' WHERE seq = 1",
        [],
    )
    .unwrap();
    let err = migrator(tables(3))
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    assert!(
        err.to_string().contains("changed after it was applied"),
        "{err}"
    );
}

#[test]
fn a_start_with_nothing_to_do_reads_the_digest_not_the_rows() {
    let db = temp_db();
    migrator(tables(3)).open(&db.path).unwrap().up().unwrap();
    let conn = Connection::open(&db.path).unwrap();
    let digest: String = conn
        .query_row(
            "SELECT digest FROM _migrate_state WHERE set_name = 'default'",
            [],
            |r| r.get(0),
        )
        .expect("a successful run leaves a digest");
    assert!(digest.starts_with("v1:"));
    // Rows that disagree with the digest's registry but keep the digest: the fast path trusts
    // it only when it matches the binary exactly, so a different binary takes the full path.
    let err = migrator(tables(2))
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    assert!(err.to_string().contains("the database has 3"), "{err}");
}

#[test]
fn hooks_see_the_batch_and_every_migration() {
    use migrate_sqlite::Event;
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let db = temp_db();
    let mut list = tables(2);
    list.push(migrate_sqlite::Migration::new(
        3,
        "broken",
        migrate_sqlite::Step::sql("SELECT * FROM missing"),
    ));
    let _ = migrator(list)
        .on_event(move |e| {
            let line = match e {
                Event::BatchStarting { steps, .. } => format!("batch {steps}"),
                Event::MigrationStarting { seq, .. } => format!("start {seq}"),
                Event::MigrationFinished { seq, .. } => format!("done {seq}"),
                Event::MigrationFailed { seq, error, .. } => {
                    format!("failed {seq} {}", error.contains("no such table"))
                }
                Event::BatchFinished { steps, .. } => format!("finished {steps}"),
            };
            log.lock().unwrap().push(line);
        })
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "batch 3",
            "start 1",
            "done 1",
            "start 2",
            "done 2",
            "start 3",
            "failed 3 true"
        ]
    );
}
