//! The default identity creator: creates the account from the principal.
//!
//! Email and names come from the principal; the username is the email's local
//! part (or `given.family` when that leaves nothing usable), lower-cased, cut to
//! `a-z 0-9 . _ -`, followed by random digits. Config: `digits` (default 4, 0 to 9).

use provisio_plugin_sdk::identity_creator::Guest;
use provisio_plugin_sdk::{Creation, Principal, default_creation};

struct DefaultCreator;

impl Guest for DefaultCreator {
    fn name() -> String {
        "default-creator".to_string()
    }

    fn create(principal: Principal) -> Result<Creation, String> {
        default_creation(&principal)
    }
}

provisio_plugin_sdk::export_identity_creator!(DefaultCreator);
