//! Content negotiation: what the client asked the response to be (`as=Table`,
//! `as=PartialObjectMetadata`, aggregated discovery) and what it sent.

use axum::http::{header, HeaderMap};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Representation {
    #[default]
    Object,
    /// `as=Table;g=meta.k8s.io`: rows and columns for `kubectl get`.
    Table,
    /// `as=PartialObjectMetadata[List]`: metadata only.
    Metadata,
    /// `as=APIGroupDiscoveryList;g=apidiscovery.k8s.io;v=v2`.
    AggregatedDiscovery,
}

#[derive(Clone, Debug, Default)]
pub struct Negotiated {
    pub representation: Representation,
}

impl Negotiated {
    /// The first acceptable alternative of the `Accept` header that we serve wins.
    pub fn from_headers(headers: &HeaderMap) -> Negotiated {
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        for alternative in accept.split(',') {
            let mut params = alternative.split(';').map(str::trim);
            let media = params.next().unwrap_or("");
            if !matches!(media, "application/json" | "*/*" | "application/*") {
                continue;
            }
            let mut as_ = None;
            let mut group = None;
            let mut version = None;
            for p in params {
                match p.split_once('=') {
                    Some(("as", v)) => as_ = Some(v),
                    Some(("g", v)) => group = Some(v),
                    Some(("v", v)) => version = Some(v),
                    _ => {}
                }
            }
            let representation = match (as_, group, version) {
                (None, _, _) => Representation::Object,
                (Some("Table"), Some("meta.k8s.io"), Some("v1")) => Representation::Table,
                (
                    Some("PartialObjectMetadata" | "PartialObjectMetadataList"),
                    Some("meta.k8s.io"),
                    Some("v1"),
                ) => Representation::Metadata,
                (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2")) => {
                    Representation::AggregatedDiscovery
                }
                _ => continue,
            };
            return Negotiated { representation };
        }
        Negotiated::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn neg(accept: &str) -> Representation {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
        Negotiated::from_headers(&h).representation
    }

    #[test]
    fn kubectl_get_asks_for_tables() {
        assert_eq!(
            neg("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"),
            Representation::Table
        );
        assert_eq!(
            neg("application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"),
            Representation::Object
        );
        assert_eq!(neg("application/json"), Representation::Object);
        assert_eq!(
            neg("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"),
            Representation::AggregatedDiscovery
        );
    }
}
