//! The dry run's report: per migration the SQL, the schema changes, the rows, the locks, the
//! rewrites and the warnings; printed as a readable text (`Display`).

use super::locks::LockMode;
use super::warnings::Warning;
use migrate_core::{Direction, DownTarget, SchemaDiff, Status};
use std::fmt;

/// What an operation would do, found by running it in a transaction that was rolled back.
/// Returned by [`Session::dry_run`](crate::Session::dry_run) and its siblings; prints itself.
///
/// ```no_run
/// let mut db = migrate_postgres::Migrator::new().open("postgres://app@localhost/app")?;
/// let dry = db.dry_run()?;
/// println!("{dry}");
/// for m in &dry.migrations {
///     for lock in &m.locks {
///         println!("{} holds {} on {}", m.seq, lock.mode, lock.table);
///     }
/// }
/// # Ok::<(), migrate_postgres::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct DryRun {
    /// The migration set.
    pub set: String,
    /// The last applied seq before (and after) the dry run.
    pub current: Option<u64>,
    /// What was previewed.
    pub operation: DryRunOperation,
    /// Every migration the operation would run, in order (a redo lists its migration twice).
    pub migrations: Vec<DryRunStep>,
    /// The locks the real run takes before its first migration: with a backup directory, its
    /// pre-migration backup locks every user table `IN EXCLUSIVE MODE` (writers wait, readers
    /// do not) from the run's start until it commits. Empty without backups or work to do.
    pub backup_locks: Vec<TableLock>,
}

/// The operation a [`DryRun`] previews, as the command line spells it.
///
/// ```
/// use migrate_postgres::{DownTarget, DryRunOperation};
/// assert_eq!(DryRunOperation::Down(DownTarget::Steps(2)).to_string(), "down --steps 2");
/// assert_eq!(DryRunOperation::Down(DownTarget::To(1)).to_string(), "down --to 1");
/// assert_eq!(DryRunOperation::Redo.to_string(), "redo");
/// assert_eq!(DryRunOperation::UpTo(4).to_string(), "up --to 4");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DryRunOperation {
    /// Apply every pending migration.
    Up,
    /// Revert, as `down` / `down_to` would.
    Down(DownTarget),
    /// Revert the last applied migration and apply it again.
    Redo,
    /// Apply the pending migrations up to this seq, as `up_to` would.
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

/// One migration of a [`DryRun`].
///
/// ```
/// # use migrate_postgres::*;
/// # let step = |seq: u64, tables: Vec<TableChange>, locks: Vec<TableLock>| DryRunStep {
/// #     seq, name: format!("m{seq}"), status: Status::Pending, direction: Direction::Up,
/// #     outcome: DryRunOutcome::Succeeded, statements: vec![], schema: SchemaDiff::default(),
/// #     columns_dropped: vec![], tables, locks, rewrites: vec![], warnings: vec![] };
/// # let lock = |table: &str, mode| TableLock { table: table.into(), mode, size_bytes: 8192 };
/// let m = step(4, vec![], vec![lock("public.orders", LockMode::Share)]);
/// assert_eq!(m.to_string(), "migration 4 m4 (up): holds SHARE on public.orders (8192 bytes)\n");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct DryRunStep {
    /// The seq.
    pub seq: u64,
    /// The name.
    pub name: String,
    /// Its state in the plan (pending, out of order, applied for a revert).
    pub status: Status,
    /// Applying or reverting.
    pub direction: Direction,
    /// How its dry run went.
    pub outcome: DryRunOutcome,
    /// The SQL it sent through its `Tx`, statement by statement (parameters shown after
    /// `--`); for a `transaction = false` migration, what it would send.
    pub statements: Vec<String>,
    /// Schema objects it added, removed and changed (the catalog fingerprint's objects).
    pub schema: SchemaDiff,
    /// Columns it removed from tables that stay.
    pub columns_dropped: Vec<DroppedColumn>,
    /// The tables it touched (wrote, locked, rewrote, created or dropped): rows and size.
    pub tables: Vec<TableChange>,
    /// The table locks it took on tables that existed before the dry run, strongest mode
    /// per table; held until the batch commits. Listed only when stronger than every mode an
    /// earlier migration of the batch already took on that table (that one is listed there).
    pub locks: Vec<TableLock>,
    /// Existing tables it rewrote (a new storage file: `pg_class.relfilenode` changed).
    pub rewrites: Vec<TableRewrite>,
    /// Risky patterns seen in what it did, each with the safer way.
    pub warnings: Vec<Warning>,
}

/// How one migration's dry run went.
///
/// ```
/// use migrate_postgres::DryRunOutcome;
/// let failed = DryRunOutcome::Failed { error: "relation \"x\" does not exist".into() };
/// assert_ne!(failed, DryRunOutcome::Succeeded);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DryRunOutcome {
    /// It ran and passed the runner's checks.
    Succeeded,
    /// It failed: the real operation would fail here. The dry run stopped.
    Failed {
        /// The error, as the runner reports it.
        error: String,
    },
    /// A `transaction = false` migration: it cannot run inside the rolled-back transaction.
    /// Its statements are listed (as far as it sends them without reading); the dry run
    /// stopped here.
    NotExecuted {
        /// Why.
        reason: String,
    },
    /// Not run: a migration before it failed or was not executed.
    NotRun {
        /// Why.
        reason: String,
    },
}

/// A column a migration removed from a table that stays.
///
/// ```
/// use migrate_postgres::DroppedColumn;
/// let c = DroppedColumn { table: "public.users".into(), column: "nick".into(),
///     type_name: "text".into(), rows: Some(3) };
/// assert_eq!(c.to_string(), "public.users.nick (text; the values of 3 rows would go)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DroppedColumn {
    /// `schema.table`.
    pub table: String,
    /// The column.
    pub column: String,
    /// Its type.
    pub type_name: String,
    /// Rows of the table before the migration (each loses its value).
    pub rows: Option<u64>,
}

impl fmt::Display for DroppedColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{} ({}", self.table, self.column, self.type_name)?;
        match self.rows {
            Some(0) => f.write_str("; the table is empty)"),
            Some(n) => write!(f, "; the values of {n} rows would go)"),
            None => f.write_str(")"),
        }
    }
}

/// A table a migration touched: its rows before and after (`None`: it did not exist), and its
/// size before.
///
/// ```
/// use migrate_postgres::TableChange;
/// let t = TableChange { table: "public.orders".into(), rows_before: Some(10),
///     rows_after: Some(7), size_bytes: Some(16384) };
/// assert_eq!(t.rows_lost(), 3);
/// assert_eq!(t.to_string(), "public.orders: 10 -> 7 rows (3 lost), 16 kB");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableChange {
    /// `schema.table`.
    pub table: String,
    /// Rows before the migration.
    pub rows_before: Option<u64>,
    /// Rows after it.
    pub rows_after: Option<u64>,
    /// `pg_total_relation_size` before the migration.
    pub size_bytes: Option<i64>,
}

impl TableChange {
    /// Rows that would go: fewer after, or all of a dropped table's.
    ///
    /// ```
    /// let dropped = migrate_postgres::TableChange { table: "public.audit".into(),
    ///     rows_before: Some(5), rows_after: None, size_bytes: Some(8192) };
    /// assert_eq!(dropped.rows_lost(), 5);
    /// ```
    pub fn rows_lost(&self) -> u64 {
        let before = self.rows_before.unwrap_or(0);
        before.saturating_sub(self.rows_after.unwrap_or(0))
    }
}

impl fmt::Display for TableChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = |n: Option<u64>| n.map_or("(none)".to_owned(), |n| n.to_string());
        write!(f, "{}: ", self.table)?;
        match (self.rows_before, self.rows_after) {
            (None, Some(after)) => write!(f, "created, {after} rows")?,
            (Some(before), None) => write!(f, "dropped with its {before} rows")?,
            (before, after) => write!(f, "{} -> {} rows", rows(before), rows(after))?,
        }
        let lost = self.rows_lost();
        if lost > 0 && self.rows_after.is_some() {
            write!(f, " ({lost} lost)")?;
        }
        if let Some(size) = self.size_bytes {
            write!(f, ", {}", size_text(size))?;
        }
        Ok(())
    }
}

/// A table lock a migration took, with the table's size before it.
///
/// ```
/// use migrate_postgres::{LockMode, TableLock};
/// let l = TableLock { table: "public.orders".into(), mode: LockMode::AccessExclusive,
///     size_bytes: 1_288_490_189 };
/// assert_eq!(l.to_string(), "ACCESS EXCLUSIVE on public.orders (1.2 GB; blocks reads and writes)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableLock {
    /// `schema.table`.
    pub table: String,
    /// The strongest mode the migration took on it.
    pub mode: LockMode,
    /// `pg_total_relation_size` before the migration.
    pub size_bytes: i64,
}

impl fmt::Display for TableLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} on {} ({}; {})",
            self.mode,
            self.table,
            size_text(self.size_bytes),
            self.mode.effect()
        )
    }
}

/// An existing table a migration rewrote: its storage file changed (`pg_class.relfilenode`),
/// so every row was copied under ACCESS EXCLUSIVE.
///
/// ```
/// use migrate_postgres::TableRewrite;
/// let r = TableRewrite { table: "public.orders".into(), size_bytes: 8192,
///     reason: "column total changed type (integer -> bigint)".into() };
/// assert_eq!(r.to_string(), "public.orders (8192 bytes): column total changed type (integer -> bigint)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableRewrite {
    /// `schema.table`.
    pub table: String,
    /// `pg_total_relation_size` before the migration.
    pub size_bytes: i64,
    /// What in the catalog explains it (a column's type, a new column's default), as seen.
    pub reason: String,
}

impl fmt::Display for TableRewrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.table,
            size_text(self.size_bytes),
            self.reason
        )
    }
}

impl DryRun {
    /// True when every migration would run (none failed, none left out).
    ///
    /// ```
    /// # use migrate_postgres::*;
    /// # let step = |seq: u64, tables: Vec<TableChange>, locks: Vec<TableLock>| DryRunStep {
    /// #     seq, name: format!("m{seq}"), status: Status::Pending, direction: Direction::Up,
    /// #     outcome: DryRunOutcome::Succeeded, statements: vec![], schema: SchemaDiff::default(),
    /// #     columns_dropped: vec![], tables, locks, rewrites: vec![], warnings: vec![] };
    /// # let lock = |table: &str, mode| TableLock { table: table.into(), mode, size_bytes: 8192 };
    /// # let dry = DryRun { set: "default".into(), current: Some(3), operation: DryRunOperation::Up,
    /// #     migrations: vec![
    /// #         step(4, vec![], vec![lock("public.orders", LockMode::Share)]),
    /// #         step(5, vec![], vec![lock("public.orders", LockMode::AccessExclusive)]),
    /// #     ], backup_locks: vec![] };
    /// assert!(dry.is_ok());
    /// ```
    pub fn is_ok(&self) -> bool {
        self.migrations
            .iter()
            .all(|m| m.outcome == DryRunOutcome::Succeeded)
    }

    /// The migration that failed, if one did.
    ///
    /// ```
    /// # use migrate_postgres::*;
    /// # let step = |seq: u64, tables: Vec<TableChange>, locks: Vec<TableLock>| DryRunStep {
    /// #     seq, name: format!("m{seq}"), status: Status::Pending, direction: Direction::Up,
    /// #     outcome: DryRunOutcome::Succeeded, statements: vec![], schema: SchemaDiff::default(),
    /// #     columns_dropped: vec![], tables, locks, rewrites: vec![], warnings: vec![] };
    /// # let lock = |table: &str, mode| TableLock { table: table.into(), mode, size_bytes: 8192 };
    /// # let dry = DryRun { set: "default".into(), current: Some(3), operation: DryRunOperation::Up,
    /// #     migrations: vec![
    /// #         step(4, vec![], vec![lock("public.orders", LockMode::Share)]),
    /// #         step(5, vec![], vec![lock("public.orders", LockMode::AccessExclusive)]),
    /// #     ], backup_locks: vec![] };
    /// assert!(dry.failure().is_none());
    /// ```
    pub fn failure(&self) -> Option<&DryRunStep> {
        self.migrations
            .iter()
            .find(|m| matches!(m.outcome, DryRunOutcome::Failed { .. }))
    }

    /// Every warning, with the migration it belongs to.
    ///
    /// ```
    /// # use migrate_postgres::*;
    /// # let step = |seq: u64, tables: Vec<TableChange>, locks: Vec<TableLock>| DryRunStep {
    /// #     seq, name: format!("m{seq}"), status: Status::Pending, direction: Direction::Up,
    /// #     outcome: DryRunOutcome::Succeeded, statements: vec![], schema: SchemaDiff::default(),
    /// #     columns_dropped: vec![], tables, locks, rewrites: vec![], warnings: vec![] };
    /// # let lock = |table: &str, mode| TableLock { table: table.into(), mode, size_bytes: 8192 };
    /// # let dry = DryRun { set: "default".into(), current: Some(3), operation: DryRunOperation::Up,
    /// #     migrations: vec![
    /// #         step(4, vec![], vec![lock("public.orders", LockMode::Share)]),
    /// #         step(5, vec![], vec![lock("public.orders", LockMode::AccessExclusive)]),
    /// #     ], backup_locks: vec![] };
    /// assert_eq!(dry.warnings().count(), 0);
    /// ```
    pub fn warnings(&self) -> impl Iterator<Item = (&DryRunStep, &Warning)> {
        self.migrations
            .iter()
            .flat_map(|m| m.warnings.iter().map(move |w| (m, w)))
    }

    /// The strongest lock per table over the whole batch, with the migration that took it
    /// first: the run holds each until it commits.
    ///
    /// ```
    /// # use migrate_postgres::*;
    /// # let step = |seq: u64, tables: Vec<TableChange>, locks: Vec<TableLock>| DryRunStep {
    /// #     seq, name: format!("m{seq}"), status: Status::Pending, direction: Direction::Up,
    /// #     outcome: DryRunOutcome::Succeeded, statements: vec![], schema: SchemaDiff::default(),
    /// #     columns_dropped: vec![], tables, locks, rewrites: vec![], warnings: vec![] };
    /// # let lock = |table: &str, mode| TableLock { table: table.into(), mode, size_bytes: 8192 };
    /// # let dry = DryRun { set: "default".into(), current: Some(3), operation: DryRunOperation::Up,
    /// #     migrations: vec![
    /// #         step(4, vec![], vec![lock("public.orders", LockMode::Share)]),
    /// #         step(5, vec![], vec![lock("public.orders", LockMode::AccessExclusive)]),
    /// #     ], backup_locks: vec![] };
    /// let held = dry.held_until_commit();
    /// assert_eq!((held[0].0, held[0].1.mode), (5, LockMode::AccessExclusive));
    /// ```
    pub fn held_until_commit(&self) -> Vec<(u64, &TableLock)> {
        let mut held: Vec<(u64, &TableLock)> = Vec::new();
        for m in &self.migrations {
            for lock in &m.locks {
                match held.iter_mut().find(|(_, l)| l.table == lock.table) {
                    Some(entry) if entry.1.mode < lock.mode => *entry = (m.seq, lock),
                    Some(_) => {}
                    None => held.push((m.seq, lock)),
                }
            }
        }
        held
    }
}

impl DryRunStep {
    /// Rows that would go, by table (fewer rows after, or a table dropped with its rows).
    ///
    /// ```
    /// # use migrate_postgres::*;
    /// # let step = |seq: u64, tables: Vec<TableChange>, locks: Vec<TableLock>| DryRunStep {
    /// #     seq, name: format!("m{seq}"), status: Status::Pending, direction: Direction::Up,
    /// #     outcome: DryRunOutcome::Succeeded, statements: vec![], schema: SchemaDiff::default(),
    /// #     columns_dropped: vec![], tables, locks, rewrites: vec![], warnings: vec![] };
    /// # let lock = |table: &str, mode| TableLock { table: table.into(), mode, size_bytes: 8192 };
    /// let gone = TableChange { table: "public.audit".into(), rows_before: Some(5), rows_after: None,
    ///     size_bytes: None };
    /// assert_eq!(step(1, vec![gone], vec![]).rows_lost().collect::<Vec<_>>(), [("public.audit", 5)]);
    /// ```
    pub fn rows_lost(&self) -> impl Iterator<Item = (&str, u64)> {
        self.tables
            .iter()
            .map(|t| (t.table.as_str(), t.rows_lost()))
            .filter(|(_, n)| *n > 0)
    }

    /// The tables it dropped (`schema.table`).
    ///
    /// ```
    /// # use migrate_postgres::*;
    /// # let step = |seq: u64, tables: Vec<TableChange>, locks: Vec<TableLock>| DryRunStep {
    /// #     seq, name: format!("m{seq}"), status: Status::Pending, direction: Direction::Up,
    /// #     outcome: DryRunOutcome::Succeeded, statements: vec![], schema: SchemaDiff::default(),
    /// #     columns_dropped: vec![], tables, locks, rewrites: vec![], warnings: vec![] };
    /// # let lock = |table: &str, mode| TableLock { table: table.into(), mode, size_bytes: 8192 };
    /// let mut m = step(1, vec![], vec![]);
    /// m.schema.removed.push("table public.audit".into());
    /// assert_eq!(m.tables_dropped(), ["public.audit"]);
    /// ```
    pub fn tables_dropped(&self) -> Vec<&str> {
        self.schema
            .removed
            .iter()
            .filter_map(|o| o.strip_prefix("table "))
            .collect()
    }

    /// The headline: `migration 12 add_order_index: holds ACCESS EXCLUSIVE on public.orders
    /// (1.2 GB) and rewrites it`.
    fn headline(&self) -> String {
        let mut parts = Vec::new();
        for lock in &self.locks {
            let mut part = format!(
                "holds {} on {} ({})",
                lock.mode,
                lock.table,
                size_text(lock.size_bytes)
            );
            if self.rewrites.iter().any(|r| r.table == lock.table) {
                part.push_str(" and rewrites it");
            }
            parts.push(part);
        }
        if parts.is_empty() {
            parts.push("no table lock beyond those the run already holds".to_owned());
        }
        parts.join("; ")
    }
}

impl fmt::Display for DryRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let from = self
            .current
            .map_or("no migration applied".to_owned(), |s| format!("at seq {s}"));
        // A failure or a `transaction = false` migration stops the dry run: say how far it got.
        let ran = self
            .migrations
            .iter()
            .filter(|m| {
                matches!(
                    m.outcome,
                    DryRunOutcome::Succeeded | DryRunOutcome::Failed { .. }
                )
            })
            .count();
        let which = if ran == self.migrations.len() {
            "every migration ran".to_owned()
        } else {
            format!("{ran} of {} migrations ran", self.migrations.len())
        };
        writeln!(
            f,
            "Dry run of `migrate {}` on set {:?} ({from}): {which} in one transaction that was \
             rolled back; nothing was changed.",
            self.operation, self.set
        )?;
        if self.migrations.is_empty() {
            return writeln!(f, "Nothing to do.");
        }
        if !self.backup_locks.is_empty() {
            let bytes: i64 = self.backup_locks.iter().map(|l| l.size_bytes).sum();
            writeln!(
                f,
                "Before the first migration: the pre-migration backup locks every user table \
                 ({} tables, {}) IN EXCLUSIVE MODE until the run commits: writes to any of them \
                 wait for the whole run, the dump included; reads go on.",
                self.backup_locks.len(),
                size_text(bytes)
            )?;
        }
        for m in &self.migrations {
            write!(f, "{m}")?;
        }
        let held = self.held_until_commit();
        if !held.is_empty() || !self.backup_locks.is_empty() {
            writeln!(f, "Held until the run commits:")?;
            if !self.backup_locks.is_empty() {
                writeln!(
                    f,
                    "  EXCLUSIVE on every user table, from the pre-migration backup"
                )?;
            }
            for (seq, lock) in held {
                writeln!(f, "  {lock}, from migration {seq}")?;
            }
        }
        let warnings = self.warnings().count();
        if warnings > 0 {
            writeln!(f, "{warnings} warning(s).")?;
        }
        Ok(())
    }
}

impl fmt::Display for DryRunStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let title = format!("migration {} {} ({})", self.seq, self.name, self.direction);
        match &self.outcome {
            DryRunOutcome::Succeeded => writeln!(f, "{title}: {}", self.headline())?,
            DryRunOutcome::Failed { error } => writeln!(f, "{title}: FAILED: {error}")?,
            DryRunOutcome::NotExecuted { reason } => {
                writeln!(f, "{title}: not executed in the dry run: {reason}")?
            }
            DryRunOutcome::NotRun { reason } => return writeln!(f, "{title}: not run: {reason}"),
        }
        if !self.statements.is_empty() {
            let verb = match self.outcome {
                DryRunOutcome::NotExecuted { .. } => "would send",
                _ => "sent",
            };
            writeln!(f, "  {verb}:")?;
            for statement in &self.statements {
                writeln!(f, "    {};", indent(statement.trim()))?;
            }
        }
        let diff = &self.schema;
        for (sign, objects) in [
            ("+", &diff.added),
            ("-", &diff.removed),
            ("~", &diff.changed),
        ] {
            for object in objects {
                writeln!(f, "  schema {sign} {object}")?;
            }
        }
        for column in &self.columns_dropped {
            writeln!(f, "  column dropped: {column}")?;
        }
        for table in &self.tables {
            writeln!(f, "  rows: {table}")?;
        }
        for rewrite in &self.rewrites {
            writeln!(f, "  rewrites {rewrite}")?;
        }
        for warning in &self.warnings {
            writeln!(f, "  warning: {warning}")?;
        }
        Ok(())
    }
}

/// Continuation lines of a statement indented under its first.
fn indent(statement: &str) -> String {
    statement.replace('\n', "\n    ")
}

/// A size in `pg_size_pretty`'s units (base 1024), with one decimal below 10: `8192 bytes`,
/// `16 kB`, `1.2 GB`.
pub(crate) fn size_text(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["bytes", "kB", "MB", "GB", "TB"];
    let mut value = bytes.max(0) as f64;
    let mut unit = 0;
    while unit + 1 < UNITS.len() && (value >= 10240.0 || (unit > 0 && value >= 1024.0)) {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        return format!("{bytes} bytes");
    }
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::size_text;

    #[test]
    fn sizes_read_as_pg_size_pretty_with_a_decimal_below_ten() {
        assert_eq!(size_text(0), "0 bytes");
        assert_eq!(size_text(8192), "8192 bytes");
        assert_eq!(size_text(16384), "16 kB");
        assert_eq!(size_text(10 * 1024 * 1024), "10 MB");
        assert_eq!(size_text(1_288_490_189), "1.2 GB");
        assert_eq!(size_text(i64::MAX), "8388608 TB");
    }
}
