//! What the table-rebuild helper costs, against the same rebuild written by hand.
//!
//! `cargo bench -p migrate-sqlite --bench rebuild` (release). A template database holds a
//! `ROWS`-row table `items` with an index, a trigger and a view on it; every measurement works
//! on a fresh copy of it in `CARGO_TARGET_TMPDIR` (copied before the clock starts, deleted after),
//! with SQLite's defaults (rollback journal `DELETE`, `synchronous = FULL`). The rebuild drops a
//! column and turns `qty TEXT` into `qty INTEGER NOT NULL DEFAULT 0`.
//!
//! * (a) the Migrator applies a migration that calls `Rebuild` (backups off);
//! * (b) the Migrator applies a migration running the hand-written SQL of (c) (backups off):
//!   (a)/(b) is the helper's own cost, (b)/(c) the runner's;
//! * (c) plain rusqlite: foreign keys off, the 12 steps by hand in one transaction (create,
//!   copy, drop, rename under `legacy_alter_table`, index, trigger, `foreign_key_check`).
//!
//! The variants run interleaved in rotating order, `REPS` times each after a warm-up round; the
//! table shows median and min, and the ratios also as the median of per-round ratios.

use migrate_sqlite::{Flags, Migration, Migrator, Rebuild, Step};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[path = "stats/mod.rs"]
mod stats;
use stats::{Samples, ratio};

const ROWS: u64 = 1_000_000;
const REPS: usize = 5;

const SCHEMA: &str = "
    CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty TEXT, note TEXT);
    CREATE TABLE audit (item_id INTEGER, what TEXT);
    CREATE VIEW stocked AS SELECT name, qty FROM items WHERE qty > 0;
";

const FILL: &str = "
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
    INSERT INTO items (id, name, qty, note)
    SELECT i, 'item ' || i, CAST(i % 100 AS TEXT), CASE WHEN i % 10 = 0 THEN 'note ' || i END
    FROM n;
    CREATE INDEX items_name ON items (name);
    CREATE TRIGGER items_audit AFTER INSERT ON items
        BEGIN INSERT INTO audit VALUES (NEW.id, 'insert'); END;
";

const NEW_DEFINITION: &str = "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL DEFAULT 0)";

/// The hand-written rebuild of (b) and (c), run inside a transaction with foreign keys off.
const BY_HAND: &str = "
    CREATE TABLE items_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL DEFAULT 0);
    INSERT INTO items_new (id, name, qty) SELECT id, name, CAST(qty AS INTEGER) FROM items;
    DROP TABLE items;
    PRAGMA legacy_alter_table = ON;
    ALTER TABLE items_new RENAME TO items;
    PRAGMA legacy_alter_table = OFF;
    CREATE INDEX items_name ON items (name);
    CREATE TRIGGER items_audit AFTER INSERT ON items
        BEGIN INSERT INTO audit VALUES (NEW.id, 'insert'); END;
    PRAGMA foreign_key_check(items);
";

fn schema_migration() -> Migration {
    Migration::new(
        1,
        "schema",
        Step::new(|tx| {
            tx.execute_batch(SCHEMA)?;
            let (fill, rest) = FILL.split_once(";\n").unwrap();
            tx.execute(fill, [ROWS as i64])?;
            tx.execute_batch(rest)?;
            Ok(())
        }),
    )
}

/// Declared `destructive`: the rebuild drops `note`, which holds values (the checks still count
/// and compare the tables; only their verdict is waived).
fn rebuild_migration(step: Step) -> Migration {
    let flags = Flags::NONE
        .with_rebuilds_tables(true)
        .with_destructive(true);
    Migration::new(2, "rebuild_items", step).with_flags(flags)
}

fn migrate(path: &Path, step: Step) -> Duration {
    let list = vec![schema_migration(), rebuild_migration(step)];
    let started = Instant::now();
    let report = Migrator::new()
        .with_migrations(list)
        .without_backups()
        .open(path)
        .unwrap()
        .up()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(report.steps.len(), 1);
    took
}

/// (a)
fn helper(path: &Path) -> Duration {
    migrate(
        path,
        Step::new(|tx| {
            let rows = Rebuild::new("items")
                .definition(NEW_DEFINITION)
                .column("qty", "CAST(qty AS INTEGER)")
                .run(tx)?;
            assert_eq!(rows, ROWS);
            Ok(())
        }),
    )
}

/// (b)
fn migrator_by_hand(path: &Path) -> Duration {
    migrate(path, Step::sql(BY_HAND))
}

/// (c)
fn plain(path: &Path) -> Duration {
    let started = Instant::now();
    let conn = Connection::open(path).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = OFF; BEGIN IMMEDIATE")
        .unwrap();
    conn.execute_batch(BY_HAND).unwrap();
    conn.execute_batch("COMMIT; PRAGMA foreign_keys = ON")
        .unwrap();
    drop(conn);
    started.elapsed()
}

/// Checks what every variant must leave behind.
fn check(path: &Path) {
    let conn = Connection::open(path).unwrap();
    let (rows, qty): (i64, i64) = conn
        .query_row("SELECT count(*), sum(qty) FROM stocked", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(rows as u64, ROWS - ROWS / 100);
    assert!(qty > 0);
    let objects: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name IN ('items_name', 'items_audit')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(objects, 2);
}

fn ms(d: Duration) -> String {
    format!("{:9.1} ms", d.as_secs_f64() * 1e3)
}

fn remove(db: &Path) {
    for suffix in ["", "-journal", ".migrate-lock"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

fn main() {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let template = tmp.path().join("template.db");
    Migrator::new()
        .with_migrations(vec![schema_migration()])
        .without_backups()
        .open(&template)
        .unwrap()
        .up()
        .unwrap();
    println!(
        "migrate-sqlite rebuild benchmark: SQLite {}, {ROWS} rows ({:.1} MB), files in {}",
        rusqlite::version(),
        std::fs::metadata(&template).unwrap().len() as f64 / 1e6,
        tmp.path().display()
    );

    let variants: [fn(&Path) -> Duration; 3] = [helper, migrator_by_hand, plain];
    let mut times: [Vec<Duration>; 3] = std::array::from_fn(|_| Vec::new());
    let mut next = 0;
    for rep in 0..=REPS {
        for k in 0..variants.len() {
            let i = (k + rep) % variants.len();
            next += 1;
            let path = tmp.path().join(format!("bench-{next}.db"));
            std::fs::copy(&template, &path).unwrap();
            let took = variants[i](&path);
            check(&path);
            remove(&path);
            if rep > 0 {
                times[i].push(took);
            }
        }
    }
    let [a, b, c] = times.map(Samples);

    println!();
    println!("{:<58} {:>12} {:>12}", "variant", "median", "min");
    for (label, s) in [
        ("(a) Migrator + Rebuild helper", &a),
        ("(b) Migrator + the same rebuild as hand-written SQL", &b),
        ("(c) rusqlite: hand-written SQL, one transaction", &c),
    ] {
        println!("{label:<58} {} {}", ms(s.median()), ms(s.min()));
    }
    println!();
    println!(
        "{:<34} {:>12} {:>12} {:>15}",
        "ratio", "of medians", "of mins", "paired median"
    );
    for (label, x, y) in [
        ("a/c (target <= 1.2)", &a, &c),
        ("a/b (the helper's own cost)", &a, &b),
        ("b/c (the runner's cost)", &b, &c),
    ] {
        println!(
            "{label:<34} {:>11.2}x {:>11.2}x {:>14.2}x",
            ratio(x.median(), y.median()),
            ratio(x.min(), y.min()),
            x.paired_ratio(y)
        );
    }
}
