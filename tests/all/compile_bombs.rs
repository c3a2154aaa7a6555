//! Compile bombs: small components that would cost wasmtime's compiler
//! seconds and gigabytes are refused by the structural bounds, naming the
//! bound, before anything compiles; every plugin we ship is well within them.

use crate::plugins;
use std::time::Instant;

use axum::http::StatusCode;
use provisio::runtime::{Bounds, LoadError, Runtime, RuntimeConfig};
use wasm_encoder::{
    BlockType, CodeSection, Component, ComponentType, ComponentTypeSection, Function, FunctionSection, Instruction,
    Module, ModuleSection, NestedComponentSection, TypeSection, ValType,
};

use crate::http::{config, organization, state, upload};
use crate::{TestDatabase, component, root};

/// A core module of `functions` functions of type `[] -> []`, each with
/// `locals` i32 locals and the body `body` writes.
fn module(functions: u32, locals: u32, body: impl Fn(&mut Function)) -> Module {
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut declared = FunctionSection::new();
    let mut code = CodeSection::new();
    for _ in 0..functions {
        declared.function(0);
        let mut function = match locals {
            0 => Function::new([]),
            n => Function::new([(n, ValType::I32)]),
        };
        body(&mut function);
        function.instruction(&Instruction::End);
        code.function(&function);
    }
    let mut module = Module::new();
    module.section(&types).section(&declared).section(&code);
    module
}

/// A component holding `module`.
fn wrap(module: &Module) -> Vec<u8> {
    let mut component = Component::new();
    component.section(&ModuleSection(module));
    component.finish()
}

/// Loads `bytes` in a fresh runtime and expects a refusal naming `bound`,
/// with nothing handed to the compiler.
async fn refused(bytes: &[u8], bound: &str) {
    let runtime = crate::runtime();
    let error = match runtime.load(bytes).await {
        Ok(plugin) => panic!("a compile bomb was loaded: {:?}", plugin.info()),
        Err(e) => e,
    };
    match &error {
        LoadError::TooComplex { bound: named, value, limit } => {
            assert_eq!(*named, bound, "{error}");
            assert!(value > limit, "{error}");
        }
        other => panic!("refused for another reason than `{bound}`: {other}"),
    }
    assert!(error.to_string().contains(bound), "the message names the bound: {error}");
    let stats = runtime.plugin_cache_stats();
    assert_eq!((stats.compiles, stats.compiled), (0, 0), "nothing compiled: {stats:?}");
}

/// The reported bomb: one function reading 1,000 locals after 10,000 merge
/// points (11 s and 760 MiB to compile), and its two extremes.
#[tokio::test]
async fn many_locals_across_many_merge_points_are_refused() {
    let merges = module(1, 1_000, |f| {
        for _ in 0..10_000 {
            f.instruction(&Instruction::Block(BlockType::Empty));
            f.instruction(&Instruction::End);
        }
        for local in 0..1_000 {
            f.instruction(&Instruction::LocalGet(local));
            f.instruction(&Instruction::Drop);
        }
    });
    refused(&wrap(&merges), "locals-by-merge-points").await;

    let locals = module(1, 100_000, |f| {
        f.instruction(&Instruction::LocalGet(99_999));
        f.instruction(&Instruction::Drop);
    });
    refused(&wrap(&locals), "locals").await;

    let deep = module(1, 1, |f| {
        for _ in 0..8_000 {
            f.instruction(&Instruction::Block(BlockType::Empty));
        }
        for _ in 0..8_000 {
            f.instruction(&Instruction::End);
        }
    });
    refused(&wrap(&deep), "block-depth").await;

    // Each function within the bounds, all of them together not.
    let spread = module(20, 900, |f| {
        for _ in 0..1_000 {
            f.instruction(&Instruction::Block(BlockType::Empty));
            f.instruction(&Instruction::End);
        }
    });
    refused(&wrap(&spread), "total-locals-by-merge-points").await;

    let long = module(1, 0, |f| {
        for _ in 0..(3 << 20) {
            f.instruction(&Instruction::Nop);
        }
    });
    refused(&wrap(&long), "function-bytes").await;
}

/// Many types, and more code than a lowered bound allows (checked directly:
/// the default is 48 MiB).
#[tokio::test]
async fn many_types_and_much_code_are_refused() {
    let mut types = TypeSection::new();
    for _ in 0..20_000 {
        types.ty().function([ValType::I32], []);
    }
    let mut typed = Module::new();
    typed.section(&types);
    refused(&wrap(&typed), "types").await;

    let code = wrap(&module(10, 0, |f| {
        for _ in 0..1_000 {
            f.instruction(&Instruction::Nop);
        }
    }));
    let small = Bounds { max_code_bytes: 5_000, ..Bounds::default() };
    match small.check(&code) {
        Err(LoadError::TooComplex { bound: "code-bytes", value, limit: 5_000 }) => assert!(value > 10_000),
        other => panic!("{other:?}"),
    }
    assert!(Bounds::default().check(&code).is_ok());
}

/// 100,000 empty functions (400 KB; 42 s to compile).
#[tokio::test]
async fn a_hundred_thousand_functions_are_refused() {
    let bytes = wrap(&module(100_000, 0, |_| {}));
    assert!(bytes.len() < 450_000, "{}", bytes.len());
    refused(&bytes, "functions").await;
}

/// Components nested 1,000 deep, and components of many small modules or
/// components.
#[tokio::test]
async fn deep_nesting_and_many_modules_are_refused() {
    let mut nested = Component::new();
    for _ in 0..1_000 {
        let mut outer = Component::new();
        outer.section(&NestedComponentSection(&nested));
        nested = outer;
    }
    refused(&nested.finish(), "nesting").await;

    // A module nested in components counts as one more level.
    let mut nested = Component::new();
    nested.section(&ModuleSection(&module(1, 0, |_| {})));
    for _ in 0..Bounds::default().max_nesting - 1 {
        let mut outer = Component::new();
        outer.section(&NestedComponentSection(&nested));
        nested = outer;
    }
    refused(&nested.finish(), "nesting").await;

    let small = module(1, 0, |_| {});
    let mut many = Component::new();
    for _ in 0..1_000 {
        many.section(&ModuleSection(&small));
    }
    refused(&many.finish(), "core-modules").await;

    let mut siblings = Component::new();
    for _ in 0..1_000 {
        siblings.section(&NestedComponentSection(&Component::new()));
    }
    refused(&siblings.finish(), "components").await;
}

/// Every component in `target/plugins` passes the default bounds, the
/// Python one included; prints what each measures and how long the walk
/// takes (`cargo test -p provisio --release --test all compile_bombs::
/// every_shipped_plugin -- --nocapture` for the BENCHMARKS.md figures).
#[test]
fn every_shipped_plugin_is_within_the_bounds() {
    let bounds = Bounds::default();
    let mut names: Vec<String> = std::fs::read_dir(root().join("target/plugins"))
        .unwrap_or_else(|e| panic!("target/plugins ({e}): build the plugins first with scripts/build-plugins"))
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.strip_suffix(".wasm").map(str::to_owned))
        .collect();
    names.sort();
    assert!(names.iter().any(|n| n == plugins::PYTHON_ALLOWLIST), "{names:?}");
    for name in names {
        let bytes = component(&name);
        let started = Instant::now();
        let rounds = if bytes.len() > 1 << 20 { 3 } else { 20 };
        for _ in 0..rounds {
            bounds.check(&bytes).unwrap_or_else(|e| panic!("{name} is refused by the bounds: {e}"));
        }
        let each = started.elapsed() / rounds;
        let complexity = bounds.check(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        println!("{name}: {} bytes, bounds checked in {each:?}: {complexity:?}", bytes.len());
    }
}

/// Compiles queue for `max_concurrent_compiles` slots.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compiles_run_at_most_max_concurrent_compiles_at_once() {
    let runtime = Runtime::new(RuntimeConfig { max_concurrent_compiles: 1, ..RuntimeConfig::default() })
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let names = [plugins::DEFAULT_CREATOR, plugins::GROUP_MAPPER, plugins::NOOP];
    let loads = names.map(|name| {
        let runtime = runtime.clone();
        tokio::spawn(async move { runtime.load(&component(name)).await.map(|_| ()) })
    });
    for load in loads {
        load.await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|e| panic!("refused: {e}"));
    }
    let stats = runtime.plugin_cache_stats();
    assert_eq!((stats.compiles, stats.compiled, stats.peak_compiles), (3, 3, 1), "{stats:?}");
}

/// The upload route answers `422 plugin-refused` naming the bound.
#[tokio::test]
async fn an_upload_beyond_a_bound_is_a_422_naming_it() {
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let app = provisio::http::router(state(&store, config()).await);
    let (org, token) = organization(&app, "acme").await;
    let bomb = wrap(&module(100_000, 0, |_| {}));
    let answer = upload(&app, &org, &token, bomb).await;
    let body = answer.error(StatusCode::UNPROCESSABLE_ENTITY, "plugin-refused", "a compile bomb");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("too complex") && message.contains("functions"), "{body}");
    store.close().await;
}

/// Component types nested 100,000 deep (300 KB): wasmtime's validator
/// reads them recursively and overflowed its stack, aborting the process.
#[tokio::test]
async fn deeply_nested_types_are_refused() {
    let mut component = Component::new();
    component.section(&nested_types(100_000));
    refused(&component.finish(), "type-nesting").await;
}

/// A type section holding one component type nested `depth` deep.
fn nested_types(depth: u64) -> ComponentTypeSection {
    let mut ty = ComponentType::new();
    for _ in 0..depth {
        let mut outer = ComponentType::new();
        outer.ty().component(&ty);
        ty = outer;
    }
    let mut types = ComponentTypeSection::new();
    types.component(&ty);
    types
}

/// Just within the bounds, wasmtime compiles what the bounds let through
/// without trouble (and refuses it for having no world).
#[tokio::test]
async fn just_within_the_bounds_compiles() {
    let bounds = Bounds::default();
    let deep = module(1, 1, |f| {
        for _ in 0..bounds.max_block_depth {
            f.instruction(&Instruction::Block(BlockType::Empty));
        }
        for _ in 0..bounds.max_block_depth {
            f.instruction(&Instruction::End);
        }
    });
    let mut component = Component::new();
    component.section(&nested_types(bounds.max_type_nesting - 1)).section(&ModuleSection(&deep));
    let runtime = crate::runtime();
    match runtime.load(&component.finish()).await {
        Err(LoadError::WrongWorld { .. }) => {}
        other => panic!("{:?}", other.map(|p| p.info().clone())),
    }
    assert_eq!(runtime.plugin_cache_stats().compiles, 1);
}
