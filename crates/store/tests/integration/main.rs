//! The store's integration tests, on SQLite and on a throwaway PostgreSQL server, one module
//! per area, in one test binary (so the dependency graph is compiled and linked once).

mod audit;
mod common;
mod secrets;
mod store;
mod swaps;
mod vault;
