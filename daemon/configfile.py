"""berthd's configuration file (--config-file, default /etc/berth/daemon.json): dockerd's
daemon.json keys for the settings berthd has as flags, merged with the flags as dockerd
merges them (daemon/config.MergeDaemonConfigurations):

- a key that names no setting is refused ("the following directives don't match any
  configuration option: K"), as is a key also given as a flag ("the following
  directives are specified both as a flag and in the configuration file: K: (from
  flag: V, from file: W)"), checked in flag-name order as pflag visits them;
- a value of the wrong JSON type is refused with encoding/json's words;
- the default file may be missing; a file named with --config-file must exist.

The file's values become the flags' values (argparse's namespace), so every check
the flags have applies to them too. Errors end berthd with exit status 1 and
dockerd's "unable to configure the Docker daemon with file PATH: ...".
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass

from .config import Config

DEFAULT = Config.config_file


@dataclass(frozen=True)
class _Key:
    dest: str          # the argparse destination the value goes to
    flag: str          # the flag's long name (conflicts are listed in this order)
    kind: str          # str, bool, list, ulimits, pools, runtimes


def _k(dest: str, kind: str = "str", flag: str = "") -> _Key:
    return _Key(dest, flag or dest.replace("_", "-"), kind)


# dockerd's daemon.json names (a flag's name, or its NamedOption's) for berthd's flags
KEYS: dict[str, _Key] = {
    "hosts": _k("host", "list", "host"), "data-root": _k("data_root"), "exec-root": _k("exec_root"),
    "group": _k("group"), "pidfile": _k("pidfile"), "containerd": _k("containerd"),
    "cgroup-parent": _k("cgroup_parent"), "default-runtime": _k("default_runtime"),
    "runtimes": _k("add_runtime", "runtimes", "add-runtime"),
    "insecure-registries": _k("insecure_registry", "list", "insecure-registry"),
    "registry-mirrors": _k("registry_mirror", "list", "registry-mirror"),
    "debug": _k("debug", "bool"), "log-level": _k("log_level"),
    "tls": _k("tls", "bool"), "tlsverify": _k("tlsverify", "bool"), "tlscacert": _k("tlscacert"),
    "tlscert": _k("tlscert"), "tlskey": _k("tlskey"),
    "seccomp-profile": _k("seccomp_profile"), "no-new-privileges": _k("no_new_privileges", "bool"),
    "default-ulimits": _k("default_ulimit", "ulimits", "default-ulimit"), "userns-remap": _k("userns_remap"),
    "bridge": _k("bridge"), "bip": _k("bip"),
    "default-address-pools": _k("default_address_pool", "pools", "default-address-pool"),
    "veth-prefix": _k("veth_prefix"), "nft-table": _k("nft_table"),
}
# Objects that are values, not sections whose keys are settings (dockerd's flatOptions).
_FLAT = {"default-ulimits", "runtimes", "log-opts", "features", "builder", "cluster-store-opts"}
_GO_TYPES = {"str": "string", "bool": "bool", "list": "[]string", "ulimits": "map[string]*units.Ulimit",
             "pools": "[]*address.Pool", "runtimes": "map[string]types.Runtime"}


class ConfigError(ValueError):
    pass


def merge(p: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """The flags, with the configuration file's values for those not given."""
    a = p.parse_args(argv)
    given = _given(p, argv)
    try:
        doc = _read(a.config_file, must_exist="config_file" in given)
        if doc is not None:
            _apply(doc, a, given)
    except ConfigError as e:
        sys.exit(f"unable to configure the Docker daemon with file {a.config_file}: {e}")
    return a


def keys_in(path: str) -> set[str]:
    """The settings a file sets (its sections' keys as top-level ones): SIGHUP applies only
    those, as dockerd's IsValueSet (daemon/system/reload.py). A missing file sets none."""
    try:
        doc = _read(path, must_exist=False)
    except ConfigError as e:
        raise ValueError(f"unable to configure the Docker daemon with file {path}: {e}") from None
    return set(_flatten(doc or {}))


def _given(p: argparse.ArgumentParser, argv: list[str] | None) -> dict[str, object]:
    """The destinations the command line set itself (dockerd's flags.Visit, not VisitAll)."""
    saved = [(action, action.default) for action in p._actions]
    for action, _ in saved:
        action.default = argparse.SUPPRESS
    try:
        return vars(p.parse_args(argv))
    finally:
        for action, default in saved:
            action.default = default


def _read(path: str, must_exist: bool) -> dict | None:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        if must_exist:
            raise ConfigError(f"open {path}: no such file or directory") from None
        return None
    except OSError as e:
        raise ConfigError(f"open {path}: {(e.strerror or str(e)).lower()}") from None
    try:
        doc = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError(f"invalid JSON: {e}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"json: cannot unmarshal {_json_type(doc)} into Go value of type map[string]interface {{}}")
    return doc


def _flatten(doc: dict) -> dict:
    """dockerd's configValuesSet: a section's keys count as top-level keys."""
    out: dict = {}
    for key, value in doc.items():
        if isinstance(value, dict) and key not in _FLAT and key not in KEYS:
            out.update(value)
        else:
            out[key] = value
    return out


def _apply(doc: dict, a: argparse.Namespace, given: dict[str, object]) -> None:
    flat = _flatten(doc)
    unknown = [key for key in flat if key not in KEYS]
    if unknown:
        raise ConfigError("the following directives don't match any configuration option: " + ", ".join(unknown))
    both = sorted((KEYS[key].flag, key) for key in flat if KEYS[key].dest in given)
    if both:
        raise ConfigError("the following directives are specified both as a flag and in the configuration file: "
                          + ", ".join(f"{key}: (from flag: {_go(given[KEYS[key].dest], key, True)}, from file: "
                                      f"{_go(flat[key], key)})" for _, key in both))
    for key, value in flat.items():
        spec = KEYS[key]
        setattr(a, spec.dest, _CONVERT[spec.kind](key, value))


def _go(value: object, key: str, flag: bool = False) -> str:
    """A value as Go's %v prints it (a flag's String() has its mirrors normalised, as dockerd's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        if flag and key == "registry-mirrors":
            value = [v.rstrip("/") + "/" if isinstance(v, str) and "://" in v else v for v in value]
        return "[" + " ".join(_go(v, key) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go(v, key)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "null")


def _type_error(key: str, value: object, kind: str) -> ConfigError:
    return ConfigError(f"json: cannot unmarshal {_json_type(value)} into Go struct field Config.{key} "
                       f"of type {_GO_TYPES[kind]}")


def _str(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise _type_error(key, value, "str")
    return value


def _bool(key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _type_error(key, value, "bool")
    return value


def _list(key: str, value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _type_error(key, value, "list")
    return list(value)


def _ulimits(key: str, value: object) -> list[str]:
    """{"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 2048}} → --default-ulimit nofile=1024:2048."""
    if not isinstance(value, dict):
        raise _type_error(key, value, "ulimits")
    out = []
    for name, limit in value.items():
        if not isinstance(limit, dict) or not all(isinstance(limit.get(f), int) for f in ("Soft", "Hard")):
            raise _type_error(key, limit, "ulimits")
        out.append(f"{limit.get('Name') or name}={limit['Soft']}:{limit['Hard']}")
    return out


def _pools(key: str, value: object) -> list[str]:
    """[{"base": "10.10.0.0/16", "size": 24}] → --default-address-pool base=10.10.0.0/16,size=24."""
    if not isinstance(value, list):
        raise _type_error(key, value, "pools")
    out = []
    for pool in value:
        if not isinstance(pool, dict) or not isinstance(pool.get("base"), str) or not isinstance(pool.get("size"), int):
            raise _type_error(key, pool, "pools")
        out.append(f"base={pool['base']},size={pool['size']}")
    return out


def _runtimes(key: str, value: object) -> list[str]:
    """{"name": {"path": "/usr/bin/x"}} → --add-runtime name=/usr/bin/x."""
    if not isinstance(value, dict):
        raise _type_error(key, value, "runtimes")
    out = []
    for name, runtime in value.items():
        if not isinstance(runtime, dict) or not isinstance(runtime.get("path"), str):
            raise _type_error(key, runtime, "runtimes")
        extra = sorted(set(runtime) - {"path"})
        if extra:
            raise ConfigError(f"runtimes: {name}: {', '.join(extra)}: not supported by berth (a path only)")
        out.append(f"{name}={runtime['path']}")
    return out


_CONVERT: dict[str, Callable[[str, object], object]] = {
    "str": _str, "bool": _bool, "list": _list, "ulimits": _ulimits, "pools": _pools, "runtimes": _runtimes}
