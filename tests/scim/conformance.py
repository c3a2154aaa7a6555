"""Runs two independent SCIM 2.0 conformance checkers against a running server.

Run with the interpreter of the environment scripts/setup-scim-checkers makes:

    PROVISIO_SCIM_TOKEN=pvs_… target/scim-venv/bin/python tests/scim/conformance.py \
        http://127.0.0.1:PORT/scim/v2/DOMAIN_ID example.org

The arguments are the SCIM base URL and an email domain the SCIM token's
domain has verified; the bearer token is read from PROVISIO_SCIM_TOKEN, never
from the command line, so that it does not show in process lists.

1. scim2-tester's `check_server`, every check it has: discovery
   (/ServiceProviderConfig, /ResourceTypes, /Schemas, and 405 for the methods
   they do not serve), a random URL answering a SCIM 404, and for User and
   Group creation, reading, listing, attribute selection (`attributes` and
   `excludedAttributes` on GET by id, on the list and on POST /.search),
   replacement, deletion and PATCH add, replace and remove of every attribute
   the server publishes. Nothing beyond what `check_server` runs: in
   particular not `core_schemas_validation`, which scim2-tester exports but
   `check_server` never calls, and which would require /Schemas to publish
   the ResourceType, ServiceProviderConfig and Schema schemas themselves
   (Provisio's /Schemas lists the schemas of the resources it serves). Every
   result is printed; an ERROR or CRITICAL result fails, and so does a
   SKIPPED one unless EXPECTED_SKIPS says why it may be skipped.
2. scim-sanity's `probe` in strict mode (its default: application/json for
   application/scim+json, a missing Location, a PATCH answered 204 and the like
   are failures, not warnings). Any FAIL or ERROR fails.

The exit status is 0 only when both pass.

The checkers are used as published, with two adaptations, each narrow and
marked ADAPTATION below, for one rule of Provisio's that no generic checker
can know: a domain's SCIM users carry only emails (and an email-shaped
userName) under the domain's verified email domains; anything else is refused
with 400 invalidValue, by design.
"""

import argparse
import os
import sys
import uuid

# Only a server on this machine is ever checked: no proxy from the
# environment may come between (httpx2 and urllib both read these).
for _name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
    os.environ.pop(_name, None)

import httpx2  # noqa: E402
import scim2_tester.filling  # noqa: E402
import scim_sanity.probe.tests as sanity_tests  # noqa: E402
from scim2_client.engines.httpx2 import SyncSCIMClient  # noqa: E402
from scim2_tester import Status, check_server  # noqa: E402
from scim_sanity.http_client import SCIMClient as SanityClient  # noqa: E402
from scim_sanity.probe.runner import run_probe  # noqa: E402

TOKEN_VARIABLE = "PROVISIO_SCIM_TOKEN"

# Checks that may answer SKIPPED without failing the run, by title, with why.
# Empty: every check runs. (scim2-tester skips `search_with_attributes` when
# POST /.search answers 501, the PATCH checks when /ServiceProviderConfig says
# patch is not supported, and the attribute selection checks when a resource
# has no optional attribute returned by default; Provisio should do none of
# these, so each would be a failure here.)
EXPECTED_SKIPS: dict[str, str] = {}

FAILING = (Status.ERROR, Status.CRITICAL)


def adapt_scim2_tester(email_domain: str) -> None:
    """ADAPTATION (scim2-tester): emails and userNames under a verified domain.

    scim2-tester fills attributes at random: an email value is
    `{uuid}@{uuid}.com` and userName a random UUID, which Provisio refuses
    (400 invalidValue) since neither lies under one of the domain's verified
    email domains. Its generator takes a value from
    `get_random_example_value` first when there is one; this wrapper answers
    `{uuid4}@{verified domain}` there for exactly the values scim2-tester itself
    treats as emails (the same test as its `generate_random_value`) and for
    userName, and defers to the original for every other attribute.
    """
    original = scim2_tester.filling.get_random_example_value

    def get_random_example_value(path):
        binding = path.resolve()
        model = binding.target_model if binding else None
        field_name = binding.target_field_name if binding else None
        is_email = str(path).endswith("emails.value") or (
            field_name == "value" and model is not None and "email" in model.__name__.lower()
        )
        if is_email or str(path).endswith("userName"):
            return f"{uuid.uuid4()}@{email_domain}"
        return original(path)

    scim2_tester.filling.get_random_example_value = get_random_example_value


def run_scim2_tester(base_url: str, token: str, email_domain: str) -> bool:
    adapt_scim2_tester(email_domain)
    http = httpx2.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30.0,
        trust_env=False,
    )
    client = SyncSCIMClient(http)
    # Exactly the checks check_server runs (see the module's docstring for
    # why core_schemas_validation is not added).
    results = check_server(client)

    print(f"scim2-tester: {len(results)} results against {base_url}")
    failed = 0
    for result in results:
        bad = result.status in FAILING or (
            result.status == Status.SKIPPED and result.title not in EXPECTED_SKIPS
        )
        failed += bad
        resource = f" [{result.resource_type}]" if result.resource_type else ""
        reason = (result.reason or "").replace("\n", "\n      ")
        print(f"  {result.status.name:<10} {result.title}{resource}: {reason}")
        if bad and result.data is not None:
            data = repr(result.data)
            print(f"      data: {data[:4000]}{' …' if len(data) > 4000 else ''}")
    counts = {}
    for result in results:
        counts[result.status.name] = counts.get(result.status.name, 0) + 1
    summary = ", ".join(f"{n} {status.lower()}" for status, n in sorted(counts.items()))
    print(f"scim2-tester: {summary}; {failed} failing")
    return failed == 0


def adapt_scim_sanity(base_url: str, token: str, email_domain: str):
    """ADAPTATIONS (scim-sanity): its user's emails, and the member it adds.

    1. scim-sanity creates its user with userName and one work email at
       `scim-sanity-test-{hex}@example.com`; its own `extra_user_fields` (the
       library form of --extra-user-fields) replaces both with the same name
       under the verified email domain.
    2. Its Group lifecycle adds the member `{"value": "fake-member-id"}` and
       expects 200; a Provisio group's members are the domain's SCIM users, so
       an id that names none is refused. A user made here for the purpose
       (under the verified domain) is added in its place, through a wrapper of
       the `make_patch` its lifecycle builds that one operation with; every
       other operation goes through unchanged. The returned function deletes
       that user.
    """
    name = f"scim-sanity-test-{uuid.uuid4().hex[:8]}@{email_domain}"
    extra_user_fields = {
        "userName": name,
        "emails": [{"value": name, "type": "work", "primary": True}],
    }

    helper = SanityClient(base_url, token=token)
    member_name = f"scim-sanity-member-{uuid.uuid4().hex[:8]}@{email_domain}"
    response = helper.post(
        "/Users",
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": member_name},
    )
    body = response.json() if response.body else None
    if response.status_code != 201 or not isinstance(body, dict) or "id" not in body:
        raise RuntimeError(
            f"could not create the member user for scim-sanity: POST /Users answered "
            f"{response.status_code} {response.body[:500]}"
        )
    member_id = body["id"]

    fake_member = {"op": "add", "path": "members", "value": [{"value": "fake-member-id"}]}
    original_make_patch = sanity_tests.make_patch

    def make_patch(operations):
        return original_make_patch(
            [dict(op, value=[{"value": member_id}]) if op == fake_member else op for op in operations]
        )

    sanity_tests.make_patch = make_patch

    def cleanup() -> None:
        helper.delete(f"/Users/{member_id}")

    return extra_user_fields, cleanup


def run_scim_sanity(base_url: str, token: str, email_domain: str) -> bool:
    print(f"scim-sanity: probe --strict against {base_url}", flush=True)
    try:
        extra_user_fields, cleanup = adapt_scim_sanity(base_url, token, email_domain)
    except Exception as exc:  # the server refused or could not be reached
        print(f"scim-sanity: {exc}")
        return False
    try:
        code = run_probe(
            base_url,
            token=token,
            strict=True,
            accept_side_effects=True,
            extra_user_fields=extra_user_fields,
        )
    finally:
        cleanup()
    sys.stdout.flush()
    print(f"scim-sanity: exit status {code}")
    return code == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url", help="the SCIM base URL, e.g. http://127.0.0.1:8080/scim/v2/DOMAIN_ID")
    parser.add_argument("email_domain", help="an email domain the token's domain has verified")
    args = parser.parse_args()
    token = os.environ.get(TOKEN_VARIABLE)
    if not token:
        parser.error(f"the bearer token is read from {TOKEN_VARIABLE}, which is not set")
    base_url = args.base_url.rstrip("/")

    tester_ok = run_scim2_tester(base_url, token, args.email_domain)
    print(flush=True)
    sanity_ok = run_scim_sanity(base_url, token, args.email_domain)
    print()
    print(f"conformance: scim2-tester {'passed' if tester_ok else 'FAILED'}, scim-sanity {'passed' if sanity_ok else 'FAILED'}")
    return 0 if tester_ok and sanity_ok else 1


if __name__ == "__main__":
    sys.exit(main())
