//! The raw IPv4 socket, protocol 47, shared by every tunnel of a daemon: the kernel hands each raw
//! socket its own copy of every GRE packet, so one socket per namespace, never one per tunnel.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::ops::Range;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// Frames per `recvmmsg`/`sendmmsg` call.
pub const MAX_BATCH: usize = 32;
/// Largest IPv4 datagram, so any GRE packet fits one buffer; and the largest frame a TAP with
/// segmentation offload hands over (a 64 KB IP packet, Ethernet and VLAN headers, virtio-net
/// header).
const BUF_LEN: usize = 65_536 + 64;
/// Room for a segment's own headers behind the outer IPv4 and GRE headers.
pub const SEND_HEADER_LEN: usize =
    encap::tunnel::MAX_OUTER_LEN + encap::tso::MAX_SEGMENT_HEADER_LEN;

pub struct RawGre {
    socket: Socket,
}

/// Buffers allocated once per thread and reused for every batch.
pub struct RecvBatch {
    pub(super) bufs: Vec<Box<[u8]>>,
    pub(super) lens: Vec<usize>,
    pub(super) iovs: Vec<libc::iovec>,
    pub(super) msgs: Vec<libc::mmsghdr>,
    /// The IPv6 socket's senders and control messages (empty until it first receives).
    pub(super) names6: Vec<libc::sockaddr_in6>,
    pub(super) controls: Vec<[u64; super::raw6::CONTROL_WORDS]>,
}

// SAFETY: the raw pointers in `iovs`/`msgs` are scratch rewritten before every call and only point
// into `bufs`, which the struct owns; moving the struct to another thread moves the buffers too.
unsafe impl Send for RecvBatch {}

impl Default for RecvBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl RecvBatch {
    pub fn new() -> Self {
        RecvBatch {
            bufs: (0..MAX_BATCH)
                .map(|_| vec![0u8; BUF_LEN].into_boxed_slice())
                .collect(),
            lens: vec![0; MAX_BATCH],
            iovs: Vec::with_capacity(MAX_BATCH),
            msgs: Vec::with_capacity(MAX_BATCH),
            names6: Vec::new(),
            controls: Vec::new(),
        }
    }

    /// The `i`th buffer, whole: the TAP reader fills these one `read` at a time.
    pub fn buf_mut(&mut self, i: usize) -> &mut [u8] {
        &mut self.bufs[i]
    }

    /// The `i`th received packet or frame.
    #[inline]
    pub fn packet(&self, i: usize) -> &[u8] {
        &self.bufs[i][..self.lens[i]]
    }

    /// The `i`th received packet or frame, to edit in place.
    #[inline]
    pub fn packet_mut(&mut self, i: usize) -> &mut [u8] {
        &mut self.bufs[i][..self.lens[i]]
    }

    pub fn set_len(&mut self, i: usize, len: usize) {
        self.lens[i] = len.min(BUF_LEN);
    }

    pub fn buffers(&self) -> &[Box<[u8]>] {
        &self.bufs
    }
}

/// One outgoing GRE packet: headers of its own, frame borrowed from a receive buffer by index, so
/// flooding one frame to many tunnels copies no frame.
#[derive(Clone, Copy)]
pub struct SendEntry {
    pub header: [u8; SEND_HEADER_LEN],
    pub header_len: u16,
    pub buf: u16,
    pub frame: (u32, u32),
    /// The remote: an IPv6 one leaves by the IPv6 socket, which skips the IPv4 header in
    /// `header` and writes its own (see `raw6`).
    pub dst: IpAddr,
    /// Caller's tag, handed back on error (the port to charge).
    pub tag: u32,
}

pub struct SendBatch {
    pub(super) entries: Vec<SendEntry>,
    pub(super) iovs: Vec<[libc::iovec; 2]>,
    addrs: Vec<libc::sockaddr_in>,
    pub(super) addrs6: Vec<libc::sockaddr_in6>,
    /// Each IPv6 message's control data: its length and the buffer.
    pub(super) controls: Vec<(usize, [u64; super::raw6::CONTROL_WORDS])>,
    pub(super) msgs: Vec<libc::mmsghdr>,
    /// Entries with an IPv6 remote, which [`SendBatch::take_ipv6`] moves to their own batch.
    ipv6: usize,
}

// SAFETY: as for RecvBatch: the pointer vectors are scratch, rebuilt for each call, and point only
// into memory borrowed for the duration of that call.
unsafe impl Send for SendBatch {}

impl Default for SendBatch {
    fn default() -> Self {
        Self::with_capacity(MAX_BATCH * 4)
    }
}

impl SendBatch {
    pub fn with_capacity(n: usize) -> Self {
        SendBatch {
            entries: Vec::with_capacity(n),
            iovs: Vec::with_capacity(n),
            addrs: Vec::with_capacity(n),
            addrs6: Vec::new(),
            controls: Vec::new(),
            msgs: Vec::with_capacity(n),
            ipv6: 0,
        }
    }

    /// Moves the entries with an IPv6 remote to `to`, keeping the order of the rest; costs
    /// nothing while there are none.
    #[inline]
    pub fn take_ipv6(&mut self, to: &mut SendBatch) {
        if self.ipv6 == 0 {
            return;
        }
        self.entries.retain(|e| {
            if e.dst.is_ipv6() {
                to.ipv6 += 1;
                to.entries.push(*e);
                false
            } else {
                true
            }
        });
        self.ipv6 = 0;
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Reserves the next entry and returns it for the caller to fill.
    pub fn push(
        &mut self,
        frame_buf: usize,
        frame: Range<usize>,
        dst: IpAddr,
        tag: u32,
    ) -> &mut SendEntry {
        self.ipv6 += usize::from(dst.is_ipv6());
        self.entries.push(SendEntry {
            header: [0; SEND_HEADER_LEN],
            header_len: 0,
            buf: frame_buf as u16,
            frame: (frame.start as u32, frame.end as u32),
            dst,
            tag,
        });
        self.entries.last_mut().expect("just pushed")
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entries queued after the first `n`.
    pub fn entries_since(&self, n: usize) -> &[SendEntry] {
        self.entries.get(n..).unwrap_or(&[])
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.ipv6 = 0;
    }

    /// Takes back the entry just pushed (its headers could not be written).
    pub fn pop(&mut self) {
        if let Some(e) = self.entries.pop() {
            self.ipv6 -= usize::from(e.dst.is_ipv6());
        }
    }
}

impl RawGre {
    /// Opens the socket. `IP_HDRINCL`: grebe writes the outer header itself (TTL, TOS, DF and the
    /// source per tunnel); the kernel still routes, resolves ARP, and fills the ID and checksum.
    pub fn open() -> io::Result<RawGre> {
        let socket = Socket::new(
            Domain::IPV4,
            Type::RAW,
            Some(Protocol::from(libc::IPPROTO_GRE)),
        )?;
        socket.set_header_included_v4(true)?;
        socket.set_cloexec(true)?;
        // Bursts of 64 KB packets arrive faster than a busy loop wakes up.
        let _ = socket.set_recv_buffer_size(4 << 20);
        let _ = socket.set_send_buffer_size(4 << 20);
        Ok(RawGre { socket })
    }

    /// A second socket for packets larger than the path MTU: the kernel writes the outer IPv4
    /// header itself (TTL 64, TOS 0, the routed source), leaves DF clear and fragments; the peer
    /// reassembles before its raw socket sees the packet. Every raw GRE socket gets a copy of
    /// every received GRE packet, so this one, which only sends, drops its copies in a filter.
    pub fn open_fragmenting() -> io::Result<RawGre> {
        let socket = Socket::new(
            Domain::IPV4,
            Type::RAW,
            Some(Protocol::from(libc::IPPROTO_GRE)),
        )?;
        socket.set_cloexec(true)?;
        let dont: libc::c_int = libc::IP_PMTUDISC_DONT;
        // SAFETY: the fd is an open IPv4 socket; IP_MTU_DISCOVER reads one int, which `dont`
        // is, for the duration of the call.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_MTU_DISCOVER,
                (&dont as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // BPF_RET | BPF_K 0: accept nothing.
        socket.attach_filter(&[socket2::SockFilter::new(0x06, 0, 0, 0)])?;
        let _ = socket.set_send_buffer_size(4 << 20);
        Ok(RawGre { socket })
    }

    /// Receives up to `MAX_BATCH` packets without blocking; returns how many (0 when none wait).
    pub fn recv(&self, batch: &mut RecvBatch) -> io::Result<usize> {
        batch.iovs.clear();
        batch.msgs.clear();
        for buf in batch.bufs.iter_mut() {
            batch.iovs.push(libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            });
        }
        for iov in batch.iovs.iter_mut() {
            // SAFETY: mmsghdr is plain old data; all-zero is a valid (empty) value.
            let mut msg: libc::mmsghdr = unsafe { std::mem::zeroed() };
            msg.msg_hdr.msg_iov = iov;
            msg.msg_hdr.msg_iovlen = 1;
            batch.msgs.push(msg);
        }
        // SAFETY: `msgs` holds MAX_BATCH headers, each pointing at one iovec that points at a
        // distinct owned buffer of the stated length; all live across the call. No address or
        // control buffers are requested.
        let n = unsafe { recv_batch(self.socket.as_raw_fd(), &mut batch.msgs, 0)? };
        for i in 0..n {
            batch.lens[i] = batch.msgs[i].msg_len as usize;
        }
        Ok(n)
    }

    /// Sends every entry, frames taken from `bufs`, then clears the batch. `on_done` hears of each
    /// entry: a message the kernel refuses (no route, no ARP answer, too big) is skipped and the
    /// rest still go out.
    pub fn send(
        &self,
        batch: &mut SendBatch,
        bufs: &[Box<[u8]>],
        mut on_done: impl FnMut(&SendEntry, Result<(), io::Error>),
    ) {
        batch.iovs.clear();
        batch.addrs.clear();
        batch.msgs.clear();
        for e in &batch.entries {
            let frame = &bufs[e.buf as usize][e.frame.0 as usize..e.frame.1 as usize];
            batch
                .iovs
                .push([iovec(&e.header[..usize::from(e.header_len)]), iovec(frame)]);
            // IPv6 entries were moved to their own batch (`take_ipv6`); one left here goes
            // nowhere routable and is refused by the kernel, not misdelivered.
            let dst = match e.dst {
                IpAddr::V4(ip) => ip,
                IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
            };
            batch.addrs.push(sockaddr_in(dst));
        }
        for (iov, addr) in batch.iovs.iter_mut().zip(batch.addrs.iter_mut()) {
            batch.msgs.push(message(addr, iov));
        }
        let (msgs, entries) = (&mut batch.msgs, &batch.entries);
        // Every message points at its own sockaddr_in and two iovecs, which point at the entry's
        // header bytes and at a frame inside `bufs`; all are borrowed or owned for the call.
        send_all(self.socket.as_raw_fd(), msgs, |i, result| {
            on_done(&entries[i], result)
        });
        batch.clear();
    }
}

impl AsFd for RawGre {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

/// One non-blocking `recvmmsg` (`MSG_DONTWAIT` plus `flags`) into `msgs`: how many arrived,
/// 0 when none was waiting or a signal came first.
///
/// # Safety
/// Every header in `msgs` must point at iovecs, and at name and control buffers if set, that
/// are valid for writes of the lengths they state and stay live across the call.
pub(super) unsafe fn recv_batch(
    fd: std::os::fd::RawFd,
    msgs: &mut [libc::mmsghdr],
    flags: libc::c_int,
) -> io::Result<usize> {
    // SAFETY: the caller vouches for every buffer the headers point at; `msgs` itself is a
    // live, writable slice of its stated length.
    let n = unsafe {
        libc::recvmmsg(
            fd,
            msgs.as_mut_ptr(),
            msgs.len() as libc::c_uint,
            libc::MSG_DONTWAIT | flags,
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
    Ok(n as usize)
}

/// `sendmmsg` until every message is sent or refused, telling `on_done` of each by index: a
/// message the kernel refuses (no route, no ARP answer, too big) is reported and skipped, and
/// the rest still go out. The call never waits: a full send buffer (EAGAIN; ENOBUFS from a
/// full device queue) fails every message left at once, since the next would only fail too
/// (one call each), and a loop waiting for room would stop forwarding for every port. The
/// caller makes every message point at memory live for the call.
pub(super) fn send_all(
    fd: std::os::fd::RawFd,
    msgs: &mut [libc::mmsghdr],
    mut on_done: impl FnMut(usize, Result<(), io::Error>),
) {
    let mut start = 0;
    while start < msgs.len() {
        let remaining = &mut msgs[start..];
        // SAFETY: `remaining` is a valid array of message headers whose pointers the caller
        // keeps valid for this call; the kernel writes only their `msg_len` fields.
        let n = unsafe {
            libc::sendmmsg(
                fd,
                remaining.as_mut_ptr(),
                remaining.len() as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(code @ (libc::EAGAIN | libc::ENOBUFS)) => {
                    for i in start..msgs.len() {
                        on_done(i, Err(io::Error::from_raw_os_error(code)));
                    }
                    return;
                }
                // The first remaining message failed: report it and go on with the next.
                _ => {
                    on_done(start, Err(err));
                    start += 1;
                }
            }
        } else if n == 0 {
            on_done(start, Err(io::Error::other("not sent")));
            start += 1;
        } else {
            let end = start + n as usize;
            for i in start..end {
                on_done(i, Ok(()));
            }
            start = end;
        }
    }
}

/// An iovec over `bytes`, for a send: the kernel only reads through it.
pub(super) fn iovec(bytes: &[u8]) -> libc::iovec {
    libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    }
}

/// One `sendmmsg` message: to `addr`, gathering `iov`. The caller keeps both alive and in place
/// until the call that sends it returns.
pub(super) fn message<A>(addr: &mut A, iov: &mut [libc::iovec]) -> libc::mmsghdr {
    // SAFETY: mmsghdr is plain old data; all-zero is a valid (empty) value.
    let mut msg: libc::mmsghdr = unsafe { std::mem::zeroed() };
    msg.msg_hdr.msg_name = (addr as *mut A).cast();
    msg.msg_hdr.msg_namelen = size_of::<A>() as libc::socklen_t;
    msg.msg_hdr.msg_iov = iov.as_mut_ptr();
    msg.msg_hdr.msg_iovlen = iov.len();
    msg
}

fn sockaddr_in(addr: Ipv4Addr) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from(addr).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// The MTU of the route to `dst`, as the kernel would use it: a UDP socket `connect`ed to `dst`
/// (which sends nothing) reports the path MTU through `IP_MTU`.
pub fn route_mtu(dst: Ipv4Addr) -> io::Result<u32> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, None)?;
    socket.connect(&SockAddr::from(SocketAddrV4::new(dst, 9)))?;
    let mut mtu: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the fd is an open, connected IPv4 socket; `mtu` and `len` are valid for writes of
    // the sizes given and live across the call.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MTU,
            (&mut mtu as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    u32::try_from(mtu).map_err(|_| io::Error::other("negative MTU"))
}
