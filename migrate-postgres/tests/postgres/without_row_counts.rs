//! `Migrator::without_row_counts` on PostgreSQL: no table's counters read after each migration,
//! no counts recorded; an undeclared `DELETE`/`TRUNCATE` statement and an undeclared table drop
//! are still refused and rolled back (the drop after running the migration a second time to
//! list the tables before it). After every refusal: rows, tracking rows and schema fingerprint.

use crate::common::{applied_seqs, count, db, exists, schema_print};
use migrate_postgres::testing::TestDatabase;
use migrate_postgres::{Error, Flags, Migration, Migrator, Step, TxMode};

/// Seq 1: `notes` with 5 rows and an index; seq 2: `other` with one row.
fn seed() -> Vec<Migration> {
    vec![
        Migration::new(
            1,
            "create_notes",
            Step::sql(
                "CREATE TABLE notes (id bigint PRIMARY KEY, body text);
                 CREATE INDEX notes_body ON notes (body);
                 INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 5) g",
            ),
        ),
        Migration::new(
            2,
            "create_other",
            Step::sql("CREATE TABLE other (id int); INSERT INTO other VALUES (1)"),
        ),
    ]
}

fn applied_seed(db: &TestDatabase) {
    Migrator::new()
        .with_migrations(seed())
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
}

fn run(
    db: &TestDatabase,
    more: impl IntoIterator<Item = Migration>,
) -> migrate_postgres::Result<()> {
    let mut list = seed();
    list.extend(more);
    Migrator::new()
        .with_migrations(list)
        .without_row_counts()
        .on(db.connect())?
        .up()
        .map(|_| ())
}

fn flags(destructive: bool, rebuild: bool) -> Flags {
    Flags {
        destructive,
        rebuilds_tables: rebuild,
        ..Flags::default()
    }
}

/// `seq` failed with `DestructiveWithoutRowCounts`; its `lost` and `statements`.
fn refused(err: &Error, seq: u64) -> (Vec<String>, Vec<String>) {
    let Error::MigrationFailed {
        seq: failed,
        source,
        ..
    } = err
    else {
        panic!("expected MigrationFailed, got {err:?}")
    };
    assert_eq!(*failed, seq, "{err}");
    let Error::DestructiveWithoutRowCounts {
        lost, statements, ..
    } = source.as_ref()
    else {
        panic!("expected DestructiveWithoutRowCounts, got {source:?}")
    };
    (lost.clone(), statements.clone())
}

/// The seed is all the database holds, as it was.
fn only_the_seed(db: &TestDatabase, print: &str) {
    let mut client = db.client();
    assert_eq!(count(&mut client, "notes"), 5);
    assert_eq!(count(&mut client, "other"), 1);
    assert_eq!(applied_seqs(&mut client), [1, 2]);
    assert_eq!(schema_print(db), print);
}

fn recorded_counts(db: &TestDatabase) -> i64 {
    db.client()
        .query_one("SELECT count(*) FROM public._migrate_row_counts", &[])
        .unwrap()
        .get(0)
}

#[test]
fn an_undeclared_delete_statement_is_refused_and_nothing_of_it_is_kept() {
    let Some(db) = db() else { return };
    applied_seed(&db);
    let print = schema_print(&db);
    let err = run(
        &db,
        [Migration::new(
            3,
            "prune",
            Step::sql("UPDATE notes SET body = upper(body); DELETE FROM notes WHERE id > 3"),
        )],
    )
    .unwrap_err();
    let (lost, statements) = refused(&err, 3);
    assert_eq!(lost, ["rows deleted"]);
    assert_eq!(statements, ["DELETE FROM notes WHERE id > 3"]);
    let text = err.to_string();
    assert!(text.contains("Rows are not counted in this run"), "{text}");
    assert!(
        text.contains("#[migration(seq = 3, destructive)]"),
        "{text}"
    );
    // The override goes with the command that failed (the runner's outcome names it).
    assert!(
        text.contains("`migrate up --no-row-counts --allow-destructive`"),
        "{text}"
    );
    only_the_seed(&db, &print);
    let upper: i64 = db
        .client()
        .query_one("SELECT count(*) FROM notes WHERE body = upper(body)", &[])
        .unwrap()
        .get(0);
    assert_eq!(upper, 0, "the migration's UPDATE was rolled back too");
}

#[test]
fn an_undeclared_truncate_is_refused_even_when_it_reloads_every_row() {
    let Some(db) = db() else { return };
    applied_seed(&db);
    let print = schema_print(&db);
    let err = run(
        &db,
        [Migration::new(
            3,
            "reload",
            Step::sql(
                "CREATE TEMP TABLE keep AS SELECT * FROM other;
                 TRUNCATE other; INSERT INTO other SELECT * FROM keep",
            ),
        )],
    )
    .unwrap_err();
    assert_eq!(refused(&err, 3).1, ["TRUNCATE other"]);
    only_the_seed(&db, &print);
}

#[test]
fn a_delete_run_by_explain_analyze_or_a_prepared_statement_is_refused() {
    // EXPLAIN ANALYZE executes the DELETE it explains; EXECUTE runs the one PREPARE named.
    let Some(db) = db() else { return };
    applied_seed(&db);
    let print = schema_print(&db);
    let err = run(
        &db,
        [Migration::new(
            3,
            "explained",
            Step::sql("EXPLAIN (ANALYZE) DELETE FROM notes WHERE id > 3"),
        )],
    )
    .unwrap_err();
    assert_eq!(
        refused(&err, 3).1,
        ["EXPLAIN (ANALYZE) DELETE FROM notes WHERE id > 3"]
    );
    only_the_seed(&db, &print);
    let err = run(
        &db,
        [Migration::new(
            3,
            "prepared",
            Step::sql("PREPARE prune AS DELETE FROM notes WHERE id > 3; EXECUTE prune"),
        )],
    )
    .unwrap_err();
    assert_eq!(
        refused(&err, 3).1,
        ["PREPARE prune AS DELETE FROM notes WHERE id > 3"]
    );
    only_the_seed(&db, &print);
}

#[test]
fn a_declared_delete_passes_and_no_counts_are_recorded() {
    let Some(db) = db() else { return };
    run(
        &db,
        [
            Migration::new(3, "prune", Step::sql("DELETE FROM notes WHERE id > 3"))
                .with_flags(flags(true, false)),
        ],
    )
    .unwrap();
    let mut client = db.client();
    assert_eq!(count(&mut client, "notes"), 3);
    assert_eq!(applied_seqs(&mut client), [1, 2, 3]);
    assert_eq!(recorded_counts(&db), 0, "no row counted in this mode");
}

#[test]
fn an_undeclared_drop_table_is_refused_after_running_the_migration_again() {
    let Some(db) = db() else { return };
    applied_seed(&db);
    let print = schema_print(&db);
    let err = run(
        &db,
        [Migration::new(
            3,
            "drop_other",
            Step::sql("INSERT INTO notes VALUES (6, 'six'); DROP TABLE other"),
        )],
    )
    .unwrap_err();
    let (lost, statements) = refused(&err, 3);
    assert_eq!(lost, ["table public.other dropped"]);
    assert_eq!(statements, ["DROP TABLE other"]);
    only_the_seed(&db, &print);
}

#[test]
fn a_table_rebuilt_under_its_name_passes_only_when_declared_rebuild() {
    let Some(db) = db() else { return };
    applied_seed(&db);
    let print = schema_print(&db);
    let rebuild = |flags: Flags| {
        Migration::new(
            3,
            "rebuild_other",
            Step::sql(
                "CREATE TABLE other_new (id bigint); INSERT INTO other_new SELECT id FROM other;
                 DROP TABLE other; ALTER TABLE other_new RENAME TO other",
            ),
        )
        .with_flags(flags)
    };
    let err = run(&db, [rebuild(Flags::default())]).unwrap_err();
    assert_eq!(refused(&err, 3).0, ["table public.other dropped"]);
    only_the_seed(&db, &print);

    run(&db, [rebuild(flags(false, true))]).unwrap();
    let mut client = db.client();
    assert_eq!(count(&mut client, "other"), 1);
    assert_eq!(applied_seqs(&mut client), [1, 2, 3]);
    let kind: String = client
        .query_one(
            "SELECT data_type::text FROM information_schema.columns
             WHERE table_name = 'other' AND column_name = 'id'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(kind, "bigint");
}

#[test]
fn dropping_an_index_or_rewriting_a_table_passes_and_runs_its_work_once() {
    // Both drop a relation (the index; the rewrite's old storage): the migration is run a
    // second time to list the tables before it, and what it did is kept once.
    let Some(db) = db() else { return };
    run(
        &db,
        [Migration::new(
            3,
            "reshape",
            Step::sql(
                "DROP INDEX notes_body;
                 ALTER TABLE notes ALTER COLUMN body TYPE varchar(100);
                 INSERT INTO other VALUES (7)",
            ),
        )],
    )
    .unwrap();
    let mut client = db.client();
    assert!(!exists(&mut client, "public.notes_body"));
    assert_eq!(count(&mut client, "other"), 2);
    assert_eq!(count(&mut client, "notes"), 5);
    assert_eq!(applied_seqs(&mut client), [1, 2, 3]);
}

#[test]
fn a_concurrent_build_after_a_declared_drop_is_not_taken_for_a_drop() {
    // The tables a migration outside a transaction is compared with are read again before it
    // (not followed migration by migration in this mode).
    let Some(db) = db() else { return };
    applied_seed(&db);
    run(
        &db,
        [
            Migration::new(3, "drop_other", Step::sql("DROP TABLE other"))
                .with_flags(flags(true, false)),
            Migration::new(
                4,
                "index_notes",
                Step::sql("CREATE INDEX CONCURRENTLY notes_id_body ON notes (id, body)"),
            )
            .with_mode(TxMode::NonTransactional),
        ],
    )
    .unwrap();
    let mut client = db.client();
    assert!(!exists(&mut client, "public.other"));
    assert!(exists(&mut client, "public.notes_id_body"));
    assert_eq!(applied_seqs(&mut client), [1, 2, 3, 4]);
}
