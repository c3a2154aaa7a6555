    #[test]
    fn maps_the_configured_groups_to_teams() {
        let config = testing::configure(r#"{"teams": {"Engineering": "engineering"}}"#);
        let jane = testing::principal("jane@acme.example").groups(["Everyone", "Engineering"]).build();
        let answer = Plugin::assign(testing::account(&jane), jane, &config);
        assert_eq!(answer, Ok(vec![Assignment::Team("engineering".to_string())]));
        assert_eq!(testing::logs(), vec![(Level::Info, "1 of 2 groups mapped".to_string())]);
    }
