//! Cutting the byte stream into OpenFlow messages: each starts with an 8-byte header whose
//! length field covers the whole message.

use crate::Error;

/// The largest message accepted (the header's length field allows 64 KiB).
pub const MAX_MESSAGE: usize = 65_535;

#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
}

impl Framer {
    pub fn new() -> Framer {
        Framer::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole message, if the bytes hold one. An error leaves the stream unusable.
    pub fn next_message(&mut self) -> Option<Result<Vec<u8>, Error>> {
        if self.buf.len() < 8 {
            return None;
        }
        let len = u16::from_be_bytes([self.buf[2], self.buf[3]]);
        if len < 8 {
            return Some(Err(Error::ShortHeader(len)));
        }
        let len = usize::from(len);
        if self.buf.len() < len {
            return None;
        }
        let rest = self.buf.split_off(len);
        Some(Ok(std::mem::replace(&mut self.buf, rest)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn message(xid: u32, body: &[u8]) -> Vec<u8> {
        let mut m = vec![4, 2];
        m.extend(((8 + body.len()) as u16).to_be_bytes());
        m.extend(xid.to_be_bytes());
        m.extend(body);
        m
    }

    #[test]
    fn a_length_below_the_header_is_an_error() {
        let mut f = Framer::new();
        f.push(&[4, 0, 0, 4, 0, 0, 0, 1]);
        assert_eq!(f.next_message(), Some(Err(Error::ShortHeader(4))));
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_messages(
            bodies in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..5),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let messages: Vec<Vec<u8>> =
                bodies.iter().enumerate().map(|(i, b)| message(i as u32, b)).collect();
            let bytes = messages.concat();
            let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len())).collect();
            at.push(bytes.len());
            at.sort_unstable();
            let mut f = Framer::new();
            let mut out = Vec::new();
            let mut from = 0;
            for to in at {
                f.push(&bytes[from..to]);
                from = to;
                while let Some(m) = f.next_message() {
                    out.push(m.unwrap());
                }
            }
            prop_assert_eq!(out, messages);
        }
    }
}
