class AssignmentProvider(exports.AssignmentProvider):
    def name(self) -> str:
        return "{{name}}"

    def assign(self, account: types.Account, principal: types.Principal) -> list[types.Assignment]:
        """One team per IdP group the configuration names: `teams.<group>` is the team's name."""
        teams = [types.Assignment_Team(name) for group in principal.groups
                 if (name := host.config(f"teams.{group}")) is not None]
        host.log(host.Level.INFO, f"{len(teams)} of {len(principal.groups)} groups mapped")
        return teams
