//! Which SQLite error an error of this crate carries, looked for through every wrapper: the
//! runner's decisions (restore or not, which exit code, which advice) depend on it.

use crate::Error;
use rusqlite::ErrorCode;

/// True when `e`, or any error it wraps, is the SQLite error `code`.
pub fn has_code(e: &Error, code: ErrorCode) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        // `Sql`, `Runner` and `Open` hold SQLite's error in their message, not in `source()`.
        let sql = match err.downcast_ref::<Error>() {
            Some(
                Error::Sql(sql) | Error::Runner { error: sql, .. } | Error::Open { error: sql, .. },
            ) => Some(sql),
            _ => err.downcast_ref::<rusqlite::Error>(),
        };
        if sql.is_some_and(|sql| sql.sqlite_error_code() == Some(code)) {
            return true;
        }
        next = err.source();
    }
    false
}

/// Errors after which SQLite may roll the whole transaction back by itself
/// (<https://sqlite.org/lang_transaction.html>, "Response To Errors Within A Transaction").
pub fn rolled_back_by_sqlite(e: &Error) -> bool {
    [
        ErrorCode::DiskFull,
        ErrorCode::SystemIoFailure,
        ErrorCode::OutOfMemory,
    ]
    .into_iter()
    .any(|code| has_code(e, code))
}
