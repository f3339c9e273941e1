//! The dry run: every pending migration run for real inside one transaction that is rolled back,
//! recording what it would do.
//!
//! The protocol follows the runner's so the dry run meets what the real run meets: foreign keys
//! off in autocommit mode, `BEGIN IMMEDIATE`, the same selection of migrations
//! ([`Plan::to_apply`] with the migrator's policy), each migration in the runner's savepoint under
//! the same authorizer, then `foreign_key_check`. What differs: no migration lock file, no
//! backup, no tracking table is created or written, and the whole transaction ends in `ROLLBACK`,
//! so the database file is left byte for byte as it was. That holds even when SQLite ends the
//! transaction in the middle of a step (a conflict resolved by `ROLLBACK`): a commit hook
//! refuses every commit for the whole dry run, so the statements after it cannot autocommit; the
//! step is reported as failed with what happened, and the dry run stops there. A `trace_v2` hook
//! records the
//! statements each step runs; `sqlite_schema` and row counts are compared around each step.
//!
//! Non-transactional migrations (`transaction = false`) cannot be rolled back, so the dry run
//! stops before them and reports them as not run.
//!
//! The same machinery previews a revert ([`Session::dry_run_down`], [`Session::dry_run_redo`],
//! `migrate plan --down` / `plan --redo`): the down steps `down` would run, chosen and refused
//! as `down` chooses and refuses them, each reporting its SQL, the tables and columns it drops
//! and the rows that would go.

use crate::fingerprint::{self, SchemaObjects};
use crate::pragmas::{self, PragmaGuard};
use crate::report::Direction;
use crate::row_counts::{self, RowCount, RowCounter};
use crate::runner::{begin_immediate, runner_error};
use crate::sentry::{Phase, RUNNER_SAVEPOINT, Sentry};
use crate::step_call::{StepRules, call_step};
use crate::{
    Error, FkViolation, Migration, Migrator, Result, SchemaDiff, Step, foreign_keys, tracking,
};
use migrate_core::{DownTarget, Plan, Registry, RowState, Status, TxMode};
use rusqlite::Connection;
use rusqlite::trace::{TraceEvent, TraceEventCodes};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

/// What `up` would do, found by running every pending migration in a transaction that was
/// rolled back. Returned by [`Session::dry_run`](crate::Session::dry_run); prints as a readable
/// report, [`to_json`](DryRun::to_json) gives the same as JSON.
///
/// ```
/// use migrate_sqlite::{DryRunOutcome, Migration, Migrator, Step};
/// let mut conn = rusqlite::Connection::open_in_memory()?;
/// let mut db = Migrator::new()
///     .with_migrations([
///         Migration::new(1, "create_notes", Step::sql("CREATE TABLE notes (body TEXT)")),
///         Migration::new(2, "seed", Step::sql("INSERT INTO notes VALUES ('hello')")),
///     ])
///     .on(&mut conn)?;
/// let dry = db.dry_run()?;
/// assert!(dry.is_ok());
/// assert_eq!(dry.migrations[1].statements, ["INSERT INTO notes VALUES ('hello')"]);
/// assert_eq!(dry.migrations[1].outcome, DryRunOutcome::Succeeded);
/// println!("{dry}");
/// // Nothing was applied.
/// assert_eq!(db.status()?.current, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DryRun {
    /// The migration set.
    pub set: String,
    /// The last applied seq before (and after) the dry run.
    pub current: Option<u64>,
    /// Every migration the operation would run, in order: the ones that ran, the one that
    /// failed, and the ones after it that were not run (a redo lists its migration twice:
    /// reverted, then applied).
    pub migrations: Vec<DryRunStep>,
    /// What was previewed: `up`, a `down`, or a `redo`.
    pub operation: DryRunOperation,
}

/// The operation a [`DryRun`] previews, as the command line spells it (`Display`).
///
/// ```
/// use migrate_sqlite::{DownTarget, DryRunOperation};
/// assert_eq!(DryRunOperation::Up.to_string(), "up");
/// assert_eq!(DryRunOperation::Down(DownTarget::Steps(2)).to_string(), "down --steps 2");
/// assert_eq!(DryRunOperation::Down(DownTarget::To(1)).to_string(), "down --to 1");
/// assert_eq!(DryRunOperation::Redo.to_string(), "redo");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DryRunOperation {
    /// Apply every pending migration.
    Up,
    /// Revert, as [`Session::down`](crate::Session::down) or
    /// [`down_to`](crate::Session::down_to) would.
    Down(DownTarget),
    /// Revert the last applied migration and apply it again.
    Redo,
    /// Apply the pending migrations up to this seq, as `up_to` would (`migrate plan --to`).
    UpTo(u64),
}

impl fmt::Display for DryRunOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DryRunOperation::Up => f.write_str("up"),
            DryRunOperation::Down(DownTarget::Steps(n)) => write!(f, "down --steps {n}"),
            DryRunOperation::Down(DownTarget::To(seq)) => write!(f, "down --to {seq}"),
            DryRunOperation::Redo => f.write_str("redo"),
            DryRunOperation::UpTo(seq) => write!(f, "up --to {seq}"),
        }
    }
}

/// A column a step removed from a table that is still there (`ALTER TABLE ... DROP COLUMN`,
/// or a rebuild without it).
///
/// ```
/// use migrate_sqlite::DroppedColumn;
/// let c = DroppedColumn { table: "books".into(), column: "isbn".into(), held_values: true };
/// assert_eq!(c.to_string(), "books.isbn (its values would go)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DroppedColumn {
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// Whether any row held a value (not NULL) in it.
    pub held_values: bool,
}

impl fmt::Display for DroppedColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.table, self.column)?;
        if self.held_values {
            f.write_str(" (its values would go)")
        } else {
            f.write_str(" (empty)")
        }
    }
}

/// One migration of a [`DryRun`].
///
/// ```
/// use migrate_sqlite::{Migration, Migrator, Step};
/// let mut conn = rusqlite::Connection::open_in_memory()?;
/// let mut db = Migrator::new()
///     .with_migrations([Migration::new(1, "t", Step::sql("CREATE TABLE t (x)"))])
///     .on(&mut conn)?;
/// let step = &db.dry_run()?.migrations[0];
/// assert_eq!((step.seq, step.name.as_str()), (1, "t"));
/// assert_eq!(step.tables_created(), ["t"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DryRunStep {
    /// The seq.
    pub seq: u64,
    /// The name.
    pub name: String,
    /// Its state in the plan: pending, or out of order (with `allow_out_of_order`).
    pub status: Status,
    /// How its dry run went.
    pub outcome: DryRunOutcome,
    /// The SQL statements it ran, in order, as SQLite ran them (bound parameters expanded,
    /// surrounding whitespace and the final `;` removed). Statements SQLite runs for triggers
    /// are part of the statement that fired them and are not listed.
    pub statements: Vec<String>,
    /// The schema objects (tables, indexes, views, triggers) it added, removed and changed.
    pub schema: SchemaDiff,
    /// Rows of every user table before and after it (empty unless it succeeded).
    pub row_counts: Vec<RowCount>,
    /// Applying or reverting.
    pub direction: Direction,
    /// Columns it removed from tables that stay (empty unless it succeeded).
    pub columns_dropped: Vec<DroppedColumn>,
}

/// How one migration's dry run went.
///
/// ```
/// use migrate_sqlite::{DryRunOutcome, Error, Migration, Migrator, Step};
/// let mut conn = rusqlite::Connection::open_in_memory()?;
/// let mut db = Migrator::new()
///     .with_migrations([Migration::new(1, "broken", Step::new(|_| Err(Error::msg("no"))))])
///     .on(&mut conn)?;
/// let dry = db.dry_run()?;
/// assert_eq!(dry.migrations[0].outcome, DryRunOutcome::Failed { error: "no".into() });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DryRunOutcome {
    /// It ran and passed the runner's checks: `up` would apply it.
    Succeeded,
    /// It failed: `up` would fail here. The dry run stopped.
    Failed {
        /// The error, as `up` would report it.
        error: String,
    },
    /// It was not run: an earlier migration failed, or it (or an earlier one) runs outside a
    /// transaction, which a dry run cannot roll back.
    NotRun {
        /// Why.
        reason: String,
    },
}

impl DryRun {
    /// True when every migration would be applied (none failed or was left out).
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// # let mut conn = rusqlite::Connection::open_in_memory()?;
    /// # let mut db = Migrator::new()
    /// #     .with_migrations([Migration::new(1, "t", Step::sql("CREATE TABLE t (x)"))])
    /// #     .on(&mut conn)?;
    /// assert!(db.dry_run()?.is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_ok(&self) -> bool {
        self.migrations
            .iter()
            .all(|m| m.outcome == DryRunOutcome::Succeeded)
    }

    /// The migration that failed, if one did.
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// # let mut conn = rusqlite::Connection::open_in_memory()?;
    /// # let mut db = Migrator::new()
    /// #     .with_migrations([Migration::new(1, "bad", Step::sql("CREATE TABLE"))])
    /// #     .on(&mut conn)?;
    /// assert_eq!(db.dry_run()?.failure().map(|m| m.seq), Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn failure(&self) -> Option<&DryRunStep> {
        self.migrations
            .iter()
            .find(|m| matches!(m.outcome, DryRunOutcome::Failed { .. }))
    }

    /// The dry run as one JSON object: `set`, `current`, `ok`, `migrations`, each with
    /// `seq`, `name`, `state`, `outcome` (`"ok"`, `"failed"`, `"not-run"`), `detail` (the
    /// error or reason, or null), `statements`, `schema` (`added`, `removed`, `changed`),
    /// `tables` (`created`, `dropped`, `altered`), `row_counts` (`table`, `before`, `after`),
    /// `direction` (`"up"`, `"down"`) and `columns_dropped` (`table`, `column`, `held_values`),
    /// and last `operation` (`"up"`, `"down --steps N"`, `"down --to SEQ"`, `"redo"`).
    ///
    /// ```
    /// use migrate_sqlite::*;
    /// let dry = DryRun {
    ///     set: "default".into(),
    ///     current: None,
    ///     migrations: vec![DryRunStep {
    ///         seq: 1,
    ///         name: "t".into(),
    ///         status: Status::Pending,
    ///         outcome: DryRunOutcome::Succeeded,
    ///         statements: vec!["CREATE TABLE t (x)".into()],
    ///         schema: SchemaDiff { added: vec!["table t".into()], ..SchemaDiff::default() },
    ///         row_counts: vec![RowCount { table: "t".into(), before: None, after: Some(0) }],
    ///         direction: Direction::Up,
    ///         columns_dropped: vec![],
    ///     }],
    ///     operation: DryRunOperation::Up,
    /// };
    /// assert!(dry.to_json().starts_with(r#"{"set":"default","current":null,"ok":true,"#));
    /// ```
    pub fn to_json(&self) -> String {
        let migrations: Vec<String> = self.migrations.iter().map(step_json).collect();
        format!(
            "{{\"set\":{},\"current\":{},\"ok\":{},\"migrations\":[{}],\"operation\":{}}}",
            json_str(&self.set),
            json_opt(self.current),
            self.is_ok(),
            migrations.join(","),
            json_str(&self.operation.to_string())
        )
    }
}

impl DryRunStep {
    /// The tables it created.
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// # let mut conn = rusqlite::Connection::open_in_memory()?;
    /// # let mut db = Migrator::new()
    /// #     .with_migrations([Migration::new(1, "t", Step::sql("CREATE TABLE t (x)"))])
    /// #     .on(&mut conn)?;
    /// assert_eq!(db.dry_run()?.migrations[0].tables_created(), ["t"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tables_created(&self) -> Vec<&str> {
        tables(&self.schema.added)
    }

    /// The tables it dropped.
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// # let mut conn = rusqlite::Connection::open_in_memory()?;
    /// conn.execute_batch("CREATE TABLE old (x)")?;
    /// let drop = Migration::new(1, "drop", Step::sql("DROP TABLE old"))
    ///     .with_flags(Flags::NONE.with_destructive(true));
    /// # let mut db = Migrator::new().with_migrations([drop]).on(&mut conn)?;
    /// assert_eq!(db.dry_run()?.migrations[0].tables_dropped(), ["old"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tables_dropped(&self) -> Vec<&str> {
        tables(&self.schema.removed)
    }

    /// The tables whose definition it changed (`ALTER TABLE`, or a rebuild under the same name).
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// # let mut conn = rusqlite::Connection::open_in_memory()?;
    /// conn.execute_batch("CREATE TABLE t (x)")?;
    /// # let mut db = Migrator::new()
    /// #     .with_migrations([Migration::new(1, "add_y", Step::sql("ALTER TABLE t ADD COLUMN y"))])
    /// #     .on(&mut conn)?;
    /// assert_eq!(db.dry_run()?.migrations[0].tables_altered(), ["t"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tables_altered(&self) -> Vec<&str> {
        tables(&self.schema.changed)
    }

    /// The tables whose rows it changed in number (or that it created or dropped).
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// # let mut conn = rusqlite::Connection::open_in_memory()?;
    /// conn.execute_batch("CREATE TABLE t (x); CREATE TABLE u (x)")?;
    /// # let mut db = Migrator::new()
    /// #     .with_migrations([Migration::new(1, "seed", Step::sql("INSERT INTO t VALUES (1)"))])
    /// #     .on(&mut conn)?;
    /// let dry = db.dry_run()?;
    /// let changed: Vec<_> = dry.migrations[0].row_count_changes().collect();
    /// assert_eq!(changed, [&RowCount { table: "t".into(), before: Some(0), after: Some(1) }]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn row_count_changes(&self) -> impl Iterator<Item = &RowCount> {
        self.row_counts.iter().filter(|c| c.changed())
    }

    /// The rows it would delete, by table: fewer rows after it, or a table with rows dropped.
    ///
    /// ```
    /// # use migrate_sqlite::*;
    /// let dir = tempfile::tempdir()?;
    /// let mut db = Migrator::new()
    ///     .with_migrations([Migration::new(1, "t", Step::sql("CREATE TABLE t (x)"))
    ///         .with_down(Step::sql("DROP TABLE t"))])
    ///     .open(dir.path().join("app.db"))?;
    /// db.up()?;
    /// db.connection().execute("INSERT INTO t VALUES (1)", [])?;
    /// let preview = db.dry_run_down(DownTarget::Steps(1))?;
    /// assert_eq!(preview.migrations[0].rows_lost().collect::<Vec<_>>(), [("t", 1)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rows_lost(&self) -> impl Iterator<Item = (&str, u64)> {
        self.row_counts.iter().filter_map(|c| {
            let lost = match (c.before, c.after) {
                (Some(before), None) => before,
                (Some(before), Some(after)) => before.saturating_sub(after),
                (None, _) => 0,
            };
            (lost > 0).then_some((c.table.as_str(), lost))
        })
    }
}

/// The names of the tables among `labels` (`"type name"`, as in [`SchemaDiff`]).
fn tables(labels: &[String]) -> Vec<&str> {
    labels
        .iter()
        .filter_map(|label| label.strip_prefix("table "))
        .collect()
}

impl fmt::Display for DryRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !matches!(
            self.operation,
            DryRunOperation::Up | DryRunOperation::UpTo(_)
        ) {
            return self.fmt_revert(f);
        }
        if self.migrations.is_empty() {
            return write!(f, "set {:?}: nothing to apply", self.set);
        }
        let count = self.migrations.len();
        write!(
            f,
            "set {:?}: dry run of {count} pending migration{} (rolled back; nothing was changed)",
            self.set,
            if count == 1 { "" } else { "s" }
        )?;
        for m in &self.migrations {
            write!(f, "\n{m}")?;
        }
        match self.failure() {
            Some(m) => write!(f, "\nup would fail at {} {:?}", m.seq, m.name),
            None if self.is_ok() => write!(f, "\nup would apply all {count}"),
            None => Ok(()),
        }
    }
}

impl DryRun {
    /// The preview of a `down` or `redo`: each step, then what would be lost in all, and the
    /// command that does it.
    fn fmt_revert(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = self.operation;
        if self.migrations.is_empty() {
            return write!(
                f,
                "set {:?}: `migrate {op}` has nothing to revert (at {}); nothing was changed",
                self.set,
                self.current
                    .map_or("no migration".to_owned(), |s| format!("seq {s}"))
            );
        }
        let reverted = self
            .migrations
            .iter()
            .filter(|m| m.direction == Direction::Down)
            .count();
        write!(
            f,
            "set {:?}: dry run of `migrate {op}`: {reverted} migration{} reverted{} (rolled back; \
             nothing was changed)",
            self.set,
            if reverted == 1 { "" } else { "s" },
            if op == DryRunOperation::Redo {
                " and applied again"
            } else {
                ""
            }
        )?;
        for m in &self.migrations {
            write!(f, "\n{m}")?;
        }
        if let Some(m) = self.failure() {
            return write!(
                f,
                "\n`migrate {op}` would fail at {} {:?} ({}); nothing was changed",
                m.seq, m.name, m.direction
            );
        }
        if !self.is_ok() {
            return Ok(());
        }
        let lost: Vec<String> = self
            .migrations
            .iter()
            .flat_map(|m| {
                let tables = m.tables_dropped().into_iter().map(|t| format!("table {t}"));
                let columns = m.columns_dropped.iter().map(|c| format!("column {c}"));
                let rows = m
                    .rows_lost()
                    .map(|(table, n)| format!("{n} row(s) of {table}"));
                tables.chain(columns).chain(rows).collect::<Vec<_>>()
            })
            .collect();
        if lost.is_empty() {
            f.write_str("\nno table, column or row would be lost")?;
        } else {
            write!(f, "\nwould be lost: {}", lost.join(", "))?;
        }
        write!(
            f,
            "\nto do it: `migrate {op}` (it takes a backup of the state before it first)"
        )
    }
}

impl fmt::Display for DryRunStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = format!("{} {:?} ({})", self.seq, self.name, self.status);
        let verb = match self.direction {
            Direction::Up => "apply",
            Direction::Down => "revert",
        };
        match &self.outcome {
            DryRunOutcome::Succeeded => write!(f, "would {verb} {label}")?,
            DryRunOutcome::Failed { error } if self.direction == Direction::Up => {
                write!(f, "would FAIL {label}: {error}")?
            }
            DryRunOutcome::Failed { error } => write!(f, "would FAIL to {verb} {label}: {error}")?,
            DryRunOutcome::NotRun { reason } => return write!(f, "not run {label}: {reason}"),
        }
        if self.statements.is_empty() {
            f.write_str("\n  statements: none")?;
        } else {
            f.write_str("\n  statements:")?;
            for sql in &self.statements {
                write!(f, "\n    {};", dedent(sql).replace('\n', "\n    "))?;
            }
        }
        if self.outcome != DryRunOutcome::Succeeded {
            return f.write_str("\n  rolled back");
        }
        if self.schema.is_empty() {
            f.write_str("\n  schema: unchanged")?;
        } else {
            write!(f, "\n  schema: {}", self.schema)?;
        }
        let dropped = self.tables_dropped();
        if !dropped.is_empty() {
            write!(f, "\n  tables dropped: {}", dropped.join(", "))?;
        }
        if !self.columns_dropped.is_empty() {
            let columns: Vec<String> = self.columns_dropped.iter().map(|c| c.to_string()).collect();
            write!(f, "\n  columns dropped: {}", columns.join(", "))?;
        }
        let changes: Vec<String> = self
            .row_count_changes()
            .map(|c| format!("{} {} -> {}", c.table, count(c.before), count(c.after)))
            .collect();
        if changes.is_empty() {
            f.write_str("\n  rows: unchanged")?;
        } else {
            write!(f, "\n  rows: {}", changes.join(", "))?;
        }
        let gone: Vec<String> = self
            .rows_lost()
            .map(|(table, n)| format!("{table} {n}"))
            .collect();
        if !gone.is_empty() {
            write!(f, "\n  rows that would go: {}", gone.join(", "))?;
        }
        Ok(())
    }
}

/// `sql` with the indentation its lines after the first share removed (the first line was
/// trimmed), for display.
fn dedent(sql: &str) -> String {
    let indent = |line: &str| line.len() - line.trim_start().len();
    let common = sql
        .lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(indent)
        .min()
        .unwrap_or(0);
    let mut lines = sql.lines();
    let mut out = lines.next().unwrap_or_default().to_owned();
    for line in lines {
        out.push('\n');
        // Only whitespace is cut: `common` never exceeds a non-blank line's indentation.
        out.push_str(line.get(common.min(indent(line))..).unwrap_or(line));
    }
    out
}

fn count(rows: Option<u64>) -> String {
    rows.map_or("-".to_owned(), |n| n.to_string())
}

fn step_json(m: &DryRunStep) -> String {
    let (outcome, detail) = match &m.outcome {
        DryRunOutcome::Succeeded => ("ok", None),
        DryRunOutcome::Failed { error } => ("failed", Some(error)),
        DryRunOutcome::NotRun { reason } => ("not-run", Some(reason)),
    };
    let counts: Vec<String> = m
        .row_counts
        .iter()
        .map(|c| {
            format!(
                "{{\"table\":{},\"before\":{},\"after\":{}}}",
                json_str(&c.table),
                json_opt(c.before),
                json_opt(c.after)
            )
        })
        .collect();
    let dropped: Vec<String> = m
        .columns_dropped
        .iter()
        .map(|c| {
            format!(
                "{{\"table\":{},\"column\":{},\"held_values\":{}}}",
                json_str(&c.table),
                json_str(&c.column),
                c.held_values
            )
        })
        .collect();
    format!(
        "{{\"seq\":{},\"name\":{},\"state\":{},\"outcome\":{},\"detail\":{},\"statements\":{},\
         \"schema\":{{\"added\":{},\"removed\":{},\"changed\":{}}},\
         \"tables\":{{\"created\":{},\"dropped\":{},\"altered\":{}}},\"row_counts\":[{}],\
         \"direction\":{},\"columns_dropped\":[{}]}}",
        m.seq,
        json_str(&m.name),
        json_str(state(&m.status)),
        json_str(outcome),
        detail.map_or("null".to_owned(), |d| json_str(d)),
        json_list(&m.statements),
        json_list(&m.schema.added),
        json_list(&m.schema.removed),
        json_list(&m.schema.changed),
        json_list(&m.tables_created()),
        json_list(&m.tables_dropped()),
        json_list(&m.tables_altered()),
        counts.join(","),
        json_str(&m.direction.to_string()),
        dropped.join(",")
    )
}

/// The plan state as the command line's JSON spells it.
fn state(status: &Status) -> &'static str {
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

/// `text` as a JSON string.
fn json_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_list<S: AsRef<str>>(items: &[S]) -> String {
    let items: Vec<String> = items.iter().map(|s| json_str(s.as_ref())).collect();
    format!("[{}]", items.join(","))
}

fn json_opt(n: Option<u64>) -> String {
    n.map_or("null".to_owned(), |n| n.to_string())
}

impl crate::Session<'_> {
    /// What [`down`](crate::Session::down) (`DownTarget::Steps`) or
    /// [`down_to`](crate::Session::down_to) (`DownTarget::To`) would do, without changing
    /// anything: the down steps run in a transaction that is rolled back, each reporting the
    /// SQL it runs, the tables and columns it drops and the rows that would go
    /// ([`DryRunStep::rows_lost`]). Refused as `down` is, before anything runs: more steps
    /// than are applied ([`Error::DownTooFar`]), an irreversible migration in the way
    /// ([`CoreError::Irreversible`](crate::CoreError::Irreversible)), a blocked plan. The
    /// database file is left byte for byte as it was; no backup, no lock file.
    ///
    /// ```
    /// use migrate_sqlite::*;
    /// let dir = tempfile::tempdir()?;
    /// let mut db = Migrator::new()
    ///     .with_migrations([
    ///         Migration::new(1, "books", Step::sql("CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT)")),
    ///         Migration::new(2, "isbn", Step::sql("ALTER TABLE books ADD COLUMN isbn TEXT"))
    ///             .with_down(Step::sql("ALTER TABLE books DROP COLUMN isbn")),
    ///     ])
    ///     .open(dir.path().join("app.db"))?;
    /// db.up()?;
    /// db.connection().execute("INSERT INTO books (title, isbn) VALUES ('Dune', '1')", [])?;
    /// let preview = db.dry_run_down(DownTarget::Steps(1))?;
    /// let step = &preview.migrations[0];
    /// assert_eq!(step.statements, ["ALTER TABLE books DROP COLUMN isbn"]);
    /// assert_eq!(step.columns_dropped[0].to_string(), "books.isbn (its values would go)");
    /// assert_eq!(db.status()?.current, Some(2)); // nothing was reverted
    /// // Seq 1 has no down step: reverting everything is refused, as `down_to(0)` is.
    /// assert!(db.dry_run_down(DownTarget::To(0)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dry_run_down(&mut self, target: DownTarget) -> Result<DryRun> {
        self.dry_run_operation(DryRunOperation::Down(target))
    }

    /// What [`redo`](crate::Session::redo) would do: the last applied migration reverted and
    /// applied again in a transaction that is rolled back (see
    /// [`dry_run_down`](Self::dry_run_down)). Refused as `redo` is.
    ///
    /// ```
    /// use migrate_sqlite::*;
    /// let dir = tempfile::tempdir()?;
    /// let mut db = Migrator::new()
    ///     .with_migrations([Migration::new(1, "t", Step::sql("CREATE TABLE t (x)"))
    ///         .with_down(Step::sql("DROP TABLE t"))])
    ///     .open(dir.path().join("app.db"))?;
    /// assert!(db.dry_run_redo().is_err()); // nothing applied yet
    /// db.up()?;
    /// let preview = db.dry_run_redo()?;
    /// let directions: Vec<_> = preview.migrations.iter().map(|m| m.direction).collect();
    /// assert_eq!(directions, [Direction::Down, Direction::Up]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dry_run_redo(&mut self) -> Result<DryRun> {
        self.dry_run_operation(DryRunOperation::Redo)
    }

    /// What [`up_to`](crate::Session::up_to) would do: the pending migrations up to `seq`, as
    /// [`dry_run`](Self::dry_run) shows them (`migrate plan --to SEQ`). Refused as `up_to` is
    /// (a seq no migration has).
    ///
    /// ```
    /// use migrate_sqlite::*;
    /// let dir = tempfile::tempdir()?;
    /// let mut db = Migrator::new()
    ///     .with_migrations([
    ///         Migration::new(1, "a", Step::sql("CREATE TABLE a (x)")),
    ///         Migration::new(2, "b", Step::sql("CREATE TABLE b (x)")),
    ///     ])
    ///     .open(dir.path().join("app.db"))?;
    /// let preview = db.dry_run_to(1)?;
    /// assert_eq!(preview.migrations.len(), 1);
    /// assert!(db.dry_run_to(9).is_err());
    /// assert_eq!(db.status()?.current, None); // nothing was applied
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dry_run_to(&mut self, seq: u64) -> Result<DryRun> {
        self.dry_run_operation(DryRunOperation::UpTo(seq))
    }
}

/// What the trace hook records: the statements run while `on`.
#[derive(Default)]
struct Recording {
    on: bool,
    statements: Vec<String>,
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Recording>>);

impl Recorder {
    fn lock(&self) -> MutexGuard<'_, Recording> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn start(&self) {
        let mut recording = self.lock();
        recording.on = true;
        recording.statements.clear();
    }

    fn stop(&self) -> Vec<String> {
        let mut recording = self.lock();
        recording.on = false;
        std::mem::take(&mut recording.statements)
    }

    /// The trace callback. A trigger's body reports a comment (`-- TRIGGER name`) instead of
    /// the statement's own text: those are left out.
    fn traced(&self, event: TraceEvent<'_>) {
        if let TraceEvent::Stmt(stmt, sql) = event {
            let mut recording = self.lock();
            if !recording.on || sql != stmt.sql() {
                return;
            }
            let text = stmt.expanded_sql().unwrap_or_else(|| sql.to_owned());
            let text = text.trim();
            let text = text.strip_suffix(';').unwrap_or(text).trim_end();
            recording.statements.push(text.to_owned());
        }
    }
}

/// What every stage of a dry run reads.
struct Context<'a> {
    registry: &'a Registry<Step>,
    config: &'a Migrator,
    label: &'a str,
    operation: DryRunOperation,
}

/// Runs the dry run of `up` on `conn` (in autocommit mode) and leaves it as it was.
pub(crate) fn run(
    conn: &mut Connection,
    path: Option<&Path>,
    registry: &Registry<Step>,
    config: &Migrator,
) -> Result<DryRun> {
    run_operation(conn, path, registry, config, DryRunOperation::Up)
}

/// Runs the dry run of `operation` on `conn` (in autocommit mode) and leaves it as it was.
pub(crate) fn run_operation(
    conn: &mut Connection,
    path: Option<&Path>,
    registry: &Registry<Step>,
    config: &Migrator,
    operation: DryRunOperation,
) -> Result<DryRun> {
    let label = path.map_or(":memory:".to_owned(), |p| p.display().to_string());
    if !conn.is_autocommit() {
        return Err(Error::Unsupported(format!(
            "the connection to {label} is inside a transaction; a dry run must start outside one \
             (foreign keys cannot be switched off inside a transaction)"
        )));
    }
    let previous_timeout = pragmas::busy_timeout(conn)?;
    conn.busy_timeout(config.busy_timeout)?;
    let ctx = Context {
        registry,
        config,
        label: &label,
        operation,
    };
    let result = with_hooks(conn, &ctx);
    if let Err(e) = conn.busy_timeout(previous_timeout) {
        log::error!("cannot restore busy_timeout: {e}");
    }
    result
}

thread_local! {
    /// The recorder of the dry run running on this thread, if any.
    static ACTIVE_RECORDER: std::cell::RefCell<Option<Recorder>> = const { std::cell::RefCell::new(None) };
}

fn trace_statement(event: TraceEvent<'_>) {
    let recorder = ACTIVE_RECORDER.with(|active| active.borrow().clone());
    if let Some(recorder) = recorder {
        recorder.traced(event);
    }
}

/// Installs the authorizer and the trace hook, runs, removes both.
fn with_hooks(conn: &mut Connection, ctx: &Context<'_>) -> Result<DryRun> {
    let sentry = Sentry::install_refusing_commits(conn)
        .map_err(runner_error(ctx.label, "installing the authorizer"))?;
    let recorder = Recorder::default();
    // rusqlite's trace hook is a plain fn pointer: it finds the recorder through this thread
    // (SQLite calls it on the thread that runs the statement).
    ACTIVE_RECORDER.with(|active| *active.borrow_mut() = Some(recorder.clone()));
    conn.trace_v2(TraceEventCodes::SQLITE_TRACE_STMT, Some(trace_statement));
    let result = with_foreign_keys_off(conn, &sentry, &recorder, ctx);
    conn.trace_v2(TraceEventCodes::empty(), None);
    ACTIVE_RECORDER.with(|active| active.borrow_mut().take());
    if let Err(e) = Sentry::uninstall(conn) {
        log::error!("cannot remove the authorizer: {e}");
    }
    result
}

/// Foreign keys off in autocommit mode (as the runner does), the rolled-back transaction, the
/// pragmas back.
fn with_foreign_keys_off(
    conn: &Connection,
    sentry: &Sentry,
    recorder: &Recorder,
    ctx: &Context<'_>,
) -> Result<DryRun> {
    let pragmas = PragmaGuard::foreign_keys_off(conn)
        .map_err(runner_error(ctx.label, "switching foreign keys off"))?;
    let dry = DryRunner {
        conn,
        sentry,
        recorder,
        pragmas: &pragmas,
        ctx,
    };
    let result = dry.run();
    let rolled_back = if conn.is_autocommit() {
        Ok(())
    } else {
        conn.execute_batch("ROLLBACK")
            .map_err(runner_error(ctx.label, "rolling back the dry run"))
    };
    let restored = pragmas.restore().map_err(runner_error(
        ctx.label,
        "restoring foreign_keys and legacy_alter_table",
    ));
    let report = result?;
    rolled_back?;
    restored?;
    Ok(report)
}

struct DryRunner<'a> {
    conn: &'a Connection,
    sentry: &'a Sentry,
    recorder: &'a Recorder,
    pragmas: &'a PragmaGuard<'a>,
    ctx: &'a Context<'a>,
}

/// The schema and row counts as a migration found or left them.
struct Snapshot {
    objects: SchemaObjects,
    counts: row_counts::Counts,
    /// The columns of every plain table, by table name.
    columns: BTreeMap<String, Vec<String>>,
}

impl DryRunner<'_> {
    /// Inside `BEGIN IMMEDIATE` (the caller rolls it back): the plan, then each migration.
    fn run(&self) -> Result<DryRun> {
        self.begin()?;
        let registry = self.ctx.registry;
        let rows = tracking::read_plan_rows(self.conn, registry.set())?;
        let plan = Plan::new(registry, &rows);
        let jobs = self.jobs(&plan, &rows)?;
        let mut report = DryRun {
            set: registry.set().to_owned(),
            current: plan.current(),
            migrations: Vec::with_capacity(jobs.len()),
            operation: self.ctx.operation,
        };
        let mut fk_baseline = self.violations()?;
        let mut snapshot = self.snapshot()?;
        // A revert's preview always counts: the rows that would go are what it is for.
        let applying = matches!(
            self.ctx.operation,
            DryRunOperation::Up | DryRunOperation::UpTo(_)
        );
        let counting = self.ctx.config.count_rows || !applying;
        let mut counter = match counting {
            true => Some(
                RowCounter::start(self.conn)
                    .map_err(runner_error(self.ctx.label, "counting rows"))?,
            ),
            false => None,
        };
        let mut stopped: Option<String> = None;
        for (seq, direction) in jobs {
            let Some(m) = registry.get(seq) else {
                return Err(Error::Unsupported(format!(
                    "migration {seq} is recorded in the database but this binary does not have \
                     it; nothing was changed"
                )));
            };
            let mut step = DryRunStep {
                seq,
                name: m.name.clone(),
                status: plan
                    .entry(seq)
                    .map_or(Status::Pending, |e| e.status.clone()),
                outcome: DryRunOutcome::Succeeded,
                statements: Vec::new(),
                schema: SchemaDiff::default(),
                row_counts: Vec::new(),
                direction,
                columns_dropped: Vec::new(),
            };
            if let Some(reason) = &stopped {
                step.outcome = DryRunOutcome::NotRun {
                    reason: reason.clone(),
                };
            } else if m.mode == TxMode::NonTransactional {
                step.outcome = DryRunOutcome::NotRun {
                    reason: "it runs outside any transaction (`transaction = false`), which a \
                             dry run cannot roll back"
                        .to_owned(),
                };
                stopped = Some(format!(
                    "migration {seq} before it could not be dry-run (non-transactional)"
                ));
            } else {
                self.sql(&format!("SAVEPOINT {RUNNER_SAVEPOINT}"), "SAVEPOINT")?;
                let (statements, ran) = self.run_step(m, direction);
                step.statements = statements;
                let checked = ran
                    .and_then(|()| self.after_step(&mut fk_baseline))
                    .and_then(|()| self.guard_rows(m, direction, &snapshot, counter.as_mut()));
                match checked {
                    Ok((after, row_counts, emptied)) => {
                        step.schema = SchemaDiff::between(&snapshot.objects, &after.objects);
                        step.row_counts = row_counts;
                        step.columns_dropped = dropped_columns(&snapshot, &after, &emptied);
                        snapshot = after;
                        self.sql(&format!("RELEASE {RUNNER_SAVEPOINT}"), "RELEASE")?;
                    }
                    Err(error) => {
                        if !self.conn.is_autocommit() {
                            self.sql(
                                &format!(
                                    "ROLLBACK TO {RUNNER_SAVEPOINT}; RELEASE {RUNNER_SAVEPOINT}"
                                ),
                                "rolling back the failed migration",
                            )?;
                        }
                        step.outcome = DryRunOutcome::Failed {
                            error: error.to_string(),
                        };
                        stopped = Some(format!("migration {seq} before it failed"));
                    }
                }
            }
            report.migrations.push(step);
            if self.conn.is_autocommit() {
                // The step ended the transaction in spite of the authorizer: stop at once.
                break;
            }
        }
        Ok(report)
    }

    /// What the operation runs, chosen and refused as the real one chooses and refuses it
    /// (`runner.rs`, `prepare`): pending migrations for `up`; for `down`, more steps than are
    /// applied or an irreversible migration in the way are refused; `redo` of nothing is
    /// refused.
    fn jobs(
        &self,
        plan: &Plan,
        rows: &[migrate_core::AppliedRow],
    ) -> Result<Vec<(u64, Direction)>> {
        let policy = &self.ctx.config.policy;
        let set = self.ctx.registry.set();
        let with = |seqs: Vec<u64>, direction: Direction| {
            seqs.into_iter()
                .map(move |seq| (seq, direction))
                .collect::<Vec<_>>()
        };
        Ok(match self.ctx.operation {
            DryRunOperation::Up => with(plan.to_apply(None, policy)?, Direction::Up),
            DryRunOperation::UpTo(seq) => with(plan.to_apply(Some(seq), policy)?, Direction::Up),
            DryRunOperation::Down(target) => {
                if let DownTarget::Steps(steps) = target {
                    let applied = rows.iter().filter(|r| r.state == RowState::Applied).count();
                    if steps > applied {
                        return Err(Error::DownTooFar {
                            set: set.to_owned(),
                            steps,
                            applied,
                        });
                    }
                }
                with(plan.to_revert(target, policy)?, Direction::Down)
            }
            DryRunOperation::Redo => {
                let last = plan.to_revert(DownTarget::Steps(1), policy)?;
                if last.is_empty() {
                    return Err(Error::Unsupported(format!(
                        "nothing is applied in set {set:?}, so there is nothing to redo; nothing \
                         was changed"
                    )));
                }
                let mut jobs = with(last.clone(), Direction::Down);
                jobs.extend(with(last, Direction::Up));
                jobs
            }
        })
    }

    /// Calls the step as the runner does (same handle, authorizer phase, panic caught),
    /// recording its statements.
    fn run_step(&self, m: &Migration, direction: Direction) -> (Vec<String>, Result<()>) {
        let step = match direction {
            Direction::Up => &m.up,
            Direction::Down => match &m.down {
                Some(down) => down,
                None => {
                    let stuck = migrate_core::Error::Irreversible {
                        seq: m.seq,
                        name: m.name.clone(),
                        missing_from_binary: false,
                    };
                    return (Vec::new(), Err(stuck.into()));
                }
            },
        };
        self.recorder.start();
        let rules = StepRules {
            direction,
            phase: Phase::TransactionalStep,
            allow_destructive: self.ctx.config.allow_destructive,
            tables_watched: self.ctx.config.count_rows,
        };
        let result = call_step(self.conn, self.sentry, m, step, rules);
        (self.recorder.stop(), result)
    }

    /// The runner's checks after a step: pragmas put back, no new foreign key violation.
    fn after_step(&self, baseline: &mut BTreeSet<FkViolation>) -> Result<()> {
        self.sentry.take_changed_tables();
        let set = self.sentry.take_pragmas_set();
        if !set.is_empty() {
            self.pragmas.reset_after_step(&set).map_err(runner_error(
                self.ctx.label,
                "resetting the connection's pragmas",
            ))?;
        }
        let now = self.violations()?;
        let new: Vec<FkViolation> = now.difference(baseline).cloned().collect();
        // Tables SQLite cannot check at all are listed with no parent (see `violations`).
        let mismatched: Vec<String> = new
            .iter()
            .filter(|v| v.parent.is_empty())
            .map(|v| v.table.clone())
            .collect();
        if !mismatched.is_empty() {
            return Err(crate::Error::ForeignKeyMismatch { tables: mismatched });
        }
        if !new.is_empty() {
            return Err(
                foreign_keys::introduced(self.conn, new, baseline.len()).map_err(runner_error(
                    self.ctx.label,
                    "looking up the referenced tables",
                ))?,
            );
        }
        *baseline = now;
        Ok(())
    }

    /// The runner's table checks, with the runner's counter (tables gone, column values gone,
    /// rows lost; judged for applying only, as the runner does), and the rows of every table
    /// for the report, with the columns whose values are gone (`table.column`).
    fn guard_rows(
        &self,
        m: &Migration,
        direction: Direction,
        before: &Snapshot,
        counter: Option<&mut RowCounter>,
    ) -> Result<(Snapshot, Vec<RowCount>, Vec<String>)> {
        let touched = self.sentry.take_touched();
        let mut emptied = Vec::new();
        if let Some(counter) = counter {
            let tables = counter
                .after_step(self.conn, touched)
                .map_err(runner_error(self.ctx.label, "counting rows"))?;
            if direction == Direction::Up && self.ctx.config.count_rows {
                let allowed = m.flags.destructive || self.ctx.config.allow_destructive;
                row_counts::check_step(m.seq, allowed, &tables)?;
            }
            emptied = tables.emptied;
        }
        let after = self.snapshot()?;
        let counts = row_counts::compare(&before.counts, &after.counts);
        Ok((after, counts, emptied))
    }

    fn violations(&self) -> Result<BTreeSet<FkViolation>> {
        let declared = foreign_keys::any_declared(self.conn)
            .map_err(runner_error(self.ctx.label, "looking for foreign keys"))?;
        if !declared {
            return Ok(BTreeSet::new());
        }
        let (found, mismatched) = foreign_keys::violations_and_mismatches(self.conn)
            .map_err(runner_error(self.ctx.label, "PRAGMA foreign_key_check"))?;
        // A table whose foreign keys cannot be checked at all: one entry with no parent, so
        // that the before/after comparison treats it like a violation of its own.
        let unchecked = mismatched.into_iter().map(|table| FkViolation {
            table,
            rowid: None,
            parent: String::new(),
        });
        Ok(found.into_iter().chain(unchecked).collect())
    }

    /// The user's schema objects and the rows of each user table.
    fn snapshot(&self) -> Result<Snapshot> {
        let objects = fingerprint::objects(self.conn)
            .map_err(runner_error(self.ctx.label, "reading the schema"))?;
        let counts = row_counts::count_all(self.conn)
            .map_err(runner_error(self.ctx.label, "counting rows"))?;
        let mut columns = BTreeMap::new();
        for (name, _) in counts.values() {
            let listed = table_columns(self.conn, name)
                .map_err(runner_error(self.ctx.label, "reading the columns"))?;
            columns.insert(name.clone(), listed);
        }
        Ok(Snapshot {
            objects,
            counts,
            columns,
        })
    }

    fn begin(&self) -> Result<()> {
        begin_immediate(self.conn, self.ctx.label, self.ctx.config.busy_timeout)
    }

    fn sql(&self, sql: &str, doing: &str) -> Result<()> {
        self.conn
            .execute_batch(sql)
            .map_err(runner_error(self.ctx.label, doing))
    }
}

/// The columns of `table`, in order.
fn table_columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    stmt.query_map([table], |r| r.get(0))?.collect()
}

/// Columns of tables there before and after that are gone after (names compared as SQLite
/// does, without regard to ASCII case); `emptied` (`table.column`) says which held values.
fn dropped_columns(before: &Snapshot, after: &Snapshot, emptied: &[String]) -> Vec<DroppedColumn> {
    let lower = |s: &str| s.to_ascii_lowercase();
    let mut dropped = Vec::new();
    for (table, columns) in &before.columns {
        let Some(now) = after
            .columns
            .iter()
            .find(|(t, _)| lower(t) == lower(table))
            .map(|(_, c)| c)
        else {
            continue;
        };
        for column in columns {
            if now.iter().any(|c| lower(c) == lower(column)) {
                continue;
            }
            let label = lower(&format!("{table}.{column}"));
            dropped.push(DroppedColumn {
                table: table.clone(),
                column: column.clone(),
                held_values: emptied.iter().any(|e| lower(e) == label),
            });
        }
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_quotes_backslashes_and_controls() {
        assert_eq!(json_str("a\"b\\c\nd\u{1}é"), r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn display_dedents_continuation_lines() {
        let sql = "CREATE TABLE t (\n            a,\n\n              b\n        )";
        assert_eq!(dedent(sql), "CREATE TABLE t (\n    a,\n\n      b\n)");
        assert_eq!(dedent("SELECT 1"), "SELECT 1");
    }
}
