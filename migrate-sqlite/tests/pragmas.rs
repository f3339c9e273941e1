//! Connection settings a migration changes do not outlive it: on the application's own
//! connection, on real files, after `up()` returns (success or failure), every connection-level
//! pragma is as it was, and `locking_mode` — which would lock every other process out — is refused.

mod common;
use common::*;
use migrate_sqlite::{Migration, Migrator, Step, TxMode};
use rusqlite::Connection;
use std::time::Duration;

fn text_pragma(conn: &Connection, name: &str) -> String {
    conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
        .unwrap()
}

/// The pragmas the tests below change, as `conn` has them now.
fn settings(conn: &Connection) -> Vec<(&'static str, i64)> {
    [
        "recursive_triggers",
        "synchronous",
        "cache_size",
        "defer_foreign_keys",
        "foreign_keys",
    ]
    .into_iter()
    .map(|name| (name, pragma(conn, name)))
    .collect()
}

#[test]
fn pragmas_a_migration_sets_are_put_back_on_the_apps_connection() {
    let db = temp_db();
    let mut conn = Connection::open(&db.path).unwrap();
    let before = settings(&conn);
    let list = vec![
        Migration::new(
            1,
            "tuning",
            Step::sql(
                "PRAGMA recursive_triggers = ON; PRAGMA cache_size = 10;
                 PRAGMA defer_foreign_keys = ON; CREATE TABLE t (x);",
            ),
        ),
        Migration::new(2, "fast_and_loose", Step::sql("PRAGMA synchronous = 0"))
            .with_mode(TxMode::NonTransactional),
        // Sees the run's settings, not the ones seq 1 left.
        Migration::new(
            3,
            "checks",
            Step::new(|tx| {
                let recursive: i64 = tx.query_row("PRAGMA recursive_triggers", [], |r| r.get(0))?;
                tx.execute("INSERT INTO t VALUES (?1)", [recursive])?;
                Ok(())
            }),
        ),
    ];
    let report = Migrator::new()
        .with_migrations(list)
        .without_backups()
        .on(&mut conn)
        .unwrap()
        .up()
        .unwrap();
    assert_eq!(report.steps.len(), 3);
    assert_eq!(settings(&conn), before, "a migration's pragma leaked");
    let seen: i64 = conn.query_row("SELECT x FROM t", [], |r| r.get(0)).unwrap();
    assert_eq!(seen, 0, "seq 1's recursive_triggers leaked into seq 3");
    assert_eq!(
        applied_seqs(&Connection::open(&db.path).unwrap()),
        [1, 2, 3]
    );
}

#[test]
fn pragmas_are_put_back_when_the_migration_fails() {
    let db = temp_db();
    let mut conn = Connection::open(&db.path).unwrap();
    let before = settings(&conn);
    let list = vec![Migration::new(
        1,
        "tuning_then_failing",
        Step::sql("PRAGMA recursive_triggers = ON; PRAGMA cache_size = 10; SELECT * FROM missing;"),
    )];
    Migrator::new()
        .with_migrations(list)
        .without_backups()
        .on(&mut conn)
        .unwrap()
        .up()
        .unwrap_err();
    assert_eq!(settings(&conn), before);
    assert!(applied_seqs(&conn).is_empty());
}

#[test]
fn locking_mode_is_refused_and_other_connections_can_write_after_up() {
    let db = temp_db();
    let mut conn = Connection::open(&db.path).unwrap();
    let list = vec![
        Migration::new(1, "t", Step::sql("CREATE TABLE t (x)")),
        Migration::new(
            2,
            "exclusive",
            Step::sql("PRAGMA locking_mode = EXCLUSIVE; INSERT INTO t VALUES (1);"),
        ),
    ];
    Migrator::new()
        .with_migrations(list[..1].to_vec())
        .without_backups()
        .on(&mut conn)
        .unwrap()
        .up()
        .unwrap();
    for mode in [TxMode::Transactional, TxMode::NonTransactional] {
        let mut list = list.clone();
        list[1] = list[1].clone().with_mode(mode);
        let err = Migrator::new()
            .with_migrations(list)
            .without_backups()
            .on(&mut conn)
            .unwrap()
            .up()
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("locking_mode = EXCLUSIVE"), "{text}");
        assert!(text.contains("every other process"), "{text}");
        assert_eq!(text_pragma(&conn, "locking_mode"), "normal");
        // The application's connection stays open; another one writes at once.
        let other = Connection::open(&db.path).unwrap();
        other.busy_timeout(Duration::ZERO).unwrap();
        other.execute("INSERT INTO t VALUES (2)", []).unwrap();
        let rows: Vec<i64> = other
            .prepare("SELECT x FROM t")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(rows.last(), Some(&2));
        assert!(
            !rows.contains(&1),
            "the refused statement did not run: {rows:?}"
        );
        assert_eq!(applied_seqs(&other), [1]);
        // A non-transactional failure leaves its started row: clear it for the next round.
        other
            .execute("DELETE FROM _migrate_applied WHERE seq = 2", [])
            .unwrap();
    }
}

#[test]
fn settings_that_cannot_be_put_back_or_corrupt_are_refused() {
    let db = temp_db();
    let mut conn = Connection::open(&db.path).unwrap();
    for (sql, named) in [
        ("PRAGMA case_sensitive_like = ON", "case_sensitive_like"),
        ("PRAGMA schema_version = 99", "schema_version"),
    ] {
        let list = vec![Migration::new(
            1,
            "setting",
            Step::sql(format!("CREATE TABLE t (x); {sql};")),
        )];
        let err = Migrator::new()
            .with_migrations(list)
            .without_backups()
            .on(&mut conn)
            .unwrap()
            .up()
            .unwrap_err();
        assert!(err.to_string().contains(named), "{err}");
        assert!(!table_exists(&conn, "t"));
        assert!(applied_seqs(&conn).is_empty());
        // LIKE is still case-insensitive on the application's connection.
        let like: bool = conn
            .query_row("SELECT 'A' LIKE 'a'", [], |r| r.get(0))
            .unwrap();
        assert!(like);
    }
    // (The runner's own tracking tables move it on; the migration's 99 did not happen.)
    assert_ne!(pragma(&conn, "schema_version"), 99);
    assert_eq!(
        pragma(&conn, "schema_version"),
        pragma(&Connection::open(&db.path).unwrap(), "schema_version")
    );
}
