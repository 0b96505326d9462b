//! System ports: an existing Linux interface (a container's veth, a VM's tap held by qemu, a
//! NIC) read and written whole through an `AF_PACKET` socket bound to it, as OVS's netdev
//! datapath reads one.
//!
//! - `PACKET_VNET_HDR`: every frame carries the 10-byte virtio-net header, as a TAP with
//!   offloads does, so a veth's 64 KB TSO frames and unfinished checksums (CHECKSUM_PARTIAL)
//!   cross whole and flagged, and the same offload code completes or segments them.
//! - `PACKET_AUXDATA`: the kernel strips a received frame's 802.1Q tag into the metadata; it is
//!   put back, so the bridge sees the frame as it was on the wire.
//! - `PACKET_IGNORE_OUTGOING`: frames grebe sends on the interface do not come back as received.
//! - promiscuous membership: frames for MACs behind the bridge reach the socket.
//!
//! `recvmmsg` (or, with `SystemRx::Ring`, a `TPACKET_V3` ring: `sys::ring`) and `sendmmsg`
//! batch both directions. The socket is created with protocol 0 (it
//! receives nothing) and only bound to `ETH_P_ALL` on the interface once it is set up, so no
//! frame ever arrives without its virtio-net header or from another interface.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::raw::{iovec, send_all};
use super::ring::{RingFrame, RxRing};

/// Frames per `recvmmsg` call.
pub const SYSTEM_BATCH: usize = 32;
/// Room in front of a received frame for the 802.1Q tag the kernel took out.
const TAG_ROOM: usize = 4;
/// The virtio-net header in front of every frame (no `num_buffers`: not mergeable buffers).
pub(super) const VNET_HDR_LEN: usize = 10;
/// A 64 KB TSO frame with its Ethernet, VLAN and virtio-net headers.
const BUF_LEN: usize = 65_536 + 64;
/// Ethernet destination and source: the tag goes behind them.
const MACS_LEN: usize = 12;
/// `CMSG_SPACE(sizeof(struct tpacket_auxdata))`, rounded up generously.
const CONTROL_LEN: usize = 64;

/// How a system port's socket receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SystemRx {
    /// `recvmmsg` into the batch's buffers, the tag from `PACKET_AUXDATA`.
    #[default]
    Mmsg,
    /// A `TPACKET_V3` ring mapped once, frames copied from it into the batch's buffers.
    Ring,
}

/// An `AF_PACKET` socket bound to one interface, with the options above.
#[derive(Debug)]
pub struct SystemSocket {
    fd: OwnedFd,
    ifindex: u32,
    /// The receive ring, with `SystemRx::Ring`.
    ring: Option<RxRing>,
}

/// Receive buffers allocated once and reused for every batch.
pub struct SystemRecvBatch {
    bufs: Vec<Box<[u8]>>,
    /// Where each received packet (virtio-net header first) starts and ends in its buffer.
    spans: Vec<(usize, usize)>,
    /// Whether the kernel cut the frame short (larger than the buffer).
    truncated: Vec<bool>,
    controls: Vec<[u64; CONTROL_LEN / 8]>,
    iovs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
}

// SAFETY: the raw pointers in `iovs`/`msgs` are scratch rewritten before every call and point only
// into `bufs` and `controls`, which the struct owns; moving it moves them too.
unsafe impl Send for SystemRecvBatch {}

impl Default for SystemRecvBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl SystemRecvBatch {
    pub fn new() -> Self {
        SystemRecvBatch {
            bufs: (0..SYSTEM_BATCH)
                .map(|_| vec![0u8; BUF_LEN].into_boxed_slice())
                .collect(),
            spans: vec![(0, 0); SYSTEM_BATCH],
            truncated: vec![false; SYSTEM_BATCH],
            controls: vec![[0; CONTROL_LEN / 8]; SYSTEM_BATCH],
            iovs: Vec::with_capacity(SYSTEM_BATCH),
            msgs: Vec::with_capacity(SYSTEM_BATCH),
        }
    }

    /// The `i`th received packet: the virtio-net header, then the frame with its tag restored.
    #[inline]
    pub fn packet(&self, i: usize) -> &[u8] {
        let (start, end) = self.spans[i];
        &self.bufs[i][start..end]
    }

    /// The `i`th received packet, to edit in place (checksum completion).
    #[inline]
    pub fn packet_mut(&mut self, i: usize) -> &mut [u8] {
        let (start, end) = self.spans[i];
        &mut self.bufs[i][start..end]
    }

    /// Where the `i`th packet lies in `buffers()[i]`.
    #[inline]
    pub fn span(&self, i: usize) -> (usize, usize) {
        self.spans[i]
    }

    /// Whether the `i`th frame was longer than a buffer and arrived cut short.
    #[inline]
    pub fn truncated(&self, i: usize) -> bool {
        self.truncated[i]
    }

    pub fn buffers(&self) -> &[Box<[u8]>] {
        &self.bufs
    }

    /// Copies a frame from the ring into buffer `i` as `recv` leaves one: the virtio-net
    /// header, then the frame with its tag put back behind the MACs.
    fn store(&mut self, i: usize, frame: RingFrame<'_>) {
        let buf = &mut self.bufs[i];
        let room = BUF_LEN - TAG_ROOM;
        let len = frame.packet.len().min(room);
        self.truncated[i] = frame.wire_len + VNET_HDR_LEN > len;
        let packet = &frame.packet[..len];
        self.spans[i] = match frame.tag {
            Some((tpid, tci)) if len >= VNET_HDR_LEN + MACS_LEN => {
                let (head, rest) = packet.split_at(VNET_HDR_LEN + MACS_LEN);
                let at = head.len();
                buf[..at].copy_from_slice(head);
                buf[at..at + 2].copy_from_slice(&tpid.to_be_bytes());
                buf[at + 2..at + 4].copy_from_slice(&tci.to_be_bytes());
                buf[at + TAG_ROOM..at + TAG_ROOM + rest.len()].copy_from_slice(rest);
                (0, TAG_ROOM + len)
            }
            _ => {
                buf[..len].copy_from_slice(packet);
                (0, len)
            }
        };
    }
}

/// The kernel's index of the interface `name`.
pub fn interface_index(name: &str) -> io::Result<u32> {
    let c = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a valid NUL-terminated string that lives across the call.
    let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if index == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(index)
}

/// Sets one int-valued socket option (the packet sockets' and the raw IPv6 socket's).
pub(super) fn set_int_option(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `fd` is an open socket; the option reads one int, which `value` is, for the call.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// How many packets the kernel dropped for `fd` since it was opened because its receive queue
/// was full (the socket's `sk_drops`, by `SO_MEMINFO`, which does not reset it). A 32-bit
/// count that wraps: callers take differences.
pub fn receive_queue_drops(fd: BorrowedFd<'_>) -> io::Result<u32> {
    const VARS: usize = libc::SK_MEMINFO_DROPS as usize + 1;
    let mut info = [0u32; VARS];
    let mut len = size_of_val(&info) as libc::socklen_t;
    // SAFETY: `fd` is an open socket; the kernel writes at most `len` bytes into `info`, which
    // is `len` bytes long, and stores the length it wrote in `len`.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_MEMINFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    if (len as usize) < size_of_val(&info) {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "SO_MEMINFO without the drop count",
        ));
    }
    Ok(info[libc::SK_MEMINFO_DROPS as usize])
}

impl SystemSocket {
    /// Opens the socket for the interface `name`, set up as the module says, receiving by `rx`.
    pub fn open(name: &str, rx: SystemRx) -> io::Result<SystemSocket> {
        let ifindex = interface_index(name)?;
        // SAFETY: plain socket(2) call; the result is checked before use.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a socket just opened and owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        set_int_option(fd.as_fd(), libc::SOL_PACKET, libc::PACKET_VNET_HDR, 1)?;
        set_int_option(fd.as_fd(), libc::SOL_PACKET, libc::PACKET_AUXDATA, 1)?;
        set_int_option(
            fd.as_fd(),
            libc::SOL_PACKET,
            libc::PACKET_IGNORE_OUTGOING,
            1,
        )?;
        // After PACKET_VNET_HDR (refused once a ring exists), before the bind that starts delivery.
        let ring = match rx {
            SystemRx::Mmsg => None,
            SystemRx::Ring => Some(RxRing::attach(&fd)?),
        };
        let mreq = libc::packet_mreq {
            mr_ifindex: ifindex as libc::c_int,
            mr_type: libc::PACKET_MR_PROMISC as libc::c_ushort,
            mr_alen: 0,
            mr_address: [0; 8],
        };
        // SAFETY: `fd` is an open packet socket; PACKET_ADD_MEMBERSHIP reads one packet_mreq,
        // which `mreq` is, for the duration of the call.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                (&mreq as *const libc::packet_mreq).cast(),
                size_of::<libc::packet_mreq>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let socket = socket2::Socket::from(fd);
        // A burst of 64 KB frames from a workload must not overflow while the loop is busy.
        let _ = socket.set_recv_buffer_size(4 << 20);
        let _ = socket.set_send_buffer_size(4 << 20);
        let fd = OwnedFd::from(socket);
        // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value to fill in.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as libc::c_ushort;
        addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        addr.sll_ifindex = ifindex as libc::c_int;
        // SAFETY: `addr` is a valid sockaddr_ll of the length given, live across the call.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(SystemSocket { fd, ifindex, ring })
    }

    /// The index of the interface the socket is bound to: when the interface of that name has
    /// another index, it was deleted and made again, and the socket must be opened anew.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Receives up to `SYSTEM_BATCH` frames without blocking; returns how many (0 when none
    /// wait). An error means the interface went away or down: the port reopens it.
    pub fn recv(&mut self, batch: &mut SystemRecvBatch) -> io::Result<usize> {
        if let Some(ring) = &mut self.ring {
            let mut n = 0;
            ring.read(SYSTEM_BATCH, |frame| {
                batch.store(n, frame);
                n += 1;
            });
            if n == 0 {
                // The ring has no error to return: a poll that woke for an empty ring may be
                // the socket's error (the interface went down or away), which reading clears.
                if let Some(e) = socket2::SockRef::from(&self.fd).take_error()? {
                    return Err(e);
                }
            }
            return Ok(n);
        }
        batch.iovs.clear();
        batch.msgs.clear();
        for buf in batch.bufs.iter_mut() {
            let room = &mut buf[TAG_ROOM..];
            batch.iovs.push(libc::iovec {
                iov_base: room.as_mut_ptr().cast(),
                iov_len: room.len(),
            });
        }
        for (iov, control) in batch.iovs.iter_mut().zip(batch.controls.iter_mut()) {
            // SAFETY: mmsghdr is plain old data; all-zero is a valid (empty) value.
            let mut msg: libc::mmsghdr = unsafe { std::mem::zeroed() };
            msg.msg_hdr.msg_iov = iov;
            msg.msg_hdr.msg_iovlen = 1;
            msg.msg_hdr.msg_control = control.as_mut_ptr().cast();
            msg.msg_hdr.msg_controllen = CONTROL_LEN;
            batch.msgs.push(msg);
        }
        // SAFETY: `msgs` holds SYSTEM_BATCH headers, each pointing at one iovec over a distinct
        // owned buffer and at a distinct owned control buffer of the stated lengths; all live
        // across the call. MSG_TRUNC reports full lengths.
        let n = unsafe {
            super::raw::recv_batch(self.fd.as_raw_fd(), &mut batch.msgs, libc::MSG_TRUNC)?
        };
        for i in 0..n {
            let msg = &batch.msgs[i].msg_hdr;
            let full = batch.msgs[i].msg_len as usize;
            let len = full.min(BUF_LEN - TAG_ROOM);
            batch.truncated[i] = full > len || msg.msg_flags & libc::MSG_TRUNC != 0;
            let tag = vlan_tag(msg);
            let buf = &mut batch.bufs[i];
            batch.spans[i] = match tag {
                Some((tpid, tci)) if len >= VNET_HDR_LEN + MACS_LEN => {
                    // Header and MACs move 4 bytes forward; the tag fills the gap behind them.
                    buf.copy_within(TAG_ROOM..TAG_ROOM + VNET_HDR_LEN + MACS_LEN, 0);
                    let at = VNET_HDR_LEN + MACS_LEN;
                    buf[at..at + 2].copy_from_slice(&tpid.to_be_bytes());
                    buf[at + 2..at + 4].copy_from_slice(&tci.to_be_bytes());
                    (0, TAG_ROOM + len)
                }
                _ => (TAG_ROOM, TAG_ROOM + len),
            };
        }
        Ok(n)
    }

    /// Sends every (virtio-net header, frame) pair, in batches; `on_done` hears of each by index.
    /// `scratch` holds the call's iovecs and message headers, reused by the caller.
    pub fn send<'a>(
        &self,
        packets: impl IntoIterator<Item = [&'a [u8]; 3]>,
        scratch: &mut SystemSendScratch,
        on_done: impl FnMut(usize, Result<(), io::Error>),
    ) {
        scratch.iovs.clear();
        scratch.msgs.clear();
        for [header, head, rest] in packets {
            scratch.iovs.push([iovec(header), iovec(head), iovec(rest)]);
        }
        for iov in scratch.iovs.iter_mut() {
            // SAFETY: mmsghdr is plain old data; all-zero is a valid (empty) value: no address,
            // so the kernel sends on the interface the socket is bound to.
            let mut msg: libc::mmsghdr = unsafe { std::mem::zeroed() };
            msg.msg_hdr.msg_iov = iov.as_mut_ptr();
            msg.msg_hdr.msg_iovlen = iov.len();
            scratch.msgs.push(msg);
        }
        // Every message points at three iovecs over bytes borrowed for this whole call.
        send_all(self.fd.as_raw_fd(), &mut scratch.msgs, on_done);
    }
}

impl AsFd for SystemSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The iovecs and message headers of one `SystemSocket::send`, kept by the caller for reuse.
#[derive(Default)]
pub struct SystemSendScratch {
    iovs: Vec<[libc::iovec; 3]>,
    msgs: Vec<libc::mmsghdr>,
}

// SAFETY: the pointers are scratch, rebuilt for each call, pointing only into memory borrowed for
// the duration of that call.
unsafe impl Send for SystemSendScratch {}

/// The 802.1Q tag the kernel stripped from a received frame, as (TPID, TCI), from the
/// message's `PACKET_AUXDATA`.
fn vlan_tag(msg: &libc::msghdr) -> Option<(u16, u16)> {
    // SAFETY: `msg` was filled by recvmmsg: its control pointer and length describe a buffer we
    // own, and CMSG_FIRSTHDR/CMSG_NXTHDR stay inside the length the kernel wrote.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(msg) };
    while !cmsg.is_null() {
        // SAFETY: `cmsg` is non-null and inside the control buffer (see above).
        let header = unsafe { &*cmsg };
        if header.cmsg_level == libc::SOL_PACKET && header.cmsg_type == libc::PACKET_AUXDATA {
            // SAFETY: a PACKET_AUXDATA message carries one tpacket_auxdata after its header;
            // read_unaligned because the control buffer guarantees only cmsg alignment.
            let aux: libc::tpacket_auxdata = unsafe {
                std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::tpacket_auxdata>())
            };
            if aux.tp_status & libc::TP_STATUS_VLAN_VALID == 0 {
                return None;
            }
            let tpid = if aux.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                aux.tp_vlan_tpid
            } else {
                0x8100
            };
            return Some((tpid, aux.tp_vlan_tci));
        }
        // SAFETY: as for CMSG_FIRSTHDR; returns null past the end.
        cmsg = unsafe { libc::CMSG_NXTHDR(msg, cmsg) };
    }
    None
}

/// The kernel's link events (`RTMGRP_LINK`): an interface made, deleted, renamed, up or down.
/// Only that something changed matters here; which port it concerns is read by name after.
#[derive(Debug)]
pub struct LinkEvents {
    fd: OwnedFd,
}

impl LinkEvents {
    pub fn open() -> io::Result<LinkEvents> {
        // SAFETY: plain socket(2) call; the result is checked before use.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a socket just opened and owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_nl is plain old data; all-zero is a valid value to fill in.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        addr.nl_groups = libc::RTMGRP_LINK as u32;
        // SAFETY: `addr` is a valid sockaddr_nl of the length given, live across the call.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(LinkEvents { fd })
    }

    /// Reads every pending event; true if there was any. A queue that overflowed (ENOBUFS)
    /// lost events, which counts as a change too.
    pub fn drain(&self) -> io::Result<bool> {
        let mut buf = [0u8; 8192];
        let mut any = false;
        loop {
            // SAFETY: `buf` is a writable buffer of the length given, live across the call.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n > 0 {
                any = true;
                continue;
            }
            if n == 0 {
                return Ok(any);
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EAGAIN) => return Ok(any),
                Some(libc::EINTR) => continue,
                Some(libc::ENOBUFS) => any = true,
                _ => return Err(err),
            }
        }
    }
}

impl AsFd for LinkEvents {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use std::time::{Duration, Instant};

    /// Runs `body` on a thread of its own in a new network namespace, where it may make
    /// interfaces: none of them is seen outside, and all go when the thread ends. None when not
    /// root (outside CI).
    fn in_own_netns(test: &str, body: impl FnOnce() + Send + 'static) {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: needs root under CI"
            );
            eprintln!("SKIPPED {test}: needs root for a network namespace");
            return;
        }
        std::thread::spawn(move || {
            // SAFETY: unshare affects only this thread (a new network namespace for it); the
            // `ip` commands it spawns inherit it.
            assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0, "unshare");
            body();
        })
        .join()
        .expect("test thread");
    }

    fn ip(args: &str) {
        let ok = Command::new("ip").args(args.split(' ')).status().unwrap();
        assert!(ok.success(), "ip {args}");
    }

    fn frame(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = [dst, src].concat();
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// The packets `socket` receives within a second, each its virtio-net header and frame.
    fn received_whole(socket: &mut SystemSocket, batch: &mut SystemRecvBatch) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut out = Vec::new();
        while Instant::now() < deadline {
            let n = socket.recv(batch).unwrap();
            for i in 0..n {
                assert!(!batch.truncated(i), "frame {i} cut short");
                out.push(batch.packet(i).to_vec());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        out
    }

    /// The frames `socket` receives within a second, without their virtio-net header.
    fn received(socket: &mut SystemSocket, batch: &mut SystemRecvBatch) -> Vec<Vec<u8>> {
        received_whole(socket, batch)
            .into_iter()
            .map(|p| p[VNET_HDR_LEN..].to_vec())
            .collect()
    }

    /// A TCP/IPv4 frame of `payload` bytes from `src` to `dst`, and the virtio-net header that
    /// asks for it to be segmented at 1448 bytes with its checksum left to finish.
    fn tso_frame(dst: [u8; 6], src: [u8; 6], payload: usize) -> ([u8; VNET_HDR_LEN], Vec<u8>) {
        let total = (20 + 20 + payload) as u16;
        let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0, 198, 51, 100, 11];
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&[198, 51, 100, 12]);
        let mut sum = ip
            .chunks(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum::<u32>();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        let tcp = [
            0x9c, 0x40, 0x14, 0x51, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0,
        ];
        let mut body = ip;
        body.extend_from_slice(&tcp);
        body.extend((0..payload).map(|i| i as u8));
        let f = frame(dst, src, 0x0800, &body);
        let mut vnet = [0u8; VNET_HDR_LEN];
        vnet[0] = 1; // VIRTIO_NET_HDR_F_NEEDS_CSUM
        vnet[1] = 1; // VIRTIO_NET_HDR_GSO_TCPV4
        vnet[2..4].copy_from_slice(&54u16.to_le_bytes()); // hdr_len
        vnet[4..6].copy_from_slice(&1448u16.to_le_bytes()); // gso_size
        vnet[6..8].copy_from_slice(&34u16.to_le_bytes()); // csum_start
        vnet[8..10].copy_from_slice(&16u16.to_le_bytes()); // csum_offset
        (vnet, f)
    }

    /// Both ways of receiving get the same frames: plain, tagged (the tag put back as on the
    /// wire), and a 60 KB TSO frame whole with its segmentation request; none echo.
    fn frames_cross_a_veth(rx: SystemRx) {
        ip("link add sv0 type veth peer name sv1");
        for dev in ["sv0", "sv1"] {
            ip(&format!("link set {dev} up"));
        }
        let mut a = SystemSocket::open("sv0", rx).unwrap();
        let mut b = SystemSocket::open("sv1", rx).unwrap();
        assert_eq!(a.ifindex(), interface_index("sv0").unwrap());
        let mut batch = SystemRecvBatch::new();
        received(&mut a, &mut batch); // whatever the links sent on coming up
        let mut scratch = SystemSendScratch::default();
        let vnet = [0u8; VNET_HDR_LEN];
        let dst = [0x02, 0, 0, 0, 0, 0xaa];
        let src = [0x02, 0, 0, 0, 0, 0xbb];
        let plain = frame(dst, src, 0x88b5, &[7; 50]);
        // The receiving kernel moves this tag into the packet's metadata (VLAN 10, PCP 5).
        let mut tagged = [dst, src].concat();
        tagged.extend_from_slice(&[0x81, 0x00, 0xa0, 10, 0x88, 0xb5]);
        tagged.extend_from_slice(&[7; 50]);
        let (tso_vnet, tso) = tso_frame(dst, src, 60_000);
        let mut sent = 0;
        let packets = [
            [&vnet[..], &[], &plain[..]],
            [&vnet[..], &[], &tagged[..]],
            [&tso_vnet[..], &[], &tso[..]],
        ];
        b.send(packets, &mut scratch, |_, r| {
            r.unwrap();
            sent += 1;
        });
        assert_eq!(sent, 3);
        let got: Vec<_> = received_whole(&mut a, &mut batch)
            .into_iter()
            .filter(|p| p[VNET_HDR_LEN + 6..VNET_HDR_LEN + 12] == src)
            .collect();
        assert_eq!(got.len(), 3, "{rx:?}: plain, tagged and TSO");
        assert_eq!(got[0][VNET_HDR_LEN..], plain[..], "{rx:?}: plain");
        assert_eq!(
            got[1][VNET_HDR_LEN..],
            tagged[..],
            "{rx:?}: tagged as on the wire"
        );
        assert_eq!(
            got[2][VNET_HDR_LEN..],
            tso[..],
            "{rx:?}: the TSO frame whole"
        );
        assert_eq!(got[2][1], 1, "{rx:?}: still a TCPv4 GSO frame");
        assert_eq!(
            got[2][4..6],
            1448u16.to_le_bytes(),
            "{rx:?}: its segment size"
        );
        // What `a` sends, `a` does not read back; `b` does.
        received(&mut b, &mut batch);
        a.send([[&vnet[..], &[], &plain[..]]], &mut scratch, |_, r| {
            r.unwrap()
        });
        assert!(received(&mut a, &mut batch).iter().all(|f| f[6..12] != src));
        assert!(received(&mut b, &mut batch).contains(&plain));
    }

    #[test]
    fn frames_cross_a_veth_with_their_vlan_tag_and_do_not_echo() {
        in_own_netns("frames_cross_a_veth", || {
            frames_cross_a_veth(SystemRx::Mmsg)
        });
    }

    #[test]
    fn frames_cross_a_veth_by_the_ring_as_by_recvmmsg() {
        in_own_netns("frames_cross_a_veth_ring", || {
            frames_cross_a_veth(SystemRx::Ring)
        });
    }

    /// Hundreds of frames fill several blocks; the ring hands out 32 at a time, in order, and
    /// gives every block back (the ring has room for more than it holds).
    #[test]
    fn the_ring_delivers_many_frames_in_order_across_blocks() {
        in_own_netns("ring_many_frames", || {
            ip("link add sv0 type veth peer name sv1");
            for dev in ["sv0", "sv1"] {
                ip(&format!("link set {dev} up"));
            }
            let mut a = SystemSocket::open("sv0", SystemRx::Ring).unwrap();
            let b = SystemSocket::open("sv1", SystemRx::Mmsg).unwrap();
            let mut batch = SystemRecvBatch::new();
            received(&mut a, &mut batch);
            let mut scratch = SystemSendScratch::default();
            let vnet = [0u8; VNET_HDR_LEN];
            let dst = [0x02, 0, 0, 0, 0, 0xaa];
            let src = [0x02, 0, 0, 0, 0, 0xbb];
            let mut expected = Vec::new();
            // 20 rounds of 200 frames of 1400 bytes: 5.6 MB, more than the 4 MB ring, read
            // between rounds.
            let mut got = Vec::new();
            for round in 0..20u32 {
                let frames: Vec<Vec<u8>> = (0..200u32)
                    .map(|i| {
                        let mut payload = vec![0u8; 1400];
                        payload[..4].copy_from_slice(&(round * 200 + i).to_be_bytes());
                        frame(dst, src, 0x88b5, &payload)
                    })
                    .collect();
                b.send(
                    frames.iter().map(|f| [&vnet[..], &[][..], &f[..]]),
                    &mut scratch,
                    |_, r| r.unwrap(),
                );
                expected.extend(frames);
                std::thread::sleep(Duration::from_millis(10));
                loop {
                    let n = a.recv(&mut batch).unwrap();
                    assert!(n <= SYSTEM_BATCH);
                    got.extend((0..n).map(|i| batch.packet(i)[VNET_HDR_LEN..].to_vec()));
                    if n == 0 {
                        break;
                    }
                }
            }
            got.extend(received(&mut a, &mut batch));
            got.retain(|f| f[6..12] == src);
            assert_eq!(got.len(), expected.len(), "every frame, none twice");
            assert!(got == expected, "in the order sent");
        });
    }

    #[test]
    fn link_events_report_a_new_interface_and_a_missing_one_is_an_error() {
        in_own_netns("link_events", || {
            let events = LinkEvents::open().unwrap();
            assert!(!events.drain().unwrap(), "nothing happened yet");
            assert!(
                SystemSocket::open("sv9", SystemRx::Mmsg).is_err(),
                "no such interface"
            );
            ip("link add sv9 type veth peer name sv8");
            std::thread::sleep(Duration::from_millis(50));
            assert!(events.drain().unwrap(), "the new link is an event");
            assert!(SystemSocket::open("sv9", SystemRx::Ring).is_ok());
        });
    }
}
