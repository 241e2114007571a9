//! List: selectors, paging with continue tokens that keep one consistent revision across pages.

use super::{decode, key_prefix, store_error, Registry};
use base64::Engine;
use kindling_api::selector::{FieldSelector, LabelSelector};
use kindling_api::{ApiError, ResourceType};
use kindling_store::{Revision, StoreError};
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    pub label_selector: Option<LabelSelector>,
    pub field_selector: Option<FieldSelector>,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    /// `resourceVersion` of the request: "" / "0" / a revision.
    pub resource_version: Option<String>,
}

impl ListOptions {
    pub fn matches(&self, obj: &Value) -> bool {
        self.label_selector.as_ref().is_none_or(|s| s.matches(obj))
            && self.field_selector.as_ref().is_none_or(|s| s.matches(obj))
    }
}

/// Keys read per store call while filling a page.
const SCAN_BATCH: usize = 500;

/// What a list found besides its items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListMeta {
    /// The revision every page of this list is read at.
    pub revision: Revision,
    /// Set when more items follow (`limit` was reached).
    pub continue_token: Option<String>,
}

impl ListMeta {
    pub fn to_json(&self) -> Value {
        let mut metadata = json!({"resourceVersion": self.revision.to_string()});
        if let Some(c) = &self.continue_token {
            metadata["continue"] = json!(c);
        }
        metadata
    }
}

impl Registry {
    /// A `<Kind>List` of the matching objects.
    pub async fn list(
        &self,
        rt: &Arc<ResourceType>,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> Result<Value, ApiError> {
        let mut items = Vec::new();
        let meta = self
            .scan(rt, ns, opts, |obj| {
                items.push(obj);
                Ok(())
            })
            .await?;
        Ok(json!({
            "kind": rt.list_kind,
            "apiVersion": rt.api_version(),
            "metadata": meta.to_json(),
            "items": items,
        }))
    }

    /// Calls `visit` with each matching object in key order (see [`Scan`]).
    pub async fn scan(
        &self,
        rt: &Arc<ResourceType>,
        ns: Option<&str>,
        opts: &ListOptions,
        mut visit: impl FnMut(Value) -> Result<(), ApiError>,
    ) -> Result<ListMeta, ApiError> {
        let mut scan = Scan::new(self.clone(), rt, ns, opts.clone())?;
        while let Some(batch) = scan.next_batch().await? {
            for obj in batch {
                visit(obj)?;
            }
        }
        Ok(scan.meta())
    }
}

/// A list read batch by batch at one revision, so that a large list never holds every decoded
/// object at once (and a response can be streamed while the store is read).
pub struct Scan {
    registry: Registry,
    rt: Arc<ResourceType>,
    prefix: String,
    opts: ListOptions,
    start_after: Option<String>,
    revision: Option<Revision>,
    matched: usize,
    more: bool,
    last_key: Option<String>,
    done: bool,
}

impl Scan {
    pub fn new(
        registry: Registry,
        rt: &Arc<ResourceType>,
        ns: Option<&str>,
        opts: ListOptions,
    ) -> Result<Scan, ApiError> {
        let prefix = key_prefix(rt, ns);
        let (start_after, mut revision) = match &opts.continue_token {
            Some(token) => {
                let (rev, start) = decode_continue(token)?;
                (Some(format!("{prefix}{start}")), Some(rev))
            }
            None => (None, None),
        };
        if revision.is_none() {
            revision = exact_revision(&opts)?;
        }
        Ok(Scan {
            registry,
            rt: rt.clone(),
            prefix,
            opts,
            start_after,
            revision,
            matched: 0,
            more: false,
            last_key: None,
            done: false,
        })
    }

    /// The next matching objects, or `None` when the list is complete.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<Value>>, ApiError> {
        if self.done {
            return Ok(None);
        }
        let (p, after, revision) = (self.prefix.clone(), self.start_after.clone(), self.revision);
        let continued = self.opts.continue_token.is_some();
        let page = self
            .registry
            .blocking(move |s| s.list(&p, after.as_deref(), SCAN_BATCH, revision))
            .await
            .map_err(|e| match e {
                StoreError::Compacted { .. } if continued => expired_continue(),
                other => store_error(other),
            })?;
        self.revision = Some(page.revision);
        let limit = self.opts.limit.filter(|l| *l > 0);
        let mut out = Vec::new();
        for (i, kv) in page.items.iter().enumerate() {
            let obj = decode(&self.rt, kv)?;
            if self.opts.matches(&obj) {
                out.push(obj);
                self.matched += 1;
            }
            self.last_key = Some(kv.key.clone());
            if limit.is_some_and(|l| self.matched >= l) {
                self.more = page.more || i + 1 < page.items.len();
                self.done = true;
                return Ok(Some(out));
            }
        }
        if page.more {
            self.start_after = self.last_key.clone();
        } else {
            self.done = true;
        }
        Ok(Some(out))
    }

    /// The list's metadata; complete once `next_batch` returned `None`.
    pub fn meta(&self) -> ListMeta {
        let revision = self.revision.unwrap_or(0);
        let continue_token = match (&self.last_key, self.more) {
            (Some(key), true) => Some(encode_continue(
                revision,
                key.strip_prefix(&self.prefix).unwrap_or(key),
            )),
            _ => None,
        };
        ListMeta {
            revision,
            continue_token,
        }
    }
}

/// A list with `resourceVersion=N` and `resourceVersionMatch=Exact`, or the default "most recent".
fn exact_revision(opts: &ListOptions) -> Result<Option<Revision>, ApiError> {
    match opts.resource_version.as_deref() {
        None | Some("" | "0") => Ok(None),
        Some(rv) => rv
            .parse::<Revision>()
            .map(|_| None)
            .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}"))),
    }
}

fn expired_continue() -> ApiError {
    ApiError::gone(
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
    )
}

/// The token format upstream uses: base64 of `{"v":"meta.k8s.io/v1","rv":N,"start":"<key>"}`.
fn encode_continue(rev: Revision, start: &str) -> String {
    let raw = json!({"v": "meta.k8s.io/v1", "rv": rev, "start": start}).to_string();
    base64::engine::general_purpose::URL_SAFE.encode(raw)
}

fn decode_continue(token: &str) -> Result<(Revision, String), ApiError> {
    let bad = || ApiError::bad_request("continue key is not valid: invalid continue token");
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(token))
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rev = v["rv"].as_i64().filter(|r| *r > 0).ok_or_else(bad)?;
    let start = v["start"].as_str().ok_or_else(bad)?;
    if start.contains("..") || start.starts_with('/') {
        return Err(bad());
    }
    Ok((rev, start.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_token_round_trips() {
        let t = encode_continue(42, "default/web-1");
        assert_eq!(
            decode_continue(&t).unwrap(),
            (42, "default/web-1".to_string())
        );
        assert!(decode_continue("garbage!").is_err());
    }
}
