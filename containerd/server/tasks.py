"""The Tasks service: the running side of containers, one shim each."""

from __future__ import annotations

import json

import grpc

from berth.proto import containerd_pb2 as pb
from berth.proto import containerd_pb2_grpc as rpc

from ..runtime import cgroups, execs
from ..runtime.tasks import TaskService
from .convert import errors, task_message


class Tasks(rpc.TasksServicer):
    def __init__(self, tasks: TaskService) -> None:
        self.tasks = tasks

    @errors
    def Create(self, request: pb.CreateTaskRequest, context: grpc.ServicerContext) -> pb.Task:
        return task_message(self.tasks.create(request.id, request.log_path, request.terminal, request.stdin,
                                       request.stdin_path, request.stdin_once))

    @errors
    def Start(self, request: pb.TaskRequest, context: grpc.ServicerContext) -> pb.Task:
        return task_message(self.tasks.start(request.id))

    @errors
    def Get(self, request: pb.TaskRequest, context: grpc.ServicerContext) -> pb.Task:
        return task_message(self.tasks.get(request.id, request.exec_id))

    @errors
    def List(self, request: pb.ListTasksRequest, context: grpc.ServicerContext) -> pb.ListTasksResponse:
        return pb.ListTasksResponse(tasks=[task_message(t) for t in self.tasks.list()])

    @errors
    def Kill(self, request: pb.KillRequest, context: grpc.ServicerContext) -> pb.Empty:
        self.tasks.kill(request.id, request.signal, request.all, request.exec_id)
        return pb.Empty()

    @errors
    def Wait(self, request: pb.TaskRequest, context: grpc.ServicerContext) -> pb.Task:
        if request.exec_id:  # one sent with its Exec waits for it (runtime/execs.py)
            return task_message(execs.wait_process(self.tasks, request.id, request.exec_id))
        return task_message(self.tasks.wait(request.id))

    @errors
    def ListPids(self, request: pb.TaskRequest, context: grpc.ServicerContext) -> pb.ListPidsResponse:
        return pb.ListPidsResponse(pids=self.tasks.pids(request.id))

    @errors
    def Delete(self, request: pb.DeleteTaskRequest, context: grpc.ServicerContext) -> pb.Task:
        return task_message(self.tasks.delete(request.id, request.force))

    @errors
    def Exec(self, request: pb.ExecRequest, context: grpc.ServicerContext) -> pb.ExecResponse:
        return pb.ExecResponse(pid=self.tasks.exec(request.id, request.exec_id, request.process, request.log_path,
                                                   request.stdin_path, request.user))

    @errors
    def ResizePty(self, request: pb.ResizePtyRequest, context: grpc.ServicerContext) -> pb.Empty:
        self.tasks.resize_pty(request.id, request.width, request.height, request.exec_id)
        return pb.Empty()

    @errors
    def DeleteProcess(self, request: pb.TaskRequest, context: grpc.ServicerContext) -> pb.Task:
        return task_message(execs.delete_process(self.tasks, request.id, request.exec_id))

    @errors
    def Pause(self, request: pb.TaskRequest, context: grpc.ServicerContext) -> pb.Task:
        return task_message(execs.pause(self.tasks, request.id))

    @errors
    def Resume(self, request: pb.TaskRequest, context: grpc.ServicerContext) -> pb.Task:
        return task_message(execs.resume(self.tasks, request.id))

    @errors
    def Metrics(self, request: pb.TaskRequest, context: grpc.ServicerContext) -> pb.MetricsResponse:
        m = cgroups.metrics(self.tasks, request.id)
        return pb.MetricsResponse(stats=json.dumps(m.stats).encode(), timestamp=m.timestamp)

    @errors
    def Update(self, request: pb.UpdateTaskRequest, context: grpc.ServicerContext) -> pb.Empty:
        cgroups.update(self.tasks, request.id, request.resources)
        return pb.Empty()
