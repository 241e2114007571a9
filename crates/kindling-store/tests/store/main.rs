//! The store's behaviour through the `Store` trait, the same suite (`suite/`) run against both
//! backends, plus what only one backend promises (`sqlite/`, `etcd/`). One test binary; the
//! etcd half starts a real `etcd` per test (scripts/setup.sh installs Debian's etcd-server).
#![allow(clippy::unwrap_used)]
// tests: a panic is a failed test with its location
// The suite's files are compiled once per backend on purpose: `super::temp_store` differs.
#![allow(clippy::duplicate_mod)]

mod common;

mod sqlite {
    mod backend;
    pub use backend::*;

    #[path = "../suite/concurrency.rs"]
    mod concurrency;
    #[path = "../suite/crud.rs"]
    mod crud;
    #[path = "../suite/history.rs"]
    mod history;
    #[path = "../suite/list.rs"]
    mod list;
    #[path = "../suite/watch.rs"]
    mod watch;

    mod compaction;
    mod durability;
    mod specific;
}

mod etcd {
    mod backend;
    pub use backend::*;
    use kindling_store::testing as server;

    #[path = "../suite/concurrency.rs"]
    mod concurrency;
    #[path = "../suite/crud.rs"]
    mod crud;
    #[path = "../suite/history.rs"]
    mod history;
    #[path = "../suite/list.rs"]
    mod list;
    #[path = "../suite/watch.rs"]
    mod watch;

    mod durability;
}
