//! Every refusal happens before anything changes: the database file is byte-for-byte the same.

mod common;
use common::*;
use migrate_sqlite::{Checksum, CoreError, Error, Migration, Status, Step};
use rusqlite::Connection;

/// Runs `f` and checks the file did not change.
fn unchanged<T>(path: &std::path::Path, f: impl FnOnce() -> T) -> T {
    let before = bytes(path);
    let result = f();
    assert_eq!(bytes(path), before, "the database file changed");
    result
}

#[test]
fn an_irreversible_migration_in_the_way_is_refused_before_anything_runs() {
    let db = temp_db();
    let mut list = tables(3);
    list[1] = Migration::new(2, "irreversible", Step::sql("CREATE TABLE t2 (x)"));
    let mut session = migrator(list).open(&db.path).unwrap();
    session.up().unwrap();
    let err = unchanged(&db.path, || session.down_to(0).unwrap_err());
    assert!(matches!(
        err,
        Error::Core(CoreError::Irreversible { seq: 2, .. })
    ));
    let text = err.to_string();
    assert!(text.contains("cannot revert 2 \"irreversible\""), "{text}");
    assert!(text.contains("nothing was changed"), "{text}");
    // t3, which could be reverted, was not: nothing ran.
    assert!(table_exists(&Connection::open(&db.path).unwrap(), "t3"));
}

#[test]
fn a_database_newer_than_the_binary_is_refused_unless_allowed() {
    let db = temp_db();
    migrator(tables(3)).open(&db.path).unwrap().up().unwrap();
    let err = unchanged(&db.path, || {
        migrator(tables(2))
            .open(&db.path)
            .unwrap()
            .up()
            .unwrap_err()
    });
    let text = err.to_string();
    assert!(text.contains("the database has 3 \"create_t3\""), "{text}");
    assert!(text.contains("--allow-database-ahead"), "{text}");
    // Explicit opt-in for rolling deploys.
    let report = migrator(tables(2))
        .allow_database_ahead()
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    assert!(report.steps.is_empty());
}

#[test]
fn a_changed_checksum_is_refused_until_accepted_and_the_acceptance_is_recorded() {
    let db = temp_db();
    migrator(tables(2)).open(&db.path).unwrap().up().unwrap();
    let mut edited = tables(3);
    edited[0] = edited[0].clone().with_checksum(Checksum::of_text("edited"));

    let err = unchanged(&db.path, || {
        migrator(edited.clone())
            .open(&db.path)
            .unwrap()
            .up()
            .unwrap_err()
    });
    let text = err.to_string();
    assert!(
        text.contains("1 \"create_t1\" changed after it was applied"),
        "{text}"
    );
    assert!(text.contains("--accept-checksum 1"), "{text}");
    // The pending migration 3 was not applied either.
    assert!(!table_exists(&Connection::open(&db.path).unwrap(), "t3"));

    let mut session = migrator(edited).accept_checksum(1).open(&db.path).unwrap();
    let report = session.up().unwrap();
    assert_eq!(report.accepted_checksums, [1]);
    assert_eq!(report.steps.len(), 1);
    assert_eq!(session.status().unwrap().lines[0].status, Status::Applied);
    let accepted = session
        .history()
        .unwrap()
        .into_iter()
        .find(|h| h.event.action == "accept-checksum")
        .expect("acceptance recorded");
    assert_eq!(accepted.event.seq, Some(1));
    assert!(
        accepted
            .event
            .detail
            .unwrap()
            .contains(&Checksum::of_text("edited").to_string())
    );
}

#[test]
fn an_out_of_order_migration_is_refused_unless_allowed() {
    let db = temp_db();
    let mut without_2 = tables(3);
    without_2.remove(1);
    migrator(without_2)
        .allow_gaps()
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    let err = unchanged(&db.path, || {
        migrator(tables(3))
            .open(&db.path)
            .unwrap()
            .up()
            .unwrap_err()
    });
    assert!(
        err.to_string()
            .contains("2 \"create_t2\" is pending but 3 is already applied"),
        "{err}"
    );
    let report = migrator(tables(3))
        .allow_out_of_order()
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    assert_eq!(report.steps.len(), 1);
}

#[test]
fn invalid_registries_are_refused_at_open_and_touch_nothing() {
    let db = temp_db();
    migrator(tables(1)).open(&db.path).unwrap().up().unwrap();
    let mut dup = tables(2);
    dup.push(sql(2, "again", "SELECT 1", "SELECT 1"));
    dup.push(sql(5, "gap", "SELECT 1", "SELECT 1"));
    let err = unchanged(&db.path, || match migrator(dup).open(&db.path) {
        Ok(_) => panic!("an invalid registry was accepted"),
        Err(e) => e,
    });
    let text = err.to_string();
    assert!(
        text.contains("seq 2 is used twice") && text.contains("missing before 5"),
        "{text}"
    );
}

#[test]
fn an_unknown_target_is_refused() {
    let db = temp_db();
    let mut session = migrator(tables(2)).open(&db.path).unwrap();
    let err = unchanged(&db.path, || session.up_to(7).unwrap_err());
    assert!(
        err.to_string().contains("has no migration 7; known: 1, 2"),
        "{err}"
    );
}

/// `down(99)` with 4 applied reverted all 4 and succeeded. Now refused before anything runs
/// (no backup taken, nothing reverted, nothing recorded), naming `migrate down --to 0`;
/// `down_to(0)` then reverts everything.
#[test]
fn down_more_steps_than_applied_is_refused_before_anything_changes() {
    let db = temp_db();
    let mut session = migrator_with_backups(tables(4)).open(&db.path).unwrap();
    session.up().unwrap();
    let backups = session.backups().unwrap().len();
    let history = session.history().unwrap().len();

    let err = unchanged(&db.path, || session.down(99).unwrap_err());
    assert!(
        matches!(
            err,
            Error::DownTooFar {
                steps: 99,
                applied: 4,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("has only 4 applied; nothing was changed"),
        "{text}"
    );
    assert!(text.contains("`migrate down --to 0`"), "{text}");
    assert_eq!(
        session.backups().unwrap().len(),
        backups,
        "a backup was taken"
    );
    assert_eq!(session.history().unwrap().len(), history);
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2, 3, 4]);

    // Exactly as many as are applied is fine; the way out works.
    session.down(4).unwrap();
    assert!(applied_seqs(&conn).is_empty());
    session.up().unwrap();
    session.down_to(0).unwrap();
    assert!(applied_seqs(&conn).is_empty());
    assert!(!table_exists(&conn, "t1"));
}
