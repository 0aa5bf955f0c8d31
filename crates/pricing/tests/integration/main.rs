//! The pricing crate's integration tests (aggregation, exchange feeds against loopback
//! servers, quote pricing), one module per area, in one test binary.

mod aggregate;
mod feeds;
mod pricing;
