"""Small pieces every berth component shares: version, default paths, atomic files."""

VERSION = "0.1.0"
