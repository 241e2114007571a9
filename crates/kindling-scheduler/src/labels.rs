//! Label selectors, node selectors and tolerations: the matching rules every filter builds on,
//! with upstream's edge cases (a nil selector matches nothing, an empty one everything; an empty
//! node selector term matches nothing; an empty toleration key with `Exists` tolerates all).

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;

pub type Labels = BTreeMap<String, String>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt,
    Lt,
}

/// One `key op values` requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub op: Op,
    pub values: Vec<String>,
}

impl Requirement {
    pub fn new(key: &str, op: Op, values: &[&str]) -> Requirement {
        Requirement {
            key: key.to_string(),
            op,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    /// Whether `value` (the label's value, `None` when the label is absent) satisfies this.
    pub fn matches_value(&self, value: Option<&str>) -> bool {
        match self.op {
            Op::In => value.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Op::NotIn => value.is_none_or(|v| !self.values.iter().any(|x| x == v)),
            Op::Exists => value.is_some(),
            Op::DoesNotExist => value.is_none(),
            Op::Gt | Op::Lt => {
                let (Some(v), [bound]) = (value, self.values.as_slice()) else {
                    return false;
                };
                let (Ok(v), Ok(bound)) = (v.parse::<i64>(), bound.parse::<i64>()) else {
                    return false;
                };
                if self.op == Op::Gt {
                    v > bound
                } else {
                    v < bound
                }
            }
        }
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.matches_value(labels.get(&self.key).map(String::as_str))
    }
}

/// A label selector. `Nothing` is upstream's nil selector (matches no object); `Match` with no
/// requirements matches every object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    Nothing,
    Match(Vec<Requirement>),
}

impl Selector {
    pub fn everything() -> Selector {
        Selector::Match(Vec::new())
    }

    /// From a `metav1.LabelSelector`: `None` (or an invalid operator) selects nothing.
    pub fn from_label_selector(sel: Option<&LabelSelector>) -> Selector {
        let Some(sel) = sel else {
            return Selector::Nothing;
        };
        let mut reqs = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            reqs.push(Requirement {
                key: k.clone(),
                op: Op::In,
                values: vec![v.clone()],
            });
        }
        for e in sel.match_expressions.iter().flatten() {
            let op = match e.operator.as_str() {
                "In" => Op::In,
                "NotIn" => Op::NotIn,
                "Exists" => Op::Exists,
                "DoesNotExist" => Op::DoesNotExist,
                _ => return Selector::Nothing,
            };
            reqs.push(Requirement {
                key: e.key.clone(),
                op,
                values: e.values.clone().unwrap_or_default(),
            });
        }
        Selector::Match(reqs)
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        match self {
            Selector::Nothing => false,
            Selector::Match(reqs) => reqs.iter().all(|r| r.matches(labels)),
        }
    }

    /// No requirements at all (selects everything).
    pub fn is_empty(&self) -> bool {
        matches!(self, Selector::Match(r) if r.is_empty())
    }

    /// Adds a requirement (a nil selector stays nil, as upstream's merge leaves it).
    pub fn and(mut self, req: Requirement) -> Selector {
        if let Selector::Match(reqs) = &mut self {
            reqs.push(req);
        }
        self
    }
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
            let op = match r.operator.as_str() {
                "In" => Op::In,
                "NotIn" => Op::NotIn,
                "Exists" if !field => Op::Exists,
                "DoesNotExist" if !field => Op::DoesNotExist,
                "Gt" if !field => Op::Gt,
                "Lt" if !field => Op::Lt,
                _ => return None,
            };
            if field && r.key != "metadata.name" {
                return None;
            }
            Some(Requirement {
                key: r.key.clone(),
                op,
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

/// Whether a toleration tolerates a taint (upstream's `ToleratesTaint`).
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = t.effect.as_deref().filter(|e| !e.is_empty()) {
        if effect != taint.effect {
            return false;
        }
    }
    if let Some(key) = t.key.as_deref().filter(|k| !k.is_empty()) {
        if key != taint.key {
            return false;
        }
    }
    match t.operator.as_deref().unwrap_or("") {
        "" | "Equal" => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        "Exists" => true,
        _ => false,
    }
}

pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

/// The first taint (in the node's order) passing `filter` that no toleration tolerates.
pub fn first_untolerated<'a>(
    taints: &'a [Taint],
    tolerations: &[Toleration],
    filter: impl Fn(&Taint) -> bool,
) -> Option<&'a Taint> {
    taints
        .iter()
        .find(|t| filter(t) && !tolerated(tolerations, t))
}

/// The taints the scheduler must honour: `NoSchedule` and `NoExecute`.
pub fn is_hard_taint(t: &Taint) -> bool {
    t.effect == "NoSchedule" || t.effect == "NoExecute"
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_selector_semantics() {
        let l = labels(&[("app", "web"), ("tier", "front")]);
        assert!(
            !Selector::from_label_selector(None).matches(&l),
            "nil matches nothing"
        );
        assert!(Selector::from_label_selector(Some(&LabelSelector::default())).matches(&l));
        let sel = LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "In".into(),
                    values: Some(vec!["front".into(), "back".into()]),
                },
                LabelSelectorRequirement {
                    key: "canary".into(),
                    operator: "DoesNotExist".into(),
                    values: None,
                },
            ]),
        };
        let s = Selector::from_label_selector(Some(&sel));
        assert!(s.matches(&l));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "db")])));
        assert!(!s.matches(&labels(&[
            ("app", "web"),
            ("tier", "front"),
            ("canary", "1")
        ])));
        let bad = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "x".into(),
                operator: "Gt".into(),
                values: Some(vec!["1".into()]),
            }]),
            ..Default::default()
        };
        assert_eq!(Selector::from_label_selector(Some(&bad)), Selector::Nothing);
        assert!(Selector::everything().is_empty());
        assert_eq!(
            Selector::Nothing.and(Requirement::new("a", Op::In, &["b"])),
            Selector::Nothing
        );
    }

    #[test]
    fn requirement_operators() {
        let l = labels(&[("cores", "8"), ("disk", "ssd")]);
        assert!(Requirement::new("cores", Op::Gt, &["4"]).matches(&l));
        assert!(!Requirement::new("cores", Op::Lt, &["4"]).matches(&l));
        assert!(
            !Requirement::new("disk", Op::Gt, &["4"]).matches(&l),
            "not a number"
        );
        assert!(
            !Requirement::new("gpu", Op::Gt, &["0"]).matches(&l),
            "absent"
        );
        assert!(
            Requirement::new("gpu", Op::NotIn, &["a"]).matches(&l),
            "absent is NotIn"
        );
        assert!(!Requirement::new("disk", Op::NotIn, &["ssd"]).matches(&l));
        assert!(Requirement::new("disk", Op::Exists, &[]).matches(&l));
        assert!(Requirement::new("gpu", Op::DoesNotExist, &[]).matches(&l));
    }

    fn term(exprs: &[(&str, &str, &[&str])], fields: &[(&str, &str, &[&str])]) -> NodeSelectorTerm {
        let conv = |v: &[(&str, &str, &[&str])]| {
            Some(
                v.iter()
                    .map(|(k, op, vals)| NodeSelectorRequirement {
                        key: k.to_string(),
                        operator: op.to_string(),
                        values: Some(vals.iter().map(|s| s.to_string()).collect()),
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

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: Some(value.into()).filter(|v: &String| !v.is_empty()),
            effect: effect.into(),
            time_added: None,
        }
    }

    fn tol(key: &str, op: &str, value: &str, effect: &str) -> Toleration {
        let opt = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
        Toleration {
            key: opt(key),
            operator: opt(op),
            value: opt(value),
            effect: opt(effect),
            toleration_seconds: None,
        }
    }

    #[test]
    fn toleration_matching() {
        let t = taint("dedicated", "gpu", "NoSchedule");
        assert!(tolerates(
            &tol("dedicated", "Equal", "gpu", "NoSchedule"),
            &t
        ));
        assert!(
            tolerates(&tol("dedicated", "", "gpu", ""), &t),
            "empty op is Equal, any effect"
        );
        assert!(!tolerates(&tol("dedicated", "Equal", "cpu", ""), &t));
        assert!(tolerates(&tol("dedicated", "Exists", "", ""), &t));
        assert!(tolerates(&tol("", "Exists", "", ""), &t), "wildcard");
        assert!(!tolerates(&tol("dedicated", "Exists", "", "NoExecute"), &t));
        assert!(!tolerates(&tol("other", "Exists", "", ""), &t));
        let cp = taint("node-role.kubernetes.io/control-plane", "", "NoSchedule");
        assert!(tolerates(
            &tol(
                "node-role.kubernetes.io/control-plane",
                "Exists",
                "",
                "NoSchedule"
            ),
            &cp
        ));
        assert!(tolerates(
            &tol("node-role.kubernetes.io/control-plane", "Equal", "", ""),
            &cp
        ));
        let taints = vec![taint("soft", "", "PreferNoSchedule"), cp.clone(), t.clone()];
        let tols = vec![tol(
            "node-role.kubernetes.io/control-plane",
            "Exists",
            "",
            "",
        )];
        assert_eq!(
            first_untolerated(&taints, &tols, is_hard_taint).map(|t| t.key.as_str()),
            Some("dedicated")
        );
    }
}
