//! `pg-notes`: migrates its PostgreSQL database on start, then adds a note and prints the
//! notebooks. `pg-notes migrate status` prints where every migration stands; `pg-notes migrate
//! up` only migrates. The shared command line (`migrate ...`) does not drive PostgreSQL yet, so
//! these two come from the library's reports.
//!
//! The database is `PG_NOTES_URL` (a URL or `key=value` string, e.g.
//! `host=/run/postgresql dbname=notes`); a dedicated connection, never a transaction pooler.

use migrate_postgres::postgres::{Config, NoTls};
use migrate_postgres::{Error, Result};
use std::process::ExitCode;

const USAGE: &str = "usage: pg-notes [migrate status | migrate up]   (database: PG_NOTES_URL)";

fn main() -> ExitCode {
    let Ok(url) = std::env::var("PG_NOTES_URL") else {
        eprintln!("error: set PG_NOTES_URL, e.g. PG_NOTES_URL='host=/run/postgresql dbname=notes'");
        return ExitCode::from(2);
    };
    let config: Config = match url.parse() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: PG_NOTES_URL is not a connection string: {e}");
            return ExitCode::from(2);
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        [] => run(&config).map(|()| ExitCode::SUCCESS),
        ["migrate", "status"] => status(&config),
        ["migrate", "up"] => pg_notes::migrate(&config).map(|report| {
            println!("{report}");
            ExitCode::SUCCESS
        }),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            // 4 as in the shared command line: another migrator held the lock too long.
            ExitCode::from(if matches!(e, Error::LockTimeout { .. }) {
                4
            } else {
                1
            })
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

/// Where every migration stands; exit 1 when something is pending, wrong or drifted.
fn status(config: &Config) -> Result<ExitCode> {
    let report = pg_notes::open(config)?.status()?;
    print!("{report}");
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
