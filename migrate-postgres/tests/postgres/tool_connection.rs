//! The backup tools (`pg_dump`, `psql`: separate libpq processes) reach the server, port,
//! role and database the migration connection reached, whatever form the connection was
//! given in: a URL with the socket directory in `?host=` (the test cluster listens on a unix
//! socket only, so a tool sent to `localhost:5432` fails), the socket directory
//! percent-encoded in the authority, a `key=value` string, and several hosts of which only
//! the second answers. Each is checked by a real backup and restore, and the database is read
//! back afterwards.

use crate::backup::{APP, all_rows};
use crate::common::{count, db, exists};
use migrate_postgres::testing::{self, TestDatabase};
use migrate_postgres::{Migration, Migrator, RestoreFrom, Step};

/// The socket directory of the test cluster, percent-encoded for a URL.
fn encoded_socket_dir() -> String {
    let dir = testing::server()
        .unwrap()
        .socket_dir()
        .display()
        .to_string();
    dir.chars()
        .map(|c| match c {
            c if c.is_ascii_alphanumeric() || "-._~".contains(c) => c.to_string(),
            c => format!("%{:02X}", c as u32),
        })
        .collect()
}

fn socket_dir() -> String {
    testing::server()
        .unwrap()
        .socket_dir()
        .display()
        .to_string()
}

/// Every form a user may write for the test database `db`.
fn forms(db: &TestDatabase) -> Vec<(&'static str, String)> {
    let (dir, encoded, name) = (socket_dir(), encoded_socket_dir(), &db.name);
    assert!(
        name.starts_with('t'),
        "test databases are tN: nothing to escape"
    );
    vec![
        (
            "URL, socket directory in ?host=",
            format!("postgresql://postgres@/{name}?host={dir}"),
        ),
        (
            "URL without authority, host, port and user in the query",
            format!("postgresql:///{name}?host={dir}&port=5432&user=postgres"),
        ),
        (
            "URL, socket directory percent-encoded in the authority",
            format!("postgres://postgres@{encoded}:5432/{name}"),
        ),
        (
            "key=value string",
            format!("host={dir} port=5432 user=postgres dbname={name}"),
        ),
        (
            "several hosts, the first one down",
            format!(
                "host=/nonexistent-migrate-socket,{dir} port=5999,5432 user=postgres \
                 dbname={name}"
            ),
        ),
    ]
}

fn add_audit() -> Migration {
    Migration::new(
        1,
        "add_audit",
        Step::sql(
            "CREATE TABLE audit (id int PRIMARY KEY); INSERT INTO audit VALUES (1); \
             DELETE FROM orders WHERE id <= 10",
        ),
    )
}

#[test]
fn a_backup_and_a_restore_reach_the_database_the_url_names_in_every_form() {
    let Some(_) = db() else { return };
    let mut checked = 0;
    for form in 0..5 {
        // A fresh database per form, holding the app's data.
        let db = testing::server().unwrap().database();
        let (form, url) = forms(&db).swap_remove(form);
        db.client().batch_execute(APP).unwrap();
        let before = all_rows(&mut db.client());
        let dir = tempfile::tempdir().unwrap();

        let mut session = Migrator::new()
            .with_migrations([add_audit()])
            .allow_destructive()
            .backup_dir(dir.path())
            .open(&url)
            .unwrap_or_else(|e| panic!("{form}: {url}: {e}"));
        session
            .up()
            .unwrap_or_else(|e| panic!("{form}: up (pre-up backup by pg_dump): {e}"));
        let mut client = db.client();
        assert!(exists(&mut client, "public.audit"), "{form}");
        assert_eq!(count(&mut client, "orders"), 1990, "{form}");
        assert_eq!(session.backups().unwrap().len(), 1, "{form}");

        let report = session
            .restore(&RestoreFrom::Latest)
            .unwrap_or_else(|e| panic!("{form}: restore (psql): {e}"));
        assert!(report.undo_backup.path.is_file(), "{form}");
        let mut client = db.client();
        assert!(!exists(&mut client, "public.audit"), "{form}: restored");
        assert!(
            !exists(&mut client, "public._migrate_applied")
                || count(&mut client, "public._migrate_applied") == 0,
            "{form}: migration 1 not recorded any more"
        );
        assert_eq!(
            all_rows(&mut client)
                .into_iter()
                .filter(|(t, _)| !t.starts_with("public._migrate"))
                .collect::<std::collections::BTreeMap<_, _>>(),
            before,
            "{form}: every row as before the run"
        );
        checked += 1;
    }
    assert_eq!(checked, forms(&testing::server().unwrap().database()).len());
}

/// The tools run as the role the URL names, in the database it names: a second role owning
/// a second database, reached through `?host=`, gets a backup holding that database's rows.
#[test]
fn the_tools_log_in_as_the_role_and_database_of_the_url() {
    let Some(db) = db() else { return };
    let mut admin = db.client();
    admin
        .batch_execute(
            "DO $$ BEGIN CREATE ROLE tool_conn_app LOGIN; EXCEPTION WHEN duplicate_object \
             THEN NULL; END $$",
        )
        .unwrap();
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} OWNER TO tool_conn_app; \
             ALTER SCHEMA public OWNER TO tool_conn_app",
            db.name
        ))
        .unwrap();
    let url = format!(
        "postgresql://tool_conn_app@/{}?host={}",
        db.name,
        encoded_socket_dir()
    );
    let mut app = url
        .parse::<postgres::Config>()
        .unwrap()
        .connect(postgres::NoTls)
        .unwrap();
    app.batch_execute("CREATE TABLE mine (x int); INSERT INTO mine VALUES (1), (2)")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut session = Migrator::new()
        .with_migrations([Migration::new(
            1,
            "more",
            Step::sql("INSERT INTO mine VALUES (3)"),
        )])
        .backup_dir(dir.path())
        .open(&url)
        .unwrap();
    session.up().unwrap();
    assert_eq!(count(&mut app, "mine"), 3);
    session.restore(&RestoreFrom::Latest).unwrap();
    assert_eq!(count(&mut app, "mine"), 2, "restored from the pre-up dump");
    let owner: String = app
        .query_one(
            "SELECT tableowner::text FROM pg_tables WHERE tablename = 'mine'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(owner, "tool_conn_app", "psql restored as the URL's role");
}
