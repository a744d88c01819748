"""One reference parser for client, daemon and containerd: docker's rules, docker's words."""

from __future__ import annotations

import pytest

from berth.common import reference

HEX = "a" * 64


@pytest.mark.parametrize("text, full, familiar", [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("index.docker.io/user/app", "docker.io/user/app:latest", "user/app:latest"),
    ("user/app:v2", "docker.io/user/app:v2", "user/app:v2"),
    ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
    ("localhost:5000/app:1.0", "localhost:5000/app:1.0", "localhost:5000/app:1.0"),
    ("127.0.0.1:5000/team/app", "127.0.0.1:5000/team/app:latest", "127.0.0.1:5000/team/app:latest"),
    ("registry.example.com/a/b/c:t", "registry.example.com/a/b/c:t", "registry.example.com/a/b/c:t"),
    (f"app@sha256:{HEX}", f"docker.io/library/app@sha256:{HEX}", f"app@sha256:{HEX}"),
    (f"app:1@sha256:{HEX}", f"docker.io/library/app:1@sha256:{HEX}", f"app:1@sha256:{HEX}"),
    ("my_app.v2-beta", "docker.io/library/my_app.v2-beta:latest", "my_app.v2-beta:latest"),
])
def test_a_reference_is_completed_as_docker_completes_it(text: str, full: str, familiar: str) -> None:
    ref = reference.parse(text).with_default_tag()
    assert (str(ref), ref.familiar()) == (full, familiar)
    assert reference.normalize(text) == familiar


@pytest.mark.parametrize("text, message", [
    ("", "invalid reference format"),
    ("busybox:", "invalid reference format"),
    (":tag", "invalid reference format"),
    ("bad name", "invalid reference format"),
    ("app:-tag", "invalid reference format"),
    ("app@sha256:short", "invalid reference format"),
    ("a//b", "invalid reference format"),
    ("Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase"),
    ("localhost:5000/App:v1", "invalid reference format: repository name (App) must be lowercase"),
    (HEX, f"invalid repository name ({HEX}), cannot specify 64-byte hexadecimal strings"),
    ("a" * 256, "invalid reference format: repository name must not be more than 255 characters"),
])
def test_a_bad_reference_is_refused_in_dockers_words(text: str, message: str) -> None:
    with pytest.raises(reference.ReferenceError) as e:
        reference.parse(text)
    assert str(e.value) == message


def test_a_registry_host_may_have_upper_case_but_not_the_repository() -> None:
    assert reference.parse("Registry.Example.com/app").domain == "Registry.Example.com"


def test_split_tag_looks_for_the_tag_after_the_last_slash_only() -> None:
    assert reference.split_tag("localhost:5000/app") == ("localhost:5000/app", "")
    assert reference.split_tag("localhost:5000/app:1.0") == ("localhost:5000/app", "1.0")
    assert reference.split_tag("busybox") == ("busybox", "")
