impl AssignmentProvider for Plugin {
    fn name() -> String {
        "{{name}}".to_string()
    }

    /// One team per IdP group the configuration names: `teams.<group>` is the
    /// team's name (`{"teams": {"Engineering": "engineering"}}`).
    fn assign(_account: Account, principal: Principal) -> Result<Vec<Assignment>, String> {
        let teams: Vec<Assignment> = principal
            .groups
            .iter()
            .filter_map(|group| config(&format!("teams.{group}")))
            .map(Assignment::Team)
            .collect();
        info!("{} of {} groups mapped", teams.len(), principal.groups.len());
        Ok(teams)
    }
}
