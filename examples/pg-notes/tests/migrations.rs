//! The app's migrations on a real server (the test harness's throwaway cluster, a fresh
//! database per test): the whole sequence up, down and up again with the schema compared at
//! every seq, the data migrations on data written by the first schema, and the concurrent index.

mod common;

use common::{count, db};
use migrate_postgres::testing::{Harness, assert_schema_snapshot};
use migrate_postgres::{Session, Status, schema_dump};

/// The user's schema (tracking tables left out), as text.
fn schema(session: &mut Session) -> String {
    schema_dump(&session.connection().schema_objects().unwrap())
}

/// Migrations in the binary's registry: seven, in order.
const LAST: u64 = 7;

#[test]
fn every_migration_goes_up_down_and_up_again_to_the_same_schema() {
    let Some(db) = db() else { return };
    let mut session = pg_notes::open(&db.config()).unwrap();
    assert_eq!(session.status().unwrap().lines.len(), LAST as usize);

    // Up one at a time, keeping the schema at every seq (index 0: the empty database).
    let mut up = vec![schema(&mut session)];
    for seq in 1..=LAST {
        let report = session.up_to(seq).unwrap();
        assert_eq!(report.after, Some(seq), "{report}");
        up.push(schema(&mut session));
    }
    assert!(
        up[0].is_empty(),
        "a fresh database has no objects: {}",
        up[0]
    );
    assert!(up[LAST as usize].contains("notes_by_date"));

    // Down one at a time: each revert restores the schema of the seq below.
    for seq in (1..=LAST).rev() {
        let report = session.down(1).unwrap();
        assert_eq!(report.after, seq.checked_sub(1).filter(|s| *s > 0));
        assert_eq!(
            schema(&mut session),
            up[seq as usize - 1],
            "reverting {seq} did not restore the schema of seq {}",
            seq - 1
        );
    }
    let mut client = db.client();
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM public._migrate_applied"),
        0
    );

    // And up again, all at once, to the same schema; every migration applied.
    let report = session.up().unwrap();
    assert_eq!(report.steps.len(), LAST as usize);
    assert_eq!(schema(&mut session), up[LAST as usize]);
    let status = session.status().unwrap();
    assert!(status.is_clean(), "{status}");
    assert!(status.lines.iter().all(|l| l.reversible));
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM public._migrate_applied"),
        7
    );
}

#[test]
fn data_migrations_move_notes_to_the_inbox_and_title_them() {
    let Some(db) = db() else { return };
    let mut session = pg_notes::open(&db.config()).unwrap();
    session.up_to(3).unwrap();
    // Notes as the first version of the app wrote them: no notebook, no title.
    let mut client = db.client();
    client
        .batch_execute(
            "INSERT INTO notebooks (name) VALUES ('Work');
             INSERT INTO notes (notebook_id, title, body) VALUES
               (NULL, NULL, E'Groceries\nmilk, eggs'),
               (NULL, NULL, E'   \nsecond line only'),
               ((SELECT id FROM notebooks WHERE name = 'Work'), 'Standup', 'notes');",
        )
        .unwrap();

    let report = session.up().unwrap();
    assert_eq!(report.after, Some(LAST), "{report}");

    let rows = client
        .query(
            "SELECT b.name, n.title, n.pinned FROM notes n JOIN notebooks b ON b.id = n.notebook_id
             ORDER BY n.id",
            &[],
        )
        .unwrap();
    let rows: Vec<(String, String, bool)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        rows,
        [
            ("Inbox".to_owned(), "Groceries".to_owned(), false),
            ("Inbox".to_owned(), "Untitled".to_owned(), false),
            ("Work".to_owned(), "Standup".to_owned(), false),
        ]
    );
    // Both columns are now required: the server refuses a note without them.
    let nulls = client
        .query_one(
            "SELECT count(*) FROM information_schema.columns
             WHERE table_name = 'notes' AND column_name IN ('notebook_id', 'title')
               AND is_nullable = 'NO'",
            &[],
        )
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(nulls, 2);
    assert!(
        client
            .execute("INSERT INTO notes (body) VALUES ('no notebook')", &[])
            .is_err()
    );
    assert_eq!(count(&mut client, "SELECT count(*) FROM notes"), 3);

    // Reverting the data migrations keeps the data: the notes stay in the Inbox, titled.
    session.down_to(3).unwrap();
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM notes WHERE title IS NOT NULL"
        ),
        3
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM notebooks WHERE name = 'Inbox'"
        ),
        1
    );
    assert!(
        client
            .execute("INSERT INTO notes (body) VALUES ('no notebook again')", &[])
            .is_ok()
    );
}

#[test]
fn the_concurrent_index_is_built_outside_the_transaction_and_valid() {
    let Some(db) = db() else { return };
    let mut session = pg_notes::open(&db.config()).unwrap();
    session.up_to(5).unwrap();
    let mut client = db.client();
    client
        .batch_execute(
            "INSERT INTO notes (notebook_id, title, body)
             SELECT (SELECT id FROM notebooks WHERE name = 'Inbox'), 'n' || i, 'body'
             FROM generate_series(1, 1000) i",
        )
        .unwrap();
    session.up_to(6).unwrap();

    let (valid, definition): (bool, String) = {
        let row = client
            .query_one(
                "SELECT i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index i
                 WHERE i.indexrelid = 'public.notes_by_date'::regclass",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert!(valid, "{definition}");
    assert!(
        definition.contains("(notebook_id, created_at DESC)"),
        "{definition}"
    );
    let status = session.status().unwrap();
    let line = status.lines.iter().find(|l| l.seq == 6).unwrap();
    assert_eq!(line.status, Status::Applied);
    assert_eq!(count(&mut client, "SELECT count(*) FROM notes"), 1000);

    // Its revert drops it concurrently too, and nothing else.
    session.down(1).unwrap();
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM pg_class WHERE relname = 'notes_by_date'"
        ),
        0
    );
    assert_eq!(count(&mut client, "SELECT count(*) FROM notes"), 1000);
}

/// What a user of `migrate_postgres::testing` writes: the whole sequence checked in one call
/// (each migration up, down to the same schema, up again; no rows lost), on notes seeded by
/// the first schema, so the data migrations run on data.
#[test]
fn the_harness_passes_every_migration_on_seeded_notes() {
    if migrate_postgres::testing::server().is_none() {
        return;
    }
    let checked = Harness::new(pg_notes::migrator())
        .seed_at(
            2,
            "INSERT INTO notes (body) VALUES (E'Groceries\\nmilk'), (E'  \\nno first line')",
        )
        .assert_ok();

    assert_eq!(checked.report.applied, (1..=LAST).collect::<Vec<_>>());
    assert_eq!(checked.report.round_trips, checked.report.applied);
    assert!(checked.report.irreversible.is_empty());
    let mut client = checked.db.client();
    let notes: Vec<(String, String)> = client
        .query(
            "SELECT n.title, b.name FROM notes n JOIN notebooks b ON b.id = n.notebook_id
             ORDER BY n.id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        notes,
        [
            ("Groceries".to_owned(), "Inbox".to_owned()),
            ("Untitled".to_owned(), "Inbox".to_owned())
        ]
    );
}

/// The migrated schema, kept in `schema.pg.sql` beside Cargo.toml: a schema change shows up in
/// review. `MIGRATE_UPDATE_SCHEMA=1 cargo test -p pg-notes` rewrites it.
#[test]
fn the_schema_is_as_committed() {
    if migrate_postgres::testing::server().is_none() {
        return;
    }
    assert_schema_snapshot(
        pg_notes::migrator(),
        concat!(env!("CARGO_MANIFEST_DIR"), "/schema.pg.sql"),
    );
}
