//! The plan: registered migrations diffed against tracking rows, and what it lets run.
//!
//! Property tests generate a random history (which seqs the binary knows, which are reversible,
//! what the tracking table holds for each seq) and check the plan against a model of it.

use migrate_core::{
    AppliedRow, Blocker, Checksum, DEFAULT_SET, DownTarget, Error, Migration, Plan, PlanEntry,
    Policy, Registry, Status, Validation,
};
use proptest::prelude::*;
use std::collections::BTreeSet;

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

/// Whether the binary knows a seq, and if so whether it can revert it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Known {
    No,
    Reversible,
    Irreversible,
}

/// What the tracking table holds for a seq.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Row {
    Absent,
    /// Applied, same name and checksum as the binary's (or any row for an unknown seq).
    Same,
    /// Applied with another checksum.
    OtherChecksum,
    /// Applied under another name, same checksum.
    OtherName,
    /// Started, never finished.
    Started,
}

#[derive(Clone, Debug)]
struct Slot {
    seq: u64,
    known: Known,
    row: Row,
}

fn name(seq: u64) -> String {
    format!("m{seq}")
}

fn code(seq: u64) -> Checksum {
    Checksum::of_text(&format!("code of {seq}"))
}

fn edited() -> Checksum {
    Checksum::of_text("edited by hand")
}

impl Slot {
    fn is_known(&self) -> bool {
        self.known != Known::No
    }

    fn is_recorded(&self) -> bool {
        self.row != Row::Absent
    }

    fn migration(&self) -> Option<Migration<()>> {
        let m = Migration::new(self.seq, name(self.seq), ()).with_checksum(code(self.seq));
        match self.known {
            Known::No => None,
            Known::Reversible => Some(m.with_down(())),
            Known::Irreversible => Some(m),
        }
    }

    fn row(&self) -> Option<AppliedRow> {
        let seq = self.seq;
        let recorded_name = if self.is_known() {
            name(seq)
        } else {
            format!("gone_{seq}")
        };
        let code = code(seq).to_string();
        match self.row {
            Row::Absent => None,
            Row::Same => Some(AppliedRow::applied(seq, recorded_name, code)),
            Row::OtherChecksum => Some(AppliedRow::applied(
                seq,
                recorded_name,
                edited().to_string(),
            )),
            Row::OtherName if self.is_known() => {
                Some(AppliedRow::applied(seq, format!("old_{seq}"), code))
            }
            Row::OtherName => Some(AppliedRow::applied(seq, recorded_name, code)),
            Row::Started => Some(AppliedRow::started(seq, recorded_name, code)),
        }
    }
}

#[derive(Clone, Debug)]
struct Scenario {
    slots: Vec<Slot>,
    /// The rows of `slots`, in the random order a backend might read them.
    rows: Vec<AppliedRow>,
}

impl Scenario {
    fn registry(&self) -> Registry<()> {
        Registry::new(
            DEFAULT_SET,
            self.slots.iter().filter_map(Slot::migration),
            Validation::strict().allow_gaps(),
        )
        .expect("the generated registry is valid")
    }

    fn plan(&self) -> Plan {
        Plan::new(&self.registry(), &self.rows)
    }

    fn slot(&self, seq: u64) -> Option<&Slot> {
        self.slots.iter().find(|s| s.seq == seq)
    }

    /// Seqs that are registered or recorded, ascending.
    fn seqs(&self) -> Vec<u64> {
        self.slots
            .iter()
            .filter(|s| s.is_known() || s.is_recorded())
            .map(|s| s.seq)
            .collect()
    }

    fn last_recorded(&self) -> Option<u64> {
        self.slots
            .iter()
            .filter(|s| s.is_recorded())
            .map(|s| s.seq)
            .max()
    }

    fn has_started(&self) -> bool {
        self.slots.iter().any(|s| s.row == Row::Started)
    }

    /// The status the plan must give the slot's seq.
    fn expected_status(&self, slot: &Slot) -> Option<Status> {
        Some(match (slot.is_known(), slot.row) {
            (false, Row::Absent) => return None,
            (false, Row::Started) | (true, Row::Started) => Status::Started,
            (false, _) => Status::Missing,
            (true, Row::Absent) if self.last_recorded().is_some_and(|l| l > slot.seq) => {
                Status::OutOfOrder
            }
            (true, Row::Absent) => Status::Pending,
            (true, Row::Same) => Status::Applied,
            (true, Row::OtherChecksum) => Status::Modified {
                recorded: edited().to_string(),
            },
            (true, Row::OtherName) => Status::Renamed {
                recorded: format!("old_{}", slot.seq),
            },
        })
    }
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let known = prop_oneof![
        1 => Just(Known::No),
        3 => Just(Known::Reversible),
        1 => Just(Known::Irreversible),
    ];
    let row = prop_oneof![
        4 => Just(Row::Absent),
        6 => Just(Row::Same),
        1 => Just(Row::OtherChecksum),
        1 => Just(Row::OtherName),
        1 => Just(Row::Started),
    ];
    prop::collection::vec((known, row), 1..16)
        .prop_map(|cells| {
            cells
                .into_iter()
                .zip(1u64..)
                .map(|((known, row), seq)| Slot { seq, known, row })
                .collect::<Vec<_>>()
        })
        .prop_filter("a registry has at least one migration", |slots| {
            slots.iter().any(Slot::is_known)
        })
        .prop_flat_map(|slots| {
            let rows: Vec<AppliedRow> = slots.iter().filter_map(Slot::row).collect();
            (Just(slots), Just(rows).prop_shuffle())
        })
        .prop_map(|(slots, rows)| Scenario { slots, rows })
}

/// A history with no anomaly: every row is a known migration applied as it is now.
fn clean_scenario() -> impl Strategy<Value = Scenario> {
    prop::collection::vec(any::<bool>(), 1..16)
        .prop_flat_map(|recorded| {
            let slots: Vec<Slot> = recorded
                .into_iter()
                .zip(1u64..)
                .map(|(recorded, seq)| Slot {
                    seq,
                    known: Known::Reversible,
                    row: if recorded { Row::Same } else { Row::Absent },
                })
                .collect();
            let rows: Vec<AppliedRow> = slots.iter().filter_map(Slot::row).collect();
            (Just(slots), Just(rows).prop_shuffle())
        })
        .prop_map(|(slots, rows)| Scenario { slots, rows })
}

/// Everything allowed that a policy can allow: only `Started` still blocks.
fn permissive(plan: &Plan) -> Policy {
    plan.with_status(|s| matches!(s, Status::Modified { .. }))
        .fold(
            Policy::default()
                .allow_database_ahead()
                .allow_out_of_order(),
            |policy, e| policy.accept_checksum(e.seq),
        )
}

/// The rows after a backend applied `applied` (and recorded the accepted checksums).
fn simulate_apply(
    rows: &[AppliedRow],
    plan: &Plan,
    applied: &[u64],
    policy: &Policy,
) -> Vec<AppliedRow> {
    let mut rows = rows.to_vec();
    for row in &mut rows {
        if policy.accepted_checksums.contains(&row.seq) {
            let current = plan.entry(row.seq).and_then(|e| e.checksum).unwrap();
            row.checksum = current.to_string();
        }
    }
    for &seq in applied {
        let e = plan.entry(seq).unwrap();
        rows.push(AppliedRow::applied(
            seq,
            e.name.clone(),
            e.checksum.unwrap().to_string(),
        ));
    }
    rows
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Started,
    DatabaseAhead,
    Modified,
    OutOfOrder,
}

fn kind(b: &Blocker) -> (Kind, u64) {
    match b {
        Blocker::Started { seq, .. } => (Kind::Started, *seq),
        Blocker::DatabaseAhead { seq, .. } => (Kind::DatabaseAhead, *seq),
        Blocker::Modified { seq, .. } => (Kind::Modified, *seq),
        Blocker::OutOfOrder { seq, .. } => (Kind::OutOfOrder, *seq),
    }
}

fn kinds(blockers: &[Blocker]) -> Vec<(Kind, u64)> {
    blockers.iter().map(kind).collect()
}

fn down_target() -> impl Strategy<Value = DownTarget> {
    prop_oneof![
        (0usize..20).prop_map(DownTarget::Steps),
        (0u64..20).prop_map(DownTarget::To),
    ]
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
    // Failures print their minimal input; no regression files are written next to the tests.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_seq_appears_once_in_ascending_order(s in scenario()) {
        let plan = s.plan();
        let seqs: Vec<u64> = plan.entries().iter().map(|e| e.seq).collect();
        prop_assert_eq!(&seqs, &s.seqs());
        prop_assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{:?}", seqs);
        for &seq in &seqs {
            prop_assert_eq!(plan.entry(seq).map(|e| e.seq), Some(seq));
        }
        prop_assert_eq!(plan.set(), DEFAULT_SET);
    }

    #[test]
    fn statuses_names_and_checksums_match_the_model(s in scenario()) {
        let plan = s.plan();
        for slot in &s.slots {
            let entry = plan.entry(slot.seq);
            prop_assert_eq!(entry.map(|e| e.status.clone()), s.expected_status(slot), "seq {}", slot.seq);
            let Some(entry) = entry else { continue };
            let expected_name = if slot.is_known() { name(slot.seq) } else { format!("gone_{}", slot.seq) };
            prop_assert_eq!(&entry.name, &expected_name);
            prop_assert_eq!(entry.checksum, slot.is_known().then(|| code(slot.seq)));
            prop_assert_eq!(entry.reversible, slot.known == Known::Reversible);
        }
    }

    #[test]
    fn the_order_of_rows_does_not_matter(s in scenario()) {
        let mut sorted = s.rows.clone();
        sorted.sort_by_key(|r| r.seq);
        prop_assert_eq!(s.plan(), Plan::new(&s.registry(), &sorted));
    }

    #[test]
    fn recorded_and_unrecorded_partition_the_plan(s in scenario()) {
        let plan = s.plan();
        let recorded: BTreeSet<u64> = s.rows.iter().map(|r| r.seq).collect();
        let known: BTreeSet<u64> = s.slots.iter().filter(|s| s.is_known()).map(|s| s.seq).collect();
        let is_recorded: BTreeSet<u64> = plan.with_status(Status::is_recorded).map(|e| e.seq).collect();
        let not_recorded: BTreeSet<u64> = plan.with_status(|s| !s.is_recorded()).map(|e| e.seq).collect();
        prop_assert_eq!(&is_recorded, &recorded);
        prop_assert_eq!(&not_recorded, &known.difference(&recorded).copied().collect());
        prop_assert_eq!(is_recorded.len() + not_recorded.len(), plan.entries().len());
        prop_assert_eq!(plan.current(), s.last_recorded());
        // Pending always lies above everything recorded, out-of-order below something recorded.
        for e in plan.with_status(|s| *s == Status::Pending) {
            prop_assert!(plan.current().is_none_or(|c| c < e.seq));
        }
        for e in plan.with_status(|s| *s == Status::OutOfOrder) {
            prop_assert!(plan.current().is_some_and(|c| c > e.seq));
        }
    }

    #[test]
    fn a_clean_history_is_applied_plus_pending(s in clean_scenario()) {
        let plan = s.plan();
        let applied: BTreeSet<u64> = plan.with_status(|s| *s == Status::Applied).map(|e| e.seq).collect();
        let pending: BTreeSet<u64> = plan
            .with_status(|s| matches!(s, Status::Pending | Status::OutOfOrder))
            .map(|e| e.seq)
            .collect();
        let rows: BTreeSet<u64> = s.rows.iter().map(|r| r.seq).collect();
        prop_assert_eq!(&applied, &rows);
        prop_assert!(applied.is_disjoint(&pending));
        prop_assert_eq!(applied.len() + pending.len(), s.slots.len());
        prop_assert_eq!(plan.is_up_to_date(), pending.is_empty());
    }

    #[test]
    fn default_policy_blocks_exactly_the_anomalies(s in scenario()) {
        let plan = s.plan();
        let blockers = plan.blockers(&Policy::default());
        let mut found = kinds(&blockers);
        found.sort();
        let mut expected: Vec<(Kind, u64)> = plan
            .entries()
            .iter()
            .filter_map(|e| match e.status {
                Status::Started => Some((Kind::Started, e.seq)),
                Status::Missing => Some((Kind::DatabaseAhead, e.seq)),
                Status::Modified { .. } => Some((Kind::Modified, e.seq)),
                Status::OutOfOrder => Some((Kind::OutOfOrder, e.seq)),
                Status::Applied | Status::Pending | Status::Renamed { .. } => None,
            })
            .collect();
        expected.sort();
        prop_assert_eq!(found, expected);

        // Worst first, then by seq.
        let order = kinds(&blockers);
        prop_assert!(order.windows(2).all(|w| w[0] < w[1]), "{:?}", order);

        // Every blocker carries what its message needs.
        let latest = s.last_recorded().unwrap_or(0);
        for b in &blockers {
            let entry = plan.entry(kind(b).1).unwrap();
            match b {
                Blocker::Started { name, .. } | Blocker::DatabaseAhead { name, .. } => {
                    prop_assert_eq!(name, &entry.name);
                }
                Blocker::Modified { name, recorded, current, seq } => {
                    prop_assert_eq!(name, &entry.name);
                    prop_assert_eq!(recorded, &edited().to_string());
                    prop_assert_eq!(current, &code(*seq).to_string());
                }
                Blocker::OutOfOrder { name, latest_applied, .. } => {
                    prop_assert_eq!(name, &entry.name);
                    prop_assert_eq!(*latest_applied, latest);
                }
            }
        }

        match plan.check(&Policy::default()) {
            Ok(()) => prop_assert!(blockers.is_empty()),
            Err(Error::Blocked { set, blockers: in_error }) => {
                prop_assert_eq!(set, DEFAULT_SET);
                prop_assert_eq!(in_error, blockers);
            }
            Err(other) => prop_assert!(false, "unexpected {}", other),
        }
    }

    #[test]
    fn each_policy_switch_removes_exactly_its_kind(s in scenario(), extra in 0u64..20) {
        let plan = s.plan();
        let all = plan.blockers(&Policy::default());
        let without = |drop: &dyn Fn(&Blocker) -> bool| -> Vec<Blocker> {
            all.iter().filter(|b| !drop(b)).cloned().collect()
        };

        prop_assert_eq!(
            plan.blockers(&Policy::default().allow_database_ahead()),
            without(&|b| matches!(b, Blocker::DatabaseAhead { .. }))
        );
        prop_assert_eq!(
            plan.blockers(&Policy::default().allow_out_of_order()),
            without(&|b| matches!(b, Blocker::OutOfOrder { .. }))
        );
        for seq in plan.entries().iter().map(|e| e.seq).chain([extra]) {
            prop_assert_eq!(
                plan.blockers(&Policy::default().accept_checksum(seq)),
                without(&|b| matches!(b, Blocker::Modified { seq: s, .. } if *s == seq))
            );
        }
        // With everything allowed, only an unfinished migration still blocks: no flag skips it.
        prop_assert_eq!(
            plan.blockers(&permissive(&plan)),
            without(&|b| !matches!(b, Blocker::Started { .. }))
        );
    }

    #[test]
    fn to_apply_is_ascending_pending_work_up_to_the_target(
        s in scenario(),
        target in prop::option::of(0u64..20),
    ) {
        let plan = s.plan();
        let policy = permissive(&plan);
        match plan.to_apply(target, &policy) {
            Ok(seqs) => {
                prop_assert!(!s.has_started());
                prop_assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{:?}", seqs);
                let expected: Vec<u64> = plan
                    .with_status(|s| matches!(s, Status::Pending | Status::OutOfOrder))
                    .map(|e| e.seq)
                    .filter(|&seq| target.is_none_or(|t| seq <= t))
                    .collect();
                prop_assert_eq!(&seqs, &expected);
                for seq in &seqs {
                    let status = &plan.entry(*seq).unwrap().status;
                    prop_assert!(matches!(status, Status::Pending | Status::OutOfOrder));
                }
            }
            Err(Error::Blocked { blockers, .. }) => {
                prop_assert!(s.has_started());
                prop_assert!(
                    blockers.iter().all(|b| matches!(b, Blocker::Started { .. })),
                    "{:?}",
                    blockers
                );
            }
            Err(Error::UnknownTarget { seq, known, .. }) => {
                prop_assert!(!s.has_started());
                prop_assert_eq!(Some(seq), target);
                prop_assert!(plan.entry(seq).is_none());
                prop_assert_eq!(known, s.seqs());
            }
            Err(other) => prop_assert!(false, "unexpected {}", other),
        }
    }

    #[test]
    fn applying_to_apply_leaves_nothing_to_do(s in scenario(), target in prop::option::of(0u64..20)) {
        let plan = s.plan();
        let policy = permissive(&plan);
        let Ok(seqs) = plan.to_apply(target, &policy) else { return Ok(()) };
        let after = Plan::new(&s.registry(), &simulate_apply(&s.rows, &plan, &seqs, &policy));
        for (before, now) in plan.entries().iter().zip(after.entries()) {
            prop_assert_eq!(before.seq, now.seq);
            if seqs.contains(&before.seq) {
                prop_assert_eq!(&now.status, &Status::Applied);
            } else if matches!(before.status, Status::Modified { .. }) {
                prop_assert_eq!(&now.status, &Status::Applied, "accepted checksum was recorded");
            } else {
                prop_assert_eq!(&now.status, &before.status, "seq {} untouched", before.seq);
            }
        }
        if target.is_none() {
            prop_assert!(after.to_apply(None, &Policy::default().allow_database_ahead()).unwrap().is_empty());
            let anomalies = plan.with_status(|s| matches!(s, Status::Missing | Status::Renamed { .. })).count();
            prop_assert_eq!(after.is_up_to_date(), anomalies == 0);
        }
    }

    #[test]
    fn under_the_default_policy_applying_everything_brings_the_plan_up_to_date(s in scenario()) {
        let plan = s.plan();
        let policy = Policy::default();
        match plan.to_apply(None, &policy) {
            Ok(seqs) => {
                prop_assert!(plan.blockers(&policy).is_empty());
                let pending: Vec<u64> = plan.with_status(|s| *s == Status::Pending).map(|e| e.seq).collect();
                prop_assert_eq!(&seqs, &pending);
                let after = Plan::new(&s.registry(), &simulate_apply(&s.rows, &plan, &seqs, &policy));
                let renamed = after.with_status(|s| matches!(s, Status::Renamed { .. })).count();
                prop_assert!(after.check(&policy).is_ok());
                prop_assert_eq!(after.is_up_to_date(), renamed == 0);
            }
            Err(Error::Blocked { blockers, .. }) => prop_assert_eq!(blockers, plan.blockers(&policy)),
            Err(other) => prop_assert!(false, "unexpected {}", other),
        }
    }

    #[test]
    fn clean_histories_come_up_to_date(s in clean_scenario()) {
        let plan = s.plan();
        let seqs = plan.to_apply(None, &Policy::default().allow_out_of_order()).unwrap();
        let after = Plan::new(&s.registry(), &simulate_apply(&s.rows, &plan, &seqs, &Policy::default()));
        prop_assert!(after.is_up_to_date(), "{:?}", after);
        prop_assert_eq!(after.current(), s.slots.last().map(|s| s.seq));
    }

    #[test]
    fn to_revert_matches_the_model_and_never_goes_halfway(s in scenario(), target in down_target()) {
        let plan = s.plan();
        let policy = permissive(&plan);
        let result = plan.to_revert(target, &policy);
        if s.has_started() {
            prop_assert!(matches!(result, Err(Error::Blocked { .. })), "{:?}", result);
            return Ok(());
        }
        let recorded_desc: Vec<u64> = s.slots.iter().rev().filter(|s| s.is_recorded()).map(|s| s.seq).collect();
        let chosen: Vec<u64> = match target {
            DownTarget::Steps(n) => recorded_desc.iter().copied().take(n).collect(),
            DownTarget::To(x) => {
                if x != 0 && plan.entry(x).is_none() {
                    prop_assert!(
                        matches!(&result, Err(Error::UnknownTarget { seq, .. }) if *seq == x),
                        "{:?}", result
                    );
                    return Ok(());
                }
                recorded_desc.iter().copied().filter(|&seq| seq > x).collect()
            }
        };
        let stuck = chosen.iter().map(|&seq| s.slot(seq).unwrap()).find(|s| s.known != Known::Reversible);
        match (result, stuck) {
            (Ok(seqs), None) => {
                prop_assert_eq!(&seqs, &chosen);
                prop_assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{:?}", seqs);
                for seq in &seqs {
                    prop_assert!(plan.entry(*seq).unwrap().status.is_recorded());
                }
                match target {
                    DownTarget::Steps(n) => prop_assert_eq!(seqs.len(), n.min(recorded_desc.len())),
                    DownTarget::To(x) => {
                        prop_assert!(seqs.iter().all(|&seq| seq > x));
                        let mut left = plan.with_status(Status::is_recorded).filter(|e| !seqs.contains(&e.seq));
                        prop_assert!(left.all(|e| e.seq <= x));
                    }
                }
            }
            (Err(Error::Irreversible { seq, name: named, missing_from_binary }), Some(slot)) => {
                prop_assert_eq!(seq, slot.seq, "names the first migration in the way");
                prop_assert_eq!(named, plan.entry(seq).unwrap().name.clone());
                prop_assert_eq!(missing_from_binary, !slot.is_known());
            }
            (result, stuck) => prop_assert!(false, "got {:?}, first irreversible {:?}", result, stuck),
        }
    }

    #[test]
    fn to_revert_is_refused_while_anything_blocks(s in scenario(), target in down_target()) {
        let plan = s.plan();
        // A pending out-of-order migration is not in the way of a revert; everything else is.
        let blockers = plan.blockers(&Policy::default().allow_out_of_order());
        let result = plan.to_revert(target, &Policy::default());
        if blockers.is_empty() {
            prop_assert!(!matches!(result, Err(Error::Blocked { .. })), "{:?}", result);
        } else {
            prop_assert!(
                matches!(&result, Err(Error::Blocked { blockers: b, .. }) if *b == blockers),
                "{:?}",
                result
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Examples
// ---------------------------------------------------------------------------------------------

fn registry(specs: &[(u64, &str, bool)]) -> Registry<()> {
    Registry::new(
        DEFAULT_SET,
        specs.iter().map(|&(seq, n, reversible)| {
            let m = Migration::new(seq, n, ()).with_checksum(code(seq));
            if reversible { m.with_down(()) } else { m }
        }),
        Validation::strict().allow_gaps(),
    )
    .unwrap()
}

fn applied(seq: u64, n: &str) -> AppliedRow {
    AppliedRow::applied(seq, n, code(seq).to_string())
}

fn statuses(plan: &Plan) -> Vec<(u64, Status)> {
    plan.entries()
        .iter()
        .map(|e| (e.seq, e.status.clone()))
        .collect()
}

#[track_caller]
fn assert_mentions(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}

#[test]
fn a_fresh_database_applies_everything_in_order() {
    let r = registry(&[(1, "create_users", true), (2, "add_email", true)]);
    let plan = Plan::new(&r, &[]);
    assert_eq!(plan.current(), None);
    assert!(!plan.is_up_to_date());
    assert_eq!(plan.to_apply(None, &Policy::default()).unwrap(), [1, 2]);
    assert_eq!(plan.to_apply(Some(1), &Policy::default()).unwrap(), [1]);
    assert!(
        plan.to_revert(DownTarget::To(0), &Policy::default())
            .unwrap()
            .is_empty()
    );
    assert!(
        plan.to_revert(DownTarget::Steps(3), &Policy::default())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn an_up_to_date_database_has_nothing_to_do() {
    let r = registry(&[(1, "a", true), (2, "b", true)]);
    let plan = Plan::new(&r, &[applied(2, "b"), applied(1, "a")]);
    assert!(plan.is_up_to_date());
    assert_eq!(plan.current(), Some(2));
    assert!(plan.to_apply(None, &Policy::default()).unwrap().is_empty());
    assert!(
        plan.to_apply(Some(1), &Policy::default())
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        plan.to_revert(DownTarget::Steps(1), &Policy::default())
            .unwrap(),
        [2]
    );
    assert_eq!(
        plan.to_revert(DownTarget::Steps(9), &Policy::default())
            .unwrap(),
        [2, 1]
    );
    assert_eq!(
        plan.to_revert(DownTarget::To(1), &Policy::default())
            .unwrap(),
        [2]
    );
    assert_eq!(
        plan.to_revert(DownTarget::To(2), &Policy::default())
            .unwrap(),
        Vec::<u64>::new()
    );
    assert_eq!(
        plan.to_revert(DownTarget::To(0), &Policy::default())
            .unwrap(),
        [2, 1]
    );
}

#[test]
fn out_of_order_is_blocked_by_default_and_applied_when_allowed() {
    let r = registry(&[
        (1, "a", true),
        (2, "from_branch", true),
        (3, "c", true),
        (4, "d", true),
    ]);
    let plan = Plan::new(&r, &[applied(1, "a"), applied(3, "c")]);
    assert_eq!(
        statuses(&plan),
        [
            (1, Status::Applied),
            (2, Status::OutOfOrder),
            (3, Status::Applied),
            (4, Status::Pending)
        ]
    );
    let err = plan.to_apply(None, &Policy::default()).unwrap_err();
    assert_mentions(
        &err.to_string(),
        &[
            "\"default\"",
            "nothing was changed",
            "2 \"from_branch\"",
            "3 is already applied",
            "Renumber it after 3",
            "migrate up --allow-out-of-order",
        ],
    );
    let allowed = Policy::default().allow_out_of_order();
    assert_eq!(plan.to_apply(None, &allowed).unwrap(), [2, 4]);
    assert_eq!(plan.to_apply(Some(2), &allowed).unwrap(), [2]);
    assert_eq!(plan.to_apply(Some(3), &allowed).unwrap(), [2]);
    assert_eq!(plan.to_revert(DownTarget::To(0), &allowed).unwrap(), [3, 1]);
}

#[test]
fn a_database_ahead_of_the_binary_is_blocked_and_cannot_be_reverted_past() {
    let r = registry(&[(1, "a", true), (2, "b", true)]);
    let rows = [
        applied(1, "a"),
        applied(2, "b"),
        applied(3, "from_newer_binary"),
    ];
    let plan = Plan::new(&r, &rows);
    let entry = plan.entry(3).unwrap();
    assert_eq!(entry.status, Status::Missing);
    assert_eq!(entry.name, "from_newer_binary");
    assert_eq!((entry.reversible, entry.checksum), (false, None));
    assert_eq!(plan.current(), Some(3));

    let err = plan.check(&Policy::default()).unwrap_err();
    assert_mentions(
        &err.to_string(),
        &[
            "3 \"from_newer_binary\"",
            "newer version",
            "migrate up --allow-database-ahead",
        ],
    );

    let ahead = Policy::default().allow_database_ahead();
    assert!(plan.to_apply(None, &ahead).unwrap().is_empty());
    assert_eq!(
        plan.to_revert(DownTarget::To(3), &ahead).unwrap(),
        Vec::<u64>::new()
    );
    for target in [
        DownTarget::Steps(1),
        DownTarget::Steps(3),
        DownTarget::To(1),
    ] {
        let err = plan.to_revert(target, &ahead).unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Irreversible {
                    seq: 3,
                    missing_from_binary: true,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_mentions(
            &err.to_string(),
            &[
                "cannot revert 3 \"from_newer_binary\"",
                "this binary does not have its code",
                "nothing was changed",
                "migrate restore",
            ],
        );
    }
}

#[test]
fn a_modified_migration_names_both_checksums_and_the_way_out() {
    let r = registry(&[(1, "create_users", true), (2, "b", true)]);
    let rows = [AppliedRow::applied(1, "create_users", edited().to_string())];
    let plan = Plan::new(&r, &rows);
    assert_eq!(
        plan.entry(1).unwrap().status,
        Status::Modified {
            recorded: edited().to_string()
        }
    );
    let err = plan.to_apply(None, &Policy::default()).unwrap_err();
    assert_mentions(
        &err.to_string(),
        &[
            "1 \"create_users\" changed after it was applied",
            &edited().to_string(),
            &code(1).to_string(),
            "add a new migration instead",
            "migrate up --accept-checksum 1",
        ],
    );
    let accepted = Policy::default().accept_checksum(1);
    assert_eq!(plan.to_apply(None, &accepted).unwrap(), [2]);
    assert!(
        plan.to_apply(None, &Policy::default().accept_checksum(2))
            .is_err()
    );
}

#[test]
fn an_unfinished_migration_blocks_under_every_policy() {
    let r = registry(&[(1, "a", true), (2, "vacuum", false), (3, "c", true)]);
    let rows = [
        applied(1, "a"),
        AppliedRow::started(2, "vacuum", code(2).to_string()),
    ];
    let plan = Plan::new(&r, &rows);
    assert_eq!(plan.entry(2).unwrap().status, Status::Started);
    assert_eq!(plan.current(), Some(2));
    assert!(!plan.is_up_to_date());
    let everything = Policy::default()
        .allow_database_ahead()
        .allow_out_of_order()
        .accept_checksum(2);
    for policy in [Policy::default(), everything] {
        let err = plan.to_apply(None, &policy).unwrap_err();
        assert_mentions(
            &err.to_string(),
            &[
                "2 \"vacuum\"",
                "started and never finished",
                "migrate restore",
                "migrate resolve 2",
            ],
        );
        assert!(matches!(
            plan.to_revert(DownTarget::Steps(1), &policy),
            Err(Error::Blocked { .. })
        ));
    }
    // A started row that the binary does not know is just as unfinished.
    let plan = Plan::new(
        &r,
        &[AppliedRow::started(9, "ghost", "v1:0000000000000000")],
    );
    assert_eq!(plan.entry(9).unwrap().status, Status::Started);
    let err = plan
        .check(&Policy::default().allow_database_ahead())
        .unwrap_err();
    assert_mentions(&err.to_string(), &["9 \"ghost\"", "migrate resolve 9"]);
}

#[test]
fn a_renamed_migration_does_not_block() {
    let r = registry(&[(1, "create_accounts", true), (2, "b", true)]);
    let plan = Plan::new(&r, &[applied(1, "create_users")]);
    let entry = plan.entry(1).unwrap();
    assert_eq!(
        entry.status,
        Status::Renamed {
            recorded: "create_users".to_owned()
        }
    );
    assert_eq!(entry.name, "create_accounts");
    assert!(entry.status.is_recorded());
    assert!(plan.blockers(&Policy::default()).is_empty());
    assert_eq!(plan.to_apply(None, &Policy::default()).unwrap(), [2]);
    assert_eq!(
        plan.to_revert(DownTarget::Steps(1), &Policy::default())
            .unwrap(),
        [1]
    );
}

#[test]
fn blockers_are_listed_worst_first_in_one_error() {
    let r = registry(&[
        (1, "a", true),
        (2, "late", true),
        (3, "c", true),
        (4, "v", false),
    ]);
    let rows = [
        AppliedRow::applied(1, "a", edited().to_string()),
        applied(3, "c"),
        AppliedRow::started(4, "v", code(4).to_string()),
        applied(5, "newer"),
    ];
    let plan = Plan::new(&r, &rows);
    let blockers = plan.blockers(&Policy::default());
    assert_eq!(
        kinds(&blockers),
        [
            (Kind::Started, 4),
            (Kind::DatabaseAhead, 5),
            (Kind::Modified, 1),
            (Kind::OutOfOrder, 2)
        ]
    );
    let text = plan.check(&Policy::default()).unwrap_err().to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines[0].starts_with("refusing to migrate set \"default\"; nothing was changed"));
    for (line, blocker) in lines[1..].iter().zip(&blockers) {
        assert_eq!(*line, format!("  - {blocker}"));
    }
    assert!(matches!(
        blockers[3],
        Blocker::OutOfOrder {
            latest_applied: 5,
            ..
        }
    ));
}

#[test]
fn an_irreversible_migration_in_the_way_is_named_and_nothing_is_reverted() {
    let r = registry(&[(1, "a", true), (2, "seed_data", false), (3, "c", true)]);
    let plan = Plan::new(
        &r,
        &[applied(1, "a"), applied(2, "seed_data"), applied(3, "c")],
    );
    let policy = Policy::default();
    assert_eq!(plan.to_revert(DownTarget::Steps(1), &policy).unwrap(), [3]);
    assert_eq!(plan.to_revert(DownTarget::To(2), &policy).unwrap(), [3]);
    for target in [
        DownTarget::Steps(2),
        DownTarget::Steps(3),
        DownTarget::To(1),
        DownTarget::To(0),
    ] {
        let err = plan.to_revert(target, &policy).unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Irreversible {
                    seq: 2,
                    missing_from_binary: false,
                    ..
                }
            ),
            "{target:?}: {err:?}"
        );
        assert_mentions(
            &err.to_string(),
            &[
                "cannot revert 2 \"seed_data\"",
                "it has no down step",
                "nothing was changed",
                "migrate restore",
            ],
        );
    }
}

#[test]
fn unknown_targets_list_the_known_seqs() {
    let r = registry(&[(1, "a", true), (2, "b", true), (5, "e", true)]);
    let plan = Plan::new(&r, &[applied(1, "a")]);
    let err = plan.to_apply(Some(4), &Policy::default()).unwrap_err();
    assert!(matches!(&err, Error::UnknownTarget { seq: 4, known, .. } if known == &[1, 2, 5]));
    assert_eq!(
        err.to_string(),
        "set \"default\" has no migration 4; known: 1, 2, 5"
    );
    let err = plan
        .to_revert(DownTarget::To(3), &Policy::default())
        .unwrap_err();
    assert!(matches!(err, Error::UnknownTarget { seq: 3, .. }));
    // 0 means "before the first migration" for down, but is no migration to go up to.
    assert_eq!(
        plan.to_revert(DownTarget::To(0), &Policy::default())
            .unwrap(),
        [1]
    );
    assert!(matches!(
        plan.to_apply(Some(0), &Policy::default()),
        Err(Error::UnknownTarget { seq: 0, .. })
    ));
    // A pending target is fine for down (nothing above it is recorded).
    assert!(
        plan.to_revert(DownTarget::To(5), &Policy::default())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_recorded_seq_appears_once_even_if_the_table_has_it_twice() {
    // A tracking table should have seq as its primary key; a backend that cannot promise it
    // (or a hand-edited table) must still not produce a plan that lists a seq twice.
    let r = registry(&[(1, "a", true)]);
    let rows = [
        applied(1, "a"),
        applied(2, "x"),
        applied(2, "x"),
        applied(1, "a"),
    ];
    let plan = Plan::new(&r, &rows);
    let seqs: Vec<u64> = plan.entries().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2]);
    assert_eq!(plan.blockers(&Policy::default()).len(), 1);
}

#[test]
fn status_display_is_human_readable() {
    let shown: Vec<String> = [
        Status::Applied,
        Status::Pending,
        Status::OutOfOrder,
        Status::Missing,
        Status::Modified {
            recorded: String::new(),
        },
        Status::Renamed {
            recorded: String::new(),
        },
        Status::Started,
    ]
    .iter()
    .map(Status::to_string)
    .collect();
    assert_eq!(
        shown,
        [
            "applied",
            "pending",
            "out of order",
            "missing from binary",
            "modified",
            "renamed",
            "started, not finished"
        ]
    );
}

#[test]
fn plan_entries_of_known_migrations_carry_the_binary_checksum() {
    let r = registry(&[(1, "a", false)]);
    let plan = Plan::new(&r, &[]);
    let entry: &PlanEntry = &plan.entries()[0];
    assert_eq!(entry.checksum, Some(code(1)));
    assert!(!entry.reversible);
}

// ---------------------------------------------------------------------------------------------
// Checksums (the plan compares their stored text)
// ---------------------------------------------------------------------------------------------

proptest! {
    // Failures print their minimal input; no regression files are written next to the tests.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn checksums_round_trip_through_their_stored_text(version in any::<u8>(), value in any::<u64>()) {
        let c = Checksum::from_parts(version, value);
        let text = c.to_string();
        prop_assert_eq!(text.parse::<Checksum>(), Ok(c));
        prop_assert_eq!(text.len(), format!("v{version}:").len() + 16);
    }

    #[test]
    fn line_endings_do_not_change_a_checksum(lines in prop::collection::vec("[^\r\n]{0,12}", 0..6)) {
        let lf = lines.join("\n");
        prop_assert_eq!(Checksum::of_text(&lf), Checksum::of_text(&lines.join("\r\n")));
        prop_assert_eq!(Checksum::of_text(&lf), Checksum::of_text(&lines.join("\r")));
    }

    #[test]
    fn a_plan_matches_a_row_only_by_the_exact_checksum(a in "[a-z]{1,8}", b in "[a-z]{1,8}") {
        let r = Registry::new(DEFAULT_SET, [Migration::new(1, "m", ()).with_checksum(Checksum::of_text(&a))], Validation::strict()).unwrap();
        let plan = Plan::new(&r, &[AppliedRow::applied(1, "m", Checksum::of_text(&b).to_string())]);
        prop_assert_eq!(plan.is_up_to_date(), a == b);
    }
}
