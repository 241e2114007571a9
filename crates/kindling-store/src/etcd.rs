//! The etcd backend, for clusters with several control planes (each API server talks to its
//! node's member of a stacked etcd cluster, as kubeadm sets it up).
//!
//! - `convert`: revisions, key ranges, key-values and errors between the two vocabularies (pure).
//! - `watch`: a task per watch that forwards etcd's events.
//!
//! The `Store` trait is blocking; the etcd client is async. The store owns a small tokio runtime
//! of its own and every call runs there while the caller waits on a channel, so callers may be
//! plain threads or the async workers of another runtime alike (never this one's).
//!
//! Guarantees as etcd gives them: a write is acknowledged after a quorum has it in its fsynced
//! log; reads are linearizable (quorum) reads; compare-and-swap is one transaction; revisions
//! are etcd's (minus one, see `convert::OFFSET`).

mod convert;
mod watch;

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{
    Client, CompactionOptions, Compare, CompareOp, ConnectOptions, DeleteOptions, GetOptions, Txn,
    TxnOp, TxnOpResponse, TxnResponse,
};

use crate::{Answer, KeyValue, ListPage, Result, Revision, Store, StoreError, Watch};
use convert::{from_etcd, key_value, range_end, range_start, to_etcd};

/// Client TLS for etcd: the CA that signed the members' serving certificates and this client's
/// certificate and key, all PEM.
#[derive(Clone, Debug)]
pub struct EtcdTls {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

/// Where etcd is and how long to wait for it.
#[derive(Clone, Debug)]
pub struct EtcdOptions {
    /// Client URLs (`https://127.0.0.1:2379`); the API server names only its own node's member.
    pub endpoints: Vec<String>,
    pub tls: Option<EtcdTls>,
    /// How long `connect` keeps trying before giving up (a member starting with its node may
    /// wait for a quorum first). Default: 60 s.
    pub startup_timeout: Duration,
    /// The longest one read or write may take. Default: 10 s.
    pub request_timeout: Duration,
    /// Events buffered per watch before the forwarding task waits for the consumer. Default: 1024.
    pub watch_buffer: usize,
}

impl EtcdOptions {
    pub fn new(endpoints: Vec<String>) -> EtcdOptions {
        EtcdOptions {
            endpoints,
            tls: None,
            startup_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(10),
            watch_buffer: 1024,
        }
    }
}

/// A [`Store`] on an etcd cluster. Dropping it closes its watches.
pub struct EtcdStore {
    /// Taken on drop, so the runtime can be shut down without blocking (drop may run on an
    /// async worker).
    runtime: Option<tokio::runtime::Runtime>,
    client: Client,
    /// The highest compacted revision seen (ours or another API server's, learnt when etcd
    /// refuses an old read or watch). Kept locally: the watch cache asks for it per event.
    compacted: Arc<AtomicI64>,
    request_timeout: Duration,
    watch_buffer: usize,
}

impl EtcdStore {
    /// Connects and waits (up to `startup_timeout`) until etcd answers a read.
    pub fn connect(options: EtcdOptions) -> Result<EtcdStore> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kindling-etcd")
            .enable_all()
            .build()
            .map_err(|error| StoreError::Internal(format!("starting the etcd runtime: {error}")))?;
        let mut connect = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(3))
            // Finds a dead member under a long-lived watch stream.
            .with_keep_alive(Duration::from_secs(5), Duration::from_secs(5))
            .with_keep_alive_while_idle(true);
        if let Some(tls) = &options.tls {
            connect = connect.with_tls(
                etcd_client::TlsOptions::new()
                    .ca_certificate(etcd_client::Certificate::from_pem(&tls.ca_pem))
                    .identity(etcd_client::Identity::from_pem(&tls.cert_pem, &tls.key_pem)),
            );
        }
        let endpoints = options.endpoints.clone();
        let client = runtime
            .block_on(Client::connect(endpoints, Some(connect)))
            .map_err(|error| convert::internal(&error))?;
        let store = EtcdStore {
            runtime: Some(runtime),
            client,
            compacted: Arc::new(AtomicI64::new(0)),
            request_timeout: options.request_timeout,
            watch_buffer: options.watch_buffer.max(1),
        };
        let deadline = Instant::now() + options.startup_timeout;
        loop {
            match store.refresh_compacted() {
                Ok(_) => return Ok(store),
                Err(error) if Instant::now() >= deadline => return Err(error),
                Err(error) => {
                    tracing::debug!(%error, "waiting for etcd");
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }

    /// Runs `work` on the store's runtime and waits for it, within the request timeout.
    fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        self.spawn(work, move |outcome| {
            // The caller may have gone (it never does: it waits below).
            let _ = reply.send(outcome);
        })?;
        answer.recv().map_err(|_| closed())?
    }

    /// [`EtcdStore::run`] for a caller on async workers: nothing waits but the caller's task.
    fn run_async<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Answer<T> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        if let Err(error) = self.spawn(work, move |outcome| {
            let _ = reply.send(outcome);
        }) {
            return Box::pin(std::future::ready(Err(error)));
        }
        Box::pin(async move { answer.await.unwrap_or_else(|_| Err(closed())) })
    }

    /// Runs `work` on the store's runtime, within the request timeout, and hands its outcome to
    /// `reply`.
    fn spawn<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T>> + Send + 'static,
        reply: impl FnOnce(Result<T>) + Send + 'static,
    ) -> Result<()> {
        let runtime = self.runtime.as_ref().ok_or_else(closed)?;
        let timeout = self.request_timeout;
        runtime.spawn(async move {
            let outcome = tokio::time::timeout(timeout, work)
                .await
                .unwrap_or_else(|_| {
                    Err(StoreError::Internal(format!(
                        "etcd did not answer within {timeout:?}"
                    )))
                });
            reply(outcome);
        });
        Ok(())
    }

    /// Re-learns the compacted revision from etcd (which does not report it directly: the
    /// lowest revision a read still succeeds at is found by bisection, a few quick reads).
    pub fn refresh_compacted(&self) -> Result<Revision> {
        let client = self.client.clone();
        let known = self.compacted.load(Ordering::SeqCst);
        let found = self.run(async move {
            let current = current(&client).await?;
            let mut low = known.clamp(0, current);
            if readable(&client, low).await? {
                return Ok(low);
            }
            // Invariant: `low` is compacted away, `high` (the present) is readable.
            let mut high = current;
            while high - low > 1 {
                let middle = low + (high - low) / 2;
                if readable(&client, middle).await? {
                    high = middle;
                } else {
                    low = middle;
                }
            }
            Ok(high)
        })?;
        Ok(self.learn_compacted(found))
    }

    /// Records a compacted revision seen; returns the highest known.
    fn learn_compacted(&self, revision: Revision) -> Revision {
        self.compacted
            .fetch_max(revision, Ordering::SeqCst)
            .max(revision)
    }

    /// A read failed: say why in the store's terms, refreshing what is known of compaction.
    fn read_error(&self, error: &etcd_client::Error, requested: Revision) -> StoreError {
        if convert::is_compacted(error) {
            let compacted = self
                .refresh_compacted()
                .unwrap_or_else(|_| self.compacted.load(Ordering::SeqCst));
            return StoreError::Compacted {
                requested,
                compacted,
            };
        }
        let current = self.current_revision().unwrap_or(requested);
        let compacted = self.compacted.load(Ordering::SeqCst);
        convert::revision_error(error, requested, current, compacted)
            .unwrap_or_else(|| convert::internal(error))
    }
}

fn closed() -> StoreError {
    StoreError::Internal("the etcd store is closed".to_string())
}

impl Drop for EtcdStore {
    fn drop(&mut self) {
        // Ends every watch task (closing the watches' channels) without waiting for them.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The current store revision, as a linearizable read reports it.
async fn current(client: &Client) -> Result<Revision> {
    let response = client
        .kv_client()
        .get(PROBE_KEY, Some(GetOptions::new().with_count_only()))
        .await
        .map_err(|error| convert::internal(&error))?;
    header_revision(response.header())
}

/// Whether the key space at `revision` can still be read (it is not compacted away).
async fn readable(client: &Client, revision: Revision) -> Result<bool> {
    let options = GetOptions::new()
        .with_count_only()
        .with_revision(to_etcd(revision));
    match client.kv_client().get(PROBE_KEY, Some(options)).await {
        Ok(_) => Ok(true),
        Err(error) if convert::is_compacted(&error) => Ok(false),
        Err(error) if convert::is_future(&error) => Ok(true),
        Err(error) => Err(convert::internal(&error)),
    }
}

/// A key nothing writes: reads of it carry the revision in their header and cost nothing.
const PROBE_KEY: &[u8] = b"\0";

fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> Result<Revision> {
    header
        .map(|header| from_etcd(header.revision()))
        .ok_or_else(|| StoreError::Internal("etcd sent a response without a header".to_string()))
}

/// The one value a transaction's `or_else` read returned, if the key exists.
fn read_back(responses: &[TxnOpResponse]) -> Result<Option<KeyValue>> {
    for response in responses {
        if let TxnOpResponse::Get(get) = response {
            return get.kvs().first().map(key_value).transpose();
        }
    }
    Ok(None)
}

/// Runs `txn` on etcd.
async fn commit(client: &Client, txn: Txn) -> Result<TxnResponse> {
    client
        .kv_client()
        .txn(txn)
        .await
        .map_err(|error| convert::internal(&error))
}

/// Creates `key` unless it exists (a transaction on its create revision).
async fn txn_create(client: Client, key: String, value: Vec<u8>) -> Result<Revision> {
    let txn = Txn::new()
        .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
        .and_then([TxnOp::put(key.clone(), value, None)]);
    let response = commit(&client, txn).await?;
    if !response.succeeded() {
        return Err(StoreError::AlreadyExists(key));
    }
    header_revision(response.header())
}

/// Replaces `key`'s value if its mod revision is `expected`.
async fn txn_update(
    client: Client,
    key: String,
    value: Vec<u8>,
    expected: Revision,
) -> Result<Revision> {
    let txn = Txn::new()
        .when([Compare::mod_revision(
            key.clone(),
            CompareOp::Equal,
            to_etcd(expected),
        )])
        .and_then([TxnOp::put(key.clone(), value, None)])
        .or_else([TxnOp::get(key.clone(), None)]);
    let response = commit(&client, txn).await?;
    if response.succeeded() {
        return header_revision(response.header());
    }
    match read_back(&response.op_responses())? {
        None => Err(StoreError::NotFound(key)),
        Some(current) => Err(StoreError::Conflict {
            key,
            expected,
            current: current.mod_revision,
        }),
    }
}

/// Deletes `key` (if its mod revision is `expected`, when given), returning its last value.
async fn txn_delete(
    client: Client,
    key: String,
    expected: Option<Revision>,
) -> Result<(Revision, KeyValue)> {
    // Without an expected revision: delete whatever is there (the key must exist).
    let compare = match expected {
        Some(expected) => Compare::mod_revision(key.clone(), CompareOp::Equal, to_etcd(expected)),
        None => Compare::create_revision(key.clone(), CompareOp::Greater, 0),
    };
    let txn = Txn::new()
        .when([compare])
        .and_then([TxnOp::delete(
            key.clone(),
            Some(DeleteOptions::new().with_prev_key()),
        )])
        .or_else([TxnOp::get(key.clone(), None)]);
    let response = commit(&client, txn).await?;
    let responses = response.op_responses();
    if !response.succeeded() {
        return match (read_back(&responses)?, expected) {
            (Some(current), Some(expected)) => Err(StoreError::Conflict {
                key,
                expected,
                current: current.mod_revision,
            }),
            _ => Err(StoreError::NotFound(key)),
        };
    }
    let deleted = responses.iter().find_map(|response| match response {
        TxnOpResponse::Delete(delete) => delete.prev_kvs().first().map(key_value),
        _ => None,
    });
    let deleted = deleted.ok_or_else(|| {
        StoreError::Internal(format!("etcd deleted {key} but returned no value"))
    })??;
    Ok((header_revision(response.header())?, deleted))
}
impl Store for EtcdStore {
    fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let client = self.client.clone();
        let key = key.to_string();
        self.run(async move {
            let response = client
                .kv_client()
                .get(key, None)
                .await
                .map_err(|error| convert::internal(&error))?;
            response.kvs().first().map(key_value).transpose()
        })
    }

    fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        revision: Option<Revision>,
    ) -> Result<ListPage> {
        if let Some(requested) = revision.filter(|revision| *revision < 0) {
            // etcd reads "revision 0" as "now"; a negative revision is before anything.
            return Err(StoreError::Compacted {
                requested,
                compacted: self.compacted.load(Ordering::SeqCst),
            });
        }
        let client = self.client.clone();
        let start = range_start(prefix, start_after);
        let mut options = GetOptions::new().with_range(range_end(prefix));
        if limit > 0 {
            options = options.with_limit(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        if let Some(revision) = revision {
            options = options.with_revision(to_etcd(revision));
        }
        let response =
            self.run(async move { Ok(client.kv_client().get(start, Some(options)).await) })?;
        let response = match response {
            Ok(response) => response,
            Err(error) => return Err(self.read_error(&error, revision.unwrap_or(0))),
        };
        let items = response
            .kvs()
            .iter()
            .map(key_value)
            .collect::<Result<Vec<_>>>()?;
        let revision = match revision {
            Some(revision) => revision,
            None => header_revision(response.header())?,
        };
        Ok(ListPage {
            items,
            revision,
            more: limit > 0 && response.more(),
        })
    }

    fn create(&self, key: &str, value: Vec<u8>) -> Result<Revision> {
        self.run(txn_create(self.client.clone(), key.to_string(), value))
    }

    fn create_async(&self, key: &str, value: Vec<u8>) -> Answer<Revision> {
        self.run_async(txn_create(self.client.clone(), key.to_string(), value))
    }

    fn update(&self, key: &str, value: Vec<u8>, expected: Revision) -> Result<Revision> {
        self.run(txn_update(
            self.client.clone(),
            key.to_string(),
            value,
            expected,
        ))
    }

    fn update_async(&self, key: &str, value: Vec<u8>, expected: Revision) -> Answer<Revision> {
        self.run_async(txn_update(
            self.client.clone(),
            key.to_string(),
            value,
            expected,
        ))
    }

    fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(Revision, KeyValue)> {
        self.run(txn_delete(self.client.clone(), key.to_string(), expected))
    }

    fn delete_async(&self, key: &str, expected: Option<Revision>) -> Answer<(Revision, KeyValue)> {
        self.run_async(txn_delete(self.client.clone(), key.to_string(), expected))
    }

    fn current_revision(&self) -> Result<Revision> {
        let client = self.client.clone();
        self.run(async move { current(&client).await })
    }

    /// Watching from a revision newer than the current one is allowed: events start once etcd
    /// gets there.
    fn watch(&self, prefix: &str, after: Revision) -> Result<Watch> {
        let client = self.client.clone();
        if !self.run(async move { readable(&client, after.max(0)).await })? || after < 0 {
            return Err(StoreError::Compacted {
                requested: after,
                compacted: self.refresh_compacted()?,
            });
        }
        let runtime = self.runtime.as_ref().ok_or_else(closed)?;
        let client = self.client.clone();
        let prefix = prefix.to_string();
        let stream = self.run(async move { watch::open(&client, &prefix, after).await })?;
        let (sender, events) = tokio::sync::mpsc::channel(self.watch_buffer);
        runtime.spawn(watch::forward(stream, sender, self.compacted.clone()));
        Ok(Watch { events })
    }

    fn compact(&self, revision: Revision) -> Result<()> {
        let current = self.current_revision()?;
        if revision > current {
            return Err(StoreError::FutureRevision {
                requested: revision,
                current,
            });
        }
        if revision <= self.compacted.load(Ordering::SeqCst) {
            return Ok(());
        }
        let client = self.client.clone();
        let outcome = self.run(async move {
            let options = CompactionOptions::new().with_physical();
            Ok(client
                .kv_client()
                .compact(to_etcd(revision), Some(options))
                .await)
        })?;
        match outcome {
            Ok(_) => {}
            // Another API server compacted further already.
            Err(error) if convert::is_compacted(&error) => {
                self.refresh_compacted()?;
            }
            Err(error) => return Err(convert::internal(&error)),
        }
        self.learn_compacted(revision);
        Ok(())
    }

    fn compacted_revision(&self) -> Result<Revision> {
        Ok(self.compacted.load(Ordering::SeqCst))
    }

    fn count(&self, prefix: &str) -> Result<u64> {
        let client = self.client.clone();
        let options = GetOptions::new()
            .with_range(range_end(prefix))
            .with_count_only();
        let start = range_start(prefix, None);
        self.run(async move {
            let response = client
                .kv_client()
                .get(start, Some(options))
                .await
                .map_err(|error| convert::internal(&error))?;
            Ok(u64::try_from(response.count()).unwrap_or(0))
        })
    }
}
