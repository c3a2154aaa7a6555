impl AssignmentProvider for Plugin {
    /// One team per IdP group the configuration names: `teams.<group>` is the
    /// team's name (`{"teams": {"Engineering": "engineering"}}`).
    fn assign(_account: Account, principal: Principal, config: &Config) -> Result<Vec<Assignment>> {
        let teams: Vec<Assignment> = principal
            .groups
            .iter()
            .filter_map(|group| config.get(&format!("teams.{group}")))
            .map(Assignment::Team)
            .collect();
        info!("{} of {} groups mapped", teams.len(), principal.groups.len());
        Ok(teams)
    }
}
