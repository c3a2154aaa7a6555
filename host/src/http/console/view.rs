//! The console's pages, as typed maud templates: every value is escaped
//! unless a template says otherwise, and none does.

use maud::{DOCTYPE, Markup, html};

use super::charts;
use super::session::Session;

/// The stylesheet, served at `/console/style.css` (no inline style: the
/// Content-Security-Policy forbids it).
pub(super) const STYLE: &str = include_str!("style.css");

/// The frame of every page: its title, the navigation when signed in, the
/// sign-out form (with the session's CSRF token), the content.
pub(super) fn page(title: &str, session: Option<&Session>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Provisio console" }
                link rel="stylesheet" href="/console/style.css";
            }
            body {
                header {
                    a.brand href="/console" { "Provisio" }
                    @if let Some(session) = session {
                        nav aria-label="Console" {
                            a href="/console/overview" { "Overview" }
                            a href="/console/domains" { "Domains" }
                            a href="/console/plugins" { "Plugins" }
                            a href="/console/bindings" { "Bindings" }
                            a href="/console/playground" { "Playground" }
                            a href="/console/replay" { "Replay" }
                            a href="/console/accounts" { "Accounts" }
                            a href="/console/audit" { "Audit" }
                        }
                        span.who { (session.label) }
                        form method="post" action="/console/sign-out" {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (content) }
            }
        }
    }
}

/// A time (unix milliseconds) as people read it, in UTC, to the second.
pub(super) fn time(ms: i64) -> String {
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return ms.to_string();
    };
    let (y, m, d) = at.to_calendar_date();
    let (h, min, s) = at.to_hms();
    format!("{y:04}-{:02}-{d:02} {h:02}:{min:02}:{s:02} UTC", u8::from(m))
}

/// The sign-in form; `error` is the one generic message of a refusal.
pub(super) fn sign_in(error: Option<&str>) -> Markup {
    page(
        "Sign in",
        None,
        html! {
            h1 { "Sign in" }
            p { "Sign in with your organization's API token (" code { "pvo_…" } "), or the operator token." }
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            form method="post" action="/console/sign-in" {
                label for="token" { "Token" }
                input #token type="password" name="token" autocomplete="off" required autofocus;
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// What the overview shows: counts over the last 24 hours.
pub(super) struct Overview {
    /// Logins by outcome.
    pub(super) outcomes: Vec<(String, f64)>,
    /// Logins by domain (name, or id when unknown).
    pub(super) domains: Vec<(String, f64)>,
    /// Failed plugin calls by failure kind.
    pub(super) failures: Vec<(String, f64)>,
    /// The slowest plugin calls: (hook and plugin, milliseconds).
    pub(super) slowest: Vec<(String, f64)>,
    /// Events read, and whether there were more than read.
    pub(super) events: usize,
    pub(super) truncated: bool,
}

pub(super) fn overview(session: &Session, o: &Overview) -> Markup {
    page(
        "Overview",
        Some(session),
        html! {
            h1 { "Overview" }
            p.note {
                "The last 24 hours: " (o.events) " audit events"
                @if o.truncated { " (the newest 1000; older ones are not counted)" }
                "."
            }
            section {
                h2 { "Logins by outcome" }
                (charts::bars("Logins by outcome", &o.outcomes, "logins"))
            }
            section {
                h2 { "Logins by domain" }
                (charts::bars("Logins by domain", &o.domains, "logins"))
            }
            section {
                h2 { "Plugin failures by kind" }
                (charts::bars("Plugin failures by kind", &o.failures, "calls"))
            }
            section {
                h2 { "Slowest plugin calls" }
                (charts::bars("Slowest plugin calls", &o.slowest, "ms"))
            }
        },
    )
}

/// The page of an operator's session: organizations are managed through the API for now.
pub(super) fn operator(session: &Session) -> Markup {
    page(
        "Operator",
        Some(session),
        html! {
            h1 { "Operator" }
            p { "Signed in as the operator. The organization pages need an organization's API token." }
        },
    )
}
