//! Field management and server-side apply, as upstream's structured-merge-diff (v4/v6) and
//! k8s.io/apimachinery/pkg/util/managedfields implement them.
//!
//! Every write records in `metadata.managedFields` which manager set which fields:
//!
//! - [`update`] for creates, updates and non-apply patches (operation `Update`): the manager takes
//!   ownership of every field the write added or changed, away from whoever owned it.
//! - [`apply`] for `application/apply-patch+yaml` (operation `Apply`): the applied configuration
//!   is merged into the live object; fields the manager applied before and applies no more are
//!   removed unless someone else owns them; changing a field another manager owns to another
//!   value is a conflict (409) unless forced.
//!
//! The pieces:
//!
//! - [`fieldpath`] — paths, sets of paths and their `FieldsV1` form (`{"f:spec":{"f:replicas":{}}}`).
//! - [`types`] — what each position of an object is (scalar, struct or map, list of which kind),
//!   from the OpenAPI definitions and the generated [`list_types`] tables; [`zero_values`]
//!   says what the Go zero value of each type has, as upstream compares typed objects.
//! - [`typed`] — field sets, comparison, merge and removal over a value and its schema.
//! - [`updater`] — ownership: update, apply, conflicts, pruning.
//! - [`manager`] — the `managedFields` entries and the field manager chain around the updater.
//!
//! Errors are the crate's [`crate::ApiError`], whose size clippy's `result_large_err` objects
//! to; it is the error the server sends, so it is returned as is.

#![allow(clippy::result_large_err)]

#[rustfmt::skip]
pub mod list_types;
#[rustfmt::skip]
pub mod zero_values;
pub mod created;
pub mod fieldpath;
pub mod manager;
pub mod typed;
pub mod types;
pub mod updater;

#[cfg(test)]
mod create_path_tests;
#[cfg(test)]
mod tests;

pub use fieldpath::{Path, PathElement, Set};
pub use manager::{
    apply, conflict_error, decode, encode, manager_or_user_agent, update, Managed, ManagerId,
    Reset, Scope, LAST_APPLIED_ANNOTATION,
};

/// Now, as managed fields entries record time (RFC 3339, seconds).
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}
