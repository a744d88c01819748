"""The Dockerfile grammar and .dockerignore, on their own: the tricky parts."""

from __future__ import annotations

import pytest

from berth.daemon.build import dockerfile, words
from berth.daemon.build.ignore import Matcher, read_patterns


def test_continuations_comments_and_escape_directive():
    df = dockerfile.parse("# escape=`\nFROM busybox\nRUN echo a `\n# a comment inside\n    b\nCOPY C:\\x /y\n")
    assert df.escape == "`"
    run = df.instructions[1]
    assert run.cmd == "RUN" and run.rest == "echo a     b" and run.line == 3
    assert df.instructions[2].rest == "C:\\x /y"


def test_exec_form_flags_and_case():
    df = dockerfile.parse("from --platform=linux/amd64 busybox AS b\ncmd [\"a\", \"b c\"]\nCMD [bad json\n"
                          "copy --from=b --chown=1:2 /x /y\n")
    f, cmd, bad, cp = df.instructions
    assert f.cmd == "FROM" and f.flags == {"platform": "linux/amd64"} and f.rest == "busybox AS b"
    assert cmd.json == ["a", "b c"]
    assert bad.json is None and bad.rest == "[bad json"  # docker: the shell form
    assert cp.flags == {"from": "b", "chown": "1:2"} and cp.rest == "/x /y"


def test_heredocs():
    df = dockerfile.parse("FROM x\nRUN <<EOF\necho one\necho two\nEOF\nCOPY <<-'END' /f\n\tliteral $X\n\tEND\n")
    run, cp = df.instructions[1:]
    assert run.heredocs[0].content == "echo one\necho two\n" and run.heredocs[0].expand
    assert cp.heredocs[0].content == "literal $X\n" and not cp.heredocs[0].expand and cp.heredocs[0].chomp


def test_errors_name_the_line():
    with pytest.raises(dockerfile.ParseError, match="dockerfile parse error line 3: unknown instruction: FOO"):
        dockerfile.parse("FROM x\n\nFOO bar\n")
    with pytest.raises(dockerfile.ParseError, match="file with no instructions"):
        dockerfile.parse("# only a comment\n")
    with pytest.raises(dockerfile.ParseError, match="invalid escape token"):
        dockerfile.parse("# escape=x\nFROM y\n")


def test_substitution():
    env = {"A": "1", "E": ""}
    assert words.expand("${A:-d} ${B:-d} ${E:-d} ${E-d}", env) == "1 d d "
    assert words.expand("${A:+alt} ${B:+alt} ${E+set}", env) == "alt  set"
    assert words.expand("'$A' \"$A\" \\$A ${A}x", env) == "$A 1 $A 1x"
    assert words.expand("${B:-${A}}", env) == "1"
    with pytest.raises(words.SubstitutionError):
        words.expand("${B:?must be set}", env)
    assert words.pairs('A=1 B="two words" C=$A', env) == [("A", "1"), ("B", "two words"), ("C", "1")]
    assert words.pairs("KEY value with spaces", env) == [("KEY", "value with spaces")]


@pytest.mark.parametrize(("path", "excluded"), [
    ("a.log", True), ("keep.log", False), ("x/a.log", False), ("x/y/tmp", True), ("tmp/f", True),
    ("build/out/z", True), ("src/main.go", False), ("docs/a.md", True), ("docs/README.md", False),
])
def test_dockerignore(path, excluded):
    m = Matcher(read_patterns("# comment\n*.log\n!keep.log\n**/tmp\n/build\ndocs/**\n!docs/README.md\n"))
    assert m.excluded(path) is excluded
