//! The PostgreSQL backend's primitives against a real server: one throwaway cluster for this
//! whole binary (`migrate_postgres::testing`), one fresh database per test. One file per
//! behaviour.

mod backup;
mod batch;
mod commit_guard;
mod common;
mod connect;
mod fingerprint;
mod harness;
mod lock;
mod outside;
mod restore;
mod session;
mod tracking;
