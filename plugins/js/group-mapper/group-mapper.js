// Maps the identity provider's groups to memberships: the JavaScript version
// of plugins/examples/group-mapper (same configuration, same decisions, same
// errors).
//
// Configuration:
// - `groups.<group>`: the memberships a member of IdP group `<group>` gets, a
//   comma-separated list (or JSON array) of `team:<name>`, `role:<name>` and
//   `organization:<name>`. Groups without such a key are ignored.
// - `default-team`: the team granted when the principal has no groups at all.
// - `default-role`: a role added to every answer.
//
// The answer keeps the first occurrence of each membership, in the order of
// the principal's groups, then the default team, then the default role. An
// item that is not one of the three forms fails the call, so that a typo
// never silently removes memberships in sync mode.
//
// World: provisio:plugin/assignment-provider-plugin@0.1.0. The export
// `assignmentProvider` implements the interface
// `provisio:plugin/assignment-provider@0.1.0`; throwing a string from
// `assign` answers `err(<string>)`.

import { config, configTrimmed, parseList, trim, team, role, organization } from './provisio.js';

/** @typedef {import('./provisio.js').Assignment} Assignment */

/** @type {Record<string, (name: string) => Assignment>} */
const KINDS = { team, role, organization };

/**
 * Parses one `kind:name` item of a `groups.<group>` value.
 * @param {string} item
 * @param {string} key
 * @returns {Assignment}
 */
function parseItem(item, key) {
  const colon = item.indexOf(':');
  if (colon >= 0) {
    const kind = trim(item.slice(0, colon));
    const name = trim(item.slice(colon + 1));
    if (name !== '' && Object.hasOwn(KINDS, kind)) {
      return KINDS[kind](name);
    }
  }
  throw (
    `invalid item \`${item}\` in config key \`${key}\`: expected \`team:<name>\`, ` +
    '`role:<name>` or `organization:<name>`'
  );
}

/**
 * @param {Assignment[]} list
 * @param {Assignment} assignment
 */
function pushUnique(list, assignment) {
  if (!list.some((a) => a.tag === assignment.tag && a.val === assignment.val)) {
    list.push(assignment);
  }
}

/** @type {import('./provisio.js').AssignmentProvider} */
export const assignmentProvider = {
  name() {
    return 'group-mapper';
  },

  assign(_account, principal) {
    /** @type {Assignment[]} */
    const result = [];
    for (const group of principal.groups) {
      const key = `groups.${group}`;
      const value = config(key);
      if (value === undefined) continue;
      for (const item of parseList(value)) {
        pushUnique(result, parseItem(item, key));
      }
    }
    if (principal.groups.length === 0) {
      const defaultTeam = configTrimmed('default-team');
      if (defaultTeam !== undefined) pushUnique(result, team(defaultTeam));
    }
    const defaultRole = configTrimmed('default-role');
    if (defaultRole !== undefined) pushUnique(result, role(defaultRole));
    return result;
  },
};
