//! Workload strategies (apps/v1, batch/v1, replication controllers).
use super::Strategy;

pub struct ReplicatedStrategy;
impl Strategy for ReplicatedStrategy {
    fn tracks_generation(&self) -> bool {
        true
    }
}

pub struct DeploymentStrategy;
impl Strategy for DeploymentStrategy {
    fn tracks_generation(&self) -> bool {
        true
    }
}

pub struct StatefulSetStrategy;
impl Strategy for StatefulSetStrategy {
    fn tracks_generation(&self) -> bool {
        true
    }
}

pub struct DaemonSetStrategy;
impl Strategy for DaemonSetStrategy {
    fn tracks_generation(&self) -> bool {
        true
    }
}

pub struct JobStrategy;
impl Strategy for JobStrategy {
    fn tracks_generation(&self) -> bool {
        true
    }
}

pub struct CronJobStrategy;
impl Strategy for CronJobStrategy {
    fn tracks_generation(&self) -> bool {
        true
    }
}
