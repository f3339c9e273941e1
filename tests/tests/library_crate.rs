//! Migrations defined in a separate library crate are found by a binary that links it.
//!
//! This test binary references `library_migrations` only through `use ... as _;`, the way an
//! application links a crate of migrations it never calls.

use library_migrations as _;
use migrate_sqlite::{Flags, Migration, Origin, Registry, Step, TxMode, Validation};

const SET: &str = "library";

fn registry() -> Registry<Step> {
    Registry::new(SET, migrate_sqlite::registered(SET), Validation::strict())
        .expect("the library's migrations form a valid set")
}

fn get(registry: &Registry<Step>, seq: u64) -> &Migration {
    registry
        .get(seq)
        .unwrap_or_else(|| panic!("seq {seq} is registered"))
}

/// The file and line of a migration's `#[migration]` attribute.
fn source(m: &Migration) -> (&str, u32) {
    match &m.origin {
        Origin::Source { file, line } => (file.as_str(), *line),
        Origin::Manual(label) => panic!("{} is registered, not built by hand: {label}", m.name),
    }
}

#[test]
fn all_three_are_found_in_order() {
    let registry = registry();
    assert_eq!(registry.set(), SET);
    let found: Vec<(u64, &str)> = registry
        .migrations()
        .iter()
        .map(|m| (m.seq, m.name.as_str()))
        .collect();
    assert_eq!(
        found,
        [(1, "create_books"), (2, "add_isbn"), (3, "require_isbn")]
    );
    assert!(registry.migrations().iter().all(|m| m.set == SET));
}

#[test]
fn descriptions_come_from_doc_comments() {
    let registry = registry();
    assert_eq!(get(&registry, 1).description, "Creates the books table.");
    assert_eq!(
        get(&registry, 2).description,
        "Adds an ISBN column to books.\n\nReversible: `drop_isbn` removes it."
    );
    assert_eq!(
        get(&registry, 3).description,
        "Makes the ISBN required, by rebuilding the books table."
    );
}

#[test]
fn reversibility_follows_the_form() {
    let registry = registry();
    // fn form: forward-only.
    assert!(!get(&registry, 1).is_reversible());
    // fn form with `down = drop_isbn`.
    assert!(get(&registry, 2).is_reversible());
    // mod form with `fn up` and `fn down`.
    assert!(get(&registry, 3).is_reversible());
}

#[test]
fn origins_are_the_migration_files() {
    let registry = registry();
    let expected = [
        (1, "m0001_create_books.rs", 4),
        (2, "m0002_add_isbn.rs", 6),
        (3, "m0003_require_isbn.rs", 4),
    ];
    for (seq, file_name, line) in expected {
        let (file, found_line) = source(get(&registry, seq));
        let file = file.replace('\\', "/");
        assert!(
            file.ends_with(&format!("library-migrations/src/migrations/{file_name}")),
            "seq {seq}: {file}"
        );
        assert_eq!(
            found_line, line,
            "seq {seq}: line of its #[migration] attribute"
        );
    }
}

#[test]
fn transaction_mode_and_flags() {
    let registry = registry();
    for m in registry.migrations() {
        assert_eq!(m.mode, TxMode::Transactional, "{}", m.name);
    }
    assert_eq!(get(&registry, 1).flags, Flags::NONE);
    assert_eq!(get(&registry, 2).flags, Flags::NONE);
    assert_eq!(
        get(&registry, 3).flags,
        Flags::NONE
            .with_destructive(true)
            .with_rebuilds_tables(true)
    );
}

#[test]
fn checksums_differ_between_migrations() {
    let registry = registry();
    let sums: Vec<_> = registry.migrations().iter().map(|m| m.checksum).collect();
    assert_ne!(sums[0], sums[1]);
    assert_ne!(sums[1], sums[2]);
    assert_ne!(sums[0], sums[2]);
}

#[test]
fn other_sets_do_not_see_them() {
    assert!(migrate_sqlite::registered(migrate_sqlite::DEFAULT_SET).is_empty());
}

#[test]
fn a_set_with_no_migrations_suggests_linking_the_crate() {
    let set = "not-linked";
    let found = migrate_sqlite::registered(set);
    assert!(found.is_empty());
    let err = Registry::new(set, found, Validation::strict()).unwrap_err();
    // The error a user sees, through the backend's error type.
    let message = migrate_sqlite::Error::from(err).to_string();
    assert!(message.contains("\"not-linked\""), "{message}");
    assert!(
        message.contains("use your_migrations_crate as _;"),
        "{message}"
    );
}

/// An integration test links the package's library, never its binary: when nothing is
/// registered here, the migrator says where migrations must live to be tested, and creates no
/// database file.
#[test]
fn an_empty_set_in_a_test_binary_says_where_migrations_must_live() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let err = migrate_sqlite::Migrator::new()
        .set("only-in-the-binary")
        .open(&path)
        .err()
        .expect("an empty set is refused");
    let message = format!("{err:?}");
    for needle in [
        "no migration is registered in set \"only-in-the-binary\" in this test binary",
        "never its binary",
        "library target (`src/lib.rs`",
        "`#[cfg(test)]`",
    ] {
        assert!(
            message.contains(needle),
            "{needle:?} missing from:\n{message}"
        );
    }
    assert!(!path.exists(), "refused before creating the database");
}
