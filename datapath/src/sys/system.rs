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
//! `recvmmsg` and `sendmmsg` batch both directions. The socket is created with protocol 0 (it
//! receives nothing) and only bound to `ETH_P_ALL` on the interface once it is set up, so no
//! frame ever arrives without its virtio-net header or from another interface.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::raw::{iovec, send_all};

/// Frames per `recvmmsg` call.
pub const SYSTEM_BATCH: usize = 32;
/// Room in front of a received frame for the 802.1Q tag the kernel took out.
const TAG_ROOM: usize = 4;
/// The virtio-net header in front of every frame (no `num_buffers`: not mergeable buffers).
const VNET_HDR_LEN: usize = 10;
/// A 64 KB TSO frame with its Ethernet, VLAN and virtio-net headers.
const BUF_LEN: usize = 65_536 + 64;
/// Ethernet destination and source: the tag goes behind them.
const MACS_LEN: usize = 12;
/// `CMSG_SPACE(sizeof(struct tpacket_auxdata))`, rounded up generously.
const CONTROL_LEN: usize = 64;

/// An `AF_PACKET` socket bound to one interface, with the options above.
#[derive(Debug)]
pub struct SystemSocket {
    fd: OwnedFd,
    ifindex: u32,
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

fn set_int_option(
    fd: &OwnedFd,
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

impl SystemSocket {
    /// Opens the socket for the interface `name`, set up as the module says.
    pub fn open(name: &str) -> io::Result<SystemSocket> {
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
        set_int_option(&fd, libc::SOL_PACKET, libc::PACKET_VNET_HDR, 1)?;
        set_int_option(&fd, libc::SOL_PACKET, libc::PACKET_AUXDATA, 1)?;
        set_int_option(&fd, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, 1)?;
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
        Ok(SystemSocket { fd, ifindex })
    }

    /// The index of the interface the socket is bound to: when the interface of that name has
    /// another index, it was deleted and made again, and the socket must be opened anew.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Receives up to `SYSTEM_BATCH` frames without blocking; returns how many (0 when none
    /// wait). An error means the interface went away or down: the port reopens it.
    pub fn recv(&self, batch: &mut SystemRecvBatch) -> io::Result<usize> {
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
        // across the call. MSG_DONTWAIT keeps it non-blocking; MSG_TRUNC reports full lengths.
        let n = unsafe {
            libc::recvmmsg(
                self.fd.as_raw_fd(),
                batch.msgs.as_mut_ptr(),
                batch.msgs.len() as libc::c_uint,
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            return match err.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(err),
            };
        }
        let n = n as usize;
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

    /// The frames `socket` receives within a second, without their virtio-net header.
    fn received(socket: &SystemSocket, batch: &mut SystemRecvBatch) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut out = Vec::new();
        while Instant::now() < deadline {
            let n = socket.recv(batch).unwrap();
            out.extend((0..n).map(|i| batch.packet(i)[VNET_HDR_LEN..].to_vec()));
            std::thread::sleep(Duration::from_millis(20));
        }
        out
    }

    #[test]
    fn frames_cross_a_veth_with_their_vlan_tag_and_do_not_echo() {
        in_own_netns("frames_cross_a_veth", || {
            ip("link add sv0 type veth peer name sv1");
            for dev in ["sv0", "sv1"] {
                ip(&format!("link set {dev} up"));
            }
            let a = SystemSocket::open("sv0").unwrap();
            let b = SystemSocket::open("sv1").unwrap();
            assert_eq!(a.ifindex(), interface_index("sv0").unwrap());
            let mut batch = SystemRecvBatch::new();
            received(&a, &mut batch); // whatever the links sent on coming up
            let mut scratch = SystemSendScratch::default();
            let vnet = [0u8; VNET_HDR_LEN];
            let dst = [0x02, 0, 0, 0, 0, 0xaa];
            let src = [0x02, 0, 0, 0, 0, 0xbb];
            let plain = frame(dst, src, 0x88b5, &[7; 50]);
            // The receiving kernel moves this tag into the packet's metadata (VLAN 10, PCP 5).
            let mut tagged = [dst, src].concat();
            tagged.extend_from_slice(&[0x81, 0x00, 0xa0, 10, 0x88, 0xb5]);
            tagged.extend_from_slice(&[7; 50]);
            let mut sent = 0;
            let packets = [[&vnet[..], &[], &plain[..]], [&vnet[..], &[], &tagged[..]]];
            b.send(packets, &mut scratch, |_, r| {
                r.unwrap();
                sent += 1;
            });
            assert_eq!(sent, 2);
            let got: Vec<_> = received(&a, &mut batch)
                .into_iter()
                .filter(|f| f[6..12] == src)
                .collect();
            assert_eq!(
                got,
                vec![plain.clone(), tagged],
                "plain, then tagged as on the wire"
            );
            // What `a` sends, `a` does not read back; `b` does.
            received(&b, &mut batch);
            a.send([[&vnet[..], &[], &plain[..]]], &mut scratch, |_, r| {
                r.unwrap()
            });
            assert!(received(&a, &mut batch).iter().all(|f| f[6..12] != src));
            assert!(received(&b, &mut batch).contains(&plain));
        });
    }

    #[test]
    fn link_events_report_a_new_interface_and_a_missing_one_is_an_error() {
        in_own_netns("link_events", || {
            let events = LinkEvents::open().unwrap();
            assert!(!events.drain().unwrap(), "nothing happened yet");
            assert!(SystemSocket::open("sv9").is_err(), "no such interface");
            ip("link add sv9 type veth peer name sv8");
            std::thread::sleep(Duration::from_millis(50));
            assert!(events.drain().unwrap(), "the new link is an event");
            assert!(SystemSocket::open("sv9").is_ok());
        });
    }
}
