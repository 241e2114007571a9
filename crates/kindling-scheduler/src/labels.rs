//! Label selectors and node selectors: the matching rules every filter builds on,
//! with upstream's edge cases (a nil selector matches nothing, an empty one everything; an empty
//! node selector term matches nothing; an empty toleration key with `Exists` tolerates all).
//! Label selectors and requirements are `kindling_api::selector`'s, the one matcher.

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm};
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

/// One node selector term: label expressions and `metadata.name` field expressions, ANDed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeTerm {
    pub expressions: Vec<Requirement>,
    pub fields: Vec<Requirement>,
}

impl NodeTerm {
    /// `None` for a term upstream would fail to parse (it then never matches).
    pub fn parse(term: &NodeSelectorTerm) -> Option<NodeTerm> {
        let conv = |r: &NodeSelectorRequirement, field: bool| -> Option<Requirement> {
            let operator = match r.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" if !field => Operator::Exists,
                "DoesNotExist" if !field => Operator::DoesNotExist,
                "Gt" if !field => Operator::GreaterThan,
                "Lt" if !field => Operator::LessThan,
                _ => return None,
            };
            if field && r.key != "metadata.name" {
                return None;
            }
            Some(Requirement {
                key: r.key.clone(),
                operator,
                values: r.values.clone().unwrap_or_default(),
            })
        };
        Some(NodeTerm {
            expressions: term
                .match_expressions
                .iter()
                .flatten()
                .map(|r| conv(r, false))
                .collect::<Option<_>>()?,
            fields: term
                .match_fields
                .iter()
                .flatten()
                .map(|r| conv(r, true))
                .collect::<Option<_>>()?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.expressions.is_empty() && self.fields.is_empty()
    }

    /// An empty term matches no node.
    pub fn matches(&self, node_name: &str, labels: &Labels) -> bool {
        !self.is_empty()
            && self.expressions.iter().all(|r| r.matches(labels))
            && self.fields.iter().all(|r| r.matches_value(Some(node_name)))
    }
}

/// `requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`: ORed terms. No terms
/// means no node matches; unparsable terms never match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSelector {
    pub terms: Vec<Option<NodeTerm>>,
}

impl NodeSelector {
    pub fn parse(terms: &[NodeSelectorTerm]) -> NodeSelector {
        NodeSelector {
            terms: terms.iter().map(NodeTerm::parse).collect(),
        }
    }

    pub fn matches(&self, node_name: &str, labels: &Labels) -> bool {
        self.terms
            .iter()
            .flatten()
            .any(|t| t.matches(node_name, labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
