//! Filters, sorting and paging, answered by the database: the same table of
//! filters and expected users on SQLite and PostgreSQL.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Scim, scim_tenant};
use crate::TestDatabase;
use crate::http::{config, state};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Four people with different attributes.
fn people() -> Vec<Value> {
    vec![
        json!({
            "userName": "alice@acme.example", "externalId": "EXT-1", "displayName": "Alice A",
            "name": {"givenName": "Alice", "familyName": "Archer"},
            "emails": [{"value": "alice@acme.example", "type": "work", "primary": true},
                       {"value": "alice.home@acme.example", "type": "home"}],
            "active": true, ENTERPRISE: {"department": "Eng"},
        }),
        json!({
            "userName": "Bob@acme.example", "externalId": "ext-2",
            "name": {"givenName": "Bob", "familyName": "Baker"},
            "emails": [{"value": "bob@acme.example", "type": "work", "primary": true}],
            "active": false, ENTERPRISE: {"department": "Sales"},
        }),
        json!({
            "userName": "carol@acme.example", "name": {"givenName": "Carol"},
            "emails": [{"value": "carol@acme.example", "type": "home"}],
            "active": true,
        }),
        json!({"userName": "dave.x@acme.example", "name": {"familyName": "Archer"}}),
    ]
}

/// The userNames a list answered, in order.
fn names(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .map(|r| r.iter().map(|u| u["userName"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn list(scim: &Scim, query: &str) -> Value {
    let path = format!("/Users?{query}");
    scim.call(Method::GET, &path, None).await.expect(StatusCode::OK, &path)
}

fn encode(filter: &str) -> String {
    let mut out = String::new();
    for b in filter.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[tokio::test]
async fn filters_select_in_the_database() {
    const A: &str = "alice@acme.example";
    const B: &str = "Bob@acme.example";
    const C: &str = "carol@acme.example";
    const D: &str = "dave.x@acme.example";
    let department = format!(r#"{ENTERPRISE}:department eq "eng""#);
    let table: Vec<(&str, Vec<&str>)> = vec![
        (r#"userName eq "bob@acme.example""#, vec![B]),
        (r#"USERNAME EQ "ALICE@ACME.EXAMPLE""#, vec![A]),
        (r#"externalId eq "ext-1""#, vec![]),
        (r#"externalId eq "EXT-1""#, vec![A]),
        (r#"name.familyName eq "archer""#, vec![A, D]),
        (r#"name.familyName pr"#, vec![A, B, D]),
        (r#"not (name.familyName pr)"#, vec![C]),
        (r#"name.familyName ne "Archer""#, vec![B, C]),
        (r#"userName sw "a""#, vec![A]),
        (r#"userName ew ".x@acme.example""#, vec![D]),
        (r#"userName co "OB""#, vec![B]),
        (r#"userName gt "c""#, vec![C, D]),
        (r#"userName le "bob@acme.example""#, vec![A, B]),
        (r#"displayName ew " a""#, vec![A]),
        (r#"emails.value co "home""#, vec![A]),
        (r#"emails eq "bob@acme.example""#, vec![B]),
        (r#"emails pr"#, vec![A, B, C]),
        (r#"emails[type eq "work"]"#, vec![A, B]),
        (r#"emails[type eq "home" and value sw "carol"]"#, vec![C]),
        (r#"emails[type eq "home"] and active eq true"#, vec![A, C]),
        (r#"emails[type eq "work"].value co "bob""#, vec![B]),
        (r#"emails[type eq "home"].value pr"#, vec![A, C]),
        (r#"emails.type eq "work" and emails.primary eq true"#, vec![A, B]),
        (r#"active eq true"#, vec![A, C]),
        (r#"active eq false"#, vec![B]),
        (r#"not (active eq false)"#, vec![A, C, D]),
        // `and` binds tighter than `or`.
        (r#"userName sw "a" or userName sw "b" and active eq true"#, vec![A]),
        (r#"(userName sw "a" or userName sw "b") and active eq true"#, vec![A]),
        (r#"(userName sw "a" or userName sw "b") and not (active eq true)"#, vec![B]),
        (r#"userName sw "c" or userName sw "d" or externalId pr"#, vec![A, B, C, D]),
        (&department, vec![A]),
        (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "CAROL""#, vec![C]),
        (r#"meta.created ge "2000-01-01T00:00:00Z""#, vec![A, B, C, D]),
        (r#"meta.lastModified lt "2000-01-01T00:00:00Z""#, vec![]),
    ];
    let invalid = [
        "userName eq",
        r#"userName xx "a""#,
        r#"(userName eq "a""#,
        r#"password eq "secret""#,
        r#"active eq "yes""#,
        r#"userName eq true"#,
        r#"meta.created gt "yesterday""#,
        r#"emails[nope eq "x"]"#,
        r#"displayName[value eq "x"]"#,
        r#"urn:example:other:2.0:User:userName eq "x""#,
    ];
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let (_, _, _, _, scim) = scim_tenant(&app, "acme").await;
        let mut ids = Vec::new();
        for person in people() {
            ids.push(scim.user(person).await["id"].as_str().unwrap_or_default().to_owned());
        }
        // Another domain's users never show up.
        let (_, _, _, _, globex) = scim_tenant(&app, "globex").await;
        globex.user(super::user_body("alice@globex.example")).await;

        for (filter, expected) in &table {
            let got = names(&list(&scim, &format!("filter={}", encode(filter))).await);
            let expected: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
            assert_eq!(sorted(got), sorted(expected), "{:?}: {filter}", db.kind());
        }
        let by_id = list(&scim, &format!("filter={}", encode(&format!(r#"id eq "{}""#, ids[2])))).await;
        assert_eq!(names(&by_id), vec![C]);
        for filter in invalid {
            let path = format!("/Users?filter={}", encode(filter));
            scim.call(Method::GET, &path, None).await.error(StatusCode::BAD_REQUEST, Some("invalidFilter"), filter);
        }
        // A hostile filter: nesting and length beyond the grammar's bounds.
        let deep = format!("{}userName pr{}", "not (".repeat(200), ")".repeat(200));
        let long = vec![r#"userName eq "x""#; 3000].join(" or ");
        for filter in [deep, long] {
            let body = json!({"filter": filter});
            let reply = scim.call(Method::POST, "/Users/.search", Some(body)).await;
            reply.error(StatusCode::BAD_REQUEST, Some("invalidFilter"), "a filter beyond the bounds");
        }
        // POST /.search takes the same filters.
        let search = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": r#"name.familyName eq "Archer""#, "sortBy": "userName", "attributes": ["userName"],
        });
        let found = scim.call(Method::POST, "/Users/.search", Some(search)).await.expect(StatusCode::OK, "search");
        assert_eq!(names(&found), vec![A, D]);
        assert_eq!(found["Resources"][0].as_object().map(|o| o.len()), Some(3), "schemas, id, userName: {found}");
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn pages_and_sort_orders_hold_at_their_edges() {
    const A: &str = "alice@acme.example";
    const B: &str = "Bob@acme.example";
    const C: &str = "carol@acme.example";
    const D: &str = "dave.x@acme.example";
    // (query, totalResults, startIndex answered, userNames in order)
    let table: Vec<(&str, u64, u64, Vec<&str>)> = vec![
        ("sortBy=userName", 4, 1, vec![A, B, C, D]),
        ("sortBy=userName&sortOrder=descending", 4, 1, vec![D, C, B, A]),
        ("sortBy=USERNAME&sortOrder=Ascending", 4, 1, vec![A, B, C, D]),
        ("sortBy=userName&startIndex=1&count=2", 4, 1, vec![A, B]),
        ("sortBy=userName&startIndex=3&count=2", 4, 3, vec![C, D]),
        ("sortBy=userName&startIndex=4&count=10", 4, 4, vec![D]),
        ("sortBy=userName&startIndex=5", 4, 5, vec![]),
        ("sortBy=userName&startIndex=0&count=1", 4, 1, vec![A]),
        ("sortBy=userName&startIndex=-3&count=1", 4, 1, vec![A]),
        ("sortBy=userName&count=0", 4, 1, vec![]),
        ("sortBy=userName&count=-1", 4, 1, vec![]),
        ("sortBy=userName&count=5000", 4, 1, vec![A, B, C, D]),
        // Unassigned values sort last ascending, first descending.
        ("sortBy=name.givenName", 4, 1, vec![A, B, C, D]),
        ("sortBy=name.givenName&sortOrder=descending", 4, 1, vec![D, C, B, A]),
        ("sortBy=emails&filter=emails%20pr", 3, 1, vec![A, B, C]),
        ("sortBy=userName&count=1&startIndex=2&filter=active%20eq%20true", 2, 2, vec![C]),
    ];
    for db in TestDatabase::all() {
        let store = db.open().await;
        let app = provisio::http::router(state(&store, config()).await);
        let (_, _, _, _, scim) = scim_tenant(&app, "acme").await;
        for person in people() {
            scim.user(person).await;
        }
        for (query, total, start, expected) in &table {
            let page = list(&scim, query).await;
            assert_eq!(names(&page), *expected, "{:?}: {query}", db.kind());
            assert_eq!(page["totalResults"], *total, "{query}");
            assert_eq!(page["startIndex"], *start, "{query}");
            assert_eq!(page["itemsPerPage"], expected.len(), "{query}");
            assert!(page["Resources"].is_array(), "{query}: Resources is always there");
        }
        for bad in ["sortBy=password", "sortBy=emails%5Btype%20eq%20%22work%22%5D", "sortOrder=sideways"] {
            let path = format!("/Users?{bad}");
            scim.call(Method::GET, &path, None).await.error(StatusCode::BAD_REQUEST, Some("invalidValue"), bad);
        }
        let bad = scim.call(Method::GET, "/Users?count=many", None).await;
        bad.error(StatusCode::BAD_REQUEST, Some("invalidValue"), "a count that is not a number");
        // Attribute selection.
        let only = list(&scim, "sortBy=userName&attributes=userName,name.familyName").await;
        assert_eq!(
            only["Resources"][0],
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
                "id": only["Resources"][0]["id"], "userName": A, "name": {"familyName": "Archer"},
            })
        );
        let without = list(&scim, "sortBy=userName&excludedAttributes=emails,name,meta,id").await;
        let first = &without["Resources"][0];
        assert!(first.get("emails").is_none() && first.get("name").is_none() && first.get("meta").is_none(), "{first}");
        assert!(first["id"].is_string(), "the id is always returned: {first}");
        store.close().await;
        db.cleanup().await;
    }
}
