//! End-to-end tests of the embeddable command line: the real `migrate-cli` binary
//! (`tests/src/bin/migrate-cli.rs`, the `library` set: 1 `create_books` forward-only,
//! 2 `add_isbn` and 3 `require_isbn` reversible) run as a child process on temporary files,
//! with stdin closed so it is never on a terminal. Each test checks exit codes, output and the
//! database file itself.

use migrate_sqlite::lock_path;
use rusqlite::Connection;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Upper bound of any child's run; a hang fails the test instead of blocking it.
const PATIENCE: Duration = Duration::from_secs(30);

/// What one run of the binary did.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    /// Panics with everything the child said unless it exited with `code`.
    #[track_caller]
    fn expect(self, code: i32) -> Self {
        assert_eq!(self.code, code, "expected exit code {code}: {self:#?}");
        self
    }

    /// Parses stdout as one JSON document.
    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

/// A temporary directory holding the database `library.db`.
struct Db {
    dir: TempDir,
    path: PathBuf,
}

impl Db {
    fn new() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("library.db");
        Db { dir, path }
    }

    /// A temporary directory holding an empty database file `library.db` (an app that opened
    /// it, before any migration): read-only commands refuse a path where no file exists.
    fn created() -> Db {
        let db = Db::new();
        Connection::open(&db.path).unwrap();
        assert!(db.path.is_file());
        db
    }

    /// Runs `migrate-cli ARGS...` on this database.
    fn run(&self, args: &[&str]) -> Out {
        self.run_with(args, &[])
    }

    /// Runs `migrate-cli ARGS...` on this database with extra environment variables.
    fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut command = Command::new(env!("CARGO_BIN_EXE_migrate-cli"));
        command
            .args(args)
            .env("MIGRATE_CLI_DB", &self.path)
            .env_remove("MIGRATE_CLI_BROKEN")
            .envs(env.iter().copied());
        run_bounded(command)
    }

    /// The database file's bytes.
    fn bytes(&self) -> Vec<u8> {
        fs::read(&self.path).unwrap()
    }

    /// A connection of the test's own, as a user's hand edit would use.
    fn conn(&self) -> Connection {
        Connection::open(&self.path).unwrap()
    }

    /// One integer from a query.
    fn int(&self, sql: &str) -> i64 {
        self.conn().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// The backup directory the binary uses by default.
    fn backup_dir(&self) -> PathBuf {
        self.dir.path().join("library.db.backups")
    }

    /// Every file under the temporary directory, recursively.
    fn files(&self) -> BTreeSet<PathBuf> {
        fn walk(dir: &Path, found: &mut BTreeSet<PathBuf>) {
            for entry in fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, found);
                }
                found.insert(path);
            }
        }
        let mut found = BTreeSet::new();
        walk(self.dir.path(), &mut found);
        found
    }

    /// `status --json`, which must succeed.
    fn status(&self) -> Value {
        self.run(&["status", "--json"]).expect(0).json()
    }

    /// `up`, which must succeed.
    fn up(&self) {
        let out = self.run(&["up"]).expect(0);
        assert!(out.stdout.contains("set \"library\":"), "{out:#?}");
    }
}

/// Runs the command with stdin closed and both outputs captured, for at most [`PATIENCE`].
fn run_bounded(mut command: Command) -> Out {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start migrate-cli");
    let reader = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = reader(Box::new(child.stdout.take().unwrap()));
    let stderr = reader(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "migrate-cli {:?} did not finish in {PATIENCE:?}",
                command.get_args().collect::<Vec<_>>()
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    Out {
        code: status.code().expect("migrate-cli was killed by a signal"),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// The library set, in order: (seq, name, reversible).
const LIBRARY: [(u64, &str, bool); 3] = [
    (1, "create_books", false),
    (2, "add_isbn", true),
    (3, "require_isbn", true),
];

/// The rows of the human `status` table: (seq, name, state, down).
fn status_rows(stdout: &str) -> Vec<(u64, String, String, String)> {
    stdout
        .lines()
        .filter_map(|line| {
            let tokens: Vec<&str> = line.split_whitespace().collect();
            let seq = tokens.first()?.parse().ok()?;
            Some((
                seq,
                tokens[1].to_owned(),
                tokens[2].to_owned(),
                tokens.last()?.to_string(),
            ))
        })
        .collect()
}

/// The states of `status --json`'s migrations, by seq.
fn states(status: &Value) -> Vec<(u64, String)> {
    status["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["seq"].as_u64().unwrap(),
                m["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The seqs a `plan --json` dry run would apply.
fn pending(plan: &Value) -> Vec<u64> {
    plan["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect()
}

/// Checks one `status --json` document against the documented shape, with every migration in
/// `state` (`applied_at` and `checksum` following from it).
#[track_caller]
fn assert_status_shape(status: &Value, state: &str) {
    let keys: BTreeSet<&str> = status.as_object().unwrap().keys().map(|k| &**k).collect();
    for key in ["set", "current", "clean", "migrations", "drift"] {
        assert!(keys.contains(key), "no {key:?} in {status:#}");
    }
    assert_eq!(status["set"], "library");
    let migrations = status["migrations"].as_array().unwrap();
    assert_eq!(migrations.len(), LIBRARY.len(), "{status:#}");
    for (m, (seq, name, reversible)) in migrations.iter().zip(LIBRARY) {
        assert_eq!(m["seq"], seq, "{m:#}");
        assert_eq!(m["name"], name, "{m:#}");
        assert_eq!(m["state"], state, "{m:#}");
        assert_eq!(m["reversible"], reversible, "{m:#}");
        if state == "applied" {
            assert!(m["applied_at"].as_str().is_some_and(|at| !at.is_empty()));
            assert_eq!(m["checksum"], "ok", "{m:#}");
        } else {
            assert!(m["applied_at"].is_null(), "{m:#}");
            assert_eq!(m["checksum"], "-", "{m:#}");
        }
    }
}

#[test]
fn status_lists_every_migration_before_and_after_up() {
    let db = Db::created();

    let out = db.run(&["status"]).expect(0);
    assert!(out.stdout.starts_with("set \"library\"\n"), "{out:#?}");
    let expected = |state: &str| -> Vec<(u64, String, String, String)> {
        LIBRARY
            .iter()
            .map(|&(seq, name, reversible)| {
                let down = if reversible { "yes" } else { "no" };
                (seq, name.into(), state.into(), down.into())
            })
            .collect()
    };
    assert_eq!(status_rows(&out.stdout), expected("pending"), "{out:#?}");

    let status = db.status();
    assert_status_shape(&status, "pending");
    assert!(status["current"].is_null());
    assert_eq!(status["clean"], false);
    assert!(status["drift"].is_null());

    db.up();

    let out = db.run(&["status"]).expect(0);
    assert_eq!(status_rows(&out.stdout), expected("applied"), "{out:#?}");
    assert!(!out.stdout.contains("schema drift"), "{out:#?}");

    let status = db.status();
    assert_status_shape(&status, "applied");
    assert_eq!(status["current"], 3);
    assert_eq!(status["clean"], true);
    assert!(status["drift"].is_null());
    // --json is global: it works before the command too.
    assert_eq!(db.run(&["--json", "status"]).expect(0).json(), status);
}

#[test]
fn up_to_plan_verify_and_history() {
    let db = Db::created();

    let out = db.run(&["plan"]).expect(0);
    for (seq, name, _) in LIBRARY {
        assert!(
            out.stdout
                .contains(&format!("would apply {seq} \"{name}\" (pending)")),
            "{out:#?}"
        );
    }
    let plan = db.run(&["plan", "--json"]).expect(0).json();
    assert_eq!(plan["set"], "library");
    assert_eq!(pending(&plan), [1, 2, 3]);
    assert_eq!(plan["ok"], true);
    assert!(
        plan["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["state"] == "pending" && e["outcome"] == "ok")
    );
    // The dry run shows what each migration runs and changes.
    assert_eq!(
        plan["migrations"][1]["statements"],
        serde_json::json!(["ALTER TABLE books ADD COLUMN isbn TEXT"])
    );
    assert_eq!(
        plan["migrations"][0]["tables"]["created"],
        serde_json::json!(["books"])
    );
    assert_eq!(
        plan["migrations"][2]["tables"]["altered"],
        serde_json::json!(["books"])
    );
    // plan changes nothing.
    let bytes = db.bytes();
    assert_eq!(db.run(&["plan", "--json"]).expect(0).json(), plan);
    assert!(db.bytes() == bytes, "plan changed the database");
    assert!(!db.backup_dir().exists(), "plan took a backup");
    assert_eq!(db.status()["current"], Value::Null);

    let out = db.run(&["up", "--to", "2"]).expect(0);
    assert!(
        out.stdout.contains("applied 2 migrations"),
        "{}",
        out.stdout
    );
    let status = db.status();
    assert_eq!(status["current"], 2);
    assert_eq!(
        states(&status),
        [
            (1, "applied".into()),
            (2, "applied".into()),
            (3, "pending".into())
        ]
    );
    assert_eq!(pending(&db.run(&["plan", "--json"]).expect(0).json()), [3]);

    // Pending work is a problem for verify.
    let out = db.run(&["verify"]).expect(3);
    assert!(
        out.stdout
            .contains("problem: 3 \"require_isbn\" is pending"),
        "{out:#?}"
    );

    let out = db.run(&["up"]).expect(0);
    assert!(out.stdout.contains("applied 1 migration in "), "{out:#?}");
    assert!(out.stdout.contains("now at seq 3 (was seq 2)"), "{out:#?}");
    let out = db.run(&["up"]).expect(0);
    assert!(out.stdout.contains("up to date at seq 3"), "{out:#?}");
    let out = db.run(&["plan"]).expect(0);
    assert_eq!(out.stdout, "set \"library\": nothing to apply\n");
    assert_eq!(
        pending(&db.run(&["plan", "--json"]).expect(0).json()),
        [0u64; 0]
    );

    let out = db.run(&["verify"]).expect(0);
    assert!(
        out.stdout.starts_with("ok: 3 migrations applied"),
        "{out:#?}"
    );

    // The history: one `up` event per migration, each naming the backup taken before its run.
    let history = db.run(&["history", "--json"]).expect(0).json();
    let events = history.as_array().unwrap();
    let ups: Vec<&Value> = events.iter().filter(|e| e["action"] == "up").collect();
    assert_eq!(
        ups.iter()
            .map(|e| (e["seq"].as_u64().unwrap(), e["name"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        [(1, "create_books"), (2, "add_isbn"), (3, "require_isbn")],
        "{history:#}"
    );
    assert!(ups.iter().all(|e| e["outcome"] == "ok"), "{history:#}");
    let backups: Vec<PathBuf> = ups
        .iter()
        .map(|e| PathBuf::from(e["backup"].as_str().expect("a backup path")))
        .collect();
    assert_eq!(backups[0], backups[1], "one run, one backup");
    assert_ne!(backups[1], backups[2], "two runs, two backups");
    for backup in &backups {
        assert!(backup.is_file(), "{} is gone", backup.display());
        assert!(backup.starts_with(db.backup_dir()), "{}", backup.display());
        let name = backup.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("library.db.") && name.ends_with(".pre-up.db"),
            "{name}"
        );
    }
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first: {ids:?}");

    // Each `up` records the rows of the tables it touched.
    let counted: Vec<&Value> = ups
        .iter()
        .flat_map(|e| e["row_counts"].as_array().unwrap())
        .collect();
    assert!(!counted.is_empty(), "{history:#}");
    assert!(
        counted.iter().all(|c| c["table"].is_string()),
        "{history:#}"
    );

    // The human history has one line per event, and an indented line of changed row counts.
    let out = db.run(&["history"]).expect(0);
    let event_lines = out.stdout.lines().filter(|l| !l.starts_with(' '));
    assert_eq!(event_lines.count(), events.len(), "{out:#?}");
    assert!(
        out.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("rows: ")),
        "{out:#?}"
    );
    assert!(out.stdout.contains("require_isbn"), "{out:#?}");
}

#[test]
fn plan_to_previews_up_to_and_refuses_an_unknown_seq_as_up_to_does() {
    let db = Db::created();
    let before = db.bytes();

    let plan = db.run(&["plan", "--to", "2", "--json"]).expect(0).json();
    assert_eq!(pending(&plan), [1, 2]);
    assert_eq!(plan["operation"], "up --to 2");
    let out = db.run(&["plan", "--to", "2"]).expect(0);
    assert!(!out.stdout.contains("would apply 3"), "{out:#?}");
    let plan_refused = db.run(&["plan", "--to", "9"]).expect(3);
    assert_eq!(db.bytes(), before, "the dry runs changed nothing");
    let up_refused = db.run(&["up", "--to", "9"]).expect(3);
    assert_eq!(plan_refused.stderr, up_refused.stderr);
    db.run(&["plan", "--redo", "--to", "2"]).expect(2);

    db.run(&["up", "--to", "2"]).expect(0);
    assert_eq!(db.int("SELECT max(seq) FROM _migrate_applied"), 2);
    let plan = db.run(&["plan", "--to", "3", "--json"]).expect(0).json();
    assert_eq!(pending(&plan), [3]);
    assert_eq!(db.int("SELECT max(seq) FROM _migrate_applied"), 2);
}

#[test]
fn verify_and_status_report_a_hand_made_schema_change() {
    let db = Db::new();
    db.up();
    db.run(&["verify"]).expect(0);

    db.conn()
        .execute_batch("CREATE TABLE notes_by_hand (id INTEGER PRIMARY KEY)")
        .unwrap();

    let out = db.run(&["verify"]).expect(3);
    assert!(out.stdout.contains("problem: schema drift"), "{out:#?}");
    assert!(out.stdout.contains("notes_by_hand"), "{out:#?}");

    let out = db.run(&["status"]).expect(0);
    assert!(out.stdout.contains("schema drift"), "{out:#?}");
    let status = db.status();
    assert_eq!(status["clean"], false);
    assert_eq!(
        status["drift"]["added"],
        serde_json::json!(["table notes_by_hand"])
    );
    assert_eq!(status["drift"]["removed"], serde_json::json!([]));
    assert_eq!(status["drift"]["changed"], serde_json::json!([]));
    // Every migration is still applied: the drift is the only problem.
    assert_status_shape(&status, "applied");
}

#[test]
fn down_needs_yes_off_terminal_and_stops_before_an_irreversible_migration() {
    let db = Db::new();
    db.up();
    let before = db.bytes();
    let files = db.files();

    for args in [
        &["down"][..],
        &["down", "--steps", "2"],
        &["down", "--to", "1"],
        &["redo"],
    ] {
        let out = db.run(args).expect(3);
        assert!(out.stderr.contains("pass --yes"), "{args:?}: {out:#?}");
        assert!(out.stderr.contains("Nothing was changed"), "{out:#?}");
        assert!(out.stdout.is_empty(), "{out:#?}");
        assert!(db.bytes() == before, "{args:?} changed the database");
        assert_eq!(db.files(), files, "{args:?} created or removed files");
    }

    // Reverting everything would pass 1, which has no down step: refused as a whole.
    let out = db.run(&["down", "--to", "0", "--yes"]).expect(3);
    assert!(
        out.stderr.contains("cannot revert 1 \"create_books\""),
        "{out:#?}"
    );
    assert!(out.stderr.contains("nothing was changed"), "{out:#?}");
    assert!(db.bytes() == before, "down --to 0 changed the database");
    assert_eq!(db.status()["current"], 3);

    let out = db.run(&["down", "--yes"]).expect(0);
    assert!(out.stdout.contains("reverted 1 migration"), "{out:#?}");
    assert!(out.stdout.contains("now at seq 2 (was seq 3)"), "{out:#?}");
    let status = db.status();
    assert_eq!(status["current"], 2);
    assert_eq!(states(&status)[2], (3, "pending".into()));

    let out = db.run(&["-y", "down", "--to", "1"]).expect(0);
    assert!(out.stdout.contains("now at seq 1"), "{out:#?}");
    let isbn = db.int("SELECT count(*) FROM pragma_table_info('books') WHERE name = 'isbn'");
    assert_eq!(isbn, 0, "add_isbn was reverted");

    // Nothing left that can be reverted.
    let before = db.bytes();
    let out = db.run(&["down", "--yes"]).expect(3);
    assert!(out.stderr.contains("cannot revert 1"), "{out:#?}");
    assert!(db.bytes() == before);

    db.up();
    let out = db.run(&["redo", "--yes"]).expect(0);
    assert!(out.stdout.contains("applied 1 migration"), "{out:#?}");
    assert!(out.stdout.contains("reverted 1 migration"), "{out:#?}");
    db.run(&["verify"]).expect(0);
}

#[test]
fn snapshots_are_created_listed_restored_and_deleted() {
    let db = Db::new();
    db.up();

    let out = db.run(&["snapshot", "list"]).expect(0);
    assert_eq!(out.stdout, "no snapshots\n");
    assert_eq!(
        db.run(&["snapshot", "list", "--json"]).expect(0).json(),
        serde_json::json!([])
    );

    let out = db.run(&["snapshot", "create", "empty-shelf"]).expect(0);
    let path = out
        .stdout
        .trim()
        .strip_prefix("snapshot \"empty-shelf\" created: ")
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{out:#?}"));
    assert!(path.is_file());
    assert!(path.starts_with(db.backup_dir()));

    let out = db.run(&["snapshot", "list"]).expect(0);
    assert_eq!(out.stdout.lines().count(), 1, "{out:#?}");
    assert!(out.stdout.starts_with("empty-shelf "), "{out:#?}");
    assert!(out.stdout.contains("schema 3"), "{out:#?}");
    let list = db.run(&["snapshot", "list", "--json"]).expect(0).json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "empty-shelf");
    assert_eq!(list[0]["schema_version"], 3);
    assert_eq!(list[0]["path"], path.display().to_string());
    assert_eq!(list[0]["size"], fs::metadata(&path).unwrap().len());
    assert!(list[0]["created_at"].as_str().unwrap().ends_with('Z'));

    db.conn()
        .execute(
            "INSERT INTO books (title, isbn) VALUES ('Dune', '9780441013593')",
            [],
        )
        .unwrap();
    let with_book = db.bytes();

    // Restoring replaces the data: refused off-terminal without --yes.
    let out = db.run(&["snapshot", "restore", "empty-shelf"]).expect(3);
    assert!(out.stderr.contains("pass --yes"), "{out:#?}");
    assert!(db.bytes() == with_book);

    let out = db
        .run(&["snapshot", "restore", "empty-shelf", "--yes"])
        .expect(0);
    assert!(
        out.stdout.starts_with(&format!(
            "restored from {}; to undo: migrate restore ",
            path.display()
        )),
        "{out:#?}"
    );
    assert_eq!(db.int("SELECT count(*) FROM books"), 0);
    db.run(&["verify"]).expect(0);
    // The restore is in the history of the restored database.
    let history = db.run(&["history", "--json"]).expect(0).json();
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "restore" && e["outcome"] == "ok"),
        "{history:#}"
    );

    // The undo file it names brings the book back.
    let undo = out.stdout.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(Path::new(&undo).is_file(), "{undo}");
    db.run(&["restore", &undo, "--yes"]).expect(0);
    assert_eq!(db.int("SELECT count(*) FROM books"), 1);

    // Deleting needs --yes too.
    let out = db.run(&["snapshot", "delete", "empty-shelf"]).expect(3);
    assert!(out.stderr.contains("pass --yes"), "{out:#?}");
    assert!(path.is_file());
    let out = db
        .run(&["snapshot", "delete", "empty-shelf", "--yes"])
        .expect(0);
    assert_eq!(out.stdout, "snapshot \"empty-shelf\" deleted\n");
    assert!(!path.exists());
    assert_eq!(
        db.run(&["snapshot", "list"]).expect(0).stdout,
        "no snapshots\n"
    );
    // Gone: neither restorable nor deletable.
    let out = db
        .run(&["snapshot", "restore", "empty-shelf", "--yes"])
        .expect(3);
    assert!(out.stderr.contains("there is no snapshot"), "{out:#?}");
    db.run(&["snapshot", "delete", "empty-shelf", "--yes"])
        .expect(3);
}

#[test]
fn invalid_snapshot_names_are_refused_without_creating_files() {
    let db = Db::new();
    db.up();
    db.run(&["snapshot", "create", "fine"]).expect(0);
    let before = db.bytes();
    let files = db.files();

    for name in ["../escape", "a/b", "..", "x.y", "with space", ".hidden", ""] {
        for args in [
            &["snapshot", "create", name][..],
            &["snapshot", "restore", name, "--yes"],
            &["snapshot", "delete", name, "--yes"],
        ] {
            let out = db.run(args).expect(3);
            assert!(out.stderr.contains("snapshot name"), "{args:?}: {out:#?}");
            assert_eq!(db.files(), files, "{args:?} created or removed a file");
            assert!(db.bytes() == before, "{args:?} changed the database");
        }
    }
    // A name starting with '-' is an unknown option to the parser.
    db.run(&["snapshot", "create", "-rf"]).expect(2);
    assert_eq!(db.files(), files);
}

#[test]
fn restore_refuses_damaged_and_missing_backups() {
    let db = Db::new();
    db.up();
    let out = db.run(&["backup"]).expect(0);
    let backup = PathBuf::from(
        out.stdout
            .lines()
            .next()
            .unwrap_or_default()
            .strip_prefix("backup created: ")
            .unwrap_or_else(|| panic!("{out:#?}")),
    );
    assert!(backup.is_file() && backup.starts_with(db.backup_dir()));
    db.run(&["snapshot", "create", "torn"]).expect(0);
    db.conn()
        .execute("INSERT INTO books (title, isbn) VALUES ('Emma', '')", [])
        .unwrap();

    // Not a database at all.
    let garbage = db.dir.path().join("garbage.db");
    fs::write(&garbage, vec![0x5a; 8192]).unwrap();
    // A real backup whose second page is overwritten.
    let torn = db.dir.path().join("torn.db");
    let mut bytes = fs::read(&backup).unwrap();
    assert!(bytes.len() >= 3 * 4096, "{} bytes", bytes.len());
    bytes[4096..8192].fill(0xff);
    fs::write(&torn, &bytes).unwrap();
    // The same damage in a snapshot's file.
    let snapshot = db.run(&["snapshot", "list", "--json"]).expect(0).json()[0]["path"]
        .as_str()
        .unwrap()
        .to_owned();
    fs::write(&snapshot, &bytes).unwrap();

    let before = db.bytes();
    let files = db.files();
    // Not SQLite: refused as such (restore.rs has the refusals of foreign sources).
    let out = db
        .run(&["restore", garbage.to_str().unwrap(), "--yes"])
        .expect(3);
    assert!(out.stderr.contains("not a SQLite database"), "{out:#?}");
    assert!(db.bytes() == before && db.files() == files, "{out:#?}");
    for args in [
        vec![
            "restore".to_owned(),
            torn.display().to_string(),
            "--yes".into(),
        ],
        vec![
            "snapshot".to_owned(),
            "restore".into(),
            "torn".into(),
            "--yes".into(),
        ],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = db.run(&args).expect(3);
        assert!(out.stderr.contains("is damaged"), "{args:?}: {out:#?}");
        assert!(
            out.stderr.contains("the database was not touched"),
            "{out:#?}"
        );
        assert!(db.bytes() == before, "{args:?} changed the database");
        assert_eq!(db.files(), files, "{args:?} created or removed a file");
    }

    // A file that does not exist.
    let missing = db.dir.path().join("no-such-backup.db");
    let out = db
        .run(&["restore", missing.to_str().unwrap(), "--yes"])
        .expect(3);
    assert!(db.bytes() == before, "{out:#?}");
    assert_eq!(db.files(), files);

    // No backup at all.
    let fresh = Db::created();
    let out = fresh.run(&["restore", "--yes"]).expect(3);
    assert!(out.stderr.contains("there is no"), "{out:#?}");

    // The good backup still restores.
    db.run(&["restore", backup.to_str().unwrap(), "--yes"])
        .expect(0);
    assert_eq!(db.int("SELECT count(*) FROM books"), 0);
}

#[test]
fn restore_refuses_files_that_are_not_backups_unless_told_and_the_live_file_at_once() {
    let db = Db::new();
    db.up();
    db.conn()
        .execute("INSERT INTO books (title, isbn) VALUES ('Emma', '1')", [])
        .unwrap();
    let lock = lock_path(&db.path);
    let hard_link = db.dir.path().join("hard-link.db");
    fs::hard_link(&db.path, &hard_link).unwrap();
    let other_app = db.dir.path().join("other-app.db");
    Connection::open(&other_app)
        .unwrap()
        .execute_batch("CREATE TABLE accounts (id INTEGER PRIMARY KEY)")
        .unwrap();
    let before = db.bytes();
    let files = db.files();
    for (file, why) in [
        (&lock, "it is empty (0 bytes)"),
        (&other_app, "no applied migrations of set \"library\""),
        (&hard_link, "is the live database"),
    ] {
        // The hard link with a long busy timeout: refused at once, not after waiting (exit 3,
        // not 4 "locked").
        let out = db
            .run(&[
                "--busy-timeout-ms",
                "600000",
                "restore",
                file.to_str().unwrap(),
                "--yes",
            ])
            .expect(3);
        assert!(out.stderr.contains(why), "{out:#?}");
        assert!(out.stderr.contains("nothing was changed"), "{out:#?}");
        assert!(db.bytes() == before, "{file:?} changed the database");
        assert_eq!(db.files(), files, "{file:?} created or removed a file");
    }
    let out = db
        .run(&["restore", other_app.to_str().unwrap(), "--yes"])
        .expect(3);
    assert!(out.stderr.contains("--allow-foreign-source"), "{out:#?}");

    // Told explicitly: restored, and the printed undo command brings the books back.
    let out = db
        .run(&[
            "restore",
            other_app.to_str().unwrap(),
            "--allow-foreign-source",
            "--yes",
        ])
        .expect(0);
    assert_eq!(
        db.int("SELECT count(*) FROM sqlite_schema WHERE name = 'books'"),
        0
    );
    let undo = out
        .stdout
        .trim()
        .rsplit_once("to undo: migrate ")
        .unwrap_or_else(|| panic!("{out:#?}"))
        .1
        .to_owned();
    let args: Vec<&str> = undo.split(' ').chain(["--yes"]).collect();
    db.run(&args).expect(0);
    assert_eq!(db.int("SELECT count(*) FROM books WHERE title = 'Emma'"), 1);
}

/// The live database damaged two ways: its header smashed ("file is not a database") and a
/// page in the middle overwritten (`quick_check` fails).
#[test]
fn restore_over_a_damaged_database_keeps_it_aside_and_restores_in_one_command() {
    for smash_header in [true, false] {
        let db = Db::new();
        db.up();
        db.conn()
            .execute_batch(
                "INSERT INTO books (title, isbn) VALUES ('Emma', '1');
                 CREATE TABLE filler (b BLOB);
                 WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 40)
                 INSERT INTO filler SELECT randomblob(3000) FROM c;",
            )
            .unwrap();
        let out = db.run(&["backup"]).expect(0);
        let backup = out
            .stdout
            .lines()
            .next()
            .unwrap_or_default()
            .strip_prefix("backup created: ")
            .unwrap_or_else(|| panic!("{out:#?}"))
            .to_owned();
        db.conn()
            .execute("INSERT INTO books (title, isbn) VALUES ('Lost', '2')", [])
            .unwrap();
        let mut bytes = db.bytes();
        if smash_header {
            bytes[..100].fill(0x5a);
        } else {
            let middle = bytes.len() / 4096 / 2 * 4096;
            bytes[middle..middle + 4096].fill(0xa5);
        }
        fs::write(&db.path, &bytes).unwrap();
        let files_before = db.files();

        let out = db.run(&["restore", &backup, "--yes"]).expect(0);
        let kept = PathBuf::from(
            out.stdout
                .trim()
                .split_once("the damaged database is kept at ")
                .unwrap_or_else(|| panic!("{out:#?}"))
                .1
                .trim_end_matches(" (never deleted)"),
        );
        assert!(
            out.stdout.contains(&format!("restored from {backup}")),
            "{out:#?}"
        );
        assert!(out.stderr.contains("damaged"), "{out:#?}");
        // The damaged file is kept, byte for byte, beside the database.
        assert_eq!(kept.parent(), db.path.parent());
        assert!(
            fs::read(&kept).unwrap() == bytes,
            "the kept file is not the damaged one"
        );
        // The database is the backup, sound, and says what happened.
        assert_eq!(db.int("SELECT count(*) FROM books"), 1);
        assert_eq!(db.int("SELECT count(*) FROM filler"), 40);
        let check: String = db
            .conn()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        assert_eq!(db.status()["current"], 3, "{}", db.status());
        // Nothing else appeared or vanished but the kept file and the history row.
        let mut expected = files_before.clone();
        expected.insert(kept.clone());
        assert_eq!(db.files(), expected);
        let history = db.run(&["history", "--json"]).expect(0).json();
        let last = history.as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["action"], "restore", "{last}");
    }
}

#[test]
fn failed_state_copies_are_listed_apart_and_never_restored_as_the_newest_backup() {
    let db = Db::new();
    db.up();
    let out = db.run(&["backup"]).expect(0);
    let backup = out
        .stdout
        .lines()
        .next()
        .unwrap_or_default()
        .strip_prefix("backup created: ")
        .unwrap_or_else(|| panic!("{out:#?}"))
        .to_owned();
    // A failed state newer than every backup, with a row the backup does not have.
    let failed = db
        .backup_dir()
        .join("library.db.20991231T235959.999Z.failed-state.db");
    fs::copy(&backup, &failed).unwrap();
    Connection::open(&failed)
        .unwrap()
        .execute("INSERT INTO books (title, isbn) VALUES ('Half', '2')", [])
        .unwrap();

    let out = db.run(&["backups"]).expect(0);
    let (backups, failed_part) = out
        .stdout
        .split_once("failed-state copies")
        .unwrap_or_else(|| panic!("{out:#?}"));
    assert!(!backups.contains("failed-state"), "{out:#?}");
    assert!(failed_part.contains("failed-state"), "{out:#?}");
    let listed = db.run(&["backups", "--json"]).expect(0).json();
    let kinds: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.last(), Some(&"failed-state"), "{listed}");

    let out = db.run(&["restore", "--yes"]).expect(0);
    assert!(
        out.stdout.contains(&format!("restored from {backup}")),
        "{out:#?}"
    );
    assert_eq!(db.int("SELECT count(*) FROM books"), 0);
}

/// BUG (left failing on purpose): `restore PATH` with a path that does not exist is taken for a
/// snapshot name (the CLI only treats an argument as a file when `is_file()`), so the user is
/// told `snapshot name "/tmp/.../no-such-backup.db" contains '/'` instead of that the file is
/// missing. The exit code (3) and the untouched database are right; the message is not.
#[test]
fn restore_of_a_missing_file_says_the_file_is_missing() {
    let db = Db::new();
    db.up();
    let before = db.bytes();
    let missing = db.dir.path().join("no-such-backup.db");
    let out = db
        .run(&["restore", missing.to_str().unwrap(), "--yes"])
        .expect(3);
    assert!(db.bytes() == before, "{out:#?}");
    assert!(
        !out.stderr.contains("snapshot name"),
        "a missing file is reported as a bad snapshot name: {out:#?}"
    );
    assert!(
        out.stderr
            .contains(&format!("there is no file {}", missing.display())),
        "{out:#?}"
    );
}

/// BUG (left failing on purpose): `restore PATH` where PATH is the live database itself is not
/// refused: the CLI takes a pre-restore backup, then the backup API waits for its own read
/// connection to the same file for the whole busy timeout (60 s by default) and ends with exit
/// code 4, "stayed locked by another connection", although no other connection exists.
#[test]
fn restoring_the_database_onto_itself_is_refused_at_once() {
    let db = Db::new();
    db.up();
    let files = db.files();
    let started = Instant::now();
    let out = db.run(&[
        "restore",
        db.path.to_str().unwrap(),
        "--yes",
        "--busy-timeout-ms",
        "2000",
    ]);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "it waited out the busy timeout: {out:#?}"
    );
    assert_eq!(out.code, 3, "{out:#?}");
    assert!(!out.stderr.contains("another connection"), "{out:#?}");
    assert_eq!(db.files(), files, "a pre-restore backup was taken");
}

#[test]
fn a_changed_checksum_blocks_until_accepted() {
    let db = Db::new();
    db.up();
    db.conn()
        .execute(
            "UPDATE _migrate_applied SET checksum = 'v1:0000000000000000'
             WHERE set_name = 'library' AND seq = 2",
            [],
        )
        .unwrap();
    let before = db.bytes();

    let status = db.status();
    assert_eq!(status["clean"], false);
    assert_eq!(status["migrations"][1]["state"], "modified");
    assert_eq!(status["migrations"][1]["checksum"], "changed");
    let out = db.run(&["verify"]).expect(3);
    assert!(
        out.stdout.contains("problem: 2 \"add_isbn\" is modified"),
        "{out:#?}"
    );

    let out = db.run(&["up"]).expect(3);
    assert!(out.stderr.contains("--accept-checksum 2"), "{out:#?}");
    assert!(out.stderr.contains("nothing was changed"), "{out:#?}");
    assert!(db.bytes() == before, "a refused up changed the database");
    // Accepting another migration's checksum does not help.
    db.run(&["up", "--accept-checksum", "3"]).expect(3);
    assert!(db.bytes() == before);

    let out = db.run(&["up", "--accept-checksum", "2"]).expect(0);
    assert!(
        out.stdout.contains("accepted new checksums of [2]"),
        "{out:#?}"
    );
    db.run(&["verify"]).expect(0);
    assert_status_shape(&db.status(), "applied");
    let history = db.run(&["history", "--json"]).expect(0).json();
    let accepted: Vec<&Value> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "accept-checksum")
        .collect();
    assert_eq!(accepted.len(), 1, "{history:#}");
    assert_eq!(accepted[0]["seq"], 2);
    assert!(
        accepted[0]["detail"]
            .as_str()
            .unwrap()
            .contains("v1:0000000000000000"),
        "{history:#}"
    );
    db.run(&["up"]).expect(0);
}

#[test]
fn a_database_ahead_of_the_binary_blocks_until_allowed() {
    let db = Db::new();
    db.up();
    db.conn()
        .execute(
            "INSERT INTO _migrate_applied
                 (set_name, seq, name, checksum, state, applied_at, duration_ms, applied_by)
             VALUES ('library', 4, 'from_the_future', 'v1:00000000000000ff', 'applied',
                     '2030-01-01 00:00:00.000', 1, 'a newer release')",
            [],
        )
        .unwrap();
    let before = db.bytes();

    let out = db.run(&["up"]).expect(3);
    assert!(out.stderr.contains("--allow-database-ahead"), "{out:#?}");
    assert!(out.stderr.contains("4 \"from_the_future\""), "{out:#?}");
    assert!(db.bytes() == before, "a refused up changed the database");

    let status = db.status();
    assert_eq!(status["current"], 4);
    assert_eq!(status["clean"], false);
    let ahead = &status["migrations"][3];
    assert_eq!(ahead["seq"], 4);
    assert_eq!(ahead["name"], "from_the_future");
    assert_eq!(ahead["state"], "missing-from-binary");
    assert_eq!(ahead["checksum"], "unknown");
    assert_eq!(ahead["reversible"], false);
    db.run(&["verify"]).expect(3);

    let out = db.run(&["up", "--allow-database-ahead"]).expect(0);
    assert!(out.stdout.contains("up to date"), "{out:#?}");
    let out = db.run(&["--allow-database-ahead", "up"]).expect(0);
    assert!(out.stdout.contains("up to date"), "{out:#?}");
}

#[test]
fn a_started_migration_blocks_until_resolved() {
    let db = Db::new();
    db.up();
    db.conn()
        .execute(
            "UPDATE _migrate_applied SET state = 'started' WHERE set_name = 'library' AND seq = 3",
            [],
        )
        .unwrap();

    let out = db.run(&["up"]).expect(3);
    assert!(out.stderr.contains("migrate resolve 3"), "{out:#?}");
    assert_eq!(db.status()["migrations"][2]["state"], "started");

    let out = db.run(&["resolve", "3", "--applied"]).expect(0);
    assert_eq!(out.stdout, "migration 3 resolved as Applied\n");
    db.run(&["verify"]).expect(0);

    db.conn()
        .execute(
            "UPDATE _migrate_applied SET state = 'started' WHERE set_name = 'library' AND seq = 3",
            [],
        )
        .unwrap();
    db.run(&["resolve", "3", "--not-applied"]).expect(0);
    assert_eq!(db.status()["migrations"][2]["state"], "pending");
    let history = db.run(&["history", "--json"]).expect(0).json();
    let resolved: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "resolve")
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(resolved, ["marked applied", "marked not applied"]);
    // Forgotten, so `up` runs it again.
    let out = db.run(&["up"]).expect(0);
    assert!(out.stdout.contains("up 3 \"require_isbn\""), "{out:#?}");
    db.run(&["verify"]).expect(0);

    // Only a started migration can be resolved; anything else is refused, unchanged. (Exit code
    // 1, not 3: the session reports it as `Error::Unsupported`.)
    let before = db.bytes();
    let out = db.run(&["resolve", "2", "--applied"]);
    assert_ne!(out.code, 0, "{out:#?}");
    assert!(out.stderr.contains("Nothing was changed"), "{out:#?}");
    assert!(db.bytes() == before);
}

/// A pending migration below the last applied one (merged late from another branch): `up`
/// refuses, naming --allow-out-of-order, and applies it with the flag.
#[test]
fn an_out_of_order_migration_waits_for_the_flag() {
    // The checksum 3 records, taken from a database migrated normally.
    let reference = Db::new();
    reference.up();
    let checksum: String = reference
        .conn()
        .query_row(
            "SELECT checksum FROM _migrate_applied WHERE set_name = 'library' AND seq = 3",
            [],
            |r| r.get(0),
        )
        .unwrap();

    let db = Db::new();
    db.run(&["up", "--to", "1"]).expect(0);
    // 3 recorded as applied on another branch, 2 not.
    db.conn()
        .execute(
            "INSERT INTO _migrate_applied
                 (set_name, seq, name, checksum, state, applied_at, duration_ms, applied_by)
             VALUES ('library', 3, 'require_isbn', ?1, 'applied',
                     '2026-01-01 00:00:00.000', 1, 'another branch')",
            [&checksum],
        )
        .unwrap();
    let status = db.status();
    assert_eq!(status["migrations"][1]["state"], "out-of-order");
    assert_eq!(status["migrations"][1]["checksum"], "-");
    // plan refuses what up refuses, and dry-runs what up would apply with the override.
    // Under --json the refusal is JSON too, on stdout, with the same exit code.
    let refusal = db.run(&["plan", "--json"]).expect(3).json();
    let message = refusal["error"]["message"].as_str().unwrap();
    assert!(message.contains("--allow-out-of-order"), "{refusal:#}");
    assert_eq!(refusal["error"]["exit_code"], 3);
    let plan = db
        .run(&["plan", "--json", "--allow-out-of-order"])
        .expect(0)
        .json();
    assert_eq!(pending(&plan), [2]);
    assert_eq!(plan["migrations"][0]["state"], "out-of-order");

    let before = db.bytes();
    let out = db.run(&["up"]).expect(3);
    assert!(out.stderr.contains("--allow-out-of-order"), "{out:#?}");
    assert!(db.bytes() == before, "a refused up changed the database");

    let out = db.run(&["up", "--allow-out-of-order"]).expect(0);
    assert!(out.stdout.contains("up 2 \"add_isbn\""), "{out:#?}");
    assert_eq!(
        states(&db.status()),
        [
            (1, "applied".into()),
            (2, "applied".into()),
            (3, "applied".into())
        ]
    );
}

/// A set the binary has no migration for is refused before the database file is created.
#[test]
fn an_unknown_set_is_refused_without_creating_the_database() {
    let db = Db::new();
    let out = db.run(&["--set", "no_such_set", "status"]).expect(3);
    assert!(
        out.stderr
            .contains("no migration is registered in set \"no_such_set\""),
        "{out:#?}"
    );
    assert!(!db.path.exists());
}

#[test]
fn usage_errors_exit_2_before_opening_the_database() {
    let db = Db::new();
    for args in [
        &[][..],
        &["frobnicate"],
        &["--no-such-flag", "status"],
        &["up", "--to", "two"],
        &["up", "--to"],
        &["down", "--steps", "1", "--to", "1"],
        &["down", "--steps", "-1"],
        &["resolve", "3"],
        &["resolve", "3", "--applied", "--not-applied"],
        &["resolve", "--applied"],
        &["snapshot"],
        &["snapshot", "create"],
        &["status", "extra"],
        &["--accept-checksum", "x", "up"],
    ] {
        let out = db.run(args).expect(2);
        assert!(out.stdout.is_empty(), "{args:?}: {out:#?}");
        assert!(
            out.stderr.starts_with("error: ") || out.stderr.contains("Usage:"),
            "{args:?}: {out:#?}"
        );
        assert!(!db.path.exists(), "{args:?} created the database");
    }
    // Help is not an error.
    let out = db.run(&["--help"]).expect(0);
    assert!(out.stdout.contains("Usage:"), "{out:#?}");
    assert!(!db.path.exists());
}

/// `args` with a busy timeout of 150 ms (instead of 60 s), for the tests of held locks.
fn fast<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut args = args.to_vec();
    args.extend(["--busy-timeout-ms", "150"]);
    args
}

/// The test holds the migration lock file (`library.db.migrate-lock`) with an OS lock: every
/// command that needs it gives up after the busy timeout with exit code 4 and changes nothing;
/// the read-only ones run.
#[test]
fn a_held_migration_lock_exits_4() {
    let db = Db::new();
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(&db.path))
        .unwrap();
    lock.lock().unwrap();

    let out = db.run(&fast(&["up"])).expect(4);
    assert!(out.stderr.contains("stayed locked"), "{out:#?}");
    // Read-only commands do not need the lock.
    assert_eq!(db.status()["current"], Value::Null);
    db.run(&["plan"]).expect(0);
    for args in [
        &["backup"][..],
        &["snapshot", "create", "blocked"],
        &["resolve", "1", "--applied"],
    ] {
        let out = db.run(&fast(args)).expect(4);
        assert!(out.stderr.contains("stayed locked"), "{args:?}: {out:#?}");
    }
    assert!(
        !db.backup_dir().exists(),
        "a backup was written under the lock"
    );

    lock.unlock().unwrap();
    db.run(&fast(&["up"])).expect(0);
    lock.lock().unwrap();
    for args in [
        &["down", "--yes"][..],
        &["redo", "--yes"],
        &["restore", "--yes"],
    ] {
        let before = db.bytes();
        let out = db.run(&fast(args)).expect(4);
        assert!(out.stderr.contains("stayed locked"), "{args:?}: {out:#?}");
        assert!(db.bytes() == before, "{args:?} changed the database");
    }
}

/// The test holds `BEGIN IMMEDIATE` on its own connection: `up`, `backup` and `snapshot create`
/// give up after the busy timeout with exit code 4.
#[test]
fn a_write_transaction_held_by_another_connection_exits_4() {
    let db = Db::new();
    db.run(&["up", "--to", "2"]).expect(0);
    let conn = db.conn();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    for args in [&["up"][..], &["backup"], &["snapshot", "create", "busy"]] {
        let out = db.run(&fast(args)).expect(4);
        assert!(out.stderr.contains("stayed locked"), "{args:?}: {out:#?}");
    }
    conn.execute_batch("ROLLBACK").unwrap();
    drop(conn);
    assert_eq!(db.status()["current"], 2);
    db.run(&fast(&["up"])).expect(0);
}

#[test]
fn a_failing_migration_exits_1_and_keeps_nothing_of_its_run() {
    let db = Db::new();
    let broken = [("MIGRATE_CLI_BROKEN", "1")];

    let out = db.run_with(&["up"], &broken).expect(1);
    assert!(
        out.stderr
            .contains("migration 4 \"fails_on_purpose\" (set \"library\", up) failed"),
        "{out:#?}"
    );
    assert!(out.stderr.contains("fails on purpose"), "{out:#?}");
    // All or nothing: 1 to 3 were rolled back with it.
    let status = db.run_with(&["status", "--json"], &broken).expect(0).json();
    assert!(status["current"].is_null(), "{status:#}");
    assert_eq!(
        db.int("SELECT count(*) FROM sqlite_schema WHERE name IN ('books', 'half_done')"),
        0
    );
    let history = db.run(&["history", "--json"]).expect(0).json();
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["seq"] == 4 && e["outcome"] == "failed"),
        "{history:#}"
    );

    // The binary without the broken migration migrates; the broken one then fails again and
    // keeps 1 to 3.
    db.up();
    let out = db.run_with(&["up"], &broken).expect(1);
    assert!(out.stderr.contains("fails on purpose"), "{out:#?}");
    let status = db.status();
    assert_status_shape(&status, "applied");
    assert_eq!(status["current"], 3);
    db.run(&["verify"]).expect(0);
}

#[test]
fn a_migration_that_loses_rows_exits_1_until_allowed_or_unguarded() {
    let lossy = [("MIGRATE_CLI_LOSSY", "1")];
    let three_books = |db: &Db| {
        db.up();
        db.conn()
            .execute_batch("INSERT INTO books (title) VALUES ('Dune'), ('Emma'), ('Ulysses')")
            .unwrap();
    };

    let db = Db::new();
    three_books(&db);
    let out = db.run_with(&["up"], &lossy).expect(1);
    for needed in [
        "books 3 -> 1 (2 rows lost)",
        "destructive",
        "--allow-destructive",
    ] {
        assert!(out.stderr.contains(needed), "{needed:?}: {out:#?}");
    }
    assert_eq!(db.int("SELECT count(*) FROM books"), 3);
    assert_eq!(db.status()["current"], 3);

    // The operator's override, recorded with the counts.
    db.run_with(&["up", "--allow-destructive"], &lossy)
        .expect(0);
    assert_eq!(db.int("SELECT count(*) FROM books"), 1);
    let history = db.run(&["history", "--json"]).expect(0).json();
    let four = history
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["seq"] == 4 && e["outcome"] == "ok")
        .expect("4 applied");
    assert_eq!(
        four["row_counts"],
        serde_json::json!([{"table": "books", "before": 3, "after": 1}]),
        "{history:#}"
    );

    // Or the guard switched off for a run: no counts, no check.
    let db = Db::new();
    three_books(&db);
    db.run_with(&["up", "--no-row-counts"], &lossy).expect(0);
    assert_eq!(db.int("SELECT count(*) FROM books"), 1);
}

#[test]
fn the_database_and_backup_dir_flags_override_the_defaults() {
    let db = Db::new();
    let other = db.dir.path().join("other.db");
    let backups = db.dir.path().join("elsewhere");
    let other_arg = other.to_str().unwrap();
    let backups_arg = backups.to_str().unwrap();

    db.run(&["--database", other_arg, "--backup-dir", backups_arg, "up"])
        .expect(0);
    // MIGRATE_CLI_DB was not migrated, not even created.
    assert!(!db.path.exists(), "MIGRATE_CLI_DB was created");
    let status = db
        .run(&["status", "--json", "--database", other_arg])
        .expect(0)
        .json();
    assert_eq!(status["current"], 3);
    assert!(!db.dir.path().join("other.db.backups").exists());

    let history = db
        .run(&["history", "--json", "--database", other_arg])
        .expect(0)
        .json();
    let backup = history[0]["backup"].as_str().expect("a backup path");
    assert!(Path::new(backup).starts_with(&backups), "{backup}");
    assert!(Path::new(backup).is_file(), "{backup}");

    db.run(&[
        "snapshot",
        "create",
        "moved",
        "--database",
        other_arg,
        "--backup-dir",
        backups_arg,
    ])
    .expect(0);
    let listed = |with_dir: bool| {
        let mut args = vec!["snapshot", "list", "--json", "--database", other_arg];
        if with_dir {
            args.extend(["--backup-dir", backups_arg]);
        }
        db.run(&args).expect(0).json().as_array().unwrap().len()
    };
    assert_eq!(listed(true), 1);
    assert_eq!(listed(false), 0);
}

/// Read-only and refused commands at a mistyped path: "no database at PATH" (exit 3), and no
/// database, lock file or backup directory appears. Only `up` creates the database.
#[test]
fn only_up_creates_the_database_at_a_missing_path() {
    let db = Db::new();
    let commands: [&[&str]; 11] = [
        &["status"],
        &["verify"],
        &["history"],
        &["plan"],
        &["backups"],
        &["restore", "--yes"],
        &["restore", "before-import", "--yes"],
        &["down", "--yes"],
        &["redo", "--yes"],
        &["resolve", "2", "--applied"],
        &["snapshot", "list"],
    ];
    for args in commands {
        let out = db.run(args).expect(3);
        assert!(
            out.stderr.contains(&format!(
                "no database at {}; nothing was created",
                db.path.display()
            )),
            "{args:?}: {out:#?}"
        );
        assert_eq!(db.files(), BTreeSet::new(), "{args:?} left files behind");
    }
    assert!(!lock_path(&db.path).exists());
    assert!(!db.backup_dir().exists());

    db.up();
    assert_eq!(db.int("SELECT count(*) FROM _migrate_applied"), 3);
}

/// `--database` naming a directory: said as such, with the fix, nothing created in it.
#[test]
fn a_directory_as_the_database_is_named_as_a_directory() {
    let db = Db::new();
    let dir = db.dir.path().join("data");
    fs::create_dir(&dir).unwrap();
    for args in [&["status"][..], &["up"]] {
        let mut all = vec!["--database", dir.to_str().unwrap()];
        all.extend_from_slice(args);
        let out = db.run(&all).expect(3);
        assert!(
            out.stderr.contains("is a directory, not a database file"),
            "{out:#?}"
        );
        assert!(
            out.stderr
                .contains(&dir.join("app.db").display().to_string()),
            "{out:#?}"
        );
    }
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
    assert!(!lock_path(&dir).exists());
}

/// `down --steps 99` with 3 applied: refused before anything changes, naming the command that
/// reverts everything (which then works as printed).
#[test]
fn down_more_steps_than_applied_is_refused_and_names_down_to_0() {
    let db = Db::new();
    db.up();
    let bytes = db.bytes();
    let files = db.files();
    let out = db.run(&["down", "--steps", "99", "--yes"]).expect(3);
    assert!(
        out.stderr
            .contains("cannot revert 99 migration(s): set \"library\" has only 3 applied"),
        "{out:#?}"
    );
    assert!(out.stderr.contains("`migrate down --to 0`"), "{out:#?}");
    assert!(db.bytes() == bytes, "the refused down changed the database");
    assert_eq!(db.files(), files, "the refused down took a backup");
    assert_eq!(db.int("SELECT count(*) FROM _migrate_applied"), 3);

    // What the message says works: migration 1 is forward-only, so --to 1 is as far as it goes.
    let out = db.run(&["down", "--to", "1", "--yes"]).expect(0);
    assert!(out.stdout.contains("down 3"), "{out:#?}");
    assert_eq!(db.int("SELECT count(*) FROM _migrate_applied"), 1);
    let out = db.run(&["down", "--steps", "2", "--yes"]).expect(3);
    assert!(out.stderr.contains("has only 1 applied"), "{out:#?}");
    assert_eq!(db.int("SELECT count(*) FROM _migrate_applied"), 1);
}

/// `restore --before SEQ`, the command the refusals print instead of a bare `migrate restore`
/// (which restores the newest backup): it restores the newest backup taken before SEQ was
/// applied, even when newer backups exist, and prints the undo command.
#[test]
fn restore_before_a_migration_selects_the_backup_taken_before_it() {
    let db = Db::new();
    db.run(&["up", "--to", "1"]).expect(0);
    db.run(&["up", "--to", "2"]).expect(0); // backs up the database at 1
    db.run(&["up"]).expect(0); // at 2
    db.run(&["backup"]).expect(0); // at 3: the newest
    assert_eq!(db.int("SELECT max(seq) FROM _migrate_applied"), 3);

    let out = db.run(&["restore", "--before", "2", "--yes"]).expect(0);
    assert!(out.stdout.contains(".pre-up.db"), "{out:#?}");
    assert_eq!(db.int("SELECT max(seq) FROM _migrate_applied"), 1);
    assert_eq!(
        db.int("SELECT count(*) FROM pragma_table_info('books') WHERE name = 'isbn'"),
        0,
        "migration 2's column is gone"
    );

    // The very first `up` backed up the database before anything was applied: "before 1".
    let out = db.run(&["restore", "--before", "1", "--yes"]).expect(0);
    assert!(out.stdout.contains("to undo: migrate restore"), "{out:#?}");
    assert!(
        !db.conn()
            .query_row(
                "SELECT count(*) > 0 FROM sqlite_schema WHERE name = 'books'",
                [],
                |r| r.get::<_, bool>(0)
            )
            .unwrap()
    );

    // A name and --before together: a usage error, nothing restored.
    db.run(&["restore", "x", "--before", "2", "--yes"])
        .expect(2);
}

/// `--json` on every command that reports something: one JSON document on stdout, serialized
/// from the library's report types (the same field names as `Serialize` gives them).
#[test]
fn every_reporting_command_speaks_json() {
    let db = Db::new();
    let up = db.run(&["up", "--json", "--to", "2"]).expect(0).json();
    assert_eq!(
        (up["set"].clone(), up["before"].clone(), up["after"].clone()),
        ("library".into(), Value::Null, 2.into())
    );
    let steps: Vec<(u64, &str)> = up["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["seq"].as_u64().unwrap(), s["direction"].as_str().unwrap()))
        .collect();
    assert_eq!(steps, [(1, "up"), (2, "up")]);
    assert!(up["duration_ms"].is_u64());
    assert_eq!(db.int("SELECT max(seq) FROM _migrate_applied"), 2);

    let down = db.run(&["down", "--json", "--yes"]).expect(0).json();
    assert_eq!(
        (down["before"].clone(), down["after"].clone()),
        (2.into(), 1.into())
    );
    assert_eq!(down["steps"][0]["direction"], "down");
    assert_eq!(db.int("SELECT max(seq) FROM _migrate_applied"), 1);

    let up = db.run(&["up", "--json"]).expect(0).json();
    assert_eq!(up["after"], 3);
    let redo = db.run(&["redo", "--json", "--yes"]).expect(0).json();
    let directions: Vec<&str> = redo["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["direction"].as_str().unwrap())
        .collect();
    assert_eq!(directions, ["down", "up"]);

    let backup = db.run(&["backup", "--json"]).expect(0).json();
    assert_eq!(backup["kind"], "manual");
    assert_eq!(backup["schema_version"], 3);
    assert!(Path::new(backup["path"].as_str().unwrap()).is_file());

    let snapshot = db
        .run(&["snapshot", "create", "before-import", "--json"])
        .expect(0)
        .json();
    assert_eq!(
        (snapshot["kind"].clone(), snapshot["name"].clone()),
        ("snapshot".into(), "before-import".into())
    );
    let listed = db.run(&["snapshot", "list", "--json"]).expect(0).json();
    assert_eq!(listed[0]["path"], snapshot["path"]);
    let backups = db.run(&["backups", "--json"]).expect(0).json();
    assert!(
        backups
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["path"] == backup["path"]),
        "{backups:#}"
    );

    let restored = db
        .run(&["restore", "before-import", "--json", "--yes"])
        .expect(0)
        .json();
    assert_eq!(restored["restored_from"], snapshot["path"]);
    assert!(Path::new(restored["undo_backup"]["path"].as_str().unwrap()).is_file());

    let verify = db.run(&["verify", "--json"]).expect(0).json();
    assert_eq!(
        (verify["ok"].clone(), verify["integrity"].clone()),
        (true.into(), "ok".into())
    );
    assert_eq!(verify["status"]["current"], 3);

    let history = db.run(&["history", "--json"]).expect(0).json();
    let actions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"down") && actions.contains(&"up"),
        "{actions:?}"
    );
    assert!(
        history[0]["set"].is_string() && history[0]["by"].is_string(),
        "{history:#}"
    );

    // resolve: a migration marked started by hand (as a crash inside it would leave it).
    db.conn()
        .execute(
            "UPDATE _migrate_applied SET state = 'started' WHERE set_name = 'library' AND seq = 3",
            [],
        )
        .unwrap();
    let resolved = db
        .run(&["resolve", "3", "--applied", "--json"])
        .expect(0)
        .json();
    assert_eq!(
        resolved,
        serde_json::json!({ "seq": 3, "resolved_as": "applied" })
    );
    assert_eq!(db.status()["migrations"][2]["state"], "applied");

    let deleted = db
        .run(&["snapshot", "delete", "before-import", "--json", "--yes"])
        .expect(0)
        .json();
    assert_eq!(deleted["deleted_snapshot"], "before-import");
    assert!(!Path::new(snapshot["path"].as_str().unwrap()).exists());
}

/// Errors under `--json` are JSON on stdout with the exit code they have without it, and
/// refused commands change nothing.
#[test]
fn errors_under_json_are_json_with_the_same_exit_code() {
    let db = Db::new();
    db.up();
    let before = db.bytes();

    // Not confirmed (no terminal, no --yes): refused, exit 3.
    let refused = db.run(&["down", "--json"]).expect(3).json();
    assert_eq!(refused["error"]["exit_code"], 3);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--yes"),
        "{refused:#}"
    );
    assert_eq!(db.bytes(), before);

    // A missing backup: the library's error, exit 3 as without --json.
    let plain = db.run(&["restore", "./no-such.db", "--yes"]);
    let json = db.run(&["restore", "./no-such.db", "--yes", "--json"]);
    assert_eq!(plain.code, json.code, "{plain:#?} {json:#?}");
    let error = json.json();
    assert_eq!(error["error"]["exit_code"], json.code);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no-such.db"),
        "{error:#}"
    );
    assert_eq!(db.bytes(), before);

    // A usage error: exit 2, JSON too.
    let usage = db
        .run(&["down", "--steps-are-not-a-flag", "--json"])
        .expect(2)
        .json();
    assert_eq!(usage["error"]["exit_code"], 2);
    assert_eq!(db.int("SELECT count(*) FROM _migrate_applied"), 3);
}
