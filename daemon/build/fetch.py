"""ADD of a URL: the file fetched (each build, as docker's classic builder does; the
cache then keys on its content), named by the URL's last path component, mode 0600."""

from __future__ import annotations

import os
import posixpath
import urllib.parse

import httpx

from .steps import StepError


def is_url(src: str) -> bool:
    return src.startswith(("http://", "https://"))


async def download(url: str, work: str) -> str:
    name = posixpath.basename(urllib.parse.urlparse(url).path) or "__unnamed__"
    folder = os.path.join(work, f"url-{len(os.listdir(work))}")
    os.mkdir(folder)
    path = os.path.join(folder, name)
    try:
        async with httpx.AsyncClient(timeout=60, follow_redirects=True) as client, client.stream("GET", url) as resp:
            if resp.status_code >= 400:
                raise StepError(f"failed to GET {url} with status {resp.status_code} {resp.reason_phrase}")
            with open(path, "wb") as f:
                async for piece in resp.aiter_bytes(1 << 20):
                    f.write(piece)
    except httpx.HTTPError as e:
        raise StepError(f"ADD failed: fetching {url}: {e}") from None
    os.chmod(path, 0o600)
    return path
