//! The plugins page: the organization's versions (by hash, with their
//! upload time and the bindings that use each), and an upload form whose
//! answer is the `plugin check` report or the precise refusal.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::Multipart;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};
use serde_json::Value;

use super::session::{Session, csrf_matches};
use super::{Api, ApiFailure, OrgSession, api_call, api_get, refused_form, same_origin, view};
use crate::store::OrgId;

/// What an upload answered: the check report, or the refusal's message.
enum Uploaded {
    Report(Value),
    Refused(String),
}

pub(super) async fn list(
    Extension(api): Extension<Api>,
    OrgSession(session, org): OrgSession,
) -> Result<Response, ApiFailure> {
    let page = page(&api, &session, &org, None).await?;
    Ok(Html(page.into_string()).into_response())
}

pub(super) async fn upload(
    Extension(api): Extension<Api>,
    OrgSession(session, org): OrgSession,
    headers: HeaderMap,
    mut form: Multipart,
) -> Result<Response, ApiFailure> {
    let (mut csrf, mut bytes) = (String::new(), None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => {
                let refused = Uploaded::Refused(format!("The upload could not be read: {}", e.body_text()));
                let page = page(&api, &session, &org, Some(refused)).await?;
                return Ok((e.status(), Html(page.into_string())).into_response());
            }
        };
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("plugin") => bytes = field.bytes().await.ok(),
            _ => {}
        }
    }
    if !same_origin(&headers) || !csrf_matches(&session, &csrf) {
        return Ok(refused_form());
    }
    let uploaded = match bytes.filter(|b| !b.is_empty()) {
        None => Uploaded::Refused("Choose a .wasm file to upload.".into()),
        Some(bytes) => {
            let uri = format!("/v1/orgs/{org}/plugins");
            let body = Some(("application/wasm", bytes.to_vec()));
            match api_call(&api, &session.token, Method::POST, &uri, body).await? {
                (status, answer) if status.is_success() => Uploaded::Report(answer["check"].clone()),
                (status, answer) if status.is_client_error() => {
                    Uploaded::Refused(answer["message"].as_str().unwrap_or("refused").to_owned())
                }
                (status, answer) => return Err(ApiFailure(status, answer["code"].as_str().unwrap_or("").into())),
            }
        }
    };
    let status =
        if matches!(uploaded, Uploaded::Report(_)) { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = page(&api, &session, &org, Some(uploaded)).await?;
    Ok((status, Html(page.into_string())).into_response())
}

/// The page: the last upload's answer, the form, the versions.
async fn page(api: &Api, session: &Session, org: &OrgId, uploaded: Option<Uploaded>) -> Result<Markup, ApiFailure> {
    let plugins = api_get(api, session, &format!("/v1/orgs/{org}/plugins")).await?;
    let domains = api_get(api, session, &format!("/v1/orgs/{org}/domains")).await?;
    // Which bindings name each hash: "domain / provider (hook)".
    let mut used: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for domain in domains.as_array().into_iter().flatten() {
        let (Some(id), Some(name)) = (domain["id"].as_str(), domain["name"].as_str()) else { continue };
        let providers: BTreeMap<&str, &str> = domain["providers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
            .collect();
        let bindings = api_get(api, session, &format!("/v1/orgs/{org}/domains/{id}/bindings")).await?;
        for binding in bindings.as_array().into_iter().flatten() {
            let provider = binding["provider"].as_str().unwrap_or_default();
            let provider = providers.get(provider).copied().unwrap_or(provider);
            for (slot, hook) in [("creator", "creator"), ("assigner", "assignment provider")] {
                if let Some(hash) = binding[slot].as_str() {
                    used.entry(hash.to_owned()).or_default().push(format!("{name} / {provider} ({hook})"));
                }
            }
        }
    }
    let content = html! {
        h1 { "Plugins" }
        @match &uploaded {
            Some(Uploaded::Report(check)) => { (report(check)) }
            Some(Uploaded::Refused(why)) => {
                section.refusal role="alert" {
                    h2 { "Upload refused" }
                    p.error { (why) }
                }
            }
            None => {}
        }
        section {
            h2 { "Upload a version" }
            form method="post" action="/console/plugins" enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(session.csrf);
                label for="plugin" { "Component (.wasm)" }
                input #plugin type="file" name="plugin" accept=".wasm,application/wasm" required;
                button type="submit" { "Upload and check" }
            }
        }
        section {
            h2 { "Versions" }
            @let list = plugins.as_array().cloned().unwrap_or_default();
            @if list.is_empty() {
                p.empty { "No plugin uploaded yet." }
            } @else {
                table {
                    thead { tr { th { "Name" } th { "World" } th { "Hash" } th { "Size" } th { "Uploaded" } th { "Bound to" } th { span.visually-hidden { "Playground" } } } }
                    tbody {
                        @for plugin in &list {
                            @let hash = plugin["hash"].as_str().unwrap_or_default();
                            tr {
                                td { (plugin["name"].as_str().unwrap_or_default()) }
                                td { (plugin["world"].as_str().unwrap_or_default()) }
                                td { code title=(hash) { (&hash[..hash.len().min(12)]) "…" } }
                                td.number { (kib(plugin["size"].as_f64().unwrap_or(0.0))) }
                                td { (view::time(plugin["uploaded_at"].as_i64().unwrap_or(0))) }
                                td {
                                    @match used.get(hash) {
                                        Some(uses) => { @for (i, u) in uses.iter().enumerate() { @if i > 0 { br; } (u) } }
                                        None => { span.empty { "—" } }
                                    }
                                }
                                td { a href=(format!("/console/playground?plugin={hash}")) { "Try" } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(view::page("Plugins", Some(session), content))
}

/// The `plugin check` report of an accepted upload.
fn report(check: &Value) -> Markup {
    let imports: Vec<&str> = check["imports"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    html! {
        section.report {
            h2 { "Accepted: " (check["name"].as_str().unwrap_or_default()) }
            dl {
                dt { "World" } dd { (check["world"].as_str().unwrap_or_default()) }
                dt { "Hash" } dd { code { (check["hash"].as_str().unwrap_or_default()) } }
                dt { "Size" } dd { (kib(check["size_bytes"].as_f64().unwrap_or(0.0))) }
                dt { "Compile time" } dd { (format!("{:.1} ms", check["compile_ms"].as_f64().unwrap_or(0.0))) }
                dt { "Imports" } dd {
                    @if imports.is_empty() { "none" }
                    @for (i, import) in imports.iter().enumerate() { @if i > 0 { ", " } code { (import) } }
                }
            }
        }
    }
}

fn kib(bytes: f64) -> String {
    if bytes >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", bytes / 1024.0 / 1024.0)
    } else {
        format!("{:.1} KiB", bytes / 1024.0)
    }
}
