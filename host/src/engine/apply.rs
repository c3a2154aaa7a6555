//! Step 6 of a login: the [`Plan`] applied in one transaction, with the
//! audit event, after checking that what it rests on still holds.

use super::audit::Trail;
use super::flow::LoginContext;
use super::plan::{Plan, Reader, Seen, Who};
use super::{LoginError, LoginSuccess};
use crate::store::{Account, Membership, MembershipSource, MembershipTarget, StoreError, Tx};

/// How a transaction ended without success.
pub(super) enum Step {
    /// What the plan rests on changed, or a concurrent login won a race:
    /// start over from the read.
    Retry,
    /// Fail the login; the transaction is rolled back.
    Fail(LoginError),
    /// The login was refused and the transaction, with its audit event,
    /// committed (JIT off: the account just created stays, without access).
    Refused(LoginError),
}

impl From<LoginError> for Step {
    fn from(e: LoginError) -> Self {
        Self::Fail(e)
    }
}

impl From<StoreError> for Step {
    /// A conflict (a concurrent login won a unique constraint) or a busy
    /// database starts over; anything else fails the login.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { .. } | StoreError::Busy(_) => Self::Retry,
            _ => Self::Fail(LoginError::Unavailable),
        }
    }
}

impl LoginContext<'_> {
    /// Applies the plan in one transaction, with the audit event: the
    /// account (created, linked, renamed), step 4, step 5, and the commit.
    pub(super) async fn apply(&self, seen: &Seen, plan: &Plan, trail: &mut Trail) -> Result<LoginSuccess, Step> {
        let mut tx = self.host.store.begin().await?;
        let mut account = self.recheck(&mut tx, seen, plan).await?;
        if let Who::New(new) = &plan.who {
            tx.insert_prepared_account(new).await?;
        }
        if plan.link {
            tx.insert_link(&self.provider.id, &self.principal.subject, &account.id).await?;
        }
        if let Some(names) = &plan.names {
            tx.update_names(&account.id, names.given.as_deref(), names.family.as_deref()).await?;
            account.given_name.clone_from(&names.given);
            account.family_name.clone_from(&names.family);
        }
        // 4 and 5.
        self.accept_invitations(&mut tx, &account, seen).await?;
        self.apply_memberships(&mut tx, &account, plan).await?;
        if plan.access_denied {
            if !plan.who.is_new() {
                return Err(Step::Fail(LoginError::AccessDenied));
            }
            // JIT off: the account just created stays, without access.
            commit(tx, trail, Err(&LoginError::AccessDenied)).await?;
            return Err(Step::Refused(LoginError::AccessDenied));
        }

        let memberships = tx.memberships(&account.id, &self.org.id).await?;
        commit(tx, trail, Ok(())).await?;
        Ok(LoginSuccess {
            account,
            newly_created: plan.who.is_new(),
            principal: self.principal.clone(),
            memberships,
            duration: trail.started().elapsed(),
        })
    }

    /// Step 4: pending invitations are accepted; one naming a team puts the
    /// user in it.
    async fn accept_invitations(&self, tx: &mut Tx, account: &Account, seen: &Seen) -> Result<(), Step> {
        for invitation in &seen.invitations {
            match tx.accept_invitation(&invitation.id).await {
                Ok(()) => {}
                // Accepted (or revoked) meanwhile: read again.
                Err(StoreError::NotFound { .. }) => return Err(Step::Retry),
                Err(e) => return Err(e.into()),
            }
            self.add(tx, account, MembershipTarget::Organization, MembershipSource::Invitation).await?;
            if let Some(team) = &invitation.team {
                self.add(tx, account, MembershipTarget::Team(team.clone()), MembershipSource::Invitation).await?;
            }
        }
        Ok(())
    }

    /// Step 5: the IdP's memberships (in sync mode, removing the IdP's
    /// others; memberships from other sources are never removed), or the
    /// domain's default organization and team.
    async fn apply_memberships(&self, tx: &mut Tx, account: &Account, plan: &Plan) -> Result<(), Step> {
        if let Some(idp) = &plan.idp {
            for target in &idp.targets {
                self.add(tx, account, target.clone(), MembershipSource::Idp).await?;
            }
            if idp.sync {
                for existing in tx.memberships(&account.id, &self.org.id).await? {
                    let m = existing.membership;
                    if m.source == MembershipSource::Idp && !idp.targets.contains(&m.target) {
                        tx.remove_membership(&m).await?;
                    }
                }
            }
        }
        if plan.default_membership {
            self.add(tx, account, MembershipTarget::Organization, MembershipSource::Idp).await?;
            if let Some(team) = &self.domain.default_team {
                self.add(tx, account, MembershipTarget::Team(team.clone()), MembershipSource::Idp).await?;
            }
        }
        Ok(())
    }

    /// The account the plan is for, as the transaction sees it: the same
    /// one the read found (or still none, for a new one), still allowed in.
    async fn recheck(&self, tx: &mut Tx, seen: &Seen, plan: &Plan) -> Result<Account, Step> {
        let mut reader = Reader::Tx(tx);
        let found = reader.find(&self.provider.id, &self.principal).await?;
        if !found.same_as(&seen.found) {
            return Err(Step::Retry);
        }
        match (&plan.who, found.linked.or(found.by_email)) {
            (Who::New(new), None) => Ok(new.clone()),
            (Who::Existing(_), Some(now)) => {
                reader.admits(&self.org.id, &now).await??;
                Ok(now)
            }
            _ => Err(Step::Retry),
        }
    }

    async fn add(
        &self,
        tx: &mut Tx,
        account: &Account,
        target: MembershipTarget,
        source: MembershipSource,
    ) -> Result<(), Step> {
        let m = Membership { account: account.id.clone(), org: self.org.id.clone(), target, source };
        tx.add_membership(&m).await?;
        Ok(())
    }
}

/// The one way a login's transaction ends with a commit: with its audit
/// event, for `outcome`.
async fn commit(mut tx: Tx, trail: &mut Trail, outcome: Result<(), &LoginError>) -> Result<(), Step> {
    let id = tx.append_audit(&trail.event(outcome)).await?;
    tx.commit().await?;
    trail.event_id = Some(id);
    Ok(())
}
