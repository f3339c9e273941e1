//! Plain Rust callbacks that observe a run: before and after the batch and each migration, and
//! on failure (for logs, metrics, a maintenance banner). They observe; they cannot change what
//! the runner does, and they must not use the database.

use crate::Direction;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The batch is about to start (after the lock, the plan and the backup).
    BatchStarting {
        /// The set.
        set: String,
        /// How many migration steps will run.
        steps: usize,
    },
    /// A migration is about to run.
    MigrationStarting {
        /// Its seq.
        seq: u64,
        /// Its name.
        name: String,
        /// Applying or reverting.
        direction: Direction,
    },
    /// A migration finished (not yet committed: the batch commits at the end).
    MigrationFinished {
        /// Its seq.
        seq: u64,
        /// Its name.
        name: String,
        /// Applying or reverting.
        direction: Direction,
        /// How long it took.
        duration: Duration,
    },
    /// A migration failed; `outcome` is what the run kept.
    MigrationFailed {
        /// Its seq.
        seq: u64,
        /// Its name.
        name: String,
        /// The error, as text.
        error: String,
    },
    /// The batch committed.
    BatchFinished {
        /// The set.
        set: String,
        /// How many migration steps ran.
        steps: usize,
    },
}

/// A hook: called with every [`Event`] of a run.
pub type HookFn = Arc<dyn Fn(&Event) + Send + Sync>;

/// The hooks of a migrator.
#[derive(Clone, Default)]
pub struct Hooks(Vec<HookFn>);

impl Hooks {
    /// Adds a hook.
    ///
    /// ```
    /// use migrate_core::{Event, Hooks};
    /// let mut hooks = Hooks::default();
    /// hooks.add(std::sync::Arc::new(|e: &Event| println!("{e:?}")));
    /// hooks.emit(Event::BatchFinished { set: "default".into(), steps: 0 });
    /// ```
    pub fn add(&mut self, hook: HookFn) {
        self.0.push(hook);
    }

    /// Calls every hook; a panicking hook is logged and does not stop the run.
    pub fn emit(&self, event: Event) {
        for hook in &self.0 {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(&event))).is_err() {
                log::error!("a migration hook panicked on {event:?}");
            }
        }
    }
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hooks({})", self.0.len())
    }
}
