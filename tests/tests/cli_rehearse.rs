//! `migrate rehearse up|down|redo` through the real binary: the operation runs on a copy made
//! with the backup API, the report says what happened (steps, time, rows, integrity, foreign
//! keys), and the live database file stays byte for byte the same, also when the rehearsal
//! fails; no backup or copy is left anywhere near it.

#[path = "common/runbook.rs"]
mod runbook;

use runbook::Db;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn files_beside(db: &Db) -> BTreeSet<PathBuf> {
    std::fs::read_dir(db.dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[test]
fn rehearsing_up_reports_the_run_and_leaves_the_file_untouched() {
    let db = Db::lending();
    db.run(&["up", "--to", "2"]).expect(0);
    db.conn()
        .execute_batch("INSERT INTO books (title) VALUES ('Dune'), ('Emma')")
        .unwrap();
    let before = db.bytes();
    let files = files_beside(&db);
    let backups = db.backups();

    let out = db.run(&["rehearse", "up"]).expect(0);
    assert!(
        out.stdout
            .contains("rehearsal of `migrate up` on a copy of"),
        "{out:#?}"
    );
    assert!(out.stdout.contains("applied 2 migrations"), "{out:#?}");
    assert!(out.stdout.contains("took "), "{out:#?}");
    assert!(out.stdout.contains("up 4 \"create_loans\""), "{out:#?}");
    assert!(
        out.stdout.contains("rows: loans - -> 0, members - -> 0"),
        "{out:#?}"
    );
    assert!(out.stdout.contains("integrity_check after: ok"), "{out:#?}");
    assert!(out.stdout.contains("foreign keys after: ok"), "{out:#?}");
    assert!(
        out.stdout.contains("to do it for real: migrate up"),
        "{out:#?}"
    );

    assert_eq!(db.bytes(), before, "the live file must be byte-identical");
    assert_eq!(
        files_beside(&db),
        files,
        "no file appears beside the database"
    );
    assert_eq!(db.backups(), backups, "no backup of the live database");
    assert_eq!(db.int("SELECT max(seq) FROM _migrate_applied"), 2);
}

#[test]
fn rehearsing_down_steps_2_reports_the_reverted_migrations() {
    let db = Db::lending();
    db.up();
    let before = db.bytes();
    let out = db.run(&["rehearse", "down", "--steps", "2"]).expect(0);
    assert!(out.stdout.contains("reverted 2 migrations"), "{out:#?}");
    assert!(out.stdout.contains("now at seq 2"), "{out:#?}");
    assert_eq!(db.bytes(), before);
    assert_eq!(db.int("SELECT max(seq) FROM _migrate_applied"), 4);
}

#[test]
fn a_failing_rehearsal_exits_1_and_leaves_the_file_untouched() {
    let mut db = Db::new();
    db.up();
    db.conn()
        .execute_batch("INSERT INTO books (title, isbn) VALUES ('Dune', '1')")
        .unwrap();
    db.env.push(("MIGRATE_CLI_BROKEN".into(), "1".into()));
    let before = db.bytes();
    let backups = db.backups();

    let out = db.run(&["rehearse", "up"]).expect(1);
    assert!(out.stdout.contains("FAILED on the copy"), "{out:#?}");
    assert!(out.stdout.contains("fails on purpose"), "{out:#?}");
    assert!(!out.stdout.contains("to do it for real"), "{out:#?}");
    assert!(
        out.stdout.contains("rehearse again: `migrate rehearse up`"),
        "{out:#?}"
    );
    runbook::assert_runs_as_printed("migrate rehearse up");
    assert_eq!(db.bytes(), before);
    assert_eq!(db.backups(), backups);
    assert_eq!(
        db.int("SELECT count(*) FROM sqlite_schema WHERE name = 'half_done'"),
        0
    );
}

#[test]
fn rehearse_json_is_one_document_with_the_run_and_the_checks() {
    let db = Db::lending();
    db.run(&["up", "--to", "2"]).expect(0);
    let before = db.bytes();
    let out = db.run(&["rehearse", "up", "--json"]).expect(0);
    let doc = out.json();
    assert_eq!(doc["operation"], "up");
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["run"]["steps"].as_array().unwrap().len(), 2, "{doc}");
    assert_eq!(doc["integrity"], "ok");
    assert_eq!(doc["foreign_key_violations"].as_array().unwrap().len(), 0);
    assert!(
        doc["row_counts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["table"] == "loans"),
        "{doc}"
    );
    assert_eq!(db.bytes(), before);
}
