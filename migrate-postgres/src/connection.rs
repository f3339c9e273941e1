//! A dedicated connection for migrations, never a pooled one: the session advisory lock lives on
//! it for the whole run.

use crate::{Error, Result};
use postgres::config::SslMode;
use postgres::{Client, Config, NoTls};
use std::time::Duration;

/// Default `application_name`, so that the lock holder is recognizable in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "migrate";

/// A dedicated connection and the runner's settings for it.
///
/// ```no_run
/// let mut conn = migrate_postgres::Connection::open("postgres://app@localhost:5432/app")?;
/// # Ok::<(), migrate_postgres::Error>(())
/// ```
///
/// The client is synchronous (`postgres`) and runs its own small runtime, so calling it inside
/// a tokio runtime panics ("Cannot start a runtime from within a runtime"). An async app runs it
/// in `spawn_blocking`:
///
/// ```text
/// let version = tokio::task::spawn_blocking(|| {
///     let mut conn = migrate_postgres::Connection::open(&url)?;
///     conn.checked_version()
/// })
/// .await??;
/// ```
pub struct Connection {
    pub(crate) client: Client,
    pub(crate) schema: Schema,
    pub(crate) settings: Settings,
    /// How it connected, to the one host that answered when the config names several: the
    /// backup tools (separate processes) connect the same way (`connection_target`).
    pub(crate) config: Config,
    /// `current_database()`, read with `version()` when connecting.
    pub(crate) database: String,
}

/// Timeouts of a run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How long to poll for the migration lock.
    pub busy_timeout: Duration,
    /// `SET LOCAL lock_timeout` of each migration: how long one statement may wait for a table
    /// lock (queued writers wait behind it, so keep it short).
    pub lock_timeout: Duration,
    /// How many times a migration runs when it hits lock_timeout (SQLSTATE 55P03).
    pub lock_attempts: u32,
    /// `SET LOCAL statement_timeout` of each migration; `None` leaves the server's.
    pub statement_timeout: Option<Duration>,
    /// How many locks the run's transaction may hold before it commits what ran so far and goes
    /// on in a new transaction (a chunk). `None`: half of `max_locks_per_transaction ×
    /// (max_connections + max_prepared_transactions)`, the number the server's shared lock
    /// table is sized for; the other half stays free for the other sessions (README "Very
    /// large batches").
    pub max_chunk_locks: Option<u64>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            busy_timeout: Duration::from_secs(60),
            lock_timeout: Duration::from_secs(5),
            lock_attempts: 3,
            statement_timeout: None,
            max_chunk_locks: None,
        }
    }
}

/// The tracking schema: where `_migrate_applied` and the other runner objects live, always
/// written qualified, never found through `search_path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Schema {
    pub(crate) name: String,
    pub(crate) quoted: String,
}

impl Schema {
    pub(crate) fn new(name: &str) -> Result<Schema> {
        if name.is_empty() || name.len() > 63 || name.contains('\0') {
            return Err(Error::InvalidSchema {
                schema: name.to_owned(),
            });
        }
        Ok(Schema {
            name: name.to_owned(),
            quoted: quote_ident(name),
        })
    }

    /// `"schema".object`.
    pub(crate) fn qualify(&self, object: &str) -> String {
        format!("{}.{}", self.quoted, object)
    }
}

/// `name` as an SQL identifier, double quotes doubled.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `text` as an SQL string literal for a simple query, as PostgreSQL's `quote_literal` writes
/// it: quotes doubled, and with backslashes as `E'...'`, whatever `standard_conforming_strings`.
pub(crate) fn quote_literal(text: &str) -> String {
    if text.contains('\\') {
        format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
    } else {
        format!("'{}'", text.replace('\'', "''"))
    }
}

impl Connection {
    /// Connects with a URL (`postgres://user@host/db`) or a key-value string
    /// (`host=/run/postgresql dbname=app`), without TLS, and refuses engines that only look like
    /// PostgreSQL.
    ///
    /// ```no_run
    /// let conn = migrate_postgres::Connection::open("postgres://app@localhost:5432/app")?;
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn open(url: &str) -> Result<Connection> {
        let config: Config = url
            .parse()
            .map_err(|e: postgres::Error| Error::InvalidUrl {
                detail: e.to_string(),
            })?;
        Connection::from_config(&config)
    }

    /// Connects with a [`postgres::Config`], without TLS (unix sockets, local servers).
    ///
    /// With several hosts (`host=db1,db2`), they are tried in order as the client does, and
    /// the connection keeps the one that answered: its backups (`pg_dump`, `psql`, separate
    /// processes) go to that same server, with the same port, role, database and password.
    ///
    /// ```no_run
    /// let mut config = postgres::Config::new();
    /// config.host_path("/run/postgresql").user("app").dbname("app");
    /// let conn = migrate_postgres::Connection::from_config(&config)?;
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn from_config(config: &Config) -> Result<Connection> {
        let (client, used) =
            crate::connection_target::connect_first(config, |one| prepared(one).connect(NoTls))
                .map_err(|source| Error::Connect {
                    target: crate::connection_target::conninfo(config),
                    source,
                })?;
        // Without TLS, `sslmode=prefer` connected in plain text: the tools must too.
        let mut used = used;
        if used.get_ssl_mode() == SslMode::Prefer {
            used.ssl_mode(SslMode::Disable);
        }
        Connection::with_client(client, used)
    }

    /// Connects with TLS (feature `tls`, native-tls).
    ///
    /// ```no_run
    /// let connector = native_tls::TlsConnector::new().unwrap();
    /// let tls = postgres_native_tls::MakeTlsConnector::new(connector);
    /// let config: postgres::Config = "postgres://app@db.example.com/app?sslmode=require".parse()?;
    /// let conn = migrate_postgres::Connection::from_config_tls(&config, tls)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn from_config_tls(
        config: &Config,
        tls: postgres_native_tls::MakeTlsConnector,
    ) -> Result<Connection> {
        let (client, used) = crate::connection_target::connect_first(config, |one| {
            prepared(one).connect(tls.clone())
        })
        .map_err(|source| Error::Connect {
            target: crate::connection_target::conninfo(config),
            source,
        })?;
        Connection::with_client(client, used)
    }

    /// One simple query (no prepare): the engine check and the database's name.
    fn with_client(mut client: Client, config: Config) -> Result<Connection> {
        let messages = client.simple_query("SELECT version(), current_database()")?;
        let (version, database) = messages
            .iter()
            .find_map(|m| match m {
                postgres::SimpleQueryMessage::Row(row) => Some((
                    row.get(0).unwrap_or_default().to_owned(),
                    row.get(1).unwrap_or_default().to_owned(),
                )),
                _ => None,
            })
            .unwrap_or_default();
        crate::check_engine(&version)?;
        Ok(Connection {
            client,
            schema: Schema::new("public")?,
            settings: Settings::default(),
            config,
            database,
        })
    }

    /// Uses `schema` for the tracking tables and the lock key (default `public`).
    ///
    /// ```no_run
    /// let conn = migrate_postgres::Connection::open("postgres://app@localhost/app")?
    ///     .with_schema("migrations")?;
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn with_schema(mut self, schema: &str) -> Result<Connection> {
        self.schema = Schema::new(schema)?;
        Ok(self)
    }

    /// Replaces the timeouts.
    ///
    /// ```no_run
    /// use migrate_postgres::{Connection, Settings};
    /// use std::time::Duration;
    /// let settings = Settings { lock_timeout: Duration::from_secs(2), ..Settings::default() };
    /// let conn = Connection::open("postgres://app@localhost/app")?.with_settings(settings);
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn with_settings(mut self, settings: Settings) -> Connection {
        self.settings = settings;
        self
    }

    /// The tracking schema's name.
    ///
    /// ```no_run
    /// let conn = migrate_postgres::Connection::open("postgres://app@localhost/app")?;
    /// assert_eq!(conn.schema(), "public");
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn schema(&self) -> &str {
        &self.schema.name
    }

    /// The timeouts in force.
    ///
    /// ```no_run
    /// let conn = migrate_postgres::Connection::open("postgres://app@localhost/app")?;
    /// assert_eq!(conn.settings().lock_attempts, 3);
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The server as a libpq connection string without the password (`host=... port=...
    /// user=... dbname=...`), for the `psql` commands error messages print.
    pub(crate) fn conninfo(&self) -> String {
        crate::connection_target::conninfo(&self.config)
    }

    /// The underlying client, for what this crate does not wrap.
    ///
    /// ```no_run
    /// let mut conn = migrate_postgres::Connection::open("postgres://app@localhost/app")?;
    /// let pid: i32 = conn.client().query_one("SELECT pg_backend_pid()", &[])?.get(0);
    /// # let _ = pid; Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// The config with an application_name and notices routed to `log` (a migration's
/// `RAISE NOTICE`, and warnings such as "there is no transaction in progress").
fn prepared(config: &Config) -> Config {
    let mut config = config.clone();
    if config.get_application_name().is_none() {
        config.application_name(APPLICATION_NAME);
    }
    config.notice_callback(|notice| {
        log::info!("{}: {}", notice.severity(), notice.message());
    });
    config
}
