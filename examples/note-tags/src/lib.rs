//! Tags for notes: a library that brings its own tables and its own migration set, `"tags"`.
//! An app that uses it links it (`use note_tags as _;` if it calls nothing) and migrates the set
//! after its own: `Migrator::new().set(note_tags::SET)`.

use migrate_sqlite::rusqlite::Connection;
use migrate_sqlite::{Result, Tx, migration};

/// The migration set this library owns.
pub const SET: &str = "tags";

/// Tags, unique by label.
#[migration(seq = 1, set = "tags", down = drop_tags)]
pub fn create_tags(tx: &Tx) -> Result<()> {
    tx.execute_batch("CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT NOT NULL UNIQUE)")?;
    Ok(())
}

pub fn drop_tags(tx: &Tx) -> Result<()> {
    tx.execute_batch("DROP TABLE tags")?;
    Ok(())
}

/// Which note has which tag; needs the app's `notes` table.
#[migration(seq = 2, set = "tags", down = drop_note_tags)]
pub fn create_note_tags(tx: &Tx) -> Result<()> {
    tx.execute_batch(
        "CREATE TABLE note_tags (
            note_id INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
            tag_id  INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
            PRIMARY KEY (note_id, tag_id)
        ) WITHOUT ROWID",
    )?;
    Ok(())
}

pub fn drop_note_tags(tx: &Tx) -> Result<()> {
    tx.execute_batch("DROP TABLE note_tags")?;
    Ok(())
}

/// Tags `note_id` with `label`, creating the tag if needed.
///
/// ```
/// # let conn = migrate_sqlite::rusqlite::Connection::open_in_memory().unwrap();
/// # conn.execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY);
/// #   CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT NOT NULL UNIQUE);
/// #   CREATE TABLE note_tags (note_id INTEGER, tag_id INTEGER, PRIMARY KEY (note_id, tag_id));
/// #   INSERT INTO notes VALUES (1);").unwrap();
/// note_tags::tag(&conn, 1, "todo").unwrap();
/// ```
pub fn tag(conn: &Connection, note_id: i64, label: &str) -> migrate_sqlite::rusqlite::Result<()> {
    conn.execute("INSERT OR IGNORE INTO tags (label) VALUES (?1)", [label])?;
    conn.execute(
        "INSERT OR IGNORE INTO note_tags (note_id, tag_id)
         SELECT ?1, id FROM tags WHERE label = ?2",
        (note_id, label),
    )?;
    Ok(())
}
