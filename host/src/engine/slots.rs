//! Fair sharing of the plugin runtime between organizations: each
//! organization has its own bounded number of plugin calls in flight, so one
//! organization's slow or looping plugins queue only its own logins.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::store::OrgId;

/// Plugin calls in flight, per organization.
#[derive(Debug)]
pub(crate) struct OrgSlots {
    per_org: usize,
    wait: Duration,
    orgs: Mutex<HashMap<OrgId, Arc<Semaphore>>>,
}

/// The organization's calls were all busy for longer than the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Saturated;

impl OrgSlots {
    /// `per_org` calls at once per organization; a call waits at most `wait`
    /// for a slot of its organization.
    pub(crate) fn new(per_org: usize, wait: Duration) -> Self {
        Self { per_org: per_org.max(1), wait, orgs: Mutex::new(HashMap::new()) }
    }

    /// A slot of `org`'s, held for one plugin call.
    pub(crate) async fn acquire(&self, org: &OrgId) -> Result<OwnedSemaphorePermit, Saturated> {
        let semaphore = {
            let mut orgs = self.orgs.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(orgs.entry(org.clone()).or_insert_with(|| Arc::new(Semaphore::new(self.per_org))))
        };
        match tokio::time::timeout(self.wait, semaphore.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Saturated),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_organization_cannot_take_another_ones_slots() {
        let slots = OrgSlots::new(2, Duration::from_millis(50));
        let (a, b) = (OrgId::new("a"), OrgId::new("b"));
        let held = [slots.acquire(&a).await, slots.acquire(&a).await];
        assert!(held.iter().all(Result::is_ok));
        assert_eq!(slots.acquire(&a).await.err(), Some(Saturated), "a's third call waits, then gives up");
        assert!(slots.acquire(&b).await.is_ok(), "b is not held up by a");
        drop(held);
        assert!(slots.acquire(&a).await.is_ok());
    }
}
