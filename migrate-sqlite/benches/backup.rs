//! What a verified backup costs, against `cp` + fsync of the same file, and how much memory it
//! takes as the database grows.
//!
//! `cargo bench -p migrate-sqlite --bench backup` (release). Everything happens in a temp dir in
//! `CARGO_TARGET_TMPDIR` (on disk, so fsync is real), deleted at the end.
//!
//! * A ≈1 GiB database is generated (one table of random blobs, one transaction, default page
//!   size, rollback journal `DELETE`), then a Migrator applies one trivial migration to it.
//! * (a) `Session::backup()`: lock, `BEGIN IMMEDIATE`, the copy into a temp file and its
//!   verification (`quick_check`), fsync, rename, fsync of the directory, retention. The
//!   session is opened before the clock starts and closed after it stops.
//! * (b) `std::fs::copy` of the database file, then `sync_all` of the copy, while no SQLite
//!   connection of this process has the database open (closing a descriptor of it would drop
//!   SQLite's POSIX locks; here there are none).
//! * (c) `Session::restore()` of the same database from a backup of it (taken once, untimed):
//!   `quick_check` of the backup, the undo backup, the logical replace in one transaction,
//!   commit; the undo backup is deleted after each round (untimed).
//! * The file is read once beforehand so that both start from a warm page cache; each copy is
//!   deleted after its run (keeping them made every run slower: in a VM, fresh page-cache
//!   memory is slow the first time it is touched), and `sync` runs between measurements. (a)
//!   and (b) alternate, `ROUNDS` times each after one warm-up round. The copy phase of (a) (up
//!   to the last progress report) and, for comparison, a `quick_check` of the `cp` copy are
//!   timed too. The machine's noise shows in the per-round times, printed as well.
//! * Memory: the backup runs in a child process (this binary, re-executed with
//!   `BACKUP_BENCH_CHILD=<db>`) that reports its `VmHWM` (peak resident set, mapped file pages
//!   included) and the peaks of `RssAnon` and `RssFile` sampled every millisecond, and the
//!   peak resident set of the processes that copy the file for it (`getrusage` of its
//!   children), for a 256 MiB and a 1 GiB database.
//!
//! For a profiler: `BACKUP_BENCH_PROFILE=<n>` generates the database and runs only (a), `n`
//! times; `BACKUP_BENCH_PROFILE_RESTORE=<n>` only (c).

use migrate_sqlite::{Migration, Migrator, RestoreFrom, Step};
use rusqlite::Connection;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "stats/mod.rs"]
mod stats;
use stats::{Samples, ratio};

/// Measured rounds of (a) and (b), after one warm-up round.
const ROUNDS: usize = 7;
/// The database of the timings, and the larger one of the memory measurement.
const BIG: u64 = 1 << 30;
/// The smaller database of the memory measurement.
const SMALL: u64 = 256 << 20;
/// The child process's mode: the database to back up.
const CHILD_ENV: &str = "BACKUP_BENCH_CHILD";
/// What the ratio of medians should stay under.
const TARGET_RATIO: f64 = 1.25;

/// The one migration the databases have applied (a Migrator needs at least one).
fn migrator(backups: &Path) -> Migrator {
    Migrator::new()
        .with_migrations([Migration::new(
            1,
            "bench_marker",
            Step::sql("CREATE TABLE bench_marker (x)"),
        )])
        .backup_dir(backups)
}

/// A database of at least `bytes`: one table of random blobs, filled in one transaction.
fn generate(path: &Path, bytes: u64) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE blobs (id INTEGER PRIMARY KEY, a BLOB NOT NULL, b BLOB NOT NULL,
                             c TEXT NOT NULL, n INTEGER NOT NULL);
         BEGIN;",
    )
    .unwrap();
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    let mut insert = conn
        .prepare(
            "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 50000)
             INSERT INTO blobs (a, b, c, n)
             SELECT randomblob(200 + abs(random()) % 200), randomblob(100),
                    hex(randomblob(40 + abs(random()) % 80)), random() FROM k",
        )
        .unwrap();
    loop {
        let pages: i64 = conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        if (pages * page_size) as u64 >= bytes {
            break;
        }
        insert.execute([]).unwrap();
    }
    drop(insert);
    conn.execute_batch("COMMIT").unwrap();
    drop(conn);
    migrator(&backups_of(path))
        .open(path)
        .unwrap()
        .up()
        .unwrap();
}

fn backups_of(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".backups");
    PathBuf::from(name)
}

/// Reads the whole file once, so that every variant starts from a warm page cache.
fn warm(path: &Path) {
    let mut file = fs::File::open(path).unwrap();
    std::io::copy(&mut file, &mut std::io::sink()).unwrap();
}

/// Flushes whatever earlier runs left dirty, so that no fsync pays for another's writes.
fn settle() {
    assert!(Command::new("sync").status().unwrap().success());
    std::thread::sleep(Duration::from_millis(200));
}

/// One timed backup through the public API: (total, copy phase up to the last progress
/// report), then the backup file is deleted.
fn time_backup(db: &Path) -> (Duration, Duration) {
    let backups = backups_of(db);
    let last_report = Arc::new(Mutex::new(None::<Instant>));
    let reports = Arc::clone(&last_report);
    let session = migrator(&backups)
        .on_progress(move |p| {
            if p.done == p.total {
                *reports.lock().unwrap() = Some(Instant::now());
            }
        })
        .open(db)
        .unwrap();
    let started = Instant::now();
    let info = session.backup().unwrap();
    let took = started.elapsed();
    let copied = last_report
        .lock()
        .unwrap()
        .expect("no final progress report")
        - started;
    drop(session);
    assert!(info.size >= fs::metadata(db).unwrap().len());
    fs::remove_file(&info.path).unwrap();
    (took, copied)
}

/// One timed restore of `db` from the backup `source`; its undo backup is deleted afterwards.
fn time_restore(db: &Path, source: &Path) -> Duration {
    let session = migrator(&backups_of(db)).open(db).unwrap();
    let started = Instant::now();
    let report = session
        .restore(&RestoreFrom::File(source.to_owned()))
        .unwrap();
    let took = started.elapsed();
    drop(session);
    fs::remove_file(&report.undo_backup.path).unwrap();
    took
}

/// One timed `cp` + fsync, with no SQLite connection of this process on `db`; the copy is
/// kept for a `quick_check` and deleted by the caller.
fn time_cp(db: &Path, copy: &Path) -> Duration {
    let started = Instant::now();
    fs::copy(db, copy).unwrap();
    OpenOptions::new()
        .write(true)
        .open(copy)
        .unwrap()
        .sync_all()
        .unwrap();
    started.elapsed()
}

/// `quick_check` of a file, timed (what the backup's verification costs on its own).
fn time_quick_check(path: &Path) -> Duration {
    let started = Instant::now();
    let conn = Connection::open(path).unwrap();
    let verdict: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .unwrap();
    let took = started.elapsed();
    assert_eq!(verdict, "ok");
    took
}

fn ms(d: Duration) -> String {
    format!("{:9.1} ms", d.as_secs_f64() * 1e3)
}

/// A value in kB from `/proc/self/status`.
fn status_kb(field: &str) -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// The child: backs up `db` once and prints `VmHWM RssAnon-peak RssFile-peak` in kB.
fn child(db: &Path) {
    let session = migrator(&backups_of(db)).open(db).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let (peak_anon, peak_file) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let sampler = {
        let (done, peak_anon, peak_file) = (done.clone(), peak_anon.clone(), peak_file.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak_anon.fetch_max(status_kb("RssAnon"), Ordering::Relaxed);
                peak_file.fetch_max(status_kb("RssFile"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let info = session.backup().unwrap();
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    drop(session);
    fs::remove_file(&info.path).unwrap();
    println!(
        "{} {} {} {}",
        status_kb("VmHWM"),
        peak_anon.load(Ordering::Relaxed),
        peak_file.load(Ordering::Relaxed),
        children_peak_kb()
    );
}

/// The peak resident set of the largest child this process waited for (the backup's copying
/// children), in kB.
fn children_peak_kb() -> u64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a plain system call writing into `usage`.
    let done = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(done, 0);
    usage.ru_maxrss.max(0) as u64
}

/// (VmHWM, peak RssAnon, peak RssFile, peak resident set of its copying children) in kB of a
/// child process that backs up `db`.
fn memory_of_backup(db: &Path) -> [u64; 4] {
    let out = Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let values: Vec<u64> = text
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    values.try_into().unwrap()
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1u64 << 20) as f64)
}

fn main() {
    if let Some(db) = std::env::var_os(CHILD_ENV) {
        return child(Path::new(&db));
    }
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let big = tmp.path().join("big.db");
    println!(
        "migrate-sqlite backup benchmark: SQLite {}, files in {}",
        rusqlite::version(),
        tmp.path().display()
    );
    let started = Instant::now();
    generate(&big, BIG);
    let size = fs::metadata(&big).unwrap().len();
    println!(
        "generated {} ({} bytes) in {:.1} s",
        mib(size),
        size,
        started.elapsed().as_secs_f64()
    );

    if let Ok(n) = std::env::var("BACKUP_BENCH_PROFILE") {
        warm(&big);
        for _ in 0..n.parse::<usize>().unwrap() {
            let (took, copied) = time_backup(&big);
            println!("backup {} (copy phase {})", ms(took), ms(copied));
        }
        return;
    }
    if let Ok(n) = std::env::var("BACKUP_BENCH_PROFILE_RESTORE") {
        let source = migrator(&backups_of(&big))
            .open(&big)
            .unwrap()
            .backup()
            .unwrap()
            .path;
        warm(&big);
        for _ in 0..n.parse::<usize>().unwrap() {
            println!("restore {}", ms(time_restore(&big, &source)));
        }
        return;
    }

    // The backup (c) restores, outside the backup directory's retention.
    let source = {
        let session = migrator(&backups_of(&big)).open(&big).unwrap();
        session.backup().unwrap().path
    };
    warm(&big);
    let (mut a, mut a_copy, mut b, mut c, mut qc) = (
        Samples::default(),
        Samples::default(),
        Samples::default(),
        Samples::default(),
        Samples::default(),
    );
    for round in 0..=ROUNDS {
        // (a), (b), (c) in a rotating order.
        for k in 0..3 {
            settle();
            match (k + round) % 3 {
                0 => {
                    let (took, copied) = time_backup(&big);
                    if round > 0 {
                        a.0.push(took);
                        a_copy.0.push(copied);
                    }
                }
                1 => {
                    let copy = tmp.path().join(format!("copy-{round}.db"));
                    let took = time_cp(&big, &copy);
                    let checked = time_quick_check(&copy);
                    fs::remove_file(&copy).unwrap();
                    if round > 0 {
                        b.0.push(took);
                        qc.0.push(checked);
                    }
                }
                _ => {
                    let took = time_restore(&big, &source);
                    if round > 0 {
                        c.0.push(took);
                    }
                }
            }
        }
    }

    // Memory: a second, smaller database, and the big one again.
    let small = tmp.path().join("small.db");
    generate(&small, SMALL);
    let memory: Vec<(u64, [u64; 4])> = [&small, &big]
        .iter()
        .map(|db| (fs::metadata(db).unwrap().len(), memory_of_backup(db)))
        .collect();

    println!();
    println!(
        "{:<58} {:>12} {:>12}",
        format!("1 GiB database, {ROUNDS} rounds"),
        "median",
        "min"
    );
    let row = |label: &str, s: &Samples| println!("{label:<58} {} {}", ms(s.median()), ms(s.min()));
    row(
        "(a) Session::backup() (copy, quick_check, fsync, rename)",
        &a,
    );
    row(
        "    of which the copy (to the last progress report)",
        &a_copy,
    );
    row("(b) std::fs::copy + fsync", &b);
    row("(c) Session::restore() of that database from a backup", &c);
    row("    (for comparison: quick_check of the cp copy)", &qc);
    let rounds = |s: &Samples| {
        s.0.iter()
            .map(|d| format!("{:.0}", d.as_secs_f64() * 1e3))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "rounds (ms): (a) {} | (b) {} | (c) {}",
        rounds(&a),
        rounds(&b),
        rounds(&c)
    );
    let (of_medians, of_mins, paired) = (
        ratio(a.median(), b.median()),
        ratio(a.min(), b.min()),
        a.paired_ratio(&b),
    );
    println!();
    println!(
        "ratio (a)/(b): {of_medians:.2}x of medians, {of_mins:.2}x of mins, {paired:.2}x paired median (target <= {TARGET_RATIO})"
    );
    println!(
        "ratio (c)/(b): {:.2}x of medians, {:.2}x of mins, {:.2}x paired median (target <= {TARGET_RATIO})",
        ratio(c.median(), b.median()),
        ratio(c.min(), b.min()),
        c.paired_ratio(&b)
    );
    println!();
    println!(
        "{:<24} {:>12} {:>16} {:>16} {:>16}",
        "backup in a child", "VmHWM", "peak RssAnon", "peak RssFile", "copiers' peak"
    );
    for (bytes, [hwm, anon, file, copiers]) in &memory {
        println!(
            "{:<24} {:>9} kB {:>13} kB {:>13} kB {:>13} kB",
            format!("database of {}", mib(*bytes)),
            hwm,
            anon,
            file,
            copiers
        );
    }
    let growth = memory[1].1[0] as f64 / memory[0].1[0] as f64;
    println!("VmHWM 1 GiB / 256 MiB: {growth:.2}x (mapped file pages count in VmHWM and RssFile)");
    drop(tmp);
}
