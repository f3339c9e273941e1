//! Shared helpers for the workspace-level tests.

#[rustfmt::skip]
mod imported;
