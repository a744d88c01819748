"""Legacy links on the default bridge: `docker run --link db:webdb` gives the process
Docker's environment for the linked container and an /etc/hosts entry for it."""

from __future__ import annotations

import json

from tests.daemon.conftest import Berthd


def test_a_link_on_the_default_bridge_gives_dockers_variables_and_a_hosts_entry(berthd: Berthd) -> None:
    berthd.docker("run", "-d", "--name", "db", "--expose", "5432", "--expose", "53/udp",
                  "-e", "POSTGRES_USER=app", "busybox", "sleep", "300", check=True)
    try:
        ip = json.loads(berthd.docker("inspect", "db", check=True).stdout)[0]["NetworkSettings"]["IPAddress"]
        out = berthd.docker("run", "--rm", "--name", "web", "--link", "db:webdb", "busybox",
                            "sh", "-c", "env; echo ---; cat /etc/hosts", check=True).stdout
        env, hosts = out.split("---\n")
        got = {line.split("=", 1)[0]: line.split("=", 1)[1] for line in env.splitlines() if line.startswith("WEBDB_")}
        assert got == {
            "WEBDB_NAME": "/web/webdb",
            "WEBDB_PORT": f"udp://{ip}:53",  # the lowest port, as moby picks it
            "WEBDB_PORT_53_UDP": f"udp://{ip}:53", "WEBDB_PORT_53_UDP_ADDR": ip,
            "WEBDB_PORT_53_UDP_PORT": "53", "WEBDB_PORT_53_UDP_PROTO": "udp",
            "WEBDB_PORT_5432_TCP": f"tcp://{ip}:5432", "WEBDB_PORT_5432_TCP_ADDR": ip,
            "WEBDB_PORT_5432_TCP_PORT": "5432", "WEBDB_PORT_5432_TCP_PROTO": "tcp",
            "WEBDB_ENV_POSTGRES_USER": "app",
        }
        assert any(line.split()[0] == ip and "webdb" in line.split()[1:] for line in hosts.splitlines())
        # the variables are the process's: the container's Config.Env does not list them
        berthd.docker("create", "--name", "web2", "--link", "db", "busybox", "true", check=True)
        env_cfg = json.loads(berthd.docker("inspect", "web2", check=True).stdout)[0]["Config"]["Env"]
        assert not any(e.startswith("DB_") for e in env_cfg)
    finally:
        berthd.docker("rm", "-f", "db", "web2")


def test_a_link_on_a_user_network_is_an_alias_only(berthd: Berthd) -> None:
    berthd.docker("network", "create", "linknet", check=True)
    try:
        berthd.docker("run", "-d", "--name", "ldb", "--network", "linknet", "--expose", "80", "busybox",
                      "sleep", "300", check=True)
        out = berthd.docker("run", "--rm", "--network", "linknet", "--link", "ldb:store", "busybox",
                            "sh", "-c", "env; ping -c1 -W3 store", check=True).stdout
        assert "STORE_" not in out and "1 packets received" in out
    finally:
        berthd.docker("rm", "-f", "ldb")
        berthd.docker("network", "rm", "linknet")
