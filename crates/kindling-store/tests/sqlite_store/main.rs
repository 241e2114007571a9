//! Tests of `SqliteStore` through the `Store` trait. One test binary; the modules group topics.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;

mod compaction;
mod concurrency;
mod crud;
mod durability;
mod list;
mod watch;
