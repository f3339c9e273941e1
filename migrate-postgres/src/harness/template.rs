//! Fresh migrated databases per test: the migrations run once per test binary into a template
//! database, and every test gets a server-side copy (`CREATE DATABASE tN TEMPLATE ...`),
//! faster than migrating each test's database.
//!
//! PostgreSQL copies a template only while nobody is connected to it (otherwise `CREATE
//! DATABASE` waits 5 s, then fails "source database ... is being accessed by other users").
//! So the template is sealed once migrated: new connections are refused
//! (`ALLOW_CONNECTIONS false`), the sessions still there are ended, and the seal waits until
//! they are gone. Copies accept connections as usual, and any number may be made at once.

use crate::testing::{TestDatabase, server};
use crate::{Error, Migrator, Result};
use std::time::{Duration, Instant};

/// How long sealing waits for ended sessions to leave.
const SESSIONS_GONE_WITHIN: Duration = Duration::from_secs(10);

/// A migrated, sealed template database on the test server to copy from.
///
/// ```no_run
/// use migrate_postgres::testing::Template;
/// use migrate_postgres::{Migration, Migrator, Step};
/// use std::sync::LazyLock;
///
/// static DB: LazyLock<Template> = LazyLock::new(|| {
///     let migrator = Migrator::new().with_migrations([
///         Migration::new(1, "notes", Step::sql("CREATE TABLE notes (id bigserial PRIMARY KEY, body text)")),
///     ]);
///     Template::new(migrator).expect("migrations apply")
/// });
///
/// let db = DB.fresh()?; // every test: its own fully migrated database
/// db.client().execute("INSERT INTO notes (body) VALUES ('x')", &[])?;
/// let other = DB.fresh()?;
/// let n: i64 = other.client().query_one("SELECT count(*) FROM notes", &[])?.get(0);
/// assert_eq!(n, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Template {
    name: String,
}

impl Template {
    /// Migrates a new database of the test server (without backups) and seals it as the
    /// template.
    ///
    /// ```no_run
    /// let template = migrate_postgres::testing::Template::new(migrate_postgres::Migrator::new())?;
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn new(migrator: Migrator) -> Result<Template> {
        let db = super::fresh_database()?;
        migrator.without_backups().on(db.connect())?.up()?;
        Template::from_database(db)
    }

    /// Seals a database you prepared (migrated, seeded) as the template: from now on nobody
    /// can connect to it, and the sessions still connected are ended.
    ///
    /// ```no_run
    /// let db = migrate_postgres::testing::server().unwrap().database();
    /// db.client().batch_execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")?;
    /// let template = migrate_postgres::testing::Template::from_database(db)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_database(db: TestDatabase) -> Result<Template> {
        let server = server().ok_or(Error::NoTestServer)?;
        let mut admin = server.config("postgres").connect(postgres::NoTls)?;
        let quoted = crate::connection::quote_ident(&db.name);
        admin.batch_execute(&format!(
            "ALTER DATABASE {quoted} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true"
        ))?;
        let ended = admin.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[&db.name],
        )?;
        if !ended.is_empty() {
            log::debug!("template {}: ended {} sessions", db.name, ended.len());
        }
        // A closed or ended session leaves pg_stat_activity a moment later.
        let started = Instant::now();
        loop {
            let left: i64 = admin
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
                    &[&db.name],
                )?
                .get(0);
            if left == 0 {
                break;
            }
            if started.elapsed() > SESSIONS_GONE_WITHIN {
                return Err(Error::TemplateBusy {
                    template: db.name.clone(),
                    sessions: left,
                    conninfo: crate::connection_target::conninfo(&server.config("postgres")),
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(Template { name: db.name })
    }

    /// A new database copied from the template, with its schema, tracking rows and any rows
    /// it holds.
    ///
    /// ```no_run
    /// # let template = migrate_postgres::testing::Template::new(migrate_postgres::Migrator::new())?;
    /// let db = template.fresh()?;
    /// let mut conn = db.connect();
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn fresh(&self) -> Result<TestDatabase> {
        let server = server().ok_or(Error::NoTestServer)?;
        let quoted = crate::connection::quote_ident(&self.name);
        server.try_create_database(&format!(" TEMPLATE {quoted}"))
    }

    /// The template database's name.
    ///
    /// ```no_run
    /// # let template = migrate_postgres::testing::Template::new(migrate_postgres::Migrator::new())?;
    /// assert!(template.name().starts_with('t'));
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }
}
