//! Temporary etcd stores for the suite: a fresh member per test, so revisions start at 0 as
//! they do for a fresh SQLite file.

use kindling_store::{EtcdOptions, EtcdStore};

use super::server::EtcdServer;

pub fn temp_store() -> (EtcdServer, EtcdStore) {
    let server = EtcdServer::start();
    let store = reopen(&server);
    (server, store)
}

/// Another client of the same etcd (what a restarted API server would be).
pub fn reopen(server: &EtcdServer) -> EtcdStore {
    EtcdStore::connect(EtcdOptions::new(vec![server.client_url.clone()])).expect("connect to etcd")
}
