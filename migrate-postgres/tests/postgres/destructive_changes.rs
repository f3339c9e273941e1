//! Destructive-change detection on PostgreSQL: an `up` that does not declare `destructive` and
//! drops a table (also through `DROP SCHEMA … CASCADE`) or a column holding values fails, is
//! rolled back, and the error names the statement and what was lost. Tables created and
//! dropped in the same migration, renames, and a lossless rebuild (create new, copy, drop old,
//! rename) pass. After every refusal the database is checked: schema fingerprint, rows,
//! tracking rows.

use crate::common::{applied_seqs, count, db, exists, schema_print};
use migrate_postgres::testing::TestDatabase;
use migrate_postgres::{Error, Flags, Migration, Migrator, Step, TxMode};

/// Seq 1: `people` (3 rows, `email` filled, `nick` NULL everywhere) and `reporting.daily`.
fn base() -> Vec<Migration> {
    vec![Migration::new(
        1,
        "create_people",
        Step::sql(
            "CREATE TABLE people (id bigint PRIMARY KEY, name text NOT NULL, email text, nick text);
             INSERT INTO people VALUES (1, 'ann', 'a@x', NULL), (2, 'bob', 'b@x', NULL),
                                       (3, 'cy', NULL, NULL);
             CREATE SCHEMA reporting;
             CREATE TABLE reporting.daily (day date PRIMARY KEY, n int);
             INSERT INTO reporting.daily VALUES ('2026-01-01', 1)",
        ),
    )]
}

fn then(step: Migration) -> Vec<Migration> {
    let mut list = base();
    list.push(step);
    list
}

fn applied_base(db: &TestDatabase) {
    Migrator::new()
        .with_migrations(base())
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
}

/// Runs `base()` + `step` on a database where `base()` is applied; the error.
fn refused(db: &TestDatabase, step: Migration) -> Error {
    Migrator::new()
        .with_migrations(then(step))
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err()
}

fn passes(db: &TestDatabase, step: Migration) {
    Migrator::new()
        .with_migrations(then(step))
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
}

fn inner(err: &Error) -> &Error {
    match err {
        Error::MigrationFailed { seq: 2, source, .. } => source,
        other => panic!("expected MigrationFailed for 2, got {other:?}"),
    }
}

/// Nothing of migration 2 was kept: same schema, same rows, only seq 1 recorded.
fn nothing_kept(db: &TestDatabase, print: &str) {
    let mut client = db.client();
    assert_eq!(schema_print(db), print);
    assert_eq!(count(&mut client, "people"), 3);
    assert_eq!(count(&mut client, "people WHERE email IS NOT NULL"), 2);
    assert_eq!(count(&mut client, "reporting.daily"), 1);
    assert_eq!(applied_seqs(&mut client), [1]);
}

#[test]
fn an_undeclared_drop_table_fails_naming_the_statement_and_the_table() {
    let Some(db) = db() else { return };
    applied_base(&db);
    let print = schema_print(&db);
    let err = refused(
        &db,
        Migration::new(
            2,
            "drop_daily",
            Step::sql("CREATE TABLE audit (x int); DROP TABLE reporting.daily"),
        ),
    );
    let Error::UndeclaredDestruction {
        lost, statements, ..
    } = inner(&err)
    else {
        panic!("{err:?}")
    };
    assert_eq!(lost, &["table reporting.daily dropped"]);
    assert_eq!(statements, &["DROP TABLE reporting.daily"]);
    let text = err.to_string();
    assert!(text.contains("nothing of it was kept"), "{text}");
    assert!(
        text.contains("#[migration(seq = 2, destructive)]"),
        "{text}"
    );
    nothing_kept(&db, &print);
    assert!(!exists(&mut db.client(), "public.audit"));
}

#[test]
fn an_empty_table_dropped_is_refused_too() {
    let Some(db) = db() else { return };
    applied_base(&db);
    db.client()
        .batch_execute("CREATE TABLE spare (x int)")
        .unwrap();
    let print = schema_print(&db);
    let err = refused(
        &db,
        Migration::new(2, "drop_spare", Step::sql("DROP TABLE spare")),
    );
    assert!(
        matches!(inner(&err), Error::UndeclaredDestruction { lost, .. }
            if lost == &["table public.spare dropped"]),
        "{err:?}"
    );
    nothing_kept(&db, &print);
    assert!(exists(&mut db.client(), "public.spare"));
}

#[test]
fn drop_schema_cascade_names_every_table_it_took() {
    let Some(db) = db() else { return };
    applied_base(&db);
    let print = schema_print(&db);
    let err = refused(
        &db,
        Migration::new(
            2,
            "drop_reporting",
            Step::sql("DROP SCHEMA reporting CASCADE"),
        ),
    );
    let Error::UndeclaredDestruction {
        lost, statements, ..
    } = inner(&err)
    else {
        panic!("{err:?}")
    };
    assert_eq!(lost, &["table reporting.daily dropped"]);
    assert_eq!(statements, &["DROP SCHEMA reporting CASCADE"]);
    nothing_kept(&db, &print);
}

#[test]
fn an_undeclared_drop_column_of_a_column_holding_values_fails() {
    let Some(db) = db() else { return };
    applied_base(&db);
    let print = schema_print(&db);
    let err = refused(
        &db,
        Migration::new(
            2,
            "drop_email",
            Step::sql("ALTER TABLE people DROP COLUMN email"),
        ),
    );
    let Error::ColumnDataLost {
        columns,
        statements,
        ..
    } = inner(&err)
    else {
        panic!("{err:?}")
    };
    assert_eq!(columns, &["public.people.email"]);
    assert_eq!(statements, &["ALTER TABLE people DROP COLUMN email"]);
    assert!(err.to_string().contains("nothing of it was kept"), "{err}");
    nothing_kept(&db, &print);
}

#[test]
fn dropping_a_column_that_is_null_everywhere_loses_nothing() {
    let Some(db) = db() else { return };
    applied_base(&db);
    passes(
        &db,
        Migration::new(
            2,
            "drop_nick",
            Step::sql("ALTER TABLE people DROP COLUMN nick"),
        ),
    );
    let mut client = db.client();
    assert!(
        client.query("SELECT nick FROM people", &[]).is_err(),
        "the column is gone"
    );
    assert_eq!(applied_seqs(&mut client), [1, 2]);
}

#[test]
fn tables_created_and_dropped_in_the_same_migration_are_not_losses() {
    let Some(db) = db() else { return };
    applied_base(&db);
    passes(
        &db,
        Migration::new(
            2,
            "scratch",
            Step::sql(
                "CREATE TABLE scratch (x int); INSERT INTO scratch VALUES (1), (2);
                 INSERT INTO people SELECT 10 + x, 'p' || x FROM scratch; DROP TABLE scratch",
            ),
        ),
    );
    let mut client = db.client();
    assert_eq!(count(&mut client, "people"), 5);
    assert!(!exists(&mut client, "public.scratch"));
    assert_eq!(applied_seqs(&mut client), [1, 2]);
}

#[test]
fn renaming_tables_and_columns_loses_nothing() {
    let Some(db) = db() else { return };
    applied_base(&db);
    passes(
        &db,
        Migration::new(
            2,
            "renames",
            Step::sql(
                "ALTER TABLE people RENAME TO persons;
                 ALTER TABLE persons RENAME COLUMN email TO mail;
                 ALTER TABLE persons ALTER COLUMN id TYPE numeric",
            ),
        ),
    );
    let mut client = db.client();
    assert_eq!(count(&mut client, "persons WHERE mail IS NOT NULL"), 2);
    assert_eq!(applied_seqs(&mut client), [1, 2]);
}

/// PostgreSQL's form of the rebuild: create the new table, copy, drop the old, rename.
fn rebuild(copy: &str) -> Migration {
    Migration::new(
        2,
        "rebuild_people",
        Step::sql(format!(
            "CREATE TABLE people_new (id bigint PRIMARY KEY, name text NOT NULL, email text,
                                      nick text, created date DEFAULT current_date);
             {copy};
             DROP TABLE people;
             ALTER TABLE people_new RENAME TO people"
        )),
    )
}

#[test]
fn a_rebuild_that_keeps_every_row_and_column_passes_undeclared() {
    let Some(db) = db() else { return };
    applied_base(&db);
    passes(
        &db,
        rebuild(
            "INSERT INTO people_new (id, name, email, nick) SELECT id, name, email, nick FROM people",
        ),
    );
    let mut client = db.client();
    assert_eq!(count(&mut client, "people"), 3);
    assert_eq!(count(&mut client, "people WHERE email IS NOT NULL"), 2);
    assert!(!exists(&mut client, "public.people_new"));
    assert_eq!(applied_seqs(&mut client), [1, 2]);
}

#[test]
fn a_rebuild_that_skips_rows_fails() {
    let Some(db) = db() else { return };
    applied_base(&db);
    let print = schema_print(&db);
    let err = refused(
        &db,
        rebuild(
            "INSERT INTO people_new (id, name, email) SELECT id, name, email FROM people WHERE id < 3",
        ),
    );
    let Error::RowsLost { tables, .. } = inner(&err) else {
        panic!("{err:?}")
    };
    assert_eq!(
        (tables[0].table.as_str(), tables[0].before, tables[0].after),
        ("public.people", Some(3), Some(2))
    );
    nothing_kept(&db, &print);
}

#[test]
fn a_rebuild_without_a_column_holding_values_fails() {
    let Some(db) = db() else { return };
    applied_base(&db);
    let print = schema_print(&db);
    let err = refused(
        &db,
        Migration::new(
            2,
            "rebuild_without_email",
            Step::sql(
                "CREATE TABLE people_new (id bigint PRIMARY KEY, name text NOT NULL);
                 INSERT INTO people_new SELECT id, name FROM people;
                 DROP TABLE people;
                 ALTER TABLE people_new RENAME TO people",
            ),
        ),
    );
    let Error::ColumnDataLost { columns, .. } = inner(&err) else {
        panic!("{err:?}")
    };
    // `nick` was NULL everywhere: only `email` counts.
    assert_eq!(columns, &["public.people.email"]);
    nothing_kept(&db, &print);
}

#[test]
fn a_declared_destructive_migration_may_drop_tables_and_columns() {
    let Some(db) = db() else { return };
    applied_base(&db);
    passes(
        &db,
        Migration::new(
            2,
            "cleanup",
            Step::sql("ALTER TABLE people DROP COLUMN email; DROP SCHEMA reporting CASCADE"),
        )
        .with_flags(Flags {
            destructive: true,
            ..Flags::default()
        }),
    );
    let mut client = db.client();
    assert!(!exists(&mut client, "reporting.daily"));
    assert_eq!(applied_seqs(&mut client), [1, 2]);
}

#[test]
fn a_down_may_drop_what_its_up_created() {
    let Some(db) = db() else { return };
    let list = vec![
        Migration::new(
            1,
            "t",
            Step::sql("CREATE TABLE t (x int); INSERT INTO t VALUES (1)"),
        )
        .with_down(Step::sql("DROP TABLE t")),
    ];
    let mut session = Migrator::new()
        .with_migrations(list)
        .on(db.connect())
        .unwrap();
    session.up().unwrap();
    session.down(1).unwrap();
    let mut client = db.client();
    assert!(!exists(&mut client, "public.t"));
    assert!(applied_seqs(&mut client).is_empty());
}

#[test]
fn a_drop_table_outside_a_transaction_fails_after_the_fact() {
    let Some(db) = db() else { return };
    applied_base(&db);
    // Nothing can roll it back: the run fails, the migration stays `started`, and the error
    // says the table is gone and that no rollback undid it.
    let err = refused(
        &db,
        Migration::new(2, "drop_outside", Step::sql("DROP TABLE reporting.daily"))
            .with_mode(TxMode::NonTransactional),
    );
    let Error::UndeclaredDestruction {
        lost, rolled_back, ..
    } = inner(&err)
    else {
        panic!("{err:?}")
    };
    assert_eq!(lost, &["table reporting.daily dropped"]);
    assert!(!rolled_back);
    assert!(
        err.to_string().contains("no rollback could undo it"),
        "{err}"
    );
    let mut client = db.client();
    assert!(!exists(&mut client, "reporting.daily"));
    let state: String = client
        .query_one(
            "SELECT state FROM public._migrate_applied WHERE seq = 2",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(state, "started");
}
