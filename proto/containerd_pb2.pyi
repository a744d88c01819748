from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNKNOWN: _ClassVar[Status]
    CREATED: _ClassVar[Status]
    RUNNING: _ClassVar[Status]
    STOPPED: _ClassVar[Status]
    PAUSED: _ClassVar[Status]
UNKNOWN: Status
CREATED: Status
RUNNING: Status
STOPPED: Status
PAUSED: Status

class Image(_message.Message):
    __slots__ = ("names", "id", "manifest_digest", "config", "size", "layers", "created", "layer_sizes", "parent")
    NAMES_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_DIGEST_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    LAYER_SIZES_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    id: str
    manifest_digest: str
    config: bytes
    size: int
    layers: _containers.RepeatedScalarFieldContainer[str]
    created: str
    layer_sizes: _containers.RepeatedScalarFieldContainer[int]
    parent: str
    def __init__(self, names: _Optional[_Iterable[str]] = ..., id: _Optional[str] = ..., manifest_digest: _Optional[str] = ..., config: _Optional[bytes] = ..., size: _Optional[int] = ..., layers: _Optional[_Iterable[str]] = ..., created: _Optional[str] = ..., layer_sizes: _Optional[_Iterable[int]] = ..., parent: _Optional[str] = ...) -> None: ...

class ImportRequest(_message.Message):
    __slots__ = ("name", "config", "chunk")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    name: str
    config: bytes
    chunk: bytes
    def __init__(self, name: _Optional[str] = ..., config: _Optional[bytes] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class GetImageRequest(_message.Message):
    __slots__ = ("ref", "layer_sizes")
    REF_FIELD_NUMBER: _ClassVar[int]
    LAYER_SIZES_FIELD_NUMBER: _ClassVar[int]
    ref: str
    layer_sizes: bool
    def __init__(self, ref: _Optional[str] = ..., layer_sizes: _Optional[bool] = ...) -> None: ...

class ListImagesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListImagesResponse(_message.Message):
    __slots__ = ("images",)
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    images: _containers.RepeatedCompositeFieldContainer[Image]
    def __init__(self, images: _Optional[_Iterable[_Union[Image, _Mapping]]] = ...) -> None: ...

class TagImageRequest(_message.Message):
    __slots__ = ("ref", "name")
    REF_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ref: str
    name: str
    def __init__(self, ref: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class DeleteImageRequest(_message.Message):
    __slots__ = ("ref", "force", "noprune")
    REF_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    NOPRUNE_FIELD_NUMBER: _ClassVar[int]
    ref: str
    force: bool
    noprune: bool
    def __init__(self, ref: _Optional[str] = ..., force: _Optional[bool] = ..., noprune: _Optional[bool] = ...) -> None: ...

class DeleteImageResponse(_message.Message):
    __slots__ = ("untagged", "deleted", "deleted_layers", "reclaimed")
    UNTAGGED_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    DELETED_LAYERS_FIELD_NUMBER: _ClassVar[int]
    RECLAIMED_FIELD_NUMBER: _ClassVar[int]
    untagged: _containers.RepeatedScalarFieldContainer[str]
    deleted: _containers.RepeatedScalarFieldContainer[str]
    deleted_layers: _containers.RepeatedScalarFieldContainer[str]
    reclaimed: int
    def __init__(self, untagged: _Optional[_Iterable[str]] = ..., deleted: _Optional[_Iterable[str]] = ..., deleted_layers: _Optional[_Iterable[str]] = ..., reclaimed: _Optional[int] = ...) -> None: ...

class RegistryAuth(_message.Message):
    __slots__ = ("username", "password", "identity_token", "registry_token")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_TOKEN_FIELD_NUMBER: _ClassVar[int]
    username: str
    password: str
    identity_token: str
    registry_token: str
    def __init__(self, username: _Optional[str] = ..., password: _Optional[str] = ..., identity_token: _Optional[str] = ..., registry_token: _Optional[str] = ...) -> None: ...

class PullRequest(_message.Message):
    __slots__ = ("ref", "platform", "auth", "insecure_registries", "mirrors")
    REF_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    INSECURE_REGISTRIES_FIELD_NUMBER: _ClassVar[int]
    MIRRORS_FIELD_NUMBER: _ClassVar[int]
    ref: str
    platform: str
    auth: RegistryAuth
    insecure_registries: _containers.RepeatedScalarFieldContainer[str]
    mirrors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ref: _Optional[str] = ..., platform: _Optional[str] = ..., auth: _Optional[_Union[RegistryAuth, _Mapping]] = ..., insecure_registries: _Optional[_Iterable[str]] = ..., mirrors: _Optional[_Iterable[str]] = ...) -> None: ...

class PullProgress(_message.Message):
    __slots__ = ("id", "status", "current", "total", "layer", "image", "digest", "updated")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    id: str
    status: str
    current: int
    total: int
    layer: bool
    image: Image
    digest: str
    updated: bool
    def __init__(self, id: _Optional[str] = ..., status: _Optional[str] = ..., current: _Optional[int] = ..., total: _Optional[int] = ..., layer: _Optional[bool] = ..., image: _Optional[_Union[Image, _Mapping]] = ..., digest: _Optional[str] = ..., updated: _Optional[bool] = ...) -> None: ...

class PushRequest(_message.Message):
    __slots__ = ("ref", "auth", "insecure_registries")
    REF_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    INSECURE_REGISTRIES_FIELD_NUMBER: _ClassVar[int]
    ref: str
    auth: RegistryAuth
    insecure_registries: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ref: _Optional[str] = ..., auth: _Optional[_Union[RegistryAuth, _Mapping]] = ..., insecure_registries: _Optional[_Iterable[str]] = ...) -> None: ...

class PushProgress(_message.Message):
    __slots__ = ("id", "status", "current", "total", "layer", "tag", "digest", "size")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    id: str
    status: str
    current: int
    total: int
    layer: bool
    tag: str
    digest: str
    size: int
    def __init__(self, id: _Optional[str] = ..., status: _Optional[str] = ..., current: _Optional[int] = ..., total: _Optional[int] = ..., layer: _Optional[bool] = ..., tag: _Optional[str] = ..., digest: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class SaveRequest(_message.Message):
    __slots__ = ("refs",)
    REFS_FIELD_NUMBER: _ClassVar[int]
    refs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, refs: _Optional[_Iterable[str]] = ...) -> None: ...

class Chunk(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class LoadRequest(_message.Message):
    __slots__ = ("chunk",)
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    chunk: bytes
    def __init__(self, chunk: _Optional[bytes] = ...) -> None: ...

class LoadResponse(_message.Message):
    __slots__ = ("messages", "ids")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedScalarFieldContainer[str]
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, messages: _Optional[_Iterable[str]] = ..., ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CommitRequest(_message.Message):
    __slots__ = ("container_id", "parent", "config", "comment", "author", "created_by", "name", "consume")
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONSUME_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    parent: str
    config: bytes
    comment: str
    author: str
    created_by: str
    name: str
    consume: bool
    def __init__(self, container_id: _Optional[str] = ..., parent: _Optional[str] = ..., config: _Optional[bytes] = ..., comment: _Optional[str] = ..., author: _Optional[str] = ..., created_by: _Optional[str] = ..., name: _Optional[str] = ..., consume: _Optional[bool] = ...) -> None: ...

class ApplyLayerRequest(_message.Message):
    __slots__ = ("commit", "chown", "chunk")
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    CHOWN_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    commit: CommitRequest
    chown: str
    chunk: bytes
    def __init__(self, commit: _Optional[_Union[CommitRequest, _Mapping]] = ..., chown: _Optional[str] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class ExportRequest(_message.Message):
    __slots__ = ("ref", "paths")
    REF_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    ref: str
    paths: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ref: _Optional[str] = ..., paths: _Optional[_Iterable[str]] = ...) -> None: ...

class LoginRequest(_message.Message):
    __slots__ = ("server", "auth", "insecure_registries")
    SERVER_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    INSECURE_REGISTRIES_FIELD_NUMBER: _ClassVar[int]
    server: str
    auth: RegistryAuth
    insecure_registries: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, server: _Optional[str] = ..., auth: _Optional[_Union[RegistryAuth, _Mapping]] = ..., insecure_registries: _Optional[_Iterable[str]] = ...) -> None: ...

class LoginResponse(_message.Message):
    __slots__ = ("identity_token",)
    IDENTITY_TOKEN_FIELD_NUMBER: _ClassVar[int]
    identity_token: str
    def __init__(self, identity_token: _Optional[str] = ...) -> None: ...

class ResolveRequest(_message.Message):
    __slots__ = ("ref", "auth", "insecure_registries", "mirrors")
    REF_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    INSECURE_REGISTRIES_FIELD_NUMBER: _ClassVar[int]
    MIRRORS_FIELD_NUMBER: _ClassVar[int]
    ref: str
    auth: RegistryAuth
    insecure_registries: _containers.RepeatedScalarFieldContainer[str]
    mirrors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ref: _Optional[str] = ..., auth: _Optional[_Union[RegistryAuth, _Mapping]] = ..., insecure_registries: _Optional[_Iterable[str]] = ..., mirrors: _Optional[_Iterable[str]] = ...) -> None: ...

class Platform(_message.Message):
    __slots__ = ("architecture", "os", "os_version", "os_features", "variant")
    ARCHITECTURE_FIELD_NUMBER: _ClassVar[int]
    OS_FIELD_NUMBER: _ClassVar[int]
    OS_VERSION_FIELD_NUMBER: _ClassVar[int]
    OS_FEATURES_FIELD_NUMBER: _ClassVar[int]
    VARIANT_FIELD_NUMBER: _ClassVar[int]
    architecture: str
    os: str
    os_version: str
    os_features: _containers.RepeatedScalarFieldContainer[str]
    variant: str
    def __init__(self, architecture: _Optional[str] = ..., os: _Optional[str] = ..., os_version: _Optional[str] = ..., os_features: _Optional[_Iterable[str]] = ..., variant: _Optional[str] = ...) -> None: ...

class ResolveResponse(_message.Message):
    __slots__ = ("media_type", "digest", "size", "platforms")
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    PLATFORMS_FIELD_NUMBER: _ClassVar[int]
    media_type: str
    digest: str
    size: int
    platforms: _containers.RepeatedCompositeFieldContainer[Platform]
    def __init__(self, media_type: _Optional[str] = ..., digest: _Optional[str] = ..., size: _Optional[int] = ..., platforms: _Optional[_Iterable[_Union[Platform, _Mapping]]] = ...) -> None: ...

class ListTagsResponse(_message.Message):
    __slots__ = ("tags",)
    TAGS_FIELD_NUMBER: _ClassVar[int]
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tags: _Optional[_Iterable[str]] = ...) -> None: ...

class GarbageCollectRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GarbageCollectResponse(_message.Message):
    __slots__ = ("removed", "reclaimed")
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    RECLAIMED_FIELD_NUMBER: _ClassVar[int]
    removed: _containers.RepeatedScalarFieldContainer[str]
    reclaimed: int
    def __init__(self, removed: _Optional[_Iterable[str]] = ..., reclaimed: _Optional[int] = ...) -> None: ...

class Container(_message.Message):
    __slots__ = ("id", "image", "spec", "runtime", "labels", "created", "user")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    id: str
    image: str
    spec: bytes
    runtime: str
    labels: _containers.ScalarMap[str, str]
    created: str
    user: str
    def __init__(self, id: _Optional[str] = ..., image: _Optional[str] = ..., spec: _Optional[bytes] = ..., runtime: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., created: _Optional[str] = ..., user: _Optional[str] = ...) -> None: ...

class CreateContainerRequest(_message.Message):
    __slots__ = ("container",)
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    container: Container
    def __init__(self, container: _Optional[_Union[Container, _Mapping]] = ...) -> None: ...

class GetContainerRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListContainersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListContainersResponse(_message.Message):
    __slots__ = ("containers",)
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    containers: _containers.RepeatedCompositeFieldContainer[Container]
    def __init__(self, containers: _Optional[_Iterable[_Union[Container, _Mapping]]] = ...) -> None: ...

class DeleteContainerRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class PathRequest(_message.Message):
    __slots__ = ("id", "path", "export", "mounts", "fifo")
    ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    EXPORT_FIELD_NUMBER: _ClassVar[int]
    MOUNTS_FIELD_NUMBER: _ClassVar[int]
    FIFO_FIELD_NUMBER: _ClassVar[int]
    id: str
    path: str
    export: bool
    mounts: _containers.RepeatedCompositeFieldContainer[ArchiveMount]
    fifo: str
    def __init__(self, id: _Optional[str] = ..., path: _Optional[str] = ..., export: _Optional[bool] = ..., mounts: _Optional[_Iterable[_Union[ArchiveMount, _Mapping]]] = ..., fifo: _Optional[str] = ...) -> None: ...

class PathStat(_message.Message):
    __slots__ = ("name", "size", "mode", "mtime_ns", "link_target")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    MTIME_NS_FIELD_NUMBER: _ClassVar[int]
    LINK_TARGET_FIELD_NUMBER: _ClassVar[int]
    name: str
    size: int
    mode: int
    mtime_ns: int
    link_target: str
    def __init__(self, name: _Optional[str] = ..., size: _Optional[int] = ..., mode: _Optional[int] = ..., mtime_ns: _Optional[int] = ..., link_target: _Optional[str] = ...) -> None: ...

class ArchiveChunk(_message.Message):
    __slots__ = ("stat",)
    STAT_FIELD_NUMBER: _ClassVar[int]
    stat: PathStat
    def __init__(self, stat: _Optional[_Union[PathStat, _Mapping]] = ...) -> None: ...

class WriteArchiveRequest(_message.Message):
    __slots__ = ("id", "path", "no_overwrite_dir_non_dir", "copy_uid_gid", "mounts", "readonly_rootfs", "fifo")
    ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    NO_OVERWRITE_DIR_NON_DIR_FIELD_NUMBER: _ClassVar[int]
    COPY_UID_GID_FIELD_NUMBER: _ClassVar[int]
    MOUNTS_FIELD_NUMBER: _ClassVar[int]
    READONLY_ROOTFS_FIELD_NUMBER: _ClassVar[int]
    FIFO_FIELD_NUMBER: _ClassVar[int]
    id: str
    path: str
    no_overwrite_dir_non_dir: bool
    copy_uid_gid: bool
    mounts: _containers.RepeatedCompositeFieldContainer[ArchiveMount]
    readonly_rootfs: bool
    fifo: str
    def __init__(self, id: _Optional[str] = ..., path: _Optional[str] = ..., no_overwrite_dir_non_dir: _Optional[bool] = ..., copy_uid_gid: _Optional[bool] = ..., mounts: _Optional[_Iterable[_Union[ArchiveMount, _Mapping]]] = ..., readonly_rootfs: _Optional[bool] = ..., fifo: _Optional[str] = ...) -> None: ...

class ArchiveMount(_message.Message):
    __slots__ = ("destination", "source", "readonly", "recursive")
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    READONLY_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    destination: str
    source: str
    readonly: bool
    recursive: bool
    def __init__(self, destination: _Optional[str] = ..., source: _Optional[str] = ..., readonly: _Optional[bool] = ..., recursive: _Optional[bool] = ...) -> None: ...

class WritableLayerRequest(_message.Message):
    __slots__ = ("id", "changes")
    ID_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    id: str
    changes: bool
    def __init__(self, id: _Optional[str] = ..., changes: _Optional[bool] = ...) -> None: ...

class Change(_message.Message):
    __slots__ = ("path", "kind")
    PATH_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    path: str
    kind: int
    def __init__(self, path: _Optional[str] = ..., kind: _Optional[int] = ...) -> None: ...

class WritableLayerUsage(_message.Message):
    __slots__ = ("size", "changes")
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    size: int
    changes: _containers.RepeatedCompositeFieldContainer[Change]
    def __init__(self, size: _Optional[int] = ..., changes: _Optional[_Iterable[_Union[Change, _Mapping]]] = ...) -> None: ...

class Task(_message.Message):
    __slots__ = ("id", "exec_id", "pid", "status", "exit_status", "started_at", "exited_at", "oom_killed")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EXIT_STATUS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    EXITED_AT_FIELD_NUMBER: _ClassVar[int]
    OOM_KILLED_FIELD_NUMBER: _ClassVar[int]
    id: str
    exec_id: str
    pid: int
    status: Status
    exit_status: int
    started_at: str
    exited_at: str
    oom_killed: bool
    def __init__(self, id: _Optional[str] = ..., exec_id: _Optional[str] = ..., pid: _Optional[int] = ..., status: _Optional[_Union[Status, str]] = ..., exit_status: _Optional[int] = ..., started_at: _Optional[str] = ..., exited_at: _Optional[str] = ..., oom_killed: _Optional[bool] = ...) -> None: ...

class CreateTaskRequest(_message.Message):
    __slots__ = ("id", "log_path", "terminal", "stdin", "stdin_path", "stdin_once")
    ID_FIELD_NUMBER: _ClassVar[int]
    LOG_PATH_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_FIELD_NUMBER: _ClassVar[int]
    STDIN_FIELD_NUMBER: _ClassVar[int]
    STDIN_PATH_FIELD_NUMBER: _ClassVar[int]
    STDIN_ONCE_FIELD_NUMBER: _ClassVar[int]
    id: str
    log_path: str
    terminal: bool
    stdin: bool
    stdin_path: str
    stdin_once: bool
    def __init__(self, id: _Optional[str] = ..., log_path: _Optional[str] = ..., terminal: _Optional[bool] = ..., stdin: _Optional[bool] = ..., stdin_path: _Optional[str] = ..., stdin_once: _Optional[bool] = ...) -> None: ...

class TaskRequest(_message.Message):
    __slots__ = ("id", "exec_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    exec_id: str
    def __init__(self, id: _Optional[str] = ..., exec_id: _Optional[str] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListTasksResponse(_message.Message):
    __slots__ = ("tasks",)
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[Task]
    def __init__(self, tasks: _Optional[_Iterable[_Union[Task, _Mapping]]] = ...) -> None: ...

class KillRequest(_message.Message):
    __slots__ = ("id", "signal", "all", "exec_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    signal: int
    all: bool
    exec_id: str
    def __init__(self, id: _Optional[str] = ..., signal: _Optional[int] = ..., all: _Optional[bool] = ..., exec_id: _Optional[str] = ...) -> None: ...

class ListPidsResponse(_message.Message):
    __slots__ = ("pids",)
    PIDS_FIELD_NUMBER: _ClassVar[int]
    pids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, pids: _Optional[_Iterable[int]] = ...) -> None: ...

class DeleteTaskRequest(_message.Message):
    __slots__ = ("id", "force")
    ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    id: str
    force: bool
    def __init__(self, id: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class ExecRequest(_message.Message):
    __slots__ = ("id", "exec_id", "process", "log_path", "stdin_path", "user")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    LOG_PATH_FIELD_NUMBER: _ClassVar[int]
    STDIN_PATH_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    id: str
    exec_id: str
    process: bytes
    log_path: str
    stdin_path: str
    user: str
    def __init__(self, id: _Optional[str] = ..., exec_id: _Optional[str] = ..., process: _Optional[bytes] = ..., log_path: _Optional[str] = ..., stdin_path: _Optional[str] = ..., user: _Optional[str] = ...) -> None: ...

class ExecResponse(_message.Message):
    __slots__ = ("pid",)
    PID_FIELD_NUMBER: _ClassVar[int]
    pid: int
    def __init__(self, pid: _Optional[int] = ...) -> None: ...

class ResizePtyRequest(_message.Message):
    __slots__ = ("id", "width", "height", "exec_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    width: int
    height: int
    exec_id: str
    def __init__(self, id: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., exec_id: _Optional[str] = ...) -> None: ...

class MetricsResponse(_message.Message):
    __slots__ = ("stats", "timestamp")
    STATS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    stats: bytes
    timestamp: str
    def __init__(self, stats: _Optional[bytes] = ..., timestamp: _Optional[str] = ...) -> None: ...

class UpdateTaskRequest(_message.Message):
    __slots__ = ("id", "resources")
    ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    id: str
    resources: bytes
    def __init__(self, id: _Optional[str] = ..., resources: _Optional[bytes] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Event(_message.Message):
    __slots__ = ("topic", "id", "pid", "exit_status", "timestamp")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    EXIT_STATUS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    topic: str
    id: str
    pid: int
    exit_status: int
    timestamp: str
    def __init__(self, topic: _Optional[str] = ..., id: _Optional[str] = ..., pid: _Optional[int] = ..., exit_status: _Optional[int] = ..., timestamp: _Optional[str] = ...) -> None: ...

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
