//! The raw IPv6 socket, next header 47, shared by every `type=ip6gre` tunnel of a daemon.
//!
//! Unlike the IPv4 socket, grebe lets the kernel write the outer IPv6 header: it picks the
//! source address (or takes `local_ip` from an `IPV6_PKTINFO` control message), takes the hop
//! limit and traffic class from `IPV6_HOPLIMIT`/`IPV6_TCLASS` control messages on each message,
//! and with `IPV6_DONTFRAG` refuses (EMSGSIZE) rather than fragments what does not fit the
//! path; `IPV6_AUTOFLOWLABEL` off keeps the flow label 0. The forward path still writes its IPv4 + GRE header into each entry, as for an IPv4
//! tunnel; this socket sends from the GRE header on and reads the hop limit and the traffic
//! class (ECN included, RFC 6040) from the IPv4 header it skips. Received packets start at the
//! GRE header (the kernel strips the IPv6 header); the sender comes in `msg_name` and the
//! traffic class in an `IPV6_TCLASS` control message, from which an IPv6 header is rebuilt in
//! front of the GRE header, so the receive path parses a whole packet.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use encap::ipv4::PROTOCOL_GRE;
use encap::ipv6;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::raw::{RecvBatch, SendBatch, SendEntry, iovec, send_all};

/// Room for a message's control data: hop limit and traffic class (24 bytes each with a
/// 64-bit cmsghdr) and a source address (`in6_pktinfo`, 40 bytes), or the traffic class
/// received.
pub(super) const CONTROL_WORDS: usize = 12;
/// The IPv4 header the forward path writes in front of GRE, which this socket leaves out.
const IPV4_HEADER_LEN: usize = encap::ipv4::HEADER_LEN;

pub struct RawGre6 {
    socket: Socket,
}

impl RawGre6 {
    /// Opens the socket; fails where the host has no IPv6.
    pub fn open() -> io::Result<RawGre6> {
        let socket = Socket::new(
            Domain::IPV6,
            Type::RAW,
            Some(Protocol::from(libc::IPPROTO_GRE)),
        )?;
        socket.set_cloexec(true)?;
        // The outer traffic class carries the congestion mark the receive path applies.
        super::system::set_int_option(
            socket.as_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_RECVTCLASS,
            1,
        )?;
        // As an IPv6 router would: too big for the path is an error, never a fragment.
        super::system::set_int_option(socket.as_fd(), libc::IPPROTO_IPV6, libc::IPV6_DONTFRAG, 1)?;
        // Flow label 0, as OVS's ip6gre sends: the kernel would otherwise hash one per flow
        // (net.ipv6.auto_flowlabels), and here every tunnel's packets are one socket's flow.
        // Kernels older than 4.3 lack the option and label nothing by default anyway.
        let _ = super::system::set_int_option(
            socket.as_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_AUTOFLOWLABEL,
            0,
        );
        let _ = socket.set_recv_buffer_size(4 << 20);
        let _ = socket.set_send_buffer_size(4 << 20);
        Ok(RawGre6 { socket })
    }

    /// Receives up to `MAX_BATCH` packets without blocking; returns how many. Packet `i` is a
    /// rebuilt IPv6 header (source, traffic class, payload length, next header 47; hop limit
    /// and destination 0) followed by what the kernel handed over, from the GRE header on.
    pub fn recv(&self, batch: &mut RecvBatch) -> io::Result<usize> {
        let count = batch.bufs.len();
        if batch.names6.len() != count {
            // SAFETY: sockaddr_in6 is plain old data; all-zero is a valid value.
            batch.names6 = vec![unsafe { std::mem::zeroed() }; count];
            batch.controls = vec![[0; CONTROL_WORDS]; count];
        }
        batch.iovs.clear();
        batch.msgs.clear();
        for buf in batch.bufs.iter_mut() {
            let room = &mut buf[ipv6::HEADER_LEN..];
            batch.iovs.push(libc::iovec {
                iov_base: room.as_mut_ptr().cast(),
                iov_len: room.len(),
            });
        }
        for ((iov, name), control) in batch
            .iovs
            .iter_mut()
            .zip(batch.names6.iter_mut())
            .zip(batch.controls.iter_mut())
        {
            // SAFETY: mmsghdr is plain old data; all-zero is a valid (empty) value.
            let mut msg: libc::mmsghdr = unsafe { std::mem::zeroed() };
            msg.msg_hdr.msg_iov = iov;
            msg.msg_hdr.msg_iovlen = 1;
            msg.msg_hdr.msg_name = (name as *mut libc::sockaddr_in6).cast();
            msg.msg_hdr.msg_namelen = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            msg.msg_hdr.msg_control = control.as_mut_ptr().cast();
            msg.msg_hdr.msg_controllen = size_of::<[u64; CONTROL_WORDS]>();
            batch.msgs.push(msg);
        }
        // SAFETY: each header points at one iovec over the tail of a distinct owned buffer, at
        // a sockaddr_in6 and at a control buffer of the stated sizes, all owned by `batch` and
        // live across the call.
        let n = unsafe { super::raw::recv_batch(self.socket.as_raw_fd(), &mut batch.msgs, 0)? };
        for i in 0..n {
            let len = batch.msgs[i].msg_len as usize;
            let tclass = received_tclass(&batch.msgs[i].msg_hdr).unwrap_or(0);
            let src = Ipv6Addr::from(batch.names6[i].sin6_addr.s6_addr);
            // A payload longer than 65535 bytes (a jumbogram) cannot be rebuilt: it is given a
            // length of 0, which the parse refuses.
            let payload_len = u16::try_from(len).unwrap_or(0);
            let mut header = ipv6::Packet::new_unchecked(&mut batch.bufs[i][..ipv6::HEADER_LEN]);
            header.set_first_word(6, tclass, 0);
            header.set_payload_len(payload_len);
            header.set_next_header(PROTOCOL_GRE);
            header.set_hop_limit(0);
            header.set_src_addr(src);
            header.set_dst_addr(Ipv6Addr::UNSPECIFIED);
            batch.lens[i] = ipv6::HEADER_LEN + len;
        }
        Ok(n)
    }

    /// Sends every entry (each must have an IPv6 `dst`), frames taken from `bufs`, then clears
    /// the batch; `source` gives a tunnel's `local_ip` by the entry's tag. `on_done` hears of
    /// each entry, as for [`super::RawGre::send`].
    pub fn send(
        &self,
        batch: &mut SendBatch,
        bufs: &[Box<[u8]>],
        source: impl Fn(u32) -> Option<Ipv6Addr>,
        mut on_done: impl FnMut(&SendEntry, Result<(), io::Error>),
    ) {
        batch.iovs.clear();
        batch.addrs6.clear();
        batch.controls.clear();
        batch.msgs.clear();
        for e in &batch.entries {
            let frame = &bufs[e.buf as usize][e.frame.0 as usize..e.frame.1 as usize];
            let header = &e.header[..usize::from(e.header_len)];
            let gre = header.get(IPV4_HEADER_LEN..).unwrap_or(&[]);
            batch.iovs.push([iovec(gre), iovec(frame)]);
            let dst = match e.dst {
                IpAddr::V6(ip) => ip,
                // Only IPv6 entries are moved here; a stray one is sent nowhere.
                IpAddr::V4(_) => Ipv6Addr::UNSPECIFIED,
            };
            batch.addrs6.push(sockaddr_in6(dst));
            let (tos, ttl) = (header.get(1).copied(), header.get(8).copied());
            batch
                .controls
                .push(control(tos.unwrap_or(0), ttl.unwrap_or(64), source(e.tag)));
        }
        for ((iov, addr), control) in batch
            .iovs
            .iter_mut()
            .zip(batch.addrs6.iter_mut())
            .zip(batch.controls.iter_mut())
        {
            let mut msg = super::raw::message(addr, iov);
            msg.msg_hdr.msg_control = control.1.as_mut_ptr().cast();
            msg.msg_hdr.msg_controllen = control.0;
            batch.msgs.push(msg);
        }
        let (msgs, entries) = (&mut batch.msgs, &batch.entries);
        // Every message points at its own sockaddr_in6, control buffer and two iovecs, which
        // point at the entry's GRE header and at a frame inside `bufs`; all live for the call.
        send_all(self.socket.as_raw_fd(), msgs, |i, result| {
            on_done(&entries[i], result)
        });
        batch.clear();
    }
}

impl AsFd for RawGre6 {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

/// The traffic class in a received message's `IPV6_TCLASS` control message.
fn received_tclass(msg: &libc::msghdr) -> Option<u8> {
    // SAFETY: `msg` was filled by recvmmsg: its control pointer and length describe the
    // buffer the kernel wrote, which the CMSG_* macros walk without leaving it.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::IPPROTO_IPV6 && (*cmsg).cmsg_type == libc::IPV6_TCLASS {
                let value = libc::CMSG_DATA(cmsg).cast::<libc::c_int>().read_unaligned();
                return u8::try_from(value).ok();
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    None
}

/// A message's control data: traffic class and hop limit, and the source address when the
/// tunnel has a `local_ip`. Returns the length used and the buffer.
fn control(tclass: u8, hop_limit: u8, src: Option<Ipv6Addr>) -> (usize, [u64; CONTROL_WORDS]) {
    let mut buf = [0u64; CONTROL_WORDS];
    let mut at = 0usize;
    let bytes = buf.as_mut_ptr().cast::<u8>();
    let mut put = |kind: libc::c_int, data: &[u8]| {
        // SAFETY: CMSG_SPACE of at most 20 bytes of data is at most 40 bytes; the three
        // messages (24 + 24 + 40 = 88 bytes) fit the 96-byte buffer, which is u64-aligned as
        // cmsghdr needs; the assertion below keeps it so. The header and data are written
        // inside it, and only when they fit.
        unsafe {
            let space = libc::CMSG_SPACE(data.len() as u32) as usize;
            if at + space > CONTROL_WORDS * size_of::<u64>() {
                return;
            }
            let cmsg = bytes.add(at).cast::<libc::cmsghdr>();
            (*cmsg).cmsg_level = libc::IPPROTO_IPV6;
            (*cmsg).cmsg_type = kind;
            (*cmsg).cmsg_len = libc::CMSG_LEN(data.len() as u32) as usize;
            std::ptr::copy_nonoverlapping(data.as_ptr(), libc::CMSG_DATA(cmsg), data.len());
            at += space;
        }
    };
    put(libc::IPV6_TCLASS, &libc::c_int::from(tclass).to_ne_bytes());
    put(
        libc::IPV6_HOPLIMIT,
        &libc::c_int::from(hop_limit).to_ne_bytes(),
    );
    if let Some(src) = src {
        // in6_pktinfo: the address, then interface index 0 (routing chooses).
        let mut info = [0u8; 20];
        info[..16].copy_from_slice(&src.octets());
        put(libc::IPV6_PKTINFO, &info);
    }
    (at, buf)
}

fn sockaddr_in6(addr: Ipv6Addr) -> libc::sockaddr_in6 {
    // SAFETY: sockaddr_in6 is plain old data; all-zero is a valid value.
    let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    sa.sin6_addr.s6_addr = addr.octets();
    sa
}

/// The MTU of the route to `dst`: a UDP socket `connect`ed to it (which sends nothing)
/// reports the path MTU through `IPV6_MTU`.
pub fn route_mtu6(dst: Ipv6Addr) -> io::Result<u32> {
    let socket = Socket::new(Domain::IPV6, Type::DGRAM, None)?;
    socket.connect(&SockAddr::from(SocketAddrV6::new(dst, 9, 0, 0)))?;
    let mut mtu: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the fd is an open, connected IPv6 socket; `mtu` and `len` are valid for writes
    // of the sizes given and live across the call.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_MTU,
            (&mut mtu as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    u32::try_from(mtu).map_err(|_| io::Error::other("negative MTU"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_data_carries_the_traffic_class_hop_limit_and_source() {
        let (len, _) = control(0xb8, 9, None);
        // SAFETY: CMSG_SPACE is a pure computation.
        let int_space = unsafe { libc::CMSG_SPACE(4) } as usize;
        assert_eq!(len, 2 * int_space);
        let (len, buf) = control(0xb8, 9, Some("2001:db8::1".parse().unwrap()));
        // SAFETY: CMSG_SPACE is a pure computation.
        let info_space = unsafe { libc::CMSG_SPACE(20) } as usize;
        assert_eq!(len, 2 * int_space + info_space);
        let bytes: Vec<u8> = buf.iter().flat_map(|w| w.to_ne_bytes()).collect();
        let tclass_at = size_of::<libc::cmsghdr>();
        assert_eq!(bytes[tclass_at], 0xb8);
        assert_eq!(bytes[int_space + tclass_at], 9);
        let src_at = 2 * int_space + tclass_at;
        assert_eq!(
            bytes[src_at..src_at + 16],
            "2001:db8::1".parse::<Ipv6Addr>().unwrap().octets()
        );
    }
}
