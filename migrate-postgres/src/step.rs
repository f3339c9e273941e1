//! What a migration step is for this backend: a function of the transaction handle.

use crate::{Error, Result, Tx};
use std::any::Any;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

/// The type `#[migration]` functions are coerced to: `fn(&mut Tx) -> Result<()>`.
pub type StepFnPtr = for<'a, 'b> fn(&'a mut Tx<'b>) -> Result<()>;

/// A migration step: a registered function, a closure, or SQL text.
///
/// ```
/// use migrate_postgres::Step;
/// let create = Step::sql("CREATE TABLE notes (id bigint PRIMARY KEY, body text)");
/// let seed = Step::new(|tx| {
///     tx.execute("INSERT INTO notes (id, body) VALUES ($1, $2)", &[&1_i64, &"hello"])?;
///     Ok(())
/// });
/// # let _ = (create, seed);
/// ```
#[derive(Clone)]
pub struct Step(Arc<StepBody>);

/// What a step runs.
type StepBody = dyn Fn(&mut Tx) -> Result<()> + Send + Sync;

impl Step {
    /// A step that runs a closure.
    ///
    /// ```
    /// let _ = migrate_postgres::Step::new(|tx| tx.batch_execute("SELECT 1"));
    /// ```
    pub fn new(f: impl Fn(&mut Tx) -> Result<()> + Send + Sync + 'static) -> Self {
        Step(Arc::new(f))
    }

    /// A step that runs SQL text with [`Tx::batch_execute`] (outside a transaction, one
    /// statement at a time).
    ///
    /// ```
    /// let _ = migrate_postgres::Step::sql("DROP TABLE notes");
    /// ```
    pub fn sql(sql: impl Into<String>) -> Self {
        let sql = sql.into();
        Step::new(move |tx| tx.batch_execute(&sql))
    }

    /// Runs the step; a panic in it is [`Error::Panicked`], so the runner rolls back and
    /// reports it like any failure instead of leaving its transaction open on the session.
    pub(crate) fn run(&self, tx: &mut Tx) -> Result<()> {
        match panic::catch_unwind(AssertUnwindSafe(|| (self.0)(tx))) {
            Ok(result) => result,
            Err(payload) => Err(Error::Panicked {
                message: panic_message(payload.as_ref()),
            }),
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".to_owned())
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
