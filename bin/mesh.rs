//! `grebe mesh apply FILE`: the mesh file (see `vswitch::mesh`) made true on this host's bridge,
//! through the same ovs-vsctl commands a person would type, printed before they run.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use daemon::control::{self, Request, RequestKind};
use vswitch::mesh::{MESH_MARK, MeshFile, PresentTunnel};

#[derive(clap::Subcommand)]
pub enum MeshCmd {
    /// Create, change and remove this host's tunnels so its bridge has one to every other host
    /// of FILE (printing each ovs-vsctl command); applying it again changes nothing.
    Apply {
        /// The mesh: a TOML file of [[host]] tables (name, transport), see `grebe mesh --help`
        file: PathBuf,
        /// Which of the file's hosts this is [default: the one whose transport address is local]
        #[arg(long)]
        host: Option<String>,
        /// Print the commands without running them
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        rundir: Option<PathBuf>,
    },
}

pub fn run(cmd: MeshCmd) -> anyhow::Result<ExitCode> {
    let MeshCmd::Apply {
        file,
        host,
        dry_run,
        rundir,
    } = cmd;
    let mesh = load(&file)?;
    let me = match host {
        Some(h) => h,
        None => local_host(&mesh, &file)?,
    };
    let rundir = control::rundir(rundir);
    let present = present_tunnels(&rundir, &mesh.bridge)?;
    let plan = mesh.plan(&me, &present)?;
    for cmd in &plan {
        println!("ovs-vsctl {}", shell_words(cmd));
    }
    let tunnels = mesh.hosts.len() - 1;
    if plan.len() == 1 && !present.is_empty() && present.len() == tunnels {
        println!(
            "mesh: {} on {me} already matches {} ({tunnels} tunnels)",
            mesh.bridge,
            file.display()
        );
    }
    if dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    // One transaction: the whole plan or nothing.
    let mut args = Vec::new();
    for (i, cmd) in plan.iter().enumerate() {
        if i > 0 {
            args.push("--".to_owned());
        }
        args.extend(cmd.iter().cloned());
    }
    let reply = control::call(
        &rundir,
        &Request {
            kind: RequestKind::Vsctl,
            args,
        },
    )?;
    if reply.exit_code != 0 {
        bail!(
            "the daemon refused the plan, nothing was changed: {}",
            reply.stderr.trim().trim_start_matches("ovs-vsctl: ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn load(file: &Path) -> anyhow::Result<MeshFile> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    MeshFile::parse(&text).with_context(|| format!("mesh file {}", file.display()))
}

/// The one host of the file whose transport address this host has (binding to an address
/// succeeds only where it is local).
fn local_host(mesh: &MeshFile, file: &Path) -> anyhow::Result<String> {
    let local: Vec<&str> = mesh
        .hosts
        .iter()
        .filter(|h| is_local(h.transport))
        .map(|h| h.name.as_str())
        .collect();
    match local[..] {
        [one] => Ok(one.to_owned()),
        [] => bail!(
            "none of the transport addresses in {} is on this host: pass --host NAME",
            file.display()
        ),
        _ => bail!(
            "several hosts of {} have their transport address here ({}): pass --host NAME",
            file.display(),
            local.join(", ")
        ),
    }
}

fn is_local(ip: IpAddr) -> bool {
    UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// The bridge's mesh tunnels now, as `find` shows them in OVS's JSON table format.
fn present_tunnels(rundir: &Path, bridge: &str) -> anyhow::Result<Vec<PresentTunnel>> {
    let args = [
        "--format=json",
        "--columns=name,type,options",
        "find",
        "interface",
        &format!("external_ids:{MESH_MARK}={bridge}"),
    ]
    .map(String::from)
    .to_vec();
    let reply = control::call(
        rundir,
        &Request {
            kind: RequestKind::Vsctl,
            args,
        },
    )?;
    if reply.exit_code != 0 {
        bail!("reading the bridge's tunnels: {}", reply.stderr.trim());
    }
    let table: serde_json::Value =
        serde_json::from_str(&reply.stdout).context("the daemon's find output")?;
    let rows = table["data"]
        .as_array()
        .context("find output without data")?;
    rows.iter()
        .map(|row| {
            let text = |i: usize| row[i].as_str().map(String::from);
            let options = row[2][1]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|kv| Some((kv[0].as_str()?.to_owned(), kv[1].as_str()?.to_owned())))
                .collect();
            Ok(PresentTunnel {
                port: text(0).context("a row without a name")?,
                kind: text(1).unwrap_or_default(),
                options,
            })
        })
        .collect()
}

/// The words as a shell would need them typed.
fn shell_words(words: &[String]) -> String {
    let plain = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_=:./,@".contains(c))
    };
    words
        .iter()
        .map(|w| {
            if plain(w) {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
