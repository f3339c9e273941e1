//! Replicas starting at once against one server: each migration applied exactly once, none
//! failing on the lock, and a replica waiting for the lock never blocks the holder's
//! `CREATE INDEX CONCURRENTLY` (the lock is polled, not waited for in `pg_advisory_lock`).

use crate::common::{count, db};
use migrate_postgres::{Event, Migration, Migrator, Step, TxMode};
use std::sync::{Arc, Barrier, mpsc};
use std::time::Duration;

/// Twenty migrations, each a table and one row (so a second application would fail or
/// double the row).
fn twenty() -> Vec<Migration> {
    (1..=20)
        .map(|seq| {
            Migration::new(
                seq,
                format!("t{seq}"),
                Step::sql(format!(
                    "CREATE TABLE t{seq} (x int); INSERT INTO t{seq} VALUES ({seq})"
                )),
            )
        })
        .collect()
}

#[test]
fn ten_replicas_at_once_apply_each_migration_exactly_once() {
    let Some(db) = db() else { return };
    let db = Arc::new(db);
    let start = Arc::new(Barrier::new(10));
    let replicas: Vec<_> = (0..10)
        .map(|_| {
            let (db, start) = (db.clone(), start.clone());
            std::thread::spawn(move || {
                let session = Migrator::new().with_migrations(twenty()).on(db.connect());
                start.wait();
                session.unwrap().up()
            })
        })
        .collect();
    let reports: Vec<_> = replicas
        .into_iter()
        .map(|r| r.join().unwrap().unwrap())
        .collect();
    // One replica applied everything; the others found nothing to do.
    let applied: Vec<usize> = reports.iter().map(|r| r.steps.len()).collect();
    assert_eq!(applied.iter().sum::<usize>(), 20, "{applied:?}");
    assert!(reports.iter().all(|r| r.after == Some(20)));
    let mut client = db.client();
    for seq in 1..=20 {
        assert_eq!(count(&mut client, &format!("t{seq}")), 1);
    }
    assert_eq!(count(&mut client, "public._migrate_applied"), 20);
    let ups: i64 = client
        .query_one(
            "SELECT count(*) FROM public._migrate_history WHERE action = 'up' AND outcome = 'ok'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(ups, 20);
}

#[test]
fn a_replica_waiting_for_the_lock_lets_create_index_concurrently_finish() {
    let Some(db) = db() else { return };
    let db = Arc::new(db);
    let migrations = || {
        vec![
            Migration::new(
                1,
                "create_notes",
                Step::sql(
                    "CREATE TABLE notes (id bigint, body text);
                     INSERT INTO notes SELECT g, 'n' || g FROM generate_series(1, 5000) g",
                ),
            ),
            Migration::new(
                2,
                "index_notes",
                Step::sql(
                    "SELECT pg_sleep(0.5);
                     CREATE INDEX CONCURRENTLY notes_body ON notes (body)",
                ),
            )
            .with_mode(TxMode::NonTransactional),
        ]
    };
    let (started_tx, started_rx) = mpsc::channel();
    let holder = {
        let db = db.clone();
        std::thread::spawn(move || {
            Migrator::new()
                .with_migrations(migrations())
                .on_event(move |e| {
                    if let Event::MigrationStarting { seq: 2, .. } = e {
                        let _ = started_tx.send(());
                    }
                })
                .on(db.connect())
                .unwrap()
                .up()
        })
    };
    started_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the holder reached the concurrent index");
    // The replica starts while the holder runs CREATE INDEX CONCURRENTLY, and polls the lock.
    let replica = Migrator::new()
        .with_migrations(migrations())
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    let holder = holder.join().unwrap().unwrap();
    assert_eq!(holder.steps.len(), 2);
    assert!(replica.steps.is_empty());
    assert_eq!(replica.after, Some(2));
    let valid: bool = db
        .client()
        .query_one(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'notes_body'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(valid);
}
