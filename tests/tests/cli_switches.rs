//! The operator's switches on the command line, through the real binary: `--keep-applied`
//! (failure policy), `--keep-backups N` and `--max-backup-age` (retention), `--no-backup`
//! (no automatic backup for one run), and `migrate sets`. Each is checked on the files.

#[path = "common/runbook.rs"]
mod runbook;

use runbook::Db;

#[test]
fn keep_applied_keeps_the_migrations_before_a_failure() {
    for (flag, kept) in [(None, 1), (Some("--keep-applied"), 3)] {
        let mut db = Db::new();
        db.run(&["up", "--to", "1"]).expect(0);
        db.env.push(("MIGRATE_CLI_BROKEN".into(), "1".into()));
        let mut args = vec!["up"];
        args.extend(flag);
        let out = db.run(&args).expect(1);
        assert!(out.stderr.contains("fails on purpose"), "{out:#?}");
        assert_eq!(
            db.int("SELECT max(seq) FROM _migrate_applied"),
            kept,
            "with {flag:?}"
        );
        assert_eq!(
            db.int("SELECT count(*) FROM sqlite_schema WHERE name = 'half_done'"),
            0
        );
    }
}

#[test]
fn no_backup_takes_no_automatic_backup_for_that_run_only() {
    let db = Db::new();
    db.run(&["up", "--to", "1"]).expect(0);
    let before = db.backups();
    db.run(&["up", "--to", "2", "--no-backup"]).expect(0);
    assert_eq!(db.backups(), before, "no backup for the --no-backup run");
    db.run(&["up"]).expect(0);
    assert_eq!(
        db.backups().len(),
        before.len() + 1,
        "the next run backs up again"
    );
}

#[test]
fn keep_backups_prunes_the_automatic_backups_to_n() {
    let db = Db::new();
    for to in ["1", "2", "3"] {
        db.run(&["up", "--to", to, "--keep-backups", "1"]).expect(0);
    }
    let left: Vec<_> = db.backups().into_iter().collect();
    assert_eq!(left.len(), 1, "{left:?}");
    // The newest one: taken before 3, holding seq 2.
    let conn = rusqlite::Connection::open(&left[0]).unwrap();
    let seq: i64 = conn
        .query_row("SELECT max(seq) FROM _migrate_applied", [], |r| r.get(0))
        .unwrap();
    assert_eq!(seq, 2);
}

#[test]
fn max_backup_age_takes_an_age_with_a_unit() {
    let db = Db::new();
    db.run(&["up", "--max-backup-age", "30d"]).expect(0);
    assert_eq!(
        db.backups().len(),
        1,
        "a fresh backup is younger than 30 days"
    );
    let out = db.run(&["status", "--max-backup-age", "30x"]).expect(2);
    assert!(
        out.stderr.contains("the unit is one of s, m, h, d"),
        "{out:#?}"
    );
}

#[test]
fn sets_lists_the_registered_sets_and_where_each_stands() {
    let db = Db::new();
    let out = db.run(&["sets"]).expect(0);
    let library = |out: &runbook::Out| {
        out.stdout
            .lines()
            .find(|l| l.starts_with("library "))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
    };
    assert_eq!(
        library(&out).as_deref(),
        Some("library 3 migrations"),
        "{out:#?}"
    );
    assert!(!db.path.exists(), "listing sets creates no database");

    db.run(&["up", "--to", "2"]).expect(0);
    let before = db.bytes();
    let out = db.run(&["sets"]).expect(0);
    assert!(
        out.stdout
            .contains("3 migrations  applied 2, pending 1 (at seq 2)"),
        "{out:#?}"
    );
    assert_eq!(db.bytes(), before, "sets only reads");
}
