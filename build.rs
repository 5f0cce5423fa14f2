//! Build script: compiles the V8 shim against the headers of the Node that will load the addon,
//! and bakes that Node's ABI (`NODE_MODULE_VERSION`) into the binary.
//!
//! Header discovery, first hit wins: `$NODE_INCLUDE_DIR`; the include dir of the node named by
//! `$MEMWATCH_NODE` (set by scripts/build.js to the node running `npm install`) or of the `node`
//! on PATH (`<dir of realpath(node)>/../include/node`); `/usr/include/node`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    napi_build::setup();
    println!("cargo:rerun-if-changed=src/v8/shim.cc");
    for var in ["NODE_INCLUDE_DIR", "MEMWATCH_NODE", "PATH"] {
        println!("cargo:rerun-if-env-changed={var}");
    }

    let include = match find_node_headers() {
        Some(dir) => dir,
        None => fail(
            "could not find Node.js headers (node_version.h, v8.h).\n\
             Set NODE_INCLUDE_DIR to the headers of the node that will load memwatch-rs, for example\n\
             NODE_INCLUDE_DIR=/usr/include/node, or install them: Debian/Ubuntu `apt-get install nodejs-dev`\n\
             (or libnode-dev), or use an official Node.js tarball, which ships include/node.",
        ),
    };
    println!("cargo:rerun-if-changed={}", include.join("node_version.h").display());
    println!("cargo:rerun-if-changed={}", include.join("config.gypi").display());

    let version_h = fs::read_to_string(include.join("node_version.h"))
        .unwrap_or_else(|e| fail(&format!("cannot read {}/node_version.h: {e}", include.display())));
    let abi = define_value(&version_h, "NODE_MODULE_VERSION")
        .unwrap_or_else(|| fail("node_version.h has no numeric NODE_MODULE_VERSION"));
    let major = define_value(&version_h, "NODE_MAJOR_VERSION").unwrap_or(0);
    let minor = define_value(&version_h, "NODE_MINOR_VERSION").unwrap_or(0);
    let patch = define_value(&version_h, "NODE_PATCH_VERSION").unwrap_or(0);
    println!("cargo:rustc-env=MEMWATCH_NODE_ABI={abi}");
    println!("cargo:rustc-env=MEMWATCH_NODE_VERSION={major}.{minor}.{patch}");
    println!("cargo:rustc-env=MEMWATCH_NODE_INCLUDE={}", include.display());

    let mut build = cc::Build::new();
    build
        .cpp(true)
        .cpp_link_stdlib(None)
        .file("src/v8/shim.cc")
        .include(&include)
        .flag_if_supported(if major >= 22 { "-std=c++20" } else { "-std=c++17" })
        .flag_if_supported("-fno-rtti")
        .flag_if_supported("-fno-exceptions")
        .flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-Wno-deprecated-declarations");
    for define in v8_defines(&include) {
        build.define(define, None);
    }
    build.compile("memwatch_v8_shim");
}

fn fail(message: &str) -> ! {
    eprintln!("\nmemwatch-rs build error: {message}\n");
    std::process::exit(1);
}

fn has_headers(dir: &Path) -> bool {
    dir.join("node_version.h").is_file() && dir.join("v8.h").is_file()
}

fn find_node_headers() -> Option<PathBuf> {
    if let Some(dir) = env::var_os("NODE_INCLUDE_DIR").map(PathBuf::from) {
        if has_headers(&dir) {
            return Some(dir);
        }
        fail(&format!(
            "NODE_INCLUDE_DIR={} does not contain node_version.h and v8.h",
            dir.display()
        ));
    }
    let node = env::var_os("MEMWATCH_NODE").map(PathBuf::from).or_else(node_on_path);
    if let Some(node) = node.and_then(|n| fs::canonicalize(n).ok()) {
        if let Some(dir) = node.parent().map(|bin| bin.join("../include/node")) {
            if has_headers(&dir) {
                return Some(dir);
            }
        }
    }
    let system = PathBuf::from("/usr/include/node");
    has_headers(&system).then_some(system)
}

fn node_on_path() -> Option<PathBuf> {
    let out = Command::new("node").arg("-p").arg("process.execPath").output().ok()?;
    let path = String::from_utf8(out.stdout).ok()?;
    let path = path.trim();
    (!path.is_empty()).then(|| PathBuf::from(path))
}

/// Value of `#define NAME <number>` in a header.
fn define_value(header: &str, name: &str) -> Option<u32> {
    header.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        if words.next()? != "#define" || words.next()? != name {
            return None;
        }
        words.next()?.parse().ok()
    })
}

/// The V8 feature defines node-gyp would pass, derived from the headers' config.gypi (the same
/// rules as node's common.gypi). Getting these wrong makes V8's inline accessors read garbage.
fn v8_defines(include: &Path) -> Vec<&'static str> {
    let gypi = fs::read_to_string(include.join("config.gypi")).unwrap_or_default();
    let on = |key: &str| gypi_flag(&gypi, key);
    let mut defines = Vec::new();
    if on("v8_enable_v8_checks") {
        defines.push("V8_ENABLE_CHECKS");
    }
    let compress = on("v8_enable_pointer_compression");
    if compress {
        defines.push("V8_COMPRESS_POINTERS");
        if on("v8_enable_pointer_compression_shared_cage") {
            defines.push("V8_COMPRESS_POINTERS_IN_SHARED_CAGE");
        } else {
            defines.push("V8_COMPRESS_POINTERS_IN_ISOLATE_CAGE");
        }
    }
    if compress || on("v8_enable_31bit_smis_on_64bit_arch") {
        defines.push("V8_31BIT_SMIS_ON_64BIT_ARCH");
    }
    for (key, define) in [
        ("v8_enable_zone_compression", "V8_COMPRESS_ZONES"),
        ("v8_enable_sandbox", "V8_ENABLE_SANDBOX"),
        ("v8_enable_external_code_space", "V8_EXTERNAL_CODE_SPACE"),
        ("v8_enable_map_packing", "V8_MAP_PACKING"),
        ("v8_enable_conservative_stack_scanning", "V8_ENABLE_CONSERVATIVE_STACK_SCANNING"),
        ("v8_enable_direct_local", "V8_ENABLE_DIRECT_LOCAL"),
    ] {
        if on(key) {
            defines.push(define);
        }
    }
    defines
}

/// Whether `'key': 1` (or `true`) appears in a config.gypi.
fn gypi_flag(gypi: &str, key: &str) -> bool {
    let quoted = format!("'{key}'");
    gypi.match_indices(&quoted).any(|(at, _)| {
        let rest = gypi[at + quoted.len()..].trim_start();
        let value = rest.strip_prefix(':').map(str::trim_start).unwrap_or("");
        value.starts_with('1') || value.starts_with("true") || value.starts_with("'true'")
    })
}
