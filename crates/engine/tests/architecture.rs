//! Architecture rules that a reviewer would otherwise have to remember:
//!
//! - the pure crates (`events`, `rules`, `detect`, `policy`) depend on no
//!   runtime, database, HTTP client or directory walker;
//! - their sources do no file or network IO and read no clock;
//! - rsigma stays behind `rules` and `detect`;
//! - no crate has a cycle between its modules.
//!
//! The expected lists are written here by hand.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The crates that must stay pure.
const PURE: [&str; 4] = [
    "watchpost-events",
    "watchpost-rules",
    "watchpost-detect",
    "watchpost-policy",
];

/// Crates the pure crates must not depend on, even indirectly.
const FORBIDDEN_DEPS: [&str; 4] = ["tokio", "sqlx", "reqwest", "walkdir"];

/// Text that means IO or a clock in a pure crate's sources.
const FORBIDDEN_TEXT: [&str; 8] = [
    "std::fs",
    "std::net",
    "SystemTime::now",
    "Instant::now",
    "OffsetDateTime::now",
    "thread::spawn",
    "std::env::var",
    "std::process",
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

#[test]
fn pure_crates_depend_on_no_runtime_database_http_or_walker() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Only this machine's platform: the others' crates need not be here.
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("-vV")
        .output()
        .expect("rustc -vV runs");
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("rustc names its host");
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", &host])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    // Normal (not dev, not build) dependencies of each package id.
    let mut deps: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().unwrap() {
        let id = node["id"].as_str().unwrap();
        let normal = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kind"].is_null())
            })
            .map(|d| d["pkg"].as_str().unwrap())
            .collect();
        deps.insert(id, normal);
    }
    let mut found = Vec::new();
    for pure in PURE {
        let id = names
            .iter()
            .find(|(_, n)| **n == pure)
            .map(|(id, _)| *id)
            .unwrap_or_else(|| panic!("{pure} is in the workspace"));
        let mut seen = BTreeSet::new();
        let mut stack = vec![id];
        while let Some(next) = stack.pop() {
            if !seen.insert(next) {
                continue;
            }
            stack.extend(deps.get(next).into_iter().flatten().copied());
        }
        for dep in seen {
            if FORBIDDEN_DEPS.contains(&names[dep]) {
                found.push(format!("{pure} -> {}", names[dep]));
            }
        }
    }
    assert!(found.is_empty(), "pure crates depend on: {found:?}");
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without comments (line comments, doc comments and
/// block comments), so that prose may name what code may not use.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.find('\n').map_or("", |i| &after[i..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |i| &after[i + 2..]);
        } else if rest.starts_with('"') {
            // Skip string literals, honouring escapes.
            let bytes = rest.as_bytes();
            let mut i = 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            rest = rest.get(i + 1..).unwrap_or("");
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

#[test]
fn pure_crates_do_no_io_and_read_no_clock() {
    let root = workspace_root();
    let mut found = Vec::new();
    for dir in ["events", "rules", "detect", "policy"] {
        let mut files = Vec::new();
        rust_files(&root.join("crates").join(dir).join("src"), &mut files);
        assert!(!files.is_empty(), "crates/{dir}/src has sources");
        for file in files {
            let code = code_only(&std::fs::read_to_string(&file).unwrap());
            // Unit tests may read fixtures; they are not the crate.
            let code = code.split("#[cfg(test)]").next().unwrap_or("");
            for text in FORBIDDEN_TEXT {
                if code.contains(text) {
                    found.push(format!("{}: {text}", file.display()));
                }
            }
        }
    }
    assert!(found.is_empty(), "IO or clock in pure crates: {found:?}");
}

#[test]
fn rsigma_stays_behind_rules_and_detect() {
    let root = workspace_root();
    let mut found = Vec::new();
    for dir in ["rules", "detect"] {
        let mut files = Vec::new();
        rust_files(&root.join("crates").join(dir).join("src"), &mut files);
        for file in files {
            let code = code_only(&std::fs::read_to_string(&file).unwrap());
            for line in code.lines() {
                let line = line.trim();
                if line.starts_with("pub use rsigma") || line.starts_with("pub extern crate rsigma")
                {
                    found.push(format!("{}: {line}", file.display()));
                }
            }
        }
    }
    assert!(found.is_empty(), "rsigma re-exported: {found:?}");
    // No crate outside rules and detect names rsigma in its manifest's
    // normal dependencies.
    for entry in std::fs::read_dir(root.join("crates")).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        if name == "rules" || name == "detect" {
            continue;
        }
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let normal = manifest
            .split("[dependencies]")
            .nth(1)
            .map(|s| s.split("\n[").next().unwrap_or(""))
            .unwrap_or("");
        assert!(
            !normal.contains("rsigma"),
            "crates/{name} depends on rsigma directly"
        );
    }
}

/// One logsource decision: outside tests, a logsource is built only by
/// `events`' taxonomy module (and the type's own constructors), and where
/// the engine reads a stored one back from its spill files. Parsers take
/// the taxonomy's constants and functions; `detect` only reads the route.
#[test]
fn logsources_are_decided_in_one_place() {
    const BUILDERS: [&str; 4] = [
        "LogSource::service(",
        "LogSource::product(",
        "LogSource {",
        ".with_category(",
    ];
    const ALLOWED: [&str; 4] = [
        "crates/events/src/logsource.rs",
        "crates/events/src/taxonomy.rs",
        "crates/engine/src/spool.rs",
        "crates/engine/src/found.rs",
    ];
    let root = workspace_root();
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    let mut found = Vec::new();
    let mut allowed_seen = 0;
    for file in files {
        let rel = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if !rel.contains("/src/") {
            continue;
        }
        let code = code_only(&std::fs::read_to_string(&file).unwrap());
        let code = code.split("#[cfg(test)]").next().unwrap_or("");
        let builds = BUILDERS.iter().any(|b| code.contains(b));
        if ALLOWED.contains(&rel.as_str()) {
            allowed_seen += usize::from(builds);
        } else if builds {
            found.push(rel);
        }
    }
    assert!(
        found.is_empty(),
        "logsources decided outside the taxonomy: {found:?}"
    );
    // The scan sees the places that do build logsources.
    assert_eq!(allowed_seen, ALLOWED.len());
}

/// A module of a crate, as its path from the crate root (`a::b`).
type Module = String;

/// The module a source file defines: `src/a/b.rs` and `src/a/b/mod.rs`
/// are `a::b`; `lib.rs` and `main.rs` are the root (empty).
fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") {
        parts.clear();
    }
    parts.join("::")
}

/// Expands `use` trees and inline paths of code into full paths starting
/// with `crate::` or `super::` (as `crate::a::b`, `super::x`).
fn paths_in(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    // `use` statements, braces expanded.
    let mut rest = code;
    while let Some(i) = rest.find("use ") {
        let before = rest[..i].chars().last();
        let after = &rest[i + 4..];
        rest = after;
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let Some(end) = after.find(';') else { break };
        let tree: String = after[..end]
            .replace(" as ", "@")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        expand("", &tree, &mut out);
    }
    // Inline paths: `crate::x::y` and `super::x` anywhere.
    for start in ["crate::", "super::"] {
        let mut rest = code;
        while let Some(i) = rest.find(start) {
            let before = rest[..i].chars().last();
            let tail = &rest[i..];
            rest = &rest[i + start.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let path: String = tail
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(path.trim_end_matches(':').to_string());
        }
    }
    out.retain(|p| p.starts_with("crate::") || p.starts_with("super::"));
    out
}

/// Expands one `use` tree (no whitespace) under `prefix`.
fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
    if let Some(open) = tree.find('{') {
        let head = &tree[..open];
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let base = format!("{prefix}{head}");
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&base, &inner[start..i], out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        if start < inner.len() {
            expand(&base, &inner[start..], out);
        }
    } else if !tree.is_empty() {
        let item = tree.split('@').next().unwrap_or(tree);
        out.push(format!("{prefix}{item}"));
    }
}

/// Resolves a path used in module `from` to the longest known module it
/// names.
fn target(from: &str, path: &str, modules: &BTreeSet<Module>) -> Option<Module> {
    let mut parts: Vec<&str> = if from.is_empty() {
        Vec::new()
    } else {
        from.split("::").collect()
    };
    let mut rest = path;
    if let Some(r) = rest.strip_prefix("crate::") {
        parts.clear();
        rest = r;
    } else {
        while let Some(r) = rest.strip_prefix("super::") {
            parts.pop();
            rest = r;
        }
    }
    let mut best = None;
    for seg in rest.split("::").filter(|s| !s.is_empty()) {
        parts.push(seg);
        let candidate = parts.join("::");
        if modules.contains(&candidate) {
            best = Some(candidate);
        } else {
            break;
        }
    }
    best
}

/// Module cycles of one crate: strongly connected groups of modules, where
/// a module's references to its own ancestors and descendants do not count.
fn module_cycles(src: &Path) -> Vec<Vec<Module>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<Module> = files.iter().map(|f| module_of(src, f)).collect();
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for file in &files {
        let from = module_of(src, file);
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        let code = code.split("#[cfg(test)]").next().unwrap_or("").to_string();
        for path in paths_in(&code) {
            let Some(to) = target(&from, &path, &modules) else {
                continue;
            };
            let related = to == from
                || to.is_empty()
                || from.is_empty()
                || from.starts_with(&format!("{to}::"))
                || to.starts_with(&format!("{from}::"));
            if !related {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    // Tarjan's strongly connected components.
    struct State<'a> {
        edges: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<Module, usize>,
        low: BTreeMap<Module, usize>,
        stack: Vec<Module>,
        on_stack: BTreeSet<Module>,
        next: usize,
        out: Vec<Vec<Module>>,
    }
    fn visit(s: &mut State<'_>, v: &Module) {
        s.index.insert(v.clone(), s.next);
        s.low.insert(v.clone(), s.next);
        s.next += 1;
        s.stack.push(v.clone());
        s.on_stack.insert(v.clone());
        let targets: Vec<Module> = s.edges.get(v).into_iter().flatten().cloned().collect();
        for w in targets {
            if !s.index.contains_key(&w) {
                visit(s, &w);
                let lw = s.low[&w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(&w) {
                let iw = s.index[&w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut group = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(&w);
                let done = &w == v;
                group.push(w);
                if done {
                    break;
                }
            }
            if group.len() > 1 {
                group.sort();
                s.out.push(group);
            }
        }
    }
    let mut state = State {
        edges: &edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for m in &modules {
        if !state.index.contains_key(m) {
            visit(&mut state, m);
        }
    }
    state.out
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    // A crate of three modules where a -> b -> c -> a, and d -> a only.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("c")).unwrap();
    std::fs::write(src.join("lib.rs"), "mod a; mod b; mod c; mod d;\n").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::{b::{X, Y}, d as _};\n").unwrap();
    std::fs::write(src.join("b.rs"), "fn f() { crate::c::inner::g() }\n").unwrap();
    std::fs::write(src.join("c.rs"), "mod inner;\n").unwrap();
    std::fs::write(
        src.join("c/inner.rs"),
        "// crate::d in a comment\nuse super::super::a::Z;\n",
    )
    .unwrap();
    std::fs::write(src.join("d.rs"), "").unwrap();
    let cycles = module_cycles(&src);
    assert_eq!(
        cycles,
        vec![vec![
            "a".to_string(),
            "b".to_string(),
            "c::inner".to_string()
        ]]
    );
}

#[test]
fn no_crate_has_module_cycles() {
    let root = workspace_root();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root.join("crates")).unwrap() {
        let dir = entry.unwrap().path();
        let src = dir.join("src");
        if !src.is_dir() {
            continue;
        }
        for cycle in module_cycles(&src) {
            found.push(format!(
                "{}: {}",
                dir.file_name().unwrap().to_string_lossy(),
                cycle.join(" <-> ")
            ));
        }
    }
    assert!(found.is_empty(), "module cycles:\n{}", found.join("\n"));
}
