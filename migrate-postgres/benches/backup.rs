//! What a verified PostgreSQL backup and a restore cost, against the bare tools.
//!
//! `cargo bench -p migrate-postgres --bench backup` (release). It starts its own throwaway
//! cluster (`migrate_postgres::testing`: a temp dir, unix socket, `fsync=off` for the server;
//! the dump files are fsynced for real) and generates a ≈200 MB database like the fact sheet's
//! `app200`: `users` 350 k rows, `orders` 1.25 M rows with a foreign key and an index.
//!
//! * (a) `Backups::back_up`: tool lookup, privilege check, `pg_dump -Fc -Z1` into a hidden
//!   0600 temp file, fsync, `pg_restore -f /dev/null` over every block, rename, fsync of the
//!   directory. (b) `pg_dump -Fc -Z1 -f <file>` alone. Goal: (a) ≤ 1.6 × (b).
//! * (c) `Backups::restore` in place: read-back of the dump, the undo backup (a whole (a)),
//!   then one transaction that drops the schemas and replays the dump through psql.
//!   (d) `pg_restore -d <new empty database>`.
//!
//! (a) and (b) alternate, then (c) and (d), `ROUNDS` times after one warm-up round; each
//! file is deleted after its round. Medians, min–max spread and the per-round times are printed.

use migrate_postgres::testing::{self, TestDatabase};
use migrate_postgres::{BackupKind, Backups, RestoreFrom};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const ROUNDS: usize = 5;
const TARGET_RATIO: f64 = 1.6;

const SCHEMA: &str = "
CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, email text NOT NULL,
                    created timestamptz NOT NULL DEFAULT now());
CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint NOT NULL REFERENCES users,
                     total numeric(12, 2) NOT NULL, note text, created timestamptz NOT NULL);
INSERT INTO users (id, name, email)
  SELECT i, 'user ' || i, md5(i::text) || '@example.com' FROM generate_series(1, 350000) i;
INSERT INTO orders
  SELECT i, 1 + (i::bigint * 7919) % 350000, (i % 10000) / 7.0, md5((i::bigint * 31)::text),
         now() - (i % 1000) * interval '1 hour'
  FROM generate_series(1, 1250000) i;
CREATE INDEX orders_user ON orders (user_id);
ANALYZE;
";

struct Samples(Vec<Duration>);

impl Samples {
    fn sorted(&self) -> Vec<Duration> {
        let mut v = self.0.clone();
        v.sort();
        v
    }
    fn median(&self) -> Duration {
        let v = self.sorted();
        v[v.len() / 2]
    }
    fn spread(&self) -> String {
        let v = self.sorted();
        format!(
            "{:.2}–{:.2} s",
            v[0].as_secs_f64(),
            v[v.len() - 1].as_secs_f64()
        )
    }
    /// The median of the per-round ratios: both variants of a round share the machine's
    /// slow and fast phases, so this is steadier than a ratio of medians.
    fn paired_ratio(&self, other: &Samples) -> f64 {
        let mut r: Vec<f64> = self
            .0
            .iter()
            .zip(&other.0)
            .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
            .collect();
        r.sort_by(f64::total_cmp);
        r[r.len() / 2]
    }
    fn rounds(&self) -> String {
        self.0
            .iter()
            .map(|d| format!("{:.2}", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn tool(name: &str) -> PathBuf {
    let mut majors: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("server tools in /usr/lib/postgresql")
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join(name).is_file())
        .collect();
    majors.sort();
    majors.pop().expect("server tools").join(name)
}

/// `tool` with the socket, port and superuser of the test cluster.
fn connected(name: &str, socket: &Path) -> Command {
    let mut cmd = Command::new(tool(name));
    cmd.arg("-h")
        .arg(socket)
        .args(["-p", "5432", "-U", "postgres"]);
    cmd
}

fn run(mut cmd: Command) {
    let out = cmd.output().expect("tool starts");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn timed(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn main() {
    let server = testing::server().expect("PostgreSQL server binaries");
    let socket = server.socket_dir().to_owned();
    let app = server.database();
    let started = Instant::now();
    app.client().batch_execute(SCHEMA).expect("test data");
    let size: i64 = app
        .client()
        .query_one("SELECT pg_database_size(current_database())", &[])
        .unwrap()
        .get(0);
    println!(
        "database {}: {} MB, generated in {:.1} s",
        app.name,
        size >> 20,
        started.elapsed().as_secs_f64()
    );
    let work = tempfile::Builder::new()
        .prefix("pgbench")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("bench temp dir");
    let backups = Backups::new(&app.config(), work.path().join("backups"));
    let mut conn = app.connect();
    let manual = || BackupKind::Automatic {
        reason: "manual".into(),
    };

    let (mut ours, mut bare) = (Samples(vec![]), Samples(vec![]));
    let mut dump_size = 0;
    for round in 0..=ROUNDS {
        let mut path = PathBuf::new();
        let a = timed(|| path = backups.back_up(&mut conn, manual()).expect("backup").path);
        dump_size = std::fs::metadata(&path).unwrap().len();
        std::fs::remove_file(&path).unwrap();
        let plain = work.path().join("plain.dump");
        let mut cmd = connected("pg_dump", &socket);
        cmd.args(["-Fc", "-Z1", "-f"]).arg(&plain).arg(&app.name);
        let b = timed(|| run(cmd));
        std::fs::remove_file(&plain).unwrap();
        if round > 0 {
            ours.0.push(a);
            bare.0.push(b);
        }
    }

    let keep = backups.back_up(&mut conn, manual()).expect("backup");
    let (mut restore, mut pg_restore) = (Samples(vec![]), Samples(vec![]));
    for round in 0..=ROUNDS {
        let c = timed(|| {
            let mut lock = conn.lock().expect("lock");
            let report = backups
                .restore(&mut lock, &RestoreFrom::File(keep.path.clone()))
                .expect("restore");
            drop(lock);
            std::fs::remove_file(report.undo_backup.path).unwrap();
        });
        let empty: TestDatabase = server.database();
        let mut cmd = connected("pg_restore", &socket);
        cmd.args(["-d", &empty.name]).arg(&keep.path);
        let d = timed(|| run(cmd));
        server
            .config("postgres")
            .connect(postgres::NoTls)
            .unwrap()
            .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", empty.name))
            .unwrap();
        if round > 0 {
            restore.0.push(c);
            pg_restore.0.push(d);
        }
    }

    let ratio = |a: &Samples, b: &Samples| a.median().as_secs_f64() / b.median().as_secs_f64();
    println!("dump: {} MB (-Fc -Z1)", dump_size >> 20);
    println!(
        "(a) verified backup      median {:.2} s, spread {}  rounds: {}",
        ours.median().as_secs_f64(),
        ours.spread(),
        ours.rounds()
    );
    println!(
        "(b) pg_dump -Fc -Z1      median {:.2} s, spread {}  rounds: {}",
        bare.median().as_secs_f64(),
        bare.spread(),
        bare.rounds()
    );
    let backup_ratio = ratio(&ours, &bare);
    println!(
        "    (a)/(b) = {backup_ratio:.2} medians, {:.2} paired (goal ≤ {TARGET_RATIO}): {}",
        ours.paired_ratio(&bare),
        if backup_ratio <= TARGET_RATIO {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "(c) restore in place     median {:.2} s, spread {}  rounds: {}",
        restore.median().as_secs_f64(),
        restore.spread(),
        restore.rounds()
    );
    println!(
        "(d) pg_restore -d empty  median {:.2} s, spread {}  rounds: {}",
        pg_restore.median().as_secs_f64(),
        pg_restore.spread(),
        pg_restore.rounds()
    );
    println!(
        "    (c)/(d) = {:.2} medians, {:.2} paired; (c) includes the read-back and a whole undo \
         backup, (c) − (a) medians = {:.2} s",
        ratio(&restore, &pg_restore),
        restore.paired_ratio(&pg_restore),
        restore.median().as_secs_f64() - ours.median().as_secs_f64()
    );
}
