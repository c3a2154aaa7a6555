//! The playground page: pick a plugin version (or a component that is not
//! stored), a principal (a recorded one, pasted or edited, or a past
//! login's from the audit), a binding whose configuration and limits to use
//! (or one's own), and run the hooks on the server's runtime through the
//! API's playground route. The answer shows the decision, how a login would
//! judge it, duration, fuel and peak memory against their limits, the
//! guest's log lines, or the failure with its backtrace. Nothing is written.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::{Multipart, Query};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::session::{Session, csrf_matches};
use super::{Api, ApiFailure, OrgSession, api_call, api_get, refused_form, same_origin, view};
use crate::store::OrgId;

/// The recorded principals that ship with the console.
const SAMPLES: [(&str, &str); 4] = [
    ("okta", include_str!("../../../../examples/principals/okta.json")),
    ("google", include_str!("../../../../examples/principals/google.json")),
    ("entra-many-groups", include_str!("../../../../examples/principals/entra-many-groups.json")),
    ("unverified-email", include_str!("../../../../examples/principals/unverified-email.json")),
];

/// What the page was asked to start from.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Start {
    /// A plugin version to select.
    #[serde(default)]
    plugin: String,
    /// A recorded principal, by name.
    #[serde(default)]
    sample: String,
    /// A past login's audit event, whose principal to use.
    #[serde(default)]
    event: String,
}

/// The form's fields, kept to show the form again as it was sent.
#[derive(Debug, Default)]
struct Inputs {
    plugin: String,
    principal: String,
    binding: String,
    config: String,
    limits: String,
    hooks: String,
}

/// What the last run answered.
enum Ran {
    Report(Value),
    Refused(String),
}

pub(super) async fn form(
    Extension(api): Extension<Api>,
    OrgSession(session, org): OrgSession,
    Query(start): Query<Start>,
) -> Result<Response, ApiFailure> {
    let principal = match (start.sample.as_str(), start.event.trim().parse::<i64>()) {
        (_, Ok(id)) => past_principal(&api, &session, &org, id).await?,
        (name, _) => SAMPLES.iter().find(|(n, _)| *n == name).or(SAMPLES.first()).map(|(_, p)| (*p).to_owned()),
    };
    let inputs = Inputs {
        plugin: start.plugin,
        principal: principal.unwrap_or_default(),
        hooks: "both".into(),
        ..Inputs::default()
    };
    Ok(Html(page(&api, &session, &org, &inputs, None).await?.into_string()).into_response())
}

/// The principal a past login's audit event kept, pretty-printed.
async fn past_principal(api: &Api, session: &Session, org: &OrgId, id: i64) -> Result<Option<String>, ApiFailure> {
    let uri = format!("/v1/orgs/{org}/audit?before={}&limit=1", id.saturating_add(1));
    let found = api_get(api, session, &uri).await?;
    let event = found.as_array().and_then(|list| list.first()).filter(|e| e["id"].as_i64() == Some(id));
    let principal = event.map(|e| &e["detail"]["principal"]).filter(|p| p.is_object());
    Ok(principal.and_then(|p| serde_json::to_string_pretty(p).ok()))
}

pub(super) async fn run(
    Extension(api): Extension<Api>,
    OrgSession(session, org): OrgSession,
    headers: HeaderMap,
    mut form: Multipart,
) -> Result<Response, ApiFailure> {
    let (mut csrf, mut inputs, mut component) = (String::new(), Inputs::default(), None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => {
                let refused = Ran::Refused(format!("The form could not be read: {}", e.body_text()));
                let page = page(&api, &session, &org, &inputs, Some(refused)).await?;
                return Ok((e.status(), Html(page.into_string())).into_response());
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "component" {
            component = field.bytes().await.ok().filter(|b| !b.is_empty());
            continue;
        }
        let text = field.text().await.unwrap_or_default();
        match name.as_str() {
            "csrf" => csrf = text,
            "plugin" => inputs.plugin = text,
            "principal" => inputs.principal = text,
            "binding" => inputs.binding = text,
            "config" => inputs.config = text,
            "limits" => inputs.limits = text,
            "hooks" => inputs.hooks = text,
            _ => {}
        }
    }
    if !same_origin(&headers) || !csrf_matches(&session, &csrf) {
        return Ok(refused_form());
    }
    let ran = match body(&inputs, component.as_deref()) {
        Err(why) => Ran::Refused(why),
        Ok(body) => {
            let uri = format!("/v1/orgs/{org}/playground");
            let body = Some(("application/json", body.to_string().into_bytes()));
            match api_call(&api, &session.token, Method::POST, &uri, body).await? {
                (status, answer) if status.is_success() => Ran::Report(answer),
                (status, answer) if status.is_client_error() || status == StatusCode::SERVICE_UNAVAILABLE => {
                    Ran::Refused(answer["message"].as_str().unwrap_or("refused").to_owned())
                }
                (status, answer) => return Err(ApiFailure(status, answer["code"].as_str().unwrap_or("").into())),
            }
        }
    };
    let status = if matches!(ran, Ran::Report(_)) { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = page(&api, &session, &org, &inputs, Some(ran)).await?;
    Ok((status, Html(page.into_string())).into_response())
}

/// The API's playground body from the form; what is wrong with it otherwise.
fn body(inputs: &Inputs, component: Option<&[u8]>) -> Result<Value, String> {
    let object = |name: &str, text: &str| -> Result<Option<Value>, String> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        match serde_json::from_str::<Value>(text) {
            Ok(value) if value.is_object() => Ok(Some(value)),
            Ok(_) => Err(format!("The {name} must be a JSON object.")),
            Err(e) => Err(format!("The {name} is not JSON: {e}.")),
        }
    };
    let principal = object("principal", &inputs.principal)?.ok_or("Give a principal (a JSON object).")?;
    let mut body = json!({
        "principal": principal,
        "hooks": if inputs.hooks.is_empty() { "both" } else { &inputs.hooks },
    });
    match (component, inputs.plugin.trim()) {
        (Some(bytes), _) => body["component"] = base64::engine::general_purpose::STANDARD.encode(bytes).into(),
        (None, "") => return Err("Choose a plugin version, or a component (.wasm) to try without storing it.".into()),
        (None, hash) => body["plugin"] = hash.into(),
    }
    if let Some((domain, provider)) = inputs.binding.split_once('/') {
        body["binding"] = json!({ "domain": domain, "provider": provider });
    }
    if let Some(config) = object("configuration", &inputs.config)? {
        body["config"] = config;
    }
    if let Some(limits) = object("limits", &inputs.limits)? {
        body["limits"] = limits;
    }
    Ok(body)
}

/// The page: the form as it was, and the last run's answer.
async fn page(
    api: &Api,
    session: &Session,
    org: &OrgId,
    inputs: &Inputs,
    ran: Option<Ran>,
) -> Result<Markup, ApiFailure> {
    let plugins = api_get(api, session, &format!("/v1/orgs/{org}/plugins")).await?;
    let domains = api_get(api, session, &format!("/v1/orgs/{org}/domains")).await?;
    // Every bound provider, as "domain-id/provider-id" → "domain / provider".
    let mut bindings: BTreeMap<String, String> = BTreeMap::new();
    for domain in domains.as_array().into_iter().flatten() {
        let (Some(id), Some(name)) = (domain["id"].as_str(), domain["name"].as_str()) else { continue };
        let names: BTreeMap<&str, &str> = domain["providers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
            .collect();
        let bound = api_get(api, session, &format!("/v1/orgs/{org}/domains/{id}/bindings")).await?;
        for binding in bound.as_array().into_iter().flatten() {
            let Some(provider) = binding["provider"].as_str() else { continue };
            let label = format!("{name} / {}", names.get(provider).copied().unwrap_or(provider));
            bindings.insert(format!("{id}/{provider}"), label);
        }
    }
    let content = html! {
        h1 { "Playground" }
        p.note { "Runs a plugin on a principal with the server's runtime and limits. Nothing is stored: no account, no membership, no audit event, no plugin version." }
        @match &ran {
            Some(Ran::Report(answer)) => { (report(answer)) }
            Some(Ran::Refused(why)) => {
                section.refusal role="alert" {
                    h2 { "Not run" }
                    p.error { (why) }
                }
            }
            None => {}
        }
        section {
            h2 { "Principal" }
            form.filters method="get" action="/console/playground" {
                input type="hidden" name="plugin" value=(inputs.plugin);
                div {
                    label for="sample" { "Recorded principal" }
                    select #sample name="sample" {
                        @for (name, _) in SAMPLES { option value=(name) { (name) } }
                    }
                }
                button type="submit" { "Load" }
            }
            p.note { "Or open a login in the " a href="/console/audit" { "audit log" } " and choose “Try this principal”." }
        }
        section {
            h2 { "Run" }
            form method="post" action="/console/playground" enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(session.csrf);
                label for="plugin" { "Plugin version" }
                select #plugin name="plugin" {
                    option value="" { "— the component below —" }
                    @for plugin in plugins.as_array().into_iter().flatten() {
                        @let hash = plugin["hash"].as_str().unwrap_or_default();
                        option value=(hash) selected[hash == inputs.plugin] {
                            (plugin["name"].as_str().unwrap_or_default()) " · "
                            (plugin["world"].as_str().unwrap_or_default()) " · "
                            (&hash[..hash.len().min(12)])
                        }
                    }
                }
                label for="component" { "Or a component (.wasm), tried without storing it" }
                input #component type="file" name="component" accept=".wasm,application/wasm";
                label for="principal" { "Principal (JSON)" }
                textarea #principal name="principal" rows="14" spellcheck="false" { (inputs.principal) }
                label for="binding" { "Configuration and limits of" }
                select #binding name="binding" {
                    option value="" { "— none: the fields below, or the defaults —" }
                    @for (value, label) in &bindings {
                        option value=(value) selected[*value == inputs.binding] { "the binding of " (label) }
                    }
                }
                label for="config" { "Configuration (JSON object; empty: the binding's)" }
                textarea #config name="config" rows="4" spellcheck="false" { (inputs.config) }
                label for="limits" { "Limits (JSON object, e.g. {\"fuel\": 1000000, \"wall_time\": 50}; empty: the binding's)" }
                textarea #limits name="limits" rows="2" spellcheck="false" { (inputs.limits) }
                label for="hooks" { "Hooks" }
                select #hooks name="hooks" {
                    @for (value, label) in [("both", "both (what it exports, creator first)"), ("create", "identity creator"), ("assign", "assignment provider")] {
                        option value=(value) selected[value == inputs.hooks] { (label) }
                    }
                }
                button type="submit" { "Run" }
            }
        }
    };
    Ok(view::page("Playground", Some(session), content))
}

/// A run's answer: the plugin, then each hook's call.
fn report(answer: &Value) -> Markup {
    let plugin = &answer["plugin"];
    let limits = &answer["limits"];
    html! {
        section.report #result {
            h2 { "Ran " (plugin["name"].as_str().unwrap_or_default()) }
            p.note {
                (plugin["world"].as_str().unwrap_or_default()) " · sha256 "
                code { (plugin["hash"].as_str().unwrap_or_default()) }
            }
            @if !answer["create"].is_object() && !answer["assign"].is_object() {
                p { "No hook ran: the plugin exports none of the hooks asked for." }
            }
            @if answer["create"].is_object() { (hook("Identity creator", &answer["create"], limits, creation)) }
            @if answer["assign"].is_object() { (hook("Assignment provider", &answer["assign"], limits, assignments)) }
        }
    }
}

/// One hook's call: its decision (drawn by `decision`) and verdict, or its
/// failure; then what it cost and what it logged.
fn hook(title: &str, call: &Value, limits: &Value, decision: fn(&Value, &Value) -> Markup) -> Markup {
    let stats = &call["stats"];
    let judged = &call["judged"];
    html! {
        h3 { (title) }
        @if call["decision"].is_null() {
            (failure(&call["failure"]))
        } @else {
            (decision(&call["decision"], judged))
            @match judged["refused"].as_str() {
                Some(rule) => p.bad { "A login would refuse this decision: " code { (rule) } " (" (judged["reason"].as_str().unwrap_or_default()) ")." }
                None if judged.is_object() => p.ok { "A login would accept this decision." }
                None => {}
            }
        }
        dl.stats {
            dt { "Duration" } dd { (format!("{:.2} ms", stats["duration_us"].as_f64().unwrap_or(0.0) / 1000.0)) " of " (limits["wall_time"].as_u64().unwrap_or(0)) " ms" }
            dt { "Fuel" } dd { (share(stats["fuel_used"].as_f64(), limits["fuel"].as_f64(), "")) }
            dt { "Peak memory" } dd { (share(stats["peak_memory_bytes"].as_f64().map(|b| b / 1024.0), limits["memory_bytes"].as_f64().map(|b| b / 1024.0), " KiB")) }
        }
        @let logs = stats["logs"].as_array().cloned().unwrap_or_default();
        h4 { "Guest log" }
        @if logs.is_empty() {
            p.empty { "Nothing logged." }
        } @else {
            table.logs {
                thead { tr { th { "Level" } th { "Line" } } }
                tbody {
                    @for line in &logs {
                        tr { td { (line["level"].as_str().unwrap_or_default()) } td { (line["message"].as_str().unwrap_or_default()) } }
                    }
                }
            }
            @if stats["logs_truncated"].as_bool() == Some(true) { p.note { "The log was cut at its limit." } }
        }
    }
}

/// `used of limit (share)`, in whole units with thousands separated.
fn share(used: Option<f64>, limit: Option<f64>, unit: &str) -> String {
    let used = used.unwrap_or(0.0);
    match limit.filter(|l| *l > 0.0) {
        Some(limit) => {
            let percent = used / limit * 100.0;
            let percent = if percent > 0.0 && percent < 0.1 { "< 0.1".to_owned() } else { format!("{percent:.1}") };
            format!("{}{unit} of {}{unit} ({percent} %)", grouped(used), grouped(limit))
        }
        None => format!("{}{unit}", grouped(used)),
    }
}

/// A whole number with its thousands separated: `50,000,000`.
fn grouped(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Why a call produced no decision.
fn failure(failure: &Value) -> Markup {
    let kind = failure["kind"].as_str().unwrap_or("failure");
    html! {
        p.bad {
            "Failed: " code { (kind) } " — "
            @match kind {
                "limit-exceeded" => { "the " code { (failure["limit"].as_str().unwrap_or_default()) } " limit (" (failure["value"].as_u64().unwrap_or(0)) ") stopped the call" }
                "malformed" => { code { (failure["rule"].as_str().unwrap_or_default()) } ": " (failure["detail"].as_str().unwrap_or_default()) }
                "unavailable" => { (failure["reason"].as_str().unwrap_or_default()) }
                _ => { (failure["message"].as_str().unwrap_or_default()) }
            }
        }
        @if let Some(frames) = failure["backtrace"].as_array().filter(|f| !f.is_empty()) {
            h4 { "Backtrace (innermost first)" }
            ol.backtrace { @for frame in frames { li { code { (frame.as_str().unwrap_or_default()) } } } }
        }
    }
}

/// An identity creator's decision.
fn creation(decision: &Value, _judged: &Value) -> Markup {
    let text = |v: &Value| v.as_str().map_or_else(|| "—".to_owned(), str::to_owned);
    html! {
        @if let Some(new) = decision.get("create") {
            p { "Create an account:" }
            dl {
                dt { "Email" } dd { (text(&new["email"])) }
                dt { "Username hint" } dd { (new["username_hint"].as_str().unwrap_or("(the host derives one)")) }
                dt { "Given name" } dd { (text(&new["given_name"])) }
                dt { "Family name" } dd { (text(&new["family_name"])) }
                @for pair in new["attributes"].as_array().into_iter().flatten() {
                    dt { "Attribute " (text(&pair[0])) } dd { (text(&pair[1])) }
                }
            }
        } @else if let Some(denial) = decision.get("deny") {
            p { "Deny: " code { (text(&denial["code"])) } " — “" (text(&denial["message"])) "”" }
        }
    }
}

/// An assignment provider's answer, each assignment marked as judged.
fn assignments(decision: &Value, judged: &Value) -> Markup {
    let list = decision.as_array().cloned().unwrap_or_default();
    let refused_at = judged["refused_at"].as_u64();
    html! {
        @if list.is_empty() {
            p { "No memberships." }
        } @else {
            table.assignments {
                thead { tr { th { "Kind" } th { "Name" } th { "Judged" } } }
                tbody {
                    @for (i, item) in list.iter().enumerate() {
                        @let (kind, name) = item.as_object().and_then(|o| o.iter().next()).map_or(("?", String::new()), |(k, v)| (k.as_str(), v.as_str().unwrap_or_default().to_owned()));
                        tr {
                            td { (kind) }
                            td { (name) }
                            td {
                                @if refused_at == Some(i as u64) { span.bad { "refused" } }
                                @else { @match judged["not_judged"].get(i).and_then(Value::as_str) {
                                    Some(missing) => { "not judged (" (missing) ")" }
                                    None => { span.ok { "allowed" } }
                                } }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shares_are_grouped_and_never_round_to_zero() {
        assert_eq!(super::share(Some(3544.0), Some(50_000_000.0), ""), "3,544 of 50,000,000 (< 0.1 %)");
        assert_eq!(super::share(Some(1088.0), Some(32768.0), " KiB"), "1,088 KiB of 32,768 KiB (3.3 %)");
        assert_eq!(super::share(Some(0.0), Some(100.0), ""), "0 of 100 (0.0 %)");
        assert_eq!(super::share(Some(999.0), None, ""), "999");
    }
}
