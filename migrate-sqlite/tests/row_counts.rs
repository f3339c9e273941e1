//! The row-count guard on real files: counts recorded in the history, tables that lose rows in
//! an undeclared migration roll it back (and the database and files are checked afterwards),
//! declared and allowed losses pass, and what the guard does not count.

mod common;

use common::people::{COLLAPSE, base, count, counts_of, rows, with};
use common::{applied_seqs, bytes, dump, migrator, sql, temp_db};
use migrate_sqlite::{DryRunOutcome, Error, FailurePolicy, Migration, Step, TxMode};
use rusqlite::Connection;

#[test]
fn counts_of_touched_tables_are_recorded_in_the_history() {
    let db = temp_db();
    let list = with([sql(
        3,
        "more_people",
        "INSERT INTO people (email, team) VALUES ('d@x', 'blue');
         UPDATE people SET team = 'green' WHERE email = 'a@x';",
        "DELETE FROM people WHERE email = 'd@x'",
    )]);
    migrator(list.clone()).open(&db.path).unwrap().up().unwrap();
    assert_eq!(counts_of(&db.path, 1), [rows("people", None, Some(3))]);
    // Only what a migration touched is counted: `audit` is not in 3's counts.
    assert_eq!(counts_of(&db.path, 3), [rows("people", Some(3), Some(4))]);

    // A revert is recorded too (and not checked: reverting removes data by nature).
    migrator(list).open(&db.path).unwrap().down_to(2).unwrap();
    let history = migrator(base()).open(&db.path).unwrap().history().unwrap();
    let down = history.iter().find(|h| h.event.action == "down").unwrap();
    assert_eq!(down.event.row_counts, [rows("people", Some(4), Some(3))]);
}

#[test]
fn an_undeclared_loss_rolls_the_migration_back_and_names_the_table() {
    let db = temp_db();
    migrator(base()).open(&db.path).unwrap().up().unwrap();
    let before = dump(&db.path);
    let err = migrator(with([sql(3, "one_email_per_team", COLLAPSE, "SELECT 1")]))
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    let Error::MigrationFailed { seq, source, .. } = &err else {
        panic!("{err}")
    };
    let Error::RowsLost { tables, .. } = source.as_ref() else {
        panic!("{source}")
    };
    assert_eq!(*seq, 3);
    assert_eq!(tables, &[rows("people", Some(3), Some(1))]);
    let text = err.to_string();
    for needed in [
        "people 3 -> 1 (2 rows lost)",
        "#[migration(seq = 3, destructive)]",
        "--allow-destructive",
        "Nothing from this run was kept",
    ] {
        assert!(text.contains(needed), "{needed:?} missing from: {text}");
    }
    // Nothing of it was kept, and the failure is in the history.
    assert_eq!(dump(&db.path), before);
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2]);
    let failed: String = conn
        .query_row(
            "SELECT detail FROM _migrate_history WHERE seq = 3 AND outcome = 'failed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(failed.contains("people 3 -> 1"), "{failed}");
}

#[test]
fn a_unique_on_conflict_replace_column_loses_rows_on_a_plain_update() {
    let db = temp_db();
    let list = vec![
        sql(
            1,
            "tags",
            "CREATE TABLE tags (name TEXT UNIQUE ON CONFLICT REPLACE, note TEXT);
             INSERT INTO tags VALUES ('a', 1), ('b', 2);",
            "DROP TABLE tags",
        ),
        // Renames a tag to a name that exists: the schema's REPLACE drops the other row.
        sql(
            2,
            "merge_b_into_a",
            "UPDATE tags SET name = 'a' WHERE name = 'b'",
            "SELECT 1",
        ),
    ];
    let err = migrator(list).open(&db.path).unwrap().up().unwrap_err();
    assert!(err.to_string().contains("tags 2 -> 1"), "{err}");
    // All or nothing: migration 1 was rolled back with it.
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), Vec::<u64>::new());
    assert!(!common::table_exists(&conn, "tags"));
}

#[test]
fn a_replace_that_keeps_the_count_passes() {
    let db = temp_db();
    let list = with([sql(
        3,
        "refresh_a",
        "INSERT OR REPLACE INTO people (id, email, team) VALUES (1, 'a@x', 'gold')",
        "SELECT 1",
    )]);
    migrator(list).open(&db.path).unwrap().up().unwrap();
    assert_eq!(counts_of(&db.path, 3), [rows("people", Some(3), Some(3))]);
}

#[test]
fn declared_and_allowed_losses_pass_and_are_recorded() {
    let declared = temp_db();
    let list = with([sql(3, "one_email_per_team", COLLAPSE, "SELECT 1")
        .with_flags(migrate_sqlite::Flags::NONE.with_destructive(true))]);
    migrator(list).open(&declared.path).unwrap().up().unwrap();
    assert_eq!(
        counts_of(&declared.path, 3),
        [rows("people", Some(3), Some(1))]
    );

    let allowed = temp_db();
    migrator(with([sql(3, "one_email_per_team", COLLAPSE, "SELECT 1")]))
        .allow_destructive()
        .open(&allowed.path)
        .unwrap()
        .up()
        .unwrap();
    assert_eq!(count(&allowed.path, "people"), 1);
}

/// A hand-written rebuild: `rebuild` allows its DROP TABLE, not rows left behind by the copy.
fn rebuild(seq: u64, filter: &str) -> Migration {
    let up = format!(
        "CREATE TABLE people_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, team TEXT);
         INSERT INTO people_new SELECT * FROM people {filter};
         DROP TABLE people;
         ALTER TABLE people_new RENAME TO people;"
    );
    sql(seq, "email_not_null", &up, "SELECT 1")
        .with_flags(migrate_sqlite::Flags::NONE.with_rebuilds_tables(true))
}

#[test]
fn a_rebuild_that_skips_rows_is_caught_and_a_faithful_one_passes() {
    let db = temp_db();
    migrator(base()).open(&db.path).unwrap().up().unwrap();
    let before = bytes(&db.path);
    let err = migrator(with([rebuild(3, "WHERE team = 'red'")]))
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    assert!(
        err.to_string().contains("people 3 -> 2 (1 rows lost)"),
        "{err}"
    );
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2]);
    drop(conn);
    assert_eq!(count(&db.path, "people"), 3);
    // Backups are off in these tests; only the failure's history row was added.
    assert_ne!(bytes(&db.path), before);

    migrator(with([rebuild(3, "")]))
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    // The temporary table came and went inside the migration: only `people` is counted.
    assert_eq!(counts_of(&db.path, 3), [rows("people", Some(3), Some(3))]);
}

#[test]
fn keep_applied_keeps_the_migrations_before_the_loss() {
    let db = temp_db();
    let err = migrator(with([sql(3, "one_email_per_team", COLLAPSE, "SELECT 1")]))
        .failure_policy(FailurePolicy::KeepApplied)
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    assert!(
        matches!(&err, Error::MigrationFailed { seq: 3, .. }),
        "{err}"
    );
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2]);
    drop(conn);
    assert_eq!(count(&db.path, "people"), 3);
}

#[test]
fn a_table_is_followed_through_a_rename_within_one_run() {
    let db = temp_db();
    let list = with([sql(
        3,
        "rename",
        "ALTER TABLE people RENAME TO members",
        "SELECT 1",
    )]);
    let mut list = list;
    list.push(sql(
        4,
        "collapse_members",
        "UPDATE OR REPLACE members SET email = 'x'",
        "SELECT 1",
    ));
    let err = migrator(list.clone())
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    assert!(
        matches!(&err, Error::MigrationFailed { seq: 4, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("members 3 -> 1"), "{err}");

    // Without 4, the rename alone is not a loss; both names are in its counts.
    list.pop();
    migrator(list).open(&db.path).unwrap().up().unwrap();
    assert_eq!(
        counts_of(&db.path, 3),
        [
            rows("members", None, Some(3)),
            rows("people", Some(3), None)
        ]
    );
}

#[test]
fn full_text_index_maintenance_is_not_a_loss() {
    let db = temp_db();
    let list = vec![
        sql(
            1,
            "search",
            "CREATE VIRTUAL TABLE search USING fts5(body);
             INSERT INTO search VALUES ('one'); INSERT INTO search VALUES ('two');
             INSERT INTO search VALUES ('three');",
            "DROP TABLE search",
        ),
        // Merges the index segments: the shadow table search_data loses rows.
        sql(
            2,
            "optimize",
            "INSERT INTO search(search) VALUES ('optimize')",
            "SELECT 1",
        ),
    ];
    migrator(list).open(&db.path).unwrap().up().unwrap();
    assert_eq!(counts_of(&db.path, 2), []);
    assert_eq!(count(&db.path, "search"), 3);
}

#[test]
fn outside_a_transaction_a_loss_is_recorded_not_failed() {
    let db = temp_db();
    let list = with([Migration::new(3, "collapse_outside", Step::sql(COLLAPSE))
        .with_mode(TxMode::NonTransactional)]);
    migrator(list).open(&db.path).unwrap().up().unwrap();
    assert_eq!(counts_of(&db.path, 3), [rows("people", Some(3), Some(1))]);
}

#[test]
fn the_guard_can_be_turned_off() {
    let db = temp_db();
    migrator(with([sql(3, "one_email_per_team", COLLAPSE, "SELECT 1")]))
        .without_row_counts()
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    assert_eq!(count(&db.path, "people"), 1);
    assert_eq!(counts_of(&db.path, 1), []);
}

#[test]
fn the_dry_run_reports_the_loss_as_the_real_run_would() {
    let db = temp_db();
    migrator(base()).open(&db.path).unwrap().up().unwrap();
    let before = bytes(&db.path);
    let list = with([sql(3, "one_email_per_team", COLLAPSE, "SELECT 1")]);
    let dry = migrator(list).open(&db.path).unwrap().dry_run().unwrap();
    let DryRunOutcome::Failed { error } = &dry.failure().expect("a failure").outcome else {
        unreachable!()
    };
    assert!(error.contains("people 3 -> 1 (2 rows lost)"), "{error}");
    assert_eq!(bytes(&db.path), before);
}

#[test]
fn a_database_from_before_the_guard_still_reads_its_history() {
    let db = temp_db();
    migrator(base()).open(&db.path).unwrap().up().unwrap();
    Connection::open(&db.path)
        .unwrap()
        .execute_batch("DROP TABLE _migrate_row_counts")
        .unwrap();
    let history = migrator(base()).open(&db.path).unwrap().history().unwrap();
    assert!(history.iter().all(|h| h.event.row_counts.is_empty()));
    // The next changing run creates the table again.
    migrator(with([sql(
        3,
        "more",
        "INSERT INTO audit VALUES ('now')",
        "SELECT 1",
    )]))
    .open(&db.path)
    .unwrap()
    .up()
    .unwrap();
    assert_eq!(counts_of(&db.path, 3), [rows("audit", Some(1), Some(2))]);
}
