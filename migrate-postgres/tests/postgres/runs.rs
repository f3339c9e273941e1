//! `up`, `up_to`, `down`, `down_to`, `redo`, `status`, `history` and hooks through the shared
//! protocol on a real server: the same reports as the SQLite backend, read back from the
//! database.

use crate::common::{count, db, exists};
use migrate_postgres::{Direction, Event, Migration, Migrator, Status, Step};
use std::sync::{Arc, Mutex};

/// Three reversible migrations: a table, a column, a row.
pub fn notes() -> Vec<Migration> {
    vec![
        Migration::new(
            1,
            "create_notes",
            Step::sql("CREATE TABLE notes (id bigint PRIMARY KEY, body text NOT NULL)"),
        )
        .with_down(Step::sql("DROP TABLE notes")),
        Migration::new(
            2,
            "add_title",
            Step::sql("ALTER TABLE notes ADD COLUMN title text"),
        )
        .with_down(Step::sql("ALTER TABLE notes DROP COLUMN title")),
        Migration::new(
            3,
            "seed",
            Step::sql("INSERT INTO notes (id, body, title) VALUES (1, 'hello', 'first')"),
        )
        .with_down(Step::sql("DELETE FROM notes WHERE id = 1")),
    ]
}

#[test]
fn up_applies_everything_once_and_status_reads_it_back() {
    let Some(db) = db() else { return };
    let mut session = Migrator::new()
        .with_migrations(notes())
        .on(db.connect())
        .unwrap();
    let report = session.up().unwrap();
    assert_eq!((report.before, report.after), (None, Some(3)));
    assert_eq!(report.steps.len(), 3);
    assert!(
        report.to_string().contains("applied 3 migrations"),
        "{report}"
    );
    let mut client = db.client();
    assert_eq!(count(&mut client, "notes"), 1);
    assert_eq!(count(&mut client, "public._migrate_applied"), 3);

    let status = session.status().unwrap();
    assert!(status.is_clean(), "{status}");
    assert_eq!(status.current, Some(3));
    assert!(status.lines.iter().all(|l| l.applied_at.is_some()));

    // A second start changes nothing.
    let again = session.up().unwrap();
    assert!(again.steps.is_empty());
    assert_eq!(again.after, Some(3));
    assert_eq!(count(&mut client, "public._migrate_applied"), 3);
    let ups = session
        .history()
        .unwrap()
        .iter()
        .filter(|r| r.event.action == "up" && r.event.outcome == "ok")
        .count();
    assert_eq!(ups, 3);
}

#[test]
fn up_to_down_down_to_and_redo_move_the_database_as_asked() {
    let Some(db) = db() else { return };
    let mut session = Migrator::new()
        .with_migrations(notes())
        .on(db.connect())
        .unwrap();
    assert_eq!(session.up_to(2).unwrap().after, Some(2));
    let mut client = db.client();
    assert_eq!(count(&mut client, "notes"), 0);
    assert_eq!(session.up().unwrap().after, Some(3));

    let down = session.down(1).unwrap();
    assert_eq!(down.after, Some(2));
    assert_eq!(down.steps[0].direction, Direction::Down);
    assert_eq!(count(&mut client, "notes"), 0);

    let redo = session.redo().unwrap();
    assert_eq!(redo.steps.len(), 2);
    assert_eq!(redo.after, Some(2));

    assert_eq!(session.down_to(0).unwrap().after, None);
    assert!(!exists(&mut client, "public.notes"));
    assert_eq!(count(&mut client, "public._migrate_applied"), 0);
    let status = session.status().unwrap();
    assert!(status.lines.iter().all(|l| l.status == Status::Pending));
}

#[test]
fn hooks_see_the_batch_and_each_migration() {
    let Some(db) = db() else { return };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let mut session = Migrator::new()
        .with_migrations(notes())
        .on_event(move |e| sink.lock().unwrap().push(e.clone()))
        .on(db.connect())
        .unwrap();
    session.up().unwrap();
    let seen = seen.lock().unwrap();
    assert!(matches!(seen[0], Event::BatchStarting { steps: 3, .. }));
    assert!(matches!(
        seen.last(),
        Some(Event::BatchFinished { steps: 3, .. })
    ));
    let finished = seen
        .iter()
        .filter(|e| matches!(e, Event::MigrationFinished { .. }))
        .count();
    assert_eq!(finished, 3);
}

#[test]
fn status_names_an_object_changed_by_hand() {
    let Some(db) = db() else { return };
    let mut session = Migrator::new()
        .with_migrations(notes())
        .on(db.connect())
        .unwrap();
    session.up().unwrap();
    db.client()
        .batch_execute("CREATE INDEX notes_by_hand ON notes (body)")
        .unwrap();
    let status = session.status().unwrap();
    let drift = status.drift.clone().expect("drift found");
    assert!(
        drift.added.iter().any(|o| o.contains("notes_by_hand")),
        "{drift}"
    );
    assert!(!status.is_clean());
    assert!(status.to_string().contains("schema drift"), "{status}");
}

#[test]
fn session_settings_a_migration_changed_are_put_back_after_the_run() {
    let Some(db) = db() else { return };
    let leaky = Migration::new(
        1,
        "leaky",
        Step::sql("CREATE SCHEMA evil; SET search_path = evil, public; SET work_mem = '7MB'"),
    );
    let mut session = Migrator::new()
        .with_migrations([leaky])
        .on(db.connect())
        .unwrap();
    session.up().unwrap();
    let client = session.connection().client();
    let path: String = client.query_one("SHOW search_path", &[]).unwrap().get(0);
    assert_eq!(path, "\"$user\", public");
    let ro: String = client
        .query_one("SHOW default_transaction_read_only", &[])
        .unwrap()
        .get(0);
    assert_eq!(ro, "off");
}
