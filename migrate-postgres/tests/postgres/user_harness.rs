//! The harness users test their own PostgreSQL migrations with (`migrate_postgres::testing`):
//! the whole-sequence check catches a broken down, lost seeded rows and passes a good
//! sequence; `upgrade_copy_of` migrates a copy of a dump; the schema snapshot file fails with
//! a diff and is rewritten on request; templates give independent migrated databases.

use crate::common::{count, db, exists};
use migrate_postgres::testing::{self, Harness, Template, assert_schema_snapshot, schema_snapshot};
use migrate_postgres::{BackupKind, Backups, Error, Migration, Migrator, Step};
use std::path::Path;

fn sql(seq: u64, name: &str, up: &str, down: &str) -> Migration {
    Migration::new(seq, name, Step::sql(up)).with_down(Step::sql(down))
}

fn users() -> Migration {
    sql(
        1,
        "create_users",
        "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL)",
        "DROP TABLE users",
    )
}

fn add_email() -> Migration {
    sql(
        2,
        "add_email",
        "ALTER TABLE users ADD COLUMN email text",
        "ALTER TABLE users DROP COLUMN email",
    )
}

/// Seq, name and problem of a check that must fail on `db`'s database.
fn failure_on(harness: Harness, db: &testing::TestDatabase) -> (u64, String, String) {
    match harness.check_on(db.connect()).unwrap_err() {
        Error::CheckFailed(failure) => (failure.seq, failure.name, failure.problem),
        other => panic!("expected CheckFailed, got {other}"),
    }
}

fn applied(client: &mut postgres::Client) -> Vec<i64> {
    client
        .query("SELECT seq FROM public._migrate_applied ORDER BY seq", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn a_good_sequence_passes_with_seeds_round_trips_and_irreversible_ones_listed() {
    if testing::server().is_none() {
        return;
    }
    let list = vec![
        users(),
        add_email(),
        sql(
            3,
            "index_names",
            "CREATE INDEX users_name ON users (name)",
            "DROP INDEX users_name",
        ),
        Migration::new(
            4,
            "backfill_email",
            Step::sql("UPDATE users SET email = lower(name) || '@example.com'"),
        ),
    ];
    let checked = Harness::new(Migrator::new().with_migrations(list))
        .seed_at(
            1,
            "INSERT INTO users (id, name) VALUES (1, 'Ada'), (2, 'Grace')",
        )
        .seed_with(3, |client| {
            client.execute(
                "INSERT INTO users (id, name) VALUES ($1, $2)",
                &[&3i64, &"Edsger"],
            )?;
            Ok(())
        })
        .check()
        .unwrap();

    assert_eq!(checked.report.applied, [1, 2, 3, 4]);
    assert_eq!(checked.report.round_trips, [1, 2, 3]);
    assert_eq!(
        checked.report.irreversible,
        [(4, "backfill_email".to_owned())]
    );
    assert!(
        checked
            .report
            .schema
            .contains("-- index public.users_name\n"),
        "{}",
        checked.report.schema
    );
    let mut client = checked.db.client();
    assert_eq!(applied(&mut client), [1, 2, 3, 4]);
    let emails: Vec<String> = client
        .query("SELECT email FROM users ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        emails,
        ["ada@example.com", "grace@example.com", "edsger@example.com"]
    );
}

#[test]
fn a_down_that_forgets_its_index_fails_naming_the_migration_and_the_index() {
    let Some(db) = db() else { return };
    let list = vec![
        users(),
        sql(
            2,
            "index_names",
            "CREATE INDEX users_name ON users (name)",
            "SELECT 1",
        ),
    ];

    let (seq, name, problem) = failure_on(Harness::new(Migrator::new().with_migrations(list)), &db);

    assert_eq!((seq, name.as_str()), (2, "index_names"));
    assert_eq!(
        problem,
        "its down does not restore the schema it started from (added: index public.users_name)"
    );
    // The database shows it: migration 2 reverted in the tracking rows, its index still there.
    let mut client = db.client();
    assert_eq!(applied(&mut client), [1]);
    assert!(exists(&mut client, "public.users_name"));
}

#[test]
fn a_down_that_restores_a_column_with_another_type_is_caught() {
    let Some(db) = db() else { return };
    let list = vec![
        users(),
        sql(
            2,
            "widen_name",
            "ALTER TABLE users ALTER COLUMN name TYPE varchar(200)",
            "ALTER TABLE users ALTER COLUMN name TYPE varchar(100)",
        ),
    ];

    let (seq, _, problem) = failure_on(Harness::new(Migrator::new().with_migrations(list)), &db);

    assert_eq!(seq, 2);
    assert!(problem.contains("changed: table public.users"), "{problem}");
    let mut client = db.client();
    let column_type: String = client
        .query_one(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
             WHERE attrelid = 'public.users'::regclass AND attname = 'name'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(column_type, "character varying(100)");
}

#[test]
fn a_migration_that_loses_seeded_rows_fails_unless_declared_destructive() {
    let (Some(db), Some(declared), Some(guarded)) = (db(), db(), db()) else {
        return;
    };
    let dedupe = || {
        Migration::new(
            2,
            "dedupe_names",
            Step::sql("DELETE FROM users a USING users b WHERE a.name = b.name AND a.id > b.id"),
        )
    };
    let seed = "INSERT INTO users (id, name) VALUES (1, 'ada'), (2, 'ada'), (3, 'ada')";

    // The runner's row-count guard refuses the undeclared loss; the harness names the migration.
    let harness =
        Harness::new(Migrator::new().with_migrations(vec![users(), dedupe()])).seed_at(1, seed);
    let (seq, name, problem) = failure_on(harness, &guarded);
    assert_eq!((seq, name.as_str()), (2, "dedupe_names"));
    assert!(
        problem.contains("the migration left fewer rows than it found: public.users 3 -> 1"),
        "{problem}"
    );

    // With the operator's override the runner lets it through, and the harness's own row
    // counts still catch the loss.
    let harness = Harness::new(
        Migrator::new()
            .allow_destructive()
            .with_migrations(vec![users(), dedupe()]),
    )
    .seed_at(1, seed);
    let (seq, name, problem) = failure_on(harness, &db);

    assert_eq!((seq, name.as_str()), (2, "dedupe_names"));
    assert_eq!(
        problem,
        "it lost rows (public.users 3 -> 1) without declaring itself `destructive`"
    );
    // The check stopped right after the up that lost them.
    let mut client = db.client();
    assert_eq!(applied(&mut client), [1, 2]);
    assert_eq!(count(&mut client, "users"), 1);

    // Declared destructive, the same migration passes (and the loss is real).
    let mut destructive = dedupe();
    destructive.flags.destructive = true;
    let report = Harness::new(Migrator::new().with_migrations(vec![users(), destructive]))
        .seed_at(1, seed)
        .check_on(declared.connect())
        .unwrap();
    assert_eq!(report.applied, [1, 2]);
    assert_eq!(count(&mut declared.client(), "users"), 1);
}

#[test]
fn a_migration_that_drops_a_seeded_table_fails_unless_declared_destructive_and_a_rename_passes() {
    let (Some(db), Some(renamed)) = (db(), db()) else {
        return;
    };
    let seed = "INSERT INTO users (id, name) VALUES (1, 'ada'), (2, 'bob'), (3, 'cy')";
    let drop_users = Migration::new(2, "drop_users", Step::sql("DROP TABLE users"));
    let harness =
        Harness::new(Migrator::new().with_migrations(vec![users(), drop_users])).seed_at(1, seed);
    let (seq, name, problem) = failure_on(harness, &db);
    assert_eq!((seq, name.as_str()), (2, "drop_users"));
    assert!(problem.contains("public.users"), "{problem}");
    let mut client = db.client();
    assert!(!exists(&mut client, "public.users"));
    assert_eq!(applied(&mut client), [1, 2]);

    // A rename keeps every row: no loss.
    let rename = sql(
        2,
        "rename_users",
        "ALTER TABLE users RENAME TO people",
        "ALTER TABLE people RENAME TO users",
    );
    let report = Harness::new(Migrator::new().with_migrations(vec![users(), rename]))
        .seed_at(1, seed)
        .check_on(renamed.connect())
        .unwrap();
    assert_eq!(report.round_trips, [1, 2]);
    assert_eq!(count(&mut renamed.client(), "people"), 3);
}

#[test]
fn check_on_a_database_that_holds_tables_is_refused_before_anything_changes() {
    let Some(db) = db() else { return };
    // A database in use: migrated, with data.
    Migrator::new()
        .with_migrations(vec![users()])
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    db.client()
        .batch_execute("INSERT INTO users VALUES (1, 'ada'), (2, 'bob')")
        .unwrap();
    // A check reverts every migration: pointed at this database by mistake, it found
    // `create_users` applied and ran its down, dropping the table and its rows.
    let err = Harness::new(Migrator::new().with_migrations(vec![users()]))
        .check_on(db.connect())
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("needs an empty database") && text.contains("public.users"),
        "{text}"
    );
    let mut client = db.client();
    assert_eq!(count(&mut client, "users"), 2);
    assert_eq!(applied(&mut client), [1]);
}

#[test]
fn a_failing_seed_names_the_migration_it_follows() {
    let Some(db) = db() else { return };
    let harness = Harness::new(Migrator::new().with_migrations(vec![users(), add_email()]))
        .seed_at(1, "INSERT INTO users (id) VALUES (1)");

    let (seq, _, problem) = failure_on(harness, &db);

    assert_eq!(seq, 1);
    assert!(problem.starts_with("the seed after it failed"), "{problem}");
    assert!(problem.contains("23502"), "not-null violation: {problem}");
    let mut client = db.client();
    assert_eq!(applied(&mut client), [1]);
    assert_eq!(count(&mut client, "users"), 0);
}

/// A dump of a "production" database at migration 2 with rows.
fn production_dump(dir: &Path) -> (testing::TestDatabase, std::path::PathBuf) {
    let prod = testing::server().unwrap().database();
    Migrator::new()
        .with_migrations(vec![users(), add_email()])
        .on(prod.connect())
        .unwrap()
        .up()
        .unwrap();
    prod.client()
        .batch_execute("INSERT INTO users VALUES (1, 'ada', 'ada@example.com')")
        .unwrap();
    let backups = Backups::new(&prod.config(), dir);
    let dump = backups
        .back_up(&mut prod.connect(), BackupKind::Manual)
        .unwrap();
    (prod, dump.path)
}

#[test]
fn upgrade_copy_of_a_dump_runs_the_pending_migrations_on_a_copy_only() {
    if testing::server().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (prod, dump) = production_dump(dir.path());
    let bytes = std::fs::read(&dump).unwrap();
    let list = vec![
        users(),
        add_email(),
        sql(
            3,
            "add_nick",
            "ALTER TABLE users ADD COLUMN nick text; UPDATE users SET nick = name",
            "ALTER TABLE users DROP COLUMN nick",
        ),
    ];

    let upgraded = Harness::new(Migrator::new().with_migrations(list))
        .upgrade_copy_of(&dump)
        .unwrap();

    let ran: Vec<u64> = upgraded.run.steps.iter().map(|s| s.seq).collect();
    assert_eq!(ran, [3]);
    assert!(upgraded.status.is_clean(), "{}", upgraded.status);
    let mut copy = upgraded.copy.client();
    assert_eq!(applied(&mut copy), [1, 2, 3]);
    let nick: String = copy
        .query_one("SELECT nick FROM users WHERE id = 1", &[])
        .unwrap()
        .get(0);
    assert_eq!(nick, "ada");
    // The source database and the file are untouched.
    let mut source = prod.client();
    assert_eq!(applied(&mut source), [1, 2]);
    let nick_columns: i64 = source
        .query_one(
            "SELECT count(*) FROM information_schema.columns WHERE column_name = 'nick'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(nick_columns, 0);
    assert_eq!(std::fs::read(&dump).unwrap(), bytes);
}

#[test]
fn upgrade_copy_of_a_damaged_dump_fails_naming_it_and_leaves_the_file() {
    if testing::server().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_prod, dump) = production_dump(dir.path());
    let bytes = std::fs::read(&dump).unwrap();
    let damaged = dir.path().join("damaged.dump");
    std::fs::write(&damaged, &bytes[..bytes.len() / 2]).unwrap();

    let err = Harness::new(Migrator::new().with_migrations(vec![users(), add_email()]))
        .upgrade_copy_of(&damaged)
        .unwrap_err();

    let Error::UpgradeCopyFailed { dump, stderr } = &err else {
        panic!("expected UpgradeCopyFailed, got {err}");
    };
    assert_eq!(dump, &damaged);
    assert!(!stderr.is_empty());
    assert!(err.to_string().contains("pg_restore --list"), "{err}");
    assert_eq!(std::fs::read(&damaged).unwrap().len(), bytes.len() / 2);
}

/// Set in the child run of the snapshot test: write the snapshot to this path.
const SNAPSHOT_CHILD: &str = "MIGRATE_PG_SNAPSHOT_CHILD";

#[test]
fn schema_snapshot_mismatch_fails_with_a_diff_and_the_env_var_rewrites_it() {
    if testing::server().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("schema.pg.sql");
    let migrator = || Migrator::new().with_migrations(vec![users(), add_email()]);
    let schema = schema_snapshot(migrator()).unwrap();
    assert!(
        schema.starts_with("-- constraint public.users.users_pkey\nPRIMARY KEY (id)\n"),
        "{schema}"
    );
    assert!(
        schema.contains(
            "-- table public.users\nid bigint NOT NULL\nname text NOT NULL\nemail text\n"
        ),
        "{schema}"
    );

    // As committed before add_email: the comparison fails with the diff.
    let committed = schema_snapshot(Migrator::new().with_migrations(vec![users()])).unwrap();
    std::fs::write(&file, &committed).unwrap();
    let panic = std::panic::catch_unwind(|| assert_schema_snapshot(migrator(), &file)).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains(&file.display().to_string()), "{message}");
    assert!(message.contains("+email text\n"), "{message}");
    assert!(message.contains(" name text NOT NULL\n"), "{message}");
    assert!(message.contains("MIGRATE_UPDATE_SCHEMA=1"), "{message}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), committed);

    // MIGRATE_UPDATE_SCHEMA=1 (in a child run of this binary: the environment is per
    // process) rewrites the file; then the comparison passes.
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "user_harness::snapshot_child_writes_the_file",
            "--exact",
            "--test-threads=1",
        ])
        .env("MIGRATE_UPDATE_SCHEMA", "1")
        .env(SNAPSHOT_CHILD, &file)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), schema);
    assert_schema_snapshot(migrator(), &file);
}

/// Runs only as the child of the snapshot test.
#[test]
fn snapshot_child_writes_the_file() {
    let Some(path) = std::env::var_os(SNAPSHOT_CHILD) else {
        return;
    };
    assert_schema_snapshot(
        Migrator::new().with_migrations(vec![users(), add_email()]),
        path,
    );
}

#[test]
fn a_template_gives_independent_fully_migrated_databases() {
    if testing::server().is_none() {
        return;
    }
    let template =
        Template::new(Migrator::new().with_migrations(vec![users(), add_email()])).unwrap();
    let (a, b) = (template.fresh().unwrap(), template.fresh().unwrap());
    assert_ne!(a.name, b.name);
    let mut client_a = a.client();
    client_a
        .batch_execute("INSERT INTO users VALUES (1, 'only in a', NULL)")
        .unwrap();
    let mut client_b = b.client();
    assert_eq!(count(&mut client_b, "users"), 0);
    assert_eq!(applied(&mut client_a), [1, 2]);
    assert_eq!(applied(&mut client_b), [1, 2]);
    // Each copy is a migrated database the migrator recognises: nothing to do.
    let mut session = Migrator::new()
        .with_migrations(vec![users(), add_email()])
        .on(b.connect())
        .unwrap();
    assert!(session.up().unwrap().steps.is_empty());
    drop(session);

    // Copies made at the same time, while other copies are in use.
    let copies: Vec<testing::TestDatabase> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| template.fresh().unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for copy in &copies {
        assert_eq!(count(&mut copy.client(), "users"), 0);
    }
}

#[test]
fn sealing_a_template_ends_its_sessions_and_refuses_new_ones() {
    let Some(prepared) = db() else { return };
    let mut lingering = prepared.client();
    lingering
        .batch_execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2)")
        .unwrap();
    let config = prepared.config();

    let template = Template::from_database(prepared).unwrap();

    assert!(
        lingering.batch_execute("SELECT 1").is_err(),
        "the session was ended"
    );
    let Err(refused) = config.connect(postgres::NoTls) else {
        panic!("a new session on the template was accepted");
    };
    let message = refused.as_db_error().map(|e| e.message().to_owned());
    assert!(
        message
            .as_deref()
            .is_some_and(|m| m.contains("not currently accepting connections")),
        "{refused:?}"
    );
    let copy = template.fresh().unwrap();
    assert_eq!(count(&mut copy.client(), "t"), 2);
}
