//! Errors that compose with the rest of Rust: `?` on any error inside a migration keeps its
//! cause (`source()` returns it), every message is printed once by `Display` + `source()`
//! chains (anyhow's `{:#}`, error reporters), and `Debug` (what `fn main() -> Result<()>`
//! prints) shows the message, not a struct dump. Each failure leaves the database as it was.

mod common;
use common::*;
use migrate_sqlite::{Error, Migration, Step, Tx};
use rusqlite::Connection;

/// What anyhow's `{:#}` prints: the message and every source, joined by ": ".
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

/// The first error in the source chain of type `T`.
fn find_in_chain<T: std::error::Error + 'static>(error: &dyn std::error::Error) -> Option<&T> {
    let mut cause = error.source();
    while let Some(e) = cause {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        cause = e.source();
    }
    None
}

fn applied_count(path: &std::path::Path) -> i64 {
    let conn = Connection::open(path).unwrap();
    conn.query_row("SELECT count(*) FROM _migrate_applied", [], |r| r.get(0))
        .unwrap()
}

fn table_exists(path: &std::path::Path, table: &str) -> bool {
    let conn = Connection::open(path).unwrap();
    conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
        [table],
        |r| r.get::<_, i64>(0),
    )
    .unwrap()
        == 1
}

/// The failure row the runner wrote in the history, if any: (seq, detail).
fn failure_detail(path: &std::path::Path) -> (i64, String) {
    let conn = Connection::open(path).unwrap();
    conn.query_row(
        "SELECT seq, detail FROM _migrate_history WHERE outcome <> 'ok' ORDER BY id DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

/// A data migration that reads a seed file: `?` on the `io::Error` compiles and keeps it.
fn seed_from_file(tx: &Tx, file: &std::path::Path) -> migrate_sqlite::Result<()> {
    tx.execute_batch("CREATE TABLE prices (cents INTEGER NOT NULL)")?;
    let text = std::fs::read_to_string(file)?;
    for line in text.lines() {
        let cents: i64 = line.trim().parse().map_err(Error::other)?;
        tx.execute("INSERT INTO prices (cents) VALUES (?1)", [cents])?;
    }
    Ok(())
}

fn seeding(file: std::path::PathBuf) -> Vec<Migration> {
    vec![
        sql(1, "create_t", "CREATE TABLE t (x)", "DROP TABLE t"),
        Migration::new(
            2,
            "seed_prices",
            Step::new(move |tx| seed_from_file(tx, &file)),
        ),
    ]
}

#[test]
fn an_io_error_in_a_migration_keeps_its_cause_and_rolls_back() {
    let db = temp_db();
    let missing = db.dir.path().join("no-such-seed.txt");
    let err = migrator(seeding(missing.clone()))
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();

    assert!(
        matches!(err, Error::MigrationFailed { seq: 2, .. }),
        "{err:?}"
    );
    let io = find_in_chain::<std::io::Error>(&err).expect("the io::Error is in the chain");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    // Said once: in the chain (anyhow `{:#}`), in Debug, and not hidden in Display's text.
    let io_text = io.to_string();
    assert_eq!(chain(&err).matches(&io_text).count(), 1, "{}", chain(&err));
    assert_eq!(format!("{err:?}").matches(&io_text).count(), 1, "{err:?}");
    assert!(format!("{err:?}").contains("Caused by:"), "{err:?}");

    // All or nothing: neither migration is kept, the history names the I/O error.
    assert_eq!(applied_count(&db.path), 0);
    assert!(!table_exists(&db.path, "t"));
    assert!(!table_exists(&db.path, "prices"));
    let (seq, detail) = failure_detail(&db.path);
    assert_eq!(seq, 2);
    assert!(detail.contains(&io_text), "{detail}");
}

#[test]
fn a_parse_error_in_a_migration_keeps_its_cause_and_rolls_back() {
    let db = temp_db();
    let seed = db.dir.path().join("seed.txt");
    std::fs::write(&seed, "250\n12x\n").unwrap();
    let err = migrator(seeding(seed))
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();

    let parse = find_in_chain::<std::num::ParseIntError>(&err).expect("ParseIntError in chain");
    assert_eq!(
        chain(&err).matches(&parse.to_string()).count(),
        1,
        "{}",
        chain(&err)
    );
    assert_eq!(applied_count(&db.path), 0);
    assert!(
        !table_exists(&db.path, "prices"),
        "the first price row was rolled back too"
    );
}

#[test]
fn a_boxed_error_converts_with_the_question_mark() {
    fn parse_all(text: &str) -> Result<Vec<i64>, Box<dyn std::error::Error + Send + Sync>> {
        text.split(',').map(|s| Ok(s.trim().parse()?)).collect()
    }
    let db = temp_db();
    let list = vec![Migration::new(
        1,
        "seed",
        Step::new(|tx| {
            tx.execute_batch("CREATE TABLE n (v INTEGER)")?;
            for v in parse_all("1, 2, three")? {
                tx.execute("INSERT INTO n VALUES (?1)", [v])?;
            }
            Ok(())
        }),
    )];
    let err = migrator(list).open(&db.path).unwrap().up().unwrap_err();
    assert!(
        find_in_chain::<std::num::ParseIntError>(&err).is_some(),
        "{err:?}"
    );
    assert_eq!(applied_count(&db.path), 0);
    assert!(!table_exists(&db.path, "n"));
}

#[test]
fn the_sqlite_message_is_printed_once() {
    let db = temp_db();
    let list = vec![Migration::new(
        1,
        "broken",
        Step::sql("CREATE TABLE half (x); INSERT INTO no_such_table VALUES (1)"),
    )];
    let err = migrator(list).open(&db.path).unwrap().up().unwrap_err();
    let message = "no such table: no_such_table";
    for (how, text) in [
        ("Display", err.to_string()),
        ("Debug", format!("{err:?}")),
        ("chain", chain(&err)),
    ] {
        assert_eq!(text.matches(message).count(), 1, "{how}:\n{text}");
    }
    assert!(!table_exists(&db.path, "half"));
    assert_eq!(applied_count(&db.path), 0);
}

/// `fn main() -> migrate_sqlite::Result<()>` prints `Error: {err:?}`: the message a person
/// can act on, not `MigrationFailed { set: .., source: Sql(SqliteFailure(..)) }`.
#[test]
fn debug_prints_the_message_like_main_shows_it() {
    let db = temp_db();
    let list = vec![Migration::new(
        1,
        "broken",
        Step::sql("INSERT INTO no_such_table VALUES (1)"),
    )];
    let err = migrator(list).open(&db.path).unwrap().up().unwrap_err();
    let shown = format!("Error: {err:?}");
    assert!(
        shown.starts_with("Error: migration 1 \"broken\" (set \"default\", up) failed"),
        "{shown}"
    );
    for dump in ["MigrationFailed {", "SqliteFailure", "source:", "outcome:"] {
        assert!(!shown.contains(dump), "{dump:?} in {shown}");
    }
    assert_eq!(format!("{err:?}"), err.to_string(), "no source left to add");
    assert_eq!(applied_count(&db.path), 0);

    // The core's errors too.
    let core = migrate_sqlite::CoreError::UnknownTarget {
        set: "default".into(),
        seq: 9,
        known: vec![1],
    };
    assert_eq!(format!("{core:?}"), core.to_string());
}

/// Every variant that wraps an error: its text is in the message or returned by `source()`,
/// never both.
#[test]
fn no_wrapping_variant_repeats_its_source() {
    let sqlite = || {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(1),
            Some("near \"CREAT\": syntax error".into()),
        )
    };
    let io = || std::io::Error::other("disk on fire");
    let wrapped = [
        Error::Sql(sqlite()),
        Error::other(io()),
        Error::from(io()),
        Error::CommitFailed {
            error: Box::new(Error::Sql(sqlite())),
            outcome: "Nothing was kept.".into(),
        },
        Error::BackupFailed {
            dir: "/backups".into(),
            error: Box::new(Error::Sql(sqlite())),
        },
        Error::Runner {
            doing: "BEGIN IMMEDIATE".into(),
            path: "/srv/app.db".into(),
            error: sqlite(),
        },
        Error::Open {
            path: "/srv/app.db".into(),
            error: sqlite(),
        },
        Error::Io {
            doing: "cannot create the lock file".into(),
            path: "/srv/app.db.migrate-lock".into(),
            error: io(),
        },
    ];
    for error in &wrapped {
        let text = chain(error);
        for needle in ["syntax error", "disk on fire"] {
            assert!(text.matches(needle).count() <= 1, "{text}");
        }
        assert!(
            text.contains("syntax error") || text.contains("disk on fire"),
            "{text}"
        );
    }
}

/// `Runner`, `Open` and `Io` include their SQLite/OS error in the message (and do not return it
/// from `source()`): `Debug` (what `main` and the command line print) says it once.
#[test]
fn debug_never_prints_a_cause_twice() {
    let open = Error::Open {
        path: "/srv/app.db".into(),
        error: rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(14),
            Some("unable to open database file".into()),
        ),
    };
    let io = Error::Io {
        doing: "cannot create the lock file".into(),
        path: "/srv/app.db.migrate-lock".into(),
        error: std::io::Error::other("read-only file system"),
    };
    for (error, message) in [
        (open, "unable to open database file"),
        (io, "read-only file system"),
    ] {
        let shown = format!("{error:?}");
        assert_eq!(shown.matches(message).count(), 1, "{shown}");
        assert!(!shown.contains("Caused by"), "{shown}");
    }
}
