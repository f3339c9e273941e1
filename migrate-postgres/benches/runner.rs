//! What the PostgreSQL runner's protocol costs, against the plain `postgres` client sending the
//! same SQL, in the same process, on the same throwaway cluster.
//!
//! `cargo bench -p migrate-postgres --bench runner` (release). The cluster is the test
//! harness's ([`migrate_postgres::testing::server`]): the system's server binaries, a temporary
//! directory, a unix socket, `fsync=off`; it is stopped and removed when the benchmark exits.
//! Every apply runs on a fresh database (dropped afterwards). The variants alternate in rotating
//! order, round after round; the tables show medians and the paired ratios (the median of
//! per-round ratios, steadiest on a shared machine) with their spread over the rounds.
//!
//! * (a) the Migrator applies N generated migrations (a table, an index, a row each):
//!   connect + `Migrator::with_migrations(..).on(conn)` + `up()`;
//! * (b) plain `postgres`: connect, `BEGIN`, each migration's SQL as one `batch_execute`,
//!   `COMMIT`;
//! * (c) (b) plus what any tracked run does: a savepoint and a tracking-row insert per migration;
//! * (g) (a) with `Migrator::without_row_counts()` (the guard reads no table's counters);
//! * (d) a start with N applied and nothing to do: `Migrator::new()` + the registry + connect +
//!   `up()`;
//! * (e) connect + a first query.
//!
//! For a profiler: `RUNNER_BENCH_PROFILE=a` (or `b`, `d`, `e`, `g`) runs only that variant, in a loop;
//! with `RUNNER_BENCH_STATEMENTS=<file>` as well, the server logs every statement with its
//! duration (`log_min_duration_statement = 0`) and the log is copied to `<file>` at the end.

use migrate_postgres::testing::{TestDatabase, TestServer};
use migrate_postgres::{Connection, Migration, Migrator, Step};
use std::time::{Duration, Instant};

/// Rounds of the apply variants (after one warm-up round).
const REPS: usize = 11;
/// Rounds of the start variants (cheap).
const START_REPS: usize = 61;
/// Migrations per run.
const N: usize = 1000;

/// The generated migrations: (seq, name, sql).
fn generate(n: usize) -> Vec<(u64, String, String)> {
    (1..=n)
        .map(|i| {
            (
                i as u64,
                format!("create_t{i:05}"),
                format!(
                    "CREATE TABLE t{i:05} (id bigint PRIMARY KEY, v text NOT NULL, n bigint);
                     CREATE INDEX t{i:05}_v ON t{i:05} (v);
                     INSERT INTO t{i:05} (id, v, n) VALUES (1, 'row {i}', {i});"
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

/// (a): the migration list is built before the clock starts; connecting is timed, as in (b).
fn apply_migrator(db: &TestDatabase, list: &[(u64, String, String)]) -> Duration {
    apply_with(Migrator::new(), db, list)
}

/// (g)
fn apply_without_row_counts(db: &TestDatabase, list: &[(u64, String, String)]) -> Duration {
    apply_with(Migrator::new().without_row_counts(), db, list)
}

fn apply_with(migrator: Migrator, db: &TestDatabase, list: &[(u64, String, String)]) -> Duration {
    let migrator = migrator.with_migrations(migrations(list));
    let config = db.config();
    let started = Instant::now();
    let conn = Connection::from_config(&config).unwrap();
    let report = migrator.on(conn).unwrap().up().unwrap();
    let took = started.elapsed();
    assert_eq!(report.steps.len(), list.len());
    took
}

/// (b)
fn apply_plain(db: &TestDatabase, list: &[(u64, String, String)]) -> Duration {
    let config = db.config();
    let started = Instant::now();
    let mut client = config.connect(postgres::NoTls).unwrap();
    client.batch_execute("BEGIN").unwrap();
    for (_, _, sql) in list {
        client.batch_execute(sql).unwrap();
    }
    client.batch_execute("COMMIT").unwrap();
    let took = started.elapsed();
    drop(client);
    took
}

/// (c)
fn apply_savepoints(db: &TestDatabase, list: &[(u64, String, String)]) -> Duration {
    let config = db.config();
    let started = Instant::now();
    let mut client = config.connect(postgres::NoTls).unwrap();
    client
        .batch_execute(
            "BEGIN;
             CREATE TABLE IF NOT EXISTS tracking (
                 seq bigint PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
                 applied_at timestamptz NOT NULL)",
        )
        .unwrap();
    let insert = client
        .prepare(
            "INSERT INTO tracking (seq, name, checksum, applied_at)
             VALUES ($1, $2, $3, clock_timestamp())",
        )
        .unwrap();
    for (seq, name, sql) in list {
        client.batch_execute("SAVEPOINT step").unwrap();
        client.batch_execute(sql).unwrap();
        client
            .execute(&insert, &[&(*seq as i64), name, &"v1:0123456789abcdef"])
            .unwrap();
        client.batch_execute("RELEASE step").unwrap();
    }
    client.batch_execute("COMMIT").unwrap();
    let took = started.elapsed();
    drop(client);
    took
}

/// (d): the generated list stands in for the registered migrations; `Migrator::new()`, the
/// registry's validation, connecting and `up()` are timed; closing is not, as in (e).
fn start_migrator(db: &TestDatabase, list: &[(u64, String, String)]) -> Duration {
    let list = migrations(list);
    let config = db.config();
    let started = Instant::now();
    let conn = Connection::from_config(&config).unwrap();
    let mut session = Migrator::new().with_migrations(list).on(conn).unwrap();
    let report = session.up().unwrap();
    let took = started.elapsed();
    assert!(report.steps.is_empty());
    drop(session);
    took
}

/// (e)
fn start_plain(db: &TestDatabase) -> Duration {
    let config = db.config();
    let started = Instant::now();
    let mut client = config.connect(postgres::NoTls).unwrap();
    let n: i64 = client
        .query_one("SELECT count(*) FROM t00001", &[])
        .unwrap()
        .get(0);
    let took = started.elapsed();
    assert_eq!(n, 1);
    drop(client);
    took
}

/// The timings of one variant, one per round, in round order.
#[derive(Clone, Default)]
struct Samples(Vec<Duration>);

impl Samples {
    fn sorted(&self) -> Vec<Duration> {
        let mut times = self.0.clone();
        times.sort();
        times
    }

    fn median(&self) -> Duration {
        let times = self.sorted();
        times[times.len() / 2]
    }

    fn min(&self) -> Duration {
        self.sorted()[0]
    }

    /// `self[i] / other[i]` per round, sorted: variants measured side by side in one round
    /// share the machine's slow and fast phases.
    fn paired_ratios(&self, other: &Samples) -> Vec<f64> {
        let mut ratios: Vec<f64> = self
            .0
            .iter()
            .zip(&other.0)
            .map(|(x, y)| x.as_secs_f64() / y.as_secs_f64())
            .collect();
        ratios.sort_by(f64::total_cmp);
        ratios
    }
}

/// An apply variant: (a), (b), (c) or (g).
type Apply = fn(&TestDatabase, &[(u64, String, String)]) -> Duration;

/// Runs each variant `REPS` times on fresh databases, after one warm-up round, rotating their
/// order from one round to the next. The databases are dropped only at the end: dropping one
/// deletes thousands of files, and perf showed the server's file creation dominated by ext4's
/// `recently_deleted` check (`ext4_create`), so a drop between runs likely slows whichever run
/// comes next (not isolated from the machine's other load).
fn interleaved<const K: usize>(
    server: &TestServer,
    list: &[(u64, String, String)],
    variants: [Apply; K],
) -> [Samples; K] {
    let mut times: [Vec<Duration>; K] = std::array::from_fn(|_| Vec::new());
    let mut used = Vec::new();
    for rep in 0..=REPS {
        for k in 0..K {
            let i = (k + rep) % K;
            let db = server.database();
            let took = variants[i](&db, list);
            used.push(db);
            if rep > 0 {
                times[i].push(took);
            }
        }
    }
    for db in &used {
        drop_database(server, db);
    }
    times.map(Samples)
}

fn drop_database(server: &TestServer, db: &TestDatabase) {
    let mut admin = server.config("postgres").connect(postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE {}", db.name))
        .unwrap();
}

fn row(label: &str, s: &Samples) {
    println!("{label:<62} {} {}", ms(s.median()), ms(s.min()));
}

fn ratio_row(label: &str, x: &Samples, y: &Samples, goal: Option<f64>) {
    let r = x.paired_ratios(y);
    let (lo, q1, med, q3, hi) = (
        r[0],
        r[r.len() / 4],
        r[r.len() / 2],
        r[r.len() * 3 / 4],
        r[r.len() - 1],
    );
    let verdict = match goal {
        Some(g) if med <= g => format!("goal ≤ {g}x: met"),
        Some(g) => format!("goal ≤ {g}x: NOT met"),
        None => String::new(),
    };
    println!(
        "{label:<8} {med:>8.2}x   quartiles {q1:.2}–{q3:.2}x   range {lo:.2}–{hi:.2}x   {verdict}"
    );
}

fn main() {
    let Some(server) = migrate_postgres::testing::server() else {
        eprintln!("no PostgreSQL server binaries: nothing measured");
        return;
    };
    let version: String = server
        .config("postgres")
        .connect(postgres::NoTls)
        .unwrap()
        .query_one("SHOW server_version", &[])
        .unwrap()
        .get(0);
    println!(
        "migrate-postgres runner benchmark: PostgreSQL {version}, throwaway cluster in {} \
         (unix socket, fsync=off), {N} migrations",
        server.socket_dir().display()
    );
    let list = generate(N);
    if let Ok(variant) = std::env::var("RUNNER_BENCH_PROFILE") {
        return profile(server, &variant, &list);
    }

    let [a, b, c, g] = interleaved(
        server,
        &list,
        [
            apply_migrator,
            apply_plain,
            apply_savepoints,
            apply_without_row_counts,
        ],
    );

    // (d), (e): one database with N applied, started on again and again, alternately.
    let applied = server.database();
    apply_migrator(&applied, &list);
    let (mut d, mut e) = (Vec::new(), Vec::new());
    for rep in 0..=START_REPS {
        let (td, te) = if rep % 2 == 0 {
            (start_migrator(&applied, &list), start_plain(&applied))
        } else {
            let te = start_plain(&applied);
            (start_migrator(&applied, &list), te)
        };
        if rep > 0 {
            d.push(td);
            e.push(te);
        }
    }
    let (d, e) = (Samples(d), Samples(e));

    println!();
    println!("{:<62} {:>12} {:>12}", "variant", "median", "min");
    row(&format!("(a) Migrator: apply {N} migrations"), &a);
    row("(b) postgres: same SQL, one transaction", &b);
    row(
        "(c) postgres: + savepoint and tracking row per migration",
        &c,
    );
    row("(g) Migrator: (a) without row counts", &g);
    row(
        &format!("(d) Migrator: new + registry + connect + up(), {N} applied"),
        &d,
    );
    row("(e) postgres: connect + first query", &e);
    println!();
    println!(
        "paired ratios ({REPS} apply rounds, {START_REPS} start rounds): median, quartiles, range"
    );
    ratio_row("a/b", &a, &b, Some(1.2));
    ratio_row("a/c", &a, &c, None);
    ratio_row("c/b", &c, &b, None);
    ratio_row("g/b", &g, &b, Some(1.2));
    ratio_row("a/g", &a, &g, None);
    ratio_row("d/e", &d, &e, Some(1.2));
    println!(
        "per migration: Migrator {:.0} µs, postgres {:.0} µs, overhead {:.0} µs",
        a.median().as_secs_f64() * 1e6 / N as f64,
        b.median().as_secs_f64() * 1e6 / N as f64,
        (a.median().as_secs_f64() - b.median().as_secs_f64()) * 1e6 / N as f64
    );
    drop_database(server, &applied);
}

/// Runs one variant in a loop, for `perf record`.
fn profile(server: &TestServer, variant: &str, list: &[(u64, String, String)]) {
    let statements = std::env::var_os("RUNNER_BENCH_STATEMENTS");
    if statements.is_some() {
        let mut admin = server.config("postgres").connect(postgres::NoTls).unwrap();
        // One query each: ALTER SYSTEM refuses a multi-statement string (an implicit transaction).
        for sql in [
            "ALTER SYSTEM SET log_min_duration_statement = 0",
            "ALTER SYSTEM SET log_line_prefix = '%m [%p] %d '",
            "SELECT pg_reload_conf()",
        ] {
            admin.batch_execute(sql).unwrap();
        }
    }
    let started = Instant::now();
    match variant {
        "a" | "b" | "g" => {
            for _ in 0..5 {
                let db = server.database();
                match variant {
                    "a" => apply_migrator(&db, list),
                    "g" => apply_without_row_counts(&db, list),
                    _ => apply_plain(&db, list),
                };
                drop_database(server, &db);
            }
        }
        "d" | "e" => {
            let applied = server.database();
            apply_migrator(&applied, list);
            for _ in 0..300 {
                if variant == "d" {
                    start_migrator(&applied, list);
                } else {
                    start_plain(&applied);
                }
            }
        }
        _ => panic!("RUNNER_BENCH_PROFILE is one of a, b, d, e, g"),
    }
    println!("{variant}: {:?}", started.elapsed());
    if let Some(copy) = statements {
        std::fs::copy(server.socket_dir().join("server.log"), &copy).unwrap();
        println!(
            "server log with every statement's duration: {}",
            copy.display()
        );
    }
}

fn ms(d: Duration) -> String {
    format!("{:9.2} ms", d.as_secs_f64() * 1e3)
}
