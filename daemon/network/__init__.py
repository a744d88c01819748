"""berthd's networks: IPAM, bridges and veths (pyroute2), network namespaces, NAT and
published ports (nftables), the embedded DNS of user networks."""
