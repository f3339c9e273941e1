//! Test your migrations under `cargo test` (plain `#[test]` or `cargo nextest`).
//!
//! - [`Harness`]: one call that applies every migration to an empty database, checks integrity
//!   and foreign keys after each, round-trips every reversible one (up, down: the schema must be
//!   exactly as before; up again), seeds data at chosen points, and fails naming the migration
//!   and the difference.
//! - [`Harness::upgrade_copy_of`]: migrate a copy of a real database file; the original is
//!   never touched.
//! - [`schema_snapshot`] / [`assert_schema_snapshot`]: the normalized schema as text, kept in
//!   the repository so schema changes show up in review.
//! - [`Template`]: migrate once per test binary (and once per registry across binaries, through a
//!   cached file), then hand every test a fresh in-memory copy.
//!
//! ```
//! use migrate_sqlite::testing::Harness;
//! use migrate_sqlite::{Migration, Migrator, Step};
//!
//! let migrator = Migrator::new().with_migrations([
//!     Migration::new(1, "create_users", Step::sql("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)"))
//!         .with_down(Step::sql("DROP TABLE users")),
//!     Migration::new(2, "add_email", Step::sql("ALTER TABLE users ADD COLUMN email TEXT"))
//!         .with_down(Step::sql("ALTER TABLE users DROP COLUMN email")),
//! ]);
//! let db = Harness::new(migrator)
//!     .seed_at(1, "INSERT INTO users (name) VALUES ('ada'), ('grace')")
//!     .check()?;
//! assert_eq!(db.report.round_trips, vec![1, 2]);
//! let n: i64 = db.conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
//! assert_eq!(n, 2);
//! # Ok::<(), migrate_sqlite::Error>(())
//! ```

mod harness;
mod snapshot;
mod template;

pub use harness::{CheckReport, CheckedDb, Harness, Seed, SeedFn, UpgradeReport};
pub use snapshot::{assert_schema_snapshot, schema_snapshot};
pub use template::Template;
