//! The tracking tables: schema-qualified, never resolved through `search_path`, with the SQLite
//! backend's columns and semantics.

use crate::common::{count, db, exists};
use migrate_postgres::{HistoryEvent, RowCount, RowState, RowValues, Step};

fn values(seq: u64, checksum: &str) -> RowValues<'static> {
    RowValues {
        set: "default",
        seq,
        name: "create_users",
        checksum: checksum.to_owned(),
        duration_ms: 12,
        applied_by: "migrate-postgres 0.1.0 / tests",
    }
}

#[test]
fn the_tables_live_in_the_tracking_schema_whatever_the_search_path() {
    let Some(db) = db() else { return };
    // A decoy with the same name, first on the search path.
    db.client()
        .batch_execute("CREATE TABLE public._migrate_applied (decoy int)")
        .unwrap();
    let mut conn = db.connect().with_schema("Migrations").unwrap();
    let mut lock = conn.lock().unwrap();
    lock.client()
        .batch_execute("SET search_path = public")
        .unwrap();
    let mut batch = lock.begin().unwrap();
    batch
        .run_step(1, "t", &Step::sql("SET search_path = public"))
        .unwrap();
    batch.tracking().insert_applied(&values(1, "a")).unwrap();
    batch.commit().unwrap();

    let mut other = db.client();
    assert_eq!(count(&mut other, "\"Migrations\"._migrate_applied"), 1);
    assert_eq!(count(&mut other, "public._migrate_applied"), 0);
    assert!(exists(&mut other, "\"Migrations\"._migrate_commit_guard"));
    let rows = lock.tracking().read_rows("default").unwrap();
    assert_eq!(rows.len(), 1);
}

#[test]
fn rows_go_through_started_applied_reverting_and_away() {
    let Some(db) = db() else { return };
    let mut conn = db.connect();
    let mut lock = conn.lock().unwrap();
    assert!(lock.tracking().read_rows("default").unwrap().is_empty());
    let mut batch = lock.begin().unwrap();
    let mut t = batch.tracking();
    t.insert_started(&values(1, "one")).unwrap();
    assert_eq!(
        t.read_plan_rows("default").unwrap()[0].state,
        RowState::Started
    );
    t.insert_applied(&values(1, "one")).unwrap();
    t.insert_applied(&values(2, "two")).unwrap();
    t.set_fingerprint("default", "fp-2").unwrap();
    assert_eq!(
        t.last_fingerprint("default").unwrap().as_deref(),
        Some("fp-2")
    );
    t.update_checksum("default", 1, "one-rehashed").unwrap();
    t.mark_reverting("default", 2).unwrap();
    assert_eq!(t.highest_seq("default").unwrap(), Some(2));
    assert_eq!(t.highest_seq("other-set").unwrap(), None);
    batch.commit().unwrap();

    let rows = lock.tracking().read_rows("default").unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].row.checksum, "one-rehashed");
    assert_eq!(rows[0].row.state, RowState::Applied);
    // 'reverting' reads as started, as on SQLite.
    assert_eq!(rows[1].row.state, RowState::Started);
    assert_eq!(rows[0].duration_ms, 12);
    assert_eq!(rows[0].applied_by, "migrate-postgres 0.1.0 / tests");
    // UTC text with milliseconds, as SQLite writes it: 2026-11-22 10:49:14.123
    let at = &rows[0].applied_at;
    assert_eq!(at.len(), 23, "{at}");
    assert_eq!(
        (&at[4..5], &at[10..11], &at[19..20]),
        ("-", " ", "."),
        "{at}"
    );

    let mut batch = lock.begin().unwrap();
    batch.tracking().delete_row("default", 2).unwrap();
    batch.commit().unwrap();
    let left: Vec<u64> = lock
        .tracking()
        .read_plan_rows("default")
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(left, [1]);
}

#[test]
fn history_is_appended_with_its_row_counts() {
    let Some(db) = db() else { return };
    let mut conn = db.connect();
    let mut lock = conn.lock().unwrap();
    let mut batch = lock.begin().unwrap();
    let event = HistoryEvent {
        set: "default".into(),
        seq: Some(1),
        name: Some("create_users".into()),
        action: "up".into(),
        outcome: "ok".into(),
        detail: None,
        duration_ms: Some(5),
        backup_path: Some("/backups/app-20261201T150000Z.dump".into()),
        row_counts: vec![
            RowCount {
                table: "public.users".into(),
                before: None,
                after: Some(3),
            },
            RowCount {
                table: "public.audit".into(),
                before: Some(10),
                after: Some(10),
            },
        ],
    };
    let first = batch.tracking().append_history(&event, "tests").unwrap();
    let failed = HistoryEvent {
        seq: Some(2),
        outcome: "failed".into(),
        detail: Some("boom".into()),
        row_counts: Vec::new(),
        ..event.clone()
    };
    let second = batch.tracking().append_history(&failed, "tests").unwrap();
    assert!(second > first);
    batch.commit().unwrap();

    let history = lock.tracking().read_history("default").unwrap();
    assert_eq!(history.len(), 2);
    let mut expected_counts = event.row_counts.clone();
    expected_counts.sort_by(|a, b| a.table.cmp(&b.table));
    assert_eq!(history[0].event.row_counts, expected_counts);
    assert_eq!(history[0].event.backup_path, event.backup_path);
    assert_eq!(history[1].event.detail.as_deref(), Some("boom"));
    assert!(history[1].event.row_counts.is_empty());
    assert_eq!(history[1].applied_by, "tests");
    assert!(lock.tracking().read_history("other").unwrap().is_empty());
}

#[test]
fn any_change_of_the_applied_rows_clears_the_no_op_digest() {
    let Some(db) = db() else { return };
    let mut conn = db.connect();
    let mut lock = conn.lock().unwrap();
    lock.begin().unwrap().commit().unwrap();
    let mut other = db.client();
    let digest = "INSERT INTO public._migrate_state VALUES ('default', 'd'), ('other', 'o')";
    other.batch_execute(digest).unwrap();
    let mut batch = lock.begin().unwrap();
    batch.tracking().insert_applied(&values(1, "a")).unwrap();
    batch.commit().unwrap();
    let left: Vec<String> = other
        .query("SELECT set_name FROM public._migrate_state", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, ["other"]);
}
