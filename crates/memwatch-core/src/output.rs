//! The one way memwatch-rs writes a file (snapshots, HTML reports, anything later): complete or
//! not at all, private, and never through a link someone else planted.
//!
//! The bytes go to a temp file beside the target, created exclusively (`O_CREAT|O_EXCL`, which
//! never follows a symlink, not even a dangling one) with mode 0600 under an unpredictable name,
//! then fsynced and renamed over the target (rename replaces a link at the target, it does not
//! write through it). The temp file is removed on every failure path, and a temp file left by a
//! killed process never blocks a later write (its name was random). A target that is one of the
//! inputs (same device and inode) is refused before anything is written. Errors name the path.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A file being written; becomes the target only at [`AtomicFile::commit`].
pub struct AtomicFile {
    target: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
}

/// 64 unpredictable bits: std's hasher keys come from the OS's random source, and differ per
/// `RandomState`; mixed with the time and pid for good measure.
fn random_tag() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.write_u32(std::process::id());
    h.finish()
}

impl AtomicFile {
    /// Opens the temp file for `target`, refusing a target that is a directory or one of `inputs`.
    pub fn create(target: &Path, inputs: &[&Path]) -> Result<AtomicFile, String> {
        let fail = |why: String| format!("cannot write {}: {why}", target.display());
        let name = target.file_name().ok_or_else(|| fail("the path names no file".into()))?.to_string_lossy().into_owned();
        if let Ok(meta) = fs::metadata(target) {
            if meta.is_dir() {
                return Err(fail("it is a directory".into()));
            }
            for input in inputs {
                if fs::metadata(input).is_ok_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino()) {
                    return Err(fail(format!("it is the input {}; writing would destroy it", input.display())));
                }
            }
        }
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        for _ in 0..16 {
            let tmp = dir.join(format!(".{name}.{:016x}.partial", random_tag()));
            match OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp) {
                Ok(file) => return Ok(AtomicFile { target: target.to_path_buf(), tmp, file: Some(file) }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(fail(e.to_string())),
            }
        }
        Err(fail("could not create a temporary file beside it".into()))
    }

    /// The temp file, to write to.
    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("the file is open until commit")
    }

    /// Flushes, fsyncs and renames the temp file into place.
    pub fn commit(mut self) -> Result<(), String> {
        let file = self.file.take().expect("the file is open until commit");
        let done = file.sync_all().and_then(|()| {
            drop(file);
            fs::rename(&self.tmp, &self.target)
        });
        done.map_err(|e| format!("cannot write {}: {e}", self.target.display()))
    }

    /// Writes all of `bytes` and commits.
    pub fn write_all(target: &Path, inputs: &[&Path], bytes: &[u8]) -> Result<(), String> {
        let mut out = AtomicFile::create(target, inputs)?;
        out.file().write_all(bytes).map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        out.commit()
    }
}

impl Drop for AtomicFile {
    /// Not committed (an error, a panic): the temp file goes.
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("memwatch-output-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn leftovers(d: &Path) -> Vec<String> {
        fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).filter(|n| n.ends_with(".partial")).collect()
    }

    #[test]
    fn writes_privately_and_replaces_a_planted_link_instead_of_following_it() {
        let d = dir("link");
        let victim = d.join("victim");
        fs::write(&victim, "precious").unwrap();
        let out = d.join("report.html");
        std::os::unix::fs::symlink(&victim, &out).unwrap();
        AtomicFile::write_all(&out, &[], b"report").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert!(!fs::symlink_metadata(&out).unwrap().file_type().is_symlink());
        assert_eq!(fs::read_to_string(&out).unwrap(), "report");
        assert_eq!(fs::metadata(&out).unwrap().mode() & 0o777, 0o600);
        assert!(leftovers(&d).is_empty());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn refuses_an_input_and_a_directory_and_leaves_nothing() {
        let d = dir("input");
        let input = d.join("a.heapsnapshot");
        fs::write(&input, "{}").unwrap();
        let hard = d.join("same-inode");
        fs::hard_link(&input, &hard).unwrap();
        let e = AtomicFile::write_all(&hard, &[&input], b"x").unwrap_err();
        assert!(e.contains("it is the input") && e.contains("same-inode"), "{e}");
        assert_eq!(fs::read_to_string(&input).unwrap(), "{}");
        let e = AtomicFile::write_all(&d, &[], b"x").unwrap_err();
        assert!(e.contains("it is a directory"), "{e}");
        assert!(leftovers(&d).is_empty());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn an_uncommitted_file_is_removed_and_stale_temp_files_do_not_block() {
        let d = dir("stale");
        let out = d.join("x.heapsnapshot");
        // What a killed process left: an old-style predictable name, and a random one.
        fs::write(d.join(format!(".x.heapsnapshot.{}.partial", std::process::id())), "").unwrap();
        {
            let mut f = AtomicFile::create(&out, &[]).unwrap();
            f.file().write_all(b"half").unwrap();
        }
        assert_eq!(leftovers(&d).len(), 1, "only the stale one");
        AtomicFile::write_all(&out, &[], b"whole").unwrap();
        assert_eq!(fs::read_to_string(&out).unwrap(), "whole");
        fs::remove_dir_all(&d).unwrap();
    }
}
