//! The schema snapshot file kept in the repository: compared on every test run, rewritten on
//! request, so a schema change shows up in review.

use std::fmt::Display;
use std::path::Path;

/// The environment variable that rewrites the snapshot file instead of comparing: run the
/// tests once with `MIGRATE_UPDATE_SCHEMA=1` and commit the file.
pub const UPDATE_SCHEMA_VAR: &str = "MIGRATE_UPDATE_SCHEMA";

/// Compares `schema` with the file at `path`, or writes the file when [`UPDATE_SCHEMA_VAR`] is
/// `1`. `Err` holds the message for the test's panic: the file, the diff (`-` kept, `+` now)
/// and how to accept the change.
///
/// ```
/// use migrate_core::harness::compare_snapshot;
/// let dir = tempfile::tempdir()?;
/// let file = dir.path().join("schema.sql");
/// std::fs::write(&file, "CREATE TABLE a (x int);\n")?;
/// assert!(compare_snapshot(&file, "CREATE TABLE a (x int);\n").is_ok());
/// let message = compare_snapshot(&file, "CREATE TABLE a (x bigint);\n").unwrap_err();
/// assert!(message.contains("-CREATE TABLE a (x int);\n+CREATE TABLE a (x bigint);"), "{message}");
/// assert!(message.contains("MIGRATE_UPDATE_SCHEMA=1"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn compare_snapshot(path: &Path, schema: &str) -> Result<(), String> {
    if std::env::var_os(UPDATE_SCHEMA_VAR).is_some_and(|v| v == "1") {
        return std::fs::write(path, schema)
            .map_err(|e| format!("cannot write the schema snapshot {}: {e}", path.display()));
    }
    let kept = match std::fs::read_to_string(path) {
        Ok(kept) => kept.replace("\r\n", "\n"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    if kept == schema {
        return Ok(());
    }
    Err(format!(
        "the schema differs from {} (- kept, + now):\n{}If the change is intended, run the \
         tests once with {UPDATE_SCHEMA_VAR}=1 and commit the file.",
        path.display(),
        super::line_diff(&kept, schema)
    ))
}

/// [`compare_snapshot`] for a `#[test]`: panics with its message, or with why the schema could
/// not be made (`schema` is the backend's attempt).
///
/// ```should_panic
/// let schema: Result<String, String> = Err("migration 1 failed".into());
/// migrate_core::harness::assert_snapshot("schema.sql", schema);
/// ```
#[track_caller]
pub fn assert_snapshot<E: Display>(path: impl AsRef<Path>, schema: Result<String, E>) {
    let schema = match schema {
        Ok(schema) => schema,
        Err(e) => panic!("the migrations do not apply: {e}"),
    };
    if let Err(message) = compare_snapshot(path.as_ref(), &schema) {
        panic!("{message}");
    }
}
