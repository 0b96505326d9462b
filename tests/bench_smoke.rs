//! `grebe bench` end to end, briefly: it builds grebe and the bare veth in namespaces, measures
//! both and reports them as JSON with their ratio. Speed is never asserted, only that it was
//! measured.

use std::process::Command;

use lab::netns::is_root;

const GREBE: &str = env!("CARGO_BIN_EXE_grebe");

#[test]
fn bench_measures_grebe_and_veth_and_their_ratio() {
    // The skip rule of tests/common.rs's lab(): skip only outside CI when not root.
    if !is_root() {
        if std::env::var_os("CI").is_some() {
            panic!("bench_smoke: whole-system tests need root under CI");
        }
        eprintln!("SKIPPED bench_smoke: needs root to create network namespaces");
        return;
    }
    let chart = std::env::temp_dir().join(format!("grebe-bench-smoke-{}.svg", std::process::id()));
    let out = Command::new(GREBE)
        .args([
            "bench",
            "--quick",
            "--only",
            "grebe,veth",
            "--duration",
            "1",
            "--json",
        ])
        .arg("--chart")
        .arg(&chart)
        .output()
        .expect("running grebe bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "grebe bench failed:\n{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{stderr}"));

    let metric = |setup: &str, key: &str| {
        v["results"][setup]["metrics"][key]
            .as_f64()
            .unwrap_or_else(|| panic!("no {setup} {key} in {v:#}"))
    };
    for setup in ["grebe", "veth"] {
        assert_eq!(v["results"][setup]["status"], "ok", "{v:#}");
        for key in ["tcp1_gbps", "tcp4_gbps", "udp64_kfps", "rtt_median_us"] {
            assert!(
                metric(setup, key) > 0.0,
                "{setup} {key} not measured: {v:#}"
            );
        }
    }
    assert!(v["results"]["ovs"].is_null() && v["results"]["vxlan"].is_null());
    // grebe is a process with memory and CPU time; the veth has none.
    assert!(metric("grebe", "rss_mb") > 0.0);
    assert!(v["results"]["veth"]["metrics"]["rss_mb"].is_null());

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
}
