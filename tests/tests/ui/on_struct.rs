use migrate_sqlite::migration;

#[migration(seq = 1)]
struct CreateUsers;

fn main() {}
