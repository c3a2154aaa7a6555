//! The audit pages: the organization's login events, filtered by domain,
//! outcome and time, newest first; and one event with each hook's plugin,
//! decision, duration, fuel and failure, and the rule that refused it.

use axum::Extension;
use axum::extract::{Path, Query};
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::{Api, ApiFailure, OrgSession, api_get, view};

/// The filters of the list, as its form sends them (empty fields mean
/// "any").
#[derive(Debug, Default, Deserialize)]
pub(super) struct Filter {
    #[serde(default)]
    domain: String,
    #[serde(default)]
    outcome: String,
    /// One account's events (its id).
    #[serde(default)]
    account: String,
    /// How far back, in hours (default 24).
    #[serde(default)]
    hours: String,
    /// The last id of the previous page.
    #[serde(default)]
    before: String,
}

/// Events per page.
const PAGE: u32 = 50;

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub(super) fn url_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(super) async fn list(
    Extension(api): Extension<Api>,
    OrgSession(session, org): OrgSession,
    Query(filter): Query<Filter>,
) -> Result<Response, ApiFailure> {
    let domains = api_get(&api, &session, &format!("/v1/orgs/{org}/domains")).await?;
    let domains: Vec<(String, String)> = domains
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| Some((d["id"].as_str()?.to_owned(), d["name"].as_str()?.to_owned())))
        .collect();
    let hours: i64 = filter.hours.trim().parse().ok().filter(|h| (1..=24 * 366).contains(h)).unwrap_or(24);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let since = i64::try_from(now.as_millis()).unwrap_or(i64::MAX) - hours * 3600 * 1000;
    let mut uri = format!("/v1/orgs/{org}/audit?limit={PAGE}&since={since}");
    if let Some((id, _)) = domains.iter().find(|(id, _)| *id == filter.domain) {
        uri.push_str(&format!("&domain={}", url_escape(id)));
    }
    if !filter.outcome.trim().is_empty() {
        uri.push_str(&format!("&outcome={}", url_escape(filter.outcome.trim())));
    }
    if !filter.account.trim().is_empty() {
        uri.push_str(&format!("&account={}", url_escape(filter.account.trim())));
    }
    if let Ok(before) = filter.before.trim().parse::<i64>() {
        uri.push_str(&format!("&before={before}"));
    }
    let events = api_get(&api, &session, &uri).await?;
    let events = events.as_array().cloned().unwrap_or_default();
    let name_of = |id: &str| domains.iter().find(|(d, _)| d == id).map_or(id.to_owned(), |(_, n)| n.clone());
    let next = (events.len() == PAGE as usize).then(|| events.last().and_then(|e| e["id"].as_i64())).flatten();
    let content = html! {
        h1 { "Audit" }
        form.filters method="get" action="/console/audit" {
            label for="domain" { "Domain" }
            select #domain name="domain" {
                option value="" { "any" }
                @for (id, name) in &domains {
                    option value=(id) selected[*id == filter.domain] { (name) }
                }
            }
            label for="outcome" { "Outcome" }
            input #outcome type="text" name="outcome" value=(filter.outcome) placeholder="success, denied, …";
            label for="account" { "Account id" }
            input #account type="text" name="account" value=(filter.account);
            label for="hours" { "Last hours" }
            input #hours type="number" name="hours" min="1" value=(hours);
            button type="submit" { "Filter" }
        }
        @if events.is_empty() {
            p.empty { "No event matches." }
        } @else {
            table {
                thead { tr { th { "When" } th { "Domain" } th { "Provider" } th { "Outcome" } th { "Rule" } th { "Count" } } }
                tbody {
                    @for event in &events {
                        @let id = event["id"].as_i64().unwrap_or(0);
                        tr {
                            td { a href=(format!("/console/audit/{id}")) { (view::time(event["at"].as_i64().unwrap_or(0))) } }
                            td { (event["domain"].as_str().map(&name_of).unwrap_or_default()) }
                            td { (event["provider"].as_str().unwrap_or_default()) }
                            td { (outcome(event)) }
                            td { (event["rule"].as_str().unwrap_or_default()) }
                            td.number { (event["occurrences"].as_i64().unwrap_or(1)) }
                        }
                    }
                }
            }
            @if let Some(next) = next {
                p {
                    a href=(format!("/console/audit?domain={}&outcome={}&account={}&hours={hours}&before={next}",
                        url_escape(&filter.domain), url_escape(&filter.outcome), url_escape(&filter.account))) { "Older events" }
                }
            }
        }
    };
    Ok(Html(view::page("Audit", Some(&session), content).into_string()).into_response())
}

fn outcome(event: &Value) -> Markup {
    let outcome = event["outcome"].as_str().unwrap_or_default();
    let good = outcome == "success" || outcome == crate::engine::SHADOW_AGREED;
    html! { span class=(if good { "ok" } else { "bad" }) { (outcome) } }
}

/// A shadow event's calls: each hook's live and shadow decisions side by
/// side, what changed, and the shadow call's cost and failure.
fn shadow_calls(detail: &Value, calls: &[Value]) -> Markup {
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let version = |v: &Value| v.as_str().map_or("built-in".to_owned(), |h| format!("{}…", &h[..h.len().min(12)]));
    html! {
        section {
            h2 { "Shadow comparison" }
            @if let Some(login) = detail["login_event"].as_i64() {
                p { "Of the login " a href=(format!("/console/audit/{login}")) { "event " (login) } "." }
            }
            @for call in calls {
                h3 { (call["hook"].as_str().unwrap_or_default()) ": "
                    @if call["agreed"].as_bool() == Some(true) { span.ok { "agreed" } } @else { span.bad { "differed" } } }
                @if let Some(changes) = call["changes"].as_array() {
                    ul { @for change in changes { li { (change.as_str().unwrap_or_default()) } } }
                }
                table {
                    thead { tr { th {} th { "Version" } th { "Decision" } } }
                    tbody {
                        @for side in ["live", "shadow"] {
                            tr {
                                td { (side) }
                                td { code { (version(&call[side]["plugin"])) } }
                                td { pre { (pretty(&call[side]["decision"])) } }
                            }
                        }
                    }
                }
                @let record = &call["call"];
                p.note {
                    "The shadow call: " (record["outcome"].as_str().unwrap_or_default())
                    (format!(", {:.3} ms, {} fuel", record["duration_us"].as_f64().unwrap_or(0.0) / 1000.0, record["fuel"].as_u64().unwrap_or(0)))
                    @if let Some(failure) = record["failure"].as_str() { " — " (failure) }
                }
                @if let Some(logs) = record["logs"].as_array().filter(|l| !l.is_empty()) {
                    table.logs {
                        thead { tr { th { "Level" } th { "Line" } } }
                        tbody {
                            @for line in logs {
                                tr { td { (line["level"].as_str().unwrap_or_default()) } td { (line["message"].as_str().unwrap_or_default()) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub(super) async fn event(
    Extension(api): Extension<Api>,
    OrgSession(session, org): OrgSession,
    Path(id): Path<i64>,
) -> Result<Response, ApiFailure> {
    // The API lists newest first below `before`: the event is the first.
    let uri = format!("/v1/orgs/{org}/audit?before={}&limit=1", id.saturating_add(1));
    let found = api_get(&api, &session, &uri).await?;
    let event = found.as_array().and_then(|list| list.first()).filter(|e| e["id"].as_i64() == Some(id)).cloned();
    let Some(event) = event else {
        let page = view::page("Not found", Some(&session), html! { h1 { "No such event" } });
        return Ok((axum::http::StatusCode::NOT_FOUND, Html(page.into_string())).into_response());
    };
    let detail = &event["detail"];
    let hooks = detail["hooks"].as_array().cloned().unwrap_or_default();
    let content = html! {
        h1 { @if detail["calls"].is_array() { "Shadow comparison " } @else { "Login event " } (id) }
        dl {
            dt { "When" } dd { (view::time(event["at"].as_i64().unwrap_or(0))) }
            dt { "Outcome" } dd { (outcome(&event)) }
            dt { "Rule" } dd { (event["rule"].as_str().unwrap_or("—")) }
            dt { "Provider" } dd { (event["provider"].as_str().unwrap_or("—")) }
            dt { "Account" } dd { code { (event["account"].as_str().unwrap_or("—")) } }
            @if let Some(attempts) = detail["attempts"].as_str() {
                dt { "Providers tried" } dd { (attempts) }
            }
            dt { "Duration" } dd { (format!("{:.2} ms", detail["duration_us"].as_f64().unwrap_or(0.0) / 1000.0)) }
        }
        section {
            h2 { "Hooks" }
            @if hooks.is_empty() {
                p.empty { "No hook ran." }
            } @else {
                table {
                    thead { tr { th { "Hook" } th { "Plugin" } th { "Outcome" } th { "Duration" } th { "Fuel" } th { "Failure" } } }
                    tbody {
                        @for hook in &hooks {
                            tr {
                                td { (hook["hook"].as_str().unwrap_or_default()) }
                                td { @match hook["plugin"].as_str() {
                                    Some(hash) => { code title=(hash) { (&hash[..hash.len().min(12)]) "…" } }
                                    None => { "built-in" }
                                } }
                                td { (hook["outcome"].as_str().unwrap_or_default())
                                    @if hook["fell_back"].as_bool() == Some(true) { " (built-in decided)" } }
                                td.number { (format!("{:.3} ms", hook["duration_us"].as_f64().unwrap_or(0.0) / 1000.0)) }
                                td.number { (hook["fuel"].as_u64().unwrap_or(0)) }
                                td { (hook["failure"].as_str().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
        @for hook in hooks.iter().filter(|h| h["logs"].as_array().is_some_and(|l| !l.is_empty())) {
            section {
                h2 { "Guest log of " (hook["hook"].as_str().unwrap_or_default()) }
                table.logs {
                    thead { tr { th { "Level" } th { "Line" } } }
                    tbody {
                        @for line in hook["logs"].as_array().into_iter().flatten() {
                            tr { td { (line["level"].as_str().unwrap_or_default()) } td { (line["message"].as_str().unwrap_or_default()) } }
                        }
                    }
                }
                @if hook["logs_truncated"].as_bool() == Some(true) { p.note { "The log was cut at the binding's log limit." } }
            }
        }
        @if let Some(calls) = detail["calls"].as_array() {
            (shadow_calls(detail, calls))
        } @else {
            section {
                h2 { "Decisions" }
                pre { (serde_json::to_string_pretty(&detail["decisions"]).unwrap_or_default()) }
            }
        }
        @if detail["principal"].is_object() {
            @let plugin = hooks.iter().find_map(|h| h["plugin"].as_str()).unwrap_or_default();
            section {
                h2 { "Principal" }
                p.note { "What the provider vouched for, as the plugins saw it." }
                pre { (serde_json::to_string_pretty(&detail["principal"]).unwrap_or_default()) }
                p { a href=(format!("/console/playground?event={id}&plugin={}", url_escape(plugin))) { "Try this principal in the playground" } }
            }
        }
        p { a href="/console/audit" { "All events" } }
    };
    Ok(Html(view::page(&format!("Event {id}"), Some(&session), content).into_string()).into_response())
}
