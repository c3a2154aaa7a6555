/** A user's email local part, lower-cased, keeping only `a-z 0-9 . _ -`, at most 64 characters. */
function username(email) {
  const at = email.lastIndexOf('@');
  const local = (at < 0 ? email : email.slice(0, at)).toLowerCase();
  const kept = [...local].filter((c) => /[a-z0-9._-]/.test(c)).slice(0, 64).join('');
  return kept === '' ? 'user' : kept;
}

/** @type {import('./provisio').IdentityCreator} */
export const identityCreator = {
  name: () => '{{name}}',

  /** Creates the account from the principal, unless its email is not verified. */
  create(principal) {
    if (!principal.emailVerified) {
      return deny('email-not-verified', 'Verify your email address with your identity provider first.');
    }
    info(`creating ${principal.email}`);
    return {
      tag: 'create',
      val: {
        email: principal.email,
        usernameHint: username(principal.email),
        givenName: principal.givenName,
        familyName: principal.familyName,
        attributes: [],
      },
    };
  },
};
