use migrate_sqlite::migration;

#[migration(seq = 1)]
#[path = "mod_without_body/create_users.rs"]
mod create_users;

fn main() {}
