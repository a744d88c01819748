"""run/create's network flags (-p, -P, --expose, --add-host, --dns, --ip, ...), `berth port`
and `berth network ...`: loaded only when one of them is used."""

from __future__ import annotations

from berth.client.api import DaemonError
from berth.client.flags import Parsed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.client.main import Context

NET_FLAGS = ("publish", "publish_all", "expose", "add_host", "dns", "dns_search", "dns_option", "ip",
             "mac_address", "network_alias", "link")


def _port_key(spec: str) -> str:
    port, _, proto = spec.partition("/")
    return f"{port}/{proto or 'tcp'}"


def parse_publish(value: str) -> tuple[str, dict[str, str]]:
    """docker's -p [IP:][HOST:]CONTAINER[/PROTO] -> ("80/tcp", {"HostIp", "HostPort"})."""
    main, slash, proto = value.partition("/")
    parts = main.rsplit(":", 2)
    if len(parts) == 3:
        host_ip, host_port, cport = parts
    elif len(parts) == 2:
        host_ip, (host_port, cport) = "", parts
    else:
        host_ip, host_port, cport = "", "", parts[0]
    if not cport.isdigit():
        raise ValueError(f"invalid containerPort: {cport}")
    return _port_key(cport + slash + proto), {"HostIp": host_ip.strip("[]"), "HostPort": host_port}


def apply(config: dict, o: dict) -> None:
    """The network flags into a create body (HostConfig, ExposedPorts, NetworkingConfig)."""
    host = config["HostConfig"]
    bindings: dict[str, list[dict[str, str]]] = {}
    for value in o.get("publish") or []:
        key, binding = parse_publish(value)
        bindings.setdefault(key, []).append(binding)
    exposed = {_port_key(v): {} for v in o.get("expose") or []}
    exposed.update({k: {} for k in bindings})
    if bindings:
        host["PortBindings"] = bindings
    if exposed:
        config["ExposedPorts"] = exposed
    if o.get("publish_all"):
        host["PublishAllPorts"] = True
    for flag, field in (("add_host", "ExtraHosts"), ("dns", "Dns"), ("dns_search", "DnsSearch"),
                        ("dns_option", "DnsOptions"), ("link", "Links")):
        if o.get(flag):
            host[field] = list(o[flag])
    endpoint: dict = {}
    if o.get("ip"):
        endpoint["IPAMConfig"] = {"IPv4Address": o["ip"]}
    if o.get("network_alias"):
        endpoint["Aliases"] = list(o["network_alias"])
    if o.get("mac_address"):
        endpoint["MacAddress"] = o["mac_address"]
    if endpoint:
        config["NetworkingConfig"] = {"EndpointsConfig": {o.get("network") or "default": endpoint}}


def cmd_port(ctx: Context, parsed: Parsed) -> int:
    """`berth port CONTAINER [PRIVATE_PORT[/PROTO]]`, docker's lines."""
    try:
        c = ctx.client().get(f"/containers/{parsed.args[0]}/json")
    except DaemonError as e:
        ctx.err(f"Error response from daemon: {e.message}\n")
        return 1
    ports = c["NetworkSettings"].get("Ports") or {}
    if len(parsed.args) > 1:
        key = _port_key(parsed.args[1])
        if not ports.get(key):
            ctx.err(f"Error: No public port '{key}' published for {parsed.args[0]}\n")
            return 1
        ctx.out("".join(f"{b['HostIp']}:{b['HostPort']}\n" for b in ports[key]))
        return 0
    for key in sorted(ports, key=lambda k: (int(k.split("/")[0]), k)):
        for b in ports[key] or []:
            ctx.out(f"{key} -> {b['HostIp']}:{b['HostPort']}\n")
    return 0


def cmd_network(ctx: Context, parsed: Parsed) -> int:
    """`berth network create|ls|inspect|rm|connect|disconnect|prune`, docker's output."""
    import json

    verb, args, o = parsed.args[0], parsed.args[1:], parsed.opts
    client = ctx.client()
    try:
        if verb == "create" and len(args) == 1:
            body: dict = {"Name": args[0], "Driver": o.get("driver") or "bridge",
                          "Internal": bool(o.get("internal"))}
            if o.get("subnet"):
                body["IPAM"] = {"Config": [{"Subnet": o["subnet"], **({"Gateway": o["gateway"]}
                                                                      if o.get("gateway") else {})}]}
            ctx.out(client.post("/networks/create", None, body)["Id"] + "\n")
        elif verb in ("ls", "list") and not args:
            nets = client.get("/networks")
            if o.get("quiet"):
                ctx.out("".join(n["Id"][:12] + "\n" for n in nets))
            else:
                ctx.out(f"{'NETWORK ID':<15}{'NAME':<10}{'DRIVER':<10}SCOPE\n" + "".join(
                    f"{n['Id'][:12]:<15}{n['Name']:<10}{n['Driver']:<10}{n['Scope']}\n" for n in nets))
        elif verb == "inspect" and args:
            ctx.out(json.dumps([client.get(f"/networks/{a}") for a in args], indent=4) + "\n")
        elif verb in ("rm", "remove") and args:
            for a in args:
                client.call("DELETE", f"/networks/{a}")
                ctx.out(a + "\n")
        elif verb in ("connect", "disconnect") and len(args) == 2:
            client.post(f"/networks/{args[0]}/{verb}", None, {"Container": args[1]})
        elif verb == "prune" and not args:
            gone = client.post("/networks/prune", None, None).get("NetworksDeleted") or []
            ctx.out("".join(f"Deleted Networks:\n{n}\n" if i == 0 else f"{n}\n" for i, n in enumerate(gone)))
        else:
            ctx.err(f"berth: 'network {verb}' is not a berth network command (or has the wrong arguments)\n")
            return 1
    except DaemonError as e:
        ctx.err(f"Error response from daemon: {e.message}\n")
        return 1
    return 0
