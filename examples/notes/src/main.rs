//! A tiny notes app. Run with no arguments, it opens (or creates) its database, migrates it,
//! adds a note and prints what happened. `notes status` prints where every migration stands.
//!
//! The database is `notes.db` in the current directory, or the path in `NOTES_DB`.

mod migrations;

use migrate_sqlite::{Migrator, Result};
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let path = std::env::var("NOTES_DB").unwrap_or_else(|_| "notes.db".to_owned());
    let migrator = Migrator::new().app_version(env!("CARGO_PKG_VERSION"));
    let mut db = migrator.open(&path)?;
    if std::env::args().nth(1).as_deref() == Some("status") {
        print!("{}", db.status()?);
        return Ok(());
    }

    let report = db.up()?;
    println!("database {path}");
    println!("{report}");

    let conn = db.connection();
    let count: i64 = conn.query_row("SELECT count(*) FROM notes", [], |r| r.get(0))?;
    conn.execute(
        "INSERT INTO notes (notebook_id, title, body)
         VALUES ((SELECT id FROM notebooks WHERE name = 'Inbox'), ?1, ?2)",
        (format!("Note {}", count + 1), "Written by the example app."),
    )?;
    println!(
        "added note {}; the Inbox holds {} notes",
        count + 1,
        count + 1
    );
    Ok(())
}
