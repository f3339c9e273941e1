//! The batch transaction: one `BEGIN READ WRITE` per run, a `SAVEPOINT` per migration with
//! `SET LOCAL lock_timeout` / `statement_timeout`, a retry when a table lock is not granted in
//! time (SQLSTATE 55P03), `SET CONSTRAINTS ALL IMMEDIATE` at the end of each migration, and the
//! commit guard armed throughout.

use crate::commit_guard;
use crate::connection::{Schema, Settings};
use crate::lock::LockGuard;
use crate::{Error, Result, Step, Tx, tracking};
use postgres::Client;
use postgres::types::Type;
use std::time::Duration;

/// The savepoint of the migration being run.
const SAVEPOINT: &str = "migrate_step";

/// SQLSTATEs that say the session is no longer in the runner's transaction: no transaction
/// (25P01), or no such savepoint (3B001, after a user's `COMMIT; BEGIN`).
const ESCAPED: [&str; 2] = ["25P01", "3B001"];

/// The open batch transaction, under the migration lock. Dropping it without
/// [`Batch::commit`] rolls everything back.
pub struct Batch<'g> {
    client: &'g mut Client,
    schema: &'g Schema,
    settings: &'g Settings,
    /// `txid_current()` of the batch: a step that ended it shows up as a different (or no) id.
    txid: i64,
    open: bool,
    /// The steps that succeeded in it, as `seq "name"` (what a failed commit loses).
    held: Vec<String>,
    /// The server, for the `psql` command [`Error::LockTimeout`] prints.
    conninfo: String,
}

impl LockGuard<'_> {
    /// Starts the batch: `default_transaction_read_only = on` for the session, `BEGIN READ
    /// WRITE`, the lock checked again (a transaction pooler is refused), the transaction-level
    /// advisory lock as a second guard, the tracking tables and the commit guard created if
    /// missing, and the guard armed.
    ///
    /// ```no_run
    /// use migrate_postgres::{Connection, Step};
    /// let mut conn = Connection::open("postgres://app@localhost/app")?;
    /// let mut lock = conn.lock()?;
    /// let mut batch = lock.begin()?;
    /// batch.run_step(1, "create_notes", &Step::sql("CREATE TABLE notes (id bigint)"))?;
    /// batch.commit()?;
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn begin(&mut self) -> Result<Batch<'_>> {
        let key = self.key();
        // Two queries: in one string the SET would belong to the transaction that BEGIN opens
        // (a multi-statement query is one implicit transaction, which BEGIN makes explicit), and
        // a migration's ROLLBACK or refused COMMIT would undo it with everything else.
        self.client()
            .batch_execute("SET default_transaction_read_only = on")?;
        self.client().batch_execute("BEGIN READ WRITE")?;
        let prepared = self.prepare_batch(key);
        let txid = match prepared {
            Ok(txid) => txid,
            Err(e) => {
                let _ = self
                    .client()
                    .batch_execute("ROLLBACK; SET default_transaction_read_only = off");
                return Err(e);
            }
        };
        let conn = &mut **self;
        let conninfo = conn.conninfo();
        Ok(Batch {
            client: &mut conn.client,
            schema: &conn.schema,
            settings: &conn.settings,
            txid,
            open: true,
            held: Vec::new(),
            conninfo,
        })
    }

    fn prepare_batch(&mut self, key: i64) -> Result<i64> {
        self.check_held()?;
        let lock_timeout = millis(self.settings().lock_timeout);
        let schema = self.schema.clone();
        let client = self.client();
        client.batch_execute(&format!("SET LOCAL lock_timeout = {lock_timeout}"))?;
        client.query_typed("SELECT pg_advisory_xact_lock($1)", &[(&key, Type::INT8)])?;
        tracking::ensure(client, &schema)?;
        commit_guard::arm(client, &schema)?;
        Ok(client.query_one("SELECT txid_current()", &[])?.get(0))
    }
}

impl Batch<'_> {
    /// Runs one migration in its own savepoint, with the run's timeouts. On lock_timeout
    /// (55P03) it is rolled back to the savepoint and run again, up to `lock_attempts` times.
    /// Deferred constraints are checked at its end. On failure the savepoint is rolled back
    /// (nothing of the migration is kept) and the batch stays usable, except after
    /// [`Error::TransactionEnded`], where the whole batch is gone.
    ///
    /// ```no_run
    /// # use migrate_postgres::{Connection, Step};
    /// # let mut conn = Connection::open("postgres://app@localhost/app")?;
    /// # let mut lock = conn.lock()?;
    /// let mut batch = lock.begin()?;
    /// let attempts = batch.run_step(2, "add_email", &Step::sql("ALTER TABLE users ADD email text"))?;
    /// assert!(attempts >= 1);
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn run_step(&mut self, seq: u64, name: &str, step: &Step) -> Result<u32> {
        let settings = self.settings.clone();
        let conninfo = self.conninfo.clone();
        retry_on_lock_timeout((&settings, &conninfo), seq, name, |_| {
            self.attempt(seq, name, step)
        })
    }

    fn attempt(&mut self, seq: u64, name: &str, step: &Step) -> Result<()> {
        self.ensure_open(seq, name)?;
        let mut setup = format!(
            "SAVEPOINT {SAVEPOINT}; SET LOCAL lock_timeout = {}",
            millis(self.settings.lock_timeout)
        );
        if let Some(timeout) = self.settings.statement_timeout {
            setup.push_str(&format!(
                "; SET LOCAL statement_timeout = {}",
                millis(timeout)
            ));
        }
        self.client.batch_execute(&setup)?;
        let mut first_failure = None;
        let ran = step
            .run(&mut Tx::new(self.client, seq, name, true).noting_failure_in(&mut first_failure));
        let ran = ran.and_then(|()| self.still_ours(seq, name));
        if let Err(e) = ran {
            self.roll_back_step(seq, name)?;
            return Err(match e {
                Error::TransactionEnded { .. } => e,
                e if e.sqlstate() == Some("55P03") => e,
                // "current transaction is aborted": an earlier statement of the step failed
                // and its code went on (returned Ok, or ran more).
                e if e.sqlstate() == Some("25P02") => Error::StepIgnoredError {
                    seq,
                    name: name.to_owned(),
                    statement_error: first_failure,
                },
                e => Error::Step {
                    seq,
                    name: name.to_owned(),
                    source: Box::new(e),
                },
            });
        }
        if let Err(source) = self.client.batch_execute(commit_guard::CHECK_DEFERRED) {
            self.roll_back_step(seq, name)?;
            return Err(Error::DeferredConstraint {
                seq,
                name: name.to_owned(),
                source,
            });
        }
        self.client
            .batch_execute(&format!("RELEASE SAVEPOINT {SAVEPOINT}"))?;
        commit_guard::arm(self.client, self.schema)?;
        self.held.push(format!("{seq} {name:?}"));
        Ok(())
    }

    /// True when the session is still in this batch's transaction (a step may have run
    /// `COMMIT`; the guard then rolled it back, or `ROLLBACK`, which needs no guard).
    fn still_ours(&mut self, seq: u64, name: &str) -> Result<()> {
        let txid: Option<i64> = self
            .client
            .query_one("SELECT txid_current_if_assigned()", &[])?
            .get(0);
        if txid == Some(self.txid) {
            Ok(())
        } else {
            self.ended(seq, name)
        }
    }

    /// Rolls back to the step's savepoint; [`Error::TransactionEnded`] when there is no longer
    /// a transaction or savepoint to roll back to.
    fn roll_back_step(&mut self, seq: u64, name: &str) -> Result<()> {
        match self.client.batch_execute(&format!(
            "ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}"
        )) {
            Ok(()) => self.still_ours(seq, name),
            Err(e) if e.code().is_some_and(|c| ESCAPED.contains(&c.code())) => {
                self.ended(seq, name)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn ended(&mut self, seq: u64, name: &str) -> Result<()> {
        // Whatever the step left open (a `BEGIN` of its own) goes too.
        let _ = self.client.batch_execute("ROLLBACK");
        self.close();
        Err(Error::TransactionEnded {
            seq,
            name: name.to_owned(),
        })
    }

    fn ensure_open(&self, seq: u64, name: &str) -> Result<()> {
        if self.open {
            Ok(())
        } else {
            Err(Error::TransactionEnded {
                seq,
                name: name.to_owned(),
            })
        }
    }

    /// The underlying client, inside the batch transaction (tracking rows, checks).
    ///
    /// ```no_run
    /// # let mut conn = migrate_postgres::Connection::open("postgres://app@localhost/app")?;
    /// # let mut lock = conn.lock()?;
    /// let mut batch = lock.begin()?;
    /// let n: i64 = batch.client().query_one("SELECT count(*) FROM pg_class", &[])?.get(0);
    /// # let _ = n; Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn client(&mut self) -> &mut Client {
        self.client
    }

    pub(crate) fn parts(&mut self) -> (&mut Client, &Schema) {
        (&mut *self.client, self.schema)
    }

    /// Commits: the guard lets this commit through; the session's default goes back to read-write.
    ///
    /// ```no_run
    /// # let mut conn = migrate_postgres::Connection::open("postgres://app@localhost/app")?;
    /// # let mut lock = conn.lock()?;
    /// lock.begin()?.commit()?;
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    ///
    /// A commit that does not happen (the session ended or the connection was lost before it,
    /// the transaction was ended earlier, the COMMIT refused) is [`Error::CommitLost`], naming
    /// the cause and the steps the batch held.
    pub fn commit(mut self) -> Result<()> {
        let held = std::mem::take(&mut self.held);
        let lost = |cause: String| Error::CommitLost {
            doing: "committing the batch".into(),
            cause,
            migrations: held.clone(),
        };
        if !self.open {
            return Err(lost(
                "the transaction was ended before it, by a step's own COMMIT or ROLLBACK"
                    .to_owned(),
            ));
        }
        let probe = self
            .client
            .query_one("SELECT txid_current_if_assigned()", &[]);
        let result = match probe.map(|row| row.get::<_, Option<i64>>(0)) {
            Ok(txid) if txid == Some(self.txid) => self
                .client
                .batch_execute(&commit_guard::commit_sql(self.schema)),
            Ok(_) => {
                let _ = self.ended(0, "(before commit)");
                return Err(lost(
                    "the transaction was ended before it, by a step's own COMMIT or ROLLBACK"
                        .to_owned(),
                ));
            }
            Err(e) => Err(e),
        };
        if result.is_err() {
            // A failed statement before COMMIT leaves the transaction open and aborted.
            let _ = self.client.batch_execute("ROLLBACK");
        }
        self.close();
        result.map_err(|e| lost(crate::error::commit_cause(&e)))
    }

    /// Leaves the transaction state (committed or rolled back) and resets the session default.
    fn close(&mut self) {
        if self.open {
            self.open = false;
            if let Err(e) = self
                .client
                .batch_execute("SET default_transaction_read_only = off")
            {
                log::warn!("cannot reset default_transaction_read_only: {e}");
            }
        }
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        if self.open {
            if let Err(e) = self.client.batch_execute("ROLLBACK") {
                log::warn!("cannot roll back the batch: {e}");
            }
            self.close();
        }
    }
}

/// Runs `attempt` (given its number, from 1) until it does not fail with lock_timeout (55P03),
/// up to `lock_attempts` times with a growing pause; after the last, [`Error::LockTimeout`].
/// Returns the attempt that succeeded. Undoing a failed attempt is `attempt`'s (or the next
/// attempt's) job.
pub(crate) fn retry_on_lock_timeout(
    (settings, conninfo): (&Settings, &str),
    seq: u64,
    name: &str,
    mut attempt: impl FnMut(u32) -> Result<()>,
) -> Result<u32> {
    let attempts = settings.lock_attempts.max(1);
    for n in 1..=attempts {
        match attempt(n) {
            Ok(()) => return Ok(n),
            Err(e) if e.sqlstate() == Some("55P03") && n < attempts => {
                log::info!(
                    "migration {seq} {name:?}: lock_timeout on attempt {n} of {attempts}; \
                     retrying"
                );
                std::thread::sleep(Duration::from_millis(100 * u64::from(n)));
            }
            Err(e) if e.sqlstate() == Some("55P03") => {
                return Err(Error::LockTimeout {
                    seq,
                    name: name.to_owned(),
                    lock_timeout_ms: millis(settings.lock_timeout),
                    attempts,
                    conninfo: conninfo.to_owned(),
                });
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("the last attempt returns")
}

/// A duration as whole milliseconds (PostgreSQL reads a bare number as ms).
pub(crate) fn millis(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}
