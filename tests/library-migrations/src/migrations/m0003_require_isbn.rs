use migrate_sqlite::migration;

/// Makes the ISBN required, by rebuilding the books table.
#[migration(seq = 3, set = "library", rebuild, destructive)]
mod require_isbn {
    use migrate_sqlite::{Result, Tx};

    pub fn up(tx: &Tx) -> Result<()> {
        tx.execute_batch(
            "CREATE TABLE books_new (
                id INTEGER PRIMARY KEY,
                title TEXT NOT NULL,
                isbn TEXT NOT NULL DEFAULT ''
            );
            INSERT INTO books_new (id, title, isbn) SELECT id, title, coalesce(isbn, '') FROM books;
            DROP TABLE books;
            ALTER TABLE books_new RENAME TO books;",
        )?;
        Ok(())
    }

    pub fn down(tx: &Tx) -> Result<()> {
        tx.execute_batch(
            "CREATE TABLE books_old (
                id INTEGER PRIMARY KEY,
                title TEXT NOT NULL,
                isbn TEXT
            );
            INSERT INTO books_old (id, title, isbn) SELECT id, title, nullif(isbn, '') FROM books;
            DROP TABLE books;
            ALTER TABLE books_old RENAME TO books;",
        )?;
        Ok(())
    }
}
