//! Command lines as transactions: `--` chains all or nothing, `--dry-run`, `--may-exist`,
//! `--if-exists`, the global options and the exit codes.

use crate::*;

#[test]
fn chain_is_all_or_nothing() {
    let mut c = seed();
    let before = serde_json::to_vec_pretty(&c).unwrap();
    err(
        &mut c,
        &[
            "add-br",
            "br1",
            "--",
            "add-port",
            "br1",
            "p1",
            "--",
            "set",
            "interface",
            "gre0",
            "options:key=7",
            "--",
            "list-br",
            "--",
            "del-br",
            "nope",
        ],
        "no bridge named nope",
    );
    assert_eq!(serde_json::to_vec_pretty(&c).unwrap(), before);
    // A chain whose result fails validation is rejected as a whole too.
    err(
        &mut c,
        &[
            "add-br",
            "br1",
            "--",
            "set",
            "interface",
            "gre0",
            "options:ttl=300",
        ],
        "interface gre0: options:ttl=300 is not a TTL from 1 to 255 (ovs-vsctl set interface gre0 options:ttl=64)",
    );
    assert_eq!(serde_json::to_vec_pretty(&c).unwrap(), before);
    // And the same chain without the bad command applies entirely.
    let o = vs(
        &mut c,
        &[
            "add-br",
            "br1",
            "--",
            "add-port",
            "br1",
            "p1",
            "--",
            "set",
            "interface",
            "gre0",
            "options:key=7",
            "--",
            "list-br",
        ],
    );
    assert_eq!(o.stdout, "br-int\nbr1\n");
    assert!(o.changed);
    assert_eq!(c.bridge_of_port("p1"), Some("br1"));
    assert_eq!(c.bridges["br-int"].ports["gre0"].options["key"], "7");
}

#[test]
fn br_exists_exits_2_without_output_or_changes() {
    let mut c = seed();
    assert_eq!(vs(&mut c, &["br-exists", "br-int"]), Outcome::default());
    let want = Outcome {
        exit_code: 2,
        ..Outcome::default()
    };
    assert_eq!(vs(&mut c, &["br-exists", "br0"]), want);
    // As in ovs-vsctl, the exit is immediate: earlier commands are
    // neither printed nor committed.
    let before = c.clone();
    assert_eq!(
        vs(
            &mut c,
            &["list-br", "--", "add-br", "foo", "--", "br-exists", "nope"]
        ),
        want
    );
    assert_eq!(c, before);
}

#[test]
fn may_exist_and_if_exists() {
    let mut c = seed();
    assert_eq!(
        vs(&mut c, &["--may-exist", "add-br", "br-int"]),
        Outcome::default()
    );
    assert_eq!(
        vs(&mut c, &["--", "--may-exist", "add-br", "br-int"]),
        Outcome::default()
    );
    // --may-exist add-port on the same bridge: nothing, settings ignored (as OVS).
    assert_eq!(
        vs(
            &mut c,
            &[
                "--may-exist",
                "add-port",
                "br-int",
                "gre0",
                "other_config:x=y"
            ]
        ),
        Outcome::default()
    );
    assert!(c.bridges["br-int"].ports["gre0"].other_config.is_empty());
    assert_eq!(
        vs(&mut c, &["--if-exists", "del-br", "br0"]),
        Outcome::default()
    );
    assert_eq!(
        vs(&mut c, &["--if-exists", "del-port", "x"]),
        Outcome::default()
    );
    assert_eq!(
        vs(&mut c, &["--if-exists", "del-port", "br9", "nope"]),
        Outcome::default()
    );
    assert_eq!(
        vs(&mut c, &["--if-exists", "del-port", "br-int"]),
        Outcome::default()
    );
    assert_eq!(
        vs(
            &mut c,
            &["--if-exists", "set", "interface", "nope", "type=gre"]
        ),
        Outcome::default()
    );
    assert_eq!(
        vs(
            &mut c,
            &["--if-exists", "remove", "interface", "nope", "options", "a"]
        ),
        Outcome::default()
    );
    assert_eq!(
        vs(
            &mut c,
            &["--if-exists", "clear", "interface", "nope", "options"]
        ),
        Outcome::default()
    );
    assert_eq!(
        vs(
            &mut c,
            &["--if-exists", "get", "interface", "nope", "options"]
        ),
        Outcome::default()
    );
    // A missing key with --if-exists prints an empty line.
    assert_eq!(
        ok(
            &mut c,
            &["--if-exists", "get", "interface", "gre0", "options:key"]
        ),
        "\n"
    );
    assert_eq!(
        ok(
            &mut c,
            &[
                "--if-exists",
                "get",
                "interface",
                "gre0",
                "options:key",
                "--",
                "get",
                "interface",
                "gre0",
                "type"
            ]
        ),
        "\ngre\n"
    );
    assert_eq!(
        ok(
            &mut c,
            &[
                "--if-exists",
                "--columns=name",
                "list",
                "interface",
                "nope",
                "gre0"
            ]
        ),
        "name                : gre0\n"
    );
    assert_eq!(seed(), c);
}

#[test]
fn global_options() {
    let mut c = seed();
    for a in [
        &["--db=unix:/x", "--no-wait", "-t", "5", "list-br"][..],
        &["--db", "unix:/x", "--timeout=5", "list-br"],
        &[
            "--timeout",
            "5",
            "-t5",
            "-v",
            "--verbose",
            "-vconsole:off",
            "--verbose=dbg",
            "list-br",
        ],
        &["--no-syslog", "--retry", "--format=json", "list-br"],
        &["--", "list-br", "--"],
    ] {
        assert_eq!(ok(&mut c, a), "br-int\n", "{a:?}");
    }
    // --dry-run runs everything, commits nothing.
    let o = vs(&mut c, &["--dry-run", "add-br", "zz", "--", "list-br"]);
    assert_eq!(
        o,
        Outcome {
            stdout: "br-int\nzz\n".into(),
            ..Outcome::default()
        }
    );
    assert_eq!(c, seed());
    let o = vs(&mut c, &["--version"]);
    assert!(o.stdout.starts_with("ovs-vsctl (grebe) ") && o.exit_code == 0 && !o.changed);
    let o = vs(&mut c, &["-h"]);
    assert!(o.stdout.contains("add-port BRIDGE PORT"));
}

#[test]
fn clamped_settings_are_applied_with_a_warning() {
    let mut c = seed();
    let o = vs(
        &mut c,
        &["set", "bridge", "br-int", "other_config:mac-aging-time=5"],
    );
    assert_eq!(o.exit_code, 0);
    assert!(o.changed);
    assert_eq!(
        o.stderr,
        "ovs-vsctl: warning: bridge br-int: other_config:mac-aging-time=5 is below the minimum; using 15 seconds (Open vSwitch clamps the same way)\n"
    );
    // Unrelated later changes do not repeat the warning.
    let o = vs(&mut c, &["set", "interface", "gre0", "options:key=1"]);
    assert_eq!(o.stderr, "");
}
