"""Shared by every test package: tests/ is on sys.path, so `import rootfs` works."""


_FORKING_FIRST = ("tests/runc/", "tests/shim/", "tests/interactive/")


def pytest_collection_modifyitems(items: list) -> None:  # type: ignore[type-arg]
    """The packages that fork berth.runc's library inside pytest's own process run first:
    later packages leave server threads behind, and a fork is only safe from a process
    with one thread (as the shim is)."""
    items.sort(key=lambda item: not item.nodeid.startswith(_FORKING_FIRST))
