//! What counts as destroying data, on real files: a migration that does it must declare
//! `destructive` (or the run allow it), and one that does not is never refused. Tables are judged
//! by what the migration left — a table dropped and recreated under its name with every row and
//! every column's values is no loss; a table gone, a column's values gone, or rows gone are — and
//! schema objects that hold no rows (indexes, views, triggers) may always be dropped.

mod common;
use common::people::{self, count};
use common::*;
use migrate_sqlite::{Error, Flags, Migration, Result, RunReport, Step};
use rusqlite::Connection;

/// The source error of a failed run, the database left as `before` and at seq 2.
fn refused(result: Result<RunReport>, db: &TempDb, before: &str) -> Error {
    let err = match result {
        Ok(report) => panic!("not refused: {report:?}"),
        Err(e) => e,
    };
    assert_eq!(dump(&db.path), before, "rolled back: {err}");
    assert_eq!(applied_seqs(&Connection::open(&db.path).unwrap()), [1, 2]);
    match err {
        Error::MigrationFailed { source, .. } => *source,
        other => panic!("not a migration failure: {other}"),
    }
}

/// `people` (3 rows) and `audit` applied; returns the dump of that state.
fn seeded(db: &TempDb) -> String {
    migrator(people::base())
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    dump(&db.path)
}

fn columns(conn: &Connection, table: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_info(?1)")
        .unwrap();
    stmt.query_map([table], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

fn emails(path: &std::path::Path) -> Vec<String> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT email FROM people ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

/// SQLite's documented order: new table, copy, drop the old, rename the new.
const REBUILD_DOCUMENTED: &str = "
    CREATE TABLE people_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, team TEXT);
    INSERT INTO people_new SELECT id, email, team FROM people;
    DROP TABLE people;
    ALTER TABLE people_new RENAME TO people;";

/// The older order many histories use: rename the old table away first.
const REBUILD_RENAME_FIRST: &str = "
    ALTER TABLE people RENAME TO people_old;
    CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, team TEXT);
    INSERT INTO people SELECT id, email, team FROM people_old;
    DROP TABLE people_old;";

#[test]
fn a_lossless_rebuild_needs_no_declaration_in_either_order() {
    for rebuild in [REBUILD_DOCUMENTED, REBUILD_RENAME_FIRST] {
        let db = temp_db();
        seeded(&db);
        let list = people::with([sql(3, "not_null_email", rebuild, "SELECT 1")]);
        migrator(list).open(&db.path).unwrap().up().unwrap();
        let conn = Connection::open(&db.path).unwrap();
        assert_eq!(applied_seqs(&conn), [1, 2, 3]);
        assert_eq!(emails(&db.path), ["a@x", "b@x", "c@x"]);
        let sql: String = conn
            .query_row(
                "SELECT sql FROM sqlite_schema WHERE name = 'people'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(sql.contains("NOT NULL UNIQUE"), "{sql}");
        assert!(!table_exists(&conn, "people_old") && !table_exists(&conn, "people_new"));
        assert_eq!(count(&db.path, "audit"), 1);
    }
}

#[test]
fn a_rebuild_that_loses_rows_needs_destructive_in_either_order() {
    for rebuild in [REBUILD_DOCUMENTED, REBUILD_RENAME_FIRST] {
        let lossy = rebuild
            .replace("FROM people;", "FROM people WHERE team = 'blue';")
            .replace("FROM people_old;", "FROM people_old WHERE team = 'blue';");
        assert_ne!(lossy, rebuild);
        for flags in [Flags::NONE, Flags::NONE.with_rebuilds_tables(true)] {
            let db = temp_db();
            let before = seeded(&db);
            let list = people::with([sql(3, "lossy", &lossy, "SELECT 1").with_flags(flags)]);
            let err = refused(migrator(list).open(&db.path).unwrap().up(), &db, &before);
            assert!(
                matches!(&err, Error::RowsLost { tables, .. } if tables[0].table == "people"),
                "{err}"
            );
            assert_eq!(count(&db.path, "people"), 3);
        }
        let db = temp_db();
        seeded(&db);
        let list = people::with([people::destructive_flag(sql(
            3, "lossy", &lossy, "SELECT 1",
        ))]);
        migrator(list).open(&db.path).unwrap().up().unwrap();
        assert_eq!(emails(&db.path), ["c@x"]);
    }
}

#[test]
fn rebuild_only_allows_dropping_a_table_recreated_under_its_name() {
    // A filtered copy into another name, then the original dropped: 3 rows become 1.
    let db = temp_db();
    let before = seeded(&db);
    let copy_and_drop = "CREATE TABLE staff AS SELECT * FROM people WHERE team = 'blue';
                         DROP TABLE people;";
    for flags in [Flags::NONE, Flags::NONE.with_rebuilds_tables(true)] {
        let list =
            people::with([sql(3, "copy_and_drop", copy_and_drop, "SELECT 1").with_flags(flags)]);
        let err = refused(migrator(list).open(&db.path).unwrap().up(), &db, &before);
        assert!(
            matches!(&err, Error::UndeclaredDestruction { statements, .. } if statements == &["DROP TABLE people"]),
            "{err}"
        );
    }
    // An unrelated table dropped by a rebuild of another one: refused too.
    let unrelated = format!("{REBUILD_DOCUMENTED} DROP TABLE audit;");
    let list = people::with([people::rebuild_flag(sql(
        3,
        "rebuild_and_drop",
        &unrelated,
        "SELECT 1",
    ))]);
    let err = refused(migrator(list).open(&db.path).unwrap().up(), &db, &before);
    assert!(err.to_string().contains("DROP TABLE audit"), "{err}");
    // Renamed away then dropped is a drop, whatever the order.
    let hidden = "ALTER TABLE audit RENAME TO audit_gone; DROP TABLE audit_gone;";
    let list = people::with([sql(3, "rename_then_drop", hidden, "SELECT 1")]);
    let err = refused(migrator(list).open(&db.path).unwrap().up(), &db, &before);
    assert!(err.to_string().contains("DROP TABLE audit."), "{err}");
    assert_eq!(count(&db.path, "audit"), 1);
}

#[test]
fn replacing_a_table_by_a_view_or_virtual_table_of_its_name_needs_destructive() {
    // The name is still there, but the table and its rows are gone.
    let db = temp_db();
    let before = seeded(&db);
    for (name, body) in [
        (
            "people_view",
            "DROP TABLE people;
             CREATE VIEW people AS SELECT 1 AS id, 'x' AS email, 'y' AS team;",
        ),
        (
            "people_fts",
            "DROP TABLE people; CREATE VIRTUAL TABLE people USING fts5 (email, team);",
        ),
    ] {
        let list = people::with([sql(3, name, body, "SELECT 1")]);
        let err = refused(migrator(list).open(&db.path).unwrap().up(), &db, &before);
        assert!(
            matches!(&err, Error::UndeclaredDestruction { seq: 3, statements }
                if statements == &["DROP TABLE people"]),
            "{name}: {err}"
        );
        assert_eq!(count(&db.path, "people"), 3);
    }
    // Declared, it runs.
    let list = people::with([people::destructive_flag(sql(
        3,
        "people_view",
        "DROP TABLE people; CREATE VIEW people AS SELECT 1 AS id;",
        "SELECT 1",
    ))]);
    migrator(list).open(&db.path).unwrap().up().unwrap();
    assert_eq!(count(&db.path, "people"), 1);
    // The table renamed away and a view of the old name over it loses nothing.
    let db = temp_db();
    seeded(&db);
    let kept = "ALTER TABLE people RENAME TO people_v1;
                CREATE VIEW people AS SELECT * FROM people_v1;";
    let list = people::with([sql(3, "people_v1", kept, "SELECT 1")]);
    migrator(list).open(&db.path).unwrap().up().unwrap();
    assert_eq!(count(&db.path, "people"), 3);
    assert_eq!(count(&db.path, "people_v1"), 3);
}

#[test]
fn dropping_a_table_and_creating_another_needs_destructive() {
    // SQLite gives the new table the dropped one's freed root page: that is no rename.
    let db = temp_db();
    let before = seeded(&db);
    for (name, body) in [
        ("archive", "DROP TABLE people; CREATE TABLE archive (x);"),
        (
            "archive_filled",
            "DROP TABLE people; CREATE TABLE archive (x); INSERT INTO archive VALUES (1);",
        ),
    ] {
        let list = people::with([sql(3, name, body, "SELECT 1")]);
        let err = refused(migrator(list).open(&db.path).unwrap().up(), &db, &before);
        assert!(
            matches!(&err, Error::UndeclaredDestruction { seq: 3, statements }
                if statements == &["DROP TABLE people"]),
            "{name}: {err}"
        );
        assert_eq!(count(&db.path, "people"), 3);
    }
}

#[test]
fn renaming_a_table_is_not_a_loss() {
    let db = temp_db();
    seeded(&db);
    let list = people::with([sql(
        3,
        "rename",
        "ALTER TABLE audit RENAME TO audit_log",
        "SELECT 1",
    )]);
    migrator(list).open(&db.path).unwrap().up().unwrap();
    assert_eq!(count(&db.path, "audit_log"), 1);
}

#[test]
fn archiving_a_table_under_a_new_name_and_starting_it_afresh_is_no_loss() {
    // Every row is still there, in people_2023; the new people table starts empty.
    let db = temp_db();
    seeded(&db);
    let archive = "ALTER TABLE people RENAME TO people_2023;
                   CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT UNIQUE, team TEXT);";
    let list = people::with([sql(3, "archive_people", archive, "SELECT 1")]);
    migrator(list).open(&db.path).unwrap().up().unwrap();
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2, 3]);
    assert_eq!(count(&db.path, "people_2023"), 3);
    assert_eq!(count(&db.path, "people"), 0);
    // The archive is judged as the table it was: dropping a column of it loses its values.
    let db = temp_db();
    let before = seeded(&db);
    let archive_without_teams = format!("{archive} ALTER TABLE people_2023 DROP COLUMN team;");
    let list = people::with([sql(3, "archive_people", &archive_without_teams, "SELECT 1")]);
    let err = refused(migrator(list).open(&db.path).unwrap().up(), &db, &before);
    assert!(
        matches!(&err, Error::ColumnDataLost { columns, seq: 3 }
            if columns == &["people_2023.team"]),
        "{err}"
    );
}

#[test]
fn renaming_a_table_and_dropping_a_column_of_it_needs_destructive() {
    let db = temp_db();
    let before = seeded(&db);
    let renamed = "ALTER TABLE people RENAME TO persons; ALTER TABLE persons DROP COLUMN team;";
    let list = people::with([sql(3, "persons", renamed, "SELECT 1")]);
    let err = refused(migrator(list).open(&db.path).unwrap().up(), &db, &before);
    assert!(
        matches!(&err, Error::ColumnDataLost { columns, seq: 3 } if columns == &["persons.team"]),
        "{err}"
    );
    assert_eq!(
        columns(&Connection::open(&db.path).unwrap(), "people"),
        ["id", "email", "team"]
    );
    // Or overwriting the column in every row after the rename.
    let overwritten = "ALTER TABLE people RENAME TO persons; UPDATE persons SET team = 'x';";
    let list = people::with([sql(3, "persons", overwritten, "SELECT 1")]);
    let err = refused(migrator(list).open(&db.path).unwrap().up(), &db, &before);
    assert!(
        matches!(&err, Error::ColumnDataLost { columns, seq: 3 }
            if columns == &["persons.team (overwritten in every row)"]),
        "{err}"
    );
    // Renamed, with its columns renamed and one added: nothing lost.
    let kept = "ALTER TABLE people RENAME TO persons;
                ALTER TABLE persons RENAME COLUMN team TO squad;
                ALTER TABLE persons ADD COLUMN nick TEXT;";
    let list = people::with([sql(3, "persons", kept, "SELECT 1")]);
    migrator(list).open(&db.path).unwrap().up().unwrap();
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2, 3]);
    assert_eq!(columns(&conn, "persons"), ["id", "email", "squad", "nick"]);
    assert_eq!(count(&db.path, "persons"), 3);
}

#[test]
fn dropping_an_index_view_or_trigger_needs_no_declaration_and_is_recorded() {
    let db = temp_db();
    let mut list = people::base();
    list.push(sql(
        3,
        "objects",
        "CREATE INDEX people_team ON people (team);
         CREATE VIEW reds AS SELECT * FROM people WHERE team = 'red';
         CREATE TRIGGER people_audit AFTER INSERT ON people BEGIN INSERT INTO audit VALUES ('x'); END;",
        "SELECT 1",
    ));
    migrator(list.clone()).open(&db.path).unwrap().up().unwrap();
    list.push(sql(
        4,
        "drop_objects",
        "DROP INDEX people_team; DROP VIEW reds; DROP TRIGGER people_audit;",
        "SELECT 1",
    ));
    let mut session = migrator(list).open(&db.path).unwrap();
    session.up().unwrap();
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2, 3, 4]);
    let left: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name IN ('people_team', 'reds', 'people_audit')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
    assert_eq!(count(&db.path, "people"), 3);
    let history = session.history().unwrap();
    assert!(
        history
            .iter()
            .any(|h| h.event.seq == Some(4) && h.event.action == "up" && h.event.outcome == "ok"),
        "{history:?}"
    );
}

#[test]
fn dropping_a_column_that_holds_values_needs_destructive() {
    let db = temp_db();
    let before = seeded(&db);
    let drop_team = || {
        sql(
            3,
            "drop_team",
            "ALTER TABLE people DROP COLUMN team",
            "SELECT 1",
        )
    };
    let err = refused(
        migrator(people::with([drop_team()]))
            .open(&db.path)
            .unwrap()
            .up(),
        &db,
        &before,
    );
    assert!(
        matches!(&err, Error::ColumnDataLost { columns, seq: 3 } if columns == &["people.team"]),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("#[migration(seq = 3, destructive)]"),
        "{err}"
    );
    assert_eq!(
        columns(&Connection::open(&db.path).unwrap(), "people"),
        ["id", "email", "team"]
    );
    // The same through a rebuild without the column.
    let rebuild = "CREATE TABLE people_new (id INTEGER PRIMARY KEY, email TEXT UNIQUE);
                   INSERT INTO people_new SELECT id, email FROM people;
                   DROP TABLE people; ALTER TABLE people_new RENAME TO people;";
    let list = people::with([people::rebuild_flag(sql(3, "rebuild", rebuild, "SELECT 1"))]);
    let err = refused(migrator(list).open(&db.path).unwrap().up(), &db, &before);
    assert!(err.to_string().contains("people.team"), "{err}");
    // And a rebuild that keeps the column but forgets to copy it.
    let forgot = "CREATE TABLE people_new (id INTEGER PRIMARY KEY, email TEXT UNIQUE, team TEXT);
                  INSERT INTO people_new (id, email) SELECT id, email FROM people;
                  DROP TABLE people; ALTER TABLE people_new RENAME TO people;";
    let list = people::with([sql(3, "forgot", forgot, "SELECT 1")]);
    let err = refused(migrator(list).open(&db.path).unwrap().up(), &db, &before);
    assert!(err.to_string().contains("people.team"), "{err}");
    // Declared, it runs.
    let list = people::with([people::destructive_flag(drop_team())]);
    migrator(list).open(&db.path).unwrap().up().unwrap();
    assert_eq!(
        columns(&Connection::open(&db.path).unwrap(), "people"),
        ["id", "email"]
    );
}

#[test]
fn dropping_an_empty_column_or_renaming_one_needs_no_declaration() {
    let db = temp_db();
    seeded(&db);
    let list = people::with([
        sql(
            3,
            "add_nick",
            "ALTER TABLE people ADD COLUMN nick TEXT",
            "SELECT 1",
        ),
        sql(
            4,
            "drop_nick",
            "ALTER TABLE people DROP COLUMN nick",
            "SELECT 1",
        ),
        sql(
            5,
            "rename_team",
            "ALTER TABLE people RENAME COLUMN team TO squad",
            "SELECT 1",
        ),
    ]);
    migrator(list).open(&db.path).unwrap().up().unwrap();
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2, 3, 4, 5]);
    assert_eq!(columns(&conn, "people"), ["id", "email", "squad"]);
}

#[test]
fn replacing_a_column_by_a_new_one_at_its_place_needs_destructive() {
    // `team` is the last column: a column added after dropping it takes its place, and holds
    // values through its DEFAULT. That is not a rename: the teams are gone.
    let db = temp_db();
    let before = seeded(&db);
    let replace = "ALTER TABLE people DROP COLUMN team;
                   ALTER TABLE people ADD COLUMN plan TEXT NOT NULL DEFAULT 'free';";
    let list = people::with([sql(3, "team_to_plan", replace, "SELECT 1")]);
    let err = refused(migrator(list).open(&db.path).unwrap().up(), &db, &before);
    assert!(
        matches!(&err, Error::ColumnDataLost { columns, seq: 3 } if columns == &["people.team"]),
        "{err}"
    );
    assert_eq!(
        columns(&Connection::open(&db.path).unwrap(), "people"),
        ["id", "email", "team"]
    );
    // The same through a rebuild that fills the new column from its DEFAULT.
    let rebuild = "CREATE TABLE people_new (id INTEGER PRIMARY KEY, email TEXT UNIQUE,
                       plan TEXT NOT NULL DEFAULT 'free');
                   INSERT INTO people_new (id, email) SELECT id, email FROM people;
                   DROP TABLE people; ALTER TABLE people_new RENAME TO people;";
    let list = people::with([sql(3, "rebuild_plan", rebuild, "SELECT 1")]);
    let err = refused(migrator(list).open(&db.path).unwrap().up(), &db, &before);
    assert!(err.to_string().contains("people.team"), "{err}");
    // A rebuild that copies the column under a new name (and another type) keeps its values:
    // no declaration needed, in either order.
    let renamed = "CREATE TABLE people_new (id INTEGER PRIMARY KEY, email TEXT UNIQUE,
                       squad TEXT NOT NULL DEFAULT '');
                   INSERT INTO people_new SELECT id, email, team FROM people;
                   DROP TABLE people; ALTER TABLE people_new RENAME TO people;";
    let renamed_first = "ALTER TABLE people RENAME TO people_old;
                   CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT UNIQUE,
                       squad TEXT NOT NULL DEFAULT '');
                   INSERT INTO people SELECT id, email, team FROM people_old;
                   DROP TABLE people_old;";
    for (name, body) in [("renamed", renamed), ("renamed_first", renamed_first)] {
        let db = temp_db();
        seeded(&db);
        let list = people::with([sql(3, name, body, "SELECT 1")]);
        migrator(list).open(&db.path).unwrap().up().unwrap();
        let conn = Connection::open(&db.path).unwrap();
        assert_eq!(applied_seqs(&conn), [1, 2, 3]);
        assert_eq!(columns(&conn, "people"), ["id", "email", "squad"]);
        let squads: Vec<String> = conn
            .prepare("SELECT squad FROM people ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(squads, ["red", "red", "blue"]);
    }
}

#[test]
fn setting_a_column_null_in_every_row_needs_destructive() {
    let db = temp_db();
    let before = seeded(&db);
    let list = people::with([sql(
        3,
        "forget_teams",
        "UPDATE people SET team = NULL",
        "SELECT 1",
    )]);
    let err = refused(migrator(list).open(&db.path).unwrap().up(), &db, &before);
    assert!(
        matches!(&err, Error::ColumnDataLost { columns, .. } if columns == &["people.team"]),
        "{err}"
    );
    // Some rows only: no loss of the column.
    let list = people::with([sql(
        3,
        "one_team",
        "UPDATE people SET team = NULL WHERE id = 1",
        "SELECT 1",
    )]);
    migrator(list).open(&db.path).unwrap().up().unwrap();
}

#[test]
fn writable_schema_is_refused_unless_destructive() {
    let db = temp_db();
    let before = seeded(&db);
    let delete_audit = "PRAGMA writable_schema = ON;
                        DELETE FROM sqlite_schema WHERE name = 'audit';
                        PRAGMA writable_schema = OFF;";
    let err = refused(
        migrator(people::with([sql(
            3,
            "hide_audit",
            delete_audit,
            "SELECT 1",
        )]))
        .open(&db.path)
        .unwrap()
        .up(),
        &db,
        &before,
    );
    assert!(
        err.to_string().contains("writable_schema") && err.to_string().contains("destructive"),
        "{err}"
    );
    assert_eq!(count(&db.path, "audit"), 1);
    // Outside a transaction too: refused before it runs, nothing deleted.
    let outside = Migration::new(3, "hide_audit", Step::sql(delete_audit))
        .with_mode(migrate_sqlite::TxMode::NonTransactional);
    let err = migrator(people::with([outside]))
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    assert!(err.to_string().contains("writable_schema"), "{err}");
    let conn = Connection::open(&db.path).unwrap();
    assert!(table_exists(&conn, "audit"));
    assert_eq!(count(&db.path, "audit"), 1);
    assert_eq!(applied_seqs(&conn), [1, 2]);
    // Declared destructive, it may.
    let db = temp_db();
    seeded(&db);
    let declared = people::destructive_flag(sql(3, "hide_audit", delete_audit, "SELECT 1"));
    migrator(people::with([declared]))
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    let conn = Connection::open(&db.path).unwrap();
    assert!(!table_exists(&conn, "audit"));
    assert_eq!(pragma(&conn, "writable_schema"), 0);
}

#[test]
fn overwriting_a_whole_column_needs_destructive() {
    let db = temp_db();
    let before = seeded(&db);
    let everyone_red = || {
        sql(
            3,
            "everyone_red",
            "UPDATE people SET team = 'red'",
            "SELECT 1",
        )
    };
    let err = refused(
        migrator(people::with([everyone_red()]))
            .open(&db.path)
            .unwrap()
            .up(),
        &db,
        &before,
    );
    assert!(
        matches!(&err, Error::ColumnDataLost { columns, .. }
            if columns == &["people.team (overwritten in every row)"]),
        "{err}"
    );
    let conn = Connection::open(&db.path).unwrap();
    let blue: i64 = conn
        .query_row("SELECT count(*) FROM people WHERE team = 'blue'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(blue, 1, "rolled back");
    drop(conn);
    // Transforming a column's own values, backfilling a new column, or some rows: no loss.
    let list = people::with([
        sql(
            3,
            "upper_teams",
            "UPDATE people SET team = upper(team)",
            "SELECT 1",
        ),
        sql(
            4,
            "backfill",
            "ALTER TABLE people ADD COLUMN domain TEXT; UPDATE people SET domain = 'x';",
            "SELECT 1",
        ),
        sql(
            5,
            "one_red",
            "UPDATE people SET team = 'red' WHERE id = 3",
            "SELECT 1",
        ),
        // Every row's team recomputed in Rust, row by row: it reads the table first.
        Migration::new(
            6,
            "teams_by_domain",
            Step::new(|tx| {
                let rows: Vec<(i64, String)> = tx
                    .prepare("SELECT id, team FROM people")?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()?;
                for (id, team) in rows {
                    tx.execute(
                        "UPDATE people SET team = ?1 WHERE id = ?2",
                        rusqlite::params![team.to_lowercase(), id],
                    )?;
                }
                Ok(())
            }),
        ),
    ]);
    migrator(list).open(&db.path).unwrap().up().unwrap();
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2, 3, 4, 5, 6]);
    let teams: String = conn
        .query_row(
            "SELECT group_concat(team || domain, ',') FROM people",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(teams, "redx,redx,redx");
    drop(conn);
    // Declared, it runs.
    let db = temp_db();
    seeded(&db);
    let list = people::with([people::destructive_flag(everyone_red())]);
    migrator(list).open(&db.path).unwrap().up().unwrap();
    assert_eq!(count(&db.path, "people"), 3);
}

#[test]
fn a_table_dropped_outside_a_transaction_is_refused_and_restored() {
    let db = temp_db();
    seeded(&db);
    let drop_audit = Migration::new(3, "drop_audit", Step::sql("DROP TABLE audit"))
        .with_mode(migrate_sqlite::TxMode::NonTransactional);
    let err = migrator_with_backups(people::with([drop_audit]))
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    assert!(err.to_string().contains("DROP TABLE audit"), "{err}");
    // The pre-migration backup was put back: the table and its row are there.
    assert_eq!(count(&db.path, "audit"), 1);
    assert_eq!(applied_seqs(&Connection::open(&db.path).unwrap()), [1, 2]);
}

#[test]
fn without_row_counts_only_rebuild_may_drop_and_only_a_recreated_table() {
    let db = temp_db();
    let before = seeded(&db);
    let unguarded = |list| migrator(list).without_row_counts();
    // Undeclared, the documented rebuild is refused: nothing proves it kept the rows.
    let list = people::with([sql(3, "rebuild", REBUILD_DOCUMENTED, "SELECT 1")]);
    let err = refused(unguarded(list).open(&db.path).unwrap().up(), &db, &before);
    assert!(err.to_string().contains("DROP TABLE people"), "{err}");
    // `rebuild` may not drop a table it does not recreate.
    let list = people::with([people::rebuild_flag(sql(
        3,
        "drop",
        "DROP TABLE audit",
        "SELECT 1",
    ))]);
    let err = refused(unguarded(list).open(&db.path).unwrap().up(), &db, &before);
    assert!(err.to_string().contains("DROP TABLE audit"), "{err}");
    // Declared `rebuild`, the recreated table may be dropped.
    let list = people::with([people::rebuild_flag(sql(
        3,
        "rebuild",
        REBUILD_DOCUMENTED,
        "SELECT 1",
    ))]);
    unguarded(list).open(&db.path).unwrap().up().unwrap();
    assert_eq!(emails(&db.path), ["a@x", "b@x", "c@x"]);
    assert_eq!(
        applied_seqs(&Connection::open(&db.path).unwrap()),
        [1, 2, 3]
    );
}
