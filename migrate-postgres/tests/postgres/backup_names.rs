//! Whose backup is whose, in a backup directory several databases share: databases whose names
//! made one file stem in the older naming (`app.x` and `app_x` were both `app_x`) never see each
//! other's backups in the listing, in retention or in "restore the latest", because each backup
//! records its source beside it (`<dump>.meta`); a backup of another database is not taken for
//! one's own, whatever its name; backups written with the older naming (no metadata) are still listed and restorable,
//! and never pruned.

use crate::backup::{automatic, every_file_in};
use crate::common::{count, exists};
use migrate_postgres::testing::{self, TestServer};
use migrate_postgres::{BackupKind, Backups, Connection, Error, RestoreFrom, Retention};
use std::path::{Path, PathBuf};

/// Two databases, `<tN>.x` and `<tN>_x`, each with a table of its own.
fn twin_databases(server: &TestServer) -> (postgres::Config, postgres::Config) {
    let base = server.database().name;
    let (dotted, underscored) = (format!("{base}.x"), format!("{base}_x"));
    let mut admin = server.config("postgres").connect(postgres::NoTls).unwrap();
    for (name, table) in [(&dotted, "dotted_only"), (&underscored, "underscored_only")] {
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap();
        let mut client = server.config(name).connect(postgres::NoTls).unwrap();
        client
            .batch_execute(&format!(
                "CREATE TABLE {table} (id int PRIMARY KEY); INSERT INTO {table} VALUES (1), (2)"
            ))
            .unwrap();
    }
    (server.config(&dotted), server.config(&underscored))
}

fn paths(backups: &Backups) -> Vec<PathBuf> {
    backups
        .list()
        .unwrap()
        .into_iter()
        .map(|b| b.path)
        .collect()
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn databases_whose_names_made_one_stem_never_see_each_others_backups() {
    let Some(server) = testing::server() else {
        return;
    };
    let (dotted, underscored) = twin_databases(server);
    let dir = tempfile::tempdir().unwrap();
    let keep_one = Retention {
        keep_last: Some(1),
        max_age: None,
    };
    let dotted_backups = Backups::new(&dotted, dir.path()).with_retention(keep_one);
    let underscored_backups = Backups::new(&underscored, dir.path()).with_retention(keep_one);
    let mut underscored_conn = Connection::from_config(&underscored).unwrap();
    let ours = underscored_backups
        .back_up(&mut underscored_conn, automatic())
        .unwrap();
    let mut dotted_conn = Connection::from_config(&dotted).unwrap();
    let first = dotted_backups
        .back_up(&mut dotted_conn, automatic())
        .unwrap();
    let second = dotted_backups
        .back_up(&mut dotted_conn, automatic())
        .unwrap();
    assert_ne!(
        name(&first.path).split('.').next(),
        name(&ours.path).split('.').next(),
        "one stem per name"
    );

    assert_eq!(
        paths(&underscored_backups),
        std::slice::from_ref(&ours.path)
    );
    assert_eq!(
        paths(&dotted_backups),
        [first.path.clone(), second.path.clone()]
    );
    // Retention of one database deletes only its own: the other's single backup stays.
    let removed = dotted_backups.prune(&[second.path.as_path()]).unwrap();
    assert_eq!(removed, std::slice::from_ref(&first.path));
    assert!(ours.path.is_file() && second.path.is_file());
    assert!(!first.path.is_file());
    assert!(
        !every_file_in(dir.path())
            .iter()
            .any(|f| f.starts_with(&name(&first.path))),
        "its metadata went with it: {:?}",
        every_file_in(dir.path())
    );
    assert!(underscored_backups.prune(&[]).unwrap().is_empty());
    assert!(second.path.is_file(), "not pruned by the other database");

    // "The latest" of `<tN>_x` is its own backup, although the other's is newer.
    underscored_conn
        .client()
        .batch_execute("DROP TABLE underscored_only")
        .unwrap();
    let mut lock = underscored_conn.lock().unwrap();
    let report = underscored_backups
        .restore(&mut lock, &RestoreFrom::Latest)
        .unwrap();
    drop(lock);
    assert_eq!(report.restored_from, ours.path);
    let mut client = underscored.connect(postgres::NoTls).unwrap();
    assert_eq!(count(&mut client, "underscored_only"), 2);
    assert!(!exists(&mut client, "public.dotted_only"));
}

#[test]
fn a_backup_of_another_database_named_like_ones_own_is_not_its_own() {
    let Some(server) = testing::server() else {
        return;
    };
    let (dotted, underscored) = twin_databases(server);
    let dir = tempfile::tempdir().unwrap();
    let dotted_backups = Backups::new(&dotted, dir.path());
    let underscored_backups = Backups::new(&underscored, dir.path());
    let mut dotted_conn = Connection::from_config(&dotted).unwrap();
    let theirs = dotted_backups
        .back_up(&mut dotted_conn, automatic())
        .unwrap();
    // Copied under a name that looks like one of `<tN>_x`'s own backups.
    let disguised = dir.path().join(format!(
        "{}_x.{}.manual.dump",
        underscored.get_dbname().unwrap().trim_end_matches("_x"),
        theirs.created_at
    ));
    std::fs::copy(&theirs.path, &disguised).unwrap();
    std::fs::copy(
        migrate_core::backups::BackupMeta::path_for(&theirs.path),
        migrate_core::backups::BackupMeta::path_for(&disguised),
    )
    .unwrap();
    assert!(
        paths(&underscored_backups).is_empty(),
        "its metadata says whose it is, whatever its name"
    );
    let files = every_file_in(dir.path());

    let mut underscored_conn = Connection::from_config(&underscored).unwrap();
    let mut lock = underscored_conn.lock().unwrap();
    let err = underscored_backups
        .restore(&mut lock, &RestoreFrom::File(disguised.clone()))
        .unwrap_err();
    drop(lock);

    // Not one of its backups (named like one, recorded as another's), and no tracking table.
    let Error::RestoreRefused {
        path,
        reason,
        way_out,
    } = &err
    else {
        panic!("expected RestoreRefused, got {err:?}")
    };
    assert_eq!(*path, disguised);
    assert!(
        reason.contains("it is not one of this database's backups"),
        "{err}"
    );
    assert!(way_out.contains("--allow-foreign-source"), "{err}");
    let mut client = underscored.connect(postgres::NoTls).unwrap();
    assert_eq!(count(&mut client, "underscored_only"), 2, "unchanged");
    assert!(!exists(&mut client, "public.dotted_only"));
    assert_eq!(
        every_file_in(dir.path()),
        files,
        "no undo backup was written"
    );
}

#[test]
fn a_backup_named_the_older_way_is_still_listed_restorable_and_never_pruned() {
    let Some(server) = testing::server() else {
        return;
    };
    let (dotted, _) = twin_databases(server);
    let dir = tempfile::tempdir().unwrap();
    let backups = Backups::new(&dotted, dir.path()).with_retention(Retention {
        keep_last: Some(1),
        max_age: None,
    });
    let mut conn = Connection::from_config(&dotted).unwrap();
    let taken = backups.back_up(&mut conn, automatic()).unwrap();
    // What an older version wrote for `<tN>.x`: the stem `<tN>_x`, no metadata.
    let legacy_stem = dotted.get_dbname().unwrap().replace('.', "_");
    let legacy = dir
        .path()
        .join(format!("{legacy_stem}.20200101T000000.000Z.pre-up.dump"));
    std::fs::rename(&taken.path, &legacy).unwrap();
    std::fs::remove_file(migrate_core::backups::BackupMeta::path_for(&taken.path)).unwrap();
    let newer = backups.back_up(&mut conn, automatic()).unwrap();

    let listed = backups.list().unwrap();
    assert_eq!(
        listed.iter().map(|b| b.path.clone()).collect::<Vec<_>>(),
        [legacy.clone(), newer.path.clone()]
    );
    assert_eq!(
        listed[0].kind,
        BackupKind::Automatic {
            reason: "pre-up".into()
        }
    );
    // Retention (keep 1) counts only backups that record their source: the older one stays.
    assert!(backups.prune(&[]).unwrap().is_empty());
    assert!(legacy.is_file());

    conn.client()
        .batch_execute("DROP TABLE dotted_only; CREATE TABLE other (x int)")
        .unwrap();
    let mut lock = conn.lock().unwrap();
    let report = backups
        .restore(&mut lock, &RestoreFrom::File(legacy.clone()))
        .unwrap();
    drop(lock);
    assert_eq!(report.restored_from, legacy);
    let mut client = dotted.connect(postgres::NoTls).unwrap();
    assert_eq!(count(&mut client, "dotted_only"), 2);
    assert!(!exists(&mut client, "public.other"));
}

/// A backup whose `.meta` cannot be read (damaged, not metadata) is still this database's by
/// its name (the current stem is one per database name): listed, and "the latest" is refused
/// on it, never silently replaced by an older backup; never pruned.
#[test]
fn a_backup_whose_metadata_is_damaged_is_listed_and_refused_never_skipped_for_an_older_one() {
    let Some(server) = testing::server() else {
        return;
    };
    let (dotted, _) = twin_databases(server);
    let dir = tempfile::tempdir().unwrap();
    let backups = Backups::new(&dotted, dir.path()).with_retention(Retention {
        keep_last: Some(1),
        max_age: None,
    });
    let mut conn = Connection::from_config(&dotted).unwrap();
    let older = backups.back_up(&mut conn, automatic()).unwrap();
    conn.client()
        .batch_execute("INSERT INTO dotted_only VALUES (3)")
        .unwrap();
    let newer = backups.back_up(&mut conn, automatic()).unwrap();
    let meta = migrate_core::backups::BackupMeta::path_for(&newer.path);
    std::fs::write(&meta, "{\"source\": trunc").unwrap();
    conn.client()
        .batch_execute("CREATE TABLE later (x int)")
        .unwrap();

    assert_eq!(paths(&backups), [older.path.clone(), newer.path.clone()]);
    assert_eq!(
        backups.locate(&RestoreFrom::Latest).unwrap(),
        newer.path,
        "the newest backup, not the one before it"
    );
    assert!(backups.prune(&[]).unwrap().is_empty());
    let files = every_file_in(dir.path());

    let mut lock = conn.lock().unwrap();
    let err = backups
        .restore(&mut lock, &RestoreFrom::Latest)
        .unwrap_err();
    drop(lock);

    let Error::BackupIo { path, .. } = &err else {
        panic!("expected BackupIo, got {err:?}")
    };
    assert_eq!(*path, meta, "{err}");
    let mut client = dotted.connect(postgres::NoTls).unwrap();
    assert_eq!(count(&mut client, "dotted_only"), 3, "unchanged");
    assert!(exists(&mut client, "public.later"), "unchanged");
    assert_eq!(
        every_file_in(dir.path()),
        files,
        "nothing written or pruned"
    );
}
