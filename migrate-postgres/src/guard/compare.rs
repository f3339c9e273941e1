//! What one migration did to the user tables, from what the guard knew before it and what the
//! read after it saw: tables gone, columns gone, rows lost, the counts to record, and the facts
//! about the state before it that a judgment needs and nobody counted yet.
//!
//! The same rules as SQLite's row counter (`migrate-sqlite/src/row_counts.rs`), on oids:
//! - a table whose oid is gone is **gone**, unless a table of the same qualified name exists
//!   afterwards (dropped and recreated: the rebuild pattern), which is then judged by its rows
//!   and by the columns it kept (by name); a renamed table keeps its oid and loses nothing;
//! - a column whose `attnum` is gone from a table that is still there is **dropped** (a renamed
//!   or retyped column keeps its attnum); it loses data when it held a non-NULL value;
//! - a table **lost rows** when it ends with fewer than it started with. Only a table whose
//!   delete counter moved, or whose storage was replaced (a `TRUNCATE`, perhaps inside a
//!   function: a rewrite keeps every row, a `TRUNCATE` leaves only the rows inserted after it),
//!   can: the others are never counted before.

use super::observe::{Counters, Observation, Oid, Seen, Since};
use migrate_core::RowCount;
use std::collections::{BTreeMap, BTreeSet};

/// What the guard knows of one user table, as the last completed migration left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Known {
    pub schema: String,
    pub name: String,
    pub filenode: u32,
    /// `(attnum, name)` of its columns.
    pub columns: Vec<(i16, String)>,
    /// Its exact rows, when counted since (lazily: a table nobody touched is never counted).
    pub rows: Option<u64>,
}

impl Known {
    fn from_seen(seen: &Seen) -> Known {
        Known {
            schema: seen.schema.clone(),
            name: seen.name.clone(),
            filenode: seen.filenode,
            columns: seen.columns.clone().unwrap_or_default(),
            rows: None,
        }
    }

    /// `schema.name`.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// Every user table, by oid.
pub(crate) type Tables = BTreeMap<Oid, Known>;

/// Every table of a full read, nothing counted.
pub(crate) fn tables_of(observation: &Observation) -> Tables {
    observation
        .tables
        .iter()
        .map(|seen| (seen.oid, Known::from_seen(seen)))
        .collect()
}

/// Facts about the state before the migration, learned by rolling it back.
#[derive(Clone, Debug, Default)]
pub(crate) struct Facts {
    /// Exact rows before.
    pub rows: BTreeMap<Oid, u64>,
    /// Whether a column (by name) held a non-NULL value before.
    pub filled: BTreeMap<(Oid, String), bool>,
    /// Without row counts: every table before the migration.
    pub tables_before: Option<Tables>,
}

/// A column whose values the judgment needs to know about: did it hold any before?
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Probe {
    pub oid: Oid,
    pub schema: String,
    pub table: String,
    pub column: String,
}

/// Facts the judgment lacks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Needs {
    /// Tables to count as they were before the migration.
    pub before: BTreeSet<Oid>,
    /// Columns to probe as they were before the migration.
    pub probes: BTreeSet<Probe>,
    /// Tables to count now (storage replaced, no row counter moved).
    pub after: BTreeSet<Oid>,
    /// Without row counts: every table as it was before the migration (a relation was
    /// dropped).
    pub tables_before: bool,
}

#[cfg(test)]
impl Needs {
    pub fn is_empty(&self) -> bool {
        self.before.is_empty()
            && self.probes.is_empty()
            && self.after.is_empty()
            && !self.tables_before
    }
}

/// A loss of rows or values a judgment found, and the table it happened to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Lost {
    pub schema: String,
    pub table: String,
    /// The column, for a column whose values are gone.
    pub column: Option<String>,
}

/// The tables a migration changed: their new state, `None` for a table gone. Applied to the
/// guard's [`Tables`] when its savepoint is released (the others are not copied: a migration
/// costs what it touched, not what the database holds).
pub(crate) type Changes = BTreeMap<Oid, Option<Known>>;

/// What one migration did.
#[derive(Clone, Debug, Default)]
pub(crate) struct Comparison {
    /// The tables it changed, as they are now.
    pub changes: Changes,
    /// Rows before and after of each table it touched (for its history row).
    pub counts: Vec<RowCount>,
    /// Tables that were there and are gone.
    pub gone: Vec<Lost>,
    /// Columns whose values are gone.
    pub emptied: Vec<Lost>,
    /// Tables that lost rows, with their counts.
    pub shrunk: Vec<(Lost, RowCount)>,
    /// What a judgment would need and nobody knows.
    pub needs: Needs,
}

/// How a migration is compared.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rules {
    /// Its statements name TRUNCATE: a table whose storage changed may have been emptied
    /// (otherwise it was rewritten, keeping its rows: ALTER COLUMN TYPE, SET LOGGED, ...).
    pub truncate_seen: bool,
}

/// Compares `before` with what `observed` saw after the migration.
pub(crate) fn compare(
    before: &Tables,
    since: &Since,
    observed: &Observation,
    facts: &Facts,
    rules: Rules,
) -> Comparison {
    let mut out = Comparison::default();
    let seen: BTreeMap<Oid, &Seen> = observed.tables.iter().map(|s| (s.oid, s)).collect();
    let dropped: Vec<Oid> = match &observed.all_oids {
        Some(all) => {
            let present: BTreeSet<Oid> = all.iter().copied().collect();
            before
                .keys()
                .filter(|oid| !present.contains(oid))
                .copied()
                .collect()
        }
        None => Vec::new(),
    };
    for (&oid, seen) in &seen {
        let delta = delta(since.counters.get(&oid).copied(), seen.counters);
        let entry = match before.get(&oid) {
            Some(known) => {
                let mut now = known.clone();
                now.schema = seen.schema.clone();
                now.name = seen.name.clone();
                now.filenode = seen.filenode;
                if let Some(columns) = &seen.columns {
                    now.columns = columns.clone();
                }
                now.rows = match seen.rows {
                    Some(rows) => Some(rows),
                    // Only updates (or a rewrite, which keeps every row): the count cannot have
                    // moved.
                    None if delta.ins == 0 && delta.del == 0 && known.filenode == seen.filenode => {
                        known.rows
                    }
                    None => None,
                };
                now
            }
            None => {
                let mut now = Known::from_seen(seen);
                // Created by this migration: empty unless something was inserted.
                now.rows = seen.rows.or((delta.ins == 0).then_some(0));
                now
            }
        };
        out.changes.insert(oid, Some(entry));
    }
    for oid in &dropped {
        out.changes.insert(*oid, None);
    }
    // Names now, only when a table went (a table recreated under its name is then found).
    let names_after: BTreeMap<String, Oid> = match dropped.is_empty() {
        true => BTreeMap::new(),
        false => before
            .iter()
            .filter(|(oid, _)| !out.changes.contains_key(oid))
            .map(|(oid, t)| (t.qualified(), *oid))
            .chain(
                out.changes
                    .iter()
                    .filter_map(|(oid, t)| t.as_ref().map(|t| (t.qualified(), *oid))),
            )
            .collect(),
    };
    let dropped_names: BTreeSet<String> = dropped.iter().map(|o| before[o].qualified()).collect();

    let changed_before: Vec<Oid> = out
        .changes
        .keys()
        .filter(|oid| before.contains_key(oid))
        .copied()
        .collect();
    for oid in &changed_before {
        let was = &before[oid];
        let before_rows = was.rows.or_else(|| facts.rows.get(oid).copied());
        match out.changes[oid].clone() {
            None => match names_after.get(&was.qualified()) {
                // Dropped and recreated under its name: judged as the table it replaced.
                Some(new_oid) => {
                    let Some(now) = out.changes.get(new_oid).cloned().flatten() else {
                        continue;
                    };
                    let after = now.rows;
                    judge_rows(&mut out, *oid, was, (before_rows, None), after, *new_oid);
                    for (_, column) in &was.columns {
                        if !now.columns.iter().any(|(_, c)| c == column) {
                            judge_column(&mut out, *oid, was, before_rows, column, facts);
                        }
                    }
                }
                None => {
                    out.gone.push(lost(was, None));
                    out.counts.push(RowCount {
                        table: was.qualified(),
                        before: before_rows,
                        after: None,
                    });
                }
            },
            Some(now) => {
                for (attnum, column) in &was.columns {
                    if !now.columns.iter().any(|(n, _)| n == attnum) {
                        judge_column(&mut out, *oid, was, before_rows, column, facts);
                    }
                }
                let Some(seen) = seen.get(oid) else {
                    continue;
                };
                let delta = delta(since.counters.get(oid).copied(), seen.counters);
                let replaced = now.filenode != was.filenode;
                let may_lose = delta.del > 0 || (replaced && rules.truncate_seen);
                if may_lose {
                    // Unknown before: the count less what it inserted plus what it deleted
                    // (exact unless it rolled back work of its own): for the record only.
                    let derived = match (replaced, now.rows) {
                        (false, Some(after)) => {
                            Some((after as i64 - delta.ins + delta.del).max(0) as u64)
                        }
                        _ => None,
                    };
                    judge_rows(&mut out, *oid, was, (before_rows, derived), now.rows, *oid);
                } else if replaced {
                    // Storage replaced, no TRUNCATE in the migration's text: a rewrite (every
                    // row kept) or a TRUNCATE inside a function it called (only the rows
                    // inserted after it left). Counted now: rows beyond what it inserted
                    // survived, so no TRUNCATE; none beyond, judged against the rows before.
                    match now.rows {
                        None => {
                            out.needs.after.insert(*oid);
                        }
                        Some(after) if after as i64 - delta.ins + delta.del <= 0 => {
                            judge_rows(&mut out, *oid, was, (before_rows, None), Some(after), *oid)
                        }
                        Some(_) => {}
                    }
                } else if let Some(after) = seen.rows {
                    // Counted (rows inserted), nothing deleted: no loss. The count before, for
                    // the record: known, or the count less what it inserted.
                    let derived = before_rows.or_else(|| {
                        (!replaced).then(|| (after as i64 - delta.ins + delta.del).max(0) as u64)
                    });
                    out.counts.push(RowCount {
                        table: now.qualified(),
                        before: derived,
                        after: Some(after),
                    });
                }
            }
        }
    }
    for (oid, now) in &out.changes {
        let Some(now) = now else { continue };
        if !before.contains_key(oid) && !dropped_names.contains(&now.qualified()) {
            out.counts.push(RowCount {
                table: now.qualified(),
                before: None,
                after: now.rows,
            });
        }
    }
    out
}

/// Counters moved since the previous read (a table not read before had none).
fn delta(previous: Option<Counters>, now: Counters) -> Counters {
    let previous = previous.unwrap_or_default();
    Counters {
        ins: now.ins - previous.ins,
        upd: now.upd - previous.upd,
        del: now.del - previous.del,
    }
}

fn lost(table: &Known, column: Option<&str>) -> Lost {
    Lost {
        schema: table.schema.clone(),
        table: table.name.clone(),
        column: column.map(str::to_owned),
    }
}

/// Rows of `was` (oid `oid`) before against `after` (of `counted`, the table now under its
/// name), or the counts that are missing for it. `before` is the exact count, if known, and
/// an estimate to record when it is not.
fn judge_rows(
    out: &mut Comparison,
    oid: Oid,
    was: &Known,
    before: (Option<u64>, Option<u64>),
    after: Option<u64>,
    counted: Oid,
) {
    let (before, derived) = before;
    let Some(before) = before else {
        out.needs.before.insert(oid);
        match after {
            None => {
                out.needs.after.insert(counted);
            }
            Some(after) => out.counts.push(RowCount {
                table: was.qualified(),
                before: derived,
                after: Some(after),
            }),
        }
        return;
    };
    let Some(after) = after else {
        out.needs.after.insert(counted);
        return;
    };
    let count = RowCount {
        table: was.qualified(),
        before: Some(before),
        after: Some(after),
    };
    if after < before {
        out.shrunk.push((lost(was, None), count.clone()));
    }
    out.counts.push(count);
}

/// A column of `was` that is gone: a loss when it held a value.
fn judge_column(
    out: &mut Comparison,
    oid: Oid,
    was: &Known,
    before_rows: Option<u64>,
    column: &str,
    facts: &Facts,
) {
    if before_rows == Some(0) {
        return;
    }
    match facts.filled.get(&(oid, column.to_owned())) {
        Some(false) => {}
        Some(true) => out.emptied.push(lost(was, Some(column))),
        None => {
            out.needs.probes.insert(Probe {
                oid,
                schema: was.schema.clone(),
                table: was.name.clone(),
                column: column.to_owned(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(name: &str, filenode: u32, columns: &[&str], rows: Option<u64>) -> Known {
        Known {
            schema: "public".into(),
            name: name.into(),
            filenode,
            columns: columns
                .iter()
                .enumerate()
                .map(|(i, c)| (i as i16 + 1, (*c).to_owned()))
                .collect(),
            rows,
        }
    }

    fn seen(oid: Oid, name: &str, filenode: u32, c: Counters, rows: Option<u64>) -> Seen {
        Seen {
            oid,
            schema: "public".into(),
            name: name.into(),
            filenode,
            counters: c,
            columns: None,
            rows,
        }
    }

    const TRUNCATE: Rules = Rules {
        truncate_seen: true,
    };
    const NO_TRUNCATE: Rules = Rules {
        truncate_seen: false,
    };

    #[test]
    fn a_delete_from_a_counted_table_is_a_loss() {
        let before = Tables::from([(1, known("a", 10, &["x"], Some(5)))]);
        let observed = Observation {
            tables: vec![seen(
                1,
                "a",
                10,
                Counters {
                    del: 2,
                    ..Counters::default()
                },
                Some(3),
            )],
            ..Observation::default()
        };
        let c = compare(
            &before,
            &Since::default(),
            &observed,
            &Facts::default(),
            NO_TRUNCATE,
        );
        assert_eq!(c.shrunk.len(), 1);
        assert_eq!(c.shrunk[0].1.lost(), Some(2));
        assert_eq!(c.changes[&1].as_ref().map(|t| t.rows), Some(Some(3)));
    }

    #[test]
    fn a_delete_from_an_uncounted_table_needs_its_count_before() {
        let before = Tables::from([(1, known("a", 10, &["x"], None))]);
        let observed = Observation {
            tables: vec![seen(
                1,
                "a",
                10,
                Counters {
                    ins: 1,
                    del: 1,
                    ..Counters::default()
                },
                Some(5),
            )],
            ..Observation::default()
        };
        let c = compare(
            &before,
            &Since::default(),
            &observed,
            &Facts::default(),
            NO_TRUNCATE,
        );
        assert_eq!(c.needs.before, BTreeSet::from([1]));
        let facts = Facts {
            rows: BTreeMap::from([(1, 5)]),
            ..Facts::default()
        };
        let c = compare(&before, &Since::default(), &observed, &facts, NO_TRUNCATE);
        assert!(c.needs.is_empty() && c.shrunk.is_empty(), "{c:?}");
    }

    #[test]
    fn inserts_and_updates_alone_need_nothing_counted_before() {
        let before = Tables::from([(1, known("a", 10, &["x"], None))]);
        let observed = Observation {
            tables: vec![seen(
                1,
                "a",
                10,
                Counters {
                    ins: 2,
                    upd: 7,
                    del: 0,
                },
                Some(9),
            )],
            ..Observation::default()
        };
        let c = compare(
            &before,
            &Since::default(),
            &observed,
            &Facts::default(),
            NO_TRUNCATE,
        );
        assert!(c.needs.is_empty() && c.shrunk.is_empty(), "{c:?}");
        assert_eq!(
            c.counts,
            [RowCount {
                table: "public.a".into(),
                before: Some(7),
                after: Some(9)
            }]
        );
    }

    #[test]
    fn a_dropped_table_is_gone_and_a_rebuilt_one_is_judged_by_its_rows() {
        let before = Tables::from([
            (1, known("a", 10, &["x"], Some(2))),
            (2, known("b", 20, &["y"], Some(3))),
        ]);
        let mut rebuilt = seen(
            3,
            "b",
            30,
            Counters {
                ins: 3,
                ..Counters::default()
            },
            Some(3),
        );
        rebuilt.columns = Some(vec![(1, "y".into())]);
        let observed = Observation {
            all_oids: Some(vec![3]),
            tables: vec![rebuilt],
            ..Observation::default()
        };
        let c = compare(
            &before,
            &Since::default(),
            &observed,
            &Facts::default(),
            NO_TRUNCATE,
        );
        assert_eq!(c.gone.len(), 1);
        assert_eq!(c.gone[0].table, "a");
        assert!(c.shrunk.is_empty() && c.emptied.is_empty(), "{c:?}");
    }

    #[test]
    fn a_dropped_column_that_held_values_is_a_loss() {
        let before = Tables::from([(1, known("a", 10, &["x", "y"], None))]);
        let mut after = seen(1, "a", 10, Counters::default(), None);
        after.columns = Some(vec![(1, "x".into())]);
        let observed = Observation {
            tables: vec![after],
            ..Observation::default()
        };
        let c = compare(
            &before,
            &Since::default(),
            &observed,
            &Facts::default(),
            NO_TRUNCATE,
        );
        assert_eq!(c.needs.probes.len(), 1);
        let facts = Facts {
            filled: BTreeMap::from([((1, "y".to_owned()), true)]),
            ..Facts::default()
        };
        let c = compare(&before, &Since::default(), &observed, &facts, NO_TRUNCATE);
        assert_eq!(c.emptied[0].column.as_deref(), Some("y"));
    }

    #[test]
    fn replaced_storage_is_counted_after_and_a_loss_when_emptied() {
        let before = Tables::from([(1, known("a", 10, &["x"], Some(4)))]);
        let observed = Observation {
            tables: vec![seen(1, "a", 11, Counters::default(), None)],
            ..Observation::default()
        };
        let rewrite = compare(
            &before,
            &Since::default(),
            &observed,
            &Facts::default(),
            NO_TRUNCATE,
        );
        // Counted after (a TRUNCATE inside a function leaves no word): rows there, kept.
        assert_eq!(rewrite.needs.after, BTreeSet::from([1]));
        let mut counted = observed.clone();
        counted.tables[0].rows = Some(4);
        let kept = compare(
            &before,
            &Since::default(),
            &counted,
            &Facts::default(),
            NO_TRUNCATE,
        );
        assert!(kept.needs.is_empty() && kept.shrunk.is_empty(), "{kept:?}");
        counted.tables[0].rows = Some(0);
        let emptied = compare(
            &before,
            &Since::default(),
            &counted,
            &Facts::default(),
            NO_TRUNCATE,
        );
        assert_eq!(emptied.shrunk.len(), 1, "{emptied:?}");
        let truncate = compare(
            &before,
            &Since::default(),
            &observed,
            &Facts::default(),
            TRUNCATE,
        );
        assert_eq!(truncate.needs.after, BTreeSet::from([1]));
    }
}
