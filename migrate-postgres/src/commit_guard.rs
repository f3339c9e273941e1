//! The commit guard: no migration can end the runner's transaction. A `DEFERRABLE INITIALLY
//! DEFERRED` constraint trigger on `<schema>._migrate_commit_guard` raises at commit unless the
//! runner said, with `SET LOCAL migrate.commit_ok = 'on'`, that this commit is its own. A user's
//! `COMMIT` therefore fails and rolls the whole batch back; statements after it then meet
//! `default_transaction_read_only = on` (the runner's own transaction is `READ WRITE`) and fail
//! too, so nothing escapes.

use crate::connection::Schema;
use postgres::Client;

/// Name of the guard's table, function and trigger (in the tracking schema).
pub(crate) const GUARD: &str = "_migrate_commit_guard";

/// The guard's objects; run under the migration lock, inside the batch transaction.
pub(crate) fn install_sql(schema: &Schema) -> String {
    let table = schema.qualify(GUARD);
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (armed_at timestamptz NOT NULL DEFAULT now());
         CREATE OR REPLACE FUNCTION {table}() RETURNS trigger LANGUAGE plpgsql
           SET search_path = pg_catalog AS $guard$
         BEGIN
           IF current_setting('migrate.commit_ok', true) IS DISTINCT FROM 'on' THEN
             RAISE EXCEPTION 'a migration ended the runner''s transaction (COMMIT or ROLLBACK in \
                              its SQL); the whole batch is rolled back'
               USING ERRCODE = '2D000';
           END IF;
           RETURN NULL;
         END $guard$;
         DO $install$ BEGIN
           IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                          WHERE tgrelid = '{table}'::regclass AND tgname = '{GUARD}') THEN
             CREATE CONSTRAINT TRIGGER {GUARD} AFTER INSERT ON {table}
               DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {table}();
           END IF;
         END $install$;",
    )
}

/// Queues one guard event: the next commit fails unless the runner allows it.
pub(crate) fn arm(client: &mut Client, schema: &Schema) -> Result<(), postgres::Error> {
    client.batch_execute(&format!(
        "INSERT INTO {} DEFAULT VALUES",
        schema.qualify(GUARD)
    ))
}

/// Fires every deferred constraint now, so a deferred violation fails this migration, not the
/// commit. The guard fires too: it is allowed for that moment, then re-armed by the caller.
/// (`SET CONSTRAINTS ALL DEFERRED` afterwards: each later migration's deferrable constraints are
/// checked at its own end, as this one's were.)
pub(crate) const CHECK_DEFERRED: &str = "SET LOCAL migrate.commit_ok = 'on';
     SET CONSTRAINTS ALL IMMEDIATE;
     SET CONSTRAINTS ALL DEFERRED;
     SET LOCAL migrate.commit_ok = 'off'";

/// The runner's own commit: the guard rows go, and the guard lets this one commit through.
pub(crate) fn commit_sql(schema: &Schema) -> String {
    format!(
        "DELETE FROM {}; SET LOCAL migrate.commit_ok = 'on'; COMMIT",
        schema.qualify(GUARD)
    )
}
