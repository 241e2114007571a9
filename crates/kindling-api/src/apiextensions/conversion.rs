//! Conversion `Webhook`, the pure half (upstream's apiserver/conversion/webhook_converter.go and
//! the aggregator's endpoint resolver): the ConversionReview a webhook is sent (v1, or v1beta1
//! when the definition lists it first), what of its answer is accepted (upstream's checks and
//! messages; labels and annotations are all a webhook may change of metadata), and which
//! endpoint of a Service the API server calls. The HTTP call is the API server's.

use crate::json_path::str_at;
use serde_json::{json, Map, Value};

/// Converts custom objects between the versions of one definition (the API server's webhook
/// client): `objects` to `api_version`, or why not (upstream's message).
pub trait Converter: Send + Sync {
    fn convert(&self, objects: Vec<Value>, api_version: &str) -> Result<Vec<Value>, String>;
}

/// The ConversionReview versions the server speaks, preferred first.
const REVIEW_VERSIONS: [&str; 2] = ["v1", "v1beta1"];

/// The review version to send: the first of the definition's that the server speaks.
pub fn review_version(listed: &[String]) -> Result<&'static str, String> {
    listed
        .iter()
        .find_map(|v| REVIEW_VERSIONS.iter().find(|s| *s == v).copied())
        .ok_or_else(|| "no supported conversion review versions".to_string())
}

/// The request body: a ConversionReview of `objects` to `desired`.
pub fn review(version: &str, uid: &str, desired: &str, objects: &[Value]) -> Value {
    json!({
        "kind": "ConversionReview",
        "apiVersion": format!("apiextensions.k8s.io/{version}"),
        "request": {"uid": uid, "desiredAPIVersion": desired, "objects": objects},
    })
}

/// upstream's `%v` of an object's GroupVersionKind: `example.com/v1, Kind=Widget`.
pub fn gvk_text(obj: &Value) -> String {
    format!(
        "{}, Kind={}",
        str_at(obj, &["apiVersion"]),
        str_at(obj, &["kind"])
    )
}

/// The converted objects of a webhook's answer (upstream's getConvertedObjectsFromResponse).
pub fn converted_objects(version: &str, uid: &str, answer: &Value) -> Result<Vec<Value>, String> {
    let want = format!("apiextensions.k8s.io/{version}");
    let got = format!(
        "{}, Kind={}",
        str_at(answer, &["apiVersion"]),
        str_at(answer, &["kind"])
    );
    if version == "v1" && got != format!("{want}, Kind=ConversionReview") {
        return Err(format!(
            "expected webhook response of {want}, Kind=ConversionReview, got {got}"
        ));
    }
    let Some(response) = answer.get("response").filter(|r| r.is_object()) else {
        return Err("no response provided".to_string());
    };
    if version == "v1" && str_at(response, &["uid"]) != uid {
        return Err(format!(
            "expected response.uid={}, got {}",
            crate::meta::go_quote(uid),
            crate::meta::go_quote(str_at(response, &["uid"]))
        ));
    }
    let status = str_at(response, &["result", "status"]);
    if status != "Success" {
        return Err(format!(
            "response.result.status was '{status}', not 'Success'"
        ));
    }
    Ok(response["convertedObjects"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

/// Checks the one object a webhook converted `input` into and gives it `input`'s metadata but
/// for the labels and annotations the webhook returned (upstream's validateConvertedObject and
/// restoreObjectMeta), as upstream words what is wrong.
pub fn accept_converted(input: &Value, converted: Value, desired: &str) -> Result<Value, String> {
    let gvk = gvk_text(input);
    let invalid = |why: String| {
        format!("conversion webhook for {gvk} returned invalid object at index 0: {why}")
    };
    let got = str_at(&converted, &["apiVersion"]);
    if got != desired {
        return Err(invalid(format!(
            "invalid groupVersion (expected {desired}, received {got})"
        )));
    }
    let (want_kind, got_kind) = (str_at(input, &["kind"]), str_at(&converted, &["kind"]));
    if want_kind != got_kind {
        return Err(invalid(format!(
            "invalid kind (expected {want_kind}, received {got_kind})"
        )));
    }
    for (field, what) in [("name", "name"), ("namespace", "namespace"), ("uid", "UID")] {
        let (a, b) = (
            str_at(input, &["metadata", field]),
            str_at(&converted, &["metadata", field]),
        );
        if a != b {
            return Err(format!(
                "conversion webhook for {gvk} returned invalid object: must have the same {what}: {a} != {b}"
            ));
        }
    }
    restore_metadata(input, converted)
        .map_err(|e| format!("conversion webhook for {gvk} returned invalid metadata: {e}"))
}

fn restore_metadata(input: &Value, mut converted: Value) -> Result<Value, String> {
    let returned = match converted.get("metadata") {
        None => return Err("missing metadata in converted object".to_string()),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => {
            return Err(format!(
                "invalid metadata of type {} in converted object",
                go_type(other)
            ))
        }
    };
    let mut meta: Map<String, Value> = input["metadata"].as_object().cloned().unwrap_or_default();
    for field in ["labels", "annotations"] {
        match returned.get(field) {
            None | Some(Value::Null) => {
                meta.shift_remove(field);
            }
            Some(Value::Object(m)) => {
                if let Some((k, v)) = m.iter().find(|(_, v)| !v.is_string()) {
                    return Err(format!(
                        "metadata.{field}[{k}] must be a string, but is {} in converted object",
                        go_type(v)
                    ));
                }
                meta.insert(field.to_string(), Value::Object(m.clone()));
            }
            Some(other) => {
                return Err(format!(
                    "invalid metadata.{field} of type {} in converted object",
                    go_type(other)
                ))
            }
        }
    }
    converted["metadata"] = Value::Object(meta);
    Ok(converted)
}

/// How Go's `%T` names a decoded JSON value.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Where a webhook Service is reached (upstream's endpoint resolver, `proxy.ResolveEndpoint`):
/// an ExternalName's host, else a ready address of the Endpoints subset that has the Service
/// port's name, with that endpoint's port. `pick` chooses among the addresses (upstream picks
/// at random).
pub fn resolve_endpoint(
    service: &Value,
    endpoints: Option<&Value>,
    port: i64,
    pick: usize,
) -> Result<(String, u16), String> {
    let name = str_at(service, &["metadata", "name"]);
    let quoted = crate::meta::go_quote(name);
    let svc_type = match str_at(service, &["spec", "type"]) {
        "" => "ClusterIP",
        t => t,
    };
    if svc_type == "ExternalName" {
        let host = str_at(service, &["spec", "externalName"]).to_string();
        return Ok((host, u16::try_from(port).unwrap_or(443)));
    }
    if !matches!(svc_type, "ClusterIP" | "LoadBalancer" | "NodePort") {
        return Err(format!(
            "unsupported service type {}",
            crate::meta::go_quote(svc_type)
        ));
    }
    let svc_port = service["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["port"].as_i64() == Some(port))
        .ok_or_else(|| format!("no service port {port} found for service {quoted}"))?;
    let port_name = str_at(svc_port, &["name"]);
    let none = || format!("no endpoints available for service {quoted}");
    let subsets = endpoints
        .and_then(|e| e["subsets"].as_array())
        .filter(|s| !s.is_empty())
        .ok_or_else(none)?;
    for subset in subsets {
        let addresses = subset["addresses"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        if addresses.is_empty() {
            continue;
        }
        let found = subset["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| str_at(p, &["name"]) == port_name);
        if let Some(p) = found {
            let ip = str_at(&addresses[pick % addresses.len()], &["ip"]).to_string();
            let port = p["port"]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(443);
            return Ok((ip, port));
        }
    }
    Err(none())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_of_a_service_as_upstreams_resolver() {
        let svc = json!({"metadata": {"name": "conv"}, "spec": {"ports": [
            {"name": "https", "port": 443, "targetPort": 9443}]}});
        let eps = json!({"subsets": [
            {"notReadyAddresses": [{"ip": "10.0.0.9"}], "ports": [{"name": "https", "port": 9443}]},
            {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"name": "https", "port": 9443}]}]});
        assert_eq!(
            resolve_endpoint(&svc, Some(&eps), 443, 1),
            Ok(("10.0.0.2".into(), 9443))
        );
        assert_eq!(
            resolve_endpoint(&svc, Some(&eps), 80, 0).unwrap_err(),
            "no service port 80 found for service \"conv\""
        );
        assert_eq!(
            resolve_endpoint(&svc, None, 443, 0).unwrap_err(),
            "no endpoints available for service \"conv\""
        );
        let external = json!({"metadata": {"name": "x"}, "spec": {"type": "ExternalName", "externalName": "conv.example.com"}});
        assert_eq!(
            resolve_endpoint(&external, None, 443, 0),
            Ok(("conv.example.com".into(), 443))
        );
    }

    #[test]
    fn answers_are_checked_as_upstream() {
        let input = json!({"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w", "uid": "u", "labels": {"a": "b"}, "resourceVersion": "5"}});
        assert_eq!(
            review_version(&["v1beta1".into(), "v1".into()]),
            Ok("v1beta1")
        );
        assert!(review_version(&["v2".into()]).is_err());
        let answer = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
            "response": {"uid": "x", "result": {"status": "Success"}, "convertedObjects": []}});
        assert_eq!(
            converted_objects("v1", "y", &answer).unwrap_err(),
            "expected response.uid=\"y\", got \"x\""
        );
        let failed = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
            "response": {"uid": "x", "result": {"status": "Failure", "message": "nope"}}});
        assert_eq!(
            converted_objects("v1", "x", &failed).unwrap_err(),
            "response.result.status was 'Failure', not 'Success'"
        );
        // Metadata but labels and annotations comes from the input.
        let converted = json!({"apiVersion": "example.com/v1beta1", "kind": "Widget",
            "metadata": {"name": "w", "uid": "u", "labels": {"c": "d"}, "resourceVersion": "9"}, "spec": {"x": 1}});
        let ok = accept_converted(&input, converted.clone(), "example.com/v1beta1").unwrap();
        assert_eq!(
            ok["metadata"],
            json!({"name": "w", "uid": "u", "labels": {"c": "d"}, "resourceVersion": "5"})
        );
        assert_eq!(accept_converted(&input, converted.clone(), "example.com/v2").unwrap_err(),
            "conversion webhook for example.com/v1, Kind=Widget returned invalid object at index 0: invalid groupVersion (expected example.com/v2, received example.com/v1beta1)");
        let mut renamed = converted;
        renamed["metadata"]["name"] = json!("z");
        assert_eq!(accept_converted(&input, renamed, "example.com/v1beta1").unwrap_err(),
            "conversion webhook for example.com/v1, Kind=Widget returned invalid object: must have the same name: w != z");
    }
}
