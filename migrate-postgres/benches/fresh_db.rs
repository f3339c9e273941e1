//! Fresh migrated databases for a test suite on PostgreSQL: migrating every test's database
//! from scratch versus a server-side copy of a template migrated once
//! (`migrate_postgres::testing::Template`, `CREATE DATABASE tN TEMPLATE ...`).
//!
//! `cargo bench -p migrate-postgres --bench fresh_db` (release), on the test harness's
//! throwaway cluster (`fsync=off`). Each round makes one database each way, in alternating
//! order; the table shows medians over the rounds, timed until the test's first query answers
//! (a copy is only useful once connected).

use migrate_postgres::testing::{self, Template, TestDatabase};
use migrate_postgres::{Migration, Migrator, Step};
use std::time::{Duration, Instant};

const MIGRATIONS: u64 = 50;
const ROUNDS: usize = 41;

fn migrator() -> Migrator {
    Migrator::new().with_migrations((1..=MIGRATIONS).map(|seq| {
        Migration::new(
            seq,
            format!("m{seq}"),
            Step::sql(format!(
                "CREATE TABLE t{seq} (id bigint PRIMARY KEY, a text, b bigint);
                 CREATE INDEX t{seq}_a ON t{seq} (a);
                 INSERT INTO t{seq} (id, a, b) VALUES (1, 'x', {seq});"
            )),
        )
    }))
}

/// The test's first query: the database is usable.
fn first_query(db: &TestDatabase) {
    let n: i64 = db
        .client()
        .query_one("SELECT count(*) FROM t1", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

fn from_scratch(server: &testing::TestServer, migrator: &Migrator) -> Duration {
    let started = Instant::now();
    let db = server.database();
    migrator
        .clone()
        .without_backups()
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    first_query(&db);
    started.elapsed()
}

fn from_template(template: &Template) -> Duration {
    let started = Instant::now();
    let db = template.fresh().unwrap();
    first_query(&db);
    started.elapsed()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:7.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let server = testing::server().expect("PostgreSQL server binaries");
    let migrator = migrator();
    let started = Instant::now();
    let template = Template::new(migrator.clone()).unwrap();
    let build = started.elapsed();
    // Warm-up: the first database of each kind pays for cold caches.
    from_scratch(server, &migrator);
    from_template(&template);
    let (mut scratch, mut copies) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        if round % 2 == 0 {
            scratch.push(from_scratch(server, &migrator));
            copies.push(from_template(&template));
        } else {
            copies.push(from_template(&template));
            scratch.push(from_scratch(server, &migrator));
        }
    }
    let (scratch, copies) = (median(scratch), median(copies));
    println!(
        "{ROUNDS} rounds; a fresh database with {MIGRATIONS} migrations (table, index, row each), \
         until its first query answers (median)"
    );
    println!(
        "{:<48} {}",
        "CREATE DATABASE + migrate from scratch",
        ms(scratch)
    );
    println!(
        "{:<48} {}",
        "Template::fresh() (CREATE DATABASE ... TEMPLATE)",
        ms(copies)
    );
    println!(
        "{:<48} {}",
        "Template::new(): migrate once and seal",
        ms(build)
    );
    println!(
        "a copy is {:.1}x faster",
        scratch.as_secs_f64() / copies.as_secs_f64()
    );
}
