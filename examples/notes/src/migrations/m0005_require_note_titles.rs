//! A table rebuild: SQLite cannot add NOT NULL to an existing column, so the table is
//! recreated. `notes` is a child table here, so it is the safe direction; the runner still
//! switches foreign keys off before its transaction and checks them after.

use migrate_sqlite::{Result, Tx, migration};

/// Every note gets a title (untitled notes get the first line of their body), and
/// every note must have a notebook.
#[migration(seq = 5, rebuild)]
pub fn require_note_titles(tx: &Tx) -> Result<()> {
    let before = tx.row_count("notes")?;
    tx.execute_batch(
        "CREATE TABLE notes_new (
            id          INTEGER PRIMARY KEY,
            notebook_id INTEGER NOT NULL REFERENCES notebooks(id) ON DELETE CASCADE,
            title       TEXT NOT NULL,
            body        TEXT NOT NULL,
            created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        INSERT INTO notes_new (id, notebook_id, title, body, created_at)
            SELECT id, notebook_id,
                   coalesce(title, substr(body, 1, coalesce(nullif(instr(body, char(10)), 0) - 1, 60))),
                   body, created_at
            FROM notes;
        DROP TABLE notes;
        ALTER TABLE notes_new RENAME TO notes;
        CREATE INDEX notes_by_date ON notes (created_at);",
    )?;
    let after = tx.row_count("notes")?;
    if before != after {
        return Err(migrate_sqlite::Error::msg(format!(
            "the rebuild kept {after} of {before} notes"
        )));
    }
    Ok(())
}
