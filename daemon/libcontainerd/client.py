"""berthd's only line to berth-containerd: the gRPC API of proto/containerd.proto,
as async methods that take and return plain values (the services above never see
a stub, a request message or a gRPC status)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator, Awaitable, Callable, TypeVar

import grpc
import grpc.aio

from berth.proto import containerd_pb2 as pb
from berth.proto import containerd_pb2_grpc as pbg

from .registry import RegistryClient
from .types import (Container, ContainerdError, DeleteResult, Event, Image, Metrics, PullProgress, PushProgress,
                    RegistryAuth, Task)

# A call waits this long for a (re)starting berth-containerd before it fails.
CALL_TIMEOUT = 60.0
_CHUNK = 1 << 20
T = TypeVar("T")
R = TypeVar("R")

_STATUS_NAMES = {pb.CREATED: "created", pb.RUNNING: "running", pb.STOPPED: "stopped", pb.PAUSED: "paused"}
# containerd's codes as the HTTP statuses docker answers with
_HTTP = {
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,  # a registry refused the credentials (POST /auth)
}
_NO_ANSWER = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED)


UNREACHABLE = "berth-containerd is not reachable (connection lost or restarting); try again"
# What grpc's transport says when the connection drops mid-call; berth-containerd itself
# never answers UNKNOWN (its handlers map every failure to a code, INTERNAL at worst).
_TRANSPORT_WORDS = ("stream removed", "socket closed", "rst_stream", "connection reset", "broken pipe", "goaway")


def _transport_failure(e: grpc.aio.AioRpcError) -> bool:
    code = e.code()
    if code in _NO_ANSWER or code == grpc.StatusCode.UNKNOWN:
        return True
    details = (e.details() or "").lower()
    return code == grpc.StatusCode.INTERNAL and any(w in details for w in _TRANSPORT_WORDS)


def _error(e: BaseException, what: str) -> ContainerdError:
    if not isinstance(e, grpc.aio.AioRpcError):
        return ContainerdError(500, f"{what}: {e}", "internal")
    if _transport_failure(e):
        return ContainerdError(503, f"{what}: {UNREACHABLE}", "unavailable", UNREACHABLE)
    code = e.code()
    detail = e.details() or code.name.lower()
    return ContainerdError(_HTTP.get(code, 500), detail, code.name.lower())


def _image(m: pb.Image) -> Image:
    try:
        config = json.loads(m.config or b"{}")
    except ValueError:
        config = {}
    return Image(id=m.id, names=list(m.names), config=config if isinstance(config, dict) else {},
                 size=m.size, layers=list(m.layers), created=m.created, manifest_digest=m.manifest_digest,
                 layer_sizes=list(m.layer_sizes), parent=m.parent)


def _task(m: pb.Task) -> Task:
    return Task(id=m.id, pid=m.pid, status=_STATUS_NAMES.get(m.status, "unknown"), exit_status=m.exit_status,
                started_at=m.started_at, exited_at=m.exited_at, oom_killed=m.oom_killed)


def _commit(container_id: str, parent: str, config: dict[str, Any] | None, created_by: str, comment: str = "",
            author: str = "", name: str = "", consume: bool = False) -> pb.CommitRequest:
    return pb.CommitRequest(container_id=container_id, parent=parent,
                            config=json.dumps(config).encode() if config is not None else b"",
                            created_by=created_by, comment=comment, author=author, name=name, consume=consume)


class Containerd(RegistryClient):  # login, resolve, list_tags: registry.py
    """The four services on one channel. Calls wait for the server to be ready, so a
    berth-containerd that is being restarted delays requests instead of failing them."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._channel = grpc.aio.insecure_channel(
            f"unix://{address}",
            options=[("grpc.max_receive_message_length", 64 << 20),
                     ("grpc.max_send_message_length", 64 << 20),
                     # A restarted berth-containerd is back within a second; grpc's default
                     # backoff (1 s, growing to 120 s) would keep calls waiting long after.
                     ("grpc.initial_reconnect_backoff_ms", 100),
                     ("grpc.min_reconnect_backoff_ms", 100),
                     ("grpc.max_reconnect_backoff_ms", 1000)])
        self._images = pbg.ImagesStub(self._channel)
        self._containers = pbg.ContainersStub(self._channel)
        self._tasks = pbg.TasksStub(self._channel)
        self._events = pbg.EventsStub(self._channel)

    async def ready(self, timeout: float) -> None:
        await asyncio.wait_for(self._channel.channel_ready(), timeout)

    async def close(self) -> None:
        await self._channel.close()

    async def _call(self, what: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except grpc.aio.AioRpcError as e:
            raise _error(e, what) from None

    # ------------------------------------------------------------------ images
    async def get_image(self, ref: str, layer_sizes: bool = False) -> Image:
        return _image(await self._call(f"image {ref}", self._images.Get(
            pb.GetImageRequest(ref=ref, layer_sizes=layer_sizes), wait_for_ready=True, timeout=CALL_TIMEOUT)))

    async def list_images(self) -> list[Image]:
        resp = await self._call("list images", self._images.List(
            pb.ListImagesRequest(), wait_for_ready=True, timeout=CALL_TIMEOUT))
        return [_image(i) for i in resp.images]

    async def import_image(self, name: str, config: dict[str, Any], data: AsyncIterator[bytes]) -> Image:
        """docker-import: a tar (plain or gzip) streamed as one layer, named `name` ("" = untagged)."""

        async def requests() -> AsyncIterator[pb.ImportRequest]:
            yield pb.ImportRequest(name=name, config=json.dumps(config).encode())
            buf = b""
            async for piece in data:
                buf += piece
                if len(buf) >= _CHUNK:
                    yield pb.ImportRequest(chunk=buf)
                    buf = b""
            if buf:
                yield pb.ImportRequest(chunk=buf)

        return _image(await self._call("import image", self._images.Import(
            requests(), wait_for_ready=True, timeout=None)))

    async def pull(self, ref: str, platform: str, auth: RegistryAuth, insecure: list[str],
                   mirrors: list[str] | None = None) -> AsyncIterator[PullProgress]:
        """docker pull, as berth-containerd streams it; an error before the first status
        is raised by the first step of the iteration (the caller can still answer 4xx)."""
        call = self._images.Pull(pb.PullRequest(
            ref=ref, platform=platform, insecure_registries=insecure, mirrors=mirrors or [],
            auth=pb.RegistryAuth(username=auth.username, password=auth.password,
                                 identity_token=auth.identity_token, registry_token=auth.registry_token)),
            wait_for_ready=True)
        try:
            async for m in call:
                if m.HasField("image"):
                    yield PullProgress(image=_image(m.image), digest=m.digest, updated=m.updated)
                else:
                    yield PullProgress(id=m.id, status=m.status, current=m.current, total=m.total, layer=m.layer)
        except grpc.aio.AioRpcError as e:
            raise _error(e, f"pull {ref}") from None
        finally:
            call.cancel()

    async def push(self, ref: str, auth: RegistryAuth, insecure: list[str]) -> AsyncIterator[PushProgress]:
        """docker push, as berth-containerd streams it; its error ends the iteration."""
        call = self._images.Push(pb.PushRequest(
            ref=ref, insecure_registries=insecure,
            auth=pb.RegistryAuth(username=auth.username, password=auth.password,
                                 identity_token=auth.identity_token, registry_token=auth.registry_token)),
            wait_for_ready=True)
        try:
            async for m in call:
                yield PushProgress(id=m.id, status=m.status, current=m.current, total=m.total, layer=m.layer,
                                   tag=m.tag, digest=m.digest, size=m.size)
        except grpc.aio.AioRpcError as e:
            raise _error(e, f"push {ref}") from None
        finally:
            call.cancel()

    async def save(self, refs: list[str]) -> AsyncIterator[bytes]:
        """docker save's tar, in pieces. The first piece is awaited before this returns,
        so an unknown image is an error of the call, not a cut-off archive."""
        call = self._images.Save(pb.SaveRequest(refs=refs), wait_for_ready=True)
        it = call.__aiter__()
        try:
            first = await it.__anext__()
        except StopAsyncIteration:
            first = None
        except grpc.aio.AioRpcError as e:
            call.cancel()
            raise _error(e, "save") from None

        async def rest() -> AsyncIterator[bytes]:
            try:
                if first is not None:
                    yield first.data
                    async for m in it:
                        yield m.data
            finally:
                call.cancel()

        return rest()

    async def load(self, data: AsyncIterator[bytes]) -> tuple[list[str], list[str]]:
        """docker load: (docker's lines, the image ids)."""

        async def requests() -> AsyncIterator[pb.LoadRequest]:
            buf = b""
            async for piece in data:
                buf += piece
                if len(buf) >= _CHUNK:
                    yield pb.LoadRequest(chunk=buf)
                    buf = b""
            if buf:
                yield pb.LoadRequest(chunk=buf)

        r = await self._call("load", self._images.Load(requests(), wait_for_ready=True, timeout=None))
        return list(r.messages), list(r.ids)

    async def tag_image(self, ref: str, name: str) -> Image:
        return _image(await self._call(f"tag {ref}", self._images.Tag(
            pb.TagImageRequest(ref=ref, name=name), wait_for_ready=True, timeout=CALL_TIMEOUT)))

    async def delete_image(self, ref: str, force: bool, noprune: bool = False) -> DeleteResult:
        r = await self._call(f"delete image {ref}", self._images.Delete(
            pb.DeleteImageRequest(ref=ref, force=force, noprune=noprune), wait_for_ready=True, timeout=CALL_TIMEOUT))
        return DeleteResult(list(r.untagged), list(r.deleted), list(r.deleted_layers), r.reclaimed)

    async def collect_garbage(self) -> tuple[list[str], int]:
        """Blobs and snapshots nothing references, removed; (what, bytes freed)."""
        r = await self._call("garbage collection", self._images.GarbageCollect(
            pb.GarbageCollectRequest(), wait_for_ready=True, timeout=None))
        return list(r.removed), r.reclaimed

    async def commit(self, container_id: str, parent: str, config: dict[str, Any] | None, created_by: str,
                     comment: str = "", author: str = "", name: str = "", consume: bool = False) -> Image:
        """A new image over `parent`: the container's changes as its layer, or none."""
        return _image(await self._call("commit", self._images.Commit(_commit(
            container_id, parent, config, created_by, comment, author, name, consume),
            wait_for_ready=True, timeout=None)))

    async def apply_layer(self, parent: str, config: dict[str, Any] | None, created_by: str, chown: str,
                          data: AsyncIterator[bytes]) -> Image:
        """A new image over `parent` ("" = scratch) with the tar's files as its layer."""

        async def requests() -> AsyncIterator[pb.ApplyLayerRequest]:
            yield pb.ApplyLayerRequest(commit=_commit("", parent, config, created_by), chown=chown)
            async for piece in data:
                yield pb.ApplyLayerRequest(chunk=piece)

        return _image(await self._call("apply layer", self._images.ApplyLayer(
            requests(), wait_for_ready=True, timeout=None)))

    async def export(self, ref: str, paths: list[str]) -> bytes:
        """The paths of image `ref` as one tar (COPY --from)."""
        call = self._images.Export(pb.ExportRequest(ref=ref, paths=paths), wait_for_ready=True)
        try:
            return b"".join([m.data async for m in call])
        except grpc.aio.AioRpcError as e:
            raise _error(e, "export") from None

    # -------------------------------------------------------------- containers
    async def create_container(self, cid: str, image: str, spec: dict[str, Any], runtime: str,
                               labels: dict[str, str], user: str) -> None:
        await self._call(f"create container {cid}", self._containers.Create(pb.CreateContainerRequest(
            container=pb.Container(id=cid, image=image, spec=json.dumps(spec).encode(), runtime=runtime,
                                   labels=labels, user=user)), wait_for_ready=True, timeout=CALL_TIMEOUT))

    async def list_containers(self) -> list[Container]:
        resp = await self._call("list containers", self._containers.List(
            pb.ListContainersRequest(), wait_for_ready=True, timeout=CALL_TIMEOUT))
        return [Container(id=c.id, image=c.image, labels=dict(c.labels), created=c.created)
                for c in resp.containers]

    async def delete_container(self, cid: str) -> None:
        await self._call(f"delete container {cid}", self._containers.Delete(
            pb.DeleteContainerRequest(id=cid), wait_for_ready=True, timeout=CALL_TIMEOUT))

    # ------------------------------------------------------------------- tasks
    async def create_task(self, cid: str, log_path: str, terminal: bool, stdin_path: str,
                          stdin_once: bool) -> Task:
        return _task(await self._call(f"create task {cid}", self._tasks.Create(pb.CreateTaskRequest(
            id=cid, log_path=log_path, terminal=terminal, stdin=bool(stdin_path), stdin_path=stdin_path,
            stdin_once=stdin_once), wait_for_ready=True, timeout=CALL_TIMEOUT)))

    async def start_task(self, cid: str) -> Task:
        return _task(await self._call(f"start task {cid}", self._tasks.Start(
            pb.TaskRequest(id=cid), wait_for_ready=True, timeout=CALL_TIMEOUT)))

    async def get_task(self, cid: str) -> Task:
        return _task(await self._call(f"task {cid}", self._tasks.Get(
            pb.TaskRequest(id=cid), wait_for_ready=True, timeout=CALL_TIMEOUT)))

    async def list_tasks(self) -> list[Task]:
        resp = await self._call("list tasks", self._tasks.List(
            pb.ListTasksRequest(), wait_for_ready=True, timeout=CALL_TIMEOUT))
        return [_task(t) for t in resp.tasks]

    async def kill_task(self, cid: str, signal: int, all: bool = False) -> None:
        await self._call(f"kill task {cid}", self._tasks.Kill(
            pb.KillRequest(id=cid, signal=signal, all=all), wait_for_ready=True, timeout=CALL_TIMEOUT))

    async def delete_task(self, cid: str, force: bool = False, timeout: float = CALL_TIMEOUT) -> Task:
        return _task(await self._call(f"delete task {cid}", self._tasks.Delete(
            pb.DeleteTaskRequest(id=cid, force=force), wait_for_ready=True, timeout=timeout)))

    async def task_pids(self, cid: str) -> list[int]:
        resp = await self._call(f"pids of task {cid}", self._tasks.ListPids(
            pb.TaskRequest(id=cid), wait_for_ready=True, timeout=CALL_TIMEOUT))
        return list(resp.pids)

    async def resize_pty(self, cid: str, width: int, height: int, exec_id: str = "") -> None:
        await self._call(f"resize task {cid}", self._tasks.ResizePty(
            pb.ResizePtyRequest(id=cid, width=width, height=height, exec_id=exec_id),
            wait_for_ready=True, timeout=CALL_TIMEOUT))

    # ------------------------------------------------------- exec, pause, resume
    def _soon(self, what: str, call: Awaitable[R], answer: Callable[[R], T]) -> asyncio.Future[T]:
        """A call made now, not when first awaited (grpc.aio sends it on the loop's next
        turn, in the order made), its answer as a future; cancelling that cancels the call."""

        async def answered() -> T:
            return answer(await self._call(what, call))

        return asyncio.ensure_future(answered())

    def exec(self, cid: str, exec_id: str, process: dict[str, Any], log_path: str,
             stdin_path: str, user: str) -> asyncio.Future[int]:
        """Another process in the task (held by its shim); its host pid. Made now, so that
        a wait_process made right after goes out behind it."""
        return self._soon(f"exec in task {cid}", self._tasks.Exec(pb.ExecRequest(
            id=cid, exec_id=exec_id, process=json.dumps(process).encode(), log_path=log_path,
            stdin_path=stdin_path, user=user), wait_for_ready=True, timeout=CALL_TIMEOUT), lambda r: r.pid)

    def wait_process(self, cid: str, exec_id: str) -> asyncio.Future[Task]:
        """Until the exec'd process has exited (no deadline: it may run for days). Made now:
        made right after its exec's, berth-containerd holds it until that Exec has answered
        (then it fails as the Exec did), so it reaches the shim ~1.4 ms sooner than after
        the Exec's answer; one that overtook its Exec is not_found (ask again)."""
        return self._soon(f"wait for exec {exec_id}", self._tasks.Wait(
            pb.TaskRequest(id=cid, exec_id=exec_id), wait_for_ready=True), _task)

    async def kill_process(self, cid: str, exec_id: str, signal: int) -> None:
        await self._call(f"kill exec {exec_id}", self._tasks.Kill(
            pb.KillRequest(id=cid, signal=signal, exec_id=exec_id), wait_for_ready=True, timeout=CALL_TIMEOUT))

    async def delete_process(self, cid: str, exec_id: str) -> None:
        await self._call(f"delete exec {exec_id}", self._tasks.DeleteProcess(
            pb.TaskRequest(id=cid, exec_id=exec_id), wait_for_ready=True, timeout=CALL_TIMEOUT))

    async def pause_task(self, cid: str) -> Task:
        return _task(await self._call(f"pause task {cid}", self._tasks.Pause(
            pb.TaskRequest(id=cid), wait_for_ready=True, timeout=CALL_TIMEOUT)))

    async def resume_task(self, cid: str) -> Task:
        return _task(await self._call(f"resume task {cid}", self._tasks.Resume(
            pb.TaskRequest(id=cid), wait_for_ready=True, timeout=CALL_TIMEOUT)))

    async def task_metrics(self, cid: str) -> Metrics:
        resp = await self._call(f"metrics of task {cid}", self._tasks.Metrics(
            pb.TaskRequest(id=cid), wait_for_ready=True, timeout=CALL_TIMEOUT))
        try:
            stats = json.loads(resp.stats or b"{}")
        except ValueError:
            stats = {}
        return Metrics(stats=stats if isinstance(stats, dict) else {}, timestamp=resp.timestamp)

    async def update_task(self, cid: str, resources: dict[str, Any]) -> None:
        await self._call(f"update task {cid}", self._tasks.Update(
            pb.UpdateTaskRequest(id=cid, resources=json.dumps(resources).encode()),
            wait_for_ready=True, timeout=CALL_TIMEOUT))

    # ------------------------------------------------------------------ events
    async def events(self, connected: Callable[[], Awaitable[None]]) -> AsyncIterator[Event]:
        """Every event from now on; `connected` runs once the subscription is in place,
        so that nothing after it is missed (the caller reconciles there)."""
        call = self._events.Subscribe(pb.SubscribeRequest(), wait_for_ready=True)
        try:
            await call.wait_for_connection()
            await connected()
            async for ev in call:
                yield Event(topic=ev.topic, id=ev.id, pid=ev.pid, exit_status=ev.exit_status,
                            timestamp=ev.timestamp)
        except grpc.aio.AioRpcError as e:
            raise _error(e, "event stream") from None
        finally:
            call.cancel()
