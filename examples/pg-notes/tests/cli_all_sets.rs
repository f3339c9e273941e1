//! `up --all-sets` on PostgreSQL through the real binary (`pg-notes-sets`: pg-notes' set
//! `"default"` and `"uploads"`): ONE pre-migration backup for the whole run, not one per
//! set; a `transaction = false` failure in the second set restores the state before every set
//! when no one else wrote since (the written-since policy), and otherwise names that backup;
//! under `--json` the earlier sets' reports come with the error. Checked on the database and
//! the backup files.

mod common;

use common::{count, db, url};
use migrate_postgres::testing::TestDatabase;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// `pg-notes-sets migrate <args>` with backups in `backups`; `fail` sets `PG_NOTES_SETS_FAIL`.
fn cli(db: &TestDatabase, backups: &Path, fail: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pg-notes-sets"));
    command
        .arg("migrate")
        .args(args)
        .env("PG_NOTES_URL", url(db))
        .env("PG_NOTES_BACKUPS", backups)
        .env_remove("PG_NOTES_SETS_FAIL")
        .stdin(Stdio::null());
    if let Some(seq) = fail {
        command.env("PG_NOTES_SETS_FAIL", seq);
    }
    command.output().unwrap()
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Applied migrations of `set` (0 when the tracking table does not exist).
fn applied(db: &TestDatabase, set: &str) -> i64 {
    let mut client = db.client();
    if count(
        &mut client,
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = '_migrate_applied'",
    ) == 0
    {
        return 0;
    }
    count(
        &mut client,
        &format!(
            "SELECT count(*) FROM public._migrate_applied WHERE set_name = '{set}' AND state = 'applied'"
        ),
    )
}

/// Tracking rows of `set` in any state.
fn rows(db: &TestDatabase, set: &str) -> i64 {
    count(
        &mut db.client(),
        &format!("SELECT count(*) FROM public._migrate_applied WHERE set_name = '{set}'"),
    )
}

fn table_exists(db: &TestDatabase, table: &str) -> bool {
    count(
        &mut db.client(),
        &format!(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = '{table}'"
        ),
    ) == 1
}

fn column_exists(db: &TestDatabase, table: &str, column: &str) -> bool {
    count(
        &mut db.client(),
        &format!(
            "SELECT count(*) FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name = '{table}' AND column_name = '{column}'"
        ),
    ) == 1
}

fn index_exists(db: &TestDatabase, index: &str) -> bool {
    count(
        &mut db.client(),
        &format!("SELECT count(*) FROM pg_indexes WHERE indexname = '{index}'"),
    ) == 1
}

/// The backup files in `dir` (not the hidden temp files), sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut list: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    // Hidden temp files and each backup's metadata (`<backup>.meta`) are not backups.
    list.retain(|p| {
        let name = p.file_name().unwrap().to_string_lossy();
        !name.starts_with('.') && !name.ends_with(".meta")
    });
    list.sort();
    list
}

fn named(files: &[PathBuf], part: &str) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|p| p.to_string_lossy().contains(part))
        .cloned()
        .collect()
}

#[test]
fn up_all_sets_takes_one_backup_for_both_sets_and_it_holds_the_state_before_both() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("my backups");

    let up = cli(&db, &backups, None, &["up", "--all-sets"]);
    assert_eq!(code(&up), 0, "{up:?}");
    let out = stdout(&up);
    assert!(
        out.contains("set \"default\": applied 7 migrations"),
        "{out}"
    );
    assert!(
        out.contains("set \"uploads\": applied 3 migrations"),
        "{out}"
    );
    assert_eq!(applied(&db, "default"), 7);
    assert_eq!(applied(&db, "uploads"), 3);
    assert!(index_exists(&db, "uploads_by_note"));
    let taken = files(&backups);
    assert_eq!(taken.len(), 1, "one backup for the run: {taken:?}");
    assert_eq!(named(&taken, ".pre-up.").len(), 1, "{taken:?}");
    assert!(out.contains(&*taken[0].to_string_lossy()), "{out}");

    // Nothing pending: no backup at all.
    let again = cli(&db, &backups, None, &["up", "--all-sets"]);
    assert_eq!(code(&again), 0, "{again:?}");
    assert_eq!(files(&backups), taken);

    // The one backup holds the state before every set: the empty database.
    let path = taken[0].to_str().unwrap();
    let restored = cli(&db, &backups, None, &["restore", path, "--yes"]);
    assert_eq!(code(&restored), 0, "{restored:?}");
    assert!(!table_exists(&db, "notes") && !table_exists(&db, "uploads"));
    assert_eq!(applied(&db, "default") + applied(&db, "uploads"), 0);
}

#[test]
fn a_non_transactional_failure_in_the_second_set_restores_the_state_before_every_set() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().to_owned();
    // The default set at 4 (its rows are written before the run's backup).
    assert_eq!(code(&cli(&db, &backups, None, &["up", "--to", "4"])), 0);
    let before = files(&backups);
    assert_eq!(before.len(), 1, "{before:?}");
    // A note written before the run (titled: the default set's migration 5 leaves it alone).
    db.client()
        .batch_execute(
            "INSERT INTO notes (notebook_id, title, body) SELECT id, 'kept', 'before' FROM notebooks",
        )
        .unwrap();

    let failed = cli(&db, &backups, Some("3"), &["up", "--all-sets"]);
    assert_eq!(code(&failed), 1, "{failed:?}");
    let message = stderr(&failed);
    let after = files(&backups);
    let run_backup: Vec<PathBuf> = named(&after, ".pre-up.")
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert_eq!(run_backup.len(), 1, "one backup for both sets: {after:?}");
    assert_eq!(
        named(&after, ".failed-state.").len(),
        1,
        "the failed state kept before restoring: {after:?} {message}"
    );
    assert_eq!(after.len(), 3, "{after:?}");
    assert!(
        message.contains(&*run_backup[0].to_string_lossy()),
        "names the backup it restored: {message}"
    );
    // The restore undid the default set's run too: said, read back, with the command that
    // applies both again (not `migrate up`, which would leave uploads out).
    assert!(
        message.contains("the sets before this one applied in it were rolled back too"),
        "{message}"
    );
    assert!(
        message.contains("run `migrate up --all-sets` again"),
        "{message}"
    );
    assert!(
        stdout(&failed).contains(
            "rolled back with the restore: set \"default\" 5, 6, 7 (applied earlier in this run"
        ),
        "{failed:?}"
    );

    // The state before every set: default back at 4, uploads never applied.
    assert_eq!(applied(&db, "default"), 4);
    assert_eq!(rows(&db, "default"), 4);
    assert_eq!(rows(&db, "uploads"), 0);
    assert!(!column_exists(&db, "notes", "pinned"), "default 7 undone");
    assert!(!index_exists(&db, "notes_by_date"), "default 6 undone");
    assert!(!table_exists(&db, "uploads"), "uploads undone");
    assert!(!index_exists(&db, "uploads_by_note"));
    assert_eq!(count(&mut db.client(), "SELECT count(*) FROM notebooks"), 1);
    assert_eq!(
        count(
            &mut db.client(),
            "SELECT count(*) FROM notes WHERE title = 'kept'"
        ),
        1,
        "what was there before the run is there after the restore"
    );

    // Fixed, the same command applies both.
    let up = cli(&db, &backups, None, &["up", "--all-sets"]);
    assert_eq!(code(&up), 0, "{up:?}");
    assert_eq!(applied(&db, "default"), 7);
    assert_eq!(applied(&db, "uploads"), 3);
}

#[test]
fn when_the_first_set_wrote_rows_the_failure_is_not_restored_and_names_the_run_backup() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().to_owned();

    // From empty: the default set's migration 4 inserts the Inbox notebook, so restoring would
    // delete a row written since the backup: the policy stops and names the backup.
    let failed = cli(&db, &backups, Some("3"), &["up", "--all-sets"]);
    assert_eq!(code(&failed), 1, "{failed:?}");
    let message = stderr(&failed);
    let taken = files(&backups);
    assert_eq!(taken.len(), 1, "one backup, nothing restored: {taken:?}");
    assert_eq!(named(&taken, ".pre-up.").len(), 1, "{taken:?}");
    assert!(message.contains("not restored automatically"), "{message}");
    assert!(message.contains("notebooks"), "{message}");
    assert_eq!(applied(&db, "default"), 7, "the first set stays applied");
    assert_eq!(applied(&db, "uploads"), 2);
    assert!(table_exists(&db, "uploads"));

    // The printed restore command runs as printed and gives the state before every set.
    let command = message
        .split('`')
        .skip(1)
        .step_by(2)
        .find(|c| c.starts_with("migrate restore "))
        .unwrap_or_else(|| panic!("no restore command in {message}"));
    let path = command.strip_prefix("migrate restore ").unwrap();
    assert_eq!(Path::new(path), taken[0], "{command}");
    let restored = cli(&db, &backups, None, &["restore", path, "--yes"]);
    assert_eq!(code(&restored), 0, "{restored:?}");
    assert!(!table_exists(&db, "notes") && !table_exists(&db, "uploads"));
    assert_eq!(applied(&db, "default") + applied(&db, "uploads"), 0);
}

#[test]
fn json_up_all_sets_that_fails_part_way_prints_the_earlier_reports_and_the_error() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().to_owned();
    assert_eq!(code(&cli(&db, &backups, None, &["up", "--to", "4"])), 0);

    let failed = cli(&db, &backups, Some("3"), &["--json", "up", "--all-sets"]);
    assert_eq!(code(&failed), 1, "{failed:?}");
    let doc: Value = serde_json::from_slice(&failed.stdout)
        .unwrap_or_else(|e| panic!("one JSON document ({e}): {}", stdout(&failed)));
    let reports = doc["reports"].as_array().unwrap_or_else(|| panic!("{doc}"));
    assert_eq!(reports.len(), 1, "{doc}");
    assert_eq!(reports[0]["set"], "default", "{doc}");
    assert_eq!(doc["error"]["exit_code"], 1, "{doc}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("uploads")),
        "{doc}"
    );
    // The report was of a run the failure then undid (restored): the database says so, and so
    // does the document, with the backup it restored.
    assert_eq!(applied(&db, "default"), 4);
    assert!(!table_exists(&db, "uploads"));
    assert_eq!(
        doc["rolled_back"],
        serde_json::json!([{ "set": "default", "seqs": [5, 6, 7] }]),
        "{doc}"
    );
    let run_backup = named(&files(&backups), ".pre-up.").pop().unwrap();
    assert_eq!(
        doc["backup"]["path"],
        run_backup.display().to_string(),
        "{doc}"
    );
    assert_eq!(doc["backup"]["name"], "pre-up", "{doc}");
}

/// Under `--json` a run that succeeds names its one backup too (`null` when it took none).
#[test]
fn json_up_all_sets_names_the_one_backup_of_the_run() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().to_owned();
    let up = cli(&db, &backups, None, &["--json", "up", "--all-sets"]);
    assert_eq!(code(&up), 0, "{up:?}");
    let doc: Value = serde_json::from_slice(&up.stdout)
        .unwrap_or_else(|e| panic!("one JSON document ({e}): {}", stdout(&up)));
    let taken = files(&backups);
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert_eq!(
        doc["backup"]["path"],
        taken[0].display().to_string(),
        "{doc}"
    );
    assert_eq!(doc["backup"]["kind"], "automatic", "{doc}");
    assert_eq!(doc["reports"].as_array().map(Vec::len), Some(2), "{doc}");
    assert!(doc.get("rolled_back").is_none(), "{doc}");
    assert_eq!((applied(&db, "default"), applied(&db, "uploads")), (7, 3));

    let again = cli(&db, &backups, None, &["--json", "up", "--all-sets"]);
    assert_eq!(code(&again), 0, "{again:?}");
    let doc: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(doc["backup"], Value::Null, "{doc}");
    assert_eq!(files(&backups), taken, "nothing to do: no backup");
}
