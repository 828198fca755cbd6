//! Tooling apart from the server's request path: generators that write data straight to the
//! tables for `roster seed` (the benchmark dataset) and `roster demo` (the demo
//! organization). Nothing in `app`, `graphql`, `scim` or `service` uses them
//! (docs/ARCHITECTURE.md, "The layers").

pub mod demo;
pub mod seed;
