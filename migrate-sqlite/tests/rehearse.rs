//! `Migrator::rehearse` on real files: the operation runs on a copy, the live file is untouched,
//! and nothing the application hooked to real runs hears of the rehearsal. (The CLI flows:
//! `tests/tests/cli_rehearse.rs`.)

mod common;
use common::*;
use migrate_sqlite::Rehearsal;
use std::sync::{Arc, Mutex};

#[test]
fn a_rehearsal_calls_none_of_the_application_s_event_hooks() {
    // Events carry no database path: a hook counting or announcing applied migrations could
    // not tell the copy from the real database.
    let db = temp_db();
    migrator(tables(1)).open(&db.path).unwrap().up().unwrap();
    let before = bytes(&db.path);
    let heard = Arc::new(Mutex::new(Vec::new()));
    let log = heard.clone();
    let migrator =
        migrator(tables(2)).on_event(move |e| log.lock().unwrap().push(format!("{e:?}")));

    let report = migrator.rehearse(&db.path, Rehearsal::Up(None)).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.outcome.as_ref().unwrap().steps.len(), 1);
    assert!(
        heard.lock().unwrap().is_empty(),
        "{:?}",
        heard.lock().unwrap()
    );
    assert!(bytes(&db.path) == before, "the live file is untouched");
    // The real run does call the hooks.
    migrator.open(&db.path).unwrap().up().unwrap();
    assert!(!heard.lock().unwrap().is_empty());
    assert_eq!(
        applied_seqs(&rusqlite::Connection::open(&db.path).unwrap()),
        [1, 2]
    );
}
