//! Storage strategies.
use super::Strategy;

pub struct PersistentVolumeStrategy;
impl Strategy for PersistentVolumeStrategy {}

pub struct PersistentVolumeClaimStrategy;
impl Strategy for PersistentVolumeClaimStrategy {}

pub struct StorageClassStrategy;
impl Strategy for StorageClassStrategy {}
