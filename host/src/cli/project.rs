//! `provisio plugin new` and `provisio plugin build`: a plugin as a project
//! of its own, outside this repository, in Rust, JavaScript or Python.
//!
//! A project is a directory with a `provisio-plugin.toml` (its name,
//! language and world), its source, the WIT it builds against, a recorded
//! principal (`principals/`), the configuration it is tested with
//! (`config.json`) and golden files (`golden/`): recordings whose decisions
//! `provisio plugin test` replays. `plugin build` runs the language's own
//! tool and puts the component at `dist/<name>.wasm`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail, ensure};
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};

/// The project file's name.
pub const MANIFEST: &str = "provisio-plugin.toml";

/// What `provisio-plugin.toml` says.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The plugin's name: what its `name()` answers and the component's file name.
    pub name: String,
    /// Its language.
    pub lang: Lang,
    /// Its world.
    pub world: WorldArg,
}

impl Manifest {
    /// The manifest of the project in `dir`.
    pub fn read(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("no {MANIFEST} in {}: run this in a plugin project", dir.display()))?;
        toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
    }

    /// The manifest as TOML (its values need no quoting: the name is
    /// `a-z 0-9 -`, the rest are names of enum cases).
    fn to_toml(&self) -> String {
        let lang = match self.lang {
            Lang::Rust => "rust",
            Lang::Js => "js",
            Lang::Python => "python",
        };
        format!("name = \"{}\"\nlang = \"{lang}\"\nworld = \"{}\"\n", self.name, self.world.as_str())
    }

    /// Where `plugin build` puts the component.
    pub fn component(&self, dir: &Path) -> PathBuf {
        dir.join("dist").join(format!("{}.wasm", self.name))
    }
}

/// A plugin's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Rust, with the plugin SDK, built by cargo for `wasm32-wasip2`.
    Rust,
    /// JavaScript, built by componentize-js.
    Js,
    /// Python, built by componentize-py.
    Python,
}

/// A plugin's world, as `plugin new --world` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorldArg {
    /// Creates accounts.
    IdentityCreator,
    /// Gives accounts their teams and roles.
    AssignmentProvider,
    /// Both.
    Provisioner,
}

impl WorldArg {
    fn as_str(self) -> &'static str {
        match self {
            Self::IdentityCreator => "identity-creator",
            Self::AssignmentProvider => "assignment-provider",
            Self::Provisioner => "provisioner",
        }
    }

    /// The WIT world's name.
    fn wit_name(self) -> &'static str {
        match self {
            Self::IdentityCreator => "identity-creator-plugin",
            Self::AssignmentProvider => "assignment-provider-plugin",
            Self::Provisioner => "provisioner",
        }
    }

    fn creates(self) -> bool {
        self != Self::AssignmentProvider
    }

    fn assigns(self) -> bool {
        self != Self::IdentityCreator
    }
}

/// Arguments of `provisio plugin new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The plugin's name (`a-z 0-9 -`), and the directory made for it.
    name: String,
    /// Its language.
    #[arg(long, value_enum)]
    lang: Lang,
    /// Its world.
    #[arg(long, value_enum, default_value_t = WorldArg::IdentityCreator)]
    world: WorldArg,
    /// Where to make the project (default: `./NAME`).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The plugin SDK crate (`plugins/sdk` of a Provisio checkout), for Rust;
    /// by default the one this binary was built beside.
    #[arg(long)]
    sdk: Option<PathBuf>,
}

/// One file of a template, with `{{name}}`, `{{world_name}}` and `{{sdk}}` to fill.
struct File {
    path: &'static str,
    text: String,
}

const WIT: &str = include_str!("../../../wit/plugin.wit");
const CONFIG: &str = include_str!("../../templates/plugin/common/config.json");
const PRINCIPALS: [(&str, &str); 2] = [
    ("okta", include_str!("../../templates/plugin/common/principal-okta.json")),
    ("unverified", include_str!("../../templates/plugin/common/principal-unverified.json")),
];

/// The golden files of `world`, one per recorded principal.
fn golden(world: WorldArg) -> [(&'static str, &'static str); 2] {
    macro_rules! golden {
        ($world:literal) => {
            [
                ("okta", include_str!(concat!("../../templates/plugin/common/golden/", $world, "/okta.json"))),
                (
                    "unverified",
                    include_str!(concat!("../../templates/plugin/common/golden/", $world, "/unverified.json")),
                ),
            ]
        };
    }
    match world {
        WorldArg::IdentityCreator => golden!("identity-creator"),
        WorldArg::AssignmentProvider => golden!("assignment-provider"),
        WorldArg::Provisioner => golden!("provisioner"),
    }
}

/// The source files of a project in `lang` for `world`.
fn sources(lang: Lang, world: WorldArg) -> Vec<File> {
    let (creates, assigns) = (world.creates(), world.assigns());
    let pick = |yes: bool, text: &str| if yes { format!("\n{text}") } else { String::new() };
    match lang {
        Lang::Rust => {
            let (traits, items, export) = match world {
                WorldArg::IdentityCreator => (
                    "Config, IdentityCreator, Result",
                    "Creation, NewAccount, Principal, deny, info, username_from",
                    "export_identity_creator",
                ),
                WorldArg::AssignmentProvider => (
                    "AssignmentProvider, Config, Result",
                    "Account, Assignment, Principal, info",
                    "export_assignment_provider",
                ),
                WorldArg::Provisioner => (
                    "AssignmentProvider, Config, IdentityCreator, Result",
                    "Account, Assignment, Creation, NewAccount, Principal, deny, info, username_from",
                    "export_provisioner",
                ),
            };
            let tests = format!(
                "\n/// Natively, in `cargo test`: the SDK's `testing` module answers the host's imports.\n\
                 #[cfg(test)]\nmod tests {{\n    use provisio_plugin_sdk::{{Level, testing}};\n\n    use super::*;\n{}{}}}\n",
                pick(creates, include_str!("../../templates/plugin/rust/creator_test.rs")),
                pick(assigns, include_str!("../../templates/plugin/rust/assigner_test.rs")),
            );
            let lib = format!(
                "//! {{{{name}}}}: a Provisio plugin ({}).\n\nuse provisio_plugin_sdk::{{{traits}}};\nuse provisio_plugin_sdk::{{{items}}};\n\nstruct Plugin;\n{}{}\n// Its `name()` is the crate's name; `{export}!(Plugin, name = \"...\")` gives another.\nprovisio_plugin_sdk::{export}!(Plugin);\n{tests}",
                world.as_str(),
                pick(creates, include_str!("../../templates/plugin/rust/creator.rs")),
                pick(assigns, include_str!("../../templates/plugin/rust/assigner.rs")),
            );
            vec![
                File { path: "Cargo.toml", text: include_str!("../../templates/plugin/rust/Cargo.toml.tmpl").into() },
                File { path: "Cargo.lock", text: include_str!("../../../plugins/Cargo.lock").into() },
                File { path: "src/lib.rs", text: lib },
                File { path: ".gitignore", text: "/target\n/dist\n".into() },
            ]
        }
        Lang::Js => {
            let plugin = format!(
                "// {{{{name}}}}: a Provisio plugin ({}) in JavaScript.\nimport {{ config, deny, info, team }} from './provisio.js';\n{}{}",
                world.as_str(),
                pick(creates, include_str!("../../templates/plugin/js/creator.js")),
                pick(assigns, include_str!("../../templates/plugin/js/assigner.js")),
            );
            vec![
                File { path: "package.json", text: include_str!("../../templates/plugin/js/package.json.tmpl").into() },
                File { path: "build.mjs", text: include_str!("../../templates/plugin/js/build.mjs.tmpl").into() },
                File { path: "src/plugin.js", text: plugin },
                File {
                    path: "src/provisio.js",
                    text: include_str!("../../../plugins/js/group-mapper/provisio.js").into(),
                },
                File {
                    path: "src/provisio.d.ts",
                    text: include_str!("../../../plugins/js/group-mapper/provisio.d.ts").into(),
                },
                File { path: ".gitignore", text: "/node_modules\n/dist\n".into() },
            ]
        }
        Lang::Python => {
            let app = format!(
                "\"\"\"{{{{name}}}}: a Provisio plugin ({}) in Python.\"\"\"\nfrom wit_world import exports\nfrom wit_world.imports import host, types\n{}{}",
                world.as_str(),
                pick(creates, include_str!("../../templates/plugin/python/creator.py")),
                pick(assigns, include_str!("../../templates/plugin/python/assigner.py")),
            );
            vec![
                File { path: "src/app.py", text: app },
                File { path: ".gitignore", text: "/dist\n__pycache__/\n".into() },
            ]
        }
    }
}

/// Whether `name` can name a plugin, a directory and a package of every
/// language's tool.
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
}

/// `provisio plugin new NAME --lang L [--world W]`.
pub fn new(args: NewArgs) -> anyhow::Result<ExitCode> {
    ensure!(valid_name(&args.name), "a plugin's name is 1 to 64 of a-z 0-9 -, starting with a letter: {:?}", args.name);
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(&args.name));
    ensure!(
        !dir.exists() || std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_none()),
        "{} exists and is not empty",
        dir.display()
    );
    let sdk = match (&args.sdk, args.lang) {
        (Some(path), _) => std::fs::canonicalize(path).with_context(|| format!("no SDK at {}", path.display()))?,
        (None, Lang::Rust) => {
            let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/sdk");
            std::fs::canonicalize(&beside).with_context(|| {
                format!("no plugin SDK at {}: give --sdk PATH (plugins/sdk of a Provisio checkout)", beside.display())
            })?
        }
        (None, _) => PathBuf::new(),
    };
    let manifest = Manifest { name: args.name.clone(), lang: args.lang, world: args.world };
    let mut files = sources(args.lang, args.world);
    files.push(File { path: MANIFEST, text: manifest.to_toml() });
    files.push(File { path: "wit/plugin.wit", text: WIT.into() });
    files.push(File { path: "config.json", text: CONFIG.into() });
    files.push(File { path: "README.md", text: readme(&manifest) });
    let mut made = Vec::new();
    for (name, text) in PRINCIPALS {
        made.push((format!("principals/{name}.json"), text.to_owned()));
    }
    for (name, text) in golden(args.world) {
        made.push((format!("golden/{name}.json"), text.to_owned()));
    }
    let fill = |text: &str| {
        text.replace("{{name}}", &args.name)
            .replace("{{world_name}}", args.world.wit_name())
            .replace("{{sdk}}", &sdk.to_string_lossy())
    };
    for (path, text) in files.iter().map(|f| (f.path.to_owned(), f.text.clone())).chain(made) {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot make {}", parent.display()))?;
        }
        std::fs::write(&path, fill(&text)).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!("made {} ({:?}, {}) in {}", args.name, args.lang, args.world.as_str(), dir.display());
    println!("next: cd {} && provisio plugin build && provisio plugin test", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// The project's README.
fn readme(m: &Manifest) -> String {
    let (source, tool) = match m.lang {
        Lang::Rust => ("src/lib.rs", "cargo (target `wasm32-wasip2`, added with `rustup target add wasm32-wasip2`)"),
        Lang::Js => ("src/plugin.js", "componentize-js 0.23.0 from npm (Node.js 20 or later; `npm install` first)"),
        Lang::Python => ("src/app.py", "componentize-py 0.25.1 from PyPI (`pip install componentize-py==0.25.1`)"),
    };
    format!(
        "# {name}\n\n\
         A Provisio plugin ({world}) in {lang:?}: the example in `{source}` {what}.\n\n\
         ```sh\nprovisio plugin build   # dist/{name}.wasm, with {tool}\n\
         provisio plugin test    # replays golden/*.json: decisions, judgements and log lines\n```\n\n\
         {native}\
         - `principals/`: recorded principals, as an identity provider's login gives them.\n\
         - `config.json`: the binding configuration the tests use (`teams.<group>` names a team).\n\
         - `golden/`: one recording per principal: the principal, the configuration, the seed and \
         what the plugin decided. `provisio plugin test --record golden` writes them again from the \
         current build; review the diff before you commit it.\n\
         - `wit/plugin.wit`: the contract (package `provisio:plugin@0.1.0`).\n\n\
         Upload `dist/{name}.wasm` with `provisio admin upload` or the console's Plugins page, try it \
         on real principals in the console's Playground, then bind it.\n\n\
         Guest log lines are kept in each login's audit event: do not log claims you consider sensitive.\n",
        name = m.name,
        world = m.world.as_str(),
        lang = m.lang,
        native = if m.lang == Lang::Rust {
            "`cargo test` runs the tests of `src/lib.rs` natively: the SDK's `testing` module answers \
             the host's imports (a configuration set with `testing::configure`, which returns the `Config` \
             to hand to a hook, the log lines read with `testing::logs`, a seeded random source).\n\n"
        } else {
            ""
        },
        what = match m.world {
            WorldArg::IdentityCreator => "creates accounts for verified emails",
            WorldArg::AssignmentProvider => "maps IdP groups to teams",
            WorldArg::Provisioner => "creates accounts for verified emails and maps IdP groups to teams",
        },
    )
}

/// `provisio plugin build`, in a project directory.
pub fn build(dir: &Path) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::read(dir)?;
    let out = manifest.component(dir);
    std::fs::create_dir_all(dir.join("dist"))?;
    let started = std::time::Instant::now();
    match manifest.lang {
        Lang::Rust => {
            run(Command::new("cargo").args(["build", "--release", "--target", "wasm32-wasip2"]).current_dir(dir))?;
            let built =
                dir.join("target/wasm32-wasip2/release").join(format!("{}.wasm", manifest.name.replace('-', "_")));
            std::fs::copy(&built, &out).with_context(|| format!("cargo built no {}", built.display()))?;
        }
        Lang::Js => {
            if !dir.join("node_modules/@bytecodealliance/componentize-js").exists() {
                run(Command::new("npm").args(["install", "--no-audit", "--no-fund"]).current_dir(dir))?;
            }
            run(Command::new("node").arg("build.mjs").current_dir(dir))?;
        }
        Lang::Python => {
            let out = out.to_string_lossy().into_owned();
            run(Command::new("componentize-py")
                .args(["-d", "wit", "-w", manifest.world.wit_name(), "componentize", "-p", "src", "app", "-o", &out])
                .current_dir(dir))?;
        }
    }
    ensure!(out.exists(), "the build made no {}", out.display());
    println!("built {} in {:.1} s", out.display(), started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

/// Runs a build tool, its output passed through; an error names it.
fn run(command: &mut Command) -> anyhow::Result<()> {
    let program = command.get_program().to_string_lossy().into_owned();
    let status = command.status().with_context(|| format!("cannot run {program}: is it installed?"))?;
    if !status.success() {
        bail!("{program} failed ({status})");
    }
    Ok(())
}
