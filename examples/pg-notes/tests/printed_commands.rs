//! Every shell command a PostgreSQL message prints runs as printed. Each scenario produces its
//! message for real on the harness's cluster (through the `pg-notes` binary where the app's
//! own migrations can produce it, else through the library with migrations made for it), the
//! backticked `psql …` commands of the message are run with `sh -c` exactly as printed, with
//! no `PG*` variable in their environment (the connection must come from the command itself:
//! the cluster listens only on a unix socket in a temp dir, so a `psql` without it fails), and
//! the database is checked afterwards. A `migrate …` command the binary prints is run as
//! `pg-notes migrate …`. (`tests/tests/printed_commands.rs` parses every printed `migrate …`
//! command of both backends.)

mod common;

use common::{count, db, url};
use migrate_postgres::testing::{self, Template, TestDatabase};
use migrate_postgres::{
    BackupKind, Backups, Connection, Error, Migration, Migrator, Settings, Step, TxMode,
};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// `pg-notes migrate <args>` on `db`.
fn pg_notes(db: &TestDatabase, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pg-notes"))
        .arg("migrate")
        .args(args)
        .env("PG_NOTES_URL", url(db))
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The backticked parts of a message that start with `program `.
fn printed(message: &str, program: &str) -> Vec<String> {
    message
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|quoted| quoted.starts_with(&format!("{program} ")))
        .map(str::to_owned)
        .collect()
}

/// The one `psql` command of a message.
fn the_psql_command(message: &str) -> String {
    let commands = printed(message, "psql");
    assert_eq!(commands.len(), 1, "one psql command expected: {message}");
    commands.into_iter().next().unwrap()
}

/// Runs `command` with `sh -c`, as an operator pasting it would, without any `PG*` variable.
fn run_as_printed(command: &str) -> Output {
    let mut sh = Command::new("sh");
    sh.arg("-c").arg(command).stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PG") {
            sh.env_remove(name);
        }
    }
    sh.output().unwrap()
}

/// Runs `command` as printed and expects it to succeed; returns its stdout.
fn runs(command: &str) -> String {
    let out = run_as_printed(command);
    assert!(
        out.status.success(),
        "`{command}` failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn applied(db: &TestDatabase) -> i64 {
    count(
        &mut db.client(),
        "SELECT count(*) FROM public._migrate_applied WHERE state = 'applied'",
    )
}

fn index_exists(db: &TestDatabase, name: &str) -> bool {
    count(
        &mut db.client(),
        &format!("SELECT count(*) FROM pg_class WHERE relname = '{name}' AND relkind = 'i'"),
    ) == 1
}

#[test]
fn the_lock_holder_command_ends_the_holder_and_the_rerun_command_migrates() {
    let Some(db) = db() else { return };
    let mut holder = db.client();
    let key = migrate_postgres::lock_key("public");
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .unwrap();
    let holder_pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);

    let out = pg_notes(&db, &["--busy-timeout-ms", "300", "up"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let message = text(&out.stderr);
    let terminate = the_psql_command(&message);
    assert!(
        terminate.contains(&format!("pg_terminate_backend({holder_pid})")),
        "{message}"
    );
    assert!(!terminate.contains("password"), "{terminate}");

    assert!(
        runs(&terminate).contains('t'),
        "pg_terminate_backend said true"
    );
    assert!(
        holder.simple_query("SELECT 1").is_err(),
        "the holder's session was ended"
    );
    let mut client = db.client();
    let holders = count(
        &mut client,
        &format!(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND ((classid::bigint << 32) | objid::bigint) = {key}"
        ),
    );
    assert_eq!(holders, 0, "the lock is free");
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'notes'"
        ),
        0,
        "the refused run changed nothing"
    );

    // The rerun command, as the app's binary runs it.
    let rerun = printed(&message, "migrate");
    assert!(rerun.contains(&"migrate up".to_owned()), "{message}");
    let out = pg_notes(&db, &["up"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(applied(&db), 7);
}

#[test]
fn the_lock_timeout_command_names_the_session_that_blocks() {
    let Some(db) = db() else { return };
    db.client()
        .batch_execute("CREATE TABLE accounts (id int PRIMARY KEY)")
        .unwrap();
    let mut blocker = db.client();
    let blocker_pid: i32 = blocker
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    // An open transaction that read the table: it holds ACCESS SHARE until it ends.
    blocker
        .batch_execute("BEGIN; SELECT count(*) AS blocker_marker FROM accounts")
        .unwrap();
    let settings = Settings {
        lock_timeout: Duration::from_millis(100),
        lock_attempts: 1,
        ..Settings::default()
    };
    let add_column = Migration::new(
        1,
        "add_balance",
        Step::sql("ALTER TABLE accounts ADD COLUMN balance int"),
    );
    let err = Migrator::new()
        .with_migrations([add_column.clone()])
        .on(db.connect().with_settings(settings))
        .unwrap()
        .up()
        .unwrap_err();
    let message = err.to_string();

    let shown = runs(&the_psql_command(&message));
    assert!(shown.contains(&blocker_pid.to_string()), "{shown}");
    assert!(shown.contains("blocker_marker"), "{shown}");
    assert!(shown.contains("idle in transaction"), "{shown}");
    let columns = count(
        &mut db.client(),
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'accounts'",
    );
    assert_eq!(columns, 1, "nothing of the migration was kept");

    blocker.batch_execute("COMMIT").unwrap();
    Migrator::new()
        .with_migrations([add_column])
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    assert_eq!(applied(&db), 1);
}

/// Duplicate rows, so that a unique concurrent build fails and leaves its index INVALID.
const DUPLICATES: &str = "CREATE TABLE emails (address text); \
                          INSERT INTO emails VALUES ('a@x'), ('a@x'), ('b@x')";

fn unique_index() -> Migration {
    Migration::new(
        1,
        "unique_emails",
        Step::sql(
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS emails_unique ON emails (address)",
        ),
    )
    .with_mode(TxMode::NonTransactional)
}

#[test]
fn the_drop_index_command_of_a_failed_concurrent_build_removes_the_invalid_index() {
    let Some(db) = db() else { return };
    db.client().batch_execute(DUPLICATES).unwrap();

    let err = Migrator::new()
        .with_migrations([unique_index()])
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();
    let message = err.to_string();
    assert!(
        index_exists(&db, "emails_unique"),
        "left INVALID: {message}"
    );

    let drop = the_psql_command(&message);
    assert!(drop.contains("DROP INDEX CONCURRENTLY"), "{drop}");
    runs(&drop);
    assert!(!index_exists(&db, "emails_unique"), "{drop}");
    assert_eq!(
        count(&mut db.client(), "SELECT count(*) FROM emails"),
        3,
        "no row touched"
    );
}

#[test]
fn every_invalid_index_gets_its_own_drop_command_that_runs() {
    let Some(db) = db() else { return };
    let mut client = db.client();
    client.batch_execute(DUPLICATES).unwrap();
    // Two INVALID indexes left by earlier failed builds (one name needs quoting).
    for name in ["emails_unique", "\"Emails Unique\""] {
        let failed = client.batch_execute(&format!(
            "CREATE UNIQUE INDEX CONCURRENTLY {name} ON emails (address)"
        ));
        assert!(failed.is_err());
    }
    let other = Migration::new(
        1,
        "index_emails",
        Step::sql("CREATE INDEX CONCURRENTLY emails_plain ON emails (address)"),
    )
    .with_mode(TxMode::NonTransactional);

    let err = Migrator::new()
        .with_migrations([other])
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();
    let message = err.to_string();
    let drops = printed(&message, "psql");
    assert_eq!(drops.len(), 2, "{message}");
    for drop in &drops {
        runs(drop);
    }
    assert!(!index_exists(&db, "emails_unique"), "{message}");
    assert!(!index_exists(&db, "Emails Unique"), "{message}");
    assert!(
        index_exists(&db, "emails_plain"),
        "the migration's own index stays"
    );
    assert_eq!(
        count(
            &mut db.client(),
            "SELECT count(*) FROM pg_index WHERE NOT indisvalid"
        ),
        0
    );
}

#[test]
fn verify_prints_a_drop_command_that_runs_and_makes_verify_pass() {
    let Some(db) = db() else { return };
    let out = pg_notes(&db, &["up"]);
    assert!(out.status.success(), "{out:?}");
    let mut client = db.client();
    client
        .batch_execute("INSERT INTO notes (notebook_id, title, body) SELECT id, 'same', 'x' FROM notebooks LIMIT 1; INSERT INTO notes (notebook_id, title, body) SELECT id, 'same', 'x' FROM notebooks LIMIT 1")
        .unwrap();
    assert!(
        client
            .batch_execute("CREATE UNIQUE INDEX CONCURRENTLY notes_title ON notes (title)")
            .is_err()
    );

    let out = pg_notes(&db, &["verify"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let report = text(&out.stdout);
    runs(&the_psql_command(&report));
    assert!(!index_exists(&db, "notes_title"), "{report}");

    let out = pg_notes(&db, &["verify"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(applied(&db), 7);
}

#[test]
fn the_grant_commands_of_a_refused_backup_run_as_the_owners_and_the_backup_then_works() {
    let Some(db) = db() else { return };
    let (reader, owner) = (format!("{}_reader", db.name), format!("{}_owner", db.name));
    let mut admin = db.client();
    admin
        .batch_execute(&format!(
            "CREATE ROLE {reader} LOGIN; CREATE ROLE {owner} LOGIN;
             CREATE TABLE open_table (x int); GRANT SELECT ON open_table TO {reader};
             CREATE TABLE admin_only (x int); INSERT INTO admin_only VALUES (1);
             CREATE SCHEMA owned AUTHORIZATION {owner};
             SET ROLE {owner}; CREATE TABLE owned.secrets (x int); INSERT INTO owned.secrets VALUES (2); RESET ROLE"
        ))
        .unwrap();
    let mut config = db.config();
    config.user(&reader);
    let dir = tempfile::tempdir().unwrap();
    let backups = Backups::new(&config, dir.path().join("b"));
    let mut conn = Connection::from_config(&config).unwrap();

    let err = backups.back_up(&mut conn, BackupKind::Manual).unwrap_err();
    let Error::BackupPrivileges { objects, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(objects, &["owned", "owned.secrets", "public.admin_only"]);
    assert!(!dir.path().join("b").exists(), "nothing written");
    let message = err.to_string();
    let grants = printed(&message, "psql");
    assert_eq!(grants.len(), 2, "one per owner: {message}");
    assert!(
        grants.iter().any(|g| g.contains(&format!("user={owner}"))),
        "{message}"
    );
    for grant in &grants {
        runs(grant);
    }

    let taken = backups.back_up(&mut conn, BackupKind::Manual).unwrap();
    assert!(taken.path.is_file());
    let listed = Command::new("pg_restore")
        .arg("--list")
        .arg(&taken.path)
        .output()
        .unwrap();
    let listed = text(&listed.stdout);
    assert!(
        listed.contains("TABLE DATA owned secrets")
            && listed.contains("TABLE DATA public admin_only"),
        "{listed}"
    );
}

#[test]
fn a_failed_connection_prints_a_psql_command_that_fails_the_same_way() {
    let Some(db) = db() else { return };
    let server = testing::server().unwrap();
    let wrong = format!(
        "host={} port=5432 user=postgres dbname={}_missing",
        server.socket_dir().display(),
        db.name
    );
    let out = Command::new(env!("CARGO_BIN_EXE_pg-notes"))
        .args(["migrate", "status"])
        .env("PG_NOTES_URL", &wrong)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let message = text(&out.stderr);
    let check = the_psql_command(&message);
    let out = run_as_printed(&check);
    assert_eq!(
        out.status.code(),
        Some(2),
        "psql could not connect: {out:?}"
    );
    let said = text(&out.stderr);
    assert!(
        said.contains(&format!("database \"{}_missing\" does not exist", db.name)),
        "the same reason as the message: {said}"
    );
    assert!(message.contains("does not exist"), "{message}");

    // The right database: the same command shape connects.
    let right = check.replace(&format!("{}_missing", db.name), &db.name);
    assert!(runs(&right).contains('1'));
}

#[test]
fn a_busy_template_prints_a_command_that_finds_the_session() {
    let Some(db) = db() else { return };
    // A session whose backend is stopped cannot end when it is terminated.
    let mut stuck = db.client();
    let pid: i32 = stuck
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let signal = |sig: &str| {
        let status = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    signal("-STOP");
    let name = db.name.clone();
    let sealed = Template::from_database(db);
    let printed_command = match &sealed {
        Err(e @ Error::TemplateBusy { .. }) => the_psql_command(&e.to_string()),
        other => {
            signal("-CONT");
            panic!("expected TemplateBusy: {other:?}")
        }
    };
    let shown = run_as_printed(&printed_command);
    signal("-CONT");
    assert!(shown.status.success(), "{shown:?}");
    assert!(
        text(&shown.stdout).contains(&pid.to_string()),
        "the stuck session is listed: {}",
        text(&shown.stdout)
    );
    drop(stuck);
    // Once the backend runs again, it ends (it was terminated) and the template is empty.
    let mut admin = testing::server()
        .unwrap()
        .config("postgres")
        .connect(postgres::NoTls)
        .unwrap();
    while count(
        &mut admin,
        &format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}' \
             AND backend_type = 'client backend'"
        ),
    ) > 0
    {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `notes.pinned` exists (migration 7 adds it; its revert drops it).
fn pinned_exists(db: &TestDatabase) -> bool {
    count(
        &mut db.client(),
        "SELECT count(*) FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name = 'notes' AND column_name = 'pinned'",
    ) == 1
}

/// Runs a printed `migrate …` command as `pg-notes migrate …` (with `--yes`: off a terminal a
/// revert asks for it).
fn pg_notes_as_printed(db: &TestDatabase, command: &str) -> Output {
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(words[0], "migrate", "{command}");
    let mut args = words[1..].to_vec();
    args.push("--yes");
    pg_notes(db, &args)
}

/// A failed `down --to 6` and a failed `redo` (a view depends on the column migration 7's
/// revert drops) print their own command, not `migrate up`; once the view is gone, each runs
/// as printed and does what the failed one meant to.
#[test]
fn a_failed_down_or_redo_names_its_own_command_which_runs_as_printed() {
    let Some(db) = db() else { return };
    assert!(pg_notes(&db, &["up"]).status.success());
    assert_eq!(applied(&db), 7);
    let view = "CREATE VIEW pinned_notes AS SELECT id FROM notes WHERE pinned";
    db.client().batch_execute(view).unwrap();

    let down = pg_notes(&db, &["down", "--to", "6", "--yes"]);
    assert_eq!(down.status.code(), Some(1), "{down:?}");
    let message = text(&down.stderr);
    assert!(message.contains("pinned_notes"), "{message}");
    assert_eq!(
        printed(&message, "migrate"),
        ["migrate down --to 6"],
        "{message}"
    );
    assert_eq!(applied(&db), 7, "the failed revert was rolled back");
    assert!(pinned_exists(&db));

    let redo = pg_notes(&db, &["redo", "--yes"]);
    assert_eq!(redo.status.code(), Some(1), "{redo:?}");
    let message = text(&redo.stderr);
    assert_eq!(printed(&message, "migrate"), ["migrate redo"], "{message}");
    assert_eq!(applied(&db), 7);

    db.client().batch_execute("DROP VIEW pinned_notes").unwrap();
    let redone = pg_notes_as_printed(&db, "migrate redo");
    assert!(redone.status.success(), "{redone:?}");
    assert_eq!(applied(&db), 7);
    let last: Vec<String> = db
        .client()
        .query(
            "SELECT action || ' ' || outcome FROM public._migrate_history WHERE seq = 7
             ORDER BY id DESC LIMIT 2",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        last,
        ["up ok", "down ok"],
        "the redo reverted and applied 7"
    );

    let reverted = pg_notes_as_printed(&db, "migrate down --to 6");
    assert!(reverted.status.success(), "{reverted:?}");
    assert_eq!(applied(&db), 6);
    assert!(!pinned_exists(&db));
}
