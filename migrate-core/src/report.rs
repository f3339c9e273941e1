//! What a run did, and where every migration stands: the values `up`/`down` and `status` return.

use crate::{Plan, RecordedRow, Registry, SchemaDiff, Status};
use std::fmt;
use std::time::Duration;

/// Which way a migration ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Applied.
    Up,
    /// Reverted.
    Down,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Up => "up",
            Direction::Down => "down",
        })
    }
}

/// One migration run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepReport {
    /// Its seq.
    pub seq: u64,
    /// Its name.
    pub name: String,
    /// Applied or reverted.
    pub direction: Direction,
    /// How long it took.
    pub duration: Duration,
}

/// What a run did.
///
/// ```
/// use migrate_core::{Direction, RunReport, StepReport};
/// use std::time::Duration;
/// let report = RunReport {
///     set: "default".into(),
///     steps: vec![StepReport { seq: 1, name: "t".into(), direction: Direction::Up, duration: Duration::ZERO }],
///     accepted_checksums: vec![],
///     before: None,
///     after: Some(1),
///     duration: Duration::ZERO,
/// };
/// assert!(report.to_string().starts_with("set \"default\": applied 1 migration"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunReport {
    /// The set.
    pub set: String,
    /// The migrations run, in order.
    pub steps: Vec<StepReport>,
    /// Seqs whose new checksum was accepted.
    pub accepted_checksums: Vec<u64>,
    /// Highest applied seq before the run.
    pub before: Option<u64>,
    /// Highest applied seq after the run.
    pub after: Option<u64>,
    /// Wall time of the whole run.
    pub duration: Duration,
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |seq: Option<u64>| seq.map_or("no migration".to_owned(), |s| format!("seq {s}"));
        let ups = self
            .steps
            .iter()
            .filter(|s| s.direction == Direction::Up)
            .count();
        let downs = self.steps.len() - ups;
        let mut parts = Vec::new();
        if ups > 0 {
            parts.push(format!("applied {ups} migration{}", plural(ups)));
        }
        if downs > 0 {
            parts.push(format!("reverted {downs} migration{}", plural(downs)));
        }
        if !self.accepted_checksums.is_empty() {
            parts.push(format!(
                "accepted new checksums of {:?}",
                self.accepted_checksums
            ));
        }
        if parts.is_empty() {
            return write!(f, "set {:?}: up to date at {}", self.set, at(self.after));
        }
        write!(
            f,
            "set {:?}: {} in {:.1?}; now at {} (was {})",
            self.set,
            parts.join(", "),
            self.duration,
            at(self.after),
            at(self.before)
        )?;
        for step in &self.steps {
            write!(
                f,
                "\n  {:>5} {} {:?} ({:.1?})",
                step.direction, step.seq, step.name, step.duration
            )?;
        }
        Ok(())
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One line of `status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusLine {
    /// Its seq.
    pub seq: u64,
    /// Its name.
    pub name: String,
    /// Where it stands.
    pub status: Status,
    /// When it was applied (UTC), if it was.
    pub applied_at: Option<String>,
    /// How long applying it took.
    pub duration_ms: Option<u64>,
    /// Whether this binary can revert it.
    pub reversible: bool,
}

/// Where every migration of a set stands, and whether the schema drifted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusReport {
    /// The set.
    pub set: String,
    /// Every migration, known or recorded, by seq.
    pub lines: Vec<StatusLine>,
    /// Highest recorded seq.
    pub current: Option<u64>,
    /// Differences between the live schema and the one recorded after the last run.
    pub drift: Option<SchemaDiff>,
}

impl StatusReport {
    /// Where every migration of `registry` stands against the `recorded` rows of its set,
    /// with their times, and the drift the backend found: the one way both backends build
    /// `status`.
    ///
    /// ```
    /// use migrate_core::{DEFAULT_SET, Migration, Registry, StatusReport, Validation};
    /// let registry = Registry::new(DEFAULT_SET, vec![Migration::new(1, "a", ())], Validation::strict())?;
    /// let report = StatusReport::assemble(&registry, &[], None);
    /// assert_eq!(report.current, None);
    /// assert!(!report.is_clean());
    /// # Ok::<(), migrate_core::Error>(())
    /// ```
    pub fn assemble<S>(
        registry: &Registry<S>,
        recorded: &[RecordedRow],
        drift: Option<SchemaDiff>,
    ) -> StatusReport {
        let rows: Vec<_> = recorded.iter().map(|r| r.row.clone()).collect();
        let plan = Plan::new(registry, &rows);
        let lines = plan
            .entries()
            .iter()
            .map(|entry| {
                let row = recorded.iter().find(|r| r.row.seq == entry.seq);
                StatusLine {
                    seq: entry.seq,
                    name: entry.name.clone(),
                    status: entry.status.clone(),
                    applied_at: row.map(|r| r.applied_at.clone()),
                    duration_ms: row.map(|r| r.duration_ms),
                    reversible: entry.reversible,
                }
            })
            .collect();
        StatusReport {
            set: registry.set().to_owned(),
            lines,
            current: plan.current(),
            drift,
        }
    }

    /// True when every migration is applied, nothing is wrong and the schema did not drift.
    ///
    /// ```
    /// use migrate_core::{Status, StatusLine, StatusReport};
    /// let line = |status| StatusLine {
    ///     seq: 1, name: "t".into(), status, applied_at: None, duration_ms: None, reversible: false,
    /// };
    /// let report = |status| StatusReport { set: "default".into(), lines: vec![line(status)], current: None, drift: None };
    /// assert!(!report(Status::Pending).is_clean());
    /// assert!(report(Status::Applied).is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        self.drift.is_none() && self.lines.iter().all(|l| l.status == Status::Applied)
    }
}

impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "set {:?}", self.set)?;
        // Columns as wide as their longest entry (ported names are often long).
        let states: Vec<String> = self.lines.iter().map(|l| l.status.to_string()).collect();
        let width = |header: &str, cells: &mut dyn Iterator<Item = usize>| {
            cells.fold(header.chars().count(), usize::max)
        };
        let seq_w = width(
            "seq",
            &mut self.lines.iter().map(|l| l.seq.to_string().len()),
        );
        let name_w = width(
            "name",
            &mut self.lines.iter().map(|l| l.name.chars().count()),
        );
        let state_w = width("state", &mut states.iter().map(|s| s.chars().count()));
        let at_w = width(
            "applied at (UTC)",
            &mut self
                .lines
                .iter()
                .map(|l| l.applied_at.as_deref().map_or(1, |a| a.chars().count())),
        );
        writeln!(
            f,
            "{:>seq_w$}  {:<name_w$}  {:<state_w$}  {:<at_w$}  down",
            "seq", "name", "state", "applied at (UTC)"
        )?;
        for (line, state) in self.lines.iter().zip(&states) {
            writeln!(
                f,
                "{:>seq_w$}  {:<name_w$}  {:<state_w$}  {:<at_w$}  {}",
                line.seq,
                line.name,
                state,
                line.applied_at.as_deref().unwrap_or("-"),
                if line.reversible { "yes" } else { "no" }
            )?;
        }
        if let Some(drift) = &self.drift {
            writeln!(
                f,
                "schema drift: the database was changed outside migrations since the last run \
                 ({drift})"
            )?;
        }
        Ok(())
    }
}
