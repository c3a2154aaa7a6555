//! A trial run: the hooks a plugin exports, on one principal, with one
//! configuration and limits, each decision judged by the rules a login
//! applies ([`crate::plugin::judge`]). Nothing is written anywhere.
//! `provisio plugin test` and the console's playground (through
//! `Host::try_plugin`) both run plugins this way, so they report alike.

use serde::{Deserialize, Serialize};

use super::{CallContext, Plugin, PluginInfo, Runtime};
use crate::plugin::judge::{self, Judged, Unknown};
use crate::plugin::{Account, Assignment, CallReport, Creation, NewAccount, Principal};

/// Which hooks a trial runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Hooks {
    /// The identity creator only.
    Create,
    /// The assignment provider only.
    Assign,
    /// What the plugin exports, the creator first: the assignment provider
    /// runs only after a creation a login would accept.
    #[default]
    Both,
}

/// A trial's inputs besides the plugin.
#[derive(Debug, Clone)]
pub struct Trial<'a> {
    /// The principal the hooks are called on.
    pub principal: &'a Principal,
    /// Limits, configuration and seed of each call.
    pub ctx: CallContext,
    /// Which hooks to run.
    pub hooks: Hooks,
    /// What is known of the organization, to judge assignments by.
    pub org: judge::Organization,
}

/// What a trial found: the plugin, and each hook's call and judgement.
#[derive(Debug, Serialize)]
pub struct TrialReport {
    /// The plugin as `plugin check` reports it.
    pub plugin: PluginInfo,
    /// The identity creator's call, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create: Option<HookRun<Creation>>,
    /// The assignment provider's call, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assign: Option<HookRun<Vec<Assignment>>>,
}

/// One hook's call, and how its decision was judged (when it made one).
#[derive(Debug, Serialize)]
pub struct HookRun<T> {
    /// The call: its decision or failure, and what was measured.
    #[serde(flatten)]
    pub call: CallReport<T>,
    /// How a login would judge the decision; `None` without a decision to
    /// judge (a denial, a failure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judged: Option<Judgement>,
}

/// How a decision fared against the rules a login applies.
#[derive(Debug, Default, Serialize)]
pub struct Judgement {
    /// The rule a login would refuse the decision under; `null` when none.
    pub refused: Option<judge::Rule>,
    /// What that rule means, in a few words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The assignment that broke it, by its index in the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused_at: Option<usize>,
    /// Per assignment, in order: which input it could not be judged
    /// without (`null` when it was judged). Empty when all were judged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_judged: Vec<Option<Missing>>,
}

/// The input an assignment could not be judged without.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Missing {
    /// The organization's name.
    OrganizationName,
    /// Its team names.
    Teams,
    /// Its role names.
    Roles,
}

impl Judgement {
    fn of(verdict: Result<(), judge::Rule>) -> Self {
        let refused = verdict.err();
        Self { refused, reason: refused.map(judge::Rule::describe), ..Self::default() }
    }

    fn of_assignments(answer: &[Assignment], org: &judge::Organization) -> Self {
        match judge::assignments(answer, org) {
            Err(rule) => {
                let at = answer.iter().position(|a| judge::assignment(a, org).is_err());
                Self { refused: Some(rule), reason: Some(rule.describe()), refused_at: at, not_judged: Vec::new() }
            }
            Ok(judged) => {
                let not_judged: Vec<_> = judged.into_iter().map(missing).collect();
                let any = not_judged.iter().any(Option::is_some);
                Self { not_judged: if any { not_judged } else { Vec::new() }, ..Self::default() }
            }
        }
    }
}

fn missing(judged: Judged) -> Option<Missing> {
    match judged {
        Judged::Allowed => None,
        Judged::NotJudged(Unknown::OrganizationName) => Some(Missing::OrganizationName),
        Judged::NotJudged(Unknown::Teams) => Some(Missing::Teams),
        Judged::NotJudged(Unknown::Roles) => Some(Missing::Roles),
    }
}

impl Runtime {
    /// Runs `plugin`'s hooks as `trial` says: the creator (when asked and
    /// exported), then, unless the creator produced no account a login
    /// would accept, the assignment provider on the account the creation
    /// would make (or, without a creator, one made from the principal).
    pub async fn trial(&self, plugin: &Plugin, trial: &Trial<'_>) -> TrialReport {
        let principal = trial.principal;
        let world = plugin.info().world;
        let mut report = TrialReport { plugin: plugin.info().clone(), create: None, assign: None };
        let mut account = None;
        if world.creates() && trial.hooks != Hooks::Assign {
            let created = self.create(plugin, principal, &trial.ctx).await;
            let judged = match &created.outcome {
                Ok(Creation::Create(new)) => Some(Judgement::of(judge::creation(new, principal))),
                Ok(Creation::Deny(_)) | Err(_) => None,
            };
            account = match (&created.outcome, &judged) {
                (Ok(Creation::Create(new)), Some(Judgement { refused: None, .. })) => Some(preview_account(new)),
                _ => None,
            };
            let stop = account.is_none();
            report.create = Some(HookRun { call: created, judged });
            if stop {
                return report;
            }
        }
        if world.assigns() && trial.hooks != Hooks::Create {
            let account = account.unwrap_or_else(|| account_for(principal));
            let assigned = self.assign(plugin, &account, principal, &trial.ctx).await;
            let judged = assigned.outcome.as_ref().ok().map(|answer| Judgement::of_assignments(answer, &trial.org));
            report.assign = Some(HookRun { call: assigned, judged });
        }
        report
    }
}

/// The account a login would hand the assignment provider after this
/// creation (its username before the host makes it unique).
fn preview_account(new: &NewAccount) -> Account {
    let local = || new.email.split('@').next().unwrap_or_default().to_owned();
    Account {
        id: "preview".into(),
        username: new.username_hint.clone().unwrap_or_else(local),
        email: new.email.clone(),
        given_name: new.given_name.clone(),
        family_name: new.family_name.clone(),
        newly_created: true,
    }
}

/// An account made from the principal, for assignment-only plugins.
pub(crate) fn account_for(p: &Principal) -> Account {
    Account {
        id: "preview".into(),
        username: p.email.split('@').next().unwrap_or_default().to_owned(),
        email: p.email.clone(),
        given_name: p.given_name.clone(),
        family_name: p.family_name.clone(),
        newly_created: true,
    }
}
