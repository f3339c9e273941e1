//! The PostgreSQL backend's primitives against a real server: one throwaway cluster for this
//! whole binary (`migrate_postgres::testing`), one fresh database per test. One file per
//! behaviour.

mod automatic_restore;
mod backup;
mod backup_names;
mod batch;
mod chunks;
mod commit_failures;
mod commit_guard;
mod common;
mod concurrency;
mod connect;
mod crash;
mod destructive_changes;
mod dry_run;
mod escape;
mod failures;
mod fast_path;
mod fingerprint;
mod harness;
mod lock;
mod outside;
mod progress;
mod refusals;
mod restore;
mod row_counts;
mod run_backups;
mod runs;
mod session;
mod table_locks;
mod tool_connection;
mod tracking;
mod user_harness;
mod without_row_counts;
