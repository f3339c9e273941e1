//! `pg-notes migrate ...`: the command line shared with the SQLite backend
//! (`migrate_postgres::cli::run`), run as an operator runs it: the real binary against the
//! harness's cluster, off a terminal. Each test checks the exit codes and then the database
//! (tracking rows, tables, columns, indexes) and the backup files.

mod common;

use common::{count, db, url};
use migrate_postgres::testing::TestDatabase;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// `pg-notes migrate <args>`, backups in `backups` when given (`PG_NOTES_BACKUPS`).
fn cli(db: &TestDatabase, backups: Option<&Path>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pg-notes"));
    command
        .arg("migrate")
        .args(args)
        .env("PG_NOTES_URL", url(db))
        .stdin(Stdio::null());
    if let Some(dir) = backups {
        command.env("PG_NOTES_BACKUPS", dir);
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

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(output)))
}

/// Applied migrations in the tracking table (0 when it does not exist).
fn applied(db: &TestDatabase) -> i64 {
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
        "SELECT count(*) FROM public._migrate_applied WHERE state = 'applied'",
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

fn notes(db: &TestDatabase) -> i64 {
    count(&mut db.client(), "SELECT count(*) FROM notes")
}

/// The backup files in `dir` (not the hidden temp files).
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

/// Splits a printed command as a POSIX shell does for the quoting messages use (single quotes).
fn words(command: &str) -> Vec<String> {
    let (mut words, mut word, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
    for c in command.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    words.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(word);
    }
    words
}

#[test]
fn up_takes_one_backup_names_it_and_a_second_up_changes_nothing() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("my backups");

    let up = cli(&db, Some(&backups), &["up"]);
    assert_eq!(code(&up), 0, "{up:?}");
    let out = stdout(&up);
    assert!(out.contains("applied 7 migrations"), "{out}");
    assert!(
        out.contains("backup of the state before this run: "),
        "{out}"
    );
    assert!(out.contains("to go back to it: migrate restore '"), "{out}");
    assert_eq!(applied(&db), 7);
    let taken = files(&backups);
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert!(taken[0].to_string_lossy().contains(".pre-up."), "{taken:?}");
    assert!(out.contains(&*taken[0].to_string_lossy()), "{out}");

    let again = cli(&db, Some(&backups), &["up"]);
    assert_eq!(code(&again), 0, "{again:?}");
    assert!(stdout(&again).contains("set \"default\": up to date at seq 7"));
    assert_eq!(files(&backups), taken, "a no-op start takes no backup");

    let status = cli(&db, None, &["--json", "status"]);
    assert_eq!(code(&status), 0, "{status:?}");
    let status = json(&status);
    assert_eq!(status["current"], 7, "{status}");
    assert_eq!(
        status["migrations"].as_array().map(Vec::len),
        Some(7),
        "{status}"
    );

    let history = cli(&db, None, &["history", "--json"]);
    assert_eq!(code(&history), 0, "{history:?}");
    let rows = json(&history);
    let seqs: Vec<u64> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|row| row["seq"].as_u64())
        .collect();
    for seq in 1..=7 {
        assert!(seqs.contains(&seq), "no history row of {seq}: {rows}");
    }
    let text = cli(&db, None, &["history"]);
    assert_eq!(code(&text), 0);
    assert!(
        stdout(&text).contains("index_notes_by_date"),
        "{}",
        stdout(&text)
    );
}

#[test]
fn down_and_redo_need_yes_then_revert_and_apply_again() {
    let Some(db) = db() else { return };
    assert_eq!(code(&cli(&db, None, &["up"])), 0);

    let refused = cli(&db, None, &["down"]);
    assert_eq!(code(&refused), 3, "{refused:?}");
    assert!(
        stderr(&refused).contains("pass --yes"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(applied(&db), 7);
    assert!(column_exists(&db, "notes", "pinned"));

    let json_refused = cli(&db, None, &["--json", "redo"]);
    assert_eq!(code(&json_refused), 3);
    assert_eq!(json(&json_refused)["error"]["exit_code"], 3);
    assert_eq!(applied(&db), 7);

    let down = cli(&db, None, &["down", "--yes"]);
    assert_eq!(code(&down), 0, "{down:?}");
    assert!(
        stdout(&down).contains("reverted 1 migration"),
        "{}",
        stdout(&down)
    );
    assert_eq!(applied(&db), 6);
    assert!(!column_exists(&db, "notes", "pinned"));

    let redo = cli(&db, None, &["redo", "--yes"]);
    assert_eq!(code(&redo), 0, "{redo:?}");
    let out = stdout(&redo);
    assert!(
        out.contains("applied 1 migration") && out.contains("reverted 1 migration"),
        "{out}"
    );
    assert_eq!(applied(&db), 6);
    assert!(
        count(
            &mut db.client(),
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'notes_by_date'"
        ) == 1
    );

    let too_far = cli(&db, None, &["down", "--steps", "9", "--yes"]);
    assert_eq!(code(&too_far), 3, "{too_far:?}");
    assert_eq!(applied(&db), 6);
    assert!(table_exists(&db, "notes"));

    let to_zero = cli(&db, None, &["down", "--to", "0", "--yes"]);
    assert_eq!(code(&to_zero), 0, "{to_zero:?}");
    assert_eq!(applied(&db), 0);
    assert!(!table_exists(&db, "notes") && !table_exists(&db, "notebooks"));
}

#[test]
fn backup_snapshot_restore_and_the_printed_undo_command_run_on_postgresql() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("my backups");
    let b = Some(backups.as_path());
    assert_eq!(code(&cli(&db, b, &["up"])), 0);
    pg_notes::add_note(&mut db.client(), "Inbox", "kept", "in the snapshot", &["x"]).unwrap();

    let backup = cli(&db, b, &["backup"]);
    assert_eq!(code(&backup), 0, "{backup:?}");
    let out = stdout(&backup);
    let path = out
        .lines()
        .find_map(|l| l.strip_prefix("backup created: "))
        .unwrap_or_else(|| panic!("no path in {out}"));
    assert!(Path::new(path).is_file(), "{path}");
    assert!(out.contains("to restore it: migrate restore '"), "{out}");
    // Off a terminal, no progress bar ("dumping [====> ]") is drawn.
    assert!(!stderr(&backup).contains("dumping ["), "{backup:?}");

    let snapshot = cli(&db, b, &["snapshot", "create", "one-note"]);
    assert_eq!(code(&snapshot), 0, "{snapshot:?}");
    let list = cli(&db, b, &["--json", "snapshot", "list"]);
    let list = json(&list);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["name"], "one-note");
    assert_eq!(list[0]["kind"], "snapshot");
    let snapshot_file = PathBuf::from(list[0]["path"].as_str().unwrap());
    assert!(snapshot_file.is_file());

    let mut client = db.client();
    client
        .batch_execute("DELETE FROM note_tags; DELETE FROM notes;")
        .unwrap();
    assert_eq!(notes(&db), 0);

    let refused = cli(&db, b, &["restore", "one-note"]);
    assert_eq!(code(&refused), 3, "{refused:?}");
    assert_eq!(notes(&db), 0, "refused: nothing restored");

    let restored = cli(&db, b, &["restore", "one-note", "--yes"]);
    assert_eq!(code(&restored), 0, "{restored:?}");
    assert!(!stderr(&restored).contains("restoring ["), "{restored:?}");
    assert_eq!(notes(&db), 1);
    assert_eq!(applied(&db), 7);
    let out = stdout(&restored);
    let undo = out
        .lines()
        .find_map(|l| l.split("to undo: ").nth(1))
        .unwrap_or_else(|| panic!("no undo command in {out}"));
    // As printed (the program name is the binary's; --yes off a terminal).
    let mut undo = words(undo);
    assert_eq!(undo[0], "migrate");
    undo.remove(0);
    undo.push("--yes".into());
    let undo: Vec<&str> = undo.iter().map(String::as_str).collect();
    let undone = cli(&db, b, &undo);
    assert_eq!(code(&undone), 0, "{undone:?}");
    assert_eq!(notes(&db), 0, "the undo backup held the emptied table");

    let listed = json(&cli(&db, b, &["--json", "backups"]));
    let kinds: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    for expected in ["pre-up", "manual", "one-note", "pre-restore"] {
        assert!(kinds.contains(&expected), "{expected} not in {kinds:?}");
    }
    for entry in listed.as_array().unwrap() {
        assert!(
            Path::new(entry["path"].as_str().unwrap()).is_file(),
            "{entry}"
        );
    }

    // Before migration 1: the backup `up` took of the empty database.
    let before = cli(&db, b, &["restore", "--before", "1", "--yes"]);
    assert_eq!(code(&before), 0, "{before:?}");
    assert!(!table_exists(&db, "notes"));
    assert_eq!(applied(&db), 0);

    let deleted = cli(&db, b, &["snapshot", "delete", "one-note", "--yes"]);
    assert_eq!(code(&deleted), 0, "{deleted:?}");
    assert!(!snapshot_file.exists());
    let none = cli(&db, b, &["snapshot", "list"]);
    assert_eq!(stdout(&none).trim(), "no snapshots");
}

/// The backticked `migrate ...` commands of a message.
fn printed_commands(message: &str) -> Vec<String> {
    message
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|quoted| quoted.starts_with("migrate "))
        .map(str::to_owned)
        .collect()
}

/// Runs a printed `migrate ...` command through the binary, `extra` appended (`--yes`: off a
/// terminal a revert asks for it).
fn run_printed(db: &TestDatabase, backups: Option<&Path>, command: &str, extra: &[&str]) -> Output {
    let mut args = words(command);
    assert_eq!(args[0], "migrate", "{command}");
    args.remove(0);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cli(db, backups, &args)
}

#[test]
fn down_past_what_is_applied_names_down_to_0_which_runs_as_printed() {
    let Some(db) = db() else { return };
    assert_eq!(code(&cli(&db, None, &["up", "--to", "3"])), 0);
    assert_eq!(applied(&db), 3);

    let too_far = cli(&db, None, &["down", "--steps", "9", "--yes"]);
    assert_eq!(code(&too_far), 3, "{too_far:?}");
    let message = stderr(&too_far);
    assert_eq!(
        printed_commands(&message),
        ["migrate down --to 0"],
        "{message}"
    );
    assert_eq!(applied(&db), 3, "refused: nothing reverted");
    assert!(table_exists(&db, "notes"));

    let reverted = run_printed(&db, None, "migrate down --to 0", &["--yes"]);
    assert_eq!(code(&reverted), 0, "{reverted:?}");
    assert_eq!(applied(&db), 0);
    assert!(!table_exists(&db, "notes") && !table_exists(&db, "notebooks"));
}

#[test]
fn a_dry_run_held_off_by_the_lock_names_migrate_plan_which_runs_as_printed() {
    let Some(db) = db() else { return };
    let mut holder = db.client();
    let key = migrate_postgres::lock_key("public");
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .unwrap();

    let plan = cli(&db, None, &["--busy-timeout-ms", "200", "plan"]);
    assert_eq!(code(&plan), 4, "{plan:?}");
    let message = stderr(&plan);
    assert!(message.contains("held by another session"), "{message}");
    let commands = printed_commands(&message);
    assert!(commands.iter().all(|c| c == "migrate plan"), "{message}");
    assert!(!commands.is_empty(), "{message}");
    assert!(!table_exists(&db, "notes"));
    assert_eq!(applied(&db), 0);

    holder
        .execute("SELECT pg_advisory_unlock_all()", &[])
        .unwrap();
    assert_eq!(code(&cli(&db, None, &["up", "--to", "2"])), 0);
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .unwrap();
    let preview = cli(
        &db,
        None,
        &["--busy-timeout-ms", "200", "plan", "--down", "--steps", "1"],
    );
    assert_eq!(code(&preview), 4, "{preview:?}");
    let message = stderr(&preview);
    let commands = printed_commands(&message);
    assert!(
        !commands.is_empty()
            && commands
                .iter()
                .all(|c| c == "migrate plan --down --steps 1"),
        "{message}"
    );
    let down = cli(&db, None, &["--busy-timeout-ms", "200", "down", "--yes"]);
    assert_eq!(code(&down), 4, "{down:?}");
    assert!(
        printed_commands(&stderr(&down))
            .iter()
            .all(|c| c == "migrate down --steps 1"),
        "{}",
        stderr(&down)
    );
    assert_eq!(applied(&db), 2, "nothing reverted while the lock was held");
    assert!(table_exists(&db, "notes"));

    holder
        .execute("SELECT pg_advisory_unlock_all()", &[])
        .unwrap();
    let rerun = run_printed(&db, None, "migrate plan --down --steps 1", &[]);
    assert_eq!(code(&rerun), 0, "{rerun:?}");
    assert_eq!(applied(&db), 2, "a dry run changes nothing");
    assert!(table_exists(&db, "notes"));
}

#[test]
fn a_damaged_backup_is_refused_naming_the_listing_command_not_a_placeholder() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let b = Some(dir.path());
    assert_eq!(code(&cli(&db, b, &["up"])), 0);
    pg_notes::add_note(
        &mut db.client(),
        "Inbox",
        "kept",
        "after the backup",
        &["x"],
    )
    .unwrap();
    let backup = cli(&db, b, &["backup"]);
    assert_eq!(code(&backup), 0, "{backup:?}");
    let out = stdout(&backup);
    let manual = PathBuf::from(
        out.lines()
            .find_map(|l| l.strip_prefix("backup created: "))
            .unwrap_or_else(|| panic!("no path in {out}")),
    );
    // Truncated, as a full disk or an interrupted copy leaves it.
    let bytes = std::fs::read(&manual).unwrap();
    std::fs::write(&manual, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let before = files(dir.path());
    assert_eq!(before.len(), 2, "{before:?}");

    let manual_arg = manual.to_str().unwrap();
    let refused = cli(&db, b, &["restore", manual_arg, "--yes"]);
    assert_eq!(code(&refused), 3, "{refused:?}");
    let message = stderr(&refused);
    assert!(!message.contains('<'), "a placeholder: {message}");
    // Its checksum no longer matches: the intact pre-up backup is named, then the listing.
    let pre_up = before.iter().find(|p| **p != manual).unwrap();
    assert_eq!(
        printed_commands(&message),
        [
            format!("migrate restore {}", pre_up.display()),
            "migrate backups".to_owned()
        ],
        "{message}"
    );
    assert_eq!(applied(&db), 7);
    assert_eq!(notes(&db), 1, "nothing restored");
    assert_eq!(files(dir.path()), before, "not even an undo backup");

    // The listing names the other backup by its path.
    let listed = run_printed(&db, b, "migrate backups", &[]);
    assert_eq!(code(&listed), 0, "{listed:?}");
    assert!(
        stdout(&listed).contains(&*pre_up.to_string_lossy()),
        "{}",
        stdout(&listed)
    );
}

#[test]
fn without_a_backup_directory_backup_is_refused_naming_the_flag() {
    let Some(db) = db() else { return };
    assert_eq!(code(&cli(&db, None, &["up"])), 0);
    let refused = cli(&db, None, &["backup"]);
    assert_eq!(code(&refused), 3, "{refused:?}");
    assert!(
        stderr(&refused).contains("--backup-dir DIR"),
        "{}",
        stderr(&refused)
    );
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().to_str().unwrap();
    let taken = cli(&db, None, &["--backup-dir", flag, "backup"]);
    assert_eq!(code(&taken), 0, "{taken:?}");
    assert_eq!(files(dir.path()).len(), 1);
}

#[test]
fn a_held_migration_lock_exits_4_and_changes_nothing() {
    let Some(db) = db() else { return };
    let mut holder = db.client();
    holder
        .execute(
            "SELECT pg_advisory_lock($1)",
            &[&migrate_postgres::lock_key("public")],
        )
        .unwrap();
    let up = cli(&db, None, &["--busy-timeout-ms", "300", "up"]);
    assert_eq!(code(&up), 4, "{up:?}");
    assert!(
        stderr(&up).contains("held by another session"),
        "{}",
        stderr(&up)
    );
    let as_json = cli(&db, None, &["--json", "--busy-timeout-ms", "300", "up"]);
    assert_eq!(code(&as_json), 4);
    assert_eq!(json(&as_json)["error"]["exit_code"], 4);
    assert!(!table_exists(&db, "notes"));
    assert_eq!(applied(&db), 0);

    holder
        .execute("SELECT pg_advisory_unlock_all()", &[])
        .unwrap();
    assert_eq!(code(&cli(&db, None, &["up"])), 0);
    assert_eq!(applied(&db), 7);
}

#[test]
fn resolve_settles_a_started_non_transactional_migration() {
    let Some(db) = db() else { return };
    assert_eq!(code(&cli(&db, None, &["up"])), 0);
    // What a crash during migration 6 (transaction = false) leaves: its row started.
    db.client()
        .execute(
            "UPDATE public._migrate_applied SET state = 'started' WHERE seq = 6",
            &[],
        )
        .unwrap();

    let blocked = cli(&db, None, &["up"]);
    assert_eq!(code(&blocked), 3, "{blocked:?}");
    assert!(
        stderr(&blocked).contains("migrate resolve 6"),
        "{}",
        stderr(&blocked)
    );

    let resolved = cli(&db, None, &["resolve", "6", "--applied"]);
    assert_eq!(code(&resolved), 0, "{resolved:?}");
    assert_eq!(stdout(&resolved).trim(), "migration 6 resolved as Applied");
    assert_eq!(applied(&db), 7);
    assert_eq!(
        count(
            &mut db.client(),
            "SELECT count(*) FROM public._migrate_history WHERE seq = 6 AND action LIKE 'resolve%'"
        ),
        1
    );

    let nothing = cli(&db, None, &["--json", "resolve", "6", "--applied"]);
    assert_eq!(code(&nothing), 3, "{nothing:?}");
    assert_eq!(json(&nothing)["error"]["exit_code"], 3);
    assert_eq!(applied(&db), 7);
}

#[test]
fn commands_postgresql_does_not_offer_are_refused_with_exit_3_changing_nothing() {
    let Some(db) = db() else { return };
    for args in [
        &["rehearse", "up"][..],
        &["restore-table", "notes", "--yes"],
        &["new", "add_due_dates"],
        &["adopt", "--from", "sqlx"],
    ] {
        let out = cli(&db, None, args);
        assert_eq!(code(&out), 3, "{args:?}: {out:?}");
        let err = stderr(&out);
        assert!(
            err.contains("not available on PostgreSQL"),
            "{args:?}: {err}"
        );
        assert!(err.contains("othing was changed"), "{args:?}: {err}");
    }
    let rehearse = stderr(&cli(&db, None, &["rehearse", "redo"]));
    assert!(
        rehearse.contains("`migrate rehearse` is not available on PostgreSQL"),
        "{rehearse}"
    );
    assert!(rehearse.contains("`migrate plan`"), "{rehearse}");
    assert_eq!(
        count(
            &mut db.client(),
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ),
        0
    );

    // `--allow-destructive` and `--no-row-counts` are offered: the guard exists on PostgreSQL,
    // and can stop counting.
    let up = cli(&db, None, &["--no-row-counts", "--allow-destructive", "up"]);
    assert_eq!(code(&up), 0, "{up:?}");
    assert_eq!(applied(&db), 7);
    let counted: i64 = db
        .client()
        .query_one("SELECT count(*) FROM public._migrate_row_counts", &[])
        .unwrap()
        .get(0);
    assert_eq!(counted, 0, "--no-row-counts records no counts");
}

#[test]
fn verify_names_pending_migrations_drift_and_invalid_indexes() {
    let Some(db) = db() else { return };
    let pending = cli(&db, None, &["verify"]);
    assert_eq!(code(&pending), 3, "{pending:?}");
    assert!(
        stdout(&pending).contains("problem: 1 \"create_notebooks\" is pending"),
        "{}",
        stdout(&pending)
    );
    assert_eq!(applied(&db), 0, "verify changes nothing");

    assert_eq!(code(&cli(&db, None, &["up"])), 0);
    let ok = cli(&db, None, &["verify"]);
    assert_eq!(code(&ok), 0, "{ok:?}");
    assert!(
        stdout(&ok).starts_with("ok: 7 migrations applied"),
        "{}",
        stdout(&ok)
    );

    let mut client = db.client();
    pg_notes::add_note(&mut client, "Inbox", "same", "a", &[]).unwrap();
    pg_notes::add_note(&mut client, "Inbox", "same", "b", &[]).unwrap();
    // A failed concurrent build leaves its index INVALID.
    assert!(
        client
            .batch_execute("CREATE UNIQUE INDEX CONCURRENTLY notes_title_once ON notes (title)")
            .is_err()
    );
    client
        .batch_execute("ALTER TABLE notes ADD COLUMN by_hand integer")
        .unwrap();
    let found = cli(&db, None, &["--json", "verify"]);
    assert_eq!(code(&found), 3, "{found:?}");
    let report = json(&found);
    assert_eq!(report["ok"], false);
    assert_eq!(
        report["invalid_indexes"][0], "public.notes_title_once",
        "{report}"
    );
    let problems = report["problems"].to_string();
    assert!(problems.contains("schema drift"), "{problems}");
    assert!(
        problems.contains("DROP INDEX CONCURRENTLY IF EXISTS public.notes_title_once"),
        "{problems}"
    );
    assert_eq!(applied(&db), 7);
}

#[test]
fn verify_names_a_backup_whose_bytes_changed_and_the_intact_one_to_use() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let b = Some(dir.path());
    assert_eq!(code(&cli(&db, b, &["up"])), 0);
    let first = cli(&db, b, &["--json", "backup"]);
    assert_eq!(code(&first), 0, "{first:?}");
    let second = cli(&db, b, &["--json", "backup"]);
    let intact = PathBuf::from(json(&first)["path"].as_str().unwrap());
    let damaged = PathBuf::from(json(&second)["path"].as_str().unwrap());
    assert_eq!(code(&cli(&db, b, &["verify"])), 0);
    // Bytes in the middle of the dump overwritten.
    let mut bytes = std::fs::read(&damaged).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle..middle + 4].copy_from_slice(b"XXXX");
    std::fs::write(&damaged, &bytes).unwrap();

    let found = cli(&db, b, &["verify"]);

    assert_eq!(code(&found), 3, "{found:?}");
    let text = stdout(&found);
    assert!(
        text.contains(&format!("problem: backup {} is damaged", damaged.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!("`migrate restore {}`", intact.display())),
        "{text}"
    );
    assert!(
        damaged.is_file() && intact.is_file(),
        "verify deletes nothing"
    );
    assert_eq!(applied(&db), 7, "verify changes nothing");
}

#[test]
fn sets_lists_the_default_set_and_where_it_stands() {
    let Some(db) = db() else { return };
    let before = cli(&db, None, &["sets"]);
    assert_eq!(code(&before), 0, "{before:?}");
    let out = stdout(&before);
    assert!(out.starts_with("default"), "{out}");
    assert!(
        out.contains("7 migrations  applied 0, pending 7 (nothing applied)"),
        "{out}"
    );
    assert_eq!(code(&cli(&db, None, &["up", "--to", "3"])), 0);
    let after = json(&cli(&db, None, &["--json", "sets"]));
    assert_eq!(after[0]["set"], "default");
    assert_eq!(after[0]["standing"], "applied 3, pending 4 (at seq 3)");
    assert_eq!(applied(&db), 3);
}

#[test]
fn all_sets_reports_every_set_and_applies_them_with_one_backup() {
    let Some(db) = db() else { return };
    let status = cli(&db, None, &["--json", "status", "--all-sets"]);
    assert_eq!(code(&status), 0, "{status:?}");
    let reports = json(&status);
    assert_eq!(reports.as_array().map(Vec::len), Some(1), "{reports}");
    assert_eq!(reports[0]["set"], "default");

    // With backups on: one backup for the run (two sets: `tests/cli_all_sets.rs`).
    let dir = tempfile::tempdir().unwrap();
    let up = cli(&db, Some(dir.path()), &["up", "--all-sets"]);
    assert_eq!(code(&up), 0, "{up:?}");
    assert!(
        stdout(&up).contains("set \"default\": applied 7 migrations"),
        "{}",
        stdout(&up)
    );
    assert_eq!(applied(&db), 7);
    let taken = files(dir.path());
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert!(taken[0].to_string_lossy().contains(".pre-up."), "{taken:?}");
}

#[test]
fn database_overrides_the_url_the_app_passes_and_a_bad_one_is_refused() {
    let Some(db) = db() else { return };
    let elsewhere = db.name.clone() + "_missing";
    let real = url(&db);
    let wrong = real.replace(&db.name, &elsewhere);
    // The app's URL names a database that does not exist; --database names the real one.
    let up = Command::new(env!("CARGO_BIN_EXE_pg-notes"))
        .args(["migrate", "--database", real.as_str(), "up"])
        .env("PG_NOTES_URL", &wrong)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&up), 0, "{up:?}");
    assert_eq!(applied(&db), 7);

    let refused = cli(&db, None, &["--database", wrong.as_str(), "status"]);
    assert_eq!(code(&refused), 3, "{refused:?}");
    let err = stderr(&refused);
    assert!(err.contains("cannot connect to"), "{err}");
    assert!(err.contains("Nothing was changed"), "{err}");
    assert_eq!(applied(&db), 7);
}

#[test]
fn plan_is_the_dry_run_and_changes_nothing() {
    let Some(db) = db() else { return };
    let plan = cli(&db, None, &["plan"]);
    assert_eq!(code(&plan), 0, "{plan:?}");
    let out = stdout(&plan);
    assert!(out.contains("nothing was changed"), "{out}");
    assert!(
        out.contains("create_notebooks") && out.contains("pin_notes"),
        "{out}"
    );
    assert!(!table_exists(&db, "notebooks"));
    assert_eq!(applied(&db), 0);

    let as_json = json(&cli(&db, None, &["--json", "plan"]));
    assert_eq!(
        as_json["migrations"].as_array().map(Vec::len),
        Some(7),
        "{as_json}"
    );

    assert_eq!(code(&cli(&db, None, &["up"])), 0);
    let down = cli(&db, None, &["plan", "--down", "--steps", "2"]);
    assert_eq!(code(&down), 0, "{down:?}");
    assert!(stdout(&down).contains("pin_notes"), "{}", stdout(&down));
    assert_eq!(applied(&db), 7);
    assert!(column_exists(&db, "notes", "pinned"));

    let too_far = cli(&db, None, &["plan", "--down", "--steps", "9"]);
    assert_eq!(code(&too_far), 3, "{too_far:?}");
    assert_eq!(applied(&db), 7);
}

/// The catalog fingerprint of the database and every row of every table (the tracking and
/// history tables included), as text: what a dry run must leave exactly as it was.
fn everything(db: &TestDatabase) -> (String, Vec<String>) {
    let print = migrate_postgres::fingerprint(&db.connect().schema_objects().unwrap());
    let mut client = db.client();
    let tables: Vec<String> = client
        .query(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
             WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut rows = Vec::new();
    for table in tables {
        for row in client
            .query(&format!("SELECT x::text FROM {table} x ORDER BY 1"), &[])
            .unwrap()
        {
            rows.push(format!("{table}: {}", row.get::<_, String>(0)));
        }
    }
    (print, rows)
}

#[test]
fn plan_to_previews_up_to_and_refuses_as_up_to_does() {
    let Some(db) = db() else { return };
    assert_eq!(code(&cli(&db, None, &["up", "--to", "2"])), 0);
    db.client()
        .batch_execute("INSERT INTO notes (notebook_id, body) VALUES (NULL, 'untitled')")
        .unwrap();
    let before = everything(&db);

    let plan = cli(&db, None, &["plan", "--to", "4"]);
    assert_eq!(code(&plan), 0, "{plan:?}");
    let out = stdout(&plan);
    assert!(out.contains("Dry run of `migrate up --to 4`"), "{out}");
    assert!(
        out.contains("create_tags") && out.contains("default_notebook"),
        "{out}"
    );
    assert!(
        !out.contains("require_note_titles") && !out.contains("pin_notes"),
        "{out}"
    );
    let as_json = json(&cli(&db, None, &["--json", "plan", "--to", "4"]));
    assert_eq!(as_json["operation"], "up --to 4", "{as_json}");
    let seqs: Vec<u64> = as_json["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [3, 4], "{as_json}");
    assert_eq!(everything(&db), before, "the dry run changed nothing");

    // A seq no migration has: refused as `up --to` refuses it, nothing changed.
    let plan = cli(&db, None, &["plan", "--to", "99"]);
    let up = cli(&db, None, &["up", "--to", "99"]);
    assert_eq!(code(&plan), 3, "{plan:?}");
    assert_eq!(code(&up), 3, "{up:?}");
    assert_eq!(stderr(&plan), stderr(&up));
    // Already applied: nothing to do, for both.
    let plan = cli(&db, None, &["plan", "--to", "1"]);
    assert_eq!(code(&plan), 0, "{plan:?}");
    assert!(stdout(&plan).contains("Nothing to do"), "{}", stdout(&plan));
    assert_eq!(code(&cli(&db, None, &["up", "--to", "1"])), 0);
    // --to previews `up --to` or, with --down, `down --to`; not `redo`.
    assert_eq!(code(&cli(&db, None, &["plan", "--redo", "--to", "3"])), 2);
    assert_eq!(everything(&db), before, "nothing changed by any of them");

    // The real run applies what the preview listed.
    assert_eq!(code(&cli(&db, None, &["up", "--to", "4"])), 0);
    assert_eq!(applied(&db), 4);
    assert!(table_exists(&db, "tags"));
}

/// The app's URL in the libpq form for a unix socket (`postgresql://user@/db?host=DIR`): the
/// backup before `up`, `backup` and `restore` (pg_dump and psql, separate processes) reach the
/// same socket as the migrations; the test cluster listens on nothing else.
#[test]
fn backups_and_restores_go_through_a_socket_directory_given_in_the_url_query() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let socket = migrate_postgres::testing::server()
        .unwrap()
        .socket_dir()
        .display()
        .to_string();
    let app_url = format!("postgresql://postgres@/{}?host={socket}", db.name);
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_pg-notes"))
            .arg("migrate")
            .args(args)
            .env("PG_NOTES_URL", &app_url)
            .env("PG_NOTES_BACKUPS", dir.path())
            .env_remove("PGHOST")
            .env_remove("PGPORT")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let up = run(&["up", "--to", "4"]);
    assert_eq!(code(&up), 0, "{up:?}");
    db.client()
        .batch_execute(
            "INSERT INTO notes (notebook_id, title, body) SELECT id, 't', 'kept' FROM notebooks",
        )
        .unwrap();
    let backup = run(&["backup"]);
    assert_eq!(code(&backup), 0, "{backup:?}");
    let up = run(&["up"]);
    assert_eq!(code(&up), 0, "{up:?}");
    assert_eq!(applied(&db), 7);
    assert!(column_exists(&db, "notes", "pinned"));

    let restored = run(&["restore", "--before", "5", "--yes"]);
    assert_eq!(code(&restored), 0, "{restored:?}");
    assert_eq!(applied(&db), 4);
    assert!(!column_exists(&db, "notes", "pinned"));
    assert_eq!(
        count(
            &mut db.client(),
            "SELECT count(*) FROM notes WHERE body = 'kept'"
        ),
        1,
        "the row written before the backup is back"
    );
}
