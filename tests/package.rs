//! The Debian package: `packaging/deb/build` (cargo-deb) makes a .deb whose fields, scripts and
//! layout are checked with dpkg-deb, which installs into a throwaway root with dpkg, runs, and
//! purges without leaving a file. The package is built from the binary the tests already built
//! (`cargo deb --no-build` on a scratch target directory), so CI pays for no release build.

mod common;

use std::fs;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::GREBE;

/// What the package installs besides the manuals: (path, what dpkg -c shows first: `-` a file,
/// `l` a link, and the mode).
const LAYOUT: &[(&str, &str)] = &[
    ("./usr/bin/grebe", "-rwxr-xr-x"),
    ("./usr/lib/grebe/bin/ovs-vsctl", "lrwxrwxrwx"),
    ("./usr/lib/grebe/bin/ovs-appctl", "lrwxrwxrwx"),
    ("./lib/systemd/system/grebe.service", "-rw-r--r--"),
    (
        "./usr/share/bash-completion/completions/grebe",
        "-rw-r--r--",
    ),
    ("./usr/share/zsh/vendor-completions/_grebe", "-rw-r--r--"),
    (
        "./usr/share/fish/vendor_completions.d/grebe.fish",
        "-rw-r--r--",
    ),
    ("./etc/grebe/README", "-rw-r--r--"),
    ("./etc/network/if-pre-up.d/grebe", "-rwxr-xr-x"),
    ("./etc/network/if-post-down.d/grebe", "-rwxr-xr-x"),
    ("./usr/share/doc/grebe/copyright", "-rw-r--r--"),
];

/// The pages every build of grebe has (the lab's `demo` and `bench` are optional).
const MANUALS: &[&str] = &[
    "grebe",
    "grebe-daemon",
    "grebe-vsctl",
    "grebe-appctl",
    "grebe-capture",
    "grebe-completions",
    "grebe-man",
];

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(cmd: &mut Command) -> String {
    String::from_utf8(run(cmd).stdout).unwrap()
}

fn have(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether the package tools are here: missing ones skip outside CI and fail under it.
fn tools_present(test: &str) -> bool {
    let missing: Vec<&str> = [("cargo-deb", "--version"), ("dpkg-deb", "--version")]
        .into_iter()
        .filter(|(tool, arg)| !have(tool, arg))
        .map(|(tool, _)| tool)
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{test}: needs {missing:?} under CI (.ci/test installs cargo-deb)");
    }
    eprintln!("SKIPPED {test}: needs {missing:?} (cargo install cargo-deb --locked)");
    false
}

fn scratch() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("package")
}

/// The .deb, built once for every test of this file.
fn deb() -> &'static Path {
    static DEB: OnceLock<PathBuf> = OnceLock::new();
    DEB.get_or_init(|| {
        let dir = scratch();
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("target/release")).unwrap();
        // packaging/deb/build --no-build takes the binary where cargo-deb looks for it.
        fs::copy(GREBE, dir.join("target/release/grebe")).unwrap();
        let deb = dir.join("grebe.deb");
        run(Command::new("packaging/deb/build")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("CARGO_TARGET_DIR", dir.join("target"))
            .args(["--no-build", "--fast", "--offline", "--output"])
            .arg(&deb));
        deb
    })
}

fn control_field<'a>(control: &'a str, field: &str) -> Option<&'a str> {
    control.lines().find_map(|l| {
        l.strip_prefix(field)
            .and_then(|rest| rest.strip_prefix(": "))
            .map(str::trim)
    })
}

#[test]
fn the_package_has_its_fields_and_scripts() {
    if !tools_present("the_package_has_its_fields_and_scripts") {
        return;
    }
    let deb = deb();
    let control = stdout(Command::new("dpkg-deb").arg("-f").arg(deb));
    assert_eq!(
        control_field(&control, "Package"),
        Some("grebe"),
        "{control}"
    );
    assert_eq!(control_field(&control, "Section"), Some("net"), "{control}");
    assert_eq!(
        control_field(&control, "Version"),
        Some(concat!(env!("CARGO_PKG_VERSION"), "-1")),
        "{control}"
    );
    // Computed from the binary's shared libraries: at least the C library, versioned.
    let depends = control_field(&control, "Depends").expect("a Depends field");
    assert!(depends.contains("libc6 (>= 2."), "{depends}");
    // grebe coexists with openvswitch-common and -switch rather than replacing them.
    for field in ["Conflicts", "Replaces", "Breaks"] {
        assert_eq!(control_field(&control, field), None, "{control}");
    }

    let ctl = scratch().join("control");
    let _ = fs::remove_dir_all(&ctl);
    run(Command::new("dpkg-deb").arg("-e").arg(deb).arg(&ctl));
    let postinst = fs::read_to_string(ctl.join("postinst")).unwrap();
    let prerm = fs::read_to_string(ctl.join("prerm")).unwrap();
    for cmd in ["ovs-vsctl", "ovs-appctl"] {
        assert!(
            postinst.contains(
                "update-alternatives --install /usr/sbin/$cmd $cmd /usr/lib/grebe/bin/$cmd"
            ),
            "{postinst}"
        );
        assert!(
            prerm.contains("update-alternatives --remove $cmd /usr/lib/grebe/bin/$cmd"),
            "{prerm}"
        );
        assert!(postinst.contains(cmd) && prerm.contains(cmd));
    }
    assert!(postinst.contains("deb-systemd-helper enable grebe.service"));
    // Files in /etc are the admin's once installed.
    let conffiles = fs::read_to_string(ctl.join("conffiles")).unwrap();
    for f in [
        "/etc/grebe/README",
        "/etc/network/if-pre-up.d/grebe",
        "/etc/network/if-post-down.d/grebe",
    ] {
        assert!(conffiles.lines().any(|l| l == f), "{f} not in {conffiles}");
    }
    // Every maintainer script is valid sh.
    for script in ["postinst", "prerm", "postrm"] {
        run(Command::new("sh").arg("-n").arg(ctl.join(script)));
    }
}

#[test]
fn the_package_lays_out_every_file() {
    if !tools_present("the_package_lays_out_every_file") {
        return;
    }
    let listing = stdout(Command::new("dpkg").arg("-c").arg(deb()));
    // mode owner size date time path [-> target]
    let entry = |path: &str| {
        listing.lines().find_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            (fields.get(5) == Some(&path)).then_some(fields)
        })
    };
    for (path, mode) in LAYOUT {
        let fields = entry(path).unwrap_or_else(|| panic!("{path} not in\n{listing}"));
        assert_eq!(fields[0], *mode, "{path}");
        assert_eq!(fields[1], "0/0", "{path} is root's");
    }
    for link in ["ovs-vsctl", "ovs-appctl"] {
        let fields = entry(&format!("./usr/lib/grebe/bin/{link}")).unwrap();
        assert_eq!(fields[6..], ["->", "../../../bin/grebe"], "{link}");
    }
    for page in MANUALS {
        let path = format!("./usr/share/man/man1/{page}.1.gz");
        let fields = entry(&path).unwrap_or_else(|| panic!("{path} not in\n{listing}"));
        assert_eq!(fields[0], "-rw-r--r--", "{path}");
    }
    // The ifupdown hooks call the hook's script: once it is in the tree, the package ships it.
    if Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("packaging/ifupdown/ifupdown.sh")
        .exists()
    {
        let fields = entry("./usr/share/grebe/ifupdown.sh").unwrap_or_else(|| {
            panic!(
                "packaging/ifupdown/ifupdown.sh is not packaged: add its asset line to Cargo.toml"
            )
        });
        assert_eq!(fields[0], "-rwxr-xr-x");
    }
}

/// A page of the package, uncompressed.
fn gunzip(path: &Path) -> String {
    let out = run(Command::new("gzip").arg("-dc").arg(path));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_packaged_manuals_and_completions_are_current() {
    if !tools_present("the_packaged_manuals_and_completions_are_current") {
        return;
    }
    let tree = scratch().join("extracted");
    let _ = fs::remove_dir_all(&tree);
    run(Command::new("dpkg-deb").arg("-x").arg(deb()).arg(&tree));
    let grebe = tree.join("usr/bin/grebe");
    let fresh = scratch().join("fresh-man");
    let _ = fs::remove_dir_all(&fresh);
    run(Command::new(&grebe).arg("man").arg(&fresh));
    let man1 = tree.join("usr/share/man/man1");
    let mut packaged: Vec<String> = fs::read_dir(&man1)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    packaged.sort();
    let mut generated: Vec<String> = fs::read_dir(&fresh)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap() + ".gz")
        .collect();
    generated.sort();
    assert_eq!(
        packaged, generated,
        "the packaged pages are not the binary's"
    );
    for page in &packaged {
        let want = fs::read_to_string(fresh.join(page.trim_end_matches(".gz"))).unwrap();
        assert_eq!(gunzip(&man1.join(page)), want, "{page} is stale");
    }
    for (shell, path) in [
        ("bash", "usr/share/bash-completion/completions/grebe"),
        ("zsh", "usr/share/zsh/vendor-completions/_grebe"),
        ("fish", "usr/share/fish/vendor_completions.d/grebe.fish"),
    ] {
        let want = stdout(Command::new(&grebe).args(["completions", shell]));
        let mut got = String::new();
        fs::File::open(tree.join(path))
            .unwrap()
            .read_to_string(&mut got)
            .unwrap();
        assert_eq!(got, want, "{path} is not `grebe completions {shell}`");
    }
    // The unit shipped is the repository's.
    assert_eq!(
        fs::read(tree.join("lib/systemd/system/grebe.service")).unwrap(),
        fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/grebe.service")).unwrap()
    );
}

/// Every file or link under `root`, relative, but dpkg's and update-alternatives' own records.
fn files_under(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            if rel.starts_with("var/lib/dpkg") || rel == "var/log/alternatives.log" {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                dirs.push(path);
            } else {
                found.push(rel);
            }
        }
    }
    found.sort();
    found
}

fn dpkg_in(root: &Path) -> Command {
    let mut cmd = Command::new("dpkg");
    // The throwaway root has no libc6 package; the scripts run from the host's tools, which
    // honour DPKG_ROOT (update-alternatives, deb-systemd-helper) and leave the host alone.
    cmd.arg(format!("--root={}", root.display()))
        .args(["--force-depends", "--force-script-chrootless"])
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    cmd
}

#[test]
fn the_package_installs_runs_and_purges_into_a_clean_root() {
    let test = "the_package_installs_runs_and_purges_into_a_clean_root";
    if !tools_present(test) {
        return;
    }
    if !lab::netns::is_root() {
        if std::env::var_os("CI").is_some() {
            panic!("{test}: dpkg --root needs root under CI");
        }
        eprintln!("SKIPPED {test}: dpkg installs as root");
        return;
    }
    // First: building the package starts the scratch directory afresh.
    let deb = deb();
    let root = scratch().join("root");
    let _ = fs::remove_dir_all(&root);
    // The least of a Debian root that dpkg and update-alternatives need.
    for dir in [
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/lib/dpkg/alternatives",
        "var/log",
        "etc/alternatives",
        "usr/sbin",
    ] {
        fs::create_dir_all(root.join(dir)).unwrap();
    }
    fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    let before = files_under(&root);
    assert!(before.is_empty(), "{before:?}");

    run(dpkg_in(&root).arg("-i").arg(deb));
    let installed = files_under(&root);
    for (path, _) in LAYOUT {
        let path = path.trim_start_matches("./");
        assert!(installed.iter().any(|f| f == path), "{path} not installed");
    }

    // The binary runs, and says which it is.
    let version = stdout(Command::new(root.join("usr/bin/grebe")).arg("--version"));
    assert_eq!(
        version.trim(),
        concat!("grebe ", env!("CARGO_PKG_VERSION")),
        "{version}"
    );

    // /usr/sbin/ovs-vsctl -> /etc/alternatives/ovs-vsctl -> /usr/lib/grebe/bin/ovs-vsctl ->
    // /usr/bin/grebe: absolute links, so followed inside the root by hand.
    for cmd in ["ovs-vsctl", "ovs-appctl"] {
        let link = |p: &str| {
            fs::read_link(root.join(p.trim_start_matches('/')))
                .unwrap_or_else(|e| panic!("{p}: {e}"))
                .display()
                .to_string()
        };
        let alternative = format!("/etc/alternatives/{cmd}");
        let provider = format!("/usr/lib/grebe/bin/{cmd}");
        assert_eq!(link(&format!("/usr/sbin/{cmd}")), alternative);
        assert_eq!(link(&alternative), provider);
        assert_eq!(link(&provider), "../../../bin/grebe");
        let target = root.join("usr/lib/grebe/bin").join(link(&provider));
        assert_eq!(
            fs::canonicalize(&target).unwrap(),
            fs::canonicalize(root.join("usr/bin/grebe")).unwrap()
        );
        // Run under the link's name, grebe is that tool: it takes the argv as is and asks the
        // daemon, here none, so it says where it looked.
        let out = Command::new(root.join(provider.trim_start_matches('/')))
            .arg0(cmd)
            .arg("show")
            .env("GREBE_RUNDIR", scratch().join("no-daemon"))
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("grebe: "), "{cmd}: {err}");
        assert!(err.contains("no-daemon"), "{cmd}: {err}");
    }
    let display = stdout(
        Command::new("update-alternatives")
            .arg("--root")
            .arg(&root)
            .args(["--query", "ovs-vsctl"]),
    );
    assert!(
        display.contains("Value: /usr/lib/grebe/bin/ovs-vsctl"),
        "{display}"
    );

    // Enabled at boot, in the root and not on this host.
    let wants = "etc/systemd/system/multi-user.target.wants/grebe.service";
    assert_eq!(
        fs::read_link(root.join(wants)).unwrap(),
        Path::new("/lib/systemd/system/grebe.service")
    );

    run(dpkg_in(&root).args(["--purge", "grebe"]));
    let left = files_under(&root);
    assert!(left.is_empty(), "the purge left {left:?}");
    let status = fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap();
    assert!(!status.contains("Package: grebe"), "{status}");
}
