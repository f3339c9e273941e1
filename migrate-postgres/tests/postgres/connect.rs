//! Connecting: a URL or a `postgres::Config`, the engine checked from `version()`, errors that
//! say what to check and never print the password.

use crate::common::db;
use migrate_postgres::{APPLICATION_NAME, Connection, Error, check_engine, testing};

#[test]
fn a_url_connects_and_the_server_is_accepted_as_postgresql() {
    let Some(db) = db() else { return };
    let server = testing::server().unwrap();
    let url = format!(
        "host={} port=5432 user=postgres dbname={}",
        server.socket_dir().display(),
        db.name
    );
    let mut conn = Connection::open(&url).unwrap();
    let version = conn.checked_version().unwrap();
    assert!(version.starts_with("PostgreSQL "), "{version}");
    let name: String = conn
        .client()
        .query_one("SHOW application_name", &[])
        .unwrap()
        .get(0);
    assert_eq!(name, APPLICATION_NAME);
}

#[test]
fn a_failed_connection_says_where_and_hides_the_password() {
    let Some(_db) = db() else { return };
    let err = Connection::open("postgres://app:s3cret@/nodb?host=/nonexistent-dir&port=5999")
        .err()
        .expect("nothing listens there");
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("/nonexistent-dir"), "{text}");
    assert!(text.contains("dbname=nodb"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");

    let err = Connection::open("postgres://[::1").err().expect("bad url");
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err}");
}

#[test]
fn engines_that_only_look_like_postgresql_are_refused() {
    let cockroach =
        "CockroachDB CCL v23.1.11 (x86_64-pc-linux-gnu, built 2023/09/27 01:53:43, go1.19.10)";
    let err = check_engine(cockroach).unwrap_err();
    assert!(matches!(
        err,
        Error::UnsupportedEngine {
            engine: "CockroachDB",
            ..
        }
    ));
    assert!(err.to_string().contains("advisory locks"), "{err}");

    let yugabyte = "PostgreSQL 11.2-YB-2.18.0.0-b0 on x86_64-pc-linux-gnu, compiled by clang";
    let err = check_engine(yugabyte).unwrap_err();
    assert!(matches!(
        err,
        Error::UnsupportedEngine {
            engine: "YugabyteDB",
            ..
        }
    ));
    assert!(err.to_string().contains("not transactional"), "{err}");

    let redshift = "PostgreSQL 8.0.2 on i686-pc-linux-gnu, compiled by GCC gcc (GCC) 3.4.2 20041017 (Red Hat 3.4.2-6.fc3), Redshift 1.0.28422";
    assert!(check_engine(redshift).is_err());
    assert!(
        check_engine("PostgreSQL 16.4 (Ubuntu 16.4-1.pgdg22.04+1) on x86_64-pc-linux-gnu").is_ok()
    );
}
