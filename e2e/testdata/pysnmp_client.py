#!/usr/bin/python3
"""One SNMP request with pysnmp 4.4 (hlapi), driven by vmgate's e2e tests.

Usage: pysnmp_client.py '<json request>'
Request keys: host, port, version ("1", "2c", "3"), community, user, auth_protocol,
auth_passphrase, priv_protocol, priv_passphrase, context, op ("get", "next", "walk",
"set"), oids (list), set_values (list of [oid, type, value], type "i" or "s"), timeout,
retries.
Prints one JSON object: error_indication (string or null), error_status (name or null),
error_index, varbinds: [[oid, type name, value as text], ...].
"""
import json
import sys

from pysnmp.hlapi import (
    CommunityData, ContextData, Integer32, ObjectIdentity, ObjectType, OctetString,
    SnmpEngine, UdpTransportTarget, UsmUserData, getCmd, nextCmd, setCmd,
    usmAesBlumenthalCfb192Protocol, usmAesBlumenthalCfb256Protocol, usmAesCfb128Protocol,
    usmAesCfb192Protocol, usmAesCfb256Protocol, usmDESPrivProtocol,
    usmHMAC128SHA224AuthProtocol, usmHMAC192SHA256AuthProtocol,
    usmHMAC256SHA384AuthProtocol, usmHMAC384SHA512AuthProtocol, usmHMACMD5AuthProtocol,
    usmHMACSHAAuthProtocol, usmNoAuthProtocol, usmNoPrivProtocol,
)

AUTH = {
    "": usmNoAuthProtocol,
    "MD5": usmHMACMD5AuthProtocol,
    "SHA": usmHMACSHAAuthProtocol,
    "SHA-224": usmHMAC128SHA224AuthProtocol,
    "SHA-256": usmHMAC192SHA256AuthProtocol,
    "SHA-384": usmHMAC256SHA384AuthProtocol,
    "SHA-512": usmHMAC384SHA512AuthProtocol,
}

# AES-192/AES-256 are the Blumenthal key extension (net-snmp AES-192, gosnmp AES192);
# the -C variants the Reeder one (net-snmp AES-192-C, gosnmp AES192C, pysnmp's plain
# usmAesCfb192Protocol).
PRIV = {
    "": usmNoPrivProtocol,
    "DES": usmDESPrivProtocol,
    "AES": usmAesCfb128Protocol,
    "AES-192": usmAesBlumenthalCfb192Protocol,
    "AES-256": usmAesBlumenthalCfb256Protocol,
    "AES-192-C": usmAesCfb192Protocol,
    "AES-256-C": usmAesCfb256Protocol,
}


def auth_data(req):
    version = req.get("version", "3")
    if version in ("1", "2c"):
        return CommunityData(req["community"], mpModel=0 if version == "1" else 1)
    auth = req.get("auth_protocol", "")
    priv = req.get("priv_protocol", "")
    return UsmUserData(
        req["user"],
        authKey=req.get("auth_passphrase") or None,
        privKey=req.get("priv_passphrase") or None,
        authProtocol=AUTH[auth],
        privProtocol=PRIV[priv],
    )


def value(typ, text):
    if typ == "i":
        return Integer32(int(text))
    if typ == "s":
        return OctetString(text)
    raise ValueError("unsupported set type %r" % typ)


def render(var_binds):
    out = []
    for name, val in var_binds:
        out.append([str(name), val.__class__.__name__, val.prettyPrint()])
    return out


def main():
    req = json.loads(sys.argv[1])
    engine = SnmpEngine()
    target = UdpTransportTarget(
        (req.get("host", "127.0.0.1"), int(req["port"])),
        timeout=float(req.get("timeout", 5)), retries=int(req.get("retries", 0)))
    ctx = ContextData(contextName=req.get("context", ""))
    op = req.get("op", "get")
    objs = [ObjectType(ObjectIdentity(o)) for o in req.get("oids", [])]
    result = {"error_indication": None, "error_status": None, "error_index": 0,
              "varbinds": []}
    if op == "get":
        it = getCmd(engine, auth_data(req), target, ctx, *objs, lookupMib=False)
    elif op == "next":
        it = nextCmd(engine, auth_data(req), target, ctx, *objs, lookupMib=False)
    elif op == "walk":
        it = nextCmd(engine, auth_data(req), target, ctx, *objs, lookupMib=False,
                     lexicographicMode=False)
    elif op == "set":
        objs = [ObjectType(ObjectIdentity(o), value(t, v)) for o, t, v in req["set_values"]]
        it = setCmd(engine, auth_data(req), target, ctx, *objs, lookupMib=False)
    else:
        raise SystemExit("unknown op %r" % op)
    for err_ind, err_status, err_index, var_binds in it:
        if err_ind:
            result["error_indication"] = str(err_ind)
            break
        if err_status:
            result["error_status"] = err_status.prettyPrint()
            result["error_index"] = int(err_index)
            break
        result["varbinds"].extend(render(var_binds))
        if op != "walk":
            break
    print(json.dumps(result))


if __name__ == "__main__":
    main()
