//! The configuration file: JSON, loaded at start, saved atomically after every change.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Config, ConfigError};

/// Distinguishes temp files written concurrently by one process.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Config {
    /// Reads the configuration from `path`.  A missing file is an empty
    /// configuration (first start); an unreadable or corrupt file is an
    /// error naming the file.  Does not validate: call [`Config::validate`].
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        serde_json::from_slice(&bytes).map_err(|source| ConfigError::Corrupt {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Writes the configuration to `path` atomically: a temp file in the
    /// same directory is written and fsynced, renamed over `path`, and the
    /// directory is fsynced.  A crash at any moment leaves either the old
    /// or the new file, both loadable.  Creates the parent directory (mode
    /// 0700) if missing; the file is mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let werr = |p: &Path| {
            let p = p.to_path_buf();
            move |source| ConfigError::Write { path: p, source }
        };
        let file_name = path
            .file_name()
            .ok_or_else(|| ConfigError::Write {
                path: path.to_path_buf(),
                source: io::Error::new(io::ErrorKind::InvalidInput, "not a file path"),
            })?
            .to_string_lossy()
            .into_owned();
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(werr(&dir))?;
        }

        let mut json = serde_json::to_vec_pretty(self).map_err(|e| ConfigError::Write {
            path: path.to_path_buf(),
            source: io::Error::other(e),
        })?;
        json.push(b'\n');

        let tmp = dir.join(format!(
            ".{file_name}.tmp.{}.{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let write_tmp = || -> io::Result<()> {
            // A stale temp file can only be left by a crashed process that
            // had our pid; it is garbage.
            let _ = fs::remove_file(&tmp);
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()
        };
        if let Err(e) = write_tmp() {
            let _ = fs::remove_file(&tmp);
            return Err(werr(&tmp)(e));
        }
        if let Err(e) = fs::rename(&tmp, path) {
            let _ = fs::remove_file(&tmp);
            return Err(werr(path)(e));
        }
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(werr(&dir))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{config_with, gre};

    /// A unique temp dir, removed on drop.
    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let p = std::env::temp_dir().join(format!(
                "grebe-config-test-{tag}-{}-{}",
                std::process::id(),
                TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&p);
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn save_load_round_trip() {
        let dir = TempDir::new("roundtrip");
        let path = dir.0.join("sub").join("grebe.db");
        // Missing file: empty config.
        assert_eq!(Config::load(&path).unwrap(), Config::default());
        let mut c = config_with("gre0", gre(&[("remote_ip", "192.0.2.15"), ("key", "5")]));
        c.bridges
            .get_mut("br-int")
            .unwrap()
            .other_config
            .insert("mac-aging-time".into(), "60".into());
        c.bridges
            .get_mut("br-int")
            .unwrap()
            .ports
            .get_mut("gre0")
            .unwrap()
            .mtu_request = Some(1400);
        c.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), c);
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Overwrite; no temp files remain.
        c.bridges.remove("br-int");
        c.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), c);
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("grebe.db")]);
    }

    #[test]
    fn load_corrupt_file_is_a_clear_error() {
        let dir = TempDir::new("corrupt");
        fs::create_dir_all(&dir.0).unwrap();
        let path = dir.0.join("grebe.db");
        fs::write(&path, b"{\"bridges\": {\"br-int\": ").unwrap();
        let e = Config::load(&path).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, ConfigError::Corrupt { .. }));
        assert!(
            msg.starts_with(&format!(
                "configuration file {} is corrupt: EOF while parsing",
                path.display()
            )),
            "{msg}"
        );
        assert!(msg.contains("--reset-config"), "{msg}");
        fs::write(
            &path,
            b"{\"bridges\": {\"br-int\": {\"ports\": {\"x\": {\"type\": \"vxlan\"}}}}}",
        )
        .unwrap();
        assert!(
            Config::load(&path)
                .unwrap_err()
                .to_string()
                .contains("unknown variant `vxlan`")
        );
        // A directory where the file should be: unreadable.
        let e = Config::load(&dir.0).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }), "{e}");
        assert!(e.to_string().starts_with("cannot read configuration file "));
    }
}
