def username(email: str) -> str:
    """A user's email local part, lower-cased, keeping only a-z 0-9 . _ -, at most 64 characters."""
    local = email.rsplit("@", 1)[0].lower()
    kept = "".join(c for c in local if (c.isascii() and c.isalnum()) or c in "._-")[:64]
    return kept or "user"


class IdentityCreator(exports.IdentityCreator):
    def name(self) -> str:
        return "{{name}}"

    def create(self, principal: types.Principal) -> types.Creation:
        """Creates the account from the principal, unless its email is not verified."""
        if not principal.email_verified:
            return types.Creation_Deny(types.Denial(
                code="email-not-verified",
                message="Verify your email address with your identity provider first."))
        host.log(host.Level.INFO, f"creating {principal.email}")
        return types.Creation_Create(types.NewAccount(
            email=principal.email,
            username_hint=username(principal.email),
            given_name=principal.given_name,
            family_name=principal.family_name,
            attributes=[]))
