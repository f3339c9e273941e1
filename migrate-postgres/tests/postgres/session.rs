//! Session state is put back after a run (`RESET ROLE`, `RESET ALL`), without losing the
//! migration lock (never `DISCARD ALL`).

use crate::common::{db, lock_holders};
use migrate_postgres::{APPLICATION_NAME, Step};

fn show(client: &mut postgres::Client, setting: &str) -> String {
    client
        .query_one(&format!("SHOW {setting}"), &[])
        .unwrap()
        .get(0)
}

#[test]
fn settings_a_migration_changed_survive_commit_and_reset_puts_them_back() {
    let Some(db) = db() else { return };
    let mut conn = db.connect();
    let mut lock = conn.lock().unwrap();
    let pid: i32 = lock
        .client()
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let default_path = show(lock.client(), "search_path");
    let mut batch = lock.begin().unwrap();
    let leaky = Step::sql(
        "CREATE SCHEMA evil; SET search_path = evil, public; SET work_mem = '7MB';
         SET application_name = 'hijacked'",
    );
    batch.run_step(1, "leaky", &leaky).unwrap();
    batch.commit().unwrap();
    // The leak is real: plain SET survives the commit.
    assert_eq!(show(lock.client(), "search_path"), "evil, public");

    lock.reset_session().unwrap();
    assert_eq!(show(lock.client(), "search_path"), default_path);
    assert_eq!(show(lock.client(), "work_mem"), "4MB");
    assert_eq!(show(lock.client(), "application_name"), APPLICATION_NAME);
    // The lock and its token are intact.
    lock.check_held().unwrap();
    assert_eq!(lock_holders(&mut db.client(), lock.key()), [pid]);
}

#[test]
fn reset_puts_the_role_back() {
    let Some(db) = db() else { return };
    db.client()
        .batch_execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app_reader')
             THEN CREATE ROLE app_reader; END IF; END $$",
        )
        .unwrap();
    let mut conn = db.connect();
    let mut lock = conn.lock().unwrap();
    lock.client().batch_execute("SET ROLE app_reader").unwrap();
    assert_eq!(show(lock.client(), "role"), "app_reader");
    lock.reset_session().unwrap();
    let user: String = lock
        .client()
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(user, "postgres");
    lock.check_held().unwrap();
}
