//! The no-op start: one row of `_migrate_state` (the digest of the applied rows) compared with
//! the registry's digest decides "nothing to do". Any other change to `_migrate_applied` (a
//! hand edit, `resolve`, `down`, another set's run) clears or replaces it, so the next start
//! sees the change.

use crate::common::{count, db};
use migrate_core::protocol::Digest;
use migrate_postgres::testing::TestDatabase;
use migrate_postgres::{Checksum, Migration, Migrator, Resolution, RunReport, Step, TxMode};

/// A table (created if missing) and two rows, one per migration: running a migration again
/// shows in the row count.
fn migrations() -> Vec<Migration> {
    vec![
        Migration::new(
            1,
            "create_notes",
            Step::sql("CREATE TABLE IF NOT EXISTS notes (body text NOT NULL)"),
        )
        .with_down(Step::sql("DROP TABLE notes")),
        Migration::new(2, "first", Step::sql("INSERT INTO notes VALUES ('first')"))
            .with_down(Step::sql("DELETE FROM notes WHERE body = 'first'")),
        Migration::new(
            3,
            "second",
            Step::sql("INSERT INTO notes VALUES ('second')"),
        )
        .with_down(Step::sql("DELETE FROM notes WHERE body = 'second'")),
    ]
}

/// The digest the database holds when exactly `list` is applied in `set`.
fn digest_of(set: &str, list: Vec<Migration>) -> String {
    let registry =
        migrate_core::Registry::new(set, list, migrate_core::Validation::strict()).unwrap();
    Digest::of_registry(&registry)
}

/// The stored digest of `set`, if any.
fn stored(client: &mut postgres::Client, set: &str) -> Option<String> {
    client
        .query_opt(
            "SELECT digest FROM public._migrate_state WHERE set_name = $1",
            &[&set],
        )
        .unwrap()
        .map(|r| r.get(0))
}

fn up(db: &TestDatabase, list: Vec<Migration>) -> RunReport {
    Migrator::new()
        .with_migrations(list)
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap()
}

#[test]
fn a_run_stores_the_digest_of_what_it_applied_and_a_start_reads_only_that_row() {
    let Some(db) = db() else { return };
    up(&db, migrations());
    let mut client = db.client();
    assert_eq!(
        stored(&mut client, "default"),
        Some(digest_of("default", migrations()))
    );

    // The full path reads every column of the tracking rows; with one renamed it could not.
    // The start still answers "nothing to do": it read the state row alone.
    client
        .batch_execute("ALTER TABLE public._migrate_applied RENAME COLUMN applied_by TO by_whom")
        .unwrap();
    let report = up(&db, migrations());
    assert!(report.steps.is_empty());
    assert_eq!(report.after, Some(3));
    assert_eq!(count(&mut client, "notes"), 2);
}

#[test]
fn a_hand_deleted_tracking_row_clears_the_digest_and_the_next_start_applies_it_again() {
    let Some(db) = db() else { return };
    up(&db, migrations());
    let mut client = db.client();
    client
        .batch_execute("DELETE FROM public._migrate_applied WHERE seq = 3")
        .unwrap();
    assert_eq!(stored(&mut client, "default"), None);

    let report = up(&db, migrations());
    assert_eq!(report.steps.len(), 1);
    assert_eq!(report.steps[0].seq, 3);
    assert_eq!(count(&mut client, "notes"), 3, "migration 3 ran again");
    assert_eq!(count(&mut client, "public._migrate_applied"), 3);
    assert_eq!(
        stored(&mut client, "default"),
        Some(digest_of("default", migrations()))
    );
}

#[test]
fn a_hand_edited_or_truncated_tracking_table_clears_the_digest() {
    let Some(db) = db() else { return };
    up(&db, migrations());
    let mut client = db.client();
    client
        .batch_execute("UPDATE public._migrate_applied SET checksum = 'v1:0' WHERE seq = 2")
        .unwrap();
    assert_eq!(stored(&mut client, "default"), None);
    let err = Migrator::new()
        .with_migrations(migrations())
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
    assert_eq!(count(&mut client, "notes"), 2, "nothing ran");

    // The row put back as it was, and the digest with it: a digest is believed as stored
    // (the start reads that row alone).
    let checksum = migrations()[1].checksum.to_string();
    client
        .execute(
            "UPDATE public._migrate_applied SET checksum = $1 WHERE seq = 2",
            &[&checksum],
        )
        .unwrap();
    client
        .execute(
            "INSERT INTO public._migrate_state VALUES ('default', $1)",
            &[&digest_of("default", migrations())],
        )
        .unwrap();
    assert!(up(&db, migrations()).steps.is_empty());

    client
        .batch_execute("TRUNCATE public._migrate_applied")
        .unwrap();
    assert_eq!(count(&mut client, "public._migrate_state"), 0);
    let report = up(&db, migrations());
    assert_eq!(report.steps.len(), 3, "every migration ran again");
    assert_eq!(count(&mut client, "notes"), 4);
}

#[test]
fn a_changed_checksum_in_the_code_is_refused_not_skipped() {
    let Some(db) = db() else { return };
    up(&db, migrations());
    let other = "INSERT INTO notes VALUES ('other')";
    let mut changed = migrations();
    changed[2] =
        Migration::new(3, "second", Step::sql(other)).with_checksum(Checksum::of_text(other));
    let mut client = db.client();
    let before = stored(&mut client, "default");
    let err = Migrator::new()
        .with_migrations(changed)
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
    assert_eq!(count(&mut client, "notes"), 2, "nothing ran");
    assert_eq!(count(&mut client, "public._migrate_applied"), 3);
    assert_eq!(stored(&mut client, "default"), before, "nothing written");
}

#[test]
fn down_stores_the_digest_of_what_is_left_so_the_next_up_applies_again() {
    let Some(db) = db() else { return };
    let mut session = Migrator::new()
        .with_migrations(migrations())
        .on(db.connect())
        .unwrap();
    session.up().unwrap();
    session.down(1).unwrap();
    let mut client = db.client();
    assert_eq!(count(&mut client, "notes"), 1);
    assert_eq!(
        stored(&mut client, "default"),
        Some(digest_of("default", migrations()[..2].to_vec()))
    );
    let report = session.up().unwrap();
    assert_eq!(report.steps.len(), 1);
    assert_eq!(count(&mut client, "notes"), 2);
}

#[test]
fn resolve_changes_what_the_next_start_sees() {
    let Some(db) = db() else { return };
    let mut list = migrations();
    // Migration 3 outside a transaction, failing after its insert: left started.
    list[2] = Migration::new(
        3,
        "second",
        Step::sql("INSERT INTO notes VALUES ('second'); SELECT 1/0"),
    )
    .with_mode(TxMode::NonTransactional);
    let mut session = Migrator::new()
        .with_migrations(list)
        .on(db.connect())
        .unwrap();
    session.up().unwrap_err();
    let mut client = db.client();
    assert_eq!(
        stored(&mut client, "default"),
        None,
        "a started row: no digest"
    );

    session.resolve(3, Resolution::Applied).unwrap();
    assert_eq!(stored(&mut client, "default"), None);
    assert!(
        session.up().unwrap().steps.is_empty(),
        "resolved as applied"
    );
    assert_eq!(count(&mut client, "notes"), 2);

    // Back to started by hand, then resolved as not applied: the next start runs it again.
    client
        .batch_execute("UPDATE public._migrate_applied SET state = 'started' WHERE seq = 3")
        .unwrap();
    session.resolve(3, Resolution::NotApplied).unwrap();
    assert_eq!(count(&mut client, "public._migrate_applied"), 2);
    let report = up(&db, migrations());
    assert_eq!(report.steps.len(), 1);
    assert_eq!(count(&mut client, "notes"), 3);
    assert_eq!(
        stored(&mut client, "default"),
        Some(digest_of("default", migrations()))
    );
}

#[test]
fn each_set_has_its_own_digest() {
    let Some(db) = db() else { return };
    let run = |set: &str| {
        let create = Migration::new(
            1,
            "create",
            Step::sql(format!("CREATE TABLE {set}_t (id int)")),
        )
        .with_checksum(Checksum::of_text("same code"))
        .in_set(set);
        Migrator::new()
            .set(set)
            .with_migrations([create])
            .on(db.connect())
            .unwrap()
            .up()
            .unwrap()
    };
    assert_eq!(run("a").steps.len(), 1);
    // Same seq and checksum in another set: its own rows decide, not set a's digest.
    assert_eq!(run("b").steps.len(), 1);
    let mut client = db.client();
    let a = stored(&mut client, "a");
    assert!(a.is_some());
    assert_eq!(a, stored(&mut client, "b"), "same rows, same digest");
    assert!(run("a").steps.is_empty());
    client
        .batch_execute("DELETE FROM public._migrate_applied WHERE set_name = 'b'")
        .unwrap();
    assert_eq!(stored(&mut client, "b"), None);
    assert_eq!(stored(&mut client, "a"), a, "set a's digest stays");
    assert!(run("a").steps.is_empty());
}
