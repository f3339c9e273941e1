//! Feature `serde`: the reports serialize, in the shape `migrate ... --json` prints (the command
//! line serializes these very values, so its JSON cannot drift from the types).
//!
//! Each impl takes its value apart field by field (`let RunReport { .. } = self` names every
//! field), so a field added to a report does not compile until it is given its JSON here.
//! Durations are whole milliseconds (`duration_ms`); states are the command line's words.

use crate::backup::{BackupInfo, RestoreReport};
use crate::dry_run::{DroppedColumn, DryRun, DryRunOutcome, DryRunStep};
pub(crate) use migrate_core::serialize::state_word;
use serde::ser::{Serialize, SerializeStruct, Serializer};

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
        migrate_core::serialize::backup_entry(
            serializer,
            kind,
            created_at,
            *size,
            *schema_version,
            path,
        )
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

/// `{"set", "tool", "adopted": [{"seq", "name", "upstream"}], "backup": {..}, "pending"}`.
impl Serialize for crate::AdoptReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let crate::AdoptReport {
            set,
            tool,
            adopted,
            backup,
            pending,
        } = self;
        let adopted: Vec<_> = adopted
            .iter()
            .map(|(seq, name, upstream)| AdoptedJson {
                seq: *seq,
                name,
                upstream,
            })
            .collect();
        let mut s = serializer.serialize_struct("AdoptReport", 5)?;
        s.serialize_field("set", set)?;
        s.serialize_field("tool", tool.name())?;
        s.serialize_field("adopted", &adopted)?;
        s.serialize_field("backup", backup)?;
        s.serialize_field("pending", pending)?;
        s.end()
    }
}

/// One adopted migration: its seq and name, and what the other tool had recorded for it.
struct AdoptedJson<'a> {
    seq: u64,
    name: &'a str,
    upstream: &'a str,
}

impl Serialize for AdoptedJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Adopted", 3)?;
        s.serialize_field("seq", &self.seq)?;
        s.serialize_field("name", self.name)?;
        s.serialize_field("upstream", self.upstream)?;
        s.end()
    }
}

/// `{"restored_from", "damaged_kept", "moved": [..], "damage"}`.
impl Serialize for crate::DamagedRestore {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let crate::DamagedRestore {
            restored_from,
            damaged_kept,
            moved,
            damage,
        } = self;
        let moved: Vec<String> = moved.iter().map(|p| p.display().to_string()).collect();
        let mut s = serializer.serialize_struct("DamagedRestore", 4)?;
        s.serialize_field("restored_from", &restored_from.display().to_string())?;
        s.serialize_field("damaged_kept", &damaged_kept.display().to_string())?;
        s.serialize_field("moved", &moved)?;
        s.serialize_field("damage", damage)?;
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
