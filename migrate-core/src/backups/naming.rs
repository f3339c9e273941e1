//! Backup file names: `<db stem>.<UTC timestamp>.<reason>.<extension>`, e.g.
//! `app.20261122T104914.123Z.pre-up.db` or `app.20261122T104914.123Z.snapshot.before-v2.dump`.
//! They sort by time, carry the database and the reason, and are parsed back for listing.
//! Files being written start with `.` and end with `.tmp`: nothing lists them as backups.

use super::kind::{BackupKind, FAILED_STATE, MANUAL};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The final file name of a backup of database `stem` taken at `at`, ending in `.{extension}`
/// (`db` for SQLite, `dump` for PostgreSQL).
///
/// ```
/// use migrate_core::backups::{BackupKind, file_name};
/// use std::time::{Duration, UNIX_EPOCH};
/// let at = UNIX_EPOCH + Duration::from_millis(1_795_344_554_123);
/// let kind = BackupKind::Automatic { reason: "pre-up".into() };
/// assert_eq!(file_name("app", at, &kind, "db"), "app.20261122T104914.123Z.pre-up.db");
/// ```
pub fn file_name(stem: &str, at: SystemTime, kind: &BackupKind, extension: &str) -> String {
    format!("{stem}.{}.{}.{extension}", timestamp(at), kind.label())
}

/// The name part of a database's backups: the name itself when it is file-name safe (ASCII
/// letters, digits, `-` and `_`), otherwise the safe version followed by `~` and a hash of the
/// exact name. `~` never appears in a name kept as it is, so two names never share a stem
/// (`app.x` and `app_x` did in [`legacy_stem`]), and no name escapes the backup directory.
///
/// ```
/// use migrate_core::backups::stem;
/// assert_eq!(stem("app_x"), "app_x");
/// assert!(stem("app.x").starts_with("app_x~"));
/// assert_ne!(stem("app.x"), stem("app x"));
/// assert!(!stem("../etc").contains('/'));
/// ```
pub fn stem(name: &str) -> String {
    let safe = legacy_stem(name);
    if safe == name {
        return safe;
    }
    let mut hasher = crate::ChecksumHasher::new();
    hasher.write(name.as_bytes());
    format!("{safe}~{:016x}", hasher.finish().value())
}

/// The stem of backups written before [`stem`] was injective: anything but ASCII letters,
/// digits, `-` and `_` replaced by `_` (`database` for an empty name). Read when listing,
/// so older backups stay listed and restorable; never written.
///
/// ```
/// assert_eq!(migrate_core::backups::legacy_stem("app.x"), "app_x");
/// ```
pub fn legacy_stem(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() {
        "database".to_owned()
    } else {
        safe
    }
}

/// The name a backup has while it is being written: hidden, with this process's id, never
/// parsed as a backup.
///
/// ```
/// let temp = migrate_core::backups::temp_name("app.20261122T104914.123Z.pre-up.db");
/// assert!(temp.starts_with(".app.") && temp.ends_with(".tmp"));
/// ```
pub fn temp_name(final_name: &str) -> String {
    format!(".{final_name}.{}.tmp", std::process::id())
}

/// Parses a file name made by [`file_name`] for database `stem` and `extension`:
/// (timestamp, kind). Temp files, other databases' backups and other files give `None`.
///
/// ```
/// use migrate_core::backups::{BackupKind, parse};
/// let (at, kind) = parse("app", "db", "app.20261122T104914.123Z.manual.db").unwrap();
/// assert_eq!((at.as_str(), kind), ("20261122T104914.123Z", BackupKind::Manual));
/// assert_eq!(parse("app", "db", "app.20261122T104914.123Z.manual.dump"), None);
/// ```
pub fn parse(stem: &str, extension: &str, file_name: &str) -> Option<(String, BackupKind)> {
    let rest = file_name.strip_prefix(stem)?.strip_prefix('.')?;
    let rest = rest.strip_suffix(extension)?.strip_suffix('.')?;
    let (stamp, label) = rest.split_once('.').and_then(|(date, rest)| {
        // The timestamp itself holds one dot (before the milliseconds).
        let (millis, label) = rest.split_once('.')?;
        Some((format!("{date}.{millis}"), label))
    })?;
    if !looks_like_timestamp(&stamp) {
        return None;
    }
    let kind = match label.strip_prefix("snapshot.") {
        Some(name) if validate_snapshot_name(name).is_ok() => BackupKind::Snapshot {
            name: name.to_owned(),
        },
        Some(_) => return None,
        None if label == FAILED_STATE => BackupKind::FailedState,
        None if label == MANUAL => BackupKind::Manual,
        None if !label.is_empty() && label.chars().all(|c| c.is_ascii_lowercase() || c == '-') => {
            BackupKind::Automatic {
                reason: label.to_owned(),
            }
        }
        None => return None,
    };
    Some((stamp, kind))
}

/// Snapshot names are file-name safe by construction: ASCII letters, digits, `-` and `_`,
/// 1 to 64 characters, not starting with `-`. No separators, dots, `..`, hidden or empty names,
/// so no name can escape the backup directory.
///
/// ```
/// use migrate_core::backups::validate_snapshot_name;
/// assert!(validate_snapshot_name("before-v2").is_ok());
/// assert!(validate_snapshot_name("../etc").is_err());
/// ```
pub fn validate_snapshot_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a snapshot name cannot be empty".into());
    }
    if name.len() > 64 {
        return Err(format!(
            "snapshot name {name:?} is longer than 64 characters"
        ));
    }
    if name.starts_with('-') {
        return Err(format!("snapshot name {name:?} cannot start with '-'"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "snapshot name {name:?} contains {bad:?}; use only ASCII letters, digits, '-' and '_'"
        ));
    }
    Ok(())
}

/// `20261122T104914.123Z` (UTC): sorts by time as text.
///
/// ```
/// assert_eq!(migrate_core::backups::timestamp(std::time::UNIX_EPOCH), "19700101T000000.000Z");
/// ```
pub fn timestamp(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// An age as the command line writes it: `30d`, `12h`, `15m` or `90s` (the largest unit that
/// divides it).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(migrate_core::backups::age_text(Duration::from_secs(7 * 86_400)), "7d");
/// ```
pub fn age_text(age: Duration) -> String {
    let secs = age.as_secs();
    match secs {
        0 => "0s".to_owned(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The time in a timestamp made by [`timestamp`]; `None` for any other text.
///
/// ```
/// use migrate_core::backups::{parse_timestamp, timestamp};
/// assert_eq!(parse_timestamp(&timestamp(std::time::UNIX_EPOCH)), Some(std::time::UNIX_EPOCH));
/// assert_eq!(parse_timestamp("yesterday"), None);
/// ```
pub fn parse_timestamp(s: &str) -> Option<SystemTime> {
    if !looks_like_timestamp(s) {
        return None;
    }
    let num = |range: std::ops::Range<usize>| s.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hour, minute, second, millis) = (num(9..11)?, num(11..13)?, num(13..15)?, num(16..19)?);
    let days = days_from_civil(year, month as u32, day as u32);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis as u64))
}

/// (year, month, day) to days since 1970-01-01 (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b[8] == b'T'
        && b[15] == b'.'
        && b[19] == b'Z'
        && b.iter()
            .enumerate()
            .all(|(i, c)| matches!(i, 8 | 15 | 19) || c.is_ascii_digit())
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_and_sortable() {
        assert_eq!(timestamp(UNIX_EPOCH), "19700101T000000.000Z");
        let at = UNIX_EPOCH + Duration::from_millis(1_795_344_554_123); // 2026-11-22 10:49:14.123
        assert_eq!(timestamp(at), "20261122T104914.123Z");
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(parse_timestamp("20261122T104914.123Z"), Some(at));
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
    }

    #[test]
    fn names_round_trip() {
        let at = UNIX_EPOCH + Duration::from_millis(1_795_344_554_123);
        let auto = BackupKind::Automatic {
            reason: "pre-up".into(),
        };
        let name = file_name("app", at, &auto, "db");
        assert_eq!(name, "app.20261122T104914.123Z.pre-up.db");
        assert_eq!(
            parse("app", "db", &name),
            Some(("20261122T104914.123Z".into(), auto))
        );
        let snap = BackupKind::Snapshot {
            name: "before_v2".into(),
        };
        let name = file_name("app", at, &snap, "db");
        assert_eq!(parse("app", "db", &name).unwrap().1, snap);
        assert_eq!(parse("other", "db", &name), None);
        assert_eq!(parse("app", "db", &temp_name(&name)), None);
        let name = file_name("app", at, &BackupKind::Manual, "db");
        assert_eq!(name, "app.20261122T104914.123Z.manual.db");
        assert_eq!(parse("app", "db", &name).unwrap().1, BackupKind::Manual);
    }

    #[test]
    fn stems_are_injective_and_safe() {
        let names = [
            "app.x", "app_x", "app x", "app/x", "", "database", "app~x", "é",
        ];
        let stems: Vec<String> = names.iter().map(|n| stem(n)).collect();
        for (i, a) in stems.iter().enumerate() {
            assert!(
                a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '~')),
                "{a}"
            );
            for b in &stems[i + 1..] {
                assert_ne!(a, b, "{names:?}");
            }
        }
        // A safe name that only looks like a hashed stem keeps no `~`.
        assert_eq!(stem("app_x-0123456789abcdef"), "app_x-0123456789abcdef");
    }

    #[test]
    fn escaping_snapshot_names_are_refused() {
        for bad in [
            "",
            "..",
            "../x",
            "a/b",
            "a\\b",
            ".hidden",
            "-rf",
            "a.b",
            "x y",
            "é",
            &"a".repeat(65),
        ] {
            assert!(validate_snapshot_name(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["v2", "before-deploy", "pre_2026_11_22", "A1"] {
            assert!(validate_snapshot_name(good).is_ok(), "{good:?} refused");
        }
    }
}
