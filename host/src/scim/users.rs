//! `/Users`: a SCIM user is an account, found by its email (the primary
//! email, else the first, else `userName`) or created with the built-in
//! username rule. Every email must be under one of the domain's verified
//! email domains: SCIM is trusted as the domain's administrator is, and no
//! further.

use serde_json::{Value, json};

use super::patch;
use super::resource::{UserInput, parse_user, user_json};
use super::schema::{ENTERPRISE_SCHEMA, USER_SCHEMA};
use super::service::{ListRequest, Scope, audit, audit_refusal, check_version, from_store, plausible_id};
use super::{ScimError, wire};
use crate::canonical;
use crate::plugin::Principal;
use crate::store::{
    Account, NewAccount, ScimEmail, ScimUser, ScimUserFields, ScimUserId, Store, StoreError, Tx, Unique,
};

/// How many usernames a new account tries before giving up.
const USERNAME_TRIES: u32 = 6;

/// A user's emails, checked: canonical, under the domain's verified email
/// domains; and the account's email among them.
struct CheckedEmails {
    emails: Vec<ScimEmail>,
    account_email: String,
}

fn check_emails(scope: &Scope, input: &UserInput) -> Result<CheckedEmails, ScimError> {
    let verified = |email: &str| {
        canonical::domain_of(email).is_some_and(|d| scope.domain.verified_email_domains.iter().any(|v| v == d))
    };
    let canonical_email = |text: &str| -> Result<String, ScimError> {
        let email = canonical::email(text).map_err(|e| ScimError::invalid_value(format!("{text:?}: {e}")))?;
        if verified(&email) {
            Ok(email)
        } else {
            Err(ScimError::invalid_value(format!("{email} is not under one of the domain's verified email domains")))
        }
    };
    let mut emails = Vec::with_capacity(input.emails.len());
    for e in &input.emails {
        emails.push(ScimEmail { value: canonical_email(&e.value)?, kind: e.kind.clone(), primary: e.primary });
    }
    let account_email = match emails.iter().find(|e| e.primary).or(emails.first()) {
        Some(e) => e.value.clone(),
        None if input.user_name.contains('@') => canonical_email(&input.user_name)?,
        None => return Err(ScimError::invalid_value("a user needs an email: in emails, or as its userName")),
    };
    if input.user_name.contains('@') {
        canonical_email(&input.user_name)?;
    }
    Ok(CheckedEmails { emails, account_email })
}

fn fields(input: &UserInput, emails: Vec<ScimEmail>) -> ScimUserFields {
    ScimUserFields {
        user_name: input.user_name.clone(),
        external_id: input.external_id.clone(),
        display_name: input.display_name.clone(),
        enterprise: input.enterprise.clone(),
        emails,
        active: input.active,
    }
}

/// The attributes that differ between two users, for the audit.
fn changed(
    before: Option<(&ScimUserFields, &Account)>,
    after: &ScimUserFields,
    input: &UserInput,
) -> Vec<&'static str> {
    let Some((b, account)) = before else { return vec!["created"] };
    let mut changed = Vec::new();
    let pairs: [(&'static str, bool); 8] = [
        ("userName", b.user_name != after.user_name),
        ("externalId", b.external_id != after.external_id),
        ("displayName", b.display_name != after.display_name),
        ("name.givenName", account.given_name != input.given_name),
        ("name.familyName", account.family_name != input.family_name),
        ("emails", b.emails != after.emails),
        ("active", b.active != after.active),
        (super::schema::ENTERPRISE, b.enterprise != after.enterprise),
    ];
    for (name, differs) in pairs {
        if differs {
            changed.push(name);
        }
    }
    changed
}

/// The account with this email, created (with the built-in username rule
/// and the unusable-password marker) when there is none. A login or another
/// request creating it at the same moment is met by reading it again.
async fn account_for(tx: &mut Tx, scope: &Scope, email: &str, input: &UserInput) -> Result<Account, ScimError> {
    if let Some(account) = tx.account_by_email(email).await.map_err(from_store)? {
        return Ok(account);
    }
    let principal = Principal {
        domain: scope.domain.name.clone(),
        provider: "scim".to_owned(),
        subject: String::new(),
        email: email.to_owned(),
        email_verified: true,
        given_name: input.given_name.clone(),
        family_name: input.family_name.clone(),
        groups: Vec::new(),
        claims: Default::default(),
    };
    let base = crate::builtin::username_base(&principal);
    for round in 0..USERNAME_TRIES {
        let digits = if round == 0 { crate::builtin::DEFAULT_DIGITS } else { 2 + round.min(6) };
        let username = crate::builtin::username_with_digits(&base, digits, &mut rand::rng());
        let new = NewAccount {
            email: email.to_owned(),
            username,
            given_name: input.given_name.clone(),
            family_name: input.family_name.clone(),
            password_hash: None,
            attributes: Vec::new(),
        };
        match tx.insert_account(new).await {
            Ok(account) => return Ok(account),
            Err(StoreError::Conflict { what: Unique::AccountUsername }) => continue,
            Err(StoreError::Conflict { what: Unique::AccountEmail }) => {
                let found = tx.account_by_email(email).await.map_err(from_store)?;
                return found.ok_or_else(ScimError::unavailable);
            }
            Err(e) => return Err(from_store(e)),
        }
    }
    Err(ScimError::new(409, None, "no free username could be found for the account; try again"))
}

/// Writes a new or changed user in `tx`, with its account's email and
/// names, the derived memberships and the audit event.
async fn write(
    tx: &mut Tx,
    scope: &Scope,
    existing: Option<&ScimUser>,
    input: &UserInput,
    checked: CheckedEmails,
) -> Result<ScimUserId, ScimError> {
    let fields = fields(input, checked.emails);
    let (id, account) = match existing {
        None => {
            let account = account_for(tx, scope, &checked.account_email, input).await?;
            if tx.scim_user_of_account(&scope.domain.id, &account.id).await.map_err(from_store)?.is_some() {
                return Err(from_store(StoreError::Conflict { what: Unique::ScimUserAccount }));
            }
            let id = tx.insert_scim_user(&scope.domain.id, &account.id, &fields).await.map_err(from_store)?;
            (id, account)
        }
        Some(user) => {
            if user.account.email != checked.account_email {
                tx.set_account_email(&user.account.id, &checked.account_email).await.map_err(from_store)?;
            }
            tx.update_scim_user(&scope.domain.id, &user.id, &fields).await.map_err(from_store)?;
            (user.id.clone(), user.account.clone())
        }
    };
    // A new SCIM user keeps the names an existing account has unless it
    // sends its own; a replaced one has exactly the names it sends.
    let (given, family) = match existing {
        Some(_) => (input.given_name.as_ref(), input.family_name.as_ref()),
        None => (
            input.given_name.as_ref().or(account.given_name.as_ref()),
            input.family_name.as_ref().or(account.family_name.as_ref()),
        ),
    };
    if given != account.given_name.as_ref() || family != account.family_name.as_ref() {
        tx.update_names(&account.id, given.map(String::as_str), family.map(String::as_str))
            .await
            .map_err(from_store)?;
    }
    tx.sync_scim_memberships(&scope.org.id, &account.id).await.map_err(from_store)?;
    let operation = if existing.is_some() { "update-user" } else { "create-user" };
    let changes = changed(existing.map(|u| (&u.fields, &u.account)), &fields, input);
    audit(tx, scope, Some(&account.id), json!({ "operation": operation, "user": id.as_str(), "changed": changes }))
        .await?;
    Ok(id)
}

/// Reads the user back in `tx`, and commits.
async fn finish(mut tx: Tx, scope: &Scope, id: &ScimUserId) -> Result<ScimUser, ScimError> {
    let user = tx.scim_user(&scope.domain.id, id).await.map_err(from_store)?;
    tx.commit().await.map_err(from_store)?;
    user.ok_or_else(|| ScimError::not_found("user"))
}

/// Checks a new user's emails, auditing a refusal.
async fn checked(store: &Store, scope: &Scope, input: &UserInput) -> Result<CheckedEmails, ScimError> {
    match check_emails(scope, input) {
        Ok(checked) => Ok(checked),
        Err(e) => {
            audit_refusal(store, scope, "scim-email-domain", "create-user").await;
            Err(e)
        }
    }
}

/// Rolls an update back and audits its refused emails; the error to answer.
async fn refuse(store: &Store, scope: &Scope, tx: Tx, error: ScimError) -> ScimError {
    drop(tx);
    audit_refusal(store, scope, "scim-email-domain", "update-user").await;
    error
}

/// `POST /Users`.
pub async fn create(store: &Store, scope: &Scope, body: &Value) -> Result<ScimUser, ScimError> {
    let input = parse_user(body)?;
    let checked = checked(store, scope, &input).await?;
    let mut tx = store.begin().await.map_err(from_store)?;
    let id = write(&mut tx, scope, None, &input, checked).await?;
    finish(tx, scope, &id).await
}

/// `GET /Users/{id}`.
pub async fn get(store: &Store, scope: &Scope, id: &str) -> Result<ScimUser, ScimError> {
    if !plausible_id(id) {
        return Err(ScimError::not_found("user"));
    }
    let user = store.scim_user(&scope.domain.id, &ScimUserId::new(id)).await.map_err(from_store)?;
    user.ok_or_else(|| ScimError::not_found("user"))
}

/// `GET /Users` and `POST /Users/.search`: the `ListResponse`.
pub async fn list(store: &Store, scope: &Scope, request: &ListRequest) -> Result<Value, ScimError> {
    let parsed = request.parse()?;
    let page = store.list_scim_users(&scope.domain.id, parsed.query()).await.map_err(from_store)??;
    let resources = page
        .items
        .iter()
        .map(|u| {
            let mut json = user_json(u, &scope.base);
            request.project(&mut json);
            json
        })
        .collect();
    Ok(parsed.response(page.total, resources))
}

async fn load(tx: &mut Tx, scope: &Scope, id: &str, if_match: Option<&str>) -> Result<ScimUser, ScimError> {
    if !plausible_id(id) {
        return Err(ScimError::not_found("user"));
    }
    let user = tx.scim_user(&scope.domain.id, &ScimUserId::new(id)).await.map_err(from_store)?;
    let user = user.ok_or_else(|| ScimError::not_found("user"))?;
    check_version(if_match, user.version)?;
    Ok(user)
}

/// `PUT /Users/{id}`: every writable attribute is replaced.
pub async fn replace(
    store: &Store,
    scope: &Scope,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Result<ScimUser, ScimError> {
    let input = parse_user(body)?;
    let mut tx = store.begin().await.map_err(from_store)?;
    let user = load(&mut tx, scope, id, if_match).await?;
    let checked = match check_emails(scope, &input) {
        Ok(checked) => checked,
        Err(e) => return Err(refuse(store, scope, tx, e).await),
    };
    let id = write(&mut tx, scope, Some(&user), &input, checked).await?;
    finish(tx, scope, &id).await
}

/// `PATCH /Users/{id}`: the operations applied to the user as GET shows it,
/// then written as a `PUT` of the result would be.
pub async fn modify(
    store: &Store,
    scope: &Scope,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Result<ScimUser, ScimError> {
    let operations = patch::parse_request(body, wire::parse_patch_path)?;
    let mut tx = store.begin().await.map_err(from_store)?;
    let user = load(&mut tx, scope, id, if_match).await?;
    let mut json = user_json(&user, &scope.base);
    patch::apply(&mut json, &operations, &USER_SCHEMA, &[&ENTERPRISE_SCHEMA])?;
    let input = parse_user(&json)?;
    let checked = match check_emails(scope, &input) {
        Ok(checked) => checked,
        Err(e) => return Err(refuse(store, scope, tx, e).await),
    };
    let id = write(&mut tx, scope, Some(&user), &input, checked).await?;
    finish(tx, scope, &id).await
}

/// `DELETE /Users/{id}`: the person is de-provisioned from the organization;
/// the platform-wide account stays.
pub async fn delete(store: &Store, scope: &Scope, id: &str, if_match: Option<&str>) -> Result<(), ScimError> {
    let mut tx = store.begin().await.map_err(from_store)?;
    let user = load(&mut tx, scope, id, if_match).await?;
    tx.delete_scim_user(&scope.domain.id, &user.id).await.map_err(from_store)?;
    tx.sync_scim_memberships(&scope.org.id, &user.account.id).await.map_err(from_store)?;
    audit(&mut tx, scope, Some(&user.account.id), json!({ "operation": "delete-user", "user": user.id.as_str() }))
        .await?;
    tx.commit().await.map_err(from_store)
}
