// Types for Provisio plugins written in JavaScript: the values of
// wit/plugin.wit (package provisio:plugin@0.1.0) as componentize-js passes
// them, and the helpers of provisio.js.
//
// WIT to JavaScript, as componentize-js maps it:
// - records are objects with camelCase fields (`given-name` -> `givenName`);
// - `option<T>` is `T | undefined`;
// - variants are `{ tag, val }` objects, enums are their case names as strings;
// - an export returning `result<T, string>` returns `T` for `ok`, and throws a
//   string (or returns `{ tag: 'err', val }`) for `err`; throwing an `Error`
//   object instead traps the call.

// ---------------------------------------------------------------------------
// provisio:plugin/types@0.1.0

export interface Principal {
  domain: string;
  provider: string;
  subject: string;
  email: string;
  emailVerified: boolean;
  givenName?: string;
  familyName?: string;
  groups: string[];
  claims: [string, string][];
}

export interface NewAccount {
  email: string;
  usernameHint?: string;
  givenName?: string;
  familyName?: string;
  attributes: [string, string][];
}

export interface Denial {
  code: string;
  message: string;
}

export type Creation = { tag: 'create'; val: NewAccount } | { tag: 'deny'; val: Denial };

export interface Account {
  id: string;
  username: string;
  email: string;
  givenName?: string;
  familyName?: string;
  newlyCreated: boolean;
}

export type Assignment =
  | { tag: 'organization'; val: string }
  | { tag: 'team'; val: string }
  | { tag: 'role'; val: string };

/** `provisio:plugin/host@0.1.0`'s `level`. */
export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';

// ---------------------------------------------------------------------------
// Exports: a plugin's module exports `identityCreator`, `assignmentProvider`
// or both (world `identity-creator-plugin`, `assignment-provider-plugin`,
// `provisioner`).

/** `provisio:plugin/identity-creator@0.1.0`, exported as `identityCreator`. */
export interface IdentityCreator {
  /** At most 128 bytes. */
  name(): string;
  /** Returns the decision; throws a string for `err`. */
  create(principal: Principal): Creation;
}

/** `provisio:plugin/assignment-provider@0.1.0`, exported as `assignmentProvider`. */
export interface AssignmentProvider {
  /** At most 128 bytes. */
  name(): string;
  /** Returns the complete set of memberships; throws a string for `err`. */
  assign(account: Account, principal: Principal): Assignment[];
}

// ---------------------------------------------------------------------------
// Helpers (provisio.js)

export const MAX_CONFIG_KEY_BYTES: 256;
export const MAX_LOG_MESSAGE_BYTES: 4096;
export const MAX_USERNAME_LEN: 64;
export const FALLBACK_USERNAME: 'user';
export const DIGITS_KEY: 'digits';
export const DEFAULT_DIGITS: 4;
export const MAX_DIGITS: 9;

/** UTF-8 length of `s` in bytes. */
export function utf8Length(s: string): number;
/** The longest prefix of `s` of at most `max` UTF-8 bytes, cut at a character boundary. */
export function truncateUtf8(s: string, max: number): string;
/** Removes surrounding whitespace like Rust's `str::trim`. */
export function trim(s: string): string;

/** The binding's value for `key`; `undefined` when absent or when the key is longer than 256 bytes. */
export function config(key: string): string | undefined;
/** `config(key)` trimmed; empty reads as `undefined`. */
export function configTrimmed(key: string): string | undefined;
/** `config(key)` as a list: a JSON array of strings or a comma-separated string; `[]` when absent. */
export function configList(key: string): string[];
/** `config(key)` as a non-negative integer up to 2^32-1, or `undefined`. */
export function configU32(key: string): number | undefined;
/** `config(key)` as `true`/`false` (case-insensitive), or `undefined`. */
export function configBool(key: string): boolean | undefined;
/** A configuration value split into a list, exactly like the Rust SDK's `parse_list`. */
export function parseList(value: string): string[];

/** Appends a line to the call's guest log (cut to 4 KiB). */
export function log(level: Level, message: string): void;
export function trace(message: string): void;
export function debug(message: string): void;
export function info(message: string): void;
export function warn(message: string): void;
export function error(message: string): void;

/** Lower-cases `s` and drops every character outside `a-z 0-9 . _ -`. */
export function sanitizeUsername(s: string): string;
/** The part of `email` before its last `@` (all of it when there is none). */
export function emailLocalPart(email: string): string;
/** The part of `email` after its last `@`, ASCII lower-cased; `undefined` when none. */
export function emailDomain(email: string): string | undefined;
/** The default rule's username base: local part, else `given.family`, else `user`. */
export function usernameBase(principal: Pick<Principal, 'email' | 'givenName' | 'familyName'>): string;
/** `base` cut so that `base + suffix` fits in 64 bytes, then `suffix`. */
export function fitUsername(base: string, suffix: string): string;
/** `n` random decimal digits (at most 19). Needs the `random` feature. */
export function randomDigits(n: number): string;
/** The default username rule with `digits` random digits (default 4, at most 9). Needs the `random` feature. */
export function usernameFrom(principal: Pick<Principal, 'email' | 'givenName' | 'familyName'>, digits?: number): string;
/** The binding's `digits` setting: default 4, at most 9. */
export function configuredDigits(): number;
/** The default account for `principal`; throws a string when its email is empty. Needs the `random` feature. */
export function defaultAccount(principal: Principal, digits?: number): NewAccount;
/** `{ tag: 'create', val: defaultAccount(principal) }`. */
export function defaultCreation(principal: Principal): Creation;
/** A `deny` decision. */
export function deny(code: string, message: string): Creation;
export function team(name: string): Assignment;
export function role(name: string): Assignment;
export function organization(name: string): Assignment;
