//! Faults under the daemon (issue 14): what is done to its ports from outside, and how it
//! recovers. Needs root.

mod common;

use std::time::{Duration, Instant};

use common::{dpif, lab, port_counter, two_hosts};
use lab::netns::Lab;

const WAIT: Duration = Duration::from_secs(10);

fn loop_iterations(lab: &Lab, host: &str) -> u64 {
    dpif(lab, host)["loops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["iterations"].as_u64().unwrap())
        .sum()
}

fn sysfs(lab: &Lab, host: &str, path: &str) -> Option<String> {
    let out = lab.sh(host, &["cat", path]).ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[test]
fn a_deleted_internal_port_is_made_again_and_nothing_else_stops() {
    let Some(lab) = lab("delmgmt") else { return };
    two_hosts(&lab);
    let veth = lab.add_container("a", "ct", "198.51.100.11/24").unwrap();
    lab.vsctl_ok("a", &["add-port", "br-int", &veth]).unwrap();
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    lab.wait_ping("ct", "198.51.100.2", WAIT).unwrap();
    let mtu = sysfs(&lab, "a", "/sys/class/net/mgmt0/mtu").unwrap();
    assert_eq!(mtu, "1462", "the automatic MTU before the fault");

    lab.sh("a", &["ip", "link", "del", "mgmt0"]).unwrap();
    let deleted = Instant::now();
    // The device comes back at once, with grebe's MTU again (the control side sets it within
    // a second), and the port counts what happened.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let back = sysfs(&lab, "a", "/sys/class/net/mgmt0/mtu");
        if back.as_deref() == Some("1462") {
            eprintln!(
                "mgmt0 back with its MTU {:?} after the delete",
                deleted.elapsed()
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "mgmt0 not made again with MTU 1462 (now {back:?})"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(port_counter(&lab, "a", "mgmt0", "recreated"), 1);
    let text = lab.appctl("a", &["dpif/show"]).unwrap();
    assert!(
        text.contains("device deleted under the daemon and made again 1 times"),
        "{text}"
    );

    // The loop does not spin on the dead descriptor: over a second it turns for the traffic
    // there is (a few pings), not hundreds of thousands of times.
    let before = loop_iterations(&lab, "a");
    lab.ping("ct", "198.51.100.2", 3).unwrap();
    let turns = loop_iterations(&lab, "a") - before;
    assert!(turns < 10_000, "{turns} loop turns for three pings");

    // Nothing else stopped: the container reached b throughout (above). The new mgmt0 has no
    // address (the kernel's went with the old device); given one, the host talks again.
    lab.sh(
        "a",
        &["ip", "addr", "add", "198.51.100.1/24", "dev", "mgmt0"],
    )
    .unwrap();
    lab.sh("a", &["ip", "link", "set", "mgmt0", "up"]).unwrap();
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    lab.ping("b", "198.51.100.1", 3).unwrap();
    lab.ping("ct", "198.51.100.1", 3).unwrap();
}
