use migrate_postgres::{Result, Tx, migration};

/// Notes; the first version had neither a required notebook nor a required title.
#[migration(seq = 2, down = drop_notes)]
pub fn create_notes(tx: &mut Tx) -> Result<()> {
    tx.batch_execute(
        "CREATE TABLE notes (
             id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             notebook_id bigint REFERENCES notebooks (id),
             title text,
             body text NOT NULL,
             created_at timestamptz NOT NULL DEFAULT now()
         )",
    )
}

pub fn drop_notes(tx: &mut Tx) -> Result<()> {
    tx.batch_execute("DROP TABLE notes")
}
