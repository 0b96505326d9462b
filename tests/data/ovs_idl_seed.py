"""The seed's bridge made by OVS's own Python IDL (PyPI `ovs`), in one transaction, the way
OpenStack's and other OVSDB clients write the database: br-int with its local port, mgmt0
(internal) and gre0 to REMOTE. Waits, as ovs-vsctl does, until the switch has applied it
(cur_cfg reaches the next_cfg the transaction set), then prints each new interface's ofport.

usage: ovs_idl_seed.py DB_REMOTE SCHEMA REMOTE_IP
"""

import sys

import ovs.db.idl
import ovs.poller


def wait_until(idl, done, what):
    for _ in range(2000):
        idl.run()
        if done():
            return
        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.timer_wait(10)
        poller.block()
    sys.exit(f"timed out waiting for {what}")


def main():
    remote, schema, remote_ip = sys.argv[1:4]
    helper = ovs.db.idl.SchemaHelper(location=schema)
    helper.register_all()
    idl = ovs.db.idl.Idl(remote, helper)
    wait_until(idl, lambda: idl.has_ever_connected() and idl.tables["Open_vSwitch"].rows, "the initial sync")

    txn = ovs.db.idl.Transaction(idl)
    root = next(iter(idl.tables["Open_vSwitch"].rows.values()))
    ports = []
    for name, kind, options in [
        ("br-int", "internal", {}),
        ("mgmt0", "internal", {}),
        ("gre0", "gre", {"remote_ip": remote_ip}),
    ]:
        iface = txn.insert(idl.tables["Interface"])
        iface.name = name
        iface.type = kind
        iface.options = options
        port = txn.insert(idl.tables["Port"])
        port.name = name
        port.interfaces = [iface]
        ports.append(port)
    bridge = txn.insert(idl.tables["Bridge"])
    bridge.name = "br-int"
    bridge.ports = ports
    root.bridges = list(root.bridges) + [bridge]
    root.increment("next_cfg")
    status = txn.commit_block()
    if status != ovs.db.idl.Transaction.SUCCESS:
        sys.exit(f"transaction failed: {status} {txn.get_error()}")
    next_cfg = txn.get_increment_new_value()

    wait_until(idl, lambda: root.cur_cfg >= next_cfg, f"cur_cfg {next_cfg}")
    for iface in sorted(idl.tables["Interface"].rows.values(), key=lambda i: i.name):
        print(iface.name, iface.ofport[0] if iface.ofport else "none")


main()
