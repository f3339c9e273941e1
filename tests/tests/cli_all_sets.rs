//! `status --all-sets` and `up --all-sets`: every migration set linked into the binary in one
//! command, through the real binary (`migrate-cli-sets`: sets "library" and "shelves"), with
//! ONE pre-migration backup for the whole run, not one per set. Checked on the files.

#[path = "common/runbook.rs"]
mod runbook;

use runbook::{Db, Out, run_bounded};
use std::process::Command;

fn run(db: &Db, args: &[&str]) -> Out {
    let mut command = Command::new(env!("CARGO_BIN_EXE_migrate-cli-sets"));
    command
        .args(args)
        .env("MIGRATE_CLI_DB", &db.path)
        .env_remove("SHELVES_FAIL")
        .envs(db.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    run_bounded(command)
}

fn applied(db: &Db, set: &str) -> i64 {
    db.int(&format!(
        "SELECT count(*) FROM _migrate_applied WHERE set_name = '{set}'"
    ))
}

/// The pre-migration backups in the backup directory.
fn pre_up_backups(db: &Db) -> usize {
    db.backups()
        .iter()
        .filter(|p| p.to_string_lossy().contains(".pre-up."))
        .count()
}

#[test]
fn up_all_sets_applies_every_set_with_one_backup_for_the_run() {
    let db = Db::new();
    // A database at library seq 1 (one backup of the new file), then everything at once.
    run(&db, &["up", "--to", "1"]).expect(0);
    let before = pre_up_backups(&db);
    let out = run(&db, &["up", "--all-sets"]).expect(0);
    assert!(
        out.stdout.contains("set \"library\": applied 2 migrations"),
        "{out:#?}"
    );
    assert!(
        out.stdout.contains("set \"shelves\": applied 3 migrations"),
        "{out:#?}"
    );
    assert_eq!(
        out.stdout
            .matches("backup of the state before this run: ")
            .count(),
        1,
        "{out:#?}"
    );
    assert_eq!(applied(&db, "library"), 3);
    assert_eq!(applied(&db, "shelves"), 3);
    assert_eq!(pre_up_backups(&db), before + 1, "one backup for two sets");
    // The backup holds the state before the run: library at seq 1, no shelves.
    let newest = db
        .backups()
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".pre-up."))
        .max()
        .unwrap();
    let backup = rusqlite::Connection::open(&newest).unwrap();
    let seqs: i64 = backup
        .query_row("SELECT count(*) FROM _migrate_applied", [], |r| r.get(0))
        .unwrap();
    assert_eq!(seqs, 1, "{newest:?}");
    // Nothing to do: no backup, both sets up to date.
    let again = run(&db, &["up", "--all-sets"]).expect(0);
    assert!(
        again
            .stdout
            .contains("set \"library\": up to date at seq 3"),
        "{again:#?}"
    );
    assert!(
        again
            .stdout
            .contains("set \"shelves\": up to date at seq 3"),
        "{again:#?}"
    );
    assert_eq!(pre_up_backups(&db), before + 1);
}

#[test]
fn the_same_sets_one_by_one_take_a_backup_each() {
    let db = Db::new();
    run(&db, &["up", "--to", "1"]).expect(0);
    let before = pre_up_backups(&db);
    run(&db, &["up", "--set", "library"]).expect(0);
    run(&db, &["up", "--set", "shelves"]).expect(0);
    assert_eq!(pre_up_backups(&db), before + 2);
}

#[test]
fn status_all_sets_reports_every_set_and_changes_nothing() {
    let db = Db::new();
    run(&db, &["up", "--set", "shelves"]).expect(0);
    let bytes = db.bytes();
    let out = run(&db, &["status", "--all-sets"]).expect(0);
    assert!(out.stdout.contains("set \"library\""), "{out:#?}");
    assert!(out.stdout.contains("set \"shelves\""), "{out:#?}");
    let json = run(&db, &["--json", "status", "--all-sets"])
        .expect(0)
        .json();
    let reports = json.as_array().unwrap();
    assert_eq!(reports.len(), 2, "{json}");
    assert_eq!(reports[0]["set"], "library");
    assert_eq!(reports[0]["current"], serde_json::Value::Null);
    assert_eq!(reports[1]["set"], "shelves");
    assert_eq!(reports[1]["current"], 3);
    assert_eq!(db.bytes(), bytes, "status changed the file");
}

#[test]
fn a_failure_in_a_later_set_keeps_the_earlier_sets_and_names_the_one_backup() {
    let mut db = Db::new();
    run(&db, &["up", "--to", "1"]).expect(0);
    let before = pre_up_backups(&db);
    db.env.push(("SHELVES_FAIL".into(), "1".into()));
    let out = run(&db, &["up", "--all-sets"]).expect(1);
    assert!(out.stderr.contains("fails on purpose"), "{out:#?}");
    // The earlier set stays applied: the failing set alone is to run again (a bare `migrate
    // up` would run the app's own set, "library").
    assert!(
        out.stderr.contains("run `migrate up --set shelves` again"),
        "{out:#?}"
    );
    assert!(
        !out.stdout.contains("rolled back with the restore"),
        "{out:#?}"
    );
    assert!(
        out.stdout.contains("set \"library\": applied 2 migrations"),
        "{out:#?}"
    );
    assert!(
        out.stdout.contains("backup of the state before this run: "),
        "{out:#?}"
    );
    assert_eq!(
        applied(&db, "library"),
        3,
        "the set before the failure stays applied"
    );
    assert_eq!(
        applied(&db, "shelves"),
        0,
        "the failing set's run was rolled back"
    );
    assert_eq!(
        db.int("SELECT count(*) FROM sqlite_schema WHERE name IN ('shelves', 'shelf_books')"),
        0
    );
    assert_eq!(pre_up_backups(&db), before + 1);
}

/// Under `--json`, the same failure prints one document: the report of the set that ran
/// before it (committed) and the error.
#[test]
fn json_a_failure_in_a_later_set_prints_the_earlier_reports_with_the_error() {
    let mut db = Db::new();
    run(&db, &["up", "--to", "1"]).expect(0);
    let before = pre_up_backups(&db);
    db.env.push(("SHELVES_FAIL".into(), "1".into()));
    let doc = run(&db, &["--json", "up", "--all-sets"]).expect(1).json();
    let reports = doc["reports"].as_array().unwrap_or_else(|| panic!("{doc}"));
    assert_eq!(reports.len(), 1, "{doc}");
    assert_eq!(reports[0]["set"], "library", "{doc}");
    assert_eq!(
        reports[0]["steps"].as_array().map(Vec::len),
        Some(2),
        "{doc}"
    );
    assert_eq!(doc["error"]["exit_code"], 1, "{doc}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("shelves")),
        "{doc}"
    );
    // As reported: library applied, the failing shelves run rolled back, one backup.
    assert_eq!(applied(&db, "library"), 3);
    assert_eq!(applied(&db, "shelves"), 0);
    assert_eq!(
        db.int("SELECT count(*) FROM sqlite_schema WHERE name IN ('shelves', 'shelf_books')"),
        0
    );
    assert_eq!(pre_up_backups(&db), before + 1);
}

#[test]
fn all_sets_conflicts_with_set_and_with_up_to() {
    let db = Db::new();
    run(&db, &["up", "--all-sets", "--to", "2"]).expect(2);
    run(&db, &["--set", "shelves", "up", "--all-sets"]).expect(2);
    assert!(!db.path.exists(), "a usage error creates no database");
}

/// A failure a rollback cannot undo (`transaction = false`) in a later set restores the one
/// backup of the run: the state before ALL sets, the earlier set's migrations included.
#[test]
fn a_non_transactional_failure_in_a_later_set_restores_the_state_before_the_whole_run() {
    let mut db = Db::new();
    run(&db, &["up", "--to", "1"]).expect(0);
    db.env.push(("SHELVES_FAIL".into(), "3".into()));
    let out = run(&db, &["up", "--all-sets"]).expect(1);
    assert!(out.stderr.contains("fails on purpose"), "{out:#?}");
    let backup = db
        .backups()
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".pre-up."))
        .max()
        .unwrap();
    let name = backup.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        out.stderr.contains(&name),
        "the message names the run's backup: {out:#?}"
    );
    assert_eq!(
        applied(&db, "library"),
        1,
        "back to the state before the run"
    );
    assert_eq!(applied(&db, "shelves"), 0);
    assert_eq!(
        db.int(
            "SELECT count(*) FROM sqlite_schema
             WHERE name IN ('shelves', 'shelf_books', 'shelf_books_by_book')"
        ),
        0
    );
    assert!(
        db.backups()
            .iter()
            .any(|p| p.to_string_lossy().contains(".failed-state.")),
        "the failed state is kept: {:?}",
        db.backups()
    );
}

/// The newest `pre-up` backup file.
fn newest_pre_up(db: &Db) -> std::path::PathBuf {
    db.backups()
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".pre-up."))
        .max()
        .expect("a pre-up backup")
}

/// Under `--json` the document names the one backup of the run, as the text does: the file
/// that holds the state before every set; `null` when the run took none.
#[test]
fn json_up_all_sets_names_the_one_backup_of_the_run() {
    let db = Db::new();
    run(&db, &["up", "--to", "1"]).expect(0);
    let doc = run(&db, &["--json", "up", "--all-sets"]).expect(0).json();
    let reports = doc["reports"].as_array().unwrap_or_else(|| panic!("{doc}"));
    assert_eq!(reports.len(), 2, "{doc}");
    let backup = newest_pre_up(&db);
    assert_eq!(doc["backup"]["path"], backup.display().to_string(), "{doc}");
    assert_eq!(doc["backup"]["kind"], "automatic", "{doc}");
    assert_eq!(doc["backup"]["name"], "pre-up", "{doc}");
    assert!(doc.get("rolled_back").is_none(), "{doc}");
    // That file is the state before the run: library at seq 1, no shelves.
    let held: i64 = rusqlite::Connection::open(&backup)
        .unwrap()
        .query_row("SELECT count(*) FROM _migrate_applied", [], |r| r.get(0))
        .unwrap();
    assert_eq!(held, 1);
    assert_eq!((applied(&db, "library"), applied(&db, "shelves")), (3, 3));
    // Nothing to do: no backup taken, none named.
    let files = db.backups();
    let again = run(&db, &["--json", "up", "--all-sets"]).expect(0).json();
    assert_eq!(again["backup"], serde_json::Value::Null, "{again}");
    assert_eq!(db.backups(), files);
}

/// A failure in a later set under `--json`: the document names the backup too, and says that
/// the earlier set's migrations stayed applied (nothing rolled back).
#[test]
fn json_a_failed_up_all_sets_names_the_backup_and_what_was_rolled_back() {
    let mut db = Db::new();
    run(&db, &["up", "--to", "1"]).expect(0);
    db.env.push(("SHELVES_FAIL".into(), "1".into()));
    let doc = run(&db, &["--json", "up", "--all-sets"]).expect(1).json();
    let backup = newest_pre_up(&db);
    assert_eq!(doc["backup"]["path"], backup.display().to_string(), "{doc}");
    assert_eq!(doc["rolled_back"], serde_json::json!([]), "{doc}");
    assert_eq!(doc["reports"][0]["set"], "library", "{doc}");
    assert_eq!((applied(&db, "library"), applied(&db, "shelves")), (3, 0));
}

/// A `transaction = false` failure in a later set restores the backup taken before every set:
/// the message says the earlier set was rolled back too and names `up --all-sets` (a bare
/// `migrate up`, or `--set shelves`, would leave library behind); the run lists what the
/// restore undid, read back, in the text and in the JSON; that command, run as printed once the
/// cause is gone, applies every set.
#[test]
fn a_restore_after_a_later_set_fails_says_the_earlier_sets_were_rolled_back_too() {
    let mut db = Db::new();
    run(&db, &["up", "--to", "1"]).expect(0);
    db.env.push(("SHELVES_FAIL".into(), "3".into()));
    let out = run(&db, &["up", "--all-sets"]).expect(1);
    assert!(
        out.stderr
            .contains("the migrations the sets before this one applied in it were rolled back too"),
        "{out:#?}"
    );
    assert!(
        out.stderr.contains("run `migrate up --all-sets` again"),
        "{out:#?}"
    );
    assert!(
        out.stdout.contains(
            "rolled back with the restore: set \"library\" 2, 3 (applied earlier in this run"
        ),
        "{out:#?}"
    );
    assert_eq!((applied(&db, "library"), applied(&db, "shelves")), (1, 0));

    let doc = run(&db, &["--json", "up", "--all-sets"]).expect(1).json();
    assert_eq!(
        doc["rolled_back"],
        serde_json::json!([{ "set": "library", "seqs": [2, 3] }]),
        "{doc}"
    );
    assert_eq!(
        doc["backup"]["path"],
        newest_pre_up(&db).display().to_string(),
        "{doc}"
    );
    assert!(
        doc["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("`migrate up --all-sets`")),
        "{doc}"
    );
    assert_eq!((applied(&db, "library"), applied(&db, "shelves")), (1, 0));

    db.env.clear();
    run(&db, &["up", "--all-sets"]).expect(0);
    assert_eq!((applied(&db, "library"), applied(&db, "shelves")), (3, 3));
}

/// A `transaction = false` migration of set "shelves" (not the app's own set, "library") that
/// fails with backups off stays started: the commands its failure and the refused next start
/// print name the set (a bare `migrate resolve 3 ...` would look for 3 in "library"), and run
/// as printed.
#[test]
fn the_resolve_commands_of_another_set_name_it_and_run_as_printed() {
    let mut db = Db::new();
    db.env.push(("SHELVES_FAIL".into(), "3".into()));
    let failed = run(&db, &["--no-backup", "up", "--set", "shelves"]).expect(1);
    let resolve = "migrate resolve 3 --not-applied --set shelves";
    assert!(
        runbook::printed_commands(&failed.stderr).contains(&resolve.to_owned()),
        "{failed:#?}"
    );
    db.env.clear();
    let blocked = run(&db, &["up", "--set", "shelves"]).expect(3);
    let printed = runbook::printed_commands(&blocked.stderr);
    assert!(printed.contains(&resolve.to_owned()), "{blocked:#?}");
    assert!(
        printed.contains(&"migrate resolve 3 --applied --set shelves".to_owned()),
        "{blocked:#?}"
    );
    let started = || {
        db.int("SELECT count(*) FROM _migrate_applied WHERE set_name = 'shelves' AND state = 'started'")
    };
    assert_eq!(started(), 1);

    let words: Vec<&str> = resolve.split_whitespace().skip(1).collect();
    run(&db, &words).expect(0);
    assert_eq!(started(), 0);
    assert_eq!(applied(&db, "shelves"), 2);
    run(&db, &["up", "--set", "shelves"]).expect(0);
    assert_eq!(applied(&db, "shelves"), 3);
    assert_eq!(
        applied(&db, "library"),
        0,
        "the app's own set was never touched"
    );
}

/// The same failure, but another process committed to the database while the later set's
/// `transaction = false` migration ran: restoring the run's backup would throw that away, so
/// nothing is restored; the message names the backup and the command.
#[test]
fn a_later_sets_non_transactional_failure_is_not_restored_over_another_processs_writes() {
    let mut db = Db::new();
    run(&db, &["up", "--to", "1"]).expect(0);
    db.conn()
        .execute_batch("CREATE TABLE visits (n INTEGER)")
        .unwrap();
    let go = db.dir.path().join("go");
    db.env.push(("SHELVES_FAIL".into(), "3".into()));
    db.env
        .push(("SHELVES_WAIT_FOR".into(), go.display().to_string()));
    let ready = db.dir.path().join("go.ready");
    let path = db.path.clone();
    // This test's process is the other writer: it commits while migration 3 waits.
    let writer = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !ready.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the run never got to 3"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("INSERT INTO visits VALUES (42)")
            .unwrap();
        std::fs::write(&go, b"").unwrap();
    });

    let out = run(&db, &["up", "--all-sets"]).expect(1);
    writer.join().unwrap();

    assert!(out.stderr.contains("fails on purpose"), "{out:#?}");
    assert!(
        out.stderr.contains("not restored automatically"),
        "{out:#?}"
    );
    let backup = db
        .backups()
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".pre-up."))
        .max()
        .unwrap();
    assert!(
        out.stderr
            .contains(&format!("`migrate restore {}`", backup.display())),
        "the message names the backup and the command: {out:#?}"
    );
    assert_eq!(
        db.int("SELECT count(*) FROM visits"),
        1,
        "the other write stays"
    );
    assert_eq!(
        db.int(
            "SELECT count(*) FROM _migrate_applied WHERE set_name = 'shelves' AND state = 'applied'"
        ),
        2,
        "nothing restored: the shelves' first two migrations stay"
    );
    assert_eq!(applied(&db, "library"), 3, "the earlier set stays applied");
    assert_eq!(
        db.int("SELECT count(*) FROM _migrate_applied WHERE set_name = 'shelves' AND seq = 3 AND state = 'started'"),
        1,
        "the failed migration stays started: {out:#?}"
    );
    assert!(
        !db.backups()
            .iter()
            .any(|p| p.to_string_lossy().contains(".failed-state.")),
        "nothing restored, so no failed-state copy: {:?}",
        db.backups()
    );
}
