//! The replay page: what candidate versions would have decided for a
//! provider's past logins, through the API's replay route: how many
//! decisions change, creations that become denials (or the reverse),
//! memberships added and removed per team and role, and examples, each
//! linked to its audit event. Nothing is written.

use std::collections::BTreeMap;

use axum::extract::Query;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Form};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::session::{Session, csrf_matches};
use super::{Api, ApiFailure, OrgSession, api_call, api_get, refused_form, same_origin, view};
use crate::store::OrgId;

/// The form's fields (and the page's query: which binding to start from).
#[derive(Debug, Default, Deserialize)]
pub(super) struct ReplayForm {
    #[serde(default)]
    csrf: String,
    /// "domain-id/provider-id".
    #[serde(default)]
    binding: String,
    #[serde(default)]
    creator: String,
    #[serde(default)]
    assigner: String,
    /// How far back, in hours.
    #[serde(default)]
    hours: String,
    #[serde(default)]
    limit: String,
}

pub(super) async fn form(
    Extension(api): Extension<Api>,
    OrgSession(session, org): OrgSession,
    Query(start): Query<ReplayForm>,
) -> Result<Response, ApiFailure> {
    Ok(Html(page(&api, &session, &org, &start, None).await?.into_string()).into_response())
}

pub(super) async fn run(
    Extension(api): Extension<Api>,
    OrgSession(session, org): OrgSession,
    headers: HeaderMap,
    Form(form): Form<ReplayForm>,
) -> Result<Response, ApiFailure> {
    if !same_origin(&headers) || !csrf_matches(&session, &form.csrf) {
        return Ok(refused_form());
    }
    let Some((domain, provider)) = form.binding.split_once('/') else {
        let page = page(&api, &session, &org, &form, Some(Err("Choose a provider.".into()))).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response());
    };
    let hours: i64 = form.hours.trim().parse().ok().filter(|h| (1..=24 * 366).contains(h)).unwrap_or(168);
    let limit: u64 = form.limit.trim().parse().ok().filter(|l| (1..=5000).contains(l)).unwrap_or(500);
    let candidate = |hash: &str| (!hash.trim().is_empty()).then(|| hash.trim().to_owned());
    let body = json!({
        "domain": domain, "provider": provider,
        "creator": candidate(&form.creator), "assigner": candidate(&form.assigner),
        "since": crate::store::now_ms() - hours * 3600 * 1000, "limit": limit,
    });
    let uri = format!("/v1/orgs/{org}/replay");
    let answer = match api_call(
        &api,
        &session.token,
        Method::POST,
        &uri,
        Some(("application/json", body.to_string().into_bytes())),
    )
    .await?
    {
        (status, answer) if status.is_success() => Ok(answer),
        (status, answer) if status.is_client_error() || status == StatusCode::SERVICE_UNAVAILABLE => {
            Err(answer["message"].as_str().unwrap_or("refused").to_owned())
        }
        (status, answer) => return Err(ApiFailure(status, answer["code"].as_str().unwrap_or("").into())),
    };
    let status = if answer.is_ok() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = page(&api, &session, &org, &form, Some(answer)).await?;
    Ok((status, Html(page.into_string())).into_response())
}

/// The page: the form as it was, and the last replay's report or refusal.
async fn page(
    api: &Api,
    session: &Session,
    org: &OrgId,
    form: &ReplayForm,
    ran: Option<Result<Value, String>>,
) -> Result<Markup, ApiFailure> {
    let plugins = api_get(api, session, &format!("/v1/orgs/{org}/plugins")).await?;
    let domains = api_get(api, session, &format!("/v1/orgs/{org}/domains")).await?;
    let mut providers: BTreeMap<String, String> = BTreeMap::new();
    for domain in domains.as_array().into_iter().flatten() {
        let (Some(id), Some(name)) = (domain["id"].as_str(), domain["name"].as_str()) else { continue };
        for provider in domain["providers"].as_array().into_iter().flatten() {
            let (Some(pid), Some(pname)) = (provider["id"].as_str(), provider["name"].as_str()) else { continue };
            providers.insert(format!("{id}/{pid}"), format!("{name} / {pname}"));
        }
    }
    let versions = |slot: &str| -> Vec<(String, String)> {
        plugins
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["world"].as_str().is_some_and(|w| w.contains(slot) || w.contains("provisioner")))
            .filter_map(|p| {
                let hash = p["hash"].as_str()?;
                Some((hash.to_owned(), format!("{} · {}", p["name"].as_str()?, &hash[..hash.len().min(12)])))
            })
            .collect()
    };
    let hours = if form.hours.is_empty() { "168" } else { &form.hours };
    let limit = if form.limit.is_empty() { "500" } else { &form.limit };
    let content = html! {
        h1 { "Replay" }
        p.note { "Runs candidate versions on the principals of a provider's past logins (each login's audit event keeps them) and shows which decisions would change. Nothing is written." }
        @match &ran {
            Some(Ok(report)) => { (report_of(report)) }
            Some(Err(why)) => { section.refusal role="alert" { h2 { "Not replayed" } p.error { (why) } } }
            None => {}
        }
        section {
            h2 { "Candidates" }
            form method="post" action="/console/replay" {
                input type="hidden" name="csrf" value=(session.csrf);
                label for="binding" { "Past logins of" }
                select #binding name="binding" {
                    @for (value, label) in &providers { option value=(value) selected[*value == form.binding] { (label) } }
                }
                @for (slot, world, label) in [("creator", "creator", "Candidate identity creator"), ("assigner", "assignment", "Candidate assignment provider")] {
                    label for=(slot) { (label) }
                    select id=(slot) name=(slot) {
                        option value="" { "— not replayed —" }
                        @let chosen = if slot == "creator" { &form.creator } else { &form.assigner };
                        @for (hash, label) in versions(world) { option value=(hash) selected[hash == *chosen] { (label) } }
                    }
                }
                label for="hours" { "How far back (hours)" }
                input #hours type="number" name="hours" min="1" value=(hours);
                label for="limit" { "At most this many logins" }
                input #limit type="number" name="limit" min="1" max="5000" value=(limit);
                button type="submit" { "Replay" }
            }
        }
    };
    Ok(view::page("Replay", Some(session), content))
}

/// A replay's report.
fn report_of(report: &Value) -> Markup {
    let count = |v: &Value| v.as_u64().unwrap_or(0);
    let creations = &report["creations"];
    html! {
        section.report #result {
            h2 { (count(&report["changed"])) " of " (count(&report["logins"])) " logins would be decided otherwise" }
            dl {
                dt { "Logins replayed" } dd { (count(&report["logins"])) }
                dt { "Without a recorded principal" } dd { (count(&report["without_principal"])) }
                dt { "Created, then denied" } dd { (count(&creations["created_then_denied"])) }
                dt { "Denied, then created" } dd { (count(&creations["denied_then_created"])) }
                dt { "Another denial code" } dd { (count(&creations["denial_code_changed"])) }
                dt { "Candidate failed" } dd { (count(&creations["failed"])) }
            }
            @let memberships = report["memberships"].as_array().cloned().unwrap_or_default();
            @if !memberships.is_empty() {
                h3 { "Memberships" }
                table {
                    thead { tr { th { "Kind" } th { "Name" } th { "Added" } th { "Removed" } } }
                    tbody {
                        @for m in &memberships {
                            tr {
                                td { (m["kind"].as_str().unwrap_or_default()) }
                                td { (m["name"].as_str().unwrap_or_default()) }
                                td.number { (count(&m["added"])) }
                                td.number { (count(&m["removed"])) }
                            }
                        }
                    }
                }
            }
            @let examples = report["examples"].as_array().cloned().unwrap_or_default();
            @if !examples.is_empty() {
                h3 { "Examples" }
                table.history {
                    thead { tr { th { "Login" } th { "What changes" } th { "Before" } th { "After" } } }
                    tbody {
                        @for e in &examples {
                            tr {
                                td { a href=(format!("/console/audit/{}", count(&e["event"]))) { (e["email"].as_str().unwrap_or_default()) } }
                                td { ul.changes { @for change in e["changes"].as_array().into_iter().flatten() {
                                    li { (change.as_str().unwrap_or_default()) }
                                } } }
                                td { pre.before { (serde_json::to_string_pretty(&e["before"]).unwrap_or_default()) } }
                                td { pre.after { (serde_json::to_string_pretty(&e["after"]).unwrap_or_default()) } }
                            }
                        }
                    }
                }
            }
        }
    }
}
