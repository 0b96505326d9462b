//! `grebe bench` end to end, briefly: it builds grebe (host to host and container to
//! container), OVS with containers and the bare veth in namespaces, measures them and reports
//! them as JSON with their ratios. Speed is never asserted, only that it was measured.

use std::process::Command;

use lab::netns::is_root;
use lab::ovs_peer::ovs_available;

const GREBE: &str = env!("CARGO_BIN_EXE_grebe");

/// Whether the test can run here: the skip rule of tests/common.rs's lab_with(), skip only
/// outside CI when not root or when a package is missing.
fn can_run(test: &str, needs: &[(&str, bool)]) -> bool {
    let ci = std::env::var_os("CI").is_some();
    if !is_root() {
        assert!(!ci, "{test}: whole-system tests need root under CI");
        eprintln!("SKIPPED {test}: needs root to create network namespaces");
        return false;
    }
    let missing: Vec<&str> = needs.iter().filter(|n| !n.1).map(|n| n.0).collect();
    if !missing.is_empty() {
        assert!(
            !ci,
            "{test}: needs {missing:?} under CI (.ci/test installs them)"
        );
        eprintln!("SKIPPED {test}: needs {missing:?} (apt-get install {missing:?})");
        return false;
    }
    true
}

/// `grebe bench --quick --duration 1 --json --only SETUPS`: its JSON, once it succeeded.
fn bench(setups: &str, chart: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let out = Command::new(GREBE)
        .args(["bench", "--quick", "--only", setups, "--duration", "1"])
        .args(extra)
        .arg("--json")
        .arg("--chart")
        .arg(chart)
        .output()
        .expect("running grebe bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "grebe bench failed:\n{stderr}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{stderr}"))
}

#[test]
fn bench_measures_grebe_and_veth_and_their_ratio() {
    if !can_run("bench_smoke", &[]) {
        return;
    }
    let chart = std::env::temp_dir().join(format!("grebe-bench-smoke-{}.svg", std::process::id()));
    let v = bench("grebe,grebe-veth,veth", &chart, &["--lossless"]);

    let metric = |setup: &str, key: &str| {
        v["results"][setup]["metrics"][key]
            .as_f64()
            .unwrap_or_else(|| panic!("no {setup} {key} in {v:#}"))
    };
    // grebe-veth: container to container through veth system ports, MTU 1500, TCP included.
    for setup in ["grebe", "grebe-veth", "veth"] {
        assert_eq!(v["results"][setup]["status"], "ok", "{v:#}");
        for key in [
            "tcp1_gbps",
            "tcp4_gbps",
            "udp64_kfps",
            "udp64_carried_kfps",
            "rtt_median_us",
        ] {
            assert!(
                metric(setup, key) > 0.0,
                "{setup} {key} not measured: {v:#}"
            );
        }
    }
    // The lossless rate is a search: every setup ran its trials, and the rate it reports is
    // one that a trial offered and passed (0 only if none did), never above the flood's.
    for setup in ["grebe", "grebe-veth", "veth"] {
        let result = &v["results"][setup];
        let trials = result["rounds"][0]["detail"]["udp64_lossless_trials"]
            .as_array()
            .unwrap_or_else(|| panic!("{setup}: no lossless trials: {v:#}"));
        assert!(!trials.is_empty(), "{setup}: no lossless trials");
        let rate = metric(setup, "udp64_lossless_kfps");
        let passed = |t: &serde_json::Value| t["loss_pct"].as_f64().unwrap() <= 0.1;
        let offered = |t: &serde_json::Value| t["offered_kfps"].as_f64().unwrap();
        assert!(
            rate == 0.0
                || trials
                    .iter()
                    .any(|t| passed(t) && (offered(t) - rate).abs() <= 0.06),
            "{setup}: {rate} k/s is no passed trial's rate: {trials:?}"
        );
        let flood = result["rounds"][0]["detail"]["udp64_offered_kfps"]
            .as_f64()
            .unwrap();
        assert!(
            rate <= flood + 0.06,
            "{setup}: {rate} above the flood's {flood}"
        );
    }
    assert!(v["results"]["ovs"].is_null() && v["results"]["vxlan"].is_null());
    // grebe is a process with memory and CPU time; the veth has none.
    assert!(metric("grebe", "rss_mb") > 0.0);
    assert!(metric("grebe-veth", "rss_mb") > 0.0);
    assert!(v["results"]["veth"]["metrics"]["rss_mb"].is_null());
    let containers = v["ratios"]["grebe-veth/grebe"]["tcp1_gbps"]
        .as_f64()
        .unwrap_or_else(|| panic!("no grebe-veth/grebe ratio: {v:#}"));
    let expected = metric("grebe-veth", "tcp1_gbps") / metric("grebe", "tcp1_gbps");
    assert!(
        (containers - expected).abs() <= 1e-3 * expected.max(1.0),
        "grebe-veth/grebe {containers} is not {expected}"
    );

    let ratio = v["ratios"]["grebe/veth"]["tcp1_gbps"]
        .as_f64()
        .unwrap_or_else(|| panic!("no grebe/veth ratio: {v:#}"));
    let expected = metric("grebe", "tcp1_gbps") / metric("veth", "tcp1_gbps");
    assert!(
        (ratio - expected).abs() <= 1e-3 * expected.max(1.0),
        "grebe/veth {ratio} is not {expected}"
    );

    let svg = std::fs::read_to_string(&chart).expect("the chart was written");
    let _ = std::fs::remove_file(&chart);
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("grebe") && svg.contains("veth"));
    assert!(svg.contains("grebe veth"), "no grebe veth bars");
}

#[test]
fn bench_measures_ovs_between_containers() {
    let ethtool = Command::new("ethtool").arg("--version").output().is_ok();
    let needs = [
        ("openvswitch-switch", ovs_available()),
        ("ethtool", ethtool),
    ];
    if !can_run("bench_smoke_ovs_veth", &needs) {
        return;
    }
    let chart =
        std::env::temp_dir().join(format!("grebe-bench-smoke-ovs-{}.svg", std::process::id()));
    let v = bench("ovs-veth", &chart, &[]);
    let _ = std::fs::remove_file(&chart);
    let result = &v["results"]["ovs-veth"];
    assert_eq!(result["status"], "ok", "{v:#}");
    assert!(
        result["metrics"]["udp64_lossless_kfps"].is_null(),
        "the lossless search runs only when asked (--lossless): {v:#}"
    );
    for key in ["tcp1_gbps", "udp64_kfps", "rtt_median_us", "rss_mb"] {
        let x = result["metrics"][key].as_f64();
        assert!(
            x.is_some_and(|x| x > 0.0),
            "ovs-veth {key} not measured: {v:#}"
        );
    }
    assert!(
        result["description"]
            .as_str()
            .is_some_and(|d| d.contains("MTU 1458") && d.contains("checksum offload off")),
        "{v:#}"
    );
}
