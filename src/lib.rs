//! Roster: a multi-tenant Teams & Users service with a GraphQL API.
//!
//! `service` holds the rules, `graphql` the API over them, `app` the HTTP surface, `auth`
//! the token and permission vocabulary, `entity` the storage shape, `tooling` the benchmark
//! and demo data generators (apart from the request path), and `cli` the commands `main.rs`
//! dispatches to. docs/ARCHITECTURE.md describes the layers.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod cost;
pub mod entity;
pub mod graphiql;
pub mod graphql;
pub mod html;
pub mod mail;
pub mod metrics;
pub mod ratelimit;
pub mod scim;
pub mod service;
pub mod tooling;

/// The generators keep their paths (`roster::seed`, `roster::demo`) for the tests and tools
/// that use them.
pub use tooling::{demo, seed};
