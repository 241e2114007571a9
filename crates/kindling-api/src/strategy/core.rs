//! core/v1 strategies.
use super::{NameRule, Strategy};

pub struct NamespaceStrategy;
impl Strategy for NamespaceStrategy {
    fn name_rule(&self) -> NameRule {
        NameRule::Label
    }
}

pub struct PodStrategy;
impl Strategy for PodStrategy {}

pub struct ServiceStrategy;
impl Strategy for ServiceStrategy {
    fn name_rule(&self) -> NameRule {
        NameRule::Rfc1035Label
    }
}

/// ConfigMaps.
pub struct ConfigData;
impl Strategy for ConfigData {}

pub struct SecretStrategy;
impl Strategy for SecretStrategy {}

pub struct NodeStrategy;
impl Strategy for NodeStrategy {}
