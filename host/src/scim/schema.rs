//! The attributes Provisio serves, described once: the `/Schemas` and
//! `/ResourceTypes` documents are rendered from these tables, PATCH and the
//! resource parsers find attribute names in them (ignoring case, as RFC 7643
//! §2.1 asks), and the store's filter translation knows which strings are
//! compared exactly. Nothing is declared that is not stored.

/// The core User schema.
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The enterprise User extension.
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The core Group schema.
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// A list response.
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// A PATCH request.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// A search request (`POST /.search`).
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// An error.
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// The service provider configuration.
pub const SERVICE_PROVIDER_CONFIG: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// A resource type.
pub const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// A schema.
pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// An attribute's type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Boolean,
    DateTime,
    Reference,
    Complex,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::DateTime => "dateTime",
            Self::Reference => "reference",
            Self::Complex => "complex",
        }
    }
}

/// Who may write an attribute (RFC 7643 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadWrite,
    ReadOnly,
    Immutable,
}

impl Mutability {
    fn as_str(self) -> &'static str {
        match self {
            Self::ReadWrite => "readWrite",
            Self::ReadOnly => "readOnly",
            Self::Immutable => "immutable",
        }
    }
}

/// One attribute of a schema.
#[derive(Debug)]
pub struct Attribute {
    pub name: &'static str,
    pub kind: Kind,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    /// `server` for `userName`, `none` otherwise.
    pub unique: bool,
    /// `always` for `id`, `default` otherwise.
    pub always_returned: bool,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [Attribute],
    pub description: &'static str,
}

const fn string(name: &'static str, description: &'static str) -> Attribute {
    Attribute {
        name,
        kind: Kind::String,
        multi_valued: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        unique: false,
        always_returned: false,
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: &[],
        description,
    }
}

const fn boolean(name: &'static str, description: &'static str) -> Attribute {
    Attribute { kind: Kind::Boolean, ..string(name, description) }
}

const fn complex(name: &'static str, multi_valued: bool, sub: &'static [Attribute], d: &'static str) -> Attribute {
    Attribute { kind: Kind::Complex, multi_valued, sub_attributes: sub, ..string(name, d) }
}

/// A schema: its URN and attributes.
#[derive(Debug)]
pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [Attribute],
}

/// The User schema's attributes. `id` and `meta` are common attributes
/// (RFC 7643 §3.1) and not listed.
pub static USER_SCHEMA: Schema = Schema {
    id: USER,
    name: "User",
    description: "A person's account, as the domain's identity provider provisions it",
    attributes: &[
        Attribute {
            required: true,
            unique: true,
            ..string(
                "userName",
                "Unique in the domain, case-insensitively; an email under a verified email domain, or any name when an email is given",
            )
        },
        complex(
            "name",
            false,
            &[string("givenName", "The account's given name"), string("familyName", "The account's family name")],
            "The account's names; a login through a just-in-time domain overwrites them with the identity provider's",
        ),
        string("displayName", "The name to display"),
        complex(
            "emails",
            true,
            &[
                string("value", "An email under one of the domain's verified email domains"),
                Attribute { canonical_values: &["work", "home", "other"], ..string("type", "work, home or other") },
                boolean("primary", "The account's email; at most one"),
            ],
            "Emails; the primary one (else the first, else userName) is the account's email",
        ),
        boolean("active", "false de-provisions the person from the organization"),
        Attribute {
            mutability: Mutability::ReadOnly,
            ..complex(
                "groups",
                true,
                &[
                    Attribute { mutability: Mutability::ReadOnly, ..string("value", "The group's id") },
                    Attribute {
                        mutability: Mutability::ReadOnly,
                        kind: Kind::Reference,
                        reference_types: &["Group"],
                        ..string("$ref", "The group's URI")
                    },
                    Attribute { mutability: Mutability::ReadOnly, ..string("display", "The group's name") },
                ],
                "The groups the person is a member of through SCIM; change them through /Groups",
            )
        },
    ],
};

/// The enterprise extension's attributes.
pub static ENTERPRISE_SCHEMA: Schema = Schema {
    id: ENTERPRISE,
    name: "EnterpriseUser",
    description: "Enterprise attributes of a User",
    attributes: &[
        string("employeeNumber", "The employee number"),
        string("costCenter", "The cost center"),
        string("organization", "The organization's name"),
        string("division", "The division's name"),
        string("department", "The department's name"),
    ],
};

/// The Group schema's attributes.
pub static GROUP_SCHEMA: Schema = Schema {
    id: GROUP,
    name: "Group",
    description: "A team of the organization",
    attributes: &[
        Attribute {
            required: true,
            ..string("displayName", "The team's name (organization:team where the domain uses that convention)")
        },
        complex(
            "members",
            true,
            &[
                Attribute { mutability: Mutability::Immutable, ..string("value", "The member's User id") },
                Attribute {
                    mutability: Mutability::Immutable,
                    kind: Kind::Reference,
                    reference_types: &["User"],
                    ..string("$ref", "The member's URI")
                },
                Attribute { mutability: Mutability::Immutable, canonical_values: &["User"], ..string("type", "User") },
            ],
            "The domain's SCIM users with a SCIM membership of the team",
        ),
    ],
};

/// The `externalId` common attribute (RFC 7643 §3.1), case-exact.
pub static EXTERNAL_ID: Attribute = Attribute { case_exact: true, ..string("externalId", "The client's id") };

impl Schema {
    /// The attribute called `name`, ignoring case.
    pub fn attribute(&self, name: &str) -> Option<&'static Attribute> {
        self.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

impl Attribute {
    /// The sub-attribute called `name`, ignoring case.
    pub fn sub(&self, name: &str) -> Option<&'static Attribute> {
        self.sub_attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The attribute as `/Schemas` describes it.
    pub fn describe(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "name": self.name,
            "type": self.kind.as_str(),
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability.as_str(),
            "returned": if self.always_returned { "always" } else { "default" },
            "uniqueness": if self.unique { "server" } else { "none" },
        });
        if !self.canonical_values.is_empty() {
            v["canonicalValues"] = serde_json::json!(self.canonical_values);
        }
        if !self.reference_types.is_empty() {
            v["referenceTypes"] = serde_json::json!(self.reference_types);
        }
        if !self.sub_attributes.is_empty() {
            v["subAttributes"] = self.sub_attributes.iter().map(Attribute::describe).collect();
        }
        v
    }
}

impl Schema {
    /// The schema as `/Schemas/{id}` answers it; `location` is its URI.
    pub fn describe(&self, location: &str) -> serde_json::Value {
        serde_json::json!({
            "schemas": [SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(Attribute::describe).collect::<Vec<_>>(),
            "meta": { "resourceType": "Schema", "location": location },
        })
    }
}
