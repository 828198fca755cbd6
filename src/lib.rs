//! Roster: a multi-tenant Teams & Users service with a GraphQL API.
//!
//! `service` holds the rules, `graphql` the API over them, `app` the HTTP surface, `auth`
//! the token and permission vocabulary, `entity` the storage shape, `seed` the benchmark
//! dataset generator, and `cli` the commands `main.rs` dispatches to.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod cost;
pub mod demo;
pub mod entity;
pub mod graphiql;
pub mod graphql;
pub mod html;
pub mod mail;
pub mod metrics;
pub mod ratelimit;
pub mod scim;
pub mod seed;
pub mod service;
