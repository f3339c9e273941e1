//! Backups in an application that ignores `SIGCHLD` (the kernel then reaps children unasked,
//! so how a copying child ended cannot be learned): the backup is taken another way, complete
//! and verified. A binary of its own: the signal disposition is the whole process's.
#![cfg(unix)]

mod common;

use common::*;
use rusqlite::{Connection, OpenFlags};

#[test]
fn a_process_that_ignores_sigchld_still_gets_complete_verified_backups() {
    // SAFETY: sets a signal disposition; this binary has no other test to disturb.
    let previous = unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    assert_ne!(previous, libc::SIG_ERR);

    let db = temp_db();
    let mut session = migrator_with_backups(tables(1)).open(&db.path).unwrap();
    session.up().unwrap();
    session
        .connection()
        .execute_batch(
            "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 3000)
             INSERT INTO t1 (v) SELECT printf('%0300d', i) FROM c",
        )
        .unwrap();
    let state = dump(&db.path);
    let backup = session.backup().unwrap();

    let copy = Connection::open_with_flags(&backup.path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let verdict: String = copy
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(verdict, "ok");
    drop(copy);
    assert_eq!(dump(&backup.path), state);
}
