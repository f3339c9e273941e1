//! Failing migrations: what is rolled back, what is kept, what is recorded, and that the
//! connection's settings are put back on every path.

mod common;
use common::*;
use migrate_sqlite::{Error, FailurePolicy, Flags, Migration, Migrator, Step};
use rusqlite::Connection;

fn failing(seq: u64) -> Migration {
    Migration::new(
        seq,
        "broken",
        Step::sql("CREATE TABLE half_done (x); INSERT INTO no_such_table VALUES (1)"),
    )
}

fn with_failure_at(seq: u64, total: u64) -> Vec<Migration> {
    let mut list: Vec<Migration> = tables(total).into_iter().filter(|m| m.seq != seq).collect();
    list.push(failing(seq));
    list
}

#[test]
fn all_or_nothing_rolls_back_the_whole_run() {
    let db = temp_db();
    migrator(tables(1)).open(&db.path).unwrap().up().unwrap();
    let before = dump(&db.path);

    let err = migrator(with_failure_at(3, 4))
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("migration 3 \"broken\""), "{text}");
    assert!(text.contains("no such table: no_such_table"), "{text}");
    assert!(text.contains("as it was before the run (seq 1)"), "{text}");
    assert!(matches!(err, Error::MigrationFailed { seq: 3, .. }));

    // Same schema and rows, plus one history row saying what failed.
    let after = dump(&db.path);
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1]);
    assert!(!table_exists(&conn, "t2") && !table_exists(&conn, "half_done"));
    let (outcome, detail): (String, String) = conn
        .query_row(
            "SELECT outcome, detail FROM _migrate_history ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(outcome, "failed");
    assert!(detail.contains("no_such_table"));
    assert_eq!(before, after);
}

#[test]
fn keep_applied_keeps_what_succeeded_before_the_failure() {
    let db = temp_db();
    let err = migrator(with_failure_at(3, 4))
        .failure_policy(FailurePolicy::KeepApplied)
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Kept from this run: applied 1, 2. The database is now at seq 2."),
        "{err}"
    );
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2]);
    assert!(table_exists(&conn, "t2"));
    assert!(!table_exists(&conn, "half_done") && !table_exists(&conn, "t4"));
}

#[test]
fn a_panicking_migration_is_rolled_back_and_reported() {
    let db = temp_db();
    let mut list = tables(1);
    list.push(Migration::new(
        2,
        "panics",
        Step::new(|tx| {
            tx.execute_batch("CREATE TABLE before_panic (x)")?;
            panic!("boom in migration");
        }),
    ));
    let mut conn = Connection::open(&db.path).unwrap();
    let err = migrate_sqlite::Migrator::new()
        .with_migrations(list)
        .on(&mut conn)
        .unwrap()
        .up()
        .unwrap_err();
    assert!(
        err.to_string().contains("panicked: boom in migration"),
        "{err}"
    );
    assert!(!table_exists(&conn, "before_panic") && !table_exists(&conn, "t1"));
    assert!(conn.is_autocommit());
    assert_eq!(
        pragma(&conn, "foreign_keys"),
        1,
        "foreign_keys restored after a panic"
    );
}

#[test]
fn a_migration_that_commits_by_itself_is_refused_and_the_run_rolls_back() {
    let db = temp_db();
    let mut list = tables(1);
    list.push(Migration::new(
        2,
        "commits",
        Step::sql("CREATE TABLE sneaky (x); COMMIT;"),
    ));
    let mut conn = Connection::open(&db.path).unwrap();
    let err = migrate_sqlite::Migrator::new()
        .with_migrations(list)
        .on(&mut conn)
        .unwrap()
        .up()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("refused: the migration ran COMMIT"), "{text}");
    assert!(text.contains("Nothing from this run was kept"), "{text}");
    // The authorizer stopped the COMMIT: the run stayed atomic and nothing was kept.
    assert!(applied_seqs(&conn).is_empty());
    assert!(!table_exists(&conn, "sneaky") && !table_exists(&conn, "t1"));
    let failed: i64 = conn
        .query_row(
            "SELECT count(*) FROM _migrate_history WHERE seq = 2 AND outcome = 'failed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(failed, 1);
    assert_eq!(pragma(&conn, "foreign_keys"), 1);
}

#[test]
fn a_migration_that_rolls_back_by_itself_is_refused() {
    let db = temp_db();
    let list = vec![Migration::new(
        1,
        "rolls_back",
        Step::sql("CREATE TABLE x (a); ROLLBACK;"),
    )];
    let err = migrator(list).open(&db.path).unwrap().up().unwrap_err();
    assert!(
        err.to_string()
            .contains("refused: the migration ran ROLLBACK"),
        "{err}"
    );
    let conn = Connection::open(&db.path).unwrap();
    assert!(!table_exists(&conn, "x"));
    assert!(applied_seqs(&conn).is_empty());
}

#[test]
fn a_foreign_key_violation_fails_the_migration_before_its_row_is_written() {
    let db = temp_db();
    let list = vec![
        sql(
            1,
            "schema",
            "CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));",
            "DROP TABLE child; DROP TABLE parent;",
        ),
        Migration::new(2, "orphan", Step::sql("INSERT INTO child VALUES (1, 42)")),
    ];
    let err = migrator(list).open(&db.path).unwrap().up().unwrap_err();
    let text = err.to_string();
    assert!(text.contains("foreign key violation"), "{text}");
    assert!(text.contains("child rowid 1 -> parent"), "{text}");
    let conn = Connection::open(&db.path).unwrap();
    assert!(applied_seqs(&conn).is_empty());
    assert!(!table_exists(&conn, "child"));
}

#[test]
fn settings_are_restored_after_a_failure() {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    let list = vec![Migration::new(
        1,
        "legacy",
        Step::sql("PRAGMA legacy_alter_table = ON; CREATE TABLE t (x); SELECT * FROM missing;"),
    )];
    let _ = migrate_sqlite::Migrator::new()
        .with_migrations(list)
        .on(&mut conn)
        .unwrap()
        .up()
        .unwrap_err();
    assert_eq!(pragma(&conn, "foreign_keys"), 0, "the caller's OFF is kept");
    assert_eq!(pragma(&conn, "legacy_alter_table"), 0);
}

#[test]
fn legacy_alter_table_set_by_a_migration_does_not_leak() {
    let mut conn = Connection::open_in_memory().unwrap();
    let list = vec![Migration::new(
        1,
        "legacy",
        Step::sql("PRAGMA legacy_alter_table = ON"),
    )];
    migrate_sqlite::Migrator::new()
        .with_migrations(list)
        .on(&mut conn)
        .unwrap()
        .up()
        .unwrap();
    assert_eq!(pragma(&conn, "legacy_alter_table"), 0);
    assert_eq!(pragma(&conn, "foreign_keys"), 1);
}

#[test]
fn undeclared_destruction_is_refused_and_rolled_back_unless_declared_or_allowed() {
    let db = temp_db();
    migrator(tables(2)).open(&db.path).unwrap().up().unwrap();
    rusqlite::Connection::open(&db.path)
        .unwrap()
        .execute_batch("INSERT INTO t1 (v) VALUES ('keep me')")
        .unwrap();
    let before = dump(&db.path);
    let drop_t2 = || Migration::new(3, "drop_t2", Step::sql("DELETE FROM t1; DROP TABLE t2;"));
    let with = |m: Migration| {
        let mut list = tables(2);
        list.push(m);
        list
    };

    let err = migrator(with(drop_t2()))
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("drops or deletes data without declaring it: DELETE FROM t1."),
        "{text}"
    );
    assert!(
        text.contains("#[migration(seq = 3, destructive)]"),
        "{text}"
    );
    assert_eq!(dump(&db.path), before, "rolled back");

    // A table dropped and not recreated under its name is refused too, `rebuild` or not.
    let only_drop = || Migration::new(3, "drop_t2", Step::sql("DROP TABLE t2"));
    for m in [
        only_drop(),
        only_drop().with_flags(Flags::NONE.with_rebuilds_tables(true)),
    ] {
        let err = migrator(with(m)).open(&db.path).unwrap().up().unwrap_err();
        assert!(
            err.to_string()
                .contains("without declaring it: DROP TABLE t2."),
            "{err}"
        );
        assert_eq!(dump(&db.path), before);
    }

    // `rebuild` does not allow the DELETE either.
    let rebuild = drop_t2().with_flags(Flags::NONE.with_rebuilds_tables(true));
    let err = migrator(with(rebuild))
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("without declaring it: DELETE FROM t1."),
        "{err}"
    );
    assert_eq!(dump(&db.path), before);

    // Declared, or allowed by the operator, it runs.
    let declared = drop_t2().with_flags(Flags::NONE.with_destructive(true));
    migrator(with(declared))
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    let conn = rusqlite::Connection::open(&db.path).unwrap();
    assert!(!table_exists(&conn, "t2"));

    let db2 = temp_db();
    migrator(with(drop_t2()))
        .allow_destructive()
        .open(&db2.path)
        .unwrap()
        .up()
        .unwrap();
}

#[test]
fn reverting_is_not_checked_for_destruction() {
    let db = temp_db();
    let mut session = migrator(tables(2)).open(&db.path).unwrap();
    session.up().unwrap();
    // Each down drops its table: expected of a down, so not refused.
    session.down_to(0).unwrap();
}

/// A duplicate SQLite resolves by ROLLBACK ends the runner's transaction inside a migration that
/// goes on writing: nothing after it may commit, and the outcome says what was kept, read back.
#[test]
fn a_conflict_resolved_by_rollback_keeps_nothing_and_says_so() {
    for schema in [
        "CREATE TABLE t (x UNIQUE ON CONFLICT ROLLBACK); INSERT INTO t VALUES (1);",
        "CREATE TABLE t (x); INSERT INTO t VALUES (1);
         CREATE TRIGGER no_dupes BEFORE INSERT ON t WHEN NEW.x = 1
             BEGIN SELECT RAISE(ROLLBACK, 'duplicate'); END;",
    ] {
        let db = temp_db();
        let list = vec![
            Migration::new(1, "t", Step::sql(schema)),
            Migration::new(2, "five", Step::sql("INSERT INTO t VALUES (5)")),
            Migration::new(
                3,
                "duplicate",
                Step::new(|tx| {
                    let _ = tx.execute("INSERT INTO t VALUES (1)", []);
                    let _ = tx.execute("INSERT INTO t VALUES (2)", []);
                    let _ = tx.execute_batch("CREATE TABLE later (y)");
                    Ok(())
                }),
            ),
        ];
        migrator(list[..1].to_vec())
            .open(&db.path)
            .unwrap()
            .up()
            .unwrap();
        // Backups off (the protocol alone): nothing restores what a commit kept.
        let err = migrator(list).open(&db.path).unwrap().up().unwrap_err();
        let conn = Connection::open(&db.path).unwrap();
        let rows: Vec<i64> = conn
            .prepare("SELECT x FROM t ORDER BY x")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            rows,
            [1],
            "what the message says was kept is what the file holds"
        );
        assert!(!table_exists(&conn, "later"));
        assert_eq!(applied_seqs(&conn), [1]);
        let text = err.to_string();
        assert!(text.contains("migration 3"), "{text}");
        assert!(
            text.contains("ended the transaction in the middle of the migration"),
            "{text}"
        );
        assert!(
            text.contains(
                "Nothing from this run was kept: the database is as it was before the run (seq 1)"
            ),
            "{text}"
        );
    }
}

/// With backups on, the same conflict restores nothing: SQLite rolled the run back and the
/// commit hook refused everything after it, so restoring the pre-migration backup could only
/// throw away other connections' commits. No failed-state copy, the pre-up backup kept, the
/// message names what was kept.
#[test]
fn a_conflict_resolved_by_rollback_restores_nothing_when_backups_are_on() {
    let db = temp_db();
    let list = vec![
        Migration::new(
            1,
            "t",
            Step::sql("CREATE TABLE t (x UNIQUE ON CONFLICT ROLLBACK); INSERT INTO t VALUES (1);"),
        ),
        Migration::new(
            2,
            "duplicate",
            Step::new(|tx| {
                let _ = tx.execute("INSERT INTO t VALUES (1)", []);
                let _ = tx.execute("INSERT INTO t VALUES (2)", []);
                Ok(())
            }),
        ),
    ];
    Migrator::new()
        .with_migrations(list[..1].to_vec())
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    let mut session = Migrator::new()
        .with_migrations(list)
        .open(&db.path)
        .unwrap();
    let err = session.up().unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("ended the transaction in the middle of the migration"),
        "{text}"
    );
    assert!(!text.contains("restored"), "nothing is restored: {text}");
    assert!(text.contains("Nothing from this run was kept"), "{text}");
    assert!(
        session.failed_states().unwrap().is_empty(),
        "no failed-state copy"
    );
    assert!(
        session
            .backups()
            .unwrap()
            .iter()
            .any(|b| b.path.to_string_lossy().ends_with(".pre-up.db")),
        "the pre-up backup is kept"
    );
    let conn = Connection::open(&db.path).unwrap();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
    assert_eq!(applied_seqs(&conn), [1]);
}

/// The same conflict in a migration that stops at it: named as the conflict, not as a
/// statement the migration ran to end the transaction.
#[test]
fn a_conflict_resolved_by_rollback_is_named_as_such() {
    let db = temp_db();
    let schema = "CREATE TABLE t (x UNIQUE ON CONFLICT ROLLBACK); INSERT INTO t VALUES (1);";
    let list = vec![
        Migration::new(1, "t", Step::sql(schema)),
        Migration::new(
            2,
            "duplicate",
            Step::sql(
                "INSERT INTO t VALUES (5); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);",
            ),
        ),
    ];
    migrator(list[..1].to_vec())
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    let err = migrator(list).open(&db.path).unwrap().up().unwrap_err();
    let Error::MigrationFailed { source, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        matches!(source.as_ref(), Error::TransactionRolledBack { step_error: Some(e) } if e.contains("UNIQUE constraint failed: t.x")),
        "{err}"
    );
    let conn = Connection::open(&db.path).unwrap();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
    assert_eq!(applied_seqs(&conn), [1]);
}
