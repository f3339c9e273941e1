//! The test harness on deliberately broken migrations: each must fail naming the migration and
//! the difference; good ones pass, irreversible ones are listed.

mod common;
use common::*;
use migrate_sqlite::testing::{Harness, Template, assert_schema_snapshot, schema_snapshot};
use migrate_sqlite::{Error, Flags, Migration, Migrator, Step};

fn users() -> Migration {
    sql(
        1,
        "create_users",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        "DROP TABLE users",
    )
}

fn check(list: Vec<Migration>) -> Result<migrate_sqlite::testing::CheckedDb, Error> {
    Harness::new(Migrator::new().with_migrations(list)).check()
}

fn failure(list: Vec<Migration>, seed: Option<(u64, &str)>) -> (u64, String, String) {
    let mut harness = Harness::new(Migrator::new().with_migrations(list));
    if let Some((seq, sql)) = seed {
        harness = harness.seed_at(seq, sql);
    }
    match harness.check() {
        Err(Error::CheckFailed { seq, name, problem }) => (seq, name, problem),
        Err(other) => panic!("expected CheckFailed, got {other}"),
        Ok(db) => panic!("the check passed: {}", db.report),
    }
}

#[test]
fn good_migrations_pass_and_irreversible_ones_are_listed() {
    let list = vec![
        users(),
        sql(
            2,
            "index_names",
            "CREATE INDEX users_name ON users (name)",
            "DROP INDEX users_name",
        ),
        Migration::new(
            3,
            "seed_admin",
            Step::sql("INSERT INTO users (name) VALUES ('admin')"),
        ),
    ];
    let db = check(list).unwrap();
    assert_eq!(db.report.applied, [1, 2, 3]);
    assert_eq!(db.report.round_trips, [1, 2]);
    assert_eq!(db.report.irreversible, [(3, "seed_admin".to_owned())]);
    assert!(
        db.report
            .to_string()
            .contains("irreversible: 3 \"seed_admin\"")
    );
    assert!(db.report.schema.contains("CREATE INDEX users_name"));
}

#[test]
fn a_down_that_forgets_an_index_fails_naming_it() {
    let list = vec![
        users(),
        sql(
            2,
            "index_names",
            "CREATE INDEX users_name ON users (name)",
            "SELECT 1",
        ),
    ];
    let (seq, name, problem) = failure(list, None);
    assert_eq!((seq, name.as_str()), (2, "index_names"));
    assert_eq!(
        problem,
        "its down does not restore the schema it started from (added: index users_name)"
    );
}

#[test]
fn a_down_that_changes_a_table_differently_is_caught() {
    let list = vec![
        users(),
        sql(
            2,
            "add_email",
            "ALTER TABLE users ADD COLUMN email TEXT",
            "ALTER TABLE users RENAME COLUMN email TO old_email",
        ),
    ];
    let (seq, _, problem) = failure(list, None);
    assert_eq!(seq, 2);
    assert!(problem.contains("changed: table users"), "{problem}");
}

#[test]
fn a_migration_that_violates_a_foreign_key_fails_naming_it() {
    let list = vec![
        users(),
        sql(
            2,
            "create_posts",
            "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id))",
            "DROP TABLE posts",
        ),
        Migration::new(
            3,
            "orphan_post",
            Step::sql("INSERT INTO posts VALUES (1, 99)"),
        ),
    ];
    let (seq, name, problem) = failure(list, None);
    assert_eq!((seq, name.as_str()), (3, "orphan_post"));
    assert!(problem.contains("foreign key violation"), "{problem}");
    assert!(problem.contains("posts rowid 1 -> users"), "{problem}");
}

#[test]
fn a_data_migration_that_loses_rows_fails_on_seeded_data() {
    let dedupe = Migration::new(
        2,
        "dedupe_names",
        // Meant to delete duplicates, deletes everything but one row.
        Step::sql("DELETE FROM users WHERE id NOT IN (SELECT min(id) FROM users)"),
    );
    let seed = "INSERT INTO users (name) VALUES ('ada'), ('grace'), ('ada')";
    // The runner refuses the undeclared DELETE; the harness names the migration.
    let (seq, name, problem) = failure(vec![users(), dedupe.clone()], Some((1, seed)));
    assert_eq!((seq, name.as_str()), (2, "dedupe_names"));
    assert!(
        problem.contains("drops or deletes data without declaring it: DELETE FROM users"),
        "{problem}"
    );
    // With the operator's override the runner lets it through, and the harness's own row
    // counts still catch the loss.
    let (_, _, problem) = match Harness::new(
        Migrator::new()
            .allow_destructive()
            .with_migrations(vec![users(), dedupe.clone()]),
    )
    .seed_at(1, seed)
    .check()
    {
        Err(Error::CheckFailed { seq, name, problem }) => (seq, name, problem),
        other => panic!("expected CheckFailed, got {:?}", other.map(|db| db.report)),
    };
    assert_eq!(
        problem,
        "it lost rows (users 3 -> 1) without declaring itself `destructive`"
    );
    // Declared destructive, the same loss is accepted.
    let declared = dedupe.with_flags(Flags::NONE.with_destructive(true));
    Harness::new(Migrator::new().with_migrations(vec![users(), declared]))
        .seed_at(1, seed)
        .assert_ok();
}

#[test]
fn seeds_run_after_their_migration_and_later_migrations_see_them() {
    let backfill = Migration::new(
        3,
        "backfill_email",
        Step::sql("UPDATE users SET email = lower(name) || '@example.com'"),
    );
    let list = vec![
        users(),
        sql(
            2,
            "add_email",
            "ALTER TABLE users ADD COLUMN email TEXT",
            "ALTER TABLE users DROP COLUMN email",
        ),
        backfill,
    ];
    let db = Harness::new(Migrator::new().with_migrations(list))
        .seed_with(1, |conn| {
            conn.execute("INSERT INTO users (name) VALUES (?1)", ["Ada"])?;
            Ok(())
        })
        .check()
        .unwrap();
    let email: String = db
        .conn
        .query_row("SELECT email FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(email, "ada@example.com");
}

#[test]
fn upgrading_a_copy_never_touches_the_original() {
    let db = temp_db();
    migrator(vec![users()])
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    rusqlite::Connection::open(&db.path)
        .unwrap()
        .execute("INSERT INTO users (name) VALUES ('ada')", [])
        .unwrap();
    let before = bytes(&db.path);
    let list = vec![
        users(),
        sql(
            2,
            "add_email",
            "ALTER TABLE users ADD COLUMN email TEXT",
            "ALTER TABLE users DROP COLUMN email",
        ),
    ];
    let upgraded = Harness::new(Migrator::new().with_migrations(list))
        .upgrade_copy_of(&db.path)
        .unwrap();
    assert_eq!(upgraded.run.steps.len(), 1);
    assert!(upgraded.status.is_clean(), "{}", upgraded.status);
    let name: String = upgraded
        .conn
        .query_row("SELECT name FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(name, "ada");
    assert_eq!(bytes(&db.path), before, "the original changed");
    assert!(!db.path.with_extension("db.backups").exists());
}

#[test]
fn schema_snapshots_compare_and_update() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("schema.sql");
    let list = || Migrator::new().with_migrations(vec![users()]);
    std::fs::write(&file, schema_snapshot(list()).unwrap()).unwrap();
    assert_schema_snapshot(list(), &file);
    std::fs::write(&file, "CREATE TABLE something_else (x);\n").unwrap();
    let panic = std::panic::catch_unwind(|| assert_schema_snapshot(list(), &file)).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("MIGRATE_UPDATE_SCHEMA=1"), "{message}");
    // The difference as a diff: `-` kept, `+` now.
    assert!(
        message.contains("-CREATE TABLE something_else (x);\n+CREATE TABLE users"),
        "{message}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "CREATE TABLE something_else (x);\n"
    );
}

#[test]
fn template_copies_are_independent_and_migrated() {
    let list: Vec<Migration> = tables(20);
    let template = Template::new(Migrator::new().with_migrations(list)).unwrap();
    let a = template.fresh().unwrap();
    let b = template.fresh().unwrap();
    a.execute("INSERT INTO t1 (v) VALUES ('only in a')", [])
        .unwrap();
    let in_b: i64 = b
        .query_row("SELECT count(*) FROM t1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(in_b, 0);
    assert_eq!(applied_seqs(&a).len(), 20);
    // A second template of the same migrations in the same binary loads the cached file.
    let again = Template::new(Migrator::new().with_migrations(tables(20))).unwrap();
    assert_eq!(applied_seqs(&again.fresh().unwrap()).len(), 20);
}
