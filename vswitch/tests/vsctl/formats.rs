//! `list` and `find` output in each `--format` and `--data`, and the global options' getopt
//! rules (unique prefixes).

use crate::*;

#[test]
fn table_format() {
    let mut c = seed();
    ok(&mut c, &["set", "port", "gre0", "tag=100"]);
    // Columns padded to the widest cell or heading; no trailing blanks.
    assert_eq!(
        ok(
            &mut c,
            &["--format=table", "--columns=name,tag,type", "list", "port"]
        ),
        "name   tag type\n------ --- --------\nbr-int []  internal\ngre0   100 gre\nmgmt0  []  internal\n"
    );
    // Without headings the width is the widest cell's.
    assert_eq!(
        ok(
            &mut c,
            &[
                "--format=table",
                "--no-headings",
                "--data=bare",
                "--columns=name,tag",
                "list",
                "port"
            ]
        ),
        "br-int\ngre0   100\nmgmt0\n"
    );
    // Two tables in one invocation are separated by a blank line.
    assert_eq!(
        ok(
            &mut c,
            &[
                "--format=table",
                "--columns=name",
                "list",
                "bridge",
                "--",
                "--columns=name",
                "find",
                "interface",
                "type=gre"
            ]
        ),
        "name\n------\nbr-int\n\nname\n----\ngre0\n"
    );
}

#[test]
fn list_json_csv_and_html_formats() {
    let mut c = seed();
    assert_eq!(
        ok(
            &mut c,
            &[
                "--format=json",
                "--columns=name,other_config,ports",
                "list",
                "bridge"
            ]
        ),
        "{\"data\":[[\"br-int\",[\"map\",[]],[\"set\",[\"br-int\",\"gre0\",\"mgmt0\"]]]],\"headings\":[\"name\",\"other_config\",\"ports\"]}\n"
    );
    assert_eq!(
        ok(
            &mut c,
            &[
                "--format=csv",
                "--columns=name,options",
                "list",
                "interface",
                "gre0"
            ]
        ),
        "name,options\ngre0,\"{remote_ip=\"\"192.0.2.15\"\"}\"\n"
    );
    assert_eq!(
        ok(
            &mut c,
            &["--format=html", "--columns=name", "list", "bridge"]
        ),
        "<table border=1>\n  <tr>\n    <th>name</th>\n  </tr>\n  <tr>\n    <td>br-int</td>\n  </tr>\n</table>\n"
    );
}

#[test]
fn data_formats_in_list_format() {
    let mut c = seed();
    ok(
        &mut c,
        &[
            "set",
            "interface",
            "gre0",
            "external_ids:a=\"x y\"",
            "other_config:n=1",
        ],
    );
    let cols = "--columns=name,options,external_ids,mtu_request,trunks";
    assert_eq!(
        ok(&mut c, &["--data=json", cols, "list", "port", "gre0"]),
        "name                : \"gre0\"\noptions             : [\"map\",[[\"remote_ip\",\"192.0.2.15\"]]]\nexternal_ids        : [\"map\",[[\"a\",\"x y\"]]]\nmtu_request         : [\"set\",[]]\ntrunks              : [\"set\",[]]\n"
    );
    assert_eq!(
        ok(
            &mut c,
            &["--data=bare", "--no-headings", cols, "list", "port", "gre0"]
        ),
        "gre0\nremote_ip=192.0.2.15\na=x y\n\n\n"
    );
    assert_eq!(
        ok(
            &mut c,
            &[
                "--data=string",
                "--no-headings",
                "--columns=external_ids",
                "list",
                "port",
                "gre0"
            ]
        ),
        "{a=\"x y\"}\n"
    );
    // --bare is list, bare, no headings, whatever came before.
    assert_eq!(
        ok(
            &mut c,
            &[
                "--format=table",
                "--bare",
                "--columns=name",
                "list",
                "bridge"
            ]
        ),
        "br-int\n"
    );
}

#[test]
fn find_conditions() {
    let mut c = seed();
    ok(
        &mut c,
        &[
            "add-port",
            "br-int",
            "p1",
            "tag=10",
            "--",
            "set",
            "interface",
            "p1",
            "mtu_request=1400",
        ],
    );
    ok(
        &mut c,
        &[
            "add-port",
            "br-int",
            "p2",
            "trunks=10,20",
            "--",
            "set",
            "interface",
            "p2",
            "mtu_request=9000",
        ],
    );
    let find = |c: &mut Config, conds: &[&str]| {
        let mut a = vec!["--bare", "--columns=name", "find", "port"];
        a.extend_from_slice(conds);
        ok(c, &a).split_whitespace().collect::<Vec<_>>().join(" ")
    };
    assert_eq!(find(&mut c, &[]), "br-int gre0 mgmt0 p1 p2");
    assert_eq!(find(&mut c, &["tag=10"]), "p1");
    assert_eq!(find(&mut c, &["tag!=10"]), "br-int gre0 mgmt0 p2");
    assert_eq!(find(&mut c, &["tag=[]"]), "br-int gre0 mgmt0 p2");
    assert_eq!(find(&mut c, &["mtu_request>1400"]), "p2");
    assert_eq!(find(&mut c, &["mtu_request>=1400"]), "p1 p2");
    assert_eq!(find(&mut c, &["mtu_request<9000", "mtu_request!=[]"]), "p1");
    assert_eq!(find(&mut c, &["trunks{>=}10"]), "p2");
    assert_eq!(
        find(&mut c, &["trunks{in}[10,20,30]"]),
        "br-int gre0 mgmt0 p1 p2"
    );
    assert_eq!(find(&mut c, &["trunks{not-in}20"]), "br-int gre0 mgmt0 p1");
    assert_eq!(find(&mut c, &["type=internal"]), "br-int mgmt0");
    assert_eq!(find(&mut c, &["options:remote_ip=192.0.2.15"]), "gre0");
    assert_eq!(find(&mut c, &["options:remote_ip!=192.0.2.15"]), "");
    // A missing key satisfies only the set operators.
    assert_eq!(
        find(&mut c, &["options:remote_ip{=}[]"]),
        "br-int mgmt0 p1 p2"
    );
    assert_eq!(find(&mut c, &["Name=p1"]), "p1");
    err(
        &mut c,
        &["find", "port", "tag"],
        "tag: argument does not end in \"=\", \"!=\", \"<\", \">\", \"<=\", \">=\", \"{=}\", \
         \"{!=}\", \"{<}\", \"{>}\", \"{<=}\", \"{>=}\", \"{in}\", or \"{not-in}\" followed by a value.",
    );
    err(
        &mut c,
        &["find", "port", "tag:x=1"],
        "cannot specify key to check for non-map column tag",
    );
    err(
        &mut c,
        &["find", "port", "tag=x"],
        "\"x\" is not a valid integer or range",
    );
    err(
        &mut c,
        &["find", "port", "bogus=1"],
        "Port does not contain a column whose name matches \"bogus\"",
    );
    err(
        &mut c,
        &["find"],
        "'find' command requires at least 1 arguments",
    );
}

#[test]
fn long_options_by_unique_prefix() {
    let mut c = seed();
    for a in [
        &["--no-heading", "--columns=name", "list", "bridge"][..],
        &["--no-h", "--col=name", "list", "bridge"],
        &[
            "--form=list",
            "--da=string",
            "--no-headings",
            "--columns",
            "name",
            "list",
            "bridge",
        ],
        &["--time=5", "--bar", "--columns=name", "list", "bridge"],
        &[
            "--timeout",
            "5",
            "--dry",
            "--one",
            "--no-h",
            "--columns=name",
            "list",
            "bridge",
        ],
    ] {
        assert_eq!(ok(&mut c, a), "br-int\n", "{a:?}");
    }
    assert_eq!(ok(&mut c, &["--may", "add-br", "br-int"]), "");
    err(
        &mut c,
        &["--no", "list-br"],
        "option '--no' is ambiguous; possibilities: '--no-syslog' '--no-wait' \
         '--no-leader-only' '--no-shuffle-remotes' '--no-headings'",
    );
    err(
        &mut c,
        &["--data=bogus", "list-br"],
        "unknown data format \"bogus\"",
    );
    err(
        &mut c,
        &["--bogus=1", "list-br"],
        "unrecognized option '--bogus=1'",
    );
    err(
        &mut c,
        &["--d"],
        "option '--d' is ambiguous; possibilities: '--db' '--dry-run' '--data'",
    );
}
