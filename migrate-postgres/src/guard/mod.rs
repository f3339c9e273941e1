//! The safety checks of a PostgreSQL run, the SQLite backend's rules on PostgreSQL's catalog:
//! the row-count guard (a migration that does not declare `destructive` must not leave a table
//! with fewer rows) and destructive-change detection (nor drop a table, nor drop a column that
//! held values).
//!
//! Cost: one query after each migration ([`observe`]), which also counts, exactly, the tables
//! whose insert or delete counters moved; nothing else when the migration touched nothing.
//! A table nobody touched is never counted. When a judgment needs a fact about the state
//! before the migration that nobody counted (the rows of a table it deleted from, truncated
//! or dropped and recreated; whether a column it dropped held values), the migration is rolled
//! back to its savepoint, the facts are read, and it runs again ([`Verdict::Learn`]): twice
//! the work, only for such migrations, and only the first time in a run a table is touched.
//!
//! Without row counts ([`Guard::without_row_counts`], `Migrator::without_row_counts`), a
//! transactional migration costs one tiny read instead (`pg_class`'s delete counter) plus a look
//! at the statements it sent: an undeclared `DELETE`, `TRUNCATE` or `MERGE` it sent is refused
//! by its text, and when a relation was dropped the migration is rolled back, the tables before
//! it listed, and it runs again, so that a table it dropped is refused unless it recreated one
//! under that name and declares `rebuild` (SQLite's rules without row counts).

mod compare;
mod light;
mod observe;
mod statements;

use crate::connection::quote_ident;
use crate::{Error, Result};
use compare::{Changes, Comparison, Facts, Needs, Rules, Tables};
pub(crate) use light::CLASS_DELETES;
use migrate_core::RowCount;
use observe::{Oid, Since};
pub(crate) use statements::by;

/// How a migration's changes are judged.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Judging {
    pub seq: u64,
    /// An `up` that neither declares `destructive` nor runs with destruction allowed.
    pub refuse_losses: bool,
    /// It ran in the run's transaction (in a savepoint that can be rolled back).
    pub transactional: bool,
    /// It declares `rebuild`: without row counts, a table it drops and recreates under the
    /// same name is its business.
    pub rebuild: bool,
}

/// What [`Guard::after_step`] concluded.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Passed; the row counts of the tables it touched, for its history row.
    Passed(Vec<RowCount>),
    /// Roll the migration back to its savepoint, [`Guard::learn`] these, and run it again.
    Learn(Needs),
}

/// The row-count guard's and destructive-change detection's state for one run.
#[derive(Debug, Default)]
pub(crate) struct Guard {
    /// The tracking schema (its `_migrate_*` tables are the runner's, not counted).
    schema: String,
    /// What the last completed migration left.
    tables: Tables,
    /// Where the next read starts from.
    since: Since,
    /// What the migration being checked changed, until its savepoint is released.
    pending: Option<Changes>,
    /// Facts about the state before the migration being checked, learned by rolling it back.
    facts: Option<Facts>,
    /// The read, prepared at the first baseline of the run.
    read: Option<postgres::Statement>,
    /// Rows are counted (the default); without, only the light checks of `light.rs` run.
    counting: bool,
    /// Without counting: the read of `pg_class`'s delete counter, prepared once per run.
    class_deletes: Option<postgres::Statement>,
    /// That counter as the runner's check after the step read it (no round trip of its own).
    class_deletes_now: Option<i64>,
}

impl Guard {
    pub fn new(schema: &str) -> Guard {
        Guard {
            schema: schema.to_owned(),
            counting: true,
            ..Guard::default()
        }
    }

    /// No rows counted: the light checks only (see the module's documentation).
    pub fn without_row_counts(mut self) -> Guard {
        self.counting = false;
        self
    }

    /// The baseline, in the run's transaction: every user table and its columns (one query,
    /// nothing counted).
    pub fn start(&mut self, client: &mut postgres::Client) -> Result<()> {
        let read = match self.read.take() {
            Some(read) => read,
            None => observe::prepare(client)?,
        };
        let observed = observe::read(client, &read, &self.schema, &Since::default(), true)?;
        self.read = Some(read);
        self.since = Since::default();
        observed.advance(&mut self.since);
        self.tables = compare::tables_of(&observed);
        self.pending = None;
        self.facts = None;
        Ok(())
    }

    /// Whether rows are counted (the default), or only the light checks run.
    pub fn counts_rows(&self) -> bool {
        self.counting
    }

    /// `pg_class`'s delete counter, read by the runner's check right after the step.
    pub fn class_deletes_read(&mut self, count: Option<i64>) {
        self.class_deletes_now = count;
    }

    /// Before a `transaction = false` migration, in the transaction that marks it started.
    /// Counting, the guard's tables are those the last migration left; without counting they
    /// were not followed, so they are read again.
    pub fn before_outside_step(&mut self, client: &mut postgres::Client) -> Result<()> {
        if self.counting || self.read.is_none() {
            return Ok(());
        }
        self.start(client)
    }

    /// After a migration, in its transaction (its savepoint still open): what it did, judged.
    pub fn after_step(
        &mut self,
        client: &mut postgres::Client,
        judging: Judging,
        statements: &[String],
    ) -> Result<Verdict> {
        let Some(read) = self.read.clone() else {
            return Ok(Verdict::Passed(Vec::new()));
        };
        if !judging.transactional {
            return self.after_outside_step(client, &read, judging, statements);
        }
        if !self.counting {
            return self.after_step_light(client, &read, judging, statements);
        }
        let since = self.since.clone();
        let mut observed = observe::read(client, &read, &self.schema, &since, false)?;
        observed.advance(&mut self.since);
        let rules = Rules {
            truncate_seen: mentions_truncate(statements),
        };
        let learned = self.facts.is_some();
        let facts = self.facts.take().unwrap_or_default();
        let mut compared = compare::compare(&self.tables, &since, &observed, &facts, rules);
        if !compared.needs.after.is_empty() {
            let after = &compared.needs.after;
            let counts = count_now(client, &compared.changes, after)?;
            for seen in observed.tables.iter_mut() {
                if let Some(rows) = counts.get(&seen.oid) {
                    seen.rows = Some(*rows);
                }
            }
            compared = compare::compare(&self.tables, &since, &observed, &facts, rules);
        }
        let unknown = !compared.needs.before.is_empty() || !compared.needs.probes.is_empty();
        if judging.refuse_losses && unknown {
            if !learned {
                return Ok(Verdict::Learn(compared.needs));
            }
            log::warn!(
                "migration {}: the facts learned by running it again do not cover what it did \
                 the second time ({:?}); judged on what is known",
                judging.seq,
                compared.needs
            );
        }
        if judging.refuse_losses {
            refuse(judging, &compared, statements)?;
        }
        self.pending = Some(compared.changes);
        Ok(Verdict::Passed(compared.counts))
    }

    /// After a `transaction = false` migration (others may have written meanwhile, and the
    /// row counters of its own transactions may be flushed): the catalog alone, read in full.
    /// A table gone fails it; anything else is logged.
    fn after_outside_step(
        &mut self,
        client: &mut postgres::Client,
        read: &postgres::Statement,
        judging: Judging,
        statements: &[String],
    ) -> Result<Verdict> {
        let observed = observe::read(client, read, &self.schema, &Since::default(), true)?;
        let rules = Rules {
            truncate_seen: false,
        };
        let compared = compare::compare(
            &self.tables,
            &self.since.clone(),
            &observed,
            &Facts::default(),
            rules,
        );
        self.tables = compare::tables_of(&observed);
        if judging.refuse_losses {
            let gone_only = Comparison {
                gone: compared.gone.clone(),
                ..Comparison::default()
            };
            refuse(judging, &gone_only, statements)?;
            if !compared.needs.probes.is_empty() {
                log::warn!(
                    "migration {} (outside a transaction) dropped columns that may have held \
                     values: {}",
                    judging.seq,
                    compared
                        .needs
                        .probes
                        .iter()
                        .map(|p| format!("{}.{}.{}", p.schema, p.table, p.column))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        Ok(Verdict::Passed(Vec::new()))
    }

    /// With the migration rolled back to its savepoint: the facts `needs` asks for, in one
    /// query, then the counters read again (the rolled-back attempt moved them).
    pub fn learn(&mut self, client: &mut postgres::Client, needs: &Needs) -> Result<()> {
        if needs.tables_before {
            return self.learn_light(client);
        }
        let mut columns: Vec<String> = Vec::new();
        let mut before: Vec<Oid> = Vec::new();
        for oid in &needs.before {
            if let Some(table) = self.tables.get(oid) {
                columns.push(format!(
                    "(SELECT count(*) FROM {}.{})::int8",
                    quote_ident(&table.schema),
                    quote_ident(&table.name)
                ));
                before.push(*oid);
            }
        }
        let probes: Vec<_> = needs.probes.iter().collect();
        for probe in &probes {
            columns.push(format!(
                "(CASE WHEN EXISTS (SELECT 1 FROM {}.{} WHERE {} IS NOT NULL) THEN 1 ELSE 0 END)::int8",
                quote_ident(&probe.schema),
                quote_ident(&probe.table),
                quote_ident(&probe.column)
            ));
        }
        let mut facts = Facts::default();
        if !columns.is_empty() {
            let row = client.query_one(&format!("SELECT {}", columns.join(", ")), &[])?;
            for (i, oid) in before.iter().enumerate() {
                facts.rows.insert(*oid, row.get::<_, i64>(i).max(0) as u64);
            }
            for (j, probe) in probes.iter().enumerate() {
                let filled = row.get::<_, i64>(before.len() + j) != 0;
                facts
                    .filled
                    .insert((probe.oid, probe.column.clone()), filled);
            }
        }
        if let Some(read) = self.read.clone() {
            let observed = observe::read(client, &read, &self.schema, &self.since, false)?;
            observed.advance(&mut self.since);
        }
        self.facts = Some(facts);
        Ok(())
    }

    /// The migration's savepoint was released: what it left is the new baseline.
    pub fn released(&mut self) {
        for (oid, table) in self.pending.take().unwrap_or_default() {
            // A table whose storage it replaced may have been truncated: the release puts the
            // truncating savepoint's counters in place of the whole run's, so they are lower
            // than the read saw. Forgotten, they count as moved at the next read (compared).
            let replaced = matches!((&table, self.tables.get(&oid)),
                (Some(now), Some(was)) if now.filenode != was.filenode);
            if replaced && let Some(counters) = self.since.counters.remove(&oid) {
                self.since.sum -= counters.ins + counters.del;
            }
            match table {
                Some(table) => self.tables.insert(oid, table),
                None => self.tables.remove(&oid),
            };
        }
        self.facts = None;
    }

    /// The migration was rolled back: the baseline stays what it was.
    pub fn rolled_back(&mut self) {
        self.pending = None;
        self.facts = None;
    }
}

/// Whether a statement the migration sent names TRUNCATE (a table whose storage was replaced
/// may then have been emptied; otherwise it was rewritten, which keeps every row).
fn mentions_truncate(statements: &[String]) -> bool {
    statements
        .iter()
        .any(|s| s.to_ascii_uppercase().contains("TRUNCATE"))
}

/// Exact rows of `oids` now, in one query.
fn count_now(
    client: &mut postgres::Client,
    changes: &Changes,
    oids: &std::collections::BTreeSet<Oid>,
) -> Result<std::collections::BTreeMap<Oid, u64>> {
    let named: Vec<(Oid, String)> = oids
        .iter()
        .filter_map(|oid| {
            changes.get(oid).and_then(Option::as_ref).map(|t| {
                (
                    *oid,
                    format!(
                        "(SELECT count(*) FROM {}.{})::int8",
                        quote_ident(&t.schema),
                        quote_ident(&t.name)
                    ),
                )
            })
        })
        .collect();
    if named.is_empty() {
        return Ok(Default::default());
    }
    let sql = format!(
        "SELECT {}",
        named
            .iter()
            .map(|(_, c)| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let row = client.query_one(&sql, &[])?;
    Ok(named
        .iter()
        .enumerate()
        .map(|(i, (oid, _))| (*oid, row.get::<_, i64>(i).max(0) as u64))
        .collect())
}

/// The rules for an `up` that does not declare `destructive`: no table gone, no column's
/// values gone, no table with fewer rows (in that order, as SQLite checks them).
fn refuse(judging: Judging, compared: &Comparison, recorded: &[String]) -> Result<()> {
    let seq = judging.seq;
    if !compared.gone.is_empty() {
        return Err(Error::UndeclaredDestruction {
            seq,
            lost: compared
                .gone
                .iter()
                .map(|l| format!("table {}.{} dropped", l.schema, l.table))
                .collect(),
            statements: statements::responsible(recorded, &compared.gone),
            rolled_back: judging.transactional,
        });
    }
    if !compared.emptied.is_empty() {
        return Err(Error::ColumnDataLost {
            seq,
            columns: compared
                .emptied
                .iter()
                .map(|l| {
                    format!(
                        "{}.{}.{}",
                        l.schema,
                        l.table,
                        l.column.as_deref().unwrap_or("?")
                    )
                })
                .collect(),
            statements: statements::responsible(recorded, &compared.emptied),
            rolled_back: judging.transactional,
        });
    }
    if !compared.shrunk.is_empty() {
        let lost: Vec<_> = compared.shrunk.iter().map(|(l, _)| l.clone()).collect();
        return Err(Error::RowsLost {
            seq,
            tables: compared.shrunk.iter().map(|(_, c)| c.clone()).collect(),
            statements: statements::responsible(recorded, &lost),
        });
    }
    Ok(())
}
