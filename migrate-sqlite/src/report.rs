//! What a run did, and where every migration stands: the values `up`/`down` and `status` return
//! (shared by every backend, defined in `migrate_core`).

pub use migrate_core::{Direction, RunReport, StatusLine, StatusReport, StepReport};
