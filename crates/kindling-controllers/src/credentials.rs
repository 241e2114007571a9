//! Who each controller is to the API server: kube-controller-manager's
//! `--use-service-account-credentials`. Every controller loop talks as the service account
//! `kube-system/<controller>` (made if missing), with a token from the TokenRequest API that is
//! asked for again before it expires, so it may do exactly what the bootstrap policy's
//! `system:controller:<controller>` role grants. What the controllers share (the pod informer,
//! leader election) stays on the controller manager's own identity ([`Clients::shared`]).
//!
//! A token lives in a file the client re-reads (kube's `token_file`, reloaded every minute), so
//! a renewed token reaches the client without rebuilding it.

use anyhow::{Context, Result};
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Upstream's SA client builder asks for hour-long tokens (`expirationSeconds: 3600`).
pub const TOKEN_SECONDS: i64 = 3600;

/// The clients of the controllers: one per controller name, else the fallback one.
#[derive(Clone)]
pub struct Clients {
    shared: kube::Client,
    fallback: kube::Client,
    own: BTreeMap<String, kube::Client>,
}

impl Clients {
    /// Every controller on one client (tests, `kindling apiserver`).
    pub fn single(client: kube::Client) -> Clients {
        Clients {
            shared: client.clone(),
            fallback: client,
            own: BTreeMap::new(),
        }
    }

    /// Controllers without a client of their own use `fallback` (those not yet confined to
    /// their role).
    pub fn with_fallback(mut self, fallback: kube::Client) -> Clients {
        self.fallback = fallback;
        self
    }

    /// `controller` talks with `client` (a part that is not the controller manager's, such as the
    /// local-path provisioner, with its own credentials).
    pub fn with(mut self, controller: &str, client: kube::Client) -> Clients {
        self.own.insert(controller.to_string(), client);
        self
    }

    /// The controller manager's own client, for what the controllers share.
    pub fn shared(&self) -> kube::Client {
        self.shared.clone()
    }

    /// The client of `controller` (its service account's name), or the fallback when it has
    /// none of its own.
    pub fn of(&self, controller: &str) -> kube::Client {
        self.own
            .get(controller)
            .cloned()
            .unwrap_or_else(|| self.fallback.clone())
    }

    /// A client for each of `controllers` as its service account in kube-system, its token in
    /// `dir/<controller>` and kept fresh for as long as the process runs. `shared` (the
    /// controller manager's identity) makes the accounts and asks for their tokens; `base` is
    /// how to reach and trust the API server (its credentials are replaced).
    pub async fn service_accounts(
        shared: kube::Client,
        base: &kube::Config,
        dir: &Path,
        controllers: &[&str],
    ) -> Result<Clients> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut own = BTreeMap::new();
        for controller in controllers {
            let file = dir.join(controller);
            let seconds = refresh_token(&shared, controller, &file).await?;
            let mut config = base.clone();
            config.auth_info = kube::config::AuthInfo {
                token_file: Some(file.to_string_lossy().into_owned()),
                ..Default::default()
            };
            own.insert(
                (*controller).to_string(),
                kube::Client::try_from(config)
                    .with_context(|| format!("client of {controller}"))?,
            );
            tokio::spawn(keep_fresh(
                shared.clone(),
                (*controller).to_string(),
                file,
                seconds,
            ));
        }
        Ok(Clients {
            fallback: shared.clone(),
            shared,
            own,
        })
    }
}

/// How long after a token for `seconds` is issued to ask for the next: at 80 % of its life, as
/// client-go's token managers renew.
pub fn refresh_after(seconds: i64) -> Duration {
    Duration::from_secs(u64::try_from(seconds.max(0) * 4 / 5).unwrap_or(0))
}

async fn keep_fresh(client: kube::Client, controller: String, file: PathBuf, mut seconds: i64) {
    loop {
        tokio::time::sleep(refresh_after(seconds)).await;
        match refresh_token(&client, &controller, &file).await {
            Ok(s) => seconds = s,
            Err(e) => {
                tracing::warn!("token of kube-system/{controller}: {e:#}");
                // Try again soon, well before the old one runs out.
                seconds = 10;
            }
        }
    }
}

/// Makes the service account if it is missing, asks for a token and writes it to `file`
/// (replaced whole, so a reader never sees half of one); the token's lifetime in seconds.
async fn refresh_token(client: &kube::Client, controller: &str, file: &Path) -> Result<i64> {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "kube-system");
    if accounts.get_opt(controller).await?.is_none() {
        let account: ServiceAccount = serde_json::from_value(serde_json::json!({
            "metadata": {"name": controller, "namespace": "kube-system"},
        }))?;
        match accounts.create(&PostParams::default(), &account).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e).context(format!("creating kube-system/{controller}")),
        }
    }
    let request: TokenRequest = serde_json::from_value(serde_json::json!({
        "spec": {"audiences": [], "expirationSeconds": TOKEN_SECONDS},
    }))?;
    let issued = accounts
        .create_token_request(controller, &PostParams::default(), &request)
        .await
        .with_context(|| format!("a token for kube-system/{controller}"))?;
    let status = issued.status.context("TokenRequest without status")?;
    let temporary = file.with_extension("new");
    kindling_pki::write_private(&temporary, &status.token)?;
    std::fs::rename(&temporary, file).with_context(|| format!("writing {}", file.display()))?;
    let expires = status.expiration_timestamp.0.as_second() - jiff::Timestamp::now().as_second();
    Ok(expires.clamp(60, TOKEN_SECONDS * 24))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_at_four_fifths_of_their_life() {
        for (seconds, want) in [(3600, 2880), (600, 480), (0, 0), (-5, 0)] {
            assert_eq!(
                refresh_after(seconds),
                Duration::from_secs(want),
                "{seconds}"
            );
        }
    }
}
