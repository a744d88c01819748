"""Registry credentials in a docker-compatible config.json, as the docker CLI keeps them.

The file is $DOCKER_CONFIG/config.json (default ~/.docker/config.json): berth and
docker share one login. Credentials live in `auths` (base64 "user:password" in
`auth`, an `identitytoken` when the registry gave one) unless the file names a
credential helper (`credHelpers` per registry, or `credsStore` for all): then
`docker-credential-NAME get|store|erase` keeps them, with docker's protocol (the
server URL or a {ServerURL, Username, Secret} object on stdin; "<token>" as the
username means the secret is an identity token). The file is rewritten whole,
atomically, mode 0600, keeping every key berth does not use. Docker Hub's key is
https://index.docker.io/v1/; any other registry's is its host[:port].
"""

from __future__ import annotations

import base64
import json
import os

INDEX_SERVER = "https://index.docker.io/v1/"
_TOKEN_USER = "<token>"
_NOT_FOUND = "credentials not found in native keychain"


class CredentialsError(Exception):
    """A credential helper failed, or the config file could not be read or written."""


def config_path() -> str:
    directory = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(directory, "config.json")


def load() -> dict:
    path = config_path()
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise CredentialsError(f"loading config file {path}: {e.strerror}") from None
    try:
        cfg = json.loads(raw or b"{}")
    except ValueError as e:
        raise CredentialsError(f"loading config file {path}: {e}") from None
    if not isinstance(cfg, dict):
        raise CredentialsError(f"loading config file {path}: not a JSON object")
    return cfg


def save(cfg: dict) -> None:
    from berth.common.files import write_atomic

    path = os.path.realpath(config_path())  # a symlinked config.json is written where it points
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    try:
        write_atomic(path, json.dumps(cfg, indent="\t").encode(), mode=0o600)
    except OSError as e:
        raise CredentialsError(f"writing {path}: {e.strerror or e}") from None


def hostname(server: str) -> str:
    """docker's ConvertToHostname: a URL's host[:port], or the name up to its first `/`."""
    scheme, sep, rest = server.partition("://")
    if sep and scheme in ("http", "https"):
        server = rest
    return server.split("/", 1)[0]


def key_for(domain: str) -> str:
    """The key a registry's credentials are stored under (docker.io: the index server's URL)."""
    return INDEX_SERVER if domain in ("docker.io", "index.docker.io", "registry-1.docker.io") else domain


def _helper(cfg: dict, key: str) -> str:
    helpers = cfg.get("credHelpers") or {}
    name = helpers.get(hostname(key)) if isinstance(helpers, dict) else None
    return str(name or cfg.get("credsStore") or "")


def get(cfg: dict, key: str) -> dict:
    """docker's AuthConfig for `key` ({} when none): username, password, identitytoken, serveraddress."""
    helper = _helper(cfg, key)
    if helper:
        out = _run(helper, "get", key)
        if out is None:
            return {}
        try:
            reply = json.loads(out)
        except ValueError:
            raise CredentialsError(f"error getting credentials - err: invalid JSON from "
                                   f"docker-credential-{helper}, out: `{out.strip()}`") from None
        user, secret = str(reply.get("Username") or ""), str(reply.get("Secret") or "")
        if user == _TOKEN_USER:
            return {"identitytoken": secret, "serveraddress": key}
        return {"username": user, "password": secret, "serveraddress": key}
    auths = cfg.get("auths") or {}
    entry = auths.get(key)
    if entry is None:  # a legacy key (https://host/v1/) matches by its host
        entry = next((v for k, v in auths.items() if hostname(k) == hostname(key)), None)
    if not isinstance(entry, dict):
        return {}
    user, password = str(entry.get("username") or ""), str(entry.get("password") or "")
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(str(entry["auth"])).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise CredentialsError(f"invalid auth configuration file: the auth of {key} is not base64") from None
    out = {"username": user, "password": password, "serveraddress": key}
    if entry.get("identitytoken"):
        out["identitytoken"] = str(entry["identitytoken"])
    return out


def store(cfg: dict, auth: dict) -> bool:
    """Keeps `auth` (docker's AuthConfig, serveraddress its key); True when the plain file
    now holds a password it did not hold before (the caller warns, as docker does)."""
    key = auth["serveraddress"]
    helper = _helper(cfg, key)
    auths = cfg.setdefault("auths", {})
    if helper:
        token = auth.get("identitytoken", "")
        _run(helper, "store", json.dumps({"ServerURL": key, "Username": _TOKEN_USER if token else auth["username"],
                                          "Secret": token or auth.get("password", "")}))
        if auths.get(key) != {}:
            auths[key] = {}  # docker keeps an empty entry: the registry is known, its secret is the helper's
            save(cfg)
        return False
    entry: dict = {"auth": base64.b64encode(f"{auth.get('username', '')}:{auth.get('password', '')}".encode())
                   .decode()}
    if auth.get("identitytoken"):
        entry["identitytoken"] = auth["identitytoken"]
    if auths.get(key) == entry:
        return False  # unchanged: the file is not rewritten
    auths[key] = entry
    save(cfg)
    return True


def erase(cfg: dict, key: str) -> None:
    helper = _helper(cfg, key)
    if helper:
        _run(helper, "erase", key)
    auths = cfg.get("auths") or {}
    if key in auths:
        del auths[key]
        save(cfg)


def _run(helper: str, action: str, stdin: str) -> str | None:
    """`docker-credential-HELPER ACTION`; None for a `get` of credentials it does not have."""
    import shutil
    import subprocess

    program = f"docker-credential-{helper}"
    verb = {"get": "getting", "store": "storing", "erase": "erasing"}[action]
    if shutil.which(program) is None:
        raise CredentialsError(f'error {verb} credentials - err: exec: "{program}": executable file not found '
                               "in $PATH, out: ``")
    proc = subprocess.run([program, action], input=stdin.encode(), capture_output=True, timeout=60)
    out = proc.stdout.decode(errors="replace")
    if proc.returncode != 0:
        if _NOT_FOUND in out and action in ("get", "erase"):
            return None
        raise CredentialsError(f"error {verb} credentials - err: exit status {proc.returncode}, "
                               f"out: `{out.strip()}`")
    return out


def auth_header(domain: str) -> dict[str, str]:
    """X-Registry-Auth for a pull or push from `domain`, as the docker CLI sends it; {} without credentials."""
    auth = get(load(), key_for(domain))
    fields = {k: v for k, v in auth.items() if v}
    if not (fields.get("username") or fields.get("password") or fields.get("identitytoken")):
        return {}
    body = json.dumps(fields).encode()
    return {"X-Registry-Auth": base64.urlsafe_b64encode(body).decode()}
