//! Reading a config: kind's `encoding.Load`/`Parse` (apiVersion and kind first, then a strict
//! decode), with every error located in the file.

use std::path::Path;

use crate::error::{ConfigError, ConfigErrors};
use crate::source::{Node, Source};
use crate::types::{Cluster, API_VERSION, KIND};

/// How stdin is named in messages (`--config -`).
pub const STDIN_NAME: &str = "<stdin>";

/// A config as written, with the location of every field.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The fields as written; defaults are applied by [`Config::resolve`] (or
    /// [`crate::set_defaults`]), so what the user wrote explicitly stays visible.
    pub cluster: Cluster,
    /// The text and its locations.
    pub source: Source,
}

impl Config {
    /// No `--config`: kind's default config (one control-plane node, everything defaulted).
    pub fn default_config() -> Config {
        Config {
            cluster: Cluster {
                kind: KIND.to_string(),
                api_version: API_VERSION.to_string(),
                ..Cluster::default()
            },
            source: Source {
                name: "<default config>".to_string(),
                ..Source::default()
            },
        }
    }

    /// Reads the file at `path` (`-` is not special here: read stdin yourself and use
    /// [`Config::parse`] with [`STDIN_NAME`]).
    pub fn load_file(path: impl AsRef<Path>) -> Result<Config, ConfigErrors> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = std::fs::read(path)
            .map_err(|e| ConfigError::new(&name, None, None, format!("error reading file: {e}")))?;
        let text = String::from_utf8(text).map_err(|e| {
            ConfigError::new(
                &name,
                None,
                None,
                format!("the file is not UTF-8 text: {e}"),
            )
        })?;
        Config::parse(&name, &text)
    }

    /// Parses config text. `source_name` names it in messages (a path, or [`STDIN_NAME`]).
    ///
    /// Like kind, `apiVersion` must be `kind.x-k8s.io/v1alpha4` and `kind` must be `Cluster`, and
    /// unknown fields are errors. Unlike kind, a text with no YAML document at all (empty, blank,
    /// comments only, or a lone `---`) is taken as the default config: kind reports
    /// `unknown apiVersion: ` for it.
    pub fn parse(source_name: &str, text: &str) -> Result<Config, ConfigErrors> {
        let (source, root) = Source::parse(source_name, text)?;
        let Some(root) = root else {
            return Ok(Config {
                source,
                ..Config::default_config()
            });
        };
        let entries = match &root.value {
            Node::Null => {
                return Ok(Config {
                    source,
                    ..Config::default_config()
                })
            }
            Node::Map(entries) => entries,
            Node::Seq(_) | Node::Scalar(_) => {
                return Err(source
                    .error_at("", "could not determine kind / apiVersion for config: the config must be a YAML mapping")
                    .into())
            }
        };
        // kind reads kind/apiVersion first, and only then decodes strictly.
        let scalar = |key: &str| {
            entries
                .iter()
                .find(|(k, _)| k.value.0 == key)
                .map(|(_, v)| match &v.value {
                    Node::Scalar(s) => s.clone(),
                    _ => String::new(),
                })
        };
        let api_version = scalar("apiVersion");
        let kind = scalar("kind");
        match api_version.as_deref() {
            Some(API_VERSION) => {}
            Some(other) => {
                return Err(source
                    .error_at(
                        "apiVersion",
                        format!("unknown apiVersion: {other} (kindling reads {API_VERSION} configs)"),
                    )
                    .into())
            }
            None => {
                return Err(ConfigError::new(
                    &source.name,
                    None,
                    Some("apiVersion".to_string()),
                    format!("unknown apiVersion:  (apiVersion is missing; a kind config starts with `kind: Cluster` and `apiVersion: {API_VERSION}`)"),
                )
                .into())
            }
        }
        if kind.as_deref() != Some(KIND) {
            let k = kind.clone().unwrap_or_default();
            let message =
                format!("unknown kind {k} for apiVersion: {API_VERSION} (expected kind: {KIND})");
            return Err(match kind {
                Some(_) => source.error_at("kind", message),
                None => ConfigError::new(&source.name, None, Some("kind".to_string()), message),
            }
            .into());
        }
        let mut cluster: Cluster =
            serde_saphyr::from_str(text).map_err(|e| source.yaml_error(&e))?;
        decode_checks(&mut cluster, &source)?;
        Ok(Config { cluster, source })
    }
}

/// The checks kind makes while decoding (its `UnmarshalYAML` of Mount and PortMapping): the
/// protocol is upper-cased, and both enumerations must be known.
fn decode_checks(cluster: &mut Cluster, source: &Source) -> Result<(), ConfigErrors> {
    let mut errs = Vec::new();
    for (i, node) in cluster.nodes.iter_mut().enumerate() {
        for (j, m) in node.extra_mounts.iter().enumerate() {
            match m.propagation.as_str() {
                "" | "None" | "HostToContainer" | "Bidirectional" => {}
                other => errs.push(source.error_at(
                    &format!("nodes[{i}].extraMounts[{j}].propagation"),
                    format!("Unknown MountPropagation: {other:?} (expected None, HostToContainer or Bidirectional)"),
                )),
            }
        }
        for (j, pm) in node.extra_port_mappings.iter_mut().enumerate() {
            pm.protocol = pm.protocol.to_uppercase();
            match pm.protocol.as_str() {
                "" | "TCP" | "UDP" | "SCTP" => {}
                other => errs.push(source.error_at(
                    &format!("nodes[{i}].extraPortMappings[{j}].protocol"),
                    format!("Unknown PortMappingProtocol: {other:?} (expected TCP, UDP or SCTP)"),
                )),
            }
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(errs))
    }
}
