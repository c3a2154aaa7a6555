//! `POST /.search` at the service's root: Users, then Groups, as one list
//! (RFC 7644 §3.4.3). A filter naming an attribute one resource type lacks
//! matches none of that type.

use serde_json::Value;

use super::service::{ListRequest, Scope};
use super::{ScimError, ScimType, groups, users};
use crate::store::Store;

/// The `ListResponse` of a search across both resource types, paged as one
/// list with the same rules as each type's own.
pub async fn all(store: &Store, scope: &Scope, request: &ListRequest) -> Result<Value, ScimError> {
    let paging = request.parse()?;
    let counting = ListRequest { start_index: Some(1), count: Some(0), ..request.clone() };
    let user_total = total(users::list(store, scope, &counting).await)?;
    let group_total = total(groups::list(store, scope, &counting).await)?;
    let (start, count) = (paging.start_index, paging.count);
    let page = |start: u64, count: u64| ListRequest {
        start_index: i64::try_from(start).ok(),
        count: i64::try_from(count).ok(),
        ..request.clone()
    };
    let mut resources = Vec::new();
    if start <= user_total && count > 0 {
        resources.extend(resources_of(users::list(store, scope, &page(start, count)).await?));
    }
    let left = count.saturating_sub(resources.len() as u64);
    if left > 0 && group_total > 0 {
        let group_start = start.saturating_sub(user_total).max(1);
        resources.extend(resources_of(groups::list(store, scope, &page(group_start, left)).await?));
    }
    Ok(paging.response(user_total + group_total, resources))
}

/// How many resources of one type a search matches; none when its filter
/// names an attribute the type lacks.
fn total(list: Result<Value, ScimError>) -> Result<u64, ScimError> {
    match list {
        Ok(v) => Ok(v["totalResults"].as_u64().unwrap_or(0)),
        Err(e) if e.scim_type == Some(ScimType::InvalidFilter) => Ok(0),
        Err(e) => Err(e),
    }
}

fn resources_of(list: Value) -> Vec<Value> {
    match list {
        Value::Object(mut o) => match o.remove("Resources") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}
