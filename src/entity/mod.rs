//! SeaORM entities: the storage shape of each table, nothing more. Rules live in `service/`.

pub mod account;
pub mod audit_event;
pub mod department;
pub mod event;
pub mod invite;
pub mod outbox;
pub mod role;
pub mod scim_token;
pub mod team;
pub mod user;
pub mod user_count;
pub mod webhook_delivery;
pub mod webhook_endpoint;
