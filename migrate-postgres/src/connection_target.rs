//! Where a connection goes, in the forms other programs take: the environment of the client
//! tools (`pg_dump`, `pg_restore`, `psql`, which are libpq programs) and the `psql` command an
//! error message prints. Both come from the `postgres::Config` the migration connection used,
//! so a URL (`postgresql://app@/shop?host=/run/postgresql`), a `key=value` string or a
//! hand-built config reaches the same server, port, role and database in the tools as in the
//! client.
//!
//! Several hosts: the client tries them in order (shuffled with `load_balance_hosts=random`)
//! and keeps the first that answers. [`Connection`](crate::Connection) connects host by host
//! itself and keeps the config of the host that answered ([`connect_first`]), so the backup
//! tools dump and restore that very server, never another one of the list.

use postgres::config::{ChannelBinding, Host, LoadBalanceHosts, SslMode, SslNegotiation};
use postgres::config::{Config, TargetSessionAttrs};
use std::ffi::OsString;
use std::hash::{BuildHasher, Hasher};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// The port the client uses when the config names none.
const DEFAULT_PORT: u16 = 5432;

/// The tools' environment: every libpq variable that decides where a tool connects and how it
/// logs in, with its value from the config, or `None` to remove it, so that nothing inherited
/// from the caller's environment (a `PGPORT` in a deploy script, a `PGSERVICE`) sends a tool
/// elsewhere than the client. The password goes here (`PGPASSWORD`), never on a command line,
/// where `ps` shows it.
pub(crate) fn tool_env(config: &Config) -> Vec<(&'static str, Option<OsString>)> {
    let text = |s: &str| Some(OsString::from(s));
    let hosts = config.get_hosts();
    let addrs = config.get_hostaddrs();
    // In the order of the tests' ROUTING_ENV, which holds them to it so none is forgotten.
    vec![
        (
            "PGHOST",
            (!hosts.is_empty()).then(|| join_os(hosts.iter().map(host_os))),
        ),
        (
            "PGHOSTADDR",
            (!addrs.is_empty()).then(|| join_os(addrs.iter().map(|a| a.to_string().into()))),
        ),
        ("PGPORT", text(&ports(config))),
        ("PGUSER", config.get_user().and_then(text)),
        ("PGDATABASE", config.get_dbname().and_then(text)),
        (
            "PGPASSWORD",
            config
                .get_password()
                .map(|p| OsString::from_vec(p.to_vec())),
        ),
        ("PGOPTIONS", config.get_options().and_then(text)),
        ("PGSERVICE", None),
        ("PGSSLMODE", text(ssl_mode(config.get_ssl_mode()))),
        ("PGREQUIRESSL", None),
        (
            "PGSSLNEGOTIATION",
            (config.get_ssl_negotiation() == SslNegotiation::Direct).then(|| "direct".into()),
        ),
        // The client never uses GSSAPI encryption; a ticket in the environment must not make
        // the tools log in another way.
        ("PGGSSENCMODE", text("disable")),
        (
            "PGCHANNELBINDING",
            text(match config.get_channel_binding() {
                ChannelBinding::Disable => "disable",
                ChannelBinding::Require => "require",
                _ => "prefer",
            }),
        ),
        (
            "PGTARGETSESSIONATTRS",
            text(match config.get_target_session_attrs() {
                TargetSessionAttrs::ReadWrite => "read-write",
                TargetSessionAttrs::ReadOnly => "read-only",
                _ => "any",
            }),
        ),
        (
            "PGLOADBALANCEHOSTS",
            text(match config.get_load_balance_hosts() {
                LoadBalanceHosts::Random => "random",
                _ => "disable",
            }),
        ),
        ("PGREQUIREAUTH", None),
        (
            "PGCONNECT_TIMEOUT",
            config
                .get_connect_timeout()
                .map(|t| t.as_secs().max(1).to_string().into()),
        ),
        ("PGAPPNAME", text("migrate-backup")),
    ]
}

/// `host=... port=... user=... dbname=...` as libpq reads it (values with spaces, quotes or
/// backslashes quoted), for a `psql` a message prints. Never the password: psql asks for it
/// or reads `~/.pgpass`.
pub(crate) fn conninfo(config: &Config) -> String {
    let mut parts = Vec::new();
    let hosts = config.get_hosts();
    if !hosts.is_empty() {
        let joined = join_os(hosts.iter().map(host_os));
        parts.push(("host", joined.to_string_lossy().into_owned()));
    }
    let addrs = config.get_hostaddrs();
    if !addrs.is_empty() {
        let joined: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
        parts.push(("hostaddr", joined.join(",")));
    }
    parts.push(("port", ports(config)));
    if let Some(user) = config.get_user() {
        parts.push(("user", user.to_owned()));
    }
    if let Some(dbname) = config.get_dbname() {
        parts.push(("dbname", dbname.to_owned()));
    }
    if config.get_ssl_mode() == SslMode::Require {
        parts.push(("sslmode", "require".to_owned()));
    }
    parts
        .iter()
        .map(|(key, value)| format!("{key}={}", conninfo_value(value)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `psql '<conninfo>' -c '<sql>'`, quoted for a POSIX shell: it runs as printed.
///
/// ```text
/// psql 'host=/run/postgresql port=5432 user=app dbname=shop' -c 'SELECT pg_terminate_backend(42)'
/// ```
pub(crate) fn psql_command(conninfo: &str, sql: &str) -> String {
    format!("psql {} -c {}", shell_quote(conninfo), shell_quote(sql))
}

/// `text` as one word of a POSIX shell: bare when harmless, else double quotes when nothing in
/// it is special there, else single quotes.
pub(crate) fn shell_quote(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:@%,=".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_owned()
    } else if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains(['"', '$', '`', '\\', '!']) {
        format!("\"{text}\"")
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// Connects to the hosts of `config` one at a time, in the client's order, and returns the
/// client with the config of the host that answered (one host, its hostaddr and port), or the
/// last error. `connect` receives each one-host config.
pub(crate) fn connect_first<C, E>(
    config: &Config,
    mut connect: impl FnMut(&Config) -> Result<C, E>,
) -> Result<(C, Config), E> {
    let count = config.get_hosts().len().max(config.get_hostaddrs().len());
    if count <= 1 {
        return connect(config).map(|client| (client, config.clone()));
    }
    let mut order: Vec<usize> = (0..count).collect();
    if config.get_load_balance_hosts() == LoadBalanceHosts::Random {
        shuffle(&mut order);
    }
    let mut last = None;
    for i in order {
        let one = single_host(config, i);
        match connect(&one) {
            Ok(client) => return Ok((client, one)),
            Err(e) => {
                log::info!("host {} of {count} did not answer; trying the next", i + 1);
                last = Some(e);
            }
        }
    }
    match last {
        Some(e) => Err(e),
        // Not reached: the loop tried at least two hosts.
        None => connect(config).map(|client| (client, config.clone())),
    }
}

/// The config with host `i` only (its hostaddr and port: the port list is per host, one port
/// applies to all), every other setting kept.
pub(crate) fn single_host(config: &Config, i: usize) -> Config {
    let mut one = Config::new();
    if let Some(host) = config.get_hosts().get(i) {
        match host {
            Host::Tcp(name) => one.host(name),
            Host::Unix(path) => one.host_path(path),
        };
    }
    if let Some(addr) = config.get_hostaddrs().get(i) {
        one.hostaddr(*addr);
    }
    let ports = config.get_ports();
    if let Some(port) = ports.get(i).or(ports.first()) {
        one.port(*port);
    }
    if let Some(user) = config.get_user() {
        one.user(user);
    }
    if let Some(password) = config.get_password() {
        one.password(password);
    }
    if let Some(dbname) = config.get_dbname() {
        one.dbname(dbname);
    }
    if let Some(options) = config.get_options() {
        one.options(options);
    }
    if let Some(name) = config.get_application_name() {
        one.application_name(name);
    }
    if let Some(timeout) = config.get_connect_timeout() {
        one.connect_timeout(*timeout);
    }
    if let Some(timeout) = config.get_tcp_user_timeout() {
        one.tcp_user_timeout(*timeout);
    }
    one.ssl_mode(config.get_ssl_mode())
        .ssl_negotiation(config.get_ssl_negotiation())
        .keepalives(config.get_keepalives())
        .keepalives_idle(config.get_keepalives_idle())
        .target_session_attrs(config.get_target_session_attrs())
        .channel_binding(config.get_channel_binding())
        .load_balance_hosts(config.get_load_balance_hosts());
    if let Some(interval) = config.get_keepalives_interval() {
        one.keepalives_interval(interval);
    }
    if let Some(retries) = config.get_keepalives_retries() {
        one.keepalives_retries(retries);
    }
    one
}

/// The ports as libpq takes them (`5432` when none is named, the client's default).
fn ports(config: &Config) -> String {
    let ports = config.get_ports();
    if ports.is_empty() {
        return DEFAULT_PORT.to_string();
    }
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn ssl_mode(mode: SslMode) -> &'static str {
    match mode {
        SslMode::Disable => "disable",
        SslMode::Require => "require",
        _ => "prefer",
    }
}

fn host_os(host: &Host) -> OsString {
    match host {
        Host::Tcp(name) => name.into(),
        Host::Unix(path) => path.as_os_str().to_owned(),
    }
}

fn join_os(parts: impl Iterator<Item = OsString>) -> OsString {
    let mut joined = Vec::new();
    for (i, part) in parts.enumerate() {
        if i > 0 {
            joined.push(b',');
        }
        joined.extend_from_slice(part.as_bytes());
    }
    OsString::from_vec(joined)
}

/// A conninfo value: bare, or single-quoted with `\` and `'` escaped.
fn conninfo_value(value: &str) -> String {
    if !value.is_empty() && !value.contains([' ', '\'', '\\', '\t', '\n']) {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

/// Fisher-Yates with the standard library's per-process random hash keys as the source.
fn shuffle(order: &mut [usize]) {
    let state = std::collections::hash_map::RandomState::new();
    for i in (1..order.len()).rev() {
        let mut hasher = state.build_hasher();
        hasher.write_usize(i);
        let j = (hasher.finish() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    /// Every libpq environment variable that decides where a tool connects and how it logs in.
    const ROUTING_ENV: &[&str] = &[
        "PGHOST",
        "PGHOSTADDR",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGPASSWORD",
        "PGOPTIONS",
        "PGSERVICE",
        "PGSSLMODE",
        "PGREQUIRESSL",
        "PGSSLNEGOTIATION",
        "PGGSSENCMODE",
        "PGCHANNELBINDING",
        "PGTARGETSESSIONATTRS",
        "PGLOADBALANCEHOSTS",
        "PGREQUIREAUTH",
        "PGCONNECT_TIMEOUT",
        "PGAPPNAME",
    ];

    fn env_of(url: &str) -> Vec<(&'static str, Option<String>)> {
        let config: Config = url.parse().unwrap();
        tool_env(&config)
            .into_iter()
            .map(|(k, v)| (k, v.map(|v| v.to_string_lossy().into_owned())))
            .collect()
    }

    fn get(env: &[(&'static str, Option<String>)], key: &str) -> Option<String> {
        env.iter()
            .find(|(k, _)| *k == key)
            .unwrap_or_else(|| panic!("{key} neither set nor removed"))
            .1
            .clone()
    }

    #[test]
    fn every_routing_variable_is_set_or_removed_never_inherited() {
        for url in [
            "postgresql:///shop?host=/tmp/pg",
            "host=db user=app dbname=shop password=x sslmode=require",
        ] {
            let env = env_of(url);
            let names: Vec<&str> = env.iter().map(|(k, _)| *k).collect();
            assert_eq!(names, ROUTING_ENV, "{url}");
        }
    }

    #[test]
    fn a_socket_directory_in_the_query_reaches_pghost() {
        for (url, host, port, user, db) in [
            (
                "postgresql://app@/shop?host=/tmp/pg",
                "/tmp/pg",
                "5432",
                Some("app"),
                "shop",
            ),
            (
                "postgresql:///shop?host=/tmp/pg&port=5433",
                "/tmp/pg",
                "5433",
                None,
                "shop",
            ),
            (
                "postgres://app@%2Ftmp%2Fpg:6000/shop",
                "/tmp/pg",
                "6000",
                Some("app"),
                "shop",
            ),
            (
                "postgresql:///shop?host=%2Fvar%2Frun%2Fpostgresql&user=app",
                "/var/run/postgresql",
                "5432",
                Some("app"),
                "shop",
            ),
            (
                "host=/tmp/pg port=5433 user=app dbname=shop",
                "/tmp/pg",
                "5433",
                Some("app"),
                "shop",
            ),
        ] {
            let env = env_of(url);
            assert_eq!(get(&env, "PGHOST").as_deref(), Some(host), "{url}");
            assert_eq!(get(&env, "PGPORT").as_deref(), Some(port), "{url}");
            assert_eq!(get(&env, "PGUSER").as_deref(), user, "{url}");
            assert_eq!(get(&env, "PGDATABASE").as_deref(), Some(db), "{url}");
            assert_eq!(get(&env, "PGPASSWORD"), None, "{url}");
        }
    }

    #[test]
    fn several_hosts_keep_their_ports_and_addresses_in_order() {
        let env = env_of("postgresql://app@db1:5433,db2,[::1]:5435/shop");
        assert_eq!(get(&env, "PGHOST").as_deref(), Some("db1,db2,::1"));
        assert_eq!(get(&env, "PGPORT").as_deref(), Some("5433,5432,5435"));
        let env = env_of("host=a,b hostaddr=10.0.0.1,10.0.0.2 port=6000 dbname=x");
        assert_eq!(get(&env, "PGHOST").as_deref(), Some("a,b"));
        assert_eq!(
            get(&env, "PGHOSTADDR").as_deref(),
            Some("10.0.0.1,10.0.0.2")
        );
        assert_eq!(get(&env, "PGPORT").as_deref(), Some("6000"));
        let env = env_of("host=a,b target_session_attrs=read-write load_balance_hosts=random");
        assert_eq!(
            get(&env, "PGTARGETSESSIONATTRS").as_deref(),
            Some("read-write")
        );
        assert_eq!(get(&env, "PGLOADBALANCEHOSTS").as_deref(), Some("random"));
    }

    #[test]
    fn the_password_and_tls_settings_go_to_the_environment() {
        let env = env_of(
            "postgresql://app:s%40cret@db.example.com/shop?sslmode=require&\
             channel_binding=require&connect_timeout=7&options=-c%20search_path%3Dx",
        );
        assert_eq!(get(&env, "PGPASSWORD").as_deref(), Some("s@cret"));
        assert_eq!(get(&env, "PGSSLMODE").as_deref(), Some("require"));
        assert_eq!(get(&env, "PGCHANNELBINDING").as_deref(), Some("require"));
        assert_eq!(get(&env, "PGCONNECT_TIMEOUT").as_deref(), Some("7"));
        assert_eq!(get(&env, "PGOPTIONS").as_deref(), Some("-c search_path=x"));
        assert_eq!(get(&env, "PGSERVICE"), None);
        let env = env_of("host=db sslmode=disable");
        assert_eq!(get(&env, "PGSSLMODE").as_deref(), Some("disable"));
        assert_eq!(get(&env, "PGUSER"), None);
        assert_eq!(get(&env, "PGDATABASE"), None);
    }

    #[test]
    fn conninfo_quotes_what_libpq_would_split_and_never_has_the_password() {
        let mut config = Config::new();
        config
            .host_path("/tmp/my sockets")
            .port(5433)
            .user("o'brien")
            .password("s3cret")
            .dbname("shop");
        let info = conninfo(&config);
        assert_eq!(
            info,
            r"host='/tmp/my sockets' port=5433 user='o\'brien' dbname=shop"
        );
        assert!(!info.contains("s3cret"));
        let config: Config = "postgresql://app@db1:5433,db2/shop?sslmode=require"
            .parse()
            .unwrap();
        assert_eq!(
            conninfo(&config),
            "host=db1,db2 port=5433,5432 user=app dbname=shop sslmode=require"
        );
        let config: Config = "host=/tmp/pg".parse().unwrap();
        assert_eq!(conninfo(&config), "host=/tmp/pg port=5432");
    }

    #[test]
    fn shell_words_survive_the_shell() {
        assert_eq!(shell_quote("plain/path-1.0"), "plain/path-1.0");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("WHERE d = 't1'"), "\"WHERE d = 't1'\"");
        assert_eq!(shell_quote("it's $HOME"), r"'it'\''s $HOME'");
        assert_eq!(
            psql_command("host=/tmp port=5432", "SELECT 1"),
            "psql 'host=/tmp port=5432' -c 'SELECT 1'"
        );
    }

    #[test]
    fn one_host_of_several_keeps_its_own_port_and_every_setting() {
        let config: Config = "postgresql://app:pw@db1:5433,db2:5434/shop?\
                              target_session_attrs=read-write&connect_timeout=3"
            .parse()
            .unwrap();
        let second = single_host(&config, 1);
        assert_eq!(second.get_hosts(), &[Host::Tcp("db2".into())]);
        assert_eq!(second.get_ports(), &[5434]);
        assert_eq!(second.get_user(), Some("app"));
        assert_eq!(second.get_password(), Some(&b"pw"[..]));
        assert_eq!(second.get_dbname(), Some("shop"));
        assert_eq!(
            second.get_target_session_attrs(),
            TargetSessionAttrs::ReadWrite
        );
        assert_eq!(
            second.get_connect_timeout(),
            Some(&std::time::Duration::from_secs(3))
        );
        let config: Config = "host=/a,/b port=7000".parse().unwrap();
        let second = single_host(&config, 1);
        assert_eq!(second.get_hosts(), &[Host::Unix("/b".into())]);
        assert_eq!(second.get_ports(), &[7000]);
    }

    #[test]
    fn the_first_host_that_answers_is_kept() {
        let config: Config = "host=/a,/b,/c port=1,2,3 dbname=x".parse().unwrap();
        let mut tried = Vec::new();
        let (answer, kept) = connect_first(&config, |one| {
            let host = match &one.get_hosts()[0] {
                Host::Unix(p) => p.clone(),
                Host::Tcp(n) => n.into(),
            };
            tried.push(host.clone());
            if host.as_os_str() == OsStr::new("/b") {
                Ok(one.get_ports()[0])
            } else {
                Err("down")
            }
        })
        .unwrap();
        assert_eq!(answer, 2);
        assert_eq!(
            tried,
            [std::path::Path::new("/a"), std::path::Path::new("/b")]
        );
        assert_eq!(kept.get_hosts(), &[Host::Unix("/b".into())]);
        let err = connect_first(&config, |_| Err::<(), _>("down")).unwrap_err();
        assert_eq!(err, "down");
        let mut order: Vec<usize> = (0..10).collect();
        shuffle(&mut order);
        order.sort_unstable();
        assert_eq!(order, (0..10).collect::<Vec<_>>());
    }
}
