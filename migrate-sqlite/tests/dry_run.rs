//! The dry run: every pending migration run in a transaction that is rolled back, reporting its
//! statements, schema changes and row counts, on real files that must come out unchanged.

mod common;
use common::*;
use migrate_sqlite::{
    Direction, DownTarget, DroppedColumn, DryRun, DryRunOperation, DryRunOutcome, Error, Flags,
    Migration, Migrator, RowCount, SchemaDiff, Status, Step, TxMode,
};
use rusqlite::Connection;
use std::collections::BTreeSet;
use std::path::Path;

/// The names in the database's directory (journal, backups, lock file would all show).
fn dir_listing(db: &Path) -> BTreeSet<String> {
    std::fs::read_dir(db.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// A library's life: books created and filled by earlier migrations, then three pending ones
/// (an SQL rebuild, a closure with bound parameters, an index).
fn library() -> Vec<Migration> {
    vec![
        sql(
            1,
            "create_books",
            "CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL)",
            "DROP TABLE books",
        ),
        sql(
            2,
            "seed_books",
            "INSERT INTO books (title) VALUES ('Dune'), ('Emma')",
            "DELETE FROM books",
        ),
        sql(
            3,
            "rebuild_books",
            "CREATE TABLE books_new (id INTEGER PRIMARY KEY, title TEXT NOT NULL, isbn TEXT);
             INSERT INTO books_new (id, title) SELECT id, title FROM books;
             DROP TABLE books;
             ALTER TABLE books_new RENAME TO books;",
            "SELECT 1",
        )
        .with_flags(Flags::NONE.with_rebuilds_tables(true)),
        Migration::new(
            4,
            "authors",
            Step::new(|tx| {
                tx.execute_batch("CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT)")?;
                for name in ["Herbert", "Austen", "O'Brien"] {
                    tx.execute("INSERT INTO authors (name) VALUES (?1)", [name])?;
                }
                assert_eq!(tx.row_count("authors")?, 3);
                Ok(())
            }),
        ),
        sql(
            5,
            "index_and_cleanup",
            "CREATE INDEX books_title ON books (title); DELETE FROM books WHERE title = 'Emma'",
            "DROP INDEX books_title",
        )
        .with_flags(Flags::NONE.with_destructive(true)),
    ]
}

/// A database at seq 2 (two books), written by a real run without backups.
fn library_at_2() -> TempDb {
    let db = temp_db();
    migrator(library())
        .open(&db.path)
        .unwrap()
        .up_to(2)
        .unwrap();
    db
}

#[test]
fn statements_are_listed_in_order_for_sql_and_closure_steps() {
    let db = library_at_2();
    let dry = migrator(library())
        .open(&db.path)
        .unwrap()
        .dry_run()
        .unwrap();

    assert_eq!(dry.set, "default");
    assert_eq!(dry.current, Some(2));
    let seqs: Vec<u64> = dry.migrations.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [3, 4, 5]);
    assert!(dry.is_ok(), "{dry}");
    assert!(dry.failure().is_none());
    assert!(dry.migrations.iter().all(|m| m.status == Status::Pending));

    assert_eq!(
        dry.migrations[0].statements,
        [
            "CREATE TABLE books_new (id INTEGER PRIMARY KEY, title TEXT NOT NULL, isbn TEXT)",
            "INSERT INTO books_new (id, title) SELECT id, title FROM books",
            "DROP TABLE books",
            "ALTER TABLE books_new RENAME TO books",
        ]
    );
    // Bound parameters expanded; the step's own row_count query is a statement it ran.
    assert_eq!(
        dry.migrations[1].statements,
        [
            "CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT)",
            "INSERT INTO authors (name) VALUES ('Herbert')",
            "INSERT INTO authors (name) VALUES ('Austen')",
            "INSERT INTO authors (name) VALUES ('O''Brien')",
            "SELECT count(*) FROM \"authors\"",
        ]
    );
    assert_eq!(
        dry.migrations[2].statements,
        [
            "CREATE INDEX books_title ON books (title)",
            "DELETE FROM books WHERE title = 'Emma'",
        ]
    );
}

#[test]
fn schema_changes_and_row_counts_are_reported_per_migration() {
    let db = library_at_2();
    let dry = migrator(library())
        .open(&db.path)
        .unwrap()
        .dry_run()
        .unwrap();
    let [rebuild, authors, index] = &dry.migrations[..] else {
        panic!("{dry}");
    };

    // The rebuild: same name, new definition, rows carried over.
    assert_eq!(
        rebuild.schema,
        SchemaDiff {
            changed: vec!["table books".into()],
            ..SchemaDiff::default()
        }
    );
    assert_eq!(rebuild.tables_altered(), ["books"]);
    assert!(rebuild.tables_created().is_empty() && rebuild.tables_dropped().is_empty());
    assert_eq!(
        rebuild.row_counts,
        [RowCount {
            table: "books".into(),
            before: Some(2),
            after: Some(2)
        }]
    );
    assert_eq!(rebuild.row_count_changes().count(), 0);

    // Each migration starts from where the previous one left the (uncommitted) database.
    assert_eq!(authors.tables_created(), ["authors"]);
    assert_eq!(
        authors.row_count_changes().collect::<Vec<_>>(),
        [&RowCount {
            table: "authors".into(),
            before: None,
            after: Some(3)
        }]
    );

    assert_eq!(index.schema.added, ["index books_title"]);
    assert!(index.tables_created().is_empty());
    assert_eq!(
        index.row_counts,
        [
            RowCount {
                table: "authors".into(),
                before: Some(3),
                after: Some(3)
            },
            RowCount {
                table: "books".into(),
                before: Some(2),
                after: Some(1)
            },
        ]
    );

    let text = dry.to_string();
    for line in [
        "set \"default\": dry run of 3 pending migrations (rolled back; nothing was changed)",
        "would apply 3 \"rebuild_books\" (pending)",
        "    DROP TABLE books;",
        "  schema: changed: table books",
        "would apply 4 \"authors\" (pending)",
        "    INSERT INTO authors (name) VALUES ('O''Brien');",
        "  schema: added: table authors",
        "  rows: authors - -> 3",
        "  schema: added: index books_title",
        "  rows: books 2 -> 1",
        "up would apply all 3",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
}

#[test]
fn the_file_is_unchanged_and_nothing_is_left_beside_it() {
    let db = library_at_2();
    let before = bytes(&db.path);
    let listing = dir_listing(&db.path);
    // With automatic backups on: the dry run must still take none.
    let mut session = Migrator::new()
        .with_migrations(library())
        .open(&db.path)
        .unwrap();
    let dry = session.dry_run().unwrap();
    assert_eq!(dry.migrations.len(), 3);
    // The session's connection is as it was: foreign keys back on (bundled SQLite's default),
    // nothing applied, and a second dry run sees the same.
    assert_eq!(pragma(session.connection(), "foreign_keys"), 1);
    assert!(session.connection().is_autocommit());
    assert_eq!(session.dry_run().unwrap(), dry);
    assert_eq!(session.status().unwrap().current, Some(2));
    drop(session);

    assert!(bytes(&db.path) == before, "the dry run changed the file");
    assert_eq!(dir_listing(&db.path), listing);
    assert!(!db.dir.path().join("app.db-journal").exists());
    assert!(!db.dir.path().join("app.db.backups").exists());
    let conn = Connection::open(&db.path).unwrap();
    assert!(!table_exists(&conn, "authors"));
    assert_eq!(applied_seqs(&conn), [1, 2]);
}

#[test]
fn a_database_without_tracking_tables_gets_none() {
    let db = temp_db();
    Connection::open(&db.path)
        .unwrap()
        .execute_batch("CREATE TABLE existing (x); INSERT INTO existing VALUES (1)")
        .unwrap();
    let before = bytes(&db.path);
    let listing = dir_listing(&db.path);
    let dry = Migrator::new()
        .with_migrations(library())
        .open(&db.path)
        .unwrap()
        .dry_run()
        .unwrap();
    assert_eq!(dry.current, None);
    assert_eq!(dry.migrations.len(), 5);
    assert!(dry.is_ok(), "{dry}");
    assert_eq!(
        dry.migrations[1].row_count_changes().collect::<Vec<_>>(),
        [&RowCount {
            table: "books".into(),
            before: Some(0),
            after: Some(2)
        }]
    );
    assert!(bytes(&db.path) == before, "the dry run changed the file");
    assert_eq!(dir_listing(&db.path), listing);
    let conn = Connection::open(&db.path).unwrap();
    let tracking: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name LIKE '\\_migrate\\_%' ESCAPE '\\'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tracking, 0);
}

#[test]
fn nothing_pending_is_an_empty_dry_run() {
    let db = temp_db();
    let mut session = migrator(library()).open(&db.path).unwrap();
    session.up().unwrap();
    let dry = session.dry_run().unwrap();
    assert!(dry.migrations.is_empty() && dry.is_ok());
    assert_eq!(dry.to_string(), "set \"default\": nothing to apply");
    assert_eq!(
        dry.to_json(),
        r#"{"set":"default","current":5,"ok":true,"migrations":[],"operation":"up"}"#
    );
}

#[test]
fn a_failing_migration_is_reported_and_the_dry_run_stops_there() {
    let db = library_at_2();
    let mut list = library();
    list[3] = Migration::new(
        4,
        "fails_on_purpose",
        Step::new(|tx| {
            tx.execute_batch("CREATE TABLE half_done (x); INSERT INTO half_done VALUES (1)")?;
            Err(Error::msg("migration 4 fails on purpose"))
        }),
    );
    let before = bytes(&db.path);
    let listing = dir_listing(&db.path);
    let dry = migrator(list).open(&db.path).unwrap().dry_run().unwrap();

    assert!(!dry.is_ok());
    assert_eq!(dry.migrations[0].outcome, DryRunOutcome::Succeeded);
    let failed = dry.failure().expect("a failure");
    assert_eq!(failed.seq, 4);
    assert_eq!(
        failed.outcome,
        DryRunOutcome::Failed {
            error: "migration 4 fails on purpose".into()
        }
    );
    assert_eq!(
        failed.statements,
        [
            "CREATE TABLE half_done (x)",
            "INSERT INTO half_done VALUES (1)"
        ]
    );
    // Rolled back: no schema or row changes claimed.
    assert!(failed.schema.is_empty() && failed.row_counts.is_empty());
    assert!(matches!(
        &dry.migrations[2].outcome,
        DryRunOutcome::NotRun { reason } if reason.contains("migration 4 before it failed")
    ));
    assert!(dry.migrations[2].statements.is_empty());

    let text = dry.to_string();
    assert!(
        text.contains("would FAIL 4 \"fails_on_purpose\" (pending): migration 4 fails on purpose"),
        "{text}"
    );
    assert!(text.contains("not run 5 \"index_and_cleanup\""), "{text}");
    assert!(
        text.ends_with("up would fail at 4 \"fails_on_purpose\""),
        "{text}"
    );

    assert!(bytes(&db.path) == before, "the dry run changed the file");
    assert_eq!(dir_listing(&db.path), listing);
}

#[test]
fn an_sql_error_a_refused_commit_and_a_panic_fail_the_migration() {
    for (step, expected) in [
        (
            Step::sql("CREATE TABLE t (x); INSERT INTO nowhere VALUES (1)"),
            "no such table: nowhere",
        ),
        (
            Step::sql("CREATE TABLE t (x); COMMIT"),
            "refused: the migration ran COMMIT",
        ),
        (
            Step::new(|tx| {
                tx.execute_batch("CREATE TABLE t (x)")?;
                panic!("boom")
            }),
            "boom",
        ),
    ] {
        let db = library_at_2();
        let before = bytes(&db.path);
        let list = vec![
            library().remove(0),
            library().remove(1),
            Migration::new(3, "bad", step),
        ];
        let dry = migrator(list).open(&db.path).unwrap().dry_run().unwrap();
        let failed = dry.failure().expect("a failure");
        let DryRunOutcome::Failed { error } = &failed.outcome else {
            unreachable!()
        };
        assert!(error.contains(expected), "{error}");
        assert_eq!(failed.statements[0], "CREATE TABLE t (x)");
        assert!(bytes(&db.path) == before, "{expected}: the file changed");
        let conn = Connection::open(&db.path).unwrap();
        assert!(!table_exists(&conn, "t"), "{expected}");
    }
}

#[test]
fn new_foreign_key_violations_fail_the_migration_as_in_a_real_run() {
    let db = temp_db();
    let list = vec![
        sql(
            1,
            "parents_and_children",
            "CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id))",
            "SELECT 1",
        ),
        sql(
            2,
            "orphan",
            "INSERT INTO child (parent_id) VALUES (42)",
            "SELECT 1",
        ),
    ];
    let before_foreign_keys = {
        let mut session = migrator(list.clone()).open(&db.path).unwrap();
        session.up_to(1).unwrap();
        pragma(session.connection(), "foreign_keys")
    };
    let before = bytes(&db.path);
    let mut session = migrator(list.clone()).open(&db.path).unwrap();
    let dry = session.dry_run().unwrap();
    let failed = dry.failure().expect("a failure");
    assert_eq!(failed.seq, 2);
    let DryRunOutcome::Failed { error } = &failed.outcome else {
        unreachable!()
    };
    assert!(error.contains("child"), "{error}");
    // Foreign keys were off during the run (the insert itself went through) and are back.
    assert_eq!(
        failed.statements,
        ["INSERT INTO child (parent_id) VALUES (42)"]
    );
    assert_eq!(
        pragma(session.connection(), "foreign_keys"),
        before_foreign_keys
    );
    drop(session);
    assert!(bytes(&db.path) == before);
    // The real run fails the same migration.
    let err = migrator(list).open(&db.path).unwrap().up().unwrap_err();
    assert!(err.to_string().contains("child"), "{err}");
}

#[test]
fn a_non_transactional_migration_stops_the_dry_run_before_it() {
    let db = library_at_2();
    let before = bytes(&db.path);
    let mut list = library();
    list[3] = Migration::new(4, "vacuum", Step::sql("VACUUM")).with_mode(TxMode::NonTransactional);
    let dry = migrator(list).open(&db.path).unwrap().dry_run().unwrap();
    let outcomes: Vec<(u64, &str)> = dry
        .migrations
        .iter()
        .map(|m| {
            let what = match &m.outcome {
                DryRunOutcome::Succeeded => "ok",
                DryRunOutcome::Failed { .. } => "failed",
                DryRunOutcome::NotRun { .. } => "not run",
            };
            (m.seq, what)
        })
        .collect();
    assert_eq!(outcomes, [(3, "ok"), (4, "not run"), (5, "not run")]);
    assert!(!dry.is_ok() && dry.failure().is_none());
    assert!(bytes(&db.path) == before);
}

#[test]
fn a_blocked_plan_is_refused_like_up() {
    let db = temp_db();
    let seed = "INSERT INTO books (title) VALUES ('Dune'), ('Emma')";
    let list = vec![
        library().remove(0),
        sql(2, "late_branch", "CREATE TABLE late (x)", "DROP TABLE late"),
        sql(3, "seed_books", seed, "DELETE FROM books"),
    ];
    migrator(list.clone())
        .open(&db.path)
        .unwrap()
        .up_to(1)
        .unwrap();
    // 3 recorded as applied on another branch, 2 not: 2 is out of order.
    Connection::open(&db.path)
        .unwrap()
        .execute(
            "INSERT INTO _migrate_applied
                 (set_name, seq, name, checksum, state, applied_at, duration_ms, applied_by)
             VALUES ('default', 3, 'seed_books', ?1, 'applied', '2026-01-01 00:00:00.000', 1, 'x')",
            [migrate_sqlite::Checksum::of_text(seed).to_string()],
        )
        .unwrap();
    let before = bytes(&db.path);
    let err = migrator(list.clone())
        .open(&db.path)
        .unwrap()
        .dry_run()
        .unwrap_err();
    let up_err = migrator(list.clone())
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    assert_eq!(err.to_string(), up_err.to_string());
    let dry = migrator(list)
        .allow_out_of_order()
        .open(&db.path)
        .unwrap()
        .dry_run()
        .unwrap();
    assert_eq!(dry.migrations.len(), 1);
    assert_eq!(dry.migrations[0].seq, 2);
    assert_eq!(dry.migrations[0].status, Status::OutOfOrder);
    assert!(dry.to_json().contains(r#""state":"out-of-order""#));
    assert!(bytes(&db.path) == before);
}

#[test]
fn a_borrowed_connection_in_a_transaction_is_refused() {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("BEGIN").unwrap();
    let err = migrator(library())
        .on(&mut conn)
        .unwrap()
        .dry_run()
        .unwrap_err();
    assert!(err.to_string().contains("inside a transaction"), "{err}");
}

#[test]
fn json_is_exact_for_a_simple_case() {
    let mut conn = Connection::open_in_memory().unwrap();
    let list = vec![Migration::new(
        1,
        "say \"hi\"",
        Step::sql("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('a\\b\ttab')"),
    )];
    let dry = migrator(list).on(&mut conn).unwrap().dry_run().unwrap();
    assert_eq!(
        dry.to_json(),
        concat!(
            r#"{"set":"default","current":null,"ok":true,"migrations":[{"seq":1,"#,
            r#""name":"say \"hi\"","state":"pending","outcome":"ok","detail":null,"#,
            r#""statements":["CREATE TABLE t (x TEXT)","INSERT INTO t VALUES ('a\\b\ttab')"],"#,
            r#""schema":{"added":["table t"],"removed":[],"changed":[]},"#,
            r#""tables":{"created":["t"],"dropped":[],"altered":[]},"#,
            r#""row_counts":[{"table":"t","before":null,"after":1}],"#,
            r#""direction":"up","columns_dropped":[]}],"operation":"up"}"#
        )
    );
}

#[test]
fn json_of_a_failing_run_parses() {
    let db = library_at_2();
    let mut list = library();
    list[3] = Migration::new(
        4,
        "fails\nwith \"quotes\"",
        Step::new(|_| Err(Error::msg("bad \\ value\u{1}\n"))),
    );
    let dry: DryRun = migrator(list).open(&db.path).unwrap().dry_run().unwrap();
    let json = dry.to_json();
    json::check(&json).unwrap_or_else(|at| panic!("invalid JSON at byte {at}: {json}"));
    assert!(
        json.contains(r#""outcome":"failed","detail":"bad \\ value\u0001\n""#),
        "{json}"
    );
    assert!(json.contains(r#""outcome":"not-run""#), "{json}");
    assert!(json.contains(r#""ok":false"#), "{json}");
}

/// A tiny JSON syntax checker (the crate has no JSON parser without the `cli` feature).
mod json {
    /// `Err(byte offset)` of the first error.
    pub fn check(text: &str) -> Result<(), usize> {
        let bytes = text.as_bytes();
        let end = value(bytes, skip_ws(bytes, 0))?;
        if skip_ws(bytes, end) == bytes.len() {
            Ok(())
        } else {
            Err(end)
        }
    }

    fn skip_ws(b: &[u8], mut i: usize) -> usize {
        while i < b.len() && b" \t\r\n".contains(&b[i]) {
            i += 1;
        }
        i
    }

    fn value(b: &[u8], i: usize) -> Result<usize, usize> {
        match b.get(i) {
            Some(b'{') => sequence(b, i, b'}', |b, i| {
                let i = string(b, i)?;
                let i = skip_ws(b, i);
                if b.get(i) != Some(&b':') {
                    return Err(i);
                }
                value(b, skip_ws(b, i + 1))
            }),
            Some(b'[') => sequence(b, i, b']', value),
            Some(b'"') => string(b, i),
            Some(b'-' | b'0'..=b'9') => {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_digit() || b".eE+-".contains(&b[j])) {
                    j += 1;
                }
                Ok(j)
            }
            _ => ["true", "false", "null"]
                .iter()
                .find(|w| b[i..].starts_with(w.as_bytes()))
                .map(|w| i + w.len())
                .ok_or(i),
        }
    }

    fn sequence(
        b: &[u8],
        i: usize,
        close: u8,
        item: fn(&[u8], usize) -> Result<usize, usize>,
    ) -> Result<usize, usize> {
        let mut i = skip_ws(b, i + 1);
        if b.get(i) == Some(&close) {
            return Ok(i + 1);
        }
        loop {
            i = skip_ws(b, item(b, i)?);
            match b.get(i) {
                Some(b',') => i = skip_ws(b, i + 1),
                Some(c) if *c == close => return Ok(i + 1),
                _ => return Err(i),
            }
        }
    }

    fn string(b: &[u8], i: usize) -> Result<usize, usize> {
        if b.get(i) != Some(&b'"') {
            return Err(i);
        }
        let mut j = i + 1;
        while let Some(&c) = b.get(j) {
            match c {
                b'"' => return Ok(j + 1),
                b'\\' => match b.get(j + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => j += 2,
                    Some(b'u')
                        if b.len() >= j + 6
                            && b[j + 2..j + 6].iter().all(u8::is_ascii_hexdigit) =>
                    {
                        j += 6
                    }
                    _ => return Err(j),
                },
                0..=0x1f => return Err(j),
                _ => j += 1,
            }
        }
        Err(j)
    }

    #[test]
    fn the_checker_rejects_what_it_should() {
        assert!(check(r#"{"a":[1,-2.5e3,true,null,"x\"\u00e9"],"b":{}}"#).is_ok());
        for bad in [
            r#"{"a":1,}"#,
            "[1 2]",
            "\"a\nb\"",
            r#"{"a"}"#,
            r#""\x""#,
            "nul",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }
}

#[test]
fn undeclared_destruction_fails_as_in_a_real_run() {
    let db = library_at_2();
    let list = vec![
        library().remove(0),
        library().remove(1),
        sql(3, "forget_books", "DELETE FROM books", "SELECT 1"),
    ];
    let dry = migrator(list.clone())
        .open(&db.path)
        .unwrap()
        .dry_run()
        .unwrap();
    let DryRunOutcome::Failed { error } = &dry.failure().expect("a failure").outcome else {
        unreachable!()
    };
    let up = migrator(list.clone())
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    assert!(error.contains("DELETE FROM books"), "{error}");
    assert!(up.to_string().contains(error.as_str()), "{up} / {error}");
    // The operator's override works for the dry run too.
    let dry = migrator(list)
        .allow_destructive()
        .open(&db.path)
        .unwrap()
        .dry_run()
        .unwrap();
    assert!(dry.is_ok(), "{dry}");
    assert_eq!(dry.migrations[0].row_counts[0].after, Some(0));
}

/// A table whose duplicates SQLite resolves by ROLLBACK (column constraint or trigger), seq 1.
fn rolling_back_tables() -> [(&'static str, &'static str); 2] {
    [
        (
            "ON CONFLICT ROLLBACK",
            "CREATE TABLE t (x UNIQUE ON CONFLICT ROLLBACK); INSERT INTO t VALUES (1);",
        ),
        (
            "RAISE(ROLLBACK)",
            "CREATE TABLE t (x); INSERT INTO t VALUES (1);
             CREATE TRIGGER no_dupes BEFORE INSERT ON t WHEN NEW.x = 1
                 BEGIN SELECT RAISE(ROLLBACK, 'duplicate'); END;",
        ),
    ]
}

/// seq 2 inserts 5; seq 3 inserts a duplicate (which ends the transaction), ignores the error,
/// and goes on writing, ignoring errors too; seq 4 creates a table.
fn after_a_lost_transaction(schema: &'static str) -> Vec<Migration> {
    vec![
        Migration::new(1, "t", Step::sql(schema)),
        Migration::new(2, "five", Step::sql("INSERT INTO t VALUES (5)")),
        Migration::new(
            3,
            "duplicate",
            Step::new(|tx| {
                let _ = tx.execute("INSERT INTO t VALUES (1)", []);
                let _ = tx.execute("INSERT INTO t VALUES (2)", []);
                let _ = tx.execute_batch("CREATE TABLE later (y)");
                Ok(())
            }),
        ),
        Migration::new(4, "z", Step::sql("CREATE TABLE z (x)")),
    ]
}

#[test]
fn a_conflict_resolved_by_rollback_cannot_make_the_dry_run_commit() {
    for (what, schema) in rolling_back_tables() {
        let db = temp_db();
        let list = after_a_lost_transaction(schema);
        migrator(list[..1].to_vec())
            .open(&db.path)
            .unwrap()
            .up()
            .unwrap();
        let before = bytes(&db.path);
        let files = dir_listing(&db.path);
        let dry = migrator(list).open(&db.path).unwrap().dry_run().unwrap();
        assert_eq!(bytes(&db.path), before, "{what}: the file changed");
        assert_eq!(dir_listing(&db.path), files);
        let conn = Connection::open(&db.path).unwrap();
        let rows: Vec<i64> = conn
            .prepare("SELECT x FROM t ORDER BY x")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(rows, [1], "{what}");
        assert!(!table_exists(&conn, "later"));
        assert_eq!(applied_seqs(&conn), [1]);
        let failed = dry.failure().unwrap_or_else(|| panic!("{what}: {dry}"));
        assert_eq!(failed.seq, 3, "{what}: {dry}");
        let DryRunOutcome::Failed { error } = &failed.outcome else {
            unreachable!()
        };
        assert!(error.contains("ended the transaction"), "{what}: {error}");
        assert!(
            error.contains("nothing after the conflict was committed"),
            "{what}: {error}"
        );
        assert!(dry.to_string().contains("nothing was changed"), "{dry}");
        assert_eq!(
            dry.migrations.len(),
            2,
            "stopped at the lost transaction: {dry}"
        );
    }
}

#[test]
fn the_dry_run_applies_the_table_rules_of_up() {
    let db = temp_db();
    let schema = "CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, team TEXT);
                  INSERT INTO people (email, team) VALUES ('a@x', 'red'), ('b@x', 'blue');";
    let base = || Migration::new(1, "people", Step::sql(schema));
    migrator(vec![base()]).open(&db.path).unwrap().up().unwrap();
    let before = bytes(&db.path);
    // A lossless rebuild, undeclared: up would apply it, and so says the plan.
    let lossless = Migration::new(
        2,
        "not_null",
        Step::sql(
            "CREATE TABLE people_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL, team TEXT);
             INSERT INTO people_new SELECT * FROM people;
             DROP TABLE people; ALTER TABLE people_new RENAME TO people;",
        ),
    );
    let dry = migrator(vec![base(), lossless])
        .open(&db.path)
        .unwrap()
        .dry_run()
        .unwrap();
    assert!(dry.is_ok(), "{dry}");
    // A column holding values dropped, undeclared: up would refuse it, and so says the plan.
    let drop_team = Migration::new(
        2,
        "drop_team",
        Step::sql("ALTER TABLE people DROP COLUMN team"),
    );
    let dry = migrator(vec![base(), drop_team])
        .open(&db.path)
        .unwrap()
        .dry_run()
        .unwrap();
    let Some(DryRunOutcome::Failed { error }) = dry.failure().map(|m| &m.outcome) else {
        panic!("{dry}")
    };
    assert!(error.contains("people.team"), "{error}");
    // A table dropped and not recreated, under `rebuild`: refused as by up.
    let drop_people = Migration::new(2, "drop", Step::sql("DROP TABLE people"))
        .with_flags(Flags::NONE.with_rebuilds_tables(true));
    let dry = migrator(vec![base(), drop_people])
        .open(&db.path)
        .unwrap()
        .dry_run()
        .unwrap();
    assert!(
        dry.failure()
            .is_some_and(|m| m.to_string().contains("DROP TABLE people")),
        "{dry}"
    );
    assert_eq!(bytes(&db.path), before);
    assert_eq!(applied_seqs(&Connection::open(&db.path).unwrap()), [1]);
}

// ----------------------------------------------------------------------------------------------
// Previewing a revert: `down`, `down_to`, `redo` run and rolled back

/// Books (irreversible), their ISBNs (down drops the column), loans (down drops the table),
/// and a cleanup whose down step deletes rows; with data in every table.
fn lending() -> Vec<Migration> {
    vec![
        Migration::new(
            1,
            "create_books",
            Step::sql("CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL)"),
        ),
        sql(
            2,
            "add_isbn",
            "ALTER TABLE books ADD COLUMN isbn TEXT",
            "ALTER TABLE books DROP COLUMN isbn",
        ),
        sql(
            3,
            "create_loans",
            "CREATE TABLE loans (id INTEGER PRIMARY KEY, book_id INTEGER REFERENCES books(id))",
            "DROP TABLE loans",
        ),
        sql(
            4,
            "add_notes",
            "ALTER TABLE books ADD COLUMN notes TEXT",
            "DELETE FROM books WHERE isbn IS NULL; ALTER TABLE books DROP COLUMN notes",
        ),
    ]
}

/// `lending()` applied to a file, with three books (one without an ISBN) and two loans.
fn lent() -> (TempDb, migrate_sqlite::Session<'static>) {
    let db = temp_db();
    let mut session = migrator(lending()).open(&db.path).unwrap();
    session.up().unwrap();
    session
        .connection()
        .execute_batch(
            "INSERT INTO books (title, isbn) VALUES ('Dune', '1'), ('Emma', '2'), ('Ulysses', NULL);
             INSERT INTO loans (book_id) VALUES (1), (2);",
        )
        .unwrap();
    (db, session)
}

#[test]
fn a_revert_preview_names_the_sql_the_dropped_tables_and_columns_and_the_rows_that_would_go() {
    let (db, mut session) = lent();
    let before = bytes(&db.path);
    let listing = dir_listing(&db.path);
    let preview = session.dry_run_down(DownTarget::To(1)).unwrap();

    assert!(preview.is_ok(), "{preview}");
    assert_eq!(preview.operation, DryRunOperation::Down(DownTarget::To(1)));
    assert_eq!(preview.current, Some(4));
    let seqs: Vec<(u64, Direction)> = preview
        .migrations
        .iter()
        .map(|m| (m.seq, m.direction))
        .collect();
    assert_eq!(
        seqs,
        [
            (4, Direction::Down),
            (3, Direction::Down),
            (2, Direction::Down)
        ]
    );
    let [notes, loans, isbn] = &preview.migrations[..] else {
        unreachable!()
    };
    assert_eq!(
        notes.statements,
        [
            "DELETE FROM books WHERE isbn IS NULL",
            "ALTER TABLE books DROP COLUMN notes"
        ]
    );
    assert_eq!(notes.rows_lost().collect::<Vec<_>>(), [("books", 1)]);
    assert_eq!(
        notes.columns_dropped,
        [DroppedColumn {
            table: "books".into(),
            column: "notes".into(),
            held_values: false
        }]
    );
    assert_eq!(loans.statements, ["DROP TABLE loans"]);
    assert_eq!(loans.tables_dropped(), ["loans"]);
    assert_eq!(loans.rows_lost().collect::<Vec<_>>(), [("loans", 2)]);
    assert_eq!(isbn.statements, ["ALTER TABLE books DROP COLUMN isbn"]);
    assert_eq!(
        isbn.columns_dropped,
        [DroppedColumn {
            table: "books".into(),
            column: "isbn".into(),
            held_values: true
        }]
    );
    assert_eq!(isbn.rows_lost().count(), 0);

    let text = preview.to_string();
    for expected in [
        "dry run of `migrate down --to 1`: 3 migrations reverted",
        "would revert 3 \"create_loans\" (applied)",
        "tables dropped: loans",
        "columns dropped: books.isbn (its values would go)",
        "rows that would go: loans 2",
        "would be lost: column books.notes (empty), 1 row(s) of books, table loans, 2 row(s) \
         of loans, column books.isbn (its values would go)",
        "to do it: `migrate down --to 1`",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    let json = preview.to_json();
    assert!(json.contains(r#""direction":"down""#), "{json}");
    assert!(
        json.contains(
            r#""columns_dropped":[{"table":"books","column":"isbn","held_values":true}]"#
        ),
        "{json}"
    );
    assert!(json.ends_with(r#""operation":"down --to 1"}"#), "{json}");

    // Nothing was reverted: the file is byte for byte as it was, nothing beside it.
    assert!(bytes(&db.path) == before, "the preview changed the file");
    assert_eq!(dir_listing(&db.path), listing);
    assert_eq!(session.status().unwrap().current, Some(4));
    let conn = session.connection();
    let loans: i64 = conn
        .query_row("SELECT count(*) FROM loans", [], |r| r.get(0))
        .unwrap();
    assert_eq!(loans, 2);
}

#[test]
fn a_revert_preview_is_refused_where_down_is_and_touches_nothing() {
    let (db, mut session) = lent();
    let before = bytes(&db.path);
    let listing = dir_listing(&db.path);
    // More steps than applied.
    let too_far = session.dry_run_down(DownTarget::Steps(5)).unwrap_err();
    assert!(
        matches!(
            too_far,
            Error::DownTooFar {
                steps: 5,
                applied: 4,
                ..
            }
        ),
        "{too_far:?}"
    );
    // An irreversible migration in the way: seq 1 has no down step.
    let stuck = session.dry_run_down(DownTarget::To(0)).unwrap_err();
    assert!(
        stuck
            .to_string()
            .contains("cannot revert 1 \"create_books\""),
        "{stuck}"
    );
    assert!(stuck.to_string().contains("`migrate restore --before 1`"));
    assert!(bytes(&db.path) == before);
    assert_eq!(dir_listing(&db.path), listing);
    // `down` refuses both the same way.
    let real = session.down(5).unwrap_err();
    assert_eq!(real.to_string(), too_far.to_string());
    let real = session.down_to(0).unwrap_err();
    assert_eq!(real.to_string(), stuck.to_string());
    assert_eq!(session.status().unwrap().current, Some(4));
}

#[test]
fn a_failing_down_step_is_reported_and_rolled_back() {
    let db = temp_db();
    let list = vec![sql(
        1,
        "t",
        "CREATE TABLE t (x)",
        "DROP TABLE t; DROP TABLE not_there",
    )];
    let mut session = migrator(list).open(&db.path).unwrap();
    session.up().unwrap();
    session
        .connection()
        .execute("INSERT INTO t VALUES (1)", [])
        .unwrap();
    let before = bytes(&db.path);
    let preview = session.dry_run_down(DownTarget::Steps(1)).unwrap();
    let failed = preview.failure().expect("the down step fails");
    assert_eq!(failed.direction, Direction::Down);
    assert!(
        matches!(&failed.outcome, DryRunOutcome::Failed { error } if error.contains("not_there")),
        "{failed:?}"
    );
    assert_eq!(failed.statements, ["DROP TABLE t"]);
    let text = preview.to_string();
    assert!(text.contains("would FAIL to revert 1 \"t\""), "{text}");
    assert!(
        text.ends_with(
            "`migrate down --steps 1` would fail at 1 \"t\" (down); nothing was changed"
        ),
        "{text}"
    );
    assert!(bytes(&db.path) == before);
    let rows: i64 = session
        .connection()
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
}

#[test]
fn a_redo_preview_reverts_and_applies_the_last_migration_again() {
    let (db, mut session) = lent();
    let before = bytes(&db.path);
    let preview = session.dry_run_redo().unwrap();
    assert!(preview.is_ok(), "{preview}");
    let steps: Vec<(u64, Direction)> = preview
        .migrations
        .iter()
        .map(|m| (m.seq, m.direction))
        .collect();
    assert_eq!(steps, [(4, Direction::Down), (4, Direction::Up)]);
    assert_eq!(
        preview.migrations[0].rows_lost().collect::<Vec<_>>(),
        [("books", 1)]
    );
    assert_eq!(
        preview.migrations[1].statements,
        ["ALTER TABLE books ADD COLUMN notes TEXT"]
    );
    assert!(preview.to_string().contains("to do it: `migrate redo`"));
    assert!(bytes(&db.path) == before);
    // Nothing applied: refused as `redo` is.
    let empty = temp_db();
    let mut fresh = migrator(lending()).open(&empty.path).unwrap();
    let refused = fresh.dry_run_redo().unwrap_err();
    assert!(refused.to_string().contains("nothing to redo"), "{refused}");
}

#[test]
fn a_revert_preview_of_an_in_memory_database_runs_on_its_own_connection_and_changes_nothing() {
    let mut conn = Connection::open_in_memory().unwrap();
    let mut session = migrator(lending()).on(&mut conn).unwrap();
    session.up().unwrap();
    let schema = session.schema().unwrap();
    let preview = session.dry_run_down(DownTarget::Steps(1)).unwrap();
    assert_eq!(preview.migrations.len(), 1);
    assert!(!preview.migrations[0].statements.is_empty());
    assert_eq!(session.status().unwrap().current, Some(4));
    assert_eq!(session.schema().unwrap(), schema, "nothing was reverted");
}
