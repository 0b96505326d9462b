//! What the commands print: `show`, `list`, `get`, string quoting, `--oneline`, live columns.

use crate::*;

#[test]
fn show_matches_ovs_layout() {
    let mut c = seed();
    // Byte for byte what ovs-vsctl 3.1 prints for the seed, but for the
    // first line (OVS: the Open_vSwitch record's UUID).
    let want = format!(
        "{SHOW_ID}\n    Bridge br-int\n        Port br-int\n            Interface br-int\n                type: internal\n        Port gre0\n            Interface gre0\n                type: gre\n                options: {{remote_ip=\"192.0.2.15\"}}\n        Port mgmt0\n            Interface mgmt0\n                type: internal\n"
    );
    assert_eq!(ok(&mut c, &["show"]), want);

    // Live errors, system ports (no type line), names needing quotes.
    let mut live = FakeLive::default();
    live.errors.insert(
        "mgmt0".into(),
        "could not open network device mgmt0 (No such device)".into(),
    );
    ok(
        &mut c,
        &[
            "add-port",
            "br-int",
            "eth1",
            "--",
            "set",
            "interface",
            "gre0",
            "options:key=5",
        ],
    );
    let out = vs_live(&mut c, &live, &["show"]).stdout;
    assert!(
        out.contains("        Port eth1\n            Interface eth1\n        Port gre0\n"),
        "{out}"
    );
    assert!(
        out.contains("                options: {key=\"5\", remote_ip=\"192.0.2.15\"}\n"),
        "{out}"
    );
    assert!(out.ends_with(
        "            Interface mgmt0\n                type: internal\n                error: \"could not open network device mgmt0 (No such device)\"\n"
    ), "{out}");

    // A gre port without remote_ip shows the configuration's error.
    ok(
        &mut c,
        &[
            "add-port",
            "br-int",
            "gre1",
            "--",
            "set",
            "interface",
            "gre1",
            "type=gre",
        ],
    );
    let out = ok(&mut c, &["show"]);
    assert!(out.contains(
        "            Interface gre1\n                type: gre\n                error: \"interface gre1: options:remote_ip is required for type=gre"
    ), "{out}");
    assert_eq!(
        ok(&mut c, &["get", "interface", "gre1", "error"]),
        "\"interface gre1: options:remote_ip is required for type=gre (ovs-vsctl set interface gre1 options:remote_ip=192.0.2.15, with the remote host's IPv4 address)\"\n"
    );

    let mut empty = Config::default();
    assert_eq!(ok(&mut empty, &["show"]), format!("{SHOW_ID}\n"));
}

#[test]
fn string_quoting_matches_ovs() {
    let mut c = seed();
    ok(
        &mut c,
        &[
            "set",
            "interface",
            "gre0",
            "external_ids:a=b c",
            "external_ids:n=12",
            "external_ids:t=true",
            "external_ids:u=a\"b",
            "external_ids:e=\"\"",
            "external_ids:x=br0",
            "external_ids:y=_a.b-c",
            "external_ids:z=é",
            "external_ids:w=\"tab\\there\"",
            "external_ids:\"k y\"=1",
            "external_ids:uu=d6183702-b6c1-478a-b838-6b49b5a5c50f",
            "external_ids:\"a!b\"=c",
        ],
    );
    // ovs-vsctl 3.1's output for the same settings (plus "a!b"=c).
    assert_eq!(
        ok(&mut c, &["get", "interface", "gre0", "external_ids"]),
        "{a=\"b c\", \"a!b\"=c, e=\"\", \"k y\"=\"1\", n=\"12\", t=\"true\", u=\"a\\\"b\", uu=\"d6183702-b6c1-478a-b838-6b49b5a5c50f\", w=\"tab\\there\", x=br0, y=_a.b-c, z=\"é\"}\n"
    );
    assert_eq!(
        ok(
            &mut c,
            &["get", "interface", "gre0", "external_ids:\"a!b\""]
        ),
        "c\n"
    );
    assert_eq!(
        c.bridges["br-int"].ports["gre0"].external_ids["w"],
        "tab\there"
    );
    assert_eq!(c.bridges["br-int"].ports["gre0"].external_ids["e"], "");
    // map syntax without braces, and \u escapes.
    ok(
        &mut c,
        &["set", "interface", "gre0", "other_config=a=b c=d"],
    );
    assert_eq!(
        ok(&mut c, &["get", "interface", "gre0", "other_config"]),
        "{a=b, c=d}\n"
    );
    ok(
        &mut c,
        &[
            "set",
            "interface",
            "gre0",
            "other_config:s=\"\\u00e9\\ud83d\\ude00\\n\"",
        ],
    );
    assert_eq!(c.bridges["br-int"].ports["gre0"].other_config["s"], "é😀\n");
    assert_eq!(
        ok(&mut c, &["get", "interface", "gre0", "other_config:s"]),
        "\"é😀\\n\"\n"
    );
    ok(
        &mut c,
        &["set", "interface", "gre0", "other_config:ctl=\"\\u0001\""],
    );
    assert_eq!(
        ok(&mut c, &["get", "interface", "gre0", "other_config:ctl"]),
        "\"\\u0001\"\n"
    );
}

#[test]
fn live_columns() {
    let mut c = seed();
    let mut live = FakeLive::default();
    live.stats.insert(
        "gre0".into(),
        vec![
            ("rx_bytes".into(), 5),
            ("collisions".into(), 0),
            ("tx_packets".into(), u64::MAX),
        ],
    );
    live.mtu.insert("gre0".into(), 1462);
    live.ofport.insert("gre0".into(), 3);
    live.errors.insert("gre0".into(), "some error: x".into());
    let o = vs_live(
        &mut c,
        &live,
        &[
            "get",
            "Interface",
            "gre0",
            "statistics",
            "mtu",
            "ofport",
            "error",
            "statistics:rx_bytes",
        ],
    );
    assert_eq!(
        o.stdout,
        format!(
            "{{collisions=0, rx_bytes=5, tx_packets={}}}\n1462\n3\n\"some error: x\"\n5\n",
            i64::MAX
        )
    );
    assert!(!o.changed);
    let o = vs_live(&mut c, &live, &["get", "port", "gre0", "statistics"]);
    assert!(o.stdout.starts_with("{collisions=0"));
}

#[test]
fn oneline_output() {
    let mut c = seed();
    let o = vs(&mut c, &["--oneline", "add-br", "x", "--", "list-br"]);
    assert_eq!(o.stdout, "\nbr-int\\nx\n");
    assert_eq!(ok(&mut c, &["--oneline", "list-ports", "x"]), "\n");
    assert_eq!(
        ok(&mut c, &["--oneline", "br-exists", "x", "--", "list-br"]),
        "\nbr-int\\nx\n"
    );
    assert_eq!(
        ok(
            &mut c,
            &["--oneline", "get", "interface", "gre0", "options", "type"]
        ),
        "{remote_ip=\"192.0.2.15\"}\\ngre\n"
    );
    ok(
        &mut c,
        &["set", "interface", "gre0", "other_config:bs=\"a\\\\b\""],
    );
    assert_eq!(
        ok(
            &mut c,
            &["--oneline", "get", "interface", "gre0", "other_config:bs"]
        ),
        "\"a\\\\\\\\b\"\n"
    );
    let show = ok(&mut c, &["--oneline", "show"]);
    assert_eq!(show.matches('\n').count(), 1);
    assert!(show.starts_with(&format!("{SHOW_ID}\\n    Bridge br-int\\n")));
}

#[test]
fn list_command() {
    let mut c = seed();
    assert_eq!(
        ok(
            &mut c,
            &["--columns=name,type,options", "list", "interface", "gre0"]
        ),
        "name                : gre0\ntype                : gre\noptions             : {remote_ip=\"192.0.2.15\"}\n"
    );
    assert_eq!(
        ok(
            &mut c,
            &["--bare", "--columns=name,options", "list", "interface"]
        ),
        "br-int\n\n\ngre0\nremote_ip=192.0.2.15\n\nmgmt0\n\n"
    );
    assert_eq!(
        ok(
            &mut c,
            &[
                "--no-headings",
                "--columns=name,options",
                "list",
                "interface",
                "gre0"
            ]
        ),
        "gre0\n{remote_ip=\"192.0.2.15\"}\n"
    );
    assert_eq!(
        ok(&mut c, &["--columns=name", "list", "bridge"]),
        "name                : br-int\n"
    );
    assert_eq!(
        ok(
            &mut c,
            &["--bare", "--columns=ports", "list", "bridge", "br-int"]
        ),
        "br-int gre0 mgmt0\n"
    );
    let all = ok(&mut c, &["list", "interface", "mgmt0"]);
    assert_eq!(
        all,
        "admin_state         : []\nerror               : []\nexternal_ids        : {}\nlink_state          : []\nmac_in_use          : []\nmtu                 : []\nmtu_request         : []\nname                : mgmt0\nofport              : []\noptions             : {}\nother_config        : {}\nstatistics          : {}\ntype                : internal\n"
    );
    assert_eq!(
        ok(&mut c, &["--format=list", "list", "open_vswitch"]),
        "bridges             : [br-int]\n"
    );
}
