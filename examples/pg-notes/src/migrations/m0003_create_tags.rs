use migrate_postgres::{Result, Tx, migration};

/// Tags, and which notes carry them (a tag goes with its note).
#[migration(seq = 3, down = drop_tags)]
pub fn create_tags(tx: &mut Tx) -> Result<()> {
    tx.batch_execute(
        "CREATE TABLE tags (
             id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             label text NOT NULL UNIQUE
         );
         CREATE TABLE note_tags (
             note_id bigint NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
             tag_id bigint NOT NULL REFERENCES tags (id),
             PRIMARY KEY (note_id, tag_id)
         )",
    )
}

pub fn drop_tags(tx: &mut Tx) -> Result<()> {
    tx.batch_execute("DROP TABLE note_tags; DROP TABLE tags")
}
