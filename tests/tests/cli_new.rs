//! `migrate new NAME --from-schema FILE` through the real binary: run in a copy of the
//! `library-migrations` sources, it writes `m0004_edit_books.rs` next to the set's migrations,
//! adds its `mod` line, and the file is byte for byte `fixtures/m0004_edit_books.rs`. That
//! fixture is compiled into this test binary (`include!` below, registering seq 4 of set
//! "library" here only), which proves the generated code compiles without a cargo build at
//! test time; applied after the library's migrations it yields exactly the desired schema
//! (`fixtures/edit_books.sql`: a new table, a column added and a CHECK added, so a `Rebuild`,
//! an index and a view), and the harness passes on it (its down restores the schema).

#[path = "common/runbook.rs"]
mod runbook;

use library_migrations as _;
use migrate_sqlite::Migrator;
use migrate_sqlite::generate::canonical_schema;
use migrate_sqlite::testing::Harness;
use runbook::Db;
use std::fs;
use std::path::{Path, PathBuf};

mod generated {
    include!("fixtures/m0004_edit_books.rs");
}

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// A temporary directory holding `tests/library-migrations/src` as in the workspace (the
/// migrations' recorded source paths are relative to the workspace root).
pub fn copy_of_the_sources() -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        fs::create_dir_all(to).unwrap();
        for entry in fs::read_dir(from).unwrap() {
            let path = entry.unwrap().path();
            let target = to.join(path.file_name().unwrap());
            if path.is_dir() {
                copy(&path, &target);
            } else {
                fs::copy(&path, &target).unwrap();
            }
        }
    }
    let root = tempfile::tempdir().unwrap();
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("library-migrations/src");
    copy(&sources, &root.path().join("tests/library-migrations/src"));
    root
}

fn migrations_dir(root: &Path) -> PathBuf {
    root.join("tests/library-migrations/src/migrations")
}

#[test]
fn new_from_schema_writes_the_committed_fixture_and_its_mod_line() {
    let root = copy_of_the_sources();
    fs::copy(
        Path::new(FIXTURES).join("edit_books.sql"),
        root.path().join("edit_books.sql"),
    )
    .unwrap();
    let db = Db::new();
    let out = db
        .run_in(
            &["new", "edit_books", "--from-schema", "edit_books.sql"],
            Some(root.path()),
        )
        .expect(0);
    assert!(
        out.stdout.contains("wrote migration 4 of set \"library\""),
        "{out:#?}"
    );
    assert!(out.stdout.contains("rebuilds table books"), "{out:#?}");
    let written =
        fs::read_to_string(migrations_dir(root.path()).join("m0004_edit_books.rs")).unwrap();
    let fixture = fs::read_to_string(Path::new(FIXTURES).join("m0004_edit_books.rs")).unwrap();
    assert_eq!(
        written, fixture,
        "regenerate the fixture if the generator changed on purpose"
    );
    let module = fs::read_to_string(migrations_dir(root.path()).join("mod.rs")).unwrap();
    assert!(
        module.ends_with("mod m0003_require_isbn;\nmod m0004_edit_books;\n"),
        "{module}"
    );
    assert!(
        !db.path.exists(),
        "`new` needs no database and creates none"
    );
}

#[test]
fn the_generated_migration_yields_exactly_the_desired_schema() {
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    let report = Migrator::new()
        .set("library")
        .on(&mut conn)
        .unwrap()
        .up()
        .unwrap();
    assert_eq!(report.after, Some(4));
    let desired = rusqlite::Connection::open_in_memory().unwrap();
    let sql = fs::read_to_string(Path::new(FIXTURES).join("edit_books.sql")).unwrap();
    // Tables first: the snapshot lists the index before its table.
    let (index, rest) = sql.split_once('\n').unwrap();
    desired.execute_batch(rest).unwrap();
    desired.execute_batch(index).unwrap();
    assert_eq!(
        canonical_schema(&conn).unwrap(),
        canonical_schema(&desired).unwrap()
    );
}

/// Migration 3's own down rebuilds `books` under another name, so its schema text differs
/// from before (the harness reports that of migration 3 on its own); it is checked here as
/// irreversible so the harness judges the generated migration 4, round trip included.
#[test]
fn the_harness_passes_on_the_generated_migration() {
    let list = migrate_sqlite::registered("library")
        .into_iter()
        .map(|mut m| {
            if m.seq == 3 {
                m.down = None;
            }
            m
        });
    Harness::new(Migrator::new().set("library").with_migrations(list))
        .seed_at(3, "INSERT INTO books (title, isbn) VALUES ('Dune', '1')")
        .assert_ok();
}

#[test]
fn a_desired_schema_equal_to_the_current_one_writes_nothing() {
    let root = copy_of_the_sources();
    let same = root.path().join("same.sql");
    fs::write(
        &same,
        "CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL, isbn TEXT NOT NULL DEFAULT '');\n",
    )
    .unwrap();
    let before = fs::read_to_string(migrations_dir(root.path()).join("mod.rs")).unwrap();
    let out = Db::new()
        .run_in(
            &["new", "nothing", "--from-schema", "same.sql"],
            Some(root.path()),
        )
        .expect(3);
    assert!(out.stderr.contains("nothing was written"), "{out:#?}");
    assert!(
        !migrations_dir(root.path())
            .join("m0004_nothing.rs")
            .exists()
    );
    assert_eq!(
        fs::read_to_string(migrations_dir(root.path()).join("mod.rs")).unwrap(),
        before
    );
}
