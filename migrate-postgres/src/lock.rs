//! The migration lock: a session advisory lock keyed by the tracking schema, taken with
//! `pg_try_advisory_lock` polled up to the busy timeout. Never the blocking `pg_advisory_lock`:
//! a replica waiting in it deadlocks a `CREATE INDEX CONCURRENTLY` run by the holder.
//!
//! With the lock, the session sets a random token (`migrate.session_token`) in the same
//! statement; [`LockGuard::check_held`] checks both, so a transaction pooler that routes us to
//! another backend, or another client to ours, is caught.

use crate::connection::Connection;
use crate::{Error, LockHolder, Result};
use postgres::types::Type;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

/// Salt of the key, so that our key does not collide with other tools' advisory locks.
const KEY_SALT: &str = "migrate-postgres/lock/";

/// The advisory lock key of a tracking schema: FNV-1a 64 of the salted name, top bit cleared
/// (a positive bigint reads the same in `pg_locks` on every platform).
///
/// ```
/// let key = migrate_postgres::lock_key("public");
/// assert!(key > 0);
/// assert_ne!(key, migrate_postgres::lock_key("tenant_1"));
/// ```
pub fn lock_key(schema: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in KEY_SALT.bytes().chain(schema.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash & i64::MAX as u64) as i64
}

/// Held while migrating; derefs to the [`Connection`]. Dropping it releases the lock, on every
/// path (errors and panics included); if the session is in an aborted transaction, it rolls
/// back first, since `pg_advisory_unlock` is refused there (the leak sqlx and lakekeeper hit).
pub struct LockGuard<'c> {
    conn: &'c mut Connection,
    key: i64,
    token: String,
}

/// `pg_locks` rows of this advisory key, as one bigint (classid high, objid low).
const KEY_OF_LOCK_ROW: &str = "((l.classid::bigint << 32) | l.objid::bigint)";

impl Connection {
    /// Polls `pg_try_advisory_lock` until it succeeds or the busy timeout passes; on timeout,
    /// [`Error::Locked`] names the holder.
    ///
    /// ```no_run
    /// let mut conn = migrate_postgres::Connection::open("postgres://app@localhost/app")?;
    /// let mut lock = conn.lock()?;
    /// lock.check_held()?;
    /// drop(lock); // released
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn lock(&mut self) -> Result<LockGuard<'_>> {
        let (key, token) = self.acquire_lock()?;
        Ok(LockGuard {
            conn: self,
            key,
            token,
        })
    }

    /// Polls for the lock (see [`Connection::lock`]); the key and the session token set with it.
    pub(crate) fn acquire_lock(&mut self) -> Result<(i64, String)> {
        let key = lock_key(&self.schema.name);
        let token = session_token();
        let timeout = self.settings.busy_timeout;
        let started = Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            let row = self.client.query_typed_one(
                "SELECT pg_try_advisory_lock($1), \
                        set_config('migrate.session_token', $2, false)",
                &[(&key, Type::INT8), (&token, Type::TEXT)],
            )?;
            if row.get::<_, bool>(0) {
                log::debug!(
                    "migration lock {key} of schema {:?} taken",
                    self.schema.name
                );
                return Ok((key, token));
            }
            let waited = started.elapsed();
            if waited >= timeout {
                let holders = self.lock_holders(key)?;
                return Err(Error::Locked {
                    schema: self.schema.name.clone(),
                    waited_ms: waited.as_millis() as u64,
                    holders,
                    rerun: "migrate up".to_owned(),
                    conninfo: self.conninfo(),
                });
            }
            std::thread::sleep(pause.min(timeout - waited));
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }

    /// [`LockGuard::check_held`] for a lock held by key and token.
    pub(crate) fn check_lock_held(&mut self, key: i64, token: &str) -> Result<()> {
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM pg_locks l \
                            WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted \
                              AND l.pid = pg_backend_pid() AND {KEY_OF_LOCK_ROW} = $1), \
                    current_setting('migrate.session_token', true) IS NOT DISTINCT FROM $2"
        );
        let token = token.to_owned();
        let row = self
            .client
            .query_typed_one(&sql, &[(&key, Type::INT8), (&token, Type::TEXT)])?;
        let why = match (row.get::<_, bool>(0), row.get::<_, bool>(1)) {
            (true, true) => return Ok(()),
            (false, _) => "this backend does not hold the advisory lock",
            (true, false) => "the session token is another client's",
        };
        Err(Error::LockLost {
            schema: self.schema.name.clone(),
            why,
            rerun: "migrate up".to_owned(),
        })
    }

    /// Releases the lock `key`; if the session is in an aborted transaction, rolls back first,
    /// since `pg_advisory_unlock` is refused there (the leak sqlx and lakekeeper hit).
    pub(crate) fn release_lock(&mut self, key: i64) {
        let unlock = |client: &mut postgres::Client, key: i64| {
            client.query_typed_one("SELECT pg_advisory_unlock($1)", &[(&key, Type::INT8)])
        };
        let result = match unlock(&mut self.client, key) {
            Ok(row) => Ok(row),
            // 25P02: the session is in an aborted transaction, which refuses the unlock.
            Err(e) if e.code().map(|c| c.code()) == Some("25P02") => {
                let _ = self.client.batch_execute("ROLLBACK");
                unlock(&mut self.client, key)
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(row) if row.get::<_, bool>(0) => log::debug!("migration lock {key} released"),
            Ok(_) => {
                log::warn!("migration lock {key} was not held at release (the session lost it)")
            }
            Err(e) => log::warn!(
                "cannot release migration lock {key}: {e}; it goes when this connection closes"
            ),
        }
    }

    /// Sessions other than this one holding `key`.
    fn lock_holders(&mut self, key: i64) -> Result<Vec<LockHolder>> {
        let sql = format!(
            "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.state, ''), \
                    coalesce(a.query, '') \
             FROM pg_locks l JOIN pg_stat_activity a USING (pid) \
             WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND {KEY_OF_LOCK_ROW} = $1 AND l.pid <> pg_backend_pid() \
             ORDER BY a.pid"
        );
        let rows = self.client.query_typed(&sql, &[(&key, Type::INT8)])?;
        Ok(rows
            .iter()
            .map(|r| LockHolder {
                pid: r.get(0),
                application_name: r.get(1),
                state: r.get(2),
                query: r.get(3),
            })
            .collect())
    }
}

impl LockGuard<'_> {
    /// The advisory key held.
    ///
    /// ```no_run
    /// let mut conn = migrate_postgres::Connection::open("postgres://app@localhost/app")?;
    /// let lock = conn.lock()?;
    /// assert_eq!(lock.key(), migrate_postgres::lock_key("public"));
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn key(&self) -> i64 {
        self.key
    }

    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    /// Checks that this backend still holds the lock and that the session token is still ours;
    /// [`Error::LockLost`] otherwise (a transaction pooler moved us or another client onto this
    /// backend). Run at every transaction start.
    ///
    /// ```no_run
    /// let mut conn = migrate_postgres::Connection::open("postgres://app@localhost/app")?;
    /// conn.lock()?.check_held()?;
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn check_held(&mut self) -> Result<()> {
        let (key, token) = (self.key, self.token.clone());
        self.conn.check_lock_held(key, &token)
    }
}

impl Deref for LockGuard<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl DerefMut for LockGuard<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        self.conn.release_lock(self.key);
    }
}

/// A token unique to this lock acquisition: pid, time and a per-process counter.
fn session_token() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
