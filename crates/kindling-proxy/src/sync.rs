//! The IO part: watch Services and EndpointSlices, and after a change (at most [`DEBOUNCE`]
//! later, never closer than [`MIN_INTERVAL`] to the previous sync) read what iptables has,
//! render, and apply the ruleset with one `iptables-restore --noflush` (both tables, each one
//! transaction), then forget stale UDP flows with `conntrack` when the node has it. Every
//! [`RESYNC`] the rules are written again even if nothing changed (someone may have flushed
//! them). Commands run through [`Exec`], so that `kindling node`, which is PID 1 and reaps
//! orphans, can keep its reaper away from them.

use crate::model::{self, State};
use crate::rules::{self, Node};
use crate::save::Existing;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::Api;
use kube::runtime::reflector;
use kube::runtime::{watcher, WatchStreamExt};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Runs a command to completion.
pub type Exec = Arc<dyn Fn(&mut Command) -> std::io::Result<Output> + Send + Sync>;

/// How long a change waits for the ones that usually come with it.
pub const DEBOUNCE: Duration = Duration::from_millis(50);
/// The least time between the starts of two syncs.
pub const MIN_INTERVAL: Duration = Duration::from_millis(200);
/// How often the rules are rewritten without a change.
pub const RESYNC: Duration = Duration::from_secs(30);
/// How soon a failed sync is tried again.
const RETRY: Duration = Duration::from_secs(1);

/// Services another proxy implementation handles (upstream's label).
const SERVICE_PROXY_NAME: &str = "service.kubernetes.io/service-proxy-name";
const HEADLESS: &str = "service.kubernetes.io/headless";

#[derive(Clone, Debug)]
pub struct Config {
    pub node: Node,
    /// Where the last ruleset is written for iptables-restore (and for a curious admin).
    pub work_dir: PathBuf,
}

/// Keeps this node's service rules until the process ends.
pub async fn run(client: kube::Client, config: Config, exec: Exec) {
    let (services, services_writer) = reflector::store();
    let (slices, slices_writer) = reflector::store();
    let changed = Arc::new(Notify::new());
    let since: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let proxied = watcher::Config::default().labels(&format!("!{SERVICE_PROXY_NAME}"));
    tokio::spawn(follow(
        Api::<Service>::all(client.clone()),
        proxied,
        services_writer,
        changed.clone(),
        since.clone(),
    ));
    let proxied_slices =
        watcher::Config::default().labels(&format!("!{SERVICE_PROXY_NAME},!{HEADLESS}"));
    tokio::spawn(follow(
        Api::<EndpointSlice>::all(client),
        proxied_slices,
        slices_writer,
        changed.clone(),
        since.clone(),
    ));
    // Rules from a partial view would cut traffic that works: wait for both lists.
    if kindling_reflect::ready(&services).await.is_err()
        || kindling_reflect::ready(&slices).await.is_err()
    {
        return;
    }
    let mut syncer = Some(Syncer::new(config, exec));
    let mut force = true;
    loop {
        let change = since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let started = Instant::now();
        let Some(s) = syncer.take() else {
            return;
        };
        let snapshot = (services.state(), slices.state());
        let outcome = tokio::task::spawn_blocking(move || {
            let mut s = s;
            let r = s.sync(&snapshot.0, &snapshot.1, force);
            (s, r)
        })
        .await;
        let retry = match outcome {
            Ok((s, result)) => {
                let first = s.syncs == 1;
                syncer = Some(s);
                report(result, started, change, first)
            }
            Err(e) => {
                tracing::error!("service proxy: sync panicked: {e}");
                return;
            }
        };
        // Wait for a change, a retry or the periodic resync.
        let wait = if retry { RETRY } else { RESYNC };
        force = tokio::select! {
            () = changed.notified() => false,
            () = tokio::time::sleep(wait) => true,
        };
        // Let the changes that come together arrive, and do not sync more often than allowed.
        let earliest = (started + MIN_INTERVAL).max(Instant::now() + DEBOUNCE);
        tokio::time::sleep_until(earliest.into()).await;
    }
}

/// Logs a sync's result; whether to retry soon.
fn report(
    result: Result<Synced, String>,
    started: Instant,
    change: Option<Instant>,
    first: bool,
) -> bool {
    let took = started.elapsed();
    match result {
        Ok(Synced::Unchanged) => false,
        Ok(Synced::Applied { ports, conntrack }) => {
            let after = change.map(|c| c.elapsed());
            if first {
                tracing::info!(
                    "service proxy: iptables rules for {ports} service ports applied in {took:?}"
                );
            } else {
                tracing::debug!(
                    "service proxy: {ports} service ports synced in {took:?} ({after:?} after the change), {conntrack} conntrack deletions"
                );
            }
            false
        }
        Err(e) => {
            tracing::warn!("service proxy: sync failed, retrying: {e}");
            true
        }
    }
}

/// Applies a watch's events to its store and says that something changed.
async fn follow<K>(
    api: Api<K>,
    config: watcher::Config,
    writer: reflector::store::Writer<K>,
    changed: Arc<Notify>,
    since: Arc<Mutex<Option<Instant>>>,
) where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let mut events = reflector::reflector(writer, watcher(api, config).default_backoff()).boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_) | watcher::Event::InitDone) => {
                since
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .get_or_insert_with(Instant::now);
                changed.notify_one();
            }
            Ok(_) => {}
            Err(e) => tracing::debug!("service proxy: watch failed, retrying: {e}"),
        }
    }
}

enum Synced {
    /// The rules in place were already these.
    Unchanged,
    Applied {
        ports: usize,
        conntrack: usize,
    },
}

/// What a sync needs to remember.
struct Syncer {
    config: Config,
    exec: Exec,
    /// The last ruleset applied.
    applied: Option<String>,
    /// The state the last applied ruleset came from (for conntrack).
    state: State,
    /// Whether the node has the conntrack tool (asked once).
    conntrack: Option<bool>,
    syncs: u64,
}

impl Syncer {
    fn new(config: Config, exec: Exec) -> Syncer {
        Syncer {
            config,
            exec,
            applied: None,
            state: State::default(),
            conntrack: None,
            syncs: 0,
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<Output, String> {
        let mut cmd = Command::new(program);
        cmd.args(args);
        let out = (self.exec)(&mut cmd).map_err(|e| format!("{program}: {e}"))?;
        Ok(out)
    }

    fn checked(&self, program: &str, args: &[&str]) -> Result<String, String> {
        let out = self.run(program, args)?;
        if !out.status.success() {
            return Err(format!(
                "{program} {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn sync(
        &mut self,
        services: &[Arc<Service>],
        slices: &[Arc<EndpointSlice>],
        force: bool,
    ) -> Result<Synced, String> {
        let state = model::build(services, slices);
        let mut save = self.checked("iptables-save", &["-t", "nat"])?;
        save.push_str(&self.checked("iptables-save", &["-t", "filter"])?);
        let existing = Existing::parse(&save);
        let text = rules::render(&state, &self.config.node, &existing);
        if !force
            && self.applied.as_deref() == Some(text.as_str())
            && rules::in_place(&text, &existing)
        {
            return Ok(Synced::Unchanged);
        }
        std::fs::create_dir_all(&self.config.work_dir)
            .map_err(|e| format!("creating {}: {e}", self.config.work_dir.display()))?;
        let file = self.config.work_dir.join("iptables.rules");
        std::fs::write(&file, &text).map_err(|e| format!("writing {}: {e}", file.display()))?;
        let path = file.to_string_lossy().into_owned();
        self.checked("iptables-restore", &["--noflush", "--wait=5", &path])?;
        self.applied = Some(text);
        self.syncs += 1;
        let conntrack = self.forget_stale_flows(&state);
        let ports = state.ports.len();
        self.state = state;
        Ok(Synced::Applied { ports, conntrack })
    }

    /// Deletes UDP flows to endpoints that are gone; the number of deletions run.
    fn forget_stale_flows(&mut self, state: &State) -> usize {
        let commands = crate::conntrack::stale_udp(&self.state, state, &self.config.node);
        if commands.is_empty() {
            return 0;
        }
        let available = match self.conntrack {
            Some(known) => known,
            None => {
                let found =
                    matches!(self.run("conntrack", &["--version"]), Ok(o) if o.status.success());
                self.conntrack = Some(found);
                found
            }
        };
        if !available {
            tracing::debug!("service proxy: no conntrack tool; stale UDP flows time out");
            return 0;
        }
        for args in &commands {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            // Exit status 1 means no flow matched.
            if let Ok(out) = self.run("conntrack", &args) {
                if !out.status.success() && out.status.code() != Some(1) {
                    tracing::debug!(
                        "service proxy: conntrack {}: {}",
                        args.join(" "),
                        String::from_utf8_lossy(&out.stderr).trim()
                    );
                }
            }
        }
        commands.len()
    }
}
