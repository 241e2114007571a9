//! API errors as Kubernetes `Status` objects, with upstream's codes and reasons
//! (k8s.io/apimachinery/pkg/api/errors).

use serde_json::{json, Value};

/// One field-level problem, as in `Status.details.causes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueNotSupported`, `FieldValueDuplicate`,
    /// `FieldValueForbidden`, `FieldValueTooLong`, …
    pub reason: &'static str,
    pub message: String,
    /// The field path, e.g. `spec.containers[0].image`.
    pub field: String,
}

impl Cause {
    pub fn required(field: impl Into<String>) -> Cause {
        Cause {
            reason: "FieldValueRequired",
            message: "Required value".into(),
            field: field.into(),
        }
    }
    pub fn invalid(field: impl Into<String>, value: impl std::fmt::Display, detail: &str) -> Cause {
        Cause {
            reason: "FieldValueInvalid",
            message: format!("Invalid value: {value}: {detail}"),
            field: field.into(),
        }
    }
    pub fn not_supported(
        field: impl Into<String>,
        value: impl std::fmt::Display,
        supported: &[&str],
    ) -> Cause {
        let list = supported
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ");
        Cause {
            reason: "FieldValueNotSupported",
            message: format!("Unsupported value: {value}: supported values: {list}"),
            field: field.into(),
        }
    }
    pub fn duplicate(field: impl Into<String>, value: impl std::fmt::Display) -> Cause {
        Cause {
            reason: "FieldValueDuplicate",
            message: format!("Duplicate value: {value}"),
            field: field.into(),
        }
    }
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Cause {
        Cause {
            reason: "FieldValueForbidden",
            message: format!("Forbidden: {}", detail.into()),
            field: field.into(),
        }
    }
    /// `field: message`, as upstream joins causes into the Status message.
    pub fn summary(&self) -> String {
        if self.field.is_empty() {
            self.message.clone()
        } else {
            format!("{}: {}", self.field, self.message)
        }
    }
}

/// A failed API request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// `details.name`, `details.group`, `details.kind`.
    pub name: Option<String>,
    pub group: Option<String>,
    pub kind: Option<String>,
    pub causes: Vec<Cause>,
    /// Seconds a client should wait (429, 500 with retry).
    pub retry_after: Option<u32>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            name: None,
            group: None,
            kind: None,
            causes: Vec::new(),
            retry_after: None,
        }
    }

    fn about(mut self, group: &str, kind: &str, name: &str) -> ApiError {
        self.group = Some(group.to_string());
        self.kind = Some(kind.to_string());
        self.name = Some(name.to_string());
        self
    }

    /// `pods "x" not found` — `resource` is the qualified plural (`deployments.apps`).
    pub fn not_found(group: &str, resource: &str, name: &str) -> ApiError {
        let plural = resource.split('.').next().unwrap_or(resource);
        ApiError::new(404, "NotFound", format!("{resource} \"{name}\" not found"))
            .about(group, plural, name)
    }

    pub fn already_exists(group: &str, resource: &str, name: &str) -> ApiError {
        let plural = resource.split('.').next().unwrap_or(resource);
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{resource} \"{name}\" already exists"),
        )
        .about(group, plural, name)
    }

    pub fn conflict(group: &str, resource: &str, name: &str, detail: &str) -> ApiError {
        let plural = resource.split('.').next().unwrap_or(resource);
        ApiError::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {resource} \"{name}\": {detail}"),
        )
        .about(group, plural, name)
    }

    /// `namespaces "default" is forbidden: this namespace may not be deleted`, with the object
    /// in the details (upstream's NewForbidden).
    pub fn forbidden_object(group: &str, resource: &str, name: &str, why: &str) -> ApiError {
        let plural = resource.split('.').next().unwrap_or(resource);
        ApiError::forbidden(format!("{resource} \"{name}\" is forbidden: {why}"))
            .about(group, plural, name)
    }

    /// `Deployment.apps "x" is invalid: spec.replicas: Invalid value: …`
    pub fn invalid(group: &str, kind: &str, name: &str, causes: Vec<Cause>) -> ApiError {
        let qualified = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let joined = match causes.len() {
            0 => String::new(),
            1 => causes[0].summary(),
            _ => format!(
                "[{}]",
                causes
                    .iter()
                    .map(Cause::summary)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut e = ApiError::new(
            422,
            "Invalid",
            format!("{qualified} \"{name}\" is invalid: {joined}"),
        )
        .about(group, kind, name);
        e.causes = causes;
        e
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(403, "Forbidden", message)
    }

    /// A path that names nothing served.
    pub fn path_not_found() -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    pub fn method_not_allowed(message: impl Into<String>) -> ApiError {
        ApiError::new(405, "MethodNotAllowed", message)
    }

    pub fn not_acceptable(message: impl Into<String>) -> ApiError {
        ApiError::new(406, "NotAcceptable", message)
    }

    pub fn gone(message: impl Into<String>) -> ApiError {
        ApiError::new(410, "Expired", message)
    }

    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(413, "RequestEntityTooLarge", message)
    }

    pub fn unsupported_media_type(content_type: &str) -> ApiError {
        ApiError::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf; got {content_type:?}"))
    }

    /// 415 for a known media type the resource does not take, naming those it takes.
    pub fn unsupported_media_type_of(accepted: &[&str]) -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                accepted.join(", ")
            ),
        )
    }

    pub fn too_many_requests(message: impl Into<String>, retry_after: u32) -> ApiError {
        let mut e = ApiError::new(429, "TooManyRequests", message);
        e.retry_after = Some(retry_after);
        e
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(
            500,
            "InternalError",
            format!("Internal error occurred: {}", message.into()),
        )
    }

    pub fn service_unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(503, "ServiceUnavailable", message)
    }

    /// The object is being deleted, or its namespace is.
    pub fn forbidden_terminating(resource: &str, name: &str, namespace: &str) -> ApiError {
        let mut e = ApiError::new(
            403,
            "Forbidden",
            format!("{resource} \"{name}\" is forbidden: unable to create new content in namespace {namespace} because it is being terminated"),
        );
        e.causes.push(Cause {
            reason: "NamespaceTerminating",
            message: format!("namespace {namespace} is being terminated"),
            field: "metadata.namespace".into(),
        });
        e
    }

    /// The `Status` object sent to the client.
    pub fn to_status(&self) -> Value {
        let mut details = serde_json::Map::new();
        if let Some(n) = &self.name {
            details.insert("name".into(), json!(n));
        }
        if let Some(g) = &self.group {
            if !g.is_empty() {
                details.insert("group".into(), json!(g));
            }
        }
        if let Some(k) = &self.kind {
            details.insert("kind".into(), json!(k));
        }
        if !self.causes.is_empty() {
            let causes: Vec<Value> = self
                .causes
                .iter()
                .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                .collect();
            details.insert("causes".into(), Value::Array(causes));
        }
        if let Some(s) = self.retry_after {
            details.insert("retryAfterSeconds".into(), json!(s));
        }
        // Upstream's field order: details (when there are any) before code.
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        });
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status["code"] = json!(self.code);
        status
    }
}

/// A `Status` reporting success, as DELETE of a collection or some subresources return.
pub fn success_status(details: Option<Value>) -> Value {
    let mut s = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"});
    if let Some(d) = details {
        s["details"] = d;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_joins_causes_like_upstream() {
        let e = ApiError::invalid(
            "apps",
            "Deployment",
            "web",
            vec![
                Cause::required("spec.selector"),
                Cause::invalid("spec.replicas", -1, "must be greater than or equal to 0"),
            ],
        );
        assert_eq!(
            e.message,
            "Deployment.apps \"web\" is invalid: [spec.selector: Required value, spec.replicas: Invalid value: -1: must be greater than or equal to 0]"
        );
        let s = e.to_status();
        assert_eq!(s["code"], 422);
        assert_eq!(s["details"]["causes"][0]["field"], "spec.selector");
    }

    #[test]
    fn not_found_message() {
        let e = ApiError::not_found("apps", "deployments.apps", "web");
        assert_eq!(e.message, "deployments.apps \"web\" not found");
        assert_eq!(e.to_status()["details"]["kind"], "deployments");
    }
}
