//! Two decisions of one hook compared: a past login's with a candidate's
//! (replay), or a login's with its shadow version's. One comparison, so a
//! replay and a shadow call the same thing a change.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::plugin::{Assignment, CallFailure, Creation};

/// What a hook answered, in the form audit events keep and compare: a
/// creation's username hint is kept, and a denial's code, but a creation
/// differs from another only by being one (the host makes the username).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Decision {
    /// The identity creator creates the account.
    Create {
        /// The creator's hint, if any.
        username_hint: Option<String>,
    },
    /// The identity creator denies, with this code.
    Deny(String),
    /// The assignment provider's memberships, in order and without repeats.
    Assign(BTreeSet<Assignment>),
    /// No decision: the failure's kind (`trap`, `limit-exceeded`, …), or
    /// why the plugin was not called.
    Failed(String),
}

impl Decision {
    /// An identity creator's decision.
    pub(crate) fn of_creation(creation: &Creation) -> Self {
        match creation {
            Creation::Create(new) => Self::Create { username_hint: new.username_hint.clone() },
            Creation::Deny(denial) => Self::Deny(denial.code.clone()),
        }
    }

    /// An assignment provider's answer.
    pub(crate) fn of_assignments(list: &[Assignment]) -> Self {
        Self::Assign(list.iter().cloned().collect())
    }

    /// A call that gave no decision.
    pub(crate) fn of_failure(failure: &CallFailure) -> Self {
        Self::Failed(failure.kind().to_owned())
    }
}

/// How a second decision differs from a first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// The first created the account, the second denies it.
    CreatedThenDenied,
    /// The first denied, the second creates.
    DeniedThenCreated,
    /// Both deny, with other codes.
    DenialCodeChanged,
    /// The second gave no decision where the first did, or failed otherwise.
    Failed,
    /// The second gave a membership the first did not.
    Added(Assignment),
    /// The first gave a membership the second does not.
    Removed(Assignment),
}

/// The changes from `first` to `second`; none when they agree.
pub(crate) fn changes(first: &Decision, second: &Decision) -> Vec<Change> {
    use Decision::{Assign, Create, Deny, Failed};
    match (first, second) {
        (Failed(a), Failed(b)) if a == b => Vec::new(),
        (_, Failed(_)) | (Failed(_), _) => vec![Change::Failed],
        (Create { .. }, Create { .. }) => Vec::new(),
        (Create { .. }, Deny(_)) => vec![Change::CreatedThenDenied],
        (Deny(_), Create { .. }) => vec![Change::DeniedThenCreated],
        (Deny(a), Deny(b)) => {
            if a == b {
                Vec::new()
            } else {
                vec![Change::DenialCodeChanged]
            }
        }
        (Assign(a), Assign(b)) => {
            let added = b.difference(a).cloned().map(Change::Added);
            added.chain(a.difference(b).cloned().map(Change::Removed)).collect()
        }
        // Answers of different hooks never agree.
        _ => vec![Change::Failed],
    }
}

/// An assignment's kind: `organization`, `team` or `role`.
pub(crate) fn kind(a: &Assignment) -> &'static str {
    match a {
        Assignment::Organization(_) => "organization",
        Assignment::Team(_) => "team",
        Assignment::Role(_) => "role",
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CreatedThenDenied => f.write_str("created, then denied"),
            Self::DeniedThenCreated => f.write_str("denied, then created"),
            Self::DenialCodeChanged => f.write_str("denied with another code"),
            Self::Failed => f.write_str("failed"),
            Self::Added(a) => write!(f, "{} {:?} added", kind(a), a.name()),
            Self::Removed(a) => write!(f, "{} {:?} removed", kind(a), a.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Change, Decision, changes};
    use crate::plugin::Assignment;

    #[test]
    fn decisions_compare_by_what_a_login_would_do() {
        let create = |hint: &str| Decision::Create { username_hint: Some(hint.into()) };
        assert!(changes(&create("ada"), &create("ada.l")).is_empty(), "the host makes the username");
        assert_eq!(changes(&create("ada"), &Decision::Deny("x".into())), [Change::CreatedThenDenied]);
        assert_eq!(changes(&Decision::Deny("x".into()), &Decision::Deny("y".into())), [Change::DenialCodeChanged]);
        assert_eq!(changes(&create("ada"), &Decision::Failed("trap".into())), [Change::Failed]);
        assert!(changes(&Decision::Failed("trap".into()), &Decision::Failed("trap".into())).is_empty());
        let team = |n: &str| Assignment::Team(n.into());
        let before = Decision::of_assignments(&[team("a"), team("b")]);
        let after = Decision::of_assignments(&[team("b"), team("c"), team("c")]);
        let found = changes(&before, &after);
        assert_eq!(found, [Change::Added(team("c")), Change::Removed(team("a"))]);
        assert_eq!(found[0].to_string(), "team \"c\" added");
    }
}
