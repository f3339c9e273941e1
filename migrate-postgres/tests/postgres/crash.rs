//! A migrator killed with SIGKILL in the middle of a batch leaves nothing half-done: the server
//! rolls its transaction back when the connection goes, the advisory lock goes with it, and the
//! next run applies every migration exactly once.

use crate::common::{count, db, lock_holders};
use migrate_postgres::{Connection, Event, Migration, Migrator, Step, lock_key, testing};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Set in the child process: `<socket dir>|<database>`.
const CHILD: &str = "MIGRATE_PG_CRASH_CHILD";

/// Three migrations, a table and a row each; the third sleeps first, so the child is killed
/// while it runs (or just before), with the first two done but not committed.
fn batch() -> Vec<Migration> {
    (1..=3)
        .map(|seq| {
            let sleep = if seq == 3 { "SELECT pg_sleep(2);" } else { "" };
            Migration::new(
                seq,
                format!("t{seq}"),
                Step::sql(format!(
                    "{sleep} CREATE TABLE t{seq} (x int); INSERT INTO t{seq} VALUES ({seq})"
                )),
            )
        })
        .collect()
}

/// The child: migrates the parent's database and says when the third migration starts.
fn child(target: &str) {
    let (socket, dbname) = target.split_once('|').expect("socket|dbname");
    let mut config = postgres::Config::new();
    config
        .host_path(socket)
        .port(5432)
        .user("postgres")
        .dbname(dbname);
    let conn = Connection::from_config(&config).unwrap();
    let result = Migrator::new()
        .with_migrations(batch())
        .on_event(|e| {
            if let Event::MigrationStarting { seq: 3, .. } = e {
                println!("running 3");
            }
        })
        .on(conn)
        .unwrap()
        .up();
    // Only reached when the parent did not kill this process in time.
    eprintln!("the child finished: {result:?}");
}

#[test]
fn a_migrator_killed_mid_batch_leaves_nothing_and_a_rerun_applies_everything_once() {
    if let Ok(target) = std::env::var(CHILD) {
        return child(&target);
    }
    let Some(db) = db() else { return };
    let socket = testing::server()
        .unwrap()
        .socket_dir()
        .display()
        .to_string();
    let mut killed = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash::a_migrator_killed_mid_batch_leaves_nothing_and_a_rerun_applies_everything_once",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, format!("{socket}|{}", db.name))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = killed.stdout.take().unwrap();
    let announced = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        // The harness prints `test <name> ... ` before the test's own output, on the same line.
        .any(|line| line.ends_with("running 3"));
    assert!(announced, "the child never reached migration 3");
    // Mid-batch: the child holds the migration lock, and nothing is committed yet.
    let mut client = db.client();
    assert!(!lock_holders(&mut client, lock_key("public")).is_empty());
    killed.kill().unwrap(); // SIGKILL
    killed.wait().unwrap();

    // The rerun waits for the dead session's lock to go, then applies all three, once.
    let report = Migrator::new()
        .with_migrations(batch())
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    assert_eq!(report.before, None, "the killed run committed something");
    assert_eq!(report.steps.len(), 3);
    for seq in 1..=3 {
        assert_eq!(count(&mut client, &format!("t{seq}")), 1);
    }
    assert_eq!(count(&mut client, "public._migrate_applied"), 3);
    let ups: i64 = client
        .query_one(
            "SELECT count(*) FROM public._migrate_history WHERE action = 'up'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(ups, 3);
}
