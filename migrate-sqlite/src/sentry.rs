//! An authorizer that keeps a migration's hands off the runner's transaction.
//!
//! A transactional migration runs inside the runner's `BEGIN IMMEDIATE` and its own savepoint.
//! `COMMIT`, `ROLLBACK`, `BEGIN`, touching the runner's savepoints or changing `journal_mode`
//! there would silently break the all-or-nothing promise (a later `ROLLBACK TO` would find nothing
//! to roll back to, or no journal to roll back from), so the authorizer refuses them while a
//! transactional step runs, and remembers what it refused so the error can name it.
//!
//! SQLite itself can still end the transaction in the middle of a step: a conflict resolved by
//! `ROLLBACK` (a constraint declared `ON CONFLICT ROLLBACK`, `INSERT OR ROLLBACK`, a trigger's
//! `RAISE(ROLLBACK)`) rolls everything back, and each statement after it would then commit on
//! its own. A commit hook refuses every commit while a transactional step runs (and every commit
//! of a dry run), so nothing a step does after losing the transaction can be kept.
//!
//! In every step, `PRAGMA writable_schema` (which lets `DELETE FROM sqlite_schema` remove a table
//! without a `DROP`) and `PRAGMA schema_version` are refused unless the migration declares
//! `destructive`; `PRAGMA locking_mode` (it would outlive the run and lock other processes out)
//! and `PRAGMA case_sensitive_like` (SQLite cannot report it, so it could not be put back) are
//! refused outright.

use rusqlite::Connection;
use rusqlite::hooks::Action;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization, TransactionOperation};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// The runner's savepoint name (SQLite compares names case-insensitively).
pub const RUNNER_SAVEPOINT: &str = "migrate_step";

/// Who is running statements right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The runner itself, or a non-transactional step: everything allowed.
    Runner,
    /// A transactional migration: transaction control refused.
    TransactionalStep,
    /// A non-transactional migration: everything allowed, destructive statements noted.
    NonTransactionalStep,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    refused: Option<String>,
    /// Whether the current step declared `destructive` (or the run allows it).
    destructive_declared: bool,
    /// Refuse every commit, whoever runs it (a dry run never commits).
    refuse_all_commits: bool,
    /// The commit hook refused a commit during the current step.
    commit_refused: bool,
    /// Tables created or altered by steps since last asked.
    changed_tables: Vec<String>,
    /// Whether a step ran ALTER TABLE (a rename may have moved a created table's name).
    altered: bool,
    /// The pragmas (lower-case names) steps set since last asked.
    pragmas_set: BTreeSet<String>,
    /// Statements of the current step that drop or delete data (`DROP TABLE t`, `DELETE FROM t`).
    destructive: Vec<String>,
    /// Tables whose rows steps may have changed since last asked (for the row-count guard).
    touched: Touched,
}

/// The user's tables (of `main`) whose number of rows steps may have changed: every table a
/// statement inserted into, updated, deleted from, created, dropped or altered, including
/// through triggers (the authorizer sees trigger bodies too).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Touched {
    /// The tables, by name.
    pub tables: BTreeSet<String>,
    /// A step ran ALTER TABLE (a table may now live under another name) or created or dropped a
    /// view or a virtual table (with its shadow tables): the names alone no longer tell which
    /// tables exist and which of them are plain tables.
    pub relist: bool,
    /// The columns UPDATE statements set, by table (lower-case names).
    pub updated_columns: BTreeMap<String, BTreeSet<String>>,
    /// The tables (lower-case names) statements read a column of: an UPDATE with a WHERE, or
    /// one that computes new values from the row (`SET c = lower(c)`), or a loop that reads
    /// rows and updates each, does not blindly replace a whole column.
    pub read_tables: BTreeSet<String>,
    /// The tables (lower-case names) ALTER TABLE changed: only one of them can have been
    /// renamed (a table dropped and another created may get the dropped one's root page).
    pub altered: BTreeSet<String>,
    /// The columns (lower-case names, of any table of `main`) statements read: a rebuild that
    /// copies a column into one of another name reads it, a column replaced by a new one is
    /// not read.
    pub read_columns: BTreeSet<String>,
    /// Rows UPDATE changed, by table (lower-case name; the update hook, rowid tables only).
    /// Cleared when a step rolls back to a savepoint: the hook counted rows that were undone.
    pub updated_rows: BTreeMap<String, u64>,
}

/// Shared between the authorizer callback and the runner.
#[derive(Clone, Debug)]
pub struct Sentry(Arc<Mutex<State>>);

impl Sentry {
    /// Installs the authorizer on `conn` (in the runner phase).
    pub fn install(conn: &Connection) -> rusqlite::Result<Sentry> {
        let sentry = Sentry(Arc::new(Mutex::new(State {
            phase: Phase::Runner,
            refused: None,
            destructive_declared: false,
            refuse_all_commits: false,
            commit_refused: false,
            changed_tables: Vec::new(),
            altered: false,
            pragmas_set: BTreeSet::new(),
            destructive: Vec::new(),
            touched: Touched::default(),
        })));
        let shared = sentry.clone();
        conn.authorizer(Some(move |ctx: AuthContext<'_>| shared.authorize(&ctx)))?;
        let shared = sentry.clone();
        conn.commit_hook(Some(move || shared.refuse_commit()))?;
        let shared = sentry.clone();
        conn.update_hook(Some(move |action, db: &str, table: &str, _rowid| {
            shared.row_changed(action, db, table)
        }))?;
        Ok(sentry)
    }

    /// Installs the authorizer for a dry run: every commit is refused, so nothing can reach the
    /// file even when SQLite ends the transaction in the middle of a step.
    pub fn install_refusing_commits(conn: &Connection) -> rusqlite::Result<Sentry> {
        let sentry = Sentry::install(conn)?;
        sentry.lock().refuse_all_commits = true;
        Ok(sentry)
    }

    /// Removes the authorizer, the commit hook and the update hook.
    pub fn uninstall(conn: &Connection) -> rusqlite::Result<()> {
        conn.commit_hook(None::<fn() -> bool>)?;
        conn.update_hook(None::<fn(Action, &str, &str, i64)>)?;
        conn.authorizer(None::<fn(AuthContext<'_>) -> Authorization>)
    }

    /// Switches phase; entering a step forgets what earlier steps did. `destructive_declared`:
    /// the step may set `writable_schema`.
    pub fn enter(&self, phase: Phase, destructive_declared: bool) {
        let mut state = self.lock();
        state.phase = phase;
        state.destructive_declared = destructive_declared;
        if phase != Phase::Runner {
            state.refused = None;
            state.commit_refused = false;
            state.destructive.clear();
            state.touched = Touched::default();
        }
    }

    /// The tables steps created or altered since the last call.
    pub fn take_changed_tables(&self) -> (Vec<String>, bool) {
        let mut state = self.lock();
        let altered = std::mem::take(&mut state.altered);
        (std::mem::take(&mut state.changed_tables), altered)
    }

    /// The tables steps may have changed the rows of since the last call.
    pub fn take_touched(&self) -> Touched {
        std::mem::take(&mut self.lock().touched)
    }

    /// The pragmas steps set (`PRAGMA x = y`, lower-case names) since the last call.
    pub fn take_pragmas_set(&self) -> BTreeSet<String> {
        std::mem::take(&mut self.lock().pragmas_set)
    }

    /// The statements of the last step that drop or delete data, without duplicates; a table's
    /// `DELETE` is left out when the table itself was dropped.
    pub fn destructive(&self) -> Vec<String> {
        let found = self.lock().destructive.clone();
        let mut out: Vec<String> = Vec::new();
        for action in &found {
            // Dropping a table or view also reports a DELETE on it: the drop says it all.
            let dropped_table = action.strip_prefix("DELETE FROM ").is_some_and(|t| {
                found.contains(&format!("DROP TABLE {t}"))
                    || found.contains(&format!("DROP VIEW {t}"))
            });
            if !dropped_table && !action.starts_with("DROP VIEW ") && !out.contains(action) {
                out.push(action.clone());
            }
        }
        out
    }

    /// What was refused during the last step, if anything.
    pub fn refused(&self) -> Option<String> {
        self.lock().refused.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere; the state is still meaningful.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The update hook: counts the rows steps UPDATE, by table.
    fn row_changed(&self, action: Action, db: &str, table: &str) {
        let mut state = self.lock();
        if action == Action::SQLITE_UPDATE && state.phase != Phase::Runner && db == "main" {
            *state
                .touched
                .updated_rows
                .entry(table.to_ascii_lowercase())
                .or_default() += 1;
        }
    }

    /// The commit hook: `true` turns the commit into a rollback.
    fn refuse_commit(&self) -> bool {
        let mut state = self.lock();
        let refuse = state.refuse_all_commits || state.phase == Phase::TransactionalStep;
        if refuse {
            log::error!("refused a commit inside a migration: the transaction had already ended");
            state.commit_refused = true;
        }
        refuse
    }

    /// Whether the commit hook refused a commit during the last step.
    pub fn commit_refused(&self) -> bool {
        self.lock().commit_refused
    }

    fn authorize(&self, ctx: &AuthContext<'_>) -> Authorization {
        let mut state = self.lock();
        match &ctx.action {
            AuthAction::CreateTable { table_name } => {
                state.changed_tables.push((*table_name).to_owned());
            }
            AuthAction::AlterTable { table_name, .. } => {
                state.changed_tables.push((*table_name).to_owned());
                state.altered = true;
            }
            _ => {}
        }
        if state.phase == Phase::Runner {
            return Authorization::Allow;
        }
        if let AuthAction::Pragma {
            pragma_name,
            pragma_value: Some(value),
        } = &ctx.action
        {
            // Only a step's pragmas need putting back; the runner's own are its business.
            state.pragmas_set.insert(pragma_name.to_ascii_lowercase());
            if let Some(why) = pragma_refusal(pragma_name, value, state.destructive_declared) {
                log::error!("refused inside a migration: {why}");
                state.refused.get_or_insert(why);
                return Authorization::Deny;
            }
        }
        note_touched(&mut state.touched, ctx);
        if let Some(action) = destructive(&ctx.action) {
            state.destructive.push(action);
        }
        if state.phase == Phase::NonTransactionalStep {
            return Authorization::Allow;
        }
        match refusal(&ctx.action) {
            Some(why) => {
                log::error!("refused inside a migration: {why}");
                state.refused.get_or_insert(why);
                Authorization::Deny
            }
            None => Authorization::Allow,
        }
    }
}

/// Notes a table of `main` whose rows the action may change.
fn note_touched(touched: &mut Touched, ctx: &AuthContext<'_>) {
    let in_main = ctx.database_name.is_none_or(|db| db == "main");
    match &ctx.action {
        AuthAction::Update {
            table_name,
            column_name,
        } if in_main => {
            touched
                .updated_columns
                .entry(table_name.to_ascii_lowercase())
                .or_default()
                .insert(column_name.to_ascii_lowercase());
        }
        AuthAction::Savepoint {
            operation: TransactionOperation::Rollback,
            ..
        } => {
            // Rows undone were counted: the counts no longer prove every row was overwritten.
            touched.updated_rows.clear();
            touched.updated_columns.clear();
        }
        AuthAction::Read {
            table_name,
            column_name,
        } if in_main && !is_internal(table_name) => {
            touched.read_tables.insert(table_name.to_ascii_lowercase());
            touched
                .read_columns
                .insert(column_name.to_ascii_lowercase());
        }
        _ => {}
    }
    let table = match &ctx.action {
        AuthAction::Insert { table_name }
        | AuthAction::Update { table_name, .. }
        | AuthAction::Delete { table_name }
        | AuthAction::CreateTable { table_name }
        | AuthAction::DropTable { table_name } => in_main.then_some(*table_name),
        AuthAction::AlterTable {
            database_name,
            table_name,
        } if *database_name == "main" => {
            touched.relist = true;
            touched.altered.insert(table_name.to_ascii_lowercase());
            Some(*table_name)
        }
        // A name may change from view or virtual table to plain table, or back.
        AuthAction::CreateVtable { .. }
        | AuthAction::DropVtable { .. }
        | AuthAction::CreateView { .. }
        | AuthAction::DropView { .. } => {
            touched.relist = true;
            None
        }
        _ => None,
    };
    if let Some(table) = table.filter(|t| !is_internal(t)) {
        // Update is reported once per column: insert only the first time.
        if !touched.tables.contains(table) {
            touched.tables.insert(table.to_owned());
        }
    }
}

/// SQLite's own tables and the runner's tracking tables.
pub fn is_internal(name: &str) -> bool {
    name.starts_with("sqlite_") || name.starts_with("_migrate_")
}

/// The action as a statement that drops or deletes rows of the user's tables: `DROP TABLE t`,
/// `DELETE FROM t`. (Dropping an index, view or trigger loses no rows and is not reported; a
/// dropped column, and a table rebuilt with fewer rows, are found by comparing the tables before
/// and after the step.)
fn destructive(action: &AuthAction<'_>) -> Option<String> {
    let (what, name) = match action {
        AuthAction::DropTable { table_name } => ("DROP TABLE", *table_name),
        // Noted only so that the DELETE SQLite reports with it can be left out.
        AuthAction::DropView { view_name } => ("DROP VIEW", *view_name),
        AuthAction::Delete { table_name } => ("DELETE FROM", *table_name),
        _ => return None,
    };
    (!is_internal(name)).then(|| format!("{what} {name}"))
}

/// The table a `DROP TABLE t` statement (as [`Sentry::destructive`] reports it) dropped.
pub fn dropped_table(statement: &str) -> Option<&str> {
    statement.strip_prefix("DROP TABLE ")
}

/// Why setting this pragma inside any migration step is refused.
fn pragma_refusal(name: &str, value: &str, destructive_declared: bool) -> Option<String> {
    if name.eq_ignore_ascii_case("locking_mode") {
        return Some(format!(
            "the migration set PRAGMA locking_mode = {value}: it would stay set on the \
             application's connection after the run (EXCLUSIVE keeps every other process out \
             of the database). Remove it from the migration; set it where the application opens \
             its connection if it wants it"
        ));
    }
    if name.eq_ignore_ascii_case("case_sensitive_like") {
        return Some(format!(
            "the migration set PRAGMA case_sensitive_like = {value}: SQLite cannot report this \
             setting, so the runner could not put it back, and it would change what LIKE means \
             for the application. Use GLOB (case-sensitive) or LIKE with lower()/upper() instead"
        ));
    }
    if name.eq_ignore_ascii_case("schema_version") && !destructive_declared {
        return Some(format!(
            "the migration set PRAGMA schema_version = {value}, which can corrupt the database \
             (SQLite's documentation warns so). If that is really intended, declare the \
             migration `destructive`"
        ));
    }
    let turned_off = ["0", "off", "false", "no"]
        .iter()
        .any(|off| value.trim_matches(['\'', '"']).eq_ignore_ascii_case(off));
    if name.eq_ignore_ascii_case("writable_schema") && !turned_off && !destructive_declared {
        return Some(format!(
            "the migration set PRAGMA writable_schema = {value}, which lets it write \
             sqlite_schema directly (a DELETE there removes a table without DROP TABLE, past \
             every check). If that is really intended, declare the migration `destructive`"
        ));
    }
    None
}

/// Why this action may not run inside a transactional migration.
fn refusal(action: &AuthAction<'_>) -> Option<String> {
    match action {
        AuthAction::Transaction { operation } => Some(format!(
            "the migration ran {}: the runner wraps \
             each migration in a savepoint and commits for you. A migration that must run \
             outside a transaction declares `transaction = false`",
            transaction_statement(*operation)
        )),
        AuthAction::Savepoint {
            savepoint_name,
            operation,
        } if RUNNER_SAVEPOINT.eq_ignore_ascii_case(savepoint_name) => Some(format!(
            "the migration used the runner's own savepoint {savepoint_name:?} \
                 ({operation:?}); give your savepoints other names"
        )),
        AuthAction::Pragma {
            pragma_name,
            pragma_value: Some(_),
        } if pragma_name.eq_ignore_ascii_case("journal_mode") => Some(
            "the migration changed journal_mode inside the runner's transaction, which would \
             leave its work impossible to roll back; do it in a migration declared \
             `transaction = false`"
                .to_owned(),
        ),
        _ => None,
    }
}

/// SQLite reports COMMIT and END as an operation rusqlite does not name.
fn transaction_statement(operation: TransactionOperation) -> &'static str {
    match operation {
        TransactionOperation::Begin => "BEGIN",
        TransactionOperation::Rollback => "ROLLBACK",
        TransactionOperation::Release => "RELEASE",
        _ => "COMMIT (or END)",
    }
}
