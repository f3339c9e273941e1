//! What a migration can leave on the session that `ROLLBACK` does not undo: session-level
//! advisory locks (`pg_advisory_lock` outlives its transaction) and statements prepared with
//! SQL `PREPARE` (a real run on the same session would then fail "prepared statement ...
//! already exists"). The dry run releases the ones that were not there when it started, so it
//! leaves the session as it found it.

use crate::Result;
use crate::connection::quote_ident;
use postgres::Client;
use postgres::types::Type;
use std::collections::BTreeSet;

/// An advisory lock as `pg_locks` names it: (classid, objid, objsubid, shared).
pub(crate) type AdvisoryLock = (i64, i64, i32, bool);

const HELD: &str = "SELECT classid::bigint, objid::bigint, objsubid::int, mode = 'ShareLock' \
                    FROM pg_locks WHERE locktype = 'advisory' AND granted \
                    AND pid = pg_backend_pid()";

/// The advisory locks this session holds.
pub(crate) fn advisory_locks(client: &mut Client) -> Result<BTreeSet<AdvisoryLock>> {
    Ok(client
        .query(HELD, &[])?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect())
}

/// Releases every advisory lock of this session that is not in `kept`, as many times as it
/// was taken (they are counted).
pub(crate) fn release_advisory_locks(
    client: &mut Client,
    kept: &BTreeSet<AdvisoryLock>,
) -> Result<()> {
    for lock in advisory_locks(client)?.difference(kept) {
        let (classid, objid, subid, shared) = *lock;
        let suffix = if shared { "_shared" } else { "" };
        // Re-entrant: unlocked until pg_locks no longer shows it (bounded, to never spin).
        for _ in 0..10_000 {
            if subid == 1 {
                let key = (classid << 32) | objid;
                client.query_typed(
                    &format!("SELECT pg_advisory_unlock{suffix}($1)"),
                    &[(&key, Type::INT8)],
                )?;
            } else {
                // Two int4 keys, stored as oids.
                let (a, b) = (classid as u32 as i32, objid as u32 as i32);
                client.query_typed(
                    &format!("SELECT pg_advisory_unlock{suffix}($1, $2)"),
                    &[(&a, Type::INT4), (&b, Type::INT4)],
                )?;
            }
            if !advisory_locks(client)?.contains(lock) {
                log::warn!(
                    "a migration took a session advisory lock ({classid}, {objid}) in the dry \
                     run; released"
                );
                break;
            }
        }
    }
    Ok(())
}

/// Statements of this session prepared with SQL `PREPARE` (not the client's own, which are
/// protocol-level and `from_sql = false`).
pub(crate) fn prepared_statements(client: &mut Client) -> Result<BTreeSet<String>> {
    Ok(client
        .query(
            "SELECT name FROM pg_prepared_statements WHERE from_sql",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// `DEALLOCATE`s the SQL-prepared statements that are not in `kept`.
pub(crate) fn deallocate_prepared(client: &mut Client, kept: &BTreeSet<String>) -> Result<()> {
    for name in prepared_statements(client)?.difference(kept) {
        client.batch_execute(&format!("DEALLOCATE {}", quote_ident(name)))?;
        log::warn!("a migration prepared statement {name:?} in the dry run; deallocated");
    }
    Ok(())
}
