//! A `migrate-child` process SIGKILLed in the middle of a run: the database stays intact and
//! consistent with its tracking table, a dead process's lock blocks nobody, the next run finishes
//! the work, and a run killed inside a `transaction = false` migration makes the next run refuse
//! without touching the file.
#![cfg(unix)]

mod child;

use child::{COUNT, NON_TRANSACTIONAL, Outcome, State, arg, lock_is_free, run, spawn};
use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Duration;

/// Migrations applied before the batch that gets killed.
const SEEDED: u64 = 10;

/// Where the kill lands.
#[derive(Clone, Copy, Debug)]
enum Kill {
    /// This long after the batch's first step began (each step sleeps 25 ms, so the batch takes
    /// about 750 ms; a late kill may find it finished, which is also a valid outcome).
    After(Duration),
    /// While this migration's step hangs, after its SQL ran (always mid-batch).
    HangingAt(u64),
}

/// Seeds 1..=10, kills a child running 11..=40 as `kill` says, checks the database, reruns.
fn kill_mid_batch(policy: &str, kill: Kill) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let seeded = run(&["plain", arg(&db), "--up-to", &SEEDED.to_string()]);
    assert_eq!(seeded.assert_success().applied(), SEEDED as usize);

    let hang;
    let mut args = vec!["plain", arg(&db), "--policy", policy, "--sleep-ms", "25"];
    if let Kill::HangingAt(seq) = kill {
        hang = seq.to_string();
        args.extend(["--hang-at", &hang]);
    }
    let mut child = spawn(&args);
    match kill {
        Kill::After(delay) => {
            child.wait_for("step ");
            std::thread::sleep(delay);
        }
        Kill::HangingAt(seq) => {
            child.wait_for(&format!("hanging {seq}"));
        }
    }
    let killed = child.kill();
    let finished = check_killed(&killed, kill);

    let state = State::read(&db);
    state.assert_consistent();
    let applied = state.applied();
    let last = applied.last().copied().unwrap_or(0);
    assert_eq!(
        applied,
        (1..=last).collect::<BTreeSet<_>>(),
        "not a prefix: {kill:?} {state:#?}"
    );
    match policy {
        // The run is one transaction: none of the batch, or (killed after COMMIT) all of it.
        "all" => assert!(
            last == SEEDED || last == COUNT,
            "{kill:?}: partial batch {state:#?}"
        ),
        // Keeps what succeeded *on failure*; a crash can at most lose the uncommitted rest.
        _ => assert!(last >= SEEDED, "{kill:?}: seeded work lost {state:#?}"),
    }
    if finished || matches!(kill, Kill::HangingAt(_)) {
        let expected = if finished { COUNT } else { SEEDED };
        assert_eq!(last, expected, "{kill:?}: {state:#?}");
    }

    eprintln!("{policy} {kill:?}: applied through {last} after the kill");
    // The dead child's OS lock died with it: a rerun with a short timeout is not blocked.
    assert!(lock_is_free(&db), "a killed process's lock is still held");
    let rerun = run(&["plain", arg(&db), "--policy", policy, "--busy-ms", "5000"]);
    assert_eq!(rerun.assert_success().applied(), (COUNT - last) as usize);
    State::read(&db).assert_applied_through(COUNT);
    assert!(migrate_sqlite::lock_path(&db).exists());
}

/// The child was killed by SIGKILL, or (a late `After` kill) had already finished: returns
/// true in the latter case.
fn check_killed(outcome: &Outcome, kill: Kill) -> bool {
    if outcome.status.success() {
        assert!(matches!(kill, Kill::After(_)), "{outcome:#?}");
        assert_eq!(outcome.applied(), (COUNT - SEEDED) as usize);
        return true;
    }
    assert_eq!(outcome.status.signal(), Some(9), "{outcome:#?}");
    false
}

fn kills() -> Vec<Kill> {
    let mut kills: Vec<Kill> = [0, 10, 40, 100, 250, 500, 700, 800]
        .into_iter()
        .map(|ms| Kill::After(Duration::from_millis(ms)))
        .collect();
    kills.extend([SEEDED + 1, 25, COUNT].map(Kill::HangingAt));
    kills
}

#[test]
fn killed_mid_batch_all_or_nothing() {
    for kill in kills() {
        kill_mid_batch("all", kill);
    }
}

#[test]
fn killed_mid_batch_keep_applied() {
    for kill in kills() {
        kill_mid_batch("keep", kill);
    }
}

/// Every file below `dir` (backups included) with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    found.sort();
    found
}

#[test]
fn killed_in_a_non_transactional_migration_blocks_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dirty.db");
    let nontx = NON_TRANSACTIONAL.to_string();
    let mut child = spawn(&["mixed", arg(&db), "--hang-at", &nontx]);
    child.wait_for(&format!("hanging {NON_TRANSACTIONAL}"));
    let killed = child.kill();
    assert_eq!(killed.status.signal(), Some(9), "{killed:#?}");

    // What ran before it was committed; it is recorded as started; its partial work is there.
    let state = State::read(&db);
    assert_eq!(state.integrity, "ok");
    let before: BTreeSet<u64> = (1..NON_TRANSACTIONAL).collect();
    assert_eq!(state.applied(), before, "{state:#?}");
    assert_eq!(
        state.recorded.get(&NON_TRANSACTIONAL).map(String::as_str),
        Some("started"),
        "{state:#?}"
    );
    assert!(state.tables.contains(&NON_TRANSACTIONAL), "{state:#?}");
    assert!(lock_is_free(&db));

    let untouched = files(dir.path());
    for _ in 0..2 {
        let refused = run(&["mixed", arg(&db), "--busy-ms", "5000"]);
        assert_eq!(refused.status.code(), Some(1), "{refused:#?}");
        let name = format!("{NON_TRANSACTIONAL} \"create_t{NON_TRANSACTIONAL:03}\"");
        for needle in [
            name.as_str(),
            "started and never finished",
            "nothing was changed",
        ] {
            assert!(
                refused.stderr.contains(needle),
                "{needle:?} missing: {refused:#?}"
            );
        }
        assert!(
            !refused.stdout.iter().any(|l| l.starts_with("step ")),
            "a step ran: {refused:#?}"
        );
        assert!(
            files(dir.path()) == untouched,
            "the refusal changed a file in {}",
            dir.path().display()
        );
    }
}

/// A kill after a `transaction = false` migration finished must not leave it recorded as
/// `started`: it completed, so the next run must go on, not refuse. (Its `applied` row is
/// committed on its own, before the rest of the run goes on.)
#[test]
fn killed_after_a_non_transactional_migration_keeps_what_was_committed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mixed.db");
    let mut child = spawn(&["mixed", arg(&db), "--hang-at", "30"]);
    child.wait_for("hanging 30");
    let killed = child.kill();
    assert_eq!(killed.status.signal(), Some(9), "{killed:#?}");
    State::read(&db).assert_applied_through(NON_TRANSACTIONAL);
    let rerun = run(&["mixed", arg(&db), "--busy-ms", "5000"]);
    assert_eq!(
        rerun.assert_success().applied(),
        (COUNT - NON_TRANSACTIONAL) as usize
    );
    State::read(&db).assert_applied_through(COUNT);
}

/// A migration failing after a `transaction = false` one: under all-or-nothing, what was
/// committed stays (1..=20, the non-transactional one included), the rest of the run is rolled
/// back, and the error says exactly which migrations stay applied (read back from the database,
/// the non-transactional one included).
#[test]
fn failure_after_a_non_transactional_migration_names_what_stays() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fail.db");
    let failed = run(&["mixed", arg(&db), "--fail-at", "25"]);
    assert_eq!(failed.status.code(), Some(1), "{failed:#?}");
    let state = State::read(&db);
    assert_eq!(state.failures, 1, "{state:#?}");
    state.assert_applied_through(NON_TRANSACTIONAL);
    assert!(
        failed
            .stderr
            .contains("Kept from this run: applied 1-20. The database is now at seq 20."),
        "the message must list 20 among the migrations that stay applied: {}",
        failed.stderr
    );
}

#[test]
fn a_dead_process_lock_blocks_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lock.db");
    let mut child = spawn(&["plain", arg(&db), "--hang-at", "5"]);
    child.wait_for("hanging 5");
    let lock = migrate_sqlite::lock_path(&db);
    assert!(lock.exists(), "{} missing", lock.display());
    assert!(!lock_is_free(&db), "the migrating child must hold the lock");
    let killed = child.kill();
    assert_eq!(killed.status.signal(), Some(9), "{killed:#?}");

    assert!(lock.exists(), "the lock file is never deleted");
    assert!(lock_is_free(&db), "the OS lock must die with the process");
    // A 2 s timeout: a lock still held would fail this run with "another process is migrating".
    let rerun = run(&["plain", arg(&db), "--busy-ms", "2000"]);
    assert_eq!(rerun.assert_success().applied(), COUNT as usize);
    State::read(&db).assert_applied_through(COUNT);
    assert!(lock.exists());
    assert!(lock_is_free(&db));
}
