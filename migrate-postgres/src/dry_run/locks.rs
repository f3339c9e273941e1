//! PostgreSQL's table lock modes, weakest to strongest, as an operator reads them.

use std::fmt;

/// A table lock mode (`pg_locks.mode`), ordered from weakest to strongest.
///
/// ```
/// use migrate_postgres::LockMode;
/// assert_eq!(LockMode::parse("AccessExclusiveLock"), Some(LockMode::AccessExclusive));
/// assert_eq!(LockMode::Share.to_string(), "SHARE");
/// assert!(LockMode::AccessExclusive > LockMode::Share);
/// assert!(LockMode::Share.blocks_writes() && !LockMode::Share.blocks_reads());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockMode {
    /// `SELECT`: conflicts only with ACCESS EXCLUSIVE.
    AccessShare,
    /// `SELECT ... FOR UPDATE/SHARE`.
    RowShare,
    /// `INSERT`, `UPDATE`, `DELETE`.
    RowExclusive,
    /// `VACUUM`, `CREATE INDEX CONCURRENTLY`, `VALIDATE CONSTRAINT`, some `ALTER TABLE`s:
    /// reads and writes go on.
    ShareUpdateExclusive,
    /// `CREATE INDEX`: blocks writes.
    Share,
    /// `CREATE TRIGGER`, `ADD FOREIGN KEY`: blocks writes.
    ShareRowExclusive,
    /// `REFRESH MATERIALIZED VIEW CONCURRENTLY`: blocks writes and `FOR UPDATE` reads.
    Exclusive,
    /// Most `ALTER TABLE`s, `DROP`, `TRUNCATE`: blocks every read and write.
    AccessExclusive,
}

impl LockMode {
    /// The mode named as `pg_locks.mode` names it (`ShareLock`...).
    ///
    /// ```
    /// assert_eq!(migrate_postgres::LockMode::parse("SIReadLock"), None);
    /// ```
    pub fn parse(mode: &str) -> Option<LockMode> {
        Some(match mode {
            "AccessShareLock" => LockMode::AccessShare,
            "RowShareLock" => LockMode::RowShare,
            "RowExclusiveLock" => LockMode::RowExclusive,
            "ShareUpdateExclusiveLock" => LockMode::ShareUpdateExclusive,
            "ShareLock" => LockMode::Share,
            "ShareRowExclusiveLock" => LockMode::ShareRowExclusive,
            "ExclusiveLock" => LockMode::Exclusive,
            "AccessExclusiveLock" => LockMode::AccessExclusive,
            _ => return None,
        })
    }

    /// The name `pg_locks` uses (`AccessExclusiveLock`).
    ///
    /// ```
    /// assert_eq!(migrate_postgres::LockMode::Share.pg_name(), "ShareLock");
    /// ```
    pub fn pg_name(self) -> &'static str {
        match self {
            LockMode::AccessShare => "AccessShareLock",
            LockMode::RowShare => "RowShareLock",
            LockMode::RowExclusive => "RowExclusiveLock",
            LockMode::ShareUpdateExclusive => "ShareUpdateExclusiveLock",
            LockMode::Share => "ShareLock",
            LockMode::ShareRowExclusive => "ShareRowExclusiveLock",
            LockMode::Exclusive => "ExclusiveLock",
            LockMode::AccessExclusive => "AccessExclusiveLock",
        }
    }

    /// True when other sessions' `SELECT`s wait for it.
    ///
    /// ```
    /// assert!(migrate_postgres::LockMode::AccessExclusive.blocks_reads());
    /// ```
    pub fn blocks_reads(self) -> bool {
        self == LockMode::AccessExclusive
    }

    /// True when other sessions' `INSERT`/`UPDATE`/`DELETE`s wait for it.
    ///
    /// ```
    /// assert!(!migrate_postgres::LockMode::ShareUpdateExclusive.blocks_writes());
    /// ```
    pub fn blocks_writes(self) -> bool {
        self >= LockMode::Share
    }

    /// What other sessions meet while it is held.
    ///
    /// ```
    /// assert_eq!(migrate_postgres::LockMode::Share.effect(), "blocks writes");
    /// ```
    pub fn effect(self) -> &'static str {
        if self.blocks_reads() {
            "blocks reads and writes"
        } else if self.blocks_writes() {
            "blocks writes"
        } else {
            "blocks only schema changes"
        }
    }
}

/// The SQL words: `ACCESS EXCLUSIVE`, `SHARE`...
impl fmt::Display for LockMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LockMode::AccessShare => "ACCESS SHARE",
            LockMode::RowShare => "ROW SHARE",
            LockMode::RowExclusive => "ROW EXCLUSIVE",
            LockMode::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            LockMode::Share => "SHARE",
            LockMode::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            LockMode::Exclusive => "EXCLUSIVE",
            LockMode::AccessExclusive => "ACCESS EXCLUSIVE",
        })
    }
}
