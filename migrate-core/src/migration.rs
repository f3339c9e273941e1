//! One migration: its identity, its checksum, its steps and how it must be run.

use crate::Checksum;
use std::fmt;

/// The set a migration belongs to when its attribute names none.
pub const DEFAULT_SET: &str = "default";

/// Whether the runner wraps a migration in a transaction.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum TxMode {
    /// Inside the batch transaction, in its own savepoint (the default).
    #[default]
    Transactional,
    /// Outside any transaction (`transaction = false`): recorded as started first, must be
    /// idempotent, and the pre-migration backup is its rollback.
    NonTransactional,
}

/// What a migration declares about itself, so that the safety checks let it through.
///
/// ```
/// use migrate_core::Flags;
/// let flags = Flags::NONE.with_destructive(true);
/// assert!(flags.destructive && !flags.rebuilds_tables);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Flags {
    /// Runs statements that drop or delete data on purpose (`destructive`).
    pub destructive: bool,
    /// Rebuilds tables, so foreign keys must be off for it (`rebuild`).
    pub rebuilds_tables: bool,
    /// Runs with `PRAGMA legacy_alter_table = ON` (`legacy_alter_table`): a history written
    /// for SQLite before 3.26, whose renames must not rewrite other tables' references.
    pub legacy_alter_table: bool,
}

impl Flags {
    /// No flag set.
    pub const NONE: Flags = Flags {
        destructive: false,
        rebuilds_tables: false,
        legacy_alter_table: false,
    };

    /// Copy with `destructive` set.
    ///
    /// ```
    /// assert!(migrate_core::Flags::NONE.with_destructive(true).destructive);
    /// ```
    pub const fn with_destructive(mut self, on: bool) -> Self {
        self.destructive = on;
        self
    }

    /// Copy with `rebuilds_tables` set.
    ///
    /// ```
    /// assert!(migrate_core::Flags::NONE.with_rebuilds_tables(true).rebuilds_tables);
    /// ```
    pub const fn with_rebuilds_tables(mut self, on: bool) -> Self {
        self.rebuilds_tables = on;
        self
    }

    /// Copy with `legacy_alter_table` set.
    ///
    /// ```
    /// assert!(migrate_core::Flags::NONE.with_legacy_alter_table(true).legacy_alter_table);
    /// ```
    pub const fn with_legacy_alter_table(mut self, on: bool) -> Self {
        self.legacy_alter_table = on;
        self
    }
}

/// Where a migration was defined: a source location for registered ones, a label for hand-built.
///
/// ```
/// use migrate_core::Origin;
/// assert_eq!(Origin::source("src/m.rs", 3).to_string(), "src/m.rs:3");
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Origin {
    /// `file:line` of the `#[migration]` item.
    Source {
        /// File path as `file!()` gives it.
        file: String,
        /// Line of the item.
        line: u32,
    },
    /// Built by hand; the label says where (e.g. "built by hand").
    Manual(String),
}

impl Origin {
    /// A source location.
    ///
    /// ```
    /// let _ = migrate_core::Origin::source("a.rs", 1);
    /// ```
    pub fn source(file: impl Into<String>, line: u32) -> Self {
        Origin::Source {
            file: file.into(),
            line,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Source { file, line } => write!(f, "{file}:{line}"),
            Origin::Manual(label) => f.write_str(label),
        }
    }
}

/// A migration with steps of type `S` (the backend decides what a step is).
///
/// Registered migrations come from `#[migration]`; tests and dynamic uses build them by hand:
///
/// ```
/// use migrate_core::{Migration, Checksum};
/// let m = Migration::new(1, "create_users", "up step")
///     .with_down("down step")
///     .with_description("Creates the users table.")
///     .with_checksum(Checksum::of_text("CREATE TABLE users (id INTEGER)"));
/// assert_eq!(m.seq, 1);
/// assert!(m.is_reversible());
/// ```
#[derive(Clone, Debug)]
pub struct Migration<S> {
    /// Position in its set's sequence (1 or more).
    pub seq: u64,
    /// Human name, e.g. `add_email`.
    pub name: String,
    /// The independent sequence it belongs to ([`DEFAULT_SET`] unless named).
    pub set: String,
    /// The item's doc comment, if any.
    pub description: String,
    /// Checksum of the code that applies it.
    pub checksum: Checksum,
    /// The forward step.
    pub up: S,
    /// The reverse step, if the migration is reversible.
    pub down: Option<S>,
    /// Transactional or not.
    pub mode: TxMode,
    /// Declarations for the safety checks.
    pub flags: Flags,
    /// Where it was defined.
    pub origin: Origin,
}

impl<S> Migration<S> {
    /// A transactional, irreversible migration in the default set, with a checksum of its name
    /// (give a better one with [`with_checksum`](Self::with_checksum)).
    ///
    /// ```
    /// let m = migrate_core::Migration::new(3, "seed", ());
    /// assert_eq!(m.set, migrate_core::DEFAULT_SET);
    /// ```
    pub fn new(seq: u64, name: impl Into<String>, up: S) -> Self {
        let name = name.into();
        Migration {
            seq,
            checksum: Checksum::of_text(&name),
            name,
            set: DEFAULT_SET.to_owned(),
            description: String::new(),
            up,
            down: None,
            mode: TxMode::Transactional,
            flags: Flags::NONE,
            origin: Origin::Manual("built by hand".to_owned()),
        }
    }

    /// Adds a reverse step.
    ///
    /// ```
    /// assert!(migrate_core::Migration::new(1, "a", 1).with_down(2).is_reversible());
    /// ```
    pub fn with_down(mut self, down: S) -> Self {
        self.down = Some(down);
        self
    }

    /// Puts it in another set.
    ///
    /// ```
    /// assert_eq!(migrate_core::Migration::new(1, "a", ()).in_set("billing").set, "billing");
    /// ```
    pub fn in_set(mut self, set: impl Into<String>) -> Self {
        self.set = set.into();
        self
    }

    /// Sets the description.
    ///
    /// ```
    /// let _ = migrate_core::Migration::new(1, "a", ()).with_description("Adds a.");
    /// ```
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets the checksum.
    ///
    /// ```
    /// use migrate_core::{Checksum, Migration};
    /// let m = Migration::new(1, "a", ()).with_checksum(Checksum::of_text("v2"));
    /// assert_eq!(m.checksum, Checksum::of_text("v2"));
    /// ```
    pub fn with_checksum(mut self, checksum: Checksum) -> Self {
        self.checksum = checksum;
        self
    }

    /// Sets the transaction mode.
    ///
    /// ```
    /// use migrate_core::{Migration, TxMode};
    /// let m = Migration::new(1, "vacuum", ()).with_mode(TxMode::NonTransactional);
    /// assert_eq!(m.mode, TxMode::NonTransactional);
    /// ```
    pub fn with_mode(mut self, mode: TxMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the safety flags.
    ///
    /// ```
    /// use migrate_core::{Flags, Migration};
    /// let m = Migration::new(1, "drop_old", ()).with_flags(Flags::NONE.with_destructive(true));
    /// assert!(m.flags.destructive);
    /// ```
    pub fn with_flags(mut self, flags: Flags) -> Self {
        self.flags = flags;
        self
    }

    /// Sets where it was defined.
    ///
    /// ```
    /// use migrate_core::{Migration, Origin};
    /// let m = Migration::new(1, "a", ()).with_origin(Origin::source("src/a.rs", 9));
    /// assert_eq!(m.origin.to_string(), "src/a.rs:9");
    /// ```
    pub fn with_origin(mut self, origin: Origin) -> Self {
        self.origin = origin;
        self
    }

    /// True when it has a reverse step.
    ///
    /// ```
    /// assert!(!migrate_core::Migration::new(1, "a", ()).is_reversible());
    /// ```
    pub fn is_reversible(&self) -> bool {
        self.down.is_some()
    }

    /// Same migration with its steps mapped to another type.
    ///
    /// ```
    /// let m = migrate_core::Migration::new(1, "a", 2).map_steps(|s| s * 10);
    /// assert_eq!(m.up, 20);
    /// ```
    pub fn map_steps<T>(self, mut f: impl FnMut(S) -> T) -> Migration<T> {
        Migration {
            seq: self.seq,
            name: self.name,
            set: self.set,
            description: self.description,
            checksum: self.checksum,
            up: f(self.up),
            down: self.down.map(f),
            mode: self.mode,
            flags: self.flags,
            origin: self.origin,
        }
    }

    /// `seq "name"`, as errors and reports name it.
    ///
    /// ```
    /// assert_eq!(migrate_core::Migration::new(2, "add_email", ()).label(), "2 \"add_email\"");
    /// ```
    pub fn label(&self) -> String {
        format!("{} {:?}", self.seq, self.name)
    }
}
