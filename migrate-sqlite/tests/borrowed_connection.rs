//! What `Migrator::on(&mut conn)` does to the application's own connection: the settings it
//! changes for a run come back (busy timeout), and the one it cannot put back (an authorizer
//! the app had installed: rusqlite cannot read the current one) is replaced, as documented on
//! `on` and in the README.

mod common;
use common::*;
use migrate_sqlite::rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::Connection;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The documented behaviour: after a run the app's authorizer is gone (it is not called for
/// the app's next statement), so the app must install it again; once it does, it works.
#[test]
fn an_authorizer_the_app_installed_is_replaced_and_must_be_installed_again() {
    let db = temp_db();
    let mut conn = Connection::open(&db.path).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let install = |conn: &mut Connection| {
        let calls = calls.clone();
        let _ = conn.authorizer(Some(move |ctx: AuthContext<'_>| {
            if matches!(ctx.action, AuthAction::Insert { .. }) {
                calls.fetch_add(1, Ordering::SeqCst);
            }
            Authorization::Allow
        }));
    };
    install(&mut conn);
    conn.execute_batch("CREATE TABLE app (x); INSERT INTO app VALUES (1);")
        .unwrap();
    assert!(
        calls.load(Ordering::SeqCst) > 0,
        "the app's authorizer runs"
    );

    migrator(tables(1)).on(&mut conn).unwrap().up().unwrap();
    let after_run = calls.load(Ordering::SeqCst);
    conn.execute("INSERT INTO app VALUES (2)", []).unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        after_run,
        "the app's authorizer was not replaced: update the documentation of `on`"
    );

    install(&mut conn);
    conn.execute("INSERT INTO app VALUES (3)", []).unwrap();
    assert!(
        calls.load(Ordering::SeqCst) > after_run,
        "installed again, it runs"
    );
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM app", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 3);
    assert_eq!(applied_seqs(&conn), [1]);
}

/// The migrator's busy timeout applies during its operations; the app's own comes back after
/// each of them (run, status, history, plan), success or refusal.
#[test]
fn the_apps_busy_timeout_comes_back_after_every_operation() {
    let db = temp_db();
    let mut conn = Connection::open(&db.path).unwrap();
    conn.busy_timeout(Duration::from_millis(1234)).unwrap();
    let timeout = |conn: &Connection| -> i64 {
        conn.query_row("PRAGMA busy_timeout", [], |r| r.get(0))
            .unwrap()
    };
    {
        let mut session = migrator(tables(2))
            .busy_timeout(Duration::from_secs(9))
            .on(&mut conn)
            .unwrap();
        session.up().unwrap();
        session.status().unwrap();
        session.history().unwrap();
        session.plan().unwrap();
        session.down(5).unwrap_err();
        assert_eq!(timeout(session.connection()), 1234);
    }
    assert_eq!(timeout(&conn), 1234);
    assert_eq!(applied_seqs(&conn), [1, 2]);
}
