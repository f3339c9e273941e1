//! The command that finishes what a failed run set out to do, decided from the operation and
//! from what the run kept (read back), so that it runs as printed: `migrate down --to 3` after
//! a `down --to 3`, `migrate redo` after a redo that kept nothing, `migrate up --to 5` after a
//! redo whose revert of 5 was kept, `migrate up --all-sets` after a restore that put back the
//! sets before this one too.

use super::{Operation, Recorded};
use crate::DownTarget;

/// What the command is decided from.
pub(super) struct Rerun<'a> {
    /// What the user asked for.
    pub op: Operation,
    /// The set of the run (named with `--set` unless it is [`DEFAULT_SET`](crate::DEFAULT_SET)).
    pub set: &'a str,
    /// The tracking rows under the lock, before the run.
    pub before: &'a Recorded,
    /// The tracking rows read back after the failure (`None` when they could not be read).
    pub after: Option<&'a Recorded>,
    /// The migration that failed.
    pub seq: u64,
    /// The backup put back was taken once before every set of an `up --all-sets`: the sets
    /// before this one were rolled back too.
    pub all_sets_restored: bool,
}

impl Rerun<'_> {
    /// The command, e.g. `migrate down --to 3` or `migrate up --set shelves`.
    pub fn command(&self) -> String {
        if self.all_sets_restored {
            return "migrate up --all-sets".to_owned();
        }
        // `None`: what was kept could not be read back.
        let kept = self.after.map(|after| !after.same_as(self.before));
        let command = match (self.op, kept) {
            (Operation::Up(None), _) => "migrate up".to_owned(),
            (Operation::Up(Some(seq)), _) => format!("migrate up --to {seq}"),
            (Operation::Down(DownTarget::To(seq)), _) => format!("migrate down --to {seq}"),
            (Operation::Down(DownTarget::Steps(1)), Some(false)) => "migrate down".to_owned(),
            (Operation::Down(DownTarget::Steps(n)), Some(false)) => {
                format!("migrate down --steps {n}")
            }
            // Some were reverted and kept (or it is not known): the same count again could
            // revert too many; the seq that count was going to is right either way.
            (Operation::Down(DownTarget::Steps(n)), _) => {
                format!("migrate down --to {}", self.before.below_top(n))
            }
            // Its revert was kept: what is left is applying it again.
            (Operation::Redo, Some(true)) => format!("migrate up --to {}", self.seq),
            // A redo is one transaction: a failure that cannot be read back kept nothing of it.
            (Operation::Redo, _) => "migrate redo".to_owned(),
        };
        in_set(command, self.set)
    }
}

/// `command` for `set`: as it is for the default set, with `--set NAME` for any other (a bare
/// command acts on the set the application's command line defaults to).
///
/// `in_set("migrate resolve 3 --applied".into(), "shelves")` is
/// `migrate resolve 3 --applied --set shelves`.
pub(super) fn in_set(command: String, set: &str) -> String {
    if set == crate::DEFAULT_SET {
        command
    } else {
        format!("{command} --set {set}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AppliedRow, RowState};

    fn rows(seqs: &[u64]) -> Recorded {
        Recorded::new(
            seqs.iter()
                .map(|&seq| AppliedRow {
                    seq,
                    name: format!("m{seq}"),
                    checksum: String::new(),
                    state: RowState::Applied,
                })
                .collect(),
        )
    }

    fn command(op: Operation, set: &str, before: &[u64], after: &[u64], seq: u64) -> String {
        let (before, after) = (rows(before), rows(after));
        Rerun {
            op,
            set,
            before: &before,
            after: Some(&after),
            seq,
            all_sets_restored: false,
        }
        .command()
    }

    #[test]
    fn nothing_kept_repeats_the_command() {
        let all = [1, 2, 3, 4];
        let down = |t| Operation::Down(t);
        assert_eq!(
            command(Operation::Up(None), "default", &[1], &[1], 2),
            "migrate up"
        );
        assert_eq!(
            command(Operation::Up(Some(3)), "default", &[1], &[1], 2),
            "migrate up --to 3"
        );
        assert_eq!(
            command(down(DownTarget::Steps(1)), "default", &all, &all, 4),
            "migrate down"
        );
        assert_eq!(
            command(down(DownTarget::Steps(3)), "default", &all, &all, 4),
            "migrate down --steps 3"
        );
        assert_eq!(
            command(down(DownTarget::To(1)), "default", &all, &all, 3),
            "migrate down --to 1"
        );
        assert_eq!(
            command(Operation::Redo, "default", &all, &all, 4),
            "migrate redo"
        );
    }

    #[test]
    fn what_was_kept_changes_the_command() {
        let all = [1, 2, 3, 4];
        // 4 reverted and kept, 3 failed: 2 (the first of three) is still to go.
        assert_eq!(
            command(
                Operation::Down(DownTarget::Steps(3)),
                "default",
                &all,
                &[1, 2, 3],
                3
            ),
            "migrate down --to 1"
        );
        assert_eq!(
            command(
                Operation::Down(DownTarget::Steps(4)),
                "default",
                &all,
                &[1, 2, 3],
                3
            ),
            "migrate down --to 0"
        );
        assert_eq!(
            command(Operation::Redo, "default", &all, &[1, 2, 3], 4),
            "migrate up --to 4"
        );
    }

    #[test]
    fn unknown_kept_reverts_name_the_target_seq() {
        let before = rows(&[1, 2, 3, 4]);
        let rerun = |op| {
            Rerun {
                op,
                set: "default",
                before: &before,
                after: None,
                seq: 4,
                all_sets_restored: false,
            }
            .command()
        };
        assert_eq!(
            rerun(Operation::Down(DownTarget::Steps(2))),
            "migrate down --to 2"
        );
        assert_eq!(rerun(Operation::Redo), "migrate redo");
    }

    #[test]
    fn another_set_is_named() {
        assert_eq!(
            command(Operation::Up(None), "shelves", &[], &[], 1),
            "migrate up --set shelves"
        );
        let none = rows(&[]);
        let restored = Rerun {
            op: Operation::Up(None),
            set: "shelves",
            before: &none,
            after: None,
            seq: 3,
            all_sets_restored: true,
        };
        assert_eq!(restored.command(), "migrate up --all-sets");
    }
}
