//! Fresh databases for a test suite: migrating every test's database from scratch versus
//! copying a template migrated once (`migrate_sqlite::testing::Template`).
//!
//! `cargo bench -p migrate-sqlite --bench fresh_db`

use migrate_sqlite::testing::Template;
use migrate_sqlite::{Migration, Migrator, Step};
use rusqlite::Connection;
use std::time::{Duration, Instant};

const MIGRATIONS: u64 = 50;
const TESTS: u32 = 300;

fn migrator() -> Migrator {
    Migrator::new()
        .without_backups()
        .with_migrations((1..=MIGRATIONS).map(|seq| {
            Migration::new(
                seq,
                format!("m{seq}"),
                Step::sql(format!(
                    "CREATE TABLE t{seq} (id INTEGER PRIMARY KEY, a TEXT, b INTEGER);
                 CREATE INDEX t{seq}_a ON t{seq} (a);
                 INSERT INTO t{seq} (a, b) VALUES ('x', {seq});"
                )),
            )
        }))
}

fn per_db(total: Duration) -> String {
    format!("{:8.1} µs", total.as_secs_f64() * 1e6 / f64::from(TESTS))
}

fn main() {
    let migrator = migrator();
    let started = Instant::now();
    for _ in 0..TESTS {
        let mut conn = Connection::open_in_memory().unwrap();
        migrator.on(&mut conn).unwrap().up().unwrap();
    }
    let from_scratch = started.elapsed();

    let started = Instant::now();
    let template = Template::new(migrator.clone()).unwrap();
    let build = started.elapsed();
    let started = Instant::now();
    for _ in 0..TESTS {
        let conn = template.fresh().unwrap();
        assert!(conn.is_autocommit());
    }
    let copies = started.elapsed();

    println!("{TESTS} fresh databases with {MIGRATIONS} migrations each (tables, indexes, rows)");
    println!("{:<44} {:>12} {:>12}", "", "total", "per test");
    println!(
        "{:<44} {:>9.1} ms {}",
        "migrate each database from scratch",
        from_scratch.as_secs_f64() * 1e3,
        per_db(from_scratch)
    );
    println!(
        "{:<44} {:>9.1} ms",
        "Template: migrate once (or load the cache)",
        build.as_secs_f64() * 1e3
    );
    println!(
        "{:<44} {:>9.1} ms {}",
        "Template::fresh() copies",
        copies.as_secs_f64() * 1e3,
        per_db(copies)
    );
    println!(
        "speed-up per test: {:.0}x",
        from_scratch.as_secs_f64() / copies.as_secs_f64()
    );
}
