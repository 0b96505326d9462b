//! Draws `docs/gre-packet.svg`: the byte layout of one ping inside GRE, built with `encap`.
//!
//!     cargo run --example gre-layout > docs/gre-packet.svg

fn main() {
    print!("{}", lab::layout::svg());
}
