//! A `TPACKET_V3` receive ring (`PACKET_RX_RING`) for a system port's `AF_PACKET` socket, the
//! alternative to `recvmmsg` (`grebe daemon --system-rx ring`).
//!
//! The kernel copies each frame into a block of a ring mapped once into the process and hands a
//! block over when it is full or when its timer retires it (`RETIRE_MS`); frames are then read
//! with no system call at all. In V3 the frames of a block are packed by their real size, so
//! small frames cost little room and a veth's 64 KB TSO frame still fits whole, as long as a
//! block holds it and its headers (`BLOCK_SIZE`).
//!
//! What the kernel writes for each frame (`tpacket_rcv` in `net/packet/af_packet.c`, the same
//! code for V1, V2 and V3): the `tpacket3_hdr`, then, with `PACKET_VNET_HDR`, the 10-byte
//! virtio-net header right in front of the MAC header (`tp_mac`), unless the frame did not fit
//! at all. A stripped 802.1Q tag is in `hv1.tp_vlan_tci` (`TP_STATUS_VLAN_VALID`,
//! `TP_STATUS_VLAN_TPID_VALID`) instead of `PACKET_AUXDATA`. `PACKET_VNET_HDR` and
//! `PACKET_VERSION` must be set before the ring is made (the kernel refuses them after).
//!
//! The datapath's send queues name frames by a buffer index in `&[Box<[u8]>]`, so each frame
//! is copied once, from the ring into the reused `SystemRecvBatch` buffer (with its tag put
//! back on the way), and its block is handed back to the kernel as soon as its last frame is
//! copied. No frame is read in place past that copy.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{Ordering, fence};

/// Bytes per block: a 64 KB TSO frame with the block's and the frame's headers (about 160
/// bytes) does not fit in 64 KB, and 256 KB holds three of them or about 1,600 64-byte frames.
pub(crate) const BLOCK_SIZE: usize = 256 << 10;
/// Blocks in the ring: 4 MB in all, the receive buffer the `recvmmsg` path asks for.
const BLOCK_COUNT: usize = 16;
/// The V3 ring ignores frame slots but checks them: any aligned size that divides a block.
const FRAME_SIZE: usize = 2048;
/// How long a block that is not full waits before the kernel hands it over, in milliseconds
/// (the smallest the interface takes): the latency a lone frame pays.
const RETIRE_MS: u32 = 1;

/// One received frame in the ring, as the kernel described it.
pub(crate) struct RingFrame<'a> {
    /// The virtio-net header and the frame after it, as captured.
    pub(crate) packet: &'a [u8],
    /// The frame's length on the wire; more than captured when the kernel cut it.
    pub(crate) wire_len: usize,
    /// The stripped 802.1Q tag as (TPID, TCI).
    pub(crate) tag: Option<(u16, u16)>,
}

/// The mapped ring and where the reader is in it.
pub(crate) struct RxRing {
    base: NonNull<u8>,
    /// The block being read.
    block: usize,
    /// Frames of that block still to read; 0 when it is not taken yet.
    left: u32,
    /// Where the next frame's header is, from the block's start.
    offset: usize,
}

// SAFETY: the mapping belongs to this struct alone (and the kernel); moving the struct to another
// thread moves the only reader with it.
unsafe impl Send for RxRing {}

impl std::fmt::Debug for RxRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RxRing")
            .field("block", &self.block)
            .field("left", &self.left)
            .finish()
    }
}

const MAP_LEN: usize = BLOCK_SIZE * BLOCK_COUNT;

impl RxRing {
    /// Makes the ring on `fd` (a packet socket with `PACKET_VNET_HDR` set, not bound yet) and
    /// maps it.
    pub(crate) fn attach(fd: &OwnedFd) -> io::Result<RxRing> {
        let version = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
        // SAFETY: `fd` is an open packet socket; PACKET_VERSION reads one int, live for the call.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_VERSION,
                (&version as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let req = libc::tpacket_req3 {
            tp_block_size: BLOCK_SIZE as libc::c_uint,
            tp_block_nr: BLOCK_COUNT as libc::c_uint,
            tp_frame_size: FRAME_SIZE as libc::c_uint,
            tp_frame_nr: (MAP_LEN / FRAME_SIZE) as libc::c_uint,
            tp_retire_blk_tov: RETIRE_MS,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        // SAFETY: PACKET_RX_RING on a TPACKET_V3 socket reads one tpacket_req3, which `req` is,
        // live for the call.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_RX_RING,
                (&req as *const libc::tpacket_req3).cast(),
                size_of::<libc::tpacket_req3>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: maps the ring the kernel just made on `fd`, at its full length, shared (the
        // kernel writes it); the result is checked before use.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                MAP_LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(base.cast::<u8>()).ok_or_else(io::Error::last_os_error)?;
        Ok(RxRing {
            base,
            block: 0,
            left: 0,
            offset: 0,
        })
    }

    fn block_desc(&self) -> *mut libc::tpacket_block_desc {
        // SAFETY: `block` < BLOCK_COUNT, so the offset stays inside the mapping.
        unsafe { self.base.as_ptr().add(self.block * BLOCK_SIZE) }.cast()
    }

    /// Calls `take` with each frame the kernel has handed over, up to `limit` of them, and
    /// returns how many it saw. A block goes back to the kernel once its last frame is taken.
    pub(crate) fn read(&mut self, limit: usize, mut take: impl FnMut(RingFrame<'_>)) -> usize {
        let mut n = 0;
        while n < limit {
            let desc = self.block_desc();
            if self.left == 0 {
                // SAFETY: `desc` points at this block's descriptor inside the mapping; the kernel
                // writes `block_status` last, so it is read alone and volatile, and the fence
                // orders the reads of the block after it.
                let status =
                    unsafe { std::ptr::addr_of!((*desc).hdr.bh1.block_status).read_volatile() };
                if status & libc::TP_STATUS_USER == 0 {
                    break;
                }
                fence(Ordering::Acquire);
                // SAFETY: the block is the reader's (TP_STATUS_USER): the kernel does not write
                // it until it is handed back.
                let bh1 = unsafe { &(*desc).hdr.bh1 };
                self.left = bh1.num_pkts;
                self.offset = bh1.offset_to_first_pkt as usize;
                if self.left == 0 {
                    self.release(desc);
                    continue;
                }
            }
            if self.offset + size_of::<libc::tpacket3_hdr>() > BLOCK_SIZE {
                // A frame header past the block: not the kernel's layout; give the block back.
                self.release(desc);
                continue;
            }
            // SAFETY: `block` is this block's start inside the mapping, and the block is the
            // reader's; `offset` is where the kernel put this frame's header, aligned for
            // tpacket3_hdr, and the whole header lies inside the block (checked above).
            let (block, hdr) = unsafe {
                let block = self.base.as_ptr().add(self.block * BLOCK_SIZE);
                (block, &*block.add(self.offset).cast::<libc::tpacket3_hdr>())
            };
            let mac = self.offset + usize::from(hdr.tp_mac);
            let snaplen = hdr.tp_snaplen as usize;
            let vnet = super::system::VNET_HDR_LEN;
            // The kernel never writes past its block; a header that says otherwise is skipped.
            if mac >= vnet && mac + snaplen <= BLOCK_SIZE {
                // SAFETY: the range lies inside this block (checked just above), which the
                // kernel does not touch until it is handed back after the last frame.
                let packet =
                    unsafe { std::slice::from_raw_parts(block.add(mac - vnet), vnet + snaplen) };
                let tag = (hdr.tp_status & libc::TP_STATUS_VLAN_VALID != 0).then(|| {
                    let tpid = if hdr.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                        hdr.hv1.tp_vlan_tpid
                    } else {
                        0x8100
                    };
                    (tpid, hdr.hv1.tp_vlan_tci as u16)
                });
                take(RingFrame {
                    packet,
                    wire_len: hdr.tp_len as usize,
                    tag,
                });
                n += 1;
            }
            self.offset += hdr.tp_next_offset as usize;
            self.left -= 1;
            if self.left == 0 {
                self.release(desc);
            }
        }
        n
    }

    /// Hands the current block back to the kernel and moves to the next.
    fn release(&mut self, desc: *mut libc::tpacket_block_desc) {
        // Every read of the block is done before the kernel may write it again.
        fence(Ordering::Release);
        // SAFETY: `desc` is this block's descriptor inside the mapping; writing TP_STATUS_KERNEL
        // is how the reader gives the block back.
        unsafe {
            std::ptr::addr_of_mut!((*desc).hdr.bh1.block_status)
                .write_volatile(libc::TP_STATUS_KERNEL)
        };
        self.block = (self.block + 1) % BLOCK_COUNT;
        self.left = 0;
        self.offset = 0;
    }
}

impl Drop for RxRing {
    fn drop(&mut self) {
        // SAFETY: `base` and MAP_LEN are exactly what mmap returned and mapped; nothing
        // borrows the mapping past `read`.
        unsafe { libc::munmap(self.base.as_ptr().cast(), MAP_LEN) };
    }
}
