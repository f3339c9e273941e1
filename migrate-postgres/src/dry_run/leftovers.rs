//! What a migration can leave on the session that `ROLLBACK` does not undo: session-level
//! advisory locks (`pg_advisory_lock` outlives its transaction). The dry run releases the ones
//! that were not held when it started, so it leaves the session as it found it.

use crate::Result;
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
