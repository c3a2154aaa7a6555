//! The plugin components the tests load, known at compile time: the build
//! script lists the directories under `plugins/` (`examples`, `hostile`,
//! `python`, and `js`, whose components are named `<name>-js`) as the macro
//! [`foreach_plugin!`]. `tests/all/main.rs` makes a constant of each, where
//! an unused one is a compile error: a plugin no test loads does not build.

include!(concat!(env!("OUT_DIR"), "/plugins.rs"));
