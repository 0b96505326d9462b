//! The only module of grebe with `unsafe`: TAP ioctls, the raw GRE socket's batched calls, `poll`,
//! and two interface queries. Everything above it is safe code over these small types.

mod packet;
mod raw;
mod raw6;
mod ring;
mod system;
mod tun;

pub use packet::{EthLink, PacketTx};
pub use raw::{MAX_BATCH, RawGre, RecvBatch, SendBatch, SendEntry, route_mtu};
pub use raw6::{RawGre6, route_mtu6};
pub use system::{
    LinkEvents, SYSTEM_BATCH, SystemRecvBatch, SystemRx, SystemSendScratch, SystemSocket,
    interface_index, receive_queue_drops,
};
pub use tun::{Tap, TapError, interface_mtu, set_interface_mtu};

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

/// Waits until one of `fds` is readable or `timeout` passes; returns which ones are readable.
/// `ready` is cleared and refilled, so the caller reuses one vector across iterations.
pub fn poll_readable<'a>(
    fds: impl IntoIterator<Item = BorrowedFd<'a>>,
    timeout: Duration,
    scratch: &mut Vec<libc::pollfd>,
    ready: &mut Vec<bool>,
) -> io::Result<()> {
    scratch.clear();
    scratch.extend(fds.into_iter().map(|fd| libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }));
    let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: `scratch` is a valid, initialised array of `scratch.len()` pollfd structs that lives
    // across the call; the fds are borrowed, hence open, for the duration of the call.
    let rc = unsafe { libc::poll(scratch.as_mut_ptr(), scratch.len() as libc::nfds_t, ms) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    ready.clear();
    ready.extend(scratch.iter().map(|p| rc > 0 && p.revents != 0));
    Ok(())
}
