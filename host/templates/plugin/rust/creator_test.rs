    #[test]
    fn creates_accounts_for_verified_emails_only() {
        let config = testing::configure("{}");
        let jane = testing::principal("Jane.Doe@acme.example").names("Jane", "Doe").build();
        let Ok(Creation::Create(account)) = Plugin::create(jane, &config) else { panic!("no account") };
        assert_eq!(account.username_hint.as_deref(), Some("jane.doe"));
        assert_eq!(testing::logs(), vec![(Level::Info, "creating Jane.Doe@acme.example".to_string())]);
        let unverified = testing::principal("mallory@acme.example").verified(false).build();
        assert!(matches!(Plugin::create(unverified, &config), Ok(Creation::Deny(_))));
    }
