//! The domains page: for each domain, its email domains (verified or
//! pending), its just-in-time switch and default team, its providers in
//! the order a login tries them (moved up or down in one click), and each
//! provider's settings as JSON, secrets never shown back (an `ldap`
//! provider's service password left out keeps the stored one).

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::session::{Session, csrf_matches};
use super::{Api, ApiFailure, OrgSession, api_change, api_get, refused_form, same_origin, view};
use crate::store::OrgId;

pub(super) async fn list(
    Extension(api): Extension<Api>,
    OrgSession(session, org): OrgSession,
) -> Result<Response, ApiFailure> {
    Ok(Html(page(&api, &session, &org, None).await?.into_string()).into_response())
}

/// The settings form of a domain.
#[derive(Debug, Deserialize)]
pub(super) struct Settings {
    #[serde(default)]
    csrf: String,
    domain: String,
    /// Present (`on`) when the box is ticked.
    #[serde(default)]
    jit: Option<String>,
    #[serde(default)]
    default_team: String,
    /// One email domain per line, or separated by commas or spaces.
    #[serde(default)]
    email_domains: String,
}

pub(super) async fn settings(
    Extension(api): Extension<Api>,
    OrgSession(session, org): OrgSession,
    headers: HeaderMap,
    Form(form): Form<Settings>,
) -> Result<Response, ApiFailure> {
    if !same_origin(&headers) || !csrf_matches(&session, &form.csrf) {
        return Ok(refused_form());
    }
    let email_domains: Vec<&str> =
        form.email_domains.split(|c: char| c == ',' || c.is_whitespace()).filter(|d| !d.is_empty()).collect();
    let team = (!form.default_team.is_empty()).then_some(form.default_team.as_str());
    let body = json!({"jit": form.jit.is_some(), "default_team": team, "email_domains": email_domains});
    let uri = format!("/v1/orgs/{org}/domains/{}", form.domain);
    answer(&api, &session, &org, Method::PATCH, &uri, body).await
}

/// A provider moved one place up or down in its domain's order.
#[derive(Debug, Deserialize)]
pub(super) struct Move {
    #[serde(default)]
    csrf: String,
    domain: String,
    provider: String,
    /// `up` or `down`.
    direction: String,
}

pub(super) async fn reorder(
    Extension(api): Extension<Api>,
    OrgSession(session, org): OrgSession,
    headers: HeaderMap,
    Form(form): Form<Move>,
) -> Result<Response, ApiFailure> {
    if !same_origin(&headers) || !csrf_matches(&session, &form.csrf) {
        return Ok(refused_form());
    }
    let domain = api_get(&api, &session, &format!("/v1/orgs/{org}/domains/{}", form.domain)).await?;
    let mut order =
        ordered(&domain).iter().map(|p| p["id"].as_str().unwrap_or_default().to_owned()).collect::<Vec<_>>();
    if let Some(i) = order.iter().position(|id| *id == form.provider) {
        let j = match form.direction.as_str() {
            "up" => i.checked_sub(1),
            _ => Some(i + 1).filter(|j| *j < order.len()),
        };
        if let Some(j) = j {
            order.swap(i, j);
        }
    }
    let uri = format!("/v1/orgs/{org}/domains/{}", form.domain);
    answer(&api, &session, &org, Method::PATCH, &uri, json!({"provider_order": order})).await
}

/// A provider's new settings.
#[derive(Debug, Deserialize)]
pub(super) struct ProviderSettings {
    #[serde(default)]
    csrf: String,
    domain: String,
    provider: String,
    config: String,
}

pub(super) async fn provider(
    Extension(api): Extension<Api>,
    OrgSession(session, org): OrgSession,
    headers: HeaderMap,
    Form(form): Form<ProviderSettings>,
) -> Result<Response, ApiFailure> {
    if !same_origin(&headers) || !csrf_matches(&session, &form.csrf) {
        return Ok(refused_form());
    }
    let config = match serde_json::from_str::<Value>(&form.config) {
        Ok(config) if config.is_object() => config,
        Ok(_) => return refused(&api, &session, &org, "The settings must be a JSON object.".into()).await,
        Err(e) => return refused(&api, &session, &org, format!("The settings are not JSON: {e}.")).await,
    };
    let uri = format!("/v1/orgs/{org}/domains/{}/providers/{}", form.domain, form.provider);
    answer(&api, &session, &org, Method::PATCH, &uri, json!({"config": config})).await
}

/// Calls the API; back to the page when it agreed, else the page with the
/// API's message.
async fn answer(
    api: &Api,
    session: &Session,
    org: &OrgId,
    method: Method,
    uri: &str,
    body: Value,
) -> Result<Response, ApiFailure> {
    let body = Some(("application/json", body.to_string().into_bytes()));
    match api_change(api, &session.token, method, uri, body).await? {
        Ok(()) => Ok(Redirect::to("/console/domains").into_response()),
        Err(why) => refused(api, session, org, why).await,
    }
}

async fn refused(api: &Api, session: &Session, org: &OrgId, why: String) -> Result<Response, ApiFailure> {
    let page = page(api, session, org, Some(why)).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response())
}

/// A domain's providers in the order a login tries them.
fn ordered(domain: &Value) -> Vec<Value> {
    let mut providers = domain["providers"].as_array().cloned().unwrap_or_default();
    providers.sort_by_key(|p| p["position"].as_i64().unwrap_or(0));
    providers
}

async fn page(api: &Api, session: &Session, org: &OrgId, refusal: Option<String>) -> Result<Markup, ApiFailure> {
    let domains = api_get(api, session, &format!("/v1/orgs/{org}/domains")).await?;
    let teams = api_get(api, session, &format!("/v1/orgs/{org}/teams")).await?;
    let teams: Vec<(String, String)> = teams
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["id"].as_str()?.to_owned(), t["name"].as_str()?.to_owned())))
        .collect();
    let content = html! {
        h1 { "Domains and providers" }
        @if let Some(why) = &refusal {
            p.error role="alert" { (why) }
        }
        @let list = domains.as_array().cloned().unwrap_or_default();
        @if list.is_empty() { p.empty { "No domain yet." } }
        @for domain in &list {
            (domain_section(session, &teams, domain))
        }
    };
    Ok(view::page("Domains", Some(session), content))
}

fn domain_section(session: &Session, teams: &[(String, String)], domain: &Value) -> Markup {
    let id = domain["id"].as_str().unwrap_or_default();
    let strings = |key: &str| -> Vec<String> {
        domain[key].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect()
    };
    let (claimed, verified) = (strings("email_domains"), strings("verified_email_domains"));
    let providers = ordered(domain);
    let last = providers.len().saturating_sub(1);
    html! {
        section id=(format!("domain-{id}")) {
            h2 { "Domain " (domain["name"].as_str().unwrap_or_default()) }
            form method="post" action="/console/domains/settings" {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name="domain" value=(id);
                label for=(format!("emails-{id}")) { "Email domains (one per line; new ones wait for verification)" }
                textarea id=(format!("emails-{id}")) name="email_domains" rows="3" { (claimed.join("\n")) }
                p.note {
                    @for (i, email_domain) in claimed.iter().enumerate() {
                        @if i > 0 { ", " }
                        (email_domain) " "
                        @if verified.contains(email_domain) { span.ok { "verified" } } @else { span.bad { "pending" } }
                    }
                }
                label.check {
                    input type="checkbox" name="jit" checked[domain["jit"] == true];
                    " Provision accounts and memberships just in time"
                }
                label for=(format!("team-{id}")) { "Default team" }
                select id=(format!("team-{id}")) name="default_team" {
                    option value="" selected[domain["default_team"].is_null()] { "none" }
                    @for (team, name) in teams {
                        option value=(team) selected[domain["default_team"] == team.as_str()] { (name) }
                    }
                }
                button type="submit" { "Save" }
            }
            h3 { "Providers, in the order a login tries them" }
            @for (i, provider) in providers.iter().enumerate() {
                @let pid = provider["id"].as_str().unwrap_or_default();
                div.provider {
                    p {
                        strong { (i + 1) ". " (provider["name"].as_str().unwrap_or_default()) }
                        " " span.note { "(" (provider["kind"].as_str().unwrap_or_default()) ")" }
                    }
                    @for (direction, label, shown) in [("up", "Move up", i > 0), ("down", "Move down", i < last)] {
                        @if shown {
                            form.inline method="post" action="/console/domains/order" {
                                input type="hidden" name="csrf" value=(session.csrf);
                                input type="hidden" name="domain" value=(id);
                                input type="hidden" name="provider" value=(pid);
                                input type="hidden" name="direction" value=(direction);
                                button type="submit" { (label) }
                            }
                        }
                    }
                    form method="post" action="/console/domains/provider" {
                        input type="hidden" name="csrf" value=(session.csrf);
                        input type="hidden" name="domain" value=(id);
                        input type="hidden" name="provider" value=(pid);
                        label for=(format!("config-{pid}")) { "Settings (JSON; secrets are never shown, and left out they are kept)" }
                        textarea id=(format!("config-{pid}")) name="config" rows="6" spellcheck="false" {
                            (pretty(provider["config"].as_str().unwrap_or("{}")))
                        }
                        button type="submit" { "Save settings" }
                    }
                }
            }
        }
    }
}

/// Stored settings (JSON text), indented.
fn pretty(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_owned())
}
