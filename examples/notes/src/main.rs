//! A tiny notes app. Run with no arguments, it opens (or creates) its database, migrates it
//! (with the automatic pre-migration backup), adds a note and prints what happened.
//! `notes migrate ...` is the framework's command line (`notes migrate --help`).
//!
//! The database is `notes.db` in the current directory, or the path in `NOTES_DB`.

mod migrations;

use migrate_sqlite::{Migrator, Result};
use std::process::ExitCode;

fn main() -> ExitCode {
    let path = std::env::var("NOTES_DB").unwrap_or_else(|_| "notes.db".to_owned());
    let migrator = Migrator::new().app_version(env!("CARGO_PKG_VERSION"));
    if std::env::args().nth(1).as_deref() == Some("migrate") {
        return migrate_sqlite::cli::run(migrator, &path, std::env::args_os().skip(1));
    }
    match run(migrator, &path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(migrator: Migrator, path: &str) -> Result<()> {
    println!("database {path}");
    // The app's own migrations, then the ones the tags library brings (set "tags").
    let tags = migrator.clone().set(note_tags::SET);
    for migrator in [migrator, tags] {
        let mut db = migrator.open(path)?;
        let report = db.up()?;
        println!("{report}");
        if !report.steps.is_empty()
            && let Some(backup) = db
                .history()?
                .last()
                .and_then(|h| h.event.backup_path.clone())
        {
            println!("  backup taken before migrating: {backup}");
        }
    }

    let db = Migrator::new().open(path)?;
    let conn = db.connection();
    let count: i64 = conn.query_row("SELECT count(*) FROM notes", [], |r| r.get(0))?;
    conn.execute(
        "INSERT INTO notes (notebook_id, title, body)
         VALUES ((SELECT id FROM notebooks WHERE name = 'Inbox'), ?1, ?2)",
        (format!("Note {}", count + 1), "Written by the example app."),
    )?;
    note_tags::tag(conn, conn.last_insert_rowid(), "example")?;
    println!(
        "added note {} (tagged \"example\"); the Inbox holds {} notes",
        count + 1,
        count + 1
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use migrate_sqlite::Migrator;
    use migrate_sqlite::testing::{Harness, assert_schema_snapshot};

    /// Every migration applies to an empty database, round-trips where it can, keeps foreign
    /// keys and integrity intact, and the data migrations work on data.
    #[test]
    fn migrations_are_sound() {
        let db = Harness::new(Migrator::new())
            .seed_at(
                2,
                "INSERT INTO notes (title, body) VALUES (NULL, 'Groceries\nmilk, eggs')",
            )
            .assert_ok();
        let (notebook, title): (String, String) = db
            .conn
            .query_row(
                "SELECT notebooks.name, notes.title FROM notes JOIN notebooks ON notebooks.id = notes.notebook_id",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((notebook.as_str(), title.as_str()), ("Inbox", "Groceries"));
    }

    /// The tags library's own set checks the same way.
    #[test]
    fn tag_migrations_are_sound() {
        let report = Harness::new(Migrator::new().set(note_tags::SET))
            .assert_ok()
            .report;
        assert_eq!(report.round_trips, [1, 2]);
    }

    /// The schema the migrations build, kept in `schema.sql` for review.
    #[test]
    fn schema_is_as_committed() {
        assert_schema_snapshot(
            Migrator::new(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/schema.sql"),
        );
    }
}
