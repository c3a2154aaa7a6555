//! The bindings page: for each provider of each domain, the bound identity
//! creator and assignment provider with their configuration, limits,
//! failure policy and sync mode; a form that binds (its JSON checked, the
//! API's refusal shown as it says it); and the binding's history, from the
//! audit log, each earlier version bound again in one click. The next login
//! uses a new binding, without restart.

use std::collections::BTreeMap;

use axum::extract::Query;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::session::{Session, csrf_matches};
use super::{Api, ApiFailure, OrgSession, api_change, api_get, refused_form, same_origin, view};
use crate::engine::BINDING_CHANGED;
use crate::store::OrgId;

/// Versions of a binding's history shown.
const HISTORY: u32 = 20;

/// What the bind form sends (and each history entry's "bind again" form).
#[derive(Debug, Default, Deserialize)]
pub(super) struct BindForm {
    #[serde(default)]
    csrf: String,
    domain: String,
    provider: String,
    #[serde(default)]
    creator: String,
    #[serde(default)]
    assigner: String,
    #[serde(default)]
    config: String,
    #[serde(default)]
    limits: String,
    #[serde(default)]
    failure_policy: String,
    #[serde(default)]
    sync_mode: String,
    #[serde(default)]
    canary_creator: String,
    #[serde(default)]
    canary_assigner: String,
    /// The canary's share in percent; empty: no canary.
    #[serde(default)]
    canary_percent: String,
    #[serde(default)]
    shadow_creator: String,
    #[serde(default)]
    shadow_assigner: String,
}

/// A canary's promote or abort.
#[derive(Debug, Default, Deserialize)]
pub(super) struct CanaryForm {
    #[serde(default)]
    csrf: String,
    domain: String,
    provider: String,
    /// `promote` or `abort`.
    action: String,
}

/// The page's query: which provider was just bound.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Shown {
    #[serde(default)]
    bound: String,
}

pub(super) async fn list(
    Extension(api): Extension<Api>,
    OrgSession(session, org): OrgSession,
    Query(shown): Query<Shown>,
) -> Result<Response, ApiFailure> {
    let notice = (!shown.bound.is_empty()).then(|| (shown.bound.clone(), None));
    Ok(Html(page(&api, &session, &org, notice).await?.into_string()).into_response())
}

pub(super) async fn bind(
    Extension(api): Extension<Api>,
    OrgSession(session, org): OrgSession,
    headers: HeaderMap,
    Form(form): Form<BindForm>,
) -> Result<Response, ApiFailure> {
    if !same_origin(&headers) || !csrf_matches(&session, &form.csrf) {
        return Ok(refused_form());
    }
    let refusal = match body(&form) {
        Err(why) => why,
        Ok(body) => {
            let uri = format!("/v1/orgs/{org}/domains/{}/bindings/{}", form.domain, form.provider);
            let body = Some(("application/json", body.to_string().into_bytes()));
            match api_change(&api, &session.token, Method::PUT, &uri, body).await? {
                Ok(()) => {
                    let shown = format!("/console/bindings?bound={0}#provider-{0}", form.provider);
                    return Ok(Redirect::to(&shown).into_response());
                }
                Err(why) => why,
            }
        }
    };
    let page = page(&api, &session, &org, Some((form.provider.clone(), Some(refusal)))).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response())
}

/// Promotes or aborts a binding's canary through the API.
pub(super) async fn canary(
    Extension(api): Extension<Api>,
    OrgSession(session, org): OrgSession,
    headers: HeaderMap,
    Form(form): Form<CanaryForm>,
) -> Result<Response, ApiFailure> {
    if !same_origin(&headers) || !csrf_matches(&session, &form.csrf) {
        return Ok(refused_form());
    }
    let action = if form.action == "promote" { "promote" } else { "abort" };
    let uri = format!("/v1/orgs/{org}/domains/{}/bindings/{}/canary/{action}", form.domain, form.provider);
    match api_change(&api, &session.token, Method::POST, &uri, None).await? {
        Ok(()) => {
            let shown = format!("/console/bindings?bound={0}#provider-{0}", form.provider);
            Ok(Redirect::to(&shown).into_response())
        }
        Err(why) => {
            let page = page(&api, &session, &org, Some((form.provider.clone(), Some(why)))).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response())
        }
    }
}

/// The API's binding body from the form; what is wrong with it otherwise.
fn body(form: &BindForm) -> Result<Value, String> {
    let object = |name: &str, text: &str| -> Result<Value, String> {
        let text = if text.trim().is_empty() { "{}" } else { text };
        match serde_json::from_str::<Value>(text) {
            Ok(value) if value.is_object() => Ok(value),
            Ok(_) => Err(format!("The {name} must be a JSON object.")),
            Err(e) => Err(format!("The {name} is not JSON: {e}.")),
        }
    };
    let hash = |text: &str| (!text.trim().is_empty()).then(|| text.trim().to_owned());
    let canary = match form.canary_percent.trim() {
        "" => Value::Null,
        percent => match percent.parse::<u8>() {
            Ok(percent @ 1..=100) => json!({
                "creator": hash(&form.canary_creator), "assigner": hash(&form.canary_assigner), "percent": percent,
            }),
            _ => return Err("The canary's share is a whole number of percent, 1 to 100.".into()),
        },
    };
    let shadow = match (hash(&form.shadow_creator), hash(&form.shadow_assigner)) {
        (None, None) => Value::Null,
        (creator, assigner) => json!({"creator": creator, "assigner": assigner}),
    };
    Ok(json!({
        "canary": canary,
        "shadow": shadow,
        "creator": hash(&form.creator),
        "assigner": hash(&form.assigner),
        "config": object("configuration", &form.config)?,
        "limits": object("limits", &form.limits)?,
        "failure_policy": if form.failure_policy.is_empty() { "fail-closed" } else { &form.failure_policy },
        "sync_mode": if form.sync_mode.is_empty() { "on-create" } else { &form.sync_mode },
    }))
}

/// The page; `notice` is the provider just bound, or refused with a reason.
async fn page(
    api: &Api,
    session: &Session,
    org: &OrgId,
    notice: Option<(String, Option<String>)>,
) -> Result<Markup, ApiFailure> {
    let domains = api_get(api, session, &format!("/v1/orgs/{org}/domains")).await?;
    let plugins = api_get(api, session, &format!("/v1/orgs/{org}/plugins")).await?;
    let plugins: Vec<(String, String, String)> = plugins
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some((p["hash"].as_str()?.to_owned(), p["name"].as_str()?.to_owned(), p["world"].as_str()?.to_owned()))
        })
        .collect();
    let mut sections = Vec::new();
    for domain in domains.as_array().into_iter().flatten() {
        let (Some(id), Some(name)) = (domain["id"].as_str(), domain["name"].as_str()) else { continue };
        let bindings = api_get(api, session, &format!("/v1/orgs/{org}/domains/{id}/bindings")).await?;
        let bound: BTreeMap<String, Value> = bindings
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| Some((b["provider"].as_str()?.to_owned(), b.clone())))
            .collect();
        let uri = format!("/v1/orgs/{org}/audit?domain={id}&outcome={BINDING_CHANGED}&limit={HISTORY}");
        let history = api_get(api, session, &uri).await?.as_array().cloned().unwrap_or_default();
        let mut providers: Vec<Value> = domain["providers"].as_array().cloned().unwrap_or_default();
        providers.sort_by_key(|p| p["position"].as_i64().unwrap_or(0));
        sections.push(html! {
            h2 { "Domain " (name) }
            @for provider in &providers {
                @let provider_id = provider["id"].as_str().unwrap_or_default();
                @let past: Vec<&Value> = history.iter().filter(|e| e["detail"]["provider_id"] == provider_id).collect();
                (provider_section(session, &plugins, id, provider, bound.get(provider_id), &past, notice.as_ref()))
            }
        });
    }
    Ok(view::page(
        "Bindings",
        Some(session),
        html! {
            h1 { "Bindings" }
            p.note { "A binding names the plugins a provider's logins run; the next login uses a new one." }
            @if sections.is_empty() { p.empty { "No domain yet." } }
            @for section in sections { (section) }
        },
    ))
}

fn plugin_name(plugins: &[(String, String, String)], hash: &str) -> String {
    let name = plugins.iter().find(|(h, _, _)| h == hash).map_or("?", |(_, n, _)| n.as_str());
    format!("{name} {}…", &hash[..hash.len().min(12)])
}

/// The two selects of one set of a binding's versions: the bound ones
/// (`prefix` empty: fields `creator` and `assigner`), the canary's
/// (`canary_creator`, …) or the shadow's; `chosen` is the object naming the
/// versions chosen, `none` the label of the empty choice. Each hook lists
/// the organization's versions whose world serves it.
fn version_selects(
    plugins: &[(String, String, String)],
    provider: &str,
    prefix: &str,
    labels: [&str; 2],
    chosen: &Value,
    none: &str,
) -> Markup {
    let hooks = [("creator", "creator"), ("assigner", "assignment")];
    html! {
        @for ((slot, world), label) in hooks.into_iter().zip(labels) {
            @let (name, element) = match prefix {
                "" => (slot.to_owned(), format!("{slot}-{provider}")),
                _ => (format!("{prefix}_{slot}"), format!("{prefix}-{slot}-{provider}")),
            };
            @let current = chosen[slot].as_str().unwrap_or_default();
            label for=(element) { (label) }
            select id=(element) name=(name) {
                option value="" selected[current.is_empty()] { (none) }
                @for (hash, plugin, _) in plugins.iter().filter(|(_, _, w)| w.contains(world) || w.contains("provisioner")) {
                    option value=(hash) selected[current == hash] { (plugin) " " (&hash[..hash.len().min(12)]) "…" }
                }
            }
        }
    }
}

fn provider_section(
    session: &Session,
    plugins: &[(String, String, String)],
    domain: &str,
    provider: &Value,
    binding: Option<&Value>,
    history: &[&Value],
    notice: Option<&(String, Option<String>)>,
) -> Markup {
    let id = provider["id"].as_str().unwrap_or_default();
    let empty = json!({});
    let binding = binding.unwrap_or(&empty);
    let pretty = |v: &Value| serde_json::to_string_pretty(if v.is_object() { v } else { &empty }).unwrap_or_default();
    html! {
        section id=(format!("provider-{id}")) {
            h3 { "Provider " (provider["name"].as_str().unwrap_or_default()) " " span.note { "(" (provider["kind"].as_str().unwrap_or_default()) ")" } }
            @if let Some((_, outcome)) = notice.filter(|(p, _)| p == id) {
                @match outcome {
                    None => { p.ok role="status" { "Bound: the next login uses this binding." } }
                    Some(why) => { p.error role="alert" { "Not bound: " (why) } }
                }
            }
            form method="post" action="/console/bindings" {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name="domain" value=(domain);
                input type="hidden" name="provider" value=(id);
                (version_selects(plugins, id, "", ["Identity creator", "Assignment provider"], binding, "built-in"))
                label for=(format!("config-{id}")) { "Configuration (JSON object)" }
                textarea id=(format!("config-{id}")) name="config" rows="10" spellcheck="false" { (pretty(&binding["config"])) }
                label for=(format!("limits-{id}")) { "Limits (JSON object: wall_time, fuel, memory_bytes, …)" }
                textarea id=(format!("limits-{id}")) name="limits" rows="3" spellcheck="false" { (pretty(&binding["limits"])) }
                label for=(format!("policy-{id}")) { "When a plugin fails" }
                select id=(format!("policy-{id}")) name="failure_policy" {
                    @for (value, text) in [("fail-closed", "refuse the login"), ("fall-back", "let the built-in decide")] {
                        option value=(value) selected[binding["failure_policy"] == value] { (text) }
                    }
                }
                fieldset.canary {
                    legend { "Canary: candidate versions for a share of the logins (a person keeps theirs)" }
                    @if let Some(percent) = binding["canary"]["percent"].as_u64() {
                        p.note role="status" { (percent) "% of the logins run the candidates below." }
                    }
                    (version_selects(plugins, id, "canary", ["Candidate identity creator", "Candidate assignment provider"], &binding["canary"], "— the bound one —"))
                    label for=(format!("canary-percent-{id}")) { "Share of logins, percent (empty: no canary)" }
                    input id=(format!("canary-percent-{id}")) type="number" name="canary_percent" min="1" max="100"
                        value=(binding["canary"]["percent"].as_u64().map(|p| p.to_string()).unwrap_or_default());
                }
                fieldset.shadow {
                    legend { "Shadow: versions that decide beside every login, compared and never applied" }
                    @if binding["shadow"].is_object() {
                        p.note role="status" {
                            "Each login's shadow decision is in the audit log ("
                            a href="/console/audit?outcome=plugin-shadow-differed" { "where it differed" } ")."
                        }
                    }
                    (version_selects(plugins, id, "shadow", ["Shadow identity creator", "Shadow assignment provider"], &binding["shadow"], "— none —"))
                }
                label for=(format!("sync-{id}")) { "Assignments" }
                select id=(format!("sync-{id}")) name="sync_mode" {
                    @for (value, text) in [("on-create", "when the account is created"), ("every-login", "at every login")] {
                        option value=(value) selected[binding["sync_mode"] == value] { (text) }
                    }
                }
                button type="submit" { "Bind" }
            }
            @if binding["canary"].is_object() {
                @for (action, label) in [("promote", "Promote the canary"), ("abort", "Abort the canary")] {
                    form.inline method="post" action="/console/bindings/canary" {
                        input type="hidden" name="csrf" value=(session.csrf);
                        input type="hidden" name="domain" value=(domain);
                        input type="hidden" name="provider" value=(id);
                        input type="hidden" name="action" value=(action);
                        button type="submit" { (label) }
                    }
                }
            }
            p { a href=(format!("/console/replay?binding={domain}/{id}")) { "Replay this provider's past logins through other versions" } }
            @if !history.is_empty() {
                h4 { "History" }
                table.history {
                    thead { tr { th { "When" } th { "Identity creator" } th { "Assignment provider" } th { "Policy" } th {} } }
                    tbody {
                        @for event in history {
                            @let d = &event["detail"];
                            tr {
                                td { (view::time(event["at"].as_i64().unwrap_or(0))) }
                                td { (d["creator"].as_str().map_or("built-in".to_owned(), |h| plugin_name(plugins, h))) }
                                td { (d["assigner"].as_str().map_or("built-in".to_owned(), |h| plugin_name(plugins, h))) }
                                td { (d["failure_policy"].as_str().unwrap_or_default()) ", " (d["sync_mode"].as_str().unwrap_or_default()) }
                                td {
                                    form.inline method="post" action="/console/bindings" {
                                        input type="hidden" name="csrf" value=(session.csrf);
                                        input type="hidden" name="domain" value=(domain);
                                        input type="hidden" name="provider" value=(id);
                                        input type="hidden" name="creator" value=(d["creator"].as_str().unwrap_or_default());
                                        input type="hidden" name="assigner" value=(d["assigner"].as_str().unwrap_or_default());
                                        input type="hidden" name="config" value=(d["config"].to_string());
                                        input type="hidden" name="limits" value=(if d["limits"].is_object() { d["limits"].to_string() } else { "{}".to_owned() });
                                        input type="hidden" name="failure_policy" value=(d["failure_policy"].as_str().unwrap_or_default());
                                        input type="hidden" name="sync_mode" value=(d["sync_mode"].as_str().unwrap_or_default());
                                        input type="hidden" name="canary_creator" value=(d["canary"]["creator"].as_str().unwrap_or_default());
                                        input type="hidden" name="canary_assigner" value=(d["canary"]["assigner"].as_str().unwrap_or_default());
                                        input type="hidden" name="canary_percent" value=(d["canary"]["percent"].as_u64().map(|p| p.to_string()).unwrap_or_default());
                                        input type="hidden" name="shadow_creator" value=(d["shadow"]["creator"].as_str().unwrap_or_default());
                                        input type="hidden" name="shadow_assigner" value=(d["shadow"]["assigner"].as_str().unwrap_or_default());
                                        button type="submit" { "Bind again" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
