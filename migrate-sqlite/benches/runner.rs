//! What the runner's safety protocol costs, against plain rusqlite doing the same SQL.
//!
//! `cargo bench -p migrate-sqlite --bench runner` (release). Every variant works on fresh files
//! in `CARGO_TARGET_TMPDIR` (on disk, so fsync is real; each deleted after its run), opened with
//! `Connection::open` and SQLite's defaults (rollback journal `DELETE`, `synchronous = FULL`).
//! The variants run interleaved in rotating order, `REPS` times each; the table shows median and
//! min, and the ratios also as the median of per-round ratios (steadiest on a noisy machine).
//!
//! * (a) the Migrator applies N generated migrations (a table, an index, a row each);
//! * (b) plain rusqlite runs the same SQL in one transaction;
//! * (c) plain rusqlite with a savepoint per migration and a tracking-row insert;
//! * (d) a start with nothing to do, timed as an app starts: the migration list built,
//!   `Migrator::new()`, `open` (validates the registry), `up()`, on a database with N applied;
//!   and the same with `BIG_N` applied (linearity);
//! * (e) opening that database with rusqlite and running a first query;
//! * (f) (a) and (b) for several N: how the cost per migration, and the Migrator's overhead on
//!   top of plain rusqlite, grow with N.
//! * (g) (a) with the row-count guard off (`without_row_counts`): a/g is the guard's cost;
//! * (h) one small migration (a table, a row) on a database holding a 1,000,000-row table
//!   (≈ 40 MB), guard on and off: the cost of the guard's baseline count of every table.
//!
//! For a profiler: `RUNNER_BENCH_PROFILE=a` (or `b`, `d`, `e`) runs only that variant, in a loop.

use migrate_sqlite::{Migration, Migrator, Step};
use rusqlite::{Connection, params};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[path = "stats/mod.rs"]
mod stats;
use stats::{Samples, ratio};

/// Repetitions of each apply measurement.
const REPS: usize = 11;
/// Repetitions of each start measurement (cheap).
const START_REPS: usize = 31;
/// Migrations in (a)-(e).
const N: usize = 1000;
/// Migrations of the second no-op start measurement (linearity of (d)).
const BIG_N: usize = 10_000;
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

fn migrations(list: &[(u64, String, String)]) -> Vec<Migration> {
    list.iter()
        .map(|(seq, name, sql)| Migration::new(*seq, name.clone(), Step::sql(sql.clone())))
        .collect()
}

/// (a): the migration list is built before the clock starts; opening and closing are timed, as
/// in (b) and (c).
fn apply_migrator(path: &Path, list: &[(u64, String, String)]) -> Duration {
    apply_with(Migrator::new(), path, list)
}

/// (g)
fn apply_migrator_unguarded(path: &Path, list: &[(u64, String, String)]) -> Duration {
    apply_with(Migrator::new().without_row_counts(), path, list)
}

fn apply_with(migrator: Migrator, path: &Path, list: &[(u64, String, String)]) -> Duration {
    let migrations = migrations(list);
    let started = Instant::now();
    let report = migrator
        .with_migrations(migrations)
        .open(path)
        .unwrap()
        .up()
        .unwrap();
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

/// (d): timed as an app starts: the migration list is built (what `registered()` collects
/// from the binary), `Migrator::new()` and `open` (which validates the registry), `up()`; the
/// connection is closed after the clock stops, as in (e).
fn start_migrator(path: &Path, list: &[(u64, String, String)]) -> Duration {
    let started = Instant::now();
    let mut session = Migrator::new()
        .with_migrations(migrations(list))
        .open(path)
        .unwrap();
    let report = session.up().unwrap();
    let took = started.elapsed();
    assert!(report.steps.is_empty());
    drop(session);
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
    drop(conn);
    took
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

    /// Deletes a database and the files beside it.
    fn remove(&self, db: &Path) {
        for suffix in ["", "-journal", ".migrate-lock"] {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(name));
        }
    }
}

/// An apply variant: (a), (b) or (c).
type Apply = fn(&Path, &[(u64, String, String)]) -> Duration;

/// Runs each variant `REPS` times on fresh files, after one warm-up round, rotating their order
/// from one round to the next; each file is deleted after its run so that dirty pages do not
/// pile up in the page cache.
fn interleaved<const K: usize>(
    files: &mut Files,
    list: &[(u64, String, String)],
    variants: [Apply; K],
) -> [Samples; K] {
    let mut times: [Vec<Duration>; K] = std::array::from_fn(|_| Vec::new());
    for rep in 0..=REPS {
        for k in 0..K {
            let i = (k + rep) % K;
            let path = files.fresh();
            let took = variants[i](&path, list);
            files.remove(&path);
            if rep > 0 {
                times[i].push(took);
            }
        }
    }
    times.map(Samples)
}

fn row(label: &str, s: &Samples) {
    println!("{label:<58} {} {}", ms(s.median()), ms(s.min()));
}

fn main() {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut files = Files {
        dir: tmp.path().to_owned(),
        next: 0,
    };
    println!(
        "migrate-sqlite runner benchmark: SQLite {}, files in {}, journal_mode {}, synchronous {} (2 = FULL)",
        rusqlite::version(),
        tmp.path().display(),
        pragma(&files.fresh(), "journal_mode"),
        pragma(&files.fresh(), "synchronous"),
    );
    let list = generate(N);
    if let Ok(variant) = std::env::var("RUNNER_BENCH_PROFILE") {
        return profile(&variant, &mut files, &list);
    }

    let [a, b, c, g] = interleaved(
        &mut files,
        &list,
        [
            apply_migrator,
            apply_plain,
            apply_savepoints,
            apply_migrator_unguarded,
        ],
    );

    // (d), (e): the same database with N (and BIG_N) applied, opened again and again.
    let (d, e) = starts(&mut files, &list);
    let big_list = generate(BIG_N);
    let (d_big, e_big) = starts(&mut files, &big_list);

    println!();
    println!("{:<58} {:>12} {:>12}", "variant", "median", "min");
    row(&format!("(a) Migrator: apply {N} migrations"), &a);
    row("(b) rusqlite: same SQL, one transaction", &b);
    row(
        "(c) rusqlite: + savepoint and tracking row per migration",
        &c,
    );
    row(
        &format!("(d) Migrator: open + up() with {N} applied, nothing to do"),
        &d,
    );
    row("(e) rusqlite: open + first query", &e);
    row(
        &format!("(d) Migrator: open + up() with {BIG_N} applied, nothing to do"),
        &d_big,
    );
    row("(e) rusqlite: open + first query (that database)", &e_big);
    row("(g) Migrator: (a) without the row-count guard", &g);
    println!();
    println!(
        "{:<34} {:>12} {:>12} {:>15}",
        "ratio", "of medians", "of mins", "paired median"
    );
    for (label, x, y) in [
        ("a/b", &a, &b),
        ("a/c", &a, &c),
        ("d/e", &d, &e),
        ("d/e at 10,000", &d_big, &e_big),
        ("a/g (the row-count guard)", &a, &g),
    ] {
        println!(
            "{label:<34} {:>11.2}x {:>11.2}x {:>14.2}x",
            ratio(x.median(), y.median()),
            ratio(x.min(), y.min()),
            x.paired_ratio(y)
        );
    }

    let per = |x: &Samples, y: &Samples, n: usize| {
        (x.median().as_secs_f64() - y.median().as_secs_f64()) * 1e6 / n as f64
    };
    println!(
        "no-op start overhead over (e) per migration: {:.3} µs at {N}, {:.3} µs at {BIG_N}",
        per(&d, &e, N),
        per(&d_big, &e_big, BIG_N)
    );

    // (f): growth.
    println!();
    println!(
        "{:<8} {:>12} {:>12} {:>13} {:>13} {:>13} {:>7}",
        "(f) N", "Migrator", "rusqlite", "Migrator/mig", "rusqlite/mig", "overhead/mig", "ratio"
    );
    for n in SIZES {
        let list = generate(n);
        let [fa, fb] = interleaved(&mut files, &list, [apply_migrator, apply_plain]);
        let (ma, mb) = (fa.median().as_secs_f64(), fb.median().as_secs_f64());
        let per = |d: f64| format!("{:10.1} µs", d * 1e6 / n as f64);
        println!(
            "{n:<8} {} {} {} {} {} {:>6.2}x",
            ms(fa.median()),
            ms(fb.median()),
            per(ma),
            per(mb),
            per(ma - mb),
            fa.paired_ratio(&fb)
        );
    }
    println!(
        "(medians; ratio = paired median; SQLite's own cost per CREATE grows with the schema size)"
    );

    big_table(&mut files);
}

/// (d) and (e) on one database with `list` applied, alternately, `START_REPS` times after a
/// warm-up round.
fn starts(files: &mut Files, list: &[(u64, String, String)]) -> (Samples, Samples) {
    let applied = files.fresh();
    apply_migrator(&applied, list);
    let (mut d, mut e) = (Vec::new(), Vec::new());
    for rep in 0..=START_REPS {
        let td = start_migrator(&applied, list);
        let te = start_plain(&applied);
        if rep > 0 {
            d.push(td);
            e.push(te);
        }
    }
    files.remove(&applied);
    (Samples(d), Samples(e))
}

/// Rows of (h)'s big table.
const BIG_ROWS: i64 = 1_000_000;

/// (h): one migration applied (and reverted, untimed) again and again on a database with a big
/// table, alternately with the guard on and off.
fn big_table(files: &mut Files) {
    let path = files.fresh();
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(&format!(
        "CREATE TABLE big (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {BIG_ROWS})
         INSERT INTO big SELECT i, printf('row %08d of the big table', i) FROM n;"
    ))
    .unwrap();
    drop(conn);
    let small = || {
        vec![
            Migration::new(
                1,
                "small",
                Step::sql("CREATE TABLE small (x); INSERT INTO small VALUES (1);"),
            )
            .with_down(Step::sql("DROP TABLE small")),
        ]
    };
    let once = |migrator: Migrator| {
        let mut session = migrator
            .with_migrations(small())
            .without_backups()
            .open(&path)
            .unwrap();
        let started = Instant::now();
        session.up().unwrap();
        let took = started.elapsed();
        session.down(1).unwrap();
        took
    };
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for rep in 0..=START_REPS {
        let t_on = once(Migrator::new());
        let t_off = once(Migrator::new().without_row_counts());
        if rep > 0 {
            on.push(t_on);
            off.push(t_off);
        }
    }
    let (on, off) = (Samples(on), Samples(off));
    let size = std::fs::metadata(&path).unwrap().len() as f64 / (1 << 20) as f64;
    println!();
    println!(
        "(h) one migration on a database with a {BIG_ROWS}-row table ({size:.0} MiB), backups off:"
    );
    row("    up() with the row-count guard", &on);
    row("    up() without it", &off);
    println!(
        "    the guard's baseline count costs {:.1} ms (difference of medians)",
        (on.median().as_secs_f64() - off.median().as_secs_f64()) * 1e3
    );
    files.remove(&path);
}

/// Runs one variant in a loop, for `perf record`.
fn profile(variant: &str, files: &mut Files, list: &[(u64, String, String)]) {
    let started = Instant::now();
    match variant {
        "a" => {
            for _ in 0..20 {
                apply_migrator(&files.fresh(), list);
            }
        }
        "b" => {
            for _ in 0..20 {
                apply_plain(&files.fresh(), list);
            }
        }
        "d" | "e" => {
            let applied = files.fresh();
            apply_migrator(&applied, list);
            for _ in 0..1000 {
                if variant == "d" {
                    start_migrator(&applied, list);
                } else {
                    start_plain(&applied);
                }
            }
        }
        _ => panic!("RUNNER_BENCH_PROFILE is one of a, b, d, e"),
    }
    println!("{variant}: {:?}", started.elapsed());
}

/// A pragma's value on a fresh connection with default settings.
fn pragma(path: &Path, name: &str) -> String {
    let conn = Connection::open(path).unwrap();
    conn.query_row(&format!("PRAGMA {name}"), [], |r| {
        r.get::<_, rusqlite::types::Value>(0)
    })
    .map(|v| match v {
        rusqlite::types::Value::Text(t) => t,
        rusqlite::types::Value::Integer(i) => i.to_string(),
        other => format!("{other:?}"),
    })
    .unwrap()
}

fn ms(d: Duration) -> String {
    format!("{:9.3} ms", d.as_secs_f64() * 1e3)
}
