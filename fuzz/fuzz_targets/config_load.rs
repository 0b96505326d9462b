//! The configuration file loader fed any file: an error naming the file, or a configuration;
//! a loaded one saved and loaded again is the same, and one that validates can be shown and
//! listed by ovs-vsctl.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vswitch::Config;
use vswitch::config::ConfigError;
use vswitch::vsctl::{NoLiveState, run};

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("grebe-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

fuzz_target!(|bytes: &[u8]| {
    let path = dir().join("grebe.db");
    std::fs::write(&path, bytes).unwrap();
    let config = match Config::load(&path) {
        Ok(config) => config,
        Err(e) => {
            assert!(matches!(e, ConfigError::Corrupt { .. }), "{e}");
            assert!(e.to_string().contains(&path.display().to_string()), "{e}");
            return;
        }
    };
    // `save` fsyncs, far too slow per input; this is the same encoding.
    let mut json = serde_json::to_vec_pretty(&config).unwrap();
    json.push(b'\n');
    std::fs::write(&path, &json).unwrap();
    assert_eq!(Config::load(&path).unwrap(), config, "save/load round trip");
    if config.validate().is_ok() {
        for command in [&["show"][..], &["list", "Interface"], &["list-br"]] {
            let args: Vec<String> = command.iter().map(|s| s.to_string()).collect();
            let mut c = config.clone();
            let out = run(&mut c, &args, &NoLiveState);
            assert_eq!(
                out.exit_code, 0,
                "{command:?} on a valid configuration: {}",
                out.stderr
            );
            assert_eq!(c, config);
        }
    }
});
