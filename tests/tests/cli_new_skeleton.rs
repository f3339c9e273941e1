//! `migrate new NAME` through the real binary: a skeleton `m0004_add_shelves.rs` next to the
//! `library` set's migrations with the next free seq and its `mod` line, byte for byte
//! `fixtures/m0004_add_shelves.rs`, which is compiled into this test binary (`include!`) and
//! runs (a skeleton changes nothing until it is filled in).

#[path = "common/runbook.rs"]
mod runbook;

use library_migrations as _;
use migrate_sqlite::Migrator;
use runbook::Db;
use std::fs;
use std::path::Path;

mod skeleton {
    include!("fixtures/m0004_add_shelves.rs");
}

#[test]
fn new_writes_a_skeleton_that_compiles_with_the_next_seq_and_its_mod_line() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("tests/library-migrations/src/migrations");
    fs::create_dir_all(&dir).unwrap();
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("library-migrations/src");
    fs::copy(sources.join("lib.rs"), dir.parent().unwrap().join("lib.rs")).unwrap();
    for entry in fs::read_dir(sources.join("migrations")).unwrap() {
        let path = entry.unwrap().path();
        fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    let out = Db::new()
        .run_in(&["new", "add_shelves"], Some(root.path()))
        .expect(0);
    assert!(
        out.stdout.contains("wrote migration 4 of set \"library\""),
        "{out:#?}"
    );
    let written = fs::read_to_string(dir.join("m0004_add_shelves.rs")).unwrap();
    let fixture = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/m0004_add_shelves.rs"),
    )
    .unwrap();
    assert_eq!(written, fixture);
    let module = fs::read_to_string(dir.join("mod.rs")).unwrap();
    assert!(module.ends_with("mod m0004_add_shelves;\n"), "{module}");

    // A second one with the same name is refused, and nothing is overwritten.
    let out = Db::new()
        .run_in(&["new", "add_shelves"], Some(root.path()))
        .expect(3);
    assert!(
        out.stderr
            .contains("m0004_add_shelves.rs already exists; nothing was written"),
        "{out:#?}"
    );
    assert_eq!(
        fs::read_to_string(dir.join("m0004_add_shelves.rs")).unwrap(),
        fixture
    );
    assert_eq!(fs::read_to_string(dir.join("mod.rs")).unwrap(), module);

    // The committed skeleton compiled into this binary runs as migration 4 of the set.
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    let report = Migrator::new()
        .set("library")
        .on(&mut conn)
        .unwrap()
        .up()
        .unwrap();
    assert_eq!(report.after, Some(4));
}
