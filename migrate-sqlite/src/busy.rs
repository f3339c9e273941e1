//! SQLITE_BUSY, wherever it comes from, as the "stayed locked" error: the busy handler already
//! waited the configured timeout, so the message says who held the database and what to do.

use crate::Error;
use rusqlite::ErrorCode;
use std::time::Duration;

/// Who keeps readers out (a write being committed, or `BEGIN EXCLUSIVE`).
pub const WRITER: &str = "another connection held it for writing (a commit in progress or \
                          `BEGIN EXCLUSIVE`, in rollback-journal mode readers must wait for it)";

/// Who keeps a commit waiting.
pub const READERS: &str = "other connections were still reading (in rollback-journal mode a \
                           commit waits until every open read has finished: a long query, or \
                           a statement of the app that was never finished or reset)";

/// True when `e`, or any error it wraps, is SQLite's SQLITE_BUSY (or the lock timeout).
pub fn is_busy(e: &Error) -> bool {
    matches!(e, Error::Locked { .. } | Error::Busy { .. })
        || crate::sqlite_codes::has_code(e, ErrorCode::DatabaseBusy)
}

/// `e` as [`Error::Busy`] when it is a bare SQLITE_BUSY of an operation that wrote nothing;
/// any other error unchanged.
pub fn explain(e: Error, path: &str, waited: Duration, doing: &str, held_by: &str) -> Error {
    let bare = match &e {
        Error::Sql(sql) | Error::Runner { error: sql, .. } => {
            sql.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
        }
        _ => false,
    };
    if !bare {
        return e;
    }
    Error::Busy {
        path: path.to_owned(),
        waited_ms: waited.as_millis() as u64,
        doing: doing.to_owned(),
        held_by: held_by.to_owned(),
        outcome: "Nothing was changed.".to_owned(),
    }
}
