//! Everything the SQLite backend refuses, refused the same way on PostgreSQL, and each refusal
//! leaves the database as it was: the catalog dump and every row count are compared before and
//! after.

use crate::common::db;
use crate::runs::notes;
use migrate_postgres::testing::TestDatabase;
use migrate_postgres::{
    Blocker, Checksum, CoreError, Error, Migration, Migrator, Step, schema_dump,
};

/// The catalog (schema dump) and the rows of every runner and user table.
fn snapshot(db: &TestDatabase) -> (String, Vec<(String, i64)>) {
    let mut conn = db.connect();
    let dump = schema_dump(&conn.schema_objects().unwrap());
    let client = conn.client();
    let tables: Vec<String> = client
        .query(
            "SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let counts = tables
        .into_iter()
        .map(|t| {
            let n: i64 = client
                .query_one(&format!("SELECT count(*) FROM {t}"), &[])
                .unwrap()
                .get(0);
            (t, n)
        })
        .collect();
    (dump, counts)
}

/// Applies `notes()`, then runs `refused` and checks it fails without changing anything.
fn refused_and_unchanged(db: &TestDatabase, refused: impl FnOnce(&TestDatabase) -> Error) -> Error {
    applied_then_refused(db, notes(), refused)
}

/// Applies `first`, then runs `refused` and checks it fails without changing anything.
fn applied_then_refused(
    db: &TestDatabase,
    first: Vec<Migration>,
    refused: impl FnOnce(&TestDatabase) -> Error,
) -> Error {
    Migrator::new()
        .with_migrations(first)
        .allow_gaps()
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    let before = snapshot(db);
    let err = refused(db);
    assert_eq!(
        snapshot(db),
        before,
        "the refusal changed the database: {err}"
    );
    err
}

#[test]
fn a_database_ahead_of_the_binary_is_refused() {
    let Some(db) = db() else { return };
    let err = refused_and_unchanged(&db, |db| {
        let older: Vec<Migration> = notes().into_iter().take(2).collect();
        Migrator::new()
            .with_migrations(older)
            .on(db.connect())
            .unwrap()
            .up()
            .unwrap_err()
    });
    let Error::Core(CoreError::Blocked { blockers, .. }) = &err else {
        panic!("expected Blocked, got {err:?}")
    };
    assert!(
        matches!(blockers[0], Blocker::DatabaseAhead { seq: 3, .. }),
        "{err}"
    );
}

#[test]
fn a_modified_checksum_is_refused() {
    let Some(db) = db() else { return };
    let err = refused_and_unchanged(&db, |db| {
        let mut changed = notes();
        changed[1] = Migration::new(
            2,
            "add_title",
            Step::sql("ALTER TABLE notes ADD COLUMN title varchar(10)"),
        )
        .with_checksum(Checksum::of_text("a different body"));
        changed.push(Migration::new(
            4,
            "t4",
            Step::sql("CREATE TABLE t4 (x int)"),
        ));
        Migrator::new()
            .with_migrations(changed)
            .on(db.connect())
            .unwrap()
            .up()
            .unwrap_err()
    });
    let Error::Core(CoreError::Blocked { blockers, .. }) = &err else {
        panic!("expected Blocked, got {err:?}")
    };
    assert!(
        matches!(blockers[0], Blocker::Modified { seq: 2, .. }),
        "{err}"
    );
}

#[test]
fn a_migration_out_of_order_is_refused() {
    let Some(db) = db() else { return };
    let tables = |seqs: &[u64]| -> Vec<Migration> {
        seqs.iter()
            .map(|&seq| {
                Migration::new(
                    seq,
                    format!("t{seq}"),
                    Step::sql(format!("CREATE TABLE t{seq} (x int)")),
                )
            })
            .collect()
    };
    let err = applied_then_refused(&db, tables(&[1, 3]), |db| {
        Migrator::new()
            .with_migrations(tables(&[1, 2, 3]))
            .on(db.connect())
            .unwrap()
            .up()
            .unwrap_err()
    });
    let Error::Core(CoreError::Blocked { blockers, .. }) = &err else {
        panic!("expected Blocked, got {err:?}")
    };
    assert!(
        matches!(blockers[0], Blocker::OutOfOrder { seq: 2, .. }),
        "{err}"
    );
}

#[test]
fn an_irreversible_migration_in_the_way_of_down_is_refused() {
    let Some(db) = db() else { return };
    let err = refused_and_unchanged(&db, |db| {
        let mut one_way = notes();
        one_way[2] = Migration::new(
            3,
            "seed",
            Step::sql("INSERT INTO notes (id, body, title) VALUES (1, 'hello', 'first')"),
        );
        Migrator::new()
            .with_migrations(one_way)
            .on(db.connect())
            .unwrap()
            .down(1)
            .unwrap_err()
    });
    assert!(
        matches!(err, Error::Core(CoreError::Irreversible { seq: 3, .. })),
        "{err:?}"
    );
}

#[test]
fn down_further_than_what_is_applied_is_refused() {
    let Some(db) = db() else { return };
    let err = refused_and_unchanged(&db, |db| {
        Migrator::new()
            .with_migrations(notes())
            .on(db.connect())
            .unwrap()
            .down(5)
            .unwrap_err()
    });
    assert!(err.to_string().contains("only 3 applied"), "{err}");
}

#[test]
fn a_transactional_migration_recorded_as_started_is_refused() {
    let Some(db) = db() else { return };
    Migrator::new()
        .with_migrations(notes())
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    // The hand edit comes before the comparison: it also clears the no-op start's digest.
    db.client()
        .batch_execute("UPDATE public._migrate_applied SET state = 'started' WHERE seq = 3")
        .unwrap();
    let before = snapshot(&db);
    let mut more = notes();
    more.push(Migration::new(
        4,
        "t4",
        Step::sql("CREATE TABLE t4 (x int)"),
    ));
    let err = Migrator::new()
        .with_migrations(more)
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();
    assert_eq!(
        snapshot(&db),
        before,
        "the refusal changed the database: {err}"
    );
    let text = err.to_string();
    assert!(text.contains("changed by hand"), "{text}");
    assert!(text.contains("migrate resolve 3 --applied"), "{text}");
}
