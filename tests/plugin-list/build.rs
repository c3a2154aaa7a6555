//! Lists the plugin components `scripts/build-plugins` and
//! `scripts/build-js-plugins` make, from the directories under `plugins/`,
//! as the macro `foreach_plugin!` (see `src/lib.rs`).

// A build script fails by panicking, with the path it could not read.
#![allow(clippy::panic)]

use std::fmt::Write as _;
use std::path::Path;

/// Where the plugins are, and the suffix of their components' names.
const DIRS: [(&str, &str); 4] =
    [("plugins/examples", ""), ("plugins/hostile", ""), ("plugins/python", ""), ("plugins/js", "-js")];

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut names = Vec::new();
    for (dir, suffix) in DIRS {
        let dir = root.join(dir);
        println!("cargo::rerun-if-changed={}", dir.display());
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap_or_else(|e| panic!("{}: {e}", dir.display())).path();
            if !path.is_dir() {
                continue;
            }
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_else(|| panic!("{}", path.display()));
            names.push(format!("{name}{suffix}"));
        }
    }
    names.sort();
    let mut out = String::from(
        "/// Calls `$mac!(CONSTANT, \"component-name\")` for each plugin component the build makes.\n\
         #[macro_export]\nmacro_rules! foreach_plugin {\n    ($mac:ident) => {\n",
    );
    for name in &names {
        let constant = name.to_ascii_uppercase().replace('-', "_");
        let _ = writeln!(out, "        $mac!({constant}, {name:?});");
    }
    out.push_str("    };\n}\n");
    let file = Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|e| panic!("OUT_DIR: {e}"))).join("plugins.rs");
    std::fs::write(&file, out).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
}
