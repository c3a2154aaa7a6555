//! Hostile test plugin: a well-formed component that exports no Provisio
//! interface at all, only `attacker:wrong/greeter@0.1.0`.

wit_bindgen::generate!({
    inline: r#"
        package attacker:wrong@0.1.0;

        interface greeter {
            greet: func() -> string;
        }

        world wrong-world {
            export greeter;
        }
    "#,
});

struct HostileWrongWorld;

impl exports::attacker::wrong::greeter::Guest for HostileWrongWorld {
    fn greet() -> String {
        "hello from hostile-wrong-world".to_string()
    }
}

export!(HostileWrongWorld);
