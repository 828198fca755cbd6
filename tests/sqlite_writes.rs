//! Concurrent writers on one database never fail with "database is locked": SQLite write
//! transactions take the lock at BEGIN and wait for it (WAL + busy timeout).

mod common;

use roster::service::accounts;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_write_transactions_all_commit() {
    let app = common::TestApp::spawn().await;
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let db = app.db.clone();
            tokio::spawn(async move {
                accounts::create(
                    &db,
                    &format!("Tenant {i}"),
                    &format!("admin{i}@t{i}.example"),
                    "Admin",
                )
                .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => panic!("a concurrent write failed: {}", e.describe()),
        }
    }
    assert_eq!(ok, 40);
    use sea_orm::{EntityTrait, PaginatorTrait};
    let accounts = roster::entity::account::Entity::find()
        .count(app.db.conn())
        .await
        .unwrap();
    assert_eq!(accounts, 40);
    let roles = roster::entity::role::Entity::find()
        .count(app.db.conn())
        .await
        .unwrap();
    assert_eq!(roles, 160, "each account got its four built-in roles");
}
