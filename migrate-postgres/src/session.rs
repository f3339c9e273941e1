//! Session state put back after a run: a migration's `SET search_path = ...` or `SET ROLE`
//! (not LOCAL) survives COMMIT. `RESET ALL` and `RESET ROLE`, never `DISCARD ALL`, which would
//! also drop the advisory lock (and refuses to run in a transaction block).

use crate::lock::LockGuard;
use crate::{Connection, Result};
use postgres::types::Type;

impl LockGuard<'_> {
    /// Puts the session's settings back to their connection-time values (`RESET ROLE`,
    /// `RESET ALL`), keeping the migration lock and its session token. Run outside a transaction,
    /// after the batch.
    ///
    /// ```no_run
    /// let mut conn = migrate_postgres::Connection::open("postgres://app@localhost/app")?;
    /// let mut lock = conn.lock()?;
    /// lock.reset_session()?;
    /// lock.check_held()?;
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn reset_session(&mut self) -> Result<()> {
        let token = self.token().to_owned();
        self.reset_session_keeping(Some(&token))
    }
}

impl Connection {
    /// `RESET ROLE; RESET ALL`, then the lock's session token set again (when a lock is held).
    pub(crate) fn reset_session_keeping(&mut self, token: Option<&str>) -> Result<()> {
        self.client.batch_execute("RESET ROLE; RESET ALL")?;
        if let Some(token) = token {
            let token = token.to_owned();
            self.client.query_typed(
                "SELECT set_config('migrate.session_token', $1, false)",
                &[(&token, Type::TEXT)],
            )?;
        }
        Ok(())
    }
}
