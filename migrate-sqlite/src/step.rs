//! What a migration step is for this backend: a function of the transaction handle.

use crate::{Result, Tx};
use std::fmt;
use std::sync::Arc;

/// The type `#[migration]` functions are coerced to: `fn(&Tx) -> Result<()>`.
pub type StepFnPtr = for<'a, 'b> fn(&'a Tx<'b>) -> Result<()>;

/// A migration step: a registered function, a closure, or SQL text.
///
/// ```
/// use migrate_sqlite::Step;
/// let create = Step::sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)");
/// let seed = Step::new(|tx| {
///     tx.execute("INSERT INTO notes (body) VALUES (?1)", ["hello"])?;
///     Ok(())
/// });
/// # let _ = (create, seed);
/// ```
#[derive(Clone)]
pub struct Step(Arc<StepBody>);

/// What a step runs.
type StepBody = dyn Fn(&Tx) -> Result<()> + Send + Sync;

impl Step {
    /// A step that runs a closure.
    pub fn new(f: impl Fn(&Tx) -> Result<()> + Send + Sync + 'static) -> Self {
        Step(Arc::new(f))
    }

    /// A step that runs SQL text with `execute_batch`.
    ///
    /// ```
    /// let _ = migrate_sqlite::Step::sql("DROP TABLE notes");
    /// ```
    pub fn sql(sql: impl Into<String>) -> Self {
        let sql = sql.into();
        Step::new(move |tx| Ok(tx.execute_batch(&sql)?))
    }

    /// Runs the step.
    pub(crate) fn run(&self, tx: &Tx) -> Result<()> {
        (self.0)(tx)
    }
}

impl From<StepFnPtr> for Step {
    fn from(f: StepFnPtr) -> Self {
        Step::new(f)
    }
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Step(..)")
    }
}
