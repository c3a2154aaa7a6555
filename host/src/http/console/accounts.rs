//! The accounts page: the organization's members by email (from an email
//! prefix on), each locked or unlocked here in one click; its invitations,
//! a pending one revoked in one click; and a form that invites an email,
//! optionally into a team.

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::session::{Session, csrf_matches};
use super::{Api, ApiFailure, OrgSession, api_change, api_get, refused_form, same_origin, view};
use crate::store::OrgId;

/// Accounts per page.
const PAGE: usize = 50;

/// The list's query: the email prefix searched, or the last email of the
/// previous page.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Search {
    #[serde(default)]
    email: String,
    #[serde(default)]
    after: String,
}

pub(super) async fn list(
    Extension(api): Extension<Api>,
    OrgSession(session, org): OrgSession,
    Query(search): Query<Search>,
) -> Result<Response, ApiFailure> {
    Ok(Html(page(&api, &session, &org, &search, None).await?.into_string()).into_response())
}

/// The CSRF token of a one-button form.
#[derive(Debug, Deserialize)]
pub(super) struct Csrf {
    #[serde(default)]
    csrf: String,
}

/// Locks (`lock`) or unlocks (`unlock`) a member here, then back to the list.
pub(super) async fn set_lock(
    Extension(api): Extension<Api>,
    OrgSession(session, org): OrgSession,
    headers: HeaderMap,
    Path((account, action)): Path<(String, String)>,
    Form(form): Form<Csrf>,
) -> Result<Response, ApiFailure> {
    if !same_origin(&headers) || !csrf_matches(&session, &form.csrf) || !["lock", "unlock"].contains(&action.as_str()) {
        return Ok(refused_form());
    }
    let uri = format!("/v1/orgs/{org}/accounts/{account}/{action}");
    answer(&api, &session, &org, Method::POST, &uri, None).await
}

/// Revokes a pending invitation, then back to the list.
pub(super) async fn revoke(
    Extension(api): Extension<Api>,
    OrgSession(session, org): OrgSession,
    headers: HeaderMap,
    Path(invitation): Path<String>,
    Form(form): Form<Csrf>,
) -> Result<Response, ApiFailure> {
    if !same_origin(&headers) || !csrf_matches(&session, &form.csrf) {
        return Ok(refused_form());
    }
    let uri = format!("/v1/orgs/{org}/invitations/{invitation}");
    answer(&api, &session, &org, Method::DELETE, &uri, None).await
}

/// The invite form.
#[derive(Debug, Deserialize)]
pub(super) struct Invite {
    #[serde(default)]
    csrf: String,
    email: String,
    #[serde(default)]
    team: String,
}

pub(super) async fn invite(
    Extension(api): Extension<Api>,
    OrgSession(session, org): OrgSession,
    headers: HeaderMap,
    Form(form): Form<Invite>,
) -> Result<Response, ApiFailure> {
    if !same_origin(&headers) || !csrf_matches(&session, &form.csrf) {
        return Ok(refused_form());
    }
    let team = (!form.team.is_empty()).then_some(form.team.as_str());
    let body = json!({"email": form.email.trim(), "team": team}).to_string().into_bytes();
    let uri = format!("/v1/orgs/{org}/invitations");
    answer(&api, &session, &org, Method::POST, &uri, Some(body)).await
}

/// Calls the API; back to the list when it agreed, else the list with the
/// API's message.
async fn answer(
    api: &Api,
    session: &Session,
    org: &OrgId,
    method: Method,
    uri: &str,
    body: Option<Vec<u8>>,
) -> Result<Response, ApiFailure> {
    let body = body.map(|b| ("application/json", b));
    match api_change(api, &session.token, method, uri, body).await? {
        Ok(()) => Ok(Redirect::to("/console/accounts").into_response()),
        Err(why) => {
            let page = page(api, session, org, &Search::default(), Some(why)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response())
        }
    }
}

async fn page(
    api: &Api,
    session: &Session,
    org: &OrgId,
    search: &Search,
    refusal: Option<String>,
) -> Result<Markup, ApiFailure> {
    let prefix = search.email.trim().to_lowercase();
    let accounts = members(api, session, org, &prefix, &search.after).await?;
    let invitations = api_get(api, session, &format!("/v1/orgs/{org}/invitations")).await?;
    let teams = api_get(api, session, &format!("/v1/orgs/{org}/teams")).await?;
    let teams: Vec<(String, String)> = teams
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["id"].as_str()?.to_owned(), t["name"].as_str()?.to_owned())))
        .collect();
    let team_name = |id: &str| teams.iter().find(|(t, _)| t == id).map_or(id.to_owned(), |(_, n)| n.clone());
    let next = (accounts.len() == PAGE).then(|| accounts.last().and_then(|a| a["email"].as_str())).flatten();
    let content = html! {
        h1 { "Accounts and invitations" }
        @if let Some(why) = &refusal {
            p.error role="alert" { (why) }
        }
        section {
            h2 { "Members" }
            form.filters method="get" action="/console/accounts" {
                label for="email" { "Email starts with" }
                input #email type="text" name="email" value=(search.email);
                button type="submit" { "Search" }
            }
            @if accounts.is_empty() {
                p.empty { "No member matches." }
            } @else {
                table {
                    thead { tr { th { "Email" } th { "Username" } th { "Name" } th { "Here" } th {} th {} } }
                    tbody {
                        @for account in &accounts {
                            @let id = account["id"].as_str().unwrap_or_default();
                            @let suspended = account["suspended"] == true;
                            tr {
                                td { (account["email"].as_str().unwrap_or_default()) }
                                td { (account["username"].as_str().unwrap_or_default()) }
                                td { (account["given_name"].as_str().unwrap_or_default()) " " (account["family_name"].as_str().unwrap_or_default()) }
                                td { @if suspended { span.bad { "locked" } } @else { span.ok { "active" } } }
                                td { a href=(format!("/console/audit?account={id}&hours=720")) { "Logins" } }
                                td {
                                    form.inline method="post" action=(format!("/console/accounts/{id}/{}", if suspended { "unlock" } else { "lock" })) {
                                        input type="hidden" name="csrf" value=(session.csrf);
                                        button type="submit" { @if suspended { "Unlock" } @else { "Lock" } }
                                    }
                                }
                            }
                        }
                    }
                }
                @if let Some(next) = next {
                    p { a href=(format!("/console/accounts?email={}&after={}", super::audit::url_escape(&search.email), super::audit::url_escape(next))) { "More" } }
                }
            }
        }
        section {
            h2 { "Invite" }
            form method="post" action="/console/accounts/invitations" {
                input type="hidden" name="csrf" value=(session.csrf);
                label for="invite-email" { "Email" }
                input #invite-email type="text" name="email" required;
                label for="invite-team" { "Team" }
                select #invite-team name="team" {
                    option value="" { "none" }
                    @for (id, name) in &teams { option value=(id) { (name) } }
                }
                button type="submit" { "Invite" }
            }
        }
        section {
            h2 { "Invitations" }
            @let list = invitations.as_array().cloned().unwrap_or_default();
            @if list.is_empty() {
                p.empty { "No invitation." }
            } @else {
                table {
                    thead { tr { th { "Email" } th { "Team" } th { "State" } th { "Sent" } th {} } }
                    tbody {
                        @for invitation in &list {
                            @let id = invitation["id"].as_str().unwrap_or_default();
                            tr {
                                td { (invitation["email"].as_str().unwrap_or_default()) }
                                td { (invitation["team"].as_str().map(&team_name).unwrap_or_default()) }
                                td { (invitation["state"].as_str().unwrap_or_default()) }
                                td { (view::time(invitation["created_at"].as_i64().unwrap_or(0))) }
                                td {
                                    @if invitation["state"] == "pending" {
                                        form.inline method="post" action=(format!("/console/accounts/invitations/{id}/revoke")) {
                                            input type="hidden" name="csrf" value=(session.csrf);
                                            button type="submit" { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(view::page("Accounts", Some(session), content))
}

/// Up to a page of members whose email starts with `prefix`, after the
/// email `after` (the previous page's last) when given. The API lists
/// emails in order, so the matches are one run: from just before the
/// prefix (its stem, without its last character, sorts before every email
/// that starts with it) until an email leaves the stem.
async fn members(
    api: &Api,
    session: &Session,
    org: &OrgId,
    prefix: &str,
    after: &str,
) -> Result<Vec<Value>, ApiFailure> {
    const BATCH: usize = 1000;
    const MAX_BATCHES: usize = 20;
    let stem: String = prefix.chars().take(prefix.chars().count().saturating_sub(1)).collect();
    let mut cursor = if after.is_empty() { stem.clone() } else { after.to_owned() };
    let mut found = Vec::new();
    for _ in 0..MAX_BATCHES {
        let mut uri = format!("/v1/orgs/{org}/accounts?limit={BATCH}");
        if !cursor.is_empty() {
            uri.push_str(&format!("&after={}", super::audit::url_escape(&cursor)));
        }
        let batch = api_get(api, session, &uri).await?.as_array().cloned().unwrap_or_default();
        let full = batch.len() == BATCH;
        for account in batch {
            let email = account["email"].as_str().unwrap_or_default().to_owned();
            if !email.starts_with(&stem) {
                return Ok(found);
            }
            if email.starts_with(prefix) {
                found.push(account);
                if found.len() == PAGE {
                    return Ok(found);
                }
            }
            cursor = email;
        }
        if !full {
            break;
        }
    }
    Ok(found)
}
