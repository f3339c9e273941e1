//! A chunk of a very large batch takes only half of the shared lock table, so that a run
//! completes while other sessions hold many locks too. A test binary of its own, hence a
//! cluster of its own: it fills the cluster-wide lock table on purpose, which would make the
//! tests of `tests/postgres/` running beside it fail with `out of shared memory`.

use migrate_postgres::{Migration, Migrator, Step, testing};

/// `n` migrations, each an indexed table with a text column (about seven locks each).
fn indexed_tables(n: u64) -> Vec<Migration> {
    (1..=n)
        .map(|i| {
            let sql = format!(
                "CREATE TABLE t{i} (id bigint PRIMARY KEY, v text NOT NULL);
                 CREATE INDEX t{i}_v ON t{i} (v)"
            );
            Migration::new(i, format!("create_t{i}"), Step::sql(sql))
        })
        .collect()
}

fn one(client: &mut postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}

/// While another session holds many locks (advisory locks, which live in the same table), a
/// long run still completes, because its chunks take only half of what the table is sized
/// for. Measured on the test cluster (`max_connections = 200`, `max_locks_per_transaction =
/// 32`, so the formula gives 6,400 and a chunk 3,200 locks; about 7 locks per migration): with
/// 9,000 locks held elsewhere, one transaction overflows at ~680 migrations (~4,700 locks).
/// Chunks of the whole 6,400 failed there with `out of shared memory` (at migration 688);
/// chunks of 3,200 commit before it.
#[test]
fn chunks_leave_room_in_the_lock_table_for_a_session_that_holds_many_locks() {
    let Some(server) = testing::server() else {
        return;
    };
    let db = server.database();
    let mut client = db.client();
    let limit = one(
        &mut client,
        "SELECT current_setting('max_locks_per_transaction')::bigint
              * (current_setting('max_connections')::bigint
                 + current_setting('max_prepared_transactions')::bigint) / 2",
    );
    // 1.4 × the formula's whole table: 9,000 on the test cluster.
    let held_elsewhere = limit * 2 * 14 / 10;
    let mut other = db.client();
    let held: i64 = other
        .query_one(
            "SELECT count(pg_advisory_lock(900000 + i)) FROM generate_series(1, $1::bigint) i",
            &[&held_elsewhere],
        )
        .unwrap()
        .get(0);
    assert_eq!(held, held_elsewhere);

    let report = Migrator::new()
        .with_migrations(indexed_tables(1000))
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();

    assert_eq!(report.steps.len(), 1000);
    assert_eq!(
        one(&mut client, "SELECT count(*) FROM public._migrate_applied"),
        1000
    );
    assert_eq!(
        one(
            &mut client,
            "SELECT count(*) FROM pg_class WHERE relname = 't1000_v'"
        ),
        1
    );
    // ~7,000 locks in chunks of at most `limit`: at least this many transactions wrote the
    // tracking rows.
    let chunks = one(
        &mut client,
        "SELECT count(DISTINCT xmin::text) FROM public._migrate_applied",
    );
    assert!(
        chunks >= 7_000 / limit,
        "{chunks} chunks for a limit of {limit} locks"
    );
    // The other session kept its locks all along, and can still take more.
    let still = one(
        &mut other,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
    );
    assert_eq!(still, held_elsewhere);
    other
        .batch_execute("BEGIN; CREATE TABLE after_run (x int); COMMIT")
        .unwrap();
}
