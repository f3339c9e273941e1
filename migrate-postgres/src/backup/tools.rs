//! Finding `pg_dump`, `pg_restore` and `psql` for the server's major version, and starting
//! them with the connection's parameters.
//!
//! pg_dump refuses servers newer than itself, and an older pg_restore cannot read a newer
//! archive, so each tool must be at least the server's major version. Looked for in
//! `/usr/lib/postgresql/<server major>/bin` first (Debian puts every installed major there and
//! only a wrapper on PATH), then on PATH; [`super::Backups::with_tool_dir`] replaces both.

use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The three tools, each checked to be new enough for the server.
#[derive(Clone, Debug)]
pub(crate) struct Tools {
    pub(crate) pg_dump: PathBuf,
    pub(crate) pg_restore: PathBuf,
    pub(crate) psql: PathBuf,
}

/// A major version as PostgreSQL counts them: 15 for 15.18, 906 for 9.6.24.
pub(crate) fn server_major(server_version_num: u32) -> u32 {
    if server_version_num >= 100_000 {
        server_version_num / 10_000
    } else {
        server_version_num / 100
    }
}

/// A major as one ordered number: 15 -> 1500, 9.6 (906) -> 906.
fn comparable(major: u32) -> u32 {
    if major >= 100 { major } else { major * 100 }
}

/// The major version in `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`.
fn tool_major(version_line: &str) -> Option<(u32, String)> {
    let version = version_line
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))?;
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty());
    let first: u32 = parts.next()?.parse().ok()?;
    let major = if first >= 10 {
        first
    } else {
        first * 100 + parts.next()?.parse::<u32>().ok()?
    };
    Some((major, version.to_owned()))
}

/// Where to look, in order.
pub(crate) fn search_dirs(override_dirs: Option<&[PathBuf]>, server_major: u32) -> Vec<PathBuf> {
    if let Some(dirs) = override_dirs {
        return dirs.to_vec();
    }
    let mut dirs = vec![PathBuf::from(format!(
        "/usr/lib/postgresql/{server_major}/bin"
    ))];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs
}

/// Finds all three tools, or says which is missing or too old.
pub(crate) fn find(dirs: &[PathBuf], server_major: u32) -> Result<Tools> {
    Ok(Tools {
        pg_dump: find_one("pg_dump", dirs, server_major)?,
        pg_restore: find_one("pg_restore", dirs, server_major)?,
        psql: find_one("psql", dirs, server_major)?,
    })
}

fn find_one(tool: &'static str, dirs: &[PathBuf], server_major: u32) -> Result<PathBuf> {
    let mut too_old = None;
    for dir in dirs {
        let path = dir.join(tool);
        if !path.is_file() {
            continue;
        }
        let Some((major, version)) = version_of(&path) else {
            log::warn!("{} does not say its version; skipped", path.display());
            continue;
        };
        if comparable(major) >= comparable(server_major) {
            log::debug!("using {} ({version})", path.display());
            return Ok(path);
        }
        too_old.get_or_insert((path, version));
    }
    match too_old {
        Some((path, tool_version)) => Err(Error::BackupToolVersion {
            tool,
            path,
            tool_version,
            server_major,
        }),
        None => Err(Error::BackupToolMissing {
            tool,
            server_major,
            looked_in: dirs.to_vec(),
        }),
    }
}

fn version_of(path: &Path) -> Option<(u32, String)> {
    let out = Command::new(path).arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    tool_major(&String::from_utf8_lossy(&out.stdout))
}

/// `tool` connected like the migration connection: every libpq variable that decides where it
/// connects (host or socket directory, hostaddr, port, user, database, password, TLS mode,
/// options) set from `config` or removed, so nothing inherited sends it elsewhere
/// ([`crate::connection_target::tool_env`]). An environment value is never parsed as a
/// connection string (an argument `-d` is), and the password stays off the command line.
pub(crate) fn connected(tool: &Path, config: &postgres::Config) -> Command {
    let mut cmd = Command::new(tool);
    for (name, value) in crate::connection_target::tool_env(config) {
        match value {
            Some(value) => cmd.env(name, value),
            None => cmd.env_remove(name),
        };
    }
    // Never prompt: a missing password is an error, not a hang.
    cmd.arg("--no-password");
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn versions_parse_like_postgres_counts_majors() {
        assert_eq!(server_major(150_018), 15);
        assert_eq!(server_major(90_624), 906);
        let line = "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n";
        assert_eq!(tool_major(line), Some((15, "15.18".to_owned())));
        assert_eq!(tool_major("pg_dump (PostgreSQL) 9.6.24").unwrap().0, 906);
        assert_eq!(tool_major("psql (PostgreSQL) 17devel").unwrap().0, 17);
        assert_eq!(tool_major("no version here"), None);
        assert!(comparable(906) < comparable(10));
        assert!(comparable(15) > comparable(906));
    }

    #[test]
    fn the_password_goes_to_the_environment_not_the_arguments() {
        let mut config = postgres::Config::new();
        config
            .host("db.example.com")
            .port(6543)
            .user("app")
            .password("s3cret")
            .dbname("shop");
        let cmd = connected(Path::new("/bin/pg_dump"), &config);
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args, ["--no-password"]);
        let env: Vec<_> = cmd.get_envs().collect();
        for (key, value) in [
            ("PGPASSWORD", "s3cret"),
            ("PGHOST", "db.example.com"),
            ("PGPORT", "6543"),
            ("PGUSER", "app"),
            ("PGDATABASE", "shop"),
        ] {
            assert!(
                env.contains(&(OsStr::new(key), Some(OsStr::new(value)))),
                "{key}"
            );
        }
        // What the config does not name is removed, not inherited from this process.
        for removed in ["PGHOSTADDR", "PGSERVICE", "PGOPTIONS"] {
            assert!(env.contains(&(OsStr::new(removed), None)), "{removed}");
        }
    }
}
