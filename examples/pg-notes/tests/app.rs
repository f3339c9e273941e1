//! The `pg-notes` program as a user runs it: a child process against the test harness's
//! throwaway cluster, twice (migrate, then a start with nothing to do), and its status.

mod common;

use common::{count, db, url};
use migrate_postgres::testing::TestDatabase;
use std::process::{Command, Output};

fn pg_notes(db: &TestDatabase, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pg-notes"))
        .args(args)
        .env("PG_NOTES_URL", url(db))
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Migrations in `state` in a status report (after its set and header lines).
fn states(report: &str, state: &str) -> usize {
    report
        .lines()
        .skip(2)
        .filter(|line| line.contains(&format!("  {state}  ")))
        .count()
}

#[test]
fn first_start_migrates_second_start_is_up_to_date_and_both_add_a_note() {
    let Some(db) = db() else { return };
    let first = pg_notes(&db, &[]);
    assert!(first.status.success(), "{first:?}");
    let out = stdout(&first);
    assert!(out.contains("applied 7 migrations"), "{out}");
    assert!(out.contains("added note 1"), "{out}");

    let second = pg_notes(&db, &[]);
    assert!(second.status.success(), "{second:?}");
    let out = stdout(&second);
    assert!(
        out.contains("set \"default\": up to date at seq 7"),
        "{out}"
    );
    assert!(out.contains("added note 2"), "{out}");
    assert!(out.contains("Inbox: 2 notes"), "{out}");

    let mut client = db.client();
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM public._migrate_applied"),
        7
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM note_tags JOIN tags ON tags.id = note_tags.tag_id
             WHERE tags.label = 'example'"
        ),
        2
    );

    let status = pg_notes(&db, &["migrate", "status"]);
    assert!(status.status.success(), "{status:?}");
    let out = stdout(&status);
    assert_eq!(states(&out, "applied"), 7, "{out}");
    assert!(out.contains("index_notes_by_date"), "{out}");
}

/// `status` is the shared command line's: it reports (exit 0) and changes nothing, pending
/// migrations included (`verify` is the check that fails on them, exit 3).
#[test]
fn status_of_an_unmigrated_database_lists_pending_and_changes_nothing() {
    let Some(db) = db() else { return };
    let mut client = db.client();
    let relations = "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = 'public'";
    let before = count(&mut client, relations);
    let status = pg_notes(&db, &["migrate", "status"]);
    assert_eq!(status.status.code(), Some(0), "{status:?}");
    let out = stdout(&status);
    assert_eq!(states(&out, "pending"), 7, "{out}");
    assert_eq!(count(&mut client, relations), before);
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'notes'"
        ),
        0
    );
}

#[test]
fn a_bad_command_is_a_usage_error_that_touches_nothing() {
    let Some(db) = db() else { return };
    let output = pg_notes(&db, &["migrate", "sideways"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unrecognized subcommand 'sideways'"),
        "{stderr}"
    );
    assert!(stderr.contains("Usage: migrate"), "{stderr}");
    let mut client = db.client();
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ),
        0
    );
}

#[test]
fn notes_list_pinned_first_then_newest_first() {
    let Some(db) = db() else { return };
    pg_notes::migrate(&db.config()).unwrap();
    let mut client = db.client();
    let older = pg_notes::add_note(&mut client, "Work", "older", "a", &["x", "y"]).unwrap();
    pg_notes::add_note(&mut client, "Work", "newer", "b", &["x"]).unwrap();
    pg_notes::add_note(&mut client, "Home", "elsewhere", "c", &[]).unwrap();
    client
        .execute("UPDATE notes SET pinned = true WHERE id = $1", &[&older])
        .unwrap();
    assert_eq!(
        pg_notes::list(&mut client, "Work").unwrap(),
        ["older", "newer"]
    );
    assert_eq!(
        pg_notes::notebooks(&mut client).unwrap(),
        [
            ("Home".to_owned(), 1),
            ("Inbox".to_owned(), 0),
            ("Work".to_owned(), 2)
        ]
    );
    assert_eq!(count(&mut client, "SELECT count(*) FROM tags"), 2);
    assert_eq!(count(&mut client, "SELECT count(*) FROM note_tags"), 3);
}
