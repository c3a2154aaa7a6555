"""A domain allow-list identity creator written in Python."""
import random

from wit_world import exports
from wit_world.imports import host, types
from componentize_py_types import Err


class IdentityCreator(exports.IdentityCreator):
    def name(self) -> str:
        return "python-allowlist"

    def create(self, principal: types.Principal) -> types.Creation:
        if not principal.email:
            raise Err("the principal has no email address")
        allowed = [d.strip().lower() for d in (host.config("allowed-domains") or "").split(",") if d.strip()]
        domain = principal.email.rsplit("@", 1)[-1].lower()
        if domain not in allowed:
            return types.Creation_Deny(types.Denial(
                code="domain-not-allowed",
                message="Sign-up with this email address is not allowed for this organization."))
        local = principal.email.rsplit("@", 1)[0].lower()
        base = "".join(c for c in local if c.isascii() and (c.isalnum() or c in "._-")) or "user"
        host.log(host.Level.INFO, f"creating {principal.email}")
        return types.Creation_Create(types.NewAccount(
            email=principal.email,
            username_hint=base[:60] + "".join(random.choice("0123456789") for _ in range(4)),
            given_name=principal.given_name,
            family_name=principal.family_name,
            attributes=[]))
