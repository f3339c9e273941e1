//! The diff between the migrations a binary knows and the rows a database recorded.

use crate::{Blocker, Checksum, Error, Migration, Registry};
use std::collections::BTreeMap;
use std::fmt;

/// How a tracking row says a migration ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RowState {
    /// Applied and committed.
    Applied,
    /// A non-transactional migration that was started and never finished (dirty).
    Started,
}

/// A tracking row as a backend read it from its database.
///
/// ```
/// use migrate_core::{AppliedRow, RowState};
/// let row = AppliedRow::applied(1, "create_users", "v1:0000000000000001");
/// assert_eq!(row.state, RowState::Applied);
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AppliedRow {
    /// The migration's seq.
    pub seq: u64,
    /// The name recorded when it ran.
    pub name: String,
    /// The checksum recorded when it ran, as stored.
    pub checksum: String,
    /// Finished or only started.
    pub state: RowState,
}

impl AppliedRow {
    /// A finished row.
    ///
    /// ```
    /// let _ = migrate_core::AppliedRow::applied(2, "b", "v1:00000000000000ff");
    /// ```
    pub fn applied(seq: u64, name: impl Into<String>, checksum: impl Into<String>) -> Self {
        AppliedRow {
            seq,
            name: name.into(),
            checksum: checksum.into(),
            state: RowState::Applied,
        }
    }

    /// A started-but-unfinished row.
    ///
    /// ```
    /// let row = migrate_core::AppliedRow::started(3, "vacuum", "v1:00000000000000ff");
    /// assert_eq!(row.state, migrate_core::RowState::Started);
    /// ```
    pub fn started(seq: u64, name: impl Into<String>, checksum: impl Into<String>) -> Self {
        AppliedRow {
            state: RowState::Started,
            ..AppliedRow::applied(seq, name, checksum)
        }
    }
}

/// Where one migration stands.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Status {
    /// Recorded with the same checksum.
    Applied,
    /// Not recorded; after the last applied migration.
    Pending,
    /// Not recorded, but a later migration is (merged late from another branch).
    OutOfOrder,
    /// Recorded, but this binary does not have it (the database is newer, or it was deleted).
    Missing,
    /// Recorded with another checksum: its code changed after it ran.
    Modified {
        /// The checksum the database holds.
        recorded: String,
    },
    /// Recorded under another name with the same checksum.
    Renamed {
        /// The name the database holds.
        recorded: String,
    },
    /// A non-transactional migration that started and never finished.
    Started,
}

impl Status {
    /// True for the states in which the database has the migration's effect.
    ///
    /// ```
    /// assert!(migrate_core::Status::Applied.is_recorded());
    /// assert!(!migrate_core::Status::Pending.is_recorded());
    /// ```
    pub fn is_recorded(&self) -> bool {
        !matches!(self, Status::Pending | Status::OutOfOrder)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Applied => "applied",
            Status::Pending => "pending",
            Status::OutOfOrder => "out of order",
            Status::Missing => "missing from binary",
            Status::Modified { .. } => "modified",
            Status::Renamed { .. } => "renamed",
            Status::Started => "started, not finished",
        })
    }
}

/// One line of a plan.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PlanEntry {
    /// The seq.
    pub seq: u64,
    /// The binary's name for it, or the recorded one for a missing migration.
    pub name: String,
    /// Where it stands.
    pub status: Status,
    /// Whether the binary can revert it (false when missing from the binary).
    pub reversible: bool,
    /// The binary's checksum (None when missing from the binary).
    pub checksum: Option<Checksum>,
}

impl PlanEntry {
    fn label(&self) -> (u64, String) {
        (self.seq, self.name.clone())
    }
}

/// What an operation may override; everything is refused by default.
///
/// ```
/// let policy = migrate_core::Policy::default().accept_checksum(3);
/// assert_eq!(policy.accepted_checksums, [3]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Run although the database has migrations this binary lacks (rolling deploys).
    pub allow_database_ahead: bool,
    /// Apply pending migrations whose seq is below the last applied one.
    pub allow_out_of_order: bool,
    /// Seqs whose changed checksum is accepted (the backend records the acceptance).
    pub accepted_checksums: Vec<u64>,
}

impl Policy {
    /// Copy that allows a database newer than the binary.
    ///
    /// ```
    /// assert!(migrate_core::Policy::default().allow_database_ahead().allow_database_ahead);
    /// ```
    pub fn allow_database_ahead(mut self) -> Self {
        self.allow_database_ahead = true;
        self
    }

    /// Copy that applies out-of-order migrations.
    ///
    /// ```
    /// assert!(migrate_core::Policy::default().allow_out_of_order().allow_out_of_order);
    /// ```
    pub fn allow_out_of_order(mut self) -> Self {
        self.allow_out_of_order = true;
        self
    }

    /// Copy that accepts the current checksum of `seq`.
    ///
    /// ```
    /// assert_eq!(migrate_core::Policy::default().accept_checksum(7).accepted_checksums, [7]);
    /// ```
    pub fn accept_checksum(mut self, seq: u64) -> Self {
        self.accepted_checksums.push(seq);
        self
    }
}

/// How far to go down.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DownTarget {
    /// Revert the last N applied migrations.
    Steps(usize),
    /// Revert every applied migration above this seq (0 reverts all).
    To(u64),
}

/// The state of every migration of one set, known or recorded, by ascending seq.
///
/// ```
/// use migrate_core::*;
/// let registry = Registry::new(
///     "default",
///     vec![Migration::new(1, "a", ()), Migration::new(2, "b", ())],
///     Validation::strict(),
/// ).unwrap();
/// let recorded = [AppliedRow::applied(1, "a", Checksum::of_text("a").to_string())];
/// let plan = Plan::new(&registry, &recorded);
/// assert_eq!(plan.entries()[0].status, Status::Applied);
/// assert_eq!(plan.entries()[1].status, Status::Pending);
/// assert_eq!(plan.to_apply(None, &Policy::default()).unwrap(), [2]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    set: String,
    entries: Vec<PlanEntry>,
}

impl Plan {
    /// Diffs the registry against the rows recorded for its set.
    pub fn new<S>(registry: &Registry<S>, recorded: &[AppliedRow]) -> Plan {
        let rows: BTreeMap<u64, &AppliedRow> = recorded.iter().map(|r| (r.seq, r)).collect();
        let last_recorded = rows.keys().next_back().copied();
        let mut entries: Vec<PlanEntry> = registry
            .migrations()
            .iter()
            .map(|m| known_entry(m, rows.get(&m.seq).copied(), last_recorded))
            .collect();
        // One entry per seq, from the same row the known entries use, even if a table without
        // a primary key on seq handed us a seq twice.
        for row in rows.values() {
            if registry.get(row.seq).is_none() {
                entries.push(PlanEntry {
                    seq: row.seq,
                    name: row.name.clone(),
                    status: if row.state == RowState::Started {
                        Status::Started
                    } else {
                        Status::Missing
                    },
                    reversible: false,
                    checksum: None,
                });
            }
        }
        entries.sort_by_key(|e| e.seq);
        Plan {
            set: registry.set().to_owned(),
            entries,
        }
    }

    /// The set.
    ///
    /// ```
    /// # use migrate_core::*;
    /// # let r = Registry::new("default", vec![Migration::new(1, "a", ())], Validation::strict()).unwrap();
    /// assert_eq!(Plan::new(&r, &[]).set(), "default");
    /// ```
    pub fn set(&self) -> &str {
        &self.set
    }

    /// Every migration, by ascending seq.
    ///
    /// ```
    /// # use migrate_core::*;
    /// # let r = Registry::new("default", vec![Migration::new(1, "a", ())], Validation::strict()).unwrap();
    /// assert_eq!(Plan::new(&r, &[]).entries().len(), 1);
    /// ```
    pub fn entries(&self) -> &[PlanEntry] {
        &self.entries
    }

    /// The entry of `seq`.
    ///
    /// ```
    /// # use migrate_core::*;
    /// # let r = Registry::new("default", vec![Migration::new(1, "a", ())], Validation::strict()).unwrap();
    /// assert_eq!(Plan::new(&r, &[]).entry(1).unwrap().status, Status::Pending);
    /// ```
    pub fn entry(&self, seq: u64) -> Option<&PlanEntry> {
        self.entries
            .binary_search_by_key(&seq, |e| e.seq)
            .ok()
            .map(|i| &self.entries[i])
    }

    /// The entries in a given state.
    ///
    /// ```
    /// # use migrate_core::*;
    /// # let r = Registry::new("default", vec![Migration::new(1, "a", ())], Validation::strict()).unwrap();
    /// let plan = Plan::new(&r, &[]);
    /// assert_eq!(plan.with_status(|s| *s == Status::Pending).count(), 1);
    /// ```
    pub fn with_status<'a>(
        &'a self,
        mut keep: impl FnMut(&Status) -> bool + 'a,
    ) -> impl Iterator<Item = &'a PlanEntry> + 'a {
        self.entries.iter().filter(move |e| keep(&e.status))
    }

    /// True when nothing is pending and nothing is wrong.
    ///
    /// ```
    /// # use migrate_core::*;
    /// # let r = Registry::new("default", vec![Migration::new(1, "a", ())], Validation::strict()).unwrap();
    /// assert!(!Plan::new(&r, &[]).is_up_to_date());
    /// ```
    pub fn is_up_to_date(&self) -> bool {
        self.entries.iter().all(|e| e.status == Status::Applied)
    }

    /// The highest recorded seq (applied or started), if any.
    ///
    /// ```
    /// # use migrate_core::*;
    /// # let r = Registry::new("default", vec![Migration::new(1, "a", ())], Validation::strict()).unwrap();
    /// assert_eq!(Plan::new(&r, &[]).current(), None);
    /// ```
    pub fn current(&self) -> Option<u64> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.status.is_recorded())
            .map(|e| e.seq)
    }

    /// Everything that stops this plan from running under `policy`, worst first.
    ///
    /// ```
    /// # use migrate_core::*;
    /// # let r = Registry::new("default", vec![Migration::new(1, "a", ())], Validation::strict()).unwrap();
    /// let recorded = [AppliedRow::applied(1, "a", "v1:0000000000000000")];
    /// let plan = Plan::new(&r, &recorded);
    /// assert!(matches!(plan.blockers(&Policy::default())[..], [Blocker::Modified { seq: 1, .. }]));
    /// assert!(plan.blockers(&Policy::default().accept_checksum(1)).is_empty());
    /// ```
    pub fn blockers(&self, policy: &Policy) -> Vec<Blocker> {
        let mut blockers = Vec::new();
        let latest_applied = self.current().unwrap_or(0);
        for e in &self.entries {
            let (seq, name) = e.label();
            match &e.status {
                Status::Started => blockers.push(Blocker::Started { seq, name }),
                Status::Missing if !policy.allow_database_ahead => {
                    blockers.push(Blocker::DatabaseAhead { seq, name })
                }
                Status::Modified { recorded } if !policy.accepted_checksums.contains(&seq) => {
                    blockers.push(Blocker::Modified {
                        seq,
                        name,
                        recorded: recorded.clone(),
                        current: e.checksum.map(|c| c.to_string()).unwrap_or_default(),
                    })
                }
                Status::OutOfOrder if !policy.allow_out_of_order => {
                    blockers.push(Blocker::OutOfOrder {
                        seq,
                        name,
                        latest_applied,
                    })
                }
                _ => {}
            }
        }
        blockers.sort_by_key(Blocker::severity);
        blockers
    }

    /// Refuses when [`blockers`](Self::blockers) finds anything.
    ///
    /// ```
    /// # use migrate_core::*;
    /// # let r = Registry::new("default", vec![Migration::new(1, "a", ())], Validation::strict()).unwrap();
    /// assert!(Plan::new(&r, &[]).check(&Policy::default()).is_ok());
    /// ```
    pub fn check(&self, policy: &Policy) -> Result<(), Error> {
        let blockers = self.blockers(policy);
        if blockers.is_empty() {
            Ok(())
        } else {
            Err(Error::Blocked {
                set: self.set.clone(),
                blockers,
            })
        }
    }

    /// Seqs to apply, ascending, up to and including `target` (all when `None`), after
    /// [`check`](Self::check). Out-of-order migrations are included when the policy allows them.
    ///
    /// ```
    /// # use migrate_core::*;
    /// # let r = Registry::new("default", vec![Migration::new(1, "a", ()), Migration::new(2, "b", ())], Validation::strict()).unwrap();
    /// assert_eq!(Plan::new(&r, &[]).to_apply(Some(1), &Policy::default()).unwrap(), [1]);
    /// assert!(Plan::new(&r, &[]).to_apply(Some(9), &Policy::default()).is_err());
    /// ```
    pub fn to_apply(&self, target: Option<u64>, policy: &Policy) -> Result<Vec<u64>, Error> {
        self.check(policy)?;
        if let Some(target) = target {
            self.require_known(target)?;
        }
        Ok(self
            .entries
            .iter()
            .filter(|e| matches!(e.status, Status::Pending | Status::OutOfOrder))
            .filter(|e| target.is_none_or(|t| e.seq <= t))
            .map(|e| e.seq)
            .collect())
    }

    /// Seqs to revert, descending, after [`check`](Self::check). Refuses, naming it, when a
    /// migration in the way is irreversible or missing from the binary, before anything runs.
    ///
    /// ```
    /// # use migrate_core::*;
    /// let r = Registry::new("default", vec![
    ///     Migration::new(1, "a", ()).with_down(()),
    ///     Migration::new(2, "b", ()).with_down(()),
    /// ], Validation::strict()).unwrap();
    /// let rows = [
    ///     AppliedRow::applied(1, "a", Checksum::of_text("a").to_string()),
    ///     AppliedRow::applied(2, "b", Checksum::of_text("b").to_string()),
    /// ];
    /// let plan = Plan::new(&r, &rows);
    /// assert_eq!(plan.to_revert(DownTarget::Steps(1), &Policy::default()).unwrap(), [2]);
    /// assert_eq!(plan.to_revert(DownTarget::To(0), &Policy::default()).unwrap(), [2, 1]);
    /// ```
    pub fn to_revert(&self, target: DownTarget, policy: &Policy) -> Result<Vec<u64>, Error> {
        // A pending migration, even out of order, is not in the way of a revert.
        self.check(&Policy {
            allow_out_of_order: true,
            ..policy.clone()
        })?;
        let recorded = self.entries.iter().rev().filter(|e| e.status.is_recorded());
        let chosen: Vec<&PlanEntry> = match target {
            DownTarget::Steps(n) => recorded.take(n).collect(),
            DownTarget::To(seq) => {
                if seq != 0 {
                    self.require_known(seq)?;
                }
                recorded.take_while(|e| e.seq > seq).collect()
            }
        };
        if let Some(stuck) = chosen.iter().find(|e| !e.reversible) {
            return Err(Error::Irreversible {
                seq: stuck.seq,
                name: stuck.name.clone(),
                missing_from_binary: stuck.status == Status::Missing,
            });
        }
        Ok(chosen.iter().map(|e| e.seq).collect())
    }

    fn require_known(&self, seq: u64) -> Result<(), Error> {
        match self.entry(seq) {
            Some(_) => Ok(()),
            None => Err(Error::UnknownTarget {
                set: self.set.clone(),
                seq,
                known: self.entries.iter().map(|e| e.seq).collect(),
            }),
        }
    }
}

fn known_entry<S>(
    m: &Migration<S>,
    row: Option<&AppliedRow>,
    last_recorded: Option<u64>,
) -> PlanEntry {
    let status = match row {
        None if last_recorded.is_some_and(|last| last > m.seq) => Status::OutOfOrder,
        None => Status::Pending,
        Some(row) if row.state == RowState::Started => Status::Started,
        Some(row) if row.checksum != m.checksum.to_string() => Status::Modified {
            recorded: row.checksum.clone(),
        },
        Some(row) if row.name != m.name => Status::Renamed {
            recorded: row.name.clone(),
        },
        Some(_) => Status::Applied,
    };
    PlanEntry {
        seq: m.seq,
        name: m.name.clone(),
        status,
        reversible: m.is_reversible(),
        checksum: Some(m.checksum),
    }
}
