//! Feature `serde`: the dry run's report as JSON, in the shape of SQLite's `migrate plan
//! --json` (`set`, `current`, `ok`, `migrations`, `operation`), each migration with
//! PostgreSQL's additions: `tables`, `locks`, `rewrites`, `warnings`. Each impl names every
//! field, so a field added to the report does not compile until it has its JSON.

use super::report::size_text;
use super::{
    DroppedColumn, DryRun, DryRunOutcome, DryRunStep, TableChange, TableLock, TableRewrite, Warning,
};
use migrate_core::serialize::state_word;
use serde::ser::{Serialize, SerializeStruct, Serializer};

/// `{"set", "current", "ok", "migrations", "operation", "held_until_commit", "backup_locks"}`;
/// `held_until_commit` lists `{"seq", "table", "mode"}`, `backup_locks` the locks of the
/// pre-migration backup as `locks` lists a migration's.
///
/// ```
/// use migrate_postgres::{DryRun, DryRunOperation};
/// let dry = DryRun { set: "default".into(), current: Some(3), operation: DryRunOperation::Up,
///     migrations: vec![], backup_locks: vec![] };
/// assert_eq!(
///     serde_json::to_string(&dry).unwrap(),
///     r#"{"set":"default","current":3,"ok":true,"migrations":[],"operation":"up","held_until_commit":[],"backup_locks":[]}"#
/// );
/// ```
impl Serialize for DryRun {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let DryRun {
            set,
            current,
            operation,
            migrations,
            backup_locks,
        } = self;
        let held: Vec<Held<'_>> = self
            .held_until_commit()
            .into_iter()
            .map(|(seq, lock)| Held { seq, lock })
            .collect();
        let mut s = serializer.serialize_struct("DryRun", 7)?;
        s.serialize_field("set", set)?;
        s.serialize_field("current", current)?;
        s.serialize_field("ok", &self.is_ok())?;
        s.serialize_field("migrations", migrations)?;
        s.serialize_field("operation", &operation.to_string())?;
        s.serialize_field("held_until_commit", &held)?;
        s.serialize_field("backup_locks", backup_locks)?;
        s.end()
    }
}

struct Held<'a> {
    seq: u64,
    lock: &'a TableLock,
}

impl Serialize for Held<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Held", 3)?;
        s.serialize_field("seq", &self.seq)?;
        s.serialize_field("table", &self.lock.table)?;
        s.serialize_field("mode", &self.lock.mode.to_string())?;
        s.end()
    }
}

/// `{"seq", "name", "state", "direction", "outcome" ("ok", "failed", "not-executed",
/// "not-run"), "detail", "statements", "schema", "columns_dropped", "tables", "locks",
/// "rewrites", "warnings"}`.
impl Serialize for DryRunStep {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let DryRunStep {
            seq,
            name,
            status,
            direction,
            outcome,
            statements,
            schema,
            columns_dropped,
            tables,
            locks,
            rewrites,
            warnings,
        } = self;
        let (outcome, detail) = match outcome {
            DryRunOutcome::Succeeded => ("ok", None),
            DryRunOutcome::Failed { error } => ("failed", Some(error)),
            DryRunOutcome::NotExecuted { reason } => ("not-executed", Some(reason)),
            DryRunOutcome::NotRun { reason } => ("not-run", Some(reason)),
        };
        let mut s = serializer.serialize_struct("DryRunStep", 13)?;
        s.serialize_field("seq", seq)?;
        s.serialize_field("name", name)?;
        s.serialize_field("state", state_word(status))?;
        s.serialize_field("direction", &direction.to_string())?;
        s.serialize_field("outcome", outcome)?;
        s.serialize_field("detail", &detail)?;
        s.serialize_field("statements", statements)?;
        s.serialize_field("schema", schema)?;
        s.serialize_field("columns_dropped", columns_dropped)?;
        s.serialize_field("tables", tables)?;
        s.serialize_field("locks", locks)?;
        s.serialize_field("rewrites", rewrites)?;
        s.serialize_field("warnings", warnings)?;
        s.end()
    }
}

/// `{"table", "column", "type", "rows"}`.
impl Serialize for DroppedColumn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let DroppedColumn {
            table,
            column,
            type_name,
            rows,
        } = self;
        let mut s = serializer.serialize_struct("DroppedColumn", 4)?;
        s.serialize_field("table", table)?;
        s.serialize_field("column", column)?;
        s.serialize_field("type", type_name)?;
        s.serialize_field("rows", rows)?;
        s.end()
    }
}

/// `{"table", "rows_before", "rows_after", "rows_lost", "size_bytes", "size"}`.
impl Serialize for TableChange {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let TableChange {
            table,
            rows_before,
            rows_after,
            size_bytes,
        } = self;
        let mut s = serializer.serialize_struct("TableChange", 6)?;
        s.serialize_field("table", table)?;
        s.serialize_field("rows_before", rows_before)?;
        s.serialize_field("rows_after", rows_after)?;
        s.serialize_field("rows_lost", &self.rows_lost())?;
        s.serialize_field("size_bytes", size_bytes)?;
        s.serialize_field("size", &size_bytes.map(size_text))?;
        s.end()
    }
}

/// `{"table", "mode" ("ACCESS EXCLUSIVE"...), "size_bytes", "size", "blocks"}`.
impl Serialize for TableLock {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let TableLock {
            table,
            mode,
            size_bytes,
        } = self;
        let mut s = serializer.serialize_struct("TableLock", 5)?;
        s.serialize_field("table", table)?;
        s.serialize_field("mode", &mode.to_string())?;
        s.serialize_field("size_bytes", size_bytes)?;
        s.serialize_field("size", &size_text(*size_bytes))?;
        s.serialize_field("blocks", mode.effect())?;
        s.end()
    }
}

/// `{"table", "size_bytes", "size", "reason"}`.
impl Serialize for TableRewrite {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let TableRewrite {
            table,
            size_bytes,
            reason,
        } = self;
        let mut s = serializer.serialize_struct("TableRewrite", 4)?;
        s.serialize_field("table", table)?;
        s.serialize_field("size_bytes", size_bytes)?;
        s.serialize_field("size", &size_text(*size_bytes))?;
        s.serialize_field("reason", reason)?;
        s.end()
    }
}

/// `{"kind" ("table-rewrite"...), "table", "observed", "instead"}`.
impl Serialize for Warning {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Warning {
            kind,
            table,
            observed,
            instead,
        } = self;
        let mut s = serializer.serialize_struct("Warning", 4)?;
        s.serialize_field("kind", kind.as_str())?;
        s.serialize_field("table", table)?;
        s.serialize_field("observed", observed)?;
        s.serialize_field("instead", instead)?;
        s.end()
    }
}
