//! Object metadata rules shared by every resource (k8s.io/apimachinery validation), one topic a
//! module, all re-exported here:
//!
//! - [`names`]: name formats (DNS labels and subdomains, path segments, ConfigMap keys).
//! - [`labels`]: label keys and values, annotations, label selector syntax.
//! - [`finalizers`], [`owners`]: `metadata.finalizers` and `metadata.ownerReferences`.
//! - [`object`]: `metadata` as a whole, on create and update, and of embedded templates.
//! - [`errors`]: upstream's field error messages and the causes built from them.
//! - [`go`]: Go-style formatting of bad values (`go_quote` …), since kubectl users read those
//!   messages verbatim.

pub mod errors;
pub mod finalizers;
pub mod go;
pub mod labels;
pub mod names;
pub mod object;
pub mod owners;

pub use errors::{
    duplicate_str, inclusive_range_error, invalid_raw, invalid_str, max_len_error, not_found,
    not_supported_str, regex_error, required, too_long, validate_immutable, validate_nonnegative,
    FIELD_IMMUTABLE_ERROR_MSG, IS_NEGATIVE_ERROR_MSG,
};
pub use finalizers::validate_finalizer_name;
pub use go::{go_label_selector, go_quote, go_string_map, go_string_slice, go_strings, go_value};
pub use labels::{
    label_value_errors, qualified_name_errors, selector_is_empty, validate_annotations,
    validate_label_selector, validate_label_value, validate_labels, validate_qualified_name,
    TOTAL_ANNOTATION_SIZE_LIMIT,
};
pub use names::{
    config_map_key_errors, dns1035_label_errors, dns1123_label_errors, dns1123_subdomain_errors,
    ip_address_name_errors, is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, name_errors,
    path_segment_errors, validate_dns1123_label, validate_dns1123_subdomain,
    wildcard_dns1123_subdomain_errors,
};
pub use object::{validate_object_meta, validate_object_meta_update, validate_template_meta};
