//! Puts the browser assets into `OUT_DIR` so the binary serves them with no CDN
//! and no network: GraphiQL's (embedded by `src/graphiql.rs`) and the admin
//! console's (built from `console/`, embedded by `src/app/console.rs`).
//!
//! The assets come from the npm registry as exact versions pinned (with
//! integrity hashes) in `assets/graphiql/package-lock.json`; nothing from npm
//! is checked into the repository. npm is only run when the installed tree is
//! missing or was installed from a different lock file.
//!
//! Deliberately std-only: build-dependencies would be compiled on every clean
//! build just to copy four files.

use std::env;
use std::fs::{self, File};
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The files the page loads, as (path under `node_modules`, name in `OUT_DIR`).
/// `src/graphiql.rs` includes them by the second name.
const ASSETS: &[(&str, &str)] = &[
    ("graphiql/graphiql.min.js", "graphiql.min.js"),
    ("graphiql/graphiql.min.css", "graphiql.min.css"),
    (
        "react/umd/react.production.min.js",
        "react.production.min.js",
    ),
    (
        "react-dom/umd/react-dom.production.min.js",
        "react-dom.production.min.js",
    ),
];

/// What the console's build (`console/build.mjs`) writes into `OUT_DIR`.
const CONSOLE_OUTPUTS: &[&str] = &["console.js", "console.css"];

/// The console's sources: what its build reads besides `node_modules`. A change to
/// any of them (or to `schema.graphql`, which its operations are typed against)
/// rebuilds it; directories are walked.
const CONSOLE_INPUTS: &[&str] = &[
    "console/package.json",
    "console/package-lock.json",
    "console/codegen.yml",
    "console/tsconfig.json",
    "console/build.mjs",
    "console/src",
    "schema.graphql",
];

/// Written into `node_modules` after a successful `npm ci`, holding the lock
/// file it installed from. Without it a version bump in the lock file would
/// rerun this script, find the old files present and silently embed them.
/// `npm ci` deletes `node_modules` first, so a failed install leaves no stamp.
const STAMP: &str = ".roster-build-stamp";

fn main() {
    // Only the declared inputs: watching node_modules (or leaving the default
    // of "any file in the package") would rebuild the crate on unrelated edits.
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=assets/graphiql/package.json");
    println!("cargo:rerun-if-changed=assets/graphiql/package-lock.json");
    for input in CONSOLE_INPUTS {
        println!("cargo:rerun-if-changed={input}");
    }

    if let Err(message) = run() {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = env_path("CARGO_MANIFEST_DIR")?;
    let out_dir = env_path("OUT_DIR")?;
    let package_dir = manifest_dir.join("assets").join("graphiql");
    let node_modules = package_dir.join("node_modules");
    let lock_path = package_dir.join("package-lock.json");
    let lock = fs::read(&lock_path).map_err(|e| format!("reading {}: {e}", lock_path.display()))?;

    // Two cargo processes with different target dirs (say, a terminal build
    // and an editor's check) can run this script at once; both would run
    // `npm ci` in the same folder and trip over each other's deletes. The
    // lock lives outside the repo so it never shows up as an untracked file.
    let _guard = lock_install(&package_dir)?;

    let graphiql_files: Vec<&str> = ASSETS.iter().map(|(source, _)| *source).collect();
    if !installed_from(&node_modules, &lock, &graphiql_files) {
        npm_ci(&package_dir, "the GraphiQL assets")?;
        fs::write(node_modules.join(STAMP), &lock)
            .map_err(|e| format!("writing {}: {e}", node_modules.join(STAMP).display()))?;
    }

    for (source, name) in ASSETS {
        let from = node_modules.join(source);
        let to = out_dir.join(name);
        fs::copy(&from, &to).map_err(|e| {
            format!(
                "copying {} to {}: {e} (the pinned package no longer ships this file?)",
                from.display(),
                to.display()
            )
        })?;
    }
    build_console(&manifest_dir, &out_dir)
}

/// Builds the admin console into `OUT_DIR` (typed operations generated from
/// `schema.graphql`, type-checked, bundled) unless the outputs there were built
/// from exactly the current inputs.
fn build_console(manifest_dir: &Path, out_dir: &Path) -> Result<(), String> {
    let console_dir = manifest_dir.join("console");
    let node_modules = console_dir.join("node_modules");
    let lock_path = console_dir.join("package-lock.json");
    let lock = fs::read(&lock_path).map_err(|e| format!("reading {}: {e}", lock_path.display()))?;
    let fingerprint = format!("{:016x}", inputs_hash(manifest_dir)?);
    let stamp = out_dir.join("console.stamp");
    let built = fs::read_to_string(&stamp).is_ok_and(|s| s == fingerprint)
        && CONSOLE_OUTPUTS
            .iter()
            .all(|name| out_dir.join(name).is_file());
    if built {
        return Ok(());
    }
    let _guard = lock_install(&console_dir)?;
    if !installed_from(
        &node_modules,
        &lock,
        &["typescript", "esbuild", "@graphql-codegen/cli"],
    ) {
        npm_ci(&console_dir, "the console's build tools")?;
        fs::write(node_modules.join(STAMP), &lock)
            .map_err(|e| format!("writing {}: {e}", node_modules.join(STAMP).display()))?;
    }
    // `npm run build`: codegen (a schema change that breaks an operation fails here),
    // `tsc --noEmit` (one that breaks the code using it fails here), then the bundle.
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let status = Command::new(npm)
        .args(["run", "--silent", "build"])
        .current_dir(&console_dir)
        .env("ROSTER_CONSOLE_OUT", out_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(io::stderr()))
        .status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => {
            return Err(format!(
                "building the console failed ({status}): see the codegen/tsc/esbuild output \
                 above, or run `npm run build` in {}",
                console_dir.display()
            ));
        }
        Err(e) => return Err(format!("could not run `{npm} run build`: {e}")),
    }
    fs::write(&stamp, fingerprint).map_err(|e| format!("writing {}: {e}", stamp.display()))
}

/// One hash of every console input's path and bytes, in a fixed order.
fn inputs_hash(manifest_dir: &Path) -> Result<u64, String> {
    let mut files = Vec::new();
    for input in CONSOLE_INPUTS {
        collect_files(&manifest_dir.join(input), &mut files)?;
    }
    files.sort();
    let mut bytes = Vec::new();
    for file in files {
        bytes.extend_from_slice(file.as_os_str().as_encoded_bytes());
        bytes.push(0);
        bytes.extend(fs::read(&file).map_err(|e| format!("reading {}: {e}", file.display()))?);
        bytes.push(0);
    }
    Ok(fnv1a(&bytes))
}

fn collect_files(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    if path.is_dir() {
        let entries = fs::read_dir(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("reading {}: {e}", path.display()))?;
            collect_files(&entry.path(), files)?;
        }
    } else {
        files.push(path.to_path_buf());
    }
    Ok(())
}

fn env_path(name: &str) -> Result<PathBuf, String> {
    env::var_os(name)
        .map(PathBuf::from)
        .ok_or_else(|| format!("cargo did not set {name}"))
}

/// True when every listed path exists and was installed from exactly this lock file.
fn installed_from(node_modules: &Path, lock: &[u8], paths: &[&str]) -> bool {
    let stamp_matches = fs::read(node_modules.join(STAMP)).is_ok_and(|stamp| stamp == lock);
    stamp_matches && paths.iter().all(|path| node_modules.join(path).exists())
}

fn npm_ci(package_dir: &Path, what: &str) -> Result<(), String> {
    // npm is a batch file on Windows, which `Command` does not resolve by itself.
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let how_to_fix = format!(
        "building roster needs npm (Node.js) and access to the npm registry once, to fetch \
         {what} pinned in {}; install Node.js/npm, or run `npm ci` in that folder yourself",
        package_dir.join("package-lock.json").display()
    );
    // npm's stdout goes to our stderr: cargo parses a build script's stdout for
    // directives, and shows stderr only when the build fails.
    let status = Command::new(npm)
        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
        .current_dir(package_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(io::stderr()))
        .status();
    match status {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("`npm ci` failed ({status}); {how_to_fix}")),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            Err(format!("`{npm}` was not found on PATH; {how_to_fix}"))
        }
        Err(e) => Err(format!("could not run `{npm} ci`: {e}; {how_to_fix}")),
    }
}

/// Holds an exclusive lock, keyed by the package folder, until dropped.
fn lock_install(package_dir: &Path) -> Result<File, String> {
    let key = fnv1a(package_dir.as_os_str().as_encoded_bytes());
    let path = env::temp_dir().join(format!("roster-graphiql-npm-{key:016x}.lock"));
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("opening lock file {}: {e}", path.display()))?;
    file.lock()
        .map_err(|e| format!("locking {}: {e}", path.display()))?;
    Ok(file)
}

/// A stable hash (unlike `DefaultHasher`, whose output may change between
/// toolchains that could be building side by side), to name the lock file.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
