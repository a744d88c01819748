"""The build: stages planned from the Dockerfile (only those the target needs), then
each step in turn, reused from the cache when it can be, its output in docker's
classic builder lines. Tags are applied only once every step has worked.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform as _platform
import tarfile
import tempfile
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable


from ..libcontainerd import ContainerdError, Image, RegistryAuth
from . import auth, cache as caching
from . import copying, dockerfile, fetch, index, output, running, steps, words
from .context import Context
from .dockerfile import Dockerfile, Instruction
from .steps import Stage, StepError

Say = Callable[[str], Awaitable[None]]
_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


@dataclass
class Options:
    tags: list[str] = field(default_factory=list)
    buildargs: dict[str, str | None] = field(default_factory=dict)
    target: str = ""
    nocache: bool = False
    pull: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    platform: str = ""
    network: str = ""
    forcerm: bool = False
    auths: dict[str, RegistryAuth] = field(default_factory=dict)  # X-Registry-Config: host -> credentials


def host_platform() -> str:
    return "linux/" + _ARCH.get(_platform.machine(), _platform.machine())


def plan(df: Dockerfile, target: str) -> tuple[dict[str, str], list[Stage], list[int]]:
    """(ARGs before the first FROM, every stage, the indexes of those to build, in order)."""
    meta: dict[str, str] = {}
    stages: list[Stage] = []
    for ins in df.instructions:
        if ins.cmd == "FROM":
            parts = ins.rest.split()
            name = parts[2].lower() if len(parts) == 3 and parts[1].upper() == "AS" else ""
            if not parts or len(parts) not in (1, 3) or (len(parts) == 3 and not name):
                raise StepError(f"FROM requires either one or three arguments (line {ins.line})")
            stages.append(Stage(len(stages), name, parts[0], [ins]))
        elif not stages:
            if ins.cmd != "ARG":
                raise StepError(f"no build stage in current context (line {ins.line}: {ins.cmd} before FROM)")
            for k, v in words.pairs(ins.rest, meta, df.escape, "ARG"):
                meta[k] = "" if v == "\0" else v
        else:
            stages[-1].instructions.append(ins)
    if not stages:
        raise StepError("No image was generated. Is your Dockerfile empty?")
    goal = len(stages) - 1
    if target:
        hits = [s.index for s in stages if s.name == target.lower()]
        if not hits:
            raise StepError(f"failed to reach build target {target} in Dockerfile")
        goal = hits[0]
    need: set[int] = set()

    def visit(i: int) -> None:
        if i in need:
            return
        need.add(i)
        for ins in stages[i].instructions:
            ref = ins.flags.get("from", "") if ins.cmd in ("COPY", "ADD") else ins.rest.split()[0] if (
                ins.cmd == "FROM") else ""
            dep = _stage_ref(stages[:i], words.expand(ref, meta, df.escape)) if ref else None
            if dep is not None:
                visit(dep)

    visit(goal)
    return meta, stages, sorted(need)


def _stage_ref(before: list[Stage], ref: str) -> int | None:
    for s in before:
        if s.name and s.name == ref.lower():
            return s.index
    if ref.isdigit() and int(ref) < len(before):
        return int(ref)
    return None


class Builder:
    def __init__(self, engine: Any, cache: caching.BuildCache, opts: Options, ctx: Context, df: Dockerfile,
                 say: Say) -> None:
        self.engine, self.ctrd, self.cache, self.opts = engine, engine.ctrd, cache, opts
        self.ctx, self.df, self.say = ctx, df, say
        self.scratch = tempfile.mkdtemp(prefix="steps-", dir=ctx.work)
        self.step, self.total = 0, 0
        self.used_args: set[str] = set()

    async def build(self) -> str:
        meta, stages, need = plan(self.df, self.opts.target)
        self.meta = {**meta, **{k: v for k, v in self.opts.buildargs.items() if k in meta and v is not None}}
        self.used_args |= set(meta) & set(self.opts.buildargs)
        self.stages = stages
        self.total = sum(len(stages[i].instructions) for i in need) + len(self.opts.labels)
        for i in need:
            await self._stage(stages[i], last=i == need[-1])
        final = stages[need[-1]]
        if not final.image:
            raise StepError("No image was generated. Is your Dockerfile empty?")
        unused = sorted(set(self.opts.buildargs) - self.used_args)
        if unused:
            await self.say(f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed\n")
        return final.image

    async def _stage(self, stage: Stage, last: bool) -> None:
        for n, ins in enumerate(stage.instructions):
            self.step += 1
            await output.step(self.say, self.step, self.total, ins.original)
            if n == 0:
                await self._from(stage, ins)
            else:
                await self._one(stage, ins)
            await self.say(f" ---> {_short(stage.image)}\n")  # once a step, after its triggers too, as dockerd
        for ins in output.label_steps(self.opts.labels, self.df.escape) if last else []:
            self.step += 1
            await output.step(self.say, self.step, self.total, ins.original)
            await self._one(stage, ins)
            await self.say(f" ---> {_short(stage.image)}\n")

    # ------------------------------------------------------------------ FROM
    async def _from(self, stage: Stage, ins: Instruction) -> None:
        base = words.expand(stage.base, self.meta, self.df.escape)
        wanted = words.expand(ins.flags.get("platform", ""), self.meta, self.df.escape) or self.opts.platform
        if wanted and wanted.split("/")[:2] != host_platform().split("/"):
            raise StepError(f"FROM --platform={wanted}: berth builds only for this machine's platform "
                            f"({host_platform()})")
        dep = _stage_ref(self.stages[:stage.index], base)
        if base.lower() == "scratch":
            stage.image, stage.config = "", {}
            return
        img = self.stages[dep] if dep is not None else None
        if img is not None:
            stage.image, stage.config = img.image, json.loads(json.dumps(img.config))
        else:
            image = await self._base(base)
            stage.image, stage.config = image.id, dict(image.config.get("config") or {})
        triggers = stage.config.pop("OnBuild", None) or []
        if triggers:
            await self.say(f"# Executing {len(triggers)} build trigger{'s' if len(triggers) > 1 else ''}\n")
            for text in triggers:
                for trig in dockerfile.parse(text).instructions:
                    await self._one(stage, trig)

    async def _base(self, ref: str) -> Image:
        from ..images.service import resolve

        if not self.opts.pull:
            try:
                return await resolve(self.ctrd, ref)
            except Exception as e:  # noqa: BLE001 - a miss: pull it
                if getattr(e, "status", 0) != 404:
                    raise
        insecure = list(self.engine.config.insecure_registries)
        last = None
        try:
            async for p in self.ctrd.pull(ref, self.opts.platform, auth.for_reference(self.opts.auths, ref), insecure):
                if p.image is not None:
                    last = p.image
                elif not p.layer:
                    await self.say(p.status + "\n")
        except ContainerdError as e:
            raise StepError(e.message) from None
        assert last is not None
        return last

    # ----------------------------------------------------------------- steps
    async def _one(self, stage: Stage, ins: Instruction) -> None:
        if ins.cmd == "FROM":
            raise StepError("FROM isn't allowed as an ONBUILD trigger")
        if ins.cmd == "ARG":
            self._arg(stage, ins)
        args_key = json.dumps(sorted(stage.args.items()))
        if ins.cmd in ("COPY", "ADD"):
            await self._copy(stage, ins, args_key)
            return
        if ins.cmd == "RUN":
            argv = steps.command_form(ins, stage)
            if ins.heredocs:
                argv = [*stage.shell, "\n".join([ins.rest, *(h.content for h in ins.heredocs)])]
            if not stage.image:
                raise StepError("RUN: the stage has no filesystem (FROM scratch): nothing to run")
            key = caching.key(stage.image, ins.original, args_key)
            if await self._cached(stage, key):
                return
            img = await running.run(self.engine, stage, argv, " ".join(argv), self.say, self.opts.network,
                                    self.opts.forcerm)
        else:
            if ins.cmd != "ARG":
                steps.apply(ins, stage, self.df.escape)
            key = caching.key(stage.image, ins.original, args_key + json.dumps(stage.config, sort_keys=True))
            if await self._cached(stage, key):
                return
            async with output.config_step(self.say):
                if ins.cmd == "WORKDIR":  # made in the image, as docker does (root's, 0755) unless it is there
                    img = await self.ctrd.apply_layer(stage.image, stage.config, steps.history_text(ins, stage), "",
                                                      _one_dir(stage.config["WorkingDir"]))
                else:
                    img = await self.ctrd.commit("", stage.image, stage.config, steps.history_text(ins, stage),
                                                 author=stage.author)
        self._made(stage, key, img)

    def _arg(self, stage: Stage, ins: Instruction) -> None:
        for k, v in words.pairs(ins.rest, stage.env(), self.df.escape, "ARG"):
            default = None if v == "\0" else v
            if k in self.opts.buildargs and self.opts.buildargs[k] is not None:
                value = self.opts.buildargs[k]
                self.used_args.add(k)
            else:
                value = self.meta.get(k, default) if default is None else default
            stage.args[k] = value if value is not None else ""

    async def _cached(self, stage: Stage, key: str) -> bool:
        if self.opts.nocache:
            return False
        hit = self.cache.get(key)
        if not hit:
            return False
        try:
            img = await self.ctrd.get_image(hit)
        except ContainerdError:
            return False
        stage.image = img.id
        await self.say(" ---> Using cache\n")
        return True

    def _made(self, stage: Stage, key: str, img: Image) -> None:
        stage.image = img.id
        self.cache.put(key, img.id)

    async def _copy(self, stage: Stage, ins: Instruction, args_key: str) -> None:
        add = ins.cmd == "ADD"
        unknown = set(ins.flags) - ({"chown", "chmod", "from"} if not add else {"chown", "chmod"})  # --link: BuildKit's
        if unknown:
            raise StepError(f"Unknown flag: {sorted(unknown)[0]}")
        work = tempfile.mkdtemp(dir=self.scratch)
        argv, local = copying.arguments(ins, stage, self.df.escape, work)
        srcs, dest = argv[:-1], copying.destination(argv[-1], stage)
        chown = words.expand(ins.flags.get("chown", ""), stage.env(), self.df.escape)
        # COPY of plain context paths: the key from the upload's index, no file read
        fast = index.content_key(self.ctx.index, srcs) if not (add or local or ins.flags.get("from")) else None
        key = caching.key(stage.image, ins.original, f"{args_key}\ncontext:{fast}\n{chown}") if fast else ""
        if key and await self._cached(stage, key):
            return
        if ins.flags.get("from"):
            root = await self._export(ins.flags["from"], srcs, work)
            srcs = [s.lstrip("/") or "." for s in srcs]
        else:
            root = await asyncio.to_thread(self.ctx.unpack)
        if add:
            fetched = [await fetch.download(s, work) if fetch.is_url(s) else s for s in srcs]
            local |= {f for f, s in zip(fetched, srcs, strict=False) if f != s}
            srcs = fetched
        sources = await asyncio.to_thread(copying.resolve, ins.cmd, srcs, dest, root, add, frozenset(local))
        chmod = ins.flags.get("chmod", "")
        if not key:
            _, digest = await asyncio.to_thread(copying.layer_tar, sources, chmod, work, False)
            key = caching.key(stage.image, ins.original, f"{args_key}\n{digest}\n{chown}")
            if await self._cached(stage, key):
                return
        tar_path, digest = await asyncio.to_thread(copying.layer_tar, sources, chmod, work)
        created_by = f"/bin/sh -c #(nop) {ins.cmd} {'dir' if sources.dest_dir else 'file'}:{digest} in {dest} "
        img = await self.ctrd.apply_layer(stage.image, stage.config, created_by, chown, _chunks(tar_path))
        self._made(stage, key, img)

    async def _export(self, ref: str, srcs: list[str], work: str) -> str:
        dep = _stage_ref(self.stages, words.expand(ref, self.meta, self.df.escape))
        image = self.stages[dep].image if dep is not None else (await self._base(ref)).id
        if any(c in s for s in srcs for c in "*?["):
            raise StepError("COPY --from: wildcards in the sources are not supported by berth")
        paths = ["/" + s.lstrip("/") for s in srcs]
        try:
            data = await self.ctrd.export(image, paths)
        except ContainerdError as e:
            if e.not_found:
                raise StepError(f"COPY failed: stat {e.detail.split(':')[0]}: file does not exist") from None
            raise
        out = os.path.join(work, "from")
        os.mkdir(out)
        tar_file = os.path.join(work, "from.tar")
        with open(tar_file, "wb") as f:
            f.write(data)
        with tarfile.open(tar_file) as t:
            t.extractall(out, filter=lambda m, p: tarfile.tar_filter(m, p).replace(mode=m.mode, deep=False))
        return out


async def _chunks(path: str) -> AsyncIterator[bytes]:
    with open(path, "rb") as f:
        while piece := f.read(1 << 20):
            yield piece


async def _one_dir(path: str) -> AsyncIterator[bytes]:
    import io

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(path.strip("/") + "/")
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
    yield buf.getvalue()


_short = output.short
