//! The password provider's view of the store's accounts.

use crate::auth::{LookupError, PasswordAccount, PasswordAccounts, PasswordHash};
use crate::store::Store;

/// Looks password accounts up in the store.
pub(super) struct StoreAccounts<'a>(pub(super) &'a Store);

impl PasswordAccounts for StoreAccounts<'_> {
    async fn find_password_account(&self, email: &str) -> Result<Option<PasswordAccount>, LookupError> {
        let account = self.0.account_by_email(email).await.map_err(|e| LookupError(e.to_string()))?;
        Ok(account.map(|a| PasswordAccount {
            id: a.id.as_str().to_owned(),
            email: a.email,
            // A hash that does not parse is treated like the unusable marker.
            hash: a.password_hash.and_then(|h| PasswordHash::parse(h.as_str()).ok()),
            given_name: a.given_name,
            family_name: a.family_name,
        }))
    }
}
