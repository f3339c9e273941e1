//! What a failed run kept, told from the tracking rows read back afterwards, never from what the
//! runner meant to do: the sentence a tired operator reads first.

use super::Job;
use crate::{AppliedRow, Migration, RowState, TxMode};
use std::collections::BTreeMap;
use std::path::Path;

/// The tracking rows of one set at one moment.
///
/// ```
/// use migrate_core::protocol::{Recorded, kept_summary};
/// let none = Recorded::new(Vec::new());
/// assert!(kept_summary(&none, &none).starts_with("Nothing from this run was kept"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    states: BTreeMap<u64, RowState>,
    rows: Vec<AppliedRow>,
}

impl Recorded {
    /// The rows as read.
    pub fn new(rows: Vec<AppliedRow>) -> Self {
        Recorded {
            states: rows.iter().map(|r| (r.seq, r.state)).collect(),
            rows,
        }
    }

    /// The rows as the core's plan takes them.
    pub fn rows(&self) -> &[AppliedRow] {
        &self.rows
    }

    fn state(&self, seq: u64) -> Option<RowState> {
        self.states.get(&seq).copied()
    }

    /// The highest applied seq (a started one is not "at").
    fn current(&self) -> Option<u64> {
        self.seqs_in(RowState::Applied).last()
    }

    /// True when both hold the same rows in the same states (nothing of a run was kept).
    pub(super) fn same_as(&self, other: &Recorded) -> bool {
        self.states == other.states
    }

    /// The applied seq below the top `n` applied ones (what `down --steps n` goes down to),
    /// or 0 when fewer are applied.
    pub(super) fn below_top(&self, n: usize) -> u64 {
        let mut applied: Vec<u64> = self.seqs_in(RowState::Applied).collect();
        applied.reverse();
        applied.get(n).copied().unwrap_or(0)
    }

    fn seqs_in(&self, state: RowState) -> impl Iterator<Item = u64> + '_ {
        self.states
            .iter()
            .filter(move |(_, s)| **s == state)
            .map(|(seq, _)| *seq)
    }
}

/// Where the database stands, for "as it was before the run (...)": `seq 3`, or, on a database
/// no migration was applied to, `no migration applied`.
fn at(seq: Option<u64>) -> String {
    seq.map_or("no migration applied".to_owned(), |s| format!("seq {s}"))
}

/// `1-3, 7, 9-10`: runs of consecutive seqs as ranges, so a long run stays readable.
fn list(seqs: &[u64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < seqs.len() {
        let start = seqs[i];
        while i + 1 < seqs.len() && seqs[i + 1] == seqs[i] + 1 {
            i += 1;
        }
        parts.push(match seqs[i] - start {
            0 => start.to_string(),
            1 => format!("{start}, {}", seqs[i]),
            _ => format!("{start}-{}", seqs[i]),
        });
        i += 1;
    }
    parts.join(", ")
}

/// An automatic restore after a failure that a rollback could not undo.
pub(super) struct Restored {
    /// The backup that was put back.
    pub from: std::path::PathBuf,
    /// A copy of the state the failure left (with any rows other connections committed
    /// meanwhile), taken in the restore's own write transaction.
    pub failed_state: std::path::PathBuf,
    /// The backup was taken just before the failing migration (`KeepApplied`), not before
    /// the run.
    pub just_before_it: bool,
    /// The backup was taken once before every set of an `up --all-sets`, before the first
    /// set ran: restoring it rolled back what the sets before this one applied too.
    pub all_sets: bool,
}

/// The outcome after an automatic restore; `after` is read back from the restored database.
pub(super) fn restored(
    before: &Recorded,
    after: Option<&Recorded>,
    r: &Restored,
    rerun: &str,
) -> String {
    let state = match (r.just_before_it, after) {
        (true, Some(after)) => format!(
            "taken just before this migration: the migrations this run applied before it stay \
             applied, and the database is as it was just before it ({})",
            at(after.current())
        ),
        (true, None) => "taken just before this migration: the database is as it was just \
                         before it"
            .to_owned(),
        (false, _) if r.all_sets => format!(
            "taken once before every set of this `up --all-sets`, before the first set ran: the \
             whole database is as it was before that command, so the migrations the sets before \
             this one applied in it were rolled back too, and this set is as it was before its \
             run ({})",
            at(before.current())
        ),
        (false, _) => format!(
            "taken before this run: it is exactly as it was before the run ({})",
            at(before.current())
        ),
    };
    format!(
        "Its work could not be rolled back, so the database was restored automatically from \
         {} ({state}). The state the failure left, with anything other connections wrote \
         meanwhile, is kept in {} for inspection. Fix the migration and run `{rerun}` again.",
        r.from.display(),
        r.failed_state.display(),
    )
}

/// The outcome when the automatic restore itself failed.
pub(super) fn restore_failed(backup: Option<&Path>, error: &dyn std::fmt::Display) -> String {
    match backup {
        Some(b) => format!(
            "Its work could not be rolled back, and restoring the pre-migration backup \
             automatically failed ({error}). The database may be half-migrated: stop the app and \
             restore it by hand (`migrate restore {}`).",
            shell_word(b)
        ),
        None => format!(
            "Its work could not be rolled back, and no pre-migration backup exists to restore \
             ({error}). Check the database (`migrate status`) and repair it, or restore a backup \
             of your own."
        ),
    }
}

fn nothing_kept(before: &Recorded) -> String {
    kept_summary(before, before)
}

/// "Nothing from this run was kept..." or "Kept from this run: applied 1, 2; reverted 3...".
pub fn kept_summary(before: &Recorded, after: &Recorded) -> String {
    let applied: Vec<u64> = after
        .seqs_in(RowState::Applied)
        .filter(|seq| before.state(*seq) != Some(RowState::Applied))
        .collect();
    let reverted: Vec<u64> = before
        .seqs_in(RowState::Applied)
        .filter(|seq| after.state(*seq).is_none())
        .collect();
    let started: Vec<u64> = after
        .seqs_in(RowState::Started)
        .filter(|seq| before.state(*seq) != Some(RowState::Started))
        .collect();
    let mut parts = Vec::new();
    for (what, seqs) in [
        ("applied", &applied),
        ("reverted", &reverted),
        ("left started", &started),
    ] {
        if !seqs.is_empty() {
            parts.push(format!("{what} {}", list(seqs)));
        }
    }
    if parts.is_empty() {
        format!(
            "Nothing from this run was kept: the database is as it was before the run ({}).",
            at(before.current())
        )
    } else {
        let now = match after.current() {
            Some(seq) => format!("is now at seq {seq}"),
            None => "now has no migration applied".to_owned(),
        };
        format!(
            "Kept from this run: {}. The database {now}.",
            parts.join("; ")
        )
    }
}

/// A path as one shell word, so that a printed command runs as printed.
///
/// ```
/// use migrate_core::protocol::shell_word;
/// assert_eq!(shell_word(std::path::Path::new("/tmp/a b.db")), "'/tmp/a b.db'");
/// ```
pub fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%,=".contains(c));
    if plain {
        text
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// How to put the database back as it was before the run: the pre-migration backup when one
/// was taken, else the truth about why there is none.
fn restore_advice(backup: Option<&Path>, no_backup_reason: &str) -> String {
    match backup {
        Some(path) => format!(
            "restore the backup taken before this run (`migrate restore {}`)",
            shell_word(path)
        ),
        None => format!("restore a backup of your own: this run took none ({no_backup_reason})"),
    }
}

/// The whole outcome of a failed migration: what was kept, and what to do next.
#[allow(clippy::too_many_arguments)]
pub(super) fn describe<S>(
    before: &Recorded,
    after: &Recorded,
    m: &Migration<S>,
    job: Job,
    rerun: &str,
    transaction_lost: bool,
    chunked: bool,
    backup: Option<&Path>,
    no_backup_reason: &str,
) -> String {
    let kept = kept_summary(before, after);
    let left_started = after.state(m.seq) == Some(RowState::Started);
    let no_backup = restore_advice(backup, no_backup_reason);
    let in_set = |command: String| super::rerun::in_set(command, &m.set);
    if left_started && m.mode == TxMode::NonTransactional {
        format!(
            "{kept} {} runs outside a transaction (`transaction = false`), so its partial work \
             could not be rolled back; it stays recorded as started and later runs refuse until \
             it is resolved. Check what it did, then repair the database and mark it: \
             `{}` if its work is complete, `{}` if it is undone (the next `up` runs it again); \
             or {no_backup}.",
            m.label(),
            in_set(format!("migrate resolve {} --applied", m.seq)),
            in_set(format!("migrate resolve {} --not-applied", m.seq)),
        )
    } else if chunked && kept != nothing_kept(before) {
        let back = match (job.direction, before.current()) {
            (crate::Direction::Up, seq) => format!("migrate down --to {}", seq.unwrap_or(0)),
            (crate::Direction::Down, Some(seq)) => format!("migrate up --to {seq}"),
            (crate::Direction::Down, None) => "migrate up".to_owned(),
        };
        let back = format!("`{}`", in_set(back));
        format!(
            "{kept} The run was too large for one transaction (the server's lock table), so it \
             committed in chunks: the migrations of the chunks committed before this one stay \
             applied, this chunk was rolled back. Fix the migration and run `{rerun}` to finish, \
             or go back to where the run started with {back} (its migrations must be \
             reversible), or {no_backup}."
        )
    } else if transaction_lost && kept != nothing_kept(before) {
        format!(
            "{kept} The run could not be rolled back as a whole (the runner's transaction \
             ended early). Check the database (`migrate status`), and if it is not as expected, \
             {no_backup}."
        )
    } else {
        format!("{kept} Nothing needs restoring; fix the migration and run `{rerun}` again.")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_become_ranges() {
        assert_eq!(super::list(&[1, 2, 3, 5, 7, 8, 10]), "1-3, 5, 7, 8, 10");
        assert_eq!(super::list(&[]), "");
    }
}
