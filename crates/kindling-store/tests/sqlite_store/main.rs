//! Tests of `SqliteStore` through the `Store` trait. One test binary; the modules group topics.

mod common;

mod compaction;
mod concurrency;
mod crud;
mod durability;
mod list;
mod watch;
