//! Every `migrate …` command an error message prints runs as printed: each refusal and failure
//! the framework can report is produced here for real (on temp files), the backticked
//! `migrate …` commands are collected from its message, and each one is parsed with the
//! command line's own parser (`MigrateArgs`). A command that lacks a required flag (`migrate
//! resolve 7`) or has a placeholder fails the test. What `restore --before SEQ` selects is
//! checked in `cli.rs`.

use clap::Parser;
use migrate_sqlite::cli::MigrateArgs;
use migrate_sqlite::{Checksum, Migration, Migrator, Step, TxMode};
use rusqlite::Connection;
use std::path::PathBuf;

fn table(seq: u64) -> Migration {
    Migration::new(
        seq,
        format!("create_t{seq}"),
        Step::sql(format!("CREATE TABLE t{seq} (x)")),
    )
    .with_down(Step::sql(format!("DROP TABLE t{seq}")))
}

fn tables(range: std::ops::RangeInclusive<u64>) -> Vec<Migration> {
    range.map(table).collect()
}

fn non_tx_failing(seq: u64) -> Migration {
    Migration::new(
        seq,
        "half_done",
        Step::sql("CREATE TABLE IF NOT EXISTS half (x); SELECT * FROM missing;"),
    )
    .with_mode(TxMode::NonTransactional)
}

fn db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    (dir, path)
}

fn m(list: Vec<Migration>) -> Migrator {
    Migrator::new().with_migrations(list)
}

/// The message of every refusal and failure scenario, produced for real.
fn messages() -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    let mut push =
        |what: &'static str, err: migrate_sqlite::Error| out.push((what, err.to_string()));

    // A `transaction = false` migration that failed with backups off stays started; the next
    // run is blocked.
    let (_d, p) = db();
    let mut list = tables(1..=1);
    list.push(non_tx_failing(2));
    push(
        "non-transactional failure, backups off",
        m(list.clone())
            .without_backups()
            .open(&p)
            .unwrap()
            .up()
            .unwrap_err(),
    );
    push(
        "blocked: started",
        m(list).open(&p).unwrap().up().unwrap_err(),
    );

    // The same with backups on: restored automatically.
    let (_d, p) = db();
    let mut list = tables(1..=1);
    list.push(non_tx_failing(2));
    push(
        "non-transactional failure, restored",
        m(list).open(&p).unwrap().up().unwrap_err(),
    );

    // Database ahead, modified, out of order.
    let (_d, p) = db();
    m(tables(1..=3)).open(&p).unwrap().up().unwrap();
    push(
        "blocked: ahead",
        m(tables(1..=2)).open(&p).unwrap().up().unwrap_err(),
    );
    let mut edited = tables(1..=3);
    edited[1] = table(2).with_checksum(Checksum::of_text("edited"));
    push(
        "blocked: modified",
        m(edited).open(&p).unwrap().up().unwrap_err(),
    );
    let (_d, p) = db();
    m(vec![table(1), table(3)])
        .allow_gaps()
        .open(&p)
        .unwrap()
        .up()
        .unwrap();
    push(
        "blocked: out of order",
        m(tables(1..=3))
            .allow_gaps()
            .open(&p)
            .unwrap()
            .up()
            .unwrap_err(),
    );

    // Irreversible, down too far.
    let (_d, p) = db();
    let forward_only = Migration::new(1, "forward", Step::sql("CREATE TABLE f (x)"));
    let list = vec![forward_only, table(2)];
    m(list.clone()).open(&p).unwrap().up().unwrap();
    push(
        "irreversible",
        m(list.clone()).open(&p).unwrap().down_to(0).unwrap_err(),
    );
    push(
        "down too far",
        m(list).open(&p).unwrap().down(5).unwrap_err(),
    );

    // Undeclared destruction, rows lost.
    let (_d, p) = db();
    let mut list = tables(1..=1);
    list.push(Migration::new(2, "drop", Step::sql("DROP TABLE t1")));
    push(
        "undeclared destruction",
        m(list).open(&p).unwrap().up().unwrap_err(),
    );
    let (_d, p) = db();
    let list = vec![
        Migration::new(
            1,
            "rows",
            Step::sql("CREATE TABLE r (x UNIQUE); INSERT INTO r VALUES (1), (2);"),
        ),
        Migration::new(2, "fold", Step::sql("UPDATE OR REPLACE r SET x = 1")),
    ];
    push("rows lost", m(list).open(&p).unwrap().up().unwrap_err());

    // A damaged backup.
    let (d, p) = db();
    m(tables(1..=1)).open(&p).unwrap().up().unwrap();
    let junk = d.path().join("junk.db");
    std::fs::write(
        &junk,
        b"this is not a database file at all, not even close....",
    )
    .unwrap();
    push(
        "damaged backup",
        m(tables(1..=1))
            .open(&p)
            .unwrap()
            .restore(&migrate_sqlite::RestoreFrom::File(junk))
            .unwrap_err(),
    );

    // No database; a directory; the tracking table unreadable; a transactional started row.
    let (d, p) = db();
    push(
        "no database",
        m(tables(1..=1)).open_existing(&p).err().unwrap(),
    );
    push(
        "a directory",
        m(tables(1..=1)).open(d.path()).err().unwrap(),
    );
    m(tables(1..=2)).open(&p).unwrap().up().unwrap();
    let conn = Connection::open(&p).unwrap();
    conn.execute(
        "UPDATE _migrate_applied SET state = 'started' WHERE seq = 2",
        [],
    )
    .unwrap();
    push(
        "transactional started",
        m(tables(1..=2)).open(&p).unwrap().up().unwrap_err(),
    );
    conn.execute_batch(
        "CREATE TABLE loose AS SELECT * FROM _migrate_applied; DROP TABLE _migrate_applied;
         ALTER TABLE loose RENAME TO _migrate_applied;
         UPDATE _migrate_applied SET state = 'applied', checksum = NULL WHERE seq = 2;",
    )
    .unwrap();
    push(
        "null checksum",
        m(tables(1..=2)).open(&p).unwrap().up().unwrap_err(),
    );
    let (_d, p) = db();
    Connection::open(&p)
        .unwrap()
        .execute_batch("CREATE TABLE _migrate_applied (version INTEGER)")
        .unwrap();
    push(
        "another tool's table",
        m(tables(1..=1)).open(&p).unwrap().up().unwrap_err(),
    );

    // A migration that fails inside its transaction.
    let (_d, p) = db();
    let mut list = tables(1..=1);
    list.push(Migration::new(2, "bad", Step::sql("SELECT * FROM missing")));
    push(
        "transactional failure",
        m(list).open(&p).unwrap().up().unwrap_err(),
    );

    // A `down --to`, a `down --steps` and a `redo` that fail: each names its own command.
    let (_d, p) = db();
    m(tables(1..=3)).open(&p).unwrap().up().unwrap();
    let mut broken = tables(1..=3);
    broken[2] = table(3).with_down(Step::sql("DROP TABLE t3; SELECT * FROM missing"));
    push(
        "down --to failure",
        m(broken.clone()).open(&p).unwrap().down_to(1).unwrap_err(),
    );
    push(
        "down --steps failure",
        m(broken.clone()).open(&p).unwrap().down(2).unwrap_err(),
    );
    push(
        "redo failure",
        m(broken).open(&p).unwrap().redo().unwrap_err(),
    );
    // Under KeepApplied the revert of 3 is kept when 2's fails: `down --steps 3` again would
    // revert one too many, so the command names the target.
    let mut broken = tables(1..=3);
    broken[1] = table(2).with_down(Step::sql("DROP TABLE t2; SELECT * FROM missing"));
    push(
        "kept down --steps failure",
        m(broken)
            .failure_policy(migrate_sqlite::FailurePolicy::KeepApplied)
            .open(&p)
            .unwrap()
            .down(3)
            .unwrap_err(),
    );
    // A redo whose revert is kept and whose apply fails: what is left is applying it.
    let mut broken = tables(1..=2);
    broken[1] = Migration::new(
        2,
        "create_t2",
        Step::sql("CREATE TABLE t2 (x); SELECT * FROM missing"),
    )
    .with_down(Step::sql("DROP TABLE t2"));
    push(
        "kept redo failure",
        m(broken)
            .failure_policy(migrate_sqlite::FailurePolicy::KeepApplied)
            .open(&p)
            .unwrap()
            .redo()
            .unwrap_err(),
    );
    assert_eq!(
        Connection::open(&p)
            .unwrap()
            .query_row("SELECT group_concat(seq) FROM _migrate_applied", [], |r| {
                r.get::<_, String>(0)
            })
            .unwrap(),
        "1",
        "2's revert was kept, its apply was not"
    );

    // A redo whose apply drops data it does not declare: the switch goes with the redo (a
    // `migrate up --allow-destructive` would find nothing pending).
    let (_d, p) = db();
    let dropping = vec![
        table(1),
        Migration::new(2, "drop_t1", Step::sql("DROP TABLE t1"))
            .with_down(Step::sql("CREATE TABLE t1 (x)")),
    ];
    m(dropping.clone())
        .allow_destructive()
        .open(&p)
        .unwrap()
        .up()
        .unwrap();
    push(
        "undeclared destruction in a redo",
        m(dropping).open(&p).unwrap().redo().unwrap_err(),
    );

    // Disk full: the page limit of this connection stands in for the disk (SQLITE_FULL).
    let (_d, p) = db();
    let mut conn = Connection::open(&p).unwrap();
    let mut list = tables(1..=1);
    list.push(Migration::new(
        2,
        "grow",
        Step::sql(
            "CREATE TABLE big (b BLOB);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
             INSERT INTO big SELECT randomblob(4000) FROM n;",
        ),
    ));
    m(tables(1..=1)).on(&mut conn).unwrap().up().unwrap();
    conn.execute_batch("PRAGMA max_page_count = 40").unwrap();
    push(
        "disk full",
        m(list).on(&mut conn).unwrap().up().unwrap_err(),
    );

    out
}

/// The backticked `migrate …` commands of a message.
fn commands(message: &str) -> Vec<String> {
    message
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|quoted| quoted.starts_with("migrate "))
        .map(str::to_owned)
        .collect()
}

/// Splits a command as a POSIX shell would for the quoting messages use (single quotes).
fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in command.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    words.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    assert!(!quoted, "unbalanced quote in {command:?}");
    if any {
        words.push(word);
    }
    words
}

#[test]
fn every_command_an_error_message_prints_parses() {
    let messages = messages();
    let mut checked = 0;
    let mut bad = Vec::new();
    for (what, message) in &messages {
        for command in commands(message) {
            checked += 1;
            if let Err(e) = MigrateArgs::try_parse_from(words(&command)) {
                bad.push(format!("{what}: `{command}`: {}", e.kind()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "commands that do not run as printed:\n{}",
        bad.join("\n")
    );
    // The scenarios really printed commands (a scenario whose message changed to print none is
    // worth a look, not a silent pass).
    for expected in [
        "migrate resolve 2 --applied",
        "migrate resolve 2 --not-applied",
        "migrate restore --before 2",
        "migrate up --allow-database-ahead",
        "migrate up --accept-checksum 2",
        "migrate up --allow-out-of-order",
        "migrate down --to 0",
        "migrate up --allow-destructive",
        "migrate backups",
        "migrate up",
    ] {
        assert!(
            messages
                .iter()
                .any(|(_, m)| commands(m).iter().any(|c| c == expected)),
            "no scenario printed `{expected}`"
        );
    }
    assert!(checked >= 15, "only {checked} commands found");
    // A failed revert or redo names the command that finishes it, never `migrate up`.
    for (what, command) in [
        ("down --to failure", "migrate down --to 1"),
        ("down --steps failure", "migrate down --steps 2"),
        ("redo failure", "migrate redo"),
        ("kept down --steps failure", "migrate down --to 0"),
        ("kept redo failure", "migrate up --to 2"),
    ] {
        let message = &messages.iter().find(|(w, _)| *w == what).unwrap().1;
        assert_eq!(commands(message), [command], "{what}: {message}");
    }
    // A guard's refusal names the switch with the command that failed.
    for (what, expected) in [
        (
            "undeclared destruction",
            ["migrate up", "migrate up --allow-destructive"],
        ),
        (
            "undeclared destruction in a redo",
            ["migrate redo", "migrate redo --allow-destructive"],
        ),
    ] {
        let message = &messages.iter().find(|(w, _)| *w == what).unwrap().1;
        assert_eq!(commands(message), expected, "{what}: {message}");
    }
}

/// The command a failed `down --to`, `redo` or `--keep-applied redo` prints is that operation's
/// (not `migrate up`), and it finishes the job when run as printed through the real binary
/// once the cause is gone: checked on the tracking rows, the tables and the history.
#[test]
fn the_command_a_failed_down_or_redo_prints_runs_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("library.db");
    let cli = |args: &[String], fails: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_migrate-cli"))
            .args(args)
            .env("MIGRATE_CLI_DB", &db)
            .env("MIGRATE_CLI_LENDING", "1")
            .env("MIGRATE_CLI_LENDING_FAILS", fails)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let args = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    let applied = || {
        Connection::open(&db)
            .unwrap()
            .query_row(
                "SELECT group_concat(seq, ',') FROM (SELECT seq FROM _migrate_applied ORDER BY seq)",
                [],
                |r| r.get::<_, String>(0),
            )
            .unwrap()
    };
    let tables = || {
        Connection::open(&db)
            .unwrap()
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name IN ('loans', 'members')",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
    };
    let history = || {
        let conn = Connection::open(&db).unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT seq || ' ' || action || ' ' || outcome FROM _migrate_history ORDER BY id",
            )
            .unwrap();
        stmt.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
    };
    // Fails with `fails`, prints exactly `expected` as the command to run again; then that
    // command, run as printed without the failure, succeeds.
    let fail_then_rerun = |command: &[&str], fails: &str, expected: &str| {
        let out = cli(&args(command), fails);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(commands(&stderr), [expected], "{stderr}");
        stderr
    };
    let run_printed = |printed: &str| {
        let mut words = words(printed);
        MigrateArgs::try_parse_from(&words).unwrap_or_else(|e| panic!("`{printed}`: {e}"));
        words.remove(0);
        words.push("--yes".into());
        let out = cli(&words, "");
        assert!(out.status.success(), "`{printed}`: {out:?}");
    };

    assert!(cli(&args(&["up"]), "").status.success());
    assert_eq!(applied(), "1,2,3,4");

    // `down --to 2`: the revert of 4 fails, nothing is kept; the command is `down --to 2`.
    let printed = "migrate down --to 2 --set library";
    fail_then_rerun(&["down", "--to", "2", "--yes"], "down", printed);
    assert_eq!(applied(), "1,2,3,4");
    assert_eq!(tables(), 2, "the failed revert was rolled back");
    run_printed(printed);
    assert_eq!(applied(), "1,2");
    assert_eq!(tables(), 0);

    // `redo`: the revert fails, nothing is kept; the command is `redo`.
    assert!(cli(&args(&["up"]), "").status.success());
    let printed = "migrate redo --set library";
    fail_then_rerun(&["redo", "--yes"], "down", printed);
    assert_eq!(applied(), "1,2,3,4");
    assert_eq!(history().last().unwrap(), "4 down failed");
    run_printed(printed);
    assert_eq!(applied(), "1,2,3,4");
    assert_eq!(history()[history().len() - 2..], ["4 down ok", "4 up ok"]);

    // `--keep-applied redo`: the revert is kept, the apply fails; `redo` again would revert 3,
    // so the command applies 4 again.
    let printed = "migrate up --to 4 --set library";
    fail_then_rerun(&["--keep-applied", "redo", "--yes"], "up", printed);
    assert_eq!(applied(), "1,2,3");
    assert_eq!(tables(), 0, "the failed apply was rolled back");
    run_printed(printed);
    assert_eq!(applied(), "1,2,3,4");
    assert_eq!(tables(), 2);
}

/// The undo command `restore` prints (not backticked: a line of its own) runs as printed, also
/// when the backup directory's path has a space in it, and it undoes the restore.
#[test]
fn the_undo_command_restore_prints_runs_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("my data");
    std::fs::create_dir(&home).unwrap();
    let db = home.join("library.db");
    let cli = |args: &[String]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_migrate-cli"))
            .args(args)
            .env("MIGRATE_CLI_DB", &db)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let args = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    cli(&args(&["up", "--to", "1"]));
    cli(&args(&["up"])); // backs up the database at 1
    let printed = cli(&args(&["restore", "--before", "2", "--yes"]));
    let undo = printed
        .lines()
        .find_map(|line| line.split("to undo: ").nth(1))
        .unwrap_or_else(|| panic!("no undo command in {printed:?}"));
    let mut words = words(undo);
    MigrateArgs::try_parse_from(&words).unwrap_or_else(|e| panic!("`{undo}`: {e}"));
    assert_eq!(
        Connection::open(&db)
            .unwrap()
            .query_row("SELECT max(seq) FROM _migrate_applied", [], |r| r
                .get::<_, i64>(0))
            .unwrap(),
        1
    );
    // Run it as printed (the program name is the binary's; then --yes, off a terminal).
    words.remove(0);
    words.push("--yes".into());
    cli(&words);
    assert_eq!(
        Connection::open(&db)
            .unwrap()
            .query_row("SELECT max(seq) FROM _migrate_applied", [], |r| r
                .get::<_, i64>(0))
            .unwrap(),
        3
    );
}

/// The PostgreSQL backend's messages, each produced for real on the harness's cluster (one
/// database per scenario), and every `migrate …` command in them parsed with the shared parser.
fn postgres_messages(
    server: &migrate_postgres::testing::TestServer,
) -> Vec<(&'static str, String)> {
    use migrate_postgres::{
        BackupKind, Backups, Connection, Migration as PgMigration, Migrator as PgMigrator,
        RestoreFrom, Settings, Step as PgStep, TxMode as PgTxMode,
    };
    let table = |seq: u64| {
        PgMigration::new(
            seq,
            format!("create_t{seq}"),
            PgStep::sql(format!("CREATE TABLE t{seq} (x int)")),
        )
        .with_down(PgStep::sql(format!("DROP TABLE t{seq}")))
    };
    let mut out: Vec<(&'static str, String)> = Vec::new();
    let mut push =
        |what: &'static str, err: migrate_postgres::Error| out.push((what, err.to_string()));

    // The migration lock held by another session past the busy timeout.
    let db = server.database();
    let mut holder = db.client();
    holder
        .execute(
            "SELECT pg_advisory_lock($1)",
            &[&migrate_postgres::lock_key("public")],
        )
        .unwrap();
    let settings = Settings {
        busy_timeout: std::time::Duration::from_millis(200),
        ..Settings::default()
    };
    let conn = db.connect().with_settings(settings);
    let err = PgMigrator::new()
        .with_migrations([table(1)])
        .on(conn)
        .unwrap()
        .up()
        .unwrap_err();
    push("postgres: lock held", err);
    drop(holder);

    // A migration whose SQL commits the runner's transaction.
    let db = server.database();
    let escape = PgMigration::new(
        1,
        "escape",
        PgStep::sql("COMMIT; CREATE TABLE escaped (x int)"),
    );
    push(
        "postgres: COMMIT in a migration",
        PgMigrator::new()
            .with_migrations([escape])
            .on(db.connect())
            .unwrap()
            .up()
            .unwrap_err(),
    );

    // A transactional migration that fails.
    let db = server.database();
    let bad = PgMigration::new(2, "bad", PgStep::sql("SELECT * FROM missing"));
    push(
        "postgres: transactional failure",
        PgMigrator::new()
            .with_migrations([table(1), bad])
            .on(db.connect())
            .unwrap()
            .up()
            .unwrap_err(),
    );

    // Without row counts, an undeclared DELETE: refused, naming both switches to allow it.
    let db = server.database();
    let prune = PgMigration::new(2, "prune", PgStep::sql("DELETE FROM t1"));
    push(
        "postgres: undeclared delete without row counts",
        PgMigrator::new()
            .with_migrations([table(1), prune])
            .without_row_counts()
            .on(db.connect())
            .unwrap()
            .up()
            .unwrap_err(),
    );

    // A `transaction = false` migration that fails with backups off, then the start it blocks.
    let db = server.database();
    let half = PgMigration::new(
        2,
        "half_done",
        PgStep::sql("CREATE TABLE IF NOT EXISTS half (x int); SELECT * FROM missing;"),
    )
    .with_mode(PgTxMode::NonTransactional);
    let migrator = PgMigrator::new().with_migrations([table(1), half]);
    push(
        "postgres: non-transactional failure, no backups",
        migrator.on(db.connect()).unwrap().up().unwrap_err(),
    );
    push(
        "postgres: start blocked by a started migration",
        migrator.on(db.connect()).unwrap().up().unwrap_err(),
    );

    // The same with a backup directory (a space in its path): the automatic restore.
    let db = server.database();
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("my backups");
    let half = PgMigration::new(
        2,
        "half_done",
        PgStep::sql("CREATE TABLE IF NOT EXISTS half (x int); SELECT * FROM missing;"),
    )
    .with_mode(PgTxMode::NonTransactional);
    push(
        "postgres: non-transactional failure, restored",
        PgMigrator::new()
            .with_migrations([table(1), half])
            .backup_dir(&backups)
            .on(db.connect())
            .unwrap()
            .up()
            .unwrap_err(),
    );

    // A `down --to` and a `redo` that fail, and a `--keep-applied` redo whose revert is kept:
    // each names the command that finishes it.
    let db = server.database();
    let broken = |seq: u64| {
        PgMigration::new(
            seq,
            format!("create_t{seq}"),
            PgStep::sql(format!("CREATE TABLE t{seq} (x int)")),
        )
        .with_down(PgStep::sql(format!(
            "DROP TABLE t{seq}; SELECT * FROM missing"
        )))
    };
    PgMigrator::new()
        .with_migrations([table(1), table(2), table(3)])
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    let migrator = PgMigrator::new().with_migrations([table(1), table(2), broken(3)]);
    push(
        "postgres: down --to failure",
        migrator.on(db.connect()).unwrap().down_to(1).unwrap_err(),
    );
    push(
        "postgres: redo failure",
        migrator.on(db.connect()).unwrap().redo().unwrap_err(),
    );
    let failing_up = PgMigration::new(
        3,
        "create_t3",
        PgStep::sql("CREATE TABLE t3 (x int); SELECT * FROM missing"),
    )
    .with_down(PgStep::sql("DROP TABLE t3"));
    push(
        "postgres: kept redo failure",
        PgMigrator::new()
            .with_migrations([table(1), table(2), failing_up])
            .failure_policy(migrate_postgres::FailurePolicy::KeepApplied)
            .on(db.connect())
            .unwrap()
            .redo()
            .unwrap_err(),
    );
    let mut client = db.client();
    let seqs: Vec<i64> = client
        .query("SELECT seq FROM public._migrate_applied ORDER BY seq", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(seqs, [1, 2], "3's revert was kept, its apply was not");

    // `down` further than what is applied.
    let db = server.database();
    let mut session = PgMigrator::new()
        .with_migrations([table(1)])
        .on(db.connect())
        .unwrap();
    session.up().unwrap();
    push("postgres: down too far", session.down(5).unwrap_err());

    // Restore with no backup there, and of a dump that is not this database's.
    let db = server.database();
    let dir = tempfile::tempdir().unwrap();
    let mut session = PgMigrator::new()
        .with_migrations([table(1)])
        .backup_dir(dir.path().join("my backups"))
        .on(db.connect())
        .unwrap();
    push(
        "postgres: no backup",
        session.restore(&RestoreFrom::Latest).unwrap_err(),
    );
    let other = server.database();
    let elsewhere = dir.path().join("other dumps");
    let foreign = Backups::new(&other.config(), &elsewhere)
        .back_up(
            &mut Connection::from_config(&other.config()).unwrap(),
            BackupKind::Automatic {
                reason: "manual".into(),
            },
        )
        .unwrap();
    push(
        "postgres: foreign dump",
        session
            .restore(&RestoreFrom::File(foreign.path))
            .unwrap_err(),
    );
    // The newest backup's bytes changed since it was written: the intact one is named.
    session.backup().unwrap();
    let damaged = session.backup().unwrap().path;
    let mut bytes = std::fs::read(&damaged).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&damaged, &bytes).unwrap();
    let err = session.restore(&RestoreFrom::Latest).unwrap_err();
    assert!(
        matches!(
            err,
            migrate_postgres::Error::BackupChecksumMismatch {
                instead: Some(_),
                ..
            }
        ),
        "{err}"
    );
    push("postgres: damaged dump", err);
    out
}

#[test]
fn every_command_a_postgresql_message_prints_parses() {
    let Some(server) = migrate_postgres::testing::server() else {
        return;
    };
    let messages = postgres_messages(server);
    let mut checked = 0;
    let mut bad = Vec::new();
    for (what, message) in &messages {
        for command in commands(message) {
            checked += 1;
            if let Err(e) = MigrateArgs::try_parse_from(words(&command)) {
                bad.push(format!("{what}: `{command}`: {}", e.kind()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "commands that do not run as printed:\n{}",
        bad.join("\n")
    );
    for expected in [
        "migrate up",
        "migrate resolve 2 --applied",
        "migrate resolve 2 --not-applied",
        "migrate restore --before 2",
        "migrate backups",
        "migrate down --to 0",
        "migrate up --no-row-counts --allow-destructive",
    ] {
        assert!(
            messages
                .iter()
                .any(|(_, m)| commands(m).iter().any(|c| c == expected)),
            "no PostgreSQL scenario printed `{expected}`: {messages:#?}"
        );
    }
    // A failed revert or redo names the command that finishes it, never `migrate up`.
    for (what, command) in [
        ("postgres: down --to failure", "migrate down --to 1"),
        ("postgres: redo failure", "migrate redo"),
        ("postgres: kept redo failure", "migrate up --to 3"),
    ] {
        let message = &messages.iter().find(|(w, _)| *w == what).unwrap().1;
        assert_eq!(commands(message), [command], "{what}: {message}");
    }
    // A path with a space is quoted, so the command still runs as printed.
    assert!(
        messages.iter().any(|(_, m)| commands(m)
            .iter()
            .any(|c| c.starts_with("migrate restore '") && c.contains("other dumps/"))),
        "no quoted restore command: {messages:#?}"
    );
    assert!(checked >= 8, "only {checked} commands found");
}
