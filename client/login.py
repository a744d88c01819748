"""`login` and `logout`, as the docker CLI (28) runs them: the daemon checks the
credentials on the registry (POST /auth), the CLI keeps them (client/credentials.py).

login without -u/-p first tries the credentials already stored; otherwise it asks
for what is missing on the terminal (and refuses without one). An identity token the
registry gave replaces the password. logout removes the server's credentials under
every key docker may have used for it (HOST, http://HOST, https://HOST).
"""

from __future__ import annotations

import os
import sys

from berth.client import credentials
from berth.client.api import DaemonError
from berth.client.flags import Parsed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.client.main import Context

_PLAIN_WARNING = ("\nWARNING! Your credentials are stored unencrypted in '{path}'.\n"
                  "Configure a credential helper to remove this warning. See\n"
                  "https://docs.docker.com/go/credential-store/\n\n")


class LoginError(Exception):
    pass


def _server(arg: str) -> str:
    if not arg or arg in ("docker.io", credentials.INDEX_SERVER):
        return credentials.INDEX_SERVER
    return credentials.hostname(arg)


def _password_stdin(ctx: Context, parsed: Parsed) -> tuple[str, str]:
    user, password = parsed.opts["username"] or "", parsed.opts["password"] or ""
    if password:
        ctx.err("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")
        if parsed.opts["password_stdin"]:
            raise LoginError("conflicting options: cannot specify both --password and --password-stdin")
    if parsed.opts["password_stdin"]:
        if not user:
            raise LoginError("the --password-stdin option requires --username to be set")
        password = sys.stdin.read().removesuffix("\n").removesuffix("\r")
    return user, password


def _prompt(ctx: Context, user: str, password: str, default_user: str) -> tuple[str, str]:
    if not _isatty(0):
        raise LoginError("Error: Cannot perform an interactive login from a non TTY device")
    import getpass

    if not user:
        ctx.out(f"Username ({default_user}): " if default_user else "Username: ")
        user = sys.stdin.readline().strip() or default_user
        if not user:
            raise LoginError("Error: Non-null Username Required")
    if not password:
        password = getpass.getpass("Password: ")
        if not password:
            raise LoginError("Error: Password Required")
    return user, password


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def _check(ctx: Context, auth: dict) -> dict:
    """POST /auth; the AuthConfig to keep (an identity token instead of the password)."""
    body = {"username": auth.get("username", ""), "password": auth.get("password", ""),
            "serveraddress": auth["serveraddress"]}
    if auth.get("identitytoken"):
        body["identitytoken"] = auth["identitytoken"]
    answer = ctx.client().post("/auth", body=body) or {}
    token = answer.get("IdentityToken") if isinstance(answer, dict) else ""
    if token:
        auth = {**auth, "password": "", "identitytoken": token}
    return auth


def cmd_login(ctx: Context, parsed: Parsed) -> int:
    try:
        user, password = _password_stdin(ctx, parsed)
        server = _server(parsed.args[0] if parsed.args else "")
        cfg = credentials.load()
        stored = credentials.get(cfg, server) if not user and not password else {}
        auth = None
        if stored.get("username") and (stored.get("password") or stored.get("identitytoken")):
            ctx.err(f"Authenticating with existing credentials... [Username: {stored['username']}]\n\n"
                    " Info -> To login with a different account, run 'berth logout' followed by 'berth login'\n\n\n")
            try:
                auth = _check(ctx, stored)
            except DaemonError as e:
                ctx.err("Stored credentials invalid or expired\n" if e.status == 401 else
                        f"Login did not succeed, error: Error response from daemon: {e.message}\n")
                auth = None
        if auth is None:
            user, password = _prompt(ctx, user, password, stored.get("username", "")) if not (user and password) \
                else (user, password)
            auth = _check(ctx, {"username": user, "password": password, "serveraddress": server})
        try:
            plain = credentials.store(cfg, auth)
        except credentials.CredentialsError as e:
            raise LoginError(f"Error saving credentials: {e}") from None
        if plain:
            ctx.err(_PLAIN_WARNING.format(path=credentials.config_path()))
    except (LoginError, credentials.CredentialsError) as e:
        ctx.err(f"{e}\n")
        return 1
    ctx.out("Login Succeeded\n")
    return 0


def cmd_logout(ctx: Context, parsed: Parsed) -> int:
    arg = parsed.args[0] if parsed.args else ""
    server = _server(arg)
    keys = [server] if server == credentials.INDEX_SERVER else list(dict.fromkeys(
        [arg, server, f"http://{server}", f"https://{server}"]))
    ctx.out(f"Removing login credentials for {server}\n")
    failed: dict[str, str] = {}
    try:
        cfg = credentials.load()
    except credentials.CredentialsError as e:
        ctx.err(f"{e}\n")
        return 1
    for key in keys:
        try:
            credentials.erase(cfg, key)
        except credentials.CredentialsError as e:
            failed[key] = str(e)
    if len(failed) == len(keys):
        ctx.err("WARNING: could not erase credentials:\n" + "".join(f"{k}: {v}\n" for k, v in failed.items()))
    return 0
