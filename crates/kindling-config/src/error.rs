//! Errors (which stop `create cluster`) and warnings (which do not), each naming the field.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A 1-based position in the config text.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Location {
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One problem with the config: `file:line:column: field: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file path as given, or `<stdin>`.
    pub source: String,
    /// Where in the file, when the problem is at a place in it.
    pub location: Option<Location>,
    /// The field, as a path into the config (`nodes[1].extraPortMappings[0].hostPort`).
    pub field: Option<String>,
    /// What is wrong, in kind's words where kind has words for it.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(
        source: &str,
        location: Option<Location>,
        field: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError {
            source: source.to_string(),
            location,
            field,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(l) = self.location {
            write!(f, ":{l}")?;
        }
        write!(f, ": ")?;
        if let Some(field) = &self.field {
            if !field.is_empty() {
                write!(f, "{field}: ")?;
            }
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found (kind reports all of a config's validation errors at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [] => write!(f, "invalid config"),
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} errors in the config:", many.len())?;
                for e in many {
                    write!(f, "\n  {e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigErrors {}

/// Something kindling accepted but does not honour (or honours differently than kind): shown to
/// the user, never dropped. Displays as `field: message`, e.g.
/// `kubeadmConfigPatches[0]: ClusterConfiguration.etcd.local.dataDir is not supported by kindling and is ignored`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Warning {
    /// The config field the warning is about (`kubeadmConfigPatches[0]`, `nodes[1].labels`).
    pub field: String,
    pub message: String,
    /// Where that field is in the file, when known.
    pub location: Option<Location>,
}

impl Warning {
    /// `file:line:column: field: message`.
    pub fn with_source(&self, source: &str) -> String {
        match self.location {
            Some(l) => format!("{source}:{l}: {self}"),
            None => format!("{source}: {self}"),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}
