//! Feature `serde`: the shared reports serialize, in the shape `migrate ... --json` prints (the
//! command line serializes these very values, so its JSON cannot drift from the types).
//!
//! Each impl takes its value apart field by field (`let RunReport { .. } = self` names every
//! field), so a field added to a report does not compile until it is given its JSON here.
//! Durations are whole milliseconds (`duration_ms`); states are the command line's words.

use crate::{
    Direction, HistoryEvent, HistoryRow, RowCount, RunReport, SchemaDiff, Status, StatusLine,
    StatusReport, StepReport,
};
use serde::ser::{Serialize, SerializeStruct, Serializer};
use std::time::Duration;

fn millis(d: &Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A migration's state as the command line spells it (`status`, `plan`).
///
/// ```
/// assert_eq!(migrate_core::serialize::state_word(&migrate_core::Status::Pending), "pending");
/// ```
pub fn state_word(status: &Status) -> &'static str {
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
/// use migrate_core::{Direction, RunReport, StepReport};
/// use std::time::Duration;
/// let report = RunReport {
///     set: "default".into(),
///     steps: vec![StepReport { seq: 1, name: "t".into(), direction: Direction::Up, duration: Duration::ZERO }],
///     accepted_checksums: vec![],
///     before: None,
///     after: Some(1),
///     duration: Duration::ZERO,
/// };
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

/// A listed backup as every backend's `--json` prints it:
/// `{"name", "kind", "created_at", "size", "schema_version", "path"}`. `name` is a snapshot's
/// name or an automatic backup's reason (`pre-up`...), `kind` is `snapshot`, `automatic`,
/// `manual` (taken by hand, never pruned) or `failed-state`.
///
/// ```
/// use migrate_core::backups::BackupKind;
/// struct Entry;
/// impl serde::Serialize for Entry {
///     fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
///         let kind = BackupKind::Automatic { reason: "pre-up".into() };
///         migrate_core::serialize::backup_entry(s, &kind, "2026-12-01T10:00:00Z", 4096, Some(3),
///             std::path::Path::new("/b/app.db"))
///     }
/// }
/// let json = serde_json::to_value(Entry).unwrap();
/// assert_eq!(json["name"], "pre-up");
/// assert_eq!(json["kind"], "automatic");
/// assert_eq!(json["schema_version"], 3);
/// ```
pub fn backup_entry<S: Serializer>(
    serializer: S,
    kind: &crate::backups::BackupKind,
    created_at: &str,
    size: u64,
    schema_version: Option<u64>,
    path: &std::path::Path,
) -> Result<S::Ok, S::Error> {
    use crate::backups::BackupKind;
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
    s.serialize_field("size", &size)?;
    s.serialize_field("schema_version", &schema_version)?;
    s.serialize_field("path", &path.display().to_string())?;
    s.end()
}
