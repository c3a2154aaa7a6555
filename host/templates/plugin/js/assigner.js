/** @type {import('./provisio').AssignmentProvider} */
export const assignmentProvider = {
  name: () => '{{name}}',

  /**
   * One team per IdP group the configuration names: `teams.<group>` is the
   * team's name (`{"teams": {"Engineering": "engineering"}}`).
   */
  assign(_account, principal) {
    const teams = principal.groups
      .map((group) => config(`teams.${group}`))
      .filter((name) => name !== undefined)
      .map(team);
    info(`${teams.length} of ${principal.groups.length} groups mapped`);
    return teams;
  },
};
