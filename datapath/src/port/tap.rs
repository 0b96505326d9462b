//! An internal port: a TAP device that the host sees as a network interface.

use std::io;

use crate::sys::{Tap, TapError};

pub struct InternalPort {
    tap: Tap,
}

impl InternalPort {
    /// Opens or re-attaches to the TAP `name`, persistent so that a daemon restart keeps the
    /// interface with its addresses and routes.
    pub fn open(name: &str, offload: bool) -> Result<InternalPort, TapError> {
        let tap = Tap::open(name, offload)?;
        tap.set_persist(true)?;
        Ok(InternalPort { tap })
    }

    pub(crate) fn tap(&self) -> &Tap {
        &self.tap
    }

    #[inline]
    pub(crate) fn write(&self, frame: &[u8]) -> io::Result<usize> {
        self.tap.write(frame)
    }

    /// The port is deleted: the interface goes away with the last file descriptor.
    pub(crate) fn destroy(self) {
        if let Err(e) = self.tap.set_persist(false) {
            tracing::warn!(port = self.tap.name(), error = %e, "cannot remove TAP device");
        }
    }
}
