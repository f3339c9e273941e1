//! The dry run (`Session::dry_run*`): every migration run in the runner's transaction and
//! rolled back, under the migration lock, reporting per migration its SQL, schema changes,
//! rows, table locks (`pg_locks`), rewrites (relfilenode) and warnings. After every dry run the
//! database is as it was: catalog, rows, tracking rows, no open transaction, no lock.

use crate::common::{count, db, exists, lock_holders};
use migrate_core::protocol::Refusal;
use migrate_postgres::testing::TestDatabase;
use migrate_postgres::{
    CoreError, DryRun, DryRunOptions, DryRunOutcome, DryRunStep, Error, Flags, LockMode, Migration,
    Migrator, SchemaObjects, Session, Settings, Step, WarningKind, lock_key,
};
use migrate_postgres::{DryRunOperation, TableChange};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// customers (100 rows) and orders (2000 rows, 20 per customer), made outside migrations.
fn shop(db: &TestDatabase) {
    db.client()
        .batch_execute(
            "CREATE TABLE customers (id bigint PRIMARY KEY, name text);
             INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 100) g;
             CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint, total integer,
                                  note text);
             INSERT INTO orders SELECT g, g % 100 + 1, g, NULL FROM generate_series(1, 2000) g;",
        )
        .unwrap();
}

/// What must not change: schema objects, rows, tracking rows.
#[derive(Debug, PartialEq)]
struct State {
    objects: SchemaObjects,
    rows: Vec<(String, i64)>,
    tracking: Option<i64>,
}

fn state(db: &TestDatabase) -> State {
    let objects = db.connect().schema_objects().unwrap();
    let mut client = db.client();
    let tables: Vec<String> = client
        .query(
            // A materialized view never populated cannot be counted.
            "SELECT format('%I.%I', s.schemaname, s.relname) FROM pg_stat_user_tables s
             JOIN pg_class c ON c.oid = s.relid WHERE c.relispopulated ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let rows = tables
        .into_iter()
        .map(|t| {
            let n = count(&mut client, &t);
            (t, n)
        })
        .collect();
    let tracking = exists(&mut client, "public._migrate_applied")
        .then(|| count(&mut client, "public._migrate_applied"));
    State {
        objects,
        rows,
        tracking,
    }
}

/// The dry run's session is idle (no transaction left open) and holds no migration lock.
fn assert_session_clean(db: &TestDatabase, session: &mut Session) {
    let pid: i32 = session
        .connection()
        .client()
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let mut other = db.client();
    let row = other
        .query_one(
            "SELECT state, backend_xid IS NULL, xact_start IS NULL FROM pg_stat_activity
             WHERE pid = $1",
            &[&pid],
        )
        .unwrap();
    let (activity, no_xid, no_xact): (String, bool, bool) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(
        (activity.as_str(), no_xid, no_xact),
        ("idle", true, true),
        "the dry run left its session in a transaction"
    );
    assert!(lock_holders(&mut other, lock_key("public")).is_empty());
    let read_only: String = session
        .connection()
        .client()
        .query_one("SHOW default_transaction_read_only", &[])
        .unwrap()
        .get(0);
    assert_eq!(read_only, "off");
}

/// Dry-runs `migrations` (with `options`) and checks that nothing changed.
fn dry_run(db: &TestDatabase, migrations: Vec<Migration>, options: &DryRunOptions) -> DryRun {
    let before = state(db);
    let mut session = Migrator::new()
        .with_migrations(migrations)
        .on(db.connect())
        .unwrap();
    let dry = session.dry_run_with(DryRunOperation::Up, options).unwrap();
    assert_eq!(state(db), before, "the dry run changed the database");
    assert_session_clean(db, &mut session);
    dry
}

fn sql(seq: u64, name: &str, text: &str) -> Migration {
    Migration::new(seq, name, Step::sql(text))
}

/// Declared destructive: the runner's data-loss checks let it through, as the real run would.
fn deleting(seq: u64, name: &str, text: &str) -> Migration {
    sql(seq, name, text).with_flags(Flags::NONE.with_destructive(true))
}

fn lock_on(step: &DryRunStep, table: &str) -> Option<LockMode> {
    step.locks.iter().find(|l| l.table == table).map(|l| l.mode)
}

fn kinds(step: &DryRunStep) -> Vec<WarningKind> {
    step.warnings.iter().map(|w| w.kind).collect()
}

#[test]
fn an_index_without_concurrently_takes_share_on_the_table_and_warns_above_the_threshold() {
    let Some(db) = db() else { return };
    shop(&db);
    let index = || {
        vec![sql(
            1,
            "add_order_index",
            "CREATE INDEX orders_customer ON orders (customer_id)",
        )]
    };
    let small = DryRunOptions::default();
    let dry = dry_run(&db, index(), &small);
    let m = &dry.migrations[0];
    assert_eq!(m.outcome, DryRunOutcome::Succeeded);
    assert_eq!(
        m.statements,
        ["CREATE INDEX orders_customer ON orders (customer_id)"]
    );
    assert_eq!(lock_on(m, "public.orders"), Some(LockMode::Share));
    assert_eq!(lock_on(m, "public.customers"), None);
    assert!(m.rewrites.is_empty());
    assert!(
        m.schema
            .added
            .contains(&"index public.orders_customer".to_owned()),
        "{:?}",
        m.schema
    );
    // 2000 rows and a few hundred kB: below the default threshold.
    assert!(kinds(m).is_empty(), "{:?}", m.warnings);

    let big = DryRunOptions::default().big_table_rows(1000);
    let dry = dry_run(&db, index(), &big);
    let m = &dry.migrations[0];
    assert_eq!(kinds(m), [WarningKind::IndexWithoutConcurrently]);
    assert!(m.warnings[0].instead.contains("CONCURRENTLY"));
    assert!(!exists(&mut db.client(), "public.orders_customer"));
}

#[test]
fn a_type_change_rewrites_the_table_under_access_exclusive() {
    let Some(db) = db() else { return };
    shop(&db);
    let dry = dry_run(
        &db,
        vec![sql(
            1,
            "widen_total",
            "ALTER TABLE orders ALTER COLUMN total TYPE bigint",
        )],
        &DryRunOptions::default(),
    );
    let m = &dry.migrations[0];
    assert_eq!(lock_on(m, "public.orders"), Some(LockMode::AccessExclusive));
    assert_eq!(m.rewrites.len(), 1, "{:?}", m.rewrites);
    assert_eq!(m.rewrites[0].table, "public.orders");
    assert!(
        m.rewrites[0].reason.contains("total (integer -> bigint)"),
        "{}",
        m.rewrites[0].reason
    );
    assert!(m.rewrites[0].size_bytes > 0);
    assert_eq!(kinds(m), [WarningKind::TableRewrite]);
    let text = dry.to_string();
    assert!(
        text.contains("migration 1 widen_total (up): holds ACCESS EXCLUSIVE on public.orders (")
            && text.contains(") and rewrites it"),
        "{text}"
    );
    let big = DryRunOptions::default().big_table_bytes(1);
    let dry = dry_run(
        &db,
        vec![sql(
            1,
            "widen_total",
            "ALTER TABLE orders ALTER COLUMN total TYPE bigint",
        )],
        &big,
    );
    assert_eq!(
        kinds(&dry.migrations[0]),
        [WarningKind::TableRewrite, WarningKind::AccessExclusive]
    );
    // The advice names real commands: the migration's seq, not a placeholder.
    let advice = &dry.migrations[0].warnings[1].instead;
    let commands: Vec<&str> = advice.split('`').skip(1).step_by(2).collect();
    assert_eq!(commands, ["migrate up --to 1", "migrate up"], "{advice}");
    print!("{dry}");
}

#[test]
fn a_nullable_column_without_default_does_not_rewrite_and_a_volatile_default_does() {
    let Some(db) = db() else { return };
    shop(&db);
    let dry = dry_run(
        &db,
        vec![
            sql(1, "add_note2", "ALTER TABLE orders ADD COLUMN note2 text"),
            sql(
                2,
                "add_seen_at",
                "ALTER TABLE orders ADD COLUMN seen_at timestamptz DEFAULT clock_timestamp()",
            ),
            sql(
                3,
                "add_flag",
                "ALTER TABLE orders ADD COLUMN flag int DEFAULT 0",
            ),
        ],
        &DryRunOptions::default(),
    );
    let [plain, volatile, constant] = &dry.migrations[..] else {
        panic!("{dry:?}")
    };
    assert_eq!(
        lock_on(plain, "public.orders"),
        Some(LockMode::AccessExclusive)
    );
    assert!(plain.rewrites.is_empty(), "{:?}", plain.rewrites);
    assert!(kinds(plain).is_empty());
    assert_eq!(volatile.rewrites.len(), 1);
    assert!(
        volatile.rewrites[0].reason.contains("volatile default"),
        "{}",
        volatile.rewrites[0].reason
    );
    assert_eq!(kinds(volatile), [WarningKind::TableRewrite]);
    // Its lock was taken first by migration 1: attributed there, not repeated.
    assert_eq!(lock_on(volatile, "public.orders"), None);
    assert!(constant.rewrites.is_empty(), "{:?}", constant.rewrites);
    let held = dry.held_until_commit();
    assert_eq!(held.len(), 1);
    assert_eq!((held[0].0, held[0].1.mode), (1, LockMode::AccessExclusive));
}

#[test]
fn set_not_null_warns_unless_a_validated_check_proves_it() {
    let Some(db) = db() else { return };
    shop(&db);
    db.client()
        .batch_execute("ALTER TABLE customers ADD CONSTRAINT name_nn CHECK (name IS NOT NULL)")
        .unwrap();
    let dry = dry_run(
        &db,
        vec![
            sql(
                1,
                "note_required",
                "UPDATE orders SET note = 'n'; ALTER TABLE orders ALTER COLUMN note SET NOT NULL",
            ),
            sql(
                2,
                "name_required",
                "ALTER TABLE customers ALTER COLUMN name SET NOT NULL",
            ),
        ],
        &DryRunOptions::default(),
    );
    let [note, name] = &dry.migrations[..] else {
        panic!("{dry:?}")
    };
    assert_eq!(kinds(note), [WarningKind::SetNotNull]);
    assert!(
        note.warnings[0]
            .observed
            .contains("column note of public.orders")
    );
    assert!(note.warnings[0].instead.contains("NOT VALID"));
    assert!(note.rewrites.is_empty(), "an UPDATE is no rewrite");
    let orders = note.tables.iter().find(|t| t.table == "public.orders");
    assert_eq!(
        orders.map(|t| (t.rows_before, t.rows_after)),
        Some((Some(2000), Some(2000)))
    );
    assert!(kinds(name).is_empty(), "{:?}", name.warnings);
    assert_eq!(
        lock_on(name, "public.customers"),
        Some(LockMode::AccessExclusive)
    );
}

#[test]
fn a_foreign_key_without_not_valid_warns_and_locks_both_tables() {
    let Some(db) = db() else { return };
    shop(&db);
    let dry = dry_run(
        &db,
        vec![
            sql(
                1,
                "fk_not_valid",
                "ALTER TABLE orders ADD CONSTRAINT orders_customer_nv FOREIGN KEY (customer_id)
                   REFERENCES customers (id) NOT VALID",
            ),
            sql(
                2,
                "fk_validated",
                "ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id)
                   REFERENCES customers (id)",
            ),
        ],
        &DryRunOptions::default(),
    );
    let [not_valid, validated] = &dry.migrations[..] else {
        panic!("{dry:?}")
    };
    assert!(kinds(not_valid).is_empty(), "{:?}", not_valid.warnings);
    assert_eq!(
        lock_on(not_valid, "public.orders"),
        Some(LockMode::ShareRowExclusive)
    );
    assert_eq!(
        lock_on(not_valid, "public.customers"),
        Some(LockMode::ShareRowExclusive)
    );
    assert_eq!(kinds(validated), [WarningKind::ForeignKeyValidated]);
    assert!(
        validated.warnings[0]
            .instead
            .contains("VALIDATE CONSTRAINT orders_customer_fk")
    );
}

#[test]
fn a_delete_shows_the_rows_that_would_be_lost() {
    let Some(db) = db() else { return };
    shop(&db);
    let dry = dry_run(
        &db,
        vec![
            deleting(1, "purge_old", "DELETE FROM orders WHERE id > 1500"),
            Migration::new(
                2,
                "rename_customer",
                Step::new(|tx| {
                    tx.execute(
                        "UPDATE customers SET name = $1 WHERE id = $2",
                        &[&"z", &1_i64],
                    )?;
                    Ok(())
                }),
            ),
        ],
        &DryRunOptions::default(),
    );
    let [purge, rename] = &dry.migrations[..] else {
        panic!("{dry:?}")
    };
    assert_eq!(
        purge.tables,
        [TableChange {
            table: "public.orders".into(),
            rows_before: Some(2000),
            rows_after: Some(1500),
            size_bytes: purge.tables[0].size_bytes,
        }]
    );
    assert_eq!(
        purge.rows_lost().collect::<Vec<_>>(),
        [("public.orders", 500)]
    );
    assert_eq!(
        lock_on(purge, "public.orders"),
        Some(LockMode::RowExclusive)
    );
    assert_eq!(
        rename.statements,
        [r#"UPDATE customers SET name = $1 WHERE id = $2 -- $1 = "z", $2 = 1"#]
    );
    assert_eq!(rename.rows_lost().count(), 0);
    assert!(
        dry.to_string()
            .contains("public.orders: 2000 -> 1500 rows (500 lost)")
    );
    // The real run does what the dry run said.
    Migrator::new()
        .with_migrations([deleting(
            1,
            "purge_old",
            "DELETE FROM orders WHERE id > 1500",
        )])
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    assert_eq!(count(&mut db.client(), "orders"), 1500);
}

#[test]
fn a_failing_migration_is_reported_and_nothing_changes() {
    let Some(db) = db() else { return };
    shop(&db);
    let dry = dry_run(
        &db,
        vec![
            sql(
                1,
                "audit",
                "CREATE TABLE audit (id int); INSERT INTO audit VALUES (1)",
            ),
            sql(
                2,
                "broken",
                "DELETE FROM orders; INSERT INTO no_such_table VALUES (1)",
            ),
            sql(3, "after", "CREATE TABLE after_it (id int)"),
        ],
        &DryRunOptions::default(),
    );
    assert!(!dry.is_ok());
    let failed = dry.failure().expect("a failure");
    assert_eq!(failed.seq, 2);
    let DryRunOutcome::Failed { error } = &failed.outcome else {
        unreachable!()
    };
    assert!(error.contains("no_such_table"), "{error}");
    assert!(matches!(
        dry.migrations[2].outcome,
        DryRunOutcome::NotRun { .. }
    ));
    let created = &dry.migrations[0].tables;
    assert_eq!(
        created
            .iter()
            .map(|t| (t.table.as_str(), t.rows_before, t.rows_after))
            .collect::<Vec<_>>(),
        [("public.audit", None, Some(1))]
    );
    assert!(!exists(&mut db.client(), "public.audit"));
}

#[test]
fn a_commit_in_a_migration_commits_nothing_in_a_dry_run() {
    let Some(db) = db() else { return };
    shop(&db);
    let dry = dry_run(
        &db,
        vec![
            deleting(1, "purge", "DELETE FROM orders"),
            deleting(
                2,
                "sneaky",
                "DELETE FROM customers WHERE id > 50; COMMIT; DELETE FROM customers",
            ),
            sql(3, "later", "CREATE TABLE later (id int)"),
        ],
        &DryRunOptions::default(),
    );
    let failed = dry.failure().expect("the COMMIT fails the migration");
    assert_eq!(failed.seq, 2);
    assert!(matches!(
        dry.migrations[2].outcome,
        DryRunOutcome::NotRun { .. }
    ));
    let mut client = db.client();
    assert_eq!(count(&mut client, "orders"), 2000);
    assert_eq!(count(&mut client, "customers"), 100);
}

#[test]
fn the_dry_run_holds_the_migration_lock_and_waits_for_a_real_run() {
    let Some(db) = db() else { return };
    shop(&db);
    // Inside the migration, another session sees the lock held.
    let holders = Arc::new(AtomicUsize::new(0));
    let seen = holders.clone();
    let config = db.config();
    let probe = Step::new(move |_tx| {
        let mut other = config.connect(postgres::NoTls).unwrap();
        seen.store(
            lock_holders(&mut other, lock_key("public")).len(),
            Ordering::SeqCst,
        );
        Ok(())
    });
    let dry = dry_run(
        &db,
        vec![Migration::new(1, "probe", probe)],
        &DryRunOptions::default(),
    );
    assert!(dry.is_ok());
    assert_eq!(holders.load(Ordering::SeqCst), 1);

    // While a run holds the lock, the dry run waits its busy timeout and is refused.
    let before = state(&db);
    let mut runner = db.connect();
    let held = runner.lock().unwrap();
    let conn = db.connect().with_settings(Settings {
        busy_timeout: Duration::from_millis(200),
        ..Settings::default()
    });
    let err = Migrator::new()
        .with_migrations([sql(1, "purge", "DELETE FROM orders")])
        .on(conn)
        .unwrap()
        .dry_run()
        .unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err:?}");
    drop(held);
    assert_eq!(state(&db), before);
}

#[test]
fn a_non_transactional_migration_is_listed_not_executed_and_the_dry_run_stops_there() {
    let Some(db) = db() else { return };
    shop(&db);
    let dry = dry_run(
        &db,
        vec![
            sql(1, "add_note2", "ALTER TABLE orders ADD COLUMN note2 text"),
            sql(
                2,
                "index_concurrently",
                "CREATE INDEX CONCURRENTLY orders_note2 ON orders (note2);
                 CREATE INDEX CONCURRENTLY orders_total ON orders (total)",
            )
            .with_mode(migrate_postgres::TxMode::NonTransactional),
            sql(3, "uses_it", "CREATE TABLE later (id int)"),
        ],
        &DryRunOptions::default(),
    );
    assert_eq!(dry.migrations[0].outcome, DryRunOutcome::Succeeded);
    let listed = &dry.migrations[1];
    assert!(
        matches!(&listed.outcome, DryRunOutcome::NotExecuted { reason } if reason.contains("transaction = false")),
        "{:?}",
        listed.outcome
    );
    assert_eq!(
        listed.statements,
        [
            "CREATE INDEX CONCURRENTLY orders_note2 ON orders (note2)",
            "CREATE INDEX CONCURRENTLY orders_total ON orders (total)"
        ]
    );
    assert!(matches!(
        dry.migrations[2].outcome,
        DryRunOutcome::NotRun { .. }
    ));
    let mut client = db.client();
    assert!(!exists(&mut client, "public.orders_note2"));
    assert!(!exists(&mut client, "public.later"));
    // The headline does not claim that every migration ran.
    let header = dry.to_string().lines().next().unwrap().to_owned();
    assert_eq!(
        header,
        "Dry run of `migrate up` on set \"default\" (no migration applied): 1 of 3 migrations \
         ran in one transaction that was rolled back; nothing was changed."
    );
}

#[test]
fn a_non_transactional_step_that_reads_is_listed_up_to_its_first_read() {
    let Some(db) = db() else { return };
    shop(&db);
    let step = Step::new(|tx| {
        tx.batch_execute("CREATE INDEX CONCURRENTLY orders_total ON orders (total)")?;
        if tx.row_count("orders")? > 0 {
            tx.batch_execute("CREATE INDEX CONCURRENTLY orders_note ON orders (note)")?;
        }
        Ok(())
    });
    let dry = dry_run(
        &db,
        vec![
            Migration::new(1, "indexes", step)
                .with_mode(migrate_postgres::TxMode::NonTransactional),
        ],
        &DryRunOptions::default(),
    );
    let listed = &dry.migrations[0];
    assert_eq!(
        listed.statements,
        [
            "CREATE INDEX CONCURRENTLY orders_total ON orders (total)",
            r#"SELECT count(*) FROM "orders""#
        ]
    );
    let DryRunOutcome::NotExecuted { reason } = &listed.outcome else {
        panic!("{:?}", listed.outcome)
    };
    assert!(reason.contains("reads the database"), "{reason}");
    assert!(!exists(&mut db.client(), "public.orders_total"));
}

#[test]
fn a_migration_that_never_gets_its_lock_fails_the_dry_run_with_its_statements_listed_once() {
    let Some(db) = db() else { return };
    shop(&db);
    let mut blocker = db.client();
    blocker
        .batch_execute("BEGIN; LOCK TABLE orders IN ACCESS SHARE MODE")
        .unwrap();
    let before = state(&db);
    let conn = db.connect().with_settings(Settings {
        lock_timeout: Duration::from_millis(100),
        lock_attempts: 3,
        ..Settings::default()
    });
    let mut session = Migrator::new()
        .with_migrations([sql(1, "add_c", "ALTER TABLE orders ADD COLUMN c int")])
        .on(conn)
        .unwrap();
    let dry = session.dry_run().unwrap();
    let m = &dry.migrations[0];
    let DryRunOutcome::Failed { error } = &m.outcome else {
        panic!("{:?}", m.outcome)
    };
    assert!(error.contains("3 attempts"), "{error}");
    assert_eq!(m.statements, ["ALTER TABLE orders ADD COLUMN c int"]);
    blocker.batch_execute("ROLLBACK").unwrap();
    assert_eq!(state(&db), before);
    assert_session_clean(&db, &mut session);
}

#[test]
fn a_plain_role_owning_the_database_gets_the_same_report() {
    let Some(db) = db() else { return };
    let mut admin = db.client();
    admin
        .batch_execute(&format!(
            "DO $$ BEGIN CREATE ROLE dry_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
             ALTER DATABASE {} OWNER TO dry_app",
            db.name
        ))
        .unwrap();
    let config = db.config().user("dry_app").to_owned();
    let mut app = config.connect(postgres::NoTls).unwrap();
    app.batch_execute(
        "CREATE TABLE orders (id bigint PRIMARY KEY, total integer);
         INSERT INTO orders SELECT g, g FROM generate_series(1, 500) g;",
    )
    .unwrap();
    let is_superuser: String = app.query_one("SHOW is_superuser", &[]).unwrap().get(0);
    assert_eq!(is_superuser, "off");
    let before = state(&db);
    let conn = migrate_postgres::Connection::from_config(&config).unwrap();
    let mut session = Migrator::new()
        .with_migrations([sql(
            1,
            "widen",
            "ALTER TABLE orders ALTER COLUMN total TYPE bigint",
        )])
        .on(conn)
        .unwrap();
    let dry = session.dry_run().unwrap();
    let m = &dry.migrations[0];
    assert_eq!(m.outcome, DryRunOutcome::Succeeded);
    assert_eq!(lock_on(m, "public.orders"), Some(LockMode::AccessExclusive));
    assert_eq!(m.rewrites.len(), 1, "{:?}", m.rewrites);
    assert_eq!(kinds(m), [WarningKind::TableRewrite]);
    assert_eq!(state(&db), before);
    assert_session_clean(&db, &mut session);
}

fn reversible() -> Vec<Migration> {
    vec![
        sql(1, "audit", "CREATE TABLE audit (id int PRIMARY KEY)")
            .with_down(Step::sql("DROP TABLE audit")),
        sql(2, "nick", "ALTER TABLE customers ADD COLUMN nick text")
            .with_down(Step::sql("ALTER TABLE customers DROP COLUMN nick")),
    ]
}

#[test]
fn a_down_preview_names_the_tables_and_columns_it_drops_and_the_rows_lost() {
    let Some(db) = db() else { return };
    shop(&db);
    let mut session = Migrator::new()
        .with_migrations(reversible())
        .on(db.connect())
        .unwrap();
    session.up().unwrap();
    db.client()
        .batch_execute(
            "INSERT INTO audit SELECT generate_series(1, 5); UPDATE customers SET nick = 'n'",
        )
        .unwrap();
    let before = state(&db);
    let dry = session.dry_run_down_to(0).unwrap();
    assert_eq!(state(&db), before);
    assert_session_clean(&db, &mut session);
    assert_eq!(dry.current, Some(2));
    let [nick, audit] = &dry.migrations[..] else {
        panic!("{dry:?}")
    };
    assert_eq!((nick.seq, audit.seq), (2, 1));
    assert_eq!(nick.columns_dropped.len(), 1);
    assert_eq!(
        nick.columns_dropped[0].to_string(),
        "public.customers.nick (text; the values of 100 rows would go)"
    );
    assert_eq!(audit.tables_dropped(), ["public.audit"]);
    assert_eq!(audit.rows_lost().collect::<Vec<_>>(), [("public.audit", 5)]);
    assert_eq!(
        lock_on(audit, "public.audit"),
        Some(LockMode::AccessExclusive)
    );
    let text = dry.to_string();
    assert!(
        text.contains("public.audit: dropped with its 5 rows"),
        "{text}"
    );

    let redo = session.dry_run_redo().unwrap();
    let steps: Vec<_> = redo
        .migrations
        .iter()
        .map(|m| (m.seq, m.direction.to_string()))
        .collect();
    assert_eq!(steps, [(2, "down".to_owned()), (2, "up".to_owned())]);
    assert!(redo.is_ok());
    assert_eq!(state(&db), before);
}

#[test]
fn a_dry_run_refuses_what_the_runner_refuses_and_changes_nothing() {
    let Some(db) = db() else { return };
    shop(&db);
    let mut session = Migrator::new()
        .with_migrations(reversible())
        .on(db.connect())
        .unwrap();
    let before = state(&db);
    let err = session.dry_run_redo().unwrap_err();
    assert!(
        matches!(err, Error::Refused(Refusal::NothingToRedo { .. })),
        "{err:?}"
    );
    assert_eq!(state(&db), before);
    session.up_to(1).unwrap();
    let before = state(&db);
    let err = session.dry_run_down(2).unwrap_err();
    let runner = session.down(2).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Refused(Refusal::DownTooFar {
                steps: 2,
                applied: 1,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(err.to_string(), runner.to_string());
    assert_eq!(state(&db), before);
    assert_session_clean(&db, &mut session);
    // An irreversible migration in the way: the plan's refusal, as `down` gives it.
    let mut session = Migrator::new()
        .with_migrations([
            sql(1, "audit", "CREATE TABLE audit (id int PRIMARY KEY)")
                .with_down(Step::sql("DROP TABLE audit")),
            sql(2, "one_way", "ALTER TABLE customers ADD COLUMN nick text"),
        ])
        .on(db.connect())
        .unwrap();
    session.up().unwrap();
    let err = session.dry_run_down_to(0).unwrap_err();
    assert!(
        matches!(err, Error::Core(CoreError::Irreversible { .. })),
        "{err:?}"
    );
}

#[test]
fn a_step_that_panics_is_its_migrations_failure_and_leaves_no_transaction_or_lock() {
    let Some(db) = db() else { return };
    shop(&db);
    let panics = Arc::new(AtomicUsize::new(1));
    let left = panics.clone();
    let mut session = Migrator::new()
        .with_migrations([
            deleting(1, "purge", "DELETE FROM orders WHERE id > 1000"),
            Migration::new(
                2,
                "buggy",
                Step::new(move |tx| {
                    tx.batch_execute("CREATE TABLE half_done (id int)")?;
                    if left.fetch_sub(1, Ordering::SeqCst) == 1 {
                        panic!("a bug in the step");
                    }
                    tx.batch_execute("CREATE TABLE fixed (id int)")
                }),
            ),
        ])
        .on(db.connect())
        .unwrap();
    let before = state(&db);
    let dry = session.dry_run().unwrap();
    assert_eq!(
        panics.load(Ordering::SeqCst),
        0,
        "the step ran and panicked"
    );
    let failed = dry.failure().expect("the panic fails migration 2");
    assert_eq!(failed.seq, 2);
    let DryRunOutcome::Failed { error } = &failed.outcome else {
        unreachable!()
    };
    assert!(
        error.contains("the migration's code panicked: a bug in the step"),
        "{error}"
    );
    assert_eq!(state(&db), before);
    assert!(!exists(&mut db.client(), "public.half_done"));
    assert_session_clean(&db, &mut session);
    // The same session dry-runs again from a clean start.
    let dry = session.dry_run().unwrap();
    assert!(dry.is_ok(), "{dry}");
    assert_eq!(
        dry.migrations[0].rows_lost().collect::<Vec<_>>(),
        [("public.orders", 1000)]
    );
    assert_eq!(state(&db), before);
    assert_session_clean(&db, &mut session);
}

#[test]
fn advisory_locks_a_migration_takes_are_released_and_the_callers_own_are_kept() {
    let Some(db) = db() else { return };
    shop(&db);
    let mut session = Migrator::new()
        .with_migrations([sql(
            1,
            "takes_locks",
            "SELECT pg_advisory_lock(4242); SELECT pg_advisory_lock(4242);
             SELECT pg_advisory_lock(7, 8); SELECT pg_advisory_lock_shared(99);
             CREATE TABLE audit (id int)",
        )])
        .on(db.connect())
        .unwrap();
    // The caller's own session lock, taken before the dry run, is the caller's business.
    session
        .connection()
        .client()
        .batch_execute("SELECT pg_advisory_lock(11)")
        .unwrap();
    let before = state(&db);
    let dry = session.dry_run().unwrap();
    assert!(dry.is_ok(), "{dry}");
    assert_eq!(state(&db), before);
    let pid: i32 = session
        .connection()
        .client()
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let held: Vec<(i64, i64)> = db
        .client()
        .query(
            "SELECT classid::bigint, objid::bigint FROM pg_locks
             WHERE locktype = 'advisory' AND pid = $1 ORDER BY 1, 2",
            &[&pid],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(held, [(0, 11)], "only the caller's lock 11 is left");
    let released: bool = session
        .connection()
        .client()
        .query_one("SELECT pg_advisory_unlock(11)", &[])
        .unwrap()
        .get(0);
    assert!(released);
    assert_session_clean(&db, &mut session);
}

#[test]
fn a_truncate_shows_the_rows_lost_and_is_not_called_a_rewrite() {
    let Some(db) = db() else { return };
    shop(&db);
    let dry = dry_run(
        &db,
        vec![deleting(1, "purge", "TRUNCATE orders")],
        &DryRunOptions::default().big_table_rows(1000),
    );
    let purge = &dry.migrations[0];
    assert_eq!(
        lock_on(purge, "public.orders"),
        Some(LockMode::AccessExclusive)
    );
    assert_eq!(
        purge.rows_lost().collect::<Vec<_>>(),
        [("public.orders", 2000)]
    );
    assert!(purge.rewrites.is_empty(), "{:?}", purge.rewrites);
    assert_eq!(kinds(purge), [WarningKind::AccessExclusive]);
}

#[test]
fn a_partitioned_table_is_sized_by_its_partitions() {
    let Some(db) = db() else { return };
    db.client()
        .batch_execute(
            "CREATE TABLE events (id bigint, at date, body text) PARTITION BY RANGE (at);
             CREATE TABLE events_2025 PARTITION OF events
                 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
             CREATE TABLE events_2026 PARTITION OF events
                 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
             INSERT INTO events SELECT g, date '2025-06-01' + (g % 400), repeat('x', 100)
                 FROM generate_series(1, 5000) g;",
        )
        .unwrap();
    let partitions: i64 = db
        .client()
        .query_one(
            "SELECT (pg_total_relation_size('events_2025')
                     + pg_total_relation_size('events_2026'))::bigint",
            &[],
        )
        .unwrap()
        .get(0);
    let dry = dry_run(
        &db,
        vec![sql(1, "tag", "ALTER TABLE events ADD COLUMN tag text")],
        &DryRunOptions::default(),
    );
    let tag = &dry.migrations[0];
    let parent = tag
        .locks
        .iter()
        .find(|l| l.table == "public.events")
        .expect("the parent's lock");
    assert_eq!(parent.mode, LockMode::AccessExclusive);
    assert_eq!(parent.size_bytes, partitions);
    assert!(
        tag.locks.iter().any(|l| l.table == "public.events_2025"),
        "{:?}",
        tag.locks
    );
}

#[test]
fn refreshing_a_materialized_view_shows_its_access_exclusive_lock_and_the_concurrent_way() {
    let Some(db) = db() else { return };
    shop(&db);
    db.client()
        .batch_execute(
            "CREATE MATERIALIZED VIEW order_totals AS
                 SELECT customer_id, sum(total) AS total FROM orders GROUP BY customer_id;
             CREATE MATERIALIZED VIEW later_view AS SELECT 1 AS x WITH NO DATA;",
        )
        .unwrap();
    let dry = dry_run(
        &db,
        vec![
            sql(1, "refresh", "REFRESH MATERIALIZED VIEW order_totals"),
            sql(2, "fill", "REFRESH MATERIALIZED VIEW later_view"),
        ],
        &DryRunOptions::default(),
    );
    assert!(dry.is_ok(), "{dry}");
    let refresh = &dry.migrations[0];
    assert_eq!(
        lock_on(refresh, "public.order_totals"),
        Some(LockMode::AccessExclusive),
        "{refresh:?}"
    );
    let [rewrite] = &refresh.rewrites[..] else {
        panic!("{:?}", refresh.rewrites)
    };
    assert_eq!(rewrite.table, "public.order_totals");
    assert!(
        rewrite.reason.contains("REFRESH MATERIALIZED VIEW"),
        "{rewrite:?}"
    );
    let warning = refresh
        .warnings
        .iter()
        .find(|w| w.kind == WarningKind::TableRewrite)
        .expect("a rewrite warning");
    assert!(warning.instead.contains("CONCURRENTLY"), "{warning}");
    assert_eq!(
        refresh
            .tables
            .iter()
            .map(|t| (t.table.as_str(), t.rows_before, t.rows_after))
            .collect::<Vec<_>>(),
        // orders: read by the refresh (ACCESS SHARE), not written.
        [
            ("public.order_totals", Some(100), Some(100)),
            ("public.orders", Some(2000), Some(2000))
        ]
    );
    assert_eq!(
        lock_on(refresh, "public.orders"),
        Some(LockMode::AccessShare)
    );
    // A view that was never populated cannot be counted; it is left out, not an error.
    assert!(
        matches!(dry.migrations[1].outcome, DryRunOutcome::Succeeded),
        "{dry}"
    );
}

#[test]
fn indexes_a_type_change_rebuilds_are_not_called_new_indexes_without_concurrently() {
    let Some(db) = db() else { return };
    shop(&db);
    db.client()
        .batch_execute("CREATE INDEX orders_total ON orders (total)")
        .unwrap();
    let dry = dry_run(
        &db,
        vec![sql(
            1,
            "widen",
            "ALTER TABLE orders ALTER COLUMN total TYPE bigint, ALTER COLUMN id TYPE numeric",
        )],
        &DryRunOptions::default().big_table_rows(1000),
    );
    let widen = &dry.migrations[0];
    assert_eq!(widen.rewrites.len(), 1, "{:?}", widen.rewrites);
    // orders_total and orders_pkey were rebuilt with the table (new oids, same names): the
    // rewrite's warning covers them; "use CREATE INDEX CONCURRENTLY" would be wrong advice.
    assert_eq!(
        kinds(widen),
        [WarningKind::TableRewrite, WarningKind::AccessExclusive]
    );
    assert!(widen.schema.added.is_empty(), "{:?}", widen.schema);
    // The same name built again by hand, without a rewrite, is a new index and warned about.
    let dry = dry_run(
        &db,
        vec![sql(
            1,
            "rebuild",
            "DROP INDEX orders_total; CREATE INDEX orders_total ON orders (total)",
        )],
        &DryRunOptions::default().big_table_rows(1000),
    );
    assert_eq!(
        kinds(&dry.migrations[0]),
        [
            WarningKind::IndexWithoutConcurrently,
            WarningKind::AccessExclusive
        ]
    );
}

#[test]
fn a_statement_a_migration_prepares_is_gone_after_the_dry_run_and_the_real_run_prepares_it_again() {
    let Some(db) = db() else { return };
    shop(&db);
    let mut session = Migrator::new()
        .with_migrations([sql(
            1,
            "prepared_backfill",
            "ALTER TABLE orders ADD COLUMN cents bigint;
             PREPARE backfill AS UPDATE orders SET cents = total * 100;
             EXECUTE backfill;
             DEALLOCATE backfill;
             PREPARE check_customers AS SELECT count(*) FROM customers;",
        )])
        .on(db.connect())
        .unwrap();
    let before = state(&db);
    let dry = session.dry_run().unwrap();
    assert!(dry.is_ok(), "{dry}");
    assert_eq!(state(&db), before);
    let prepared: i64 = session
        .connection()
        .client()
        .query_one(
            "SELECT count(*) FROM pg_prepared_statements WHERE from_sql",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(prepared, 0, "the dry run left a prepared statement");
    // The real run on the same session meets no "prepared statement already exists".
    session.up().unwrap();
    assert_eq!(
        count(&mut db.client(), "orders WHERE cents = total * 100"),
        2000
    );
}

#[test]
fn a_stored_generated_column_is_named_as_the_rewrite_reason_not_a_volatile_default() {
    let Some(db) = db() else { return };
    shop(&db);
    let dry = dry_run(
        &db,
        vec![sql(
            1,
            "add_doubled",
            "ALTER TABLE orders ADD COLUMN doubled bigint GENERATED ALWAYS AS (total * 2) STORED",
        )],
        &DryRunOptions::default(),
    );
    let m = &dry.migrations[0];
    let [rewrite] = &m.rewrites[..] else {
        panic!("{:?}", m.rewrites)
    };
    assert!(
        rewrite.reason.contains("stored generated column: doubled")
            && !rewrite.reason.contains("volatile"),
        "{}",
        rewrite.reason
    );
    let [warning] = &m.warnings[..] else {
        panic!("{:?}", m.warnings)
    };
    assert_eq!(warning.kind, WarningKind::TableRewrite);
    assert!(!warning.instead.contains("without a default"), "{warning}");
}

#[test]
fn with_a_backup_dir_the_report_shows_the_backups_exclusive_lock_on_every_table() {
    let Some(db) = db() else { return };
    shop(&db);
    let dir = tempfile::tempdir().unwrap();
    let migrations = || vec![sql(1, "audit", "CREATE TABLE audit (id int)")];
    let before = state(&db);
    let mut session = Migrator::new()
        .with_migrations(migrations())
        .backup_dir(dir.path())
        .on(db.connect())
        .unwrap();
    let dry = session.dry_run().unwrap();
    assert_eq!(state(&db), before);
    assert_session_clean(&db, &mut session);
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "a dry run writes no backup"
    );
    let locked: Vec<(&str, LockMode)> = dry
        .backup_locks
        .iter()
        .map(|l| (l.table.as_str(), l.mode))
        .collect();
    assert_eq!(
        locked,
        [
            ("public.customers", LockMode::Exclusive),
            ("public.orders", LockMode::Exclusive)
        ]
    );
    let text = dry.to_string();
    assert!(
        text.contains(
            "Before the first migration: the pre-migration backup locks every user table \
             (2 tables, "
        ) && text.contains("  EXCLUSIVE on every user table, from the pre-migration backup"),
        "{text}"
    );
    // Without backups the real run takes none.
    let dry = dry_run(&db, migrations(), &DryRunOptions::default());
    assert!(dry.backup_locks.is_empty());

    // The real run does hold them: during its migration, a writer of customers (a table the
    // migration never touches) is refused at once.
    let writer_blocked = Arc::new(AtomicUsize::new(0));
    let seen = writer_blocked.clone();
    let config = db.config();
    let probe = Migration::new(
        2,
        "probe",
        Step::new(move |_tx| {
            let mut other = config.connect(postgres::NoTls)?;
            let tried = other.batch_execute(
                "BEGIN; LOCK TABLE customers IN ROW EXCLUSIVE MODE NOWAIT; ROLLBACK",
            );
            if tried.is_err_and(|e| e.code().map(|c| c.code()) == Some("55P03")) {
                seen.fetch_add(1, Ordering::SeqCst);
            }
            Ok(())
        }),
    );
    let mut real = Migrator::new()
        .with_migrations([sql(1, "audit", "CREATE TABLE audit (id int)"), probe])
        .backup_dir(dir.path())
        .on(db.connect())
        .unwrap();
    real.up().unwrap();
    assert_eq!(writer_blocked.load(Ordering::SeqCst), 1);
    // With nothing to do, no backup and no lock.
    assert!(real.dry_run().unwrap().backup_locks.is_empty());
}

#[test]
fn replacing_a_view_shows_its_access_exclusive_lock_without_counting_it() {
    let Some(db) = db() else { return };
    shop(&db);
    db.client()
        .batch_execute("CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 1000")
        .unwrap();
    let dry = dry_run(
        &db,
        vec![sql(
            1,
            "widen_view",
            "CREATE OR REPLACE VIEW big_orders AS
                 SELECT id, total, customer_id FROM orders WHERE total > 1000",
        )],
        &DryRunOptions::default(),
    );
    assert!(dry.is_ok(), "{dry}");
    let m = &dry.migrations[0];
    // Every query on the view waits until the run commits.
    assert_eq!(
        lock_on(m, "public.big_orders"),
        Some(LockMode::AccessExclusive),
        "{m:?}"
    );
    // A view holds no rows of its own: not counted, not listed as a table changed.
    assert!(
        m.tables.iter().all(|t| t.table != "public.big_orders"),
        "{:?}",
        m.tables
    );
    assert!(m.rewrites.is_empty() && m.warnings.is_empty(), "{m:?}");
    assert!(m.columns_dropped.is_empty());
}
