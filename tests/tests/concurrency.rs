//! Several processes (`migrate-child`) released at the same moment migrate one fresh database
//! file: they all succeed, none sees "database is locked", and every migration runs exactly once.

mod child;

use child::{COUNT, State, arg, lock_is_free, spawn};
use std::path::Path;

/// Starts `processes` children (each test repeats the race a few times) on a fresh file, releases them together once all are ready, and
/// checks the outcome.
fn race(list: &str, processes: usize) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("race.db");
    let go = dir.path().join("go");
    let mut children: Vec<_> = (0..processes)
        .map(|_| spawn(&[list, arg(&db), "--go", arg(&go)]))
        .collect();
    // The barrier: every child is up and polling for `go` before any of them opens the file.
    for child in &mut children {
        child.wait_for("ready");
    }
    assert!(!db.exists(), "a child opened the database before `go`");
    std::fs::write(&go, b"").unwrap();
    let outcomes: Vec<_> = children.into_iter().map(|c| c.finish()).collect();
    for outcome in &outcomes {
        outcome.assert_success();
        let text = outcome.text().to_lowercase();
        assert!(!text.contains("locked"), "{outcome:#?}");
        assert!(!text.contains("busy"), "{outcome:#?}");
    }
    // Each migration runs in exactly one process; and since a process reads the plan only
    // after taking the lock, the first one does the whole batch and the others find nothing.
    let mut applied: Vec<usize> = outcomes.iter().map(|o| o.applied()).collect();
    applied.sort_unstable();
    let mut expected = vec![0; processes - 1];
    expected.push(COUNT as usize);
    assert_eq!(applied, expected, "migrations applied by each process");
    let state = State::read(&db);
    state.assert_applied_through(COUNT);
    assert_eq!(state.failures, 0, "{state:#?}");
    assert_lock_file_left_free(&db);
}

fn assert_lock_file_left_free(db: &Path) {
    assert!(
        migrate_sqlite::lock_path(db).exists(),
        "the lock file must stay (deleting it would let two processes hold the lock)"
    );
    assert!(lock_is_free(db), "a finished process still holds the lock");
}

#[test]
fn two_processes() {
    for _ in 0..8 {
        race("plain", 2);
    }
}

#[test]
fn five_processes() {
    for _ in 0..5 {
        race("plain", 5);
    }
}

#[test]
fn ten_processes() {
    for _ in 0..3 {
        race("plain", 10);
    }
}

/// With a `transaction = false` migration in the middle (seq 20) the batch commits in three
/// parts; the migration lock must keep the other processes out across all of them.
#[test]
fn five_processes_with_a_non_transactional_migration() {
    for _ in 0..3 {
        race("mixed", 5);
    }
}
