//! The Port VLAN columns `tag`, `trunks` and `vlan_mode`: stored, read back, refused with
//! ovsdb's constraint messages when out of range.

use crate::*;

fn with_port() -> Config {
    let mut c = seed();
    ok(&mut c, &["add-port", "br-int", "vnet0"]);
    c
}

#[test]
fn set_get_remove_clear() {
    let mut c = with_port();
    assert_eq!(
        ok(
            &mut c,
            &["get", "port", "vnet0", "tag", "trunks", "vlan_mode"]
        ),
        "[]\n[]\n[]\n"
    );
    ok(&mut c, &["set", "port", "vnet0", "tag=10"]);
    ok(&mut c, &["set", "port", "vnet0", "trunks=[30, 10, 20]"]);
    ok(&mut c, &["set", "port", "vnet0", "vlan_mode=native-tagged"]);
    let i = &c.bridges["br-int"].ports["vnet0"];
    assert_eq!(
        (i.tag, i.trunks.clone(), i.vlan_mode),
        (Some(10), [10, 20, 30].into(), Some(VlanMode::NativeTagged))
    );
    assert_eq!(
        ok(
            &mut c,
            &["get", "port", "vnet0", "tag", "trunks", "vlan_mode"]
        ),
        "10\n[10, 20, 30]\nnative-tagged\n"
    );
    // remove takes values out; a value the column lacks is no error.
    ok(&mut c, &["remove", "port", "vnet0", "trunks", "20", "99"]);
    assert_eq!(
        ok(&mut c, &["get", "port", "vnet0", "trunks"]),
        "[10, 30]\n"
    );
    ok(&mut c, &["remove", "port", "vnet0", "tag", "11"]);
    assert_eq!(c.bridges["br-int"].ports["vnet0"].tag, Some(10));
    ok(&mut c, &["remove", "port", "vnet0", "tag", "10"]);
    assert_eq!(c.bridges["br-int"].ports["vnet0"].tag, None);
    ok(&mut c, &["add", "port", "vnet0", "trunks", "40", "50"]);
    assert_eq!(
        c.bridges["br-int"].ports["vnet0"].trunks,
        [10, 30, 40, 50].into()
    );
    ok(&mut c, &["clear", "port", "vnet0", "trunks", "vlan_mode"]);
    let i = &c.bridges["br-int"].ports["vnet0"];
    assert!(i.trunks.is_empty() && i.vlan_mode.is_none());
    // --if-exists on a missing port does nothing.
    assert_eq!(
        vs(&mut c, &["--if-exists", "clear", "Port", "vnet9", "tag"]),
        Outcome::default()
    );
    // VID 0 and 4095 are in range; tag=0 is a value, not "no tag".
    ok(&mut c, &["set", "port", "vnet0", "tag=0", "trunks=4095"]);
    assert_eq!(c.bridges["br-int"].ports["vnet0"].tag, Some(0));
    assert!(
        ok(&mut c, &["show"])
            .contains("        Port vnet0\n            tag: 0\n            trunks: [4095]\n")
    );
}

#[test]
fn add_port_with_vlan_settings() {
    let mut c = seed();
    ok(&mut c, &["add-port", "br-int", "p1", "tag=10"]);
    ok(&mut c, &["add-port", "br-int", "p2", "trunk=10,20"]);
    ok(
        &mut c,
        &["add-port", "br-int", "p3", "vlan_mode=access", "tag=3"],
    );
    ok(
        &mut c,
        &["add-port", "br-int", "p4", "vlan-mode=trunk", "trunks=[]"],
    );
    let p = &c.bridges["br-int"].ports;
    assert_eq!(p["p1"].tag, Some(10));
    assert_eq!(p["p2"].trunks, [10, 20].into());
    assert_eq!(
        (p["p3"].vlan_mode, p["p3"].tag),
        (Some(VlanMode::Access), Some(3))
    );
    assert_eq!(p["p4"].vlan_mode, Some(VlanMode::Trunk));
    // Only in the Port table, as in OVS.
    err(
        &mut c,
        &["set", "interface", "p1", "tag=5"],
        "Interface does not contain a column whose name matches \"tag\"",
    );
}

#[test]
fn bad_values_are_refused_and_nothing_changes() {
    let mut c = with_port();
    ok(&mut c, &["set", "port", "vnet0", "tag=7"]);
    let range = |n: &str| {
        format!("constraint violation: {n} is not in the valid range 0 to 4095 (inclusive)")
    };
    let table: &[(&[&str], String)] = &[
        (&["set", "port", "vnet0", "tag=4096"], range("4096")),
        (&["set", "port", "vnet0", "tag=-1"], range("-1")),
        (&["set", "port", "vnet0", "trunks=10,5000"], range("5000")),
        (&["add", "port", "vnet0", "trunks", "4096"], range("4096")),
        (&["add-port", "br-int", "vnet1", "tag=9999"], range("9999")),
        (
            &["set", "port", "vnet0", "tag=abc"],
            "\"abc\" is not a valid integer or range".into(),
        ),
        (
            &["set", "port", "vnet0", "tag=1,2"],
            "1,2: 2 value(s) specified but the maximum number is 1".into(),
        ),
        (
            &["set", "port", "vnet0", "vlan_mode=bogus"],
            "constraint violation: bogus is not one of the allowed values ([access, \
             dot1q-tunnel, native-tagged, native-untagged, trunk])"
                .into(),
        ),
        (
            &["set", "port", "vnet0", "vlan_mode=\"a b\""],
            "constraint violation: \"a b\" is not one of the allowed values ([access, \
             dot1q-tunnel, native-tagged, native-untagged, trunk])"
                .into(),
        ),
        (
            &["set", "port", "vnet0", "tag:x=1"],
            "cannot specify key to set for non-map column tag".into(),
        ),
    ];
    for (a, msg) in table {
        err(&mut c, a, msg);
    }
    assert_eq!(c.bridge_of_port("vnet1"), None);
    assert_eq!(c.bridges["br-int"].ports["vnet0"].tag, Some(7));
}

/// What OVS 3.1's ovs-vsctl prints for VLAN ids out of range, garbage in `trunks` and bad
/// `vlan_mode` values, in every form a client writes them (run against a scratch
/// ovsdb-server): each refused, the configuration unchanged.
#[test]
fn out_of_range_and_garbage_vlans_are_refused_with_ovs_vsctl_s_messages() {
    let mut c = with_port();
    ok(&mut c, &["set", "port", "vnet0", "tag=7", "trunks=7,8"]);
    let range = |n: &str| {
        format!("constraint violation: {n} is not in the valid range 0 to 4095 (inclusive)")
    };
    let not_int = |v: &str| format!("\"{v}\" is not a valid integer or range");
    let bad_mode = "constraint violation: bogus is not one of the allowed values ([access, \
                    dot1q-tunnel, native-tagged, native-untagged, trunk])";
    let table: &[(&[&str], String)] = &[
        (&["set", "port", "vnet0", "trunks=4096"], range("4096")),
        (&["set", "port", "vnet0", "trunks=1,4096"], range("4096")),
        (&["set", "port", "vnet0", "trunks=-1"], range("-1")),
        (&["set", "port", "vnet0", "trunk=4096"], range("4096")),
        (&["set", "port", "vnet0", "trunks=abc"], not_int("abc")),
        (&["set", "port", "vnet0", "trunks=[1,x]"], not_int("x")),
        (&["add", "port", "vnet0", "trunks", "x"], not_int("x")),
        (&["set", "port", "vnet0", "tag=1.5"], not_int("1.5")),
        (
            &["set", "port", "vnet0", "trunks=[1,2"],
            "[1,2: missing \"]\" at end of data".into(),
        ),
        (&["add-port", "br-int", "p2", "tag=4096"], range("4096")),
        (&["add-port", "br-int", "p2", "tag=-1"], range("-1")),
        (&["add-port", "br-int", "p2", "trunks=4096"], range("4096")),
        (&["add-port", "br-int", "p2", "trunks=abc"], not_int("abc")),
        (&["add-port", "br-int", "p2", "trunk=[1,x]"], not_int("x")),
        (
            &["add-port", "br-int", "p2", "vlan_mode=bogus"],
            bad_mode.into(),
        ),
        (
            &["set", "port", "vnet0", "vlan-mode=bogus"],
            bad_mode.into(),
        ),
        (
            &["add-port", "br-int", "vnet0"],
            "cannot create a port named vnet0 because a port named vnet0 already exists on \
             bridge br-int"
                .into(),
        ),
        (
            &["add-port", "br-int", "gre0", "tag=10"],
            "cannot create a port named gre0 because a port named gre0 already exists on \
             bridge br-int"
                .into(),
        ),
    ];
    for (a, msg) in table {
        err(&mut c, a, msg);
    }
    // As OVS: --may-exist on a port that exists ignores the settings, even bad ones.
    let before = c.clone();
    let o = vs(
        &mut c,
        &[
            "--",
            "--may-exist",
            "add-port",
            "br-int",
            "vnet0",
            "tag=4096",
        ],
    );
    assert_eq!(o, Outcome::default());
    assert_eq!(c, before);
    assert_eq!(c.bridge_of_port("p2"), None);
    let i = &c.bridges["br-int"].ports["vnet0"];
    assert_eq!((i.tag, i.trunks.clone()), (Some(7), [7, 8].into()));
}

/// Integer ranges, as ovsdb reads a set's elements (`trunks=10-20`, `[1,5-7]`, and in `add`
/// and `remove`), with OVS 3.1's messages for bad ones.
#[test]
fn trunks_take_integer_ranges_as_ovs_vsctl_does() {
    let mut c = with_port();
    let trunks = |c: &mut Config| ok(c, &["get", "port", "vnet0", "trunks"]);
    ok(&mut c, &["set", "port", "vnet0", "trunks=10-20"]);
    assert_eq!(
        trunks(&mut c),
        "[10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]\n"
    );
    ok(&mut c, &["set", "port", "vnet0", "trunks=[1,5-7]"]);
    assert_eq!(trunks(&mut c), "[1, 5, 6, 7]\n");
    ok(&mut c, &["set", "port", "vnet0", "trunks=5-5"]);
    assert_eq!(trunks(&mut c), "[5]\n");
    ok(&mut c, &["add", "port", "vnet0", "trunks", "9-11"]);
    assert_eq!(trunks(&mut c), "[5, 9, 10, 11]\n");
    ok(&mut c, &["remove", "port", "vnet0", "trunks", "9-10"]);
    assert_eq!(trunks(&mut c), "[5, 11]\n");
    ok(&mut c, &["set", "port", "vnet0", "trunks=1-+3"]);
    assert_eq!(trunks(&mut c), "[1, 2, 3]\n");
    ok(&mut c, &["set", "port", "vnet0", "trunks=0-4095"]);
    assert_eq!(c.bridges["br-int"].ports["vnet0"].trunks.len(), 4096);
    ok(&mut c, &["set", "port", "vnet0", "trunks=7,8"]);

    let range = |n: &str| {
        format!("constraint violation: {n} is not in the valid range 0 to 4095 (inclusive)")
    };
    let backwards =
        |r: &str| format!("\"{r}\" is not a valid range. Range end cannot be before start.");
    let not_int = |v: &str| format!("\"{v}\" is not a valid integer or range");
    let table: &[(&[&str], String)] = &[
        (&["set", "port", "vnet0", "trunks=7-5"], backwards("7-5")),
        (&["set", "port", "vnet0", "trunks=1--3"], backwards("1--3")),
        (&["set", "port", "vnet0", "trunks=4090-4100"], range("4100")),
        (&["set", "port", "vnet0", "trunks=5000-6000"], range("5000")),
        (&["set", "port", "vnet0", "trunks=-5-3"], range("-5")),
        (&["set", "port", "vnet0", "trunks=-3"], range("-3")),
        (&["set", "port", "vnet0", "trunks=1-"], not_int("1-")),
        (
            &["set", "port", "vnet0", "trunks=[1-2-3]"],
            not_int("1-2-3"),
        ),
        (&["set", "port", "vnet0", "trunks=0x1-3"], not_int("0x1-3")),
        (
            &["set", "port", "vnet0", "trunks=[1-3,2-4]"],
            "[1-3,2-4]: set contains duplicate value".into(),
        ),
        (
            &["set", "port", "vnet0", "tag=3-4"],
            "3-4: 2 value(s) specified but the maximum number is 1".into(),
        ),
        (
            &["set", "port", "vnet0", "tag=-0-5"],
            "-0-5: 6 value(s) specified but the maximum number is 1".into(),
        ),
        (
            &["set", "interface", "vnet0", "mtu_request=1-5000"],
            "constraint violation: Range \"1-5000\" is too big. Maximum allowed size is 4096."
                .into(),
        ),
        (
            &["set", "interface", "vnet0", "mtu_request=0-2"],
            "constraint violation: 0 is less than minimum allowed value 1".into(),
        ),
    ];
    for (a, msg) in table {
        err(&mut c, a, msg);
    }
    assert_eq!(c.bridges["br-int"].ports["vnet0"].trunks, [7, 8].into());
}

/// Configuration files written before the VLAN columns load; files without VLANs look as
/// before.
#[test]
fn vlan_columns_in_the_configuration_file() {
    let old = r#"{"bridges":{"br-int":{"ports":{"br-int":{"type":"internal"},"vnet0":{}}}}}"#;
    let mut c: Config = serde_json::from_str(old).unwrap();
    c.validate().unwrap();
    assert_eq!(c.bridges["br-int"].ports["vnet0"], Interface::default());
    let plain = serde_json::to_string(&c).unwrap();
    assert!(!plain.contains("tag") && !plain.contains("trunks") && !plain.contains("vlan_mode"));
    ok(
        &mut c,
        &[
            "set",
            "port",
            "vnet0",
            "tag=5",
            "trunks=5,6",
            "vlan_mode=native-untagged",
        ],
    );
    let v: serde_json::Value = serde_json::to_value(&c).unwrap();
    let p = &v["bridges"]["br-int"]["ports"]["vnet0"];
    assert_eq!(p["tag"], 5);
    assert_eq!(p["trunks"], serde_json::json!([5, 6]));
    assert_eq!(p["vlan_mode"], "native-untagged");
    let back: Config = serde_json::from_value(v).unwrap();
    assert_eq!(back, c);
    // A hand-edited VLAN out of range is refused by validation.
    let mut bad = c.clone();
    bad.bridges
        .get_mut("br-int")
        .unwrap()
        .ports
        .get_mut("vnet0")
        .unwrap()
        .tag = Some(4096);
    assert_eq!(
        bad.validate().unwrap_err().to_string(),
        "interface vnet0: VLAN 4096 in tag or trunks is outside 0..=4095 (ovs-vsctl clear port \
         vnet0 tag trunks)"
    );
}
