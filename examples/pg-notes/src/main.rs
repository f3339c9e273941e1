//! `pg-notes`: migrates its PostgreSQL database on start, then adds a note and prints the
//! notebooks. `pg-notes migrate <command>` is the shared command line
//! (`migrate_postgres::cli::run`): `status`, `up`, `down`, `redo`, `verify`, `backup`,
//! `backups`, `snapshot`, `restore`, `history`, `resolve`, `sets`, with `--json`, `--yes` and
//! the same exit codes as the SQLite app's `notes migrate ...`.
//!
//! The database is `PG_NOTES_URL` (a URL or `key=value` string, e.g.
//! `host=/run/postgresql dbname=notes`); a dedicated connection, never a transaction pooler.
//! Backups go to `PG_NOTES_BACKUPS` when it is set (or `--backup-dir DIR`).

use migrate_postgres::Result;
use migrate_postgres::postgres::{Config, NoTls};
use std::process::ExitCode;

fn main() -> ExitCode {
    let Ok(url) = std::env::var("PG_NOTES_URL") else {
        eprintln!("error: set PG_NOTES_URL, e.g. PG_NOTES_URL='host=/run/postgresql dbname=notes'");
        return ExitCode::from(2);
    };
    if std::env::args().nth(1).as_deref() == Some("migrate") {
        // `pg-notes migrate status`: "migrate" is the command line's program name.
        let mut migrator = pg_notes::migrator();
        if let Some(dir) = std::env::var_os("PG_NOTES_BACKUPS") {
            migrator = migrator.backup_dir(dir);
        }
        return migrate_postgres::cli::run(migrator, &url, std::env::args_os().skip(1));
    }
    if std::env::args().len() > 1 {
        eprintln!("usage: pg-notes [migrate <command>]   (database: PG_NOTES_URL)");
        return ExitCode::from(2);
    }
    let config: Config = match url.parse() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: PG_NOTES_URL is not a connection string: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Migrates, then does the app's work.
fn run(config: &Config) -> Result<()> {
    println!("{}", pg_notes::migrate(config)?);
    let mut client = config.connect(NoTls)?;
    let n: i64 = client.query_one("SELECT count(*) FROM notes", &[])?.get(0);
    pg_notes::add_note(
        &mut client,
        "Inbox",
        &format!("Note {}", n + 1),
        "Written by the example app.",
        &["example"],
    )?;
    println!("added note {} (tagged \"example\")", n + 1);
    for (notebook, notes) in pg_notes::notebooks(&mut client)? {
        println!("  {notebook}: {notes} notes");
    }
    Ok(())
}
