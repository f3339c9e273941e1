//! A migration failed: the failure policy (roll back everything, or keep what succeeded), the
//! automatic restore when a rollback cannot undo the work, the failure's history row, and the
//! outcome read back from the tracking rows.

use super::batch::{Batch, Failure};
use super::outcome::{self, Restored};
use super::rerun::Rerun;
use super::{Backend, Job, Recorded, Refusal};
use crate::{FailurePolicy, HistoryEvent, Migration, TxMode};
use std::path::PathBuf;

impl<B: Backend> Batch<'_, B> {
    /// Rolls back what the policy says, records the failure, and describes what was kept by
    /// reading it back.
    pub(super) fn fail(
        &mut self,
        failure: Failure<B::Error>,
        m: &Migration<B::Step>,
        job: Job,
        before: &Recorded,
    ) -> B::Error {
        let detail = failure.error.to_string();
        log::error!("migration {} {} failed: {detail}", m.label(), job.direction);
        let mut notes = Vec::new();
        let keep = self.settings.failure == FailurePolicy::KeepApplied;
        let kept_and_recorded = !failure.transaction_lost && keep && {
            self.history(self.failure_event(m, job, &detail));
            match self.finish_run() {
                Ok(()) => true,
                Err(e) => {
                    notes.push(format!(
                        "Committing the migrations that succeeded before it failed ({e}), so \
                         they were rolled back too."
                    ));
                    false
                }
            }
        };
        // The database rolled the whole transaction back itself (a full disk, a conflict
        // resolved by ROLLBACK): that rollback protects it; restoring over it could only do
        // harm.
        let rolled_back_itself = failure.transaction_lost
            && m.mode == TxMode::Transactional
            && self.backend.rolled_back_itself(&failure.error);
        let mut restored = None;
        if !kept_and_recorded {
            self.rollback_all();
            // Work a rollback cannot undo: put the pre-migration backup back.
            let undoable = (failure.transaction_lost && !rolled_back_itself)
                || m.mode == TxMode::NonTransactional
                || self.chunks_committed > 0;
            if undoable && self.backup.is_some() {
                restored = Some(self.restore_after_failure(m));
            }
            let detail = match &restored {
                Some(Ok(r)) => format!("{detail} (database restored from {})", r.from.display()),
                _ => detail.clone(),
            };
            if let Err(e) = self.record_failure_alone(m, job, &detail) {
                notes.push(format!(
                    "The failure could not be written to the history ({e})."
                ));
            }
        }
        let after = self
            .backend
            .read_rows(self.registry.set())
            .map(Recorded::new);
        let mut text = self.outcome(
            &failure,
            m,
            job,
            before,
            after,
            restored,
            rolled_back_itself,
        );
        for note in notes {
            text.push(' ');
            text.push_str(&note);
        }
        self.backend
            .migration_failed(self.registry.set(), m, job.direction, failure.error, text)
    }

    /// What was kept and what to do next, read back from the tracking rows.
    #[allow(clippy::too_many_arguments)]
    fn outcome(
        &mut self,
        failure: &Failure<B::Error>,
        m: &Migration<B::Step>,
        job: Job,
        before: &Recorded,
        after: Result<Recorded, B::Error>,
        restored: Option<Result<Restored, B::Error>>,
        rolled_back_itself: bool,
    ) -> String {
        let backup = self.backup.clone();
        let rerun = Rerun {
            op: self.op,
            set: self.registry.set(),
            before,
            after: after.as_ref().ok(),
            seq: m.seq,
            all_sets_restored: matches!(&restored, Some(Ok(r)) if r.all_sets),
        }
        .command();
        match (&restored, after) {
            (Some(Ok(r)), after) => outcome::restored(before, after.ok().as_ref(), r, &rerun),
            (Some(Err(e)), _) => {
                outcome::restore_failed(self.backup_to_restore(m).or(backup).as_deref(), e)
            }
            (None, Ok(after)) => {
                if let Some(text) = self.backend.explain_failure(
                    &failure.error,
                    before,
                    &after,
                    &rerun,
                    rolled_back_itself,
                    backup.as_deref(),
                ) {
                    return text;
                }
                let mut text = outcome::describe(
                    before,
                    &after,
                    m,
                    job,
                    &rerun,
                    failure.transaction_lost,
                    self.chunks_committed > 0,
                    backup.as_deref(),
                    &self.backend.no_backup_reason(),
                );
                if let Some(flag) = self.backend.override_flag(&failure.error)
                    && m.mode == TxMode::Transactional
                {
                    text.push_str(&format!(
                        " If the migration means to do that, allow it for this run: \
                         `{rerun} {flag}`."
                    ));
                }
                if let Some(backup) = &backup {
                    text.push_str(&format!(
                        " The pre-migration backup is kept at {}.",
                        backup.display()
                    ));
                }
                text
            }
            (None, Err(e)) => format!(
                "The runner could not read back what was kept ({e}); check `migrate status` \
                 before doing anything else."
            ),
        }
    }

    /// Restores the pre-migration backup (or, under `KeepApplied`, the one taken just before
    /// the failing migration) after a failure a rollback could not undo.
    fn restore_after_failure(&mut self, m: &Migration<B::Step>) -> Result<Restored, B::Error> {
        let just_before_it = self.restore_point_of(m).is_some();
        let Some(from) = self.backup_to_restore(m) else {
            return Err(Refusal::NoBackup {
                why: self.backend.no_backup_reason(),
            }
            .into());
        };
        self.rollback_all();
        let all_sets = !just_before_it && self.backend.backup_shared_by_sets(&from);
        let failed_state = self.backend.restore(&from)?;
        Ok(Restored {
            from,
            failed_state,
            just_before_it,
            all_sets,
        })
    }

    /// The backup taken just before `m` (under `KeepApplied`), if one was.
    fn restore_point_of(&self, m: &Migration<B::Step>) -> Option<PathBuf> {
        self.restore_point
            .clone()
            .filter(|(seq, _)| *seq == m.seq)
            .map(|(_, path)| path)
    }

    /// What undoes a failure of `m` that a rollback cannot: the backup taken just before it,
    /// or else the pre-migration backup.
    fn backup_to_restore(&self, m: &Migration<B::Step>) -> Option<PathBuf> {
        self.restore_point_of(m).or_else(|| self.backup.clone())
    }

    /// A commit failed (`seq`: the migration the run was at): what it held was rolled back;
    /// say so from what is recorded, with the command that finishes the run.
    pub(super) fn commit_failed(
        &mut self,
        error: B::Error,
        before: &Recorded,
        seq: u64,
    ) -> B::Error {
        let after = self
            .backend
            .read_rows(self.registry.set())
            .map(Recorded::new);
        let rerun = Rerun {
            op: self.op,
            set: self.registry.set(),
            before,
            after: after.as_ref().ok(),
            seq,
            all_sets_restored: false,
        }
        .command();
        let mut kept = match after {
            Ok(after) => outcome::kept_summary(before, &after),
            Err(e) => format!(
                "The runner could not read back what was kept ({e}); check `migrate status`."
            ),
        };
        if let Some(backup) = &self.backup {
            kept.push_str(&format!(
                " The backup taken before this run is kept at {}.",
                backup.display()
            ));
        }
        self.backend.commit_failed(error, kept, &rerun)
    }

    /// Records a failure in a transaction of its own, when the runner's transaction is gone.
    fn record_failure_alone(
        &mut self,
        m: &Migration<B::Step>,
        job: Job,
        detail: &str,
    ) -> Result<(), B::Error> {
        self.rollback_all();
        self.history(self.failure_event(m, job, detail));
        let recorded = self
            .backend
            .begin()
            .and_then(|()| self.backend.ensure_tracking())
            .and_then(|()| self.flush_history())
            .and_then(|()| self.backend.commit("recording the failure"));
        if let Err(e) = &recorded {
            log::error!("cannot record the failure of {}: {e}", m.label());
            self.rollback_all();
        }
        recorded
    }

    fn failure_event(&self, m: &Migration<B::Step>, job: Job, detail: &str) -> HistoryEvent {
        HistoryEvent {
            seq: Some(m.seq),
            name: Some(m.name.clone()),
            action: job.direction.to_string(),
            outcome: "failed".into(),
            detail: Some(detail.to_owned()),
            ..self.event()
        }
    }
}
