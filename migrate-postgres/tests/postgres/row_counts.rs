//! The row-count guard on PostgreSQL: a migration that does not declare `destructive` and
//! leaves a table with fewer rows fails and is rolled back (the run then follows its failure
//! policy); declared ones pass; inserts and updates pass; the counts of the tables a migration
//! touched are recorded in `_migrate_row_counts`. After every refusal the database is checked:
//! schema fingerprint, rows, tracking rows.

use crate::common::{applied_seqs, count, db, exists, schema_print};
use migrate_postgres::{
    Error, FailurePolicy, Flags, Migration, Migrator, RowCount, Settings, Step, TxMode,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Seq 1: `notes` with `rows` rows; seq 2: an untouched `other` table with one row.
fn seeded(rows: i64) -> Vec<Migration> {
    vec![
        Migration::new(
            1,
            "create_notes",
            Step::sql(format!(
                "CREATE TABLE notes (id bigint PRIMARY KEY, body text);
                 INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, {rows}) g"
            )),
        ),
        Migration::new(
            2,
            "create_other",
            Step::sql("CREATE TABLE other (id int); INSERT INTO other VALUES (1)"),
        ),
    ]
}

fn with(mut list: Vec<Migration>, more: impl IntoIterator<Item = Migration>) -> Vec<Migration> {
    list.extend(more);
    list
}

fn destructive() -> Flags {
    Flags {
        destructive: true,
        ..Flags::default()
    }
}

/// Applies `seeded(rows)` in a run of its own.
fn applied_seed(db: &migrate_postgres::testing::TestDatabase, rows: i64) {
    Migrator::new()
        .with_migrations(seeded(rows))
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
}

/// The row counts recorded with the `up` history row of `seq`.
fn recorded_counts(db: &migrate_postgres::testing::TestDatabase, seq: i64) -> Vec<RowCount> {
    db.client()
        .query(
            "SELECT c.table_name, c.rows_before, c.rows_after
             FROM public._migrate_row_counts c
             JOIN public._migrate_history h ON h.id = c.history_id
             WHERE h.seq = $1 AND h.action = 'up' ORDER BY c.table_name",
            &[&seq],
        )
        .unwrap()
        .iter()
        .map(|r| RowCount {
            table: r.get(0),
            before: r.get::<_, Option<i64>>(1).map(|n| n as u64),
            after: r.get::<_, Option<i64>>(2).map(|n| n as u64),
        })
        .collect()
}

#[test]
fn an_undeclared_delete_that_loses_rows_fails_and_keeps_nothing_of_the_migration() {
    let Some(db) = db() else { return };
    applied_seed(&db, 5);
    let print = schema_print(&db);
    let err = Migrator::new()
        .with_migrations(with(
            seeded(5),
            [Migration::new(
                3,
                "prune",
                Step::sql("UPDATE notes SET body = upper(body); DELETE FROM notes WHERE id > 3"),
            )],
        ))
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();
    let Error::MigrationFailed {
        seq: 3,
        source,
        outcome,
        ..
    } = &err
    else {
        panic!("expected MigrationFailed for 3, got {err:?}")
    };
    let Error::RowsLost {
        tables, statements, ..
    } = source.as_ref()
    else {
        panic!("expected RowsLost, got {source:?}")
    };
    assert_eq!(
        tables,
        &[RowCount {
            table: "public.notes".into(),
            before: Some(5),
            after: Some(3)
        }]
    );
    assert_eq!(statements, &["DELETE FROM notes WHERE id > 3"]);
    let text = err.to_string();
    assert!(text.contains("public.notes 5 -> 3 (2 rows lost)"), "{text}");
    assert!(text.contains("nothing of it was kept"), "{text}");
    assert!(
        text.contains("#[migration(seq = 3, destructive)]"),
        "{text}"
    );
    assert!(
        outcome.contains("Nothing from this run was kept"),
        "{outcome}"
    );

    let mut client = db.client();
    assert_eq!(count(&mut client, "notes"), 5);
    let upper: i64 = client
        .query_one("SELECT count(*) FROM notes WHERE body = upper(body)", &[])
        .unwrap()
        .get(0);
    assert_eq!(upper, 0, "the migration's UPDATE was rolled back too");
    assert_eq!(applied_seqs(&mut client), [1, 2]);
    assert_eq!(schema_print(&db), print);
}

#[test]
fn all_or_nothing_rolls_back_the_earlier_migrations_of_the_batch_too() {
    let Some(db) = db() else { return };
    let err = Migrator::new()
        .with_migrations(with(
            seeded(4),
            [Migration::new(
                3,
                "empty_it",
                Step::sql("DELETE FROM notes"),
            )],
        ))
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();
    assert!(
        matches!(&err, Error::MigrationFailed { seq: 3, source, .. }
            if matches!(source.as_ref(), Error::RowsLost { .. })),
        "{err:?}"
    );
    let mut client = db.client();
    assert!(!exists(&mut client, "public.notes"));
    assert!(!exists(&mut client, "public.other"));
    assert!(applied_seqs(&mut client).is_empty());
}

#[test]
fn keep_applied_keeps_the_earlier_migrations_and_not_the_lossy_one() {
    let Some(db) = db() else { return };
    let err = Migrator::new()
        .with_migrations(with(
            seeded(4),
            [Migration::new(
                3,
                "empty_it",
                Step::sql("DELETE FROM notes"),
            )],
        ))
        .failure_policy(FailurePolicy::KeepApplied)
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();
    let Error::MigrationFailed { outcome, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        outcome.contains("Kept from this run: applied 1, 2"),
        "{outcome}"
    );
    let mut client = db.client();
    assert_eq!(count(&mut client, "notes"), 4);
    assert_eq!(applied_seqs(&mut client), [1, 2]);
}

#[test]
fn an_undeclared_truncate_fails_and_the_rows_are_back() {
    let Some(db) = db() else { return };
    applied_seed(&db, 6);
    let print = schema_print(&db);
    let err = Migrator::new()
        .with_migrations(with(
            seeded(6),
            [Migration::new(3, "reset", Step::sql("TRUNCATE notes"))],
        ))
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();
    let Error::MigrationFailed { source, .. } = &err else {
        panic!("{err:?}")
    };
    let Error::RowsLost {
        tables, statements, ..
    } = source.as_ref()
    else {
        panic!("expected RowsLost, got {source:?}")
    };
    assert_eq!(
        (tables[0].before, tables[0].after),
        (Some(6), Some(0)),
        "{tables:?}"
    );
    assert_eq!(statements, &["TRUNCATE notes"]);
    let mut client = db.client();
    assert_eq!(count(&mut client, "notes"), 6);
    assert_eq!(applied_seqs(&mut client), [1, 2]);
    assert_eq!(schema_print(&db), print);
}

#[test]
fn a_truncate_that_reloads_every_row_passes() {
    let Some(db) = db() else { return };
    applied_seed(&db, 3);
    Migrator::new()
        .with_migrations(with(
            seeded(3),
            [Migration::new(
                3,
                "reload",
                Step::sql(
                    "CREATE TEMP TABLE keep AS SELECT * FROM notes; TRUNCATE notes;
                     INSERT INTO notes SELECT id, upper(body) FROM keep; DROP TABLE keep",
                ),
            )],
        ))
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    let mut client = db.client();
    assert_eq!(count(&mut client, "notes"), 3);
    assert_eq!(applied_seqs(&mut client), [1, 2, 3]);
    assert_eq!(
        recorded_counts(&db, 3),
        [RowCount {
            table: "public.notes".into(),
            before: Some(3),
            after: Some(3)
        }]
    );
}

#[test]
fn a_delete_that_adds_back_as_many_rows_passes() {
    let Some(db) = db() else { return };
    applied_seed(&db, 4);
    Migrator::new()
        .with_migrations(with(
            seeded(4),
            [Migration::new(
                3,
                "renumber",
                Step::sql("DELETE FROM notes WHERE id = 4; INSERT INTO notes VALUES (40, 'moved')"),
            )],
        ))
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    let mut client = db.client();
    assert_eq!(count(&mut client, "notes"), 4);
    // Counted once, and run once in the end: the row is there exactly once.
    assert_eq!(count(&mut client, "notes WHERE id = 40"), 1);
    assert_eq!(
        recorded_counts(&db, 3),
        [RowCount {
            table: "public.notes".into(),
            before: Some(4),
            after: Some(4)
        }]
    );
}

/// The guard's rerun (a table nobody counted yet: rolled back to the savepoint, counted, run
/// again) runs under the run's `lock_timeout` and `statement_timeout` too: `ROLLBACK TO
/// SAVEPOINT` undid the ones sent with the savepoint.
#[test]
fn a_migration_run_again_by_the_guard_runs_with_the_runs_timeouts_both_times() {
    let Some(db) = db() else { return };
    applied_seed(&db, 4);
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let record = Arc::clone(&seen);
    let step = Step::new(move |tx| {
        let lock: String = tx.query_one("SHOW lock_timeout", &[])?.get(0);
        let statement: String = tx.query_one("SHOW statement_timeout", &[])?.get(0);
        record.lock().unwrap().push((lock, statement));
        tx.batch_execute("DELETE FROM notes WHERE id = 4; INSERT INTO notes VALUES (40, 'moved')")
    });
    let conn = db.connect().with_settings(Settings {
        lock_timeout: Duration::from_millis(1500),
        statement_timeout: Some(Duration::from_secs(7)),
        ..Settings::default()
    });
    Migrator::new()
        .with_migrations(with(seeded(4), [Migration::new(3, "renumber", step)]))
        .on(conn)
        .unwrap()
        .up()
        .unwrap();
    let timeouts = ("1500ms".to_owned(), "7s".to_owned());
    assert_eq!(
        *seen.lock().unwrap(),
        [timeouts.clone(), timeouts],
        "run, rolled back for the count, run again: both under the run's timeouts"
    );
    let mut client = db.client();
    assert_eq!(count(&mut client, "notes"), 4);
    assert_eq!(count(&mut client, "notes WHERE id = 40"), 1);
    assert_eq!(applied_seqs(&mut client), [1, 2, 3]);
    assert_eq!(
        recorded_counts(&db, 3),
        [RowCount {
            table: "public.notes".into(),
            before: Some(4),
            after: Some(4)
        }]
    );
}

#[test]
fn a_declared_destructive_migration_passes_and_its_counts_are_recorded() {
    let Some(db) = db() else { return };
    applied_seed(&db, 5);
    Migrator::new()
        .with_migrations(with(
            seeded(5),
            [
                Migration::new(3, "prune", Step::sql("DELETE FROM notes WHERE id > 2"))
                    .with_flags(destructive()),
            ],
        ))
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    let mut client = db.client();
    assert_eq!(count(&mut client, "notes"), 2);
    assert_eq!(applied_seqs(&mut client), [1, 2, 3]);
    assert_eq!(
        recorded_counts(&db, 3),
        [RowCount {
            table: "public.notes".into(),
            before: Some(5),
            after: Some(2)
        }]
    );
}

#[test]
fn allow_destructive_lets_an_undeclared_loss_through_for_the_run() {
    let Some(db) = db() else { return };
    applied_seed(&db, 5);
    Migrator::new()
        .with_migrations(with(
            seeded(5),
            [Migration::new(3, "prune", Step::sql("DELETE FROM notes"))],
        ))
        .allow_destructive()
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    let mut client = db.client();
    assert_eq!(count(&mut client, "notes"), 0);
    assert_eq!(applied_seqs(&mut client), [1, 2, 3]);
}

#[test]
fn insert_only_and_update_only_migrations_pass_and_untouched_tables_are_not_recorded() {
    let Some(db) = db() else { return };
    applied_seed(&db, 3);
    Migrator::new()
        .with_migrations(with(
            seeded(3),
            [
                Migration::new(
                    3,
                    "more",
                    Step::sql("INSERT INTO notes VALUES (4, 'four'), (5, 'five')"),
                ),
                Migration::new(4, "shout", Step::sql("UPDATE notes SET body = upper(body)")),
            ],
        ))
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    let mut client = db.client();
    assert_eq!(count(&mut client, "notes"), 5);
    assert_eq!(applied_seqs(&mut client), [1, 2, 3, 4]);
    let notes_3_to_5 = RowCount {
        table: "public.notes".into(),
        before: Some(3),
        after: Some(5),
    };
    // `other` was never touched: never counted, never recorded.
    assert_eq!(recorded_counts(&db, 3), [notes_3_to_5]);
    // An UPDATE changes no count: nothing to record.
    assert_eq!(recorded_counts(&db, 4), []);
}

#[test]
fn a_migration_touching_a_table_of_100k_rows_passes() {
    let Some(db) = db() else { return };
    applied_seed(&db, 100_000);
    Migrator::new()
        .with_migrations(with(
            seeded(100_000),
            [Migration::new(
                3,
                "touch_all",
                Step::sql(
                    "UPDATE notes SET body = body || '!';
                     DELETE FROM notes WHERE id = 1; INSERT INTO notes VALUES (0, 'zero'), (100001, 'last')",
                ),
            )],
        ))
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    let mut client = db.client();
    assert_eq!(count(&mut client, "notes"), 100_001);
    assert_eq!(
        recorded_counts(&db, 3),
        [RowCount {
            table: "public.notes".into(),
            before: Some(100_000),
            after: Some(100_001)
        }]
    );
}

#[test]
fn a_table_counted_by_an_earlier_migration_is_judged_against_that_count() {
    let Some(db) = db() else { return };
    applied_seed(&db, 3);
    // 3 counts notes (inserts); 4 deletes one of the rows 3 added: 5 -> 4 is a loss.
    let err = Migrator::new()
        .with_migrations(with(
            seeded(3),
            [
                Migration::new(
                    3,
                    "more",
                    Step::sql("INSERT INTO notes VALUES (4, 'x'), (5, 'y')"),
                ),
                Migration::new(4, "drop_one", Step::sql("DELETE FROM notes WHERE id = 5")),
            ],
        ))
        .failure_policy(FailurePolicy::KeepApplied)
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();
    let Error::MigrationFailed { seq: 4, source, .. } = &err else {
        panic!("{err:?}")
    };
    let Error::RowsLost { tables, .. } = source.as_ref() else {
        panic!("{source:?}")
    };
    assert_eq!((tables[0].before, tables[0].after), (Some(5), Some(4)));
    let mut client = db.client();
    assert_eq!(count(&mut client, "notes"), 5);
    assert_eq!(applied_seqs(&mut client), [1, 2, 3]);
}

#[test]
fn outside_a_transaction_lost_rows_are_recorded_not_refused() {
    let Some(db) = db() else { return };
    applied_seed(&db, 3);
    // Other sessions may write around a `transaction = false` migration: failing would restore
    // the backup over their writes, so a loss there is logged (as on SQLite).
    Migrator::new()
        .with_migrations(with(
            seeded(3),
            [Migration::new(
                3,
                "prune_outside",
                Step::sql("DELETE FROM notes WHERE id = 3"),
            )
            .with_mode(TxMode::NonTransactional)],
        ))
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    let mut client = db.client();
    assert_eq!(count(&mut client, "notes"), 2);
    assert_eq!(applied_seqs(&mut client), [1, 2, 3]);
}

// The guard's read compares every table's counters only when the sum of all counters moved by
// more than the tables whose catalog rows changed account for. Each test below hides a loss
// in an untouched table behind a change the cheap path does see.

/// Runs `seeded(5)` plus `more` in one run and expects `seq` to fail with `RowsLost` naming
/// `table` `before -> after`; the database keeps the seed only.
fn loss_found(more: Vec<Migration>, seq: u64, table: &str, before: u64, after: u64) {
    let Some(db) = db() else { return };
    applied_seed(&db, 5);
    let print = schema_print(&db);
    let err = Migrator::new()
        .with_migrations(with(seeded(5), more))
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();
    let Error::MigrationFailed {
        seq: failed,
        source,
        ..
    } = &err
    else {
        panic!("expected MigrationFailed, got {err:?}")
    };
    assert_eq!(*failed, seq, "{err}");
    let Error::RowsLost { tables, .. } = source.as_ref() else {
        panic!("expected RowsLost, got {source:?}")
    };
    assert_eq!(
        tables,
        &[RowCount {
            table: table.into(),
            before: Some(before),
            after: Some(after)
        }]
    );
    let mut client = db.client();
    assert_eq!(count(&mut client, "notes"), 5);
    assert_eq!(count(&mut client, "other"), 1);
    assert_eq!(applied_seqs(&mut client), [1, 2]);
    assert_eq!(schema_print(&db), print, "nothing of the run was kept");
}

#[test]
fn a_delete_beside_a_new_table_in_the_same_migration_is_found() {
    loss_found(
        vec![Migration::new(
            3,
            "new_table_and_a_prune",
            Step::sql(
                "CREATE TABLE tags (id int PRIMARY KEY, name text);
                 INSERT INTO tags VALUES (1, 'a'), (2, 'b');
                 DELETE FROM notes WHERE id > 3",
            ),
        )],
        3,
        "public.notes",
        5,
        3,
    );
}

#[test]
fn a_delete_done_by_a_trigger_on_another_table_is_found() {
    loss_found(
        vec![
            Migration::new(
                3,
                "prune_trigger",
                Step::sql(
                    "CREATE FUNCTION prune_notes() RETURNS trigger LANGUAGE plpgsql AS
                       $$ BEGIN DELETE FROM notes WHERE id > 4; RETURN NEW; END $$;
                     CREATE TRIGGER prune AFTER INSERT ON other
                       FOR EACH ROW EXECUTE FUNCTION prune_notes()",
                ),
            ),
            Migration::new(
                4,
                "innocent_insert",
                Step::sql("INSERT INTO other VALUES (2)"),
            ),
        ],
        4,
        "public.notes",
        5,
        4,
    );
}

#[test]
fn a_truncate_of_a_new_table_does_not_hide_a_delete_elsewhere() {
    // TRUNCATE resets the counters of its own subtransaction: the scratch table's inserts
    // vanish from the sums in the same migration that deletes from `other`.
    loss_found(
        vec![
            Migration::new(3, "scratch", Step::sql("CREATE TABLE scratch (id int)")),
            Migration::new(
                4,
                "fill_and_clear_scratch",
                Step::sql(
                    "INSERT INTO scratch SELECT g FROM generate_series(1, 3) g;
                     TRUNCATE scratch;
                     INSERT INTO scratch VALUES (1);
                     DELETE FROM other",
                ),
            ),
        ],
        4,
        "public.other",
        1,
        0,
    );
}

#[test]
fn counts_after_many_quiet_migrations_stay_exact() {
    // Twenty migrations that each create a table and insert rows (the read's cheap path),
    // then one that inserts into an old table (the full comparison): every count recorded
    // is the table's real count.
    let Some(db) = db() else { return };
    let mut list = seeded(3);
    for seq in 3..=22u64 {
        list.push(Migration::new(
            seq,
            format!("t{seq}"),
            Step::sql(format!(
                "CREATE TABLE t{seq} (id int); INSERT INTO t{seq} SELECT generate_series(1, {seq})"
            )),
        ));
    }
    list.push(Migration::new(
        23,
        "more_notes",
        Step::sql("INSERT INTO notes SELECT g, 'x' FROM generate_series(10, 11) g"),
    ));
    Migrator::new()
        .with_migrations(list)
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    for seq in 3..=22i64 {
        assert_eq!(
            recorded_counts(&db, seq),
            [RowCount {
                table: format!("public.t{seq}"),
                before: None,
                after: Some(seq as u64)
            }]
        );
    }
    assert_eq!(
        recorded_counts(&db, 23),
        [RowCount {
            table: "public.notes".into(),
            before: Some(3),
            after: Some(5)
        }]
    );
    assert_eq!(count(&mut db.client(), "notes"), 5);
}

#[test]
fn a_truncate_in_an_earlier_migration_of_the_run_does_not_hide_a_delete_elsewhere() {
    // Releasing the savepoint of a migration that truncated a table replaces that table's
    // counters of the whole run (the earlier migrations' inserts and deletes) with the
    // truncating migration's own: after the release, the table's counters are lower than the
    // guard's read saw. Here they drop by 4 while `notes` loses 4 rows: the sum over every
    // table stays where it was.
    loss_found(
        vec![
            Migration::new(
                3,
                "scratch_churn",
                Step::sql(
                    "CREATE TABLE scratch (id int);
                     INSERT INTO scratch VALUES (1), (2);
                     DELETE FROM scratch",
                ),
            ),
            Migration::new(4, "clear_scratch", Step::sql("TRUNCATE scratch")),
            Migration::new(
                5,
                "prune_notes",
                Step::sql("DELETE FROM notes WHERE id > 1"),
            ),
        ],
        5,
        "public.notes",
        5,
        1,
    );
}

#[test]
fn a_delete_from_a_table_truncated_and_reloaded_earlier_in_the_run_is_found() {
    // The same release: `staging` ends migration 4 with 10 rows and the run's delete counter
    // of 5 gone; migration 5 deletes 5 rows, which moves that counter back only to where the
    // guard's last read saw it.
    loss_found(
        vec![
            Migration::new(
                3,
                "staging",
                Step::sql(
                    "CREATE TABLE staging (id int);
                     INSERT INTO staging SELECT generate_series(1, 10);
                     DELETE FROM staging WHERE id > 5",
                ),
            ),
            Migration::new(
                4,
                "reload_staging",
                Step::sql(
                    "TRUNCATE staging;
                     INSERT INTO staging SELECT generate_series(1, 10)",
                ),
            ),
            Migration::new(
                5,
                "prune_staging",
                Step::sql("DELETE FROM staging WHERE id > 5"),
            ),
        ],
        5,
        "public.staging",
        10,
        5,
    );
}

#[test]
fn a_truncate_inside_a_function_is_found() {
    // No TRUNCATE in the text of the migration that empties `notes`: the function doing it
    // was created by an earlier migration.
    loss_found(
        vec![
            Migration::new(
                3,
                "wipe_function",
                Step::sql(
                    "CREATE FUNCTION wipe_notes() RETURNS void LANGUAGE plpgsql AS
                       $$ BEGIN TRUNCATE notes; END $$",
                ),
            ),
            Migration::new(4, "call_wipe", Step::sql("SELECT wipe_notes()")),
        ],
        4,
        "public.notes",
        5,
        0,
    );
}

#[test]
fn a_table_renamed_to_a_runner_like_name_does_not_hide_a_delete_elsewhere() {
    // `_migrate_parked` in the tracking schema is a user table all the same: its counters
    // leaving the read's sum must not cancel a delete from `notes`.
    loss_found(
        vec![
            Migration::new(3, "more_other", Step::sql("INSERT INTO other VALUES (2)")),
            Migration::new(
                4,
                "park_other",
                Step::sql(
                    "ALTER TABLE other RENAME TO _migrate_parked;
                     DELETE FROM notes WHERE id = 5",
                ),
            ),
        ],
        4,
        "public.notes",
        5,
        4,
    );
}

#[test]
fn a_truncate_and_a_smaller_reload_inside_a_function_is_found() {
    loss_found(
        vec![
            Migration::new(
                3,
                "reload_function",
                Step::sql(
                    "CREATE FUNCTION reload_notes() RETURNS void LANGUAGE plpgsql AS
                       $$ BEGIN TRUNCATE notes; INSERT INTO notes VALUES (1, 'a'), (2, 'b'); END $$",
                ),
            ),
            Migration::new(4, "call_reload", Step::sql("SELECT reload_notes()")),
        ],
        4,
        "public.notes",
        5,
        2,
    );
}

#[test]
fn a_rewrite_with_inserts_into_the_same_table_passes() {
    // Storage replaced without a TRUNCATE, rows inserted: the rows beyond those inserted
    // survived the rewrite, nothing is refused.
    let Some(db) = db() else { return };
    applied_seed(&db, 5);
    Migrator::new()
        .with_migrations(with(
            seeded(5),
            [Migration::new(
                3,
                "widen_and_add",
                Step::sql(
                    "ALTER TABLE notes ALTER COLUMN id TYPE numeric;
                     INSERT INTO notes VALUES (6, 'six')",
                ),
            )],
        ))
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    let mut client = db.client();
    assert_eq!(count(&mut client, "notes"), 6);
    assert_eq!(applied_seqs(&mut client), [1, 2, 3]);
}
