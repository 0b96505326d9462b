#!/bin/sh
# grebe's ifupdown hook, run from /etc/network/if-pre-up.d/grebe (ifup) and
# /etc/network/if-post-down.d/grebe (ifdown) for every interface stanza.
#
# It reads the stanzas of Open vSwitch's Debian hook (/usr/share/openvswitch/scripts/ifupdown.sh)
# with the same keywords and meaning: ovs_type OVSBridge | OVSPort | OVSIntPort | OVSTunnel (and
# OVSBond, OVSPatchPort, which grebe refuses), ovs_bridge, ovs_ports, ovs_options, ovs_extra,
# ovs_tunnel_type, ovs_tunnel_options, and sends the same ovs-vsctl command lines. Where it
# differs from OVS's script, and why:
# - it starts grebe.service when systemd runs and it is stopped (OVS's starts
#   openvswitch-switch.service, which is not grebe);
# - it runs `grebe vsctl`, so it needs no ovs-vsctl link and configures grebe even where an Open
#   vSwitch's ovs-vsctl comes first on PATH;
# - a command line grebe refuses fails the interface, so ifup reports it (OVS's always exits 0,
#   leaving the interface marked up without its port).
# The daemon is reached at its default control socket, /run/grebe (ifupdown clears the
# environment, so GREBE_RUNDIR does not get here).

if [ -z "${IF_OVS_TYPE}" ]; then
    exit 0
fi

if ! command -v grebe >/dev/null 2>&1; then
    exit 0
fi

vsctl() {
    grebe vsctl --timeout=5 "$@"
}

# grebe.service is ordered before networking.service; this covers an `ifup` run by hand while
# it is stopped. /run/systemd/system exists only when systemd is the init system.
if [ -d /run/systemd/system ] && systemctl cat grebe.service >/dev/null 2>&1; then
    if ! systemctl --quiet is-active grebe.service; then
        systemctl start grebe.service || exit 1
    fi
fi

if [ "${MODE}" = "start" ]; then
    # As OVS's hook: ovs_extra may name the stanza's own variables, e.g. ${IFACE}.
    eval OVS_EXTRA=\"${IF_OVS_EXTRA}\"

    case "${IF_OVS_TYPE}" in
        OVSBridge)
                vsctl -- --may-exist add-br "${IFACE}" ${IF_OVS_OPTIONS} \
                    ${OVS_EXTRA:+-- $OVS_EXTRA} || exit 1

                if [ -n "${IF_OVS_PORTS}" ]; then
                    ifup --allow="${IFACE}" ${IF_OVS_PORTS}
                fi
                ;;
        OVSPort)
                vsctl -- --may-exist add-port "${IF_OVS_BRIDGE}" "${IFACE}" ${IF_OVS_OPTIONS} \
                    ${OVS_EXTRA:+-- $OVS_EXTRA} || exit 1

                ip link set dev "${IFACE}" up
                ;;
        OVSIntPort)
                vsctl -- --may-exist add-port "${IF_OVS_BRIDGE}" "${IFACE}" ${IF_OVS_OPTIONS} \
                    -- set Interface "${IFACE}" type=internal \
                    ${OVS_EXTRA:+-- $OVS_EXTRA} || exit 1

                ip link set dev "${IFACE}" up
                ;;
        OVSBond)
                # grebe has no bonds: it says so, and the interface fails.
                vsctl -- --fake-iface add-bond "${IF_OVS_BRIDGE}" "${IFACE}" ${IF_OVS_BONDS} \
                    ${IF_OVS_OPTIONS} ${OVS_EXTRA:+-- $OVS_EXTRA} || exit 1
                ;;
        OVSPatchPort)
                # grebe has no patch ports: refused the same way.
                vsctl -- --may-exist add-port "${IF_OVS_BRIDGE}" "${IFACE}" ${IF_OVS_OPTIONS} \
                    -- set Interface "${IFACE}" type=patch options:peer="${IF_OVS_PATCH_PEER}" \
                    ${OVS_EXTRA:+-- $OVS_EXTRA} || exit 1
                ;;
        OVSTunnel)
                vsctl -- --may-exist add-port "${IF_OVS_BRIDGE}" "${IFACE}" ${IF_OVS_OPTIONS} \
                    -- set Interface "${IFACE}" type=${IF_OVS_TUNNEL_TYPE} ${IF_OVS_TUNNEL_OPTIONS} \
                    ${OVS_EXTRA:+-- $OVS_EXTRA} || exit 1
                ;;
        *)
                exit 0
                ;;
    esac
elif [ "${MODE}" = "stop" ]; then
    case "${IF_OVS_TYPE}" in
        OVSBridge)
                if [ -n "${IF_OVS_PORTS}" ]; then
                    ifdown --allow="${IFACE}" ${IF_OVS_PORTS}
                fi

                vsctl -- --if-exists del-br "${IFACE}" || exit 1
                ;;
        OVSPort|OVSIntPort|OVSBond|OVSPatchPort|OVSTunnel)
                vsctl -- --if-exists del-port "${IF_OVS_BRIDGE}" "${IFACE}" || exit 1
                ;;
        *)
                exit 0
                ;;
    esac
fi

exit 0
