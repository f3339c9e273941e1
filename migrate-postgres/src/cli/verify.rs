//! `verify` on PostgreSQL: every migration applied with its recorded checksum, no schema drift
//! (the catalog fingerprint), and no INVALID index (what a failed `CREATE INDEX CONCURRENTLY`
//! leaves, and a rerun with `IF NOT EXISTS` silently skips), and, with a backup directory,
//! every backup's bytes against the SHA-256 recorded when it was written. Reads only.

use crate::{Result, Session};
use migrate_core::cli::{EXIT_OK, EXIT_REFUSED, Rendered, output};

/// The findings, one per line (`problem: ...`), or one `ok` line; exit 3 on any. Under
/// `--json`: `{"ok", "problems": [..], "invalid_indexes": [..], "status"}`.
pub(super) fn verify(session: &mut Session, json: bool) -> Result<Rendered> {
    let status = session.status()?;
    let mut problems = output::status_problems(&status);
    let invalid = session.connection().invalid_indexes()?;
    let conninfo = session.connection().conninfo();
    for index in &invalid {
        let drop = format!("DROP INDEX CONCURRENTLY IF EXISTS {index}");
        problems.push(format!(
            "index {index} is INVALID (left by a failed CREATE INDEX CONCURRENTLY; a rerun with \
             IF NOT EXISTS would skip it): drop it with `{}`, then run `migrate up` again",
            crate::connection_target::psql_command(&conninfo, &drop)
        ));
    }
    let damaged = damaged_backups(session);
    problems.extend(damaged.iter().cloned());
    let code = if problems.is_empty() {
        EXIT_OK
    } else {
        EXIT_REFUSED
    };
    let text = if problems.is_empty() {
        format!(
            "ok: {} migrations applied, checksums match, no drift, no invalid indexes",
            status.lines.len()
        )
    } else {
        problems
            .iter()
            .map(|p| format!("problem: {p}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    if !json {
        return Ok(Rendered {
            text,
            json: None,
            code,
        });
    }
    let document = serde_json::json!({
        "ok": problems.is_empty(),
        "problems": problems,
        "invalid_indexes": invalid,
        "damaged_backups": damaged,
        "status": status,
    });
    Ok(Rendered::new(text, &document, code))
}

/// One problem per backup whose bytes changed since it was written (what the restore would
/// refuse), naming the newest intact backup; none without a backup directory.
fn damaged_backups(session: &Session) -> Vec<String> {
    let Ok(store) = session.store() else {
        return Vec::new();
    };
    let all = match store.list() {
        Ok(all) => all,
        Err(e) => return vec![format!("the backups cannot be listed: {e}")],
    };
    all.iter()
        .filter_map(|b| match store.check_checksum(&b.path) {
            Ok(()) => None,
            Err(e) => Some(e.to_string()),
        })
        .collect()
}
