//! The row-count guard on the edge cases of SQLite: names that differ only in case, a view
//! replaced by a table, a statement cached by an earlier migration, renames, WITHOUT ROWID
//! REPLACE, triggers, temp tables, FTS, odd quoted names. The first part pins down bugs a
//! review found; the second ("checked, fine") cases that were checked and behave correctly.

mod common;

use common::people::{
    COLLAPSE, assert_rows_lost, base, count, counts_of, destructive_flag, rebuild_flag, rows, with,
};
use common::{applied_seqs, migrator, sql, temp_db};
use migrate_sqlite::rusqlite::params;
use migrate_sqlite::{DryRunOutcome, FailurePolicy, Migration, Step, TxMode};
use rusqlite::Connection;

// ------------------------------------------------------------------------------------------
// Findings
// ------------------------------------------------------------------------------------------

/// A hand-written rebuild whose final rename spells the table in another case (`People` for
/// `people`): SQLite treats both as one name, the guard compares them byte for byte, so the
/// relisting after the ALTER sees "people dropped, People created" and the lost row passes.
#[test]
fn a_rebuild_renamed_to_another_case_does_not_hide_a_loss() {
    let db = temp_db();
    migrator(base()).open(&db.path).unwrap().up().unwrap();
    let lossy = rebuild_flag(sql(
        3,
        "email_not_null",
        "CREATE TABLE people_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, team TEXT);
         INSERT INTO people_new SELECT * FROM people WHERE team = 'red';
         DROP TABLE people;
         ALTER TABLE people_new RENAME TO People;",
        "SELECT 1",
    ));
    let result = migrator(with(vec![lossy])).open(&db.path).unwrap().up();
    let text = assert_rows_lost(result, 3);
    assert!(text.contains("3 -> 2"), "{text}");
    assert_eq!(count(&db.path, "people"), 3);
}

/// The same migration under the dry run: `row_counts::compare` also matches names byte for
/// byte, so `migrate plan` reports the migration as fine.
#[test]
fn the_dry_run_sees_a_loss_behind_a_case_change() {
    let db = temp_db();
    migrator(base()).open(&db.path).unwrap().up().unwrap();
    let lossy = rebuild_flag(sql(
        3,
        "email_not_null",
        "CREATE TABLE people_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, team TEXT);
         INSERT INTO people_new SELECT * FROM people WHERE team = 'red';
         DROP TABLE people;
         ALTER TABLE people_new RENAME TO People;",
        "SELECT 1",
    ));
    let dry = migrator(with(vec![lossy]))
        .open(&db.path)
        .unwrap()
        .dry_run()
        .unwrap();
    let failed = dry.failure().expect("the dry run must report the loss");
    let DryRunOutcome::Failed { error } = &failed.outcome else {
        unreachable!()
    };
    assert!(error.contains("3 -> 2"), "{error}");
}

/// `CREATE TABLE IF NOT EXISTS PEOPLE` when `people` exists: the authorizer reports the name as
/// written, `table_exists` finds `people` case-insensitively, and the counter records a table
/// "created" with 3 rows — a second entry for the same table, with a wrong `before`.
#[test]
fn create_if_not_exists_in_another_case_is_not_recorded_as_a_new_table() {
    let db = temp_db();
    migrator(base()).open(&db.path).unwrap().up().unwrap();
    let idempotent = sql(
        3,
        "ensure_people",
        "CREATE TABLE IF NOT EXISTS PEOPLE (id INTEGER PRIMARY KEY, email TEXT UNIQUE, team TEXT)",
        "SELECT 1",
    );
    migrator(with(vec![idempotent]))
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    let counts = counts_of(&db.path, 3);
    assert!(
        counts
            .iter()
            .all(|c| c.before == Some(3) && c.after == Some(3)),
        "an existing table recorded as created: {counts:?}"
    );
}

/// Follow-up of the previous case: the stale second entry (`PEOPLE` = 3) survives a declared
/// deletion from `people`, and the next idempotent `CREATE TABLE IF NOT EXISTS PEOPLE` — which
/// changes nothing — fails as "PEOPLE 3 -> 2" (a false positive that rolls back the run).
#[test]
fn a_declared_deletion_does_not_make_a_later_no_op_migration_fail() {
    let db = temp_db();
    migrator(base()).open(&db.path).unwrap().up().unwrap();
    let ensure = |seq: u64, name: &str| {
        sql(
            seq,
            name,
            "CREATE TABLE IF NOT EXISTS PEOPLE (id INTEGER PRIMARY KEY, email TEXT UNIQUE, team TEXT)",
            "SELECT 1",
        )
    };
    let list = with(vec![
        ensure(3, "ensure_people"),
        destructive_flag(sql(
            4,
            "forget_a",
            "DELETE FROM people WHERE email = 'a@x'",
            "SELECT 1",
        )),
        ensure(5, "ensure_people_again"),
    ]);
    let result = migrator(list).open(&db.path).unwrap().up();
    assert!(result.is_ok(), "{}", result.unwrap_err());
    assert_eq!(count(&db.path, "people"), 2);
}

/// A view (known to the run's baseline as "not counted") is replaced by a table of the same
/// name. No virtual table or ALTER is involved, so the counter does not relist, and the name
/// stays in `uncounted`: the new table is never counted for the rest of the run.
fn view_then_table() -> Vec<Migration> {
    with(vec![sql(
        3,
        "reds_view",
        "CREATE VIEW reds AS SELECT * FROM people WHERE team = 'red'",
        "DROP VIEW reds",
    )])
}

fn materialize(seq: u64) -> Migration {
    rebuild_flag(sql(
        seq,
        "materialize_reds",
        "DROP VIEW reds;
         CREATE TABLE reds (id INTEGER PRIMARY KEY, email TEXT UNIQUE, team TEXT);
         INSERT INTO reds SELECT * FROM people WHERE team = 'red';",
        "SELECT 1",
    ))
}

#[test]
fn a_view_replaced_by_a_table_is_guarded_later_in_the_run() {
    let db = temp_db();
    migrator(view_then_table())
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    let mut list = view_then_table();
    list.push(materialize(4));
    list.push(sql(
        5,
        "one_red_email",
        "UPDATE OR REPLACE reds SET email = 'red@x'",
        "SELECT 1",
    ));
    let result = migrator(list).open(&db.path).unwrap().up();
    let text = assert_rows_lost(result, 5);
    assert!(text.contains("reds 2 -> 1"), "{text}");
}

#[test]
fn a_view_replaced_by_a_table_has_its_counts_recorded() {
    let db = temp_db();
    migrator(view_then_table())
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    let mut list = view_then_table();
    list.push(materialize(4));
    migrator(list).open(&db.path).unwrap().up().unwrap();
    assert_eq!(counts_of(&db.path, 4), [rows("reds", None, Some(2))]);
}

/// The authorizer runs when a statement is prepared, not when it runs. A statement a migration
/// prepared with `prepare_cached` comes back from rusqlite's cache in a later migration of the
/// same run without being prepared again (no schema change in between), so the later
/// migration's REPLACE touches nothing as far as the guard knows.
#[test]
fn a_statement_cached_by_an_earlier_migration_is_still_guarded() {
    const UPSERT: &str = "INSERT OR REPLACE INTO people (id, email, team) VALUES (?1, ?2, ?3)";
    let db = temp_db();
    let list = with(vec![
        Migration::new(
            3,
            "add_d",
            Step::new(|tx| {
                tx.prepare_cached(UPSERT)?
                    .execute(params![4, "d@x", "blue"])?;
                Ok(())
            }),
        ),
        // Replaces row 1 and, through the email, deletes row 2: 4 rows -> 3.
        Migration::new(
            4,
            "move_b_to_1",
            Step::new(|tx| {
                tx.prepare_cached(UPSERT)?
                    .execute(params![1, "b@x", "red"])?;
                Ok(())
            }),
        ),
    ]);
    let result = migrator(list).open(&db.path).unwrap().up();
    let text = assert_rows_lost(result, 4);
    assert!(text.contains("people 4 -> 3"), "{text}");
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), Vec::<u64>::new());
}

/// The harness's loss rule (testing/harness.rs `lost_rows`) is not the guard's: a table missing
/// afterwards counts as 0 rows, so a plain rename — accepted by the runner, README: "a rename or
/// a drop is not a loss here" — fails the harness check.
#[test]
fn the_harness_does_not_call_a_rename_a_loss() {
    let list = with(vec![sql(
        3,
        "rename",
        "ALTER TABLE people RENAME TO members",
        "ALTER TABLE members RENAME TO people",
    )]);
    let migrator = migrate_sqlite::Migrator::new().with_migrations(list);
    let checked = migrate_sqlite::testing::Harness::new(migrator).check();
    assert!(checked.is_ok(), "{}", checked.unwrap_err());
}

// ------------------------------------------------------------------------------------------
// Checked, fine
// ------------------------------------------------------------------------------------------

#[test]
fn fine_without_rowid_replace_is_caught() {
    let db = temp_db();
    let list = vec![
        sql(
            1,
            "kv",
            "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT UNIQUE) WITHOUT ROWID;
             INSERT INTO kv VALUES ('a', '1'), ('b', '2'), ('c', '3');",
            "DROP TABLE kv",
        ),
        sql(
            2,
            "same_v",
            "UPDATE OR REPLACE kv SET v = 'same'",
            "SELECT 1",
        ),
    ];
    let text = assert_rows_lost(migrator(list).open(&db.path).unwrap().up(), 2);
    assert!(text.contains("kv 3 -> 1"), "{text}");
}

#[test]
fn fine_an_instead_of_trigger_on_a_view_is_followed() {
    let db = temp_db();
    let view = sql(
        3,
        "people_v",
        "CREATE VIEW people_v AS SELECT * FROM people;
         CREATE TRIGGER people_v_ins INSTEAD OF INSERT ON people_v BEGIN
           INSERT OR REPLACE INTO people (id, email, team) VALUES (NEW.id, NEW.email, NEW.team);
         END;",
        "DROP VIEW people_v",
    );
    migrator(with(vec![view.clone()]))
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    let list = with(vec![
        view,
        sql(
            4,
            "through_view",
            "INSERT INTO people_v (id, email, team) VALUES (1, 'b@x', 'red')",
            "SELECT 1",
        ),
    ]);
    let text = assert_rows_lost(migrator(list).open(&db.path).unwrap().up(), 4);
    assert!(text.contains("people 3 -> 2"), "{text}");
}

#[test]
fn fine_a_trigger_on_another_table_is_followed() {
    let db = temp_db();
    let trigger = sql(
        3,
        "audit_trigger",
        "CREATE TRIGGER audit_ins AFTER INSERT ON audit BEGIN
           UPDATE OR REPLACE people SET email = NEW.at;
         END;",
        "DROP TRIGGER audit_ins",
    );
    migrator(with(vec![trigger.clone()]))
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    let list = with(vec![
        trigger,
        sql(4, "log", "INSERT INTO audit VALUES ('same@x')", "SELECT 1"),
    ]);
    let text = assert_rows_lost(migrator(list).open(&db.path).unwrap().up(), 4);
    assert!(text.contains("people 3 -> 1"), "{text}");
}

#[test]
fn fine_a_temp_table_shadowing_a_main_table_is_not_counted() {
    let db = temp_db();
    let list = with(vec![sql(
        3,
        "scratch",
        "CREATE TEMP TABLE people (id INTEGER PRIMARY KEY, email TEXT UNIQUE, team TEXT);
         INSERT INTO temp.people SELECT * FROM main.people;
         UPDATE OR REPLACE people SET email = 'x';
         INSERT INTO main.people (email, team) VALUES ('d@x', 'blue');",
        "SELECT 1",
    )]);
    migrator(list).open(&db.path).unwrap().up().unwrap();
    assert_eq!(counts_of(&db.path, 3), [rows("people", Some(3), Some(4))]);
}

#[test]
fn fine_a_savepoint_rolled_back_inside_a_migration_is_not_a_loss() {
    let db = temp_db();
    let list = with(vec![sql(
        3,
        "try_collapse",
        &format!("SAVEPOINT mine; {COLLAPSE}; ROLLBACK TO mine; RELEASE mine;"),
        "SELECT 1",
    )]);
    migrator(list).open(&db.path).unwrap().up().unwrap();
    assert_eq!(count(&db.path, "people"), 3);
}

#[test]
fn fine_odd_quoted_names_are_counted() {
    let db = temp_db();
    let list = vec![
        sql(
            1,
            "odd",
            "CREATE TABLE \"we\"\"ird ta.ble\" (id INTEGER PRIMARY KEY, e TEXT UNIQUE);
             INSERT INTO \"we\"\"ird ta.ble\" (e) VALUES ('1'), ('2');",
            "SELECT 1",
        ),
        sql(
            2,
            "collapse",
            "UPDATE OR REPLACE \"we\"\"ird ta.ble\" SET e = 'x'",
            "SELECT 1",
        ),
    ];
    let text = assert_rows_lost(migrator(list).open(&db.path).unwrap().up(), 2);
    assert!(text.contains("we\"ird ta.ble 2 -> 1"), "{text}");
}

/// The guard reads a table's columns with `PRAGMA table_info('…')`: a name with a quote in it
/// must still be read, so that a column dropped later in the same run is seen.
#[test]
fn fine_a_name_with_an_apostrophe_keeps_its_columns_guarded() {
    let db = temp_db();
    let list = vec![
        sql(
            1,
            "notes",
            "CREATE TABLE \"it's\" (id INTEGER PRIMARY KEY, body TEXT);
             INSERT INTO \"it's\" (body) VALUES ('a'), ('b');",
            "SELECT 1",
        ),
        sql(
            2,
            "drop_body",
            "ALTER TABLE \"it's\" DROP COLUMN body",
            "SELECT 1",
        ),
    ];
    let err = migrator(list)
        .failure_policy(FailurePolicy::KeepApplied)
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("removed the values of it's.body"), "{text}");
    // Migration 1 kept, 2 undone: the column and its values are still there.
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1]);
    let bodies: i64 = conn
        .query_row("SELECT count(body) FROM \"it's\"", [], |r| r.get(0))
        .unwrap();
    assert_eq!(bodies, 2);
}

#[test]
fn fine_create_table_as_select_is_recorded() {
    let db = temp_db();
    let list = with(vec![sql(
        3,
        "reds",
        "CREATE TABLE reds AS SELECT * FROM people WHERE team = 'red'",
        "DROP TABLE reds",
    )]);
    migrator(list).open(&db.path).unwrap().up().unwrap();
    assert_eq!(counts_of(&db.path, 3), [rows("reds", None, Some(2))]);
}

#[test]
fn fine_fts_maintenance_in_a_later_run_is_not_a_loss() {
    let db = temp_db();
    let search = sql(
        1,
        "search",
        "CREATE VIRTUAL TABLE search USING fts5(body);
         INSERT INTO search VALUES ('one'); INSERT INTO search VALUES ('two');
         INSERT INTO search VALUES ('three');",
        "DROP TABLE search",
    );
    migrator(vec![search.clone()])
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    let list = vec![
        search,
        sql(
            2,
            "optimize",
            "INSERT INTO search(search) VALUES ('optimize')",
            "SELECT 1",
        ),
    ];
    migrator(list).open(&db.path).unwrap().up().unwrap();
    assert_eq!(counts_of(&db.path, 2), []);
}

#[test]
fn fine_redo_checks_the_up_against_what_the_down_left() {
    let db = temp_db();
    let list = with(vec![sql(
        3,
        "add_d",
        "INSERT INTO people (email, team) VALUES ('d@x', 'blue')",
        "DELETE FROM people WHERE email = 'd@x'",
    )]);
    migrator(list.clone()).open(&db.path).unwrap().up().unwrap();
    migrator(list).open(&db.path).unwrap().redo().unwrap();
    let history = migrator(base()).open(&db.path).unwrap().history().unwrap();
    let last: Vec<_> = history
        .iter()
        .filter(|h| h.event.seq == Some(3))
        .map(|h| (h.event.action.clone(), h.event.row_counts.clone()))
        .collect();
    assert_eq!(
        last,
        [
            ("up".to_owned(), vec![rows("people", Some(3), Some(4))]),
            ("down".to_owned(), vec![rows("people", Some(4), Some(3))]),
            ("up".to_owned(), vec![rows("people", Some(3), Some(4))]),
        ]
    );
}

#[test]
fn fine_a_transactional_loss_after_a_non_transactional_migration_is_caught() {
    let db = temp_db();
    let list = with(vec![
        Migration::new(
            3,
            "add_d_outside",
            Step::sql("INSERT INTO people (email, team) VALUES ('d@x', 'blue')"),
        )
        .with_mode(TxMode::NonTransactional),
        sql(4, "collapse", COLLAPSE, "SELECT 1"),
    ]);
    let text = assert_rows_lost(migrator(list).open(&db.path).unwrap().up(), 4);
    assert!(text.contains("people 4 -> 1"), "{text}");
}

#[test]
fn fine_keep_applied_records_the_counts_of_what_it_kept() {
    let db = temp_db();
    let list = with(vec![
        sql(
            3,
            "add_d",
            "INSERT INTO people (email, team) VALUES ('d@x', 'blue')",
            "SELECT 1",
        ),
        sql(4, "collapse", COLLAPSE, "SELECT 1"),
    ]);
    let result = migrator(list)
        .failure_policy(FailurePolicy::KeepApplied)
        .open(&db.path)
        .unwrap()
        .up();
    assert_rows_lost(result, 4);
    assert_eq!(counts_of(&db.path, 3), [rows("people", Some(3), Some(4))]);
    assert_eq!(count(&db.path, "people"), 4);
}

#[test]
fn fine_the_rebuild_helper_is_counted_under_the_table_name() {
    let db = temp_db();
    let list = with(vec![rebuild_flag(Migration::new(
        3,
        "team_not_null",
        Step::new(|tx| {
            tx.rebuild_table(
                "people",
                "CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT UNIQUE, team TEXT NOT NULL)",
            )?;
            Ok(())
        }),
    ))]);
    migrator(list).open(&db.path).unwrap().up().unwrap();
    assert_eq!(counts_of(&db.path, 3), [rows("people", Some(3), Some(3))]);
}

#[test]
fn fine_a_broken_view_does_not_stop_the_count() {
    let db = temp_db();
    let list = with(vec![destructive_flag(sql(
        3,
        "drop_audit_keep_view",
        "CREATE VIEW audit_v AS SELECT at FROM audit; DROP TABLE audit;",
        "SELECT 1",
    ))]);
    migrator(list.clone()).open(&db.path).unwrap().up().unwrap();
    let mut list = list;
    list.push(sql(
        4,
        "more",
        "INSERT INTO people (email, team) VALUES ('d@x', 'blue')",
        "SELECT 1",
    ));
    migrator(list).open(&db.path).unwrap().up().unwrap();
    assert_eq!(counts_of(&db.path, 4), [rows("people", Some(3), Some(4))]);
}
