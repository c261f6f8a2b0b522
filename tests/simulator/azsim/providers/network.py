"""Microsoft.Network: virtual networks and their subnets, network interfaces, public IPs, security groups.

Spec: specification/network/resource-manager/Microsoft.Network/stable/2024-05-01/{virtualNetwork,networkInterface,
publicIpAddress,networkSecurityGroup}.json."""
from __future__ import annotations

import hashlib
import ipaddress
import itertools
import time

from ..core import Response, bad_request, det_uuid
from .base import RG_PREFIX, TypeHandler, parse_id, register_operations, register_type

NS = "Microsoft.Network"


class _NetworkBase(TypeHandler):
    namespace = NS
    put_style, delete_style = "network", "async"
    readonly_props = ("provisioningState", "resourceGuid", "etag")

    def build(self, req, rg, names, body, existing):
        res = super().build(req, rg, names, body, existing)
        props = res["properties"]
        props["resourceGuid"] = ((existing or {}).get("properties") or {}).get("resourceGuid") or det_uuid(
            "guid", res["id"].lower())
        props["provisioningState"] = "Updating"
        res["etag"] = 'W/"%s"' % det_uuid("etag", res["id"].lower(), time.time())
        return res


class VirtualNetworks(_NetworkBase):
    types, name_params = ("virtualNetworks",), ("virtualNetworkName",)

    def build(self, req, rg, names, body, existing):
        res = super().build(req, rg, names, body, existing)
        props = res["properties"]
        prefixes = ((props.get("addressSpace") or {}).get("addressPrefixes") or [])
        if not prefixes:
            raise bad_request("InvalidAddressSpace", "Address space of virtual network %s is not valid." % res["id"])
        subnets = []
        for s in props.get("subnets") or []:
            subnets.append(_subnet(res["id"], s.get("name"), s.get("properties") or {}))
        props["subnets"] = subnets
        props.setdefault("virtualNetworkPeerings", [])
        props.setdefault("enableDdosProtection", False)
        return res


def _subnet(vnet_id, name, props):
    p = {k: v for k, v in props.items() if k not in ("provisioningState", "ipConfigurations")}
    p["provisioningState"] = "Succeeded"
    p.setdefault("privateEndpointNetworkPolicies", "Disabled")
    p.setdefault("privateLinkServiceNetworkPolicies", "Enabled")
    return {"id": "%s/subnets/%s" % (vnet_id, name), "name": name, "type": "Microsoft.Network/virtualNetworks/subnets",
            "properties": p}


class Subnets(TypeHandler):
    """Child of a virtual network, stored inside the parent's properties.subnets."""
    namespace, types, name_params = NS, ("virtualNetworks", "subnets"), ("virtualNetworkName", "subnetName")
    put_style, delete_style = "network", "async"
    has_location = False


class NetworkInterfaces(_NetworkBase):
    types, name_params = ("networkInterfaces",), ("networkInterfaceName",)
    readonly_props = _NetworkBase.readonly_props + ("virtualMachine", "macAddress", "primary")

    def build(self, req, rg, names, body, existing):
        res = super().build(req, rg, names, body, existing)
        props = res["properties"]
        cfgs = props.get("ipConfigurations") or []
        if not cfgs:
            raise bad_request("InvalidRequestFormat", "Cannot parse the request.")
        for i, cfg in enumerate(cfgs):
            cp = cfg.setdefault("properties", {})
            cfg["id"] = "%s/ipConfigurations/%s" % (res["id"], cfg.get("name", "ipconfig%d" % (i + 1)))
            cfg["type"] = "Microsoft.Network/networkInterfaces/ipConfigurations"
            sid = (cp.get("subnet") or {}).get("id")
            subnet = find_subnet(self.arm, sid) if sid else None
            if sid and (subnet is None or not same_region(self.arm, sid, res["location"])):
                raise bad_request("InvalidResourceReference", "Resource %s referenced by resource %s was not found. "
                                  "Please make sure that the referenced resource exists, and that both resources are "
                                  "in the same region." % (sid, res["id"]))
            pip = (cp.get("publicIPAddress") or {}).get("id")
            if pip and self.arm.get(pip) is None:
                raise bad_request("InvalidResourceReference", "Resource %s referenced by resource %s was not found. "
                                  "Please make sure that the referenced resource exists, and that both resources are "
                                  "in the same region." % (pip, res["id"]))
            if subnet is not None and not cp.get("privateIPAddress"):
                prefix = subnet["properties"].get("addressPrefix") or (subnet["properties"].get("addressPrefixes")
                                                                       or ["10.0.0.0/24"])[0]
                net = ipaddress.ip_network(prefix, strict=False)
                used = {c.get("properties", {}).get("privateIPAddress") for n in self.arm.of_type(
                    "Microsoft.Network/networkInterfaces") if n["id"].lower() != res["id"].lower()
                    for c in n["properties"].get("ipConfigurations") or []}
                for host in itertools.islice(net.hosts(), 3, None):
                    if str(host) not in used:
                        cp["privateIPAddress"] = str(host)
                        break
                cp.setdefault("privateIPAllocationMethod", "Dynamic")
            cp.setdefault("primary", i == 0)
            cp.setdefault("privateIPAddressVersion", "IPv4")
            cp["provisioningState"] = "Succeeded"
        nsg = (props.get("networkSecurityGroup") or {}).get("id")
        if nsg and self.arm.get(nsg) is None:
            raise bad_request("InvalidResourceReference", "Resource %s referenced by resource %s was not found. Please "
                              "make sure that the referenced resource exists, and that both resources are in the same "
                              "region." % (nsg, res["id"]))
        props.setdefault("enableAcceleratedNetworking", False)
        props.setdefault("enableIPForwarding", False)
        props["macAddress"] = "00-0D-3A-%s" % "-".join(hashlib.sha256(res["id"].lower().encode()).hexdigest()[i:i + 2]
                                                       for i in (0, 2, 4)).upper()
        old_vm = ((existing or {}).get("properties") or {}).get("virtualMachine")
        if old_vm:
            props["virtualMachine"] = old_vm
        props["primary"] = True
        return res

    def before_delete(self, res):
        vm = (res["properties"].get("virtualMachine") or {}).get("id")
        if vm:
            raise bad_request("NicInUse", "Network Interface %s is used by existing resource %s. In order to delete "
                              "the network interface, it must be dissociated from the resource. To learn more, see "
                              "aka.ms/deletenic." % (res["id"], vm))


class PublicIPAddresses(_NetworkBase):
    types, name_params = ("publicIPAddresses",), ("publicIpAddressName",)
    readonly_props = _NetworkBase.readonly_props + ("ipAddress", "ipConfiguration")

    def build(self, req, rg, names, body, existing):
        res = super().build(req, rg, names, body, existing)
        props = res["properties"]
        props.setdefault("publicIPAllocationMethod", "Static")
        props.setdefault("publicIPAddressVersion", "IPv4")
        props.setdefault("idleTimeoutInMinutes", 4)
        h = hashlib.sha256(res["id"].lower().encode()).digest()
        props["ipAddress"] = "20.%d.%d.%d" % (h[0], h[1], max(1, h[2] % 255))
        res.setdefault("sku", {"name": "Standard", "tier": "Regional"})
        return res


class NetworkSecurityGroups(_NetworkBase):
    types, name_params = ("networkSecurityGroups",), ("networkSecurityGroupName",)
    readonly_props = _NetworkBase.readonly_props + ("defaultSecurityRules", "networkInterfaces", "subnets")

    def build(self, req, rg, names, body, existing):
        res = super().build(req, rg, names, body, existing)
        props = res["properties"]
        rules = []
        for r in props.get("securityRules") or []:
            r = dict(r)
            r["id"] = "%s/securityRules/%s" % (res["id"], r.get("name"))
            r["type"] = "Microsoft.Network/networkSecurityGroups/securityRules"
            r.setdefault("properties", {})["provisioningState"] = "Succeeded"
            rules.append(r)
        props["securityRules"] = rules
        defaults = [("AllowVnetInBound", 65000, "Inbound", "VirtualNetwork", "Allow"),
                    ("AllowAzureLoadBalancerInBound", 65001, "Inbound", "AzureLoadBalancer", "Allow"),
                    ("DenyAllInBound", 65500, "Inbound", "*", "Deny"),
                    ("AllowVnetOutBound", 65000, "Outbound", "VirtualNetwork", "Allow"),
                    ("AllowInternetOutBound", 65001, "Outbound", "Internet", "Allow"),
                    ("DenyAllOutBound", 65500, "Outbound", "*", "Deny")]
        props["defaultSecurityRules"] = [{
            "id": "%s/defaultSecurityRules/%s" % (res["id"], n), "name": n,
            "type": "Microsoft.Network/networkSecurityGroups/defaultSecurityRules",
            "properties": {"protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*",
                           "sourceAddressPrefix": src, "destinationAddressPrefix": "*", "access": acc,
                           "priority": pri, "direction": d, "provisioningState": "Succeeded"}}
            for n, pri, d, src, acc in defaults]
        return res


def same_region(arm, subnet_id: str, location: str) -> bool:
    """A NIC's subnet (its virtual network) is in the NIC's region; otherwise Azure answers as for a missing
    reference.

    Source: Microsoft doc "Create, change, or delete a network interface" ("The virtual network must exist in the
    same location and subscription you create a network interface in"); the message is public record (Azure's
    InvalidResourceReference: "... Please make sure that the referenced resource exists, and that both resources
    are in the same region.")."""
    vnet = arm.get(subnet_id.rsplit("/subnets/", 1)[0])
    return vnet is not None and vnet.get("location") == location


def find_subnet(arm, sid: str):
    p = parse_id(sid)
    if not p or len(p.get("types", [])) != 2:
        return None
    vnet = arm.get(sid.rsplit("/subnets/", 1)[0])
    if vnet is None:
        return None
    for s in vnet["properties"].get("subnets") or []:
        if s["name"].lower() == p["names"][1].lower():
            return s
    return None


def subnet(h, req, m, fault):
    """Subnets live inside their virtual network's ``properties.subnets``."""
    arm = h.arm
    rg_name, vnet_name, name = m["resourceGroupName"], m["virtualNetworkName"], m["subnetName"]
    rg = arm.require_group(rg_name)
    vnet_id = "%s/providers/%s/virtualNetworks/%s" % (arm.rg_id(rg["name"]), NS, vnet_name)
    vnet = arm.get(vnet_id)
    if vnet is None:
        raise arm.not_found("Microsoft.Network/virtualNetworks/%s" % vnet_name, rg_name)
    subnets = vnet["properties"].setdefault("subnets", [])
    idx = next((i for i, s in enumerate(subnets) if s["name"].lower() == name.lower()), None)
    if req.method == "GET":
        if idx is None:
            raise arm.not_found(h.type_path([vnet_name, name]), rg_name)
        return Response(200, subnets[idx])
    if req.method == "PUT":
        body = req.json()
        arm.validate_body(req, body)
        s = _subnet(vnet_id, name, body.get("properties") or {})
        if idx is None:
            subnets.append(s)
        else:
            subnets[idx] = s
        h.sim.mark_dirty()
        op = arm.new_op(NS, vnet["location"], "put", s["id"], None, req.api_version, fault)
        return Response(201 if idx is None else 200, s, arm.lro_headers(op, location=False))
    if idx is None:
        return Response(204)
    subnets.pop(idx)
    op = arm.new_op(NS, vnet["location"], "delete", vnet_id + "/subnets/" + name, None, req.api_version, fault)
    return Response(202, None, arm.lro_headers(op))


def list_subnets(h, req, m):
    arm = h.arm
    rg = arm.require_group(m["resourceGroupName"])
    vnet = arm.get("%s/providers/%s/virtualNetworks/%s" % (arm.rg_id(rg["name"]), NS, m["virtualNetworkName"]))
    if vnet is None:
        raise arm.not_found("Microsoft.Network/virtualNetworks/%s" % m["virtualNetworkName"], m["resourceGroupName"])
    return Response(200, {"value": vnet["properties"].get("subnets", [])})


def register(table, arm):
    handlers = [VirtualNetworks(arm), NetworkInterfaces(arm), PublicIPAddresses(arm), NetworkSecurityGroups(arm)]
    for h in handlers:
        register_type(table, h)
    sub = Subnets(arm)
    vnet = RG_PREFIX + NS + "/virtualNetworks/{virtualNetworkName}"
    for method in ("GET", "PUT", "DELETE"):
        table.add(method, vnet + "/subnets/{subnetName}", lambda req, m, fault: subnet(sub, req, m, fault))
    table.add("GET", vnet + "/subnets", lambda req, m, fault: list_subnets(sub, req, m))
    register_operations(table, arm, NS)
    return handlers + [sub]
