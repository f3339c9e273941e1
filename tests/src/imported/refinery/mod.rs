//! Migrations imported by `migrate import` from the refinery folder `../../../fixtures/import/refinery` (relative to this one), one file each.
//! Every file registers itself with `#[migration]`; nothing here lists them.

mod m0001_create_users;
mod m0002_create_posts;
mod m0003_add_email;
