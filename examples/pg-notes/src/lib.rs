//! A small notes app on PostgreSQL: notebooks, notes, tags. Its schema is built by the
//! migrations in [`migrations`] (one file each, registered with `#[migration]` in the default
//! set), applied by `migrate-postgres` when the app starts.
//!
//! ```no_run
//! let config: migrate_postgres::postgres::Config = "host=/run/postgresql dbname=notes".parse()?;
//! let report = pg_notes::migrate(&config)?;
//! println!("{report}");
//! let mut client = config.connect(migrate_postgres::postgres::NoTls)?;
//! pg_notes::add_note(&mut client, "Inbox", "Groceries", "milk, eggs", &["shopping"])?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod migrations;

use migrate_postgres::postgres::{Client, Config};
use migrate_postgres::{Connection, Migrator, Result, RunReport, Session};

/// The app's migrator: its registered migrations, its version recorded with each tracking row.
///
/// ```
/// let _ = pg_notes::migrator();
/// ```
pub fn migrator() -> Migrator {
    Migrator::new().app_version(env!("CARGO_PKG_VERSION"))
}

/// A migration session on the database of `config` (a dedicated connection).
///
/// ```no_run
/// let config = "host=/run/postgresql dbname=notes".parse().unwrap();
/// println!("{}", pg_notes::open(&config)?.status()?);
/// # Ok::<(), migrate_postgres::Error>(())
/// ```
pub fn open(config: &Config) -> Result<Session> {
    migrator().on(Connection::from_config(config)?)
}

/// Applies the pending migrations: what the app does first on every start.
///
/// ```no_run
/// let config = "host=/run/postgresql dbname=notes".parse().unwrap();
/// let report = pg_notes::migrate(&config)?;
/// assert!(report.after.is_some());
/// # Ok::<(), migrate_postgres::Error>(())
/// ```
pub fn migrate(config: &Config) -> Result<RunReport> {
    open(config)?.up()
}

/// Adds a note to `notebook` (created if missing) with `tags` (created if missing), in one
/// transaction; the note's id.
///
/// ```no_run
/// # let mut client: migrate_postgres::postgres::Client = todo!();
/// let id = pg_notes::add_note(&mut client, "Work", "Standup", "notes from the standup", &["daily"])?;
/// # let _ = id; Ok::<(), migrate_postgres::Error>(())
/// ```
pub fn add_note(
    client: &mut Client,
    notebook: &str,
    title: &str,
    body: &str,
    tags: &[&str],
) -> Result<i64> {
    let mut tx = client.transaction()?;
    // DO UPDATE (a no-op) rather than DO NOTHING, so that RETURNING gives the existing row.
    let notebook_id: i64 = tx
        .query_one(
            "INSERT INTO notebooks (name) VALUES ($1)
             ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
            &[&notebook],
        )?
        .get(0);
    let note_id: i64 = tx
        .query_one(
            "INSERT INTO notes (notebook_id, title, body) VALUES ($1, $2, $3) RETURNING id",
            &[&notebook_id, &title, &body],
        )?
        .get(0);
    for tag in tags {
        let tag_id: i64 = tx
            .query_one(
                "INSERT INTO tags (label) VALUES ($1)
                 ON CONFLICT (label) DO UPDATE SET label = EXCLUDED.label RETURNING id",
                &[tag],
            )?
            .get(0);
        tx.execute(
            "INSERT INTO note_tags (note_id, tag_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&note_id, &tag_id],
        )?;
    }
    tx.commit()?;
    Ok(note_id)
}

/// Each notebook with its number of notes, by name.
///
/// ```no_run
/// # let mut client: migrate_postgres::postgres::Client = todo!();
/// for (notebook, notes) in pg_notes::notebooks(&mut client)? {
///     println!("{notebook}: {notes}");
/// }
/// # Ok::<(), migrate_postgres::Error>(())
/// ```
pub fn notebooks(client: &mut Client) -> Result<Vec<(String, i64)>> {
    let rows = client.query(
        "SELECT b.name, count(n.id) FROM notebooks b LEFT JOIN notes n ON n.notebook_id = b.id
         GROUP BY b.name ORDER BY b.name",
        &[],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The titles of a notebook's notes as the app lists them: pinned first, then newest first.
///
/// ```no_run
/// # let mut client: migrate_postgres::postgres::Client = todo!();
/// let titles = pg_notes::list(&mut client, "Inbox")?;
/// # let _ = titles; Ok::<(), migrate_postgres::Error>(())
/// ```
pub fn list(client: &mut Client, notebook: &str) -> Result<Vec<String>> {
    let rows = client.query(
        "SELECT n.title FROM notes n JOIN notebooks b ON b.id = n.notebook_id
         WHERE b.name = $1 ORDER BY n.pinned DESC, n.created_at DESC, n.id DESC",
        &[&notebook],
    )?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
