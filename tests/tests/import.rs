//! `migrate import`: a diesel, sqlx, refinery or plain migrations folder becomes one Rust
//! migration file per upstream migration. The files generated from the fixtures in
//! `tests/fixtures/import/` are committed in `tests/src/imported/` and compiled as part of this
//! crate; these tests prove they are exactly what the importer generates today, that they
//! compile (this file links them) and that they apply to a real file, building the schema the
//! upstream SQL builds.

#[path = "common/imported.rs"]
mod imported;

use imported::*;
use migrate_sqlite::import::{Import, Layout};
use migrate_sqlite::{CoreError, Status};
use rusqlite::Connection;
use std::fs;
use std::path::Path;

#[test]
fn the_committed_generated_files_are_what_import_generates_today() {
    let update = std::env::var_os("MIGRATE_UPDATE_IMPORT").is_some_and(|v| v == "1");
    for (layout, set) in LAYOUTS {
        let imported = import(layout, set);
        assert_eq!(imported.layout, layout, "layout detected from the folder");
        assert_eq!(imported.files.len(), 4, "three migrations and mod.rs");
        if update {
            imported.write(true).unwrap();
        }
        for file in &imported.files {
            let committed = fs::read_to_string(&file.path).unwrap_or_default();
            assert_eq!(
                committed,
                file.contents,
                "{} is stale: run `MIGRATE_UPDATE_IMPORT=1 cargo test -p migrate-tests --test \
                 import` and commit the result",
                file.path.display()
            );
        }
    }
}

#[test]
fn names_carry_the_upstream_version_and_downs_exist_only_where_the_source_has_one() {
    let expect = |layout, names: [&str; 3], downs: [bool; 3]| {
        let found = import(layout, "x").migrations;
        let got: Vec<String> = found.iter().map(|m| m.name()).collect();
        assert_eq!(got, names, "{layout}");
        let got: Vec<bool> = found.iter().map(|m| m.down.is_some()).collect();
        assert_eq!(got, downs, "{layout}");
    };
    expect(
        Layout::Diesel,
        [
            "20180101000000_create_users",
            "20180201120000_create_posts",
            "20190301000000_add_email",
        ],
        // diesel's default down.sql holds only a comment: no down step.
        [true, true, false],
    );
    expect(
        Layout::Sqlx,
        [
            "20220101120000_create_users",
            "20220102120000_create_posts",
            "20220201000000_add_email",
        ],
        [true, true, true],
    );
    expect(
        Layout::Refinery,
        ["1_create_users", "2_create_posts", "3_add_email"],
        [false; 3],
    );
    expect(
        Layout::Plain,
        ["01-users", "02-posts", "03-email"],
        [false; 3],
    );
}

#[test]
fn every_imported_history_applies_to_a_file_and_builds_what_its_sql_builds() {
    for (layout, set) in LAYOUTS {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.db");
        let mut session = migrator(set).open(&path).unwrap();
        let report = session.up().unwrap();
        assert_eq!(report.after, Some(3), "{layout}");

        let upstream = Connection::open_in_memory().unwrap();
        apply_upstream(&upstream, layout, 3);
        let conn = Connection::open(&path).unwrap();
        assert_eq!(
            raw_schema(&conn, &[]),
            raw_schema(&upstream, &[]),
            "{layout}"
        );
        let admin: String = conn
            .query_row("SELECT name FROM users WHERE id = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(admin, "admin", "{layout}: the data statement ran");
        let names: Vec<String> = conn
            .prepare("SELECT name FROM _migrate_applied WHERE set_name = ?1 ORDER BY seq")
            .unwrap()
            .query_map([set], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let expected: Vec<String> = import(layout, set)
            .migrations
            .iter()
            .map(|m| m.name())
            .collect();
        assert_eq!(names, expected, "{layout}");
        let status = session.status().unwrap();
        assert!(status.lines.iter().all(|l| l.status == Status::Applied));
    }
}

#[test]
fn an_imported_down_reverts_its_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let mut session = migrator("imported_sqlx").open(&path).unwrap();
    session.up().unwrap();
    session.down_to(0).unwrap();
    let conn = Connection::open(&path).unwrap();
    assert!(raw_schema(&conn, &[]).is_empty(), "every sqlx down ran");
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM _migrate_applied", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0);
}

fn write(dir: &Path, file: &str, sql: &str) {
    let path = dir.join(file);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, sql).unwrap();
}

#[test]
fn a_file_that_fits_no_migration_refuses_the_import_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("migrations");
    write(&source, "V1__init.sql", "CREATE TABLE t (x);");
    write(&source, "V2_missing_underscore.sql", "CREATE TABLE u (x);");
    let out = dir.path().join("src/migrations");
    let err = Import::new(&source, &out).generate().unwrap_err();
    let text = err.to_string();
    assert!(text.contains("V2_missing_underscore.sql"), "{text}");
    assert!(text.contains("does not fit the refinery layout"), "{text}");
    assert!(!out.exists(), "nothing was written");
}

#[test]
fn a_refinery_migration_written_in_rust_is_not_left_out_silently() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("migrations");
    write(&source, "V1__init.sql", "CREATE TABLE t (x);");
    write(
        &source,
        "V2__backfill.rs",
        "pub fn migration() -> String { String::new() }",
    );
    let out = dir.path().join("src/migrations");
    let err = Import::new(&source, &out)
        .layout(Layout::Refinery)
        .generate()
        .unwrap_err();
    assert!(err.to_string().contains("V2__backfill.rs"), "{err}");
    assert!(err.to_string().contains("port it by hand"), "{err}");
    assert!(!out.exists());
}

#[test]
fn an_existing_file_with_other_contents_is_not_overwritten_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("migrations");
    write(&source, "20240101_init.sql", "CREATE TABLE t (x);");
    let out = dir.path().join("src/migrations");
    write(&out, "mod.rs", "// my own module\n");
    let imported = Import::new(&source, &out).generate().unwrap();
    let err = imported.write(false).unwrap_err();
    assert!(matches!(err, CoreError::Import { .. }), "{err:?}");
    let command = format!(
        "`migrate import {} --out {} --from sqlx --force`",
        source.display(),
        out.display()
    );
    assert!(err.to_string().contains(&command), "{err}");
    assert_eq!(
        fs::read_to_string(out.join("mod.rs")).unwrap(),
        "// my own module\n"
    );
    assert!(!out.join("m0001_init.rs").exists(), "nothing was written");
    imported.write(true).unwrap();
    assert_eq!(
        fs::read_to_string(out.join("mod.rs")).unwrap(),
        imported.files.last().unwrap().contents
    );
}

/// The words of a command as a POSIX shell splits it (single quotes only, as printed).
fn shell_words(command: &str) -> Vec<String> {
    let (mut words, mut word, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
    let mut chars = command.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            '\\' if !quoted => {
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            c if c.is_whitespace() && !quoted => {
                if any || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            c => word.push(c),
        }
    }
    if any || !word.is_empty() {
        words.push(word);
    }
    words
}

#[test]
fn the_overwrite_command_of_a_refusal_repeats_the_layout_and_the_set_and_quotes_paths() {
    // A folder sqlx would read by version, imported on purpose as a plain folder, into a set,
    // from a path with a space: `--force` must redo exactly this import.
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("old migrations");
    write(&source, "20240101_init.sql", "CREATE TABLE t (x);");
    let out = dir.path().join("src/migrations");
    write(&out, "mod.rs", "// my own module\n");
    let imported = Import::new(&source, &out)
        .layout(Layout::Plain)
        .set("legacy")
        .generate()
        .unwrap();
    let err = imported.write(false).unwrap_err();
    assert_eq!(
        fs::read_to_string(out.join("mod.rs")).unwrap(),
        "// my own module\n",
        "nothing was written"
    );
    let text = err.to_string();
    let command = text
        .split('`')
        .nth(1)
        .unwrap_or_else(|| panic!("no command: {text}"));
    let words = shell_words(command);
    let expected: Vec<String> = [
        "migrate",
        "--set",
        "legacy",
        "import",
        source.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--from",
        "plain",
        "--force",
    ]
    .map(str::to_owned)
    .to_vec();
    assert_eq!(words, expected, "{text}");
    use clap::Parser;
    migrate_sqlite::cli::MigrateArgs::try_parse_from(&words)
        .unwrap_or_else(|e| panic!("`{command}` does not run as printed: {e}"));
}

#[test]
fn the_layout_can_be_given_and_sqlx_no_transaction_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("migrations");
    write(&source, "1_vacuum.sql", "-- no-transaction\nVACUUM;");
    let out = dir.path().join("gen");
    let imported = Import::new(&source, &out)
        .layout(Layout::Sqlx)
        .generate()
        .unwrap();
    assert!(
        imported.files[0].contents.contains("transaction = false"),
        "{:?}",
        imported.files[0]
    );
    // The same folder read as plain files keeps the file name.
    let plain = Import::new(&source, &out)
        .layout(Layout::Plain)
        .generate()
        .unwrap();
    assert_eq!(plain.migrations[0].name(), "1_vacuum");
    assert!(!plain.files[0].contents.contains("transaction = false"));
}

/// `migrate-cli ARGS...`, the command line as an app ships it; no database is needed.
fn cli(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_migrate-cli"))
        .args(args)
        .env("MIGRATE_CLI_DB", dir.join("never-created.db"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_command_line_imports_a_folder_and_refuses_to_overwrite_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("src/migrations");
    let source = source(Layout::Diesel);
    let (code, stdout, stderr) = cli(
        dir.path(),
        &[
            "--set",
            "billing",
            "import",
            source.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("imported 3 diesel migration(s)"),
        "{stdout}"
    );
    assert!(stdout.contains("`migrate adopt --from diesel`"), "{stdout}");
    let expected = Import::new(&source, &out)
        .set("billing")
        .generate()
        .unwrap();
    for file in &expected.files {
        assert_eq!(fs::read_to_string(&file.path).unwrap(), file.contents);
    }
    assert!(expected.files[0].contents.contains("set = \"billing\""));
    assert!(
        !dir.path().join("never-created.db").exists(),
        "import opens no database"
    );

    // A generated file edited since: refused (exit 3), nothing written, unless --force.
    fs::write(out.join("mod.rs"), "// edited by hand\n").unwrap();
    let (code, _, stderr) = cli(
        dir.path(),
        &[
            "import",
            source.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("already exist with other contents"),
        "{stderr}"
    );
    assert_eq!(
        fs::read_to_string(out.join("mod.rs")).unwrap(),
        "// edited by hand\n"
    );
    let (code, _, stderr) = cli(
        dir.path(),
        &[
            "import",
            source.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--force",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_ne!(
        fs::read_to_string(out.join("mod.rs")).unwrap(),
        "// edited by hand\n"
    );
}

#[test]
fn diesel_metadata_and_hidden_entries_are_read_as_diesel_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("migrations");
    write(
        &source,
        "2024-01-01-000000_init/up.sql",
        "CREATE TABLE t (x);",
    );
    write(&source, "2024-02-01-000000_compact/up.sql", "VACUUM;");
    write(
        &source,
        "2024-02-01-000000_compact/metadata.toml",
        "run_in_transaction = false # VACUUM refuses a transaction\n",
    );
    write(&source, ".hidden/up.sql", "DROP TABLE t;");
    write(&source, "README.md", "notes");
    let imported = Import::new(&source, dir.path().join("out"))
        .generate()
        .unwrap();
    let names: Vec<String> = imported.migrations.iter().map(|m| m.name()).collect();
    assert_eq!(names, ["20240101000000_init", "20240201000000_compact"]);
    assert!(!imported.files[0].contents.contains("transaction = false"));
    assert!(imported.files[1].contents.contains("transaction = false"));
}
