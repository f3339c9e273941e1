//! The tracking tables, schema-qualified (`<schema>._migrate_applied`, ...), never found
//! through `search_path`: the same columns and semantics as the SQLite backend's.
//! `_migrate_applied` has one row per applied (or started) migration, written in the migration's
//! transaction; `_migrate_history` is the append-only log of every run; `_migrate_row_counts`
//! the row-count guard's counts per history row; `_migrate_schema` the recorded schema;
//! `_migrate_state` the no-op start's digest, cleared by triggers on any change of the applied
//! rows. Times are UTC text with milliseconds (`2026-11-22 10:49:14.123`), as on SQLite.

use crate::connection::Schema;
use crate::{Connection, Result};
use migrate_core::protocol::RowChange;
use migrate_core::{AppliedRow, RowState};
use postgres::Client;
use postgres::types::Type;

/// Table of applied (and started) migrations.
pub const APPLIED_TABLE: &str = "_migrate_applied";

/// `applied_at`/`at` as SQLite writes them.
const AS_TEXT: &str = "'YYYY-MM-DD HH24:MI:SS.MS'";

fn create_sql(s: &Schema) -> String {
    let q = |t: &str| s.qualify(t);
    let (applied, history, counts, schema_t, state) = (
        q(APPLIED_TABLE),
        q("_migrate_history"),
        q("_migrate_row_counts"),
        q("_migrate_schema"),
        q("_migrate_state"),
    );
    let clear = q("_migrate_state_clear");
    format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {applied} (
    set_name    text   NOT NULL,
    seq         bigint NOT NULL,
    name        text   NOT NULL,
    checksum    text   NOT NULL,
    state       text   NOT NULL CHECK (state IN ('applied', 'started', 'reverting')),
    applied_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    duration_ms bigint NOT NULL,
    applied_by  text   NOT NULL,
    schema_fingerprint text,
    PRIMARY KEY (set_name, seq)
);
CREATE TABLE IF NOT EXISTS {history} (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    set_name    text   NOT NULL,
    seq         bigint,
    name        text,
    action      text   NOT NULL,
    outcome     text   NOT NULL,
    detail      text,
    duration_ms bigint,
    backup_path text,
    applied_by  text   NOT NULL
);
CREATE TABLE IF NOT EXISTS {counts} (
    history_id  bigint NOT NULL,
    table_name  text   NOT NULL,
    rows_before bigint, -- NULL: the table did not exist before the migration
    rows_after  bigint, -- NULL: the table does not exist after it
    PRIMARY KEY (history_id, table_name)
);
CREATE TABLE IF NOT EXISTS {schema_t} (
    type text NOT NULL,
    name text NOT NULL,
    sql  text NOT NULL,
    PRIMARY KEY (type, name)
);
CREATE TABLE IF NOT EXISTS {state} (
    set_name text PRIMARY KEY,
    digest   text NOT NULL
);
CREATE OR REPLACE FUNCTION {clear}() RETURNS trigger LANGUAGE plpgsql
  SET search_path = pg_catalog AS $clear$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN DELETE FROM {state}; END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN DELETE FROM {state} WHERE set_name = OLD.set_name; END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN DELETE FROM {state} WHERE set_name = NEW.set_name; END IF;
  RETURN NULL;
END $clear$;
DROP TRIGGER IF EXISTS _migrate_applied_changed ON {applied};
CREATE TRIGGER _migrate_applied_changed
  AFTER INSERT OR DELETE OR UPDATE OF set_name, seq, name, checksum, state ON {applied}
  FOR EACH ROW EXECUTE FUNCTION {clear}();
DROP TRIGGER IF EXISTS _migrate_applied_truncated ON {applied};
CREATE TRIGGER _migrate_applied_truncated AFTER TRUNCATE ON {applied}
  FOR EACH STATEMENT EXECUTE FUNCTION {clear}();",
        schema = s.quoted
    )
}

/// Creates the tracking tables and the commit guard when missing (inside the caller's
/// transaction, under the migration lock).
pub(crate) fn ensure(client: &mut Client, schema: &Schema) -> Result<()> {
    let present: bool = client
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL",
            &[
                &schema.qualify(APPLIED_TABLE),
                &schema.qualify(crate::commit_guard::GUARD),
            ],
        )?
        .get(0);
    if !present {
        client.batch_execute(&create_sql(schema))?;
        client.batch_execute(&crate::commit_guard::install_sql(schema))?;
    }
    Ok(())
}

pub use migrate_core::{HistoryEvent, HistoryRow, RecordedRow, RowCount, RowValues};

/// The tracking tables of one schema, on a client (inside or outside the batch transaction).
///
/// ```no_run
/// let mut conn = migrate_postgres::Connection::open("postgres://app@localhost/app")?;
/// let rows = conn.tracking().read_rows("default")?;
/// # let _ = rows; Ok::<(), migrate_postgres::Error>(())
/// ```
pub struct Tracking<'c> {
    client: &'c mut Client,
    schema: &'c Schema,
}

impl Connection {
    /// The tracking tables of this connection's schema.
    ///
    /// ```no_run
    /// let mut conn = migrate_postgres::Connection::open("postgres://app@localhost/app")?;
    /// assert!(conn.tracking().highest_seq("default")?.is_none());
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn tracking(&mut self) -> Tracking<'_> {
        Tracking {
            client: &mut self.client,
            schema: &self.schema,
        }
    }
}

impl crate::Batch<'_> {
    /// The tracking tables, inside the batch transaction (rows written here commit with the
    /// migrations).
    ///
    /// ```no_run
    /// # let mut conn = migrate_postgres::Connection::open("postgres://app@localhost/app")?;
    /// # let mut lock = conn.lock()?;
    /// let mut batch = lock.begin()?;
    /// let rows = batch.tracking().read_plan_rows("default")?;
    /// # let _ = rows; Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn tracking(&mut self) -> Tracking<'_> {
        let (client, schema) = self.parts();
        Tracking { client, schema }
    }
}

impl Tracking<'_> {
    fn t(&self, table: &str) -> String {
        self.schema.qualify(table)
    }

    /// True when the tracking tables exist.
    pub fn tables_exist(&mut self) -> Result<bool> {
        let table = self.t(APPLIED_TABLE);
        Ok(self
            .client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])?
            .get(0))
    }

    /// Every row of `set`, by seq. Empty when the tables do not exist yet.
    pub fn read_rows(&mut self, set: &str) -> Result<Vec<RecordedRow>> {
        if !self.tables_exist()? {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT seq, name, checksum, state, to_char(applied_at AT TIME ZONE 'UTC', {AS_TEXT}),
                    duration_ms, applied_by, schema_fingerprint
             FROM {} WHERE set_name = $1 ORDER BY seq",
            self.t(APPLIED_TABLE)
        );
        let rows = self.client.query(&sql, &[&set])?;
        Ok(rows
            .iter()
            .map(|r| RecordedRow {
                row: AppliedRow {
                    seq: r.get::<_, i64>(0) as u64,
                    name: r.get(1),
                    checksum: r.get(2),
                    // 'reverting' is the down of a non-transactional migration, interrupted.
                    state: state_of(r.get(3)),
                },
                applied_at: r.get(4),
                duration_ms: r.get::<_, i64>(5).max(0) as u64,
                applied_by: r.get(6),
                fingerprint: r.get(7),
            })
            .collect())
    }

    /// Only what a plan needs (seq, name, checksum, state).
    pub fn read_plan_rows(&mut self, set: &str) -> Result<Vec<AppliedRow>> {
        Ok(self.read_rows(set)?.into_iter().map(|r| r.row).collect())
    }

    /// The highest seq recorded for `set` in any state.
    pub fn highest_seq(&mut self, set: &str) -> Result<Option<u64>> {
        if !self.tables_exist()? {
            return Ok(None);
        }
        let sql = format!(
            "SELECT max(seq) FROM {} WHERE set_name = $1",
            self.t(APPLIED_TABLE)
        );
        let seq: Option<i64> = self.client.query_one(&sql, &[&set])?.get(0);
        Ok(seq.map(|s| s as u64))
    }

    /// Records a migration as applied (replacing a `started` row).
    pub fn insert_applied(&mut self, v: &RowValues) -> Result<()> {
        self.upsert(v, "applied")
    }

    /// Records a non-transactional migration as started, before it runs.
    pub fn insert_started(&mut self, v: &RowValues) -> Result<()> {
        self.upsert(v, "started")
    }

    fn upsert(&mut self, v: &RowValues, state: &str) -> Result<()> {
        let sql = format!(
            "INSERT INTO {} (set_name, seq, name, checksum, state, applied_at, duration_ms, applied_by)
             VALUES ($1, $2, $3, $4, $5, clock_timestamp(), $6, $7)
             ON CONFLICT (set_name, seq) DO UPDATE SET
               name = EXCLUDED.name, checksum = EXCLUDED.checksum, state = EXCLUDED.state,
               applied_at = EXCLUDED.applied_at, duration_ms = EXCLUDED.duration_ms,
               applied_by = EXCLUDED.applied_by, schema_fingerprint = NULL",
            self.t(APPLIED_TABLE)
        );
        self.client.execute(
            &sql,
            &[
                &v.set,
                &(v.seq as i64),
                &v.name,
                &v.checksum,
                &state,
                &(v.duration_ms as i64),
                &v.applied_by,
            ],
        )?;
        Ok(())
    }

    /// The queued tracking-row changes of a transaction, in order, each run of one kind as one
    /// statement (arrays through `unnest`: one round trip however many rows).
    pub(crate) fn write_changes(
        &mut self,
        set: &str,
        changes: &[RowChange],
        applied_by: &str,
    ) -> Result<()> {
        let applied = |c: &&RowChange| matches!(c, RowChange::Applied { .. });
        let mut rest = changes;
        while let Some(first) = rest.first() {
            let same = if applied(&first) {
                rest.iter().take_while(applied).count()
            } else {
                rest.iter().take_while(|c| !applied(c)).count()
            };
            let (run, next) = rest.split_at(same);
            if applied(&first) {
                self.upsert_applied_all(set, run, applied_by)?;
            } else {
                self.delete_all(set, run)?;
            }
            rest = next;
        }
        Ok(())
    }

    fn upsert_applied_all(&mut self, set: &str, run: &[RowChange], applied_by: &str) -> Result<()> {
        let (mut seqs, mut names, mut checksums, mut durations) = (vec![], vec![], vec![], vec![]);
        for change in run {
            if let RowChange::Applied {
                seq,
                name,
                checksum,
                duration_ms,
            } = change
            {
                seqs.push(*seq as i64);
                names.push(name.as_str());
                checksums.push(checksum.as_str());
                durations.push(*duration_ms as i64);
            }
        }
        let sql = format!(
            "INSERT INTO {} (set_name, seq, name, checksum, state, applied_at, duration_ms, applied_by)
             SELECT $1, u.seq, u.name, u.checksum, 'applied', clock_timestamp(), u.duration_ms, $2
             FROM unnest($3::bigint[], $4::text[], $5::text[], $6::bigint[])
                  AS u(seq, name, checksum, duration_ms)
             ON CONFLICT (set_name, seq) DO UPDATE SET
               name = EXCLUDED.name, checksum = EXCLUDED.checksum, state = EXCLUDED.state,
               applied_at = EXCLUDED.applied_at, duration_ms = EXCLUDED.duration_ms,
               applied_by = EXCLUDED.applied_by, schema_fingerprint = NULL",
            self.t(APPLIED_TABLE)
        );
        self.client.query_typed(
            &sql,
            &[
                (&set, Type::TEXT),
                (&applied_by, Type::TEXT),
                (&seqs, Type::INT8_ARRAY),
                (&names, Type::TEXT_ARRAY),
                (&checksums, Type::TEXT_ARRAY),
                (&durations, Type::INT8_ARRAY),
            ],
        )?;
        Ok(())
    }

    fn delete_all(&mut self, set: &str, run: &[RowChange]) -> Result<()> {
        let seqs: Vec<i64> = run
            .iter()
            .filter_map(|c| match c {
                RowChange::Removed { seq } => Some(*seq as i64),
                RowChange::Applied { .. } => None,
            })
            .collect();
        let sql = format!(
            "DELETE FROM {} WHERE set_name = $1 AND seq = ANY($2)",
            self.t(APPLIED_TABLE)
        );
        self.client
            .query_typed(&sql, &[(&set, Type::TEXT), (&seqs, Type::INT8_ARRAY)])?;
        Ok(())
    }

    /// Appends history events in order: each run of events without row counts as one
    /// statement, an event with row counts alone (its counts need its id).
    pub(crate) fn append_history_all(
        &mut self,
        events: &[HistoryEvent],
        applied_by: &str,
    ) -> Result<()> {
        let mut rest = events;
        while let Some(first) = rest.first() {
            if !first.row_counts.is_empty() {
                self.append_history(first, applied_by)?;
                rest = &rest[1..];
                continue;
            }
            let plain = rest.iter().take_while(|e| e.row_counts.is_empty()).count();
            let (run, next) = rest.split_at(plain);
            self.insert_history_rows(run, applied_by)?;
            rest = next;
        }
        Ok(())
    }

    fn insert_history_rows(&mut self, run: &[HistoryEvent], applied_by: &str) -> Result<()> {
        let text = |f: fn(&HistoryEvent) -> Option<&str>| run.iter().map(f).collect::<Vec<_>>();
        let sets = text(|e| Some(e.set.as_str()));
        let names = text(|e| e.name.as_deref());
        let actions = text(|e| Some(e.action.as_str()));
        let outcomes = text(|e| Some(e.outcome.as_str()));
        let details = text(|e| e.detail.as_deref());
        let backups = text(|e| e.backup_path.as_deref());
        let seqs: Vec<Option<i64>> = run.iter().map(|e| e.seq.map(|s| s as i64)).collect();
        let durations: Vec<Option<i64>> = run
            .iter()
            .map(|e| e.duration_ms.map(|d| d as i64))
            .collect();
        let sql = format!(
            "INSERT INTO {} (set_name, seq, name, action, outcome, detail, duration_ms,
                             backup_path, applied_by)
             SELECT u.set_name, u.seq, u.name, u.action, u.outcome, u.detail, u.duration_ms,
                    u.backup_path, $9
             FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                         $6::text[], $7::bigint[], $8::text[])
                  WITH ORDINALITY AS u(set_name, seq, name, action, outcome, detail,
                                       duration_ms, backup_path, n)
             ORDER BY u.n",
            self.t("_migrate_history")
        );
        self.client.query_typed(
            &sql,
            &[
                (&sets, Type::TEXT_ARRAY),
                (&seqs, Type::INT8_ARRAY),
                (&names, Type::TEXT_ARRAY),
                (&actions, Type::TEXT_ARRAY),
                (&outcomes, Type::TEXT_ARRAY),
                (&details, Type::TEXT_ARRAY),
                (&durations, Type::INT8_ARRAY),
                (&backups, Type::TEXT_ARRAY),
                (&applied_by, Type::TEXT),
            ],
        )?;
        Ok(())
    }

    /// Replaces the recorded schema with `objects` (one statement for all rows).
    pub(crate) fn replace_schema(&mut self, objects: &migrate_core::SchemaObjects) -> Result<()> {
        let table = self.t("_migrate_schema");
        let (mut kinds, mut names, mut sqls) = (vec![], vec![], vec![]);
        for ((kind, name), sql) in objects {
            kinds.push(kind.as_str());
            names.push(name.as_str());
            sqls.push(sql.as_str());
        }
        self.client.batch_execute(&format!("DELETE FROM {table}"))?;
        self.client.query_typed(
            &format!(
                "INSERT INTO {table} (type, name, sql)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[])"
            ),
            &[
                (&kinds, Type::TEXT_ARRAY),
                (&names, Type::TEXT_ARRAY),
                (&sqls, Type::TEXT_ARRAY),
            ],
        )?;
        Ok(())
    }

    /// Marks an applied non-transactional migration as being reverted, before its down runs.
    pub fn mark_reverting(&mut self, set: &str, seq: u64) -> Result<()> {
        let sql = format!(
            "UPDATE {} SET state = 'reverting' WHERE set_name = $1 AND seq = $2",
            self.t(APPLIED_TABLE)
        );
        self.client.execute(&sql, &[&set, &(seq as i64)])?;
        Ok(())
    }

    /// Removes a migration's row (after its `down`).
    pub fn delete_row(&mut self, set: &str, seq: u64) -> Result<()> {
        let sql = format!(
            "DELETE FROM {} WHERE set_name = $1 AND seq = $2",
            self.t(APPLIED_TABLE)
        );
        self.client.execute(&sql, &[&set, &(seq as i64)])?;
        Ok(())
    }

    /// Replaces the recorded checksum of an applied migration.
    pub fn update_checksum(&mut self, set: &str, seq: u64, checksum: &str) -> Result<()> {
        let sql = format!(
            "UPDATE {} SET checksum = $3 WHERE set_name = $1 AND seq = $2",
            self.t(APPLIED_TABLE)
        );
        self.client
            .execute(&sql, &[&set, &(seq as i64), &checksum])?;
        Ok(())
    }

    /// Stores the schema fingerprint on the highest row of the set.
    pub fn set_fingerprint(&mut self, set: &str, fingerprint: &str) -> Result<()> {
        let t = self.t(APPLIED_TABLE);
        let sql = format!(
            "UPDATE {t} SET schema_fingerprint = $2
             WHERE set_name = $1 AND seq = (SELECT max(seq) FROM {t} WHERE set_name = $1)"
        );
        self.client.execute(&sql, &[&set, &fingerprint])?;
        Ok(())
    }

    /// The fingerprint stored on the highest row of the set, if any.
    pub fn last_fingerprint(&mut self, set: &str) -> Result<Option<String>> {
        if !self.tables_exist()? {
            return Ok(None);
        }
        let sql = format!(
            "SELECT schema_fingerprint FROM {} WHERE set_name = $1 ORDER BY seq DESC LIMIT 1",
            self.t(APPLIED_TABLE)
        );
        Ok(self
            .client
            .query_opt(&sql, &[&set])?
            .and_then(|r| r.get::<_, Option<String>>(0)))
    }

    /// Appends an event (and its row counts) to the history; its id.
    pub fn append_history(&mut self, e: &HistoryEvent, applied_by: &str) -> Result<i64> {
        let sql = format!(
            "INSERT INTO {} (set_name, seq, name, action, outcome, detail, duration_ms,
                             backup_path, applied_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            self.t("_migrate_history")
        );
        let id: i64 = self
            .client
            .query_one(
                &sql,
                &[
                    &e.set,
                    &e.seq.map(|s| s as i64),
                    &e.name,
                    &e.action,
                    &e.outcome,
                    &e.detail,
                    &e.duration_ms.map(|d| d as i64),
                    &e.backup_path,
                    &applied_by,
                ],
            )?
            .get(0);
        let insert = format!(
            "INSERT INTO {} (history_id, table_name, rows_before, rows_after)
             VALUES ($1, $2, $3, $4)",
            self.t("_migrate_row_counts")
        );
        for count in &e.row_counts {
            self.client.execute(
                &insert,
                &[
                    &id,
                    &count.table,
                    &count.before.map(|n| n as i64),
                    &count.after.map(|n| n as i64),
                ],
            )?;
        }
        Ok(id)
    }

    /// The history of `set`, oldest first, with row counts.
    pub fn read_history(&mut self, set: &str) -> Result<Vec<HistoryRow>> {
        if !self.tables_exist()? {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, to_char(at AT TIME ZONE 'UTC', {AS_TEXT}), seq, name, action, outcome,
                    detail, duration_ms, backup_path, applied_by
             FROM {} WHERE set_name = $1 ORDER BY id",
            self.t("_migrate_history")
        );
        let counts_sql = format!(
            "SELECT table_name, rows_before, rows_after FROM {}
             WHERE history_id = $1 ORDER BY table_name",
            self.t("_migrate_row_counts")
        );
        let rows = self.client.query(&sql, &[&set])?;
        let mut history = Vec::with_capacity(rows.len());
        for r in rows {
            let id: i64 = r.get(0);
            let row_counts = self
                .client
                .query(&counts_sql, &[&id])?
                .iter()
                .map(|c| RowCount {
                    table: c.get(0),
                    before: c.get::<_, Option<i64>>(1).map(|n| n.max(0) as u64),
                    after: c.get::<_, Option<i64>>(2).map(|n| n.max(0) as u64),
                })
                .collect();
            history.push(HistoryRow {
                id,
                at: r.get(1),
                event: HistoryEvent {
                    set: set.to_owned(),
                    seq: r.get::<_, Option<i64>>(2).map(|s| s as u64),
                    name: r.get(3),
                    action: r.get(4),
                    outcome: r.get(5),
                    detail: r.get(6),
                    duration_ms: r.get::<_, Option<i64>>(7).map(|d| d.max(0) as u64),
                    backup_path: r.get(8),
                    row_counts,
                },
                applied_by: r.get(9),
            });
        }
        Ok(history)
    }
}

fn state_of(text: String) -> RowState {
    if text == "applied" {
        RowState::Applied
    } else {
        RowState::Started
    }
}
