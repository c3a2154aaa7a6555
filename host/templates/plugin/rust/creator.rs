impl IdentityCreator for Plugin {
    /// Creates the account from the principal, unless its email is not verified.
    /// The username is the default rule's, without random digits: the email's
    /// local part kept to `a-z 0-9 . _ -` (the host adds digits on a clash).
    fn create(principal: Principal, _config: &Config) -> Result<Creation> {
        if !principal.email_verified {
            return Ok(deny("email-not-verified", "Verify your email address with your identity provider first."));
        }
        info!("creating {}", principal.email);
        Ok(Creation::Create(NewAccount {
            username_hint: Some(username_from(&principal, 0)),
            email: principal.email,
            given_name: principal.given_name,
            family_name: principal.family_name,
            attributes: Vec::new(),
        }))
    }
}
