//! Node selector terms (`nodeSelectorTerms` of required node affinity, preferred terms): label
//! expressions and `metadata.name` field expressions, as the scheduler and the DaemonSet
//! controller match nodes with them (upstream's component-helpers nodeaffinity). Label
//! requirements are [`crate::selector`]'s. No IO.

use crate::selector::{Operator, Requirement};
use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm};
use std::collections::BTreeMap;

pub type Labels = BTreeMap<String, String>;

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
