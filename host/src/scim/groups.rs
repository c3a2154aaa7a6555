//! `/Groups`: a SCIM group is one of the organization's teams, named by
//! its `displayName` (`organization:team` where the domain uses Docker's
//! convention). Its members are the domain's SCIM users; their memberships
//! of the team have source `scim`.

use serde_json::{Value, json};

use super::patch;
use super::resource::{GroupInput, group_json, parse_group};
use super::schema::GROUP_SCHEMA;
use super::service::{ListRequest, Scope, audit, check_version, from_store, plausible_id};
use super::{ScimError, wire};
use crate::store::{ScimGroup, ScimGroupNames, ScimUserId, Store, TeamId, Tx};

/// The team's name in a display name, under the domain's convention.
fn team_name(scope: &Scope, display_name: &str) -> Result<String, ScimError> {
    match scope.domain.scim_group_names {
        ScimGroupNames::Team => Ok(display_name.to_owned()),
        ScimGroupNames::OrganizationTeam => match display_name.split_once(':') {
            Some((org, team)) if org == scope.org.name && !team.trim().is_empty() => Ok(team.to_owned()),
            _ => Err(ScimError::invalid_value(format!("displayName must be {}:<team> in this domain", scope.org.name))),
        },
    }
}

fn member_ids(input: &GroupInput) -> Vec<ScimUserId> {
    input.members.iter().map(ScimUserId::new).collect()
}

/// Writes the group's name, externalId and members in `tx`, with the
/// members' derived memberships and the audit event.
async fn write(
    tx: &mut Tx,
    scope: &Scope,
    existing: Option<&ScimGroup>,
    input: &GroupInput,
) -> Result<TeamId, ScimError> {
    let name = team_name(scope, &input.display_name)?;
    let domain = &scope.domain.id;
    let team = match existing {
        None => tx.insert_scim_group(domain, &name, input.external_id.as_deref()).await.map_err(from_store)?,
        Some(group) => {
            tx.update_scim_group(domain, &group.team.id, &name, input.external_id.as_deref())
                .await
                .map_err(from_store)?;
            group.team.id.clone()
        }
    };
    let members = member_ids(input);
    let affected = tx.set_scim_members(domain, &team, &members).await.map_err(from_store)?;
    for account in &affected {
        tx.sync_scim_memberships(&scope.org.id, account).await.map_err(from_store)?;
    }
    let before: Vec<&ScimUserId> = existing.map(|g| g.members.iter().collect()).unwrap_or_default();
    let added: Vec<&str> = members.iter().filter(|m| !before.contains(m)).map(ScimUserId::as_str).collect();
    let removed: Vec<&str> = before.iter().filter(|m| !members.contains(m)).map(|m| m.as_str()).collect();
    let operation = if existing.is_some() { "update-group" } else { "create-group" };
    let detail = json!({
        "operation": operation,
        "group": team.as_str(),
        "displayName": input.display_name,
        "members_added": added,
        "members_removed": removed,
    });
    audit(tx, scope, None, detail).await?;
    Ok(team)
}

async fn finish(mut tx: Tx, scope: &Scope, team: &TeamId) -> Result<ScimGroup, ScimError> {
    let group = tx.scim_group(&scope.domain.id, team).await.map_err(from_store)?;
    tx.commit().await.map_err(from_store)?;
    group.ok_or_else(|| ScimError::not_found("group"))
}

async fn load(tx: &mut Tx, scope: &Scope, id: &str, if_match: Option<&str>) -> Result<ScimGroup, ScimError> {
    if !plausible_id(id) {
        return Err(ScimError::not_found("group"));
    }
    let group = tx.scim_group(&scope.domain.id, &TeamId::new(id)).await.map_err(from_store)?;
    let group = group.ok_or_else(|| ScimError::not_found("group"))?;
    check_version(if_match, group.version)?;
    Ok(group)
}

/// `POST /Groups`.
pub async fn create(store: &Store, scope: &Scope, body: &Value) -> Result<ScimGroup, ScimError> {
    let input = parse_group(body)?;
    let mut tx = store.begin().await.map_err(from_store)?;
    let team = write(&mut tx, scope, None, &input).await?;
    finish(tx, scope, &team).await
}

/// `GET /Groups/{id}`.
pub async fn get(store: &Store, scope: &Scope, id: &str) -> Result<ScimGroup, ScimError> {
    if !plausible_id(id) {
        return Err(ScimError::not_found("group"));
    }
    let group = store.scim_group(&scope.domain.id, &TeamId::new(id)).await.map_err(from_store)?;
    group.ok_or_else(|| ScimError::not_found("group"))
}

/// `GET /Groups` and `POST /Groups/.search`: the `ListResponse`.
pub async fn list(store: &Store, scope: &Scope, request: &ListRequest) -> Result<Value, ScimError> {
    let parsed = request.parse()?;
    let names = scope.domain.scim_group_names;
    let page = store.list_scim_groups(&scope.domain.id, names, parsed.query()).await.map_err(from_store)??;
    let resources = page
        .items
        .iter()
        .map(|g| {
            let mut json = group_json(g, names, &scope.base);
            request.project(&mut json);
            json
        })
        .collect();
    Ok(parsed.response(page.total, resources))
}

/// `PUT /Groups/{id}`.
pub async fn replace(
    store: &Store,
    scope: &Scope,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Result<ScimGroup, ScimError> {
    let input = parse_group(body)?;
    let mut tx = store.begin().await.map_err(from_store)?;
    let group = load(&mut tx, scope, id, if_match).await?;
    let team = write(&mut tx, scope, Some(&group), &input).await?;
    finish(tx, scope, &team).await
}

/// `PATCH /Groups/{id}`.
pub async fn modify(
    store: &Store,
    scope: &Scope,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Result<ScimGroup, ScimError> {
    let operations = patch::parse_request(body, wire::parse_patch_path)?;
    let mut tx = store.begin().await.map_err(from_store)?;
    let group = load(&mut tx, scope, id, if_match).await?;
    let mut json = group_json(&group, scope.domain.scim_group_names, &scope.base);
    patch::apply(&mut json, &operations, &GROUP_SCHEMA, &[])?;
    let input = parse_group(&json)?;
    let team = write(&mut tx, scope, Some(&group), &input).await?;
    finish(tx, scope, &team).await
}

/// `DELETE /Groups/{id}`: the domain stops managing the team, whose SCIM
/// members leave it; the team itself stays.
pub async fn delete(store: &Store, scope: &Scope, id: &str, if_match: Option<&str>) -> Result<(), ScimError> {
    let mut tx = store.begin().await.map_err(from_store)?;
    let group = load(&mut tx, scope, id, if_match).await?;
    let affected = tx.delete_scim_group(&scope.domain.id, &group.team.id).await.map_err(from_store)?;
    for account in affected.unwrap_or_default() {
        tx.sync_scim_memberships(&scope.org.id, &account).await.map_err(from_store)?;
    }
    audit(&mut tx, scope, None, json!({ "operation": "delete-group", "group": group.team.id.as_str() })).await?;
    tx.commit().await.map_err(from_store)
}
