//! The migration lock: polled, bounded by the busy timeout, naming its holder, released on
//! every path, and refusing a connection that no longer holds it (what a transaction pooler
//! does).

use crate::common::{db, lock_holders};
use migrate_postgres::{Connection, Error, Settings, lock_key};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

fn with_busy_timeout(conn: Connection, busy: Duration) -> Connection {
    conn.with_settings(Settings {
        busy_timeout: busy,
        ..Settings::default()
    })
}

#[test]
fn a_second_session_times_out_and_the_error_names_the_holder() {
    let Some(db) = db() else { return };
    let mut holder_config = db.config();
    holder_config.application_name("replica-a");
    let mut holder = Connection::from_config(&holder_config).unwrap();
    let holder_pid: i32 = holder
        .client()
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let _held = holder.lock().unwrap();

    let mut waiter = with_busy_timeout(db.connect(), Duration::from_millis(300));
    let err = waiter.lock().err().expect("the lock is held");
    let Error::Locked {
        holders, schema, ..
    } = &err
    else {
        panic!("expected Locked, got {err}")
    };
    assert_eq!(schema, "public");
    assert_eq!(holders.len(), 1);
    assert_eq!(holders[0].pid, holder_pid);
    assert_eq!(holders[0].application_name, "replica-a");
    assert_eq!(holders[0].state, "idle");
    let text = err.to_string();
    assert!(text.contains(&format!("pid {holder_pid}")), "{text}");
    assert!(text.contains("replica-a"), "{text}");
    assert!(
        text.contains(&format!("pg_terminate_backend({holder_pid})")),
        "{text}"
    );
    // The waiter holds nothing, the holder still does.
    assert_eq!(
        lock_holders(&mut db.client(), lock_key("public")),
        [holder_pid]
    );
}

#[test]
fn dropping_the_guard_releases_the_lock_on_a_live_connection() {
    let Some(db) = db() else { return };
    let mut conn = db.connect();
    let key = lock_key(conn.schema());
    let mut other = db.client();
    {
        let mut lock = conn.lock().unwrap();
        lock.check_held().unwrap();
        assert_eq!(lock_holders(&mut other, key).len(), 1);
    }
    assert!(lock_holders(&mut other, key).is_empty());
    // Re-entrant use after release: taken and released again.
    drop(conn.lock().unwrap());
    assert!(lock_holders(&mut other, key).is_empty());
}

#[test]
fn a_panic_while_holding_the_lock_releases_it() {
    let Some(db) = db() else { return };
    let mut conn = db.connect();
    let key = lock_key(conn.schema());
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _lock = conn.lock().unwrap();
        panic!("a migration panicked");
    }));
    assert!(caught.is_err());
    // The connection is still open (not what released it): the guard did.
    conn.client().query_one("SELECT 1", &[]).unwrap();
    assert!(lock_holders(&mut db.client(), key).is_empty());
}

#[test]
fn the_lock_is_released_even_from_an_aborted_transaction() {
    let Some(db) = db() else { return };
    let mut conn = db.connect();
    let key = lock_key(conn.schema());
    {
        let mut lock = conn.lock().unwrap();
        lock.client().batch_execute("BEGIN").unwrap();
        let failed = lock.client().batch_execute("SELECT 1/0");
        assert_eq!(failed.unwrap_err().code().unwrap().code(), "22012");
        // pg_advisory_unlock is refused here (25P02): the guard must roll back first.
    }
    assert!(lock_holders(&mut db.client(), key).is_empty());
    conn.client().query_one("SELECT 1", &[]).unwrap();
}

#[test]
fn the_lock_key_is_per_tracking_schema() {
    let Some(db) = db() else { return };
    let mut a = db.connect();
    let mut b = with_busy_timeout(db.connect(), Duration::from_millis(200))
        .with_schema("tenant_2")
        .unwrap();
    let _a = a.lock().unwrap();
    let _b = b.lock().expect("another schema has its own lock");
}

#[test]
fn a_connection_that_lost_the_lock_is_refused() {
    let Some(db) = db() else { return };
    let mut conn = db.connect();
    let mut lock = conn.lock().unwrap();
    // What a transaction pooler does: this backend's lock is gone (another backend took our
    // place) ...
    lock.client()
        .batch_execute("SELECT pg_advisory_unlock_all()")
        .unwrap();
    let err = lock.check_held().unwrap_err();
    assert!(matches!(err, Error::LockLost { .. }), "{err}");
    assert!(err.to_string().contains("direct"), "{err}");
    // ... and begin refuses to start a batch: nothing is created.
    let err = lock.begin().err().expect("begin must refuse");
    assert!(matches!(err, Error::LockLost { .. }), "{err}");
    drop(lock);
    assert!(!crate::common::exists(
        &mut db.client(),
        "public._migrate_applied"
    ));
}

#[test]
fn another_clients_session_token_on_our_backend_is_refused() {
    let Some(db) = db() else { return };
    let mut conn = db.connect();
    let mut lock = conn.lock().unwrap();
    // Under transaction pooling another client lands on the backend that holds the lock: the
    // lock looks held, but the session token is not ours.
    lock.client()
        .batch_execute("SELECT set_config('migrate.session_token', 'someone-else', false)")
        .unwrap();
    let err = lock.check_held().unwrap_err();
    let Error::LockLost { why, .. } = err else {
        panic!("expected LockLost, got {err}")
    };
    assert!(why.contains("token"), "{why}");
}

#[test]
fn ten_threads_with_their_own_connections_all_get_the_lock_one_at_a_time() {
    let Some(db) = db() else { return };
    let db = Arc::new(db);
    db.client()
        .batch_execute("CREATE TABLE turns (worker int PRIMARY KEY, holders_seen bigint)")
        .unwrap();
    let inside = Arc::new(AtomicUsize::new(0));
    let most_inside = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(10));
    let workers: Vec<_> = (0..10)
        .map(|worker| {
            let (db, inside, most_inside, start) = (
                db.clone(),
                inside.clone(),
                most_inside.clone(),
                start.clone(),
            );
            std::thread::spawn(move || {
                let mut conn = with_busy_timeout(db.connect(), Duration::from_secs(120));
                start.wait();
                let mut lock = conn.lock().expect("every worker gets the lock");
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                most_inside.fetch_max(now, Ordering::SeqCst);
                let key = lock.key();
                // The server agrees: exactly one session holds the key right now.
                let holders: i64 = lock
                    .client()
                    .query_one(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
                           AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1
                           AND database = (SELECT oid FROM pg_database
                                           WHERE datname = current_database())",
                        &[&key],
                    )
                    .unwrap()
                    .get(0);
                lock.client()
                    .execute("INSERT INTO turns VALUES ($1, $2)", &[&worker, &holders])
                    .unwrap();
                std::thread::sleep(Duration::from_millis(20));
                inside.fetch_sub(1, Ordering::SeqCst);
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("no worker failed");
    }
    assert_eq!(most_inside.load(Ordering::SeqCst), 1);
    let mut check = db.client();
    let rows: Vec<(i32, i64)> = check
        .query(
            "SELECT worker, holders_seen FROM turns ORDER BY worker",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(rows, (0..10).map(|w| (w, 1)).collect::<Vec<_>>());
    assert!(lock_holders(&mut check, lock_key("public")).is_empty());
}

#[test]
fn a_replica_polling_for_the_lock_does_not_stall_a_concurrent_index_build() {
    let Some(db) = db() else { return };
    db.client()
        .batch_execute(
            "CREATE TABLE big (id int, v int);
             INSERT INTO big SELECT i, i % 97 FROM generate_series(1, 20000) i",
        )
        .unwrap();
    let db = Arc::new(db);
    let mut holder = db.connect();
    let mut lock = holder.lock().unwrap();

    let waiter_db = db.clone();
    let waiter = std::thread::spawn(move || {
        let mut config = waiter_db.config();
        config.application_name("replica-b");
        let mut conn = with_busy_timeout(
            Connection::from_config(&config).unwrap(),
            Duration::from_secs(120),
        );
        conn.lock()
            .map(|_| ())
            .expect("the replica gets the lock once the build is done");
    });
    // The build starts only once the replica has polled and is still waiting. (A replica
    // blocked in pg_advisory_lock here would make the build fail with "deadlock detected".)
    let build = migrate_postgres::Step::new(|tx| {
        loop {
            let polled: bool = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name =
                       'replica-b' AND query LIKE '%pg_try_advisory_lock%')",
                    &[],
                )?
                .get(0);
            if polled {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        tx.batch_execute("CREATE INDEX CONCURRENTLY big_v ON big (v)")
    });
    lock.run_outside_transaction(1, "index_big", &build)
        .unwrap();
    drop(lock);
    waiter.join().expect("the replica did not fail");
    let valid: bool = db
        .client()
        .query_one(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_v'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(valid);
}

/// Set in the child of the test below: `socket dir` and database of the parent's cluster.
const KILLED_HOLDER: &str = "MIGRATE_PG_KILLED_HOLDER";

#[test]
fn a_holder_killed_mid_batch_leaves_the_lock_free_and_nothing_committed() {
    if let Ok(target) = std::env::var(KILLED_HOLDER) {
        // The child: take the lock, start a batch, change the schema, and wait to be killed.
        let (socket, dbname) = target.split_once('\n').unwrap();
        let mut config = postgres::Config::new();
        config
            .host_path(socket)
            .port(5432)
            .user("postgres")
            .dbname(dbname);
        let mut conn = Connection::from_config(&config).unwrap();
        let mut lock = conn.lock().unwrap();
        let mut batch = lock.begin().unwrap();
        let create = migrate_postgres::Step::sql("CREATE TABLE half_done (id int)");
        batch.run_step(1, "half_done", &create).unwrap();
        println!("HOLDING");
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    let Some(db) = db() else { return };
    let server = migrate_postgres::testing::server().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "lock::a_holder_killed_mid_batch_leaves_the_lock_free_and_nothing_committed",
            "--exact",
            "--nocapture",
        ])
        .env(
            KILLED_HOLDER,
            format!("{}\n{}", server.socket_dir().display(), db.name),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let holding = std::io::BufRead::lines(stdout)
        .map_while(Result::ok)
        .any(|line| line.contains("HOLDING"));
    assert!(holding, "the child took the lock and started its batch");
    assert_eq!(lock_holders(&mut db.client(), lock_key("public")).len(), 1);

    child.kill().unwrap(); // SIGKILL: no destructor, no unlock, no rollback from the client
    child.wait().unwrap();

    // The server ends the dead client's session: its transaction rolls back, its lock goes.
    let mut conn = with_busy_timeout(db.connect(), Duration::from_secs(60));
    let mut lock = conn.lock().expect("the lock is free again");
    lock.check_held().unwrap();
    let mut other = db.client();
    assert!(!crate::common::exists(&mut other, "public.half_done"));
    assert!(!crate::common::exists(
        &mut other,
        "public._migrate_applied"
    ));
    // A clean rerun works.
    let mut batch = lock.begin().unwrap();
    let create = migrate_postgres::Step::sql("CREATE TABLE half_done (id int)");
    batch.run_step(1, "half_done", &create).unwrap();
    batch.commit().unwrap();
    assert!(crate::common::exists(&mut other, "public.half_done"));
}
