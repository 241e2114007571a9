//! List: selectors, paging with continue tokens that keep one consistent revision across pages.

use super::{decode, key_prefix, store_error, Registry};
use base64::Engine;
use kindling_api::selector::{FieldSelector, LabelSelector};
use kindling_api::{ApiError, ResourceType};
use kindling_store::{Revision, StoreError};
use serde_json::{json, Value};

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

impl Registry {
    /// A `<Kind>List` of the matching objects.
    pub async fn list(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> Result<Value, ApiError> {
        let prefix = key_prefix(rt, ns);
        let (mut start_after, mut revision) = match &opts.continue_token {
            Some(token) => {
                let (rev, start) = decode_continue(token)?;
                (Some(format!("{prefix}{start}")), Some(rev))
            }
            None => (None, None),
        };
        if revision.is_none() {
            revision = exact_revision(opts)?;
        }
        let limit = opts.limit.filter(|l| *l > 0);
        let mut items = Vec::new();
        let mut more = false;
        let mut last_key = None;
        loop {
            let batch = if limit.is_some() { SCAN_BATCH } else { 0 };
            let (p, after) = (prefix.clone(), start_after.clone());
            let page = self
                .blocking(move |s| s.list(&p, after.as_deref(), batch, revision))
                .await
                .map_err(|e| match e {
                    StoreError::Compacted { .. } if opts.continue_token.is_some() => {
                        expired_continue()
                    }
                    other => store_error(other),
                })?;
            revision = Some(page.revision);
            let mut stopped_early = false;
            for (i, kv) in page.items.iter().enumerate() {
                let obj = decode(kv)?;
                if opts.matches(&obj) {
                    items.push(obj);
                }
                last_key = Some(kv.key.clone());
                if limit.is_some_and(|l| items.len() >= l) {
                    more = page.more || i + 1 < page.items.len();
                    stopped_early = true;
                    break;
                }
            }
            if stopped_early || !page.more {
                break;
            }
            start_after = last_key.clone();
        }
        let revision = revision.unwrap_or(0);
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if more {
            if let Some(key) = &last_key {
                let start = key.strip_prefix(&prefix).unwrap_or(key);
                metadata["continue"] = json!(encode_continue(revision, start));
            }
        }
        Ok(json!({
            "kind": rt.list_kind,
            "apiVersion": rt.api_version(),
            "metadata": metadata,
            "items": items,
        }))
    }
}

/// A list with `resourceVersion=N` and `resourceVersionMatch=Exact`, or the default "most recent".
fn exact_revision(opts: &ListOptions) -> Result<Option<Revision>, ApiError> {
    match opts.resource_version.as_deref() {
        None | Some("") | Some("0") => Ok(None),
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
