//! What the Node authorizer's graph reads of a pod and of a PV: the few fields that name other
//! objects, decoded straight from the stored JSON (serde skips every other field without
//! building it; a whole pod is not decoded for each of its writes). Every field is optional and
//! `null` reads as absent, as upstream's decoding leaves such fields empty. No IO.

use serde::de::IgnoredAny;
use serde::Deserialize;

/// `metadata.namespace` and `metadata.name`: all a deletion needs.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Named {
    pub metadata: Option<Meta>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Meta {
    pub namespace: Option<String>,
    pub name: Option<String>,
}

impl Named {
    pub fn namespace(&self) -> &str {
        meta_field(self.metadata.as_ref(), |m| m.namespace.as_deref())
    }
    pub fn name(&self) -> &str {
        meta_field(self.metadata.as_ref(), |m| m.name.as_deref())
    }
}

fn meta_field<'a>(meta: Option<&'a Meta>, f: impl Fn(&'a Meta) -> Option<&'a str>) -> &'a str {
    meta.and_then(f).unwrap_or_default()
}

/// A VolumeAttachment or ResourceSlice: its name and `spec.nodeName`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OnNode {
    pub metadata: Option<Meta>,
    pub spec: Option<NodeNameSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NodeNameSpec {
    pub node_name: Option<String>,
}

impl OnNode {
    pub fn name(&self) -> &str {
        meta_field(self.metadata.as_ref(), |m| m.name.as_deref())
    }
    pub fn node(&self) -> Option<&str> {
        self.spec.as_ref().and_then(|s| s.node_name.as_deref())
    }
}

/// The parts of a pod that refer to other objects.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PodRefs {
    pub metadata: Option<Meta>,
    pub spec: Option<PodSpecRefs>,
    pub status: Option<PodStatusRefs>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodSpecRefs {
    pub node_name: Option<String>,
    pub service_account_name: Option<String>,
    pub image_pull_secrets: Option<Vec<Ref>>,
    pub volumes: Option<Vec<PodVolume>>,
    pub init_containers: Option<Vec<ContainerRefs>>,
    pub containers: Option<Vec<ContainerRefs>>,
    pub ephemeral_containers: Option<Vec<ContainerRefs>>,
    pub resource_claims: Option<Vec<ClaimSource>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodStatusRefs {
    pub resource_claim_statuses: Option<Vec<ClaimSource>>,
}

/// `{"name": …}`: a LocalObjectReference or a SecretReference (which may carry a namespace).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Ref {
    pub name: Option<String>,
    pub namespace: Option<String>,
}

/// A volume source that names its secret in `secretRef`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SecretRefSource {
    pub secret_ref: Option<Ref>,
}

/// The secret refs of the in-tree volume sources that name theirs in `secretRef` (fields of a
/// pod's volume and of a PV's spec alike; written out in both rather than flattened, as serde's
/// flatten would buffer every other field).
fn secret_refs(sources: [&Option<SecretRefSource>; 7]) -> impl Iterator<Item = &Ref> {
    sources
        .into_iter()
        .flatten()
        .filter_map(|s| s.secret_ref.as_ref())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodVolume {
    pub name: Option<String>,
    pub secret: Option<SecretVolume>,
    pub config_map: Option<Ref>,
    pub azure_file: Option<AzureFile>,
    pub csi: Option<PodCsi>,
    pub projected: Option<Projected>,
    pub persistent_volume_claim: Option<ClaimVolume>,
    /// Only whether it is there: a generic ephemeral volume's claim is `<pod>-<volume>`.
    pub ephemeral: Option<IgnoredAny>,
    pub cephfs: Option<SecretRefSource>,
    pub cinder: Option<SecretRefSource>,
    pub flex_volume: Option<SecretRefSource>,
    pub rbd: Option<SecretRefSource>,
    pub iscsi: Option<SecretRefSource>,
    #[serde(rename = "scaleIO")]
    pub scale_io: Option<SecretRefSource>,
    pub storageos: Option<SecretRefSource>,
}

impl PodVolume {
    pub fn secret_refs(&self) -> impl Iterator<Item = &Ref> {
        secret_refs([
            &self.cephfs,
            &self.cinder,
            &self.flex_volume,
            &self.rbd,
            &self.iscsi,
            &self.scale_io,
            &self.storageos,
        ])
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SecretVolume {
    pub secret_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AzureFile {
    pub secret_name: Option<String>,
    pub secret_namespace: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodCsi {
    pub node_publish_secret_ref: Option<Ref>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Projected {
    pub sources: Option<Vec<Projection>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Projection {
    pub secret: Option<Ref>,
    pub config_map: Option<Ref>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ClaimVolume {
    pub claim_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerRefs {
    pub env: Option<Vec<EnvVar>>,
    pub env_from: Option<Vec<EnvFrom>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EnvVar {
    pub value_from: Option<EnvVarSource>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EnvVarSource {
    pub secret_key_ref: Option<Ref>,
    pub config_map_key_ref: Option<Ref>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EnvFrom {
    pub secret_ref: Option<Ref>,
    pub config_map_ref: Option<Ref>,
}

/// A pod's `resourceClaims[]` entry or `status.resourceClaimStatuses[]` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ClaimSource {
    pub resource_claim_name: Option<String>,
}

/// The parts of a PV that refer to other objects.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct VolumeRefs {
    pub metadata: Option<Meta>,
    pub spec: Option<PvSpecRefs>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PvSpecRefs {
    pub claim_ref: Option<Ref>,
    pub csi: Option<PvCsi>,
    pub azure_file: Option<AzureFile>,
    pub cephfs: Option<SecretRefSource>,
    pub cinder: Option<SecretRefSource>,
    pub flex_volume: Option<SecretRefSource>,
    pub rbd: Option<SecretRefSource>,
    pub iscsi: Option<SecretRefSource>,
    #[serde(rename = "scaleIO")]
    pub scale_io: Option<SecretRefSource>,
    pub storageos: Option<SecretRefSource>,
}

impl PvSpecRefs {
    pub fn secret_refs(&self) -> impl Iterator<Item = &Ref> {
        secret_refs([
            &self.cephfs,
            &self.cinder,
            &self.flex_volume,
            &self.rbd,
            &self.iscsi,
            &self.scale_io,
            &self.storageos,
        ])
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PvCsi {
    pub node_publish_secret_ref: Option<Ref>,
    pub node_stage_secret_ref: Option<Ref>,
    pub node_expand_secret_ref: Option<Ref>,
    pub controller_publish_secret_ref: Option<Ref>,
}
