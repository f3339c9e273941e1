use migrate_postgres::{Result, Tx, migration};

/// Data migration: an untitled note takes the first line of its body (or "Untitled") as its
/// title, then titles become required.
#[migration(seq = 5, down = optional_titles)]
pub fn require_note_titles(tx: &mut Tx) -> Result<()> {
    let titled = tx.execute(
        "UPDATE notes
         SET title = coalesce(nullif(btrim(split_part(body, E'\\n', 1)), ''), 'Untitled')
         WHERE title IS NULL",
        &[],
    )?;
    log::info!("gave {titled} untitled notes a title");
    tx.batch_execute("ALTER TABLE notes ALTER COLUMN title SET NOT NULL")
}

/// Titles stay; they are only no longer required.
pub fn optional_titles(tx: &mut Tx) -> Result<()> {
    tx.batch_execute("ALTER TABLE notes ALTER COLUMN title DROP NOT NULL")
}
