//! Migrations imported by `migrate import` from the plain folder `../../../fixtures/import/plain` (relative to this one), one file each.
//! Every file registers itself with `#[migration]`; nothing here lists them.

mod m0001_01_users;
mod m0002_02_posts;
mod m0003_03_email;
