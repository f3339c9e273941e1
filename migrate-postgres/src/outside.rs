//! `transaction = false` migrations: run with no transaction open on the runner's connection
//! (`CREATE INDEX CONCURRENTLY` waits for every older snapshot, and refuses a transaction
//! block), each statement sent alone, then a check for the INVALID indexes a failed concurrent
//! build leaves behind (a rerun with `IF NOT EXISTS` would skip them silently).

use crate::lock::LockGuard;
use crate::{Connection, Error, Result, Step, Tx};

impl LockGuard<'_> {
    /// Runs a non-transactional migration under the lock: the session's lock_timeout and
    /// statement_timeout for its duration, the lock checked again afterwards, and
    /// [`Error::InvalidIndexes`] if any index is INVALID after it. Recording it as started
    /// first, and the failure policy, are the caller's.
    ///
    /// ```no_run
    /// use migrate_postgres::{Connection, Step};
    /// let mut conn = Connection::open("postgres://app@localhost/app")?;
    /// let mut lock = conn.lock()?;
    /// let index = Step::sql("CREATE INDEX CONCURRENTLY IF NOT EXISTS notes_body ON notes (body)");
    /// lock.run_outside_transaction(3, "index_notes", &index)?;
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn run_outside_transaction(&mut self, seq: u64, name: &str, step: &Step) -> Result<()> {
        self.run_outside(seq, name, step, &mut Vec::new())?;
        self.check_held()
    }
}

impl Connection {
    /// The step with the session's lock_timeout and statement_timeout, then the INVALID
    /// index check; the lock check is the caller's. The SQL it sends is recorded in
    /// `statements`.
    pub(crate) fn run_outside(
        &mut self,
        seq: u64,
        name: &str,
        step: &Step,
        statements: &mut Vec<String>,
    ) -> Result<()> {
        let settings = self.settings.clone();
        let mut setup = format!("SET lock_timeout = {}", settings.lock_timeout.as_millis());
        if let Some(timeout) = settings.statement_timeout {
            setup.push_str(&format!(
                "; SET statement_timeout = {}",
                timeout.as_millis()
            ));
        }
        self.client.batch_execute(&setup)?;
        let ran =
            step.run(&mut Tx::new(&mut self.client, seq, name, false).noting_sql_in(statements));
        let reset = self
            .client
            .batch_execute("RESET lock_timeout; RESET statement_timeout");
        if let Err(e) = ran {
            let invalid_indexes = self.invalid_indexes().unwrap_or_default();
            return Err(Error::NonTransactionalStep {
                seq,
                name: name.to_owned(),
                source: Box::new(e),
                invalid_indexes,
                conninfo: self.conninfo(),
            });
        }
        reset?;
        let indexes = self.invalid_indexes()?;
        if indexes.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidIndexes {
                seq,
                name: name.to_owned(),
                indexes,
                conninfo: self.conninfo(),
            })
        }
    }

    /// INVALID indexes (`pg_index.indisvalid = false`) in the database, as `schema.index`.
    ///
    /// ```no_run
    /// let mut conn = migrate_postgres::Connection::open("postgres://app@localhost/app")?;
    /// assert!(conn.invalid_indexes()?.is_empty());
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn invalid_indexes(&mut self) -> Result<Vec<String>> {
        let rows = self.client.query(
            "SELECT format('%I.%I', n.nspname, c.relname)
             FROM pg_catalog.pg_index i
             JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE NOT i.indisvalid ORDER BY 1",
            &[],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}
