//! Very large batches commit in chunks: the shared lock table overflowed at ~2,400 indexed
//! tables in one transaction. A batch that holds more locks than a chunk may commits what ran
//! so far and goes on in a new transaction; a failure in a later chunk then keeps the earlier
//! chunks (restored from the pre-run backup when backups are on and nobody else wrote, else
//! the error says what stayed applied and the command to go back). That a chunk leaves room in
//! the lock table for the other sessions is shown by `tests/shared_lock_table.rs`, a binary of
//! its own: it fills the cluster's lock table on purpose.

use crate::backup::files_in;
use crate::common::{count, db, exists};
use migrate_postgres::{Error, Migration, Migrator, Settings, Step};

/// `n` migrations, each an indexed table with a text column (table, TOAST table and its
/// index, primary key, index: about seven locks each); `failing` replaced by one that fails
/// after creating its table.
fn indexed_tables(n: u64, failing: Option<u64>) -> Vec<Migration> {
    (1..=n)
        .map(|i| {
            let sql = if Some(i) == failing {
                format!("CREATE TABLE t{i} (id bigint PRIMARY KEY); SELECT 1/0")
            } else {
                format!(
                    "CREATE TABLE t{i} (id bigint PRIMARY KEY, v text NOT NULL);
                     CREATE INDEX t{i}_v ON t{i} (v)"
                )
            };
            Migration::new(i, format!("create_t{i}"), Step::sql(sql))
                .with_down(Step::sql(format!("DROP TABLE t{i}")))
        })
        .collect()
}

/// How many transactions wrote the tracking rows.
fn transactions_of_tracking_rows(client: &mut postgres::Client) -> i64 {
    client
        .query_one(
            "SELECT count(DISTINCT xmin::text) FROM public._migrate_applied",
            &[],
        )
        .unwrap()
        .get(0)
}

/// The default chunk: half of `max_locks_per_transaction × (max_connections +
/// max_prepared_transactions)`.
fn chunk_limit(client: &mut postgres::Client) -> i64 {
    client
        .query_one(
            "SELECT current_setting('max_locks_per_transaction')::bigint
                  * (current_setting('max_connections')::bigint
                     + current_setting('max_prepared_transactions')::bigint) / 2",
            &[],
        )
        .unwrap()
        .get(0)
}

/// A chunk of at most `locks` locks.
fn small_chunks(
    db: &migrate_postgres::testing::TestDatabase,
    locks: u64,
) -> migrate_postgres::Connection {
    db.connect().with_settings(Settings {
        max_chunk_locks: Some(locks),
        ..Settings::default()
    })
}

#[test]
fn three_thousand_indexed_tables_commit_in_chunks_instead_of_overflowing_the_lock_table() {
    let Some(db) = db() else { return };
    let mut client = db.client();
    let limit = chunk_limit(&mut client);
    let report = Migrator::new()
        .with_migrations(indexed_tables(3000, None))
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    assert_eq!(report.steps.len(), 3000);
    assert_eq!(report.after, Some(3000));
    assert_eq!(count(&mut client, "public._migrate_applied"), 3000);
    assert!(exists(&mut client, "public.t1") && exists(&mut client, "public.t3000_v"));
    // About seven locks per migration: 21,000 in one transaction overflow the test cluster's
    // lock table (`max_locks_per_transaction = 32`: `out of shared memory` at ~2,480
    // migrations); chunks of `limit` locks each instead.
    let chunks = transactions_of_tracking_rows(&mut client);
    assert!(
        chunks >= 21_000 / limit,
        "{chunks} chunks for a limit of {limit} locks"
    );
    let ups = client
        .query_one(
            "SELECT count(*) FROM public._migrate_history WHERE action = 'up' AND outcome = 'ok'",
            &[],
        )
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(ups, 3000);
    // The next start finds nothing to do.
    let again = Migrator::new()
        .with_migrations(indexed_tables(3000, None))
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    assert!(again.steps.is_empty());
}

#[test]
fn a_failure_in_a_later_chunk_keeps_the_earlier_chunks_and_says_how_to_go_back() {
    let Some(db) = db() else { return };
    let err = Migrator::new()
        .with_migrations(indexed_tables(60, Some(50)))
        .on(small_chunks(&db, 150))
        .unwrap()
        .up()
        .unwrap_err();
    let Error::MigrationFailed { seq, outcome, .. } = &err else {
        panic!("expected MigrationFailed, got {err:?}")
    };
    assert_eq!(*seq, 50);
    let mut client = db.client();
    let kept = count(&mut client, "public._migrate_applied");
    assert!((1..49).contains(&kept), "{kept} kept");
    assert!(
        outcome.contains(&format!("Kept from this run: applied 1-{kept}")),
        "{outcome}"
    );
    assert!(outcome.contains("committed in chunks"), "{outcome}");
    assert!(outcome.contains("`migrate down --to 0`"), "{outcome}");
    // The earlier chunks' tables stay; the failed chunk's are gone, the failed one's too.
    assert!(exists(&mut client, &format!("public.t{kept}")));
    assert!(!exists(&mut client, &format!("public.t{}", kept + 1)));
    assert!(!exists(&mut client, "public.t50"));
    assert!(transactions_of_tracking_rows(&mut client) >= 1);
    let failed = client
        .query_one(
            "SELECT count(*) FROM public._migrate_history WHERE seq = 50 AND outcome = 'failed'",
            &[],
        )
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(failed, 1);

    // The command it names goes back to where the run started.
    Migrator::new()
        .with_migrations(indexed_tables(60, Some(50)))
        .on(db.connect())
        .unwrap()
        .down_to(0)
        .unwrap();
    assert_eq!(count(&mut client, "public._migrate_applied"), 0);
    assert!(!exists(&mut client, "public.t1"));
}

#[test]
fn a_failure_in_a_later_chunk_restores_the_pre_run_backup_when_nobody_else_wrote() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut client = db.client();
    client
        .batch_execute("CREATE TABLE kept (id int); INSERT INTO kept VALUES (1), (2)")
        .unwrap();
    let mut session = Migrator::new()
        .with_migrations(indexed_tables(60, Some(50)))
        .backup_dir(dir.path())
        .on(small_chunks(&db, 150))
        .unwrap();
    let err = session.up().unwrap_err();
    let Error::MigrationFailed { outcome, .. } = &err else {
        panic!("expected MigrationFailed, got {err:?}")
    };
    assert!(outcome.contains("restored automatically from"), "{outcome}");
    assert!(
        outcome.contains("exactly as it was before the run"),
        "{outcome}"
    );
    // As before the run: no migration table, no tracking row, the user's rows intact.
    assert!(!exists(&mut client, "public.t1"));
    assert!(!exists(&mut client, "public.t49"));
    assert_eq!(count(&mut client, "kept"), 2);
    assert!(
        !exists(&mut client, "public._migrate_applied")
            || count(&mut client, "public._migrate_applied") == 0
    );
    // The pre-run backup and the failed state's copy are in the directory.
    let files = files_in(dir.path());
    assert!(files.iter().any(|f| f.contains("pre-up")), "{files:?}");
    assert_eq!(session.failed_states().unwrap().len(), 1);
}
