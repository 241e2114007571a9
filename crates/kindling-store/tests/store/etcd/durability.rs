//! Acknowledged writes survive `kill -9` of etcd in the middle of a write storm: every create
//! that returned is there after a restart, with the revision it was acknowledged at.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kindling_store::{EtcdOptions, EtcdStore, Store};

use super::reopen;
use super::server::EtcdServer;

#[test]
fn acknowledged_writes_survive_kill_9_of_etcd() {
    let mut server = EtcdServer::start();
    let mut options = EtcdOptions::new(vec![server.client_url.clone()]);
    // Writes in flight when etcd dies fail quickly instead of waiting the default 10 s.
    options.request_timeout = Duration::from_secs(2);
    let store = Arc::new(EtcdStore::connect(options).unwrap());
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..8)
        .map(|thread| {
            let (store, acknowledged, stop) = (store.clone(), acknowledged.clone(), stop.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let key = format!("/ack/{thread}/{i}");
                    match store.create(&key, vec![0xAB; 256]) {
                        Ok(revision) => acknowledged.lock().unwrap().push((key, revision)),
                        // etcd is gone: nothing more will be acknowledged.
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < 300 {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill9();
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.join().unwrap();
    }
    drop(store);
    let acknowledged = acknowledged.lock().unwrap().clone();

    server.restart();
    let store = reopen(&server);
    for (key, revision) in &acknowledged {
        let kv = store.get(key).unwrap();
        assert_eq!(
            kv.map(|kv| kv.mod_revision),
            Some(*revision),
            "{key} was acknowledged"
        );
    }
    let last = acknowledged.iter().map(|(_, revision)| *revision).max();
    assert!(store.current_revision().unwrap() >= last.unwrap());
    eprintln!(
        "{} acknowledged writes all present after kill -9",
        acknowledged.len()
    );
}
