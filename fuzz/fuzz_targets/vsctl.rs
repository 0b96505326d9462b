//! The ovs-vsctl language: up to eight command lines (input lines, arguments split at spaces)
//! run one after another against a bridge with a tunnel and an access port. After each: a
//! failure changed nothing and printed nothing on stdout; a success that changed the
//! configuration left one that validates and comes back the same through its JSON file format.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vswitch::Config;
use vswitch::vsctl::{NoLiveState, run};

fn start() -> Config {
    let mut config = Config::default();
    for line in [
        "add-br br-int",
        "add-port br-int gre0 -- set interface gre0 type=gre options:remote_ip=192.0.2.2 options:key=7",
        "add-port br-int p1 tag=10 -- set interface p1 type=internal",
    ] {
        let args: Vec<String> = line.split(' ').map(String::from).collect();
        let out = run(&mut config, &args, &NoLiveState);
        assert_eq!(out.exit_code, 0, "{line}: {}", out.stderr);
    }
    config
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut config = start();
    for line in text.split('\n').take(8) {
        let args: Vec<String> = line.split(' ').map(String::from).collect();
        let before = config.clone();
        let out = run(&mut config, &args, &NoLiveState);
        if out.exit_code != 0 {
            assert_eq!(
                config, before,
                "a failed command line changed the configuration"
            );
            assert!(!out.changed);
            assert!(out.stdout.is_empty(), "a failure printed: {}", out.stdout);
            continue;
        }
        assert_eq!(out.changed, config != before, "`changed` is wrong");
        if out.changed {
            if let Err(e) = config.validate() {
                panic!("{args:?} left a configuration that does not validate: {e}");
            }
            let json = serde_json::to_vec_pretty(&config).unwrap();
            let back: Config = serde_json::from_slice(&json).expect("the saved JSON loads");
            assert_eq!(
                back, config,
                "the configuration does not round-trip through JSON"
            );
        }
    }
});
