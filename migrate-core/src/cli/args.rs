//! The command line's arguments (clap derive), embeddable as a subcommand of your own parser.
//! One set of arguments for every backend: a command a backend does not offer is refused when
//! it runs (exit 3), not hidden here, so `--help` reads the same everywhere.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// `migrate [OPTIONS] <COMMAND>`.
///
/// ```
/// use clap::Parser;
/// let args = migrate_core::cli::MigrateArgs::try_parse_from(["migrate", "--yes", "down", "--to", "3"])?;
/// assert!(args.yes);
/// # Ok::<(), clap::Error>(())
/// ```
#[derive(Debug, Parser)]
#[command(
    name = "migrate",
    about = "Database migrations: status, apply, revert, back up, restore"
)]
pub struct MigrateArgs {
    /// The command.
    #[command(subcommand)]
    pub command: MigrateCommand,
    /// The database file (SQLite) or connection URL (PostgreSQL); default: the one the app
    /// passes.
    #[arg(long, global = true)]
    pub database: Option<PathBuf>,
    /// The migration set (default: the one the app passes, usually "default").
    #[arg(long, global = true)]
    pub set: Option<String>,
    /// Output JSON (status, plan, history, snapshot list).
    #[arg(long, global = true)]
    pub json: bool,
    /// Answer yes to confirmations (required when not on a terminal).
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
    /// Run although the database has migrations this binary does not know (rolling deploys).
    #[arg(long, global = true)]
    pub allow_database_ahead: bool,
    /// Apply pending migrations numbered below the last applied one.
    #[arg(long, global = true)]
    pub allow_out_of_order: bool,
    /// Accept the changed checksum of this applied migration (recorded in the history).
    #[arg(long, global = true, value_name = "SEQ")]
    pub accept_checksum: Vec<u64>,
    /// Let migrations drop or delete data they did not declare `destructive`, for this run.
    #[arg(long, global = true)]
    pub allow_destructive: bool,
    /// Skip the row-count guard for this run (no count of every table; for very large
    /// databases). Undeclared DROP and DELETE statements are still refused.
    #[arg(long, global = true)]
    pub no_row_counts: bool,
    /// Where backups go.
    #[arg(long, global = true)]
    pub backup_dir: Option<PathBuf>,
    /// How long to wait for another migrator or writer, in milliseconds (default 60000).
    #[arg(long, global = true, value_name = "MS")]
    pub busy_timeout_ms: Option<u64>,
    /// Accept gaps between seqs (migrations numbered by timestamp).
    #[arg(long, global = true)]
    pub allow_gaps: bool,
    /// When a migration fails, keep the ones that succeeded before it in the same run (only
    /// the failing one is rolled back). Default: the whole run is rolled back.
    #[arg(long, global = true)]
    pub keep_applied: bool,
    /// Keep at most N automatic backups (default 5); named snapshots are never pruned.
    #[arg(long, global = true, value_name = "N")]
    pub keep_backups: Option<usize>,
    /// Delete automatic backups older than this: a number with a unit, `s`, `m`, `h` or `d`
    /// (e.g. `30d`, `12h`).
    #[arg(long, global = true, value_name = "AGE", value_parser = parse_age)]
    pub max_backup_age: Option<std::time::Duration>,
    /// No automatic pre-migration backup for this run (throwaway databases; a failed
    /// `transaction = false` migration then cannot be restored automatically).
    #[arg(long, global = true)]
    pub no_backup: bool,
}

/// `30d`, `12h`, `15m`, `90s` (a bare number is seconds).
fn parse_age(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not an age like 30d, 12h, 15m or 90s"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "{text:?}: the unit is one of s, m, h, d (e.g. 30d)"
            ));
        }
    };
    Ok(std::time::Duration::from_secs(
        number.saturating_mul(seconds),
    ))
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Where every migration stands (seq, name, state, applied at, reversible), and drift.
    Status {
        /// Every migration set linked into the binary, one report each (not with --set).
        #[arg(long, conflicts_with = "set")]
        all_sets: bool,
    },
    /// Apply pending migrations (all, or up to --to SEQ).
    Up {
        /// Stop after this seq.
        #[arg(long)]
        to: Option<u64>,
        /// Every migration set linked into the binary, one after another, with one
        /// pre-migration backup for the whole run (not one per set; not with --set or --to).
        #[arg(long, conflicts_with_all = ["set", "to"])]
        all_sets: bool,
    },
    /// Revert migrations: the last one, --steps N, or everything above --to SEQ (preview it
    /// first, changing nothing: `migrate plan --down ...`).
    Down {
        /// How many to revert.
        #[arg(long, conflicts_with = "to")]
        steps: Option<usize>,
        /// Revert everything above this seq (0 reverts all).
        #[arg(long)]
        to: Option<u64>,
    },
    /// Revert the last migration and apply it again.
    Redo,
    /// What `up` would do, without changing anything: a dry run of every pending migration
    /// (with --to SEQ: up to SEQ, as `up --to`), rolled back, with the SQL it runs, schema changes
    /// and row counts (exit code 1 if one fails). With --down (and --steps N or --to SEQ) or --redo: the same preview of a revert, with the
    /// tables and columns it drops and the rows that would go; refused as `down` is (exit 3).
    Plan {
        /// Preview `down` instead: the last migration, --steps N, or everything above --to SEQ.
        #[arg(long, conflicts_with = "redo")]
        down: bool,
        /// With --down: how many to revert.
        #[arg(long, requires = "down", conflicts_with = "to")]
        steps: Option<usize>,
        /// Without --down: apply up to this seq, as `up --to`. With --down: revert everything
        /// above this seq (0 reverts all).
        #[arg(long, conflicts_with = "redo")]
        to: Option<u64>,
        /// Preview `redo` instead: the last migration reverted and applied again.
        #[arg(long)]
        redo: bool,
    },
    /// Check the registry, checksums, schema drift and integrity; exit code 3 on any problem.
    Verify,
    /// Take a verified backup now.
    Backup,
    /// Named snapshots.
    Snapshot {
        /// What to do.
        #[command(subcommand)]
        command: SnapshotCommand,
    },
    /// Restore a backup file or a snapshot by name (default: the newest backup).
    Restore {
        /// A backup file or a snapshot name.
        from: Option<String>,
        /// Instead: the newest backup taken before migration SEQ was applied.
        #[arg(long, value_name = "SEQ", conflicts_with = "from")]
        before: Option<u64>,
        /// Restore FILE even if it is empty, not SQLite, or holds no migrations of this set.
        #[arg(long)]
        allow_foreign_source: bool,
    },
    /// Every backup and snapshot (name or reason, time, size, schema version).
    Backups,
    /// Everything that happened: ups, downs, failures, restores.
    History,
    /// Settle a non-transactional migration that started and never finished.
    Resolve {
        /// Its seq.
        seq: u64,
        /// Its work is complete: record it as applied.
        #[arg(
            long,
            required_unless_present = "not_applied",
            conflicts_with = "not_applied"
        )]
        applied: bool,
        /// Its work is undone: forget it so `up` runs it again.
        #[arg(long)]
        not_applied: bool,
    },
    /// Generate one Rust migration file per migration of a diesel, sqlx, refinery or plain
    /// `.sql` folder (numbered by position, SQL through `include_str!`), and their `mod.rs`.
    /// Needs no database.
    Import {
        /// The folder to read (e.g. `migrations`).
        source: PathBuf,
        /// Where to write the Rust files (e.g. `src/migrations`).
        #[arg(long)]
        out: PathBuf,
        /// The folder's layout: diesel, sqlx, refinery or plain (default: detected).
        #[arg(long, value_name = "LAYOUT")]
        from: Option<crate::import::Layout>,
        /// Overwrite files in OUT that have other contents.
        #[arg(long)]
        force: bool,
    },
    /// Record the migrations another tool applied to this database as applied, after checking
    /// that the schema is what they build and taking a backup; `up` then continues.
    Adopt {
        /// The tool that migrated it: diesel, sqlx, refinery or rusqlite-migration.
        #[arg(long, value_name = "TOOL", value_parser = tool_name)]
        from: String,
    },
    /// The migration sets this binary knows, with how many migrations each has and, when the
    /// database exists, where each stands in it (status across all sets).
    Sets,
    /// Run `up`, `down` or `redo` on a copy of the database (taken with SQLite's backup API
    /// into a temporary directory) and report what it did; the copy is deleted and the live
    /// database is not touched.
    Rehearse {
        /// What to rehearse.
        #[command(subcommand)]
        command: RehearseCommand,
    },
    /// Put back the rows of one table from a backup (default: the newest), in one
    /// transaction, after an undo backup; other tables are not touched (asks).
    RestoreTable {
        /// The table.
        table: String,
        /// A backup file or a snapshot name.
        from: Option<String>,
        /// Instead: the newest backup taken before migration SEQ was applied.
        #[arg(long, value_name = "SEQ", conflicts_with = "from")]
        before: Option<u64>,
    },
    /// Write the next migration of the set as a source file next to its existing ones.
    New {
        /// Its name (a Rust identifier, e.g. `add_due_dates`).
        name: String,
        /// Write its body from the difference between the schema the migrations build and
        /// the desired schema in this file (a schema snapshot, e.g. `schema.sql`).
        #[arg(long, value_name = "FILE")]
        from_schema: Option<PathBuf>,
        /// The directory to write into (default: the directory of the set's newest
        /// migration, found from the current directory or one above it).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// `migrate rehearse ...`: the changing operations.
#[derive(Debug, Subcommand)]
pub enum RehearseCommand {
    /// Apply pending migrations (all, or up to --to SEQ).
    Up {
        /// Stop after this seq.
        #[arg(long)]
        to: Option<u64>,
    },
    /// Revert the last migration, --steps N, or everything above --to SEQ.
    Down {
        /// How many to revert.
        #[arg(long, conflicts_with = "to")]
        steps: Option<usize>,
        /// Revert everything above this seq (0 reverts all).
        #[arg(long)]
        to: Option<u64>,
    },
    /// Revert the last migration and apply it again.
    Redo,
}

/// `migrate snapshot ...`.
#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Take a named snapshot.
    Create {
        /// Letters, digits, `-`, `_`.
        name: String,
    },
    /// List snapshots (name, time, size, schema version).
    List,
    /// Restore a snapshot.
    Restore {
        /// Its name.
        name: String,
    },
    /// Delete a snapshot.
    Delete {
        /// Its name.
        name: String,
    },
}

/// The tools `adopt --from` knows (the SQLite backend's `Tool`), checked while parsing so a
/// typo is a usage error (exit 2) like any other.
fn tool_name(text: &str) -> Result<String, String> {
    match text {
        "diesel" | "sqlx" | "refinery" | "rusqlite-migration" | "rusqlite_migration" => {
            Ok(text.to_owned())
        }
        _ => Err(format!(
            "unknown tool {text:?}: expected diesel, sqlx, refinery or rusqlite-migration"
        )),
    }
}
