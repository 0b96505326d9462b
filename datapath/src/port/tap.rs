//! An internal port: a TAP device that the host sees as a network interface.

use std::io;

use crate::sys::{RecvBatch, Tap, TapError};

pub struct InternalPort {
    tap: Tap,
    /// The device was deleted under grebe (`ip link del`): the descriptor no longer reads,
    /// and poll would report it ready forever, so it is not polled until it is made again.
    lost: bool,
}

/// Why an internal port's read stopped short of its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TapRead {
    /// The frames read; the TAP has no more for now.
    Frames(usize),
    /// The device is gone: make it again ([`InternalPort::reopen`]).
    Gone,
}

impl InternalPort {
    /// Opens or re-attaches to the TAP `name`, persistent so that a daemon restart keeps the
    /// interface with its addresses and routes.
    pub fn open(name: &str, offload: bool) -> Result<InternalPort, TapError> {
        let tap = Tap::open(name, offload)?;
        tap.set_persist(true)?;
        Ok(InternalPort { tap, lost: false })
    }

    pub(crate) fn name(&self) -> &str {
        self.tap.name()
    }

    /// Whether the device was deleted and could not be made again yet.
    pub(crate) fn is_lost(&self) -> bool {
        self.lost
    }

    /// Makes the deleted device again under its name, with the same offloads. The kernel gives
    /// it a new MAC and no addresses: those were the deleted device's.
    pub(crate) fn reopen(&mut self, offload: bool) -> Result<(), TapError> {
        self.lost = true;
        let tap = Tap::open(self.tap.name(), offload)?;
        tap.set_persist(true)?;
        self.tap = tap;
        self.lost = false;
        Ok(())
    }

    pub(crate) fn tap(&self) -> &Tap {
        &self.tap
    }

    /// Reads up to `limit` frames into the batch's buffers; stops early when the TAP has no more.
    pub(crate) fn read_batch(&self, rx: &mut RecvBatch, limit: usize) -> TapRead {
        let mut n = 0;
        while n < limit {
            match self.tap.read(rx.buf_mut(n)) {
                Ok(len) => {
                    rx.set_len(n, len);
                    n += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // The kernel detached the descriptor from its deleted device (tun.c: EBADFD).
                Err(e) if n == 0 && e.raw_os_error() == Some(libc::EBADFD) => return TapRead::Gone,
                Err(e) => {
                    tracing::debug!(port = self.tap.name(), error = %e, "TAP read failed");
                    break;
                }
            }
        }
        TapRead::Frames(n)
    }

    #[inline]
    pub(crate) fn write(&self, frame: &[u8]) -> io::Result<usize> {
        self.tap.write(frame)
    }

    /// Writes one frame given in pieces (`writev`): a TAP takes each write as one frame.
    #[inline]
    pub(crate) fn write_parts(&self, parts: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.tap.write_parts(parts)
    }

    /// The port is deleted: the interface goes away with the last file descriptor.
    pub(crate) fn destroy(self) {
        if let Err(e) = self.tap.set_persist(false) {
            tracing::warn!(port = self.tap.name(), error = %e, "cannot remove TAP device");
        }
    }
}

/// An interface's MAC address, as the kernel shows it in sysfs (this network namespace's).
pub fn interface_mac(name: &str) -> io::Result<[u8; 6]> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "bad interface name",
        ));
    }
    let text = std::fs::read_to_string(format!("/sys/class/net/{name}/address"))?;
    let mac: encap::ethernet::EthernetAddress = text
        .trim()
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(mac.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_has_the_zero_address() {
        assert_eq!(super::interface_mac("lo").unwrap(), [0; 6]);
        assert!(super::interface_mac("../etc").is_err());
    }
}
