//! Who sent a request, as the API's rules see it (upstream's `user.Info`): what a strategy may
//! record of the requester (a CertificateSigningRequest's `spec.username`…) and what
//! authorization will decide on. The API server's authentication produces it.

use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    /// Empty when the authenticator knows none (client certificates).
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}
