//! Warnings in the spirit of strong_migrations and squawk, decided from what the migration
//! did to the catalog, its locks and its tables' storage, never from its SQL text.

use super::locks::LockMode;
use super::observe::{Observation, Table};
use super::options::DryRunOptions;
use super::report::size_text;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// What a warning is about.
///
/// ```
/// use migrate_postgres::WarningKind;
/// assert_eq!(WarningKind::TableRewrite.as_str(), "table-rewrite");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WarningKind {
    /// An index built inside the transaction (so without `CONCURRENTLY`) on a big table.
    IndexWithoutConcurrently,
    /// An existing table rewritten (a volatile default, a type change...).
    TableRewrite,
    /// ACCESS EXCLUSIVE held on a big table until the run commits.
    AccessExclusive,
    /// A column became NOT NULL without a validated `CHECK (c IS NOT NULL)`: a full scan
    /// under ACCESS EXCLUSIVE.
    SetNotNull,
    /// A foreign key added and validated at once (no `NOT VALID`): a full scan under SHARE
    /// ROW EXCLUSIVE on both tables.
    ForeignKeyValidated,
    /// A CHECK constraint added and validated at once (no `NOT VALID`).
    CheckValidated,
}

impl WarningKind {
    /// A stable name (JSON, filters).
    ///
    /// ```
    /// assert_eq!(migrate_postgres::WarningKind::SetNotNull.as_str(), "set-not-null-without-check");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            WarningKind::IndexWithoutConcurrently => "index-without-concurrently",
            WarningKind::TableRewrite => "table-rewrite",
            WarningKind::AccessExclusive => "access-exclusive-on-big-table",
            WarningKind::SetNotNull => "set-not-null-without-check",
            WarningKind::ForeignKeyValidated => "foreign-key-without-not-valid",
            WarningKind::CheckValidated => "check-without-not-valid",
        }
    }
}

/// A risky pattern seen in what a migration did, with the safer way to do it.
///
/// ```
/// use migrate_postgres::{Warning, WarningKind};
/// let w = Warning {
///     kind: WarningKind::SetNotNull,
///     table: "public.users".into(),
///     observed: "column email of public.users became NOT NULL".into(),
///     instead: "add a CHECK NOT VALID first".into(),
/// };
/// assert_eq!(w.to_string(), "column email of public.users became NOT NULL. Instead: add a CHECK NOT VALID first");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// What it is about.
    pub kind: WarningKind,
    /// The table (`schema.table`).
    pub table: String,
    /// What was observed.
    pub observed: String,
    /// The safer pattern.
    pub instead: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}. Instead: {}", self.observed, self.instead)
    }
}

/// What one migration was seen doing, for the rules.
pub(crate) struct Seen<'a> {
    pub before: &'a Observation,
    pub after: &'a Observation,
    /// Tables that existed before the dry run (others' sessions can use them).
    pub existing: &'a BTreeSet<i64>,
    /// Exact rows before this migration, by table oid.
    pub rows: &'a BTreeMap<i64, u64>,
    /// The strongest lock it took first, per table.
    pub locks: &'a [(i64, LockMode)],
    /// Tables it rewrote.
    pub rewritten: &'a [i64],
    pub options: &'a DryRunOptions,
    /// The migration's seq (named in the commands the warnings print).
    pub seq: u64,
}

impl Seen<'_> {
    fn table(&self, oid: i64) -> Option<&Table> {
        self.before.tables.get(&oid)
    }

    fn rows(&self, oid: i64) -> u64 {
        self.rows.get(&oid).copied().unwrap_or(0)
    }

    fn big(&self, oid: i64) -> bool {
        self.table(oid)
            .is_some_and(|t| self.options.is_big(t.size_bytes, self.rows(oid)))
    }

    fn sized(&self, oid: i64) -> String {
        match self.table(oid) {
            Some(t) => format!(
                "{} ({}, {} rows)",
                t.name,
                size_text(t.size_bytes),
                self.rows(oid)
            ),
            None => format!("table {oid}"),
        }
    }
}

/// Every warning one migration earns.
pub(crate) fn warnings(seen: &Seen<'_>) -> Vec<Warning> {
    let mut found = Vec::new();
    new_indexes(seen, &mut found);
    rewrites(seen, &mut found);
    access_exclusive(seen, &mut found);
    not_null(seen, &mut found);
    validated_constraints(seen, &mut found);
    found
}

fn new_indexes(seen: &Seen<'_>, found: &mut Vec<Warning>) {
    // A rewrite (type change) rebuilds the table's indexes under new oids with their old
    // names: the rewrite's warning covers them. An index dropped and built again by hand is new.
    let rebuilt = |table: i64, index: &str| {
        seen.rewritten.contains(&table)
            && seen
                .before
                .indexes
                .values()
                .any(|(t, name)| *t == table && name == index)
    };
    for (oid, (table, index)) in &seen.after.indexes {
        if seen.before.indexes.contains_key(oid)
            || rebuilt(*table, index)
            || !seen.existing.contains(table)
            || !seen.big(*table)
        {
            continue;
        }
        found.push(Warning {
            kind: WarningKind::IndexWithoutConcurrently,
            table: seen
                .table(*table)
                .map_or_else(String::new, |t| t.name.clone()),
            observed: format!(
                "index {index} was built inside the transaction (without CONCURRENTLY) on {}: \
                 writes to the table wait while it is built and until the run commits",
                seen.sized(*table)
            ),
            instead: "build it with `CREATE INDEX CONCURRENTLY` alone in a migration marked \
                      `transaction = false` (writes go on; if it fails it leaves an INVALID \
                      index to drop before retrying)"
                .into(),
        });
    }
}

fn rewrites(seen: &Seen<'_>, found: &mut Vec<Warning>) {
    for oid in seen.rewritten {
        let (Some(before), Some(after)) = (seen.table(*oid), seen.after.tables.get(oid)) else {
            continue;
        };
        if !seen.existing.contains(oid) {
            continue;
        }
        let reason = rewrite_reason(before, after);
        let instead = match &reason {
            Reason::TypeChange(_) => {
                "add a column of the new type, backfill it in batches, switch the code to it, \
                 then drop the old column (a binary-coercible change such as varchar(n) -> text \
                 or a wider varchar does not rewrite)"
            }
            Reason::VolatileDefault(_) => {
                "add the column without a default (or with a constant one, which PostgreSQL 11+ \
                 stores without rewriting), then set the default and backfill existing rows in \
                 batches"
            }
            Reason::Other => {
                "run it in a maintenance window, or build a new table, copy in batches and swap"
            }
            Reason::Generated(_) => {
                "accept the rewrite in a maintenance window, or add a plain column, fill it in \
                 batches and keep it current with a trigger"
            }
            Reason::Refresh => {
                "`REFRESH MATERIALIZED VIEW CONCURRENTLY` (it needs a unique index on the view; \
                 reads go on while it runs, under EXCLUSIVE)"
            }
        };
        let observed = match reason {
            Reason::Refresh => format!(
                "{} was refreshed ({}): recomputed under ACCESS EXCLUSIVE, reads of it blocked \
                 until the run commits",
                seen.sized(*oid),
                reason.text()
            ),
            _ => format!(
                "{} was rewritten ({}): every row copied under ACCESS EXCLUSIVE, reads and \
                 writes blocked until the run commits",
                seen.sized(*oid),
                reason.text()
            ),
        };
        found.push(Warning {
            kind: WarningKind::TableRewrite,
            table: before.name.clone(),
            observed,
            instead: instead.into(),
        });
    }
}

fn access_exclusive(seen: &Seen<'_>, found: &mut Vec<Warning>) {
    for (oid, mode) in seen.locks {
        if *mode != LockMode::AccessExclusive || !seen.existing.contains(oid) || !seen.big(*oid) {
            continue;
        }
        let Some(table) = seen.table(*oid) else {
            continue;
        };
        found.push(Warning {
            kind: WarningKind::AccessExclusive,
            table: table.name.clone(),
            observed: format!(
                "ACCESS EXCLUSIVE on {} is held from this migration until the run commits: \
                 every read and write of it waits, and so does every query queued behind them",
                seen.sized(*oid)
            ),
            instead: format!(
                "keep the migration short and end its run with it (`migrate up --to {}`, then \
                 `migrate up` for the rest), after any slow migration, not before; the \
                 runner's lock_timeout (Settings::lock_timeout, retried lock_attempts times) \
                 bounds only the wait for the lock",
                seen.seq
            ),
        });
    }
}

fn not_null(seen: &Seen<'_>, found: &mut Vec<Warning>) {
    for (oid, after) in &seen.after.tables {
        let Some(before) = seen.table(*oid) else {
            continue;
        };
        if !seen.existing.contains(oid) {
            continue;
        }
        for column in &after.columns {
            let Some(old) = before.columns.iter().find(|c| c.name == column.name) else {
                continue;
            };
            if old.not_null || !column.not_null || has_not_null_check(seen, *oid, &column.name) {
                continue;
            }
            found.push(Warning {
                kind: WarningKind::SetNotNull,
                table: before.name.clone(),
                observed: format!(
                    "column {} of {} became NOT NULL without a validated CHECK ({} IS NOT NULL): \
                     PostgreSQL scanned every row under ACCESS EXCLUSIVE",
                    column.name,
                    seen.sized(*oid),
                    column.name
                ),
                instead: "add `CHECK (col IS NOT NULL) NOT VALID`, `VALIDATE CONSTRAINT` it in a \
                          later migration (SHARE UPDATE EXCLUSIVE: reads and writes go on), then \
                          `SET NOT NULL` (PostgreSQL 12+ uses the CHECK and skips the scan) and \
                          drop the CHECK"
                    .into(),
            });
        }
    }
}

/// A validated `CHECK (col IS NOT NULL)` on the table before the migration.
fn has_not_null_check(seen: &Seen<'_>, table: i64, column: &str) -> bool {
    let quoted = format!("\"{}\"", column.replace('"', "\"\""));
    seen.before.constraints.values().any(|c| {
        c.table == table
            && c.kind == "c"
            && c.validated
            && [column, quoted.as_str()]
                .iter()
                .any(|name| c.definition == format!("CHECK (({name} IS NOT NULL))"))
    })
}

fn validated_constraints(seen: &Seen<'_>, found: &mut Vec<Warning>) {
    for (oid, constraint) in &seen.after.constraints {
        if seen.before.constraints.contains_key(oid)
            || !constraint.validated
            || !seen.existing.contains(&constraint.table)
        {
            continue;
        }
        let (kind, what, lock) = match constraint.kind.as_str() {
            "f" => (
                WarningKind::ForeignKeyValidated,
                "foreign key",
                "SHARE ROW EXCLUSIVE on it and on the referenced table (writes blocked)",
            ),
            "c" => (
                WarningKind::CheckValidated,
                "CHECK constraint",
                "ACCESS EXCLUSIVE",
            ),
            _ => continue,
        };
        found.push(Warning {
            kind,
            table: seen
                .table(constraint.table)
                .map_or_else(String::new, |t| t.name.clone()),
            observed: format!(
                "{what} {} ({}) was added to {} and validated at once: every row was checked \
                 under {lock}",
                constraint.name,
                constraint.definition,
                seen.sized(constraint.table)
            ),
            instead: format!(
                "add it with `NOT VALID` (existing rows are not checked, new ones are), then \
                 `ALTER TABLE ... VALIDATE CONSTRAINT {}` in a later migration (SHARE UPDATE \
                 EXCLUSIVE: reads and writes go on)",
                constraint.name
            ),
        });
    }
}

/// Why a table got new storage, as far as the catalog shows.
pub(crate) enum Reason {
    /// Columns whose type changed: `total (integer -> bigint)`.
    TypeChange(Vec<String>),
    /// Columns added with a default that had to be computed per row.
    VolatileDefault(Vec<String>),
    /// Stored generated columns added: computed for every row.
    Generated(Vec<String>),
    /// Nothing in the columns explains it (TRUNCATE, CLUSTER, SET TABLESPACE, SET LOGGED...).
    Other,
    /// A materialized view refreshed (not concurrently).
    Refresh,
}

impl Reason {
    pub(crate) fn text(&self) -> String {
        match self {
            Reason::TypeChange(columns) => format!("type change: {}", columns.join(", ")),
            Reason::VolatileDefault(columns) => {
                format!(
                    "column added with a volatile default: {}",
                    columns.join(", ")
                )
            }
            Reason::Other => "new storage; no column change explains it (TRUNCATE, CLUSTER, \
                              SET TABLESPACE, SET LOGGED/UNLOGGED...)"
                .into(),
            Reason::Generated(columns) => {
                format!("stored generated column: {}", columns.join(", "))
            }
            Reason::Refresh => "REFRESH MATERIALIZED VIEW without CONCURRENTLY".into(),
        }
    }
}

/// Compares the table's columns before and after the rewrite.
pub(crate) fn rewrite_reason(before: &Table, after: &Table) -> Reason {
    if after.materialized {
        return Reason::Refresh;
    }
    let mut changed = Vec::new();
    let mut added = Vec::new();
    let mut generated = Vec::new();
    for column in &after.columns {
        match before.columns.iter().find(|c| c.name == column.name) {
            Some(old) if old.type_name != column.type_name => changed.push(format!(
                "{} ({} -> {})",
                column.name, old.type_name, column.type_name
            )),
            Some(_) => {}
            None if column.generated => generated.push(format!(
                "{} AS {}",
                column.name,
                column.default.as_deref().unwrap_or_default()
            )),
            None if column.default.is_some() => added.push(format!(
                "{} DEFAULT {}",
                column.name,
                column.default.as_deref().unwrap_or_default()
            )),
            None => {}
        }
    }
    if !changed.is_empty() {
        Reason::TypeChange(changed)
    } else if !added.is_empty() {
        Reason::VolatileDefault(added)
    } else if !generated.is_empty() {
        Reason::Generated(generated)
    } else {
        Reason::Other
    }
}
