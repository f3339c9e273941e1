//! The table-rebuild helper (`Rebuild`, `Tx::rebuild_table`), run by the Migrator on real files:
//! the changes ALTER TABLE cannot make, the cascade trap, the objects that hang off the table,
//! and failures that must leave the database as it was.

mod common;
use common::*;
use migrate_sqlite::{Error, Flags, Migration, Rebuild, Step, Tx};
use rusqlite::Connection;

/// Applies `schema` (seq 1), then `rebuild` as seq 2, declared `rebuild` (which a rebuild that
/// keeps every row and every column's values does not need); returns the run's result.
fn apply(
    db: &TempDb,
    schema: &str,
    rebuild: impl Fn(&Tx) -> migrate_sqlite::Result<()> + Send + Sync + 'static,
) -> migrate_sqlite::Result<()> {
    apply_with(db, schema, Flags::NONE.with_rebuilds_tables(true), rebuild)
}

/// [`apply`] for a rebuild that drops a column holding values: declared `destructive`.
fn apply_dropping_data(
    db: &TempDb,
    schema: &str,
    rebuild: impl Fn(&Tx) -> migrate_sqlite::Result<()> + Send + Sync + 'static,
) -> migrate_sqlite::Result<()> {
    apply_with(db, schema, Flags::NONE.with_destructive(true), rebuild)
}

/// Migration 2: a step that rebuilds tables, declared `rebuild`.
fn rebuild_step(
    f: impl Fn(&Tx) -> migrate_sqlite::Result<()> + Send + Sync + 'static,
) -> Migration {
    Migration::new(2, "rebuild", Step::new(f)).with_flags(Flags::NONE.with_rebuilds_tables(true))
}

fn apply_with(
    db: &TempDb,
    schema: &str,
    flags: Flags,
    rebuild: impl Fn(&Tx) -> migrate_sqlite::Result<()> + Send + Sync + 'static,
) -> migrate_sqlite::Result<()> {
    migrator(vec![Migration::new(1, "schema", Step::sql(schema))])
        .open(&db.path)?
        .up()?;
    migrator(vec![
        Migration::new(1, "schema", Step::sql(schema)),
        Migration::new(2, "rebuild", Step::new(rebuild)).with_flags(flags),
    ])
    .open(&db.path)?
    .up()?;
    Ok(())
}

fn query<T: rusqlite::types::FromSql>(conn: &Connection, sql: &str) -> T {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn columns(conn: &Connection, table: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_info(?1)")
        .unwrap();
    stmt.query_map([table], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The failure a migration returned, under the runner's wrapper.
fn rebuild_error(error: &Error) -> &Error {
    match error {
        Error::MigrationFailed { source, .. } => source,
        other => panic!("expected a migration failure, got {other}"),
    }
}

const USERS: &str = "
    CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, age TEXT, legacy BLOB);
    INSERT INTO users VALUES (1, 'ada', '36', x'00'), (2, 'bob', NULL, NULL), (3, 'cy', '7', NULL);
";

#[test]
fn drops_a_column() {
    let db = temp_db();
    let drop_legacy = |tx: &Tx| {
        let rows = tx.rebuild_table(
            "users",
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, age TEXT)",
        )?;
        assert_eq!(rows, 3);
        Ok(())
    };
    // `legacy` holds a value: dropping it is data loss, which `rebuild` alone does not declare.
    let err = apply(&db, USERS, drop_legacy).unwrap_err();
    assert!(
        matches!(rebuild_error(&err), Error::ColumnDataLost { columns, .. } if columns == &["users.legacy"]),
        "{err}"
    );
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(columns(&conn, "users"), ["id", "name", "age", "legacy"]);
    assert_eq!(applied_seqs(&conn), [1]);
    drop(conn);
    apply_dropping_data(&db, USERS, drop_legacy).unwrap();
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(columns(&conn, "users"), ["id", "name", "age"]);
    let names: String = query(
        &conn,
        "SELECT group_concat(name, ',') FROM users ORDER BY id",
    );
    assert_eq!(names, "ada,bob,cy");
    assert!(!table_exists(&conn, "_migrate_rebuild_users"));
    assert_eq!(applied_seqs(&conn), [1, 2]);
}

#[test]
fn changes_a_column_type() {
    let db = temp_db();
    apply_dropping_data(&db, USERS, |tx| {
        Rebuild::new("users")
            .definition("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, age INTEGER)")
            .column("age", "CAST(age AS INTEGER)")
            .run(tx)?;
        Ok(())
    })
    .unwrap();
    let conn = Connection::open(&db.path).unwrap();
    let types: String = query(
        &conn,
        "SELECT group_concat(typeof(age), ',') FROM (SELECT age FROM users ORDER BY id)",
    );
    assert_eq!(types, "integer,null,integer");
    let sum: i64 = query(&conn, "SELECT sum(age) FROM users");
    assert_eq!(sum, 43);
}

#[test]
fn adds_not_null_with_a_default() {
    let db = temp_db();
    // The new definition leaves out `legacy` (which holds a value in row 1): `created` takes
    // its place, which is no rename, so the migration declares that it drops data.
    apply_dropping_data(&db, USERS, |tx| {
        Rebuild::new("users")
            .definition(
                "CREATE TABLE users (
                     id INTEGER PRIMARY KEY, name TEXT, age TEXT NOT NULL DEFAULT '0',
                     created TEXT NOT NULL DEFAULT 'long ago')",
            )
            .column("age", "coalesce(age, '0')")
            .run(tx)?;
        Ok(())
    })
    .unwrap();
    let conn = Connection::open(&db.path).unwrap();
    let ages: String = query(
        &conn,
        "SELECT group_concat(age, ',') FROM users ORDER BY id",
    );
    assert_eq!(ages, "36,0,7");
    let created: i64 = query(
        &conn,
        "SELECT count(*) FROM users WHERE created = 'long ago'",
    );
    assert_eq!(
        created, 3,
        "a column only in the new table gets its default"
    );
    // The constraint is really there now.
    conn.execute("INSERT INTO users (name, age) VALUES ('dee', NULL)", [])
        .unwrap_err();
}

#[test]
fn not_null_without_a_copy_expression_fails_and_names_the_step() {
    let db = temp_db();
    let err = apply(&db, USERS, |tx| {
        tx.rebuild_table(
            "users",
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, age TEXT NOT NULL)",
        )?;
        Ok(())
    })
    .unwrap_err();
    let inner = rebuild_error(&err);
    assert!(
        matches!(inner, Error::Rebuild { table, step, sql: Some(sql), .. }
            if table == "users" && step == "copying the rows" && sql.starts_with("INSERT INTO")),
        "{inner:?}"
    );
    assert!(inner.to_string().contains("NOT NULL"), "{inner}");
}

const ORDERS: &str = "
    CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);
    CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, total INTEGER);
    INSERT INTO users VALUES (1, 'ada'), (2, 'bob');
    INSERT INTO orders VALUES (10, 1, 5), (11, 2, 7), (12, 1, 9);
";

const ORDERS_WITH_FK: &str = "CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    total INTEGER)";

#[test]
fn adds_a_foreign_key() {
    let db = temp_db();
    apply(&db, ORDERS, |tx| {
        tx.rebuild_table("orders", ORDERS_WITH_FK)?;
        Ok(())
    })
    .unwrap();
    let conn = Connection::open(&db.path).unwrap();
    let parent: String = query(
        &conn,
        "SELECT \"table\" FROM pragma_foreign_key_list('orders')",
    );
    assert_eq!(parent, "users");
    assert_eq!(pragma(&conn, "foreign_keys"), 1);
    conn.execute("INSERT INTO orders (user_id, total) VALUES (99, 1)", [])
        .unwrap_err();
    // And it cascades now.
    conn.execute("DELETE FROM users WHERE id = 1", []).unwrap();
    let left: i64 = query(&conn, "SELECT count(*) FROM orders");
    assert_eq!(left, 1);
}

#[test]
fn a_foreign_key_the_data_violates_fails_and_changes_nothing() {
    let db = temp_db();
    let schema = format!("{ORDERS} INSERT INTO orders VALUES (13, 42, 1);");
    migrator(vec![Migration::new(1, "schema", Step::sql(schema.clone()))])
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    let before = dump(&db.path);
    let err = migrator(vec![
        Migration::new(1, "schema", Step::sql(schema)),
        rebuild_step(|tx| {
            tx.rebuild_table("orders", ORDERS_WITH_FK)?;
            Ok(())
        }),
    ])
    .open(&db.path)
    .unwrap()
    .up()
    .unwrap_err();
    let inner = rebuild_error(&err);
    assert!(
        matches!(inner, Error::Rebuild { step, .. } if step == "PRAGMA foreign_key_check"),
        "{inner:?}"
    );
    assert!(
        inner.to_string().contains("orders rowid 13 -> users"),
        "{inner}"
    );
    assert_eq!(dump(&db.path), before);
}

#[test]
fn rebuilding_a_parent_keeps_its_cascading_children() {
    let db = temp_db();
    let schema = format!(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);
         {ORDERS_WITH_FK};
         INSERT INTO users VALUES (1, 'ada'), (2, 'bob');
         INSERT INTO orders VALUES (10, 1, 5), (11, 2, 7), (12, 1, 9);"
    );
    apply(&db, &schema, |tx| {
        tx.rebuild_table(
            "users",
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL COLLATE NOCASE)",
        )?;
        Ok(())
    })
    .unwrap();
    let conn = Connection::open(&db.path).unwrap();
    let orders: i64 = query(&conn, "SELECT count(*) FROM orders");
    assert_eq!(orders, 3, "DROP TABLE users must not cascade to orders");
    let violations: i64 = query(&conn, "SELECT count(*) FROM pragma_foreign_key_check");
    assert_eq!(violations, 0);
    // The children's foreign key still points at `users`, not at a temporary name.
    let parent: String = query(
        &conn,
        "SELECT \"table\" FROM pragma_foreign_key_list('orders')",
    );
    assert_eq!(parent, "users");
    let orders_sql: String = query(&conn, "SELECT sql FROM sqlite_schema WHERE name = 'orders'");
    assert!(!orders_sql.contains("_migrate_rebuild"), "{orders_sql}");
    // Enforcement is back on and the cascade works against the rebuilt parent.
    assert_eq!(pragma(&conn, "foreign_keys"), 1);
    conn.execute("DELETE FROM users WHERE id = 1", []).unwrap();
    let orders: i64 = query(&conn, "SELECT count(*) FROM orders");
    assert_eq!(orders, 1);
}

const WITH_OBJECTS: &str = "
    CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, qty TEXT, note TEXT);
    CREATE UNIQUE INDEX items_name ON items (name);
    CREATE TABLE audit (item_id INTEGER, what TEXT);
    CREATE TRIGGER items_audit AFTER INSERT ON items
        BEGIN INSERT INTO audit VALUES (NEW.id, 'insert ' || NEW.name); END;
    CREATE VIEW stocked AS SELECT name, qty FROM items WHERE qty > 0;
    CREATE TABLE inbox (name TEXT, qty INTEGER);
    CREATE TRIGGER inbox_to_items AFTER INSERT ON inbox
        BEGIN INSERT INTO items (name, qty) VALUES (NEW.name, NEW.qty); END;
    INSERT INTO items (name, qty, note) VALUES ('apple', '3', 'x'), ('plum', '5', NULL);
    -- As if a third row had been deleted: the counter is ahead of max(id).
    UPDATE sqlite_sequence SET seq = 3 WHERE name = 'items';
";

#[test]
fn indexes_triggers_and_views_work_afterwards() {
    let db = temp_db();
    apply_dropping_data(&db, WITH_OBJECTS, |tx| {
        Rebuild::new("items")
            .definition(
                "CREATE TABLE items (
                     id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,
                     qty INTEGER NOT NULL DEFAULT 0)",
            )
            .column("qty", "CAST(qty AS INTEGER)")
            .run(tx)?;
        Ok(())
    })
    .unwrap();
    let conn = Connection::open(&db.path).unwrap();
    let objects: String = query(
        &conn,
        "SELECT group_concat(type || ' ' || name, ', ') FROM (
             SELECT type, name FROM sqlite_schema
             WHERE name IN ('items_name', 'items_audit', 'stocked', 'inbox_to_items')
             ORDER BY name)",
    );
    assert_eq!(
        objects,
        "trigger inbox_to_items, trigger items_audit, index items_name, view stocked"
    );
    // The unique index is back and enforced.
    conn.execute("INSERT INTO items (name, qty) VALUES ('apple', 1)", [])
        .unwrap_err();
    // The trigger on another table writes into the rebuilt table, whose own trigger fires.
    conn.execute("INSERT INTO inbox VALUES ('fig', 2)", [])
        .unwrap();
    let fig: (i64, String) = conn
        .query_row(
            "SELECT item_id, what FROM audit WHERE what = 'insert fig'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    // AUTOINCREMENT kept its counter (3), not max(id) (2): a deleted row's id is not reused.
    assert_eq!(fig.0, 4);
    // The view reads the rebuilt table.
    let stocked: String = query(
        &conn,
        "SELECT group_concat(name || '=' || qty, ',') FROM (SELECT * FROM stocked ORDER BY name)",
    );
    assert_eq!(stocked, "apple=3,fig=2,plum=5");
    let check: String = query(&conn, "PRAGMA integrity_check");
    assert_eq!(check, "ok");
    assert_eq!(pragma(&conn, "legacy_alter_table"), 0);
}

#[test]
fn a_view_the_new_definition_breaks_fails_the_rebuild() {
    let db = temp_db();
    migrator(vec![Migration::new(1, "schema", Step::sql(WITH_OBJECTS))])
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    let before = dump(&db.path);
    let err = migrator(vec![
        Migration::new(1, "schema", Step::sql(WITH_OBJECTS)),
        rebuild_step(|tx| {
            // Drops `qty`, which the view `stocked` selects.
            tx.rebuild_table(
                "items",
                "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, note TEXT)",
            )?;
            Ok(())
        }),
    ])
    .open(&db.path)
    .unwrap()
    .up()
    .unwrap_err();
    let inner = rebuild_error(&err).to_string();
    assert!(inner.contains("view \"stocked\""), "{inner}");
    assert!(inner.contains("no such column: qty"), "{inner}");
    assert_eq!(dump(&db.path), before);
}

#[test]
fn a_copy_that_loses_rows_fails_and_changes_nothing() {
    let db = temp_db();
    migrator(vec![Migration::new(1, "schema", Step::sql(WITH_OBJECTS))])
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    let before = dump(&db.path);
    let before_bytes_len = bytes(&db.path).len();
    let err = migrator(vec![
        Migration::new(1, "schema", Step::sql(WITH_OBJECTS)),
        rebuild_step(|tx| {
            Rebuild::new("items")
                .definition("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
                .copy_select("SELECT id, name FROM items WHERE name <> 'plum'")
                .run(tx)?;
            Ok(())
        }),
    ])
    .open(&db.path)
    .unwrap()
    .up()
    .unwrap_err();
    let inner = rebuild_error(&err);
    assert!(
        matches!(inner, Error::Rebuild { step, .. } if step == "checking the row count"),
        "{inner:?}"
    );
    let text = inner.to_string();
    assert!(
        text.contains("1 row(s) into the new table but \"items\" has 2"),
        "{text}"
    );
    assert_eq!(dump(&db.path), before);
    assert_eq!(bytes(&db.path).len(), before_bytes_len);
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1]);
}

#[test]
fn a_failed_rebuild_can_be_caught_inside_the_migration() {
    let db = temp_db();
    apply_dropping_data(&db, USERS, |tx| {
        let refused = tx.rebuild_table(
            "users",
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, age TEXT NOT NULL)",
        );
        assert!(refused.is_err());
        // Its savepoint was rolled back: the old table is intact and no temporary table is left.
        assert_eq!(tx.row_count("users")?, 3);
        assert_eq!(columns(tx, "users"), ["id", "name", "age", "legacy"]);
        tx.rebuild_table(
            "users",
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, age TEXT)",
        )?;
        Ok(())
    })
    .unwrap();
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(columns(&conn, "users"), ["id", "name", "age"]);
}

#[test]
fn refuses_a_definition_for_another_table_or_a_missing_table() {
    let db = temp_db();
    let err = apply(&db, USERS, |tx| {
        tx.rebuild_table("users", "CREATE TABLE people (id INTEGER PRIMARY KEY)")?;
        Ok(())
    })
    .unwrap_err();
    let text = rebuild_error(&err).to_string();
    assert!(text.contains("creates \"people\", not \"users\""), "{text}");
    let db = temp_db();
    let err = apply(&db, USERS, |tx| {
        tx.rebuild_table("nobody", "CREATE TABLE nobody (id INTEGER PRIMARY KEY)")?;
        Ok(())
    })
    .unwrap_err();
    let text = rebuild_error(&err).to_string();
    assert!(
        text.contains("there is no table named \"nobody\""),
        "{text}"
    );
}
