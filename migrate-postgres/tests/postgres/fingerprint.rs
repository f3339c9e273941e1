//! The catalog fingerprint: stable across runs, connections, search paths and databases;
//! naming the objects that changed; blind to the runner's own objects.

use crate::common::db;
use migrate_postgres::{SchemaDiff, Step, fingerprint};

const SCHEMA: &str = "
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');
CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    name text NOT NULL COLLATE \"C\", mail email, mood mood DEFAULT 'ok',
                    created timestamptz NOT NULL DEFAULT now());
CREATE TABLE orders (id serial PRIMARY KEY, user_id bigint REFERENCES users ON DELETE CASCADE,
                     total numeric(10, 2) CHECK (total >= 0));
CREATE INDEX orders_user ON orders (user_id) WHERE total > 0;
CREATE VIEW big_orders AS SELECT o.id, u.name FROM orders o JOIN users u ON u.id = o.user_id
  WHERE o.total > 100;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();
CREATE SCHEMA reporting;
CREATE TABLE reporting.daily (day date PRIMARY KEY, n int);
";

#[test]
fn the_same_schema_has_the_same_fingerprint_in_every_run_and_database() {
    let (Some(a), Some(b)) = (db(), db()) else {
        return;
    };
    // Different oids: b gets a throwaway table first.
    b.client()
        .batch_execute("CREATE TABLE pad (id int); DROP TABLE pad")
        .unwrap();
    a.client().batch_execute(SCHEMA).unwrap();
    b.client().batch_execute(SCHEMA).unwrap();

    let mut conn_a = a.connect();
    let objects = conn_a.schema_objects().unwrap();
    let first = fingerprint(&objects);
    assert_eq!(fingerprint(&conn_a.schema_objects().unwrap()), first);
    // Another search path prints the same definitions (the query runs under pg_catalog).
    conn_a
        .client()
        .batch_execute("SET search_path = reporting, public")
        .unwrap();
    assert_eq!(fingerprint(&conn_a.schema_objects().unwrap()), first);
    assert_eq!(fingerprint(&b.connect().schema_objects().unwrap()), first);

    let kinds: std::collections::BTreeSet<&str> =
        objects.keys().map(|(kind, _)| kind.as_str()).collect();
    for kind in [
        "constraint",
        "domain",
        "enum",
        "function",
        "index",
        "schema",
        "sequence",
        "table",
        "trigger",
        "view",
    ] {
        assert!(kinds.contains(kind), "no {kind} in {kinds:?}");
    }
    // Definitions are schema-qualified.
    let fk = &objects[&(
        "constraint".to_owned(),
        "public.orders.orders_user_id_fkey".to_owned(),
    )];
    assert!(fk.contains("REFERENCES public.users(id)"), "{fk}");
}

#[test]
fn a_hand_made_change_is_named() {
    let Some(db) = db() else { return };
    db.client().batch_execute(SCHEMA).unwrap();
    let mut conn = db.connect();
    let recorded = conn.schema_objects().unwrap();
    db.client()
        .batch_execute(
            "ALTER TABLE users ADD COLUMN nick text; CREATE INDEX users_name ON users (name);
             DROP VIEW big_orders; ALTER TYPE mood ADD VALUE 'angry'",
        )
        .unwrap();
    let diff = SchemaDiff::between(&recorded, &conn.schema_objects().unwrap());
    assert_eq!(diff.added, ["index public.users_name"]);
    assert_eq!(diff.removed, ["view public.big_orders"]);
    assert_eq!(diff.changed, ["enum public.mood", "table public.users"]);
}

#[test]
fn the_runners_own_objects_are_not_part_of_the_schema() {
    let Some(db) = db() else { return };
    db.client().batch_execute(SCHEMA).unwrap();
    let mut conn = db.connect();
    let before = fingerprint(&conn.schema_objects().unwrap());
    let mut lock = conn.lock().unwrap();
    let mut batch = lock.begin().unwrap();
    // Inside the batch too, and without leaking its search_path into the next migration.
    let inside = batch.schema_objects().unwrap();
    assert_eq!(fingerprint(&inside), before);
    let path = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let seen = path.clone();
    let probe = Step::new(move |tx| {
        *seen.lock().unwrap() = tx.query_one("SHOW search_path", &[])?.get(0);
        Ok(())
    });
    batch.run_step(1, "probe", &probe).unwrap();
    assert_eq!(*path.lock().unwrap(), "\"$user\", public");
    batch.commit().unwrap();
    assert_eq!(fingerprint(&lock.schema_objects().unwrap()), before);
}
