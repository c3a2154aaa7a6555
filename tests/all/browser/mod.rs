//! The tenant console in a real headless Chromium, driven through
//! `chromedriver` (both Debian's, installed by `scripts/setup-chromium`),
//! against a real `provisio serve --demo` on a free loopback port, as a
//! tenant admin uses it. Each page is saved as a screenshot under
//! `target/console-screenshots/`.

mod webdriver;

use crate::plugins;
use std::path::PathBuf;

use serde_json::{Value, json};
use webdriver::Browser;

use crate::serve::{post_json, provisio, request, start_demo};

fn screenshot(name: &str) -> PathBuf {
    crate::root().join("target/console-screenshots").join(format!("{name}.png"))
}

/// The word after `flag` in what the demo printed.
fn after(printed: &str, flag: &str) -> String {
    let words: Vec<&str> = printed.split_whitespace().collect();
    words.iter().position(|w| *w == flag).map(|i| words[i + 1].to_owned()).unwrap_or_default()
}

fn printed_value(printed: &str, key: &str) -> String {
    printed.split_whitespace().find_map(|w| w.strip_prefix(key)).map(str::to_owned).unwrap_or_default()
}

/// Signs in, sees the overview, uploads a plugin and its check report, has
/// a refused upload explained, binds the plugin, finds a login it decided in
/// the audit with its hash, rolls the binding back in one click (the next
/// login is the earlier plugins'), sees a provider name with markup shown as
/// text with nothing run, and signs out.
#[tokio::test]
async fn a_tenant_admin_uses_the_console_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (_server, address, printed) = start_demo(dir.path());
    assert!(printed.contains(&format!("http://{address}/console")), "the demo shows the console: {printed}");
    let base = format!("http://{address}");
    let (org, token) = (printed_value(&printed, "PROVISIO_ORG="), printed_value(&printed, "PROVISIO_TOKEN="));
    let (domain, provider) = (after(&printed, "--domain"), after(&printed, "--provider"));
    let browser = Browser::start().await;

    // `/` leads to the sign-in page; a wrong token is refused with one message.
    browser.goto(&format!("{base}/")).await;
    assert!(browser.url().await.ends_with("/console/sign-in"), "{}", browser.url().await);
    assert_eq!(browser.title().await, "Sign in · Provisio console");
    browser.screenshot(&screenshot("01-sign-in")).await;
    browser.type_into(&browser.find("#token").await, "pvo_not-a-token").await;
    browser.click(&browser.find("main button[type=submit]").await).await;
    assert!(browser.text().await.contains("That token was not accepted."), "{}", browser.text().await);
    browser.screenshot(&screenshot("02-sign-in-refused")).await;

    browser.type_into(&browser.find("#token").await, &token).await;
    browser.click(&browser.find("main button[type=submit]").await).await;
    assert!(browser.url().await.ends_with("/console/overview"), "{}", browser.url().await);
    assert_eq!(browser.title().await, "Overview · Provisio console");
    assert!(browser.text().await.contains("Logins by outcome"));
    assert_eq!(browser.count("svg.chart").await + browser.count("p.empty").await, 4, "four charts or their empty note");
    browser.screenshot(&screenshot("03-overview")).await;

    // Upload a plugin: its check report.
    browser.goto(&format!("{base}/console/plugins")).await;
    assert!(browser.text().await.contains(plugins::DEFAULT_CREATOR), "the demo's plugins are listed");
    let canonical = |path: PathBuf| std::fs::canonicalize(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let component = canonical(crate::root().join("target/plugins/hostile-counter.wasm"));
    browser.type_into(&browser.find("#plugin").await, &component.to_string_lossy()).await;
    browser.click(&browser.find("main form button[type=submit]").await).await;
    let text = browser.text().await;
    assert!(text.contains("Accepted: hostile-counter") && text.contains("identity-creator"), "{text}");
    browser.screenshot(&screenshot("04-plugin-uploaded")).await;

    // A file that is no component: the precise refusal.
    let not_a_component = canonical(crate::root().join("Cargo.toml"));
    browser.type_into(&browser.find("#plugin").await, &not_a_component.to_string_lossy()).await;
    browser.click(&browser.find("main form button[type=submit]").await).await;
    let text = browser.text().await;
    assert!(text.contains("Upload refused"), "{text}");
    browser.screenshot(&screenshot("05-plugin-refused")).await;

    // Bind it in the bindings page; a person's first login runs it, and the
    // audit shows its decision.
    let (status, plugins) = request(&address, "GET", &format!("/v1/orgs/{org}/plugins"), Some(&token), "");
    assert_eq!(status, 200, "{plugins}");
    let hash = plugins
        .as_array()
        .and_then(|list| list.iter().find(|p| p["name"] == plugins::HOSTILE_COUNTER))
        .and_then(|p| p["hash"].as_str())
        .unwrap_or_else(|| panic!("{plugins}"))
        .to_owned();
    browser.goto(&format!("{base}/console/bindings")).await;
    browser.choose(&browser.find(&format!("#creator-{provider} option[value='{hash}']")).await).await;
    browser.click(&browser.find(&format!("#provider-{provider} form button[type=submit]")).await).await;
    assert!(browser.text().await.contains("Bound: the next login uses this binding."), "{}", browser.text().await);
    browser.screenshot(&screenshot("06-bound")).await;
    let data = dir.path().to_string_lossy().into_owned();
    let first_login = |email: &str| {
        let id_token = provisio()
            .args(["demo", "token", "--email", email, "--data-dir", &data])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let id_token = String::from_utf8_lossy(&id_token.stdout).trim().to_owned();
        let (status, body) =
            post_json(&address, "/v1/login", &format!(r#"{{"domain": "demo", "id_token": "{id_token}"}}"#));
        assert_eq!(status, 200, "{body}");
        body["account"]["username"].as_str().unwrap_or_default().to_owned()
    };
    assert!(first_login("dora@demo.example").starts_with("calls-"), "the console's binding decided");
    browser.goto(&format!("{base}/console/audit")).await;
    assert!(browser.text().await.contains("success"));
    browser.screenshot(&screenshot("07-audit")).await;
    browser.click(&browser.find("main table a").await).await;
    let text = browser.text().await;
    assert!(text.contains("Hooks") && text.contains(&hash[..12]) && text.contains("decision"), "{text}");
    browser.screenshot(&screenshot("08-audit-event")).await;

    // Its principal, run again in the playground with the plugin that
    // decided: the decision, the host's verdict, the cost.
    browser.click(&browser.find("a[href^='/console/playground?event=']").await).await;
    assert_eq!(browser.title().await, "Playground · Provisio console");
    let principal = browser.script("return document.querySelector('#principal').value").await;
    assert!(principal.as_str().is_some_and(|p| p.contains("dora@demo.example")), "{principal}");
    assert_eq!(browser.script("return document.querySelector('#plugin').value").await, hash.as_str());
    browser.choose(&browser.find(&format!("#binding option[value='{domain}/{provider}']")).await).await;
    browser.click(&browser.find("form[enctype='multipart/form-data'] button[type=submit]").await).await;
    let text = browser.text().await;
    assert!(text.contains("Ran hostile-counter") && text.contains("A login would accept this decision."), "{text}");
    assert!(text.contains("Fuel") && text.contains("Peak memory") && text.contains("calls-"), "{text}");
    browser.screenshot(&screenshot("08b-playground")).await;

    // Roll back: the demo's own binding (the oldest of the history) bound
    // again in one click; the next first login is the example plugins'.
    browser.goto(&format!("{base}/console/bindings")).await;
    let rows = browser.count(&format!("#provider-{provider} table.history tbody tr")).await;
    assert_eq!(rows, 2, "the demo's binding and the console's");
    let oldest = format!("#provider-{provider} table.history tbody tr:last-child button");
    browser.click(&browser.find(&oldest).await).await;
    assert!(browser.text().await.contains("Bound: the next login uses this binding."));
    browser.screenshot(&screenshot("09-rolled-back")).await;
    assert_eq!(first_login("erin@demo.example").get(..4), Some("erin"), "the example creator decided again");

    // Replay those two logins through the plugin bound before: what would change.
    browser.click(&browser.find(&format!("a[href='/console/replay?binding={domain}/{provider}']")).await).await;
    assert_eq!(browser.title().await, "Replay · Provisio console");
    browser.choose(&browser.find(&format!("#creator option[value='{hash}']")).await).await;
    browser.click(&browser.find("main form button[type=submit]").await).await;
    let text = browser.text().await;
    assert!(text.contains("0 of 2 logins would be decided otherwise"), "both created, as before: {text}");
    browser.screenshot(&screenshot("09b-replay")).await;

    // A provider name with markup (a tenant's own text) is shown as text, and
    // nothing in it runs.
    let (status, found) = request(&address, "GET", &format!("/v1/orgs/{org}/domains/{domain}"), Some(&token), "");
    assert_eq!(status, 200, "{found}");
    let idp = found["providers"].as_array().and_then(|p| p.iter().find(|p| p["id"] == provider.as_str()));
    let config: Value =
        serde_json::from_str(idp.and_then(|p| p["config"].as_str()).unwrap_or("{}")).unwrap_or_default();
    let hostile = r#""><img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>"#;
    let added = json!({"name": hostile, "kind": "oidc", "config": config}).to_string();
    let path = format!("/v1/orgs/{org}/domains/{domain}/providers");
    let (status, added) = request(&address, "POST", &path, Some(&token), &added);
    assert_eq!(status, 201, "{added}");
    let bind = format!("/v1/orgs/{org}/domains/{domain}/bindings/{}", added["id"].as_str().unwrap_or_default());
    let binding = json!({"creator": hash}).to_string();
    let (status, body) = request(&address, "PUT", &bind, Some(&token), &binding);
    assert_eq!(status, 200, "{body}");
    browser.goto(&format!("{base}/console/plugins")).await;
    assert!(browser.text().await.contains("<img src=x onerror="), "shown as text: {}", browser.text().await);
    assert_eq!(browser.title().await, "Plugins · Provisio console", "nothing ran");
    assert_eq!(browser.count("main img").await + browser.count("main script").await, 0);
    assert_eq!(browser.script("return document.title").await, "Plugins · Provisio console");
    browser.screenshot(&screenshot("10-markup-as-text")).await;

    // The domains and accounts pages, as an admin sees them.
    browser.goto(&format!("{base}/console/domains")).await;
    assert_eq!(browser.title().await, "Domains · Provisio console");
    assert!(browser.text().await.contains("demo.example"), "{}", browser.text().await);
    browser.screenshot(&screenshot("11-domains")).await;
    browser.goto(&format!("{base}/console/accounts")).await;
    assert_eq!(browser.title().await, "Accounts · Provisio console");
    assert!(browser.text().await.contains("dora@demo.example"), "{}", browser.text().await);
    browser.screenshot(&screenshot("12-accounts")).await;

    // Sign out: the session is over.
    browser.click(&browser.find("header form button").await).await;
    assert!(browser.url().await.ends_with("/console/sign-in"), "{}", browser.url().await);
    browser.goto(&format!("{base}/console/overview")).await;
    assert!(browser.url().await.ends_with("/console/sign-in"), "signed out: {}", browser.url().await);
    browser.close().await;
}

/// The text a hostile plugin (`hostile-markup`) and identity provider put in
/// a page: the plugin's name, its denial message, guest log lines and team
/// names; a person's name and group names (the principal). Each is markup
/// that sets the page's title if it runs.
const MARKUP: &str = r#""><img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>"#;

/// The page shows markup as text: its title is its own, and no element
/// came from the markup.
async fn assert_inert(browser: &Browser, title: &str) {
    assert_eq!(browser.script("return document.title").await, format!("{title} · Provisio console"));
    assert_eq!(browser.count("main img").await + browser.count("main script").await, 0, "{title}");
}

/// Every string a plugin or an identity provider controls, shown in every
/// page that shows it (plugins, bindings, audit list and event, the
/// playground's decision, verdict, log and assignments), is text: nothing
/// in it runs in a real browser.
#[tokio::test]
async fn what_plugins_and_identity_providers_say_is_shown_as_text() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (_server, address, printed) = start_demo(dir.path());
    let base = format!("http://{address}");
    let (org, token) = (printed_value(&printed, "PROVISIO_ORG="), printed_value(&printed, "PROVISIO_TOKEN="));
    let (domain, provider) = (after(&printed, "--domain"), after(&printed, "--provider"));
    let browser = Browser::start().await;
    browser.goto(&format!("{base}/console/sign-in")).await;
    browser.type_into(&browser.find("#token").await, &token).await;
    browser.click(&browser.find("main button[type=submit]").await).await;

    // The plugin's name, in its check report and in the versions.
    browser.goto(&format!("{base}/console/plugins")).await;
    let component = crate::root().join("target/plugins").join(format!("{}.wasm", plugins::HOSTILE_MARKUP));
    let component = std::fs::canonicalize(&component).unwrap_or_else(|e| panic!("{}: {e}", component.display()));
    browser.type_into(&browser.find("#plugin").await, &component.to_string_lossy()).await;
    browser.click(&browser.find("main form button[type=submit]").await).await;
    assert!(browser.text().await.contains(&format!("Accepted: {MARKUP}")), "{}", browser.text().await);
    assert_inert(&browser, "Plugins").await;
    browser.screenshot(&screenshot("20-markup-plugin")).await;

    // Bound as both hooks; a person whose name and groups are markup logs in
    // and is denied with a message that is markup.
    let (status, plugins) = request(&address, "GET", &format!("/v1/orgs/{org}/plugins"), Some(&token), "");
    assert_eq!(status, 200, "{plugins}");
    let found = plugins.as_array().and_then(|list| list.iter().find(|p| p["name"] == MARKUP));
    let hash = found.and_then(|p| p["hash"].as_str()).unwrap_or_else(|| panic!("{plugins}")).to_owned();
    let bind = format!("/v1/orgs/{org}/domains/{domain}/bindings/{provider}");
    let (status, body) =
        request(&address, "PUT", &bind, Some(&token), &json!({"creator": hash, "assigner": hash}).to_string());
    assert_eq!(status, 200, "{body}");
    let data = dir.path().to_string_lossy().into_owned();
    let id_token = provisio()
        .args([
            "demo",
            "token",
            "--email",
            "mal@demo.example",
            "--name",
            MARKUP,
            "--groups",
            MARKUP,
            "--data-dir",
            &data,
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let id_token = String::from_utf8_lossy(&id_token.stdout).trim().to_owned();
    let (status, body) = post_json(&address, "/v1/login", &json!({"domain": "demo", "id_token": id_token}).to_string());
    assert_eq!(status, 403, "the plugin denied: {body}");
    assert_eq!(body["message"], MARKUP, "the denial message, for the end user: {body}");

    browser.goto(&format!("{base}/console/bindings")).await;
    assert_inert(&browser, "Bindings").await;
    browser.goto(&format!("{base}/console/audit")).await;
    assert_inert(&browser, "Audit").await;
    browser.click(&browser.find("main table a").await).await;
    let text = browser.text().await;
    // The principal is shown as JSON: the markup's quotes are escaped there.
    let in_json = serde_json::to_string(MARKUP).unwrap_or_default();
    assert!(text.contains(&in_json), "the principal's groups: {text}");
    assert!(text.contains("<script>document.title='pwned'</script>\","), "its family name: {text}");
    assert!(text.contains("plugin-denied:markup"), "the denial: {text}");
    let title = browser.title().await;
    assert!(title.starts_with("Event "), "{title}");
    assert_eq!(browser.count("main img").await + browser.count("main script").await, 0);
    browser.screenshot(&screenshot("21-markup-audit-event")).await;

    // The playground on that principal: the denial message and the log line;
    // then the assignment provider alone: the team name.
    browser.click(&browser.find("a[href^='/console/playground?event=']").await).await;
    browser.click(&browser.find("form[enctype='multipart/form-data'] button[type=submit]").await).await;
    let text = browser.text().await;
    assert!(text.contains(&format!("Deny: markup — “{MARKUP}”")), "{text}");
    assert!(text.matches(MARKUP).count() >= 3, "the name, the denial and the log line: {text}");
    assert_inert(&browser, "Playground").await;
    browser.screenshot(&screenshot("22-markup-playground-create")).await;
    browser.choose(&browser.find("#hooks option[value='assign']").await).await;
    browser.click(&browser.find("form[enctype='multipart/form-data'] button[type=submit]").await).await;
    let text = browser.text().await;
    assert!(text.contains("assignment-unknown-team") && text.contains(MARKUP), "{text}");
    assert_inert(&browser, "Playground").await;
    browser.screenshot(&screenshot("23-markup-playground-assign")).await;

    browser.goto(&format!("{base}/console/overview")).await;
    assert_inert(&browser, "Overview").await;
    browser.close().await;
}
