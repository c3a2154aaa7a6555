//! What every SCIM operation shares: who is asking ([`Scope`]), list
//! requests, versions (`If-Match`), the audit of each change, and how store
//! errors become SCIM errors.

use serde_json::{Value, json};

use super::ScimError;
use super::filter::{AttrPath, Filter};
use super::project::{Selection, keep_only, remove};
use super::resource::Base;
use super::schema::LIST_RESPONSE;
use super::wire;
use crate::store::{
    AccountId, Domain, NewAuditEvent, Organization, ScimClient, ScimListQuery, Store, StoreError, Tx, Unique, now_ms,
};

/// The most resources one list answers (`filter.maxResults`).
pub const MAX_RESULTS: u64 = 1000;
/// How many a list answers when `count` is not given.
pub const DEFAULT_COUNT: u64 = 100;

/// Who a SCIM request acts for: the token's domain and organization.
#[derive(Debug, Clone)]
pub struct Scope {
    pub client: ScimClient,
    pub domain: Domain,
    pub org: Organization,
    /// `…/scim/v2/{domain}`.
    pub base: Base,
}

impl Scope {
    /// The domain of a valid token, checked against the domain the request
    /// names: another domain's token is `401`, never data.
    pub async fn of(store: &Store, client: ScimClient, named: &str, base: Base) -> Result<Self, ScimError> {
        if client.domain.as_str() != named {
            return Err(unauthorized());
        }
        let domain = store.domain(&client.domain).await.map_err(from_store)?.ok_or_else(unauthorized)?;
        let org = store.organization(&domain.org).await.map_err(from_store)?.ok_or_else(unauthorized)?;
        Ok(Self { client, domain, org, base })
    }
}

/// Whether `id` may name a resource: ids are 32 lower-case hex digits, so
/// anything else is not found without asking the store.
pub fn plausible_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `401`: no valid SCIM token for this domain.
pub fn unauthorized() -> ScimError {
    ScimError::new(401, None, "a valid SCIM bearer token of this domain is required")
}

/// A list request, from the query string of `GET` or the body of
/// `POST /.search`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListRequest {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

/// A list request, parsed.
pub(super) struct ParsedList {
    pub filter: Option<Filter>,
    pub sort_by: Option<AttrPath>,
    pub descending: bool,
    pub start_index: u64,
    pub count: u64,
}

impl ListRequest {
    pub(super) fn parse(&self) -> Result<ParsedList, ScimError> {
        let filter = self.filter.as_deref().map(wire::parse_filter).transpose()?;
        let sort_by = match self.sort_by.as_deref() {
            Some(path) => match wire::parse_patch_path(path) {
                Ok(super::filter::PatchPath::Attr(p)) => Some(p),
                _ => return Err(ScimError::invalid_value(format!("cannot sort by {path:?}"))),
            },
            None => None,
        };
        let descending = match self.sort_order.as_deref() {
            None => false,
            Some(o) if o.eq_ignore_ascii_case("ascending") => false,
            Some(o) if o.eq_ignore_ascii_case("descending") => true,
            Some(o) => return Err(ScimError::invalid_value(format!("sortOrder {o:?} is not ascending or descending"))),
        };
        // RFC 7644 §3.4.2.4: a startIndex below 1 is 1, a negative count 0.
        let start_index = u64::try_from(self.start_index.unwrap_or(1).max(1)).unwrap_or(1);
        let count = u64::try_from(self.count.unwrap_or(DEFAULT_COUNT as i64).max(0)).unwrap_or(0).min(MAX_RESULTS);
        Ok(ParsedList { filter, sort_by, descending, start_index, count })
    }

    /// Applies `attributes` / `excludedAttributes` to one rendered resource.
    pub fn project(&self, resource: &mut Value) {
        if let Some(list) = &self.attributes {
            let keep = Selection::parse(list);
            if !keep.is_empty() {
                keep_only(resource, &keep);
            }
        }
        if let Some(list) = &self.excluded_attributes {
            remove(resource, &Selection::parse(list));
        }
    }
}

impl ParsedList {
    pub(super) fn query(&self) -> ScimListQuery<'_> {
        ScimListQuery {
            filter: self.filter.as_ref(),
            sort_by: self.sort_by.as_ref(),
            descending: self.descending,
            offset: self.start_index - 1,
            limit: self.count,
        }
    }

    /// The `ListResponse` of a page.
    pub(super) fn response(&self, total: u64, resources: Vec<Value>) -> Value {
        json!({
            "schemas": [LIST_RESPONSE],
            "totalResults": total,
            "startIndex": self.start_index,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        })
    }
}

/// The precondition of a write: `If-Match` names the current version, or
/// is `*`, or is absent.
pub fn check_version(if_match: Option<&str>, version: i64) -> Result<(), ScimError> {
    let Some(header) = if_match else { return Ok(()) };
    let current = super::resource::etag(version);
    let matches = header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag == current || tag.trim_start_matches("W/") == current.trim_start_matches("W/"));
    if matches { Ok(()) } else { Err(ScimError::precondition_failed()) }
}

/// Records a SCIM change in the audit, in the change's transaction: which
/// token made it, what it did to which resource, and which attributes
/// changed.
pub(super) async fn audit(
    tx: &mut Tx,
    scope: &Scope,
    account: Option<&AccountId>,
    detail: Value,
) -> Result<(), ScimError> {
    let event = NewAuditEvent {
        at: now_ms(),
        org: Some(scope.org.id.clone()),
        domain: Some(scope.domain.id.clone()),
        provider: None,
        account: account.cloned(),
        outcome: "scim".to_owned(),
        rule: None,
        detail: json!({ "scim": { "token": scope.client.token, "change": detail } }).to_string(),
    };
    tx.append_audit(&event).await.map(|_| ()).map_err(from_store)
}

/// Records a refused SCIM change (outside any transaction, which was
/// rolled back): the rule, the token, and the operation.
pub(super) async fn audit_refusal(store: &Store, scope: &Scope, rule: &str, operation: &str) {
    let event = NewAuditEvent {
        at: now_ms(),
        org: Some(scope.org.id.clone()),
        domain: Some(scope.domain.id.clone()),
        provider: None,
        account: None,
        outcome: "scim-refused".to_owned(),
        rule: Some(rule.to_owned()),
        detail: json!({ "scim": { "token": scope.client.token, "operation": operation } }).to_string(),
    };
    if let Err(e) = store.append_audit(&event).await {
        tracing::warn!(error = %e, "cannot record a refused SCIM change in the audit");
    }
}

/// A store error as the SCIM client sees it: conflicts are `uniqueness`,
/// refused values `invalidValue`, and the rest `503` (never a `500`).
pub fn from_store(e: StoreError) -> ScimError {
    match e {
        StoreError::Conflict { what } => ScimError::uniqueness(match what {
            Unique::ScimUserName => "another user of this domain has this userName".to_owned(),
            Unique::ScimUserAccount => "a user of this domain already has this email".to_owned(),
            Unique::AccountEmail => "another account has this email".to_owned(),
            Unique::ScimGroup => "the team is already a group of this domain".to_owned(),
            Unique::TeamName => "the organization has another team of this name".to_owned(),
            other => format!("the {other} already exists"),
        }),
        StoreError::NotFound { what: "member" } => ScimError::invalid_value("members must be users of this domain"),
        StoreError::NotFound { what } => ScimError::not_found(what),
        StoreError::Invalid { what, reason } => ScimError::invalid_value(format!("{what}: {reason}")),
        other => {
            tracing::warn!(error = %other, "SCIM request failed in the store");
            ScimError::unavailable()
        }
    }
}
