"""The Images service's registry calls (Login, Resolve, ListTags): docker login, GET
/distribution/{name}/json and pull --all-tags, over remotes/. A mixin of the Images
servicer, which holds the certs dir."""

from __future__ import annotations

import grpc

from berth.proto import containerd_pb2 as pb

from ..errors import Internal, InvalidArgument, Unauthenticated
from ..images import distribution
from ..remotes import Credentials, Hosts, RegistryError, TransportError
from ..remotes.login import LoginRefused, login
from .convert import errors


def _creds(a: pb.RegistryAuth) -> Credentials:
    return Credentials(a.username, a.password, a.identity_token, a.registry_token)


class RegistryCalls:
    certs_dir: str

    @errors
    def Login(self, request: pb.LoginRequest, context: grpc.ServicerContext) -> pb.LoginResponse:
        hosts = Hosts(tuple(request.insecure_registries), self.certs_dir)
        try:
            token = login(hosts, request.server, _creds(request.auth))
        except ValueError as e:
            raise InvalidArgument(str(e)) from None
        except LoginRefused as e:
            raise Unauthenticated(str(e)) from None
        except (RegistryError, TransportError) as e:
            raise Internal(str(e)) from None
        return pb.LoginResponse(identity_token=token)

    @errors
    def Resolve(self, request: pb.ResolveRequest, context: grpc.ServicerContext) -> pb.ResolveResponse:
        hosts = Hosts(tuple(request.insecure_registries), self.certs_dir, tuple(request.mirrors))
        found = distribution.resolve(request.ref, _creds(request.auth), hosts)
        return pb.ResolveResponse(media_type=found.media_type, digest=found.digest, size=found.size, platforms=[
            pb.Platform(architecture=p.architecture, os=p.os, os_version=p.os_version, os_features=p.os_features,
                        variant=p.variant) for p in found.platforms])

    @errors
    def ListTags(self, request: pb.ResolveRequest, context: grpc.ServicerContext) -> pb.ListTagsResponse:
        hosts = Hosts(tuple(request.insecure_registries), self.certs_dir, tuple(request.mirrors))
        return pb.ListTagsResponse(tags=distribution.tags(request.ref, _creds(request.auth), hosts))
