//! Source maps: where a location in generated JavaScript (TypeScript compiled by tsc, a bundle,
//! minified code) came from, as debuggers find it.
//!
//! For a script that is a file on this machine: the last `//# sourceMappingURL=` comment in it
//! (a path relative to the script, a `file://` URL, or a `data:` URL holding the map), else
//! `<script>.map` beside it. Maps (Source Map v3, index maps included) are decoded by getsentry's
//! `sourcemap` crate, read once per script and cached. A missing map is silence; a map that
//! cannot be read (too large, malformed, hostile) is skipped with a note, never a crash. Not
//! here: the node side's maps of a live process (node's own `module.findSourceMap`).

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Largest script or map read, bytes.
const MAX_FILE: u64 = 64 << 20;

/// Where a generated position came from: the original source, 1-based line and column, and the
/// original identifier when the map names one (minified code: `OrderRecord` for `t`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Original {
    pub source: String,
    pub line: u32,
    pub column: u32,
    pub name: Option<String>,
}

struct Loaded {
    map: sourcemap::DecodedMap,
    /// Directory that relative `sources` are resolved against (the map's own).
    base: PathBuf,
    /// The generated script, for finding where a minified name is defined: read when first needed.
    path: PathBuf,
    script: Option<Vec<u8>>,
}

/// The maps of the scripts looked up so far, and notes on those that could not be read.
#[derive(Default)]
pub struct SourceMaps {
    cache: HashMap<String, Option<Loaded>>,
    notes: Vec<String>,
}

impl std::fmt::Debug for SourceMaps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceMaps").field("scripts", &self.cache.len()).field("notes", &self.notes).finish()
    }
}

impl SourceMaps {
    pub fn new() -> SourceMaps {
        SourceMaps::default()
    }

    /// Notes on maps that were found but could not be used (`app.js.map: ...`).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The original of the 1-based (`line`, `column`) in `script` (a path or a `file://` URL), if
    /// the script has a map that covers it.
    pub fn lookup(&mut self, script: &str, line: u32, column: u32) -> Option<Original> {
        if line == 0 || column == 0 {
            return None;
        }
        if !self.cache.contains_key(script) {
            let loaded = match load(script) {
                Ok(l) => l,
                Err(note) => {
                    if self.notes.len() < 100 {
                        self.notes.push(note);
                    }
                    None
                }
            };
            self.cache.insert(script.to_string(), loaded);
        }
        let loaded = self.cache.get(script)?.as_ref()?;
        // The decoder is third-party code fed a hostile file: a panic in it is a skipped map.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let token = loaded.map.lookup_token(line - 1, column - 1)?;
            // A token on another generated line maps a different statement: no answer is better.
            if token.get_dst_line() != line - 1 {
                return None;
            }
            let source = token.get_source()?;
            Some(Original {
                source: resolve_source(&loaded.base, source_root(&loaded.map), source),
                line: token.get_src_line().checked_add(1)?,
                column: token.get_src_col().checked_add(1)?,
                name: token.get_name().filter(|n| !n.is_empty()).map(str::to_string),
            })
        }))
        .ok()
        .flatten()
    }
}

impl SourceMaps {
    /// The original name of `generated` (a minified class or function name, `t`) defined before
    /// the 1-based (`line`, `column`) in `script`, where V8 locates its code: the map's name at
    /// the nearest definition of that identifier on the line (`class t`, `function t`, `var t=`,
    /// `t=class`), as DevTools and Sentry name minified code.
    pub fn original_name(&mut self, script: &str, line: u32, column: u32, generated: &str) -> Option<String> {
        if generated.is_empty() || !generated.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$') {
            return None;
        }
        self.lookup(script, line, column)?;
        let loaded = self.cache.get_mut(script)?.as_mut()?;
        if loaded.script.is_none() {
            loaded.script = Some(read_limited(&loaded.path).ok()?);
        }
        let loaded = &*loaded;
        let text = loaded.script.as_deref()?.split(|&b| b == b'\n').nth(line as usize - 1)?;
        let end = (column as usize).saturating_sub(1).min(text.len());
        let start = end.saturating_sub(4096);
        let at = definition_before(&text[start..end], generated.as_bytes())? + start;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let token = loaded.map.lookup_token(line - 1, at as u32)?;
            (token.get_dst_line() == line - 1 && token.get_dst_col() == at as u32).then_some(())?;
            token.get_name().filter(|n| !n.is_empty() && *n != generated).map(str::to_string)
        }))
        .ok()
        .flatten()
    }
}

/// Where, in `text`, the last definition of identifier `name` starts: `class name`, `function
/// name`, `var|let|const name`, or `name=` (not `==`), as a whole word.
fn definition_before(text: &[u8], name: &[u8]) -> Option<usize> {
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$';
    let mut i = text.len().checked_sub(name.len())?;
    loop {
        if &text[i..i + name.len()] == name && (i == 0 || !is_ident(text[i - 1])) && text.get(i + name.len()).is_none_or(|&b| !is_ident(b)) {
            let before = &text[..i];
            let after = &text[i + name.len()..];
            let keyword = [&b"class "[..], b"function ", b"function* ", b"var ", b"let ", b"const "].iter().any(|k| before.ends_with(k));
            let assigned = after.first() == Some(&b'=') && after.get(1) != Some(&b'=');
            if keyword || assigned {
                return Some(i);
            }
        }
        if i == 0 {
            return None;
        }
        i -= 1;
    }
}

fn source_root(map: &sourcemap::DecodedMap) -> Option<&str> {
    match map {
        sourcemap::DecodedMap::Regular(m) => m.get_source_root(),
        _ => None,
    }
}

/// A script name as a path on this machine, if it is one.
fn script_path(script: &str) -> Option<PathBuf> {
    let path = match script.strip_prefix("file://") {
        Some(rest) => percent_decode(rest),
        None => script.to_string(),
    };
    let p = PathBuf::from(path);
    p.is_absolute().then_some(p)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn read_limited(path: &Path) -> Result<Vec<u8>, String> {
    let file = fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let meta = file.metadata().map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{}: not a regular file", path.display()));
    }
    if meta.len() > MAX_FILE {
        return Err(format!("{}: {} bytes, more than the {} a map or script may have", path.display(), meta.len(), MAX_FILE));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE).read_to_end(&mut bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(bytes)
}

/// Bytes of a script's end read to find its source-map comment.
const TAIL: u64 = 64 << 10;

/// The last [`TAIL`] bytes of a file, and where they start.
fn read_tail(path: &Path) -> Result<(u64, Vec<u8>), String> {
    use std::io::{Seek, SeekFrom};
    let mut file = fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let len = file.metadata().map_err(|e| format!("{}: {e}", path.display()))?.len();
    let start = len.saturating_sub(TAIL);
    file.seek(SeekFrom::Start(start)).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(TAIL).read_to_end(&mut bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((start, bytes))
}

/// Whether the comment line carrying `url` begins after a line break inside `tail`.
fn line_starts_inside(tail: &[u8], url: &str) -> bool {
    let text = String::from_utf8_lossy(tail);
    text.split('\n').skip(1).any(|l| {
        let l = l.trim();
        (l.starts_with("//# sourceMappingURL=") || l.starts_with("//@ sourceMappingURL=")) && l.ends_with(url)
    })
}

/// Whether the tail begins inside a very long line with no spaces: the end of an inline map.
fn cut_long_line(tail: &[u8]) -> bool {
    let first = tail.split(|&b| b == b'\n').next().unwrap_or(&[]);
    first.len() > 1024 && !first.iter().any(|b| b.is_ascii_whitespace())
}

/// The URL of the last `//# sourceMappingURL=` (or the old `//@`) comment of a script.
fn mapping_url(source: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(source);
    text.lines().rev().take(64).find_map(|line| {
        let line = line.trim();
        let rest = line.strip_prefix("//# sourceMappingURL=").or_else(|| line.strip_prefix("//@ sourceMappingURL="))?;
        let url = rest.trim();
        (!url.is_empty()).then(|| url.to_string())
    })
}

fn load(script: &str) -> Result<Option<Loaded>, String> {
    let Some(path) = script_path(script) else {
        return Ok(None);
    };
    if !path.is_file() {
        return Ok(None);
    }
    // The comment is at the end: read the last TAIL bytes, and the whole script only when the
    // comment's line (an inline map) starts before them. Most scripts have no map at all.
    let (start, tail) = read_tail(&path)?;
    let url = match mapping_url(&tail) {
        // Found on a line that starts inside the tail: whole.
        Some(url) if start == 0 || line_starts_inside(&tail, &url) => Some(url),
        // Cut by the tail (an inline map longer than it), or a long last line that may be one.
        Some(_) => mapping_url(&read_limited(&path)?),
        None if start > 0 && cut_long_line(&tail) => mapping_url(&read_limited(&path)?),
        None => None,
    };
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let (bytes, base, what) = match url {
        Some(url) if url.starts_with("data:") => {
            let (meta, data) = url.split_once(',').ok_or_else(|| format!("{}: a data: source map URL without data", path.display()))?;
            let bytes = if meta.ends_with(";base64") { base64_decode(data).ok_or_else(|| format!("{}: its inline source map is not valid base64", path.display()))? } else { percent_decode(data).into_bytes() };
            (bytes, dir, format!("{} (inline map)", path.display()))
        }
        Some(url) => {
            let target = match url.strip_prefix("file://") {
                Some(rest) => PathBuf::from(percent_decode(rest)),
                None if url.contains("://") => return Ok(None),
                None => dir.join(percent_decode(&url)),
            };
            let base = target.parent().map(Path::to_path_buf).unwrap_or_default();
            (read_limited(&target)?, base, target.display().to_string())
        }
        None => {
            let beside = PathBuf::from(format!("{}.map", path.display()));
            if !beside.is_file() {
                return Ok(None);
            }
            (read_limited(&beside)?, dir, beside.display().to_string())
        }
    };
    let decoded = std::panic::catch_unwind(|| sourcemap::decode_slice(&bytes)).map_err(|_| format!("{what}: the source map could not be decoded"))?;
    let map = decoded.map_err(|e| format!("{what}: not a usable source map ({e})"))?;
    Ok(Some(Loaded { map, base, path, script: None }))
}

/// A map's `source` as shown: a path made absolute against the map's directory and root, and
/// normalised; URLs other than `file://` (webpack://, http://) as they are.
fn resolve_source(base: &Path, root: Option<&str>, source: &str) -> String {
    if let Some(rest) = source.strip_prefix("file://") {
        return normalise(Path::new(&percent_decode(rest)));
    }
    if source.contains("://") {
        return source.to_string();
    }
    let mut p = base.to_path_buf();
    if let Some(root) = root.filter(|r| !r.is_empty()) {
        if root.contains("://") && !root.starts_with("file://") {
            return format!("{}{}{}", root, if root.ends_with('/') { "" } else { "/" }, source);
        }
        p = p.join(root.strip_prefix("file://").unwrap_or(root));
    }
    normalise(&p.join(source))
}

fn normalise(p: &Path) -> String {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out.to_string_lossy().into_owned()
}

/// Standard base64 (with or without padding); None on any other character.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in s.trim_end_matches('=').as_bytes() {
        if c.is_ascii_whitespace() {
            continue;
        }
        acc = (acc << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("memwatch-srcmap-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    // A map for `dist/app.js` (2 lines): line 2 column 5 (0-based 1:4) is `src/app.ts` line 10
    // column 3 (0-based 9:2), named `OrderRecord`. Mappings: line 0 empty; line 1 "IASSA"
    // = col +4, source 0, line +9, col +2, name 0.
    const MAP: &str = r#"{"version":3,"file":"app.js","sourceRoot":"","sources":["../src/app.ts"],"names":["OrderRecord"],"mappings":";IASEA"}"#;

    #[test]
    fn maps_a_position_through_a_map_beside_the_file_or_named_in_it_or_inline() {
        let d = dir("find");
        let dist = d.join("dist");
        fs::create_dir_all(&dist).unwrap();
        let expect = Original { source: d.join("src/app.ts").to_string_lossy().into_owned(), line: 10, column: 3, name: Some("OrderRecord".into()) };
        // 1. the comment names a file
        fs::write(dist.join("app.js"), "'use strict';\nvar t = 1;\n//# sourceMappingURL=app.js.map\n").unwrap();
        fs::write(dist.join("app.js.map"), MAP).unwrap();
        let mut maps = SourceMaps::new();
        assert_eq!(maps.lookup(&dist.join("app.js").to_string_lossy(), 2, 5), Some(expect.clone()));
        assert_eq!(maps.lookup(&format!("file://{}", dist.join("app.js").display()), 2, 5), Some(expect.clone()), "a file:// URL");
        assert_eq!(maps.lookup(&dist.join("app.js").to_string_lossy(), 1, 1), None, "a line the map does not cover");
        // 2. no comment: <file>.map beside it
        fs::write(dist.join("b.js"), "'use strict';\nvar t = 1;\n").unwrap();
        fs::write(dist.join("b.js.map"), MAP).unwrap();
        assert_eq!(SourceMaps::new().lookup(&dist.join("b.js").to_string_lossy(), 2, 5), Some(expect.clone()));
        // 3. inline, as a data: URL
        let b64 = base64_encode(MAP.as_bytes());
        fs::write(dist.join("c.js"), format!("'use strict';\nvar t = 1;\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,{b64}\n")).unwrap();
        assert_eq!(SourceMaps::new().lookup(&dist.join("c.js").to_string_lossy(), 2, 5), Some(expect.clone()));
        // 4. a big script with an inline map longer than the tail read: read whole.
        let padding = format!("// {}\n", "x".repeat(200));
        let long_map = MAP.replace("\"names\"", &format!("\"x_pad\":\"{}\",\"names\"", "p".repeat(100_000)));
        fs::write(dist.join("d.js"), format!("'use strict';\nvar t = 1;\n{}//# sourceMappingURL=data:application/json;base64,{}\n", padding.repeat(400), base64_encode(long_map.as_bytes()))).unwrap();
        assert_eq!(SourceMaps::new().lookup(&dist.join("d.js").to_string_lossy(), 2, 5), Some(expect));
        // No map, or not a file here: nothing, and no note.
        fs::write(dist.join("plain.js"), "1;\n").unwrap();
        let mut m = SourceMaps::new();
        assert_eq!(m.lookup(&dist.join("plain.js").to_string_lossy(), 1, 1), None);
        assert_eq!(m.lookup("node:internal/timers", 1, 1), None);
        assert_eq!(m.lookup("/nonexistent/x.js", 1, 1), None);
        assert!(m.notes().is_empty());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn malformed_and_hostile_maps_are_skipped_with_a_note() {
        let d = dir("bad");
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("garbage", b"this is not json".to_vec()),
            ("truncated", MAP.as_bytes()[..MAP.len() / 2].to_vec()),
            ("wrong-types", br#"{"version":3,"sources":5,"mappings":[]}"#.to_vec()),
            ("bad-vlq", br#"{"version":3,"sources":["a.ts"],"names":[],"mappings":";;;!!!@@@"}"#.to_vec()),
            ("huge-index", br#"{"version":3,"sources":["a.ts"],"names":[],"mappings":"A,+/////D"}"#.to_vec()),
            ("sections", br#"{"version":3,"sections":[{"offset":{"line":0,"column":0},"map":{"version":3,"sources":["x.ts"],"names":[],"mappings":"AAAA"}},{"offset":{"line":0,"column":0},"map":7}]}"#.to_vec()),
        ];
        for (name, bytes) in &cases {
            let js = d.join(format!("{name}.js"));
            fs::write(&js, format!("x;\n//# sourceMappingURL={name}.js.map\n")).unwrap();
            fs::write(d.join(format!("{name}.js.map")), bytes).unwrap();
            let mut m = SourceMaps::new();
            let _ = m.lookup(&js.to_string_lossy(), 1, 1);
            let _ = m.lookup(&js.to_string_lossy(), 1, 2);
        }
        let js = d.join("bad64.js");
        fs::write(&js, "x;\n//# sourceMappingURL=data:application/json;base64,%%%%\n").unwrap();
        let mut m = SourceMaps::new();
        assert_eq!(m.lookup(&js.to_string_lossy(), 1, 1), None);
        assert!(m.notes()[0].contains("not valid base64"), "{:?}", m.notes());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn definitions_of_minified_names_are_found_before_the_position() {
        let line = b"var t=class{constructor(r,o){this.t=r}},s=new Map;function n(e){let r=new t(e)}";
        assert_eq!(definition_before(&line[..24], b"t"), Some(4), "var t=");
        assert_eq!(definition_before(line, b"n"), Some(59), "function n");
        assert_eq!(definition_before(b"if(t==1)x", b"t"), None, "a comparison is no definition");
        assert_eq!(definition_before(b"let at=1", b"t"), None, "a whole word only");
        assert_eq!(definition_before(b"", b"t"), None);
    }

    #[test]
    fn sources_resolve_against_the_map_and_its_root() {
        let base = Path::new("/srv/app/dist");
        assert_eq!(resolve_source(base, None, "../src/a.ts"), "/srv/app/src/a.ts");
        assert_eq!(resolve_source(base, Some("../src"), "a.ts"), "/srv/app/src/a.ts");
        assert_eq!(resolve_source(base, None, "webpack://app/./src/a.ts"), "webpack://app/./src/a.ts");
        assert_eq!(resolve_source(base, None, "file:///srv/x.ts"), "/srv/x.ts");
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8").unwrap(), b"hello");
        assert!(base64_decode("a$b").is_none());
        assert_eq!(percent_decode("/a%20b/%C3%A9/%é%4"), "/a b/é/%é%4", "never slices inside a character");
    }

    /// Arbitrary bytes as a map never panic the reader (a property test over many inputs).
    #[test]
    fn arbitrary_bytes_as_a_map_never_crash() {
        let d = dir("fuzz");
        let js = d.join("f.js");
        fs::write(&js, "a;\nb;\n//# sourceMappingURL=f.js.map\n").unwrap();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = br#"{}[]":,0123456789ABCDEFabcdef+/;mappingsourcesnamesversion3sectionsoffsetmap "#;
        for round in 0..300 {
            let len = (next() % 300) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
            if round % 3 == 0 {
                // Mutate a valid map instead.
                bytes = MAP.as_bytes().to_vec();
                for _ in 0..(next() % 6 + 1) {
                    let at = (next() % bytes.len() as u64) as usize;
                    bytes[at] = alphabet[(next() % alphabet.len() as u64) as usize];
                }
            }
            fs::write(d.join("f.js.map"), &bytes).unwrap();
            let mut m = SourceMaps::new();
            for (l, c) in [(1, 1), (2, 1), (2, 5), (3, 40), (u32::MAX, u32::MAX)] {
                let _ = m.lookup(&js.to_string_lossy(), l, c);
            }
        }
        fs::remove_dir_all(&d).unwrap();
    }

    fn base64_encode(b: &[u8]) -> String {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in b.chunks(3) {
            let n = (chunk[0] as u32) << 16 | (*chunk.get(1).unwrap_or(&0) as u32) << 8 | *chunk.get(2).unwrap_or(&0) as u32;
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}
