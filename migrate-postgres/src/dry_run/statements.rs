//! The SQL a migration sends through its [`Tx`](crate::Tx), as sent: what a dry run reports.

use postgres::types::ToSql;
use std::sync::{Arc, Mutex, PoisonError};

/// A shared list of statements; [`Tx`](crate::Tx) appends to it when it has one.
#[derive(Clone, Debug, Default)]
pub(crate) struct StatementLog(Arc<Mutex<Vec<String>>>);

impl StatementLog {
    /// Appends the statements of `sql` (a multi-statement text is listed statement by
    /// statement, as [`split_statements`](crate::split_statements) cuts it).
    pub(crate) fn text(&self, sql: &str) {
        let mut list = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        list.extend(crate::split_statements(sql).into_iter().map(str::to_owned));
    }

    /// Appends one statement with its parameters, shown after it as a comment.
    pub(crate) fn with_params(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) {
        let mut line = sql.trim().trim_end_matches(';').trim_end().to_owned();
        if !params.is_empty() {
            let shown: Vec<String> = params
                .iter()
                .enumerate()
                .map(|(i, p)| format!("${} = {p:?}", i + 1))
                .collect();
            line.push_str(&format!(" -- {}", shown.join(", ")));
        }
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line);
    }

    /// Everything recorded since the last call, emptied.
    pub(crate) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_listed_statement_by_statement_and_parameters_follow_as_a_comment() {
        let log = StatementLog::default();
        log.text("CREATE TABLE a (id int); INSERT INTO a VALUES (1);");
        log.with_params("UPDATE a SET id = $1;", &[&2_i32]);
        assert_eq!(
            log.take(),
            [
                "CREATE TABLE a (id int)",
                "INSERT INTO a VALUES (1)",
                "UPDATE a SET id = $1 -- $1 = 2"
            ]
        );
        assert!(log.take().is_empty());
    }
}
