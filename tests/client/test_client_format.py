"""The docker CLI's text, reproduced: every expected string below was printed by docker 28."""

import pytest

from berth.client import format as fmt
from berth.common.timefmt import ZERO_TIME

# GET /images/json from Docker 20.10 for an imported busybox, and `docker images` 302 s later.
BUSYBOX_IMAGE = {"Containers": -1, "Created": 1795806966,
                 "Id": "sha256:1d5ad365ed4d27dedeceb8470d683a51c9a515edafe359765ff923e0dd38b526",
                 "Labels": None, "ParentId": "", "RepoDigests": None, "RepoTags": ["busybox:latest"],
                 "SharedSize": -1, "Size": 1984230, "VirtualSize": 1984230}
DOCKER_IMAGES = (
    "REPOSITORY   TAG       IMAGE ID       CREATED         SIZE\n"
    "busybox      latest    1d5ad365ed4d   5 minutes ago   1.98MB\n"
)

# A GET /containers/json entry, and `docker ps` printed just after `docker run -d`.
SLEEPER = {"Id": "ef280f33058a3064677f67bf4a90169f6ac0989c080779e39be52ddb96d203fb", "Names": ["/sleeper"],
           "Image": "busybox", "ImageID": "sha256:1d5ad365ed4d27dedeceb8470d683a51c9a515edafe359765ff923e0dd38b526",
           "Command": "sleep 1000", "Created": 1795806973, "Ports": [], "State": "running",
           "Status": "Up Less than a second"}
DOCKER_PS = (
    "CONTAINER ID   IMAGE     COMMAND        CREATED                  STATUS                  PORTS     NAMES\n"
    "ef280f33058a   busybox   \"sleep 1000\"   Less than a second ago   Up Less than a second             sleeper\n"
)


def test_durations_read_like_dockers():
    assert fmt.human_duration(0.4) == "Less than a second"
    assert fmt.human_duration(1.9) == "1 second"
    assert fmt.human_duration(33) == "33 seconds"
    assert fmt.human_duration(60) == "About a minute"
    assert fmt.human_duration(119) == "About a minute"
    assert fmt.human_duration(120) == "2 minutes"
    assert fmt.human_duration(59 * 60 + 59) == "59 minutes"
    assert fmt.human_duration(3600) == "About an hour"
    assert fmt.human_duration(5399) == "About an hour"
    assert fmt.human_duration(5400) == "2 hours"  # hours round, minutes and seconds truncate
    assert fmt.human_duration(47 * 3600) == "47 hours"
    assert fmt.human_duration(48 * 3600) == "2 days"
    assert fmt.human_duration(14 * 86400) == "2 weeks"
    assert fmt.human_duration(60 * 86400) == "2 months"
    assert fmt.human_duration(2 * 365 * 86400) == "2 years"


def test_sizes_use_three_significant_digits_and_decimal_units():
    assert fmt.human_size(1984230) == "1.98MB"
    assert fmt.human_size(0) == "0B"
    assert fmt.human_size(999) == "999B"
    assert fmt.human_size(1000) == "1kB"
    assert fmt.human_size(77_800_000) == "77.8MB"
    assert fmt.human_size(123_456_789) == "123MB"
    assert fmt.human_size(4_300_000_000) == "4.3GB"


def test_ids_are_cut_to_twelve_hex_digits_without_the_algorithm():
    assert fmt.short_id(BUSYBOX_IMAGE["Id"]) == "1d5ad365ed4d"
    assert fmt.short_id(SLEEPER["Id"]) == "ef280f33058a"


def test_long_commands_end_in_an_ellipsis_at_twenty_characters():
    assert fmt.ellipsis("sh -c 'echo one; echo two >&2; echo three'", 20) == "sh -c 'echo one; ec\u2026"
    assert fmt.ellipsis("sleep 1000", 20) == "sleep 1000"
    assert fmt.go_quote("sh -c exit\\ 3") == '"sh -c exit\\\\ 3"'


def test_images_table_matches_docker_images():
    assert fmt.table(fmt.image_rows([BUSYBOX_IMAGE], now=1795807268)) == DOCKER_IMAGES


def test_untagged_images_show_none():
    rows = fmt.image_rows([dict(BUSYBOX_IMAGE, RepoTags=[])], now=1795807268)
    assert rows[1][:2] == ["<none>", "<none>"]


def test_a_registry_port_is_not_a_tag():
    rows = fmt.image_rows([dict(BUSYBOX_IMAGE, RepoTags=["localhost:5000/busybox:1.36"])], now=1795807268)
    assert rows[1][:2] == ["localhost:5000/busybox", "1.36"]


def test_ps_table_matches_docker_ps():
    assert fmt.table(fmt.ps_rows([SLEEPER], now=1795806973.5)) == DOCKER_PS


def test_ps_no_trunc_keeps_whole_ids_and_commands():
    long = dict(SLEEPER, Command="sh -c 'echo one; echo two >&2; echo three'")
    row = fmt.ps_rows([long], trunc=False, now=1795807000)[1]
    assert row[0] == SLEEPER["Id"]
    assert row[2] == "\"sh -c 'echo one; echo two >&2; echo three'\""


def test_ps_names_drop_the_slash_and_link_aliases():
    assert fmt.names_column(["/web", "/other/db"]) == "web"


def test_image_given_by_id_shows_a_short_id():
    assert fmt.image_column(SLEEPER["ImageID"], SLEEPER["ImageID"], trunc=True) == "1d5ad365ed4d"
    assert fmt.image_column("busybox", SLEEPER["ImageID"], trunc=True) == "busybox"


def test_status_wording_follows_dockers_state_string():
    now = fmt.parse_timestamp("2026-11-27T19:20:00Z")
    running = {"Running": True, "StartedAt": "2026-11-27T19:19:57.5Z", "FinishedAt": ZERO_TIME}
    exited = {"Running": False, "ExitCode": 3, "StartedAt": "2026-11-27T19:17:00Z",
              "FinishedAt": "2026-11-27T19:18:00.123456789Z"}
    created = {"Running": False, "StartedAt": ZERO_TIME, "FinishedAt": ZERO_TIME}
    assert fmt.container_status(running, now) == "Up 2 seconds"
    assert fmt.container_status(exited, now) == "Exited (3) About a minute ago"
    assert fmt.container_status(created, now) == "Created"


def test_timestamps_with_offsets_and_nanoseconds_parse():
    assert fmt.parse_timestamp("2026-11-27T19:16:13.665423Z") == 1795806973.665423
    assert fmt.parse_timestamp("2026-11-27T20:16:13+01:00") == 1795806973
    assert fmt.parse_timestamp(ZERO_TIME) is None


def test_table_pads_every_column_but_the_last_to_at_least_ten():
    assert fmt.table([["A", "B", "C"], ["", "longer-cell", ""]]) == (
        "A         B             C\n"
        "          longer-cell   \n"
    )


def test_inspect_templates_print_like_gos_text_template() -> None:
    from berth.client.template import TemplateError, check, render

    obj = {"Name": "/web", "State": {"Pid": 42, "Running": True}, "Config": {"Env": ["A=1"], "Labels": {}},
           "Mounts": []}
    assert render("{{.State.Pid}}", obj) == "42"
    assert render("{{.Name}} runs={{ .State.Running }}", obj) == "/web runs=true"
    assert render("{{json .Config.Env}}", obj) == '["A=1"]'
    assert render("{{.Config.Labels}} {{.Mounts}} {{.Config.Env}}", obj) == "map[] [] [A=1]"
    with pytest.raises(TemplateError, match=r'^template: :1:2: executing "" at <\.Nope>: map has no entry for key "Nope"$'):
        render("{{.Nope}}", obj)
    with pytest.raises(TemplateError, match=r'^template: :1: function "foo" not defined$'):
        check("{{foo}}")
    check("{{.Anything.Here}}")  # fields are checked against each object, not up front
