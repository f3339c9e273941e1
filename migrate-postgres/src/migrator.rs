//! The migrator's configuration, and opening a database with it.

use crate::migrate_session::Session;
use crate::{Connection, Migration, Result, Step, registered};
use migrate_core::{DEFAULT_SET, Event, FailurePolicy, Hooks, Policy, Registry, Validation};
use std::sync::Arc;

/// Configuration of a migration run on PostgreSQL; [`open`](Migrator::open) a database with it.
///
/// ```no_run
/// use migrate_postgres::{Migration, Migrator, Step};
/// let mut db = Migrator::new()
///     .with_migrations([Migration::new(1, "create_notes", Step::sql("CREATE TABLE notes (id bigint PRIMARY KEY)"))])
///     .open("postgres://app@localhost/app")?;
/// db.up()?;
/// # Ok::<(), migrate_postgres::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Migrator {
    pub(crate) set: String,
    migrations: Option<Vec<Migration>>,
    validation: Validation,
    pub(crate) policy: Policy,
    pub(crate) failure: FailurePolicy,
    app_version: Option<String>,
    pub(crate) hooks: Hooks,
}

impl Default for Migrator {
    fn default() -> Self {
        Migrator {
            set: DEFAULT_SET.to_owned(),
            migrations: None,
            validation: Validation::strict(),
            policy: Policy::default(),
            failure: FailurePolicy::AllOrNothing,
            app_version: None,
            hooks: Hooks::default(),
        }
    }
}

impl Migrator {
    /// The registered migrations of the default set, strict rules, all-or-nothing.
    ///
    /// ```
    /// let _ = migrate_postgres::Migrator::new();
    /// ```
    pub fn new() -> Self {
        Migrator::default()
    }

    /// Works on another set of registered migrations.
    ///
    /// ```
    /// let _ = migrate_postgres::Migrator::new().set("billing");
    /// ```
    pub fn set(mut self, set: impl Into<String>) -> Self {
        self.set = set.into();
        self
    }

    /// Uses these migrations instead of the registered ones (tests, dynamic migrations).
    ///
    /// ```
    /// use migrate_postgres::{Migration, Migrator, Step};
    /// let _ = Migrator::new().with_migrations([Migration::new(1, "a", Step::sql("SELECT 1"))]);
    /// ```
    pub fn with_migrations(mut self, migrations: impl IntoIterator<Item = Migration>) -> Self {
        self.migrations = Some(migrations.into_iter().collect());
        self
    }

    /// Accepts gaps between seqs (timestamp numbering).
    ///
    /// ```
    /// let _ = migrate_postgres::Migrator::new().allow_gaps();
    /// ```
    pub fn allow_gaps(mut self) -> Self {
        self.validation = self.validation.allow_gaps();
        self
    }

    /// Runs although the database has migrations this binary lacks (rolling deploys).
    ///
    /// ```
    /// let _ = migrate_postgres::Migrator::new().allow_database_ahead();
    /// ```
    pub fn allow_database_ahead(mut self) -> Self {
        self.policy = self.policy.allow_database_ahead();
        self
    }

    /// Applies pending migrations numbered below the last applied one.
    ///
    /// ```
    /// let _ = migrate_postgres::Migrator::new().allow_out_of_order();
    /// ```
    pub fn allow_out_of_order(mut self) -> Self {
        self.policy = self.policy.allow_out_of_order();
        self
    }

    /// Accepts the current checksum of an applied migration whose code changed (recorded in
    /// the history).
    ///
    /// ```
    /// let _ = migrate_postgres::Migrator::new().accept_checksum(3);
    /// ```
    pub fn accept_checksum(mut self, seq: u64) -> Self {
        self.policy = self.policy.accept_checksum(seq);
        self
    }

    /// What a failure keeps ([`FailurePolicy::AllOrNothing`] by default).
    ///
    /// ```
    /// use migrate_postgres::{FailurePolicy, Migrator};
    /// let _ = Migrator::new().failure_policy(FailurePolicy::KeepApplied);
    /// ```
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.failure = policy;
        self
    }

    /// Calls `hook` with every [`Event`] of a run (it observes; it must not use the database).
    ///
    /// ```
    /// let _ = migrate_postgres::Migrator::new().on_event(|e| log::info!("{e:?}"));
    /// ```
    pub fn on_event(mut self, hook: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.hooks.add(Arc::new(hook));
        self
    }

    /// The app's version, recorded with every tracking and history row.
    ///
    /// ```
    /// let _ = migrate_postgres::Migrator::new().app_version("2.4.1");
    /// ```
    pub fn app_version(mut self, version: impl Into<String>) -> Self {
        self.app_version = Some(version.into());
        self
    }

    /// Connects to `url` (a dedicated connection, never a pooled one) and validates the
    /// migrations.
    ///
    /// ```no_run
    /// let mut db = migrate_postgres::Migrator::new().open("postgres://app@localhost/app")?;
    /// println!("{}", db.status()?);
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn open(&self, url: &str) -> Result<Session> {
        self.on(Connection::open(url)?)
    }

    /// Uses a [`Connection`] you opened (its schema and settings: timeouts, lock attempts).
    ///
    /// ```no_run
    /// let conn = migrate_postgres::Connection::open("postgres://app@localhost/app")?
    ///     .with_schema("tenant_1")?;
    /// let mut db = migrate_postgres::Migrator::new().on(conn)?;
    /// db.up()?;
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn on(&self, conn: Connection) -> Result<Session> {
        let migrations = match &self.migrations {
            Some(list) => list.clone(),
            None => registered(&self.set),
        };
        let registry: Registry<Step> =
            Registry::new(self.set.clone(), migrations, self.validation)?;
        let mut settings = self.clone();
        settings.migrations = None;
        Session::new(conn, registry, settings)
    }

    pub(crate) fn applied_by(&self) -> String {
        let framework = concat!("migrate-postgres ", env!("CARGO_PKG_VERSION"));
        match &self.app_version {
            Some(app) => format!("{framework}; app {app}"),
            None => framework.to_owned(),
        }
    }
}
