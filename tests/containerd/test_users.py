"""docker --user resolution against an image's own passwd and group files."""

from __future__ import annotations

import pytest

from berth.containerd.errors import InvalidArgument
from berth.containerd.containers.users import resolve

FILES = {
    "/etc/passwd": b"root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/var/www:/bin/false\n",
    "/etc/group": b"root:x:0:\nwww:x:33:\nadm:x:4:www,other\nstaff:x:50:www\n",
}


@pytest.mark.parametrize("user, expected", [
    ("www", {"uid": 33, "gid": 33, "additionalGids": [4, 50]}),
    ("33", {"uid": 33, "gid": 33, "additionalGids": [4, 50]}),
    ("www:staff", {"uid": 33, "gid": 50, "additionalGids": [4]}),
    ("1000", {"uid": 1000, "gid": 0}),            # not in passwd: gid 0, as docker
    ("1000:1001", {"uid": 1000, "gid": 1001}),
    ("root", {"uid": 0, "gid": 0}),
])
def test_names_and_ids_resolve_as_docker_does(user: str, expected: dict) -> None:
    assert resolve(user, FILES.get) == expected


def test_unknown_names_are_refused_in_dockers_words() -> None:
    with pytest.raises(InvalidArgument, match="^unable to find user nobody: no matching entries in passwd file$"):
        resolve("nobody", FILES.get)
    with pytest.raises(InvalidArgument, match="^unable to find group wheel: no matching entries in group file$"):
        resolve("www:wheel", FILES.get)


def test_an_image_without_passwd_still_runs_numeric_users() -> None:
    assert resolve("5:6", lambda path: None) == {"uid": 5, "gid": 6}
