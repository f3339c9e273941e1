//! Previewing a revert (runbook 001 "review data impact"), through the real binary on real
//! files: `migrate plan --down [--steps N | --to SEQ]` and `plan --redo` show the exact SQL,
//! the tables and columns dropped and the rows that would go, change nothing (the file is
//! byte-identical afterwards), and are refused as `down` is.

#[path = "common/runbook.rs"]
mod runbook;

use runbook::{Db, assert_runs_as_printed, printed_commands};

/// The lending database at seq 4: two books with ISBNs, one member, one loan.
fn lending() -> Db {
    let db = Db::lending();
    db.up();
    db.conn()
        .execute_batch(
            "INSERT INTO books (title, isbn) VALUES ('Dune', '1'), ('Emma', '2');
             INSERT INTO members (name) VALUES ('Ada');
             INSERT INTO loans (book_id, member_id) VALUES (1, 1);",
        )
        .unwrap();
    db
}

#[test]
fn plan_down_to_shows_sql_dropped_tables_and_columns_and_rows_and_changes_nothing() {
    let db = lending();
    let before = db.bytes();
    let files = db.backups();
    let out = db.run(&["plan", "--down", "--to", "1"]).expect(0);
    let text = &out.stdout;
    for expected in [
        "dry run of `migrate down --to 1`: 3 migrations reverted",
        "would revert 4 \"create_loans\"",
        "DROP TABLE loans;",
        "DROP TABLE members;",
        "tables dropped: loans, members",
        "rows that would go: loans 1, members 1",
        "would revert 2 \"add_isbn\"",
        "ALTER TABLE books DROP COLUMN isbn;",
        "columns dropped: books.isbn (its values would go)",
        "would be lost:",
    ] {
        assert!(text.contains(expected), "{expected:?} missing:\n{text}");
    }
    let mut commands = printed_commands(text);
    commands.dedup();
    assert_eq!(commands, ["migrate down --to 1"], "{text}");
    assert_runs_as_printed(&commands[0]);
    // Nothing changed: the file, the backups, the tracking rows.
    assert!(db.bytes() == before, "plan --down changed the file");
    assert_eq!(db.backups(), files, "plan --down took a backup");
    assert_eq!(db.int("SELECT max(seq) FROM _migrate_applied"), 4);
    assert_eq!(db.int("SELECT count(*) FROM loans"), 1);

    // The JSON says the same.
    let json = db
        .run(&["plan", "--down", "--to", "1", "--json"])
        .expect(0)
        .json();
    assert_eq!(json["operation"], "down --to 1");
    assert_eq!(json["ok"], true);
    let steps = json["migrations"].as_array().unwrap();
    assert_eq!(steps.len(), 3);
    assert_eq!(steps[0]["direction"], "down");
    assert_eq!(
        steps[0]["tables"]["dropped"],
        serde_json::json!(["loans", "members"])
    );
    assert_eq!(
        steps[2]["columns_dropped"],
        serde_json::json!([{"table": "books", "column": "isbn", "held_values": true}])
    );
    assert!(db.bytes() == before);
}

#[test]
fn plan_down_steps_and_plan_redo_preview_the_last_migrations() {
    let db = lending();
    let before = db.bytes();
    let out = db.run(&["plan", "--down", "--steps", "2"]).expect(0);
    assert!(
        out.stdout
            .contains("dry run of `migrate down --steps 2`: 2 migrations reverted"),
        "{out:#?}"
    );
    assert!(out.stdout.contains("would revert 3 \"require_isbn\""));
    assert!(!out.stdout.contains("add_isbn"), "{out:#?}");
    let out = db.run(&["plan", "--down"]).expect(0);
    assert!(out.stdout.contains("`migrate down --steps 1`"), "{out:#?}");
    let out = db.run(&["plan", "--redo"]).expect(0);
    assert!(
        out.stdout
            .contains("dry run of `migrate redo`: 1 migration reverted and applied again"),
        "{out:#?}"
    );
    assert!(out.stdout.contains("would apply 4 \"create_loans\""));
    assert!(out.stdout.contains("to do it: `migrate redo`"));
    assert!(db.bytes() == before);
    assert_eq!(db.int("SELECT count(*) FROM members"), 1);
}

#[test]
fn plan_down_is_refused_where_down_is_with_the_same_message() {
    let db = lending();
    let before = db.bytes();
    // Seq 1 has no down step.
    let preview = db.run(&["plan", "--down", "--to", "0"]).expect(3);
    let real = db.run(&["down", "--to", "0", "--yes"]).expect(3);
    assert_eq!(preview.stderr, real.stderr);
    assert!(
        preview.stderr.contains("cannot revert 1 \"create_books\""),
        "{preview:#?}"
    );
    for command in printed_commands(&preview.stderr) {
        assert_runs_as_printed(&command);
    }
    // More steps than applied.
    let preview = db.run(&["plan", "--down", "--steps", "9"]).expect(3);
    let real = db.run(&["down", "--steps", "9", "--yes"]).expect(3);
    assert_eq!(preview.stderr, real.stderr);
    assert!(
        preview.stderr.contains("has only 4 applied"),
        "{preview:#?}"
    );
    assert!(db.bytes() == before, "a refusal changed the file");
    // --steps without --down is a usage error.
    db.run(&["plan", "--steps", "1"]).expect(2);
    db.run(&["plan", "--down", "--redo"]).expect(2);
}
