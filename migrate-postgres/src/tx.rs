//! The handle a migration step receives.

use crate::connection::quote_ident;
use crate::dry_run::StatementLog;
use crate::{Error, Result, split};
use postgres::types::ToSql;
use postgres::{Client, Row};

/// The connection a migration runs on: inside its savepoint of the batch transaction, or, for a
/// `transaction = false` migration, outside any transaction, where [`Tx::batch_execute`] sends
/// each statement as its own query (a multi-statement string would be one implicit transaction,
/// which `CREATE INDEX CONCURRENTLY` refuses).
///
/// ```
/// use migrate_postgres::{Result, Tx};
/// fn add_index(tx: &mut Tx) -> Result<()> {
///     tx.batch_execute("CREATE INDEX notes_body ON notes (body)")
/// }
/// ```
pub struct Tx<'c> {
    client: &'c mut Client,
    seq: u64,
    name: &'c str,
    in_transaction: bool,
    /// A dry run's record of the SQL sent.
    log: Option<StatementLog>,
    /// A dry run listing a `transaction = false` step: record, send nothing.
    capture_only: bool,
    /// Every SQL text sent, for the safety checks' messages (which statement dropped what).
    sent: Option<&'c mut Vec<String>>,
    /// The first statement that failed, with PostgreSQL's error: when the step's code ignores
    /// it, the transaction is aborted and only this says why.
    failed: Option<&'c mut Option<String>>,
}

impl<'c> Tx<'c> {
    pub(crate) fn new(
        client: &'c mut Client,
        seq: u64,
        name: &'c str,
        in_transaction: bool,
    ) -> Self {
        Tx {
            client,
            seq,
            name,
            in_transaction,
            log: None,
            capture_only: false,
            sent: None,
            failed: None,
        }
    }

    /// Notes in `failed` the first statement that fails, with PostgreSQL's error (a step that
    /// drops the error leaves its transaction aborted; the error message names this one).
    pub(crate) fn noting_failure_in(mut self, failed: &'c mut Option<String>) -> Self {
        self.failed = Some(failed);
        self
    }

    /// `result` of sending `sql`; its error, if it is the first, noted.
    fn sent<T>(&mut self, sql: &str, result: Result<T, postgres::Error>) -> Result<T> {
        if let (Err(e), Some(failed)) = (&result, self.failed.as_mut())
            && failed.is_none()
        {
            **failed = Some(format!("`{}`: {}", sql.trim(), crate::error::describe(e)));
        }
        Ok(result?)
    }

    /// Notes every SQL text this handle sends in `sent` (the guard's messages name them).
    pub(crate) fn noting_sql_in(mut self, sent: &'c mut Vec<String>) -> Self {
        self.sent = Some(sent);
        self
    }

    fn note(&mut self, sql: &str) {
        if let Some(sent) = self.sent.as_mut() {
            sent.push(sql.to_owned());
        }
    }

    /// Records every statement sent (a dry run). A new `Tx` is a new attempt of the step (a
    /// retry after lock_timeout): what an earlier attempt sent was rolled back and is dropped.
    pub(crate) fn recording(mut self, log: Option<StatementLog>) -> Self {
        if let Some(log) = &log {
            log.take();
        }
        self.log = log;
        self
    }

    /// Records the statements and sends none: writes answer `Ok` (0 rows), reads fail with
    /// [`Error::Unsupported`] (a dry run listing a `transaction = false` step).
    pub(crate) fn capture_only(mut self, log: StatementLog) -> Self {
        self.log = Some(log);
        self.capture_only = true;
        self
    }

    fn not_executed(&self) -> Error {
        Error::Unsupported(format!(
            "migration {} {:?} reads the database, which a dry run cannot answer without \
             running it (`transaction = false`); the statements after this read are not listed",
            self.seq, self.name
        ))
    }

    /// The seq of the migration being run.
    ///
    /// ```
    /// fn step(tx: &mut migrate_postgres::Tx) -> migrate_postgres::Result<()> {
    ///     log::info!("running {}", tx.seq());
    ///     Ok(())
    /// }
    /// ```
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The name of the migration being run.
    ///
    /// ```
    /// fn step(tx: &mut migrate_postgres::Tx) -> migrate_postgres::Result<()> {
    ///     log::info!("running {}", tx.name());
    ///     Ok(())
    /// }
    /// ```
    pub fn name(&self) -> &str {
        self.name
    }

    /// True inside the batch transaction, false for a `transaction = false` migration.
    ///
    /// ```
    /// fn step(tx: &mut migrate_postgres::Tx) -> migrate_postgres::Result<()> {
    ///     let concurrently = if tx.in_transaction() { "" } else { "CONCURRENTLY" };
    ///     tx.batch_execute(&format!("CREATE INDEX {concurrently} notes_body ON notes (body)"))
    /// }
    /// ```
    pub fn in_transaction(&self) -> bool {
        self.in_transaction
    }

    /// Runs SQL text, several statements allowed. Outside a transaction each statement is sent
    /// alone ([`split_statements`](crate::split_statements)).
    ///
    /// ```
    /// fn step(tx: &mut migrate_postgres::Tx) -> migrate_postgres::Result<()> {
    ///     tx.batch_execute("CREATE TABLE a (id int); CREATE TABLE b (id int)")
    /// }
    /// ```
    pub fn batch_execute(&mut self, sql: &str) -> Result<()> {
        self.note(sql);
        if let Some(log) = &self.log {
            log.text(sql);
        }
        if self.capture_only {
            return Ok(());
        }
        if self.in_transaction {
            let result = self.client.batch_execute(sql);
            self.sent(sql, result)?;
        } else {
            for statement in split::split_statements(sql) {
                let result = self.client.batch_execute(statement);
                self.sent(statement, result)?;
            }
        }
        Ok(())
    }

    /// Runs one statement with parameters; the number of rows it changed.
    ///
    /// ```
    /// fn step(tx: &mut migrate_postgres::Tx) -> migrate_postgres::Result<()> {
    ///     tx.execute("UPDATE notes SET body = $1 WHERE body IS NULL", &[&""])?;
    ///     Ok(())
    /// }
    /// ```
    pub fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        self.note(sql);
        if let Some(log) = &self.log {
            log.with_params(sql, params);
        }
        if self.capture_only {
            return Ok(0);
        }
        let result = self.client.execute(sql, params);
        self.sent(sql, result)
    }

    /// Runs a query; its rows.
    ///
    /// ```
    /// fn step(tx: &mut migrate_postgres::Tx) -> migrate_postgres::Result<()> {
    ///     for row in tx.query("SELECT id FROM notes", &[])? {
    ///         let id: i64 = row.get(0);
    ///         # let _ = id;
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        self.note(sql);
        self.read(sql, params)?;
        let result = self.client.query(sql, params);
        self.sent(sql, result)
    }

    /// Runs a query that returns exactly one row.
    ///
    /// ```
    /// fn step(tx: &mut migrate_postgres::Tx) -> migrate_postgres::Result<()> {
    ///     let n: i64 = tx.query_one("SELECT count(*) FROM notes", &[])?.get(0);
    ///     # let _ = n;
    ///     Ok(())
    /// }
    /// ```
    pub fn query_one(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        self.note(sql);
        self.read(sql, params)?;
        let result = self.client.query_one(sql, params);
        self.sent(sql, result)
    }

    /// Runs a query that returns at most one row.
    ///
    /// ```
    /// fn step(tx: &mut migrate_postgres::Tx) -> migrate_postgres::Result<()> {
    ///     if tx.query_opt("SELECT 1 FROM pg_class WHERE relname = 'notes'", &[])?.is_some() {
    ///         tx.batch_execute("DROP TABLE notes")?;
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub fn query_opt(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        self.note(sql);
        self.read(sql, params)?;
        let result = self.client.query_opt(sql, params);
        self.sent(sql, result)
    }

    /// Number of rows in `table` (quoted as one identifier; use [`Tx::query_one`] for a
    /// schema-qualified name).
    ///
    /// ```
    /// fn step(tx: &mut migrate_postgres::Tx) -> migrate_postgres::Result<()> {
    ///     let before = tx.row_count("notes")?;
    ///     # let _ = before;
    ///     Ok(())
    /// }
    /// ```
    pub fn row_count(&mut self, table: &str) -> Result<u64> {
        let sql = format!("SELECT count(*) FROM {}", quote_ident(table));
        self.read(&sql, &[])?;
        let result = self.client.query_one(&sql, &[]);
        let count: i64 = self.sent(&sql, result)?.get(0);
        Ok(count.max(0) as u64)
    }

    /// A read: recorded in a dry run; refused when nothing may be sent.
    fn read(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<()> {
        if let Some(log) = &self.log {
            log.with_params(sql, params);
        }
        if self.capture_only {
            return Err(self.not_executed());
        }
        Ok(())
    }
}
