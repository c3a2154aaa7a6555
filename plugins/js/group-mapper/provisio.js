// Helpers for Provisio plugins written in JavaScript, the counterpart of the
// Rust SDK's (plugins/sdk): configuration lookup, logging through the host's
// `log` import, and the default username rule of plugins/README.md.
//
// The host's interface is imported as the ES module
// `provisio:plugin/host@0.1.0`; componentize-js binds it to the component's
// import of the same name. Types are in provisio.d.ts.

import { config as hostConfig, log as hostLog } from 'provisio:plugin/host@0.1.0';

/** The longest configuration key the host answers (longer keys stop the call). */
export const MAX_CONFIG_KEY_BYTES = 256;
/** The longest log message the host accepts by default (longer ones stop the call). */
export const MAX_LOG_MESSAGE_BYTES = 4096;
/** The longest username the host accepts. */
export const MAX_USERNAME_LEN = 64;
/** The base used when neither the email nor the names give a usable username. */
export const FALLBACK_USERNAME = 'user';
/** The configuration key that sets how many random digits follow a derived username. */
export const DIGITS_KEY = 'digits';
/** How many random digits follow a derived username when `digits` is not set. */
export const DEFAULT_DIGITS = 4;
/** The most random digits a derived username gets. */
export const MAX_DIGITS = 9;

// UTF-8 lengths are computed by hand (no TextEncoder), so that the helper
// also runs on engines without the Encoding API.

/** UTF-8 length of a string, in bytes (a lone surrogate counts as U+FFFD, 3 bytes). */
export function utf8Length(s) {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1; // 2 bytes
    else if ((c & 0xfc00) === 0xdc00 && i > 0 && (s.charCodeAt(i - 1) & 0xfc00) === 0xd800) continue; // pair: 4 bytes in all
    else n += 2; // 3 bytes (a lone surrogate too)
  }
  return n;
}

/**
 * The longest prefix of `s` that is at most `max` UTF-8 bytes and ends on a
 * character boundary.
 */
export function truncateUtf8(s, max) {
  // Every UTF-16 unit is at most 3 UTF-8 bytes.
  if (s.length * 3 <= max) return s;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const pair = c >= 0xd800 && c < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : pair ? 4 : 3;
    if (n > max) return s.slice(0, i);
    if (pair) i++;
  }
  return s;
}

// ---------------------------------------------------------------------------
// Configuration

/**
 * The value of `key` in the binding's configuration, or `undefined`.
 *
 * Nested objects are reached with dotted keys (`groups.engineering`); values
 * that are not JSON strings come back as JSON text (`4`, `true`, `["a","b"]`).
 * A key longer than 256 bytes is not sent to the host (which would stop the
 * call) and reads as absent.
 */
export function config(key) {
  // Every UTF-16 unit is at most 3 UTF-8 bytes: short keys need no counting.
  if (key.length * 3 > MAX_CONFIG_KEY_BYTES && utf8Length(key) > MAX_CONFIG_KEY_BYTES) return undefined;
  const value = hostConfig(key);
  return value ?? undefined;
}

/** `config(key)` trimmed, with an empty value read as absent. */
export function configTrimmed(key) {
  const value = config(key);
  if (value === undefined) return undefined;
  const trimmed = trim(value);
  return trimmed === '' ? undefined : trimmed;
}

/** `key` as a list of strings (see `parseList`); empty when absent. */
export function configList(key) {
  const value = config(key);
  return value === undefined ? [] : parseList(value);
}

/**
 * `key` as a non-negative decimal integer up to 2^32-1 (surrounding
 * whitespace ignored), or `undefined` when absent or not such a number.
 */
export function configU32(key) {
  const value = config(key);
  if (value === undefined) return undefined;
  const m = /^\+?([0-9]+)$/.exec(trim(value));
  if (!m) return undefined;
  const n = Number(m[1]);
  return n <= 0xffffffff ? n : undefined;
}

/** `key` as `true`/`false` (case-insensitive), or `undefined`. */
export function configBool(key) {
  const value = config(key);
  if (value === undefined) return undefined;
  const v = trim(value).replace(/[A-Z]/g, (c) => c.toLowerCase());
  return v === 'true' ? true : v === 'false' ? false : undefined;
}

// Whitespace as Rust's `str::trim` sees it (Unicode White_Space); JS's
// `String.prototype.trim` also removes U+FEFF, which Rust keeps.
const WS = '[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const TRIM_RE = new RegExp(`^${WS}+|${WS}+$`, 'g');

/** Removes surrounding whitespace exactly like Rust's `str::trim` (Unicode White_Space). */
export function trim(s) {
  // String.prototype.trim (native, fast) removes the same characters except
  // U+FEFF (JS only) and U+0085 (Rust only).
  if (s.indexOf('\ufeff') < 0 && s.indexOf('\u0085') < 0) return s.trim();
  return s.replace(TRIM_RE, '');
}

/**
 * Splits a configuration value into a list of strings, like the Rust SDK's
 * `parse_list`: a JSON array of strings (`["a", "b"]`, which is how the host
 * returns a JSON array) or else a comma-separated string (`"a, b,c"`). Items
 * are trimmed and empty items dropped. A value that starts with `[` but is
 * not a JSON array of strings is split on commas like any other string.
 */
export function parseList(value) {
  const trimmed = trim(value);
  if (trimmed.startsWith('[')) {
    const items = parseJsonStringArrayFast(trimmed) ?? parseJsonStringArray(trimmed);
    if (items !== undefined) {
      return items.map(trim).filter((s) => s !== '');
    }
  }
  return trimmed
    .split(',')
    .map(trim)
    .filter((s) => s !== '');
}

/**
 * `JSON.parse` (native, fast) where it reads a JSON array of strings exactly
 * as the Rust SDK's parser does: without `\\u` escapes (the Rust parser
 * turns an escaped surrogate into U+FFFD). `undefined` means "ask the exact
 * parser", which also accepts what JSON.parse refuses and Rust does not
 * (unescaped control characters, form feed between items).
 */
function parseJsonStringArrayFast(text) {
  if (text.indexOf('\\u') >= 0) return undefined;
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  for (const item of parsed) if (typeof item !== 'string') return undefined;
  return parsed;
}

const JSON_ESCAPES = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
const isAsciiWhitespace = (c) => c === ' ' || c === '\t' || c === '\n' || c === '\f' || c === '\r';

/**
 * A JSON array whose elements are all strings, or `undefined`: the Rust SDK's
 * parser, character for character (a `\\u` escape of a surrogate gives
 * U+FFFD, unescaped control characters are kept, form feed counts as
 * whitespace between items).
 */
function parseJsonStringArray(text) {
  const chars = Array.from(text);
  let i = 0;
  const next = () => chars[i++];
  const skipWs = () => {
    while (i < chars.length && isAsciiWhitespace(chars[i])) i++;
  };
  const items = [];
  if (next() !== '[') return undefined;
  skipWs();
  if (chars[i] === ']') {
    i++;
  } else {
    for (;;) {
      skipWs();
      if (next() !== '"') return undefined;
      let item = '';
      for (;;) {
        const c = next();
        if (c === undefined) return undefined;
        if (c === '"') break;
        if (c !== '\\') {
          item += c;
          continue;
        }
        const e = next();
        if (e === undefined) return undefined;
        if (Object.hasOwn(JSON_ESCAPES, e)) {
          item += JSON_ESCAPES[e];
        } else if (e === 'u') {
          let code = 0;
          for (let k = 0; k < 4; k++) {
            const h = next();
            if (h === undefined || !/^[0-9a-fA-F]$/.test(h)) return undefined;
            code = code * 16 + parseInt(h, 16);
          }
          item += code >= 0xd800 && code <= 0xdfff ? '\ufffd' : String.fromCharCode(code);
        } else {
          return undefined;
        }
      }
      items.push(item);
      skipWs();
      const sep = next();
      if (sep === ',') continue;
      if (sep === ']') break;
      return undefined;
    }
  }
  skipWs();
  if (i < chars.length) return undefined;
  return items;
}

// ---------------------------------------------------------------------------
// Logging

/**
 * Appends `message` to this call's guest log at `level` (`trace`, `debug`,
 * `info`, `warn` or `error`). A message longer than 4 KiB is cut (at a
 * character boundary) so that it does not stop the call.
 */
export function log(level, message) {
  hostLog(level, truncateUtf8(String(message), MAX_LOG_MESSAGE_BYTES));
}
export const trace = (message) => log('trace', message);
export const debug = (message) => log('debug', message);
export const info = (message) => log('info', message);
export const warn = (message) => log('warn', message);
export const error = (message) => log('error', message);

// ---------------------------------------------------------------------------
// Accounts and usernames

/** Lower-cases `s` and drops every character outside `a-z 0-9 . _ -`. */
export function sanitizeUsername(s) {
  return s.toLowerCase().replace(/[^a-z0-9._-]/g, '');
}

/** The part of `email` before its last `@` (the whole string when it has none). */
export function emailLocalPart(email) {
  const at = email.lastIndexOf('@');
  return at < 0 ? email : email.slice(0, at);
}

/** The part of `email` after its last `@`, ASCII lower-cased, or `undefined`. */
export function emailDomain(email) {
  const at = email.lastIndexOf('@');
  if (at < 0 || at === email.length - 1) return undefined;
  return email.slice(at + 1).replace(/[A-Z]/g, (c) => c.toLowerCase());
}

const usable = (s) => /[a-z0-9]/.test(s);

/**
 * The username base (without random digits): the email's local part
 * sanitised; if no letter or digit is left, `given.family` (or whichever of
 * the two is present) sanitised; if still none, `user`.
 */
export function usernameBase(principal) {
  const local = sanitizeUsername(emailLocalPart(principal.email));
  if (usable(local)) return local;
  const given = trim(principal.givenName ?? '');
  const family = trim(principal.familyName ?? '');
  let names = '';
  if (given !== '' && family !== '') names = sanitizeUsername(`${given}.${family}`);
  else if (given !== '') names = sanitizeUsername(given);
  else if (family !== '') names = sanitizeUsername(family);
  if (usable(names)) return names;
  return FALLBACK_USERNAME;
}

/** `base` cut so that it followed by `suffix` fits in 64 bytes, then `suffix`. */
export function fitUsername(base, suffix) {
  const keep = Math.max(0, MAX_USERNAME_LEN - utf8Length(suffix));
  return truncateUtf8(base, keep) + suffix;
}

/**
 * `n` random decimal digits (`n` capped at 19), for example `"0427"` for 4.
 * Uses `crypto.getRandomValues`, which is backed by the host's `wasi:random`
 * only when the component is built with the `random` feature (see README).
 */
export function randomDigits(n) {
  n = Math.min(Math.max(0, Math.trunc(n)), 19);
  let out = '';
  const buf = new Uint8Array(32);
  while (out.length < n) {
    crypto.getRandomValues(buf);
    for (const b of buf) {
      // 250 = 25 * 10: reject the top partial range so every digit is equally likely.
      if (b < 250 && out.length < n) out += String(b % 10);
    }
  }
  return out;
}

/**
 * The default username rule (the Rust SDK's `username_from`): `usernameBase`
 * cut so that it and `digits` random digits (at most 9) fit in 64
 * characters, followed by those digits. `jane.o'doe+tag@example.com` gives
 * for example `jane.odoetag0427`.
 */
export function usernameFrom(principal, digits = DEFAULT_DIGITS) {
  const d = Math.min(Math.max(0, Math.trunc(digits)), MAX_DIGITS);
  return fitUsername(usernameBase(principal), randomDigits(d));
}

/** The binding's `digits` (default 4, at most 9). */
export function configuredDigits() {
  return Math.min(configU32(DIGITS_KEY) ?? DEFAULT_DIGITS, MAX_DIGITS);
}

/**
 * The default account for `principal`: its email and names and a username
 * from `usernameFrom`. Throws (an `err` result) when the email is empty.
 */
export function defaultAccount(principal, digits = configuredDigits()) {
  if (trim(principal.email) === '') {
    throw 'the principal has no email address';
  }
  return {
    email: principal.email,
    usernameHint: usernameFrom(principal, digits),
    givenName: principal.givenName,
    familyName: principal.familyName,
    attributes: [],
  };
}

/** The default creator's decision: `create` with `defaultAccount`. */
export function defaultCreation(principal) {
  return { tag: 'create', val: defaultAccount(principal) };
}

/** A `deny` decision with `code` (machine-readable) and `message` (for the end user). */
export function deny(code, message) {
  return { tag: 'deny', val: { code, message } };
}

/** Assignment constructors. */
export const team = (name) => ({ tag: 'team', val: name });
export const role = (name) => ({ tag: 'role', val: name });
export const organization = (name) => ({ tag: 'organization', val: name });
