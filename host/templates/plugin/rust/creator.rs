/// A user's email local part, lower-cased, keeping only what a username may
/// hold (`a-z 0-9 . _ -`), at most 64 characters; `user` when nothing is left.
fn username(email: &str) -> String {
    let local = email.rsplit_once('@').map_or(email, |(local, _)| local).to_lowercase();
    let kept: String = local.chars().filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c)).take(64).collect();
    if kept.is_empty() { "user".to_string() } else { kept }
}

impl IdentityCreator for Plugin {
    fn name() -> String {
        "{{name}}".to_string()
    }

    /// Creates the account from the principal, unless its email is not verified.
    fn create(principal: Principal) -> Result<Creation, String> {
        if !principal.email_verified {
            return Ok(deny("email-not-verified", "Verify your email address with your identity provider first."));
        }
        info!("creating {}", principal.email);
        Ok(Creation::Create(NewAccount {
            username_hint: Some(username(&principal.email)),
            email: principal.email,
            given_name: principal.given_name,
            family_name: principal.family_name,
            attributes: Vec::new(),
        }))
    }
}
