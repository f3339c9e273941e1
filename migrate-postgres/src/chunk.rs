//! When a very large batch commits in chunks. Every relation a transaction creates or touches
//! stays locked until it ends, in the server's shared lock table, which is sized for
//! `max_locks_per_transaction × (max_connections + max_prepared_transactions + background
//! workers)` entries and shared by every session: one transaction creating ~2,400 indexed
//! tables failed with `out of shared memory` (`../shared/POSTGRES.md`).
//!
//! The rule: once the run's transaction holds more than **half** of
//! `max_locks_per_transaction × (max_connections + max_prepared_transactions)` locks (or
//! [`Settings::max_chunk_locks`]), it commits what ran so far and goes on in a new
//! transaction. Half, not all: the table is shared, and the app's own transactions, autovacuum,
//! a `pg_dump` (which locks every table it dumps) and the other replicas waiting for the
//! migration lock need entries too while the run holds its share. A run sized to the whole
//! table made *them* (or itself) fail with `out of shared memory` as soon as another session
//! held a few thousand locks; with half, it completed (`tests/postgres/chunks.rs`, on a cluster
//! with `max_locks_per_transaction = 32`).
//!
//! The locks held are counted in `pg_locks`, which copies the whole lock table, so it is not
//! read after every migration: the next count comes when the locks taken per migration so far
//! would have used half of what is left.
//!
//! [`Settings::max_chunk_locks`]: crate::Settings::max_chunk_locks

use crate::Result;
use postgres::{Client, SimpleQueryMessage};

/// The lock count of the run's current transaction, sampled.
#[derive(Debug, Default)]
pub(crate) struct LockBudget {
    /// Locks a transaction may hold before it commits (read once per run when not set).
    limit: Option<u64>,
    /// Migrations of this transaction so far, and at the last count.
    steps: u64,
    counted_at: u64,
    /// Locks at the last count.
    held: u64,
}

impl LockBudget {
    pub(crate) fn new(limit: Option<u64>) -> Self {
        LockBudget {
            limit,
            ..LockBudget::default()
        }
    }

    /// A new transaction began: nothing of it counted yet.
    pub(crate) fn restart(&mut self) {
        *self = LockBudget::new(self.limit);
    }

    /// One more migration in the transaction: whether its locks are to be counted now
    /// ([`LockBudget::full`]).
    pub(crate) fn count_due_after_step(&mut self) -> bool {
        self.steps += 1;
        self.steps >= self.next_count()
    }

    /// Counts the locks held: true when there are more than the limit (commit now).
    pub(crate) fn full(&mut self, client: &mut Client) -> Result<bool> {
        let limit = match self.limit {
            Some(limit) => limit,
            None => *self.limit.insert(server_limit(client)?),
        };
        self.held = count(
            client,
            "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid()",
        )?;
        self.counted_at = self.steps;
        log::debug!(
            "{} locks held after {} migrations (limit {limit})",
            self.held,
            self.steps
        );
        Ok(self.held >= limit)
    }

    /// The migration after which to count again: when, at the rate seen so far, half of what
    /// is left would be used (at once on the first migration, when no rate is known).
    fn next_count(&self) -> u64 {
        let (Some(limit), true) = (self.limit, self.counted_at > 0) else {
            return 1;
        };
        let per_step = self.held.div_ceil(self.counted_at).max(1);
        let left = limit.saturating_sub(self.held);
        self.counted_at + (left / (2 * per_step)).max(1)
    }
}

/// Half of `max_locks_per_transaction × (max_connections + max_prepared_transactions)`: the
/// run's share of the shared lock table, the rest left to the other sessions.
fn server_limit(client: &mut Client) -> Result<u64> {
    count(
        client,
        "SELECT current_setting('max_locks_per_transaction')::bigint \
                * (current_setting('max_connections')::bigint \
                   + current_setting('max_prepared_transactions')::bigint) / 2",
    )
}

fn count(client: &mut Client, sql: &str) -> Result<u64> {
    let messages = client.simple_query(sql)?;
    Ok(messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0).and_then(|v| v.parse().ok()),
            _ => None,
        })
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::LockBudget;

    #[test]
    fn counts_again_when_half_of_what_is_left_would_be_used() {
        let mut budget = LockBudget::new(Some(1000));
        assert_eq!(budget.next_count(), 1);
        budget.steps = 1;
        budget.counted_at = 1;
        budget.held = 10;
        // 990 left at 10 per migration: half of it in 49 migrations.
        assert_eq!(budget.next_count(), 50);
        budget.counted_at = 90;
        budget.held = 990;
        assert_eq!(budget.next_count(), 91);
    }
}
