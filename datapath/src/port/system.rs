//! A system port: an existing Linux interface (a container's veth, a VM's tap that qemu holds, a
//! NIC), read and written whole through an `AF_PACKET` socket (`sys::SystemSocket`). grebe did
//! not make the interface and never changes it (not its MTU, not its state).
//!
//! The interface may not exist yet, or vanish and come back (a container restarts, a VM
//! reboots): the port stays, without a socket, and `refresh` re-attaches it when an interface of
//! that name exists again. The datapath thread calls `refresh` on the kernel's link events and
//! when a read fails, so a deleted-and-recreated interface (a new ifindex) is picked up as soon
//! as the kernel says so, with no polling. What the port is attached to is published in
//! `SystemStatus` for the control side to show.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering::Relaxed};

use crate::sys::{SystemRx, SystemSocket, interface_index, receive_queue_drops};

/// Whether a system port is attached, written by the thread that owns the port and read by the
/// control side (`dpif/show`, `get interface X error`).
#[derive(Debug, Default)]
pub struct SystemStatus {
    /// The interface index the socket is bound to; 0 while detached.
    ifindex: AtomicU32,
    /// Why the last attempt to attach failed (an errno); 0 when attached.
    errno: AtomicI32,
}

impl SystemStatus {
    /// The attached interface's index, or the OS error that keeps the port detached.
    pub fn get(&self) -> Result<u32, io::Error> {
        match self.ifindex.load(Relaxed) {
            0 => Err(io::Error::from_raw_os_error(self.errno.load(Relaxed))),
            index => Ok(index),
        }
    }

    /// OVS's words for a port whose device cannot be opened, or None when it is attached.
    pub fn error(&self, name: &str) -> Option<String> {
        let e = self.get().err()?;
        // io::Error's text is strerror's followed by " (os error N)"; OVS prints strerror's.
        let text = e.to_string();
        let text = text.split(" (os error").next().unwrap_or(&text);
        Some(format!("could not open network device {name} ({text})"))
    }

    fn set(&self, attached: Result<u32, &io::Error>) {
        match attached {
            Ok(index) => {
                self.errno.store(0, Relaxed);
                self.ifindex.store(index, Relaxed);
            }
            Err(e) => {
                self.errno
                    .store(e.raw_os_error().unwrap_or(libc::ENODEV), Relaxed);
                self.ifindex.store(0, Relaxed);
            }
        }
    }
}

/// An interface of this namespace as a bridge port.
pub struct SystemPort {
    name: String,
    socket: Option<SystemSocket>,
    status: Arc<SystemStatus>,
    /// How the socket receives, kept for every re-attachment.
    rx: SystemRx,
    /// The socket's receive-queue drop count when last read (see `new_queue_drops`).
    drops_seen: u32,
}

impl SystemPort {
    /// The port for interface `name`, attached if it exists now.
    pub fn open(name: &str, status: Arc<SystemStatus>, rx: SystemRx) -> SystemPort {
        let mut port = SystemPort {
            name: name.to_owned(),
            socket: None,
            status,
            rx,
            drops_seen: 0,
        };
        port.refresh();
        port
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The socket while attached.
    #[inline]
    pub(crate) fn socket(&self) -> Option<&SystemSocket> {
        self.socket.as_ref()
    }

    /// The socket while attached, to receive (a ring's reader moves on).
    #[inline]
    pub(crate) fn socket_mut(&mut self) -> Option<&mut SystemSocket> {
        self.socket.as_mut()
    }

    /// Frames the kernel dropped since the last call because the socket's receive queue was
    /// full (the datapath reads too slowly for what the interface delivers).
    pub(crate) fn new_queue_drops(&mut self) -> u64 {
        let Some(socket) = &self.socket else {
            return 0;
        };
        let Ok(now) = receive_queue_drops(socket.as_fd()) else {
            return 0;
        };
        let new = now.wrapping_sub(self.drops_seen);
        self.drops_seen = now;
        u64::from(new)
    }

    pub(crate) fn poll_fd(&self) -> Option<BorrowedFd<'_>> {
        self.socket.as_ref().map(|s| s.as_fd())
    }

    /// Follows the interface of the port's name: attaches when it appeared, re-attaches when it
    /// was made again (another ifindex), detaches when it went. Returns whether the socket
    /// changed (the poll set must be rebuilt). An interface that is only down keeps its socket:
    /// the kernel resumes delivery when it comes up.
    pub(crate) fn refresh(&mut self) -> bool {
        let index = interface_index(&self.name);
        let current = self.socket.as_ref().map(SystemSocket::ifindex);
        match (index, current) {
            (Ok(index), Some(bound)) if index == bound => false,
            (Ok(_), _) => {
                let had = self.socket.take().is_some();
                match SystemSocket::open(&self.name, self.rx) {
                    Ok(socket) => {
                        tracing::info!(port = %self.name, ifindex = socket.ifindex(), rx = ?self.rx, "system port attached");
                        self.status.set(Ok(socket.ifindex()));
                        self.socket = Some(socket);
                        self.drops_seen = 0;
                        true
                    }
                    Err(e) => {
                        tracing::warn!(port = %self.name, error = %e, "cannot open system port");
                        self.status.set(Err(&e));
                        had
                    }
                }
            }
            (Err(e), _) => {
                let had = self.socket.take().is_some();
                if had {
                    tracing::info!(port = %self.name, error = %e, "system port detached");
                }
                self.status.set(Err(&e));
                had
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_interface_is_said_in_ovs_words() {
        let status = Arc::new(SystemStatus::default());
        let port = SystemPort::open("grebe-none0", status.clone(), SystemRx::Mmsg);
        assert!(port.socket().is_none());
        assert_eq!(
            status.error("grebe-none0").as_deref(),
            Some("could not open network device grebe-none0 (No such device)")
        );
    }
}
