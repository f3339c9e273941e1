//! `migrate restore-table TABLE [FROM]` through the real binary: one table's rows put back
//! from a backup in one transaction after an undo backup, other tables' writes since kept;
//! refused when the table's shape differs; rolled back, naming the rows, when the result breaks
//! a foreign key. Every test checks every table's rows and the backup directory afterwards.

#[path = "common/runbook.rs"]
mod runbook;

use runbook::Db;

/// Lending tables with two books, one member, one loan, and a manual backup of that state.
fn lending_with_backup() -> Db {
    let db = Db::lending();
    db.up();
    db.conn()
        .execute_batch(
            "INSERT INTO books (id, title, isbn) VALUES (1, 'Dune', '1'), (2, 'Emma', '2');
             INSERT INTO members (id, name) VALUES (1, 'Ann');
             INSERT INTO loans (id, book_id, member_id) VALUES (1, 1, 1);",
        )
        .unwrap();
    db.run(&["backup"]).expect(0);
    db
}

#[test]
fn one_table_comes_back_and_the_others_keep_their_writes() {
    let db = lending_with_backup();
    let books_then = db.rows("books");
    // A bad data change to books, and good writes elsewhere since the backup.
    db.conn()
        .execute_batch(
            "UPDATE books SET title = substr(title, 1, 1);
             INSERT INTO members (id, name) VALUES (2, 'Bob');
             INSERT INTO loans (id, book_id, member_id) VALUES (2, 2, 2);",
        )
        .unwrap();
    let members_now = db.rows("members");
    let loans_now = db.rows("loans");
    let backups = db.backups();

    let out = db.run(&["restore-table", "books", "--yes"]).expect(0);
    assert!(out.stdout.contains("table books restored from"), "{out:#?}");
    assert!(
        out.stdout
            .contains("2 rows before, 2 now; no other table was changed"),
        "{out:#?}"
    );
    assert!(
        out.stdout.contains("to undo: migrate restore-table books "),
        "{out:#?}"
    );

    assert_eq!(db.rows("books"), books_then);
    assert_eq!(db.rows("members"), members_now);
    assert_eq!(db.rows("loans"), loans_now);
    let new: Vec<_> = db.backups().difference(&backups).cloned().collect();
    assert_eq!(new.len(), 1, "exactly one undo backup: {new:?}");
    assert!(new[0].to_string_lossy().ends_with(".pre-restore-table.db"));
    assert_eq!(
        db.int("SELECT count(*) FROM _migrate_history WHERE action = 'restore-table'"),
        1
    );
    // The undo command printed runs as printed and brings the truncated titles back.
    let undo = out
        .stdout
        .trim()
        .rsplit("to undo: migrate ")
        .next()
        .unwrap()
        .to_owned();
    let args: Vec<&str> = undo.split_whitespace().chain(["--yes"]).collect();
    db.run(&args).expect(0);
    assert_eq!(db.int("SELECT max(length(title)) FROM books"), 1);
    assert_eq!(db.rows("members"), members_now);
}

#[test]
fn a_table_whose_shape_changed_is_refused_and_nothing_changes() {
    let db = Db::lending();
    db.run(&["up", "--to", "2"]).expect(0);
    db.conn()
        .execute_batch("INSERT INTO books (id, title) VALUES (1, 'Dune')")
        .unwrap();
    db.run(&["backup"]).expect(0);
    db.up(); // 3 rebuilds books: isbn becomes NOT NULL DEFAULT ''
    db.conn()
        .execute_batch("DELETE FROM books; INSERT INTO members (name) VALUES ('Ann')")
        .unwrap();
    let before = db.bytes();
    let backups = db.backups();

    let out = db
        .run(&["restore-table", "books", "--before", "3", "--yes"])
        .expect(3);
    assert!(
        out.stderr.contains("does not have today's shape"),
        "{out:#?}"
    );
    assert!(
        out.stderr
            .contains("column isbn was TEXT, is TEXT NOT NULL DEFAULT ''"),
        "{out:#?}"
    );
    assert!(out.stderr.contains("nothing was changed"), "{out:#?}");
    let commands = runbook::printed_commands(&out.stderr);
    assert_eq!(commands.len(), 1, "{out:#?}");
    runbook::assert_runs_as_printed(&commands[0]);
    assert_eq!(db.bytes(), before);
    assert_eq!(db.backups(), backups);
    assert_eq!(db.int("SELECT count(*) FROM books"), 0);
    assert_eq!(db.rows("members"), ["Integer(1)|Text(\"Ann\")"]);
    assert_eq!(db.rows("loans"), Vec::<String>::new());
}

#[test]
fn a_restore_that_breaks_a_foreign_key_rolls_back_and_names_the_rows() {
    let db = lending_with_backup();
    // A book and a loan of it written since the backup: putting back books would orphan it.
    db.conn()
        .execute_batch(
            "INSERT INTO books (id, title, isbn) VALUES (3, 'Ulysses', '3');
             INSERT INTO loans (id, book_id, member_id) VALUES (2, 3, 1);",
        )
        .unwrap();
    let (books, members, loans) = (db.rows("books"), db.rows("members"), db.rows("loans"));
    let backups = db.backups();

    let out = db.run(&["restore-table", "books", "--yes"]).expect(1);
    assert!(
        out.stderr
            .contains("1 foreign key violation(s): loans rowid 2 -> books"),
        "{out:#?}"
    );
    assert!(
        out.stderr.contains("rolled back and nothing was changed"),
        "{out:#?}"
    );
    assert_eq!(db.rows("books"), books);
    assert_eq!(db.rows("members"), members);
    assert_eq!(db.rows("loans"), loans);
    assert_eq!(
        db.backups(),
        backups,
        "the undo backup of a rolled-back restore is removed"
    );
    assert_eq!(
        db.int("SELECT count(*) FROM _migrate_history WHERE action = 'restore-table'"),
        0
    );
}

#[test]
fn a_table_missing_from_the_backup_is_named() {
    let db = lending_with_backup();
    let before = db.bytes();
    let out = db.run(&["restore-table", "shelves", "--yes"]).expect(3);
    assert!(
        out.stderr.contains("there is no table \"shelves\""),
        "{out:#?}"
    );
    assert_eq!(db.bytes(), before);
}

#[test]
fn triggers_do_not_fire_while_the_rows_are_put_back() {
    let db = lending_with_backup();
    // An app's audit trigger: deleting or inserting books writes to another table.
    db.conn()
        .execute_batch(
            "CREATE TABLE audit (what TEXT);
             CREATE TRIGGER books_deleted AFTER DELETE ON books
                 BEGIN INSERT INTO audit VALUES ('deleted ' || old.id); END;
             CREATE TRIGGER books_added AFTER INSERT ON books
                 BEGIN INSERT INTO audit VALUES ('added ' || new.id); END;
             UPDATE books SET title = 'x';",
        )
        .unwrap();
    db.run(&["restore-table", "books", "--yes"]).expect(0);
    assert_eq!(db.rows("audit"), Vec::<String>::new(), "no trigger fired");
    assert_eq!(db.int("SELECT count(*) FROM books WHERE title = 'x'"), 0);
    // The triggers are still there and work for the app afterwards.
    db.conn()
        .execute_batch("DELETE FROM loans; DELETE FROM books WHERE id = 2")
        .unwrap();
    assert_eq!(db.rows("audit"), ["Text(\"deleted 2\")"]);
}

#[test]
fn restore_table_json_names_the_backup_the_rows_and_the_undo_file() {
    let db = lending_with_backup();
    db.conn()
        .execute_batch("DELETE FROM loans; DELETE FROM books")
        .unwrap();
    let members = db.rows("members");
    let out = db
        .run(&["restore-table", "books", "--yes", "--json"])
        .expect(0);
    let doc = out.json();
    assert_eq!(doc["table"], "books");
    assert_eq!(
        (doc["rows_before"].as_u64(), doc["rows_after"].as_u64()),
        (Some(0), Some(2))
    );
    let undo = doc["undo_backup"]["path"].as_str().unwrap();
    assert!(std::path::Path::new(undo).is_file(), "{doc}");
    assert_eq!(db.int("SELECT count(*) FROM books"), 2);
    assert_eq!(db.rows("loans"), Vec::<String>::new());
    assert_eq!(db.rows("members"), members);
}
