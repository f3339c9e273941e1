//! `transaction = false` migrations: each statement sent alone with no transaction open, and
//! the INVALID indexes a failed concurrent build leaves behind reported.

use crate::common::db;
use migrate_postgres::{Error, Step};

fn seed(db: &migrate_postgres::testing::TestDatabase, duplicates: bool) {
    let x = if duplicates { "i % 10" } else { "i" };
    db.client()
        .batch_execute(&format!(
            "CREATE TABLE items (id int PRIMARY KEY, x int, y int);
             INSERT INTO items SELECT i, {x}, i FROM generate_series(1, 1000) i"
        ))
        .unwrap();
}

fn valid_indexes(client: &mut postgres::Client) -> Vec<(String, bool)> {
    client
        .query(
            "SELECT c.relname::text, i.indisvalid FROM pg_index i
             JOIN pg_class c ON c.oid = i.indexrelid
             WHERE i.indrelid = 'items'::regclass AND c.relname <> 'items_pkey' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[test]
fn several_concurrent_builds_and_a_vacuum_in_one_migration_each_run_alone() {
    let Some(db) = db() else { return };
    seed(&db, false);
    let sql = "CREATE INDEX CONCURRENTLY items_x ON items (x); -- one; two\n\
               CREATE INDEX CONCURRENTLY items_y ON items (y);\n\
               VACUUM items;";
    // Sent as one string, the statements form one implicit transaction: refused.
    let refused = db.client().batch_execute(sql).unwrap_err();
    assert_eq!(refused.code().unwrap().code(), "25001");

    let mut conn = db.connect();
    let mut lock = conn.lock().unwrap();
    let seen_in_transaction = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = seen_in_transaction.clone();
    let step = Step::new(move |tx| {
        *seen.lock().unwrap() = Some(tx.in_transaction());
        tx.batch_execute(sql)
    });
    lock.run_outside_transaction(4, "index_items", &step)
        .unwrap();
    assert_eq!(*seen_in_transaction.lock().unwrap(), Some(false));
    let mut other = db.client();
    assert_eq!(
        valid_indexes(&mut other),
        [("items_x".to_owned(), true), ("items_y".to_owned(), true)]
    );
    lock.check_held().unwrap();
}

#[test]
fn a_failed_unique_build_leaves_an_invalid_index_that_the_check_names() {
    let Some(db) = db() else { return };
    seed(&db, true);
    let mut conn = db.connect();
    let mut lock = conn.lock().unwrap();
    let build =
        Step::sql("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS items_x_key ON items (x)");
    let err = lock
        .run_outside_transaction(5, "unique_x", &build)
        .unwrap_err();
    assert_eq!(err.sqlstate(), Some("23505"), "{err}");
    let Error::NonTransactionalStep {
        ref invalid_indexes,
        ..
    } = err
    else {
        panic!("expected NonTransactionalStep, got {err}")
    };
    assert_eq!(invalid_indexes, &["public.items_x_key"]);
    assert!(err.to_string().contains("stay applied"), "{err}");
    let mut other = db.client();
    assert_eq!(
        valid_indexes(&mut other),
        [("items_x_key".to_owned(), false)]
    );

    // The rerun "succeeds" (IF NOT EXISTS skips the invalid index): the check catches it.
    let err = lock
        .run_outside_transaction(5, "unique_x", &build)
        .unwrap_err();
    let Error::InvalidIndexes {
        ref indexes, seq, ..
    } = err
    else {
        panic!("expected InvalidIndexes, got {err}")
    };
    assert_eq!(
        (seq, indexes.as_slice()),
        (5, ["public.items_x_key".to_owned()].as_slice())
    );
    assert!(
        err.to_string()
            .contains("DROP INDEX CONCURRENTLY IF EXISTS public.items_x_key"),
        "{err}"
    );
    assert_eq!(
        valid_indexes(&mut other),
        [("items_x_key".to_owned(), false)]
    );
    // The session's timeouts are back to the server's after either run.
    let timeout: String = lock
        .client()
        .query_one("SHOW lock_timeout", &[])
        .unwrap()
        .get(0);
    assert_eq!(timeout, "0");
}

#[test]
fn a_sql_standard_function_body_is_sent_whole_beside_a_concurrent_build() {
    let Some(db) = db() else { return };
    seed(&db, false);
    let sql = "CREATE FUNCTION doubled(v int) RETURNS int LANGUAGE sql IMMUTABLE\n\
               BEGIN ATOMIC\n  SELECT CASE WHEN v IS NULL THEN 0 ELSE v END * 2;\nEND;\n\
               CREATE INDEX CONCURRENTLY items_doubled ON items (doubled(x));";
    let mut conn = db.connect();
    let mut lock = conn.lock().unwrap();
    let step = Step::new(move |tx| tx.batch_execute(sql));
    lock.run_outside_transaction(4, "doubled_index", &step)
        .unwrap();
    let mut other = db.client();
    assert_eq!(
        valid_indexes(&mut other),
        [("items_doubled".to_owned(), true)]
    );
    let twenty: i32 = other.query_one("SELECT doubled(10)", &[]).unwrap().get(0);
    assert_eq!(twenty, 20);
    lock.check_held().unwrap();
}

#[test]
fn a_function_with_a_parameter_named_begin_is_split_from_a_concurrent_build() {
    // `begin` inside the parameter list opens no block (psql counts only outside parentheses):
    // the build after it is sent alone.
    let Some(db) = db() else { return };
    seed(&db, false);
    let sql = "CREATE FUNCTION shifted(begin int) RETURNS int LANGUAGE sql IMMUTABLE\n\
               RETURN (begin + 1);\n\
               CREATE INDEX CONCURRENTLY items_shifted ON items (shifted(x));";
    let mut conn = db.connect();
    let mut lock = conn.lock().unwrap();
    let step = Step::new(move |tx| tx.batch_execute(sql));
    lock.run_outside_transaction(4, "shifted_index", &step)
        .unwrap();
    let mut other = db.client();
    assert_eq!(
        valid_indexes(&mut other),
        [("items_shifted".to_owned(), true)]
    );
    let eleven: i32 = other.query_one("SELECT shifted(10)", &[]).unwrap().get(0);
    assert_eq!(eleven, 11);
    lock.check_held().unwrap();
}
