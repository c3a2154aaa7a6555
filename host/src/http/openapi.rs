//! The OpenAPI document served at `GET /openapi.json`.
//!
//! Nothing here is written by hand but the document's frame: every path
//! comes from a handler's `#[utoipa::path]` annotation, and every schema
//! from the `ToSchema` derive of the type the handler actually reads or
//! writes. The router and the document are built together, from the same
//! `routes!` lists ([`super::api`]), so a route cannot be served without
//! being documented. This module adds the frame (title, tags, the `bearer`
//! security scheme), the error responses the handlers share, and the
//! schemas of the store's and runtime's closed sets of names, made from
//! their own lists of values.

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, RefOr};
use utoipa::{IntoResponses, Modify, PartialSchema, ToSchema};

use super::error::ErrorBody;
use crate::runtime::World;
use crate::store::{
    AccountId, AccountState, DomainId, FailurePolicy, InvitationId, InvitationState, MembershipKind, MembershipSource,
    OrgId, ProviderId, ProviderKind, RoleId, SyncMode, TeamId,
};

/// The name of the security scheme of the admin API.
pub(crate) const BEARER: &str = "bearer";

/// The document's frame; the paths are added by the router.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Provisio",
        description = "Logs users in and provisions their accounts just in time with sandboxed WebAssembly \
            plugins. Every error answers an `ErrorBody`; every answer carries an `x-request-id` header.",
    ),
    modifiers(&BearerScheme),
    components(schemas(ErrorBody)),
    tags(
        (name = "login", description = "Logging in, and the keys that verify session tokens."),
        (name = "service", description = "Health, readiness, metrics and this document."),
        (name = "admin", description = "Organizations, and under `/v1/orgs/{org}` everything one owns. \
            Needs the organization's API token or the operator token; anything outside the token's \
            organization is `404 not-found`."),
    ),
)]
struct Frame;

/// The frame of the document.
pub(crate) fn frame() -> OpenApi {
    <Frame as utoipa::OpenApi>::openapi()
}

/// Adds the `bearer` scheme: an organization API token (`pvo_…`) or the
/// operator token.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("An organization's API token (`pvo_…`), or the operator token."))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(BEARER, SecurityScheme::Http(scheme));
    }
}

// The error responses the handlers share. They describe `ApiError`'s
// answers and are never built themselves.

/// What every admin route may answer besides its own errors.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub(crate) enum AdminErrors {
    /// `unauthorized`: no valid bearer token.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// `not-found`: no such organization or object, or one of another
    /// organization (indistinguishable).
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// `unavailable`: the database is unavailable; retrying may succeed.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// What every operator-only route may answer besides its own errors.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub(crate) enum OperatorErrors {
    /// `unauthorized`: no valid bearer token.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// `forbidden`: only the operator token may do this.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// `unavailable`: the database is unavailable; retrying may succeed.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// What a route with a JSON body may answer about the body.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub(crate) enum BodyErrors {
    /// `bad-request`: malformed JSON, a missing field or a bad value.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// `payload-too-large`: the body is over the JSON body limit.
    #[response(status = 413)]
    PayloadTooLarge(ErrorBody),
    /// `unsupported-media-type`: the body is not `application/json`.
    #[response(status = 415)]
    UnsupportedMediaType(ErrorBody),
}

/// `bad-request`: a malformed query string.
#[derive(IntoResponses)]
#[response(status = 400)]
#[allow(dead_code)]
pub(crate) struct QueryError(ErrorBody);

/// `conflict`: the name (or email domain) is taken; the message names the rule.
#[derive(IntoResponses)]
#[response(status = 409)]
#[allow(dead_code)]
pub(crate) struct Conflict(ErrorBody);

/// `unprocessable`: the change breaks a rule; the message names it.
#[derive(IntoResponses)]
#[response(status = 422)]
#[allow(dead_code)]
pub(crate) struct Unprocessable(ErrorBody);

/// The schemas of the closed sets of names the store and the runtime keep
/// (strings in JSON), from each type's own list of values.
macro_rules! name_schemas {
    ($($ty:ty => $all:expr, $doc:literal;)+) => {$(
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some($doc))
                    .enum_values(Some($all.iter().map(|v| v.as_str())))
                    .into()
            }
        }

        impl ToSchema for $ty {}
    )+};
}

name_schemas! {
    AccountState => AccountState::ALL, "Whether an account may log in.";
    ProviderKind => ProviderKind::ALL, "How an authentication provider checks credentials.";
    MembershipKind => MembershipKind::ALL, "What a membership points at.";
    MembershipSource => MembershipSource::ALL, "Who gave a membership; a login removes only `idp` ones.";
    InvitationState => InvitationState::ALL, "Where an invitation stands.";
    FailurePolicy => FailurePolicy::ALL, "What a login does when a bound plugin fails.";
    SyncMode => SyncMode::ALL, "When a binding's assignment provider runs.";
    World => World::ALL, "The plugin contract's world a component implements.";
}

/// The schemas of the store's identifiers: strings the store made.
macro_rules! id_schemas {
    ($($ty:ty => $doc:literal;)+) => {$(
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some(concat!($doc, " (16 random bytes in hex, made by the host).")))
                    .into()
            }
        }

        impl ToSchema for $ty {}
    )+};
}

id_schemas! {
    OrgId => "An organization's id";
    TeamId => "A team's id";
    RoleId => "A role's id";
    DomainId => "A domain's id";
    ProviderId => "A domain's provider's id";
    AccountId => "An account's id";
    InvitationId => "An invitation's id";
}
