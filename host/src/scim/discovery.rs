//! `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas` (RFC 7644 §4):
//! what Provisio serves, stated truthfully. The schemas are rendered from
//! the same tables (`schema.rs`) that parsing and filtering use.

use serde_json::{Value, json};

use super::ScimError;
use super::resource::Base;
use super::schema::{
    ENTERPRISE, ENTERPRISE_SCHEMA, GROUP, GROUP_SCHEMA, LIST_RESPONSE, RESOURCE_TYPE, SERVICE_PROVIDER_CONFIG, USER,
    USER_SCHEMA,
};
use super::service::MAX_RESULTS;

/// The largest request body, in bytes (`bulk.maxPayloadSize` states it too).
pub const MAX_BODY: usize = 1024 * 1024;

/// `GET /ServiceProviderConfig`.
pub fn service_provider_config(base: &Base) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG],
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": MAX_BODY },
        "filter": { "supported": true, "maxResults": MAX_RESULTS },
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "SCIM bearer token",
            "description": "A SCIM token of the domain, issued through the admin API (Authorization: Bearer pvs_…)",
            "primary": true,
        }],
        "meta": { "resourceType": "ServiceProviderConfig", "location": format!("{}/ServiceProviderConfig", base.0) },
    })
}

fn user_type(base: &Base) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A person's account",
        "schema": USER,
        "schemaExtensions": [{ "schema": ENTERPRISE, "required": false }],
        "meta": { "resourceType": "ResourceType", "location": format!("{}/ResourceTypes/User", base.0) },
    })
}

fn group_type(base: &Base) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE],
        "id": "Group",
        "name": "Group",
        "endpoint": "/Groups",
        "description": "A team of the organization",
        "schema": GROUP,
        "meta": { "resourceType": "ResourceType", "location": format!("{}/ResourceTypes/Group", base.0) },
    })
}

fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// `GET /ResourceTypes`.
pub fn resource_types(base: &Base) -> Value {
    list(vec![user_type(base), group_type(base)])
}

/// `GET /ResourceTypes/{name}`.
pub fn resource_type(base: &Base, name: &str) -> Result<Value, ScimError> {
    match name {
        "User" => Ok(user_type(base)),
        "Group" => Ok(group_type(base)),
        _ => Err(ScimError::not_found("resource type")),
    }
}

fn schema_location(base: &Base, id: &str) -> String {
    format!("{}/Schemas/{id}", base.0)
}

/// `GET /Schemas`.
pub fn schemas(base: &Base) -> Value {
    list(
        [&USER_SCHEMA, &ENTERPRISE_SCHEMA, &GROUP_SCHEMA]
            .iter()
            .map(|s| s.describe(&schema_location(base, s.id)))
            .collect(),
    )
}

/// `GET /Schemas/{urn}`.
pub fn schema(base: &Base, id: &str) -> Result<Value, ScimError> {
    [&USER_SCHEMA, &ENTERPRISE_SCHEMA, &GROUP_SCHEMA]
        .iter()
        .find(|s| s.id == id)
        .map(|s| s.describe(&schema_location(base, s.id)))
        .ok_or_else(|| ScimError::not_found("schema"))
}
