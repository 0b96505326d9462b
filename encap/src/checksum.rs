//! The internet checksum of RFC 1071: the ones' complement of the ones' complement sum of 16-bit
//! big-endian words, used by the IPv4 header and the optional GRE checksum.
//!
//! [`sum`] returns a partial sum that can be passed back as `initial` to cover data split over
//! several slices (a header and a payload sent by scatter-gather); [`fold`] turns the final sum
//! into the value to write. Only the **last** slice of such a chain may have an odd length: an odd
//! slice is padded with one zero byte, which is only right at the very end of the data. Every
//! header this crate writes is a whole number of 16-bit words, so header + payload chains are
//! always right.

/// Adds `data` to the partial sum `initial` and returns the new partial sum (at most `0xffff`).
///
/// An odd final byte counts as the high byte of a word whose low byte is zero (RFC 1071 4.1).
#[inline]
pub fn sum(data: &[u8], initial: u32) -> u32 {
    // Add 32-bit words into a 64-bit accumulator: since 2^16 = 1 (mod 0xffff) this equals the
    // sum of 16-bit words once folded, needs no carry handling per word (overflow only after
    // 2^32 words) and lets the compiler vectorize the loop. Reading native-endian words skips a
    // byte swap per word; the sum is swapped once at the end, which RFC 1071 2(B) allows.
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
    }
    // Spelled out rather than copy_from_slice, which compiles to a call to memcpy.
    let tail = match *words.remainder() {
        [a] => [a, 0, 0, 0],
        [a, b] => [a, b, 0, 0],
        [a, b, c] => [a, b, c, 0],
        _ => [0; 4],
    };
    acc += u64::from(u32::from_ne_bytes(tail));

    let big_endian = fold_u64(acc).to_be();
    u32::from(fold_u64(u64::from(big_endian) + u64::from(initial)))
}

/// Folds the carries of a partial sum into 16 bits and returns its ones' complement: the value to
/// write into a checksum field (computed with that field zero), or 0 when verifying a checksum
/// over data that includes it.
#[inline]
pub fn fold(sum: u32) -> u16 {
    !fold_u64(u64::from(sum))
}

/// The checksum of one slice: `fold(sum(data, 0))`. Over data that includes a correct checksum
/// field it is 0.
#[inline]
pub fn data(data: &[u8]) -> u16 {
    fold(sum(data, 0))
}

/// [`data`] over a block whose length is known at compile time (an IPv4 header without
/// options): the words are added in a fixed, unrolled sequence, with no loop or length checks.
/// A function of its own so that the compiler does not merge it with a variable-length call
/// in the same function and lose the constant length.
#[inline]
pub fn data_fixed<const N: usize>(data: &[u8; N]) -> u16 {
    let mut acc: u64 = 0;
    let mut i = 0;
    while i + 4 <= N {
        acc += u64::from(u32::from_ne_bytes([
            data[i],
            data[i + 1],
            data[i + 2],
            data[i + 3],
        ]));
        i += 4;
    }
    let tail = match N - i {
        1 => [data[i], 0, 0, 0],
        2 => [data[i], data[i + 1], 0, 0],
        3 => [data[i], data[i + 1], data[i + 2], 0],
        _ => [0; 4],
    };
    acc += u64::from(u32::from_ne_bytes(tail));
    !fold_u64(acc).to_be()
}

/// End-around carry until the sum fits 16 bits: a fixed four steps, no loop to mispredict.
#[inline]
fn fold_u64(sum: u64) -> u16 {
    let sum = (sum & 0xffff_ffff) + (sum >> 32); // < 2^33
    let sum = (sum & 0xffff) + (sum >> 16); // < 2^16 + 2^17
    let sum = (sum & 0xffff) + (sum >> 16); // <= 0xffff + 2
    let sum = (sum & 0xffff) + (sum >> 16); // <= 0xffff
    // The last step left at most 16 bits, so this conversion cannot lose anything.
    sum as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 written the obvious way: big-endian 16-bit words, carry folded after each add.
    fn reference(data: &[u8]) -> u16 {
        let mut s: u32 = 0;
        let mut i = 0;
        while i < data.len() {
            let hi = u32::from(data[i]) << 8;
            let lo = data.get(i + 1).map_or(0, |&b| u32::from(b));
            s += hi | lo;
            s = (s & 0xffff) + (s >> 16);
            i += 2;
        }
        !(s as u16)
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&bytes, 0), 0xddf2);
        assert_eq!(data(&bytes), !0xddf2);
    }

    #[test]
    fn ipv4_header_example() {
        // A commonly quoted IPv4 header whose checksum is b861.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(data(&h), 0xb861);
        h[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert_eq!(data(&h), 0);
    }

    #[test]
    fn empty_and_zero() {
        assert_eq!(data(&[]), 0xffff);
        assert_eq!(data(&[0; 7]), 0xffff);
        assert_eq!(data(&[0xff; 6]), 0);
    }

    #[test]
    fn odd_lengths_pad_with_zero() {
        assert_eq!(data(&[0x12]), !0x1200);
        assert_eq!(data(&[0x12, 0x34, 0x56]), !(0x1234 + 0x5600));
    }

    #[test]
    fn matches_reference_on_many_lengths() {
        let mut x: u32 = 0x1234_5678;
        let buf: Vec<u8> = (0..9100)
            .map(|_| {
                // xorshift: cheap deterministic bytes, with plenty of 0xff to force carries.
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                if x % 3 == 0 { 0xff } else { x as u8 }
            })
            .collect();
        for len in (0..100).chain([1499, 1500, 1501, 8999, 9000, 9100]) {
            for start in 0..4 {
                let d = &buf[start..start + len.min(buf.len() - start)];
                assert_eq!(data(d), reference(d), "len {len} start {start}");
            }
        }
        let ones = vec![0xffu8; 9000];
        assert_eq!(data(&ones), reference(&ones));
    }

    #[test]
    fn fixed_length_matches_reference() {
        let mut x: u32 = 0x9e37_79b9;
        for _ in 0..1000 {
            let mut block = [0u8; 23];
            for b in &mut block {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                *b = if x % 5 == 0 { 0xff } else { x as u8 };
            }
            let h: &[u8; 20] = block[..20].try_into().unwrap();
            assert_eq!(data_fixed(h), reference(h));
            assert_eq!(data_fixed(&block), reference(&block));
            let odd: &[u8; 21] = block[..21].try_into().unwrap();
            assert_eq!(data_fixed(odd), reference(odd));
        }
        assert_eq!(data_fixed(&[0u8; 0]), 0xffff);
        assert_eq!(data_fixed(&[0xffu8; 20]), 0);
    }

    #[test]
    fn fold_takes_every_carry() {
        // 2^64 - 1 is 0 modulo 0xffff: ones' complement zero, 0xffff.
        assert_eq!(fold_u64(u64::MAX), 0xffff);
        assert_eq!(fold_u64(0x1_0000), 1);
        assert_eq!(fold_u64(0xffff_ffff), 0xffff);
        assert_eq!(fold_u64(0x2_fffd), 0xffff);
        assert_eq!(fold(u32::MAX), 0);
    }

    #[test]
    fn chaining_even_chunks_equals_one_pass() {
        let buf: Vec<u8> = (0..1001u32).map(|i| (i * 7 + 3) as u8).collect();
        for split in (0..=1000).step_by(2) {
            let (a, b) = buf.split_at(split);
            assert_eq!(fold(sum(b, sum(a, 0))), data(&buf), "split {split}");
        }
    }
}
