//! The no-op start's state row: `<schema>._migrate_state` holds, per set, the digest of the
//! applied rows ([`migrate_core::protocol::Digest`]), written by the runner just before each
//! commit. Triggers on `_migrate_applied` delete it on any other change (a hand `DELETE`,
//! `UPDATE`, `INSERT` or `TRUNCATE`, a `resolve`, a `down`), so a start that finds it equal to the
//! registry's digest knows, from one row, that there is nothing to apply, accept or refuse. No
//! row, or another digest, only means "take the full path". Limit: a change made with the
//! triggers disabled (`session_replication_role = replica`, `DISABLE TRIGGER`) is not seen.

use crate::Result;
use crate::connection::{Schema, quote_literal};
use crate::tracking::APPLIED_TABLE;
use migrate_core::protocol::Digest;
use postgres::{Client, SimpleQueryMessage};

/// The stored digest of `set`, in one simple query (no prepare). `None` when there is none, or
/// when the tracking tables do not exist (42P01, 3F000: the start takes the full path).
///
/// The query names `_migrate_applied` too, so a dropped tracking table is never mistaken for
/// "unchanged", and a set whose rows are all gone has no digest.
pub(crate) fn stored(client: &mut Client, schema: &Schema, set: &str) -> Result<Option<String>> {
    let set = quote_literal(set);
    let sql = format!(
        "SELECT s.digest FROM {state} s WHERE s.set_name = {set} \
           AND EXISTS (SELECT FROM {applied} a WHERE a.set_name = {set})",
        state = schema.qualify("_migrate_state"),
        applied = schema.qualify(APPLIED_TABLE),
    );
    match client.simple_query(&sql) {
        Ok(messages) => Ok(messages.iter().find_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
            _ => None,
        })),
        Err(e) if matches!(e.code().map(|c| c.code()), Some("42P01" | "3F000")) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Recomputes the digest of `set` from its rows, in the caller's transaction, and stores it
/// (none while a row is started or reverting: such a start must take the full path).
pub(crate) fn store(client: &mut Client, schema: &Schema, set: &str) -> Result<()> {
    let state = schema.qualify("_migrate_state");
    let rows = client.query_typed(
        &format!(
            "SELECT seq, checksum, state = 'applied' FROM {} WHERE set_name = $1 ORDER BY seq",
            schema.qualify(APPLIED_TABLE)
        ),
        &[(&set, postgres::types::Type::TEXT)],
    )?;
    let mut digest = Digest::new();
    for row in &rows {
        if !row.get::<_, bool>(2) {
            return Ok(());
        }
        digest.row(row.get::<_, i64>(0) as u64, &row.get::<_, &str>(1));
    }
    let digest = digest.finish();
    client.query_typed(
        &format!(
            "INSERT INTO {state} (set_name, digest) VALUES ($1, $2)
             ON CONFLICT (set_name) DO UPDATE SET digest = EXCLUDED.digest"
        ),
        &[
            (&set, postgres::types::Type::TEXT),
            (&digest, postgres::types::Type::TEXT),
        ],
    )?;
    Ok(())
}
