//! Label selectors and node selectors: the matching rules every filter builds on,
//! with upstream's edge cases (a nil selector matches nothing, an empty one everything; an empty
//! node selector term matches nothing; an empty toleration key with `Exists` tolerates all).
//! Label selectors and requirements are `kindling_api::selector`'s, the one matcher.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector as MetaLabelSelector;
pub use kindling_api::selector::{LabelSelector, Operator, Requirement};
pub use kindling_api::taints::{first_untolerated, is_hard_taint, tolerated, tolerates};
use std::collections::BTreeMap;

pub type Labels = BTreeMap<String, String>;

/// A pod's `metav1.LabelSelector` as the scheduler uses it: `None`, and a selector that does not
/// convert (which the API server's validation keeps out), select nothing.
pub fn selector(sel: Option<&MetaLabelSelector>) -> LabelSelector {
    LabelSelector::from_typed(sel).unwrap_or_else(|_| LabelSelector::nothing())
}

pub use kindling_api::nodeselector::{NodeSelector, NodeTerm};

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm};

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn term(exprs: &[(&str, &str, &[&str])], fields: &[(&str, &str, &[&str])]) -> NodeSelectorTerm {
        let conv = |v: &[(&str, &str, &[&str])]| {
            Some(
                v.iter()
                    .map(|(k, op, vals)| NodeSelectorRequirement {
                        key: k.to_string(),
                        operator: op.to_string(),
                        values: Some(vals.iter().map(std::string::ToString::to_string).collect()),
                    })
                    .collect(),
            )
        };
        NodeSelectorTerm {
            match_expressions: conv(exprs),
            match_fields: conv(fields),
        }
    }

    #[test]
    fn node_selector_terms() {
        let l = labels(&[("zone", "a")]);
        let sel = NodeSelector::parse(&[
            term(&[("zone", "In", &["b"])], &[]),
            term(&[], &[("metadata.name", "In", &["n1"])]),
        ]);
        assert!(sel.matches("n1", &l), "second term by name");
        assert!(!sel.matches("n2", &l));
        assert!(
            !NodeSelector::parse(&[]).matches("n1", &l),
            "no terms: nothing"
        );
        assert!(
            !NodeSelector::parse(&[term(&[], &[])]).matches("n1", &l),
            "empty term: nothing"
        );
        let bad = NodeSelector::parse(&[
            term(&[], &[("metadata.labels", "In", &["x"])]),
            term(&[("zone", "In", &["a"])], &[]),
        ]);
        assert!(bad.terms[0].is_none());
        assert!(
            bad.matches("n1", &l),
            "a bad term is skipped, others still count"
        );
    }
}
