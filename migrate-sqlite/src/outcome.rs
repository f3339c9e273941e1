//! SQLite's own accounts of a failure whose cause is not the migration (a full disk, a
//! read-only file or directory), told from the tracking rows read back afterwards. The rest of
//! the outcome texts are the protocol's (`migrate_core::protocol`).

use migrate_core::protocol::kept_summary;
pub use migrate_core::protocol::{Recorded, shell_word};
use std::path::Path;

/// The outcome when the disk filled up (SQLITE_FULL) during a transactional migration: SQLite
/// rolled the run's transaction back itself, so nothing is restored over the database; what
/// was kept is read back.
pub fn disk_full(
    before: &Recorded,
    after: &Recorded,
    db: &str,
    backup: Option<&Path>,
    rolled_back_by_sqlite: bool,
    rerun: &str,
) -> String {
    let kept = kept_summary(before, after);
    let dir = Path::new(db)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or(".".to_owned(), |d| d.display().to_string());
    let backup = backup.map_or(String::new(), |b| {
        format!(
            " The backup taken before this run is kept at {}.",
            b.display()
        )
    });
    let rollback = if rolled_back_by_sqlite {
        " SQLite rolled the run's transaction back itself, so nothing was restored over it."
    } else {
        ""
    };
    format!(
        "The disk is full (or the file reached its size limit): SQLite could not grow the \
         database or its journal.{rollback} {kept}{backup} Free space on the file system holding {dir} (the run \
         needs room for the database to grow and for its journal), then run `{rerun}` again; \
         the migration itself is not at fault."
    )
}

/// The outcome when SQLite refused to write (SQLITE_READONLY) although the run had opened the
/// database for writing: the file is read-only for this user, or (the usual case) its
/// directory is, and SQLite cannot create its journal beside it.
pub fn read_only(
    before: &Recorded,
    after: &Recorded,
    db: &str,
    file_read_only: bool,
    rerun: &str,
) -> String {
    let kept = kept_summary(before, after);
    let path = Path::new(db);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or(".".to_owned(), |d| d.display().to_string());
    let name = path
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into_owned());
    let why = if file_read_only {
        format!(
            "the database file {db} is read-only for the user running the migration. {kept} \
             Make the file writable for that user (or run the migration as its owner)"
        )
    } else {
        format!(
            "SQLite must create its journal ({name}-journal, or {name}-wal) in the directory \
             {dir}, and the user running the migration may not create files there. {kept} Make \
             that directory writable for that user (or run the migration as the directory's \
             owner)"
        )
    };
    format!(
        "SQLite could not write: {why}, then run `{rerun}` again; the migration itself is not \
         at fault."
    )
}

/// The outcome when the database was found damaged part-way through a run (the backup taken
/// just before a `transaction = false` migration failed its `quick_check`): what the run
/// committed before is read back; the error names the backup to restore.
pub fn damaged(before: &Recorded, after: &Recorded) -> String {
    format!(
        "{} Nothing after it was run. Do not run migrations on this file again until it is \
         restored; the migration itself is not at fault.",
        kept_summary(before, after)
    )
}
