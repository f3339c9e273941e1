//! What a user porting a long history from another tool reads: the refusal of a
//! timestamp-numbered history (one short problem, the opt-out named once, and the
//! `--allow-gaps` flag that lifts it), `status` with names longer than 32 characters, and the
//! outcome of a failure on a database no migration was applied to.

use migrate_sqlite::{Error, Migration, Migrator, Step};
use rusqlite::Connection;
use std::process::ExitCode;

/// Eight migrations numbered by date, as a ported diesel history keeps its versions.
fn timestamped() -> Vec<Migration> {
    (0..8u64)
        .map(|i| {
            let seq = 20180101000000 + i * 1_000_000;
            Migration::new(
                seq,
                format!("t{i}"),
                Step::sql(format!("CREATE TABLE t{i} (x)")),
            )
        })
        .collect()
}

#[test]
fn a_timestamp_numbered_history_is_refused_in_a_few_lines_and_allow_gaps_lifts_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let err = Migrator::new()
        .with_migrations(timestamped())
        .open(&path)
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(text.lines().count() <= 3, "{text}");
    assert!(text.contains("7 gaps in the numbering"), "{text}");
    assert!(
        text.contains("and 4 more, the last before 20180108000000 \"t7\""),
        "{text}"
    );
    assert_eq!(text.matches("allow_gaps()").count(), 1, "{text}");
    assert_eq!(
        text.matches("`migrate --allow-gaps up`").count(),
        1,
        "{text}"
    );
    assert!(!path.exists(), "a refused set creates no file");

    // The command line: refused (exit 3) without the flag, applied with it.
    let run = |args: &[&str]| {
        let mut argv = vec!["migrate"];
        argv.extend_from_slice(args);
        migrate_sqlite::cli::run(Migrator::new().with_migrations(timestamped()), &path, argv)
    };
    assert_eq!(
        run(&["up"]),
        ExitCode::from(migrate_sqlite::cli::EXIT_REFUSED)
    );
    assert!(!path.exists());
    assert_eq!(run(&["--allow-gaps", "up"]), ExitCode::SUCCESS);
    let conn = Connection::open(&path).unwrap();
    let applied: i64 = conn
        .query_row("SELECT count(*) FROM _migrate_applied", [], |r| r.get(0))
        .unwrap();
    assert_eq!(applied, 8);
}

#[test]
fn status_columns_are_as_wide_as_the_longest_name() {
    let names = [
        "20180101000000_create_users",
        "20180201120000_add_two_factor_authentication_to_users",
        "20190301000000_x",
    ];
    let list: Vec<Migration> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            Migration::new(
                i as u64 + 1,
                *name,
                Step::sql(format!("CREATE TABLE t{i} (x)")),
            )
        })
        .collect();
    let mut conn = Connection::open_in_memory().unwrap();
    let mut session = Migrator::new().with_migrations(list).on(&mut conn).unwrap();
    session.up_to(2).unwrap();
    let text = session.status().unwrap().to_string();
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(lines.len(), 4, "{text}");
    let header = lines[0];
    let state_at = header.find("state").unwrap();
    let applied_at = header.find("applied at (UTC)").unwrap();
    let down_at = header.find("down").unwrap();
    for line in &lines[1..] {
        let state = &line[state_at..];
        assert!(
            state.starts_with("applied") || state.starts_with("pending"),
            "state column misaligned:\n{text}"
        );
        assert_eq!(&line[state_at - 2..state_at], "  ", "{text}");
        assert!(!line[applied_at..].starts_with(' '), "{text}");
        assert!(
            line[down_at..].starts_with("yes") || line[down_at..].starts_with("no"),
            "{text}"
        );
    }
    // No wider than needed: the longest name is followed by the two-space gutter only.
    assert_eq!(
        state_at,
        header.find("name").unwrap() + names[1].len() + 2,
        "{text}"
    );
}

#[test]
fn a_failure_on_an_empty_database_says_no_migration_was_applied() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let list = vec![
        Migration::new(1, "create_t", Step::sql("CREATE TABLE t (x)")),
        Migration::new(2, "broken", Step::sql("CREATE TABLE")),
    ];
    let err = Migrator::new()
        .with_migrations(list)
        .without_backups()
        .open(&path)
        .unwrap()
        .up()
        .unwrap_err();
    let Error::MigrationFailed { outcome, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        outcome.starts_with(
            "Nothing from this run was kept: the database is as it was before the run (no \
             migration applied)."
        ),
        "{outcome}"
    );
    assert!(!err.to_string().contains("the start ("), "{err}");
    let conn = Connection::open(&path).unwrap();
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 't'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0, "the run was rolled back");
    let applied: i64 = conn
        .query_row("SELECT count(*) FROM _migrate_applied", [], |r| r.get(0))
        .unwrap();
    assert_eq!(applied, 0);
}
