//! containerd config patches: kept as written for the node set-up, checked here so that a
//! broken one is reported with its place in the file before anything is created.

use crate::error::ConfigError;
use crate::source::Source;

/// Line and column (1-based) of a byte offset in `text`.
fn line_col(text: &str, offset: usize) -> (u64, u64) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() as u64 + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u64 + 1;
    (line, col)
}

/// Each `containerdConfigPatches[i]` must be TOML (kind merges it into
/// `/etc/containerd/config.toml`).
pub(crate) fn check_toml_patches(patches: &[String], source: &Source) -> Vec<ConfigError> {
    let mut errs = Vec::new();
    for (i, text) in patches.iter().enumerate() {
        let path = format!("containerdConfigPatches[{i}]");
        if let Err(e) = text.parse::<toml::Table>() {
            let location = match e.span() {
                Some(span) => {
                    let (l, c) = line_col(text, span.start);
                    source.embedded_location(&path, l, c)
                }
                None => source.location(&path),
            };
            let message = e.message().trim().to_string();
            errs.push(ConfigError::new(
                &source.name,
                location,
                Some(path),
                format!("invalid TOML in containerd config patch: {message}"),
            ));
        }
    }
    errs
}

/// Each `containerdConfigPatchesJSON6902[i]` must be an RFC 6902 patch in YAML or JSON.
pub(crate) fn check_json6902_patches(patches: &[String], source: &Source) -> Vec<ConfigError> {
    let mut errs = Vec::new();
    for (i, text) in patches.iter().enumerate() {
        let path = format!("containerdConfigPatchesJSON6902[{i}]");
        let value: serde_json::Value = match serde_saphyr::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                errs.push(source.embedded_yaml_error(&path, &e, "failed to parse JSON 6902 patch"));
                continue;
            }
        };
        if let Err(e) = serde_json::from_value::<json_patch::Patch>(value) {
            errs.push(source.error_at(&path, format!("failed to parse JSON 6902 patch: {e}")));
        }
    }
    errs
}
