//! TAP devices: the internal ports. One `Tap` owns the `/dev/net/tun` file descriptor.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

/// Linux's limit on interface names, including the terminating NUL.
const IFNAMSIZ: usize = libc::IFNAMSIZ;

#[derive(Debug, thiserror::Error)]
pub enum TapError {
    #[error(
        "interface name {0:?} is invalid: it must be 1 to 15 bytes, without '/', ':' or whitespace"
    )]
    InvalidName(String),
    #[error("cannot open /dev/net/tun (is the tun module available and are you root?)")]
    OpenDevice(#[source] io::Error),
    #[error(
        "cannot create TAP {name} (needs CAP_NET_ADMIN; an existing non-TAP device of that name also refuses)"
    )]
    SetIff {
        name: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot set offloads on TAP {name}")]
    SetOffload {
        name: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot change persistence of TAP {name}")]
    SetPersist {
        name: String,
        #[source]
        source: io::Error,
    },
}

/// An open TAP device in non-blocking mode, frames without packet-information prefix.
#[derive(Debug)]
pub struct Tap {
    file: File,
    name: String,
}

/// Builds an `ifreq` with a validated name; the union stays zeroed for the caller to fill.
fn ifreq_for(name: &str) -> Option<libc::ifreq> {
    let bytes = name.as_bytes();
    let valid = !bytes.is_empty()
        && bytes.len() < IFNAMSIZ
        && !bytes
            .iter()
            .any(|b| *b == b'/' || *b == b':' || b.is_ascii_whitespace() || *b == 0);
    if !valid {
        return None;
    }
    // SAFETY: ifreq is plain old data (a char array and a union of integers, sockaddrs and a
    // pointer); all-zero is a valid value for every field.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    Some(req)
}

impl Tap {
    /// Opens (creating if needed) the TAP `name`. With `offload`, every frame is preceded by a
    /// 10-byte virtio-net header and the kernel may hand over TCP frames of up to 64 KB with
    /// unfinished checksums (TSO4, TSO6, CSUM). Without it, offloads are switched off
    /// explicitly: a TAP keeps its offload settings after its last reader closes, and a reader
    /// that does not speak the virtio-net header must never receive such frames.
    pub fn open(name: &str, offload: bool) -> Result<Tap, TapError> {
        let mut req = ifreq_for(name).ok_or_else(|| TapError::InvalidName(name.to_owned()))?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/net/tun")
            .map_err(TapError::OpenDevice)?;
        let vnet = if offload { libc::IFF_VNET_HDR } else { 0 };
        req.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI | vnet) as libc::c_short;
        // SAFETY: the fd is open; TUNSETIFF reads and writes an `ifreq`, which `req` is, and it
        // lives across the call.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) };
        if rc < 0 {
            return Err(TapError::SetIff {
                name: name.to_owned(),
                source: io::Error::last_os_error(),
            });
        }
        if offload {
            let size: libc::c_int = encap::vnet::HEADER_LEN as libc::c_int;
            // SAFETY: TUNSETVNETHDRSZ reads one int through the pointer, which points at `size`
            // for the duration of the call.
            let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETVNETHDRSZ, &size) };
            if rc < 0 {
                return Err(TapError::SetOffload {
                    name: name.to_owned(),
                    source: io::Error::last_os_error(),
                });
            }
        }
        let features = if offload {
            libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6
        } else {
            0
        };
        // SAFETY: TUNSETOFFLOAD takes its argument by value; the fd is an attached TAP.
        let rc = unsafe {
            libc::ioctl(
                file.as_raw_fd(),
                libc::TUNSETOFFLOAD,
                libc::c_ulong::from(features),
            )
        };
        if rc < 0 {
            return Err(TapError::SetOffload {
                name: name.to_owned(),
                source: io::Error::last_os_error(),
            });
        }
        Ok(Tap {
            file,
            name: name.to_owned(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A persistent TAP outlives this process: the host keeps its addresses and routes across a
    /// daemon restart, as with OVS's internal ports. Clear it before dropping to delete the device.
    pub fn set_persist(&self, persist: bool) -> Result<(), TapError> {
        // SAFETY: TUNSETPERSIST takes its argument by value; the fd is an attached TAP.
        let rc = unsafe {
            libc::ioctl(
                self.file.as_raw_fd(),
                libc::TUNSETPERSIST,
                libc::c_ulong::from(persist),
            )
        };
        if rc < 0 {
            return Err(TapError::SetPersist {
                name: self.name.clone(),
                source: io::Error::last_os_error(),
            });
        }
        Ok(())
    }

    /// One frame, or `WouldBlock` when the queue is empty.
    #[inline]
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        io::Read::read(&mut &self.file, buf)
    }

    /// One frame; a TAP accepts or drops whole frames.
    #[inline]
    pub fn write(&self, frame: &[u8]) -> io::Result<usize> {
        io::Write::write(&mut &self.file, frame)
    }

    /// One frame in pieces, by `writev`.
    pub fn write_parts(&self, parts: &[io::IoSlice<'_>]) -> io::Result<usize> {
        io::Write::write_vectored(&mut &self.file, parts)
    }
}

impl AsFd for Tap {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// An `AF_INET` datagram socket: the handle the kernel wants for interface ioctls.
fn ioctl_socket() -> io::Result<OwnedFd> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
    Ok(sock.into())
}

fn interface_ioctl(request: libc::Ioctl, req: &mut libc::ifreq) -> io::Result<()> {
    let sock = ioctl_socket()?;
    // SAFETY: `req` is a valid ifreq that lives across the call; the SIOC[GS]IF* requests used by
    // this module read and write only an ifreq.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), request, req as *mut libc::ifreq) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn checked_ifreq(name: &str) -> io::Result<libc::ifreq> {
    ifreq_for(name).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid interface name {name:?}"),
        )
    })
}

/// The MTU of any interface in this network namespace.
pub fn interface_mtu(name: &str) -> io::Result<u32> {
    let mut req = checked_ifreq(name)?;
    interface_ioctl(libc::SIOCGIFMTU, &mut req)?;
    // SAFETY: SIOCGIFMTU succeeded, so the kernel wrote the `ifru_mtu` member of the union.
    let mtu = unsafe { req.ifr_ifru.ifru_mtu };
    u32::try_from(mtu).map_err(|_| io::Error::other("negative MTU"))
}

pub fn set_interface_mtu(name: &str, mtu: u32) -> io::Result<()> {
    let mut req = checked_ifreq(name)?;
    req.ifr_ifru.ifru_mtu = i32::try_from(mtu)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "MTU out of range"))?;
    interface_ioctl(libc::SIOCSIFMTU, &mut req)
}

#[cfg(test)]
fn name_of(req: &libc::ifreq) -> &std::ffi::CStr {
    // SAFETY: ifr_name came from `ifreq_for`, which leaves at least one trailing NUL (len < IFNAMSIZ).
    unsafe { std::ffi::CStr::from_ptr(req.ifr_name.as_ptr()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_kernel_limit() {
        assert!(ifreq_for("a23456789012345").is_some(), "15 bytes fit");
        assert!(ifreq_for("a234567890123456").is_none(), "16 bytes do not");
        assert!(ifreq_for("").is_none());
        assert!(ifreq_for("a/b").is_none());
        assert!(ifreq_for("a b").is_none());
        let req = ifreq_for("mgmt0").unwrap();
        assert_eq!(name_of(&req).to_str().unwrap(), "mgmt0");
    }

    #[test]
    fn bad_name_is_a_typed_error() {
        assert!(matches!(
            Tap::open("this-name-is-too-long", false),
            Err(TapError::InvalidName(_))
        ));
    }
}
