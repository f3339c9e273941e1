//! Feature `serde`: the reports serialize, in the shape `migrate ... --json` prints (the command
//! line serializes these very values, so its JSON cannot drift from the types).
//!
//! Each impl takes its value apart field by field (`let RunReport { .. } = self` names every
//! field), so a field added to a report does not compile until it is given its JSON here.
//! Durations are whole milliseconds (`duration_ms`); states are the command line's words.

use crate::backup::{BackupInfo, BackupKind, RestoreReport};
use crate::dry_run::{DroppedColumn, DryRun, DryRunOutcome, DryRunStep};
use crate::fingerprint::SchemaDiff;
use crate::report::{Direction, RunReport, StatusLine, StatusReport, StepReport};
use crate::row_counts::RowCount;
use crate::tracking::{HistoryEvent, HistoryRow};
use migrate_core::Status;
use serde::ser::{Serialize, SerializeStruct, Serializer};
use std::time::Duration;

fn millis(d: &Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A migration's state as the command line spells it (`status`, `plan`).
pub(crate) fn state_word(status: &Status) -> &'static str {
    match status {
        Status::Applied => "applied",
        Status::Pending => "pending",
        Status::OutOfOrder => "out-of-order",
        Status::Missing => "missing-from-binary",
        Status::Modified { .. } => "modified",
        Status::Renamed { .. } => "renamed",
        Status::Started => "started",
    }
}

/// Whether the recorded checksum matches the binary's, as `status` spells it.
fn checksum_word(status: &Status) -> &'static str {
    match status {
        Status::Modified { .. } => "changed",
        Status::Pending | Status::OutOfOrder => "-",
        Status::Missing => "unknown",
        _ => "ok",
    }
}

/// `{"set", "before", "after", "duration_ms", "accepted_checksums", "steps": [..]}`.
///
/// ```
/// # use migrate_sqlite::*;
/// let mut conn = rusqlite::Connection::open_in_memory()?;
/// let report = Migrator::new()
///     .with_migrations([Migration::new(1, "t", Step::sql("CREATE TABLE t (x)"))])
///     .on(&mut conn)?
///     .up()?;
/// let json = serde_json::to_value(&report)?;
/// assert_eq!(json["after"], 1);
/// assert_eq!(json["steps"][0]["name"], "t");
/// assert_eq!(json["steps"][0]["direction"], "up");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl Serialize for RunReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let RunReport {
            set,
            steps,
            accepted_checksums,
            before,
            after,
            duration,
        } = self;
        let mut s = serializer.serialize_struct("RunReport", 6)?;
        s.serialize_field("set", set)?;
        s.serialize_field("before", before)?;
        s.serialize_field("after", after)?;
        s.serialize_field("duration_ms", &millis(duration))?;
        s.serialize_field("accepted_checksums", accepted_checksums)?;
        s.serialize_field("steps", steps)?;
        s.end()
    }
}

impl Serialize for StepReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let StepReport {
            seq,
            name,
            direction,
            duration,
        } = self;
        let mut s = serializer.serialize_struct("StepReport", 4)?;
        s.serialize_field("seq", seq)?;
        s.serialize_field("name", name)?;
        s.serialize_field("direction", direction)?;
        s.serialize_field("duration_ms", &millis(duration))?;
        s.end()
    }
}

/// `"up"` or `"down"`.
impl Serialize for Direction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// `{"set", "current", "clean", "migrations": [..], "drift": null | {..}}`; each migration is
/// `{"seq", "name", "state", "applied_at", "duration_ms", "checksum", "reversible"}`.
impl Serialize for StatusReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let StatusReport {
            set,
            lines,
            current,
            drift,
        } = self;
        let mut s = serializer.serialize_struct("StatusReport", 5)?;
        s.serialize_field("set", set)?;
        s.serialize_field("current", current)?;
        s.serialize_field("clean", &self.is_clean())?;
        s.serialize_field("migrations", lines)?;
        s.serialize_field("drift", drift)?;
        s.end()
    }
}

impl Serialize for StatusLine {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let StatusLine {
            seq,
            name,
            status,
            applied_at,
            duration_ms,
            reversible,
        } = self;
        let mut s = serializer.serialize_struct("StatusLine", 7)?;
        s.serialize_field("seq", seq)?;
        s.serialize_field("name", name)?;
        s.serialize_field("state", state_word(status))?;
        s.serialize_field("applied_at", applied_at)?;
        s.serialize_field("duration_ms", duration_ms)?;
        s.serialize_field("checksum", checksum_word(status))?;
        s.serialize_field("reversible", reversible)?;
        s.end()
    }
}

/// `{"added", "removed", "changed"}`: lists of objects such as `"table users"`.
impl Serialize for SchemaDiff {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let SchemaDiff {
            added,
            removed,
            changed,
        } = self;
        let mut s = serializer.serialize_struct("SchemaDiff", 3)?;
        s.serialize_field("added", added)?;
        s.serialize_field("removed", removed)?;
        s.serialize_field("changed", changed)?;
        s.end()
    }
}

/// `{"table", "before", "after"}`.
impl Serialize for RowCount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let RowCount {
            table,
            before,
            after,
        } = self;
        let mut s = serializer.serialize_struct("RowCount", 3)?;
        s.serialize_field("table", table)?;
        s.serialize_field("before", before)?;
        s.serialize_field("after", after)?;
        s.end()
    }
}

/// One flat object: `{"id", "at", "set", "seq", "name", "action", "outcome", "detail",
/// "duration_ms", "backup", "by", "row_counts"}`.
impl Serialize for HistoryRow {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let HistoryRow {
            id,
            at,
            event,
            applied_by,
        } = self;
        let HistoryEvent {
            set,
            seq,
            name,
            action,
            outcome,
            detail,
            duration_ms,
            backup_path,
            row_counts,
        } = event;
        let mut s = serializer.serialize_struct("HistoryRow", 12)?;
        s.serialize_field("id", id)?;
        s.serialize_field("at", at)?;
        s.serialize_field("set", set)?;
        s.serialize_field("seq", seq)?;
        s.serialize_field("name", name)?;
        s.serialize_field("action", action)?;
        s.serialize_field("outcome", outcome)?;
        s.serialize_field("detail", detail)?;
        s.serialize_field("duration_ms", duration_ms)?;
        s.serialize_field("backup", backup_path)?;
        s.serialize_field("by", applied_by)?;
        s.serialize_field("row_counts", row_counts)?;
        s.end()
    }
}

/// `{"name", "kind", "created_at", "size", "schema_version", "path"}`: `name` is a snapshot's
/// name or an automatic backup's reason (`pre-up`...), `kind` is `snapshot`, `automatic`,
/// `manual` (taken by hand, never pruned) or `failed-state`.
impl Serialize for BackupInfo {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let BackupInfo {
            path,
            kind,
            created_at,
            size,
            schema_version,
        } = self;
        let (kind, name): (&str, &str) = match kind {
            BackupKind::Snapshot { name } => ("snapshot", name),
            BackupKind::Automatic { reason } => ("automatic", reason),
            BackupKind::FailedState => ("failed-state", "failed-state"),
            BackupKind::Manual => ("manual", "manual"),
        };
        let mut s = serializer.serialize_struct("BackupInfo", 6)?;
        s.serialize_field("name", name)?;
        s.serialize_field("kind", kind)?;
        s.serialize_field("created_at", created_at)?;
        s.serialize_field("size", size)?;
        s.serialize_field("schema_version", schema_version)?;
        s.serialize_field("path", &path.display().to_string())?;
        s.end()
    }
}

/// `{"restored_from", "undo_backup": {..}}`.
impl Serialize for RestoreReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let RestoreReport {
            restored_from,
            undo_backup,
        } = self;
        let mut s = serializer.serialize_struct("RestoreReport", 2)?;
        s.serialize_field("restored_from", &restored_from.display().to_string())?;
        s.serialize_field("undo_backup", undo_backup)?;
        s.end()
    }
}

/// `{"set", "current", "ok", "migrations": [..], "operation"}`; each migration is `{"seq",
/// "name", "state", "outcome" ("ok", "failed", "not-run"), "detail", "statements", "schema",
/// "tables": {"created", "dropped", "altered"}, "row_counts", "direction",
/// "columns_dropped"}`.
impl Serialize for DryRun {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let DryRun {
            set,
            current,
            migrations,
            operation,
        } = self;
        let mut s = serializer.serialize_struct("DryRun", 5)?;
        s.serialize_field("set", set)?;
        s.serialize_field("current", current)?;
        s.serialize_field("ok", &self.is_ok())?;
        s.serialize_field("migrations", migrations)?;
        s.serialize_field("operation", &operation.to_string())?;
        s.end()
    }
}

impl Serialize for DryRunStep {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let DryRunStep {
            seq,
            name,
            status,
            outcome,
            statements,
            schema,
            row_counts,
            direction,
            columns_dropped,
        } = self;
        let (outcome, detail) = match outcome {
            DryRunOutcome::Succeeded => ("ok", None),
            DryRunOutcome::Failed { error } => ("failed", Some(error)),
            DryRunOutcome::NotRun { reason } => ("not-run", Some(reason)),
        };
        let mut s = serializer.serialize_struct("DryRunStep", 11)?;
        s.serialize_field("seq", seq)?;
        s.serialize_field("name", name)?;
        s.serialize_field("state", state_word(status))?;
        s.serialize_field("outcome", outcome)?;
        s.serialize_field("detail", &detail)?;
        s.serialize_field("statements", statements)?;
        s.serialize_field("schema", schema)?;
        s.serialize_field("tables", &Tables(self))?;
        s.serialize_field("row_counts", row_counts)?;
        s.serialize_field("direction", &direction.to_string())?;
        s.serialize_field("columns_dropped", columns_dropped)?;
        s.end()
    }
}

/// `{"table", "column", "held_values"}`.
impl Serialize for DroppedColumn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let DroppedColumn {
            table,
            column,
            held_values,
        } = self;
        let mut s = serializer.serialize_struct("DroppedColumn", 3)?;
        s.serialize_field("table", table)?;
        s.serialize_field("column", column)?;
        s.serialize_field("held_values", held_values)?;
        s.end()
    }
}

/// `{"created", "dropped", "altered"}` of a dry-run step.
struct Tables<'a>(&'a DryRunStep);

impl Serialize for Tables<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Tables", 3)?;
        s.serialize_field("created", &self.0.tables_created())?;
        s.serialize_field("dropped", &self.0.tables_dropped())?;
        s.serialize_field("altered", &self.0.tables_altered())?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use crate::{Error, Migration, Migrator, Step};

    /// `DryRun::to_json` (available without the feature) and the serialization the command line
    /// prints are one shape: ran, failed and not-run steps, statements, tables, row counts.
    #[test]
    fn the_dry_run_serializes_as_to_json_writes_it() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE old (x); INSERT INTO old VALUES (1), (2);")
            .unwrap();
        let mut db = Migrator::new()
            .with_migrations([
                Migration::new(
                    1,
                    "t",
                    Step::sql("CREATE TABLE t (x); INSERT INTO t VALUES (1)"),
                ),
                Migration::new(2, "alter", Step::sql("ALTER TABLE old ADD COLUMN y")),
                Migration::new(3, "broken", Step::new(|_| Err(Error::msg("no")))),
                Migration::new(4, "later", Step::sql("CREATE TABLE later (x)")),
            ])
            .on(&mut conn)
            .unwrap();
        let dry = db.dry_run().unwrap();
        let by_hand: serde_json::Value = serde_json::from_str(&dry.to_json()).unwrap();
        assert_eq!(serde_json::to_value(&dry).unwrap(), by_hand);
        assert_eq!(by_hand["migrations"][2]["outcome"], "failed");
        assert_eq!(by_hand["migrations"][3]["outcome"], "not-run");
    }
}
