//! The rules that compare a plugin's decision with the login it is for: the
//! principal the provider vouched for and the domain's organization. The
//! structural rules (sizes, forms) are [`super::validate`]'s; these need the
//! login's context. The engine judges every decision by them before acting
//! on it, and `provisio plugin test` judges by the same functions, so a
//! decision the CLI accepts is one a login accepts.
//!
//! Each function is pure and answers the stable rule name of a breach (the
//! name a refused login is audited under).

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use super::{Assignment, NewAccount, Principal};

/// A rule of the contract a decision broke; its stable name (`as_str`,
/// `Display`, and how it serializes) is what a refused login is audited
/// under, for example `created-email-mismatch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The created email is not the principal's (compared in canonical form).
    CreatedEmailMismatch,
    /// The username (the hint, or the one the host derived) is not 1 to 64
    /// characters of `a-z 0-9 . _ -` once lower-cased.
    UsernameForm,
    /// An assigned organization is not the domain's own.
    AssignmentForeignOrganization,
    /// An assigned team is not one of the organization's.
    AssignmentUnknownTeam,
    /// An assigned role is not one of the organization's.
    AssignmentUnknownRole,
}

impl Rule {
    /// The rule's stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreatedEmailMismatch => "created-email-mismatch",
            Self::UsernameForm => "username-form",
            Self::AssignmentForeignOrganization => "assignment-foreign-organization",
            Self::AssignmentUnknownTeam => "assignment-unknown-team",
            Self::AssignmentUnknownRole => "assignment-unknown-role",
        }
    }

    /// What the rule means, in a few words, for people reading a report.
    pub fn describe(self) -> &'static str {
        match self {
            Self::CreatedEmailMismatch => "the created email is not the principal's",
            Self::UsernameForm => "the username is not 1 to 64 characters of a-z 0-9 . _ -",
            Self::AssignmentForeignOrganization => "the assigned organization is not the domain's",
            Self::AssignmentUnknownTeam => "the assigned team does not exist in the organization",
            Self::AssignmentUnknownRole => "the assigned role does not exist in the organization",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is known of the domain's organization: its name, and the names of
/// its teams and roles. `None` where it is not known (a `plugin test` run
/// without those inputs); a login knows them all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Organization {
    /// The organization's name.
    pub name: Option<String>,
    /// Names of its teams.
    pub teams: Option<BTreeSet<String>>,
    /// Names of its roles.
    pub roles: Option<BTreeSet<String>>,
}

/// Which input an assignment could not be judged without.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unknown {
    /// The organization's name.
    OrganizationName,
    /// The organization's team names.
    Teams,
    /// The organization's role names.
    Roles,
}

/// How an assignment that breaks no rule was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judged {
    /// It names the organization, or one of its teams or roles.
    Allowed,
    /// It could not be judged: the organization description lacks this.
    NotJudged(Unknown),
}

/// The created email must be the principal's, both in canonical form
/// ([`crate::canonical::email`]).
pub fn created_email(new: &NewAccount, principal: &Principal) -> Result<(), Rule> {
    let principal_email = crate::canonical::normalize_email(&principal.email);
    if crate::canonical::normalize_email(&new.email) == principal_email {
        Ok(())
    } else {
        Err(Rule::CreatedEmailMismatch)
    }
}

/// The username `candidate` (a hint, or the one the host derived) asks for:
/// lower-cased, and well-formed.
pub fn username(candidate: &str) -> Result<String, Rule> {
    let lower = candidate.to_ascii_lowercase();
    if super::validate::is_username(&lower) { Ok(lower) } else { Err(Rule::UsernameForm) }
}

/// A creator's account decision against the principal: the email rule, then
/// the username hint's form when there is one (without one, the host derives
/// a well-formed username).
pub fn creation(new: &NewAccount, principal: &Principal) -> Result<(), Rule> {
    created_email(new, principal)?;
    if let Some(hint) = &new.username_hint {
        username(hint)?;
    }
    Ok(())
}

/// One assignment against the organization: it names the organization
/// itself, or one of its teams or roles.
pub fn assignment(assignment: &Assignment, org: &Organization) -> Result<Judged, Rule> {
    let (known, unknown, rule) = match assignment {
        Assignment::Organization(name) => {
            let known = org.name.as_ref().map(|n| BTreeSet::from([n.clone()]));
            return judge_name(name, known.as_ref(), Unknown::OrganizationName, Rule::AssignmentForeignOrganization);
        }
        Assignment::Team(_) => (org.teams.as_ref(), Unknown::Teams, Rule::AssignmentUnknownTeam),
        Assignment::Role(_) => (org.roles.as_ref(), Unknown::Roles, Rule::AssignmentUnknownRole),
    };
    judge_name(assignment.name(), known, unknown, rule)
}

fn judge_name(name: &str, known: Option<&BTreeSet<String>>, unknown: Unknown, rule: Rule) -> Result<Judged, Rule> {
    match known {
        None => Ok(Judged::NotJudged(unknown)),
        Some(names) if names.contains(name) => Ok(Judged::Allowed),
        Some(_) => Err(rule),
    }
}

/// An assignment answer, in order: the first breach, or how each
/// assignment was judged.
pub fn assignments(answer: &[Assignment], org: &Organization) -> Result<Vec<Judged>, Rule> {
    answer.iter().map(|a| assignment(a, org)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(email: &str) -> Principal {
        Principal {
            domain: "acme".into(),
            provider: "okta".into(),
            subject: "s".into(),
            email: email.into(),
            email_verified: true,
            given_name: None,
            family_name: None,
            groups: Vec::new(),
            claims: Default::default(),
        }
    }

    fn new_account(email: &str, hint: Option<&str>) -> NewAccount {
        NewAccount {
            email: email.into(),
            username_hint: hint.map(Into::into),
            given_name: None,
            family_name: None,
            attributes: Vec::new(),
        }
    }

    fn acme() -> Organization {
        Organization {
            name: Some("acme".into()),
            teams: Some(["engineering".to_owned(), "sales".to_owned()].into()),
            roles: Some(["developer".to_owned()].into()),
        }
    }

    #[test]
    fn the_created_email_is_the_principals_in_canonical_form() {
        let jane = principal("jane@acme.example");
        assert_eq!(created_email(&new_account("jane@acme.example", None), &jane), Ok(()));
        assert_eq!(created_email(&new_account(" Jane@ACME.Example ", None), &jane), Ok(()));
        assert_eq!(created_email(&new_account("jane@acme.example", None), &principal("JANE@acme.example")), Ok(()));
        for other in ["ceo@victim.example", "jane@acme.example.evil", "jane@", "", "jane2@acme.example"] {
            assert_eq!(created_email(&new_account(other, None), &jane), Err(Rule::CreatedEmailMismatch), "{other}");
        }
        // The Kelvin sign never folds into `k`.
        let kate = principal("kate@acme.example");
        assert_eq!(
            created_email(&new_account("\u{212a}ate@acme.example", None), &kate),
            Err(Rule::CreatedEmailMismatch)
        );
    }

    #[test]
    fn usernames_are_lower_cased_and_well_formed() {
        assert_eq!(username("Jane.Doe_2-x"), Ok("jane.doe_2-x".to_owned()));
        for bad in ["", "jane doe", "jane@acme", "ja\u{1b}ne", "é", &"a".repeat(65)] {
            assert_eq!(username(bad), Err(Rule::UsernameForm), "{bad:?}");
        }
        assert_eq!(username(&"a".repeat(64)).map(|u| u.len()), Ok(64));
    }

    #[test]
    fn a_creation_is_judged_by_email_then_username_hint() {
        let jane = principal("jane@acme.example");
        assert_eq!(creation(&new_account("jane@acme.example", Some("Jane")), &jane), Ok(()));
        assert_eq!(creation(&new_account("jane@acme.example", None), &jane), Ok(()));
        assert_eq!(creation(&new_account("jane@acme.example", Some("no spaces")), &jane), Err(Rule::UsernameForm));
        assert_eq!(
            creation(&new_account("ceo@victim.example", Some("no spaces")), &jane),
            Err(Rule::CreatedEmailMismatch)
        );
    }

    #[test]
    fn assignments_name_only_the_organization_and_its_teams_and_roles() {
        let org = acme();
        let ok = [
            Assignment::Organization("acme".into()),
            Assignment::Team("engineering".into()),
            Assignment::Role("developer".into()),
        ];
        assert_eq!(assignments(&ok, &org), Ok(vec![Judged::Allowed; 3]));
        assert_eq!(
            assignment(&Assignment::Organization("victim".into()), &org),
            Err(Rule::AssignmentForeignOrganization)
        );
        assert_eq!(
            assignment(&Assignment::Organization("ACME".into()), &org),
            Err(Rule::AssignmentForeignOrganization)
        );
        assert_eq!(assignment(&Assignment::Team("admins".into()), &org), Err(Rule::AssignmentUnknownTeam));
        assert_eq!(assignment(&Assignment::Team("developer".into()), &org), Err(Rule::AssignmentUnknownTeam));
        assert_eq!(assignment(&Assignment::Role("admin".into()), &org), Err(Rule::AssignmentUnknownRole));
        assert_eq!(assignment(&Assignment::Role("engineering".into()), &org), Err(Rule::AssignmentUnknownRole));
    }

    #[test]
    fn the_first_breach_in_order_is_answered() {
        let answer = [
            Assignment::Team("engineering".into()),
            Assignment::Role("admin".into()),
            Assignment::Organization("victim".into()),
        ];
        assert_eq!(assignments(&answer, &acme()), Err(Rule::AssignmentUnknownRole));
    }

    #[test]
    fn without_the_organization_inputs_nothing_is_pretended() {
        let answer = [
            Assignment::Organization("victim".into()),
            Assignment::Team("anything".into()),
            Assignment::Role("anything".into()),
        ];
        let judged = assignments(&answer, &Organization::default());
        assert_eq!(
            judged,
            Ok(vec![
                Judged::NotJudged(Unknown::OrganizationName),
                Judged::NotJudged(Unknown::Teams),
                Judged::NotJudged(Unknown::Roles),
            ])
        );
        // What is given is judged.
        let teams_only = Organization { teams: Some(BTreeSet::new()), ..Organization::default() };
        assert_eq!(assignment(&Assignment::Team("anything".into()), &teams_only), Err(Rule::AssignmentUnknownTeam));
        assert_eq!(assignment(&Assignment::Role("x".into()), &teams_only), Ok(Judged::NotJudged(Unknown::Roles)));
    }

    #[test]
    fn every_rule_has_one_stable_name() {
        let rules = [
            Rule::CreatedEmailMismatch,
            Rule::UsernameForm,
            Rule::AssignmentForeignOrganization,
            Rule::AssignmentUnknownTeam,
            Rule::AssignmentUnknownRole,
        ];
        let names: BTreeSet<_> = rules.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), rules.len(), "names are distinct");
        for rule in rules {
            // Reports serialize the rule by the name the audit records.
            assert_eq!(serde_json::to_value(rule).ok(), Some(serde_json::Value::from(rule.as_str())));
            assert!(!rule.describe().is_empty());
        }
    }
}
