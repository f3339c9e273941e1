//! What the runner's safety protocol costs, against plain rusqlite doing the same SQL.
//!
//! `cargo bench -p migrate-sqlite --bench runner` (release). Every variant works on fresh files
//! in `CARGO_TARGET_TMPDIR` (on disk, so fsync is real) opened with `Connection::open` and
//! SQLite's defaults (rollback journal `DELETE`, `synchronous = FULL`); the variants run
//! interleaved, `REPS` times each, and the table shows median and min.
//!
//! * (a) the Migrator applies N generated migrations (a table, an index, a row each);
//! * (b) plain rusqlite runs the same SQL in one transaction;
//! * (c) plain rusqlite with a savepoint per migration and a tracking-row insert;
//! * (d) a start with nothing to do: open + Migrator + `up()` on a database with N applied;
//! * (e) opening that database with rusqlite and running a first query;
//! * (f) (a) and (b) for several N, to show that the cost per migration does not grow.

use migrate_sqlite::{Migration, Migrator, Step};
use rusqlite::{Connection, params};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Repetitions of each apply measurement.
const REPS: usize = 7;
/// Repetitions of each start measurement (cheap).
const START_REPS: usize = 31;
/// Migrations in (a)-(e).
const N: usize = 1000;
/// Sizes of (f).
const SIZES: [usize; 4] = [250, 500, 1000, 2000];

/// The generated migrations: (seq, name, sql).
fn generate(n: usize) -> Vec<(u64, String, String)> {
    (1..=n)
        .map(|i| {
            (
                i as u64,
                format!("create_t{i:05}"),
                format!(
                    "CREATE TABLE t{i:05} (id INTEGER PRIMARY KEY, v TEXT NOT NULL, n INTEGER);
                     CREATE INDEX t{i:05}_v ON t{i:05} (v);
                     INSERT INTO t{i:05} (v, n) VALUES ('row {i}', {i});"
                ),
            )
        })
        .collect()
}

fn migrator(list: &[(u64, String, String)]) -> Migrator {
    Migrator::new().with_migrations(
        list.iter()
            .map(|(seq, name, sql)| Migration::new(*seq, name.clone(), Step::sql(sql.clone()))),
    )
}

/// (a)
fn apply_migrator(path: &Path, list: &[(u64, String, String)]) -> Duration {
    let started = Instant::now();
    let report = migrator(list).open(path).unwrap().up().unwrap();
    let took = started.elapsed();
    assert_eq!(report.steps.len(), list.len());
    took
}

/// (b)
fn apply_plain(path: &Path, list: &[(u64, String, String)]) -> Duration {
    let started = Instant::now();
    let conn = Connection::open(path).unwrap();
    conn.execute_batch("BEGIN").unwrap();
    for (_, _, sql) in list {
        conn.execute_batch(sql).unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
    drop(conn);
    started.elapsed()
}

/// (c)
fn apply_savepoints(path: &Path, list: &[(u64, String, String)]) -> Duration {
    let started = Instant::now();
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "BEGIN IMMEDIATE;
         CREATE TABLE IF NOT EXISTS tracking (
             seq INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,
             applied_at TEXT NOT NULL);",
    )
    .unwrap();
    for (seq, name, sql) in list {
        conn.execute_batch("SAVEPOINT step").unwrap();
        conn.execute_batch(sql).unwrap();
        conn.prepare_cached(
            "INSERT INTO tracking (seq, name, checksum, applied_at)
             VALUES (?1, ?2, ?3, strftime('%Y-%m-%d %H:%M:%f', 'now'))",
        )
        .unwrap()
        .execute(params![*seq as i64, name, "v1:0123456789abcdef"])
        .unwrap();
        conn.execute_batch("RELEASE step").unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
    drop(conn);
    started.elapsed()
}

/// (d)
fn start_migrator(path: &Path, list: &[(u64, String, String)]) -> Duration {
    let started = Instant::now();
    let report = migrator(list).open(path).unwrap().up().unwrap();
    let took = started.elapsed();
    assert!(report.steps.is_empty());
    took
}

/// (e)
fn start_plain(path: &Path) -> Duration {
    let started = Instant::now();
    let conn = Connection::open(path).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM t00001", [], |r| r.get(0))
        .unwrap();
    let took = started.elapsed();
    assert_eq!(n, 1);
    took
}

/// Median and min of some timings.
#[derive(Clone, Copy)]
struct Stats {
    median: Duration,
    min: Duration,
}

impl Stats {
    fn of(mut times: Vec<Duration>) -> Stats {
        times.sort();
        Stats {
            median: times[times.len() / 2],
            min: times[0],
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:9.3} ms", d.as_secs_f64() * 1e3)
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

/// A fresh, unique database path in `dir`.
struct Files {
    dir: PathBuf,
    next: usize,
}

impl Files {
    fn fresh(&mut self) -> PathBuf {
        self.next += 1;
        let path = self.dir.join(format!("bench-{}.db", self.next));
        assert!(!path.exists());
        path
    }
}

fn row(label: &str, s: Stats) {
    println!("{label:<58} {} {}", ms(s.median), ms(s.min));
}

fn main() {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut files = Files {
        dir: tmp.path().to_owned(),
        next: 0,
    };
    println!(
        "migrate-sqlite runner benchmark: SQLite {}, files in {}, journal_mode {}, synchronous {}",
        rusqlite::version(),
        tmp.path().display(),
        pragma(&files.fresh(), "journal_mode"),
        pragma(&files.fresh(), "synchronous"),
    );
    let list = generate(N);

    // (a), (b), (c): interleaved, after one warm-up round.
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for rep in 0..=REPS {
        let ta = apply_migrator(&files.fresh(), &list);
        let tb = apply_plain(&files.fresh(), &list);
        let tc = apply_savepoints(&files.fresh(), &list);
        if rep > 0 {
            a.push(ta);
            b.push(tb);
            c.push(tc);
        }
    }
    let (a, b, c) = (Stats::of(a), Stats::of(b), Stats::of(c));

    // (d), (e): the same database with N applied, opened again and again.
    let applied = files.fresh();
    apply_migrator(&applied, &list);
    let (mut d, mut e) = (Vec::new(), Vec::new());
    for rep in 0..=START_REPS {
        let td = start_migrator(&applied, &list);
        let te = start_plain(&applied);
        if rep > 0 {
            d.push(td);
            e.push(te);
        }
    }
    let (d, e) = (Stats::of(d), Stats::of(e));

    println!();
    println!("{:<58} {:>12} {:>12}", "variant", "median", "min");
    row(&format!("(a) Migrator: apply {N} migrations"), a);
    row(&format!("(b) rusqlite: same SQL, one transaction"), b);
    row(
        &format!("(c) rusqlite: + savepoint and tracking row per migration"),
        c,
    );
    row(
        &format!("(d) Migrator: open + up() with {N} applied, nothing to do"),
        d,
    );
    row("(e) rusqlite: open + first query", e);
    println!();
    println!("{:<58} {:>12} {:>12}", "ratio", "of medians", "of mins");
    for (label, x, y) in [("a/b", a, b), ("a/c", a, c), ("d/e", d, e)] {
        println!(
            "{label:<58} {:>11.2}x {:>11.2}x",
            ratio(x.median, y.median),
            ratio(x.min, y.min)
        );
    }

    // (f): growth.
    println!();
    println!(
        "{:<10} {:>12} {:>12} {:>14} {:>14} {:>8}",
        "(f) N", "Migrator", "rusqlite", "Migrator/mig", "rusqlite/mig", "ratio"
    );
    for n in SIZES {
        let list = generate(n);
        let (mut fa, mut fb) = (Vec::new(), Vec::new());
        for rep in 0..=REPS {
            let ta = apply_migrator(&files.fresh(), &list);
            let tb = apply_plain(&files.fresh(), &list);
            if rep > 0 {
                fa.push(ta);
                fb.push(tb);
            }
        }
        let (fa, fb) = (Stats::of(fa), Stats::of(fb));
        let per = |d: Duration| format!("{:10.1} µs", d.as_secs_f64() * 1e6 / n as f64);
        println!(
            "{n:<10} {} {} {} {} {:>7.2}x",
            ms(fa.median),
            ms(fb.median),
            per(fa.median),
            per(fb.median),
            ratio(fa.median, fb.median)
        );
    }
}

/// A pragma's value on a fresh connection with default settings.
fn pragma(path: &Path, name: &str) -> String {
    let conn = Connection::open(path).unwrap();
    conn.query_row(&format!("PRAGMA {name}"), [], |r| {
        r.get::<_, rusqlite::types::Value>(0)
    })
    .map(|v| match v {
        rusqlite::types::Value::Text(t) => t,
        other => format!("{other:?}"),
    })
    .unwrap()
}
