//! The checksum `#[migration]` records is a hash of the `up` step's code that formatting does
//! not change (whitespace, comments, trailing commas, rustfmt's layout) and any real edit does.
//!
//! Each migration below is alone in its set, so `registered(set)` finds exactly it.

use migrate_sqlite::{Checksum, Result, Tx, migration};

fn checksum_of(set: &str) -> Checksum {
    let found = migrate_sqlite::registered(set);
    assert_eq!(found.len(), 1, "set {set:?} has one migration");
    found[0].checksum
}

/// The reference, as rustfmt writes it.
#[migration(seq = 1, set = "checksum_tidy")]
fn seed_tidy(tx: &Tx) -> Result<()> {
    tx.execute_batch(
        "CREATE TABLE prices (id INTEGER PRIMARY KEY, cents INTEGER NOT NULL, tag TEXT);
         CREATE INDEX prices_cents ON prices (cents);",
    )?;
    let rows = [(1, 250), (2, -1), (3, 1_000)];
    for (id, cents) in rows {
        match cents {
            c if c < 0 => {}
            _ => {
                tx.execute(
                    "INSERT INTO prices (id, cents, tag) VALUES (?1, ?2, ?3)",
                    (id, cents, "seed"),
                )?;
            }
        }
    }
    let negative = -1;
    tx.execute("DELETE FROM prices WHERE cents = ?1", [negative])?;
    Ok(())
}

// The same code written carelessly: other whitespace and line breaks, comments, trailing
// commas, a comma after a block match arm, `=-1`, a doc comment, another name, `pub`.
/// A different doc comment: not part of the checksum.
#[rustfmt::skip]
#[migration(seq = 1, set = "checksum_ugly")]
pub fn seed_ugly(
    tx : & Tx ,
)
-> Result < ( ) >
{
    // a comment
    tx.execute_batch("CREATE TABLE prices (id INTEGER PRIMARY KEY, cents INTEGER NOT NULL, tag TEXT);
         CREATE INDEX prices_cents ON prices (cents);",)?;   /* another comment */
    let rows = [ (1,250), (2,-1), (3,1_000), ];
    for (id,cents) in rows { match cents { c if c<0 => {}, _ => { tx.execute("INSERT INTO prices (id, cents, tag) VALUES (?1, ?2, ?3)", (id, cents, "seed",),)?; }, } }


    let negative =-1;
    tx.execute( "DELETE FROM prices WHERE cents = ?1" , [ negative ] ) ? ;
    Ok( () )
}

/// The same `up` in the module form, with a `down`: neither the form nor `down` counts.
#[migration(seq = 1, set = "checksum_module")]
mod seed_module {
    use migrate_sqlite::{Result, Tx};

    pub fn up(tx: &Tx) -> Result<()> {
        tx.execute_batch(
            "CREATE TABLE prices (id INTEGER PRIMARY KEY, cents INTEGER NOT NULL, tag TEXT);
         CREATE INDEX prices_cents ON prices (cents);",
        )?;
        let rows = [(1, 250), (2, -1), (3, 1_000)];
        for (id, cents) in rows {
            match cents {
                c if c < 0 => {}
                _ => {
                    tx.execute(
                        "INSERT INTO prices (id, cents, tag) VALUES (?1, ?2, ?3)",
                        (id, cents, "seed"),
                    )?;
                }
            }
        }
        let negative = -1;
        tx.execute("DELETE FROM prices WHERE cents = ?1", [negative])?;
        Ok(())
    }

    pub fn down(tx: &Tx) -> Result<()> {
        tx.execute_batch("DROP TABLE prices")?;
        Ok(())
    }
}

/// A real change: one word of SQL.
#[migration(seq = 1, set = "checksum_sql_changed")]
fn seed_sql_changed(tx: &Tx) -> Result<()> {
    tx.execute_batch(
        "CREATE TABLE prices (id INTEGER PRIMARY KEY, cents INTEGER NOT NULL, tag TEXT);
         CREATE UNIQUE INDEX prices_cents ON prices (cents);",
    )?;
    let rows = [(1, 250), (2, -1), (3, 1_000)];
    for (id, cents) in rows {
        match cents {
            c if c < 0 => {}
            _ => {
                tx.execute(
                    "INSERT INTO prices (id, cents, tag) VALUES (?1, ?2, ?3)",
                    (id, cents, "seed"),
                )?;
            }
        }
    }
    let negative = -1;
    tx.execute("DELETE FROM prices WHERE cents = ?1", [negative])?;
    Ok(())
}

/// A real change: a sign (`-1` to `1`).
#[migration(seq = 1, set = "checksum_code_changed")]
fn seed_code_changed(tx: &Tx) -> Result<()> {
    tx.execute_batch(
        "CREATE TABLE prices (id INTEGER PRIMARY KEY, cents INTEGER NOT NULL, tag TEXT);
         CREATE INDEX prices_cents ON prices (cents);",
    )?;
    let rows = [(1, 250), (2, -1), (3, 1_000)];
    for (id, cents) in rows {
        match cents {
            c if c < 0 => {}
            _ => {
                tx.execute(
                    "INSERT INTO prices (id, cents, tag) VALUES (?1, ?2, ?3)",
                    (id, cents, "seed"),
                )?;
            }
        }
    }
    let negative = 1;
    tx.execute("DELETE FROM prices WHERE cents = ?1", [negative])?;
    Ok(())
}

/// A real change inside a string's whitespace: SQL text is data, kept as written.
#[migration(seq = 1, set = "checksum_string_changed")]
fn seed_string_changed(tx: &Tx) -> Result<()> {
    tx.execute_batch(
        "CREATE TABLE prices (id INTEGER PRIMARY KEY, cents INTEGER NOT NULL, tag TEXT);
        CREATE INDEX prices_cents ON prices (cents);",
    )?;
    let rows = [(1, 250), (2, -1), (3, 1_000)];
    for (id, cents) in rows {
        match cents {
            c if c < 0 => {}
            _ => {
                tx.execute(
                    "INSERT INTO prices (id, cents, tag) VALUES (?1, ?2, ?3)",
                    (id, cents, "seed"),
                )?;
            }
        }
    }
    let negative = -1;
    tx.execute("DELETE FROM prices WHERE cents = ?1", [negative])?;
    Ok(())
}

/// A tiny migration whose checksum is pinned below.
#[migration(seq = 1, set = "checksum_pinned")]
fn create_t(tx: &Tx) -> Result<()> {
    tx.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY)")?;
    Ok(())
}

#[test]
fn formatting_does_not_change_the_checksum() {
    assert_eq!(checksum_of("checksum_tidy"), checksum_of("checksum_ugly"));
}

#[test]
fn the_form_and_the_down_step_do_not_change_the_checksum() {
    assert_eq!(checksum_of("checksum_tidy"), checksum_of("checksum_module"));
}

#[test]
fn real_changes_change_the_checksum() {
    let reference = checksum_of("checksum_tidy");
    for set in [
        "checksum_sql_changed",
        "checksum_code_changed",
        "checksum_string_changed",
    ] {
        assert_ne!(reference, checksum_of(set), "{set}");
    }
}

/// Checksums are stored in databases: the same code must hash to the same value in every build
/// and release. If this fails, the serialization changed: bump `CHECKSUM_VERSION` in
/// migrate-core (so stored checksums read as "older algorithm", not "modified migration") and
/// pin the new value.
#[test]
fn the_checksum_is_pinned_across_builds() {
    assert_eq!(
        checksum_of("checksum_pinned").to_string(),
        "v1:5ceaa5bea644e799"
    );
}

/// A small app whose migration runs the SQL of `sql/m0001.sql` through `include_str!`, built
/// with cargo in a target directory of its own (kept between runs, so only the app itself is
/// compiled again).
struct IncludeApp {
    dir: tempfile::TempDir,
}

impl IncludeApp {
    fn new(sql: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let sqlite = root.join("migrate-sqlite");
        std::fs::write(
            dir.path().join("Cargo.toml"),
            format!(
                "[package]\nname = \"include-app\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
                 publish = false\n\n[workspace]\n\n[dependencies]\n\
                 migrate-sqlite = {{ path = {:?} }}\n",
                sqlite.display().to_string()
            ),
        )
        .unwrap();
        // The workspace's lock file: the same versions, nothing to resolve.
        std::fs::copy(root.join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
        std::fs::create_dir_all(dir.path().join("src/sql")).unwrap();
        std::fs::write(
            dir.path().join("src/main.rs"),
            r#"use migrate_sqlite::{migration, Migrator, Result, Tx};

#[migration(seq = 1)]
fn create_items(tx: &Tx) -> Result<()> {
    tx.execute_batch(include_str!("sql/m0001.sql"))?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    let db = std::env::args().nth(1).expect("database path");
    match Migrator::new().without_backups().open(&db).and_then(|mut s| s.up()) {
        Ok(report) => {
            println!("{report}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e:?}");
            std::process::ExitCode::from(3)
        }
    }
}
"#,
        )
        .unwrap();
        let app = IncludeApp { dir };
        app.write_sql(sql);
        app
    }

    fn write_sql(&self, sql: &str) {
        std::fs::write(self.dir.path().join("src/sql/m0001.sql"), sql).unwrap();
    }

    /// Builds (cargo decides what changed) and runs the app on `db`.
    fn build_and_run(&self, db: &std::path::Path) -> std::process::Output {
        let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/include-app");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let build = std::process::Command::new(cargo)
            .args(["build", "--quiet", "--manifest-path"])
            .arg(self.dir.path().join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .unwrap();
        assert!(
            build.status.success(),
            "{}",
            String::from_utf8_lossy(&build.stderr)
        );
        std::process::Command::new(target.join("debug/include-app"))
            .arg(db)
            .output()
            .unwrap()
    }
}

fn recorded_checksum(db: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(
        "SELECT checksum FROM _migrate_applied WHERE seq = 1",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

fn columns(db: &std::path::Path, table: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Editing the `.sql` file of an applied migration is a change of that migration: the next
/// build (cargo rebuilds, the file is an input) reports it as modified and changes nothing.
#[test]
fn editing_an_included_sql_file_is_reported_as_modified() {
    let app = IncludeApp::new("CREATE TABLE items (id INTEGER PRIMARY KEY);\n");
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("app.db");

    let first = app.build_and_run(&db);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let applied = recorded_checksum(&db);
    assert_eq!(columns(&db, "items"), ["id"]);

    app.write_sql("CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT);\n");
    let second = app.build_and_run(&db);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("1 \"create_items\" changed after it was applied"),
        "{stderr}"
    );
    // Refused before anything ran: same table, same recorded checksum.
    assert_eq!(columns(&db, "items"), ["id"]);
    assert_eq!(recorded_checksum(&db), applied);

    // Only line endings changed: not a modification (text is compared as text).
    app.write_sql("CREATE TABLE items (id INTEGER PRIMARY KEY);\r\n");
    let third = app.build_and_run(&db);
    assert!(
        third.status.success(),
        "{}",
        String::from_utf8_lossy(&third.stderr)
    );
    assert!(String::from_utf8_lossy(&third.stdout).contains("up to date at seq 1"));
}
