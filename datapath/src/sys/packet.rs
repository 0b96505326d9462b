//! A send-only `AF_PACKET` socket for tunnel packets to on-link remotes. Through the raw IPv4
//! socket every packet pays for a route lookup (not cached with `IP_HDRINCL`), the output hooks
//! and a neighbour lookup; written as a whole Ethernet frame to the transport interface, it
//! skips all three. Which interface and which MAC come from the kernel's own routing and
//! neighbour table, refreshed off the fast path (`port::link`); anything else goes by the raw
//! socket.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::raw::{SendBatch, SendEntry, iovec, message, send_all};

/// Where a tunnel's packets leave as Ethernet frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthLink {
    pub ifindex: i32,
    /// Destination MAC, source MAC, EtherType IPv4: the frame's first 14 bytes.
    pub header: [u8; 14],
}

impl EthLink {
    pub fn new(ifindex: i32, dst: [u8; 6], src: [u8; 6]) -> EthLink {
        let mut header = [0u8; 14];
        header[..6].copy_from_slice(&dst);
        header[6..12].copy_from_slice(&src);
        header[12..].copy_from_slice(&0x0800u16.to_be_bytes());
        EthLink { ifindex, header }
    }
}

pub struct PacketTx {
    fd: OwnedFd,
    iovs: Vec<[libc::iovec; 3]>,
    addrs: Vec<libc::sockaddr_ll>,
    msgs: Vec<libc::mmsghdr>,
    /// Batch entry of each message.
    entry_of: Vec<usize>,
}

// SAFETY: as for SendBatch: the pointer vectors are scratch, rebuilt for each call, and point only
// into memory borrowed for the duration of that call.
unsafe impl Send for PacketTx {}

impl PacketTx {
    /// Opens the socket. Protocol 0: it receives nothing, so it costs the receive path nothing.
    pub fn open() -> io::Result<PacketTx> {
        // SAFETY: plain socket(2) call; the result is checked before use.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a socket just opened and owned by nothing else.
        let socket = socket2::Socket::from(unsafe { OwnedFd::from_raw_fd(fd) });
        // As for the raw socket: a burst of segments of 64 KB frames must not block.
        let _ = socket.set_send_buffer_size(4 << 20);
        let fd = OwnedFd::from(socket);
        Ok(PacketTx {
            fd,
            iovs: Vec::new(),
            addrs: Vec::new(),
            msgs: Vec::new(),
            entry_of: Vec::new(),
        })
    }

    /// Sends every entry as [Ethernet header | entry header | frame from `bufs`], each to the
    /// link `link_of(entry.tag)` names, then clears the batch. `on_done` hears of each entry, as
    /// for `RawGre::send`; an entry whose port has no link any more fails.
    pub fn send<'a>(
        &mut self,
        batch: &mut SendBatch,
        bufs: &[Box<[u8]>],
        link_of: impl Fn(u32) -> Option<&'a EthLink>,
        mut on_done: impl FnMut(&SendEntry, Result<(), io::Error>),
    ) {
        self.iovs.clear();
        self.addrs.clear();
        self.msgs.clear();
        self.entry_of.clear();
        let entries = batch.entries_since(0);
        for (i, e) in entries.iter().enumerate() {
            let Some(link) = link_of(e.tag) else {
                on_done(e, Err(io::Error::other("tunnel has no Ethernet link")));
                continue;
            };
            let frame = &bufs[e.buf as usize][e.frame.0 as usize..e.frame.1 as usize];
            self.iovs.push([
                iovec(&link.header),
                iovec(&e.header[..usize::from(e.header_len)]),
                iovec(frame),
            ]);
            // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value to fill in.
            let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            addr.sll_family = libc::AF_PACKET as libc::c_ushort;
            addr.sll_protocol = (libc::ETH_P_IP as u16).to_be();
            addr.sll_ifindex = link.ifindex;
            addr.sll_halen = 6;
            addr.sll_addr[..6].copy_from_slice(&link.header[..6]);
            self.addrs.push(addr);
            self.entry_of.push(i);
        }
        for (iov, addr) in self.iovs.iter_mut().zip(self.addrs.iter_mut()) {
            self.msgs.push(message(addr, iov));
        }
        // The messages point at each link's Ethernet header, the entry's header bytes and a
        // frame inside `bufs`, all borrowed or owned for the whole call.
        let entry_of = &self.entry_of;
        send_all(self.fd.as_raw_fd(), &mut self.msgs, |i, result| {
            on_done(&entries[entry_of[i]], result)
        });
        batch.clear();
    }
}
