//! The one way memwatch-rs writes a file (snapshots, HTML reports, anything later): complete or
//! not at all, private, and never through a link someone else planted.
//!
//! The bytes go to a temp file beside the target, created exclusively (`O_CREAT|O_EXCL`, which
//! never follows a symlink, not even a dangling one) with mode 0600 under an unpredictable name,
//! then fsynced and renamed over the target (rename replaces a link at the target, it does not
//! write through it). The temp file is removed on every failure path, and a temp file left by a
//! killed process never blocks a later write (its name was random). A target that is one of the
//! inputs (same device and inode) is refused before anything is written, and so is one that
//! exists and is not a regular file (a device, a pipe, a socket, a terminal, reached directly or
//! through a link such as `/proc/self/fd/1`): renaming over `/dev/null` as root would replace the
//! device, and "writing" to `/dev/full` that way would report success. Temp files that a killed
//! process left (ours by their name, older than [`STALE_AFTER`]) are removed on the next write
//! to the directory. Errors name the path.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
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

/// A temp file of ours this old was left by a process that died while writing.
pub const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

/// Bytes of the target's name kept in the temp file's name: the rest of a name may be as long as
/// the file system allows (255), and the temp name adds 26.
const TMP_NAME_BYTES: usize = 200;

/// What a non-regular file is, for an error message.
fn kind_of(file_type: fs::FileType) -> &'static str {
    if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_fifo() {
        "a pipe"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Whether `name` is one of our temp files: `.<name>.<16 hex digits>.partial`.
fn is_our_temp(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".partial")) else {
        return false;
    };
    rest.len() > 17 && rest.as_bytes()[rest.len() - 17] == b'.' && rest[rest.len() - 16..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Removes the temp files of ours in `dir` that are older than [`STALE_AFTER`]: a process killed
/// while writing (SIGKILL, a crash) cannot remove its own. Best effort.
fn remove_stale(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = std::time::SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if !is_our_temp(name) {
            continue;
        }
        let old = entry.metadata().ok().filter(|m| m.is_file()).and_then(|m| m.modified().ok()).and_then(|t| now.duration_since(t).ok()).is_some_and(|age| age > STALE_AFTER);
        if old {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The first `max` bytes of `name`, cut at a character boundary.
fn prefix(name: &str, max: usize) -> &str {
    let mut end = name.len().min(max);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
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
            if !meta.is_file() {
                return Err(fail(format!("it is {}; memwatch-rs writes only regular files, so give the path of a file", kind_of(meta.file_type()))));
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
        remove_stale(&dir);
        let short = prefix(&name, TMP_NAME_BYTES);
        for _ in 0..16 {
            let tmp = dir.join(format!(".{short}.{:016x}.partial", random_tag()));
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
    fn refuses_devices_pipes_and_links_to_them() {
        let d = dir("device");
        for target in [Path::new("/dev/null"), Path::new("/dev/full")] {
            let e = AtomicFile::write_all(target, &[], b"x").unwrap_err();
            assert!(e.contains("it is a character device") && e.contains("only regular files"), "{e}");
        }
        let link = d.join("null-link");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        let e = AtomicFile::write_all(&link, &[], b"x").unwrap_err();
        assert!(e.contains("character device"), "{e}");
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link is left alone");
        let fifo = d.join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = AtomicFile::write_all(&fifo, &[], b"x").unwrap_err();
        assert!(e.contains("it is a pipe"), "{e}");
        assert!(leftovers(&d).is_empty());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn long_names_fit_and_only_our_old_temp_files_are_swept() {
        let d = dir("long");
        let long = d.join("n".repeat(250));
        AtomicFile::write_all(&long, &[], b"ok").unwrap();
        assert_eq!(fs::read_to_string(&long).unwrap(), "ok");
        let old_ours = d.join(".x.heapsnapshot.0123456789abcdef.partial");
        let new_ours = d.join(".y.heapsnapshot.fedcba9876543210.partial");
        let not_ours = d.join(".z.heapsnapshot.partial");
        for f in [&old_ours, &new_ours, &not_ours] {
            fs::write(f, "").unwrap();
        }
        let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        for f in [&old_ours, &not_ours] {
            File::options().write(true).open(f).unwrap().set_modified(two_hours_ago).unwrap();
        }
        AtomicFile::write_all(&d.join("out"), &[], b"x").unwrap();
        assert!(!old_ours.exists(), "a dead process's old temp file is removed");
        assert!(new_ours.exists(), "a recent one may be a live writer's");
        assert!(not_ours.exists(), "a name not ours is never touched");
        assert!(is_our_temp(".a.0123456789abcdef.partial") && !is_our_temp(".a.partial") && !is_our_temp("a.0123456789abcdef.partial"));
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
