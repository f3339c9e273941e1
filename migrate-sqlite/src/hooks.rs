//! Plain Rust callbacks that observe a run (shared by every backend, defined in `migrate_core`).

pub use migrate_core::{Event, HookFn, Hooks};
