use migrate_postgres::{Result, Tx, migration};

/// Notebooks group notes.
#[migration(seq = 1, down = drop_notebooks)]
pub fn create_notebooks(tx: &mut Tx) -> Result<()> {
    tx.batch_execute(
        "CREATE TABLE notebooks (
             id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             name text NOT NULL UNIQUE,
             created_at timestamptz NOT NULL DEFAULT now()
         )",
    )
}

pub fn drop_notebooks(tx: &mut Tx) -> Result<()> {
    tx.batch_execute("DROP TABLE notebooks")
}
