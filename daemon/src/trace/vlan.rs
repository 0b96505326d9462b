//! What `ofproto/trace` says about VLANs: the frame's VLAN at ingress (or why it was dropped
//! there), and per output port whether its tag is pushed, popped, rewritten or kept. The rules
//! are the datapath's (`datapath::vlan`); this file only names them.

use datapath::vlan::{FrameVlan, MAX_VID, PortVlan, Retag, VlanSet, tag_of};
use serde::Serialize;

/// The frame's VLAN as the ingress port classified it.
#[derive(Debug, Clone, Serialize)]
pub struct IngressVlan {
    /// The 802.1Q tag's VID the frame arrived with; `None` untagged.
    pub tag: Option<u16>,
    /// The tag's priority bits (PCP), kept wherever the tag stays.
    pub pcp: u8,
    /// How the ingress port treats VLANs, in vswitch.xml's words.
    pub port_mode: String,
    /// The VLAN the frame is switched in; `None`: dropped at ingress (`vlan_not_allowed`).
    pub vlan: Option<u16>,
}

impl IngressVlan {
    pub fn new(frame: &[u8], port: &PortVlan, classified: Option<FrameVlan>) -> IngressVlan {
        let tci = tag_of(frame);
        IngressVlan {
            tag: tci.map(|t| t & 0x0fff),
            pcp: tci.map_or(0, |t| (t >> 13) as u8),
            port_mode: describe(port),
            vlan: classified.map(|v| v.vlan()),
        }
    }

    /// The trace's step for the VLAN decision.
    pub fn step(&self, port: &str) -> String {
        let arrived = match self.tag {
            None => "untagged".to_string(),
            Some(0) => format!(
                "priority-tagged (VID 0, PCP {}), which counts as untagged",
                self.pcp
            ),
            Some(vid) => format!("tagged VLAN {vid} (PCP {})", self.pcp),
        };
        match self.vlan {
            Some(vlan) => format!(
                "VLAN: the frame arrived {arrived} on {port}, {}: it is switched in VLAN {vlan}; learning and lookup use VLAN {vlan}, floods reach only ports that carry it",
                self.port_mode
            ),
            None if self.tag == Some(4095) => format!(
                "VLAN: the frame arrived {arrived} on {port}: VID 4095 is reserved: dropped (vlan_not_allowed), not learned"
            ),
            None => format!(
                "VLAN: the frame arrived {arrived} on {port}, {}, which does not carry it: dropped (vlan_not_allowed), not learned",
                self.port_mode
            ),
        }
    }
}

/// A port's VLAN settings in vswitch.xml's words.
pub fn describe(port: &PortVlan) -> String {
    match port {
        PortVlan::TrunkAll => "a trunk for every VLAN (no tag, no trunks)".to_string(),
        PortVlan::Trunk(set) => format!("a trunk for VLANs {}", list(set)),
        PortVlan::Access(n) => format!("an access port of VLAN {n} (tag={n})"),
        PortVlan::NativeTagged { native, trunks } => format!(
            "native-tagged: untagged frames join VLAN {native}, which leaves tagged; trunks {}",
            trunks.as_ref().map_or("all".to_string(), list)
        ),
        PortVlan::NativeUntagged { native, trunks } => format!(
            "native-untagged: untagged frames join VLAN {native}, which leaves untagged; trunks {}",
            trunks.as_ref().map_or("all".to_string(), list)
        ),
    }
}

fn list(set: &VlanSet) -> String {
    let vids: Vec<String> = (0..=MAX_VID)
        .filter(|v| set.contains(*v))
        .map(|v| v.to_string())
        .collect();
    vids.join(",")
}

/// What leaving by a port does to the tag, for the trace's JSON: "push", "pop", "rewrite",
/// "keep" (a tagged frame stays tagged), or `None` (untagged in and out).
pub fn action_name(retag: Retag, vlan: FrameVlan) -> Option<&'static str> {
    match retag {
        Retag::Push(_) => Some("push"),
        Retag::Pop => Some("pop"),
        Retag::Rewrite(_) => Some("rewrite"),
        Retag::Keep if vlan.tci().is_some() => Some("keep"),
        Retag::Keep => None,
    }
}

/// The same in words, for the text.
pub fn action_text(action: &str, vlan: u16) -> String {
    match action {
        "push" => format!("802.1Q tag for VLAN {vlan} pushed (4 bytes more)"),
        "pop" => format!("802.1Q tag of VLAN {vlan} popped (4 bytes less): leaves untagged"),
        "rewrite" => format!("priority tag given VLAN {vlan}'s VID, priority kept"),
        _ => format!("leaves tagged VLAN {vlan}, as it came"),
    }
}

/// `frame` as it leaves with `retag`: what the output's sizes and headers are computed on.
pub fn retagged(frame: &[u8], retag: Retag) -> Vec<u8> {
    if retag == Retag::Keep || frame.len() < 14 {
        return frame.to_vec();
    }
    let mut head = [0u8; datapath::vlan::HEAD_LEN];
    let (n, rest) = retag.head(frame, &mut head);
    [&head[..n], &frame[rest..]].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged(tci: u16) -> Vec<u8> {
        let mut f = vec![0x02; 12];
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&tci.to_be_bytes());
        f.extend_from_slice(&[0x08, 0x00]);
        f.resize(64, 0);
        f
    }

    #[test]
    fn the_ingress_step_names_the_tag_the_port_and_the_vlan() {
        let access = PortVlan::Access(100);
        let v = IngressVlan::new(&tagged(0xa000 | 200), &access, None);
        assert_eq!((v.tag, v.pcp, v.vlan), (Some(200), 5, None));
        let text = v.step("p100");
        assert!(text.contains("tagged VLAN 200 (PCP 5)"), "{text}");
        assert!(text.contains("access port of VLAN 100"), "{text}");
        assert!(text.contains("dropped (vlan_not_allowed)"), "{text}");
        let classified = FrameVlan::new(100, None);
        let mut untagged = tagged(0);
        untagged.drain(12..16);
        let v = IngressVlan::new(&untagged, &access, Some(classified));
        assert!(v.step("p100").contains("switched in VLAN 100"));
        let trunk = PortVlan::Trunk(VlanSet::new([10, 20]));
        assert_eq!(describe(&trunk), "a trunk for VLANs 10,20");
        let v = IngressVlan::new(&tagged(4095), &PortVlan::TrunkAll, None);
        assert!(v.step("gre0").contains("4095 is reserved"));
    }

    #[test]
    fn outputs_name_the_tag_action_and_get_the_frame_as_it_leaves() {
        let untagged_100 = FrameVlan::new(100, None);
        assert_eq!(action_name(Retag::Push(100), untagged_100), Some("push"));
        assert_eq!(action_name(Retag::Keep, untagged_100), None);
        let tagged_100 = FrameVlan::new(100, Some(100));
        assert_eq!(action_name(Retag::Keep, tagged_100), Some("keep"));
        assert_eq!(action_name(Retag::Pop, tagged_100), Some("pop"));
        let f = tagged(100);
        let popped = retagged(&f, Retag::Pop);
        assert_eq!(popped.len(), f.len() - 4);
        assert_eq!(&popped[12..14], &[0x08, 0x00]);
        assert_eq!(retagged(&popped, Retag::Push(100)), f);
        assert!(action_text("pop", 100).contains("popped"));
    }
}
